//! The interactive session: read a line, run a slash command through its
//! plugin or a turn through the model, store everything as it happens.

mod commands;
mod context;
mod imported;
mod input;
mod journal;
mod session;
mod title;
mod tools;
mod turn;

use std::collections::HashSet;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::app::{App, OutsideChanges};
use crate::llm::Message;
use crate::scratchpad::Pads;
use crate::scrub::Scrubber;
use crate::store::Status;
use crate::terminal;
use input::{Input, Read, SlashCompletion};
use journal::Journal;

/// Model replies and tool runs in one turn, at most.
const MAX_ROUNDS: usize = 12;
const MAX_TOKENS: u32 = 8192;
/// A second Ctrl-C at an empty prompt this soon after the first leaves.
const SECOND_PRESS: Duration = Duration::from_secs(1);

/// The session the chat is in.
struct Live {
    id: String,
    turns: u32,
    history: Vec<Message>,
    /// Project memories already recorded as given to this session.
    memories_given: HashSet<String>,
    /// What the session's status becomes when the chat leaves it.
    leaving_status: Status,
    /// What an imported session came with: it keeps that title, and that
    /// summary stays the goal of every refresh.
    imported: Option<Imported>,
}

struct Imported {
    summary: String,
}

pub struct Chat<'a> {
    app: &'a mut App,
    journal: Journal,
    pads: Pads,
    live: Option<Live>,
    interactive: bool,
    /// Whether a memory file that cannot be read was reported already.
    memory_warned: bool,
    /// Whether unreviewed project memories were asked about in this chat.
    memory_asked: bool,
    naming: Option<title::Naming>,
    /// The plugin settings and vault as this chat last read them.
    outside: OutsideChanges,
}

/// Open the chat, optionally in session `resume`, and run it until the user leaves.
pub fn run(app: &mut App, resume: Option<String>) -> Result<ExitCode, String> {
    let paths = app.paths.clone();
    // Before anything reads the settings: a yes here changes them.
    crate::workspace_trust::offer(&paths);
    app.services.write_store(|_| Ok(())).map_err(|e| e.0)?;
    let services = app.services.clone();
    if services.llm().is_none() {
        return Err("cannot start the runtime the model client needs".into());
    }
    let secrets = services.secrets();
    for bad in &secrets.unreadable {
        eprintln!(
            "warning: skipped data source {} ({})",
            terminal::sanitize_line(&bad.file.display().to_string()),
            terminal::sanitize_line(&bad.error)
        );
    }
    let pad_env = secrets.pad_env();
    let interactive = terminal::stdin_is_terminal();
    let mut chat = Chat {
        pads: Pads::new(paths.workspace.clone(), pad_env),
        app,
        journal: Journal::new(services.clone()),
        live: None,
        interactive,
        memory_warned: false,
        memory_asked: false,
        naming: None,
        outside: OutsideChanges::read(&paths),
    };
    chat.banner();
    if let Some(id) = resume {
        chat.switch_to(&id);
    }
    let completion = SlashCompletion {
        commands: chat.slash_completions(),
    };
    let history_services = services.clone();
    let scrub_line = Box::new(move |line: &str| history_services.secrets().scrubber.scrub(line));
    let mut input = Input::new(
        interactive,
        completion,
        &paths.user_data.join("history.txt"),
        scrub_line,
    );
    if interactive {
        chat.app.plugins.warm_up();
    }
    let mut interrupted: Option<Instant> = None;
    loop {
        let line = match input.read() {
            Read::Eof => break,
            Read::Interrupted => {
                if interrupted.is_some_and(|at| at.elapsed() < SECOND_PRESS) {
                    break;
                }
                interrupted = Some(Instant::now());
                println!("(Ctrl-C again or Ctrl-D to leave)");
                continue;
            }
            Read::Line(line) => line,
        };
        interrupted = None;
        chat.store_naming(false);
        let line = line.trim();
        if !line.is_empty() {
            chat.pick_up_outside_changes();
        }
        match line {
            "" => {}
            "exit" | "quit" | "bye" | "/exit" | "/quit" => break,
            _ if line.starts_with('/') => chat.slash(line),
            _ => chat.turn(line),
        }
    }
    chat.leave();
    Ok(ExitCode::SUCCESS)
}

impl Chat<'_> {
    /// What another shell changed since the last line: plugins enabled,
    /// disabled, installed or trusted; connections saved or removed.
    fn pick_up_outside_changes(&mut self) {
        let now = OutsideChanges::read(&self.app.paths);
        if now.vault_differs(&self.outside) {
            self.app.services.vault_changed();
        }
        if now.plugins_differ(&self.outside) {
            match self.app.reload_plugins() {
                Ok(()) => println!("Plugins changed in another shell; reloaded them."),
                Err(e) => println!("warning: plugins changed in another shell and cannot be reloaded: {e}"),
            }
        }
        self.outside = now;
    }

    /// The scrubber as it is now: a connection saved mid-chat is in it.
    pub(super) fn scrubber(&self) -> Arc<Scrubber> {
        self.app.services.secrets().scrubber.clone()
    }

    pub(super) fn banner(&self) {
        match &self.app.services.settings().planning {
            Ok(model) if self.interactive => {
                println!(
                    "anton {} · {} · {}/{}",
                    env!("CARGO_PKG_VERSION"),
                    terminal::sanitize_line(&self.app.paths.workspace.display().to_string()),
                    model.provider.name(),
                    model.model
                );
                println!("Type a message, /help for commands, Ctrl-D to leave.");
            }
            Ok(_) => {}
            Err(how) => eprintln!("No model configured: {how}. Slash commands still work."),
        }
    }
}
