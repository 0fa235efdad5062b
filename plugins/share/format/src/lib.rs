//! `.anton` session files.
//!
//! * **Native v1**: a zip holding `manifest.json` (format, version, who, when,
//!   title, summary, counts, the sha256 of every other entry, the redaction
//!   report), `session.json`, `conversation.jsonl`, `memory.json` and
//!   `cells.jsonl`. See `docs/anton-file-format.md`.
//! * **Reference Anton v0.1**: one JSON object (`"version": "0.1"`), as
//!   `anton-agent` writes it.
//!
//! [`read`] tells them apart by content and refuses hostile input with one
//! line naming the field at fault, before anything is written anywhere.

pub mod naming;
pub mod readable;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Cursor, Read, Write};

use serde::de::{self, Deserializer, Unexpected, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use serde_path_to_error::{Path, Segment};
use sha2::{Digest, Sha256};

pub const FORMAT_ID: &str = "anton-session";
pub const VERSION: u32 = 1;
/// The largest `.anton` file accepted.
pub const MAX_FILE: usize = 256 * 1024 * 1024;
/// What all entries of a zip may unpack to, together, by their declared sizes.
pub const MAX_UNPACKED: u64 = 512 * 1024 * 1024;
/// The longest single text (message, cell output, memory, title) accepted.
pub const MAX_TEXT: usize = 32 * 1024 * 1024;
/// The highest turn number accepted; anton counts turns up from there, so a
/// number near `u32::MAX` would overflow later.
pub const MAX_TURN: u32 = 1_000_000;
/// More entries than a `.anton` file has (5), but few enough to walk cheaply.
const MAX_ENTRIES: usize = 16;
/// How much of a name or value from the file an error message quotes.
const QUOTE_CHARS: usize = 40;

const ENTRIES: [&str; 4] = ["session.json", "conversation.jsonl", "memory.json", "cells.jsonl"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    V1,
    V01,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::V1 => "anton-v1",
            Format::V01 => "anton-v0.1",
        }
    }
}

/// One conversation row, as the reference Anton logs it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Episode {
    pub ts: String,
    #[serde(default)]
    pub session: String,
    #[serde(deserialize_with = "turn")]
    pub turn: u32,
    #[serde(deserialize_with = "role")]
    pub role: String,
    #[serde(deserialize_with = "text")]
    pub content: String,
    #[serde(default = "empty_object")]
    pub meta: Value,
}

fn empty_object() -> Value {
    json!({})
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Memory {
    #[serde(deserialize_with = "text")]
    pub content: String,
    /// always, never, when or lesson.
    #[serde(deserialize_with = "memory_kind")]
    pub kind: String,
    #[serde(default)]
    pub topic: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Cell {
    #[serde(default)]
    pub pad: String,
    #[serde(deserialize_with = "text")]
    pub code: String,
    #[serde(default, deserialize_with = "text")]
    pub stdout: String,
    #[serde(default, deserialize_with = "text")]
    pub stderr: String,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub description: String,
}

/// The recipient's stamp on an imported v0.1 file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Imported {
    pub user: String,
    pub date: String,
    pub session_id: String,
}

/// Everything a `.anton` file carries, whatever its format.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Bundle {
    pub exported_by: String,
    /// RFC 3339.
    pub exported_at: String,
    pub anton_version: String,
    pub session_id: String,
    pub title: String,
    pub summary: String,
    /// True for `--summary` files: no conversation, no cell outputs.
    pub summary_only: bool,
    pub conversation: Vec<Episode>,
    pub session_born: Vec<Memory>,
    pub project_accessed: Vec<Memory>,
    pub cells: Vec<Cell>,
    /// Counts by kind of what was redacted on export.
    pub redactions: BTreeMap<String, u64>,
    pub imported: Option<Imported>,
}

/// Why a file was refused, as one line for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatError(pub String);

