//! `anton sessions`, `anton session <id>` and `anton session fork <id>`:
//! the sessions `/resume` offers.

use anton_plugin_sdk::chat::{self, TimeStyle, one_line};
use anton_plugin_sdk::session_io;
use anton_plugin_sdk::storage::{self, Lookup, SessionDetails, SessionHit, SessionQuery};
use anton_plugin_sdk::{Args, Invocation, Origin, Outcome, Plugin, Session, SessionStatus, register_plugin};
use serde_json::{Value, json};

const DEFAULT_LIMIT: u32 = 20;

struct Sessions;

impl Plugin for Sessions {
    fn new() -> Self {
        Sessions
    }

    fn run(&mut self, invocation: &Invocation) -> Result<Outcome, String> {
        let args = Args::new(&invocation.args);
        match invocation.command.as_str() {
            "sessions" => list(invocation, &args),
            _ if args.positionals(&["--at", "--title"]).first() == Some(&"fork") => fork(invocation, &args),
            _ => show(invocation, &args),
        }
    }
}

register_plugin!(Sessions);

fn list(invocation: &Invocation, args: &Args) -> Result<Outcome, String> {
    if let Some(bad) = args.unknown_option(&["--limit", "--all", "--status", "--search", "--json"]) {
        return Err(invocation.usage_error(&format!("unknown option {bad}")));
    }
    if let Some(stray) = args.positionals(&["--limit", "--status", "--search"]).first() {
        return Err(invocation.usage_error(&format!("unexpected word '{}'", one_line(stray))));
    }
    let limit = match args.value("--limit")? {
        _ if args.flag("--all") => 0,
        Some(n) => n
            .parse()
            .map_err(|_| format!("--limit takes a whole number, not '{n}'"))?,
        None => DEFAULT_LIMIT,
    };
    let status = args.value("--status")?.map(SessionStatus::parse).transpose()?;
    let search = args.value("--search")?.map(str::to_string);
    if search.as_deref().is_some_and(|s| s.trim().is_empty()) {
        return Err("--search needs a word to look for".into());
    }
    let query = SessionQuery {
        limit,
        status,
        search: search.clone(),
        include_empty: true,
    };
    let hits = storage::list_sessions(&query)?;

    if args.flag("--json") {
        let rows: Vec<Value> = hits.iter().map(hit_json).collect();
        chat::print_json(&serde_json::to_string_pretty(&rows).map_err(|e| e.to_string())?);
        return Ok(Outcome::ok());
    }
    if hits.is_empty() {
        chat::print(&match (&search, status) {
            (Some(text), None) => format!("No sessions match \"{text}\"."),
            (Some(text), Some(s)) => format!("No {} sessions match \"{text}\".", s.name()),
            (None, Some(s)) => format!("No {} sessions.", s.name()),
            (None, None) if invocation.origin == Origin::Chat => "No sessions yet.".to_string(),
            (None, None) => "No sessions found. Run `anton` to start one.".to_string(),
        });
        return Ok(Outcome::ok());
    }

    let mut headers = vec!["ID", "Task", "Status", "Summary", "Last active"];
    if search.is_some() {
        headers[3] = "Match";
    }
    let rows = hits
        .iter()
        .map(|hit| {
            let s = &hit.session;
            let third = match &hit.snippet {
                Some(snippet) => snippet.clone(),
                None => one_line(&s.summary),
            };
            vec![
                s.id.clone(),
                one_line(if s.task.is_empty() { &s.title } else { &s.task }),
                s.status.name().to_string(),
                third,
                chat::format_time(s.updated_at, TimeStyle::Relative),
            ]
        })
        .collect();
    chat::print_table(&headers, &["Task", "Summary", "Match"], rows);
    let maybe_more = limit != 0 && search.is_none() && status.is_none() && hits.len() as u32 == limit;
    if maybe_more {
        let total = storage::count_sessions()?;
        if total > hits.len() as u64 {
            chat::print(&format!(
                "{} of {total} sessions shown; --all lists every one.",
                hits.len()
            ));
        }
    }
    Ok(Outcome::ok())
}

