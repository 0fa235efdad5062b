//! `share import <file>`: a .anton file of either format as a new session,
//! read a row at a time and built in one transaction that lands whole or
//! not at all.

use std::collections::VecDeque;

use anton_plugin_sdk::chat::{self, TimeStyle, one_line};
use anton_plugin_sdk::file_io::{self, NamedFile};
use anton_plugin_sdk::session_io::{self, PAGE_BYTES, SessionBuilder};
use anton_plugin_sdk::storage::{self, Cell, Lookup, MemoryRecord, NewMessage, ShareEntry};
use anton_plugin_sdk::{Args, Invocation, Origin, Outcome, Provenance};
use anton_share_format::{self as format, Episode, Memory, Sink};
use serde_json::json;

use crate::{Counts, or_none, time};

pub fn run(invocation: &Invocation, args: &Args) -> Result<Outcome, String> {
    if let Some(bad) = args.unknown_option(&["--accept-memories", "--again"]) {
        return Err(invocation.usage_error(&format!("unknown option {bad}")));
    }
    let paths = args.positionals(&[]);
    let Some(path) = paths.first().map(|p| p.to_string()) else {
        return Err(invocation.usage_error("which file?"));
    };
    if paths.len() > 1 {
        return Err(invocation.usage_error(&format!(
            "one file at a time ({} given); import each with its own command",
            paths.len()
        )));
    }
    let file = file_io::open_named(&path).map_err(|e| format!("cannot import {path}: {}", e.message()))?;
    import(invocation, args, file, &path)
}

/// Import `file`, which came from `source` (a path as the user typed it,
/// or a remote's address).
pub(crate) fn import(
    invocation: &Invocation,
    args: &Args,
    mut file: NamedFile,
    source: &str,
) -> Result<Outcome, String> {
    let origin = invocation.origin;
    let path = source.to_string();
    let cannot = |e: String| format!("cannot import {path}: {e}");
    let sha256 = file.sha256();
    // The session this file became before, which the host asks or tells
    // about: no question of ours goes first.
    let imported_before = match args.flag("--again") {
        true => None,
        false => storage::share_history(0)?
            .into_iter()
            .find(|e| e.direction == "import" && e.sha256 == sha256)
            .and_then(|e| e.session_id),
    };
    if origin == Origin::Chat
        && imported_before.is_none()
        && chat::interactive()
        && let Some(current) = chat::current_session()
        && let Lookup::Found(session) = storage::find_session(&current)?
        && session.turns > 0
    {
        let question = format!(
            "You are in a session with {}. Importing opens a new session; this one stays resumable. Continue?",
            chat::count(session.turns, "turn", "turns")
        );
        if !chat::confirm(&question, false)? {
            chat::print("Not imported.");
            return Ok(Outcome::ok());
        }
    }
    let builder = match (session_io::build_session(Some(&sha256)), imported_before) {
        (Ok(builder), _) => builder,
        // In the chat the session it became is one answer away.
        (Err(refused), Some(existing)) if origin == Origin::Chat => {
            chat::print_error(&refused.message());
            return Ok(
                match chat::confirm(&format!("Open session {existing} instead?"), true)? {
                    true => Outcome::switch_session(existing),
                    false => Outcome::exit(1),
                },
            );
        }
        (Err(refused), _) => return Err(refused.into()),
    };
    let now = time::now_ms();
    let mut importer = Importer::new(builder, now);
    // A refused file drops the builder: nothing of it was stored.
    let (head, format) = format::read_from(&mut file, &mut importer, crate::host_sha256).map_err(|e| cannot(e.0))?;
    importer.send().map_err(cannot)?;
    let me = chat::user_name();
    let provenance = Provenance {
        imported_by: Some(me.clone()),
        imported_at: Some(now),
        exported_by: Some(head.exported_by.clone()).filter(|s| !s.is_empty()),
        exported_at: time::parse_rfc3339(&head.exported_at),
        original_id: Some(head.session_id.clone()).filter(|s| !s.is_empty()),
        source_file: Some(path.clone()),
        file_sha256: Some(sha256.clone()),
        forked_from: None,
    };
    let Importer { builder, counts, .. } = importer;
    let session = builder.commit(&head.title, &head.summary, &provenance)?;
    storage::record_share(&ShareEntry {
        direction: "import".into(),
        path: path.clone(),
        sha256,
        title: head.title.clone(),
        who: me,
        at: now,
        format: crate::ledger_format(format.name(), head.summary_only),
        session_id: Some(session.id.clone()),
        file_exists: true,
    })?;
    // What the file says is shown as the store keeps it: redacted.
    let said = storage::redact(&[head.title, head.exported_by, head.summary]).texts;
    let [title, exporter, summary] = <[String; 3]>::try_from(said).unwrap_or_default();
    // A date from the file is shown only if it could be true.
    let from_when = time::parse_rfc3339(&head.exported_at)
        .filter(|t| (0..=now + 86_400_000).contains(t))
        .map(|t| chat::format_time(t, TimeStyle::Absolute));
    let mut lines = vec![format!("Imported: {}", or_none(&one_line(&title)))];
    lines.push(format!(
        "  From:    {} · {}",
        or_none(&one_line(&exporter)),
        from_when.unwrap_or_else(|| "unknown date".into())
    ));
    lines.push(chat::labelled("  Summary: ", or_none(&summary)));
    if counts.turns > 0 {
        lines.push(format!("  Turns:   {}", counts.turns));
    }
    lines.push(format!("  Memory:  {}", counts.memories()));
    lines.push(format!("  Code:    {} (recorded, not run)", counts.cells()));
    lines.push(format!("  Session: {}", session.id));
    chat::print(&lines.join("\n"));
    Ok(match origin {
        Origin::Chat => Outcome::switch_session(session.id),
        _ => {
            chat::print(&format!("Continue it with `anton -r {}`.", session.id));
            Outcome::ok()
        }
    })
}

