//! `share export`: a session written into a .anton file (or a transcript for
//! people) a page of messages at a time, redacted on the way out.

use std::io::{self, Write};

use anton_plugin_sdk::chat::{self, one_line};
use anton_plugin_sdk::file_io::{self, OutputFile};
use anton_plugin_sdk::llm::{self, ChatMessage, CompletionRequest, ModelRole};
use anton_plugin_sdk::storage::{self, ShareEntry};
use anton_plugin_sdk::{Args, Invocation, Message, Outcome, Session, session, session_io};
use anton_share_format::readable::{HtmlWriter, MarkdownWriter};
use anton_share_format::{self as format, Episode, Format, Head, Memory, SessionWriter, V01Writer, V1Writer};
use serde_json::{Value, json};

use crate::redaction::{Redaction, SHOWN};
use crate::{Counts, or_none, time};

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

    fn writer(
        self,
        target: Target,
        head: &Head,
        born: &[Memory],
        used: &[Memory],
    ) -> io::Result<Box<dyn SessionWriter<Target>>> {
        Ok(match self {
            Output::Anton(Format::V1) => Box::new(V1Writer::new(target, head, born, used, crate::host_sha256)?),
            Output::Anton(Format::V01) => Box::new(V01Writer::new(target, head, born, used)?),
            Output::Markdown => Box::new(MarkdownWriter::new(target, head, born, used)?),
            Output::Html => Box::new(HtmlWriter::new(target, head, born, used)?),
        })
    }
}

/// Where the rows go: the output file, or nowhere for a dry run.
enum Target {
    File(OutputFile),
    Nowhere,
}

impl Write for Target {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        match self {
            Target::File(file) => file.write(bytes),
            Target::Nowhere => Ok(bytes.len()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Target::File(file) => file.flush(),
            Target::Nowhere => Ok(()),
        }
    }
}

pub fn run(invocation: &Invocation, args: &Args) -> Result<Outcome, String> {
    export(invocation, args, &[], true)?;
    Ok(Outcome::ok())
}

/// A file an export wrote, and what the ledger says of it.
pub(crate) struct Exported {
    pub path: String,
    pub entry: ShareEntry,
}

