//! Slash commands: anton's own (/help, /plugins, /done, /rename) and the plugins', with Tab completion and "did you mean".

use super::journal::Record;
use super::{Chat, input};
use crate::interfaces::latest::command::{Action, Origin};
use crate::plugin_host::Dispatch;
use crate::terminal;

/// anton's own slash commands: name, what it does, subcommands.
const OWN_COMMANDS: &[(&str, &str, &[&str])] = &[
    ("help", "this list", &[]),
    ("exit", "leave the chat (also exit, quit, Ctrl-D)", &[]),
    (
        "plugins",
        "list plugins; /plugins reload picks up rebuilt ones",
        &["list", "reload"],
    ),
    ("done", "mark this session completed and start afresh", &[]),
    ("rename", "give this session a title of your own", &[]),
    (
        "fork",
        "continue in a new session with this one's history: /fork [title] [--at TURN]",
        &[],
    ),
];

/// The longest title `/rename` keeps.
const TITLE_CHARS: usize = 120;

impl Chat<'_> {
    /// From the manifests: nothing is instantiated to offer Tab completion.
    pub(super) fn slash_completions(&self) -> Vec<(String, Vec<String>)> {
        let mut out: Vec<(String, Vec<String>)> = OWN_COMMANDS
            .iter()
            .map(|(name, _, subcommands)| (name.to_string(), subcommands.iter().map(|s| s.to_string()).collect()))
            .collect();
        for (command, _) in self.app.plugins.catalog.commands() {
            if command.kind.is_slash() {
                let subcommands = command.subcommands.iter().map(|s| s.name.clone()).collect();
                out.push((command.name.clone(), subcommands));
            }
        }
        out
    }

    pub(super) fn slash(&mut self, line: &str) {
        let mut words = input::split_args(&line[1..]);
        if words.is_empty() {
            return self.help();
        }
        let name = words.remove(0);
        if name == "help" {
            return self.help();
        }
        if name == "plugins" {
            return self.plugins(&words);
        }
        if name == "done" {
            return self.done();
        }
        if name == "rename" {
            return self.rename(&words);
        }
        if name == "fork" {
            return self.fork(&words);
        }
        match self.app.plugins.dispatch(&name, words, Origin::Chat) {
            Dispatch::Ran(Ok(outcome)) => {
                if let Some(Action::SwitchSession(id)) = outcome.action {
                    self.switch_to(&id);
                }
            }
            Dispatch::Ran(Err(failure)) => println!("error: {}", terminal::sanitize_line(&failure.to_string())),
            Dispatch::Unavailable(why) => println!("{}", terminal::sanitize(&why)),
            Dispatch::Unknown => {
                let names: Vec<String> = self.slash_names();
                let hint = terminal::nearest(&name, &names)
                    .map(|n| format!(" Did you mean /{n}?"))
                    .unwrap_or_default();
                println!(
                    "Unknown command /{}.{hint} /help lists them.",
                    terminal::sanitize_line(&name)
                );
            }
        }
    }
    /// `/plugins [list]` and `/plugins reload` (pick up rebuilt or newly
    /// installed plugins without leaving the chat).
    pub(super) fn plugins(&mut self, args: &[String]) {
        match args.first().map(String::as_str) {
            None | Some("list") => {
                if let Err(e) = crate::plugins_command::list(self.app, false) {
                    println!("error: {}", terminal::sanitize(&e));
                }
            }
            Some("reload") => match self.app.reload_plugins() {
                Ok(()) => {
                    let runnable: Vec<&str> = self
                        .app
                        .plugins
                        .catalog
                        .records
                        .iter()
                        .filter(|r| r.runnable())
                        .map(|r| r.id())
                        .collect();
                    println!("Reloaded plugins: {}.", runnable.join(", "));
                }
                Err(e) => println!("error: {e}"),
            },
            Some(other) => println!(
                "/plugins takes list or reload, not {}; install and trust from a shell with `anton plugins`.",
                terminal::sanitize_line(other)
            ),
        }
    }

    /// `/rename <title>`: the user's own title, which no automatic or
    /// imported one replaces.
    fn rename(&mut self, words: &[String]) {
        let title = self.typed_title(words);
        if title.is_empty() {
            return println!("Usage: /rename <title>");
        }
        let Some(live) = &self.live else {
            return println!("No session yet: say something first, or /resume one.");
        };
        let session = live.id.clone();
        self.journal.write(Record::Title {
            session: session.clone(),
            title: title.clone(),
            by_user: true,
        });
        println!("Renamed session {session} to \"{title}\".");
    }

    /// A title as typed: one line, scrubbed, no terminal controls, capped.
    fn typed_title(&self, words: &[String]) -> String {
        let title = terminal::sanitize_line(&self.scrubber().scrub(&words.join(" ")));
        let title: String = title.split_whitespace().collect::<Vec<_>>().join(" ");
        title.chars().take(TITLE_CHARS).collect()
    }

    /// `/fork [title] [--at TURN]`: a new session with this one's history
    /// (up to TURN), which the chat continues in; this one stays as it was.
    fn fork(&mut self, words: &[String]) {
        const USAGE: &str = "Usage: /fork [title] [--at TURN]";
        let Some(live) = &self.live else {
            return println!("No session yet: say something first, or /resume one.");
        };
        let (mut at, mut title) = (None, Vec::new());
        let mut words = words.iter();
        while let Some(word) = words.next() {
            if word != "--at" {
                title.push(word.clone());
                continue;
            }
            match words.next().and_then(|n| n.parse::<u32>().ok()) {
                Some(turn) if turn >= 1 && turn <= live.turns => at = Some(turn),
                _ => return println!("--at takes a turn from 1 to {}. {USAGE}", live.turns),
            }
        }
        let title = self.typed_title(&title);
        let parent = live.id.clone();
        // The fork copies what is stored: the latest turns must be there.
        if !self.journal.flush() {
            return println!("Not forked: this session's latest writes have not reached the store yet.");
        }
        match self
            .journal
            .with_store(|s| s.fork_session(&parent, at, Some(&title).filter(|t| !t.is_empty()).map(String::as_str)))
        {
            Ok(fork) => {
                println!("Forked {parent} into {}; {parent} stays as it was.", fork.id);
                self.switch_to(&fork.id);
            }
            Err(e) => println!("error: {}", terminal::sanitize(&e.0)),
        }
    }

    pub(super) fn slash_names(&self) -> Vec<String> {
        let mut names: Vec<String> = OWN_COMMANDS.iter().map(|(name, ..)| name.to_string()).collect();
        for (command, _) in self.app.plugins.catalog.commands() {
            if command.kind.is_slash() {
                names.push(command.name.clone());
            }
        }
        names
    }

    pub(super) fn help(&self) {
        println!("{}", terminal::bold("Commands"));
        for (name, summary, _) in OWN_COMMANDS {
            println!("  /{name:<15} {summary}");
        }
        let mut last_plugin = String::new();
        for (command, record) in self.app.plugins.catalog.commands() {
            if !command.kind.is_slash() {
                continue;
            }
            if record.id() != last_plugin {
                last_plugin = record.id().to_string();
                println!(
                    "{}",
                    terminal::bold(&format!(
                        "{} ({} plugin)",
                        terminal::sanitize_line(record.manifest.display_name()),
                        record.source
                    ))
                );
            }
            println!("  /{:<15} {}", command.name, terminal::sanitize_line(&command.summary));
        }
    }
}
