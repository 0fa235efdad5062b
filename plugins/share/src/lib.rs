//! `/share export [--summary] [--format v0.1] | import <file> | status | history`:
//! sessions as portable `.anton` files, read and written by anton and by the
//! reference Anton; `push | pull | list --remote | key` share them through
//! the team's object storage, encrypted to teammates' keys.

mod export;
mod history;
mod import;
mod redaction;
mod remote;
mod status;
mod time;

use anton_plugin_sdk::{Args, Invocation, Outcome, Plugin, register_plugin};

struct Share;

impl Plugin for Share {
    fn new() -> Self {
        Share
    }

    fn run(&mut self, invocation: &Invocation) -> Result<Outcome, String> {
        let (sub, rest) = match invocation.args.split_first() {
            Some((sub, rest)) => (sub.as_str(), Args::new(rest)),
            None => {
                anton_plugin_sdk::chat::print(&format!("Usage: {}", invocation.how_to_run(&invocation.usage())));
                return Ok(Outcome::ok());
            }
        };
        match sub {
            "export" => export::run(invocation, &rest),
            "import" => import::run(invocation, &rest),
            "status" => status::run(invocation, &rest),
            "history" => history::run(invocation, &rest),
            "push" => remote::push(invocation, &rest),
            "pull" => remote::pull(invocation, &rest),
            "list" => remote::list(invocation, &rest),
            "key" => remote::key(invocation, &rest),
            other => Err(invocation.unknown_subcommand(other)),
        }
    }
}

register_plugin!(Share);

/// Entries hashed by the host: in the plugin it took most of an export.
pub(crate) fn host_sha256() -> Box<dyn anton_share_format::EntryDigest> {
    struct Host(anton_plugin_sdk::file_io::Sha256);
    impl anton_share_format::EntryDigest for Host {
        fn update(&mut self, bytes: &[u8]) {
            self.0.update(bytes);
        }
        fn hex_digest(&self) -> String {
            self.0.hex_digest()
        }
    }
    Box::new(Host(anton_plugin_sdk::file_io::Sha256::new()))
}

/// `text` in lowercase letters, digits and dashes, at most `max_chars`;
/// none when nothing of it is left.
pub(crate) fn slug(text: &str, max_chars: usize) -> Option<String> {
    let mut out = String::new();
    for c in text.trim().to_lowercase().chars() {
        if c.is_alphanumeric() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    let out: String = out.trim_end_matches('-').chars().take(max_chars).collect();
    let out = out.trim_end_matches('-');
    (!out.is_empty()).then(|| out.to_string())
}

pub(crate) fn or_none(text: &str) -> &str {
    if text.is_empty() { "(none)" } else { text }
}

/// What passed through an export or an import, counted as it went.
#[derive(Default)]
pub(crate) struct Counts {
    pub messages: usize,
    /// Messages from the user: the turns.
    pub turns: usize,
    pub born: usize,
    pub used: usize,
    pub cells: usize,
}

impl Counts {
    /// "2 session-born, 1 project memory": what a file's memory snapshot holds.
    pub fn memories(&self) -> String {
        format!(
            "{} session-born, {}",
            self.born,
            anton_plugin_sdk::chat::count(self.used as u64, "project memory", "project memories")
        )
    }

    pub fn cells(&self) -> String {
        anton_plugin_sdk::chat::count(self.cells as u64, "scratchpad cell", "scratchpad cells")
    }
}

/// How the ledger names a file: its format, with `-summary` for the light
/// file (`/share history` shows the kind from it).
pub(crate) fn ledger_format(name: &str, summary_only: bool) -> String {
    if summary_only {
        format!("{name}{SUMMARY_SUFFIX}")
    } else {
        name.to_string()
    }
}

const SUMMARY_SUFFIX: &str = "-summary";

/// Whether a ledger entry's path is a remote's address rather than a file here.
pub(crate) fn on_remote(path: &str) -> bool {
    path.contains("://")
}

/// What a ledger entry did: exported or imported, pushed or pulled.
pub(crate) fn ledger_verb(entry: &anton_plugin_sdk::storage::ShareEntry) -> &'static str {
    match (entry.direction.as_str(), on_remote(&entry.path)) {
        ("export", true) => "push",
        ("export", false) => "export",
        (_, true) => "pull",
        (_, false) => "import",
    }
}

/// What kind of file a ledger entry is: full, summary, v0.1 or v0.1
/// summary, or a transcript for people (md, html).
pub(crate) fn ledger_kind(format: &str) -> &'static str {
    let summary = format.ends_with(SUMMARY_SUFFIX);
    if format.starts_with("markdown") {
        return "md";
    }
    if format.starts_with("html") {
        return "html";
    }
    match (format.contains("v0.1"), summary) {
        (true, true) => "v0.1 summary",
        (true, false) => "v0.1",
        (false, true) => "summary",
        (false, false) => "full",
    }
}
