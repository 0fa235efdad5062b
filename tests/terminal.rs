//! The chat in a real pseudo-terminal: line editing with Tab completion,
//! Ctrl-C during a streamed reply, Ctrl-D to leave.

mod common;

use std::time::{Duration, Instant};

use common::Env;
use common::llm_server::{LlmServer, Reply};
use common::pty::Terminal;

#[test]
fn ctrl_c_cuts_a_streamed_reply_keeps_the_chat_and_stores_the_part() {
    let env = Env::new();
    let server = LlmServer::start();
    server.then(Reply::Stall(
        "Once upon ".into(),
        Duration::from_secs(30),
        "a time.".into(),
    ));
    server.then(Reply::Text("Short story.".into()));
    let mut term = Terminal::open(&env, &server.openai_env());
    let at = term.wait_for("you> ", 0);
    term.send("tell me a story\r");
    let at = term.wait_for("Once upon", at);
    term.send("\x03");
    let at = term.wait_for("(interrupted)", at);
    let at = term.wait_for("you> ", at);
    term.send("shorter please\r");
    let at = term.wait_for("Short story.", at);
    term.wait_for("you> ", at);
    term.send("\x04");
    let status = term.child.wait().unwrap();
    assert!(status.success());
    term.wait_for("Resume this session with: anton -r ", 0);

    let store = env.store();
    let session = store.list_sessions(&Default::default()).unwrap().remove(0).0;
    let messages = store.messages(&session.id, 0).unwrap();
    let cut = messages.iter().find(|m| m.role == "assistant").unwrap();
    assert_eq!(cut.content, "Once upon ");
    assert!(cut.meta.contains("\"interrupted\":true"), "{}", cut.meta);
    assert_eq!(messages.len(), 4);
    let last = server.chat_requests().pop().unwrap();
    assert_eq!(
        last.body["messages"][2]["content"], "Once upon ",
        "the model sees what it had said"
    );
}

#[test]
fn tab_completes_slash_commands_and_ctrl_c_twice_leaves() {
    let env = Env::new();
    let mut term = Terminal::open(&env, &[]);
    let at = term.wait_for("you> ", 0);
    term.send("/hel\t");
    let at = term.wait_for("/help ", at);
    term.send("\r");
    let at = term.wait_for("/resume", at);
    let at = term.wait_for("you> ", at);
    term.send("\x03");
    term.wait_for("(Ctrl-C again or Ctrl-D to leave)", at);
    term.send("\x03");
    assert!(term.child.wait().unwrap().success());
}

#[test]
fn the_resume_picker_moves_with_arrows_filters_as_you_type_and_cancels_with_esc() {
    let env = Env::new();
    let server = LlmServer::start();
    let ids: Vec<String> = [("about churn", "a"), ("about pricing", "b"), ("about revenue", "c")]
        .into_iter()
        .map(|(question, answer)| env.chat_once(&server, question, answer))
        .collect();
    env.store().set_title(&ids[0], "churn analysis", true).unwrap();
    env.store().set_title(&ids[1], "pricing model", true).unwrap();
    let mut term = Terminal::open(&env, &server.openai_env());
    let at = term.wait_for("you> ", 0);
    term.send("/resume\r");
    let at = term.wait_for("Esc cancels", at);
    term.send("\x1b[B\r");
    let at = term.wait_for(&format!("Resumed session {}", ids[1]), at);
    let at = term.wait_for("you> ", at);

    term.send("/resume\r");
    let at = term.wait_for("Esc cancels", at);
    term.send("churn");
    let at = term.wait_for("[churn]", at);
    term.send("\r");
    let at = term.wait_for(&format!("Resumed session {}", ids[0]), at);
    let at = term.wait_for("you> ", at);

    term.send("/resume\r");
    let at = term.wait_for("Esc cancels", at);
    term.send("\x1b");
    term.wait_for("you> ", at);
    term.send("\x04");
    assert!(term.child.wait().unwrap().success());
    let screen = term.screen.lock().unwrap().clone();
    assert_eq!(
        screen.matches("Resumed session").count(),
        2,
        "Esc resumed nothing:\n{screen}"
    );
}

#[test]
fn tmp_ctrl_c_interrupts_a_running_cell_and_the_pad_lives_on() {
    let env = Env::new();
    let server = LlmServer::start();
    server
        .then(Reply::scratchpad(
            "Working.",
            "call_1",
            "x = 41\nimport time\ntime.sleep(60)",
        ))
        .then(Reply::scratchpad("", "call_2", "x + 1"))
        .then(Reply::Text("All done.".into()));
    let mut term = Terminal::open(&env, &server.openai_env());
    let at = term.wait_for("you> ", 0);
    term.send("work\r");
    let at = term.wait_for("scratchpad main", at);
    std::thread::sleep(Duration::from_millis(1500));
    let started = Instant::now();
    term.send("\x03");
    let at = term.wait_for("KeyboardInterrupt", at);
    assert!(started.elapsed() < Duration::from_secs(10));
    let at = term.wait_for("42", at);
    let at = term.wait_for("All done.", at);
    term.wait_for("you> ", at);
    term.send("\x04");
    assert!(term.child.wait().unwrap().success());
}

#[test]
fn tmp_ctrl_c_during_a_reply_leaves_the_idle_pad_alive() {
    let env = Env::new();
    let server = LlmServer::start();
    server
        .then(Reply::scratchpad("Working.", "call_1", "x = 41"))
        .then(Reply::Stall(
            "Thinking ".into(),
            Duration::from_secs(30),
            "more.".into(),
        ))
        .then(Reply::scratchpad("", "call_2", "x + 1"))
        .then(Reply::Text("All done.".into()));
    let mut term = Terminal::open(&env, &server.openai_env());
    let at = term.wait_for("you> ", 0);
    term.send("work\r");
    let at = term.wait_for("Thinking", at);
    term.send("\x03");
    let at = term.wait_for("(interrupted)", at);
    let at = term.wait_for("you> ", at);
    term.send("again\r");
    let at = term.wait_for("All done.", at);
    let screen = term.screen.lock().unwrap().clone();
    assert!(screen[..at].contains("  42"), "{screen}");
    term.wait_for("you> ", at);
    term.send("\x04");
    assert!(term.child.wait().unwrap().success());
}

#[test]
fn a_chat_on_a_terminal_prepares_its_plugins_behind_the_prompt() {
    let env = Env::with_cold_cache();
    let mut term = Terminal::open(&env, &[]);
    let at = term.wait_for("you> ", 0);
    let compiled = || env.compiled_plugins().len();
    let deadline = Instant::now() + Duration::from_secs(60);
    while compiled() < anton::plugin_host::BUILTIN_PLUGINS.len() {
        assert!(
            Instant::now() < deadline,
            "the built-in plugins were not compiled in the background"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    term.send("/sessions\r");
    let at = term.wait_for("No sessions found", at);
    term.wait_for("you> ", at);
    assert!(
        !term.screen.lock().unwrap().contains("Preparing plugins"),
        "the first slash command waited for a compile"
    );
    term.send("\x04");
    assert!(term.child.wait().unwrap().success());
}
