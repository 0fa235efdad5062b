//! `.anton` session files, read and written a row at a time, so a session
//! of any size passes through a little memory.
//!
//! * **Native v1**: a zip holding `session.json`, `memory.json`,
//!   `conversation.jsonl`, `cells.jsonl` and `manifest.json` (format,
//!   version, who, when, title, summary, counts, the sha256 of every other
//!   entry, the redaction report). See `docs/anton-file-format.md`.
//! * **Reference Anton v0.1**: one JSON object (`"version": "0.1"`), as
//!   `anton-agent` writes it.
//!
//! [`read_from`] tells them apart by content and hands each row to a
//! [`Sink`]; it refuses hostile input with one line naming the field at
//! fault. [`V1Writer`] and [`V01Writer`] write them as rows come.

pub mod naming;
pub mod readable;

mod checks;
mod episode_json;
mod json;
mod v01;
mod v1;

use std::collections::BTreeMap;
use std::io::{self, BufRead, Cursor, Read, Seek, SeekFrom};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub(crate) use checks::{json_error, json_path, plain_words, push_key, quote};
pub use v01::V01Writer;
pub use v1::V1Writer;

pub const FORMAT_ID: &str = "anton-session";
pub const VERSION: u32 = 1;
/// The largest `.anton` file accepted.
pub const MAX_FILE: u64 = 4 << 30;
/// What all entries of a zip may unpack to, together, by their declared sizes.
pub const MAX_UNPACKED: u64 = 4 << 30;
/// The longest single text (message, cell output, memory, title) accepted:
/// the longest anton stores, so that what it stores it can export and
/// read back.
pub const MAX_TEXT: usize = 8 * 1024 * 1024;
/// The most memories one file carries, and the bytes of their texts and
/// topics together: lessons and rules are short, and a file's memories are
/// read all at once. An export keeps to these, so anton imports its own.
pub const MAX_MEMORIES: usize = 10_000;
pub const MAX_MEMORY_BYTES: usize = 2 << 20;
/// The highest turn number accepted; anton counts turns up from there, so a
/// number near `u32::MAX` would overflow later.
pub const MAX_TURN: u32 = 1_000_000;
/// More entries than a `.anton` file has (5), but few enough to walk cheaply.
const MAX_ENTRIES: usize = 16;

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
    #[serde(deserialize_with = "checks::turn")]
    pub turn: u32,
    #[serde(deserialize_with = "checks::role")]
    pub role: String,
    #[serde(deserialize_with = "checks::text")]
    pub content: String,
    #[serde(default = "empty_object")]
    pub meta: Value,
}

