//! `/share export [--summary] [--format v0.1] | import <file> | status | history`:
//! sessions as portable `.anton` files, read and written by anton and by the
//! reference Anton.

mod time;

use std::collections::BTreeMap;
use std::io::Write;

use anton_plugin_sdk::chat::{self, TimeStyle, one_line};
use anton_plugin_sdk::llm::{self, ChatMessage, CompletionRequest, ModelRole};
use anton_plugin_sdk::storage::{self, Cell, Lookup, MemoryRecord, NewMessage, NewSession, SessionQuery, ShareEntry};
use anton_plugin_sdk::{
    Args, CommandKind, CommandSpec, Invocation, Origin, Outcome, Plugin, Provenance, Session, Subcommand,
    register_plugin,
};
use anton_share_format::{self as format, Bundle, Episode, Format, Memory};
use serde_json::{Value, json};

const USAGE: &str = "share export [--summary] [--format v0.1] [--session ID] | import <file> [--accept-memories] | status [--session ID] | history [--json]";

const SUBCOMMANDS: [(&str, &str); 4] = [
    (
        "export",
        "Pack this session into a .anton file (--summary for the light one)",
    ),
    ("import", "Open a .anton file as a new session"),
    (
        "status",
        "Where this session came from and went to, and its data sources",
    ),
    ("history", "Every export and import in this workspace"),
];

struct Share;

impl Plugin for Share {
    fn new() -> Self {
        Share
    }

    fn commands(&self) -> Vec<CommandSpec> {
        let mut share = CommandSpec::new(
            "share",
            CommandKind::Both,
            "Export, import and track shared sessions",
            USAGE,
        );
        share.subcommands = SUBCOMMANDS
            .iter()
            .map(|(name, summary)| Subcommand {
                name: name.to_string(),
                summary: summary.to_string(),
            })
            .collect();
        vec![share]
    }

    fn run(&mut self, invocation: &Invocation) -> Result<Outcome, String> {
        let (sub, rest) = match invocation.args.split_first() {
            Some((sub, rest)) => (sub.as_str(), Args::new(rest)),
            None => return Err(format!("usage: {USAGE}")),
        };
        match sub {
            "export" => export(&rest, invocation.origin),
            "import" => import(&rest, invocation.origin),
            "status" => status(&rest, invocation.origin),
            "history" => history(&rest),
            other => Err(format!("unknown share command '{other}'; usage: {USAGE}")),
        }
    }
}

register_plugin!(Share);

/// The session a command is about: `--session ID`, the chat's, or (on the
/// command line) the most recent one.
fn target_session(args: &Args, origin: Origin) -> Result<Session, String> {
    let id = match args.value("--session")? {
        Some(id) => id.to_string(),
        None => match chat::current_session() {
            Some(id) => id,
            None if origin == Origin::Chat => return Err("no session yet: say something first, or /resume one".into()),
            None => {
                let query = SessionQuery {
                    limit: 1,
                    status: None,
                    search: None,
                    include_empty: false,
                };
                match storage::list_sessions(&query)?.into_iter().next() {
                    Some(hit) => hit.session.id,
                    None => return Err("this workspace has no sessions yet".into()),
                }
            }
        },
    };
    match storage::find_session(&id)? {
        Lookup::Found(session) => Ok(session),
        Lookup::Missing => Err(format!("session {id} not found")),
        Lookup::Ambiguous(_) => Err(format!(
            "session prefix {id} matches more than one session; give more of it"
        )),
    }
}

// ------------------------------------------------------------------ export

