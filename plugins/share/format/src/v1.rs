//! anton's own format 1: a zip of `session.json`, `memory.json`,
//! `conversation.jsonl`, `cells.jsonl` and `manifest.json` (written last,
//! with every other entry's sha256 and count). Written as a stream; read
//! an entry at a time, each row handed on as it is unpacked.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::json::Json;
use crate::{
    Cell, Digests, EntryDigest, Episode, FORMAT_ID, FormatError, Head, MAX_ENTRIES, MAX_UNPACKED, Memory,
    SessionWriter, Sink, VERSION, bad, checks, entries, human_size, over_limit, quote,
};

const ENTRIES: [&str; 4] = ["session.json", "conversation.jsonl", "memory.json", "cells.jsonl"];
const MANIFEST: &str = "manifest.json";
/// The most a `.anton` zip's directory takes (it lists five short names).
const MAX_DIRECTORY: u32 = 1 << 20;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    format: String,
    version: u32,
    anton_version: String,
    exported_by: String,
    exported_at: String,
    #[serde(deserialize_with = "checks::text")]
    title: String,
    #[serde(deserialize_with = "checks::text")]
    summary: String,
    summary_only: bool,
    counts: Counts,
    /// sha256 of every other entry.
    entries: BTreeMap<String, String>,
    #[serde(deserialize_with = "checks::redaction_counts")]
    redactions: BTreeMap<String, u64>,
}

/// Checked against what the entries hold, so any number is caught there.
#[derive(Default, Serialize, Deserialize)]
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
    #[serde(deserialize_with = "checks::text")]
    title: String,
    #[serde(deserialize_with = "checks::text")]
    summary: String,
    #[serde(default, deserialize_with = "checks::optional_text")]
    forked_from: Option<String>,
}

// ---------------------------------------------------------------- writing

/// Where the writer is: each entry is written whole before the next.
#[derive(PartialEq)]
enum Stage {
    Conversation,
    Cells,
}

/// A format 1 file, written as rows come: episodes, then cells, then
/// [`SessionWriter::finish`].
pub struct V1Writer<W: Write> {
    zip: zip::ZipWriter<zip::write::StreamWriter<W>>,
    head: Head,
    stage: Stage,
    counts: Counts,
    hashes: BTreeMap<String, String>,
    digests: Digests,
    /// The entry being written: its hash so far, and bytes not yet handed to the zip.
    hasher: Box<dyn EntryDigest>,
    pending: Vec<u8>,
}

/// Bytes are handed to the compressor in pieces this big.
const PIECE: usize = 64 * 1024;

impl<W: Write> V1Writer<W> {
    /// Begin the file: `session.json` and `memory.json` are written now.
    pub fn new(
        out: W,
        head: &Head,
        session_born: &[Memory],
        project_accessed: &[Memory],
        digests: Digests,
    ) -> io::Result<Self> {
        let mut writer = V1Writer {
            zip: zip::ZipWriter::new_stream(out),
            head: head.clone(),
            stage: Stage::Conversation,
            counts: Counts {
                memories: (session_born.len() + project_accessed.len()) as u64,
                ..Default::default()
            },
            hashes: BTreeMap::new(),
            digests,
            hasher: digests(),
            pending: Vec::with_capacity(PIECE),
        };
        let mut session = json!({"id": head.session_id, "title": head.title, "summary": head.summary});
        if let Some(parent) = &head.forked_from {
            session["forked_from"] = json!(parent);
        }
        writer.entry("session.json")?;
        serde_json::to_writer_pretty(&mut writer, &session)?;
        writer.end_entry("session.json")?;
        writer.entry("memory.json")?;
        let memory = json!({"session_born": session_born, "project_accessed": project_accessed});
        serde_json::to_writer_pretty(&mut writer, &memory)?;
        writer.end_entry("memory.json")?;
        writer.entry("conversation.jsonl")?;
        Ok(writer)
    }