fn show(invocation: &Invocation, args: &Args) -> Result<Outcome, String> {
    if let Some(bad) = args.unknown_option(&["--json"]) {
        return Err(invocation.usage_error(&format!("unknown option {bad}")));
    }
    let positionals = args.positionals(&[]);
    let Some(id) = positionals.first().copied() else {
        return Err(invocation.usage_error("which session?"));
    };
    if let Some(extra) = positionals.get(1) {
        return Err(invocation.usage_error(&format!("unexpected {}", one_line(extra))));
    }
    let Some(session) = find(invocation, id)? else {
        return Ok(Outcome::exit(1));
    };
    let details = storage::session_details(&session.id)?;
    if args.flag("--json") {
        let mut value = session_json(&session);
        value["details"] = details_json(&details);
        chat::print_json(&serde_json::to_string_pretty(&value).map_err(|e| e.to_string())?);
        return Ok(Outcome::ok());
    }
    print_details(&session, &details);
    Ok(Outcome::ok())
}

/// The session `id` names (an id or a unique prefix); `None` once the
/// user was told why there is none.
fn find(invocation: &Invocation, id: &str) -> Result<Option<Session>, String> {
    match storage::find_session(id)? {
        Lookup::Found(session) => Ok(Some(session)),
        Lookup::Missing => {
            chat::print_error(&format!(
                "Session {} not found. {} lists them.",
                one_line(id),
                invocation.how_to_run("sessions")
            ));
            Ok(None)
        }
        Lookup::Ambiguous(candidates) => {
            chat::print_error(&format!(
                "Session prefix {} matches {} sessions:",
                one_line(id),
                candidates.len()
            ));
            for s in candidates {
                chat::print_error(&format!("  {}  {}", s.id, one_line(&s.title)));
            }
            chat::print_error("Give more of the id.");
            Ok(None)
        }
    }
}

/// `session fork <id> [--at TURN] [--title TEXT]`: a new session with the
/// history of `id` up to TURN; `id` stays as it was. The chat goes on in
/// the fork, as after `/fork`.
fn fork(invocation: &Invocation, args: &Args) -> Result<Outcome, String> {
    if let Some(bad) = args.unknown_option(&["--at", "--title", "--json"]) {
        return Err(invocation.usage_error(&format!("unknown option {bad}")));
    }
    let positionals = args.positionals(&["--at", "--title"]);
    let Some(id) = positionals.get(1).copied() else {
        return Err(invocation.usage_error("fork which session?"));
    };
    if let Some(extra) = positionals.get(2) {
        return Err(invocation.usage_error(&format!("unexpected {}", one_line(extra))));
    }
    let Some(parent) = find(invocation, id)? else {
        return Ok(Outcome::exit(1));
    };
    let at = match args.value("--at")? {
        None => None,
        Some(turn) => match turn.parse::<u32>() {
            Ok(turn) if (1..=parent.turns).contains(&turn) => Some(turn),
            _ if parent.turns == 0 => return Err(format!("session {} has no turns to fork at", parent.id)),
            _ => {
                return Err(format!(
                    "--at takes a turn from 1 to {} (session {} has {})",
                    parent.turns,
                    parent.id,
                    chat::count(parent.turns, "turn", "turns")
                ));
            }
        },
    };
    let title = args.value("--title")?;
    let fork = session_io::fork_session(&parent.id, at, title)?;
    if args.flag("--json") {
        chat::print_json(&serde_json::to_string_pretty(&session_json(&fork)).map_err(|e| e.to_string())?);
    } else {
        let kept = at.map_or_else(
            || "all of its history".to_string(),
            |turn| format!("its turns 1 to {turn}"),
        );
        chat::print(&format!(
            "Forked {} into {} with {kept}; {} stays as it was.",
            parent.id, fork.id, parent.id
        ));
    }
    Ok(match invocation.origin {
        Origin::Chat => Outcome::switch_session(fork.id),
        Origin::Cli | Origin::Launch => {
            if !args.flag("--json") {
                chat::print(&format!("Continue it with: anton -r {}", fork.id));
            }
            Outcome::ok()
        }
    })
}

