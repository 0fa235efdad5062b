//! The checks every field of a file passes, and the plain words a refusal
//! uses for what serde found.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde::de::{self, Deserializer, Unexpected, Visitor};
use serde_json::Value;
use serde_path_to_error::{Path, Segment};

use crate::{FormatError, MAX_TEXT, MAX_TURN, MAX_UNPACKED, bad, over_limit};

/// How much of a name or value from the file an error message quotes.
const QUOTE_CHARS: usize = 40;

/// Text from the file cut short for a one-line message.
pub(crate) fn shorten(text: &str) -> String {
    let mut short: String = text.chars().take(QUOTE_CHARS).collect();
    if short.len() < text.len() {
        short.push('…');
    }
    short
}

/// Text from the file, shortened and quoted with its control characters escaped.
pub(crate) fn quote(text: &str) -> String {
    format!("{:?}", shorten(text))
}

/// serde's wording of a wrong value, for people: `invalid type: null,
/// expected a string` becomes `expected text, found null`. Messages serde did
/// not word this way (ours, from the checks below) pass through.
pub(crate) fn plain_words(serde_message: &str) -> String {
    let wrong = serde_message
        .strip_prefix("invalid type: ")
        .map(|rest| (rest, false))
        .or_else(|| serde_message.strip_prefix("invalid value: ").map(|rest| (rest, true)));
    if let Some((rest, out_of_range)) = wrong
        && let Some(at) = rest.rfind(", expected ")
    {
        let (found, expected) = (&rest[..at], &rest[at + ", expected ".len()..]);
        return format!(
            "expected {}, found {}",
            plain_expected(expected, out_of_range),
            plain_found(found)
        );
    }
    if let Some(rest) = serde_message.strip_prefix("invalid length ")
        && let Some((length, expected)) = rest.split_once(", expected ")
    {
        let items = if length == "1" { "item" } else { "items" };
        return format!("expected {}, found {length} {items}", plain_expected(expected, false));
    }
    serde_message.to_string()
}

pub(crate) fn plain_expected(expected: &str, out_of_range: bool) -> String {
    let whole = |max: u64| {
        if out_of_range {
            format!("a whole number from 0 to {max}")
        } else {
            "a whole number".to_string()
        }
    };
    match expected {
        "a string" | "a borrowed string" | "a character" => "text".into(),
        "u8" => whole(u8::MAX.into()),
        "u16" => whole(u16::MAX.into()),
        "u32" => whole(u32::MAX.into()),
        "u64" | "usize" => whole(u64::MAX),
        "i8" | "i16" | "i32" | "i64" | "isize" => "a whole number".into(),
        "f32" | "f64" => "a number".into(),
        "a boolean" => "true or false".into(),
        "a sequence" => "a list".into(),
        "a map" => "an object".into(),
        "any valid JSON value" => "any JSON value".into(),
        other if other.starts_with("struct ") => "an object".into(),
        other => other.into(),
    }
}

pub(crate) fn plain_found(found: &str) -> String {
    let backticked = |prefix: &str| {
        found
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_prefix('`'))
            .and_then(|rest| rest.strip_suffix('`'))
            .map(str::to_string)
    };
    if let Some(value) = backticked("boolean ")
        .or_else(|| backticked("integer "))
        .or_else(|| backticked("floating point "))
    {
        return value;
    }
    if let Some(quoted) = found
        .strip_prefix("string ")
        .or_else(|| found.strip_prefix("character "))
    {
        // serde quotes with Rust escapes; cut the value, keep the quotes.
        let inner = quoted
            .strip_prefix('"')
            .and_then(|q| q.strip_suffix('"'))
            .unwrap_or(quoted);
        return format!("text \"{}\"", shorten(inner));
    }
    match found {
        "null" | "unit value" | "unit" => "null".into(),
        "sequence" => "a list".into(),
        "map" => "an object".into(),
        other => other.into(),
    }
}

/// A JSON path from the root of what was parsed: `scratchpad.cells[3].description`.
pub(crate) fn json_path(path: &Path) -> String {
    let mut out = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } | Segment::Enum { variant: key } => push_key(&mut out, key),
            Segment::Unknown => push_key(&mut out, "?"),
        }
    }
    out
}

pub(crate) fn push_key(path: &mut String, key: &str) {
    let plain = !key.is_empty()
        && key.len() <= QUOTE_CHARS
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '?');
    if plain {
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(key);
    } else {
        path.push('[');
        path.push_str(&quote(key));
        path.push(']');
    }
}

