//! Write anton slash-command plugins in Rust.
//!
//! Implement [`Plugin`], register it with [`register_plugin!`], and build with
//! `cargo build --release --target wasm32-wasip2`. Every host interface has a
//! typed wrapper here ([`chat`], [`storage`], [`llm`], [`log`], [`vault`],
//! since WIT 0.2.0 [`session_io`] and [`file_io`] for sessions and files of
//! any size, and since 0.3.0 [`remote`] for the team's share remote); host errors arrive as [`HostError`] values in a `Result`, never
//! as traps.

#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "wit",
        world: "plugin",
        pub_export_macro: true,
        export_macro_name: "export_plugin_component",
        default_bindings_module: "anton_plugin_sdk::bindings",
        // The 0.1.0 interfaces come from a package of their own (deps/).
        generate_all,
    });
}

mod args;
pub mod chat;
pub mod file_io;
pub mod llm;
pub mod log;
pub mod remote;
pub mod session;
pub mod session_io;
pub mod storage;
pub mod vault;

pub use args::Args;
pub use bindings::anton::plugin0_1_0::types::{HostError, Message, Provenance, Session, SessionStatus, Timestamp};
pub use bindings::exports::anton::plugin0_1_0::command::{
    Action, CommandKind, CommandSpec, Invocation, LaunchFlag, Origin, Outcome, Subcommand,
};
pub use session::Role;

/// The WIT package version this SDK builds against.
pub const WIT_VERSION: &str = "0.3.0";

/// The plugin's command table, from its `anton-plugin.toml` at build time:
/// commands are declared once, in the manifest. `register_plugin!` uses it.
pub use anton_plugin_sdk_macros::manifest_commands;

/// A plugin: one or more commands, declared in its `anton-plugin.toml`. One
/// instance lives as long as the host keeps the plugin loaded, so fields
/// may carry state between runs.
pub trait Plugin: 'static {
    fn new() -> Self
    where
        Self: Sized;

    /// Run one command. `Err` is a message for the user; the host prints it
    /// naming the plugin and exits 1 on the command line.
    fn run(&mut self, invocation: &Invocation) -> Result<Outcome, String>;
}

impl Outcome {
    pub fn ok() -> Self {
        Outcome {
            exit_code: 0,
            action: None,
        }
    }
    pub fn exit(code: u8) -> Self {
        Outcome {
            exit_code: code,
            action: None,
        }
    }
    pub fn switch_session(id: impl Into<String>) -> Self {
        Outcome {
            exit_code: 0,
            action: Some(Action::SwitchSession(id.into())),
        }
    }
}

impl Invocation {
    /// This command's usage line, from the manifest ("share export | …").
    pub fn usage(&self) -> String {
        runtime::spec_of(&self.command).usage
    }

    /// How the user runs `command` from where this one was typed: `/name`
    /// in the chat, `` `anton name` `` in a shell.
    pub fn how_to_run(&self, command: &str) -> String {
        match self.origin {
            Origin::Chat => format!("/{command}"),
            Origin::Cli | Origin::Launch => format!("`anton {command}`"),
        }
    }

    /// "unknown option --x; usage: /share …" (`` `anton share …` `` in a
    /// shell): what went wrong, then how to say it.
    pub fn usage_error(&self, what: &str) -> String {
        let joint = if what.ends_with('?') { " " } else { "; " };
        format!("{what}{joint}usage: {}", self.how_to_run(&self.usage()))
    }

    /// For a first word that is none of this command's subcommands: the
    /// nearest one, if it is close, and the usage.
    pub fn unknown_subcommand(&self, given: &str) -> String {
        let spec = runtime::spec_of(&self.command);
        let hint = closest(given, spec.subcommands.iter().map(|s| s.name.as_str()))
            .map(|name| format!("did you mean {}? ", self.how_to_run(&format!("{} {name}", spec.name))))
            .unwrap_or_default();
        format!(
            "unknown {} command '{}'; {hint}usage: {}",
            spec.name,
            chat::one_line(given),
            self.how_to_run(&self.usage())
        )
    }
}