impl std::fmt::Display for FormatError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn bad(message: impl Into<String>) -> FormatError {
    FormatError(message.into())
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Read a `.anton` file of either format, checking everything first.
pub fn read(bytes: &[u8]) -> Result<(Bundle, Format), FormatError> {
    if bytes.len() > MAX_FILE {
        return Err(bad(format!(
            "the file is {}",
            over_limit(bytes.len() as u64, MAX_FILE as u64)
        )));
    }
    if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06") {
        return read_v1(bytes).map(|b| (b, Format::V1));
    }
    let text = std::str::from_utf8(bytes)
        .map_err(|e| bad(format!("not a .anton file: not a zip, and not UTF-8 text ({e})")))?;
    if !text.trim_start().starts_with('{') {
        return Err(bad("not a .anton file: neither a zip nor a JSON object"));
    }
    read_v01(text).map(|b| (b, Format::V01))
}

// ---------------------------------------------------------------- sizes and words

/// A byte count people can read: `512 B`, `2.0 KiB`, `1.5 MiB`, `3.2 GiB`.
/// Binary units throughout, as the limits are powers of two.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    // 1023.96 KiB would print as "1024.0 KiB": move up a unit first.
    while value >= 1023.95 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// `40.0 MiB, over the 32.0 MiB limit`, without printing two equal sizes when
/// the excess is below what one decimal shows.
fn over_limit(size: u64, limit: u64) -> String {
    let (size, limit) = (human_size(size), human_size(limit));
    if size == limit {
        format!("just over the {limit} limit")
    } else {
        format!("{size}, over the {limit} limit")
    }
}

/// Text from the file cut short for a one-line message.
fn shorten(text: &str) -> String {
    let mut short: String = text.chars().take(QUOTE_CHARS).collect();
    if short.len() < text.len() {
        short.push('…');
    }
    short
}

/// Text from the file, shortened and quoted with its control characters escaped.
fn quote(text: &str) -> String {
    format!("{:?}", shorten(text))
}

/// serde's wording of a wrong value, for people: `invalid type: null,
/// expected a string` becomes `expected text, found null`. Messages serde did
/// not word this way (ours, from the checks below) pass through.
fn plain_words(serde_message: &str) -> String {
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

fn plain_expected(expected: &str, out_of_range: bool) -> String {
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

fn plain_found(found: &str) -> String {
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
fn json_path(path: &Path) -> String {
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

fn push_key(path: &mut String, key: &str) {
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

/// `place: path: problem`, from a failed, path-tracked deserialisation.
/// `place` names the zip entry and line, or is empty for a v0.1 file.
fn field_error(place: &str, error: serde_path_to_error::Error<serde_json::Error>) -> FormatError {
    let path = json_path(error.path());
    json_error(place, path, &error.into_inner())
}

fn json_error(place: &str, mut path: String, inner: &serde_json::Error) -> FormatError {
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
fn backticked_field<'m>(message: &'m str, prefix: &str) -> Option<&'m str> {
    let rest = message.strip_prefix(prefix)?.strip_prefix('`')?;
    rest.split_once('`').map(|(field, _)| field)
}

/// Deserialise JSON text, naming the field at fault.
fn parse_text<T: for<'de> Deserialize<'de>>(place: &str, text: &str) -> Result<T, FormatError> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| field_error(place, e))?;
    deserializer.end().map_err(|e| json_error(place, String::new(), &e))?;
    Ok(value)
}

/// Deserialise an already parsed JSON value, naming the field at fault.
fn parse_value<T: for<'de> Deserialize<'de>>(place: &str, value: Value) -> Result<T, FormatError> {
    serde_path_to_error::deserialize(value).map_err(|e| field_error(place, e))
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

fn turn<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
    let turn = deserializer.deserialize_u64(UpTo(MAX_TURN.into()))?;
    // UpTo(MAX_TURN) keeps it within u32.
    Ok(turn as u32)
}

/// Counts by kind; no file can have redacted more things than it has bytes.
fn redaction_counts<'de, D: Deserializer<'de>>(deserializer: D) -> Result<BTreeMap<String, u64>, D::Error> {
    struct Count(u64);
    impl<'de> Deserialize<'de> for Count {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            deserializer.deserialize_u64(UpTo(MAX_UNPACKED)).map(Count)
        }
    }
    let counts = BTreeMap::<String, Count>::deserialize(deserializer)?;
    Ok(counts.into_iter().map(|(kind, Count(n))| (kind, n)).collect())
}

fn text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let text = String::deserialize(deserializer)?;
    if text.len() > MAX_TEXT {
        return Err(de::Error::custom(format!(
            "the text is {}",
            over_limit(text.len() as u64, MAX_TEXT as u64)
        )));
    }
    Ok(text)
}

