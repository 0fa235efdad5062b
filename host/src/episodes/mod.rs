//! Sessions the reference Anton wrote in `<workspace>/.anton/episodes/`
//! (`<id>.jsonl` and `<id>_history.json`), adopted into anton's store so
//! listings, `-r`, `-c` and `/resume` have them. Adoption is incremental (a
//! later run of the reference adds lines; only those are read), happens
//! once (the store keeps how far each log was read) and never writes the
//! reference's files.

mod history;
mod python_literal;

use std::collections::VecDeque;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use serde::Deserialize;
use serde_json::{Value, json};

pub use history::model_context;

use crate::services::Services;
use crate::store::{Adopted, Adoption, Cell, FileState, MAX_TURN, NewMessage, SessionMemory};

/// The largest history file anton reads.
const MAX_HISTORY: u64 = 64 * 1024 * 1024;
/// The most of a log one command reads; the rest waits for the next.
const MAX_CHUNK: u64 = 64 * 1024 * 1024;
/// The logs a workspace may hold before the rest are left for later runs.
const MAX_LOGS: usize = 100_000;

/// A log and its history file, as the folder holds them now.
struct Found {
    id: String,
    log: FileState,
    history: Option<FileState>,
}

/// Adopt what changed in the episode folder since the store last looked.
/// A folder that is not there costs one stat; one that did not change
/// since, a stat and a query. The reference replaces a log's history file
/// at the end of every turn, which changes the folder: lines it logs in the
/// middle of a turn are read once the turn is over.
pub fn adopt(services: &Services) {
    use std::os::unix::fs::MetadataExt;
    let dir = services.paths.anton_dir.join("episodes");
    let folder = match std::fs::symlink_metadata(&dir) {
        Ok(meta) if meta.is_dir() => meta.mtime() * 1_000_000_000 + meta.mtime_nsec(),
        _ => return,
    };
    // Nothing is written to a damaged store.
    match services.read_store(|s| s.reference_folder()) {
        Err(e) if e.is_damaged() => return warn(&format!("the reference Anton's sessions were not read: {e}")),
        Ok(Some(seen)) if seen == folder => return,
        _ => {}
    }
    let found = scan(&dir);
    if found.is_empty() {
        return;
    }
    // A store another anton is creating this moment reads as unfinished:
    // opened for writing, it is read once that anton is done.
    let known = match services.read_store(|s| s.adopted()).or_else(|e| match e.is_damaged() {
        true => Err(e),
        false => services.write_store(|s| s.adopted()),
    }) {
        Ok(known) => known,
        Err(e) => return warn(&format!("the reference Anton's sessions were not read: {e}")),
    };
    let changed: Vec<&Found> = found
        .iter()
        .filter(|f| {
            known
                .get(&f.id)
                .is_none_or(|k| k.log != f.log || k.history != f.history)
        })
        .collect();
    let (mut adopted, mut skipped) = (0, 0);
    for found in changed {
        let adoption = match read(&dir, found, known.get(&found.id)) {
            Ok(adoption) => adoption,
            Err(e) => {
                warn(&format!("{}.jsonl in .anton/episodes was not read: {e}", found.id));
                continue;
            }
        };
        skipped += adoption.skipped;
        match services.write_store(|s| s.adopt(&adoption)) {
            Ok(Some(true)) => adopted += 1,
            Ok(Some(false)) => {}
            Ok(None) => warn(&format!(
                "{}.jsonl in .anton/episodes names a session anton has already; left alone",
                found.id
            )),
            Err(e) => return warn(&format!("the reference Anton's sessions were not adopted: {e}")),
        }
    }
    // A log that could not be read is tried again when the folder changes.
    match services.write_store(|s| s.set_reference_folder(folder)) {
        Err(e) if e.is_damaged() => warn(&e.to_string()),
        Err(e) => warn(&format!(
            "the reference Anton's folder will be looked through again: {e}"
        )),
        Ok(()) => {}
    }
    if adopted > 0 || skipped > 0 {
        let lines = if skipped > 0 {
            format!(" ({} not episodes, skipped)", crate::terminal::count(skipped, "line"))
        } else {
            String::new()
        };
        eprintln!(
            "Read {} from the reference Anton's .anton/episodes{lines}.",
            crate::terminal::count(adopted, "new session")
        );
    }
}

fn warn(text: &str) {
    eprintln!("warning: {}", crate::terminal::sanitize_line(text));
}

