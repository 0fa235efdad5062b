//! Output, prompts and the current session.

use crate::HostError;
use crate::bindings::anton::plugin0_1_0::chat as host;

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

/// Print JSON for machines, exactly. JSON allows C1 controls, DEL, bidi
/// overrides and line separators raw inside strings, where a terminal would
/// act on them or hide text; they are written as `\uXXXX` escapes instead,
/// so the parsed value is the same and the terminal safe.
pub fn print_json(json: &str) {
    host::print(&escape_for_terminal(json))
}

fn escape_for_terminal(json: &str) -> String {
    let risky = |c: char| {
        let code = c as u32;
        (0x7f..=0x9f).contains(&code)
            || (0x202a..=0x202e).contains(&code)
            || (0x2066..=0x2069).contains(&code)
            || matches!(code, 0x200e | 0x200f | 0x061c | 0x2028 | 0x2029)
            || matches!(
                code,
                0x200b | 0x180e | 0xfeff | 0x00ad | 0x034f | 0x115f | 0x1160 | 0x3164 | 0xffa0
            )
            || (0x1d173..=0x1d17a).contains(&code)
            || (code & 0xfffe) == 0xfffe
            || (0x2060..=0x2064).contains(&code)
            || (0x206a..=0x206f).contains(&code)
            || (0xfff9..=0xfffb).contains(&code)
            || (0xe0000..=0xe007f).contains(&code)
    };
    if !json.chars().any(risky) {
        return json.to_string();
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if risky(c) {
            // JSON escapes are UTF-16: a character past U+FFFF is a surrogate pair.
            for unit in c.encode_utf16(&mut [0; 2]) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// "1 scratchpad cell", "2 scratchpad cells": `one` or `many` by the count.
pub fn count(n: impl Into<u64>, one: &str, many: &str) -> String {
    match n.into() {
        1 => format!("1 {one}"),
        n => format!("{n} {many}"),
    }
}

/// A field for one line of output: every run of whitespace, line breaks
/// included, becomes one space, so stored text cannot forge extra lines.
pub fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `label` followed by a multi-line `text` whose later lines are indented
/// under the first, so no line of the text starts where a label would;
/// long lines wrap at words within the terminal's width.
pub fn labelled(label: &str, text: &str) -> String {
    labelled_within(label, text, terminal_width() as usize)
}

fn labelled_within(label: &str, text: &str, width: usize) -> String {
    let indent = " ".repeat(label.chars().count());
    // Too narrow to wrap usefully: the terminal wraps instead.
    let room = width.saturating_sub(indent.len()).max(20);
    let mut out = String::from(label);
    let mut first = true;
    for line in text.lines().map(str::trim_end) {
        for piece in wrapped(line, room) {
            if !first {
                out.push('\n');
                out.push_str(&indent);
            }
            first = false;
            out.push_str(&piece);
        }
    }
    out
}

/// `line` cut at spaces into pieces of at most `room` characters (a longer
/// word stays whole); its leading indentation stays on the first piece.
fn wrapped(line: &str, room: usize) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut current: Option<String> = None;
    for word in line.split(' ') {
        current = Some(match current.take() {
            None => word.to_string(),
            Some(mut piece) if piece.trim().is_empty() || piece.chars().count() + 1 + word.chars().count() <= room => {
                piece.push(' ');
                piece.push_str(word);
                piece
            }
            Some(piece) => {
                pieces.push(piece);
                word.to_string()
            }
        });
    }
    pieces.extend(current);
    for piece in pieces.iter_mut().skip(1) {
        *piece = piece.trim_start().to_string();
    }
    pieces
}

#[cfg(test)]
mod tests {
    #[test]
    fn json_keeps_its_value_and_loses_its_terminal_controls() {
        let escaped = super::escape_for_terminal("{\"t\":\"a\u{9b}b\u{202e}c\"}");
        assert_eq!(escaped, "{\"t\":\"a\\u009bb\\u202ec\"}");
        assert_eq!(super::escape_for_terminal("\u{e0041}"), "\\udb40\\udc41");
        assert_eq!(super::one_line(" a\n Session: x \t"), "a Session: x");
        assert_eq!(
            super::labelled_within("Summary: ", "one\ntwo", 80),
            "Summary: one\n         two"
        );
    }

    #[test]
    fn a_long_field_wraps_at_words_under_its_label() {
        let text = "Churn rose in Q3 because the March cohort left after the price change in February.";
        assert_eq!(
            super::labelled_within("  Summary: ", text, 40),
            "  Summary: Churn rose in Q3 because the\n           \
             March cohort left after the\n           \
             price change in February."
        );
        let long_word = "see https://example.com/a/very/long/path/that/cannot/break ok";
        assert_eq!(
            super::labelled_within("Note: ", long_word, 30),
            "Note: see\n      https://example.com/a/very/long/path/that/cannot/break\n      ok"
        );
        assert_eq!(super::labelled_within("A: ", "", 30), "A: ");
        assert_eq!(
            super::labelled_within("A: ", "  indented  line", 80),
            "A:   indented  line"
        );
    }
}
