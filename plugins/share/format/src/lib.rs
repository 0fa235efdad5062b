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
//! line, before anything is written anywhere.

use std::collections::BTreeMap;
use std::io::{Cursor, Read, Write};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub const FORMAT_ID: &str = "anton-session";
pub const VERSION: u32 = 1;
/// The largest `.anton` file accepted.
pub const MAX_FILE: usize = 256 * 1024 * 1024;
/// What all entries of a zip may unpack to, together.
pub const MAX_UNPACKED: u64 = 512 * 1024 * 1024;
/// Unpacked size over packed size, per entry; past it, a zip bomb.
pub const MAX_RATIO: u64 = 200;
/// The longest single text (message, cell output) accepted.
pub const MAX_TEXT: usize = 32 * 1024 * 1024;

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
    pub turn: u32,
    pub role: String,
    pub content: String,
    #[serde(default = "empty_object")]
    pub meta: Value,
}

fn empty_object() -> Value {
    json!({})
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Memory {
    pub content: String,
    /// always, never, when or lesson.
    pub kind: String,
    #[serde(default)]
    pub topic: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Cell {
    #[serde(default)]
    pub pad: String,
    pub code: String,
    #[serde(default)]
    pub stdout: String,
    #[serde(default)]
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
            "the file is {} MiB; the limit is {} MiB",
            bytes.len() >> 20,
            MAX_FILE >> 20
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

fn check_texts(bundle: &Bundle) -> Result<(), FormatError> {
    let too_long = |what: &str, text: &str| -> Result<(), FormatError> {
        if text.len() > MAX_TEXT {
            return Err(bad(format!(
                "{what} is {} MiB long; the limit is {} MiB",
                text.len() >> 20,
                MAX_TEXT >> 20
            )));
        }
        Ok(())
    };
    for (i, e) in bundle.conversation.iter().enumerate() {
        too_long(&format!("message {}", i + 1), &e.content)?;
        if !ROLES.contains(&e.role.as_str()) {
            return Err(bad(format!("message {} has an unknown role '{}'", i + 1, e.role)));
        }
    }
    for m in bundle.session_born.iter().chain(&bundle.project_accessed) {
        too_long("a memory", &m.content)?;
        if !["always", "never", "when", "lesson"].contains(&m.kind.as_str()) {
            return Err(bad(format!("a memory has an unknown kind '{}'", m.kind)));
        }
    }
    for (i, c) in bundle.cells.iter().enumerate() {
        for text in [&c.code, &c.stdout, &c.stderr] {
            too_long(&format!("cell {}", i + 1), text)?;
        }
    }
    Ok(())
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
    #[serde(default)]
    title: String,
    #[serde(default)]
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
                "unsupported .anton version {other}; this anton reads 0.1 and its own format 1"
            )));
        }
        None => return Err(bad("not a .anton file: the JSON has no \"version\"")),
    }
    let file: V01 =
        serde_json::from_value(version).map_err(|e| bad(format!("a v0.1 .anton file with a wrong field: {e}")))?;
    let bundle = Bundle {
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
    };
    check_texts(&bundle)?;
    Ok(bundle)
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
    title: String,
    summary: String,
    summary_only: bool,
    counts: Counts,
    /// sha256 of every other entry.
    entries: BTreeMap<String, String>,
    redactions: BTreeMap<String, u64>,
}

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
    title: String,
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
    let mut archive =
        zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| bad(format!("a broken or truncated .anton zip ({e})")))?;
    // The zip reader keeps one entry per name; the directory tells how many there really are.
    if declared_entries(bytes).is_some_and(|n| n as usize != archive.len()) {
        return Err(bad("the zip holds an entry twice (a name appears more than once)"));
    }
    if archive.len() > 16 {
        return Err(bad(format!(
            "the zip holds {} entries; a .anton file has 5",
            archive.len()
        )));
    }
    let mut entries: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut unpacked_total = 0u64;
    for index in 0..archive.len() {
        let mut file = archive
            .by_index(index)
            .map_err(|e| bad(format!("a broken zip entry ({e})")))?;
        let name = file
            .name()
            .map_err(|e| bad(format!("a zip entry with an unreadable name ({e})")))?
            .into_owned();
        if name.contains("..") || name.starts_with('/') || name.contains('\\') || name.contains(':') {
            return Err(bad(format!(
                "the zip entry '{name}' points outside the file; refusing it"
            )));
        }
        if name != "manifest.json" && !ENTRIES.contains(&name.as_str()) {
            return Err(bad(format!("unexpected zip entry '{name}'")));
        }
        if entries.contains_key(&name) {
            return Err(bad(format!("the zip holds '{name}' twice")));
        }
        let declared = file.size();
        let packed = file.compressed_size().max(1);
        if declared / packed > MAX_RATIO || unpacked_total + declared > MAX_UNPACKED {
            return Err(bad(format!(
                "'{name}' unpacks to {} MiB from {} KiB: a zip bomb, refused",
                declared >> 20,
                packed >> 10
            )));
        }
        // Never trust the header: read at most what it declared, plus one byte.
        let mut data = Vec::new();
        (&mut file)
            .take(declared + 1)
            .read_to_end(&mut data)
            .map_err(|e| bad(format!("cannot unpack '{name}' ({e})")))?;
        if data.len() as u64 != declared {
            return Err(bad(format!("'{name}' is not the size its header says")));
        }
        unpacked_total += declared;
        entries.insert(name, data);
    }
    let manifest_bytes = entries
        .get("manifest.json")
        .ok_or_else(|| bad("the zip has no manifest.json: not a .anton file"))?;
    let head: Value =
        serde_json::from_slice(manifest_bytes).map_err(|e| bad(format!("manifest.json is broken ({e})")))?;
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
    let manifest: Manifest =
        serde_json::from_value(head).map_err(|e| bad(format!("manifest.json has a wrong field: {e}")))?;
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
    let session: SessionEntry =
        serde_json::from_str(text("session.json")?).map_err(|e| bad(format!("session.json: {e}")))?;
    let memory: V01Memory = serde_json::from_str(text("memory.json")?).map_err(|e| bad(format!("memory.json: {e}")))?;
    let conversation = json_lines::<Episode>("conversation.jsonl", text("conversation.jsonl")?)?;
    let cells = json_lines::<Cell>("cells.jsonl", text("cells.jsonl")?)?;
    let bundle = Bundle {
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
    };
    check_texts(&bundle)?;
    Ok(bundle)
}

/// The entry count in the zip's end-of-central-directory record.
fn declared_entries(bytes: &[u8]) -> Option<u16> {
    let start = bytes.len().saturating_sub(22 + u16::MAX as usize);
    let at = bytes[start..].windows(4).rposition(|w| w == b"PK\x05\x06")? + start;
    let field = bytes.get(at + 10..at + 12)?;
    Some(u16::from_le_bytes([field[0], field[1]]))
}

fn json_lines<T: for<'de> Deserialize<'de>>(name: &str, text: &str) -> Result<Vec<T>, FormatError> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, line)| serde_json::from_str(line).map_err(|e| bad(format!("{name} line {}: {e}", i + 1))))
        .collect()
}

#[cfg(test)]
mod tests;
