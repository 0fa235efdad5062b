//! `share import <file>`: a .anton file of either format as a new session.

use anton_plugin_sdk::chat::{self, TimeStyle, one_line};
use anton_plugin_sdk::storage::{self, Cell, Lookup, MemoryRecord, NewMessage, NewSession, ShareEntry};
use anton_plugin_sdk::{Args, Invocation, Origin, Outcome, Provenance};
use anton_share_format::{self as format, Bundle, Memory};
use serde_json::json;

use crate::redaction::redact;
use crate::{cell_count, memory_counts, or_none, time};

pub fn run(invocation: &Invocation, args: &Args) -> Result<Outcome, String> {
    let origin = invocation.origin;
    if let Some(bad) = args.unknown_option(&["--accept-memories", "--again"]) {
        return Err(invocation.usage_error(&format!("unknown option {bad}")));
    }
    let Some(path) = args.positionals(&[]).first().map(|p| p.to_string()) else {
        return Err(invocation.usage_error("which file?"));
    };
    let bytes = storage::read_named_file(&path).map_err(|e| format!("cannot import {path}: {}", e.message()))?;
    let (mut bundle, format) = format::read(&bytes).map_err(|e| format!("cannot import {path}: {e}"))?;
    let sha256 = format::sha256_hex(&bytes);
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
    // The file may predate redaction or come from anywhere: scrub again.
    redact(&mut bundle);
    let now = time::now_ms();
    let me = chat::user_name();
    let session = match (
        storage::import_session(&new_session(&bundle, &path, &sha256, &me, now)),
        imported_before,
    ) {
        (Ok(session), _) => session,
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
    storage::record_share(&ShareEntry {
        direction: "import".into(),
        path: path.clone(),
        sha256,
        title: bundle.title.clone(),
        who: me,
        at: now,
        format: crate::ledger_format(format.name(), &bundle),
        session_id: Some(session.id.clone()),
        file_exists: true,
    })?;
    // A date from the file is shown only if it could be true.
    let from_when = time::parse_rfc3339(&bundle.exported_at)
        .filter(|t| (0..=now + 86_400_000).contains(t))
        .map(|t| chat::format_time(t, TimeStyle::Absolute));
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
    lines.push(format!("  Memory:  {}", memory_counts(&bundle)));
    lines.push(format!("  Code:    {} (recorded, not run)", cell_count(&bundle)));
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