fn empty_object() -> Value {
    json!({})
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Memory {
    #[serde(deserialize_with = "checks::text")]
    pub content: String,
    /// always, never, when or lesson.
    #[serde(deserialize_with = "checks::memory_kind")]
    pub kind: String,
    #[serde(default)]
    pub topic: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Cell {
    #[serde(default)]
    pub pad: String,
    #[serde(deserialize_with = "checks::text")]
    pub code: String,
    #[serde(default, deserialize_with = "checks::text")]
    pub stdout: String,
    #[serde(default, deserialize_with = "checks::text")]
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
    /// The session this one was forked from, by its id where it was
    /// exported (format 1 and transcripts; the reference format has none).
    pub forked_from: Option<String>,
}

impl Bundle {
    /// What the file says of itself, beside its rows.
    pub fn head(&self) -> Head {
        Head {
            exported_by: self.exported_by.clone(),
            exported_at: self.exported_at.clone(),
            anton_version: self.anton_version.clone(),
            session_id: self.session_id.clone(),
            title: self.title.clone(),
            summary: self.summary.clone(),
            summary_only: self.summary_only,
            redactions: self.redactions.clone(),
            imported: self.imported.clone(),
            forked_from: self.forked_from.clone(),
        }
    }
}

/// Rows are collected: the whole file in memory, for files known to be small.
impl Sink for Bundle {
    fn episode(&mut self, episode: Episode) -> Result<(), String> {
        self.conversation.push(episode);
        Ok(())
    }

    fn memory(&mut self, memory: Memory, born: bool) -> Result<(), String> {
        match born {
            true => self.session_born.push(memory),
            false => self.project_accessed.push(memory),
        }
        Ok(())
    }

    fn cell(&mut self, cell: Cell) -> Result<(), String> {
        self.cells.push(cell);
        Ok(())
    }
}

/// What a file says of itself, beside its rows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Head {
    pub exported_by: String,
    /// RFC 3339.
    pub exported_at: String,
    pub anton_version: String,
    pub session_id: String,
    pub title: String,
    pub summary: String,
    /// True for `--summary` files: no conversation, no cell outputs.
    pub summary_only: bool,
    /// Counts by kind of what was redacted on export.
    pub redactions: BTreeMap<String, u64>,
    pub imported: Option<Imported>,
    /// The session this one was forked from, by its id where it was exported.
    pub forked_from: Option<String>,
}

/// Where a reader hands each row as it comes, so no more than one is held.
/// An error (the store refused it, say) ends the reading with that text.
pub trait Sink {
    fn episode(&mut self, episode: Episode) -> Result<(), String>;
    /// `born` in the session, or a project memory it used.
    fn memory(&mut self, memory: Memory, born: bool) -> Result<(), String>;
    fn cell(&mut self, cell: Cell) -> Result<(), String>;
}

/// A file written as rows come: every episode, then every cell, then
/// `finish` (which gives the output back). Writers for `.anton` files and
/// for transcripts alike.
pub trait SessionWriter<W> {
    fn episode(&mut self, episode: &Episode) -> std::io::Result<()>;
    fn cell(&mut self, cell: &Cell) -> std::io::Result<()>;
    /// `redactions`: what the file hides, by kind, for formats that say it.
    fn finish(self: Box<Self>, redactions: &BTreeMap<String, u64>) -> std::io::Result<W>;
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

/// Hashes the entries of a format 1 file as they stream by, with what the
/// caller has: [`local_sha256`], or a plugin's host's, many times faster.
pub trait EntryDigest {
    fn update(&mut self, bytes: &[u8]);
    /// Lowercase hex of everything given.
    fn hex_digest(&self) -> String;
}

/// Makes a digest for each entry.
pub type Digests = fn() -> Box<dyn EntryDigest>;

/// The sha2 crate's SHA-256.
pub fn local_sha256() -> Box<dyn EntryDigest> {
    struct Local(Sha256);
    impl EntryDigest for Local {
        fn update(&mut self, bytes: &[u8]) {
            self.0.update(bytes);
        }
        fn hex_digest(&self) -> String {
            hex(&self.0.clone().finalize())
        }
    }
    Box::new(Local(Sha256::new()))
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// How much of a file is read to tell its format.
const SNIFFED: usize = 4096;

/// Read a `.anton` file of either format, its rows handed to `sink` as
/// they come; what the file says of itself at the end. Nothing is trusted
/// before it is checked, and a bad row ends the reading: a caller storing
/// rows as they come must be able to take them all back.
pub fn read_from<R: BufRead + Seek>(
    mut source: R,
    sink: &mut dyn Sink,
    digests: Digests,
) -> Result<(Head, Format), FormatError> {
    let unreadable = |e: io::Error| bad(format!("cannot read the file ({e})"));
    let size = source.seek(SeekFrom::End(0)).map_err(unreadable)?;
    source.seek(SeekFrom::Start(0)).map_err(unreadable)?;
    if size > MAX_FILE {
        return Err(bad(format!("the file is {}", over_limit(size, MAX_FILE))));
    }
    // The first bytes say the format: always the same number of them,
    // however few one read gives, so the answer never depends on the reader.
    let mut start = Vec::with_capacity(SNIFFED);
    (&mut source)
        .take(SNIFFED as u64)
        .read_to_end(&mut start)
        .map_err(unreadable)?;
    if start.starts_with(b"PK\x03\x04") || start.starts_with(b"PK\x05\x06") {
        source.seek(SeekFrom::Start(0)).map_err(unreadable)?;
        return v1::read(source, size, sink, digests).map(|head| (head, Format::V1));
    }
    // A byte order mark is UTF-8's own, and says nothing more.
    let bom = start.starts_with(b"\xEF\xBB\xBF");
    let text = &start[if bom { 3 } else { 0 }..];
    if let Err(e) = std::str::from_utf8(text)
        && e.error_len().is_some()
    {
        return Err(bad(format!("not a .anton file: not a zip, and not UTF-8 text ({e})")));
    }
    if text
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_none_or(|&b| b != b'{')
    {
        return Err(bad("not a .anton file: neither a zip nor a JSON object"));
    }
    source
        .seek(SeekFrom::Start(if bom { 3 } else { 0 }))
        .map_err(unreadable)?;
    v01::read(Reading(source), sink).map(|head| (head, Format::V01))
}

/// A file's own reading errors, said as such.
struct Reading<R>(R);

impl<R: Read> Read for Reading<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        self.0
            .read(out)
            .map_err(|e| io::Error::other(format!("cannot read the file ({e})")))
    }
}

impl<R: BufRead> BufRead for Reading<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.0
            .fill_buf()
            .map_err(|e| io::Error::other(format!("cannot read the file ({e})")))
    }

    fn consume(&mut self, amount: usize) {
        self.0.consume(amount)
    }
}

