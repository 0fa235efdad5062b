//! Lines from the user: a line editor with history and completion on a
//! terminal, plain lines from a pipe.

use std::path::Path;

use rustyline::completion::Completer;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::history::DefaultHistory;
use rustyline::validate::Validator;
use rustyline::{
    Cmd, ConditionalEventHandler, Context, Editor, Event, EventContext, EventHandler, Helper, KeyEvent, Movement,
    RepeatCount,
};

pub enum Read {
    Line(String),
    /// Ctrl-C at an empty prompt (with a draft, Ctrl-C clears the draft).
    Interrupted,
    Eof,
}

/// Slash commands and their subcommands, for Tab.
pub struct SlashCompletion {
    pub commands: Vec<(String, Vec<String>)>,
}

impl Completer for SlashCompletion {
    type Candidate = String;

    fn complete(&self, line: &str, pos: usize, _ctx: &Context<'_>) -> rustyline::Result<(usize, Vec<String>)> {
        let line = &line[..pos];
        let Some(rest) = line.strip_prefix('/') else {
            return Ok((pos, Vec::new()));
        };
        match rest.split_once(' ') {
            None => Ok((
                1,
                self.commands
                    .iter()
                    .filter(|(c, _)| c.starts_with(rest))
                    .map(|(c, _)| format!("{c} "))
                    .collect(),
            )),
            Some((command, args)) if !args.contains(' ') => {
                let subs = self
                    .commands
                    .iter()
                    .find(|(c, _)| c == command)
                    .map(|(_, s)| s.as_slice())
                    .unwrap_or_default();
                Ok((
                    pos - args.len(),
                    subs.iter()
                        .filter(|s| s.starts_with(args))
                        .map(|s| format!("{s} "))
                        .collect(),
                ))
            }
            Some(_) => Ok((pos, Vec::new())),
        }
    }
}

impl Hinter for SlashCompletion {
    type Hint = String;
}
impl Highlighter for SlashCompletion {}
impl Validator for SlashCompletion {}
impl Helper for SlashCompletion {}

/// Ctrl-C clears a draft, as in other agent CLIs; only at an empty prompt
/// does it reach the chat, which leaves on a second press.
struct ClearOrInterrupt;

impl ConditionalEventHandler for ClearOrInterrupt {
    fn handle(&self, _: &Event, _: RepeatCount, _: bool, ctx: &EventContext) -> Option<Cmd> {
        Some(if ctx.line().is_empty() {
            Cmd::Interrupt
        } else {
            Cmd::Kill(Movement::WholeBuffer)
        })
    }
}

/// What a line becomes before it is kept in the history file.
pub type Scrub = Box<dyn Fn(&str) -> String>;

pub enum Input {
    Terminal(Box<LineEditor>),
    Piped,
}

pub struct LineEditor {
    editor: Editor<SlashCompletion, DefaultHistory>,
    file: std::path::PathBuf,
    scrub: Scrub,
    /// Whether the user was told the history cannot be saved.
    warned: bool,
}

impl Input {
    pub fn new(interactive: bool, completion: SlashCompletion, history_file: &Path, scrub: Scrub) -> Input {
        if !interactive {
            return Input::Piped;
        }
        let Ok(mut editor) = Editor::<SlashCompletion, DefaultHistory>::new() else {
            return Input::Piped;
        };
        editor.set_helper(Some(completion));
        editor.bind_sequence(
            KeyEvent::ctrl('C'),
            EventHandler::Conditional(Box::new(ClearOrInterrupt)),
        );
        let mut line_editor = LineEditor {
            editor,
            file: history_file.to_path_buf(),
            scrub,
            warned: false,
        };
        line_editor.load();
        Input::Terminal(Box::new(line_editor))
    }

    pub fn read(&mut self) -> Read {
        match self {
            Input::Piped => crate::terminal::read_line().map_or(Read::Eof, Read::Line),
            Input::Terminal(line_editor) => match line_editor.editor.readline("you> ") {
                Ok(line) => {
                    if !line.trim().is_empty() {
                        let kept = (line_editor.scrub)(&line);
                        line_editor.editor.add_history_entry(kept.as_str()).ok();
                        line_editor.save();
                    }
                    Read::Line(line)
                }
                Err(rustyline::error::ReadlineError::Interrupted) => Read::Interrupted,
                Err(_) => Read::Eof,
            },
        }
    }
}

impl LineEditor {
    /// The history as saved; a line an older anton kept with a secret in it
    /// is scrubbed and the file rewritten.
    fn load(&mut self) {
        if !self.file.exists() {
            return;
        }
        // Checked first: a FIFO or a huge file there would hang or flood the chat.
        let checked = crate::files::check_regular(&self.file, crate::files::MAX_TEXT_FILE).map_err(|e| e.to_string());
        if let Err(e) = checked.and_then(|()| self.editor.load_history(&self.file).map_err(|e| e.to_string())) {
            return self.warn(&format!(
                "the line history in {} cannot be read ({e})",
                self.file.display()
            ));
        }
        let lines: Vec<String> = self.editor.history().iter().cloned().collect();
        let scrubbed: Vec<String> = lines.iter().map(|l| (self.scrub)(l)).collect();
        if scrubbed != lines {
            self.editor.clear_history().ok();
            for line in &scrubbed {
                self.editor.add_history_entry(line.as_str()).ok();
            }
            self.save();
        }
    }

    fn save(&mut self) {
        let saved = self
            .file
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .map_err(|e| e.to_string())
            .and_then(|()| self.editor.save_history(&self.file).map_err(|e| e.to_string()))
            .and_then(|()| {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&self.file, std::fs::Permissions::from_mode(0o600)).map_err(|e| e.to_string())
            });
        if let Err(e) = saved {
            self.warn(&format!(
                "the line history cannot be saved to {} ({e})",
                self.file.display()
            ));
        }
    }

    fn warn(&mut self, what: &str) {
        if !self.warned {
            self.warned = true;
            println!("warning: {}", crate::terminal::sanitize_line(what));
        }
    }
}

/// Split like a shell: whitespace separates, quotes group, a backslash
/// outside quotes takes the next character as it is (what a terminal pastes
/// for a dragged file: `my\ report.anton`).
pub fn split_args(text: &str) -> Vec<String> {
    let mut args = Vec::new();
    let mut current = String::new();
    let mut quote: Option<char> = None;
    let mut started = false;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (None, '\\') => match chars.next() {
                Some(next) => current.push(next),
                None => current.push('\\'),
            },
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => current.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                started = true;
            }
            (None, c) if c.is_whitespace() => {
                if started || !current.is_empty() {
                    args.push(std::mem::take(&mut current));
                    started = false;
                }
            }
            (None, c) => current.push(c),
        }
    }
    if started || !current.is_empty() {
        args.push(current);
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_split_like_a_shell() {
        assert_eq!(
            split_args(r#"import "my file.anton"  'x y' z"#),
            ["import", "my file.anton", "x y", "z"]
        );
        assert_eq!(split_args(r#"a "" b"#), ["a", "", "b"]);
        assert_eq!(
            split_args(r"import /tmp/my\ report\ (1).anton"),
            ["import", "/tmp/my report (1).anton"]
        );
    }
}
