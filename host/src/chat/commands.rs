//! Slash commands: anton's own (/help, /plugins, /done) and the plugins', with Tab completion and "did you mean".

use super::{Chat, input};
use crate::interfaces::latest::exports::anton::plugin::command::{Action, Origin};
use crate::plugin_host::Dispatch;
use crate::terminal;

impl Chat<'_> {
    /// From the manifests: nothing is instantiated to offer Tab completion.
    pub(super) fn slash_completions(&self) -> Vec<(String, Vec<String>)> {
        let mut out = vec![
            ("help".to_string(), Vec::new()),
            ("exit".to_string(), Vec::new()),
            ("plugins".to_string(), vec!["list".to_string(), "reload".to_string()]),
            ("done".to_string(), Vec::new()),
        ];
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
                "/plugins takes list or reload, not {other}; install and trust from a shell with `anton plugins`."
            ),
        }
    }

    pub(super) fn slash_names(&self) -> Vec<String> {
        let mut names = vec![
            "help".to_string(),
            "exit".to_string(),
            "plugins".to_string(),
            "done".to_string(),
        ];
        for (command, _) in self.app.plugins.catalog.commands() {
            if command.kind.is_slash() {
                names.push(command.name.clone());
            }
        }
        names
    }

    pub(super) fn help(&self) {
        println!("{}", terminal::bold("Commands"));
        println!("  /help            this list");
        println!("  /exit            leave the chat (also exit, quit, Ctrl-D)");
        println!("  /plugins         list plugins; /plugins reload picks up rebuilt ones");
        println!("  /done            mark this session completed and start afresh");
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
