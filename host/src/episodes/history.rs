//! The reference's `_history.json`: the provider messages its `/resume`
//! restores (Anthropic's form), as anton's model messages.

use std::collections::HashMap;

use serde_json::Value;

use crate::llm::{Message, ToolCall};

/// The model context the reference would restore; `None` when the text is
/// not a list of messages. Images are named, not sent.
pub fn model_context(json: &str) -> Option<Vec<Message>> {
    let messages: Vec<Value> = serde_json::from_str(json).ok()?;
    let mut out = Vec::new();
    let mut tool_names: HashMap<String, String> = HashMap::new();
    for message in &messages {
        let blocks: Vec<Value> = match &message["content"] {
            Value::String(text) => vec![serde_json::json!({"type": "text", "text": text})],
            Value::Array(blocks) => blocks.clone(),
            _ => continue,
        };
        let mut text = String::new();
        let mut calls = Vec::new();
        for block in &blocks {
            match block["type"].as_str() {
                Some("text") => text.push_str(block["text"].as_str().unwrap_or_default()),
                Some("image") => text.push_str("[image]"),
                Some("tool_use") => {
                    let id = block["id"].as_str().unwrap_or_default().to_string();
                    let name = block["name"].as_str().unwrap_or("unknown").to_string();
                    tool_names.insert(id.clone(), name.clone());
                    calls.push(ToolCall {
                        id,
                        name,
                        input: block["input"].clone(),
                    });
                }
                Some("tool_result") => {
                    let call_id = block["tool_use_id"].as_str().unwrap_or_default().to_string();
                    out.push(Message::ToolResult {
                        name: tool_names.get(&call_id).cloned().unwrap_or_else(|| "unknown".into()),
                        call_id,
                        content: result_text(&block["content"]),
                    });
                }
                _ => {}
            }
        }
        match message["role"].as_str() {
            Some("assistant") if !text.is_empty() || !calls.is_empty() => out.push(Message::Assistant {
                text,
                tool_calls: calls,
            }),
            Some("user") if !text.is_empty() => out.push(Message::User(text)),
            _ => {}
        }
    }
    Some(out)
}

/// A tool result's content: a string, or text blocks.
fn result_text(content: &Value) -> String {
    match content {
        Value::String(text) => text.clone(),
        Value::Array(blocks) => blocks
            .iter()
            .filter_map(|b| b["text"].as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_references_history_becomes_the_model_context() {
        let history = r#"[
            {"role":"user","content":"[2026-11-23 23:20] what is revenue by region?"},
            {"role":"assistant","content":[{"type":"text","text":"Checking."},{"type":"tool_use","id":"call_1","name":"scratchpad","input":{"code":"print(1)"}}]},
            {"role":"user","content":[{"type":"tool_result","tool_use_id":"call_1","content":"[output]\n1"}]},
            {"role":"assistant","content":"APAC leads."}
        ]"#;
        let context = model_context(history).unwrap();
        assert_eq!(
            context,
            vec![
                Message::User("[2026-11-23 23:20] what is revenue by region?".into()),
                Message::Assistant {
                    text: "Checking.".into(),
                    tool_calls: vec![ToolCall {
                        id: "call_1".into(),
                        name: "scratchpad".into(),
                        input: serde_json::json!({"code": "print(1)"}),
                    }],
                },
                Message::ToolResult {
                    call_id: "call_1".into(),
                    name: "scratchpad".into(),
                    content: "[output]\n1".into(),
                },
                Message::Assistant {
                    text: "APAC leads.".into(),
                    tool_calls: Vec::new(),
                },
            ]
        );
        assert_eq!(model_context("{\"not\": \"a list\"}"), None);
    }
}
