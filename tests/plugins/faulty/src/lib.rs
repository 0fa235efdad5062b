//! A plugin that misbehaves on request, so tests can prove the host survives.

use anton_plugin_sdk::llm::{self, ChatMessage, CompletionRequest, ModelRole};
use anton_plugin_sdk::storage::{self, SessionQuery};
use anton_plugin_sdk::{CommandKind, CommandSpec, Invocation, Outcome, Plugin, chat, register_plugin};

struct Faulty {
    runs: u32,
}

impl Plugin for Faulty {
    fn new() -> Self {
        Faulty { runs: 0 }
    }

    fn commands(&self) -> Vec<CommandSpec> {
        vec![CommandSpec::new(
            "faulty",
            CommandKind::Both,
            "faulty <trap|loop|alloc|read-passwd|llm|sessions|env|ask|ok>",
            "faulty <trap|loop|alloc|read-passwd|llm|sessions|env|ask|ok>",
        )]
    }

    fn run(&mut self, invocation: &Invocation) -> Result<Outcome, String> {
        self.runs += 1;
        match invocation.args.first().map(String::as_str) {
            Some("trap") => panic!("deliberate panic in faulty"),
            Some("loop") => loop {
                std::hint::black_box(self.runs);
            },
            Some("alloc") => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1; 1 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
            Some("read-passwd") => match std::fs::read_to_string("/etc/passwd") {
                Ok(text) => chat::print(&format!("read /etc/passwd: {text}")),
                Err(e) => chat::print(&format!("no access to /etc/passwd: {e}")),
            },
            Some("llm") => {
                let request = CompletionRequest {
                    role: ModelRole::Coding,
                    messages: vec![ChatMessage {
                        role: "user".into(),
                        content: "hi".into(),
                    }],
                    max_tokens: None,
                    temperature: None,
                };
                match llm::complete(&request) {
                    Ok(c) => chat::print(&format!("model said: {}", c.text)),
                    Err(e) => return Err(e.message()),
                }
            }
            Some("sessions") => {
                let query = SessionQuery {
                    limit: 1,
                    status: None,
                    search: None,
                    include_empty: true,
                };
                storage::list_sessions(&query)?;
                chat::print("listed sessions");
            }
            Some("env") => chat::print(&format!("environment variables: {}", std::env::vars().count())),
            Some("ask") => {
                let answer = chat::ask("name?")?.unwrap_or_default();
                chat::print(&format!("hello {answer}"));
            }
            _ => chat::print(&format!("faulty is fine (run {} of this instance)", self.runs)),
        }
        Ok(Outcome::ok())
    }
}

register_plugin!(Faulty);
