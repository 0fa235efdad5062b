//! A plugin from a folder the user names, checked before anyone agrees to
//! run it and placed so that a failed install leaves no half plugin.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use super::catalog::{PluginRecord, Source, Trust, read_component, require_real_dir};
use super::engine::{ComponentCache, sha256_hex};
use super::instance::PluginInstance;
use super::linker::PluginLinker;
use super::load_component;
use super::manifest::{self, Capabilities, MANIFEST_FILE, Manifest, read_manifest};
use crate::interfaces::latest::command::{CommandKind, CommandSpec};
use crate::services::Services;
use crate::terminal::sanitize_line;
use crate::workspace::Paths;

/// A plugin on disk that passed every check.
pub struct Candidate {
    pub manifest: Manifest,
    /// What trusting it pins; see [`super::trust::pin`].
    pub pin: String,
    manifest_text: String,
    pub wasm: Vec<u8>,
    pub commands: Vec<CommandSpec>,
}

/// Find the manifest and the component for `path`: a plugin directory, a
/// crate directory (component under target/wasm32-wasip2/release), the
/// manifest itself, or the wasm with the manifest beside it.
fn locate(path: &Path) -> Result<(PathBuf, Option<PathBuf>), String> {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return Err(format!(
            "{}: no such file or directory",
            sanitize_line(&path.display().to_string())
        ));
    };
    if meta.is_dir() || (meta.file_type().is_symlink() && path.is_dir()) {
        // A linked folder is refused when it is read.
        return Ok((path.join(MANIFEST_FILE), None));
    }
    if path.file_name().is_some_and(|n| n == MANIFEST_FILE) {
        return Ok((path.to_path_buf(), None));
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    Ok((dir.join(MANIFEST_FILE), Some(path.to_path_buf())))
}

/// The component of the plugin in `dir`: beside its manifest (a plugin
/// folder), or where cargo put it for a crate: `$CARGO_TARGET_DIR`, a
/// `build.target-dir` a cargo config names, or the `target` folder of the
/// crate or of a workspace it is in. Found by looking, never by running
/// cargo, which a cloned folder's config could point at any program.
fn built_component(dir: &Path, component: &str) -> PathBuf {
    let beside = dir.join(component);
    let present = |p: &Path| std::fs::symlink_metadata(p).is_ok();
    if present(&beside) {
        return beside;
    }
    let mut targets: Vec<PathBuf> = std::env::var_os("CARGO_TARGET_DIR")
        .map(|t| crate::files::user_path(&t.to_string_lossy()))
        .into_iter()
        .collect();
    let absolute = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::files::home_dir().join(".cargo"));
    let configs = absolute
        .ancestors()
        .map(|a| a.join(".cargo"))
        .chain(std::iter::once(cargo_home));
    targets.extend(configs.filter_map(|config| configured_target_dir(&config)));
    targets.extend(
        absolute
            .ancestors()
            .filter(|a| a.join("Cargo.toml").is_file())
            .map(|a| a.join("target")),
    );
    targets
        .into_iter()
        .map(|target| target.join("wasm32-wasip2/release").join(component))
        .find(|built| present(built))
        .unwrap_or(beside)
}

/// `build.target-dir` of the cargo config in folder `config` (`.cargo`),
/// relative to the folder that holds it.
fn configured_target_dir(config: &Path) -> Option<PathBuf> {
    let file = ["config.toml", "config"]
        .iter()
        .map(|name| config.join(name))
        .find(|f| f.is_file())?;
    let text = crate::files::read_text(&file, crate::files::MAX_TEXT_FILE).ok()??;
    let value: toml::Table = toml::from_str(&text).ok()?;
    let target = value.get("build")?.get("target-dir")?.as_str()?;
    Some(config.parent()?.join(target))
}

pub fn validate(paths: &Paths, path: &Path) -> Result<Candidate, String> {
    let (manifest_file, wasm_file) = locate(path)?;
    let dir = manifest_file
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    require_real_dir(dir)?;
    if std::fs::symlink_metadata(&manifest_file).is_err() {
        return Err(format!(
            "{}: no such file (a plugin needs its {MANIFEST_FILE})",
            sanitize_line(&manifest_file.display().to_string())
        ));
    }
    let (manifest, manifest_text) = read_manifest(&manifest_file, &paths.workspace)?;
    let wasm_file = wasm_file.unwrap_or_else(|| built_component(dir, &manifest.component));
    if std::fs::symlink_metadata(&wasm_file).is_err() {
        return Err(format!(
            "{}: no such file (build it with `cargo build --release --target wasm32-wasip2`)",
            sanitize_line(&wasm_file.display().to_string())
        ));
    }
    let wasm = read_component(&wasm_file)?;
    let sha256 = sha256_hex(&wasm);
    let record = PluginRecord {
        grants: Capabilities::default(),
        manifest: manifest.clone(),
        source: Source::Workspace,
        dir: Some(dir.to_path_buf()),
        pin: super::trust::pin(&manifest_text, &sha256),
        sha256,
        wasm: Cow::Owned(wasm),
        enabled: true,
        enabled_by: None,
        trust: Trust::Untrusted,
        replaced_by: None,
    };
    let commands = examine(paths, &record, &manifest_file)?;
    Ok(Candidate {
        manifest,
        manifest_text,
        pin: record.pin,
        wasm: record.wasm.into_owned(),
        commands,
    })
}

