//! Which plugins exist, which one serves each command, and why a command is
//! unavailable. Built from manifests alone: nothing is compiled here.
//!
//! Layers, weakest first: built-in < user plugins dir < workspace
//! `.anton/plugins/`. A stronger layer replaces a weaker plugin with the same
//! id, and its commands win over a weaker plugin's commands of the same name.
//!
//! A plugin folder nobody trusted is not read at all on an ordinary command
//! (it came with a clone and may be built to hurt): only its name is known
//! until the user asks about it.

use std::borrow::Cow;
use std::fmt;
use std::path::{Path, PathBuf};

use super::builtin::BUILTIN_PLUGINS;
use super::engine::sha256_hex;
use super::manifest::{Capabilities, MANIFEST_FILE, MAX_COMPONENT_BYTES, Manifest, home_dirs, read_manifest};
use super::trust::TrustStore;
use crate::config::{Config, Scope};
use crate::workspace::Paths;
use crate::{files, terminal};

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
    /// What trust is pinned to (manifest and component); see [`super::trust::pin`].
    pub pin: String,
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
        self.manifest.serves(command)
    }
}

/// A plugin directory that could not be read; listed, never run.
#[derive(Debug, Clone)]
pub struct BrokenPlugin {
    pub source: Source,
    pub dir: PathBuf,
    /// One line, safe to print.
    pub error: String,
}

/// A plugin folder with no trust record: known by its path only.
#[derive(Debug, Clone)]
pub struct UntrustedDir {
    pub source: Source,
    pub dir: PathBuf,
}

/// An untrusted plugin as its manifest describes it; its wasm is not read.
#[derive(Debug, Clone)]
pub struct UntrustedPlugin {
    pub manifest: Manifest,
    pub source: Source,
    pub dir: PathBuf,
    /// Set when a trusted plugin of a stronger layer has the same id.
    pub replaced_by: Option<Source>,
}

/// Why a command cannot run, in words with the fix.
pub enum Resolution {
    /// The index of the record that runs it.
    Runnable(usize),
    Unavailable(String),
    Unknown,
}

pub struct Catalog {
    /// Weakest layer first.
    pub records: Vec<PluginRecord>,
    /// Trusted plugins whose files could not be read.
    pub broken: Vec<BrokenPlugin>,
    /// Weakest layer first, like `records`.
    pub untrusted: Vec<UntrustedDir>,
    workspace: PathBuf,
}

