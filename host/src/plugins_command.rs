//! `anton plugins list | enable | disable | install | remove | trust | check`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Arg, ArgAction, ArgMatches, Command};
use serde_json::json;

use crate::app::App;
use crate::config::Scope;
use crate::plugin_host::catalog::{BrokenPlugin, PluginRecord, Source, Trust, read_plugin};
use crate::plugin_host::install;
use crate::plugin_host::manifest::{Capabilities, MANIFEST_FILE};
use crate::plugin_host::trust::TrustRecord;
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

pub fn run(app: &mut App, matches: &ArgMatches) -> Result<ExitCode, String> {
    let scope = |m: &ArgMatches| {
        if m.get_flag("global") {
            Scope::User
        } else {
            Scope::Workspace
        }
    };
    match matches.subcommand() {
        None => list(app, false),
        Some(("list", m)) => list(app, m.get_flag("json")),
        Some(("enable", m)) => set_enabled(app, id_arg(m), scope(m), true),
        Some(("disable", m)) => set_enabled(app, id_arg(m), scope(m), false),
        Some(("install", m)) => install(app, path_arg(m), scope(m), m.get_flag("yes")),
        Some(("remove", m)) => remove(app, id_arg(m), scope(m)),
        Some(("trust", m)) => trust(app, id_arg(m), m.get_flag("yes")),
        Some(("check", m)) => check(app, path_arg(m)),
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

pub fn list(app: &mut App, json: bool) -> Result<ExitCode, String> {
    let host = &mut app.plugins;
    let mut rows = Vec::new();
    let mut objects = Vec::new();
    for index in 0..host.catalog.records.len() {
        let record = host.catalog.records[index].clone();
        // Built-ins are part of this binary; the others are loaded, so a
        // broken component shows here rather than at its first use.
        let load_error = if record.runnable() && record.source != Source::Builtin {
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
            "enabled": app.config.plugin_enabled(&m.id).0,
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

fn set_enabled(app: &mut App, id: &str, scope: Scope, enabled: bool) -> Result<ExitCode, String> {
    let untrusted = || {
        let (plugins, _) = app.plugins.catalog.review_untrusted();
        plugins.iter().any(|p| p.manifest.id == id)
    };
    if app.plugins.catalog.find(id).is_none() && !untrusted() {
        return Err(format!("no plugin '{id}'; `anton plugins list` shows them"));
    }
    let file = app.config.set_plugin_enabled(scope, id, enabled)?;
    let verb = if enabled { "Enabled" } else { "Disabled" };
    println!(
        "{verb} plugin '{id}' {} ({}); a running chat picks this up at its next line.",
        scope.describe(),
        file.display()
    );
    if scope == Scope::User {
        // Re-read to see whether this workspace's own setting still wins.
        let (effective, by) = app.config.plugin_enabled(id);
        if effective != enabled && by == Some(Scope::Workspace) {
            println!("This workspace's .anton/config.toml still says enabled = {effective}, and it wins here.");
        }
    }
    Ok(ExitCode::SUCCESS)
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

fn check(app: &mut App, path: &Path) -> Result<ExitCode, String> {
    match install::validate(&app.paths, path) {
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
            show_asks(&m.capabilities, &app.paths.workspace);
            Ok(ExitCode::SUCCESS)
        }
        Err(problem) => {
            eprintln!("error: {problem}");
            Ok(ExitCode::from(1))
        }
    }
}

fn plugins_dir(app: &App, scope: Scope) -> PathBuf {
    match scope {
        Scope::User => app.paths.user_plugins(),
        Scope::Workspace => app.paths.workspace_plugins(),
    }
}

fn install(app: &mut App, path: &Path, scope: Scope, yes: bool) -> Result<ExitCode, String> {
    let candidate = install::validate(&app.paths, path)?;
    let m = &candidate.manifest;
    let target = plugins_dir(app, scope).join(&m.id);
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
    show_asks(&m.capabilities, &app.paths.workspace);
    let grant = if asks.is_empty() { "" } else { " and grant these" };
    let question = format!("Install it {}{grant}?", scope.describe());
    if !yes && !terminal::confirm(&question, false) {
        println!("Not installed.");
        return Ok(ExitCode::from(1));
    }
    install::place_plugin(&target, &candidate)?;
    app.trust.trust(TrustRecord {
        location: target.display().to_string(),
        id: m.id.clone(),
        sha256: candidate.pin.clone(),
        granted: m.capabilities.clone(),
        trusted_at: store::now_ms(),
    })?;
    println!("Installed plugin '{}' {} into {}.", m.id, m.version, target.display());
    Ok(ExitCode::SUCCESS)
}

fn remove(app: &mut App, id: &str, scope: Scope) -> Result<ExitCode, String> {
    let wanted = match scope {
        Scope::User => Source::User,
        Scope::Workspace => Source::Workspace,
    };
    let loaded = app
        .plugins
        .catalog
        .records
        .iter()
        .find(|r| r.id() == id && r.source == wanted)
        .and_then(|r| r.dir.clone());
    let untrusted = || {
        let (plugins, _) = app.plugins.catalog.review_untrusted();
        plugins
            .into_iter()
            .find(|p| p.manifest.id == id && p.source == wanted)
            .map(|p| p.dir)
    };
    let Some(dir) = loaded.or_else(untrusted) else {
        if app
            .plugins
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
    app.trust.forget(&dir)?;
    println!("Removed plugin '{id}' from {}.", dir.display());
    Ok(ExitCode::SUCCESS)
}

fn trust(app: &mut App, id: &str, yes: bool) -> Result<ExitCode, String> {
    let record = plugin_to_trust(app, id)?;
    let dir = record.dir.clone().expect("installed plugins have a directory");
    let shown_dir = sanitize_line(&dir.display().to_string());
    if record.trust == Trust::Trusted {
        println!("Plugin '{id}' in {shown_dir} is already trusted.");
        return Ok(ExitCode::SUCCESS);
    }
    install::examine(&app.paths, &record, &dir.join(MANIFEST_FILE))?;
    if let Trust::Changed { trusted_sha256 } = &record.trust {
        println!(
            "Plugin '{id}' changed since you trusted it (its manifest or component): {} → {}.",
            short(trusted_sha256),
            short(&record.pin)
        );
    }
    println!(
        "Plugin '{id}' {} in {shown_dir} (sha256 {}).",
        record.manifest.version,
        short(&record.sha256)
    );
    show_asks(&record.manifest.capabilities, &app.paths.workspace);
    if !yes && !terminal::confirm("Trust it and grant these?", false) {
        println!("Not trusted.");
        return Ok(ExitCode::from(1));
    }
    app.trust.trust(TrustRecord {
        location: dir.display().to_string(),
        id: id.to_string(),
        sha256: record.pin.clone(),
        granted: record.manifest.capabilities.clone(),
        trusted_at: store::now_ms(),
    })?;
    println!("Trusted plugin '{id}'.");
    Ok(ExitCode::SUCCESS)
}

/// The strongest non-built-in plugin with this id, read in full: one read at
/// start (trusted or changed) or an untrusted one, read now that the user asks.
fn plugin_to_trust(app: &App, id: &str) -> Result<PluginRecord, String> {
    let catalog = &app.plugins.catalog;
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
        return read_plugin(&plugin.dir, plugin.source, &app.trust, &app.paths.workspace);
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
