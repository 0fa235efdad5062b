//! The running anton in one workspace: where things are, what is
//! configured and trusted, which plugins serve which commands, and the
//! services every part borrows. Built once per process; the chat and the
//! `anton` subcommands take it, and it calls neither.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use crate::config::Config;
use crate::plugin_host::PluginHost;
use crate::plugin_host::catalog::Catalog;
use crate::plugin_host::trust::TrustStore;
use crate::services::Services;
use crate::workspace::Paths;

pub struct App {
    pub paths: Paths,
    pub config: Config,
    pub trust: TrustStore,
    pub plugins: PluginHost,
    pub services: Arc<Services>,
}

impl App {
    pub fn open(folder: Option<PathBuf>) -> Result<App, String> {
        let paths = Paths::new(folder.as_deref())?;
        let config = Config::load(&paths)?;
        let trust = TrustStore::load(&paths.user_data)?;
        let catalog = Catalog::discover(&paths, &config, &trust);
        let services = Services::new(paths.clone());
        let plugins = PluginHost::new(catalog, services.clone());
        Ok(App {
            paths,
            config,
            trust,
            plugins,
            services,
        })
    }

    /// Read config, trust and plugin directories again; the services (and
    /// the chat's current session) carry over.
    pub fn reload_plugins(&mut self) -> Result<(), String> {
        self.config = Config::load(&self.paths)?;
        self.trust = TrustStore::load(&self.paths.user_data)?;
        let catalog = Catalog::discover(&self.paths, &self.config, &self.trust);
        warn_broken(&catalog);
        self.plugins = PluginHost::new(catalog, self.services.clone());
        Ok(())
    }
}

/// When the files another shell changes with `anton plugins …` or
/// `anton connect` last changed: a chat compares them before each line and
/// picks up what changed, with no `/plugins reload`.
#[derive(Debug, PartialEq, Eq)]
pub struct OutsideChanges {
    plugins: Vec<Stamp>,
    vault: Stamp,
}

type Stamp = Option<(SystemTime, u64)>;

fn stamp(path: &Path) -> Stamp {
    let meta = std::fs::symlink_metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

impl OutsideChanges {
    pub fn read(paths: &Paths) -> OutsideChanges {
        OutsideChanges {
            plugins: [
                paths.user_config_file(),
                paths.workspace_config(),
                crate::plugin_host::trust::TrustStore::file(&paths.user_data),
                paths.user_plugins(),
                paths.workspace_plugins(),
            ]
            .iter()
            .map(|p| stamp(p))
            .collect(),
            vault: stamp(paths.vault().dir()),
        }
    }

    pub fn plugins_differ(&self, other: &OutsideChanges) -> bool {
        self.plugins != other.plugins
    }

    pub fn vault_differs(&self, other: &OutsideChanges) -> bool {
        self.vault != other.vault
    }
}

/// Plugins that could not be read are listed, never run.
pub fn warn_broken(catalog: &Catalog) {
    for broken in &catalog.broken {
        eprintln!(
            "warning: skipped the {} plugin in {}: {}",
            broken.source,
            crate::terminal::sanitize_line(&broken.dir.display().to_string()),
            crate::terminal::sanitize_line(&broken.error)
        );
    }
}
