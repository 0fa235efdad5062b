//! `anton plugins list | enable | disable | install | remove | trust | check`.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Arg, ArgAction, ArgMatches, Command};
use serde_json::json;

use crate::cli::Session;
use crate::config::Scope;
use crate::interfaces::HostContext;
use crate::interfaces::latest::exports::anton::plugin::command::{CommandKind, CommandSpec};
use crate::plugin_host::catalog::{
    BrokenPlugin, PluginRecord, Source, Trust, read_component, read_plugin, require_real_dir,
};
use crate::plugin_host::engine::{ComponentCache, sha256_hex};
use crate::plugin_host::instance::PluginInstance;
use crate::plugin_host::manifest::{Capabilities, MANIFEST_FILE, Manifest, read_manifest};
use crate::plugin_host::trust::TrustRecord;
use crate::plugin_host::{load_component, new_linker};
use crate::terminal::sanitize_line;
use crate::{store, terminal};

pub fn command() -> Command {
    let id = || {
        Arg::new("id")
            .required(true)
            .help("Plugin id (see `anton plugins list`)")
    };
    let global = || {
        Arg::new("global")
            .long("global")
            .action(ArgAction::SetTrue)
            .help("For you in every workspace, not just this one")
    };
    let yes = || {
        Arg::new("yes")
            .long("yes")
            .short('y')
            .action(ArgAction::SetTrue)
            .help("Do not ask for confirmation")
    };
    Command::new("plugins")
        .about("List, enable, disable, install, remove, trust and check plugins")
        .subcommand(
            Command::new("list")
                .about("Every plugin, where it comes from and whether it runs")
                .arg(
                    Arg::new("json")
                        .long("json")
                        .action(ArgAction::SetTrue)
                        .help("Machine-readable output"),
                ),
        )
        .subcommand(
            Command::new("enable")
                .about("Enable a plugin in this workspace")
                .arg(id())
                .arg(global()),
        )
        .subcommand(
            Command::new("disable")
                .about("Disable a plugin in this workspace")
                .arg(id())
                .arg(global()),
        )
        .subcommand(
            Command::new("install")
                .about("Install a plugin from its directory (anton-plugin.toml + wasm) into this workspace")
                .arg(
                    Arg::new("path")
                        .required(true)
                        .value_parser(clap::value_parser!(PathBuf)),
                )
                .arg(global())
                .arg(yes()),
        )
        .subcommand(
            Command::new("remove")
                .about("Remove an installed plugin")
                .arg(id())
                .arg(global()),
        )
        .subcommand(
            Command::new("trust")
                .about("Review and trust a plugin that came with this workspace")
                .arg(id())
                .arg(yes()),
        )
        .subcommand(
            Command::new("new")
                .about("Start a plugin crate with a working /<name> command")
                .arg(
                    Arg::new("name")
                        .required(true)
                        .help("Plugin id and command name: lowercase, digits, dashes"),
                )
                .arg(
                    Arg::new("dir")
                        .long("dir")
                        .value_parser(clap::value_parser!(PathBuf))
                        .help("Where to create it (default: ./<name>)"),
                ),
        )
        .subcommand(
            Command::new("check")
                .about("Validate a plugin (component, WIT version, manifest agreement) without installing it")
                .arg(
                    Arg::new("path")
                        .required(true)
                        .value_parser(clap::value_parser!(PathBuf)),
                ),
        )
}

pub fn run(session: &mut Session, matches: &ArgMatches) -> Result<ExitCode, String> {
    let scope = |m: &ArgMatches| {
        if m.get_flag("global") {
            Scope::User
        } else {
            Scope::Workspace
        }
    };
    match matches.subcommand() {
        None => list(session, false),
        Some(("list", m)) => list(session, m.get_flag("json")),
        Some(("enable", m)) => set_enabled(session, id_arg(m), scope(m), true),
        Some(("disable", m)) => set_enabled(session, id_arg(m), scope(m), false),
        Some(("install", m)) => install(session, path_arg(m), scope(m), m.get_flag("yes")),
        Some(("remove", m)) => remove(session, id_arg(m), scope(m)),
        Some(("trust", m)) => trust(session, id_arg(m), m.get_flag("yes")),
        Some(("check", m)) => check(session, path_arg(m)),
        Some(("new", m)) => {
            let name = m.get_one::<String>("name").expect("required");
            let dir = m
                .get_one::<PathBuf>("dir")
                .cloned()
                .unwrap_or_else(|| PathBuf::from(name));
            crate::scaffold::create(name, &dir)
        }
        Some((other, _)) => Err(format!("unknown plugins command '{other}'")),
    }
}

