//! Output, prompts and the current session.

use crate::HostError;
use crate::bindings::anton::plugin::chat as host;

pub use host::{Column, Table, TimeStyle};

/// The session the chat is in; `None` on the command line.
pub fn current_session() -> Option<String> {
    host::current_session()
}

/// The workspace folder.
pub fn workspace_dir() -> String {
    host::workspace_dir()
}

/// The user's login name.
pub fn user_name() -> String {
    host::user_name()
}

pub fn print(text: &str) {
    host::print(text)
}

pub fn print_error(text: &str) {
    host::print_error(text)
}

pub fn print_markdown(text: &str) {
    host::print_markdown(text)
}

/// Print a table fitted to the terminal; columns named in `shrinkable` are
/// cut with `…` first.
pub fn print_table(headers: &[&str], shrinkable: &[&str], rows: Vec<Vec<String>>) {
    let columns = headers
        .iter()
        .map(|h| Column {
            header: h.to_string(),
            shrinkable: shrinkable.contains(h),
        })
        .collect();
    host::print_table(&Table { columns, rows })
}

pub fn terminal_width() -> u32 {
    host::terminal_width()
}

pub fn interactive() -> bool {
    host::interactive()
}

/// Index of the chosen item, `None` when the user cancels.
pub fn pick(prompt: &str, items: &[String]) -> Result<Option<u32>, HostError> {
    host::pick(prompt, items)
}

pub fn confirm(question: &str, default_yes: bool) -> Result<bool, HostError> {
    host::confirm(question, default_yes)
}

pub fn ask(prompt: &str) -> Result<Option<String>, HostError> {
    host::ask(prompt)
}

pub fn ask_secret(prompt: &str) -> Result<Option<String>, HostError> {
    host::ask_secret(prompt)
}

/// A timestamp in the user's zone ("2 h ago", "2026-11-24 14:03 CET") or RFC 3339.
pub fn format_time(at: crate::Timestamp, style: TimeStyle) -> String {
    host::format_time(at, style)
}