const ROLES: [&str; 8] = [
    "user",
    "assistant",
    "tool_call",
    "tool_result",
    "scratchpad",
    "memory_write",
    "memory_read",
    "system",
];

fn role<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
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

const MEMORY_KINDS: [&str; 4] = ["always", "never", "when", "lesson"];

fn memory_kind<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
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

// ---------------------------------------------------------------- v0.1

#[derive(Deserialize)]
struct V01 {
    #[serde(default)]
    exported_by: String,
    #[serde(default)]
    exported_at: String,
    session: V01Session,
    #[serde(default)]
    memory: V01Memory,
    #[serde(default)]
    scratchpad: V01Scratchpad,
    #[serde(default)]
    imported: Option<Imported>,
}

#[derive(Deserialize)]
struct V01Session {
    #[serde(default)]
    id: String,
    #[serde(default, deserialize_with = "text")]
    title: String,
    #[serde(default, deserialize_with = "text")]
    summary: String,
    #[serde(default)]
    conversation_history: Vec<Episode>,
}

#[derive(Default, Deserialize, Serialize)]
struct V01Memory {
    #[serde(default)]
    session_born: Vec<Memory>,
    #[serde(default)]
    project_accessed: Vec<Memory>,
}

#[derive(Default, Deserialize)]
struct V01Scratchpad {
    #[serde(default)]
    cells: Vec<Cell>,
}

fn read_v01(text: &str) -> Result<Bundle, FormatError> {
    let version: Value =
        serde_json::from_str(text).map_err(|e| bad(format!("not a .anton file: broken JSON ({e})")))?;
    match version.get("version").and_then(Value::as_str) {
        Some("0.1") => {}
        Some(other) => {
            return Err(bad(format!(
                "unsupported .anton version {}; this anton reads 0.1 and its own format 1",
                quote(other)
            )));
        }
        None => return Err(bad("not a .anton file: the JSON has no \"version\"")),
    }
    let file: V01 = parse_value("", version)?;
    Ok(Bundle {
        exported_by: file.exported_by,
        exported_at: file.exported_at,
        anton_version: String::new(),
        session_id: file.session.id,
        title: file.session.title,
        summary: file.session.summary,
        summary_only: file.session.conversation_history.is_empty(),
        conversation: file.session.conversation_history,
        session_born: file.memory.session_born,
        project_accessed: file.memory.project_accessed,
        cells: file.scratchpad.cells,
        redactions: BTreeMap::new(),
        imported: file.imported,
    })
}

/// The reference Anton's format, pretty-printed with its key order.
pub fn write_v01(bundle: &Bundle) -> Vec<u8> {
    #[derive(Serialize)]
    struct Out<'a> {
        version: &'a str,
        exported_by: &'a str,
        exported_at: &'a str,
        session: OutSession<'a>,
        memory: OutMemory<'a>,
        scratchpad: OutScratchpad<'a>,
        #[serde(skip_serializing_if = "Option::is_none")]
        imported: Option<&'a Imported>,
    }
    #[derive(Serialize)]
    struct OutSession<'a> {
        id: &'a str,
        title: &'a str,
        summary: &'a str,
        conversation_history: &'a [Episode],
    }
    #[derive(Serialize)]
    struct OutMemory<'a> {
        session_born: &'a [Memory],
        project_accessed: &'a [Memory],
    }
    #[derive(Serialize)]
    struct OutScratchpad<'a> {
        cells: &'a [Cell],
    }
    let out = Out {
        version: "0.1",
        exported_by: &bundle.exported_by,
        exported_at: &bundle.exported_at,
        session: OutSession {
            id: &bundle.session_id,
            title: &bundle.title,
            summary: &bundle.summary,
            conversation_history: &bundle.conversation,
        },
        memory: OutMemory {
            session_born: &bundle.session_born,
            project_accessed: &bundle.project_accessed,
        },
        scratchpad: OutScratchpad { cells: &bundle.cells },
        imported: bundle.imported.as_ref(),
    };
    serde_json::to_vec_pretty(&out).expect("serialises")
}

