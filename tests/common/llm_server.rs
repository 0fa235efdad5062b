//! A loopback HTTP server that speaks the OpenAI Chat Completions and
//! Anthropic Messages wire formats: streamed text, tool calls, error codes.
//! Replies are scripted per test; every request is recorded.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

#[derive(Clone, Debug)]
pub enum Reply {
    /// Streamed text, in a few chunks.
    Text(String),
    /// Text, then one tool call.
    Tool {
        text: String,
        id: String,
        name: String,
        input: Value,
    },
    /// An HTTP error with a provider-style JSON body.
    Status(u16, String),
    /// One chunk of text, then silence for this long, then the rest.
    Stall(String, Duration, String),
    /// Streamed text, then the connection closes before the end of the reply.
    CutOff(String),
    /// Streamed text in a chunked body that stops short of its last chunk,
    /// as a server (or proxy) that dies mid-reply leaves it.
    Dropped(String),
}

impl Reply {
    /// `text`, then a call to run `code` in the `main` pad.
    pub fn scratchpad(text: &str, id: &str, code: &str) -> Reply {
        Reply::Tool {
            text: text.into(),
            id: id.into(),
            name: "scratchpad".into(),
            input: json!({"name": "main", "code": code}),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Recorded {
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Value,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every text in the request's messages, in order (both formats).
    pub fn texts(&self) -> Vec<String> {
        let mut out = Vec::new();
        for message in self.body["messages"].as_array().into_iter().flatten() {
            match &message["content"] {
                Value::String(s) => out.push(s.clone()),
                Value::Array(blocks) => {
                    for block in blocks {
                        for key in ["text", "content"] {
                            if let Some(s) = block[key].as_str() {
                                out.push(s.to_string());
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        out
    }

    pub fn is_title_request(&self) -> bool {
        self.texts()
            .iter()
            .any(|t| t.starts_with("Name and summarise this work session"))
    }
}

pub struct LlmServer {
    pub url: String,
    script: Arc<Mutex<VecDeque<Reply>>>,
    requests: Arc<Mutex<Vec<Recorded>>>,
    /// What a title request is answered with, and after how long.
    title: Arc<Mutex<(String, String, Duration)>>,
}

pub const TITLE: &str = "Revenue by region";
pub const SUMMARY: &str = "The user asked for revenue by region. APAC leads.";

impl LlmServer {
    pub fn start() -> LlmServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let script: Arc<Mutex<VecDeque<Reply>>> = Arc::default();
        let requests: Arc<Mutex<Vec<Recorded>>> = Arc::default();
        let title = Arc::new(Mutex::new((TITLE.to_string(), SUMMARY.to_string(), Duration::ZERO)));
        let (s, r, t) = (script.clone(), requests.clone(), title.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (s, r, t) = (s.clone(), r.clone(), t.clone());
                std::thread::spawn(move || serve(stream, &s, &r, &t));
            }
        });
        LlmServer {
            url,
            script,
            requests,
            title,
        }
    }

    /// Name every session `title` from now on.
    pub fn titles(&self, title: &str, summary: &str) {
        let mut naming = self.title.lock().unwrap();
        (naming.0, naming.1) = (title.to_string(), summary.to_string());
    }

    /// Answer title requests only after `delay`, as a slow model would.
    pub fn slow_titles(&self, delay: Duration) {
        self.title.lock().unwrap().2 = delay;
    }

    pub fn then(&self, reply: Reply) -> &LlmServer {
        self.script.lock().unwrap().push_back(reply);
        self
    }

    /// Requests of the conversation itself (title requests left out).
    pub fn chat_requests(&self) -> Vec<Recorded> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .filter(|r| !r.is_title_request())
            .cloned()
            .collect()
    }

    pub fn all_requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }

    /// Environment for an OpenAI-compatible setup pointing here.
    pub fn openai_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("ANTON_PLANNING_PROVIDER", "openai-compatible".into()),
            ("ANTON_PLANNING_MODEL", "test-model".into()),
            ("ANTON_CODING_PROVIDER", "openai-compatible".into()),
            ("ANTON_CODING_MODEL", "test-small".into()),
            ("ANTON_OPENAI_BASE_URL", format!("{}/v1", self.url)),
            ("ANTON_OPENAI_API_KEY", "sk-test-openai-key-000000000000".into()),
            ("ANTON_LLM_RETRY_MS", "20".into()),
        ]
    }

    pub fn anthropic_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("ANTON_PLANNING_PROVIDER", "anthropic".into()),
            ("ANTON_CODING_PROVIDER", "anthropic".into()),
            ("ANTON_ANTHROPIC_BASE_URL", self.url.clone()),
            ("ANTON_ANTHROPIC_API_KEY", "sk-ant-test-key-0000000000000000".into()),
            ("ANTON_LLM_RETRY_MS", "20".into()),
        ]
    }
}