fn export(args: &Args, origin: Origin) -> Result<Outcome, String> {
    if let Some(bad) = args.unknown_option(&["--summary", "--format", "--session"]) {
        return Err(format!("unknown option {bad}; usage: {USAGE}"));
    }
    let format = match args.value("--format")? {
        None | Some("anton") | Some("v1") => Format::V1,
        Some("v0.1") => Format::V01,
        Some(other) => return Err(format!("unknown format '{other}': use v1 (default) or v0.1")),
    };
    let summary_only = args.flag("--summary");
    let session = target_session(args, origin)?;
    let messages = storage::messages(&session.id, 0)?;
    if messages.is_empty() {
        chat::print("This session is empty; nothing to export.");
        return Ok(Outcome::ok());
    }
    let memories = storage::session_memories(&session.id)?;
    let cells = storage::session_cells(&session.id)?;
    let (title, summary) = title_and_summary(&session, &messages);

    let conversation: Vec<Episode> = if summary_only {
        Vec::new()
    } else {
        messages
            .iter()
            .filter(|m| !m.role.starts_with("memory_"))
            .map(|m| Episode {
                ts: chat::format_time(m.created_at, TimeStyle::Iso),
                session: session.id.clone(),
                turn: m.turn,
                role: m.role.clone(),
                content: m.content.clone(),
                meta: serde_json::from_str(&m.meta).unwrap_or_else(|_| json!({})),
            })
            .collect()
    };
    let memory = |born: bool| -> Vec<Memory> {
        memories
            .iter()
            .filter(|m| m.born == born)
            .map(|m| Memory {
                content: m.text.clone(),
                kind: m.kind.clone(),
                topic: m.topic.clone(),
            })
            .collect()
    };
    let cells: Vec<format::Cell> = cells
        .into_iter()
        .map(|c| {
            let mut cell = format::Cell {
                pad: c.pad,
                code: c.code,
                stdout: c.stdout,
                stderr: c.stderr,
                error: c.error,
                description: c.description,
            };
            if summary_only {
                // The light file carries what was run, not what it printed.
                (cell.stdout, cell.stderr, cell.error) = (String::new(), String::new(), None);
            }
            cell
        })
        .collect();
    let now = time::now_ms();
    let mut bundle = Bundle {
        exported_by: chat::user_name(),
        exported_at: chat::format_time(now, TimeStyle::Iso),
        anton_version: "0.1.0".into(),
        session_id: session.id.clone(),
        title,
        summary,
        summary_only,
        conversation,
        session_born: memory(true),
        project_accessed: memory(false),
        cells,
        redactions: BTreeMap::new(),
        imported: None,
    };
    bundle.redactions = redact(&mut bundle);
    let bytes = match format {
        Format::V1 => format::write_v1(&bundle),
        Format::V01 => format::write_v01(&bundle),
    };
    let path = write_unique(&slug(&bundle.title), &time::file_stamp(now), &bytes)?;
    let sha256 = format::sha256_hex(&bytes);
    storage::record_share(&ShareEntry {
        direction: "export".into(),
        path: path.clone(),
        sha256,
        title: bundle.title.clone(),
        who: bundle.exported_by.clone(),
        at: now,
        format: format.name().into(),
        session_id: Some(session.id.clone()),
        file_exists: true,
    })?;
    let mut lines = vec![
        "Session exported".to_string(),
        format!("  File:     {path}"),
        format!("  Title:    {}", one_line(&bundle.title)),
        chat::labelled("  Summary:  ", or_none(&bundle.summary)),
        format!(
            "  Memory:   {} session-born, {} project memories",
            bundle.session_born.len(),
            bundle.project_accessed.len()
        ),
        format!(
            "  Code:     {} scratchpad cells{}",
            bundle.cells.len(),
            if summary_only { " (code only, no outputs)" } else { "" }
        ),
    ];
    lines.push(format!("  Redacted: {}", describe_redactions(&bundle.redactions)));
    if summary_only {
        lines.push("  Light file: title, summary, memory and code; no conversation.".into());
    }
    chat::print(&lines.join("\n"));
    Ok(Outcome::ok())
}

