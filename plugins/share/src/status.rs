//! `share status`: where a session came from and went to, and its data sources.

use anton_plugin_sdk::chat::{self, TimeStyle, one_line};
use anton_plugin_sdk::storage::{self, ShareEntry};
use anton_plugin_sdk::{Args, Invocation, Outcome, Role, session};

use crate::or_none;

pub fn run(invocation: &Invocation, args: &Args) -> Result<Outcome, String> {
    let session = session::about(invocation, args)?;
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
        let how = match crate::on_remote(&e.path) {
            true => "pushed to ",
            false => "",
        };
        lines.push(format!(
            "  Shared:   {} → {how}{}{missing}",
            when(e.at),
            one_line(&e.path)
        ));
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
                    "    ! {reference} · not connected here (connect it with {})",
                    invocation.how_to_run(&format!("connect {engine}"))
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
        .filter(|m| m.role() == Some(Role::ToolCall))
    {
        let meta = message.meta();
        for reference in meta
            .get("datasources")
            .and_then(|v| v.as_array())
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str())
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