fn serve(
    stream: TcpStream,
    script: &Mutex<VecDeque<Reply>>,
    requests: &Mutex<Vec<Recorded>>,
    naming: &Mutex<(String, String, Duration)>,
) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    let path = request_line.split_whitespace().nth(1).unwrap_or("").to_string();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = line.trim_end().split_once(':') {
            headers.push((k.trim().to_lowercase(), v.trim().to_string()));
        }
    }
    let length: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    let recorded = Recorded {
        path: path.clone(),
        headers,
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    };
    let title = recorded.is_title_request();
    requests.lock().unwrap().push(recorded);
    let anthropic = path.ends_with("/v1/messages");
    let reply = if title {
        let (title, summary, delay) = naming.lock().unwrap().clone();
        std::thread::sleep(delay);
        Reply::Text(json!({"title": title, "summary": summary}).to_string())
    } else {
        script
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or(Reply::Text("(no scripted reply)".into()))
    };
    let mut out = stream;
    match reply {
        Reply::Status(code, message) => {
            let body = json!({"error": {"type": "test_error", "message": message}}).to_string();
            let _ = write!(
                out,
                "HTTP/1.1 {code} Test\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
        reply => {
            let chunked = matches!(reply, Reply::Dropped(_));
            let framing = if chunked {
                "Transfer-Encoding: chunked"
            } else {
                "Connection: close"
            };
            let _ = write!(
                out,
                "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n{framing}\r\n\r\n"
            );
            let mut events = if anthropic {
                anthropic_events(&reply)
            } else {
                openai_events(&reply)
            };
            if matches!(reply, Reply::CutOff(_) | Reply::Dropped(_)) {
                // Both formats end a plain reply with three events that say it is done.
                events.truncate(events.len() - 3);
            }
            for event in events {
                match event {
                    Event::Data(text) => {
                        let text = if chunked {
                            format!("{:x}\r\n{text}\r\n", text.len())
                        } else {
                            text
                        };
                        if out.write_all(text.as_bytes()).and_then(|_| out.flush()).is_err() {
                            return;
                        }
                        std::thread::sleep(Duration::from_millis(2));
                    }
                    Event::Pause(d) => std::thread::sleep(d),
                }
            }
        }
    }
}

enum Event {
    Data(String),
    Pause(Duration),
}

fn chunks(text: &str) -> Vec<String> {
    let words: Vec<&str> = text.split_inclusive(' ').collect();
    words.chunks(3).map(|c| c.concat()).collect()
}

/// A tool call's id, name and input.
type ToolUse<'a> = (&'a str, &'a str, &'a Value);

/// What a reply streams: pauses, an optional tool call, the text chunks.
fn pieces(reply: &Reply) -> (Vec<Event>, Option<ToolUse<'_>>, Vec<String>) {
    match reply {
        Reply::Text(text) | Reply::CutOff(text) | Reply::Dropped(text) => (vec![], None, chunks(text)),
        Reply::Tool { text, id, name, input } => (vec![], Some((id.as_str(), name.as_str(), input)), chunks(text)),
        Reply::Stall(first, pause, rest) => (
            vec![Event::Pause(*pause)],
            None,
            std::iter::once(first.clone()).chain(chunks(rest)).collect(),
        ),
        Reply::Status(..) => unreachable!(),
    }
}

fn anthropic_events(reply: &Reply) -> Vec<Event> {
    let sse = |kind: &str, data: Value| Event::Data(format!("event: {kind}\ndata: {data}\n\n"));
    let (pause, tool, texts) = pieces(reply);
    let mut events = vec![sse(
        "message_start",
        json!({"type": "message_start", "message": {"usage": {"input_tokens": 11}}}),
    )];
    events.push(sse(
        "content_block_start",
        json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
    ));
    let mut pause = pause.into_iter();
    for (i, text) in texts.iter().enumerate() {
        events.push(sse(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}}),
        ));
        if i == 0 {
            events.extend(pause.by_ref());
        }
    }
    events.push(sse(
        "content_block_stop",
        json!({"type": "content_block_stop", "index": 0}),
    ));
    if let Some((id, name, input)) = tool {
        events.push(sse("content_block_start", json!({"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": id, "name": name, "input": {}}})));
        let json = input.to_string();
        let (a, b) = json.split_at(json.len() / 2);
        for part in [a, b] {
            events.push(sse("content_block_delta", json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": part}})));
        }
        events.push(sse(
            "content_block_stop",
            json!({"type": "content_block_stop", "index": 1}),
        ));
    }
    let stop = if tool.is_some() { "tool_use" } else { "end_turn" };
    events.push(sse(
        "message_delta",
        json!({"type": "message_delta", "delta": {"stop_reason": stop}, "usage": {"output_tokens": 7}}),
    ));
    events.push(sse("message_stop", json!({"type": "message_stop"})));
    events
}

fn openai_events(reply: &Reply) -> Vec<Event> {
    let data = |v: Value| Event::Data(format!("data: {v}\n\n"));
    let (pause, tool, texts) = pieces(reply);
    let mut events = Vec::new();
    let mut pause = pause.into_iter();
    for (i, text) in texts.iter().enumerate() {
        events.push(data(json!({"choices": [{"index": 0, "delta": {"content": text}}]})));
        if i == 0 {
            events.extend(pause.by_ref());
        }
    }
    if let Some((id, name, input)) = tool {
        let json = input.to_string();
        let (a, b) = json.split_at(json.len() / 2);
        events.push(data(json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": id, "type": "function", "function": {"name": name, "arguments": a}}]}}]})));
        events.push(data(
            json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": b}}]}}]}),
        ));
    }
    let finish = if tool.is_some() { "tool_calls" } else { "stop" };
    events.push(data(
        json!({"choices": [{"index": 0, "delta": {}, "finish_reason": finish}]}),
    ));
    events.push(data(
        json!({"choices": [], "usage": {"prompt_tokens": 11, "completion_tokens": 7}}),
    ));
    events.push(Event::Data("data: [DONE]\n\n".into()));
    events
}