fn id_arg(m: &ArgMatches) -> &str {
    m.get_one::<String>("id").expect("required")
}

fn path_arg(m: &ArgMatches) -> &Path {
    m.get_one::<PathBuf>("path").expect("required")
}

pub fn list(session: &mut Session, json: bool) -> Result<ExitCode, String> {
    let host = &mut session.host;
    let mut rows = Vec::new();
    let mut objects = Vec::new();
    for index in 0..host.catalog.records.len() {
        let record = host.catalog.records[index].clone();
        let load_error = if record.runnable() {
            host.prepare(index).err().map(|e| e.0)
        } else {
            None
        };
        let state = match &load_error {
            Some(error) => format!("error: {error}"),
            None => record.state(),
        };
        let commands: Vec<String> = record
            .manifest
            .commands
            .iter()
            .map(|c| command_label(c.name.as_str(), c.kind))
            .collect();
        rows.push(vec![
            record.id().to_string(),
            record.manifest.version.clone(),
            record.source.to_string(),
            state.clone(),
            commands.join(", "),
        ]);
        objects.push(json!({
            "id": record.id(),
            "name": record.manifest.display_name(),
            "version": record.manifest.version,
            "api": record.manifest.api,
            "source": record.source.to_string(),
            "state": state,
            "enabled": record.enabled,
            "runnable": record.runnable() && load_error.is_none(),
            "trusted": matches!(record.trust, Trust::Builtin | Trust::Trusted),
            "replaced_by": record.replaced_by.map(|s| s.to_string()),
            "commands": record.manifest.commands.iter().map(|c| &c.name).collect::<Vec<_>>(),
            "capabilities": record.grants.describe(),
            "dir": record.dir.as_ref().map(|d| d.display().to_string()),
            "sha256": record.sha256,
        }));
    }
    // Untrusted plugins are read only now, because the user asked.
    let (untrusted, unreadable) = host.catalog.review_untrusted();
    for plugin in &untrusted {
        let m = &plugin.manifest;
        let state = match plugin.replaced_by {
            Some(by) => format!("replaced by {by}"),
            None => "untrusted".to_string(),
        };
        rows.push(vec![
            m.id.clone(),
            m.version.clone(),
            plugin.source.to_string(),
            state.clone(),
            m.commands
                .iter()
                .map(|c| command_label(&c.name, c.kind))
                .collect::<Vec<_>>()
                .join(", "),
        ]);
        objects.push(json!({
            "id": m.id,
            "name": m.display_name(),
            "version": m.version,
            "api": m.api,
            "source": plugin.source.to_string(),
            "state": state,
            "enabled": session.config.plugin_enabled(&m.id).0,
            "runnable": false,
            "trusted": false,
            "replaced_by": plugin.replaced_by.map(|s| s.to_string()),
            "commands": m.commands.iter().map(|c| &c.name).collect::<Vec<_>>(),
            "capabilities": Vec::<String>::new(),
            "dir": plugin.dir.display().to_string(),
            "sha256": null,
        }));
    }
    // Broken trusted plugins were reported when anton started; these only now.
    for broken in &unreadable {
        eprintln!(
            "warning: skipped the {} plugin in {}: {}",
            broken.source,
            sanitize_line(&broken.dir.display().to_string()),
            broken.error
        );
    }
    for broken in host.catalog.broken.iter().chain(&unreadable) {
        let name = broken
            .dir
            .file_name()
            .map(|n| sanitize_line(&n.to_string_lossy()))
            .unwrap_or_default();
        rows.push(vec![
            name.clone(),
            "?".into(),
            broken.source.to_string(),
            format!("broken: {}", broken.error),
            String::new(),
        ]);
        objects.push(json!({
            "id": name, "source": broken.source.to_string(), "state": "broken", "error": broken.error,
            "dir": broken.dir.display().to_string(), "runnable": false,
        }));
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&objects).map_err(|e| e.to_string())?);
        return Ok(ExitCode::SUCCESS);
    }
    let columns = ["ID", "Version", "Source", "State", "Commands"]
        .iter()
        .map(|h| terminal::Column {
            header: h.to_string(),
            shrinkable: matches!(*h, "State" | "Commands"),
        })
        .collect::<Vec<_>>();
    print!("{}", terminal::render_table(&columns, &rows, terminal::width()));
    Ok(ExitCode::SUCCESS)
}

