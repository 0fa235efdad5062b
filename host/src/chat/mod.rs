//! The interactive session: read a line, run a slash command through its
//! plugin or a turn through the model, store everything as it happens.

mod context;
mod input;
mod scratchpad;
mod title;
mod tools;

use std::collections::HashSet;
use std::io::Write;
use std::process::ExitCode;

use serde_json::json;

use crate::cli::Session as Cli;
use crate::interfaces::latest::exports::anton::plugin::command::{Action, Invocation, Origin};
use crate::llm::{self, Message, Request, ToolCall};
use crate::memory::{Entry, MemoryDir};
use crate::plugin_host::catalog::Resolution;
use crate::scrub::Scrubber;
use crate::settings::{LlmSettings, ModelConfig, Vars};
use crate::store::{self, Cell, SessionMemory, Status, Store};
use crate::terminal;
use input::{Input, Read, SlashCompletion};
use scratchpad::Pads;

/// Model replies and tool runs in one turn, at most.
const MAX_ROUNDS: usize = 12;
const MAX_TOKENS: u32 = 8192;

/// The session the chat is in.
struct Live {
    id: String,
    turns: u32,
    history: Vec<Message>,
    /// Project memories already recorded as given to this session.
    memories_given: HashSet<String>,
    imported_note: Option<String>,
    /// What the session's status becomes when the chat leaves it.
    leaving_status: Status,
}

pub struct Chat<'a> {
    cli: &'a mut Cli,
    store: Store,
    settings: LlmSettings,
    client: llm::Client,
    runtime: tokio::runtime::Runtime,
    scrubber: Scrubber,
    pads: Pads,
    live: Option<Live>,
    interactive: bool,
}