// ---------------------------------------------------------------- v1

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    format: String,
    version: u32,
    anton_version: String,
    exported_by: String,
    exported_at: String,
    #[serde(deserialize_with = "text")]
    title: String,
    #[serde(deserialize_with = "text")]
    summary: String,
    summary_only: bool,
    counts: Counts,
    /// sha256 of every other entry.
    entries: BTreeMap<String, String>,
    #[serde(deserialize_with = "redaction_counts")]
    redactions: BTreeMap<String, u64>,
}

/// Checked against what the entries hold, so any number is caught there.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Counts {
    messages: u64,
    memories: u64,
    cells: u64,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SessionEntry {
    id: String,
    #[serde(deserialize_with = "text")]
    title: String,
    #[serde(deserialize_with = "text")]
    summary: String,
}

pub fn write_v1(bundle: &Bundle) -> Vec<u8> {
    let lines = |rows: Vec<Value>| rows.iter().map(|r| format!("{r}\n")).collect::<String>().into_bytes();
    let session =
        serde_json::to_vec_pretty(&json!({"id": bundle.session_id, "title": bundle.title, "summary": bundle.summary}))
            .expect("serialises");
    let conversation = lines(bundle.conversation.iter().map(|e| json!(e)).collect());
    let memory = serde_json::to_vec_pretty(
        &json!({"session_born": bundle.session_born, "project_accessed": bundle.project_accessed}),
    )
    .expect("serialises");
    let cells = lines(bundle.cells.iter().map(|c| json!(c)).collect());
    let contents: [(&str, Vec<u8>); 4] = [
        ("session.json", session),
        ("conversation.jsonl", conversation),
        ("memory.json", memory),
        ("cells.jsonl", cells),
    ];
    let manifest = Manifest {
        format: FORMAT_ID.into(),
        version: VERSION,
        anton_version: bundle.anton_version.clone(),
        exported_by: bundle.exported_by.clone(),
        exported_at: bundle.exported_at.clone(),
        title: bundle.title.clone(),
        summary: bundle.summary.clone(),
        summary_only: bundle.summary_only,
        counts: Counts {
            messages: bundle.conversation.len() as u64,
            memories: (bundle.session_born.len() + bundle.project_accessed.len()) as u64,
            cells: bundle.cells.len() as u64,
        },
        entries: contents
            .iter()
            .map(|(name, bytes)| (name.to_string(), sha256_hex(bytes)))
            .collect(),
        redactions: bundle.redactions.clone(),
    };
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(zip::DateTime::default());
    let manifest = serde_json::to_vec_pretty(&manifest).expect("serialises");
    for (name, bytes) in std::iter::once(("manifest.json", manifest)).chain(contents) {
        zip.start_file(name, options).expect("in-memory zip");
        zip.write_all(&bytes).expect("in-memory zip");
    }
    zip.finish().expect("in-memory zip").into_inner()
}

