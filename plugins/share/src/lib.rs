//! `/share export [--summary] [--format v0.1] | import <file> | status | history`:
//! sessions as portable `.anton` files, read and written by anton and by the
//! reference Anton.

mod export;
mod history;
mod import;
mod status;
mod time;

use std::collections::BTreeMap;

use anton_plugin_sdk::storage;
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

/// Every text of the bundle through the host's redaction; counts by kind.
pub(crate) fn redact(bundle: &mut Bundle) -> BTreeMap<String, u64> {
    let mut slots: Vec<&mut String> = vec![&mut bundle.title, &mut bundle.summary];
    for e in &mut bundle.conversation {
        slots.push(&mut e.content);
    }
    for m in bundle.session_born.iter_mut().chain(bundle.project_accessed.iter_mut()) {
        slots.push(&mut m.content);
    }
    for c in &mut bundle.cells {
        slots.extend([&mut c.code, &mut c.stdout, &mut c.stderr, &mut c.description]);
        if let Some(error) = c.error.as_mut() {
            slots.push(error);
        }
    }
    let redacted = storage::redact(&slots.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    for (slot, text) in slots.into_iter().zip(redacted.texts) {
        *slot = text;
    }
    redacted.counts.into_iter().map(|c| (c.kind, c.count as u64)).collect()
}

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