    fn entry(&mut self, name: &str) -> io::Result<()> {
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            // Level 1: most of the size saving of the default, at a fraction of its time.
            .compression_level(Some(1))
            .last_modified_time(zip::DateTime::default());
        self.zip.start_file(name, options).map_err(io::Error::other)?;
        self.hasher = (self.digests)();
        Ok(())
    }

    fn hand_on(&mut self) -> io::Result<()> {
        self.hasher.update(&self.pending);
        self.zip.write_all(&self.pending)?;
        self.pending.clear();
        Ok(())
    }

    fn end_entry(&mut self, name: &str) -> io::Result<()> {
        self.hand_on()?;
        self.hashes.insert(name.into(), self.hasher.hex_digest());
        Ok(())
    }
}

/// The entry being written, through a buffer that keeps calls to the
/// compressor few.
impl<W: Write> Write for V1Writer<W> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        if bytes.len() >= PIECE {
            // A long text goes on as it is: copied into the buffer, it
            // would cost its size again in memory.
            self.hand_on()?;
            self.hasher.update(bytes);
            self.zip.write_all(bytes)?;
            return Ok(bytes.len());
        }
        self.pending.extend_from_slice(bytes);
        if self.pending.len() >= PIECE {
            self.hand_on()?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.hand_on()
    }
}

impl<W: Write> SessionWriter<W> for V1Writer<W> {
    fn episode(&mut self, episode: &Episode) -> io::Result<()> {
        if self.stage != Stage::Conversation {
            return Err(io::Error::other("a message after the cells"));
        }
        crate::episode_json::write_episode(&mut *self, episode, false)?;
        self.write_all(b"\n")?;
        self.counts.messages += 1;
        Ok(())
    }

    fn cell(&mut self, cell: &Cell) -> io::Result<()> {
        if self.stage == Stage::Conversation {
            self.end_entry("conversation.jsonl")?;
            self.entry("cells.jsonl")?;
            self.stage = Stage::Cells;
        }
        serde_json::to_writer(&mut *self, cell)?;
        self.write_all(b"\n")?;
        self.counts.cells += 1;
        Ok(())
    }

    fn finish(mut self: Box<Self>, redactions: &BTreeMap<String, u64>) -> io::Result<W> {
        if self.stage == Stage::Conversation {
            self.end_entry("conversation.jsonl")?;
            self.entry("cells.jsonl")?;
        }
        self.end_entry("cells.jsonl")?;
        let head = &self.head;
        let manifest = Manifest {
            format: FORMAT_ID.into(),
            version: VERSION,
            anton_version: head.anton_version.clone(),
            exported_by: head.exported_by.clone(),
            exported_at: head.exported_at.clone(),
            title: head.title.clone(),
            summary: head.summary.clone(),
            summary_only: head.summary_only,
            counts: std::mem::take(&mut self.counts),
            entries: std::mem::take(&mut self.hashes),
            redactions: redactions.clone(),
        };
        self.entry(MANIFEST)?;
        serde_json::to_writer_pretty(&mut *self, &manifest)?;
        self.hand_on()?;
        Ok(self.zip.finish().map_err(io::Error::other)?.into_inner())
    }
}

// ---------------------------------------------------------------- reading

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

fn broken(what: &str) -> FormatError {
    bad(format!("a broken or truncated .anton zip ({what})"))
}

fn read_exact_at<R: Read + Seek>(source: &mut R, at: u64, length: usize) -> Result<Vec<u8>, FormatError> {
    let mut bytes = vec![0; length];
    source
        .seek(SeekFrom::Start(at))
        .and_then(|_| source.read_exact(&mut bytes))
        .map_err(|e| bad(format!("cannot read the file ({e})")))?;
    Ok(bytes)
}

