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
    let at = term.wait_for("No sessions yet", at);
    term.wait_for("you> ", at);
    assert!(
        !term.screen.lock().unwrap().contains("Preparing plugins"),
        "the first slash command waited for a compile"
    );
    term.send("\x04");
    assert!(term.child.wait().unwrap().success());
}

#[test]
fn a_slow_title_never_holds_the_prompt_and_is_stored_when_it_comes() {
    let env = Env::new();
    let server = LlmServer::start();
    server.slow_titles(Duration::from_secs(3));
    server.titles("Churn by cohort", "Churn is highest in the March cohort.");
    server.then(Reply::Text("March churns most.".into()));
    server.then(Reply::Text("About 12%.".into()));
    let mut term = Terminal::open(&env, &server.openai_env());
    let at = term.wait_for("you> ", 0);
    term.send("which cohort churns most?\r");
    let at = term.wait_for("March churns most.", at);
    let at = term.wait_for("you> ", at);
    term.send("how much?\r");
    let at = term.wait_for("About 12%.", at);
    let session = env.store().list_sessions(&Default::default()).unwrap().remove(0).0;
    assert_eq!(
        session.title, "which cohort churns most?",
        "the second answer came while the title was still being written"
    );
    term.wait_for("you> ", at);
    term.send("\x04");
    assert!(term.child.wait().unwrap().success());
    let session = env.store().list_sessions(&Default::default()).unwrap().remove(0).0;
    assert_eq!(session.title, "Churn by cohort");
    assert_eq!(session.summary, "Churn is highest in the March cohort.");
}

#[test]
fn ctrl_c_at_a_connect_field_cancels_the_connection_not_anton() {
    let env = Env::new();
    let mut term = Terminal::open(&env, &[]);
    let at = term.wait_for("you> ", 0);
    term.send("/connect postgres\r");
    let at = term.wait_for("host:", at);
    term.send("db.inter");
    let at = term.wait_for("db.inter", at);
    term.send("\x03");
    let at = term.wait_for("Cancelled; nothing saved.", at);
    let at = term.wait_for("you> ", at);

    // Secret fields are not echoed, and Esc cancels them too.
    term.send("/connect postgres\r");
    let mut at = term.wait_for("host:", at);
    for next in ["port", "database:", "user:", "password:"] {
        term.send("\r");
        at = term.wait_for(next, at);
    }
    term.send("hunter2");
    std::thread::sleep(Duration::from_millis(300));
    term.send("\x1b");
    let at = term.wait_for("Cancelled; nothing saved.", at);
    let at = term.wait_for("you> ", at);

    // A pasted multi-line secret is one field, not the answers to the next ones.
    term.send("/connect bigquery\r");
    let mut at = term.wait_for("project", at);
    for (answer, next) in [("proj", "dataset"), ("ds", "credentials_json:")] {
        term.send(&format!("{answer}\r"));
        at = term.wait_for(next, at);
    }
    term.send("\x1b[200~{\r  \"type\": \"service_account\",\r  \"private_key\": \"k-from-a-paste\"\r}\x1b[201~\r");
    let at = term.wait_for("Name for this connection", at);
    term.send("\r");
    let at = term.wait_for("you> ", at);

    // A paste the terminal did not mark: the rest of the secret is dropped,
    // never taken as the next answers or a chat message.
    term.send("/connect bigquery\r");
    let mut at = term.wait_for("project", at);
    for (answer, next) in [("p2", "dataset"), ("d2", "credentials_json:")] {
        term.send(&format!("{answer}\r"));
        at = term.wait_for(next, at);
    }
    term.send("{\r  \"private_key\": \"k-unmarked\"\r}\r");
    let at = term.wait_for("Name for this connection", at);
    term.send("second\r");
    term.wait_for("you> ", at);
    term.send("\x04");
    assert!(term.child.wait().unwrap().success(), "anton lives on to leave normally");
    let vault = env.home.path().join(".anton/data_vault");
    let saved: Vec<String> = std::fs::read_dir(&vault)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let mut saved = saved;
    saved.sort();
    assert_eq!(saved, ["bigquery-bigquery", "bigquery-second"], "{saved:?}");

    let text = std::fs::read_to_string(vault.join("bigquery-bigquery")).unwrap();
    assert!(
        text.contains("k-from-a-paste") && text.contains("service_account"),
        "{text}"
    );
    let screen = term.screen.lock().unwrap().clone();
    assert!(
        !screen.contains("hunter2") && !screen.contains("k-from-a-paste") && !screen.contains("k-unmarked"),
        "{screen}"
    );
    assert!(!screen.contains("No model configured, so I cannot answer"), "{screen}");
}