pub(crate) fn json_error(place: &str, mut path: String, inner: &serde_json::Error) -> FormatError {
    let message = inner.to_string();
    // serde_json appends where it was in the text; the path says it better.
    let message = match inner.line() {
        0 => message.as_str(),
        line => message
            .strip_suffix(&format!(" at line {line} column {}", inner.column()))
            .unwrap_or(&message),
    };
    let problem = if inner.is_syntax() || inner.is_eof() {
        match inner.line() {
            1 => format!("broken JSON at column {} ({message})", inner.column()),
            line => format!("broken JSON at line {line} column {} ({message})", inner.column()),
        }
    } else if let Some(field) = backticked_field(message, "missing field ") {
        push_key(&mut path, field);
        "missing".into()
    } else if message.starts_with("unknown field ") {
        // The path already ends with the field.
        "unknown field".into()
    } else if let Some(field) = backticked_field(message, "duplicate field ") {
        push_key(&mut path, field);
        "given twice".into()
    } else {
        plain_words(message)
    };
    let location: Vec<&str> = [place, path.as_str()].into_iter().filter(|p| !p.is_empty()).collect();
    if location.is_empty() {
        bad(problem)
    } else {
        bad(format!("{}: {problem}", location.join(": ")))
    }
}

/// `field` in "missing field `field`" and the like.
pub(crate) fn backticked_field<'m>(message: &'m str, prefix: &str) -> Option<&'m str> {
    let rest = message.strip_prefix(prefix)?.strip_prefix('`')?;
    rest.split_once('`').map(|(field, _)| field)
}

/// Deserialise an already parsed JSON value, naming the field at fault.
pub(crate) fn parse_value<T: for<'de> Deserialize<'de>>(place: &str, value: Value) -> Result<T, FormatError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = json_path(e.path());
        json_error(place, path, &e.into_inner())
    })
}

// ---------------------------------------------------------------- field checks

/// A whole number in `0..=max`, whatever JSON integer the file holds.
struct UpTo(u64);

impl Visitor<'_> for UpTo {
    type Value = u64;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "a whole number from 0 to {}", self.0)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
        if v <= self.0 {
            Ok(v)
        } else {
            Err(E::invalid_value(Unexpected::Unsigned(v), &self))
        }
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<u64, E> {
        match u64::try_from(v) {
            Ok(v) => self.visit_u64(v),
            Err(_) => Err(E::invalid_value(Unexpected::Signed(v), &self)),
        }
    }
}

pub(crate) fn turn<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
    let turn = deserializer.deserialize_u64(UpTo(MAX_TURN.into()))?;
    // UpTo(MAX_TURN) keeps it within u32.
    Ok(turn as u32)
}

/// Counts by kind; no file can have redacted more things than it has bytes.
pub(crate) fn redaction_counts<'de, D: Deserializer<'de>>(deserializer: D) -> Result<BTreeMap<String, u64>, D::Error> {
    struct Count(u64);
    impl<'de> Deserialize<'de> for Count {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            deserializer.deserialize_u64(UpTo(MAX_UNPACKED)).map(Count)
        }
    }
    let counts = BTreeMap::<String, Count>::deserialize(deserializer)?;
    Ok(counts.into_iter().map(|(kind, Count(n))| (kind, n)).collect())
}

pub(crate) fn text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let text = String::deserialize(deserializer)?;
    if text.len() > MAX_TEXT {
        return Err(de::Error::custom(format!(
            "the text is {}",
            over_limit(text.len() as u64, MAX_TEXT as u64)
        )));
    }
    Ok(text)
}

pub(crate) fn optional_text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    struct Text(#[serde(deserialize_with = "text")] String);
    Ok(Option::<Text>::deserialize(deserializer)?.map(|Text(t)| t))
}

pub(crate) const ROLES: [&str; 8] = [
    "user",
    "assistant",
    "tool_call",
    "tool_result",
    "scratchpad",
    "memory_write",
    "memory_read",
    "system",
];

pub(crate) fn role<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let role = String::deserialize(deserializer)?;
    if !ROLES.contains(&role.as_str()) {
        return Err(de::Error::custom(format!(
            "unknown role {}; a message is one of {}",
            quote(&role),
            ROLES.join(", ")
        )));
    }
    Ok(role)
}

pub(crate) const MEMORY_KINDS: [&str; 4] = ["always", "never", "when", "lesson"];

pub(crate) fn memory_kind<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let kind = String::deserialize(deserializer)?;
    if !MEMORY_KINDS.contains(&kind.as_str()) {
        return Err(de::Error::custom(format!(
            "unknown kind {}; a memory is one of {}",
            quote(&kind),
            MEMORY_KINDS.join(", ")
        )));
    }
    Ok(kind)
}
