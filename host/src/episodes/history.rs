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
    // An empty context says nothing: the log is quoted instead.
    Some(repaired(out)).filter(|context| !context.is_empty())
}

/// What providers accept: every tool call answered before the next turn,
/// no result without its call, no call without an id.
fn repaired(messages: Vec<Message>) -> Vec<Message> {
    let mut out = Vec::new();
    let mut open: Vec<ToolCall> = Vec::new();
    let answer_open = |out: &mut Vec<Message>, open: &mut Vec<ToolCall>| {
        out.extend(crate::llm::unanswered(open, "(no result was saved)"));
    };
    for (n, message) in messages.into_iter().enumerate() {
        match message {
            Message::ToolResult { call_id, content, .. } => {
                if let Some(index) = open.iter().position(|c| c.id == call_id) {
                    let call = open.remove(index);
                    out.push(Message::ToolResult {
                        call_id,
                        name: call.name,
                        content,
                    });
                }
            }
            Message::Assistant { text, tool_calls } => {
                answer_open(&mut out, &mut open);
                let tool_calls: Vec<ToolCall> = tool_calls
                    .into_iter()
                    .enumerate()
                    .map(|(k, mut call)| {
                        if call.id.is_empty() {
                            call.id = format!("ref_{n}_{k}");
                        }
                        if !call.input.is_object() {
                            call.input = serde_json::json!({"input": call.input});
                        }
                        call
                    })
                    .collect();
                open.extend(tool_calls.iter().cloned());
                out.push(Message::Assistant { text, tool_calls });
            }
            user => {
                answer_open(&mut out, &mut open);
                out.push(user);
            }
        }
    }
    answer_open(&mut out, &mut open);
    out
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
        assert_eq!(model_context("[]"), None);
    }

    #[test]
    fn a_broken_history_is_repaired_as_providers_need_it() {
        let history = r#"[
            {"role":"assistant","content":[{"type":"tool_use","id":"","name":"x","input":"notadict"}]},
            {"role":"user","content":[{"type":"tool_result","tool_use_id":"orphan","content":"?"}]},
            {"role":"user","content":"next"}
        ]"#;
        let context = model_context(history).unwrap();
        assert_eq!(context.len(), 3, "{context:?}");
        let Message::Assistant { tool_calls, .. } = &context[0] else {
            panic!("{context:?}")
        };
        assert_eq!(tool_calls[0].id, "ref_0_0");
        assert_eq!(tool_calls[0].input, serde_json::json!({"input": "notadict"}));
        assert!(matches!(&context[1], Message::ToolResult { call_id, .. } if call_id == "ref_0_0"));
        assert_eq!(context[2], Message::User("next".into()));
    }
}
