//! `/share export [--summary] [--format v0.1] | import <file> | status | history`:
//! sessions as portable `.anton` files, read and written by anton and by the
//! reference Anton.

mod export;
mod history;
mod import;
mod redaction;
mod status;
mod time;

use anton_plugin_sdk::{Args, Invocation, Outcome, Plugin, register_plugin};
use anton_share_format::Bundle;

struct Share;

impl Plugin for Share {
    fn new() -> Self {
        Share
    }

    fn run(&mut self, invocation: &Invocation) -> Result<Outcome, String> {
        let (sub, rest) = match invocation.args.split_first() {
            Some((sub, rest)) => (sub.as_str(), Args::new(rest)),
            None => {
                anton_plugin_sdk::chat::print(&format!("Usage: {}", invocation.usage()));
                return Ok(Outcome::ok());
            }
        };
        match sub {
            "export" => export::run(invocation, &rest),
            "import" => import::run(invocation, &rest),
            "status" => status::run(invocation, &rest),
            "history" => history::run(&rest),
            other => Err(format!(
                "unknown share command '{other}'; usage: {}",
                invocation.usage()
            )),
        }
    }
}

register_plugin!(Share);

pub(crate) fn or_none(text: &str) -> &str {
    if text.is_empty() { "(none)" } else { text }
}

/// "2 session-born, 1 project memory": what a file's memory snapshot holds.
pub(crate) fn memory_counts(bundle: &Bundle) -> String {
    format!(
        "{} session-born, {}",
        bundle.session_born.len(),
        anton_plugin_sdk::chat::count(
            bundle.project_accessed.len() as u64,
            "project memory",
            "project memories"
        )
    )
}

pub(crate) fn cell_count(bundle: &Bundle) -> String {
    anton_plugin_sdk::chat::count(bundle.cells.len() as u64, "scratchpad cell", "scratchpad cells")
}
