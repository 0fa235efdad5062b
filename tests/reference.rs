//! Workspaces the reference Anton wrote: its `.anton/episodes/` logs, in
//! the documented format (../shared/reference/anton-reference.md §1.3),
//! appear as sessions, grow with later runs, and resume.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use common::Env;
use common::llm_server::{LlmServer, Reply};
use common::pty::Terminal;
use serde_json::{Value, json};

const ID: &str = "20261123_232051";

/// One episode line as the reference's `EpisodicMemory.log` writes it.
fn episode(turn: u32, role: &str, content: &str, meta: Value) -> String {
    let line = json!({"ts": "2026-11-23T23:20:51.566452+00:00", "session": ID, "turn": turn,
        "role": role, "content": content, "meta": meta});
    format!("{line}\n")
}

/// The documented first turn: a scratchpad call, a memorize, an answer.
fn first_turn() -> String {
    [
        episode(1, "user", "what is revenue by region? check the db", json!({})),
        episode(
            1,
            "tool_call",
            r#"{'action': 'exec', 'name': 'main', 'code': "import os\nprint(os.environ['DS_POSTGRES_PROD_DB__HOST'])\n", 'description': 'Check connection env'}"#,
            json!({"tool": "scratchpad", "datasources": ["postgres_prod_db"]}),
        ),
        episode(1, "scratchpad", "db.internal.example\n45\n", json!({"description": "Check connection env"})),
        episode(1, "tool_result", "[output]\ndb.internal.example\n45\n", json!({"tool": "scratchpad"})),
        episode(1, "tool_call", "{'entries': [{'text': 'Revenue is in cents'}]}", json!({"tool": "memorize", "datasources": []})),
        episode(0, "memory_write", "Revenue table is sales.orders; amounts are in cents", json!({"kind": "lesson", "topic": "sales-db"})),
        episode(0, "memory_write", "Always group revenue by region_code, not region_name", json!({"kind": "always", "topic": ""})),
        episode(1, "tool_result", "Memory updated: Encoded lesson", json!({"tool": "memorize"})),
        "{\"ts\": \"2026-11-23T23:20:52+00:00\", \"role\": truncated garbage\n".to_string(),
        episode(1, "assistant", "APAC leads revenue this quarter.", json!({})),
    ]
    .concat()
}

/// The reference's `_history.json` for the first turn.
fn history() -> String {
    json!([
        {"role": "user", "content": "[2026-11-23 23:20] what is revenue by region? check the db"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "call_298a1cb0", "name": "scratchpad",
            "input": {"action": "exec", "name": "main", "code": "print(1)"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "call_298a1cb0", "content": "[output]\n1"}]},
        {"role": "assistant", "content": "APAC leads revenue this quarter."}
    ])
    .to_string()
}

/// A workspace as the reference leaves it: the log, and its history
/// file with the mode it gives it (0600), or another.
fn reference_workspace(env: &Env, log: &str, history_mode: Option<u32>) -> PathBuf {
    let episodes = env.ws().join(".anton/episodes");
    std::fs::create_dir_all(&episodes).unwrap();
    std::fs::write(episodes.join(format!("{ID}.jsonl")), log).unwrap();
    if let Some(mode) = history_mode {
        let path = episodes.join(format!("{ID}_history.json"));
        std::fs::write(&path, history()).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    episodes
}

fn digest(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| (p.display().to_string(), std::fs::read(&p).unwrap()))
        .collect();
    files.sort();
    files
}