/// The stored title and summary; the model's when there are none yet; the
/// first words of the task as a last resort.
fn title_and_summary(session: &Session, messages: &[anton_plugin_sdk::Message]) -> (String, String) {
    if !session.title.is_empty() && !session.summary.is_empty() {
        return (session.title.clone(), session.summary.clone());
    }
    let said: Vec<&anton_plugin_sdk::Message> = messages
        .iter()
        .filter(|m| m.role == "user" || m.role == "assistant")
        .collect();
    let transcript: Vec<String> = said[said.len().saturating_sub(20)..]
        .iter()
        .map(|m| format!("{}: {}", m.role, m.content.chars().take(400).collect::<String>()))
        .collect();
    let request = CompletionRequest {
        role: ModelRole::Coding,
        messages: vec![ChatMessage {
            role: "user".into(),
            content: format!(
                "Name and summarise this work session. Reply with JSON only: {{\"title\": \"3 to 7 plain words\", \
                 \"summary\": \"2 to 4 sentences\"}}\n\n{}",
                transcript.join("\n")
            ),
        }],
        max_tokens: Some(400),
        temperature: None,
    };
    let generated = llm::complete(&request).ok().and_then(|c| {
        let text = c.text;
        let value: Value = serde_json::from_str(&text[text.find('{')?..=text.rfind('}')?]).ok()?;
        Some((
            value["title"].as_str()?.to_string(),
            value["summary"].as_str().unwrap_or_default().to_string(),
        ))
    });
    let fallback = session.task.split_whitespace().take(7).collect::<Vec<_>>().join(" ");
    match generated {
        Some((title, summary)) => (
            if session.title.is_empty() {
                title
            } else {
                session.title.clone()
            },
            if session.summary.is_empty() {
                summary
            } else {
                session.summary.clone()
            },
        ),
        None => (
            if session.title.is_empty() {
                fallback
            } else {
                session.title.clone()
            },
            session.summary.clone(),
        ),
    }
}

