//! The tools the model can call, as in the reference Anton: `scratchpad`
//! (Python) and `memorize` (rules and lessons).

use serde_json::{Value, json};

use super::Chat;
use super::journal::Record;
use crate::llm::{Tool, ToolCall};
use crate::memory::{Entry, Kind, MemoryDir};
use crate::store::{self, Cell};
use crate::terminal;

pub fn specs() -> Vec<Tool> {
    vec![
        Tool {
            name: "scratchpad",
            description: "Run Python code in a named pad. Variables persist between cells of the same pad. \
                          Print what you want to see.",
            schema: json!({
                "type": "object",
                "properties": {
                    "name": {"type": "string", "description": "Pad name, e.g. main"},
                    "code": {"type": "string", "description": "Python code to run"},
                    "one_line_description": {"type": "string", "description": "What this cell does, in a few words"}
                },
                "required": ["code"]
            }),
        },
        Tool {
            name: "memorize",
            description: "Save rules (always / never / when) and lessons for later sessions.",
            schema: json!({
                "type": "object",
                "properties": {
                    "entries": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "text": {"type": "string"},
                                "kind": {"type": "string", "enum": ["always", "never", "when", "lesson"]},
                                "scope": {"type": "string", "enum": ["project", "global"]},
                                "topic": {"type": "string"}
                            },
                            "required": ["text", "kind"]
                        }
                    }
                },
                "required": ["entries"]
            }),
        },
    ]
}

/// A scratchpad call's arguments.
pub struct ScratchpadCall {
    pub pad: String,
    pub code: String,
    pub description: String,
}

pub fn scratchpad_call(input: &Value) -> Result<ScratchpadCall, String> {
    let code = input["code"].as_str().ok_or("scratchpad needs `code`")?;
    Ok(ScratchpadCall {
        pad: pad_name(input["name"].as_str().unwrap_or("main")),
        code: code.to_string(),
        description: input["one_line_description"].as_str().unwrap_or_default().to_string(),
    })
}

/// Letters, digits, `-` and `_`, at most 40; `main` when none is left.
pub fn pad_name(name: &str) -> String {
    let pad: String = name
        .chars()
        .filter(|c| c.is_alphanumeric() || "-_".contains(*c))
        .take(40)
        .collect();
    if pad.is_empty() { "main".into() } else { pad }
}

/// A memorize call's entries, with their scope (`true`: project).
pub fn memorize_entries(input: &Value) -> Result<Vec<(Entry, bool)>, String> {
    let entries = input["entries"].as_array().ok_or("memorize needs `entries`, a list")?;
    entries
        .iter()
        .map(|e| {
            let text = e["text"].as_str().ok_or("each entry needs `text`")?;
            let kind = e["kind"]
                .as_str()
                .and_then(Kind::parse)
                .ok_or("each entry needs `kind`: always, never, when or lesson")?;
            let mut entry = Entry::new(kind, text);
            entry.topic = e["topic"].as_str().unwrap_or_default().to_string();
            Ok((entry, e["scope"].as_str() != Some("global")))
        })
        .collect()
}

impl Chat<'_> {
    pub(super) fn scratchpad(&mut self, id: &str, turn: u32, call: &ToolCall) -> String {
        let mut cell = match scratchpad_call(&call.input) {
            Ok(cell) => cell,
            Err(e) => return format!("error: {e}"),
        };
        let secrets = self.app.services.secrets();
        let scrubber = &secrets.scrubber;
        // Filtering can join what scrubbing saw apart: scrub the result too.
        cell.pad = pad_name(&scrubber.scrub(&cell.pad));
        // A connection saved mid-chat reaches the pads from their next cell.
        self.pads.set_env(secrets.pad_env());
        println!(
            "{}",
            terminal::bold(&format!(
                "· scratchpad {}: {}",
                cell.pad,
                if cell.description.is_empty() {
                    "running code".to_string()
                } else {
                    terminal::sanitize_line(&cell.description)
                }
            ))
        );
        let started = store::now_ms();
        let services = self.app.services.clone();
        let (runtime, _) = services.llm().expect("checked when the chat opened");
        let mut spinner = terminal::Spinner::start(&format!("Running in pad {}", cell.pad));
        let output = self.pads.run(runtime, &cell.pad, &cell.code);
        spinner.stop();
        let stdout = scrubber.scrub(&output.stdout);
        let stderr = scrubber.scrub(&output.stderr);
        let error = output.error.as_deref().map(|e| scrubber.scrub(e));
        for line in stdout.lines().take(12) {
            println!("  {}", terminal::sanitize(line));
        }
        if let Some(error) = &error {
            println!("  {}", terminal::sanitize(error.lines().last().unwrap_or(error)));
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
        self.journal.write(Record::cell(id, record));
        let meta = json!({"description": cell.description}).to_string();
        self.journal
            .write(Record::message(id, turn, "scratchpad", &stdout, &meta));
        let mut result = format!("[output]\n{stdout}");
        if !stderr.is_empty() {
            result.push_str(&format!("\n[stderr]\n{stderr}"));
        }
        if let Some(error) = error {
            result.push_str(&format!("\n[error]\n{error}"));
        }
        result
    }

    pub(super) fn memorize(&mut self, id: &str, turn: u32, call: &ToolCall) -> String {
        let entries = match memorize_entries(&call.input) {
            Ok(entries) => entries,
            Err(e) => return format!("error: {e}"),
        };
        let mut saved = Vec::new();
        let scrubber = self.scrubber();
        for (entry, project) in entries {
            let entry = entry.scrubbed(&scrubber);
            let dir = if project {
                self.app.paths.project_memory()
            } else {
                self.app.paths.user_memory()
            };
            match MemoryDir::new(&dir).add(&entry) {
                Ok(added) => {
                    if added {
                        println!(
                            "{}",
                            terminal::bold(&format!(
                                "· remembered ({}): {}",
                                entry.kind.as_str(),
                                terminal::sanitize_line(&entry.text)
                            ))
                        );
                    }
                    if project {
                        // Written here by anton: in force without a question.
                        let mut known = crate::memory_review::Known::load(&self.app.paths);
                        if let Err(e) = known.accept([&entry]) {
                            println!("warning: {}", terminal::sanitize_line(&e));
                        }
                        self.record_project_memory(id, turn, &entry, true);
                    }
                    saved.push(format!(
                        "{} {}: {}",
                        if added { "saved" } else { "already known" },
                        entry.kind.as_str(),
                        entry.text
                    ));
                }
                Err(e) => {
                    println!("warning: not remembered: {}", terminal::sanitize_line(&e));
                    saved.push(format!("not saved ({e}): {}", entry.text));
                }
            }
        }
        format!("Memory updated: {}", saved.join("; "))
    }
}