/// The logs in the folder, by name; links, folders and odd names are passed by.
fn scan(dir: &Path) -> Vec<Found> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for entry in entries.flatten().take(MAX_LOGS * 2) {
        let name = entry.file_name();
        let Some(id) = name.to_str().and_then(|n| n.strip_suffix(".jsonl")) else {
            continue;
        };
        if !is_session_id(id) {
            continue;
        }
        let Some(log) = regular_file(&dir.join(&name)) else {
            continue;
        };
        let history = private_file(&dir.join(format!("{id}_history.json")));
        found.push(Found {
            id: id.to_string(),
            log,
            history,
        });
        if found.len() == MAX_LOGS {
            break;
        }
    }
    found
}

/// The reference names logs by UTC time (`20261123_232051`); anything that
/// could not be an id on a command line is not one.
fn is_session_id(id: &str) -> bool {
    id.len() <= 64
        && id.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn regular_file(path: &Path) -> Option<FileState> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::symlink_metadata(path).ok()?;
    meta.is_file().then(|| FileState {
        size: meta.len(),
        modified_ns: meta.mtime() * 1_000_000_000 + meta.mtime_nsec(),
    })
}

/// A history file the reference wrote here: it writes them readable by
/// their owner alone, which no `git clone` or unzip does. Only such a file
/// becomes the model's own context; a log from elsewhere is quoted.
fn private_file(path: &Path) -> Option<FileState> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::symlink_metadata(path).ok()?;
    let mine = meta.uid() == rustix::process::geteuid().as_raw();
    (mine && meta.mode() & 0o077 == 0).then_some(())?;
    regular_file(path)
}

#[derive(Deserialize)]
struct Episode {
    #[serde(default)]
    ts: String,
    #[serde(default)]
    turn: i64,
    role: String,
    #[serde(default)]
    content: String,
    #[serde(default)]
    meta: Value,
}

/// The new lines of one log (and its history, when that changed).
fn read(dir: &Path, found: &Found, known: Option<&Adopted>) -> std::io::Result<Adoption> {
    let from = known.map_or(0, |k| k.read_to);
    let mut adoption = Adoption {
        session_id: found.id.clone(),
        log: Some(found.log),
        read_from: from,
        read_to: from,
        ..Default::default()
    };
    if found.log.size > from {
        // From the newline that ended what was read: a log that no longer
        // has one there was replaced, and nothing of the new one is grafted on.
        let start = from.saturating_sub(1);
        let to = found.log.size.min(start + MAX_CHUNK);
        let bytes = read_from(&dir.join(format!("{}.jsonl", found.id)), start, to)?;
        let bytes = match from {
            0 => Some(&bytes[..]),
            _ if bytes.first() == Some(&b'\n') => Some(&bytes[1..]),
            _ => {
                warn(&format!(
                    "{}.jsonl in .anton/episodes was replaced since it was read; what was read stays",
                    found.id
                ));
                None
            }
        };
        if let Some(bytes) = bytes {
            // A last line without its newline is still being written.
            let whole = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |end| end + 1);
            adoption.read_to = from + whole as u64;
            if to < found.log.size {
                if whole == 0 {
                    // One line longer than a whole read: passed by.
                    adoption.read_to = next_line(&dir.join(format!("{}.jsonl", found.id)), to)?;
                    adoption.skipped += 1;
                }
                // Read on from here next time.
                adoption.log = Some(FileState {
                    size: adoption.read_to,
                    ..found.log
                });
            }
            let fallback = found.log.modified_ns / 1_000_000;
            episodes(&bytes[..whole], from, fallback, &mut adoption);
            if adoption.started_at == 0 {
                adoption.started_at = fallback;
            }
        }
    }
    // The history as it is now, gone or not private included, so an
    // unchanged one is never looked at again.
    if found.history != known.and_then(|k| k.history) {
        let path = dir.join(format!("{}_history.json", found.id));
        // Only a list of messages is a model context.
        let text = found
            .history
            .and_then(|_| crate::files::read_text(&path, MAX_HISTORY).ok().flatten())
            .filter(|t| serde_json::from_str::<Vec<Value>>(t).is_ok());
        adoption.history = Some((found.history, text));
    }
    Ok(adoption)
}

/// Where the line that goes on past `from` ends (after its newline), or
/// the end of the file.
fn next_line(path: &Path, from: u64) -> std::io::Result<u64> {
    let mut file = crate::files::open_regular(path, u64::MAX)?;
    file.seek(SeekFrom::Start(from))?;
    let mut block = vec![0; 1 << 20];
    let mut at = from;
    loop {
        let n = file.read(&mut block)?;
        if n == 0 {
            return Ok(at);
        }
        if let Some(end) = block[..n].iter().position(|b| *b == b'\n') {
            return Ok(at + end as u64 + 1);
        }
        at += n as u64;
    }
}

