//! Stands in for the built-in `sessions` command in one workspace.

use anton_plugin_sdk::{CommandKind, CommandSpec, Invocation, Outcome, Plugin, chat, register_plugin};

struct TeamSessions;

impl Plugin for TeamSessions {
    fn new() -> Self {
        TeamSessions
    }

    fn commands(&self) -> Vec<CommandSpec> {
        vec![CommandSpec::new(
            "sessions",
            CommandKind::Both,
            "The team's session list",
            "sessions",
        )]
    }

    fn run(&mut self, _invocation: &Invocation) -> Result<Outcome, String> {
        chat::print("team sessions: served by the workspace plugin");
        Ok(Outcome::ok())
    }
}

register_plugin!(TeamSessions);