impl Catalog {
    pub fn discover(paths: &Paths, config: &Config, trust: &TrustStore) -> Catalog {
        let mut records = Vec::new();
        let mut broken = Vec::new();
        let mut untrusted = Vec::new();
        let homes = home_dirs();
        for builtin in BUILTIN_PLUGINS {
            let manifest = Manifest::builtin(builtin.manifest_json, &paths.workspace, &homes)
                .unwrap_or_else(|e| panic!("the built-in {} plugin's manifest: {e}", builtin.id));
            let grants = manifest.capabilities.clone();
            records.push(PluginRecord {
                manifest,
                source: Source::Builtin,
                dir: None,
                wasm: Cow::Borrowed(builtin.wasm),
                sha256: builtin.sha256.to_string(),
                pin: builtin.sha256.to_string(),
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
            for plugin_dir in plugin_dirs(&dir) {
                if trust.lookup(&plugin_dir).is_none() {
                    untrusted.push(UntrustedDir {
                        source,
                        dir: plugin_dir,
                    });
                    continue;
                }
                match read_plugin(&plugin_dir, source, trust, &paths.workspace) {
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
        Catalog {
            records,
            broken,
            untrusted,
            workspace: paths.workspace.clone(),
        }
    }

    /// Read the manifest of every untrusted plugin, for a user who asked
    /// about them. Its component is checked to be a regular file of a
    /// readable size, never read.
    pub fn review_untrusted(&self) -> (Vec<UntrustedPlugin>, Vec<BrokenPlugin>) {
        let mut plugins = Vec::new();
        let mut broken = Vec::new();
        for UntrustedDir { source, dir } in &self.untrusted {
            match review(dir, &self.workspace) {
                Ok(manifest) => {
                    let replaced_by = self
                        .records
                        .iter()
                        .filter(|r| r.id() == manifest.id && r.source > *source)
                        .filter(|r| matches!(r.trust, Trust::Builtin | Trust::Trusted))
                        .map(|r| r.source)
                        .max();
                    plugins.push(UntrustedPlugin {
                        manifest,
                        source: *source,
                        dir: dir.clone(),
                        replaced_by,
                    });
                }
                Err(error) => broken.push(BrokenPlugin {
                    source: *source,
                    dir: dir.clone(),
                    error,
                }),
            }
        }
        (plugins, broken)
    }

    /// The plugin that will answer `id` (the strongest layer's).
    pub fn find(&self, id: &str) -> Option<&PluginRecord> {
        self.records
            .iter()
            .rev()
            .find(|r| r.id() == id && r.replaced_by.is_none())
            .or_else(|| self.records.iter().rev().find(|r| r.id() == id))
    }

    pub fn resolve(&self, command: &str) -> Resolution {
        // A command's own name wins over another plugin's alias for it.
        let named = |r: &PluginRecord| r.manifest.commands.iter().any(|c| c.name == command);
        let runnable = self.records.iter().rposition(|r| r.runnable() && named(r));
        if let Some(index) = runnable.or_else(|| self.records.iter().rposition(|r| r.runnable() && r.serves(command))) {
            return Resolution::Runnable(index);
        }
        let loaded = self
            .records
            .iter()
            .rev()
            .find(|r| r.replaced_by.is_none() && r.serves(command));
        // Untrusted manifests are read only now, when nothing that may run serves the command.
        if loaded.is_none_or(|r| r.source < Source::Workspace) {
            let (untrusted, _) = self.review_untrusted();
            let stronger = untrusted
                .iter()
                .rev()
                .filter(|p| p.replaced_by.is_none() && p.manifest.serves(command))
                .find(|p| loaded.is_none_or(|r| p.source > r.source));
            if let Some(plugin) = stronger {
                let id = &plugin.manifest.id;
                return Resolution::Unavailable(format!(
                    "`{command}` comes from the plugin '{id}' in {}, which you have not trusted; \
                     review it with: anton plugins trust {id}",
                    terminal::sanitize_line(&plugin.dir.display().to_string())
                ));
            }
        }
        let Some(record) = loaded else {
            return Resolution::Unknown;
        };
        let id = record.id();
        Resolution::Unavailable(match &record.trust {
            Trust::Untrusted => unreachable!("untrusted plugins are not loaded"),
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
                        // Not `resolve`: that reads untrusted manifests, and this runs on every command.
                        let runnable = self.records.iter().any(|r| r.runnable() && r.serves(&command.name));
                        out.push((flag, command.name.as_str(), runnable));
                    }
                }
            }
        }
        out
    }
}

/// The folders (and links, refused when read) in a plugins directory, from
/// the directory listing alone.
fn plugin_dirs(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut dirs: Vec<PathBuf> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir() || t.is_symlink()))
        .map(|e| e.path())
        .collect();
    dirs.sort();
    dirs
}

/// A plugin folder must be a real folder: a link could point anywhere.
pub fn require_real_dir(dir: &Path) -> Result<(), String> {
    let meta = std::fs::symlink_metadata(dir).map_err(|e| one_line(format!("{}: {e}", dir.display())))?;
    if meta.file_type().is_symlink() {
        return Err(one_line(format!(
            "{}: a symbolic link, not a plugin folder; anton reads plugins only from real folders",
            dir.display()
        )));
    }
    if !meta.is_dir() {
        return Err(one_line(format!("{}: not a folder", dir.display())));
    }
    Ok(())
}

/// A plugin's component, read as a regular file within the size cap.
pub fn read_component(file: &Path) -> Result<Vec<u8>, String> {
    files::read_regular(file, MAX_COMPONENT_BYTES).map_err(|e| one_line(format!("{}: {e}", file.display())))
}

fn one_line(text: String) -> String {
    terminal::sanitize_line(&text)
}

fn review(dir: &Path, workspace: &Path) -> Result<Manifest, String> {
    require_real_dir(dir)?;
    let (manifest, _) = read_manifest(&dir.join(MANIFEST_FILE), workspace)?;
    let wasm_file = dir.join(&manifest.component);
    files::check_regular(&wasm_file, MAX_COMPONENT_BYTES)
        .map_err(|e| one_line(format!("{}: {e}", wasm_file.display())))?;
    Ok(manifest)
}

/// Read a plugin folder completely: its manifest and its component.
pub fn read_plugin(dir: &Path, source: Source, trust: &TrustStore, workspace: &Path) -> Result<PluginRecord, String> {
    require_real_dir(dir)?;
    let (manifest, manifest_text) = read_manifest(&dir.join(MANIFEST_FILE), workspace)?;
    let wasm = read_component(&dir.join(&manifest.component))?;
    let sha256 = sha256_hex(&wasm);
    let pin = super::trust::pin(&manifest_text, &sha256);
    let (trust, grants) = match trust.lookup(dir) {
        Some(record) if record.sha256 == pin => (Trust::Trusted, manifest.capabilities.intersect(&record.granted)),
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
        pin,
        enabled: true,
        enabled_by: None,
        trust,
        grants,
        replaced_by: None,
    })
}