/// Check a plugin nobody has agreed to yet, running none of its code with
/// any capability: its component's type (an anton component at the
/// manifest's WIT version), then `describe()` in a sealed instance, which
/// must agree with the manifest.
pub fn examine(paths: &Paths, record: &PluginRecord, manifest_file: &Path) -> Result<Vec<CommandSpec>, String> {
    let cache = ComponentCache::new(paths.user_cache.as_deref());
    let component = load_component(&cache, record).map_err(|e| e.0)?;
    let mut linker = PluginLinker::default();
    let linker = linker.for_component(&component).map_err(|e| e.0)?;
    let mut instance =
        PluginInstance::sealed(record, &component, linker, Services::new(paths.clone())).map_err(|e| e.0)?;
    let commands = instance.describe().map_err(|e| e.0)?;
    let problems = disagreements(&record.manifest, &commands);
    if !problems.is_empty() {
        return Err(sanitize_line(&format!(
            "{} disagrees with its component: {}",
            manifest_file.display(),
            problems.join("; ")
        )));
    }
    Ok(commands)
}

/// Where the manifest and `describe()` differ, in words.
fn disagreements(manifest: &Manifest, described: &[CommandSpec]) -> Vec<String> {
    let mut problems = Vec::new();
    for listed in &manifest.commands {
        let Some(spec) = described.iter().find(|s| s.name == listed.name) else {
            problems.push(format!(
                "it lists command '{}', which the component does not serve",
                listed.name
            ));
            continue;
        };
        let kind = manifest::CommandKind::from(spec.kind);
        if kind != listed.kind {
            problems.push(
                format!(
                    "command '{}' is {:?} in the manifest but {:?} in the component",
                    listed.name, listed.kind, kind
                )
                .to_lowercase(),
            );
        }
        let flags = |names: Vec<&str>| names.join(",");
        let listed_flags = flags(listed.launch_flags.iter().map(|f| f.long.as_str()).collect());
        let spec_flags = flags(spec.launch_flags.iter().map(|f| f.long.as_str()).collect());
        if listed_flags != spec_flags {
            problems.push(format!(
                "command '{}' has launch flags [{listed_flags}] in the manifest but [{spec_flags}] in the component",
                listed.name
            ));
        }
    }
    for spec in described {
        if !manifest.commands.iter().any(|c| c.name == spec.name) {
            problems.push(format!(
                "the component serves '{}', which the manifest does not list",
                spec.name
            ));
        }
    }
    problems
}

/// Write the plugin beside its final place, then swap it in, so a failed
/// install leaves the old plugin (or nothing) behind, never half a plugin.
pub fn place_plugin(target: &Path, candidate: &Candidate) -> Result<(), String> {
    let parent = target.parent().expect("plugin dirs have a parent");
    let name = target.file_name().expect("named").to_string_lossy();
    let staging = parent.join(format!(".{name}.installing"));
    let retired = parent.join(format!(".{name}.old"));
    let io = |e: std::io::Error, what: &Path| format!("cannot write {}: {e}", what.display());
    // Leftovers of an earlier install that was killed halfway.
    let clear = |dir: &Path| match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(format!("cannot remove {}: {e}", dir.display())),
        _ => Ok(()),
    };
    clear(&staging)?;
    std::fs::create_dir_all(&staging).map_err(|e| io(e, &staging))?;
    std::fs::write(staging.join(MANIFEST_FILE), &candidate.manifest_text).map_err(|e| io(e, &staging))?;
    std::fs::write(staging.join(&candidate.manifest.component), &candidate.wasm).map_err(|e| io(e, &staging))?;
    clear(&retired)?;
    if target.exists() {
        std::fs::rename(target, &retired).map_err(|e| io(e, target))?;
    }
    std::fs::rename(&staging, target).map_err(|e| io(e, target))?;
    // The new plugin is in place; an old copy that will not go is only clutter, said so.
    if let Err(e) = clear(&retired) {
        eprintln!("warning: {e}");
    }
    Ok(())
}

impl From<CommandKind> for manifest::CommandKind {
    fn from(kind: CommandKind) -> Self {
        match kind {
            CommandKind::Slash => manifest::CommandKind::Slash,
            CommandKind::Cli => manifest::CommandKind::Cli,
            CommandKind::Both => manifest::CommandKind::Both,
        }
    }
}
