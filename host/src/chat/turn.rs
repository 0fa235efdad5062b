//! One turn: the user's message, the model's rounds and the tools it calls.

use std::io::{IsTerminal, Write};

use serde_json::json;

use super::journal::Record;
use super::{Chat, MAX_ROUNDS, MAX_TOKENS, context, tools};
use crate::llm::{Message, Request, ToolCall};
use crate::memory::{Entry, MemoryDir};
use crate::settings::ModelConfig;
use crate::store::{SessionMemory, Status};
use crate::terminal;

impl Chat<'_> {
    pub(super) fn turn(&mut self, text: &str) {
        let model = match &self.app.services.settings().planning {
            Ok(model) => model.clone(),
            Err(how) => return println!("No model configured, so I cannot answer: {how}."),
        };
        if let Err(e) = self.ensure_session(&model) {
            return println!("error: {e}");
        }
        let text = self.scrubber().scrub(text);
        let live = self.live.as_mut().expect("ensured");
        let Some(next) = live.turns.checked_add(1) else {
            return println!("This session has as many turns as anton can count; /done starts a new one.");
        };
        live.turns = next;
        let (id, turn, keeps_title) = (live.id.clone(), live.turns, live.imported.is_some());
        live.history.push(Message::User(text.clone()));
        self.journal.write(Record::message(&id, turn, "user", &text, "{}"));
        if turn == 1 && !keeps_title {
            self.journal.write(Record::Title {
                session: id.clone(),
                title: anton_share_format::naming::heuristic(&text),
                by_user: false,
            });
        }
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
    pub(super) fn model_round(&mut self, model: &ModelConfig, id: &str, turn: u32) -> Option<Vec<ToolCall>> {
        let memories = self.memories_in_force(id, turn);
        let live = self.live.as_ref().expect("in a session");
        let system = context::system_prompt(&memories);
        let tools = tools::specs();
        let request = Request {
            system: &system,
            messages: &live.history,
            tools: &tools,
            max_tokens: MAX_TOKENS,
        };
        let mut partial = String::new();
        let interactive = self.interactive;
        let services = self.app.services.clone();
        let (runtime, client) = services.llm().expect("checked when the chat opened");
        let scrubber = self.scrubber();
        let mut screen = scrubber.screen();
        let mut reply_out = ReplyOutput::new();
        let result = {
            let mut on_text = |piece: &str| {
                partial.push_str(piece);
                reply_out.show(&screen.push(piece));
            };
            runtime.block_on(async {
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
        let meta = |extra: serde_json::Value| {
            let mut meta = json!({"provider": model.provider.name(), "model": model.model});
            if let (Some(m), Some(e)) = (meta.as_object_mut(), extra.as_object()) {
                m.extend(e.clone());
            }
            meta.to_string()
        };
        reply_out.show(&screen.finish());
        reply_out.finish();
        let (text, tool_calls, extra, status, notice) = match result {
            None => (
                partial,
                Vec::new(),
                json!({"interrupted": true}),
                Status::Interrupted,
                Some("(interrupted)".to_string()),
            ),
            Some(Err(error)) => {
                // Text that arrived before the stream failed is a reply cut off.
                let cut_off = matches!(error, crate::llm::Error::CutOff(_))
                    || (matches!(error, crate::llm::Error::Timeout(_)) && !partial.is_empty());
                (
                    partial,
                    Vec::new(),
                    json!({"failed": true, "cut_off": cut_off}),
                    Status::Failed,
                    Some(format!(
                        "error: {}",
                        terminal::sanitize(&scrubber.scrub(&error.to_string()))
                    )),
                )
            }
            Some(Ok(reply)) => {
                let tokens = json!({"input_tokens": reply.input_tokens, "output_tokens": reply.output_tokens});
                (reply.text, reply.tool_calls, tokens, Status::Idle, None)
            }
        };
        // What the model asks for is run, stored and sent back scrubbed:
        // secrets reach a pad through its DS_* variables only.
        let tool_calls: Vec<ToolCall> = tool_calls
            .into_iter()
            .map(|mut call| {
                scrubber.scrub_json(&mut call.input, &mut Default::default());
                call.id = scrubber.scrub(&call.id);
                call.name = scrubber.scrub(&call.name);
                call
            })
            .collect();
        // A reply cut short is kept as far as it went; a failure before any
        // text leaves nothing to keep. Stored before the reply is shown as done.
        let kept = (status != Status::Failed || !text.is_empty()).then(|| scrubber.scrub(&text));
        if let Some(text) = &kept {
            self.journal
                .write(Record::message(id, turn, "assistant", text, &meta(extra)));
        }
        if let Some(notice) = notice {
            println!("{notice}");
        }
        let live = self.live.as_mut().expect("in a session");
        if let Some(text) = kept {
            live.history.push(Message::Assistant {
                text,
                tool_calls: tool_calls.clone(),
            });
        }
        live.leaving_status = status;
        (status == Status::Idle).then_some(tool_calls)
    }

    /// Rules and lessons from both scopes; project ones are recorded as given.
    pub(super) fn memories_in_force(&mut self, id: &str, turn: u32) -> Vec<Entry> {
        let (project, mut problems) = MemoryDir::new(&self.app.paths.project_memory()).read_each();
        let (global, more) = MemoryDir::new(&self.app.paths.user_memory()).read_each();
        problems.extend(more);
        if !problems.is_empty() && !self.memory_warned {
            self.memory_warned = true;
            for problem in problems {
                println!("warning: memory not used: {}", terminal::sanitize_line(&problem));
            }
        }
        let project = self.reviewed(project);
        for entry in &project {
            self.record_project_memory(id, turn, entry, false);
        }
        // A memory file anton did not write can hold anything.
        let scrubber = self.scrubber();
        project.iter().chain(&global).map(|e| e.scrubbed(&scrubber)).collect()
    }

    /// The project memories in force: those anton wrote here or the user
    /// accepted. Others (a cloned repository's) are shown and asked about
    /// once per chat on a terminal, and left out without one.
    fn reviewed(&mut self, project: Vec<Entry>) -> Vec<Entry> {
        let mut known = crate::memory_review::Known::load(&self.app.paths);
        let (mut in_force, unknown): (Vec<Entry>, Vec<Entry>) = project.into_iter().partition(|e| known.contains(e));
        if unknown.is_empty() || self.memory_asked {
            return in_force;
        }
        self.memory_asked = true;
        let count = match unknown.len() {
            1 => "1 memory".to_string(),
            n => format!("{n} memories"),
        };
        if !self.interactive {
            println!(
                "warning: {count} in .anton/memory that anton did not write here and you have not accepted \
                 are not used; review them in a chat on a terminal"
            );
            return in_force;
        }
        println!("This workspace's memory holds {count} that anton did not write here:");
        for entry in &unknown {
            println!("  {:<7} {}", entry.kind.as_str(), terminal::sanitize_line(&entry.text));
        }
        if terminal::confirm("Use them? They guide every session in this workspace.", false) {
            if let Err(e) = known.accept(&unknown) {
                println!("warning: used for this chat only: {}", terminal::sanitize_line(&e));
            }
            in_force.extend(unknown);
        } else {
            println!("Not used; anton asks again in the next chat.");
        }
        in_force
    }

    /// Record a project memory the session wrote (`born`) or was given. A
    /// given one is recorded once; one born here never counts as given.
    pub(super) fn record_project_memory(&mut self, id: &str, turn: u32, entry: &Entry, born: bool) {
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
        self.journal.write(Record::memory(id, &memory));
        let role = if born { "memory_write" } else { "memory_read" };
        let meta = json!({"kind": entry.kind.as_str(), "topic": entry.topic}).to_string();
        self.journal.write(Record::message(id, turn, role, &entry.text, &meta));
    }

    pub(super) fn run_tool(&mut self, id: &str, turn: u32, call: &ToolCall) {
        let datasources = call.input["code"]
            .as_str()
            .map(crate::vault::references_in)
            .unwrap_or_default();
        let call_meta = json!({"tool": call.name, "id": call.id, "datasources": datasources}).to_string();
        self.journal.write(Record::message(
            id,
            turn,
            "tool_call",
            &call.input.to_string(),
            &call_meta,
        ));
        let result = match call.name.as_str() {
            "scratchpad" => self.scratchpad(id, turn, call),
            "memorize" => self.memorize(id, turn, call),
            other => format!("unknown tool '{other}'; the tools are scratchpad and memorize"),
        };
        let result = self.scrubber().scrub(&result);
        let result_meta = json!({"tool": call.name, "id": call.id}).to_string();
        self.journal
            .write(Record::message(id, turn, "tool_result", &result, &result_meta));
        let live = self.live.as_mut().expect("in a session");
        live.history.push(Message::ToolResult {
            call_id: call.id.clone(),
            name: call.name.clone(),
            content: result,
        });
    }
}

/// A reply on its way to the screen: on a terminal rendered as Markdown a
/// line at a time, the line still arriving shown as it comes while it fits
/// on one row (then replaced by its rendering), with a spinner until the
/// first words; piped, as the model wrote it (control characters made
/// visible, secrets redacted).
struct ReplyOutput {
    markdown: Option<crate::markdown::Stream>,
    spinner: terminal::Spinner,
    /// How much of the line still arriving is on screen, in bytes and columns.
    previewed: usize,
    previewed_width: usize,
    /// The widest preview that surely stays on one row, whatever the
    /// terminal makes of wide characters.
    preview_limit: usize,
    /// A carriage return at the end of a piece, held until the next shows
    /// whether it ends a CRLF.
    carriage_return: bool,
    /// Whether the reply's last character on screen ended a line.
    at_line_start: bool,
}

impl ReplyOutput {
    fn new() -> ReplyOutput {
        ReplyOutput {
            markdown: std::io::stdout()
                .is_terminal()
                .then(|| crate::markdown::Stream::new(terminal::width(), terminal::color())),
            spinner: terminal::Spinner::start("Thinking"),
            previewed: 0,
            previewed_width: 0,
            preview_limit: terminal::screen_columns().saturating_sub(8),
            carriage_return: false,
            at_line_start: true,
        }
    }

    /// `piece` of the reply, scrubbed; made safe for the terminal here.
    fn show(&mut self, piece: &str) {
        let mut raw = String::new();
        if std::mem::take(&mut self.carriage_return) && !piece.starts_with('\n') {
            raw.push('\r');
        }
        raw.push_str(piece);
        if raw.ends_with('\r') {
            raw.pop();
            self.carriage_return = true;
        }
        let text = terminal::sanitize(&raw.replace("\r\n", "\n"));
        if text.is_empty() {
            return;
        }
        self.spinner.stop();
        let Some(markdown) = self.markdown.as_mut() else {
            print!("{text}");
            self.at_line_start = text.ends_with('\n');
            let _ = std::io::stdout().flush();
            return;
        };
        let rendered = markdown.push(&text);
        // A line ended (a table row or a fence may render nothing yet): its
        // preview goes, and the next line's starts afresh.
        if text.contains('\n') {
            if self.previewed > 0 {
                print!("\r\x1b[K");
            }
            (self.previewed, self.previewed_width) = (0, 0);
        }
        print!("{rendered}");
        let fresh = &markdown.pending()[self.previewed..];
        // A tab may take up to 8 columns.
        let fresh_width = unicode_width::UnicodeWidthStr::width(fresh) + 7 * fresh.matches('\t').count();
        if !fresh.is_empty() && self.previewed_width + fresh_width <= self.preview_limit {
            print!("{fresh}");
            self.previewed += fresh.len();
            self.previewed_width += fresh_width;
        }
        self.at_line_start = self.previewed == 0;
        let _ = std::io::stdout().flush();
    }

    /// The reply is over: the rest rendered, the line ended.
    fn finish(&mut self) {
        self.spinner.stop();
        // A carriage return that ends the reply ends nothing worth showing.
        self.carriage_return = false;
        if let Some(rest) = self.markdown.as_mut().map(crate::markdown::Stream::finish)
            && !rest.is_empty()
        {
            if self.previewed > 0 {
                print!("\r\x1b[K");
            }
            print!("{rest}");
            self.at_line_start = true;
        }
        if !self.at_line_start {
            println!();
        }
    }
}