impl CommandSpec {
    /// A command with no aliases, subcommands or launch flags.
    pub fn new(name: &str, kind: CommandKind, summary: &str, usage: &str) -> Self {
        CommandSpec {
            name: name.into(),
            aliases: Vec::new(),
            summary: summary.into(),
            usage: usage.into(),
            subcommands: Vec::new(),
            kind,
            launch_flags: Vec::new(),
        }
    }
}

impl HostError {
    /// The host's words alone, for a line that says itself what failed.
    pub fn reason(&self) -> &str {
        match self {
            HostError::Denied(m) | HostError::NotFound(m) | HostError::Invalid(m) | HostError::Failed(m) => m,
        }
    }

    /// The error as a line for the user.
    pub fn message(&self) -> String {
        match self {
            HostError::Denied(m) => format!("denied: {m}"),
            HostError::NotFound(m) => format!("not found: {m}"),
            HostError::Invalid(m) => format!("invalid: {m}"),
            HostError::Failed(m) => format!("failed: {m}"),
        }
    }
}

impl From<HostError> for String {
    fn from(error: HostError) -> String {
        error.message()
    }
}

#[doc(hidden)]
pub mod runtime {
    use super::*;
    use std::cell::RefCell;

    thread_local! {
        static INSTANCE: RefCell<Option<Box<dyn Plugin>>> = const { RefCell::new(None) };
    }

    fn with_plugin<P: Plugin, R>(f: impl FnOnce(&mut dyn Plugin) -> R) -> R {
        INSTANCE.with(|cell| {
            let mut slot = cell.borrow_mut();
            let plugin = slot.get_or_insert_with(|| Box::new(P::new()));
            f(plugin.as_mut())
        })
    }

    thread_local! {
        static COMMANDS: RefCell<Vec<CommandSpec>> = const { RefCell::new(Vec::new()) };
    }

    pub fn run<P: Plugin>(invocation: Invocation, commands: Vec<CommandSpec>) -> Result<Outcome, String> {
        COMMANDS.with(|c| *c.borrow_mut() = commands);
        if invocation.args.iter().any(|a| a == "--help" || a == "-h") {
            let command = spec_of(&invocation.command);
            chat::print(&format!(
                "{}\n\nUsage: {}",
                command.summary,
                invocation.how_to_run(&command.usage)
            ));
            return Ok(Outcome::ok());
        }
        with_plugin::<P, _>(|p| p.run(&invocation))
    }

    /// The manifest's entry for `command` (a name or an alias).
    pub fn spec_of(command: &str) -> CommandSpec {
        COMMANDS.with(|c| {
            c.borrow()
                .iter()
                .find(|s| s.name == command || s.aliases.iter().any(|a| a == command))
                .cloned()
                .unwrap_or_else(|| CommandSpec::new(command, CommandKind::Both, "", command))
        })
    }
}

/// The name within three edits of `given`, for "did you mean" (as the
/// host's own).
pub fn closest<'a>(given: &str, names: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    names
        .into_iter()
        .map(|name| (strsim::levenshtein(given, name), name))
        .filter(|(edits, _)| *edits <= 3)
        .min_by_key(|(edits, _)| *edits)
        .map(|(_, name)| name)
}

/// Register the plugin type; call once at the crate root.
#[macro_export]
macro_rules! register_plugin {
    ($plugin:ty) => {
        struct __AntonPluginExport;
        impl $crate::bindings::exports::anton::plugin0_1_0::command::Guest for __AntonPluginExport {
            fn describe() -> ::std::vec::Vec<$crate::CommandSpec> {
                $crate::manifest_commands!()
            }
            fn run(
                invocation: $crate::Invocation,
            ) -> ::std::result::Result<$crate::Outcome, ::std::string::String> {
                $crate::runtime::run::<$plugin>(invocation, $crate::manifest_commands!())
            }
        }
        $crate::bindings::export_plugin_component!(__AntonPluginExport with_types_in $crate::bindings);
    };
}
