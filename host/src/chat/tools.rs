//! The tools the model can call, as in the reference Anton: `scratchpad`
//! (Python) and `memorize` (rules and lessons).

use serde_json::{Value, json};

use crate::llm::Tool;
use crate::memory::{Entry, Kind};

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
    let pad: String = input["name"]
        .as_str()
        .unwrap_or("main")
        .chars()
        .filter(|c| c.is_alphanumeric() || "-_".contains(*c))
        .take(40)
        .collect();
    Ok(ScratchpadCall {
        pad: if pad.is_empty() { "main".into() } else { pad },
        code: code.to_string(),
        description: input["one_line_description"].as_str().unwrap_or_default().to_string(),
    })
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
