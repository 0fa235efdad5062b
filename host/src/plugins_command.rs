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
use crate::plugin_host::catalog::{PluginRecord, Source, Trust};
use crate::plugin_host::engine::{ComponentCache, sha256_hex};
use crate::plugin_host::instance::PluginInstance;
use crate::plugin_host::manifest::{MANIFEST_FILE, Manifest};
use crate::plugin_host::trust::TrustRecord;
use crate::plugin_host::{load_component, new_linker};
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
    for broken in &host.catalog.broken {
        let name = broken
            .dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
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
    if session.host.catalog.find(id).is_none() {
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
    if !path.exists() {
        return Err(format!("{}: no such file or directory", path.display()));
    }
    if path.is_dir() {
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
    let manifest_text = std::fs::read_to_string(&manifest_file)
        .map_err(|e| format!("{}: {e} (a plugin needs its {MANIFEST_FILE})", manifest_file.display()))?;
    let manifest = Manifest::parse(&manifest_text, &manifest_file).map_err(|e| e.to_string())?;
    let dir = manifest_file.parent().unwrap_or(Path::new("."));
    let wasm_file = wasm_file.unwrap_or_else(|| {
        let beside = dir.join(&manifest.component);
        let built = dir.join("target/wasm32-wasip2/release").join(&manifest.component);
        if !beside.exists() && built.exists() {
            built
        } else {
            beside
        }
    });
    let wasm = std::fs::read(&wasm_file).map_err(|e| {
        format!(
            "{}: {e} (build it with `cargo build --release --target wasm32-wasip2`)",
            wasm_file.display()
        )
    })?;
    let record = PluginRecord {
        grants: manifest.capabilities.clone(),
        manifest: manifest.clone(),
        source: Source::Workspace,
        dir: Some(dir.to_path_buf()),
        sha256: sha256_hex(&wasm),
        wasm: Cow::Owned(wasm.clone()),
        enabled: true,
        enabled_by: None,
        trust: Trust::Trusted,
        replaced_by: None,
    };
    let cache = ComponentCache::new(session.paths.user_cache.as_deref());
    let component = load_component(&cache, &record).map_err(|e| e.0)?;
    // A scratch host: describe() must not touch this workspace.
    let scratch = HostContext::new(session.paths.clone());
    let linker = new_linker().map_err(|e| e.0)?;
    let mut instance = PluginInstance::new(&record, &component, &linker, scratch).map_err(|e| e.0)?;
    let commands = instance.describe().map_err(|e| e.0)?;
    let problems = disagreements(&manifest, &commands);
    if !problems.is_empty() {
        return Err(format!(
            "{} disagrees with its component: {}",
            manifest_file.display(),
            problems.join("; ")
        ));
    }
    Ok(Candidate {
        manifest,
        manifest_text,
        wasm,
        commands,
    })
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
            for line in m.capabilities.describe() {
                println!("  asks for {line}");
            }
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
        m.display_name(),
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
    for line in &asks {
        println!("  asks for {line}");
    }
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
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(&staging).map_err(|e| io(e, &staging))?;
    std::fs::write(staging.join(MANIFEST_FILE), &candidate.manifest_text).map_err(|e| io(e, &staging))?;
    std::fs::write(staging.join(&candidate.manifest.component), &candidate.wasm).map_err(|e| io(e, &staging))?;
    let _ = std::fs::remove_dir_all(&retired);
    if target.exists() {
        std::fs::rename(target, &retired).map_err(|e| io(e, target))?;
    }
    std::fs::rename(&staging, target).map_err(|e| io(e, target))?;
    let _ = std::fs::remove_dir_all(&retired);
    Ok(())
}

fn remove(session: &mut Session, id: &str, scope: Scope) -> Result<ExitCode, String> {
    let wanted = match scope {
        Scope::User => Source::User,
        Scope::Workspace => Source::Workspace,
    };
    let record = session
        .host
        .catalog
        .records
        .iter()
        .find(|r| r.id() == id && r.source == wanted);
    let Some(dir) = record.and_then(|r| r.dir.clone()) else {
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
    let record = session
        .host
        .catalog
        .records
        .iter()
        .rev()
        .find(|r| r.id() == id && r.source != Source::Builtin)
        .cloned();
    let Some(record) = record else {
        return Err(format!(
            "no installed plugin '{id}' to trust; `anton plugins list` shows them"
        ));
    };
    let dir = record.dir.clone().expect("installed plugins have a directory");
    if record.trust == Trust::Trusted {
        println!("Plugin '{id}' in {} is already trusted.", dir.display());
        return Ok(ExitCode::SUCCESS);
    }
    if let Trust::Changed { trusted_sha256 } = &record.trust {
        println!(
            "Plugin '{id}' changed since you trusted it: sha256 {} → {}.",
            short(trusted_sha256),
            short(&record.sha256)
        );
    }
    println!(
        "Plugin '{id}' {} in {} (sha256 {}).",
        record.manifest.version,
        dir.display(),
        short(&record.sha256)
    );
    let asks = record.manifest.capabilities.describe();
    for line in &asks {
        println!("  asks for {line}");
    }
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

fn short(sha: &str) -> &str {
    &sha[..sha.len().min(12)]
}