#[test]
fn ctrl_c_clears_a_draft_and_only_a_quick_second_press_leaves() {
    let env = Env::new();
    let mut term = Terminal::open(&env, &[]);
    let at = term.wait_for("you> ", 0);
    term.send("\x03");
    let at = term.wait_for("(Ctrl-C again or Ctrl-D to leave)", at);
    // Long after the first press, with a draft typed: the draft goes, anton stays.
    std::thread::sleep(Duration::from_millis(1500));
    term.send("half a thought");
    let at = term.wait_for("half a thought", at);
    term.send("\x03");
    std::thread::sleep(Duration::from_millis(300));
    term.send("/help\r");
    let at = term.wait_for("/resume", at);
    let at = term.wait_for("you> ", at);
    {
        let screen = term.screen.lock().unwrap();
        assert!(
            !screen.contains("half a thought/help"),
            "the draft was cleared:\n{screen}"
        );
    }
    // A press long after the last one warns again; a quick second leaves.
    term.send("\x03");
    let at = term.wait_for("(Ctrl-C again or Ctrl-D to leave)", at);
    std::thread::sleep(Duration::from_millis(1500));
    term.send("\x03");
    term.wait_for("(Ctrl-C again or Ctrl-D to leave)", at);
    term.send("\x03");
    assert!(term.child.wait().unwrap().success());
}

#[test]
fn the_picker_filters_on_status_and_summary_and_its_marker_follows_a_typed_number() {
    let env = Env::new();
    let server = LlmServer::start();
    let ids: Vec<String> = ["about churn", "about pricing", "about revenue"]
        .into_iter()
        .map(|question| env.chat_once(&server, question, "ok"))
        .collect();
    let store = env.store();
    store
        .set_summary(&ids[0], "Churn is highest in the March cohort.")
        .unwrap();
    store.set_status(&ids[1], anton::store::Status::Failed).unwrap();
    let mut term = Terminal::open(&env, &server.openai_env());
    let at = term.wait_for("you> ", 0);

    term.send("/resume\r");
    let at = term.wait_for("Esc cancels", at);
    term.send("march");
    let at = term.wait_for("— Churn is highest in the March cohort.", at);
    term.send("\r");
    let at = term.wait_for(&format!("Resumed session {}", ids[0]), at);
    let at = term.wait_for("you> ", at);

    term.send("/resume\r");
    let at = term.wait_for("Esc cancels", at);
    term.send("failed");
    let at = term.wait_for("[failed]", at);
    term.send("\r");
    let at = term.wait_for(&format!("Resumed session {}", ids[1]), at);
    let at = term.wait_for("you> ", at);

    // The marker moves to the number typed, and Enter picks what it marks.
    term.send("/resume\r");
    let at = term.wait_for("Esc cancels", at);
    term.send("2");
    let at = term.wait_for("› ", at);
    let marked = {
        let screen = term.screen.lock().unwrap();
        screen[at..].lines().next().unwrap_or_default().to_string()
    };
    assert!(marked.starts_with(" 2. "), "{marked:?}");
    let expected = if marked.contains("March cohort") {
        &ids[0]
    } else {
        &ids[2]
    };
    term.send("\r");
    let at = term.wait_for(&format!("Resumed session {expected}"), at);
    term.wait_for("you> ", at);
    term.send("\x04");
    assert!(term.child.wait().unwrap().success());
}

#[test]
fn what_another_shell_connects_or_disables_reaches_a_running_chat() {
    let env = Env::new();
    let server = LlmServer::start();
    let length = "import os\nprint(len(os.environ.get('DS_POSTGRES_PROD_DB__HOST', '')))";
    server
        .then(Reply::scratchpad("", "call_1", length))
        .then(Reply::Text("Not connected.".into()))
        .then(Reply::scratchpad("", "call_2", length))
        .then(Reply::Text("Connected now.".into()));
    let mut term = Terminal::open(&env, &server.openai_env());
    let at = term.wait_for("you> ", 0);
    term.send("is the database there?\r");
    let at = term.wait_for("Not connected.", at);
    let at = term.wait_for("you> ", at);

    // Another shell saves a connection: the running pad sees it next cell.
    env.save_data_source("postgres", "prod-db", "pw-from-another-shell");
    term.send("and now?\r");
    let at = term.wait_for("Connected now.", at);
    let at = term.wait_for("you> ", at);
    let results: Vec<String> = server
        .chat_requests()
        .pop()
        .unwrap()
        .texts()
        .into_iter()
        .filter(|t| t.starts_with("[output]"))
        .collect();
    assert_eq!(results.len(), 2, "{results:?}");
    assert!(results[0].contains("\n0") && !results[1].contains("\n0"), "{results:?}");

    // Another shell disables a plugin: the chat says so without a reload.
    let disabled = env.run(&["plugins", "disable", "share"]);
    assert!(
        disabled
            .ok()
            .stdout
            .contains("a running chat picks this up at its next line"),
        "{disabled:#?}"
    );
    term.send("/share status\r");
    let at = term.wait_for("Plugins changed in another shell; reloaded them.", at);
    let at = term.wait_for("disabled", at);
    term.wait_for("you> ", at);
    term.send("\x04");
    assert!(term.child.wait().unwrap().success());
}

