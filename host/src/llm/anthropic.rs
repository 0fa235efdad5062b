//! Anthropic Messages, streamed.

use serde_json::{Value, json};

use super::sse::Event;
use super::{Error, Message, Reply, Request, ToolCall};
use crate::settings::ModelConfig;

const API_VERSION: &str = "2023-06-01";

pub fn request(model: &ModelConfig, request: &Request) -> (String, Vec<(&'static str, String)>, Value) {
    let mut messages: Vec<Value> = Vec::new();
    for message in request.messages {
        let (role, block) = match message {
            Message::User(text) => ("user", json!({"type": "text", "text": text})),
            Message::Assistant { text, tool_calls } => {
                let mut blocks = Vec::new();
                if !text.is_empty() {
                    blocks.push(json!({"type": "text", "text": text}));
                }
                for call in tool_calls {
                    blocks.push(json!({"type": "tool_use", "id": call.id, "name": call.name, "input": call.input}));
                }
                if blocks.is_empty() {
                    blocks.push(json!({"type": "text", "text": "(no reply)"}));
                }
                messages.push(json!({"role": "assistant", "content": blocks}));
                continue;
            }
            Message::ToolResult { call_id, content, .. } => (
                "user",
                json!({"type": "tool_result", "tool_use_id": call_id, "content": content}),
            ),
        };
        // Consecutive blocks of one role go in one message, as the API wants.
        match messages.last_mut() {
            Some(last) if last["role"] == role && last["content"].is_array() => {
                last["content"].as_array_mut().expect("array").push(block);
            }
            _ => messages.push(json!({"role": role, "content": [block]})),
        }
    }
    let mut body = json!({
        "model": model.model,
        "max_tokens": request.max_tokens,
        "system": request.system,
        "messages": messages,
        "stream": true,
    });
    if !request.tools.is_empty() {
        body["tools"] = request
            .tools
            .iter()
            .map(|t| json!({"name": t.name, "description": t.description, "input_schema": t.schema}))
            .collect();
    }
    let mut headers = vec![("anthropic-version", API_VERSION.to_string())];
    if let Some(key) = &model.api_key {
        headers.push(("x-api-key", key.clone()));
    }
    (format!("{}/v1/messages", model.base_url), headers, body)
}

#[derive(Default)]
pub struct Decoder {
    reply: Reply,
    /// The open tool_use block: id, name, partial JSON.
    open_call: Option<(String, String, String)>,
    /// `message_delta` carries why the reply stopped, just before `message_stop`.
    pub stop_reason_seen: bool,
}

impl Decoder {
    pub fn event(&mut self, event: &Event, on_text: &mut (dyn FnMut(&str) + Send)) -> Result<bool, Error> {
        let data: Value = serde_json::from_str(&event.data)
            .map_err(|e| Error::Invalid(format!("the server streamed something that is not JSON ({e})")))?;
        match data["type"].as_str().unwrap_or_default() {
            "message_start" => {
                self.reply.input_tokens = data
                    .pointer("/message/usage/input_tokens")
                    .and_then(Value::as_u64)
                    .unwrap_or(0) as u32;
            }
            "content_block_start" => {
                let block = &data["content_block"];
                if block["type"] == "tool_use" {
                    let id = block["id"].as_str().unwrap_or_default().to_string();
                    let name = block["name"].as_str().unwrap_or_default().to_string();
                    self.open_call = Some((id, name, String::new()));
                }
            }
            "content_block_delta" => {
                let delta = &data["delta"];
                if let Some(text) = delta["text"].as_str() {
                    self.reply.text.push_str(text);
                    on_text(text);
                }
                if let (Some(json), Some(call)) = (delta["partial_json"].as_str(), self.open_call.as_mut()) {
                    call.2.push_str(json);
                }
            }
            "content_block_stop" => {
                if let Some((id, name, json)) = self.open_call.take() {
                    let input = if json.trim().is_empty() {
                        json!({})
                    } else {
                        serde_json::from_str(&json).unwrap_or_else(|_| json!({"raw": json}))
                    };
                    self.reply.tool_calls.push(ToolCall { id, name, input });
                }
            }
            "message_delta" => {
                self.stop_reason_seen |= data.pointer("/delta/stop_reason").is_some_and(Value::is_string);
                if let Some(n) = data.pointer("/usage/output_tokens").and_then(Value::as_u64) {
                    self.reply.output_tokens = n as u32;
                }
            }
            "message_stop" => return Ok(true),
            "error" => {
                let message = data
                    .pointer("/error/message")
                    .and_then(Value::as_str)
                    .unwrap_or("unknown error");
                return Err(Error::Unavailable(format!(
                    "anthropic stopped with an error: {message}"
                )));
            }
            _ => {}
        }
        Ok(false)
    }

    pub fn finish(self) -> Reply {
        self.reply
    }
}