/// A whole `.anton` file in memory, read into a [`Bundle`].
pub fn read(bytes: &[u8]) -> Result<(Bundle, Format), FormatError> {
    let mut bundle = Bundle::default();
    let (head, format) = read_from(Cursor::new(bytes), &mut bundle, local_sha256)?;
    let Head {
        exported_by,
        exported_at,
        anton_version,
        session_id,
        title,
        summary,
        summary_only,
        redactions,
        imported,
        forked_from,
    } = head;
    Ok((
        Bundle {
            exported_by,
            exported_at,
            anton_version,
            session_id,
            title,
            summary,
            summary_only,
            redactions,
            imported,
            forked_from,
            ..bundle
        },
        format,
    ))
}

/// Every row of `bundle` through `writer`.
pub fn write_with<W>(mut writer: Box<dyn SessionWriter<W>>, bundle: &Bundle) -> io::Result<W> {
    for episode in &bundle.conversation {
        writer.episode(episode)?;
    }
    for cell in &bundle.cells {
        writer.cell(cell)?;
    }
    writer.finish(&bundle.redactions)
}

/// A whole format 1 file in memory.
pub fn write_v1(bundle: &Bundle) -> Vec<u8> {
    let writer = V1Writer::new(
        Vec::new(),
        &bundle.head(),
        &bundle.session_born,
        &bundle.project_accessed,
        local_sha256,
    );
    writer
        .and_then(|w| write_with(Box::new(w), bundle))
        .expect("writing to memory cannot fail")
}

/// A whole 0.1 file in memory, pretty-printed with the reference's key order.
pub fn write_v01(bundle: &Bundle) -> Vec<u8> {
    let writer = V01Writer::new(
        Vec::new(),
        &bundle.head(),
        &bundle.session_born,
        &bundle.project_accessed,
    );
    writer
        .and_then(|w| write_with(Box::new(w), bundle))
        .expect("writing to memory cannot fail")
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
pub(crate) fn over_limit(size: u64, limit: u64) -> String {
    let (size, limit) = (human_size(size), human_size(limit));
    if size == limit {
        format!("just over the {limit} limit")
    } else {
        format!("{size}, over the {limit} limit")
    }
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
