//! Every text of a bundle through the host's redaction, and what a file
//! hides, counted from the placeholders in it: most were put there when the
//! text was stored, some only now.

use std::collections::BTreeMap;

use anton_plugin_sdk::storage;
use anton_share_format::Bundle;
use serde_json::Value;

/// What redacting a bundle found.
pub struct Redaction {
    /// Every placeholder the bundle now holds, by kind.
    pub in_file: BTreeMap<String, u64>,
    /// What this pass replaced, by kind: what the store still held.
    pub found_now: BTreeMap<String, u64>,
    /// Each text that holds a placeholder: where, and a few words around it.
    pub places: Vec<(String, String)>,
}

/// Redact every field of `bundle`, `meta` included, keys and all.
pub fn redact(bundle: &mut Bundle) -> Redaction {
    let mut texts = Vec::new();
    each_text(bundle, &mut |_, text| texts.push(text.clone()));
    let redacted = storage::redact(&texts);
    let mut replaced = redacted.texts.into_iter();
    let mut in_file = BTreeMap::new();
    let mut places = Vec::new();
    each_text(bundle, &mut |place, text| {
        *text = replaced.next().unwrap_or_default();
        let mut first = None;
        for (at, kind) in placeholders(text) {
            first.get_or_insert(at);
            *in_file.entry(kind).or_default() += 1;
        }
        if let Some(at) = first {
            places.push((place.to_string(), around(text, at)));
        }
    });
    bundle.redactions = in_file.clone();
    Redaction {
        in_file,
        found_now: redacted.counts.into_iter().map(|c| (c.kind, c.count as u64)).collect(),
        places,
    }
}

/// Visit every text of the bundle with a name for where it is, in one
/// fixed order.
fn each_text(bundle: &mut Bundle, visit: &mut dyn FnMut(&str, &mut String)) {
    for (place, text) in [
        ("title", &mut bundle.title),
        ("summary", &mut bundle.summary),
        ("exported by", &mut bundle.exported_by),
        ("exported at", &mut bundle.exported_at),
        ("anton version", &mut bundle.anton_version),
        ("session id", &mut bundle.session_id),
    ] {
        visit(place, text);
    }
    for (i, e) in bundle.conversation.iter_mut().enumerate() {
        let place = format!("message {} ({})", i + 1, e.role);
        for text in [&mut e.content, &mut e.ts, &mut e.session] {
            visit(&place, text);
        }
        each_json_text(&mut e.meta, &format!("{place} meta"), visit);
        visit(&place, &mut e.role);
    }
    let born = bundle.session_born.iter_mut().map(|m| ("session-born memory", m));
    let used = bundle.project_accessed.iter_mut().map(|m| ("project memory", m));
    for (i, (what, m)) in born.chain(used).enumerate() {
        let place = format!("{what} {}", i + 1);
        for text in [&mut m.content, &mut m.kind, &mut m.topic] {
            visit(&place, text);
        }
    }
    for (i, c) in bundle.cells.iter_mut().enumerate() {
        let n = i + 1;
        visit(&format!("cell {n} pad"), &mut c.pad);
        visit(&format!("cell {n} code"), &mut c.code);
        visit(&format!("cell {n} output"), &mut c.stdout);
        visit(&format!("cell {n} errors"), &mut c.stderr);
        visit(&format!("cell {n} description"), &mut c.description);
        if let Some(error) = c.error.as_mut() {
            visit(&format!("cell {n} error"), error);
        }
    }
    if let Some(imported) = bundle.imported.as_mut() {
        for text in [&mut imported.user, &mut imported.date, &mut imported.session_id] {
            visit("import stamp", text);
        }
    }
}

/// Every string in a JSON value, object keys too, in document order.
fn each_json_text(value: &mut Value, place: &str, visit: &mut dyn FnMut(&str, &mut String)) {
    match value {
        Value::String(s) => visit(place, s),
        Value::Array(items) => items.iter_mut().for_each(|v| each_json_text(v, place, visit)),
        Value::Object(map) => {
            for (mut key, mut v) in std::mem::take(map) {
                visit(place, &mut key);
                each_json_text(&mut v, place, visit);
                map.insert(key, v);
            }
        }
        _ => {}
    }
}

/// Where each placeholder in `text` starts, and its kind:
/// `[REDACTED_AWS_ACCESS_KEY_ID]` → `aws access key id`,
/// `[DS_POSTGRES_PROD__PASSWORD]` → `data-source secret`.
pub fn placeholders(text: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (at, _) in text.match_indices('[') {
        let rest = &text[at + 1..];
        let Some(end) = rest.find(']') else { break };
        let name = &rest[..end];
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        {
            continue;
        }
        if let Some(kind) = name.strip_prefix("REDACTED_") {
            found.push((at, kind.to_lowercase().replace('_', " ")));
        } else if name.starts_with("DS_") && name.contains("__") {
            found.push((at, "data-source secret".to_string()));
        }
    }
    found
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
        .into_iter()
        .map(|(_, k)| k)
        .collect();
        assert_eq!(kinds, ["aws access key id", "data-source secret"]);
    }
}
