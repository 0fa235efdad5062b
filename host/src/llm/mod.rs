//! The model client: OpenAI Chat Completions (and compatible servers) and
//! Anthropic Messages, streamed, with tool calls, retries and one-line errors.

mod anthropic;
mod openai;
mod sse;

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::Value;

use crate::settings::{ModelConfig, Provider};

#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    User(String),
    Assistant {
        text: String,
        tool_calls: Vec<ToolCall>,
    },
    ToolResult {
        call_id: String,
        name: String,
        content: String,
    },
}

/// Results for `calls` that never got one, so providers accept the
/// history (they refuse a call left unanswered); drains `calls`.
pub fn unanswered(calls: &mut Vec<ToolCall>, why: &str) -> Vec<Message> {
    calls
        .drain(..)
        .map(|call| Message::ToolResult {
            call_id: call.id,
            name: call.name,
            content: why.into(),
        })
        .collect()
}

#[derive(Debug, Clone, PartialEq)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    pub input: Value,
}

pub struct Tool {
    pub name: &'static str,
    pub description: &'static str,
    pub schema: Value,
}

pub struct Request<'a> {
    pub system: &'a str,
    pub messages: &'a [Message],
    pub tools: &'a [Tool],
    pub max_tokens: u32,
}

#[derive(Debug, Default, Clone, PartialEq)]
pub struct Reply {
    pub text: String,
    pub tool_calls: Vec<ToolCall>,
    pub input_tokens: u32,
    pub output_tokens: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    Auth(String),
    ModelNotFound(String),
    RateLimited(String),
    Unavailable(String),
    Timeout(String),
    Invalid(String),
    /// The stream stopped before the provider said the reply was complete.
    CutOff(String),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Auth(m)
            | Error::ModelNotFound(m)
            | Error::RateLimited(m)
            | Error::Unavailable(m)
            | Error::Timeout(m)
            | Error::Invalid(m)
            | Error::CutOff(m) => f.write_str(m),
        }
    }
}

const ATTEMPTS: u32 = 3;
/// How long a silent server is waited on; `ANTON_LLM_TIMEOUT` (seconds) changes it.
const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    retry_base: Duration,
    read_timeout: Duration,
}

impl Default for Client {
    fn default() -> Self {
        Self::new()
    }
}

/// TLS for every client of this process (models, the team remote): ring,
/// as rustls is built without a provider of its own. Installing again is
/// refused, and the first one stays: nothing to handle.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

impl Client {
    pub fn new() -> Client {
        install_crypto_provider();
        let read_timeout = std::env::var("ANTON_LLM_TIMEOUT")
            .ok()
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|s| *s > 0.0)
            .map(Duration::from_secs_f64)
            .unwrap_or(DEFAULT_READ_TIMEOUT);
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .read_timeout(read_timeout)
            .build()
            .expect("the HTTP client configuration is valid");
        // ANTON_LLM_RETRY_MS shortens the backoff (tests, impatient people).
        let retry_base = std::env::var("ANTON_LLM_RETRY_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .map(Duration::from_millis)
            .unwrap_or(Duration::from_secs(1));
        Client {
            http,
            retry_base,
            read_timeout,
        }
    }

    /// Stream a reply, handing each piece of text to `on_text` as it arrives.
    /// Busy or failing servers (429, 5xx, refused connections) are retried
    /// with backoff before anything streamed; then the error is reported.
    pub async fn stream(
        &self,
        model: &ModelConfig,
        request: &Request<'_>,
        on_text: &mut (dyn FnMut(&str) + Send),
    ) -> Result<Reply, Error> {
        let (url, headers, body) = match model.provider {
            Provider::Anthropic => anthropic::request(model, request),
            Provider::OpenAi | Provider::OpenAiCompatible => openai::request(model, request),
        };
        let mut attempt = 0;
        let response = loop {
            attempt += 1;
            let mut builder = self.http.post(&url).json(&body);
            for (name, value) in &headers {
                builder = builder.header(*name, value);
            }
            let failure = match builder.send().await {
                Ok(response) if response.status().is_success() => break response,
                Ok(response) => {
                    let status = response.status().as_u16();
                    let retry_after = response
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.parse::<u64>().ok());
                    let detail = error_detail(&response.text().await.unwrap_or_default());
                    let error = status_error(model, status, &detail, attempt);
                    if !(status == 429 || status >= 500) || attempt == ATTEMPTS {
                        return Err(error);
                    }
                    retry_after.map(|s| Duration::from_secs(s.min(30)))
                }
                Err(e) => {
                    let error = transport_error(model, &e, self.read_timeout);
                    if attempt == ATTEMPTS || e.is_timeout() {
                        return Err(error);
                    }
                    None
                }
            };
            tokio::time::sleep(failure.unwrap_or(self.retry_base * 2u32.pow(attempt - 1))).await;
        };
        let mut parser = sse::Parser::default();
        let mut state = match model.provider {
            Provider::Anthropic => Decoder::Anthropic(anthropic::Decoder::default()),
            _ => Decoder::OpenAi(openai::Decoder::default()),
        };
        let mut bytes = response.bytes_stream();
        while let Some(chunk) = bytes.next().await {
            let chunk = chunk.map_err(|e| match transport_error(model, &e, self.read_timeout) {
                timeout @ Error::Timeout(_) => timeout,
                // A body that fails mid-reply (a chunked stream that stops
                // short, a reset) broke off like a closed connection.
                _ => cut_off(model, &root_cause(&e).to_string()),
            })?;
            for event in parser.push(&chunk) {
                let done = match &mut state {
                    Decoder::Anthropic(d) => d.event(&event, on_text)?,
                    Decoder::OpenAi(d) => d.event(&event, on_text)?,
                };
                if done {
                    return Ok(state.finish());
                }
            }
        }
        // A server that dies mid-reply closes the connection like one that
        // finished; only the provider's end-of-reply marks tell them apart.
        if state.ended() {
            return Ok(state.finish());
        }
        Err(cut_off(model, "the connection closed"))
    }
}

