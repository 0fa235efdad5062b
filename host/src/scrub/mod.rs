//! Secrets out of text before it is stored, shown to the model, written to
//! a file or exported. Two kinds: the known ones (data-source values, model
//! keys, secret-named environment variables), replaced wherever they occur,
//! and the shapes of [`rules`] plus the user's own `[redact] patterns`.

mod rules;
mod screen;

use std::borrow::Cow;
use std::collections::BTreeMap;

use aho_corasick::{AhoCorasick, MatchKind};
use regex::Regex;
use serde_json::Value;

use crate::vault::DataSource;

pub use rules::{entropy, placeholder};
pub use screen::Screen;

/// What was redacted: counts by kind, never values.
pub type Report = BTreeMap<&'static str, usize>;

/// A value anton knows is secret, and what stands in for it.
#[derive(Clone)]
pub struct Known {
    value: String,
    replacement: String,
    kind: &'static str,
}

impl Known {
    /// A model provider's key (`ANTHROPIC_API_KEY`, `ANTON_*_API_KEY`, …).
    pub fn model_key(value: &str) -> Option<Known> {
        Known::at_least(8, value, "[REDACTED_API_KEY]".into(), "api key")
    }

    /// The value of an environment variable whose name says it is secret;
    /// a plain word (`password`, `localhost`) is taken for a placeholder
    /// someone left there, not a secret.
    pub fn env_secret(value: &str) -> Option<Known> {
        if value.chars().all(char::is_alphabetic) {
            return None;
        }
        Known::at_least(8, value, placeholder("env secret"), "env secret")
    }

    /// The forms a value takes when code prints it inside a string or a
    /// URL: JSON (`"` and `\` escaped, and non-ASCII as `\uXXXX`),
    /// Python's repr, and percent-encoding.
    fn escaped_forms(&self) -> Vec<Known> {
        let json = serde_json::to_string(&self.value).unwrap_or_default();
        let json = json[1..json.len() - 1].to_string();
        let ascii: String = json
            .chars()
            .flat_map(|c| {
                if c.is_ascii() {
                    vec![c.to_string()]
                } else {
                    c.encode_utf16(&mut [0; 2])
                        .iter()
                        .map(|u| format!("\\u{u:04x}"))
                        .collect()
                }
            })
            .collect();
        let repr = self.value.replace('\\', "\\\\").replace('\'', "\\'");
        let url: String = self
            .value
            .bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect();
        [json, ascii, repr, url]
            .into_iter()
            .filter(|form| *form != self.value)
            .map(|value| Known { value, ..self.clone() })
            .collect()
    }

    /// A data source's secret fields, as `[DS_<ENGINE>_<NAME>__<FIELD>]`:
    /// the name the scratchpad reads it by, as in the reference Anton.
    pub fn data_source(source: &DataSource) -> Vec<Known> {
        let prefix = source.env_prefix();
        source
            .fields
            .iter()
            .filter(|(field, _)| source.is_secret(field))
            .filter_map(|(field, value)| {
                Known::at_least(
                    4,
                    value,
                    format!("[{prefix}{}]", field.to_uppercase()),
                    "data-source secret",
                )
            })
            .collect()
    }

    /// A value that is a plain word (`postgres`) inside a longer word
    /// (`postgresql`) is that word, not the secret. Anything else, letters
    /// mixed with digits or signs, is the secret wherever it is: code can
    /// glue it to anything.
    fn inside_a_word(&self, text: &str, start: usize, end: usize) -> bool {
        let plain_word = self.value.chars().all(char::is_alphabetic) || self.value.chars().all(|c| c.is_ascii_digit());
        let word = |c: Option<char>| c.is_some_and(char::is_alphanumeric);
        plain_word && (word(text[..start].chars().next_back()) || word(text[end..].chars().next()))
    }

    /// Short values are left alone: replacing every `1234` would garble
    /// ordinary text and hide nothing.
    fn at_least(len: usize, value: &str, replacement: String, kind: &'static str) -> Option<Known> {
        (value.trim().chars().count() >= len).then(|| Known {
            value: value.to_string(),
            replacement,
            kind,
        })
    }
}

/// Whether an environment variable's name says its value is secret: a part
/// of it is, or ends in, KEY, or holds TOKEN, SECRET or PASSWORD.
pub fn secret_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    upper.split(|c: char| !c.is_ascii_alphanumeric()).any(|part| {
        part.ends_with("KEY")
            || part == "KEYS"
            || ["TOKEN", "SECRET", "PASSWORD", "PASSWD"]
                .iter()
                .any(|w| part.contains(w))
    })
}

#[derive(Clone)]
pub struct Scrubber {
    known: Vec<Known>,
    /// Finds every known value at once, longest first where two overlap.
    finder: Option<AhoCorasick>,
    custom: Vec<Regex>,
}

impl Default for Scrubber {
    fn default() -> Scrubber {
        Scrubber::new(Vec::new(), Vec::new())
    }
}

impl Scrubber {
    pub fn new(known: Vec<Known>, custom: Vec<Regex>) -> Scrubber {
        let mut known: Vec<Known> = known
            .iter()
            .flat_map(|k| k.escaped_forms())
            .chain(known.iter().cloned())
            .collect();
        known.sort_by(|a, b| b.value.len().cmp(&a.value.len()).then(a.value.cmp(&b.value)));
        known.dedup_by(|a, b| a.value == b.value);
        let finder = (!known.is_empty()).then(|| {
            AhoCorasick::builder()
                .match_kind(MatchKind::LeftmostLongest)
                .build(known.iter().map(|k| &k.value))
                .expect("plain strings always build")
        });
        Scrubber { known, finder, custom }
    }