/// The rows of a file on their way into the builder, a page at a time.
struct Importer {
    builder: SessionBuilder,
    now: i64,
    counts: Counts,
    messages: Vec<NewMessage>,
    memories: Vec<MemoryRecord>,
    cells: Vec<Cell>,
    /// Text gathered and not yet sent.
    pending: usize,
    /// Tool calls without their result yet: (tool, id), the latest few.
    open_calls: VecDeque<(String, String)>,
}

/// A row costs this much besides its text, so a page of rows with little
/// text in them stays small.
const ROW_COST: usize = 256;
/// A result is paired with one of the latest calls still open: a call is
/// answered within a few messages, and a file of calls never answered must
/// cost neither memory nor a search through all of them.
const OPEN_CALLS: usize = 1024;

impl Importer {
    fn new(builder: SessionBuilder, now: i64) -> Importer {
        Importer {
            builder,
            now,
            counts: Counts::default(),
            messages: Vec::new(),
            memories: Vec::new(),
            cells: Vec::new(),
            pending: 0,
            open_calls: VecDeque::new(),
        }
    }

    /// Send what is gathered once it makes a page.
    fn gathered(&mut self, bytes: usize) -> Result<(), String> {
        self.pending += bytes + ROW_COST;
        if self.pending >= PAGE_BYTES as usize {
            self.send()?;
        }
        Ok(())
    }

    fn send(&mut self) -> Result<(), String> {
        if !self.messages.is_empty() {
            self.builder.add_messages(&std::mem::take(&mut self.messages))?;
        }
        if !self.memories.is_empty() {
            self.builder.add_memories(&std::mem::take(&mut self.memories))?;
        }
        if !self.cells.is_empty() {
            self.builder.add_cells(&std::mem::take(&mut self.cells))?;
        }
        self.pending = 0;
        Ok(())
    }
}

impl Sink for Importer {
    /// Tool calls without ids (the reference Anton keeps none) get ids
    /// paired with their results.
    fn episode(&mut self, e: Episode) -> Result<(), String> {
        let index = self.counts.messages;
        self.counts.messages += 1;
        if e.role == "user" {
            self.counts.turns += 1;
        }
        let mut meta = if e.meta.is_object() { e.meta } else { json!({}) };
        let tool = meta["tool"].as_str().unwrap_or_default().to_string();
        let no_id = meta["id"].as_str().is_none_or(str::is_empty);
        if e.role == "tool_call" {
            if no_id {
                meta["id"] = json!(format!("imported_{index}"));
            }
            let id = meta["id"].as_str().unwrap_or_default().to_string();
            if self.open_calls.len() == OPEN_CALLS {
                self.open_calls.pop_front();
            }
            self.open_calls.push_back((tool, id));
        } else if e.role == "tool_result" && no_id {
            let call = self
                .open_calls
                .iter()
                .position(|(t, _)| *t == tool)
                .or((!self.open_calls.is_empty()).then_some(0));
            if let Some((_, id)) = call.and_then(|at| self.open_calls.remove(at)) {
                meta["id"] = json!(id);
            }
        } else if e.role == "tool_result"
            && let Some(at) = self.open_calls.iter().position(|(_, id)| meta["id"] == json!(id))
        {
            self.open_calls.remove(at);
        }
        let meta = meta.to_string();
        let bytes = e.content.len() + meta.len();
        self.messages.push(NewMessage {
            turn: e.turn,
            role: e.role,
            created_at: time::parse_rfc3339(&e.ts).unwrap_or(self.now),
            content: e.content,
            meta,
        });
        self.gathered(bytes)
    }

    fn memory(&mut self, m: Memory, born: bool) -> Result<(), String> {
        match born {
            true => self.counts.born += 1,
            false => self.counts.used += 1,
        }
        let bytes = m.content.len() + m.topic.len();
        self.memories.push(MemoryRecord {
            born,
            kind: m.kind,
            scope: "project".into(),
            text: m.content,
            topic: m.topic,
        });
        self.gathered(bytes)
    }

    fn cell(&mut self, c: format::Cell) -> Result<(), String> {
        self.counts.cells += 1;
        let bytes = c.code.len() + c.stdout.len() + c.stderr.len();
        self.cells.push(Cell {
            pad: c.pad,
            code: c.code,
            stdout: c.stdout,
            stderr: c.stderr,
            error: c.error,
            description: c.description,
            started_at: self.now,
            finished_at: None,
        });
        self.gathered(bytes)
    }
}