/// Every text of the bundle through the host's redaction; counts by kind.
fn redact(bundle: &mut Bundle) -> BTreeMap<String, u64> {
    let mut slots: Vec<&mut String> = vec![&mut bundle.title, &mut bundle.summary];
    for e in &mut bundle.conversation {
        slots.push(&mut e.content);
    }
    for m in bundle.session_born.iter_mut().chain(bundle.project_accessed.iter_mut()) {
        slots.push(&mut m.content);
    }
    for c in &mut bundle.cells {
        slots.extend([&mut c.code, &mut c.stdout, &mut c.stderr, &mut c.description]);
        if let Some(error) = c.error.as_mut() {
            slots.push(error);
        }
    }
    let redacted = storage::redact(&slots.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    for (slot, text) in slots.into_iter().zip(redacted.texts) {
        *slot = text;
    }
    redacted.counts.into_iter().map(|c| (c.kind, c.count as u64)).collect()
}

fn describe_redactions(counts: &BTreeMap<String, u64>) -> String {
    if counts.is_empty() {
        return "nothing".into();
    }
    counts
        .iter()
        .map(|(kind, n)| format!("{n} {kind}{}", if *n == 1 { "" } else { "s" }))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Lowercase words joined by `-`, at most 60 characters, `session` if empty.
fn slug(title: &str) -> String {
    let mut out = String::new();
    for c in title.trim().to_lowercase().chars() {
        if c.is_alphanumeric() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    let mut out: String = out.trim_end_matches('-').chars().take(60).collect();
    out = out.trim_end_matches('-').to_string();
    if out.is_empty() { "session".into() } else { out }
}

/// Write `<dir>/<slug>_<stamp>.anton` so that it appears whole and never
/// replaces another file: a temp file, then a hard link that fails if the
/// name is taken (then `-2`, `-3`, …).
fn write_unique(slug: &str, stamp: &str, bytes: &[u8]) -> Result<String, String> {
    let dir = format!("{}/.anton/output", chat::workspace_dir());
    remove_stale_temps(&dir)?;
    let temp = format!("{dir}/.export-{stamp}-{}.tmp", time::now_ms());
    let io = |e: std::io::Error| format!("cannot write in {dir}: {e}");
    let mut file = std::fs::File::create(&temp).map_err(io)?;
    file.write_all(bytes).and_then(|_| file.sync_all()).map_err(io)?;
    drop(file);
    let result = (1..1000)
        .map(|n| {
            if n == 1 {
                format!("{dir}/{slug}_{stamp}.anton")
            } else {
                format!("{dir}/{slug}_{stamp}-{n}.anton")
            }
        })
        .find_map(|path| match std::fs::hard_link(&temp, &path) {
            Ok(()) => Some(Ok(path)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => None,
            Err(e) => Some(Err(io(e))),
        })
        .unwrap_or_else(|| Err(format!("too many exports named {slug}_{stamp} in {dir}")));
    let _ = std::fs::remove_file(&temp);
    result
}

/// An export killed mid-write leaves its temp file; one older than any
/// export takes is removed by the next export.
fn remove_stale_temps(dir: &str) -> Result<(), String> {
    const STALE: std::time::Duration = std::time::Duration::from_secs(600);
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let stale = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > STALE);
        if name.starts_with(".export-") && name.ends_with(".tmp") && stale {
            std::fs::remove_file(entry.path()).map_err(|e| format!("cannot remove {dir}/{name}: {e}"))?;
        }
    }
    Ok(())
}

fn or_none(text: &str) -> &str {
    if text.is_empty() { "(none)" } else { text }
}

// ------------------------------------------------------------------ import

fn import(args: &Args, origin: Origin) -> Result<Outcome, String> {
    if let Some(bad) = args.unknown_option(&["--accept-memories"]) {
        return Err(format!("unknown option {bad}; usage: {USAGE}"));
    }
    let Some(path) = args.positionals(&[]).first().map(|p| p.to_string()) else {
        return Err("which file? usage: share import <file>".into());
    };
    let bytes = storage::read_named_file(&path).map_err(|e| format!("cannot import {path}: {}", e.message()))?;
    let (mut bundle, format) = format::read(&bytes).map_err(|e| format!("cannot import {path}: {e}"))?;
    if origin == Origin::Chat
        && let Some(current) = chat::current_session()
        && let Lookup::Found(session) = storage::find_session(&current)?
        && session.turns > 0
    {
        let question = format!(
            "You are in a session with {} turns. Importing opens a new session; this one stays resumable. Continue?",
            session.turns
        );
        if !chat::confirm(&question, false)? {
            chat::print("Not imported.");
            return Ok(Outcome::ok());
        }
    }
    // The file may predate redaction or come from anywhere: scrub again.
    redact(&mut bundle);
    let now = time::now_ms();
    let sha256 = format::sha256_hex(&bytes);
    let me = chat::user_name();
    let session = storage::import_session(&new_session(&bundle, &path, &sha256, &me, now))?;
    storage::record_share(&ShareEntry {
        direction: "import".into(),
        path: path.clone(),
        sha256,
        title: bundle.title.clone(),
        who: me,
        at: now,
        format: format.name().into(),
        session_id: Some(session.id.clone()),
        file_exists: true,
    })?;
    let from_when = time::parse_rfc3339(&bundle.exported_at).map(|t| chat::format_time(t, TimeStyle::Absolute));
    let mut lines = vec![format!("Imported: {}", or_none(&one_line(&bundle.title)))];
    lines.push(format!(
        "  From:    {} · {}",
        or_none(&one_line(&bundle.exported_by)),
        from_when.unwrap_or_else(|| "unknown date".into())
    ));
    lines.push(chat::labelled("  Summary: ", or_none(&bundle.summary)));
    let turns = bundle.conversation.iter().filter(|e| e.role == "user").count();
    if turns > 0 {
        lines.push(format!("  Turns:   {turns}"));
    }
    lines.push(format!(
        "  Memory:  {} session-born, {} project memories",
        bundle.session_born.len(),
        bundle.project_accessed.len()
    ));
    lines.push(format!(
        "  Code:    {} scratchpad cells (recorded, not run)",
        bundle.cells.len()
    ));
    lines.push(format!("  Session: {}", session.id));
    chat::print(&lines.join("\n"));
    Ok(match origin {
        Origin::Chat => Outcome::switch_session(session.id),
        _ => {
            chat::print(&format!("Continue it with: anton -r {}", session.id));
            Outcome::ok()
        }
    })
}

/// The store's shape of an imported bundle. Tool calls without ids (the
/// reference Anton keeps none) get ids paired with their results.
fn new_session(bundle: &Bundle, path: &str, sha256: &str, me: &str, now: i64) -> NewSession {
    let mut open: Vec<(String, String)> = Vec::new();
    let messages = bundle
        .conversation
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let mut meta = if e.meta.is_object() { e.meta.clone() } else { json!({}) };
            let tool = meta["tool"].as_str().unwrap_or_default().to_string();
            if e.role == "tool_call" && meta["id"].as_str().is_none_or(str::is_empty) {
                meta["id"] = json!(format!("imported_{i}"));
            }
            if e.role == "tool_call" {
                open.push((tool.clone(), meta["id"].as_str().unwrap_or_default().to_string()));
            }
            if e.role == "tool_result" && meta["id"].as_str().is_none_or(str::is_empty) {
                if let Some(at) =
                    open.iter()
                        .position(|(t, _)| *t == tool)
                        .or(if open.is_empty() { None } else { Some(0) })
                {
                    meta["id"] = json!(open.remove(at).1);
                }
            } else if e.role == "tool_result"
                && let Some(at) = open.iter().position(|(_, id)| meta["id"] == json!(id))
            {
                open.remove(at);
            }
            NewMessage {
                turn: e.turn,
                role: e.role.clone(),
                content: e.content.clone(),
                meta: meta.to_string(),
                created_at: time::parse_rfc3339(&e.ts).unwrap_or(now),
            }
        })
        .collect();
    let memory = |m: &Memory, born: bool| MemoryRecord {
        born,
        kind: m.kind.clone(),
        scope: "project".into(),
        text: m.content.clone(),
        topic: m.topic.clone(),
    };
    NewSession {
        title: bundle.title.clone(),
        summary: bundle.summary.clone(),
        messages,
        memories: bundle
            .session_born
            .iter()
            .map(|m| memory(m, true))
            .chain(bundle.project_accessed.iter().map(|m| memory(m, false)))
            .collect(),
        cells: bundle
            .cells
            .iter()
            .map(|c| Cell {
                pad: c.pad.clone(),
                code: c.code.clone(),
                stdout: c.stdout.clone(),
                stderr: c.stderr.clone(),
                error: c.error.clone(),
                description: c.description.clone(),
                started_at: now,
                finished_at: None,
            })
            .collect(),
        provenance: Provenance {
            imported_by: Some(me.to_string()),
            imported_at: Some(now),
            exported_by: Some(bundle.exported_by.clone()).filter(|s| !s.is_empty()),
            exported_at: time::parse_rfc3339(&bundle.exported_at),
            original_id: Some(bundle.session_id.clone()).filter(|s| !s.is_empty()),
            source_file: Some(path.to_string()),
            file_sha256: Some(sha256.to_string()),
            forked_from: None,
        },
    }
}

