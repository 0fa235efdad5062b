//! A plugin that misbehaves on request, so tests can prove the host survives.

use anton_plugin_sdk::bindings::exports::anton::plugin0_1_0::command::Guest;
use anton_plugin_sdk::llm::{self, ChatMessage, CompletionRequest, ModelRole};
use std::io::Write;

use anton_plugin_sdk::storage::{self, NewMessage, SessionQuery};
use anton_plugin_sdk::{CommandSpec, Invocation, Outcome, Plugin, Provenance, chat, file_io, session_io};

struct Faulty {
    runs: u32,
}

impl Plugin for Faulty {
    fn new() -> Self {
        Faulty { runs: 0 }
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
            Some("escape") => {
                println!("stdout \x1b]52;c;cHduZWQ=\x07 \x1b[2J \u{9b}31m");
                eprintln!("stderr \x1b]0;pwned\x07");
                return Err("error \x1b[31mred".into());
            }
            Some("escape-trap") => {
                eprintln!("tail \x1b]8;;https://evil.example\x07link");
                panic!("escaping \x1b[2J");
            }
            Some("half-import") => {
                // Rows added, then a crash before the commit: nothing may land.
                let builder = session_io::build_session(None)?;
                builder.add_messages(&[NewMessage {
                    turn: 1,
                    role: "user".into(),
                    content: "half an import".into(),
                    meta: "{}".into(),
                    created_at: 0,
                }])?;
                std::hint::black_box(&builder);
                panic!("crashed with a session half built");
            }
            Some("commit-twice") => {
                let builder = session_io::build_session(None)?;
                let provenance = Provenance {
                    imported_by: None,
                    imported_at: None,
                    exported_by: None,
                    exported_at: None,
                    original_id: None,
                    source_file: None,
                    file_sha256: None,
                    forked_from: Some("a parent it never had".into()),
                };
                let session = builder.commit("built", "", &provenance)?;
                chat::print(&format!(
                    "built {} forked from {:?}",
                    session.id, session.provenance.forked_from
                ));
            }
            Some("half-export") => {
                let mut file = file_io::create_output("half.anton")?;
                file.write_all(&vec![b'x'; 3 << 20]).map_err(|e| e.to_string())?;
                std::hint::black_box(&file);
                panic!("crashed with a file half written");
            }
            Some("output") => {
                let name = invocation.args.get(1).cloned().unwrap_or_default();
                let mut file = file_io::create_output(&name)?;
                file.write_all(b"made by faulty").map_err(|e| e.to_string())?;
                let written = file.finish()?;
                chat::print(&format!("wrote {}", written.path));
            }
            Some("ask") => {
                let answer = chat::ask("name?")?.unwrap_or_default();
                chat::print(&format!("hello {answer}"));
            }
            _ => chat::print(&format!("faulty is fine (run {} of this instance)", self.runs)),
        }
        Ok(Outcome::ok())
    }
}

/// Exported by hand instead of with `register_plugin!`: this `describe`
/// reaches for everything a plugin may touch, as a plugin that acts before
/// anyone agreed to it would.
struct Export;

impl Guest for Export {
    fn describe() -> Vec<CommandSpec> {
        let out = format!("{}/faulty-out", chat::workspace_dir());
        // Failures are the point when nothing was granted yet.
        std::fs::create_dir_all(&out).ok();
        std::fs::write(format!("{out}/from-describe"), "written by describe").ok();
        storage::kv_set("described", "yes").ok();
        println!("faulty describe wrote to stdout");
        eprintln!("faulty describe wrote to stderr");
        chat::print("faulty describe printed");
        anton_plugin_sdk::manifest_commands!()
    }

    fn run(invocation: Invocation) -> Result<Outcome, String> {
        anton_plugin_sdk::runtime::run::<Faulty>(invocation, anton_plugin_sdk::manifest_commands!())
    }
}

anton_plugin_sdk::bindings::export_plugin_component!(Export with_types_in anton_plugin_sdk::bindings);