fn command_label(name: &str, kind: crate::plugin_host::manifest::CommandKind) -> String {
    use crate::plugin_host::manifest::CommandKind as K;
    match kind {
        K::Slash => format!("/{name}"),
        K::Cli => name.to_string(),
        K::Both => format!("{name} /{name}"),
    }
}

fn set_enabled(session: &mut Session, id: &str, scope: Scope, enabled: bool) -> Result<ExitCode, String> {
    let untrusted = || {
        let (plugins, _) = session.host.catalog.review_untrusted();
        plugins.iter().any(|p| p.manifest.id == id)
    };
    if session.host.catalog.find(id).is_none() && !untrusted() {
        return Err(format!("no plugin '{id}'; `anton plugins list` shows them"));
    }
    let file = session.config.set_plugin_enabled(scope, id, enabled)?;
    let verb = if enabled { "Enabled" } else { "Disabled" };
    println!("{verb} plugin '{id}' {} ({}).", scope.describe(), file.display());
    if scope == Scope::User {
        // Re-read to see whether this workspace's own setting still wins.
        let (effective, by) = session.config.plugin_enabled(id);
        if effective != enabled && by == Some(Scope::Workspace) {
            println!("This workspace's .anton/config.toml still says enabled = {effective}, and it wins here.");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A plugin on disk that passed every check.
struct Candidate {
    manifest: Manifest,
    manifest_text: String,
    wasm: Vec<u8>,
    commands: Vec<CommandSpec>,
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

fn validate(session: &Session, path: &Path) -> Result<Candidate, String> {
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
    let (manifest, manifest_text) = read_manifest(&manifest_file, &session.paths.workspace)?;
    let wasm_file = wasm_file.unwrap_or_else(|| {
        let beside = dir.join(&manifest.component);
        let built = dir.join("target/wasm32-wasip2/release").join(&manifest.component);
        let present = |p: &Path| std::fs::symlink_metadata(p).is_ok();
        if !present(&beside) && present(&built) {
            built
        } else {
            beside
        }
    });
    if std::fs::symlink_metadata(&wasm_file).is_err() {
        return Err(format!(
            "{}: no such file (build it with `cargo build --release --target wasm32-wasip2`)",
            sanitize_line(&wasm_file.display().to_string())
        ));
    }
    let wasm = read_component(&wasm_file)?;
    let record = PluginRecord {
        grants: Capabilities::default(),
        manifest: manifest.clone(),
        source: Source::Workspace,
        dir: Some(dir.to_path_buf()),
        sha256: sha256_hex(&wasm),
        wasm: Cow::Owned(wasm),
        enabled: true,
        enabled_by: None,
        trust: Trust::Untrusted,
        replaced_by: None,
    };
    let commands = examine(session, &record, &manifest_file)?;
    Ok(Candidate {
        manifest,
        manifest_text,
        wasm: record.wasm.into_owned(),
        commands,
    })
}

/// Check a plugin nobody has agreed to yet, running none of its code with
/// any capability: its component's type (an anton component at the
/// manifest's WIT version), then `describe()` in a sealed instance, which
/// must agree with the manifest.
fn examine(session: &Session, record: &PluginRecord, manifest_file: &Path) -> Result<Vec<CommandSpec>, String> {
    let cache = ComponentCache::new(session.paths.user_cache.as_deref());
    let component = load_component(&cache, record).map_err(|e| e.0)?;
    let linker = new_linker().map_err(|e| e.0)?;
    let mut instance = PluginInstance::sealed(record, &component, &linker, HostContext::new(session.paths.clone()))
        .map_err(|e| e.0)?;
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

/// What a plugin asks for, with every grant outside the workspace set apart
/// so that nobody agrees to one unawares.
fn show_asks(capabilities: &Capabilities, workspace: &Path) {
    for line in capabilities.describe() {
        println!("  asks for {}", sanitize_line(&line));
    }
    for line in capabilities.outside_workspace(workspace) {
        let warning = format!("OUTSIDE THIS WORKSPACE: it may {}", sanitize_line(&line));
        println!("{}", terminal::bold(&warning));
    }
}

/// Where the manifest and `describe()` differ, in words.
fn disagreements(manifest: &Manifest, described: &[CommandSpec]) -> Vec<String> {
    use crate::plugin_host::manifest::CommandKind as K;
    let mut problems = Vec::new();
    for listed in &manifest.commands {
        let Some(spec) = described.iter().find(|s| s.name == listed.name) else {
            problems.push(format!(
                "it lists command '{}', which the component does not serve",
                listed.name
            ));
            continue;
        };
        let kind = match spec.kind {
            CommandKind::Slash => K::Slash,
            CommandKind::Cli => K::Cli,
            CommandKind::Both => K::Both,
        };
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

fn check(session: &mut Session, path: &Path) -> Result<ExitCode, String> {
    match validate(session, path) {
        Ok(candidate) => {
            let m = &candidate.manifest;
            let names: Vec<&str> = candidate.commands.iter().map(|c| c.name.as_str()).collect();
            println!(
                "ok: plugin '{}' {} for anton:plugin@{}; commands: {}",
                m.id,
                m.version,
                m.api,
                names.join(", ")
            );
            show_asks(&m.capabilities, &session.paths.workspace);
            Ok(ExitCode::SUCCESS)
        }
        Err(problem) => {
            eprintln!("error: {problem}");
            Ok(ExitCode::from(1))
        }
    }
}

fn plugins_dir(session: &Session, scope: Scope) -> PathBuf {
    match scope {
        Scope::User => session.paths.user_plugins(),
        Scope::Workspace => session.paths.workspace_plugins(),
    }
}

fn install(session: &mut Session, path: &Path, scope: Scope, yes: bool) -> Result<ExitCode, String> {
    let candidate = validate(session, path)?;
    let m = &candidate.manifest;
    let target = plugins_dir(session, scope).join(&m.id);
    println!(
        "Plugin '{}' {} ({}) serves: {}",
        m.id,
        m.version,
        sanitize_line(m.display_name()),
        candidate
            .commands
            .iter()
            .map(|c| c.name.clone())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let asks = m.capabilities.describe();
    if asks.is_empty() {
        println!("It asks for no capabilities.");
    }
    show_asks(&m.capabilities, &session.paths.workspace);
    let grant = if asks.is_empty() { "" } else { " and grant these" };
    let question = format!("Install it {}{grant}?", scope.describe());
    if !yes && !terminal::confirm(&question, false) {
        println!("Not installed.");
        return Ok(ExitCode::from(1));
    }
    place_plugin(&target, &candidate)?;
    session.trust.trust(TrustRecord {
        location: target.display().to_string(),
        id: m.id.clone(),
        sha256: sha256_hex(&candidate.wasm),
        granted: m.capabilities.clone(),
        trusted_at: store::now_ms(),
    })?;
    println!("Installed plugin '{}' {} into {}.", m.id, m.version, target.display());
    Ok(ExitCode::SUCCESS)
}

/// Write the plugin beside its final place, then swap it in, so a failed
/// install leaves the old plugin (or nothing) behind, never half a plugin.
fn place_plugin(target: &Path, candidate: &Candidate) -> Result<(), String> {
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

fn remove(session: &mut Session, id: &str, scope: Scope) -> Result<ExitCode, String> {
    let wanted = match scope {
        Scope::User => Source::User,
        Scope::Workspace => Source::Workspace,
    };
    let loaded = session
        .host
        .catalog
        .records
        .iter()
        .find(|r| r.id() == id && r.source == wanted)
        .and_then(|r| r.dir.clone());
    let untrusted = || {
        let (plugins, _) = session.host.catalog.review_untrusted();
        plugins
            .into_iter()
            .find(|p| p.manifest.id == id && p.source == wanted)
            .map(|p| p.dir)
    };
    let Some(dir) = loaded.or_else(untrusted) else {
        if session
            .host
            .catalog
            .records
            .iter()
            .any(|r| r.id() == id && r.source == Source::Builtin)
        {
            return Err(format!(
                "'{id}' is built in and cannot be removed; turn it off with: anton plugins disable {id}"
            ));
        }
        let other = if scope == Scope::User {
            ""
        } else {
            " (add --global for your user plugins)"
        };
        return Err(format!("no {wanted} plugin '{id}'{other}"));
    };
    std::fs::remove_dir_all(&dir).map_err(|e| format!("cannot remove {}: {e}", dir.display()))?;
    session.trust.forget(&dir)?;
    println!("Removed plugin '{id}' from {}.", dir.display());
    Ok(ExitCode::SUCCESS)
}

fn trust(session: &mut Session, id: &str, yes: bool) -> Result<ExitCode, String> {
    let record = plugin_to_trust(session, id)?;
    let dir = record.dir.clone().expect("installed plugins have a directory");
    let shown_dir = sanitize_line(&dir.display().to_string());
    if record.trust == Trust::Trusted {
        println!("Plugin '{id}' in {shown_dir} is already trusted.");
        return Ok(ExitCode::SUCCESS);
    }
    examine(session, &record, &dir.join(MANIFEST_FILE))?;
    if let Trust::Changed { trusted_sha256 } = &record.trust {
        println!(
            "Plugin '{id}' changed since you trusted it: sha256 {} → {}.",
            short(trusted_sha256),
            short(&record.sha256)
        );
    }
    println!(
        "Plugin '{id}' {} in {shown_dir} (sha256 {}).",
        record.manifest.version,
        short(&record.sha256)
    );
    show_asks(&record.manifest.capabilities, &session.paths.workspace);
    if !yes && !terminal::confirm("Trust it and grant these?", false) {
        println!("Not trusted.");
        return Ok(ExitCode::from(1));
    }
    session.trust.trust(TrustRecord {
        location: dir.display().to_string(),
        id: id.to_string(),
        sha256: record.sha256.clone(),
        granted: record.manifest.capabilities.clone(),
        trusted_at: store::now_ms(),
    })?;
    println!("Trusted plugin '{id}'.");
    Ok(ExitCode::SUCCESS)
}

/// The strongest non-built-in plugin with this id, read in full: one read at
/// start (trusted or changed) or an untrusted one, read now that the user asks.
fn plugin_to_trust(session: &Session, id: &str) -> Result<PluginRecord, String> {
    let catalog = &session.host.catalog;
    let loaded = catalog
        .records
        .iter()
        .rev()
        .find(|r| r.id() == id && r.source != Source::Builtin);
    let (untrusted, unreadable) = catalog.review_untrusted();
    let untrusted = untrusted.iter().rev().find(|p| p.manifest.id == id);
    if let Some(record) = loaded
        && untrusted.is_none_or(|p| p.source < record.source)
    {
        return Ok(record.clone());
    }
    if let Some(plugin) = untrusted {
        return read_plugin(&plugin.dir, plugin.source, &session.trust, &session.paths.workspace);
    }
    Err(
        match unreadable.iter().find(|b| b.dir.file_name().is_some_and(|n| n == id)) {
            Some(BrokenPlugin { error, .. }) => format!("cannot trust the plugin '{id}': {error}"),
            None => format!("no installed plugin '{id}' to trust; `anton plugins list` shows them"),
        },
    )
}

fn short(sha: &str) -> &str {
    &sha[..sha.len().min(12)]
}
