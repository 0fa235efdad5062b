//! The chat, driven through piped stdin against a loopback model server.

mod common;

use common::Env;
use common::llm_server::{LlmServer, Reply, SUMMARY, TITLE};
use serde_json::json;

fn session_messages(env: &Env) -> (anton::store::Session, Vec<anton::store::Message>) {
    let store = env.store();
    let session = store.list_sessions(&Default::default()).unwrap().remove(0).0;
    let messages = store.messages(&session.id, 0).unwrap();
    (session, messages)
}

#[test]
fn a_streamed_reply_is_shown_stored_and_the_session_named() {
    let env = Env::new();
    let server = LlmServer::start();
    server.then(Reply::Text("APAC leads revenue this quarter.".into()));
    let run = env.run_env(&server.openai_env(), &[], "what is revenue by region?\n");
    run.ok();
    assert!(run.stdout.contains("APAC leads revenue this quarter.\n"), "{run:#?}");
    let (session, messages) = session_messages(&env);
    assert!(
        run.stdout
            .ends_with(&format!("Resume this session with: anton -r {}\n", session.id)),
        "{run:#?}"
    );
    let roles: Vec<&str> = messages.iter().map(|m| m.role.as_str()).collect();
    assert_eq!(roles, ["user", "assistant"]);
    assert_eq!(messages[1].content, "APAC leads revenue this quarter.");
    assert_eq!((session.title.as_str(), session.summary.as_str()), (TITLE, SUMMARY));
    assert_eq!(session.task, "what is revenue by region?");
    assert_eq!(session.status, anton::store::Status::Idle);
    assert_eq!(
        (session.provider.as_deref(), session.model.as_deref()),
        (Some("openai-compatible"), Some("test-model"))
    );

    let request = &server.chat_requests()[0];
    assert_eq!(request.path, "/v1/chat/completions");
    assert_eq!(
        request.header("authorization"),
        Some("Bearer sk-test-openai-key-000000000000")
    );
    assert_eq!(request.body["model"], "test-model");
    assert_eq!(request.body["stream"], true);
    assert_eq!(request.body["messages"][0]["role"], "system");
    assert_eq!(
        request.body["messages"][1],
        json!({"role": "user", "content": "what is revenue by region?"})
    );
    let tools: Vec<&str> = request.body["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(tools, ["scratchpad", "memorize"]);
    let title_request = server
        .all_requests()
        .into_iter()
        .find(|r| r.is_title_request())
        .unwrap();
    assert_eq!(
        title_request.body["model"], "test-small",
        "titles come from the coding model"
    );
}

#[test]
fn anthropic_tool_calls_run_python_and_send_the_result_back() {
    let env = Env::new();
    let server = LlmServer::start();
    server
        .then(Reply::Tool {
            text: "Let me compute.".into(),
            id: "toolu_01".into(),
            name: "scratchpad".into(),
            input: json!({"name": "main", "code": "x = 6 * 7\nprint(x)", "one_line_description": "multiply"}),
        })
        .then(Reply::scratchpad("", "toolu_02", "x + 1"))
        .then(Reply::Text("The answer is 42.".into()));
    let run = env.run_env(&server.anthropic_env(), &[], "compute 6*7\n");
    run.ok();
    assert!(run.stdout.contains("· scratchpad main: multiply"), "{run:#?}");
    assert!(run.stdout.contains("The answer is 42."), "{run:#?}");
    let requests = server.chat_requests();
    assert_eq!(requests.len(), 3);
    assert_eq!(requests[0].path, "/v1/messages");
    assert_eq!(
        requests[0].header("x-api-key"),
        Some("sk-ant-test-key-0000000000000000")
    );
    assert_eq!(requests[0].header("anthropic-version"), Some("2023-06-01"));
    let second = &requests[1].body["messages"];
    assert_eq!(second[1]["content"][1]["type"], "tool_use");
    assert_eq!(second[1]["content"][1]["input"]["code"], "x = 6 * 7\nprint(x)");
    assert_eq!(
        second[2]["content"][0],
        json!({"type": "tool_result", "tool_use_id": "toolu_01", "content": "[output]\n42\n"})
    );
    let third = &requests[2].body["messages"];
    assert_eq!(
        third[4]["content"][0]["content"], "[output]\n43\n",
        "variables persist between cells"
    );

    let (session, messages) = session_messages(&env);
    let roles: Vec<&str> = messages.iter().map(|m| m.role.as_str()).collect();
    assert_eq!(
        roles,
        [
            "user",
            "assistant",
            "tool_call",
            "scratchpad",
            "tool_result",
            "assistant",
            "tool_call",
            "scratchpad",
            "tool_result",
            "assistant"
        ]
    );
    let details = env.store().details(&session.id).unwrap();
    assert_eq!(details.cells, 2);
}

#[test]
fn memorize_writes_anton_memory_files_and_later_sessions_use_them() {
    let env = Env::new();
    let server = LlmServer::start();
    let entries = json!({"entries": [
        {"text": "Always group revenue by region_code", "kind": "always", "scope": "project"},
        {"text": "Revenue table is sales.orders", "kind": "lesson", "topic": "sales db"}
    ]});
    server
        .then(Reply::Tool {
            text: String::new(),
            id: "c1".into(),
            name: "memorize".into(),
            input: entries,
        })
        .then(Reply::Text("Noted.".into()))
        .then(Reply::Text("Grouping by region_code.".into()));
    env.run_env(&server.openai_env(), &[], "remember how we do revenue\n")
        .ok();
    let rules = std::fs::read_to_string(env.ws().join(".anton/memory/rules.md")).unwrap();
    assert!(rules.starts_with("# Rules\n\n## Always\n"), "{rules}");
    assert!(
        rules.contains("- Always group revenue by region_code <!-- confidence:high source:llm ts:"),
        "{rules}"
    );
    let lessons = std::fs::read_to_string(env.ws().join(".anton/memory/lessons.md")).unwrap();
    assert!(
        lessons.contains("- Revenue table is sales.orders <!-- topic:sales-db ts:"),
        "{lessons}"
    );
    let (first, _) = session_messages(&env);
    assert_eq!(env.store().details(&first.id).unwrap().memories_born, 2);

    env.run_env(&server.openai_env(), &[], "revenue please\n").ok();
    let system = server.chat_requests().last().unwrap().body["messages"][0]["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(system.contains("- Always: group revenue by region_code"), "{system}");
    assert!(system.contains("- Revenue table is sales.orders"), "{system}");
    let (second, _) = session_messages(&env);
    assert_ne!(second.id, first.id);
    assert_eq!(env.store().details(&second.id).unwrap().memories_used, 2);

    // Back in the session that wrote them, they are its own, not "used".
    server.then(Reply::Text("Still by region_code.".into()));
    env.run_env(&server.openai_env(), &["-r", &first.id], "and again?\n")
        .ok();
    let details = env.store().details(&first.id).unwrap();
    assert_eq!((details.memories_born, details.memories_used), (2, 0));
}

#[test]
fn provider_errors_are_one_line_and_the_chat_goes_on() {
    let env = Env::new();
    let server = LlmServer::start();
    server
        .then(Reply::Status(401, "invalid x-api-key".into()))
        .then(Reply::Status(404, "model: nope".into()))
        .then(Reply::Status(429, "slow down".into()))
        .then(Reply::Status(529, "overloaded".into()))
        .then(Reply::Text("Recovered after retries.".into()))
        .then(Reply::Status(500, "boom".into()))
        .then(Reply::Status(500, "boom".into()))
        .then(Reply::Status(500, "boom".into()));
    let run = env.run_env(&server.anthropic_env(), &[], "one\ntwo\nthree\nfour\n");
    run.ok();
    let errors: Vec<&str> = run.stdout.lines().filter(|l| l.starts_with("error: ")).collect();
    assert_eq!(errors.len(), 3, "{run:#?}");
    assert!(
        errors[0].contains("anthropic refused the API key (401: invalid x-api-key); check ANTON_ANTHROPIC_API_KEY"),
        "{errors:?}"
    );
    assert!(
        errors[1].contains("does not know model 'claude-sonnet-4-6'"),
        "{errors:?}"
    );
    assert!(run.stdout.contains("Recovered after retries."), "{run:#?}");
    assert!(
        errors[2].contains("anthropic is failing (500 after 3 tries: boom)"),
        "{errors:?}"
    );
    assert!(!run.stdout.contains("sk-ant-test-key"), "the key never shows");
    let (session, messages) = session_messages(&env);
    assert_eq!(
        messages.iter().filter(|m| m.role == "user").count(),
        4,
        "nothing said is lost"
    );
    assert_eq!(session.status, anton::store::Status::Failed, "the last turn failed");
}

#[test]
fn a_dead_endpoint_is_named_and_the_chat_stays_open() {
    let env = Env::new();
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let vars = vec![
        ("ANTON_PLANNING_PROVIDER", "openai".to_string()),
        ("ANTON_OPENAI_API_KEY", "sk-whatever-000000000000".to_string()),
        ("ANTON_OPENAI_BASE_URL", format!("http://{closed}/v1")),
        ("ANTON_LLM_RETRY_MS", "10".to_string()),
    ];
    let run = env.run_env(&vars, &[], "hello\n/sessions\n");
    run.ok();
    assert!(
        run.stdout.contains(&format!(
            "error: cannot reach http://{closed}/v1 (is the server running"
        )),
        "{run:#?}"
    );
    assert!(run.stdout.contains("ID"), "slash commands still work: {run:#?}");
}

#[test]
fn without_a_model_the_chat_opens_says_how_to_configure_one_and_commands_work() {
    let env = Env::new();
    let run = env.run_env(&[], &[], "hello\n/sessions\n/nope\n");
    run.ok();
    assert!(
        run.stderr
            .starts_with("No model configured: set ANTON_ANTHROPIC_API_KEY"),
        "{run:#?}"
    );
    assert!(
        run.stdout.contains("No model configured, so I cannot answer"),
        "{run:#?}"
    );
    assert!(run.stdout.contains("No sessions yet."), "{run:#?}");
    assert!(run.stdout.contains("Unknown command /nope."), "{run:#?}");
}

#[test]
fn an_unknown_tool_a_hanging_cell_and_a_crashing_pad_leave_the_chat_working() {
    let env = Env::new();
    let server = LlmServer::start();
    server
        .then(Reply::Tool {
            text: String::new(),
            id: "c1".into(),
            name: "teleport".into(),
            input: json!({}),
        })
        .then(Reply::Tool {
            text: String::new(),
            id: "c2".into(),
            name: "scratchpad".into(),
            input: json!({"code": "while True: pass"}),
        })
        .then(Reply::Tool {
            text: String::new(),
            id: "c3".into(),
            name: "scratchpad".into(),
            input: json!({"code": "import os; os._exit(3)"}),
        })
        .then(Reply::Text("Still here.".into()))
        .then(Reply::Text("Second turn fine.".into()));
    let mut vars = server.openai_env();
    vars.push(("ANTON_SCRATCHPAD_TIMEOUT", "1".into()));
    let run = env.run_env(&vars, &[], "go\nagain\n");
    run.ok();
    assert!(
        run.stdout.contains("Still here.") && run.stdout.contains("Second turn fine."),
        "{run:#?}"
    );
    let requests = server.chat_requests();
    let results: Vec<String> = requests[3].body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "tool")
        .map(|m| m["content"].as_str().unwrap().to_string())
        .collect();
    assert!(results[0].contains("unknown tool 'teleport'"), "{results:?}");
    assert!(results[1].contains("ran past 1 s"), "{results:?}");
    assert!(results[2].contains("crashed (python exited with 3)"), "{results:?}");
}

#[test]
fn secrets_from_the_vault_and_provider_keys_never_reach_the_store_or_the_model() {
    let env = Env::new();
    env.save_data_source("postgres", "prod-db", "hunter2-secret");
    let server = LlmServer::start();
    let code = "import os\nprint(os.environ['DS_POSTGRES_PROD_DB__HOST'], os.environ['DS_POSTGRES_PROD_DB__PASSWORD'])";
    server
        .then(Reply::Tool {
            text: String::new(),
            id: "c1".into(),
            name: "scratchpad".into(),
            input: json!({"code": code}),
        })
        .then(Reply::Text("Connected.".into()));
    let run = env.run_env(
        &server.openai_env(),
        &[],
        "my key is sk-test-openai-key-000000000000, check the db\n",
    );
    run.ok();
    let (session, messages) = session_messages(&env);
    let everything: String = messages.iter().map(|m| format!("{} {}\n", m.content, m.meta)).collect();
    assert!(
        !everything.contains("hunter2-secret") && !everything.contains("sk-test-openai-key"),
        "{everything}"
    );
    assert!(
        everything.contains("db.internal [DS_POSTGRES_PROD_DB__PASSWORD]"),
        "{everything}"
    );
    let tool_call = messages.iter().find(|m| m.role == "tool_call").unwrap();
    assert!(
        tool_call.meta.contains("\"datasources\":[\"postgres_prod_db\"]"),
        "{}",
        tool_call.meta
    );
    for request in server.all_requests() {
        let body = request.body.to_string();
        assert!(
            !body.contains("hunter2-secret") && !body.contains("sk-test-openai-key-0000"),
            "{body}"
        );
    }
    assert!(!run.stdout.contains("hunter2-secret"), "{run:#?}");
    assert_eq!(env.store().details(&session.id).unwrap().cells, 1);
}

#[test]
fn done_marks_the_session_completed_and_the_next_message_starts_another() {
    let env = Env::new();
    let server = LlmServer::start();
    server.then(Reply::Text("one".into())).then(Reply::Text("two".into()));
    let run = env.run_env(&server.openai_env(), &[], "first\n/done\nsecond\n");
    assert!(
        run.ok()
            .stdout
            .contains("completed; your next message starts a new session."),
        "{run:#?}"
    );
    let sessions = env.store().list_sessions(&Default::default()).unwrap();
    assert_eq!(sessions.len(), 2);
    assert_eq!(sessions[1].0.status, anton::store::Status::Completed);
    assert_eq!(sessions[0].0.status, anton::store::Status::Idle);
}

#[test]
fn a_server_that_goes_silent_times_out_and_the_part_already_said_is_kept() {
    let env = Env::new();
    let server = LlmServer::start();
    server
        .then(Reply::Stall(
            "The first half ".into(),
            std::time::Duration::from_secs(5),
            "never arrives".into(),
        ))
        .then(Reply::Text("Back again.".into()));
    let mut vars = server.openai_env();
    vars.push(("ANTON_LLM_TIMEOUT", "0.5".into()));
    let run = env.run_env(&vars, &[], "tell me\nagain\n");
    run.ok();
    assert!(
        run.stdout
            .contains(&format!("error: no answer from {}/v1 within 0.5 s", server.url)),
        "{run:#?}"
    );
    assert!(run.stdout.contains("Back again."), "the chat goes on: {run:#?}");
    let (_, messages) = session_messages(&env);
    let kept = messages.iter().find(|m| m.role == "assistant").unwrap();
    assert_eq!(kept.content, "The first half ");
    assert!(
        kept.meta.contains("\"failed\":true") && kept.meta.contains("\"cut_off\":true"),
        "{}",
        kept.meta
    );
}

#[test]
fn a_reply_cut_off_mid_stream_says_so_on_screen_and_in_the_store() {
    let closed = || Reply::CutOff("The answer is forty".into());
    let dropped = || Reply::Dropped("The answer is forty".into());
    for (anthropic, reply) in [
        (false, closed()),
        (true, closed()),
        (false, dropped()),
        (true, dropped()),
    ] {
        let env = Env::new();
        let server = LlmServer::start();
        server.then(reply);
        let vars = if anthropic {
            server.anthropic_env()
        } else {
            server.openai_env()
        };
        let run = env.run_env(&vars, &[], "what is the answer?\n");
        run.ok();
        assert!(run.stdout.contains("The answer is forty"), "{run:#?}");
        assert!(
            run.stdout.contains("error: the reply from ") && run.stdout.contains("broke off before its end"),
            "anthropic: {anthropic}: {run:#?}"
        );
        let (session, messages) = session_messages(&env);
        assert_eq!(session.status, anton::store::Status::Failed, "anthropic: {anthropic}");
        let kept = messages.iter().find(|m| m.role == "assistant").unwrap();
        assert_eq!(kept.content, "The answer is forty");
        let meta: serde_json::Value = serde_json::from_str(&kept.meta).unwrap();
        assert_eq!(meta["cut_off"], true, "{meta}");
    }
}

#[test]
fn hints_name_commands_as_they_are_typed_where_the_user_is() {
    let env = Env::new();
    let run = env.run_env(
        &[],
        &[],
        "/share\n/share exprot\n/sessions --bogus\n/connect list\n/sesions\n",
    );
    run.ok();
    let said = format!("{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("Usage: /share export [--summary]"),
        "a bare /share shows its usage: {run:#?}"
    );
    assert!(!said.contains("error: Usage"), "{run:#?}");
    for hint in [
        "unknown share command 'exprot'; did you mean /share export? usage: /share export",
        "unknown option --bogus; usage: /sessions [--limit N]",
        "No data sources connected. Add one with /connect.",
        "Did you mean /sessions?",
    ] {
        assert!(said.contains(hint), "{hint}: {run:#?}");
    }
    assert!(
        !said.contains("`anton "),
        "the chat's hints are slash commands: {run:#?}"
    );

    let stray = env.run(&["sessions", "lst"]);
    stray.fails();
    assert!(
        stray.stderr.contains("unexpected word 'lst'; usage: `anton sessions"),
        "{stray:#?}"
    );
    let hostile = env.run(&["trust", "\x1b]0;PWN\x07", "--bogus\nX"]);
    assert_eq!(hostile.code, 2, "{hostile:#?}");
    assert!(
        !hostile.stderr.contains('\x1b') && !hostile.stderr.contains('\x07') && !hostile.stderr.contains("--bogus\nX"),
        "an argument reaches the terminal sanitised: {hostile:#?}"
    );
    let near = env.run(&["connect", "tset"]);
    near.fails();
    assert!(near.stderr.contains("did you mean `anton connect test`?"), "{near:#?}");

    let typo = env.run(&["sesions"]);
    typo.fails();
    assert!(typo.stderr.contains("did you mean `anton sessions`?"), "{typo:#?}");
    let typo = env.run(&["share", "exprot"]);
    typo.fails();
    assert!(
        typo.stderr
            .contains("unknown share command 'exprot'; did you mean `anton share export`? usage: `anton share export"),
        "{typo:#?}"
    );
}

#[test]
fn a_title_the_user_gives_with_rename_outlives_every_refresh() {
    let env = Env::new();
    let early = env.run_env(&[], &[], "/rename too soon\n");
    assert!(early.ok().stdout.contains("No session yet"), "{early:#?}");

    let server = LlmServer::start();
    for _ in 0..5 {
        server.then(Reply::Text("Noted.".into()));
    }
    let run = env.run_env(
        &server.openai_env(),
        &[],
        "why did churn rise?\n/rename Churn   deep dive\nq2\nq3\nq4\nq5\n",
    );
    assert!(run.ok().stdout.contains("to \"Churn deep dive\"."), "{run:#?}");
    let (session, _) = session_messages(&env);
    assert_eq!(session.turns, 5);
    assert!(
        server.all_requests().iter().filter(|r| r.is_title_request()).count() >= 2,
        "named after turns 1 and 5"
    );
    assert_eq!(session.title, "Churn deep dive", "no refresh replaces it");
    assert_eq!(session.summary, SUMMARY, "the summary is still refreshed");
}