const MARKDOWN_REPLY: &str = "Revenue is **up** this quarter.\n\n- APAC leads\n- EMEA follows\n\n| Region | Revenue |\n|---|---|\n| APAC | 12 |\n\n```python\nprint(sum([1, 2]))\n```\nThat is all.";

#[test]
fn a_markdown_reply_is_rendered_on_a_terminal_and_exact_when_piped() {
    let env = Env::new();
    let server = LlmServer::start();
    // In colour (NO_COLOR empty counts as unset): bold is bold, code is highlighted.
    server.then(Reply::Text(MARKDOWN_REPLY.into()));
    let coloured = markdown_on_a_terminal(&env, &server, "");
    assert!(coloured.contains("\x1b[1mup\x1b[0m"), "{coloured:?}");
    assert!(
        coloured.contains("\x1b[38;2;"),
        "24-bit colours for the code: {coloured:?}"
    );

    server.then(Reply::Text(MARKDOWN_REPLY.into()));
    let plain = markdown_on_a_terminal(&env, &server, "1");
    assert!(
        !plain.contains("\x1b[38;") && !plain.contains("\x1b[36m") && !plain.contains("\x1b[1mup"),
        "NO_COLOR: no colour and no styling: {plain:?}"
    );
    // What the person sees once the terminal has drawn every byte.
    let size = |n: u16| std::num::NonZero::new(n).unwrap();
    let mut screen = vt100::Parser::new(size(40), size(120), 0);
    screen.process(plain.as_bytes());
    let seen = screen.screen().contents();
    for shown in [
        "Revenue is up this quarter.",
        "• APAC leads",
        "• EMEA follows",
        "Region  Revenue",
        "APAC    12",
        "    print(sum([1, 2]))",
        "That is all.",
    ] {
        assert!(seen.contains(shown), "{shown:?} missing from:\n{seen}");
    }
    assert!(
        !seen.contains("**") && !seen.contains("```") && !seen.contains("- APAC"),
        "{seen}"
    );

    server.then(Reply::Text(MARKDOWN_REPLY.into()));
    let piped = env.run_env(&server.openai_env(), &[], "how is revenue?\n");
    assert!(piped.ok().stdout.contains(&format!("{MARKDOWN_REPLY}\n")), "{piped:#?}");
}

/// The bytes a terminal receives for one Markdown reply, with NO_COLOR as given.
fn markdown_on_a_terminal(env: &Env, server: &LlmServer, no_color: &str) -> String {
    let vars = [server.openai_env(), vec![("NO_COLOR", no_color.to_string())]].concat();
    let mut term = Terminal::open(env, &vars);
    let at = term.wait_for("you> ", 0);
    term.send("how is revenue?\r");
    let at = term.wait_for("That is all.", at);
    term.wait_for("you> ", at);
    term.send("\x04");
    assert!(term.child.wait().unwrap().success());
    term.screen.lock().unwrap().clone()
}

#[test]
fn a_status_line_shows_while_the_model_thinks_and_a_cell_runs_then_goes() {
    let env = Env::new();
    let server = LlmServer::start();
    server
        .then(Reply::Stall(
            String::new(),
            Duration::from_millis(1500),
            "Let me check.".into(),
        ))
        .then(Reply::scratchpad(
            "",
            "call_1",
            "import time\ntime.sleep(1.5)\nprint('slept')",
        ))
        .then(Reply::Text("Checked.".into()));
    let mut term = Terminal::open(&env, &server.openai_env());
    let at = term.wait_for("you> ", 0);
    term.send("check it\r");
    let at = term.wait_for("Thinking 1s · Ctrl-C to stop", at);
    let at = term.wait_for("Let me check.", at);
    let at = term.wait_for("you> ", at);
    term.send("run it\r");
    let at = term.wait_for("Running in pad main 1s · Ctrl-C to stop", at);
    let at = term.wait_for("Checked.", at);
    term.wait_for("you> ", at);
    term.send("\x04");
    assert!(term.child.wait().unwrap().success());
    let size = |n: u16| std::num::NonZero::new(n).unwrap();
    let mut screen = vt100::Parser::new(size(40), size(120), 0);
    screen.process(term.screen.lock().unwrap().as_bytes());
    let seen = screen.screen().contents();
    assert!(!seen.contains("Ctrl-C to stop"), "the status line goes:\n{seen}");
    assert!(seen.contains("Let me check.") && seen.contains("slept"), "{seen}");
}

