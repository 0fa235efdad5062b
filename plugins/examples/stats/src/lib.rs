//! `/stats`: an example of the SDK — arguments, storage reads, a table, JSON.
//!
//! In the chat it describes the current session; on the command line the
//! most recent one, or `--session ID`.

use std::collections::BTreeMap;

use anton_plugin_sdk::storage::{self, Lookup, SessionQuery};
use anton_plugin_sdk::{Args, CommandKind, CommandSpec, Invocation, Outcome, Plugin, chat, register_plugin};
use serde_json::{Value, json};

struct Stats;

impl Plugin for Stats {
    fn new() -> Self {
        Stats
    }

    fn commands(&self) -> Vec<CommandSpec> {
        vec![CommandSpec::new(
            "stats",
            CommandKind::Both,
            "Counts, tokens and tools of the current session",
            "stats [--session ID] [--json]",
        )]
    }

    fn run(&mut self, invocation: &Invocation) -> Result<Outcome, String> {
        let args = Args::new(&invocation.args);
        let id = match args
            .value("--session")?
            .map(str::to_string)
            .or_else(chat::current_session)
        {
            Some(id) => id,
            None => {
                let latest = SessionQuery {
                    limit: 1,
                    status: None,
                    search: None,
                    include_empty: false,
                };
                match storage::list_sessions(&latest)?.into_iter().next() {
                    Some(hit) => hit.session.id,
                    None => return Err("no sessions yet".into()),
                }
            }
        };
        let session = match storage::find_session(&id)? {
            Lookup::Found(session) => session,
            _ => return Err(format!("session {id} not found")),
        };
        let mut roles: BTreeMap<String, u64> = BTreeMap::new();
        let mut tools: BTreeMap<String, u64> = BTreeMap::new();
        let (mut input_tokens, mut output_tokens) = (0u64, 0u64);
        for message in storage::messages(&session.id, 0)? {
            *roles.entry(message.role.clone()).or_default() += 1;
            let meta: Value = serde_json::from_str(&message.meta).unwrap_or_default();
            input_tokens += meta["input_tokens"].as_u64().unwrap_or(0);
            output_tokens += meta["output_tokens"].as_u64().unwrap_or(0);
            if message.role == "tool_call" {
                *tools
                    .entry(meta["tool"].as_str().unwrap_or("?").to_string())
                    .or_default() += 1;
            }
        }
        if args.flag("--json") {
            let value = json!({
                "session": session.id, "turns": session.turns, "messages": roles,
                "tools": tools, "input_tokens": input_tokens, "output_tokens": output_tokens,
            });
            chat::print_json(&value.to_string());
            return Ok(Outcome::ok());
        }
        let mut rows = vec![
            vec!["turns".to_string(), session.turns.to_string()],
            vec!["tokens in".to_string(), input_tokens.to_string()],
            vec!["tokens out".to_string(), output_tokens.to_string()],
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