/// Open the chat, optionally in session `resume`, and run it until the user leaves.
pub fn run(cli: &mut Cli, resume: Option<String>) -> Result<ExitCode, String> {
    let paths = cli.paths.clone();
    let store = Store::open(&paths.anton_dir, &paths.workspace).map_err(|e| e.0)?;
    crate::workspace_trust::offer(&paths);
    let settings = Vars::load(&paths).llm();
    let secrets = cli.host.context.secrets();
    for bad in &secrets.unreadable {
        eprintln!("warning: skipped data source {} ({})", bad.file.display(), bad.error);
    }
    let scrubber = secrets.scrubber.clone();
    let pad_env = secrets.data_sources.iter().flat_map(|s| s.env_vars()).collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let interactive = terminal::stdin_is_terminal();
    let mut chat = Chat {
        pads: Pads::new(paths.workspace.clone(), pad_env),
        cli,
        store,
        settings,
        client: llm::Client::new(),
        runtime,
        scrubber,
        live: None,
        interactive,
    };
    chat.banner();
    if let Some(id) = resume {
        chat.switch_to(&id);
    }
    let completion = SlashCompletion {
        commands: chat.slash_completions(),
    };
    let mut input = Input::new(interactive, completion, &paths.user_data.join("history.txt"));
    let mut interrupted_once = false;
    loop {
        let line = match input.read() {
            Read::Eof => break,
            Read::Interrupted => {
                if interrupted_once {
                    break;
                }
                interrupted_once = true;
                println!("(Ctrl-C again or Ctrl-D to leave)");
                continue;
            }
            Read::Line(line) => line,
        };
        interrupted_once = false;
        let line = line.trim();
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
    fn banner(&self) {
        match &self.settings.planning {
            Ok(model) if self.interactive => {
                println!(
                    "anton {} · {} · {}/{}",
                    env!("CARGO_PKG_VERSION"),
                    self.cli.paths.workspace.display(),
                    model.provider.name(),
                    model.model
                );
                println!("Type a message, /help for commands, Ctrl-D to leave.");
            }
            Ok(_) => {}
            Err(how) => eprintln!("No model configured: {how}. Slash commands still work."),
        }
    }

    fn slash_completions(&mut self) -> Vec<(String, Vec<String>)> {
        let mut out = vec![
            ("help".to_string(), Vec::new()),
            ("exit".to_string(), Vec::new()),
            ("plugins".to_string(), vec!["list".to_string(), "reload".to_string()]),
            ("done".to_string(), Vec::new()),
        ];
        let indexes: Vec<usize> = (0..self.cli.host.catalog.records.len())
            .filter(|&i| self.cli.host.catalog.records[i].runnable())
            .collect();
        for index in indexes {
            if let Ok(specs) = self.cli.host.describe(index) {
                for spec in specs {
                    use crate::interfaces::latest::exports::anton::plugin::command::CommandKind;
                    if !matches!(spec.kind, CommandKind::Cli) {
                        out.push((spec.name, spec.subcommands.into_iter().map(|s| s.name).collect()));
                    }
                }
            }
        }
        out
    }

    fn slash(&mut self, line: &str) {
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
        let host = &mut self.cli.host;
        let index = match host.catalog.resolve(&name) {
            Resolution::Runnable(record)
                if record
                    .manifest
                    .commands
                    .iter()
                    .any(|c| (c.name == name || c.aliases.contains(&name)) && c.kind.is_slash()) =>
            {
                host.index_of(record)
            }
            Resolution::Runnable(_) => {
                return println!("/{name} is a command-line command: run `anton {name}` in a shell.");
            }
            Resolution::Unavailable(why) => return println!("{why}"),
            Resolution::Unknown => {
                let names: Vec<String> = self.slash_names();
                let hint = nearest(&name, &names)
                    .map(|n| format!(" Did you mean /{n}?"))
                    .unwrap_or_default();
                return println!("Unknown command /{name}.{hint} /help lists them.");
            }
        };
        let invocation = Invocation {
            command: name,
            args: words,
            origin: Origin::Chat,
        };
        match host.run(index, &invocation) {
            Ok(outcome) => {
                if let Some(Action::SwitchSession(id)) = outcome.action {
                    self.switch_to(&id);
                }
            }
            Err(failure) => println!("error: {failure}"),
        }
    }

    /// `/plugins [list]` and `/plugins reload` (pick up rebuilt or newly
    /// installed plugins without leaving the chat).
    fn plugins(&mut self, args: &[String]) {
        match args.first().map(String::as_str) {
            None | Some("list") => {
                if let Err(e) = crate::plugins_command::list(self.cli, false) {
                    println!("error: {e}");
                }
            }
            Some("reload") => match self.cli.reload_plugins() {
                Ok(()) => {
                    let runnable: Vec<&str> = self
                        .cli
                        .host
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

    fn slash_names(&self) -> Vec<String> {
        let mut names = vec![
            "help".to_string(),
            "exit".to_string(),
            "plugins".to_string(),
            "done".to_string(),
        ];
        for (command, _) in self.cli.host.catalog.commands() {
            if command.kind.is_slash() {
                names.push(command.name.clone());
            }
        }
        names
    }

    fn help(&self) {
        println!("{}", terminal::bold("Commands"));
        println!("  /help            this list");
        println!("  /exit            leave the chat (also exit, quit, Ctrl-D)");
        println!("  /plugins         list plugins; /plugins reload picks up rebuilt ones");
        println!("  /done            mark this session completed and start afresh");
        let mut last_plugin = String::new();
        for (command, record) in self.cli.host.catalog.commands() {
            if !command.kind.is_slash() {
                continue;
            }
            if record.id() != last_plugin {
                last_plugin = record.id().to_string();
                println!(
                    "{}",
                    terminal::bold(&format!(
                        "{} ({} plugin)",
                        record.manifest.display_name(),
                        record.source
                    ))
                );
            }
            println!("  /{:<15} {}", command.name, command.summary);
        }
    }

    /// Continue session `id` (or a fork of it when another anton writes it).
    fn switch_to(&mut self, id: &str) {
        let session = match self.store.find_session(id) {
            Ok(store::Lookup::Found(s)) => *s,
            Ok(_) => return println!("Session {id} not found."),
            Err(e) => return println!("error: {e}"),
        };
        let me = format!("pid {} on {}", std::process::id(), store::hostname());
        let mut session = session;
        if let Some(writer) = session.live_writer.clone().filter(|w| *w != me) {
            println!("Session {} is open in another anton ({writer}).", session.id);
            if !terminal::confirm("Continue in a fork (a new session with the same history)?", true) {
                return;
            }
            match self.store.fork_session(&session.id) {
                Ok(fork) => {
                    println!("Forked {} into {}.", session.id, fork.id);
                    session = fork;
                }
                Err(e) => return println!("error: {e}"),
            }
        }
        if self.live.as_ref().is_some_and(|l| l.id == session.id) {
            return println!("Already in session {}.", session.id);
        }
        let messages = match self.store.messages(&session.id, 0) {
            Ok(m) => m,
            Err(e) => return println!("error: {e}"),
        };
        self.leave_session();
        if let Err(e) = self.store.claim(&session.id) {
            println!("warning: {e}");
        }
        let (history, repaired) = context::rebuild(&messages);
        if repaired {
            println!("Repaired the end of this session's history (a tool call there had no result).");
        }
        if let (Some(provider), Some(model), Ok(now)) = (&session.provider, &session.model, &self.settings.planning)
            && (provider != now.provider.name() || *model != now.model)
        {
            println!(
                "This session ran on {provider}/{model}; it continues on {}/{}.",
                now.provider.name(),
                now.model
            );
        }
        let imported_note = session.provenance.imported_by.as_ref().map(|by| {
            format!(
                "This session was imported from a .anton file exported by {by}. Its summary: {}",
                if session.summary.is_empty() {
                    "(none)"
                } else {
                    &session.summary
                }
            )
        });
        println!("Resumed session {} ({} turns)", session.id, session.turns);
        let last = |role: &str| {
            messages
                .iter()
                .rev()
                .find(|m| m.role == role)
                .map(|m| one_line(&m.content, terminal::width().saturating_sub(10)))
        };
        if let Some(user) = last("user") {
            println!("  you:   {user}");
        }
        if let Some(reply) = last("assistant") {
            println!("  anton: {reply}");
        }
        self.enter(session.id, session.turns, history, imported_note);
    }

    /// Make `id` the chat's session, for the model and for plugins alike.
    fn enter(&mut self, id: String, turns: u32, history: Vec<Message>, imported_note: Option<String>) {
        *self
            .cli
            .host
            .context
            .current_session
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(id.clone());
        self.live = Some(Live {
            id,
            turns,
            history,
            memories_given: HashSet::new(),
            imported_note,
            leaving_status: Status::Idle,
        });
    }

    /// `/done`: mark the session completed; the next message starts a new one.
    fn done(&mut self) {
        match self.live.as_mut() {
            Some(live) => {
                live.leaving_status = Status::Completed;
                println!(
                    "Marked session {} completed; your next message starts a new session.",
                    live.id
                );
                self.leave_session();
            }
            None => println!("No session yet: nothing to mark completed."),
        }
    }

    fn leave_session(&mut self) {
        if let Some(live) = self.live.take() {
            let _ = self.store.release(&live.id, live.leaving_status);
        }
    }

    fn leave(&mut self) {
        if let Some(live) = &self.live {
            println!("Resume this session with: anton -r {}", live.id);
        }
        self.leave_session();
    }

    fn ensure_session(&mut self, model: &ModelConfig) -> Result<(), String> {
        if self.live.is_some() {
            return Ok(());
        }
        let session = self
            .store
            .create_session(&store::NewSession {
                provider: Some(model.provider.name().into()),
                model: Some(model.model.clone()),
                ..Default::default()
            })
            .map_err(|e| e.0)?;
        self.store
            .claim(&session.id)
            .map_err(|e| e.0)?
            .map_err(|holder| format!("session taken by {holder}"))?;
        self.enter(session.id, 0, Vec::new(), None);
        Ok(())
    }

    fn turn(&mut self, text: &str) {
        let model = match &self.settings.planning {
            Ok(model) => model.clone(),
            Err(how) => return println!("No model configured, so I cannot answer: {how}."),
        };
        if let Err(e) = self.ensure_session(&model) {
            return println!("error: {e}");
        }
        let text = self.scrubber.scrub(text);
        let live = self.live.as_mut().expect("ensured");
        live.turns += 1;
        let (id, turn) = (live.id.clone(), live.turns);
        if let Err(e) = self.store.append_message(&id, turn, "user", &text, "{}", None) {
            return println!("error: {e}");
        }
        if turn == 1 {
            let _ = self.store.set_title(&id, &title::heuristic(&text), false);
        }
        live.history.push(Message::User(text));
        for _ in 0..MAX_ROUNDS {
            let Some(calls) = self.model_round(&model, &id, turn) else {
                return;
            };
            if calls.is_empty() {
                break;
            }
            for call in calls {
                self.run_tool(&id, turn, &call);
            }
        }
        self.refresh_title(&id, turn);
    }

    /// One model reply, streamed and stored. `None` when the turn ends early
    /// (error or Ctrl-C); otherwise the tool calls to run.
    fn model_round(&mut self, model: &ModelConfig, id: &str, turn: u32) -> Option<Vec<ToolCall>> {
        let memories = self.memories_in_force(id, turn);
        let live = self.live.as_ref().expect("in a session");
        let system = context::system_prompt(&memories, live.imported_note.as_deref());
        let tools = tools::specs();
        let request = Request {
            system: &system,
            messages: &live.history,
            tools: &tools,
            max_tokens: MAX_TOKENS,
        };
        let mut partial = String::new();
        let interactive = self.interactive;
        let result = {
            let client = &self.client;
            let mut on_text = |piece: &str| {
                partial.push_str(piece);
                print!("{piece}");
                let _ = std::io::stdout().flush();
            };
            self.runtime.block_on(async {
                let reply = client.stream(model, &request, &mut on_text);
                if interactive {
                    tokio::select! {
                        r = reply => Some(r),
                        _ = tokio::signal::ctrl_c() => None,
                    }
                } else {
                    Some(reply.await)
                }
            })
        };
        if !partial.is_empty() {
            println!();
        }
        let live = self.live.as_mut().expect("in a session");
        let meta = |extra: serde_json::Value| {
            let mut meta = json!({"provider": model.provider.name(), "model": model.model});
            if let (Some(m), Some(e)) = (meta.as_object_mut(), extra.as_object()) {
                m.extend(e.clone());
            }
            meta.to_string()
        };
        let (text, tool_calls, extra, status) = match result {
            None => {
                println!("(interrupted)");
                (partial, Vec::new(), json!({"interrupted": true}), Status::Interrupted)
            }
            Some(Err(error)) => {
                println!("error: {error}");
                (partial, Vec::new(), json!({"failed": true}), Status::Failed)
            }
            Some(Ok(reply)) => {
                let tokens = json!({"input_tokens": reply.input_tokens, "output_tokens": reply.output_tokens});
                (reply.text, reply.tool_calls, tokens, Status::Idle)
            }
        };
        // A reply cut short is kept as far as it went; a failure before any
        // text leaves nothing to keep.
        if status != Status::Failed || !text.is_empty() {
            let text = self.scrubber.scrub(&text);
            let _ = self
                .store
                .append_message(id, turn, "assistant", &text, &meta(extra), None);
            live.history.push(Message::Assistant {
                text,
                tool_calls: tool_calls.clone(),
            });
        }
        live.leaving_status = status;
        (status == Status::Idle).then_some(tool_calls)
    }

    /// Rules and lessons from both scopes; project ones are recorded as given.
    fn memories_in_force(&mut self, id: &str, turn: u32) -> Vec<Entry> {
        let project = MemoryDir::new(&self.cli.paths.anton_dir.join("memory"))
            .read()
            .unwrap_or_default();
        let home = crate::interfaces::home_dir();
        let global = MemoryDir::new(&home.join(".anton/memory")).read().unwrap_or_default();
        for entry in &project {
            self.record_project_memory(id, turn, entry, false);
        }
        project.into_iter().chain(global).collect()
    }

    /// Record a project memory the session wrote (`born`) or was given. A
    /// given one is recorded once; one born here never counts as given.
    fn record_project_memory(&mut self, id: &str, turn: u32, entry: &Entry, born: bool) {
        let first_time = self
            .live
            .as_mut()
            .expect("in a session")
            .memories_given
            .insert(entry.text.clone());
        if !born && !first_time {
            return;
        }
        let memory = SessionMemory {
            born,
            kind: entry.kind.as_str().into(),
            scope: "project".into(),
            text: entry.text.clone(),
            topic: entry.topic.clone(),
        };
        let _ = self.store.record_memory(id, &memory);
        let role = if born { "memory_write" } else { "memory_read" };
        let meta = json!({"kind": entry.kind.as_str(), "topic": entry.topic}).to_string();
        let _ = self.store.append_message(id, turn, role, &entry.text, &meta, None);
    }

    fn run_tool(&mut self, id: &str, turn: u32, call: &ToolCall) {
        let datasources = call.input["code"]
            .as_str()
            .map(crate::vault::references_in)
            .unwrap_or_default();
        let call_meta = json!({"tool": call.name, "id": call.id, "datasources": datasources}).to_string();
        let _ = self
            .store
            .append_message(id, turn, "tool_call", &call.input.to_string(), &call_meta, None);
        let result = match call.name.as_str() {
            "scratchpad" => self.scratchpad(id, turn, call),
            "memorize" => self.memorize(id, turn, call),
            other => format!("unknown tool '{other}'; the tools are scratchpad and memorize"),
        };
        let result = self.scrubber.scrub(&result);
        let result_meta = json!({"tool": call.name, "id": call.id}).to_string();
        let _ = self
            .store
            .append_message(id, turn, "tool_result", &result, &result_meta, None);
        let live = self.live.as_mut().expect("in a session");
        live.history.push(Message::ToolResult {
            call_id: call.id.clone(),
            name: call.name.clone(),
            content: result,
        });
    }

    fn scratchpad(&mut self, id: &str, turn: u32, call: &ToolCall) -> String {
        let cell = match tools::scratchpad_call(&call.input) {
            Ok(cell) => cell,
            Err(e) => return format!("error: {e}"),
        };
        println!(
            "{}",
            terminal::bold(&format!(
                "· scratchpad {}: {}",
                cell.pad,
                if cell.description.is_empty() {
                    "running code"
                } else {
                    &cell.description
                }
            ))
        );
        let started = store::now_ms();
        let output = self.pads.run(&cell.pad, &cell.code);
        let stdout = self.scrubber.scrub(&output.stdout);
        let stderr = self.scrubber.scrub(&output.stderr);
        let error = output.error.as_deref().map(|e| self.scrubber.scrub(e));
        for line in stdout.lines().take(12) {
            println!("  {line}");
        }
        if let Some(error) = &error {
            println!("  {}", error.lines().last().unwrap_or(error));
        }
        let record = Cell {
            pad: cell.pad,
            code: cell.code,
            stdout: stdout.clone(),
            stderr: stderr.clone(),
            error: error.clone(),
            description: cell.description.clone(),
            started_at: started,
            finished_at: Some(store::now_ms()),
        };
        let _ = self.store.add_cell(id, &record);
        let meta = json!({"description": cell.description}).to_string();
        let _ = self.store.append_message(id, turn, "scratchpad", &stdout, &meta, None);
        let mut result = format!("[output]\n{stdout}");
        if !stderr.is_empty() {
            result.push_str(&format!("\n[stderr]\n{stderr}"));
        }
        if let Some(error) = error {
            result.push_str(&format!("\n[error]\n{error}"));
        }
        result
    }

    fn memorize(&mut self, id: &str, turn: u32, call: &ToolCall) -> String {
        let entries = match tools::memorize_entries(&call.input) {
            Ok(entries) => entries,
            Err(e) => return format!("error: {e}"),
        };
        let home = crate::interfaces::home_dir();
        let mut saved = Vec::new();
        for (entry, project) in entries {
            let dir = if project {
                self.cli.paths.anton_dir.join("memory")
            } else {
                home.join(".anton/memory")
            };
            match MemoryDir::new(&dir).add(&entry) {
                Ok(added) => {
                    if added {
                        println!(
                            "{}",
                            terminal::bold(&format!("· remembered ({}): {}", entry.kind.as_str(), entry.text))
                        );
                    }
                    if project {
                        self.record_project_memory(id, turn, &entry, true);
                    }
                    saved.push(format!(
                        "{} {}: {}",
                        if added { "saved" } else { "already known" },
                        entry.kind.as_str(),
                        entry.text
                    ));
                }
                Err(e) => saved.push(format!("not saved ({e}): {}", entry.text)),
            }
        }
        format!("Memory updated: {}", saved.join("; "))
    }

    /// After the first turn and every fifth, ask the cheap model to name and
    /// summarise the session.
    fn refresh_title(&mut self, id: &str, turn: u32) {
        if turn != 1 && !turn.is_multiple_of(5) {
            return;
        }
        let Ok(model) = self.settings.coding.clone() else {
            return;
        };
        let live = self.live.as_ref().expect("in a session");
        let generated = self
            .runtime
            .block_on(title::generate(&self.client, &model, &live.history));
        if let Some((title, summary)) = generated {
            let _ = self.store.set_title(id, &self.scrubber.scrub(&title), false);
            let _ = self.store.set_summary(id, &self.scrubber.scrub(&summary));
        }
    }
}

fn one_line(text: &str, width: usize) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= width.max(20) {
        return flat;
    }
    flat.chars().take(width.max(20) - 1).collect::<String>() + "…"
}

/// The closest name within three edits, for "did you mean".
fn nearest<'a>(wanted: &str, names: &'a [String]) -> Option<&'a str> {
    names
        .iter()
        .map(|n| (distance(wanted, n), n.as_str()))
        .filter(|(d, _)| *d <= 3)
        .min_by_key(|(d, _)| *d)
        .map(|(_, n)| n)
}

fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let current = row[j + 1];
            row[j + 1] = (previous + usize::from(ca != *cb)).min(row[j] + 1).min(current + 1);
            previous = current;
        }
    }
    row[b.len()]
}
