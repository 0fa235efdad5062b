//! `share history`: every export and import in this workspace, pushes and
//! pulls through the team remote among them.

use anton_plugin_sdk::chat::{self, TimeStyle};
use anton_plugin_sdk::storage;
use anton_plugin_sdk::{Args, Invocation, Outcome};
use serde_json::{Value, json};

pub fn run(invocation: &Invocation, args: &Args) -> Result<Outcome, String> {
    if let Some(bad) = args.unknown_option(&["--json"]) {
        return Err(invocation.usage_error(&format!("unknown option {bad}")));
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
                    "remote": crate::on_remote(&e.path),
                    "file_exists": e.file_exists,
                    "sha256": e.sha256,
                    "format": e.format,
                    "kind": crate::ledger_kind(&e.format),
                    "session_id": e.session_id,
                })
            })
            .collect();
        chat::print_json(&serde_json::to_string_pretty(&rows).map_err(|e| e.to_string())?);
        return Ok(Outcome::ok());
    }
    if entries.is_empty() {
        chat::print(&format!(
            "No exports or imports in this workspace yet. {} makes one.",
            invocation.how_to_run("share export")
        ));
        return Ok(Outcome::ok());
    }
    let workspace = chat::workspace_dir();
    let output = format!("{}/.anton/output/", workspace.trim_end_matches('/'));
    let rows = entries
        .into_iter()
        .map(|e| {
            // Files anton wrote are named in its output folder; others by path.
            let path = e.path.strip_prefix(&output).unwrap_or(&e.path);
            let file = if e.file_exists {
                path.to_string()
            } else {
                format!("{path} (missing)")
            };
            vec![
                chat::format_time(e.at, TimeStyle::Relative),
                format!("{} · {}", crate::ledger_verb(&e), crate::ledger_kind(&e.format)),
                e.title,
                file,
            ]
        })
        .collect();
    // The file's name is what the user looks for; the title gives way first.
    chat::print_table(&["When", "What", "Title", "File"], &["Title"], rows);
    Ok(Outcome::ok())
}