/// Write the export `args` ask for and report it, in the ledger too when
/// `recorded` (a push records where it went instead, once it got there);
/// `None` for a dry run or an empty session. `valued` are the caller's own
/// options that take a value.
pub(crate) fn export(
    invocation: &Invocation,
    args: &Args,
    valued: &[&str],
    recorded: bool,
) -> Result<Option<Exported>, String> {
    let known: Vec<&str> = ["--summary", "--format", "--session", "--dry-run"]
        .into_iter()
        .chain(valued.iter().copied())
        .collect();
    if let Some(bad) = args.unknown_option(&known) {
        return Err(invocation.usage_error(&format!("unknown option {bad}")));
    }
    let valued: Vec<&str> = ["--format", "--session"]
        .into_iter()
        .chain(valued.iter().copied())
        .collect();
    if let Some(extra) = args.positionals(&valued).first() {
        return Err(invocation.usage_error(&format!("unexpected {}", one_line(extra))));
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
    if session.messages == 0 && session.summary.trim().is_empty() {
        chat::print("This session is empty; nothing to export.");
        return Ok(None);
    }
    let (title, summary) = {
        // Only the latest messages, cut to what naming quotes: a session's
        // whole texts never sit in memory while it is written.
        let recent = session_io::recent_messages(
            &session.id,
            format::naming::RECENT_MESSAGES as u32,
            format::naming::QUOTED_CHARS as u32,
        )?;
        title_and_summary(&session, &recent)
    };
    if !dry_run && summary != session.summary {
        // The file tells what the session is now; so does the session from here on.
        session_io::set_summary(&session.id, &summary)?;
    }
    let now = time::now_ms();
    let mut redaction = Redaction::default();
    let heads = redaction.redact(
        vec![
            title,
            summary,
            chat::user_name(),
            env!("CARGO_PKG_VERSION").into(),
            session.id.clone(),
            session.provenance.forked_from.clone().unwrap_or_default(),
        ],
        |i| {
            [
                "title",
                "summary",
                "exported by",
                "anton version",
                "session id",
                "forked from",
            ][i]
                .to_string()
        },
    );
    let [title, summary, exported_by, anton_version, session_id, forked_from] =
        <[String; 6]>::try_from(heads).map_err(|_| "the host's redaction lost a text".to_string())?;
    let head = Head {
        exported_by,
        exported_at: time::iso(now),
        anton_version,
        session_id,
        title,
        summary,
        summary_only,
        forked_from: Some(forked_from).filter(|parent| !parent.is_empty()),
        ..Head::default()
    };
    let (born, used, left_out) = memories(&session.id, &mut redaction)?;
    // A slug can join what redacting the title saw apart: redact it too.
    let slug = slug(&storage::redact(&[slug(&head.title)]).texts.concat());
    let name = format!("{slug}_{}.{}", time::file_stamp(now), output.extension());
    let target = match dry_run {
        true => Target::Nowhere,
        false => Target::File(file_io::create_output(&name)?),
    };
    let cannot = |e: io::Error| format!("cannot write {name}: {e}");
    let mut writer = output.writer(target, &head, &born, &used).map_err(cannot)?;
    let mut counts = Counts {
        born: born.len(),
        used: used.len(),
        ..Counts::default()
    };
    if !summary_only {
        let mut messages = session_io::messages(&session.id, true)?;
        for page in &mut messages {
            for m in page? {
                if m.role.starts_with("memory_") {
                    continue;
                }
                counts.messages += 1;
                let n = counts.messages;
                redaction.note(&m.content, || format!("message {n} ({})", m.role));
                redaction.note(&m.meta, || format!("message {n} ({}) meta", m.role));
                writer.episode(&episode(m, &head.session_id)).map_err(cannot)?;
            }
        }
        redaction.found(messages.redactions());
    }
    let mut cells = session_io::cells(&session.id, true)?;
    for page in &mut cells {
        for c in page? {
            counts.cells += 1;
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
            note_cell(&mut redaction, counts.cells, &cell);
            writer.cell(&cell).map_err(cannot)?;
        }
    }
    redaction.found(cells.redactions());
    let target = writer.finish(&redaction.in_file).map_err(cannot)?;
    let file = match target {
        Target::File(file) => file.finish()?,
        Target::Nowhere => {
            chat::print(&dry_run_report(&head, &redaction, output.name()));
            return Ok(None);
        }
    };
    let entry = ShareEntry {
        direction: "export".into(),
        path: file.path.clone(),
        sha256: file.sha256,
        title: head.title.clone(),
        who: head.exported_by.clone(),
        at: now,
        format: crate::ledger_format(output.name(), summary_only),
        session_id: Some(session.id.clone()),
        file_exists: true,
    };
    if recorded {
        storage::record_share(&entry)?;
    }
    let mut lines = vec![
        "Session exported".to_string(),
        format!("  File:     {}", file.path),
        format!("  Title:    {}", one_line(&head.title)),
        chat::labelled("  Summary:  ", or_none(&head.summary)),
        format!("  Memory:   {}{}", counts.memories(), memories_left_out(left_out)),
        format!(
            "  Code:     {}{}",
            counts.cells(),
            if summary_only { " (code only, no outputs)" } else { "" }
        ),
    ];
    lines.push(format!("  Redacted: {}", describe_redactions(&redaction.in_file)));
    if summary_only {
        lines.push("  Light file: title, summary, memory and code; no conversation.".into());
    }
    chat::print(&lines.join("\n"));
    Ok(Some(Exported { path: file.path, entry }))
}

/// A stored message as the file's row.
fn episode(m: Message, session_id: &str) -> Episode {
    Episode {
        ts: time::iso(m.created_at),
        session: session_id.to_string(),
        turn: m.turn,
        role: m.role,
        content: m.content,
        meta: serde_json::from_str(&m.meta).unwrap_or_else(|_| json!({})),
    }
}

fn note_cell(redaction: &mut Redaction, n: usize, cell: &format::Cell) {
    for (what, text) in [
        ("pad", &cell.pad),
        ("code", &cell.code),
        ("output", &cell.stdout),
        ("errors", &cell.stderr),
        ("description", &cell.description),
    ]
    .into_iter()
    .chain(cell.error.as_ref().map(|e| ("error", e)))
    {
        redaction.note(text, || format!("cell {n} {what}"));
    }
}

/// " (3 left out: a file carries 10000 memories of 2.0 MiB together)" when any were.
fn memories_left_out(left_out: usize) -> String {
    match left_out {
        0 => String::new(),
        n => format!(
            " ({n} left out: a file carries {} memories of {} together)",
            format::MAX_MEMORIES,
            format::human_size(format::MAX_MEMORY_BYTES as u64)
        ),
    }
}

/// The memories the session wrote and those it was given, redacted, as
/// many as a file carries (those born here first), and how many were left out.
fn memories(session_id: &str, redaction: &mut Redaction) -> Result<(Vec<Memory>, Vec<Memory>, usize), String> {
    let records = storage::session_memories(session_id)?;
    let texts = records.iter().flat_map(|m| [m.text.clone(), m.topic.clone()]).collect();
    let mut redacted = redaction
        .redact(texts, |i| {
            let m = &records[i / 2];
            let what = if m.born {
                "session-born memory"
            } else {
                "project memory"
            };
            format!("{what} {}", i / 2 + 1)
        })
        .into_iter();
    let (mut born, mut used) = (Vec::new(), Vec::new());
    for record in &records {
        let memory = Memory {
            content: redacted.next().unwrap_or_default(),
            topic: redacted.next().unwrap_or_default(),
            kind: record.kind.clone(),
        };
        match record.born {
            true => born.push(memory),
            false => used.push(memory),
        }
    }
    let (mut room, mut kept) = (format::MAX_MEMORY_BYTES, 0);
    let mut fits = |m: &Memory| {
        let bytes = m.content.len() + m.topic.len();
        let fit = kept < format::MAX_MEMORIES && bytes <= room;
        if fit {
            room -= bytes;
            kept += 1;
        }
        fit
    };
    born.retain(&mut fits);
    used.retain(&mut fits);
    // The host hands out what a file carries; redaction may have lengthened some.
    let details = storage::session_details(session_id)?;
    let recorded = (details.memories_born + details.memories_used) as usize;
    let left_out = recorded.max(records.len()) - born.len() - used.len();
    Ok((born, used, left_out))
}

/// The stored title (the user's, the model's or the imported one), and a
/// summary made current here: the chat refreshes it only every few turns.
/// Without a model, or for an import nothing was added to, what is stored.
fn title_and_summary(session: &Session, recent: &[Message]) -> (String, String) {
    // What the chat adds comes after what an import brought.
    let added_here = recent
        .iter()
        .any(|m| m.meta().get("imported") != Some(&Value::Bool(true)));
    if !session.title.is_empty() && !session.summary.is_empty() && !added_here {
        return (session.title.clone(), session.summary.clone());
    }
    let said = recent
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
fn dry_run_report(head: &Head, redaction: &Redaction, format: &str) -> String {
    let mut lines = vec![
        format!(
            "Dry run: nothing written. Would export \"{}\" ({}).",
            one_line(&head.title),
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
    for (place, snippet) in &redaction.places {
        lines.push(format!("  {place}: {snippet}"));
    }
    if redaction.place_count > SHOWN {
        lines.push(format!(
            "  … and {} more",
            chat::count((redaction.place_count - SHOWN) as u64, "place", "places")
        ));
    }
    lines.join("\n")
}

fn describe_redactions(counts: &std::collections::BTreeMap<String, u64>) -> String {
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
    crate::slug(title, 60).unwrap_or_else(|| "session".into())
}