fn print_details(s: &Session, d: &SessionDetails) {
    let when = |t| chat::format_time(t, TimeStyle::Absolute);
    let mut lines = vec![
        format!("Session:     {}", s.id),
        format!("Title:       {}", or_dash(&one_line(&s.title))),
        format!("Task:        {}", or_dash(&one_line(&s.task))),
        format!("Status:      {}", s.status.name()),
        format!("Created:     {}", when(s.created_at)),
        format!(
            "Last active: {} ({})",
            when(s.updated_at),
            chat::format_time(s.updated_at, TimeStyle::Relative)
        ),
        format!(
            "Turns:       {} ({})",
            s.turns,
            chat::count(s.messages, "message", "messages")
        ),
    ];
    if let Some(model) = &s.model {
        let provider = s.provider.as_deref().unwrap_or("?");
        lines.push(format!("Model:       {} / {}", one_line(provider), one_line(model)));
    }
    if let Some(writer) = &s.live_writer {
        lines.push(format!("Open in:     {}", one_line(writer)));
    }
    let p = &s.provenance;
    if let Some(by) = &p.imported_by {
        let at = p.imported_at.map(when).unwrap_or_default();
        lines.push(format!("Imported:    by {} {at}", one_line(by)));
        if let Some(from) = &p.exported_by {
            let at = p.exported_at.map(when).unwrap_or_default();
            lines.push(format!("Exported:    by {} {at}", one_line(from)));
        }
        if let Some(file) = &p.source_file {
            lines.push(format!("From file:   {}", one_line(file)));
        }
        if let Some(orig) = &p.original_id {
            lines.push(format!("Original id: {}", one_line(orig)));
        }
    }
    if let Some(parent) = &p.forked_from {
        lines.push(format!("Forked from: {}", one_line(parent)));
    }
    lines.push(format!(
        "Memory:      {} session-born, {} used",
        d.memories_born,
        chat::count(d.memories_used, "project memory", "project memories")
    ));
    lines.push(format!(
        "Code:        {}",
        chat::count(d.cells, "scratchpad cell", "scratchpad cells")
    ));
    if d.shares.is_empty() {
        lines.push("Shared:      never".to_string());
    }
    for share in &d.shares {
        lines.push(format!(
            "Shared:      {} {} by {} → {}",
            share.direction,
            when(share.at),
            one_line(&share.who),
            one_line(&share.path)
        ));
    }
    lines.push(String::new());
    lines.push("Summary:".to_string());
    lines.push(if s.summary.trim().is_empty() {
        "  (none yet)".to_string()
    } else {
        chat::labelled("  ", &s.summary)
    });
    chat::print(&lines.join("\n"));
}

fn or_dash(text: &str) -> &str {
    if text.is_empty() { "-" } else { text }
}

fn iso(t: i64) -> String {
    chat::format_time(t, TimeStyle::Iso)
}

fn session_json(s: &Session) -> Value {
    let p = &s.provenance;
    json!({
        "id": s.id,
        "title": s.title,
        "task": s.task,
        "status": s.status.name(),
        "summary": s.summary,
        "created_at": iso(s.created_at),
        "updated_at": iso(s.updated_at),
        "turns": s.turns,
        "messages": s.messages,
        "provider": s.provider,
        "model": s.model,
        "workspace": s.workspace,
        "live_writer": s.live_writer,
        "provenance": {
            "imported_by": p.imported_by,
            "imported_at": p.imported_at.map(iso),
            "exported_by": p.exported_by,
            "exported_at": p.exported_at.map(iso),
            "original_id": p.original_id,
            "source_file": p.source_file,
            "file_sha256": p.file_sha256,
            "forked_from": p.forked_from,
        },
    })
}

fn hit_json(hit: &SessionHit) -> Value {
    let mut value = session_json(&hit.session);
    if let Some(snippet) = &hit.snippet {
        value["snippet"] = json!(snippet);
    }
    value
}

fn details_json(d: &SessionDetails) -> Value {
    json!({
        "memories_born": d.memories_born,
        "memories_used": d.memories_used,
        "scratchpad_cells": d.cells,
        "shares": d.shares.iter().map(|s| json!({
            "direction": s.direction,
            "path": s.path,
            "sha256": s.sha256,
            "title": s.title,
            "who": s.who,
            "at": iso(s.at),
            "format": s.format,
        })).collect::<Vec<_>>(),
    })
}
