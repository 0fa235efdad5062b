//! `/resume`, `anton --resume` / `-r` and `--continue` / `-c`.

use anton_plugin_sdk::{
    CommandKind, CommandSpec, Invocation, LaunchFlag, Outcome, Plugin, register_plugin,
};

struct Resume;

impl Plugin for Resume {
    fn new() -> Self {
        Resume
    }

    fn commands(&self) -> Vec<CommandSpec> {
        let mut resume = CommandSpec::new(
            "resume",
            CommandKind::Slash,
            "Continue an earlier session",
            "/resume [id|prefix]",
        );
        resume.launch_flags = vec![
            LaunchFlag {
                long: "resume".into(),
                short: Some('r'),
                value_name: Some("ID".into()),
                summary: "Pick a session to continue, or continue session ID".into(),
            },
            LaunchFlag {
                long: "continue".into(),
                short: Some('c'),
                value_name: None,
                summary: "Continue the most recent session".into(),
            },
        ];
        vec![resume]
    }

    fn run(&mut self, _invocation: &Invocation) -> Result<Outcome, String> {
        Err("resuming needs the chat, which this build of anton does not have yet".into())
    }
}

register_plugin!(Resume);