fn cut_off(model: &ModelConfig, why: &str) -> Error {
    Error::CutOff(format!(
        "the reply from {} broke off before its end ({why}); what arrived is kept",
        model.base_url
    ))
}

/// The innermost error, which names what went wrong ("connection reset").
fn root_cause<'a>(error: &'a (dyn std::error::Error + 'static)) -> &'a (dyn std::error::Error + 'static) {
    let mut cause = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause
}

enum Decoder {
    Anthropic(anthropic::Decoder),
    OpenAi(openai::Decoder),
}

impl Decoder {
    /// Whether the provider said why the reply stopped.
    fn ended(&self) -> bool {
        match self {
            Decoder::Anthropic(d) => d.stop_reason_seen,
            Decoder::OpenAi(d) => d.finish_reason_seen,
        }
    }

    fn finish(self) -> Reply {
        match self {
            Decoder::Anthropic(d) => d.finish(),
            Decoder::OpenAi(d) => d.finish(),
        }
    }
}

/// The message in `{"error": {"message": ...}}`, which both providers send.
fn error_detail(body: &str) -> String {
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    let message = parsed.as_ref().and_then(|v| {
        v.pointer("/error/message")
            .or_else(|| v.get("message"))
            .or_else(|| v.get("error"))
            .and_then(Value::as_str)
            .map(str::to_string)
    });
    let text = message.unwrap_or_else(|| body.trim().chars().take(200).collect());
    text.lines().next().unwrap_or("").to_string()
}

fn key_var(model: &ModelConfig) -> &'static str {
    match model.provider {
        Provider::Anthropic => "ANTON_ANTHROPIC_API_KEY",
        _ => "ANTON_OPENAI_API_KEY",
    }
}

fn status_error(model: &ModelConfig, status: u16, detail: &str, attempts: u32) -> Error {
    let who = model.provider.name();
    let tries = if attempts > 1 {
        format!(" after {attempts} tries")
    } else {
        String::new()
    };
    match status {
        401 | 403 => Error::Auth(format!(
            "{who} refused the API key ({status}: {detail}); check {}",
            key_var(model)
        )),
        404 => Error::ModelNotFound(format!(
            "{who} does not know model '{}' at {} (404: {detail}); check ANTON_PLANNING_MODEL / ANTON_CODING_MODEL",
            model.model, model.base_url
        )),
        429 => Error::RateLimited(format!(
            "{who} is rate limiting requests (429{tries}: {detail}); wait a moment and try again"
        )),
        s if s >= 500 => Error::Unavailable(format!("{who} is failing ({s}{tries}: {detail}); try again later")),
        s => Error::Invalid(format!("{who} rejected the request ({s}: {detail})")),
    }
}

fn transport_error(model: &ModelConfig, error: &reqwest::Error, timeout: Duration) -> Error {
    let base = &model.base_url;
    if error.is_timeout() {
        return Error::Timeout(format!(
            "no answer from {base} within {} s (ANTON_LLM_TIMEOUT sets the limit); try again",
            timeout.as_secs_f64()
        ));
    }
    if error.is_connect() {
        return Error::Unavailable(format!(
            "cannot reach {base} (is the server running, and the URL right?)"
        ));
    }
    Error::Unavailable(format!("the connection to {base} failed: {}", root_cause(error)))
}