fn read_v1(bytes: &[u8]) -> Result<Bundle, FormatError> {
    let directory = central_directory(bytes)?;
    let unpacked_total: u64 = directory.iter().map(|entry| entry.unpacked).sum();
    if unpacked_total > MAX_UNPACKED {
        return Err(bad(format!(
            "the zip would unpack to {}; refusing it",
            over_limit(unpacked_total, MAX_UNPACKED)
        )));
    }
    let mut archive =
        zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| bad(format!("a broken or truncated .anton zip ({e})")))?;
    if archive.len() != directory.len() {
        return Err(bad(format!(
            "the zip's directory lists {}, but the zip reads as {}: a damaged or doctored file",
            entries(directory.len()),
            archive.len()
        )));
    }
    let mut entries: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for (index, listed) in directory.iter().enumerate() {
        let mut file = archive
            .by_index(index)
            .map_err(|e| bad(format!("a broken zip entry ({e})")))?;
        if file.name_raw() != listed.name || file.size() != listed.unpacked {
            return Err(bad(format!(
                "the zip entry {} reads differently from its directory record: a damaged or doctored file",
                quote(&String::from_utf8_lossy(&listed.name))
            )));
        }
        let name = file
            .name()
            .map_err(|e| bad(format!("a zip entry with an unreadable name ({e})")))?
            .into_owned();
        if name.contains("..") || name.starts_with('/') || name.contains('\\') || name.contains(':') {
            return Err(bad(format!(
                "the zip entry {} points outside the file; refusing it",
                quote(&name)
            )));
        }
        if name != "manifest.json" && !ENTRIES.contains(&name.as_str()) {
            return Err(bad(format!("unexpected zip entry {}", quote(&name))));
        }
        // Never trust the header: read at most what it declared, plus one byte.
        let declared = listed.unpacked;
        let mut data = Vec::new();
        (&mut file)
            .take(declared + 1)
            .read_to_end(&mut data)
            .map_err(|e| bad(format!("cannot unpack '{name}' ({e})")))?;
        if data.len() as u64 > declared {
            return Err(bad(format!(
                "'{name}' unpacks to more than the {} its header says; refusing it",
                human_size(declared)
            )));
        }
        if (data.len() as u64) < declared {
            return Err(bad(format!(
                "'{name}' unpacks to {}, not the {} its header says",
                human_size(data.len() as u64),
                human_size(declared)
            )));
        }
        entries.insert(name, data);
    }
    let manifest_bytes = entries
        .get("manifest.json")
        .ok_or_else(|| bad("the zip has no manifest.json: not a .anton file"))?;
    let head: Value =
        serde_json::from_slice(manifest_bytes).map_err(|e| bad(format!("manifest.json is broken JSON ({e})")))?;
    if head.get("format").and_then(Value::as_str) != Some(FORMAT_ID) {
        return Err(bad("manifest.json does not describe an anton session"));
    }
    match head.get("version").and_then(Value::as_u64) {
        Some(v) if v == VERSION as u64 => {}
        Some(v) if v > VERSION as u64 => {
            return Err(bad(format!(
                "the file is format {v}, written by a newer anton; this anton reads format {VERSION}"
            )));
        }
        _ => return Err(bad("manifest.json has no valid version")),
    }
    let manifest: Manifest = parse_value("manifest.json", head)?;
    for name in ENTRIES {
        let data = entries.get(name).ok_or_else(|| bad(format!("the zip lacks {name}")))?;
        match manifest.entries.get(name) {
            Some(sha) if *sha == sha256_hex(data) => {}
            Some(_) => {
                return Err(bad(format!(
                    "{name} does not match its sha256 in manifest.json: the file was changed or damaged"
                )));
            }
            None => return Err(bad(format!("manifest.json lists no sha256 for {name}"))),
        }
    }
    let text = |name: &str| -> Result<&str, FormatError> {
        std::str::from_utf8(&entries[name]).map_err(|_| bad(format!("{name} is not UTF-8")))
    };
    let session: SessionEntry = parse_text("session.json", text("session.json")?)?;
    let memory: V01Memory = parse_text("memory.json", text("memory.json")?)?;
    let conversation = json_lines::<Episode>("conversation.jsonl", text("conversation.jsonl")?)?;
    let cells = json_lines::<Cell>("cells.jsonl", text("cells.jsonl")?)?;
    let memories = memory.session_born.len() + memory.project_accessed.len();
    for (field, count, entry, held) in [
        (
            "messages",
            manifest.counts.messages,
            "conversation.jsonl",
            conversation.len(),
        ),
        ("memories", manifest.counts.memories, "memory.json", memories),
        ("cells", manifest.counts.cells, "cells.jsonl", cells.len()),
    ] {
        if count != held as u64 {
            return Err(bad(format!(
                "manifest.json: counts.{field} is {count}, but {entry} holds {held}: the file was changed or damaged"
            )));
        }
    }
    Ok(Bundle {
        exported_by: manifest.exported_by,
        exported_at: manifest.exported_at,
        anton_version: manifest.anton_version,
        session_id: session.id,
        title: session.title,
        summary: session.summary,
        summary_only: manifest.summary_only,
        conversation,
        session_born: memory.session_born,
        project_accessed: memory.project_accessed,
        cells,
        redactions: manifest.redactions,
        imported: None,
    })
}

/// One record of the zip's central directory.
struct Listed {
    name: Vec<u8>,
    /// The declared unpacked size.
    unpacked: u64,
}

