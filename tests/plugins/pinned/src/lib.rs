//! Generated straight from `wit/since_v0.1.0`: if a later host stops serving
//! that version faithfully, this plugin stops loading and the test says so.

wit_bindgen::generate!({ path: "../../../wit/since_v0.1.0", world: "plugin" });

use anton::plugin::chat;
use exports::anton::plugin::command::{CommandKind, CommandSpec, Guest, Invocation, Outcome};

struct Pinned;

impl Guest for Pinned {
    fn describe() -> Vec<CommandSpec> {
        vec![CommandSpec {
            name: "pinned".into(),
            aliases: vec![],
            summary: "Answer from a plugin pinned to anton:plugin@0.1.0".into(),
            usage: "pinned".into(),
            subcommands: vec![],
            kind: CommandKind::Both,
            launch_flags: vec![],
        }]
    }

    fn run(invocation: Invocation) -> Result<Outcome, String> {
        let when = chat::format_time(0, chat::TimeStyle::Iso);
        chat::print(&format!("pinned 0.1.0 plugin ran `{}` ({when})", invocation.command));
        Ok(Outcome {
            exit_code: 0,
            action: None,
        })
    }
}

export!(Pinned);