/// Bytes `from..to` of a regular file, its type checked first.
fn read_from(path: &Path, from: u64, to: u64) -> std::io::Result<Vec<u8>> {
    let mut file = crate::files::open_regular(path, u64::MAX)?;
    file.seek(SeekFrom::Start(from))?;
    let mut bytes = Vec::new();
    file.take(to - from).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Episodes as anton's rows: every line a message (tool calls paired with
/// their results by an id the reference never logged), memories from
/// `memory_write`/`memory_read`, cells from `scratchpad` lines.
fn episodes(bytes: &[u8], offset: u64, fallback_ms: i64, adoption: &mut Adoption) {
    let mut open_calls: VecDeque<(String, String)> = VecDeque::new();
    let mut last_pad_call: Option<(String, String)> = None;
    let mut at = offset;
    let mut last_time = fallback_ms;
    let now = crate::store::now_ms();
    for line in bytes.split_inclusive(|b| *b == b'\n') {
        let line_at = at;
        at += line.len() as u64;
        let text = String::from_utf8_lossy(line);
        if text.trim().is_empty() {
            continue;
        }
        // A turn past what a session holds would leave it unable to go on.
        let Some(episode) = serde_json::from_str::<Episode>(&text)
            .ok()
            .filter(|e| (0..i64::from(MAX_TURN)).contains(&e.turn))
        else {
            adoption.skipped += 1;
            continue;
        };
        let time = episode
            .ts
            .parse::<jiff::Timestamp>()
            .map(|t| t.as_millisecond())
            // A time to come would pin the session first in every listing.
            .map_or(last_time, |t| t.clamp(0, now));
        last_time = time;
        if adoption.started_at == 0 {
            adoption.started_at = time;
        }
        let tool = episode.meta["tool"].as_str().unwrap_or_default().to_string();
        let mut meta = match episode.meta {
            Value::Object(map) => map,
            _ => Default::default(),
        };
        meta.insert("reference".into(), json!(true));
        let mut content = episode.content;
        match episode.role.as_str() {
            "user" | "assistant" | "scratchpad" => {}
            "tool_call" => {
                let id = format!("ref_{line_at}");
                meta.insert("id".into(), json!(id));
                // Logged as Python's repr; kept as JSON where it reads as one.
                if let Some(input) = python_literal::parse(&content) {
                    if tool == "scratchpad" {
                        let field = |name: &str| input[name].as_str().unwrap_or_default().to_string();
                        last_pad_call = Some((field("name"), field("code")));
                    }
                    content = input.to_string();
                }
                open_calls.push_back((tool.clone(), id));
            }
            "tool_result" => {
                if let Some(index) = open_calls.iter().position(|(t, _)| *t == tool) {
                    let (_, id) = open_calls.remove(index).expect("found above");
                    meta.insert("id".into(), json!(id));
                }
            }
            "memory_write" | "memory_read" => {
                let kind = meta.get("kind").and_then(Value::as_str).unwrap_or("lesson");
                if matches!(kind, "always" | "never" | "when" | "lesson") {
                    adoption.memories.push(SessionMemory {
                        born: episode.role == "memory_write",
                        kind: kind.to_string(),
                        scope: "project".into(),
                        text: content.clone(),
                        topic: meta
                            .get("topic")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_string(),
                    });
                }
            }
            _ => {
                adoption.skipped += 1;
                continue;
            }
        }
        if episode.role == "scratchpad" {
            let (pad, code) = last_pad_call.take().unwrap_or_default();
            adoption.cells.push(Cell {
                pad: if pad.is_empty() { "main".into() } else { pad },
                code,
                stdout: content.clone(),
                stderr: String::new(),
                error: None,
                description: meta
                    .get("description")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                started_at: time,
                finished_at: Some(time),
            });
        }
        adoption.messages.push(NewMessage {
            turn: episode.turn as u32,
            role: episode.role,
            content,
            meta: Value::Object(meta).to_string(),
            created_at: time,
        });
    }
}

/// Whether a stored row came from the reference's log.
pub fn is_adopted(message: &crate::store::Message) -> bool {
    serde_json::from_str::<Value>(&message.meta).is_ok_and(|meta| meta["reference"] == Value::Bool(true))
}