const END_RECORD: &[u8; 4] = b"PK\x05\x06";
const DIRECTORY_RECORD: &[u8; 4] = b"PK\x01\x02";

fn le16(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(bytes.get(at..at + 2)?.try_into().ok()?))
}

fn le32(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

/// The central directory, walked by hand: zip readers disagree on a name given
/// twice (the zip crate keeps the first, Python's zipfile the last), so such a
/// file, or one whose record count disagrees with its end record, is refused.
fn central_directory(bytes: &[u8]) -> Result<Vec<Listed>, FormatError> {
    let broken = |what: &str| bad(format!("a broken or truncated .anton zip ({what})"));
    // The end record is 22 bytes and a comment; its comment must reach the end of the file.
    let search_from = bytes.len().saturating_sub(22 + u16::MAX as usize);
    let end = (search_from..bytes.len().saturating_sub(21))
        .rev()
        .find(|&at| {
            &bytes[at..at + 4] == END_RECORD
                && le16(bytes, at + 20).is_some_and(|comment| at + 22 + comment as usize == bytes.len())
        })
        .ok_or_else(|| broken("no end-of-directory record"))?;
    let field16 = |offset: usize| le16(bytes, end + offset).ok_or_else(|| broken("a short end record"));
    let field32 = |offset: usize| le32(bytes, end + offset).ok_or_else(|| broken("a short end record"));
    let (on_this_disk, total) = (field16(8)?, field16(10)?);
    let (size, offset) = (field32(12)?, field32(16)?);
    if total == u16::MAX || size == u32::MAX || offset == u32::MAX {
        return Err(bad("the zip uses zip64, which no .anton file needs; refusing it"));
    }
    if on_this_disk != total {
        return Err(bad("the zip spans several disks; a .anton file is one"));
    }
    if total as usize > MAX_ENTRIES {
        return Err(bad(format!(
            "the zip holds {}; a .anton file has 5",
            entries(total as usize)
        )));
    }
    let start = offset as usize;
    let stop = start
        .checked_add(size as usize)
        .filter(|&stop| stop <= end)
        .ok_or_else(|| broken("the directory runs past its end record"))?;
    let mut listed: Vec<Listed> = Vec::new();
    let mut seen = BTreeSet::new();
    let mut at = start;
    while at < stop {
        if bytes.get(at..at + 4) != Some(DIRECTORY_RECORD) {
            return Err(broken("a damaged directory record"));
        }
        let field16 = |offset: usize| le16(bytes, at + offset).ok_or_else(|| broken("a short directory record"));
        let (name_length, extra_length, comment_length) = (field16(28)?, field16(30)?, field16(32)?);
        let unpacked = le32(bytes, at + 24).ok_or_else(|| broken("a short directory record"))?;
        let name_end = at + 46 + name_length as usize;
        let name = bytes
            .get(at + 46..name_end)
            .filter(|_| name_end <= stop)
            .ok_or_else(|| broken("a directory record cut short"))?;
        if unpacked == u32::MAX {
            return Err(bad("the zip uses zip64, which no .anton file needs; refusing it"));
        }
        if !seen.insert(name) {
            return Err(bad(format!(
                "the zip holds an entry twice: {} (zip readers differ on which one counts)",
                quote(&String::from_utf8_lossy(name))
            )));
        }
        listed.push(Listed {
            name: name.to_vec(),
            unpacked: unpacked.into(),
        });
        at = name_end + extra_length as usize + comment_length as usize;
    }
    if at != stop {
        return Err(broken("the directory does not end where its end record says"));
    }
    if listed.len() != total as usize {
        return Err(bad(format!(
            "the zip's directory lists {}, but its end record says {total}: a damaged or doctored file",
            entries(listed.len())
        )));
    }
    Ok(listed)
}

/// One JSON value per line; an error names the line, counting from 1.
fn json_lines<T: for<'de> Deserialize<'de>>(name: &str, text: &str) -> Result<Vec<T>, FormatError> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, line)| parse_text(&format!("{name} line {}", i + 1), line))
        .collect()
}

#[cfg(test)]
mod tests;

/// "1 entry", "3 entries".
fn entries(n: usize) -> String {
    if n == 1 {
        "1 entry".into()
    } else {
        format!("{n} entries")
    }
}
