//! OpenAI Chat Completions, streamed.

use serde_json::{Value, json};

use super::sse::Event;
use super::{Error, Message, Reply, Request, ToolCall};
use crate::settings::ModelConfig;

pub fn request(model: &ModelConfig, request: &Request) -> (String, Vec<(&'static str, String)>, Value) {
    let mut messages = vec![json!({"role": "system", "content": request.system})];
    for message in request.messages {
        messages.push(match message {
            Message::User(text) => json!({"role": "user", "content": text}),
            Message::Assistant { text, tool_calls } if tool_calls.is_empty() => {
                json!({"role": "assistant", "content": text})
            }
            Message::Assistant { text, tool_calls } => json!({
                "role": "assistant",
                "content": if text.is_empty() { Value::Null } else { json!(text) },
                "tool_calls": tool_calls.iter().map(|c| json!({
                    "id": c.id, "type": "function",
                    "function": {"name": c.name, "arguments": c.input.to_string()},
                })).collect::<Vec<_>>(),
            }),
            Message::ToolResult { call_id, content, .. } => {
                json!({"role": "tool", "tool_call_id": call_id, "content": content})
            }
        });
    }
    let mut body = json!({
        "model": model.model,
        "messages": messages,
        "stream": true,
        "stream_options": {"include_usage": true},
        "max_tokens": request.max_tokens,
    });
    if !request.tools.is_empty() {
        body["tools"] = request
            .tools
            .iter()
            .map(|t| json!({"type": "function", "function": {"name": t.name, "description": t.description, "parameters": t.schema}}))
            .collect();
    }
    let mut headers = Vec::new();
    if let Some(key) = &model.api_key {
        headers.push(("authorization", format!("Bearer {key}")));
    }
    (format!("{}/chat/completions", model.base_url), headers, body)
}

#[derive(Default)]
pub struct Decoder {
    reply: Reply,
    /// Tool calls by their stream index: id, name, argument text.
    calls: Vec<(String, String, String)>,
    /// Some compatible servers end with a finish reason and no `[DONE]`.
    pub finish_reason_seen: bool,
}

impl Decoder {
    /// `Ok(true)` at the end of the stream.
    pub fn event(&mut self, event: &Event, on_text: &mut (dyn FnMut(&str) + Send)) -> Result<bool, Error> {
        if event.data.trim() == "[DONE]" {
            return Ok(true);
        }
        let chunk: Value = serde_json::from_str(&event.data)
            .map_err(|e| Error::Invalid(format!("the server streamed something that is not JSON ({e})")))?;
        if let Some(message) = chunk.pointer("/error/message").and_then(Value::as_str) {
            return Err(Error::Unavailable(format!(
                "the server stopped with an error: {message}"
            )));
        }
        if let Some(usage) = chunk.get("usage").filter(|u| u.is_object()) {
            self.reply.input_tokens = usage["prompt_tokens"].as_u64().unwrap_or(0) as u32;
            self.reply.output_tokens = usage["completion_tokens"].as_u64().unwrap_or(0) as u32;
        }
        for choice in chunk["choices"].as_array().into_iter().flatten() {
            self.finish_reason_seen |= choice["finish_reason"].is_string();
            let delta = &choice["delta"];
            if let Some(text) = delta["content"].as_str().filter(|t| !t.is_empty()) {
                self.reply.text.push_str(text);
                on_text(text);
            }
            for call in delta["tool_calls"].as_array().into_iter().flatten() {
                let index = call["index"].as_u64().unwrap_or(self.calls.len() as u64) as usize;
                while self.calls.len() <= index {
                    self.calls.push(Default::default());
                }
                let slot = &mut self.calls[index];
                if let Some(id) = call["id"].as_str() {
                    slot.0 = id.to_string();
                }
                if let Some(name) = call.pointer("/function/name").and_then(Value::as_str) {
                    slot.1.push_str(name);
                }
                if let Some(args) = call.pointer("/function/arguments").and_then(Value::as_str) {
                    slot.2.push_str(args);
                }
            }
        }
        Ok(false)
    }

    pub fn finish(mut self) -> Reply {
        for (i, (id, name, args)) in self.calls.into_iter().enumerate() {
            let input = serde_json::from_str(&args).unwrap_or_else(|_| serde_json::json!({"raw": args}));
            let id = if id.is_empty() { format!("call_{i}") } else { id };
            self.reply.tool_calls.push(ToolCall { id, name, input });
        }
        self.reply
    }
}