// ------------------------------------------------------------------ status

fn status(args: &Args, origin: Origin) -> Result<Outcome, String> {
    let session = target_session(args, origin)?;
    let when = |t: i64| chat::format_time(t, TimeStyle::Absolute);
    let p = &session.provenance;
    let mut lines = vec![format!("Shared session status: {}", session.id)];
    lines.push(format!("  Title:    {}", or_none(&one_line(&session.title))));
    match &p.imported_by {
        Some(by) => {
            lines.push(format!(
                "  Imported: by {}, {} from {}",
                one_line(by),
                p.imported_at.map(when).unwrap_or_default(),
                one_line(p.source_file.as_deref().unwrap_or("?"))
            ));
            lines.push(format!(
                "  Exported: by {}, {}",
                one_line(p.exported_by.as_deref().unwrap_or("?")),
                p.exported_at.map(when).unwrap_or_else(|| "unknown date".into())
            ));
        }
        None => lines.push("  Imported: no, it started here".into()),
    }
    let exports: Vec<ShareEntry> = storage::session_details(&session.id)?
        .shares
        .into_iter()
        .filter(|s| s.direction == "export")
        .collect();
    if exports.is_empty() {
        lines.push("  Shared:   never exported".into());
    }
    for e in exports {
        let missing = if e.file_exists { "" } else { " (missing)" };
        lines.push(format!("  Shared:   {} → {}{missing}", when(e.at), one_line(&e.path)));
    }
    let used = referenced_data_sources(&session.id)?;
    let connected = storage::data_sources()?;
    if used.is_empty() {
        lines.push("  Data sources: none referenced in this session".into());
    } else {
        lines.push("  Data sources:".into());
        for reference in used {
            if connected.contains(&reference) {
                lines.push(format!("    ✓ {reference} · connected"));
            } else {
                let engine = reference.split('_').next().unwrap_or(&reference);
                lines.push(format!(
                    "    ! {reference} · not connected here (connect it with /connect {engine})"
                ));
            }
        }
    }
    chat::print(&lines.join("\n"));
    Ok(Outcome::ok())
}