/// The central directory, walked by hand: zip readers disagree on a name given
/// twice (the zip crate keeps the first, Python's zipfile the last), so such a
/// file, or one whose record count disagrees with its end record, is refused.
fn central_directory<R: Read + Seek>(source: &mut R, size: u64) -> Result<Vec<Listed>, FormatError> {
    // The end record is 22 bytes and a comment; its comment must reach the end of the file.
    let tail_start = size.saturating_sub(22 + u16::MAX as u64);
    let tail = read_exact_at(source, tail_start, (size - tail_start) as usize)?;
    let end = (0..tail.len().saturating_sub(21))
        .rev()
        .find(|&at| {
            &tail[at..at + 4] == END_RECORD
                && le16(&tail, at + 20).is_some_and(|comment| at + 22 + comment as usize == tail.len())
        })
        .ok_or_else(|| broken("no end-of-directory record"))?;
    let field16 = |offset: usize| le16(&tail, end + offset).ok_or_else(|| broken("a short end record"));
    let field32 = |offset: usize| le32(&tail, end + offset).ok_or_else(|| broken("a short end record"));
    let (on_this_disk, total) = (field16(8)?, field16(10)?);
    let (directory_size, offset) = (field32(12)?, field32(16)?);
    if total == u16::MAX || directory_size == u32::MAX || offset == u32::MAX {
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
    let end_at = tail_start + end as u64;
    if offset as u64 + directory_size as u64 > end_at {
        return Err(broken("the directory runs past its end record"));
    }
    if directory_size > MAX_DIRECTORY {
        return Err(bad(format!(
            "the zip's directory takes {}; a .anton file's takes a few hundred bytes",
            human_size(directory_size.into())
        )));
    }
    let directory = read_exact_at(source, offset.into(), directory_size as usize)?;
    let stop = directory.len();
    let mut listed: Vec<Listed> = Vec::new();
    let mut seen = BTreeSet::new();
    let mut at = 0;
    while at < stop {
        if directory.get(at..at + 4) != Some(DIRECTORY_RECORD) {
            return Err(broken("a damaged directory record"));
        }
        let field16 = |offset: usize| le16(&directory, at + offset).ok_or_else(|| broken("a short directory record"));
        let (name_length, extra_length, comment_length) = (field16(28)?, field16(30)?, field16(32)?);
        let unpacked = le32(&directory, at + 24).ok_or_else(|| broken("a short directory record"))?;
        let name_end = at + 46 + name_length as usize;
        let name = directory
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

/// An entry as it unpacks: never read past what it declares (plus one
/// byte, to tell), hashed and counted on the way.
struct Unpacking<R> {
    inner: io::Take<R>,
    declared: u64,
    name: String,
    hasher: Box<dyn EntryDigest>,
    read: u64,
}

impl<R: Read> Read for Unpacking<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = self
            .inner
            .read(out)
            .map_err(|e| io::Error::other(format!("cannot unpack '{}' ({e})", self.name)))?;
        self.hasher.update(&out[..n]);
        self.read += n as u64;
        if self.read > self.declared {
            return Err(io::Error::other(format!(
                "cannot unpack '{}' (it unpacks to more than the {} its header says)",
                self.name,
                human_size(self.declared)
            )));
        }
        Ok(n)
    }
}

pub(crate) fn read<R: Read + Seek>(
    mut source: R,
    size: u64,
    sink: &mut dyn Sink,
    digests: Digests,
) -> Result<Head, FormatError> {
    let directory = central_directory(&mut source, size)?;
    let unpacked_total: u64 = directory.iter().map(|entry| entry.unpacked).sum();
    if unpacked_total > MAX_UNPACKED {
        return Err(bad(format!(
            "the zip would unpack to {}; refusing it",
            over_limit(unpacked_total, MAX_UNPACKED)
        )));
    }
    source
        .seek(SeekFrom::Start(0))
        .map_err(|e| bad(format!("cannot read the file ({e})")))?;
    let mut archive =
        zip::ZipArchive::new(source).map_err(|e| bad(format!("a broken or truncated .anton zip ({e})")))?;
    if archive.len() != directory.len() {
        return Err(bad(format!(
            "the zip's directory lists {}, but the zip reads as {}: a damaged or doctored file",
            entries(directory.len()),
            archive.len()
        )));
    }
    let mut index_of: BTreeMap<String, (usize, u64)> = BTreeMap::new();
    for (index, listed) in directory.iter().enumerate() {
        let file = archive
            .by_index_raw(index)
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
        if name != MANIFEST && !ENTRIES.contains(&name.as_str()) {
            return Err(bad(format!("unexpected zip entry {}", quote(&name))));
        }
        index_of.insert(name, (index, listed.unpacked));
    }
    if !index_of.contains_key(MANIFEST) {
        return Err(bad("the zip has no manifest.json: not a .anton file"));
    }
    for name in ENTRIES {
        if !index_of.contains_key(name) {
            return Err(bad(format!("the zip lacks {name}")));
        }
    }
    let mut reader = Entries {
        archive,
        index_of,
        hashes: BTreeMap::new(),
        digests,
    };
    let manifest = reader.manifest()?;
    reader.hashes = manifest.entries.clone();
    let session: SessionEntry = reader.read("session.json", |json| json.value())?;
    let mut rows = Counts::default();
    reader.read("memory.json", |json| {
        json.object(|json, key| {
            let born = match key {
                "session_born" => true,
                "project_accessed" => false,
                _ => return json.skip(),
            };
            json.array(|json| {
                rows.memories += 1;
                let memory = json.value()?;
                sink.memory(memory, born).map_err(bad)
            })
        })
    })?;
    reader.read_lines("conversation.jsonl", |json| {
        rows.messages += 1;
        let episode = json.value()?;
        sink.episode(episode).map_err(bad)
    })?;
    reader.read_lines("cells.jsonl", |json| {
        rows.cells += 1;
        let cell = json.value()?;
        sink.cell(cell).map_err(bad)
    })?;
    for (field, count, entry, held) in [
        (
            "messages",
            manifest.counts.messages,
            "conversation.jsonl",
            rows.messages,
        ),
        ("memories", manifest.counts.memories, "memory.json", rows.memories),
        ("cells", manifest.counts.cells, "cells.jsonl", rows.cells),
    ] {
        if count != held {
            return Err(bad(format!(
                "manifest.json: counts.{field} is {count}, but {entry} holds {held}: the file was changed or damaged"
            )));
        }
    }
    Ok(Head {
        exported_by: manifest.exported_by,
        exported_at: manifest.exported_at,
        anton_version: manifest.anton_version,
        session_id: session.id,
        title: session.title,
        summary: session.summary,
        summary_only: manifest.summary_only,
        redactions: manifest.redactions,
        imported: None,
        forked_from: session.forked_from,
    })
}

/// The entries of a checked zip, each read once, whole, and checked
/// against its declared size and its hash in the manifest.
struct Entries<R: Read + Seek> {
    archive: zip::ZipArchive<R>,
    index_of: BTreeMap<String, (usize, u64)>,
    hashes: BTreeMap<String, String>,
    digests: Digests,
}

impl<R: Read + Seek> Entries<R> {
    fn manifest(&mut self) -> Result<Manifest, FormatError> {
        let head: Value = self.read(MANIFEST, |json| json.value())?;
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
        let manifest: Manifest = checks::parse_value(MANIFEST, head)?;
        for name in ENTRIES {
            if !manifest.entries.contains_key(name) {
                return Err(bad(format!("manifest.json lists no sha256 for {name}")));
            }
        }
        Ok(manifest)
    }

    /// Read entry `name` with `parse` (one JSON document), then check it.
    fn read<T>(
        &mut self,
        name: &str,
        parse: impl FnOnce(&mut Json<BufReader<Unpacking<Packed<'_, R>>>>) -> Result<T, FormatError>,
    ) -> Result<T, FormatError> {
        let (index, declared) = self.index_of[name];
        let file = Packed::open(&mut self.archive, index, name)?;
        let mut json = Json::new(
            BufReader::with_capacity(PIECE, unpack(file, name, declared, self.digests)),
            name,
        );
        let value = parse(&mut json)?;
        json.end()?;
        check_entry(name, declared, json.into_inner(), self.hashes.get(name))?;
        Ok(value)
    }

    /// Read entry `name` one JSON value per line with `row`, then check it.
    fn read_lines(
        &mut self,
        name: &str,
        mut row: impl FnMut(&mut Json<BufReader<Unpacking<Packed<'_, R>>>>) -> Result<(), FormatError>,
    ) -> Result<(), FormatError> {
        let (index, declared) = self.index_of[name];
        let file = Packed::open(&mut self.archive, index, name)?;
        let mut json = Json::new(
            BufReader::with_capacity(PIECE, unpack(file, name, declared, self.digests)),
            name,
        );
        while json.next_line(name)? {
            row(&mut json)?;
            json.line_end()?;
        }
        check_entry(name, declared, json.into_inner(), self.hashes.get(name))
    }
}

/// An entry's bytes as they unpack. Inflated here, not by the zip reader:
/// its CRC-32 would be a second, weaker check of what the manifest's
/// sha256 checks, and the slowest step of a large import.
enum Packed<'a, R: Read> {
    Stored(zip::read::ZipFile<'a, R>),
    Deflated(flate2::read::DeflateDecoder<zip::read::ZipFile<'a, R>>),
}

impl<'a, R: Read + Seek> Packed<'a, R> {
    fn open(archive: &'a mut zip::ZipArchive<R>, index: usize, name: &str) -> Result<Self, FormatError> {
        let file = archive
            .by_index_raw(index)
            .map_err(|e| bad(format!("cannot unpack '{name}' ({e})")))?;
        if file.encrypted() {
            return Err(bad(format!("'{name}' is encrypted, which .anton files never are")));
        }
        match file.compression() {
            zip::CompressionMethod::Stored => Ok(Packed::Stored(file)),
            zip::CompressionMethod::Deflated => Ok(Packed::Deflated(flate2::read::DeflateDecoder::new(file))),
            other => Err(bad(format!(
                "cannot unpack '{name}' (it is packed with {other}; .anton files use deflate)"
            ))),
        }
    }
}

impl<R: Read> Read for Packed<'_, R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        match self {
            Packed::Stored(file) => file.read(out),
            Packed::Deflated(file) => file.read(out),
        }
    }
}

fn unpack<R: Read>(file: R, name: &str, declared: u64, digests: Digests) -> Unpacking<R> {
    Unpacking {
        inner: file.take(declared + 1),
        declared,
        name: name.to_string(),
        hasher: digests(),
        read: 0,
    }
}

/// Whatever the entry holds past its document is read too (to hash and
/// measure it); it must be exactly what its header declared and what the
/// manifest hashed.
fn check_entry<R: Read>(
    name: &str,
    declared: u64,
    mut reader: BufReader<Unpacking<R>>,
    sha256: Option<&String>,
) -> Result<(), FormatError> {
    io::copy(&mut reader, &mut io::sink()).map_err(|e| bad(e.to_string()))?;
    let unpacked = reader.into_inner();
    if unpacked.read > declared {
        return Err(bad(format!(
            "'{name}' unpacks to more than the {} its header says; refusing it",
            human_size(declared)
        )));
    }
    if unpacked.read < declared {
        return Err(bad(format!(
            "'{name}' unpacks to {}, not the {} its header says",
            human_size(unpacked.read),
            human_size(declared)
        )));
    }
    match sha256 {
        Some(sha) if *sha != unpacked.hasher.hex_digest() => Err(bad(format!(
            "{name} does not match its sha256 in manifest.json: the file was changed or damaged"
        ))),
        _ => Ok(()),
    }
}

impl<R: BufRead> Json<R> {
    /// Past blank lines to the next row of a `.jsonl` entry, which errors
    /// then name by its line; false at the end.
    pub fn next_line(&mut self, name: &str) -> Result<bool, FormatError> {
        let more = self.skip_blank()?;
        self.set_place(format!("{name} line {}", self.line()));
        Ok(more)
    }
}