    /// The known values, longest first.
    pub fn known_values(&self) -> impl Iterator<Item = &str> {
        self.known.iter().map(|k| k.value.as_str())
    }

    pub fn scrub(&self, text: &str) -> String {
        self.scrub_counting(text, &mut Report::new())
    }

    pub fn scrub_counting(&self, text: &str, report: &mut Report) -> String {
        let mut text = self.replace_known(text, report);
        // Most texts hold no secret shape at all: one search that stops at
        // the first hit costs far less than finding which rules can match.
        if rules::any().is_match(&text) {
            let present = rules::any().matches(&text);
            for (index, rule) in rules::all().iter().enumerate() {
                if present.matched(index) {
                    text = Cow::Owned(replace_matches(
                        &text,
                        &rule.regex,
                        rule.group,
                        rule.keep,
                        &rule.placeholder,
                        || *report.entry(rule.kind).or_default() += 1,
                    ));
                }
            }
        }
        for pattern in &self.custom {
            if !pattern.is_match(&text) {
                continue;
            }
            let custom = placeholder("custom secret");
            text = Cow::Owned(replace_matches(&text, pattern, 0, None, &custom, || {
                *report.entry("custom secret").or_default() += 1
            }));
        }
        text.into_owned()
    }

    /// Only the known values: for the screen, where a token shape the user
    /// typed may be what they want to see, but a vault password never is.
    pub fn scrub_known(&self, text: &str) -> String {
        self.replace_known(text, &mut Report::new()).into_owned()
    }

    /// A JSON document with every string in it scrubbed (keys too), still
    /// valid JSON; text that is not JSON is scrubbed as text.
    pub fn scrub_json_text(&self, text: &str, report: &mut Report) -> String {
        match serde_json::from_str::<Value>(text) {
            Ok(mut value) => {
                self.scrub_json(&mut value, report);
                value.to_string()
            }
            Err(_) => self.scrub_counting(text, report),
        }
    }

    /// A stored message's content and meta: a tool call's arguments and
    /// every meta are JSON, and stay JSON.
    pub fn scrub_message(&self, role: &str, content: &str, meta: &str, report: &mut Report) -> (String, String) {
        let content = if role == "tool_call" {
            self.scrub_json_text(content, report)
        } else {
            self.scrub_counting(content, report)
        };
        (content, self.scrub_json_text(meta, report))
    }

    pub fn scrub_json(&self, value: &mut Value, report: &mut Report) {
        match value {
            Value::String(s) => *s = self.scrub_counting(s, report),
            Value::Array(items) => items.iter_mut().for_each(|v| self.scrub_json(v, report)),
            Value::Object(map) => {
                let entries = std::mem::take(map);
                for (key, mut v) in entries {
                    self.scrub_json(&mut v, report);
                    map.insert(self.scrub_counting(&key, report), v);
                }
            }
            _ => {}
        }
    }

    /// Where known values occur in `text`, in order: (start, end, the value's record).
    fn known_spans(&self, text: &str) -> Vec<(usize, usize, &Known)> {
        let Some(finder) = &self.finder else {
            return Vec::new();
        };
        finder
            .find_iter(text)
            .map(|found| (found.start(), found.end(), &self.known[found.pattern().as_usize()]))
            .filter(|(start, end, known)| !known.inside_a_word(text, *start, *end))
            .collect()
    }

    fn replace_known<'a>(&self, text: &'a str, report: &mut Report) -> Cow<'a, str> {
        let spans = self.known_spans(text);
        if spans.is_empty() {
            return Cow::Borrowed(text);
        }
        let mut out = String::with_capacity(text.len());
        let mut last = 0;
        for (start, end, known) in spans {
            out.push_str(&text[last..start]);
            out.push_str(&known.replacement);
            *report.entry(known.kind).or_default() += 1;
            last = end;
        }
        out.push_str(&text[last..]);
        Cow::Owned(out)
    }

    /// A filter for text that reaches the screen piece by piece.
    pub fn screen(&self) -> Screen<'_> {
        Screen::new(self)
    }
}

/// `text` with group `group` of each kept match of `regex` replaced.
fn replace_matches(
    text: &str,
    regex: &Regex,
    group: usize,
    keep: Option<fn(&regex::Captures) -> bool>,
    replacement: &str,
    mut counted: impl FnMut(),
) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for captures in regex.captures_iter(text) {
        if keep.is_some_and(|keep| !keep(&captures)) {
            continue;
        }
        let Some(part) = captures.get(group) else { continue };
        out.push_str(&text[last..part.start()]);
        out.push_str(replacement);
        last = part.end();
        counted();
    }
    out.push_str(&text[last..]);
    out
}

/// The user's `[redact] patterns` as (file, pattern), each a regular
/// expression; one that does not compile is named with its file, not fatal.
pub fn custom_patterns(patterns: &[(String, String)]) -> (Vec<Regex>, Vec<String>) {
    let mut compiled = Vec::new();
    let mut problems = Vec::new();
    for (file, pattern) in patterns {
        match regex::RegexBuilder::new(pattern).size_limit(1 << 20).build() {
            Ok(regex) if regex.is_match("") => problems.push(format!(
                "{file}: redact pattern {pattern:?} matches empty text; skipped"
            )),
            Ok(regex) => compiled.push(regex),
            Err(e) => problems.push(format!(
                "{file}: redact pattern {pattern:?} is not a valid regular expression ({}); skipped",
                e.to_string().lines().last().unwrap_or_default().trim()
            )),
        }
    }
    (compiled, problems)
}

#[cfg(test)]
mod tests;
