//! Which plugins exist, which one serves each command, and why a command is
//! unavailable. Built from manifests alone: nothing is compiled here.
//!
//! Layers, weakest first: built-in < user plugins dir < workspace
//! `.anton/plugins/`. A stronger layer replaces a weaker plugin with the same
//! id, and its commands win over a weaker plugin's commands of the same name.

use std::borrow::Cow;
use std::fmt;
use std::path::{Path, PathBuf};

use super::builtin::BUILTIN_PLUGINS;
use super::engine::sha256_hex;
use super::manifest::{Capabilities, MANIFEST_FILE, Manifest};
use super::trust::TrustStore;
use crate::config::{Config, Scope};
use crate::workspace::Paths;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Source {
    Builtin,
    User,
    Workspace,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Source::Builtin => "built-in",
            Source::User => "user",
            Source::Workspace => "workspace",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trust {
    /// Ships inside anton; granted what its manifest asks.
    Builtin,
    Trusted,
    /// Never trusted here: it does not run.
    Untrusted,
    /// Trusted once, but the wasm changed since: it does not run.
    Changed {
        trusted_sha256: String,
    },
}

#[derive(Debug, Clone)]
pub struct PluginRecord {
    pub manifest: Manifest,
    pub source: Source,
    /// The plugin's directory; `None` for built-ins.
    pub dir: Option<PathBuf>,
    pub wasm: Cow<'static, [u8]>,
    pub sha256: String,
    pub enabled: bool,
    /// Which config file decided `enabled` (`None`: the default).
    pub enabled_by: Option<Scope>,
    pub trust: Trust,
    /// Effective capabilities: the manifest's request narrowed by the grant.
    pub grants: Capabilities,
    /// Set when a stronger layer's plugin with the same id takes its place.
    pub replaced_by: Option<Source>,
}

impl PluginRecord {
    pub fn id(&self) -> &str {
        &self.manifest.id
    }

    pub fn runnable(&self) -> bool {
        self.enabled && self.replaced_by.is_none() && matches!(self.trust, Trust::Builtin | Trust::Trusted)
    }

    /// One word for listings.
    pub fn state(&self) -> String {
        match (&self.replaced_by, &self.trust) {
            (Some(by), _) => format!("replaced by {by}"),
            (None, Trust::Untrusted) => "untrusted".into(),
            (None, Trust::Changed { .. }) => "changed, untrusted".into(),
            _ if !self.enabled => "disabled".into(),
            _ => "enabled".into(),
        }
    }

    pub fn serves(&self, command: &str) -> bool {
        self.manifest
            .commands
            .iter()
            .any(|c| c.name == command || c.aliases.iter().any(|a| a == command))
    }
}

/// A plugin directory that could not be read; listed, never run.
#[derive(Debug, Clone)]
pub struct BrokenPlugin {
    pub source: Source,
    pub dir: PathBuf,
    pub error: String,
}

/// Why a command cannot run, in words with the fix.
pub enum Resolution<'a> {
    Runnable(&'a PluginRecord),
    Unavailable(String),
    Unknown,
}

pub struct Catalog {
    /// Weakest layer first.
    pub records: Vec<PluginRecord>,
    pub broken: Vec<BrokenPlugin>,
}

impl Catalog {
    pub fn discover(paths: &Paths, config: &Config, trust: &TrustStore) -> Catalog {
        let mut records = Vec::new();
        let mut broken = Vec::new();
        for builtin in BUILTIN_PLUGINS {
            let file = PathBuf::from(format!("<built-in>/{}/{MANIFEST_FILE}", builtin.id));
            let manifest =
                Manifest::parse(builtin.manifest, &file).expect("built-in manifests are checked by the test suite");
            let grants = manifest.capabilities.clone();
            records.push(PluginRecord {
                manifest,
                source: Source::Builtin,
                dir: None,
                wasm: Cow::Borrowed(builtin.wasm),
                sha256: builtin.sha256.to_string(),
                enabled: true,
                enabled_by: None,
                trust: Trust::Builtin,
                grants,
                replaced_by: None,
            });
        }
        for (source, dir) in [
            (Source::User, paths.user_plugins()),
            (Source::Workspace, paths.workspace_plugins()),
        ] {
            for plugin_dir in subdirectories(&dir) {
                match read_plugin(&plugin_dir, source, trust) {
                    Ok(record) => records.push(record),
                    Err(error) => broken.push(BrokenPlugin {
                        source,
                        dir: plugin_dir,
                        error,
                    }),
                }
            }
        }
        for record in &mut records {
            (record.enabled, record.enabled_by) = config.plugin_enabled(record.id());
        }
        // A stronger layer replaces a weaker plugin of the same id, once it may run.
        let stronger: Vec<(String, Source)> = records
            .iter()
            .filter(|r| matches!(r.trust, Trust::Builtin | Trust::Trusted))
            .map(|r| (r.id().to_string(), r.source))
            .collect();
        for record in &mut records {
            record.replaced_by = stronger
                .iter()
                .filter(|(id, source)| id == record.id() && *source > record.source)
                .map(|(_, source)| *source)
                .max();
        }
        Catalog { records, broken }
    }

    /// The plugin that will answer `id` (the strongest layer's).
    pub fn find(&self, id: &str) -> Option<&PluginRecord> {
        self.records
            .iter()
            .rev()
            .find(|r| r.id() == id && r.replaced_by.is_none())
            .or_else(|| self.records.iter().rev().find(|r| r.id() == id))
    }

    pub fn resolve(&self, command: &str) -> Resolution<'_> {
        if let Some(record) = self.records.iter().rev().find(|r| r.runnable() && r.serves(command)) {
            return Resolution::Runnable(record);
        }
        let Some(record) = self
            .records
            .iter()
            .rev()
            .find(|r| r.replaced_by.is_none() && r.serves(command))
        else {
            return Resolution::Unknown;
        };
        let id = record.id();
        Resolution::Unavailable(match &record.trust {
            Trust::Untrusted => format!(
                "`{command}` comes from the plugin '{id}' in {}, which you have not trusted; \
                 review it with: anton plugins trust {id}",
                record
                    .dir
                    .as_deref()
                    .map(Path::display)
                    .map(|d| d.to_string())
                    .unwrap_or_default()
            ),
            Trust::Changed { .. } => format!(
                "the plugin '{id}' changed since you trusted it, so `{command}` will not run; \
                 review it again with: anton plugins trust {id}"
            ),
            _ => match record.enabled_by {
                Some(Scope::User) => format!(
                    "`{command}` is disabled for you in all workspaces (plugin '{id}'); \
                     enable it with: anton plugins enable {id} --global"
                ),
                _ => format!(
                    "`{command}` is disabled in this workspace (plugin '{id}'); \
                     enable it with: anton plugins enable {id}"
                ),
            },
        })
    }

    /// Every command name a runnable plugin serves, with its plugin.
    pub fn commands(&self) -> Vec<(&super::manifest::ManifestCommand, &PluginRecord)> {
        let mut out: Vec<(&super::manifest::ManifestCommand, &PluginRecord)> = Vec::new();
        for record in self.records.iter().rev().filter(|r| r.runnable()) {
            for command in &record.manifest.commands {
                if !out.iter().any(|(c, _)| c.name == command.name) {
                    out.push((command, record));
                }
            }
        }
        out.sort_by(|a, b| a.0.name.cmp(&b.0.name));
        out
    }
}

