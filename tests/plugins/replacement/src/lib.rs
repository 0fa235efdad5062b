//! Stands in for the built-in `sessions` command in one workspace.

use anton_plugin_sdk::{Invocation, Outcome, Plugin, chat, register_plugin};

struct TeamSessions;

impl Plugin for TeamSessions {
    fn new() -> Self {
        TeamSessions
    }

    fn run(&mut self, _invocation: &Invocation) -> Result<Outcome, String> {
        chat::print("team sessions: served by the workspace plugin");
        Ok(Outcome::ok())
    }
}

register_plugin!(TeamSessions);