#[test]
fn esc_or_ctrl_c_in_the_launch_picker_leaves_without_a_chat() {
    let env = Env::new();
    let server = LlmServer::start();
    env.chat_once(&server, "about churn", "ok");
    let fixture = common::repo_root().join("tests/fixtures/anton-v0.1/revenue-by-region.anton");
    env.run(&["share", "import", fixture.to_str().unwrap()]).ok();
    for key in ["\x1b", "\x03"] {
        let mut term = Terminal::launch(&env, &["-r"], &server.openai_env());
        let at = term.wait_for("Esc cancels", 0);
        term.wait_for("(imported from ", 0);
        term.send(key);
        let status = term.child.wait().unwrap();
        assert_eq!(status.exit_code(), 130, "{key:?}");
        let screen = term.screen.lock().unwrap();
        assert!(!screen[at..].contains("you> "), "{key:?} opened no chat: {screen}");
    }
    assert_eq!(server.chat_requests().len(), 1, "nothing reached the model");
}

#[test]
fn in_the_chat_import_asks_before_leaving_a_session_then_switches_to_the_import() {
    let env = Env::new();
    let server = LlmServer::start();
    server.then(Reply::Text("hello".into()));
    let fixture = common::repo_root().join("tests/fixtures/anton-v0.1/revenue-by-region.anton");
    let line = format!("/share import \"{}\"\r", fixture.display());
    let mut term = Terminal::open(&env, &server.openai_env());
    let at = term.wait_for("you> ", 0);
    term.send("hi\r");
    let at = term.wait_for("hello", at);
    let at = term.wait_for("you> ", at);
    term.send(&line);
    let at = term.wait_for("You are in a session with 1 turn.", at);
    let at = term.wait_for("[y/N]", at);
    term.send("n\r");
    let at = term.wait_for("Not imported.", at);
    let at = term.wait_for("you> ", at);
    term.send(&line);
    let at = term.wait_for("[y/N]", at);
    term.send("y\r");
    let at = term.wait_for("Add them to this project's memory", at);
    term.send("n\r");
    let at = term.wait_for("Resumed session ", at);
    term.wait_for("you> ", at);
    term.send("\x04");
    assert!(term.child.wait().unwrap().success());
    assert_eq!(env.store().count_sessions().unwrap(), 2);
}

#[test]
fn fork_continues_in_a_new_session_cut_at_a_turn_and_names_its_parent() {
    let env = Env::new();
    let server = LlmServer::start();
    server
        .then(Reply::Text("APAC leads.".into()))
        .then(Reply::Text("March.".into()));
    let parent = env
        .run_env(&server.openai_env(), &[], "revenue by region?\nwhen did churn rise?\n")
        .ok()
        .session_id();
    let mut term = Terminal::launch(&env, &["-r", &parent], &server.openai_env());
    let at = term.wait_for("you> ", 0);
    term.send("/fork Churn by month --at 1\r");
    let at = term.wait_for(&format!("Forked {parent} into "), at);
    let at = term.wait_for("Resumed session ", at);
    let fork: String = {
        let screen = term.screen.lock().unwrap();
        screen[at..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let at = term.wait_for("(1 turn)", at);
    term.wait_for("you> ", at);
    term.send("\x04");
    assert!(term.child.wait().unwrap().success());

    let store = env.store();
    let forked = store.get_session(&fork).unwrap().unwrap();
    assert_eq!(forked.provenance.forked_from.as_deref(), Some(parent.as_str()));
    assert_eq!((forked.turns, forked.title.as_str()), (1, "Churn by month"));
    assert_eq!(store.get_session(&parent).unwrap().unwrap().turns, 2);
    let shown = env.run(&["session", &fork]).ok().stdout.clone();
    assert!(shown.contains(&format!("Forked from: {parent}")), "{shown}");
    let picker = env.run_with_input(&["-r"], "q\n");
    assert!(picker.stdout.contains(&format!("(fork of {parent})")), "{picker:#?}");
}