impl Catalog {
    /// Launch flags of every plugin in effect, disabled ones too (so using
    /// one can say why it is off), with the command each runs and whether
    /// that command can run. The strongest layer wins a flag name.
    pub fn launch_flags(&self) -> Vec<(&super::manifest::ManifestFlag, &str, bool)> {
        let mut out: Vec<(&super::manifest::ManifestFlag, &str, bool)> = Vec::new();
        for record in self.records.iter().rev().filter(|r| r.replaced_by.is_none()) {
            for command in &record.manifest.commands {
                for flag in &command.launch_flags {
                    if !out.iter().any(|(f, _, _)| f.long == flag.long) {
                        let runnable = matches!(self.resolve(&command.name), Resolution::Runnable(_));
                        out.push((flag, command.name.as_str(), runnable));
                    }
                }
            }
        }
        out
    }
}

fn subdirectories(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut dirs: Vec<PathBuf> = entries.flatten().map(|e| e.path()).filter(|p| p.is_dir()).collect();
    dirs.sort();
    dirs
}

pub fn read_plugin(dir: &Path, source: Source, trust: &TrustStore) -> Result<PluginRecord, String> {
    let manifest_file = dir.join(MANIFEST_FILE);
    let text = std::fs::read_to_string(&manifest_file).map_err(|e| format!("{}: {e}", manifest_file.display()))?;
    let manifest = Manifest::parse(&text, &manifest_file).map_err(|e| e.to_string())?;
    let wasm_file = dir.join(&manifest.component);
    let wasm = std::fs::read(&wasm_file).map_err(|e| {
        format!(
            "{}: field `component`: cannot read {}: {e}",
            manifest_file.display(),
            wasm_file.display()
        )
    })?;
    let sha256 = sha256_hex(&wasm);
    let (trust, grants) = match trust.lookup(dir) {
        Some(record) if record.sha256 == sha256 => (Trust::Trusted, manifest.capabilities.intersect(&record.granted)),
        Some(record) => (
            Trust::Changed {
                trusted_sha256: record.sha256.clone(),
            },
            Capabilities::default(),
        ),
        None => (Trust::Untrusted, Capabilities::default()),
    };
    Ok(PluginRecord {
        manifest,
        source,
        dir: Some(dir.to_path_buf()),
        wasm: Cow::Owned(wasm),
        sha256,
        enabled: true,
        enabled_by: None,
        trust,
        grants,
        replaced_by: None,
    })
}
