//! `/stats`: an example of the SDK — arguments, storage reads, a table, JSON.
//! It describes the session a command is about: the chat's, the most recent
//! one on the command line, or `--session ID`.

use std::collections::BTreeMap;

use anton_plugin_sdk::{Args, Invocation, Outcome, Plugin, Role, chat, register_plugin, session, storage};
use serde_json::json;

struct Stats;

impl Plugin for Stats {
    fn new() -> Self {
        Stats
    }

    fn run(&mut self, invocation: &Invocation) -> Result<Outcome, String> {
        let args = Args::new(&invocation.args);
        let session = session::about(invocation, &args)?;
        let (mut roles, mut tools) = (BTreeMap::<String, u64>::new(), BTreeMap::<String, u64>::new());
        let (mut tokens_in, mut tokens_out) = (0, 0);
        for message in storage::messages(&session.id, 0)? {
            let meta = message.meta();
            tokens_in += meta.get("input_tokens").and_then(|v| v.as_u64()).unwrap_or(0);
            tokens_out += meta.get("output_tokens").and_then(|v| v.as_u64()).unwrap_or(0);
            *roles.entry(message.role.clone()).or_default() += 1;
            if message.role() == Some(Role::ToolCall) {
                let tool = meta.get("tool").and_then(|v| v.as_str()).unwrap_or("?");
                *tools.entry(tool.to_string()).or_default() += 1;
            }
        }
        if args.flag("--json") {
            let value = json!({"session": session.id, "turns": session.turns, "messages": roles,
                "tools": tools, "input_tokens": tokens_in, "output_tokens": tokens_out});
            chat::print_json(&value.to_string());
            return Ok(Outcome::ok());
        }
        let mut rows = vec![
            vec!["turns".to_string(), session.turns.to_string()],
            vec!["tokens in".to_string(), tokens_in.to_string()],
            vec!["tokens out".to_string(), tokens_out.to_string()],
        ];
        rows.extend(
            roles
                .into_iter()
                .map(|(role, n)| vec![format!("{role} messages"), n.to_string()]),
        );
        rows.extend(
            tools
                .into_iter()
                .map(|(tool, n)| vec![format!("{tool} calls"), n.to_string()]),
        );
        chat::print(&format!("Session {}", session.id));
        chat::print_table(&["What", "Count"], &[], rows);
        Ok(Outcome::ok())
    }
}

register_plugin!(Stats);
