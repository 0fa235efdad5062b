//! `/share export | export --summary | import <file> | status | history`.

use anton_plugin_sdk::{CommandKind, CommandSpec, Invocation, Outcome, Plugin, Subcommand, register_plugin};

struct Share;

const SUBCOMMANDS: [(&str, &str); 4] = [
    (
        "export",
        "Pack this session into a .anton file (--summary for the light one)",
    ),
    ("import", "Open a .anton file as a new session"),
    ("status", "Where this session came from and went to"),
    ("history", "Every export and import in this workspace"),
];

impl Plugin for Share {
    fn new() -> Self {
        Share
    }

    fn commands(&self) -> Vec<CommandSpec> {
        let mut share = CommandSpec::new(
            "share",
            CommandKind::Both,
            "Export, import and track shared sessions",
            "share export [--summary] | import <file> | status | history [--json]",
        );
        share.subcommands = SUBCOMMANDS
            .iter()
            .map(|(name, summary)| Subcommand {
                name: name.to_string(),
                summary: summary.to_string(),
            })
            .collect();
        vec![share]
    }

    fn run(&mut self, _invocation: &Invocation) -> Result<Outcome, String> {
        Err("sharing needs the chat, which this build of anton does not have yet".into())
    }
}

register_plugin!(Share);
