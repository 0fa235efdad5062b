//! `share export`: a session packed into a .anton file, redacted.

use std::collections::BTreeMap;
use std::io::Write;

use anton_plugin_sdk::chat::{self, TimeStyle, one_line};
use anton_plugin_sdk::llm::{self, ChatMessage, CompletionRequest, ModelRole};
use anton_plugin_sdk::storage::{self, ShareEntry};
use anton_plugin_sdk::{Args, Invocation, Message, Outcome, Session, session};
use anton_share_format::{self as format, Bundle, Episode, Format, Memory};
use serde_json::{Value, json};

use crate::redaction::{Redaction, redact};
use crate::{cell_count, memory_counts, or_none, time};

/// What an export writes: a `.anton` file, or a transcript for people.
#[derive(Clone, Copy)]
enum Output {
    Anton(Format),
    Markdown,
    Html,
}

impl Output {
    /// As the ledger and `/share history` name it.
    fn name(self) -> &'static str {
        match self {
            Output::Anton(format) => format.name(),
            Output::Markdown => "markdown",
            Output::Html => "html",
        }
    }

    fn extension(self) -> &'static str {
        match self {
            Output::Anton(_) => "anton",
            Output::Markdown => "md",
            Output::Html => "html",
        }
    }
}

pub fn run(invocation: &Invocation, args: &Args) -> Result<Outcome, String> {
    if let Some(bad) = args.unknown_option(&["--summary", "--format", "--session", "--dry-run"]) {
        return Err(invocation.usage_error(&format!("unknown option {bad}")));
    }
    let output = match args.value("--format")? {
        None | Some("anton") | Some("v1") => Output::Anton(Format::V1),
        Some("v0.1") => Output::Anton(Format::V01),
        Some("md") | Some("markdown") => Output::Markdown,
        Some("html") => Output::Html,
        Some(other) => {
            return Err(format!(
                "unknown format '{}': use v1 (default), v0.1, md or html",
                one_line(other)
            ));
        }
    };
    let summary_only = args.flag("--summary");
    let dry_run = args.flag("--dry-run");
    let session = session::about(invocation, args)?;
    let messages = storage::messages(&session.id, 0)?;
    if messages.is_empty() && session.summary.trim().is_empty() {
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
        anton_version: env!("CARGO_PKG_VERSION").into(),
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
    let redaction = redact(&mut bundle);
    if dry_run {
        chat::print(&dry_run_report(&bundle, &redaction, output.name()));
        return Ok(Outcome::ok());
    }
    let bytes = match output {
        Output::Anton(Format::V1) => format::write_v1(&bundle),
        Output::Anton(Format::V01) => format::write_v01(&bundle),
        Output::Markdown => format::readable::markdown(&bundle).into_bytes(),
        Output::Html => format::readable::html(&bundle).into_bytes(),
    };
    // A slug can join what redacting the title saw apart: redact it too.
    let name = storage::redact(&[slug(&bundle.title)]).texts.concat();
    let path = write_unique(&slug(&name), &time::file_stamp(now), output.extension(), &bytes)?;
    let sha256 = format::sha256_hex(&bytes);
    storage::record_share(&ShareEntry {
        direction: "export".into(),
        path: path.clone(),
        sha256,
        title: bundle.title.clone(),
        who: bundle.exported_by.clone(),
        at: now,
        format: crate::ledger_format(output.name(), &bundle),
        session_id: Some(session.id.clone()),
        file_exists: true,
    })?;
    let mut lines = vec![
        "Session exported".to_string(),
        format!("  File:     {path}"),
        format!("  Title:    {}", one_line(&bundle.title)),
        chat::labelled("  Summary:  ", or_none(&bundle.summary)),
        format!("  Memory:   {}", memory_counts(&bundle)),
        format!(
            "  Code:     {}{}",
            cell_count(&bundle),
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
/// The stored title (the user's, the model's or the imported one), and a
/// summary made current here: the chat refreshes it only every few turns.
/// Without a model, or for an import nothing was added to, what is stored.
fn title_and_summary(session: &Session, messages: &[Message]) -> (String, String) {
    let added_here = messages
        .iter()
        .any(|m| m.meta().get("imported") != Some(&Value::Bool(true)));
    if !session.title.is_empty() && !session.summary.is_empty() && !added_here {
        return (session.title.clone(), session.summary.clone());
    }
    let said = messages
        .iter()
        .filter(|m| m.role == "user" || m.role == "assistant")
        .map(|m| (m.role.as_str(), m.content.as_str()));
    let prompt = format::naming::prompt(&session.task, &session.summary, said);
    let request = CompletionRequest {
        role: ModelRole::Coding,
        messages: vec![ChatMessage {
            role: "user".into(),
            content: prompt,
        }],
        max_tokens: Some(400),
        temperature: None,
    };
    let generated = llm::complete(&request)
        .ok()
        .and_then(|c| format::naming::parse(&c.text));
    let (title, summary) = generated.unwrap_or_default();
    let title = [&session.title, &title]
        .into_iter()
        .find(|t| !t.is_empty())
        .cloned()
        .unwrap_or_else(|| format::naming::heuristic(&session.task));
    let summary = if summary.is_empty() {
        session.summary.clone()
    } else {
        summary
    };
    (title, summary)
}

/// What `--dry-run` shows: what the file would hide and where, nothing
/// written.
fn dry_run_report(bundle: &Bundle, redaction: &Redaction, format: &str) -> String {
    const SHOWN: usize = 20;
    let mut lines = vec![
        format!(
            "Dry run: nothing written. Would export \"{}\" ({}).",
            one_line(&bundle.title),
            format
        ),
        format!("  Redacted: {}", describe_redactions(&redaction.in_file)),
    ];
    let now: u64 = redaction.found_now.values().sum();
    let stored: u64 = redaction.in_file.values().sum::<u64>().saturating_sub(now);
    if stored + now > 0 {
        lines.push(format!(
            "  {stored} taken out when the session was stored, {now} found only now: {}",
            describe_redactions(&redaction.found_now)
        ));
    }
    for (place, snippet) in redaction.places.iter().take(SHOWN) {
        lines.push(format!("  {place}: {snippet}"));
    }
    if redaction.places.len() > SHOWN {
        lines.push(format!(
            "  … and {} more",
            chat::count((redaction.places.len() - SHOWN) as u64, "place", "places")
        ));
    }
    lines.join("\n")
}

fn describe_redactions(counts: &BTreeMap<String, u64>) -> String {
    if counts.is_empty() {
        return "nothing".into();
    }
    counts
        .iter()
        .map(|(kind, n)| chat::count(*n, kind, &format!("{kind}s")))
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
fn write_unique(slug: &str, stamp: &str, extension: &str, bytes: &[u8]) -> Result<String, String> {
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
                format!("{dir}/{slug}_{stamp}.{extension}")
            } else {
                format!("{dir}/{slug}_{stamp}-{n}.{extension}")
            }
        })
        .find_map(|path| match std::fs::hard_link(&temp, &path) {
            Ok(()) => Some(Ok(path)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => None,
            Err(e) => Some(Err(io(e))),
        })
        .unwrap_or_else(|| Err(format!("too many exports named {slug}_{stamp} in {dir}")));
    // Linked or not, the temp name must go; if it will not, the next export's sweep takes it.
    if let Err(e) = std::fs::remove_file(&temp) {
        chat::print_error(&format!("warning: cannot remove {temp}: {e}"));
    }
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
