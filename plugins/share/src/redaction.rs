//! What a file hides: counted from the placeholders in every text it is
//! written with (most were put there when the text was stored, some only
//! now, by the host's redaction on the way out), a row at a time.

use std::collections::BTreeMap;

use anton_plugin_sdk::storage::{self, RedactionCount};

/// How many places a dry run shows.
pub const SHOWN: usize = 20;

#[derive(Default)]
pub struct Redaction {
    /// Every placeholder the file holds, by kind.
    pub in_file: BTreeMap<String, u64>,
    /// What this export replaced, by kind: what the store still held.
    pub found_now: BTreeMap<String, u64>,
    /// The first texts that hold a placeholder: where, and a few words around it.
    pub places: Vec<(String, String)>,
    /// How many texts hold one.
    pub place_count: usize,
}

impl Redaction {
    /// Add what the host replaced.
    pub fn found(&mut self, counts: Vec<RedactionCount>) {
        for c in counts {
            *self.found_now.entry(c.kind).or_default() += u64::from(c.count);
        }
    }

    /// Count what `text`, written to the file, hides; `place` names it.
    pub fn note(&mut self, text: &str, place: impl FnOnce() -> String) {
        let mut first = None;
        for (at, kind) in placeholders(text) {
            first.get_or_insert(at);
            *self.in_file.entry(kind).or_default() += 1;
        }
        if let Some(at) = first {
            self.place_count += 1;
            if self.places.len() < SHOWN {
                self.places.push((place(), around(text, at)));
            }
        }
    }

    /// `texts` redacted by the host, what it replaced counted, and what
    /// they now hide noted under `place`.
    pub fn redact(&mut self, texts: Vec<String>, place: impl Fn(usize) -> String) -> Vec<String> {
        if texts.is_empty() {
            return texts;
        }
        let redacted = storage::redact(&texts);
        self.found(redacted.counts);
        for (i, text) in redacted.texts.iter().enumerate() {
            self.note(text, || place(i));
        }
        redacted.texts
    }
}

/// Where each placeholder in `text` starts, and its kind:
/// `[REDACTED_AWS_ACCESS_KEY_ID]` → `aws access key id`,
/// `[DS_POSTGRES_PROD__PASSWORD]` → `data-source secret`.
pub fn placeholders(text: &str) -> impl Iterator<Item = (usize, String)> + '_ {
    let bytes = text.as_bytes();
    let mut from = 0;
    // Each byte is looked at once: a text of a million `[` costs no more
    // than any other, and one of a million placeholders holds none of them.
    std::iter::from_fn(move || {
        while let Some(offset) = text[from..].find('[') {
            let at = from + offset;
            let name_end = at
                + 1
                + bytes[at + 1..]
                    .iter()
                    .take_while(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || **b == b'_')
                    .count();
            let name = &text[at + 1..name_end];
            let closed = bytes.get(name_end) == Some(&b']');
            from = if closed { name_end + 1 } else { name_end.max(at + 1) };
            if closed && let Some(kind) = name.strip_prefix("REDACTED_") {
                return Some((at, kind.to_lowercase().replace('_', " ")));
            } else if closed && name.starts_with("DS_") && name.contains("__") {
                return Some((at, "data-source secret".to_string()));
            }
        }
        None
    })
}

/// About 30 characters either side of byte `at`, on one line.
fn around(text: &str, at: usize) -> String {
    let start = text[..at].char_indices().rev().nth(30).map_or(0, |(i, _)| i);
    let end = text[at..].char_indices().nth(60).map_or(text.len(), |(i, _)| at + i);
    let mut snippet = anton_plugin_sdk::chat::one_line(&text[start..end]);
    if start > 0 {
        snippet.insert(0, '…');
    }
    if end < text.len() {
        snippet.push('…');
    }
    snippet
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_name_their_kind_and_look_alikes_are_not_counted() {
        let kinds: Vec<String> = placeholders(
            "a [REDACTED_AWS_ACCESS_KEY_ID] b [DS_PG_PROD__PASSWORD] [not one] [REDACTED_x] [DS_NOFIELD] [",
        )
        .map(|(_, k)| k)
        .collect();
        assert_eq!(kinds, ["aws access key id", "data-source secret"]);
        let nested: Vec<(usize, String)> = placeholders("[[REDACTED_API_KEY]] [DS_A__B[REDACTED_JWT]").collect();
        assert_eq!(
            nested.iter().map(|(at, k)| (*at, k.as_str())).collect::<Vec<_>>(),
            [(1, "api key"), (29, "jwt")]
        );
    }
}