/// Data sources the session's code used: tool-call `datasources` (ours and
/// the reference Anton's) plus `DS_…__` names in the code itself.
fn referenced_data_sources(session_id: &str) -> Result<Vec<String>, String> {
    let mut found: Vec<String> = Vec::new();
    for message in storage::messages(session_id, 0)?
        .into_iter()
        .filter(|m| m.role == "tool_call")
    {
        let meta: Value = serde_json::from_str(&message.meta).unwrap_or_default();
        for reference in meta["datasources"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            // References come from `DS_<REF>__` names: [A-Z0-9_] only.
            let reference = reference.to_lowercase();
            if !found.contains(&reference) {
                found.push(reference);
            }
        }
    }
    found.sort();
    Ok(found)
}

// ------------------------------------------------------------------ history

fn history(args: &Args) -> Result<Outcome, String> {
    if let Some(bad) = args.unknown_option(&["--json"]) {
        return Err(format!("unknown option {bad}; usage: share history [--json]"));
    }
    let entries = storage::share_history(0)?;
    if args.flag("--json") {
        let rows: Vec<Value> = entries
            .iter()
            .map(|e| {
                json!({
                    "at": chat::format_time(e.at, TimeStyle::Iso),
                    "direction": e.direction,
                    "title": e.title,
                    "who": e.who,
                    "path": e.path,
                    "file_exists": e.file_exists,
                    "sha256": e.sha256,
                    "format": e.format,
                    "session_id": e.session_id,
                })
            })
            .collect();
        chat::print_json(&serde_json::to_string_pretty(&rows).map_err(|e| e.to_string())?);
        return Ok(Outcome::ok());
    }
    if entries.is_empty() {
        chat::print("No exports or imports in this workspace yet. `/share export` makes one.");
        return Ok(Outcome::ok());
    }
    let rows = entries
        .into_iter()
        .map(|e| {
            let file = if e.file_exists {
                e.path
            } else {
                format!("{} (missing)", e.path)
            };
            vec![
                chat::format_time(e.at, TimeStyle::Absolute),
                e.direction,
                e.title,
                e.who,
                file,
            ]
        })
        .collect();
    chat::print_table(&["When", "Direction", "Title", "Who", "File"], &["Title", "File"], rows);
    Ok(Outcome::ok())
}