#[test]
fn a_reference_workspace_lists_grows_and_is_never_written() {
    let env = Env::new();
    // The last line is still being written by the reference.
    let partial = episode(2, "user", "and by month?", json!({}));
    let (written, unfinished) = partial.split_at(30);
    let episodes = reference_workspace(&env, &format!("{}{written}", first_turn()), Some(0o600));

    let first = env.run(&["sessions", "--json"]);
    let listed = first.ok().json();
    assert_eq!(listed.as_array().unwrap().len(), 1, "{first:#?}");
    assert_eq!(listed[0]["id"], ID);
    assert_eq!(listed[0]["task"], "what is revenue by region? check the db");
    assert_eq!(listed[0]["turns"], 1);
    assert!(
        first
            .stderr
            .contains("Read 1 new session from the reference Anton's .anton/episodes (1 line not episodes, skipped)."),
        "{first:#?}"
    );
    let shown = env.run(&["session", ID, "--json"]).ok().json();
    assert_eq!(shown["details"]["scratchpad_cells"], 1, "{shown}");
    assert_eq!(shown["details"]["memories_born"], 2, "{shown}");
    let store = env.store();
    let cells = store.cells(ID).unwrap();
    assert_eq!(cells[0].pad, "main");
    assert!(
        cells[0].code.starts_with("import os\nprint(os.environ"),
        "{:?}",
        cells[0]
    );
    assert_eq!(cells[0].description, "Check connection env");
    let messages = store.messages(ID, 0).unwrap().len();
    assert_eq!(messages, 9, "every episode line but the broken and the unfinished one");

    // Again: nothing new, nothing said, nothing twice.
    let again = env.run(&["sessions", "--json"]);
    assert_eq!(again.ok().stderr, "", "{again:#?}");
    assert_eq!(store.messages(ID, 0).unwrap().len(), messages);

    // A later run of the reference finishes the line and adds a turn, then
    // replaces the history file, as it does at the end of every turn.
    let mut log = std::fs::OpenOptions::new()
        .append(true)
        .open(episodes.join(format!("{ID}.jsonl")))
        .unwrap();
    std::io::Write::write_all(
        &mut log,
        format!(
            "{unfinished}{}",
            episode(2, "assistant", "Growing each month.", json!({}))
        )
        .as_bytes(),
    )
    .unwrap();
    drop(log);
    let history = episodes.join(format!("{ID}_history.json"));
    let replacement = episodes.join(".hist_1.tmp");
    std::fs::copy(&history, &replacement).unwrap();
    std::fs::rename(&replacement, &history).unwrap();
    let before = digest(&episodes);
    let grown = env.run(&["sessions", "--json"]).ok().json();
    assert_eq!(grown[0]["turns"], 2, "{grown}");
    assert_eq!(store.messages(ID, 0).unwrap().len(), messages + 2);
    assert_eq!(env.store().count_sessions().unwrap(), 1);

    assert_eq!(digest(&episodes), before, "the reference's files are as it left them");
}

#[test]
fn a_reference_session_resumes_with_the_context_the_reference_saved_once_the_user_says_so() {
    let env = Env::new();
    reference_workspace(&env, &first_turn(), Some(0o600));
    let server = LlmServer::start();
    server.then(Reply::Text("By month: growing.".into()));
    let mut term = Terminal::launch(&env, &["-c"], &server.openai_env());
    let at = term.wait_for("Give it to the model as its own", 0);
    term.send("y\r");
    let at = term.wait_for(&format!("Resumed session {ID}"), at);
    let at = term.wait_for("you> ", at);
    term.send("and by month?\r");
    let at = term.wait_for("By month: growing.", at);
    term.wait_for("you> ", at);
    term.send("\x04");
    assert!(term.child.wait().unwrap().success());
    let request = server.chat_requests().pop().unwrap();
    let messages = request.body["messages"].as_array().unwrap();
    assert_eq!(
        messages[1]["content"], "[2026-11-23 23:20] what is revenue by region? check the db",
        "{messages:#?}"
    );
    assert_eq!(messages[2]["tool_calls"][0]["id"], "call_298a1cb0", "{messages:#?}");
    assert_eq!(messages[3]["tool_call_id"], "call_298a1cb0", "{messages:#?}");
    assert_eq!(messages[4]["content"], "APAC leads revenue this quarter.");
    assert_eq!(messages[5]["content"], "and by month?");
    assert_eq!(messages.len(), 6);

    // Asked once: the next resume remembers the answer.
    server.then(Reply::Text("Still growing.".into()));
    let mut term = Terminal::launch(&env, &["-r", ID], &server.openai_env());
    let at = term.wait_for("you> ", 0);
    term.send("\x04");
    assert!(term.child.wait().unwrap().success());
    assert!(!term.screen.lock().unwrap()[..at].contains("Give it to the model"));
}

