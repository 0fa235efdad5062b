//! Which workspaces the user lets choose where model requests and keys go
//! (`anton trust`, or the chat's first-use question). A yes pins the
//! workspace's path and the sha256 of each of its `.env` files; any change
//! to those files voids it, as direnv and mise do. A run that cannot ask
//! never trusts.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;

use clap::{Arg, ArgAction, ArgMatches, Command};
use serde::{Deserialize, Serialize};

use crate::settings::{Layers, RoutingChange, Vars, is_key};
use crate::workspace::Paths;
use crate::{files, store, terminal};

const TRUST_FILE: &str = "trusted-workspaces.json";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct FilePin {
    path: String,
    sha256: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct TrustRecord {
    workspace: String,
    files: Vec<FilePin>,
    trusted_at: i64,
}

#[derive(Default, Serialize, Deserialize)]
struct TrustFile {
    #[serde(default)]
    workspaces: Vec<TrustRecord>,
}

struct TrustStore {
    file: PathBuf,
    records: Vec<TrustRecord>,
}

/// How the user's trust stands for a workspace's files as they are now.
enum Standing {
    Trusted,
    Untrusted,
    /// Trusted once; these files changed, appeared or went since.
    Changed(Vec<String>),
}

/// Trust given in this process: it holds for this run even when it could
/// not be written down.
static GIVEN_THIS_RUN: Mutex<Vec<TrustRecord>> = Mutex::new(Vec::new());

/// Warnings already printed, so each shows once per process.
static WARNED: Mutex<Vec<String>> = Mutex::new(Vec::new());

impl TrustStore {
    fn load(user_data: &Path) -> Result<TrustStore, String> {
        let file = user_data.join(TRUST_FILE);
        let records = match std::fs::read(&file) {
            Ok(bytes) => {
                serde_json::from_slice::<TrustFile>(&bytes)
                    .map_err(|e| format!("{}: {e} — remove it and trust your workspaces again", file.display()))?
                    .workspaces
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(format!("cannot read {}: {e}", file.display())),
        };
        Ok(TrustStore { file, records })
    }

    fn save(&self) -> Result<(), String> {
        let file = TrustFile {
            workspaces: self.records.clone(),
        };
        let text = serde_json::to_vec_pretty(&file).map_err(|e| e.to_string())?;
        files::write_atomic(&self.file, &text).map_err(|e| format!("cannot write {}: {e}", self.file.display()))
    }

    fn lookup(&self, workspace: &str) -> Option<&TrustRecord> {
        self.records.iter().find(|r| r.workspace == workspace)
    }
}

/// The workspace as trust names it: its real path, so a symlink or `..`
/// is the same workspace.
fn workspace_key(paths: &Paths) -> String {
    let real = paths
        .workspace
        .canonicalize()
        .unwrap_or_else(|_| paths.workspace.clone());
    real.display().to_string()
}

fn pins(paths: &Paths, layers: &Layers) -> Vec<FilePin> {
    let mut pins: Vec<FilePin> = layers
        .workspace_files()
        .map(|(path, sha256)| FilePin {
            path: path.display().to_string(),
            sha256: sha256.to_string(),
        })
        .collect();
    if let Some(choice) = share_choice(paths) {
        pins.push(FilePin {
            path: format!("{} [share]", paths.workspace_config().display()),
            sha256: files::sha256_hex(choice.as_bytes()),
        });
    }
    pins
}

/// The workspace's own `[share] remote` and `recipients`: where its
/// sessions would be sent, and who could read them.
fn share_choice(paths: &Paths) -> Option<String> {
    crate::config::Config::load(paths).ok()?.workspace_share_choice()
}

/// Whether the user trusts this workspace's files as they are now: its
/// `.env` files and its `[share]` choice alike.
pub fn trusted(paths: &Paths) -> bool {
    let layers = Layers::read(paths);
    matches!(standing(paths, &layers).0, Standing::Trusted)
}

fn standing_of(record: Option<&TrustRecord>, now: &[FilePin]) -> Standing {
    let Some(record) = record else {
        return Standing::Untrusted;
    };
    let changed: Vec<String> = now
        .iter()
        .filter(|pin| !record.files.contains(pin))
        .chain(
            record
                .files
                .iter()
                .filter(|pin| !now.iter().any(|p| p.path == pin.path)),
        )
        .map(|pin| pin.path.clone())
        .collect();
    if changed.is_empty() {
        Standing::Trusted
    } else {
        Standing::Changed(changed)
    }
}

/// The standing of this workspace's files, from this run's answers and
/// the trust file; a trust file that cannot be read trusts nothing.
fn standing(paths: &Paths, layers: &Layers) -> (Standing, Option<String>) {
    let workspace = workspace_key(paths);
    let now = pins(paths, layers);
    let given = GIVEN_THIS_RUN.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(record) = given.iter().rev().find(|r| r.workspace == workspace)
        && let Standing::Trusted = standing_of(Some(record), &now)
    {
        return (Standing::Trusted, None);
    }
    match TrustStore::load(&paths.user_data) {
        Ok(store) => (standing_of(store.lookup(&workspace), &now), None),
        Err(why) => (Standing::Untrusted, Some(why)),
    }
}

/// The settings every part of anton uses: an untrusted workspace's routing
/// settings left out, with one warning per process.
pub fn settings(paths: &Paths, layers: &Layers) -> Vars {
    layers.vars(allows(paths, layers))
}

/// Whether this workspace's routing settings count. When they do not, one
/// warning (per process) names each ignored setting, its file and the
/// command that trusts it.
pub fn allows(paths: &Paths, layers: &Layers) -> bool {
    for skipped in &layers.skipped {
        warn_once(format!("warning: {skipped}"));
    }
    let changes = layers.routing_changes();
    if changes.is_empty() {
        return true;
    }
    let (standing, unreadable) = standing(paths, layers);
    if let Some(why) = unreadable {
        warn_once(format!("warning: {}", terminal::sanitize_line(&why)));
    }
    let why = match standing {
        Standing::Trusted => return true,
        Standing::Untrusted => "this workspace is not trusted to choose where your model key goes".to_string(),
        Standing::Changed(files) => format!(
            "{} changed since you trusted this workspace",
            files
                .iter()
                .map(|f| terminal::sanitize_line(f))
                .collect::<Vec<_>>()
                .join(" and ")
        ),
    };
    warn_once(format!(
        "warning: ignored {}: {why}; review it with: {}",
        ignored_list(&changes),
        trust_command(paths)
    ));
    false
}

fn warn_once(line: String) {
    let mut warned = WARNED.lock().unwrap_or_else(|p| p.into_inner());
    if !warned.contains(&line) {
        eprintln!("{line}");
        warned.push(line);
    }
}

/// `A, B from /ws/.env and C from /ws/.anton/.env`.
fn ignored_list(changes: &[RoutingChange]) -> String {
    let mut parts: Vec<String> = Vec::new();
    for (file, group) in by_file(changes) {
        let names: Vec<String> = group.iter().map(|c| terminal::sanitize_line(&c.name)).collect();
        parts.push(format!(
            "{} from {}",
            names.join(", "),
            terminal::sanitize_line(&file.display().to_string())
        ));
    }
    parts.join(" and ")
}

fn by_file(changes: &[RoutingChange]) -> Vec<(&Path, Vec<&RoutingChange>)> {
    let mut groups: Vec<(&Path, Vec<&RoutingChange>)> = Vec::new();
    for change in changes {
        match groups.iter_mut().find(|(file, _)| *file == change.file) {
            Some((_, group)) => group.push(change),
            None => groups.push((&change.file, vec![change])),
        }
    }
    groups
}

/// `anton trust`, with `--folder` when the workspace is not where the user is.
fn trust_command(paths: &Paths) -> String {
    let here = std::env::current_dir().ok().and_then(|d| d.canonicalize().ok());
    if here.is_some_and(|here| here.display().to_string() == workspace_key(paths)) {
        "anton trust".to_string()
    } else {
        format!(
            "anton --folder {} trust",
            terminal::sanitize_line(&workspace_key(paths))
        )
    }
}

/// A setting as the user reviews it: a key shows its last four characters
/// at most.
fn shown_value(change: &RoutingChange) -> String {
    if !is_key(&change.name) {
        return terminal::sanitize_line(&change.value);
    }
    let chars: Vec<char> = change.value.chars().collect();
    if chars.len() < 12 {
        return "••••".to_string();
    }
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("••••{}", terminal::sanitize_line(&tail))
}

fn print_changes(changes: &[RoutingChange]) {
    println!("This workspace's settings choose where your model requests and key go:");
    for (file, group) in by_file(changes) {
        println!("  {}", terminal::sanitize_line(&file.display().to_string()));
        for change in group {
            println!("    {}={}", terminal::sanitize_line(&change.name), shown_value(change));
        }
    }
}

/// Remember the user's yes; for this run even when the file cannot be written.
fn trust(paths: &Paths, layers: &Layers) -> Result<(), String> {
    let record = TrustRecord {
        workspace: workspace_key(paths),
        files: pins(paths, layers),
        trusted_at: store::now_ms(),
    };
    GIVEN_THIS_RUN
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(record.clone());
    let mut store = TrustStore::load(&paths.user_data)?;
    store.records.retain(|r| r.workspace != record.workspace);
    store.records.push(record);
    store.save()
}

const TRUSTED: &str = "Trusted: these settings apply until they change in this workspace's files.";

/// The chat's first-use question: on a terminal, when this workspace's
/// files would change where requests and keys go and the user has not
/// trusted them as they are. A no leaves them ignored for this run.
pub fn offer(paths: &Paths) {
    if !terminal::stdin_is_terminal() {
        return;
    }
    let layers = Layers::read(paths);
    let changes = layers.routing_changes();
    if changes.is_empty() {
        return;
    }
    match standing(paths, &layers).0 {
        Standing::Trusted => return,
        Standing::Untrusted => {}
        Standing::Changed(files) => {
            for file in files {
                println!(
                    "{} changed since you trusted this workspace.",
                    terminal::sanitize_line(&file)
                );
            }
        }
    }
    print_changes(&changes);
    if !terminal::confirm("Trust this workspace's settings?", false) {
        return;
    }
    match trust(paths, &layers) {
        Ok(()) => println!("{TRUSTED}"),
        Err(why) => eprintln!("warning: trusted for this run only: {}", terminal::sanitize_line(&why)),
    }
}

pub fn command() -> Command {
    Command::new("trust")
        .about("Let this workspace's .env files choose the model provider, server and key")
        .arg(
            Arg::new("yes")
                .long("yes")
                .short('y')
                .action(ArgAction::SetTrue)
                .help("Do not ask for confirmation"),
        )
        .arg(
            Arg::new("revoke")
                .long("revoke")
                .action(ArgAction::SetTrue)
                .conflicts_with("yes")
                .help("Forget this workspace's trust: its settings are ignored again"),
        )
}

/// `anton trust [--yes] [--revoke]`.
pub fn run(paths: &Paths, matches: &ArgMatches) -> Result<ExitCode, String> {
    if matches.get_flag("revoke") {
        return revoke(paths);
    }
    let layers = Layers::read(paths);
    for skipped in &layers.skipped {
        eprintln!("warning: {skipped}");
    }
    let changes = layers.routing_changes();
    let share = share_choice(paths);
    if changes.is_empty() && share.is_none() {
        println!(
            "Nothing to trust: no .env file in {} chooses a model provider, server or key, and its config.toml no share remote.",
            terminal::sanitize_line(&workspace_key(paths))
        );
        return Ok(ExitCode::SUCCESS);
    }
    let (standing, unreadable) = standing(paths, &layers);
    if let Some(why) = unreadable {
        return Err(why);
    }
    if !changes.is_empty() {
        print_changes(&changes);
    }
    if let Some(share) = share {
        println!("This workspace's settings choose where /share push sends sessions, and who can read them:");
        println!(
            "  {}",
            terminal::sanitize_line(&paths.workspace_config().display().to_string())
        );
        for line in share.lines() {
            println!("    {}", terminal::sanitize_line(line));
        }
    }
    match standing {
        Standing::Trusted => {
            println!("This workspace is already trusted (anton trust --revoke forgets it).");
            return Ok(ExitCode::SUCCESS);
        }
        Standing::Untrusted => {}
        Standing::Changed(files) => {
            for file in files {
                println!(
                    "{} changed since you trusted this workspace.",
                    terminal::sanitize_line(&file)
                );
            }
        }
    }
    if !matches.get_flag("yes") && !terminal::confirm("Trust this workspace's settings?", false) {
        println!("Not trusted: anton keeps ignoring these settings.");
        return Ok(ExitCode::from(1));
    }
    trust(paths, &layers)?;
    println!("{TRUSTED}");
    Ok(ExitCode::SUCCESS)
}

fn revoke(paths: &Paths) -> Result<ExitCode, String> {
    let workspace = workspace_key(paths);
    let mut store = TrustStore::load(&paths.user_data)?;
    if store.lookup(&workspace).is_none() {
        println!(
            "{} is not trusted: nothing to forget.",
            terminal::sanitize_line(&workspace)
        );
        return Ok(ExitCode::SUCCESS);
    }
    store.records.retain(|r| r.workspace != workspace);
    store.save()?;
    println!(
        "Forgot {}: its .env files no longer choose the model provider, server or key.",
        terminal::sanitize_line(&workspace)
    );
    Ok(ExitCode::SUCCESS)
}