#[test]
fn without_a_person_to_ask_the_saved_context_is_quoted() {
    let env = Env::new();
    reference_workspace(&env, &first_turn(), Some(0o600));
    let server = LlmServer::start();
    server.then(Reply::Text("noted".into()));
    env.run_env(&server.openai_env(), &["-r", ID], "what did it find?\n")
        .ok();
    let request = server.chat_requests().pop().unwrap();
    let quoted = request.body["messages"][1]["content"].as_str().unwrap().to_string();
    assert!(
        quoted.starts_with("The earlier turns of this session were logged by the reference Anton"),
        "{quoted}"
    );
}

#[test]
fn two_antons_adopting_at_once_store_each_line_once() {
    for _ in 0..3 {
        let env = Env::new();
        reference_workspace(&env, &first_turn(), Some(0o600));
        let racers: Vec<_> = (0..3)
            .map(|_| {
                env.command_in(env.ws(), &["sessions", "--json"])
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for racer in racers {
            let ran = racer.wait_with_output().unwrap();
            assert!(ran.status.success(), "{}", String::from_utf8_lossy(&ran.stderr));
        }
        assert_eq!(env.store().messages(ID, 0).unwrap().len(), 9);
        assert_eq!(env.store().cells(ID).unwrap().len(), 1);
    }
}

#[test]
fn secrets_odd_turns_and_times_to_come_are_held_at_the_door() {
    let env = Env::new();
    let token = "ghp_4kT9zQ2mW8xR1vB7nL3pJ6sD0fG5hY2uE9aC";
    let log = [
        episode(1, "user", &format!("my token:\n{token}"), json!({})),
        episode(1, "assistant", "ok", json!({})),
        format!(
            "{}\n",
            json!({"ts": "2099-12-31T00:00:00+00:00", "session": ID, "turn": 4294967295u64, "role": "user", "content": "far"})
        ),
        format!(
            "{}\n",
            json!({"ts": "2099-12-31T00:00:00+00:00", "session": ID, "turn": 2, "role": "user", "content": "later"})
        ),
    ]
    .concat();
    let episodes = reference_workspace(&env, &log, None);
    let history = json!([{"role": "user", "content": format!("A:\n{token}")}]).to_string();
    let path = episodes.join(format!("{ID}_history.json"));
    std::fs::write(&path, history).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let run = env.run(&["sessions", "--json"]);
    let listed = run.ok().json();
    assert!(
        run.stderr.contains("(1 line not episodes, skipped)"),
        "the turn past the cap: {run:#?}"
    );
    assert_eq!(listed[0]["turns"], 2);
    let store = env.store();
    let session = store.get_session(ID).unwrap().unwrap();
    assert!(session.updated_at <= anton::store::now_ms(), "no time to come");
    let (context, _) = store.reference_context(ID).unwrap().unwrap();
    assert!(!context.contains(token) && context.contains("[REDACTED"), "{context}");
    for message in store.messages(ID, 0).unwrap() {
        assert!(!message.content.contains(token), "{message:?}");
    }
}

#[test]
fn a_log_that_did_not_come_with_its_private_history_is_quoted_not_replayed() {
    let env = Env::new();
    // As a clone or an unzip leaves files: readable by all.
    reference_workspace(&env, &first_turn(), Some(0o644));
    let server = LlmServer::start();
    server.then(Reply::Text("noted".into()));
    env.run_env(&server.openai_env(), &["-r", ID], "what did it find?\n")
        .ok();
    let request = server.chat_requests().pop().unwrap();
    let messages = request.body["messages"].as_array().unwrap();
    let quoted = messages[1]["content"].as_str().unwrap();
    assert!(
        quoted.starts_with("The earlier turns of this session were logged by the reference Anton in this folder.")
            && quoted.contains("\n> user:\n> what is revenue by region? check the db"),
        "{quoted}"
    );
    assert_eq!(messages[3]["content"], "what did it find?");
    assert_eq!(messages.len(), 4, "{messages:#?}");
}
