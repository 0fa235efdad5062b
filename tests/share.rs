//! `share export | import | status | history` through the real binary: files
//! in both formats, round trips, hostile input, secrets, the chat flow.

mod common;

use std::path::{Path, PathBuf};

use anton::store::{MAX_META, MAX_TEXT, NewSession, Store};
use anton_share_format::{Format, read};
use common::llm_server::{self, LlmServer, Reply};
use common::{Env, exported_file};
use serde_json::json;

/// A session with a scratchpad cell, a memory and a final answer, made by the chat.
fn worked_session(env: &Env, server: &LlmServer) -> String {
    server
        .then(Reply::Tool {
            text: "Checking.".into(),
            id: "c1".into(),
            name: "scratchpad".into(),
            input: json!({"code": "import os\nprint(os.environ.get('DS_POSTGRES_PROD_DB__HOST'), 6*7)", "one_line_description": "query"}),
        })
        .then(Reply::Tool {
            text: String::new(),
            id: "c2".into(),
            name: "memorize".into(),
            input: json!({"entries": [{"text": "Revenue is in cents", "kind": "lesson", "topic": "sales"}]}),
        })
        .then(Reply::Text("APAC leads.".into()));
    env.run_env(&server.openai_env(), &[], "revenue by region?\n")
        .ok()
        .session_id()
}

/// Run as the user `name`.
fn as_user(name: &str) -> Vec<(&'static str, String)> {
    vec![("LOGNAME", name.to_string()), ("USER", name.to_string())]
}

/// A one-turn session that the user `name` exported: their workspace, and the file.
fn exported_by(server: &LlmServer, name: &str) -> (Env, PathBuf) {
    let sender = Env::new();
    server.then(Reply::Text("APAC leads.".into()));
    let vars = [server.openai_env(), as_user(name)].concat();
    sender.run_env(&vars, &[], "revenue by region?\n").ok();
    let file = exported_file(&sender.run_env(&vars, &["share", "export"], "").ok().stdout);
    (sender, file)
}

/// Who anton says exported a file: the login name the tests run under.
fn sender_name() -> String {
    ["LOGNAME", "USER", "USERNAME"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
        .unwrap_or_else(|| "unknown".into())
}

#[test]
fn export_writes_a_whole_native_file_and_reports_it() {
    let env = Env::new();
    let server = LlmServer::start();
    let id = worked_session(&env, &server);
    let run = env.run_env(&server.openai_env(), &["share", "export"], "");
    run.ok();
    let file = exported_file(&run.stdout);
    assert!(file.starts_with(env.ws().join(".anton/output")), "{file:?}");
    let name = file.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        name.starts_with("revenue-by-region_") && name.ends_with(".anton"),
        "{name}"
    );
    for expected in [
        "Title:    Revenue by region",
        "Memory:   1 session-born, 0 project memories",
        "Code:     1 scratchpad cell",
        "Redacted: nothing",
    ] {
        assert!(run.stdout.contains(expected), "{expected} missing in {run:#?}");
    }
    let (bundle, format) = read(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(format, Format::V1);
    assert_eq!(bundle.session_id, id);
    let roles: Vec<&str> = bundle.conversation.iter().map(|e| e.role.as_str()).collect();
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
            "tool_result",
            "assistant"
        ]
    );
    assert_eq!(bundle.cells.len(), 1);
    assert_eq!(bundle.cells[0].stdout, "None 42\n");
    assert_eq!(bundle.session_born[0].content, "Revenue is in cents");
    let history = env.run(&["share", "history", "--json"]).ok().json();
    assert_eq!(history[0]["direction"], "export");
    assert_eq!(history[0]["path"], file.display().to_string());
    assert_eq!(history[0]["session_id"], id.as_str());
}

#[test]
fn the_summary_file_has_no_conversation_and_no_cell_outputs() {
    let env = Env::new();
    let server = LlmServer::start();
    worked_session(&env, &server);
    let run = env.run_env(&[], &["share", "export", "--summary"], "");
    run.ok();
    let (bundle, _) = read(&std::fs::read(exported_file(&run.stdout)).unwrap()).unwrap();
    assert!(bundle.summary_only && bundle.conversation.is_empty());
    assert_eq!(bundle.cells.len(), 1);
    assert!(bundle.cells[0].code.contains("6*7") && bundle.cells[0].stdout.is_empty());
    assert_eq!(bundle.session_born.len(), 1);
}

#[test]
fn two_exports_in_the_same_second_do_not_overwrite_each_other() {
    let env = Env::new();
    let server = LlmServer::start();
    worked_session(&env, &server);
    let files: Vec<PathBuf> = (0..3)
        .map(|_| exported_file(&env.run(&["share", "export"]).ok().stdout))
        .collect();
    assert_ne!(files[0], files[1]);
    assert_ne!(files[1], files[2]);
    for file in &files {
        assert!(read(&std::fs::read(file).unwrap()).is_ok());
    }
    let leftovers: Vec<_> = std::fs::read_dir(env.ws().join(".anton/output"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn import_creates_a_new_session_with_provenance_memory_and_cells_and_resumes_with_context() {
    let sender = Env::new();
    let server = LlmServer::start();
    let original = worked_session(&sender, &server);
    let file = exported_file(&sender.run(&["share", "export"]).ok().stdout);

    let recipient = Env::new();
    let run = recipient.run(&["share", "import", file.to_str().unwrap()]);
    run.ok();
    assert!(
        run.stdout.contains("\nImported: Revenue by region\n  From:    "),
        "{run:#?}"
    );
    // Without a person to ask, the file's memories are not adopted.
    assert!(
        run.stdout.starts_with("Not added: the file's 1 memory from "),
        "{run:#?}"
    );
    assert!(!recipient.ws().join(".anton/memory/lessons.md").exists());
    assert!(
        run.stdout.contains("Turns:   1") && run.stdout.contains("Code:    1 scratchpad cell (recorded, not run)"),
        "{run:#?}"
    );
    let store = recipient.store();
    let session = store.list_sessions(&Default::default()).unwrap().remove(0).0;
    assert_ne!(session.id, original);
    let p = &session.provenance;
    assert_eq!(p.original_id.as_deref(), Some(original.as_str()));
    assert_eq!(p.source_file.as_deref(), Some(file.to_str().unwrap()));
    assert_eq!(
        p.file_sha256.as_deref(),
        Some(anton_share_format::sha256_hex(&std::fs::read(&file).unwrap()).as_str())
    );
    assert!(p.imported_by.is_some() && p.imported_at.is_some() && p.exported_at.is_some());
    assert_eq!(session.messages, 9);
    let details = store.details(&session.id).unwrap();
    assert_eq!((details.cells, details.memories_born), (1, 1));
    // The same file again is the session already here, not a silent copy.
    let twice = recipient.run(&["share", "import", file.to_str().unwrap(), "--accept-memories"]);
    twice.fails();
    assert!(
        twice.stderr.contains(&format!(
            "this file is imported already, as session {} (\"Revenue by region\", ",
            session.id
        )) && twice.stderr.contains("or import with --again for another copy"),
        "{twice:#?}"
    );
    assert_eq!(store.count_sessions().unwrap(), 1);
    let accepted = recipient.run(&[
        "share",
        "import",
        file.to_str().unwrap(),
        "--accept-memories",
        "--again",
    ]);
    assert!(
        accepted
            .ok()
            .stdout
            .starts_with("Adding the file's 1 memory to this project's memory"),
        "{accepted:#?}"
    );
    let lessons = std::fs::read_to_string(recipient.ws().join(".anton/memory/lessons.md")).unwrap();
    assert!(
        lessons.contains("- Revenue is in cents <!-- topic:sales ts:"),
        "{lessons}"
    );

    // Importing twice adds no duplicate memory.
    recipient
        .run(&[
            "share",
            "import",
            file.to_str().unwrap(),
            "--accept-memories",
            "--again",
        ])
        .ok();
    let lessons = std::fs::read_to_string(recipient.ws().join(".anton/memory/lessons.md")).unwrap();
    assert_eq!(lessons.matches("Revenue is in cents").count(), 1);

    server.then(Reply::Text("continuing".into()));
    let resumed = recipient.run_env(&server.openai_env(), &["-r", &session.id], "go on\n");
    resumed.ok();
    assert!(!resumed.stdout.contains("Repaired"), "{resumed:#?}");
    let request = server.chat_requests().pop().unwrap();
    let messages = request.body["messages"].as_array().unwrap();
    let system = messages[0]["content"].as_str().unwrap();
    assert!(
        !system.contains("revenue by region?"),
        "nothing imported is a system instruction: {system}"
    );
    // The imported turns arrive as one quoted block from the named exporter.
    assert_eq!(messages[1]["role"], "user");
    let quoted = messages[1]["content"].as_str().unwrap();
    let exporter = sender_name();
    assert!(
        quoted.contains(&format!("imported from a .anton file exported by \"{exporter}\"")),
        "the exporter is named: {quoted}"
    );
    assert!(
        quoted.contains(&format!(
            "Summary written by \"{exporter}\", quoted:\n> {}",
            llm_server::SUMMARY
        )),
        "{quoted}"
    );
    assert!(quoted.contains("> user:\n> revenue by region?"), "{quoted}");
    assert!(quoted.contains("> tool call:\n> {"), "{quoted}");
    assert!(
        messages.iter().all(|m| m["tool_calls"].is_null()),
        "no imported tool call is replayed as the model's own: {messages:#?}"
    );
    assert_eq!(messages.last().unwrap()["content"], "go on");
}

#[test]
fn files_from_the_reference_anton_import_and_resume() {
    let env = Env::new();
    let fixture = common::repo_root().join("tests/fixtures/anton-v0.1/revenue-by-region.anton");
    let run = env.run(&["share", "import", fixture.to_str().unwrap()]);
    run.ok();
    assert!(
        run.stdout
            .contains("\nImported: revenue-by-region-quick-check\n  From:    root · 2026-11-23 23:20 UTC"),
        "{run:#?}"
    );
    assert!(
        run.stdout.contains("Memory:  2 session-born, 0 project memories"),
        "{run:#?}"
    );
    let store = env.store();
    let session = store.list_sessions(&Default::default()).unwrap().remove(0).0;
    assert_eq!(session.provenance.original_id.as_deref(), Some("20261123_232051"));
    assert_eq!(session.task, "what is revenue by region? check the db");
    let server = LlmServer::start();
    server.then(Reply::Text("ok".into()));
    env.run_env(&server.openai_env(), &["-r", &session.id], "next\n").ok();
    let messages = server.chat_requests().pop().unwrap().body["messages"].clone();
    let messages = messages.as_array().unwrap();
    // The reference Anton's calls and results are there to read, quoted, with
    // the Python-repr input as the file has it; none is replayed as a call.
    let quoted = messages[1]["content"].as_str().unwrap();
    assert_eq!(quoted.matches("> tool call:").count(), 2, "{quoted}");
    assert_eq!(quoted.matches("> tool result:").count(), 2, "{quoted}");
    assert!(quoted.contains("> what is revenue by region? check the db"), "{quoted}");
    assert!(
        messages
            .iter()
            .all(|m| m["tool_calls"].is_null() && m["tool_call_id"].is_null())
    );
    assert_eq!(messages.last().unwrap()["content"], "next");
}

#[test]
fn both_formats_round_trip_every_message_memory_and_cell() {
    let env = Env::new();
    let server = LlmServer::start();
    worked_session(&env, &server);
    for format in ["v1", "v0.1"] {
        let first = exported_file(&env.run(&["share", "export", "--format", format]).ok().stdout);
        let other = Env::new();
        other.run(&["share", "import", first.to_str().unwrap()]).ok();
        let again = exported_file(&other.run(&["share", "export", "--format", format]).ok().stdout);
        let (a, fa) = read(&std::fs::read(&first).unwrap()).unwrap();
        let (b, fb) = read(&std::fs::read(&again).unwrap()).unwrap();
        assert_eq!(
            (fa, fb),
            if format == "v1" {
                (Format::V1, Format::V1)
            } else {
                (Format::V01, Format::V01)
            }
        );
        let strip = |episodes: &[anton_share_format::Episode]| -> Vec<(u32, String, String)> {
            episodes
                .iter()
                .map(|e| (e.turn, e.role.clone(), e.content.clone()))
                .collect()
        };
        assert_eq!(strip(&a.conversation), strip(&b.conversation), "{format}");
        assert_eq!(a.session_born, b.session_born, "{format}");
        assert_eq!(a.cells, b.cells, "{format}");
        assert_eq!(
            (a.title.as_str(), a.summary.as_str()),
            (b.title.as_str(), b.summary.as_str())
        );
    }
}

#[test]
fn anton_imports_its_own_export_of_a_long_repetitive_reply() {
    let env = Env::new();
    let store = env.store();
    let session = store.create_session(&NewSession::default()).unwrap();
    // 700 KB that deflates over 800 to 1: a zip-bomb ratio, and anton's own file.
    let reply = "the same line again\n".repeat(35_000);
    store
        .append_message(&session.id, 1, "user", "print a lot", "{}", None)
        .unwrap();
    store
        .append_message(&session.id, 1, "assistant", &reply, "{}", None)
        .unwrap();
    store.set_title(&session.id, "a long reply", false).unwrap();
    store.set_summary(&session.id, "It printed a lot.").unwrap();
    for format in ["v1", "v0.1"] {
        let file = exported_file(&env.run(&["share", "export", "--format", format]).ok().stdout);
        let other = Env::new();
        let run = other.run(&["share", "import", file.to_str().unwrap()]);
        assert!(run.ok().stdout.contains("Imported: "), "{format}: {run:#?}");
        let store = other.store();
        let session = store.list_sessions(&Default::default()).unwrap().remove(0).0;
        let messages = store.messages(&session.id, 0).unwrap();
        assert!(
            messages.iter().any(|m| m.content == reply),
            "{format}: the reply arrives whole"
        );
    }
}

#[test]
fn hostile_files_are_refused_in_one_line_and_nothing_is_written() {
    let env = Env::new();
    let dir = common::repo_root().join("tests/fixtures/hostile");
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
    for (name, message) in expected.as_object().unwrap() {
        let path = dir.join(name);
        let run = env.run(&["share", "import", path.to_str().unwrap()]);
        assert_eq!(run.code, 1, "{name}: {run:#?}");
        assert_eq!(run.stderr.lines().count(), 1, "{name}: {run:#?}");
        assert!(
            run.stderr.contains(&format!("cannot import {}", path.display())),
            "{name}: {run:#?}"
        );
        assert!(run.stderr.contains(message.as_str().unwrap()), "{name}: {run:#?}");
    }
    let missing = env.run(&["share", "import", "/no/such/file.anton"]);
    assert!(
        missing.stderr.contains("cannot import /no/such/file.anton: not found"),
        "{missing:#?}"
    );
    let store = env.store();
    assert_eq!(store.count_sessions().unwrap(), 0);
    assert!(store.share_history(0).unwrap().is_empty());
    assert!(!env.ws().join(".anton/memory").exists());
}

#[test]
fn secrets_a_store_still_holds_never_reach_an_exported_file() {
    let env = Env::new();
    env.save_data_source("postgres", "prod-db", "pa55-w0rd-xyz");
    let store = env.store();
    let s = store.create_session(&NewSession::default()).unwrap();
    drop(store);
    // Rows another program (or an older anton) wrote, secrets and all.
    let db = rusqlite::Connection::open(env.ws().join(".anton/anton.db")).unwrap();
    for (role, content) in [
        ("user", "use key sk-live-ABCDEFGHIJKLMNOPQRSTUV please"),
        (
            "assistant",
            "password is pa55-w0rd-xyz and token eyJhbGciOiJI.eyJzdWIiOiIx.SflKxwRJSMeKKF2Q",
        ),
    ] {
        db.execute(
            "INSERT INTO messages (session_id, turn, role, content, meta, created_at) VALUES (?1, 1, ?2, ?3, ?4, 1)",
            rusqlite::params![s.id, role, content, r#"{"note": "pa55-w0rd-xyz"}"#],
        )
        .unwrap();
    }
    db.execute(
        "UPDATE sessions SET task = 'use key sk-live-ABCDEFGHIJKLMNOPQRSTUV please', messages = 2, turns = 1",
        [],
    )
    .unwrap();
    drop(db);

    let dry = env.run(&["share", "export", "--dry-run"]);
    dry.ok();
    assert!(dry.stdout.contains("Dry run: nothing written."), "{dry:#?}");
    assert!(
        dry.stdout
            .contains("message 2 (assistant): password is [DS_POSTGRES_PROD_DB__PASSWORD] and token"),
        "{dry:#?}"
    );
    let output = env.ws().join(".anton/output");
    assert!(!output.exists() || std::fs::read_dir(&output).unwrap().next().is_none());
    assert!(
        env.store().share_history(0).unwrap().is_empty(),
        "a dry run is not in the ledger"
    );

    let run = env.run(&["share", "export"]);
    run.ok();
    // The key is in the task, and so in the title made from it: two finds;
    // the password in the text and in both metas: three.
    assert!(
        run.stdout
            .contains("Redacted: 3 data-source secrets, 1 jwt, 2 openai api keys"),
        "{run:#?}"
    );
    let file = exported_file(&run.stdout);
    let bytes = std::fs::read(&file).unwrap();
    for secret in ["sk-live-ABCDEFGHIJKLMNOPQRSTUV", "pa55-w0rd-xyz", "SflKxwRJSMeKKF2Q"] {
        assert!(!common::unpacked(&bytes).contains(secret), "{secret} leaked");
    }
    let (bundle, _) = read(&bytes).unwrap();
    assert_eq!(bundle.title, "use key [REDACTED_OPENAI_API_KEY] please");
    assert_eq!(bundle.redactions.values().sum::<u64>(), 6);
}

#[test]
fn status_tells_where_a_session_came_from_and_which_data_sources_are_here() {
    let env = Env::new();
    env.save_data_source("postgres", "prod-db", "x");
    let fixture = common::repo_root().join("tests/fixtures/anton-v0.1/revenue-by-region.anton");
    env.run(&["share", "import", fixture.to_str().unwrap()]).ok();
    let out = env.run(&["share", "status"]).ok().stdout.clone();
    assert!(out.contains("Imported: by "), "{out}");
    assert!(out.contains("Exported: by root, 2026-11-23 23:20 UTC"), "{out}");
    assert!(
        out.contains("! mysql_sales · not connected here (connect it with `anton connect mysql`)"),
        "{out}"
    );
    assert!(
        out.contains("✓ postgres_prod_db · connected"),
        "names with - match: {out}"
    );

    let fresh = Env::new();
    let store: Store = fresh.store();
    let s = store.create_session(&NewSession::default()).unwrap();
    store.append_message(&s.id, 1, "user", "hi", "{}", None).unwrap();
    let out = fresh.run(&["share", "status"]).ok().stdout.clone();
    assert!(
        out.contains("Imported: no, it started here") && out.contains("never exported"),
        "{out}"
    );
    assert!(out.contains("Data sources: none referenced"), "{out}");
}

#[test]
fn history_lists_newest_first_and_marks_moved_files() {
    let env = Env::new();
    let server = LlmServer::start();
    worked_session(&env, &server);
    let first = exported_file(&env.run(&["share", "export"]).ok().stdout);
    let fixture = common::repo_root().join("tests/fixtures/anton-v0.1/revenue-by-region.anton");
    env.run(&["share", "import", fixture.to_str().unwrap()]).ok();
    std::fs::remove_file(&first).unwrap();
    let history = env.run(&["share", "history", "--json"]).ok().json();
    assert_eq!(history[0]["direction"], "import");
    assert_eq!(history[1]["direction"], "export");
    assert_eq!(history[1]["file_exists"], false);
    let table = env.run(&["share", "history"]).ok().stdout.clone();
    assert!(
        table.contains("(missing)") && table.lines().next().unwrap().contains("What"),
        "{table}"
    );

    // Each kind of file is named, and a file in the workspace is shown from it.
    env.run(&["share", "export", "--summary"]).ok();
    let history = env.run(&["share", "history", "--json"]).ok().json();
    let kinds: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["summary", "v0.1", "full"]);
    assert_eq!(history[0]["format"], "anton-v1-summary");
    let table = env
        .run_env(&[("COLUMNS", "200".into())], &["share", "history"], "")
        .ok()
        .stdout
        .clone();
    let header = table.lines().next().unwrap();
    assert!(header.contains("What") && header.ends_with("File"), "{table}");
    let newest = table.lines().nth(1).unwrap();
    assert!(
        newest.contains("  export · summary  ") && newest.ends_with(".anton") && !newest.contains(".anton/output"),
        "{table}"
    );
    // At 80 columns the file's name keeps its end, the part that tells files apart.
    let narrow = env
        .run_env(&[("COLUMNS", "80".into())], &["share", "history"], "")
        .ok()
        .stdout
        .clone();
    let name = history[0]["path"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    assert!(
        narrow.lines().nth(1).unwrap().ends_with(&name[name.len() - 40..]),
        "{narrow}"
    );
}

#[test]
fn a_piped_chat_imports_without_asking_and_switches_to_the_import() {
    let env = Env::new();
    let server = LlmServer::start();
    server.then(Reply::Text("hello".into()));
    let fixture = common::repo_root().join("tests/fixtures/anton-v0.1/revenue-by-region.anton");
    let line = format!("/share import \"{}\"", fixture.display());
    // No one is there to answer: the next line is the next message, not a yes.
    let run = env.run_env(&server.openai_env(), &[], &format!("hi\n{line}\n/sessions\n"));
    run.ok();
    assert!(!run.stdout.contains("You are in a session"), "{run:#?}");
    assert!(
        run.stdout.contains("Resumed session ") && run.stdout.contains("ID"),
        "{run:#?}"
    );
    assert_eq!(env.store().count_sessions().unwrap(), 2);
}

#[test]
fn with_share_disabled_nothing_leaves_the_machine() {
    let env = Env::new();
    let server = LlmServer::start();
    worked_session(&env, &server);
    env.run(&["plugins", "disable", "share"]).ok();
    let run = env.run(&["share", "export"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("`share` is disabled in this workspace"), "{run:#?}");
    let chat = env.run_env(&[], &[], "/share export\n");
    assert!(chat.ok().stdout.contains("anton plugins enable share"), "{chat:#?}");
    assert!(
        !Path::new(&env.ws().join(".anton/output"))
            .read_dir()
            .is_ok_and(|mut d| d.next().is_some())
    );
}

#[test]
fn export_asks_the_model_for_a_title_when_the_session_has_none() {
    let env = Env::new();
    let store = env.store();
    let s = store.create_session(&NewSession::default()).unwrap();
    store
        .append_message(&s.id, 1, "user", "how are sales doing", "{}", None)
        .unwrap();
    let server = LlmServer::start();
    let run = env.run_env(&server.openai_env(), &["share", "export"], "");
    run.ok();
    assert!(
        run.stdout
            .contains("Title:    Revenue by region\n  Summary:  The user asked for revenue by region. APAC leads."),
        "{run:#?}"
    );
    let title_request = server.all_requests().pop().unwrap();
    assert!(title_request.is_title_request());
    assert_eq!(
        title_request.body["model"], "test-small",
        "the plugin got the coding model through the llm interface"
    );
    assert!(
        exported_file(&run.stdout)
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("revenue-by-region_")
    );
}

#[test]
fn import_takes_a_home_relative_path() {
    let env = Env::new();
    let fixture = common::repo_root().join("tests/fixtures/anton-v0.1/revenue-by-region.anton");
    std::fs::copy(&fixture, env.home.path().join("from-alice.anton")).unwrap();
    let run = env.run_env(&[], &[], "/share import ~/from-alice.anton\n");
    assert!(
        run.ok().stdout.contains("Imported: revenue-by-region-quick-check"),
        "{run:#?}"
    );
    assert_eq!(env.store().count_sessions().unwrap(), 1);
    // The ledger holds where the file is, not what was typed.
    let history = env.run(&["share", "history", "--json"]).ok().json();
    let path = env.home.path().join("from-alice.anton");
    assert_eq!(history[0]["path"], path.to_str().unwrap());
    assert_eq!(history[0]["file_exists"], true);

    // A dragged file's path, as a terminal pastes it (the same file again:
    // the user asks for a second copy).
    std::fs::copy(&fixture, env.home.path().join("from alice.anton")).unwrap();
    let dragged = env
        .home
        .path()
        .join("from alice.anton")
        .display()
        .to_string()
        .replace(' ', "\\ ");
    let run = env.run_env(&[], &[], &format!("/share import {dragged} --again\n"));
    assert!(
        run.ok().stdout.contains("Imported: revenue-by-region-quick-check"),
        "{run:#?}"
    );
}

#[test]
fn export_makes_the_summary_current_and_keeps_the_title() {
    let env = Env::new();
    let store = env.store();
    let s = store.create_session(&NewSession::default()).unwrap();
    store
        .append_message(&s.id, 1, "user", "why did churn rise in Q3?", "{}", None)
        .unwrap();
    store
        .append_message(
            &s.id,
            9,
            "assistant",
            "The March cohort left after the price change.",
            "{}",
            None,
        )
        .unwrap();
    store.set_title(&s.id, "Churn in Q3", false).unwrap();
    store
        .set_summary(&s.id, "Looking into churn; nothing found yet.")
        .unwrap();
    let server = LlmServer::start();
    server.titles(
        "Some other title",
        "Churn rose because the March cohort left after the price change.",
    );
    let run = env.run_env(&server.openai_env(), &["share", "export"], "");
    let (bundle, _) = read(&std::fs::read(exported_file(&run.ok().stdout)).unwrap()).unwrap();
    assert_eq!(bundle.title, "Churn in Q3");
    assert_eq!(
        bundle.summary,
        "Churn rose because the March cohort left after the price change."
    );
    let asked = server.all_requests().pop().unwrap().texts().concat();
    assert!(
        asked.contains("The goal, as first stated: \"why did churn rise in Q3?\"")
            && asked.contains("The summary so far (keep its goal, update what changed): \"Looking into churn"),
        "{asked}"
    );

    // The session keeps the summary its file went out with, and without a
    // model that stored summary goes out as it is.
    let kept = env.store().get_session(&s.id).unwrap().unwrap().summary;
    assert_eq!(kept, "Churn rose because the March cohort left after the price change.");
    let run = env.run(&["share", "export"]);
    let (bundle, _) = read(&std::fs::read(exported_file(&run.ok().stdout)).unwrap()).unwrap();
    assert_eq!(bundle.summary, kept);
    // A dry run changes nothing.
    env.store()
        .set_summary(&s.id, "Looking into churn; nothing found yet.")
        .unwrap();
    env.run_env(&server.openai_env(), &["share", "export", "--dry-run"], "")
        .ok();
    let unchanged = env.store().get_session(&s.id).unwrap().unwrap().summary;
    assert_eq!(unchanged, "Looking into churn; nothing found yet.");
}

#[test]
fn an_imported_session_keeps_its_title_and_its_goal_as_the_chat_goes_on() {
    let sender = Env::new();
    let server = LlmServer::start();
    worked_session(&sender, &server);
    let file = exported_file(&sender.run(&["share", "export", "--summary"]).ok().stdout);
    let recipient = Env::new();
    recipient.run(&["share", "import", file.to_str().unwrap()]).ok();
    let id = recipient.run(&["sessions", "--json"]).ok().json()[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    // A summary with no turns is a session like any other: found, shared on.
    let picked = recipient.run_with_input(&["-r"], "q\n");
    assert!(picked.stdout.contains("Revenue by region"), "{picked:#?}");
    assert!(
        recipient.run(&["share", "status"]).ok().stdout.contains(&id),
        "the latest session"
    );
    let passed_on = recipient.run(&["share", "export", "--summary"]);
    let (bundle, _) = read(&std::fs::read(exported_file(&passed_on.ok().stdout)).unwrap()).unwrap();
    assert_eq!(bundle.summary, llm_server::SUMMARY);

    server.titles(
        "Something else entirely",
        "Revenue by region: APAC leads; now by month.",
    );
    server.then(Reply::Text("By month: growing.".into()));
    recipient
        .run_env(&server.openai_env(), &["-r", &id], "and by month?\n")
        .ok();
    let session = recipient.store().get_session(&id).unwrap().unwrap();
    assert_eq!(session.title, "Revenue by region", "the imported title stays");
    assert_eq!(session.summary, "Revenue by region: APAC leads; now by month.");
    let exporters_words = format!("quoted:\n> {}\n", llm_server::SUMMARY);
    let chat = server.chat_requests().pop().unwrap();
    let told = chat.body["messages"][1]["content"].as_str().unwrap().to_string();
    assert!(
        told.contains("This session was imported from a .anton file exported by")
            && told.contains(&exporters_words)
            && told.contains("The file carried this summary only"),
        "a summary-only import still tells the model whose work it is: {told}"
    );
    let asked = server.all_requests().pop().unwrap();
    assert!(asked.is_title_request());
    let asked = asked.texts().concat();
    assert!(
        asked.contains(&format!("The goal, as first stated: \"{}\"\n", llm_server::SUMMARY))
            && asked.contains(&format!(
                "The summary so far (keep its goal, update what changed): \"{}\"",
                llm_server::SUMMARY
            )),
        "the refresh keeps the imported summary as its goal: {asked}"
    );

    // Five turns on, the summary has been refreshed again, yet the model is
    // still quoted the exporter's own words, and the goal is still theirs.
    server.titles("Something else again", "Monthly revenue charted.");
    for _ in 0..4 {
        server.then(Reply::Text("Noted.".into()));
    }
    recipient
        .run_env(&server.openai_env(), &["-r", &id], "a\nb\nc\nd\n")
        .ok();
    let session = recipient.store().get_session(&id).unwrap().unwrap();
    assert_eq!(
        session.title, "Revenue by region",
        "the imported title stays at the fifth turn"
    );
    assert_eq!(session.summary, "Monthly revenue charted.");
    let asked = server.all_requests().pop().unwrap().texts().concat();
    assert!(
        asked.contains(&format!("The goal, as first stated: \"{}\"\n", llm_server::SUMMARY)),
        "{asked}"
    );
    server.then(Reply::Text("Still APAC.".into()));
    recipient
        .run_env(&server.openai_env(), &["-r", &id], "who leads?\n")
        .ok();
    let told = server.chat_requests().pop().unwrap().body["messages"][1]["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        told.contains(&exporters_words) && !told.contains("Monthly revenue charted"),
        "the note quotes what the exporter wrote, not the chat's own refresh: {told}"
    );
}

#[test]
fn the_model_is_told_who_exported_the_file_and_who_imported_it() {
    let server = LlmServer::start();
    let (_sender, file) = exported_by(&server, "alice");

    let recipient = Env::new();
    let bob = [server.openai_env(), as_user("bob")].concat();
    recipient
        .run_env(&bob, &["share", "import", file.to_str().unwrap()], "")
        .ok();
    let id = recipient.run(&["sessions", "--json"]).ok().json()[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    server.then(Reply::Text("Alice sent it.".into()));
    recipient.run_env(&bob, &["-r", &id], "who sent this?\n").ok();
    let request = server.chat_requests().pop().unwrap();
    let quoted = request.body["messages"][1]["content"].as_str().unwrap().to_string();
    assert!(
        quoted.contains("exported by \"alice\" and imported by \"bob\", the user you work with now"),
        "{quoted}"
    );
    assert!(quoted.contains("Summary written by \"alice\""), "{quoted}");
}

#[test]
fn a_connection_made_in_the_chat_shows_in_share_status_at_once() {
    let env = Env::new();
    let fixture = common::repo_root().join("tests/fixtures/anton-v0.1/revenue-by-region.anton");
    env.run(&["share", "import", fixture.to_str().unwrap()]).ok();
    let id = env.run(&["sessions", "--json"]).ok().json()[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let run = env.run_env(
        &[],
        &["-r", &id],
        "/share status\n/connect postgres\ndb.internal\n\nsales\nbob\npw-typed-here\nprod db\n/share status\n",
    );
    let out = run.ok().stdout.clone();
    let before = out.find("postgres_prod_db · not connected here").expect(&out);
    let after = out.find("✓ postgres_prod_db · connected").expect(&out);
    assert!(before < after, "{out}");
}

#[test]
fn importing_a_file_again_in_the_chat_offers_the_session_it_became() {
    let env = Env::new();
    let fixture = common::repo_root().join("tests/fixtures/anton-v0.1/revenue-by-region.anton");
    env.run(&["share", "import", fixture.to_str().unwrap()]).ok();
    env.run(&["share", "import", fixture.to_str().unwrap(), "--again"]).ok();
    let listed = env.run(&["sessions", "--json"]).ok().json();
    let (id, older) = (listed[0]["id"].as_str().unwrap(), listed[1]["id"].as_str().unwrap());
    // In a session with turns, the file's newest copy is offered.
    let run = env.run_env(
        &[],
        &["-r", older],
        &format!("/share import {}\ny\n", fixture.display()),
    );
    let said = format!("{}{}", run.ok().stdout, run.stderr);
    assert!(
        !said.contains("Importing opens a new session"),
        "no question before the host says it is here already: {said}"
    );
    assert!(
        said.contains(&format!("this file is imported already, as session {id}"))
            && said.contains(&format!("Open session {id} instead?")),
        "{said}"
    );
    assert!(said.contains(&format!("Resumed session {id}")), "{said}");
    assert_eq!(env.store().count_sessions().unwrap(), 2);
}

#[test]
fn what_the_model_is_quoted_of_an_import_is_scrubbed_of_known_secrets() {
    let server = LlmServer::start();
    let (_sender, file) = exported_by(&server, "zebra42secretvalue");

    let recipient = Env::new();
    recipient.run(&["share", "import", file.to_str().unwrap()]).ok();
    let id = recipient.run(&["sessions", "--json"]).ok().json()[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    server.then(Reply::Text("Noted.".into()));
    let knows = [
        server.openai_env(),
        vec![("ACME_TOKEN", "zebra42secretvalue".to_string())],
    ]
    .concat();
    recipient.run_env(&knows, &["-r", &id], "who sent this?\n").ok();
    for request in server.all_requests() {
        let body = request.body.to_string();
        assert!(!body.contains("zebra42secretvalue"), "{body}");
    }
    let quoted = server.chat_requests().pop().unwrap().body["messages"][1]["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(quoted.contains("exported by \"[REDACTED"), "{quoted}");
}

#[test]
fn export_writes_transcripts_for_people_redacted_like_every_export() {
    let env = Env::new();
    let server = LlmServer::start();
    worked_session(&env, &server);
    let token = "ghp_4kT9zQ2mW8xR1vB7nL3pJ6sD0fG5hY2uE9aC";
    server.then(Reply::Text("Noted <script>alert(1)</script>.".into()));
    let id = env.run(&["sessions", "--json"]).ok().json()[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    env.run_env(&server.openai_env(), &["-r", &id], &format!("my token is {token}\n"))
        .ok();
    for (format, extension, kind) in [("md", "md", "md"), ("html", "html", "html")] {
        let run = env.run(&["share", "export", "--format", format]);
        let file = exported_file(&run.ok().stdout);
        assert_eq!(file.extension().unwrap(), extension, "{run:#?}");
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(!text.contains(token), "{format}: the token is redacted: {text}");
        assert!(text.contains("[REDACTED_GITHUB"), "{format}: {text}");
        for part in [
            "revenue by region?",
            "APAC leads.",
            "Scratchpad cells",
            "6*7",
            "Revenue is in cents",
        ] {
            assert!(text.contains(part), "{format}: {part:?} missing from {text}");
        }
        let history = env.run(&["share", "history", "--json"]).ok().json();
        assert_eq!(history[0]["kind"], kind, "{history}");
    }
    let html = std::fs::read_to_string(exported_file(
        &env.run(&["share", "export", "--format", "html"]).ok().stdout,
    ))
    .unwrap();
    assert!(html.contains("Noted &lt;script&gt;alert(1)&lt;/script&gt;."), "{html}");
    assert!(!html.contains("<script"), "{html}");
    // A transcript is for people: importing one says what it is not.
    let md = env.ws().join(".anton/output");
    let md = std::fs::read_dir(md)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "md"))
        .unwrap();
    let refused = env.run(&["share", "import", md.to_str().unwrap()]);
    refused.fails();
    assert!(refused.stderr.contains("not a .anton file"), "{refused:#?}");
}

#[test]
fn a_session_larger_than_the_share_plugins_memory_exports_and_imports_back_whole() {
    // 40 MiB of text against the share plugin's 32 MiB of linear memory:
    // only a plugin that holds a page at a time gets through.
    const MESSAGES: u32 = 5_000;
    let env = Env::new();
    let store = env.store();
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut words = || {
        let mut text = String::with_capacity(8_400);
        while text.len() < 8_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            text.push_str(&format!("{:x}é ", seed % 0x1_0000_0000));
        }
        text
    };
    let id = store
        .transaction(|w| {
            let s = w.create_session(&NewSession {
                title: "a very large session".into(),
                ..Default::default()
            })?;
            for i in 0..MESSAGES {
                let role = if i % 2 == 0 { "user" } else { "assistant" };
                w.append_message(&s.id, i / 2 + 1, role, &words(), "{}", None)?;
            }
            for _ in 0..200 {
                w.add_cell(
                    &s.id,
                    &anton::store::Cell {
                        pad: "main".into(),
                        code: words(),
                        stdout: words(),
                        description: "a step".into(),
                        ..Default::default()
                    },
                )?;
            }
            w.set_summary(&s.id, "a large session")?;
            Ok(s.id)
        })
        .unwrap();
    type Contents = (Vec<(u32, String, String)>, Vec<(String, String)>);
    let contents = |store: &Store, id: &str| -> Contents {
        let messages = store.messages(id, 0).unwrap();
        let cells = store.cells(id).unwrap();
        (
            messages.into_iter().map(|m| (m.turn, m.role, m.content)).collect(),
            cells.into_iter().map(|c| (c.code, c.stdout)).collect(),
        )
    };
    let original = contents(&store, &id);
    assert!(original.0.iter().map(|m| m.2.len()).sum::<usize>() > 40_000_000);
    for format in ["v1", "v0.1"] {
        let file = exported_file(
            &env.run(&["share", "export", "--session", &id, "--format", format])
                .ok()
                .stdout,
        );
        let other = Env::new();
        other.run(&["share", "import", file.to_str().unwrap()]).ok();
        let store = other.store();
        let imported = store.list_sessions(&Default::default()).unwrap().remove(0).0;
        assert_eq!(contents(&store, &imported.id), original, "{format}");
    }
}

#[test]
fn a_forks_exports_say_which_session_it_was_forked_from() {
    let env = Env::new();
    let store = env.store();
    let parent = store.create_session(&NewSession::default()).unwrap();
    store
        .append_message(&parent.id, 1, "user", "revenue by region?", "{}", None)
        .unwrap();
    store
        .append_message(&parent.id, 1, "assistant", "APAC leads.", "{}", None)
        .unwrap();
    store.set_title(&parent.id, "Revenue", false).unwrap();
    store.set_summary(&parent.id, "APAC leads.").unwrap();
    let fork = store.fork_session(&parent.id, None, Some("Revenue again")).unwrap();
    let exported = |format: &str| {
        let file = exported_file(
            &env.run(&["share", "export", "--session", &fork.id, "--format", format])
                .ok()
                .stdout,
        );
        std::fs::read(file).unwrap()
    };
    let native = exported("v1");
    let (bundle, _) = read(&native).unwrap();
    assert_eq!(bundle.forked_from.as_deref(), Some(parent.id.as_str()));
    assert!(common::unpacked(&native).contains(&format!("\"forked_from\": \"{}\"", parent.id)));
    let markdown = String::from_utf8(exported("md")).unwrap();
    assert!(
        markdown.contains(&format!("Forked from session `{}`", parent.id)),
        "{markdown}"
    );
    let html = String::from_utf8(exported("html")).unwrap();
    assert!(
        html.contains(&format!("Forked from session <code>{}</code>", parent.id)),
        "{html}"
    );
    // The reference's format has no such field and gets none.
    let reference = String::from_utf8(exported("v0.1")).unwrap();
    assert!(!reference.contains("forked_from"), "{reference}");
    // A session that is no fork says nothing of the kind.
    let plain = exported_file(&env.run(&["share", "export", "--session", &parent.id]).ok().stdout);
    assert_eq!(read(&std::fs::read(plain).unwrap()).unwrap().0.forked_from, None);
}

/// A reference-format file of `conversation`, `cells` and `memories`.
fn reference_file(dir: &Path, conversation: Vec<serde_json::Value>, cells: Vec<serde_json::Value>) -> PathBuf {
    let file = dir.join("made.anton");
    let document = json!({
        "version": "0.1", "exported_by": "sam", "exported_at": "2026-11-23T23:20:53+00:00",
        "session": {"id": "20261123_232051", "title": "made", "summary": "made for a test",
                    "conversation_history": conversation},
        "memory": {"session_born": [], "project_accessed": []},
        "scratchpad": {"cells": cells},
    });
    std::fs::write(&file, serde_json::to_vec(&document).unwrap()).unwrap();
    file
}

fn said(turn: u32, role: &str, content: String) -> serde_json::Value {
    json!({"ts": "2026-11-23T23:20:53+00:00", "turn": turn, "role": role, "content": content, "meta": {}})
}

#[test]
fn texts_of_several_mib_export_in_every_format_and_import_back() {
    let env = Env::new();
    let mib = |c: char, n: usize| c.to_string().repeat(n << 20);
    let conversation = vec![
        said(1, "user", mib('a', 7)),
        said(1, "assistant", mib('b', 7)),
        said(2, "user", mib('c', 7)),
        said(2, "assistant", mib('d', 7)),
    ];
    let file = reference_file(
        env.ws(),
        conversation,
        vec![json!({"code": mib('e', 5), "stdout": mib('f', 2)})],
    );
    env.run(&["share", "import", file.to_str().unwrap()]).ok();
    let store = env.store();
    let id = store.list_sessions(&Default::default()).unwrap().remove(0).0.id;
    let texts = |store: &Store, id: &str| -> Vec<usize> {
        let mut sizes: Vec<usize> = store.messages(id, 0).unwrap().iter().map(|m| m.content.len()).collect();
        sizes.extend(store.cells(id).unwrap().iter().map(|c| c.code.len() + c.stdout.len()));
        sizes
    };
    assert_eq!(texts(&store, &id), [7 << 20, 7 << 20, 7 << 20, 7 << 20, 7 << 20]);
    for format in ["v1", "v0.1", "md", "html"] {
        let run = env.run(&["share", "export", "--session", &id, "--format", format]);
        let exported = exported_file(&run.ok().stdout);
        if format.starts_with('v') {
            let other = Env::new();
            other.run(&["share", "import", exported.to_str().unwrap()]).ok();
            let store = other.store();
            let copy = store.list_sessions(&Default::default()).unwrap().remove(0).0.id;
            assert_eq!(texts(&store, &copy), texts(&env.store(), &id), "{format}");
        }
    }
}

#[test]
fn a_text_over_eight_mib_is_refused_by_its_place_and_nothing_is_kept() {
    let env = Env::new();
    let file = reference_file(
        env.ws(),
        vec![
            said(1, "user", "hi".into()),
            said(1, "assistant", "x".repeat((8 << 20) + 1)),
        ],
        vec![],
    );
    let run = env.run(&["share", "import", file.to_str().unwrap()]);
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(
        run.stderr
            .contains("session.conversation_history[1]: a text over the 8.0 MiB limit"),
        "{run:#?}"
    );
    assert_eq!(run.stderr.lines().count(), 1, "{run:#?}");
    assert!(env.store().list_sessions(&Default::default()).unwrap().is_empty());
}

#[test]
fn many_rows_with_no_text_in_them_import() {
    let env = Env::new();
    let cells = (0..200_000).map(|_| json!({"code": ""})).collect();
    let file = reference_file(env.ws(), vec![said(1, "user", "hi".into())], cells);
    env.run(&["share", "import", file.to_str().unwrap()]).ok();
    let store = env.store();
    let id = store.list_sessions(&Default::default()).unwrap().remove(0).0.id;
    assert_eq!(store.cells(&id).unwrap().len(), 200_000);
}

#[test]
fn import_takes_one_file_and_an_option_once() {
    let env = Env::new();
    let a = reference_file(env.ws(), vec![said(1, "user", "hi".into())], vec![]);
    let run = env.run(&["share", "import", a.to_str().unwrap(), a.to_str().unwrap()]);
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(run.stderr.contains("one file at a time (2 given)"), "{run:#?}");
    let run = env.run(&["share", "export", "--format", "md", "--format", "html"]);
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(run.stderr.contains("--format is given twice"), "{run:#?}");
    assert!(env.store().list_sessions(&Default::default()).unwrap().is_empty());
}

#[test]
fn an_imports_title_summary_and_task_are_kept_to_what_a_listing_shows() {
    let env = Env::new();
    let file = env.ws().join("long.anton");
    let document = json!({
        "version": "0.1", "exported_by": "sam", "exported_at": "2026-11-23T23:20:53+00:00",
        "session": {"id": "20261123_232051", "title": "T".repeat(8 << 20), "summary": "S".repeat(1 << 20),
                    "conversation_history": [said(1, "user", "q".repeat(7 << 20)), said(1, "assistant", "a".into())]},
        "memory": {"session_born": [], "project_accessed": []},
        "scratchpad": {"cells": []},
    });
    std::fs::write(&file, serde_json::to_vec(&document).unwrap()).unwrap();
    env.run(&["share", "import", file.to_str().unwrap()]).ok();
    let listed = env.run(&["sessions", "--json"]).ok().json();
    let session = &listed[0];
    assert_eq!(
        (
            session["title"].as_str().unwrap().chars().count(),
            session["summary"].as_str().unwrap().chars().count(),
            session["task"].as_str().unwrap().chars().count()
        ),
        (300, 16_000, 2_000)
    );
    let id = session["id"].as_str().unwrap();
    let exported = exported_file(&env.run(&["share", "export", "--session", id]).ok().stdout);
    let other = Env::new();
    other.run(&["share", "import", exported.to_str().unwrap()]).ok();
    let copy = other.store().list_sessions(&Default::default()).unwrap().remove(0).0;
    assert_eq!(other.store().messages(&copy.id, 0).unwrap()[0].content.len(), 7 << 20);
}

#[test]
fn what_redaction_lengthens_on_export_is_cut_so_the_file_imports_back() {
    // Rows stored before the user's own pattern existed: on export each
    // six-byte match becomes a 24-byte placeholder.
    let env = Env::new();
    let store = env.store();
    let s = store.create_session(&NewSession::default()).unwrap();
    let near = |limit: usize| "x".repeat(limit - 2000) + &"ACME-1 ".repeat(200);
    store.append_message(&s.id, 1, "user", "print it", "{}", None).unwrap();
    let meta = json!({"tool": "run", "id": "call_1", "note": near(MAX_META - 100)}).to_string();
    store
        .append_message(&s.id, 1, "assistant", &near(MAX_TEXT), &meta, None)
        .unwrap();
    let cell = anton::store::Cell {
        code: near(MAX_TEXT),
        stdout: near(MAX_TEXT),
        stderr: "ACME-1 ".repeat(10),
        ..Default::default()
    };
    store.add_cell(&s.id, &cell).unwrap();
    // More than a file carries of memories: the first fits, the second not.
    for text in ["orders are keyed by ACME-1".to_string(), near(MAX_TEXT)] {
        let lesson = anton::store::SessionMemory {
            born: true,
            kind: "lesson".into(),
            scope: "project".into(),
            text,
            topic: String::new(),
        };
        store.record_memory(&s.id, &lesson).unwrap();
    }
    drop(store);
    env.user_config("[redact]\npatterns = [\"ACME-[0-9]\"]\n");
    for format in ["v1", "v0.1"] {
        let export = env.run(&["share", "export", "--format", format]);
        assert!(
            export.ok().stdout.contains(
                "Memory:   1 session-born, 0 project memories (1 left out: a file carries 10000 memories of 2.0 MiB together)"
            ),
            "{format}: {export:#?}"
        );
        let file = exported_file(&export.stdout);
        let other = Env::new();
        let run = other.run(&["share", "import", file.to_str().unwrap()]);
        assert!(run.ok().stdout.contains("Imported: "), "{format}: {run:#?}");
        let store = other.store();
        let copy = store.list_sessions(&Default::default()).unwrap().remove(0).0.id;
        let lessons: Vec<String> = store
            .session_memories(&copy)
            .unwrap()
            .into_iter()
            .map(|m| m.text)
            .collect();
        assert_eq!(lessons, ["orders are keyed by [REDACTED_CUSTOM_SECRET]"], "{format}");
        let reply = store.messages(&copy, 0).unwrap().remove(1);
        assert!(reply.content.len() <= MAX_TEXT, "{format}");
        assert!(reply.content.contains("[REDACTED_CUSTOM_SECRET]"), "{format}");
        assert!(!reply.content.contains("ACME-1"), "{format}");
        assert!(
            reply.content.ends_with("anton keeps 8388608 bytes of one text]"),
            "{format}"
        );
        let meta: serde_json::Value = serde_json::from_str(&reply.meta).unwrap();
        assert_eq!(
            (&meta["tool"], &meta["id"]),
            (&json!("run"), &json!("call_1")),
            "{format}"
        );
        assert!(
            meta["cut"].as_str().unwrap().contains("anton keeps 1047552 bytes"),
            "{format}"
        );
        let cell = store.cells(&copy).unwrap().remove(0);
        assert!(cell.texts().all(|t| !t.contains("ACME-1")), "{format}");
        assert_eq!(cell.stderr, "[REDACTED_CUSTOM_SECRET] ".repeat(10), "{format}");
        assert!(cell.code.len() <= MAX_TEXT && cell.stdout.len() <= MAX_TEXT, "{format}");
    }
}

#[test]
fn metas_of_many_values_or_deep_nesting_import_and_export_back_in_both_formats() {
    let env = Env::new();
    let nested = (0..100).fold(json!(vec![0; 950]), |inner, _| json!([inner]));
    let mut conversation = vec![said(1, "user", "run it".into())];
    for extra in [json!({"list": vec![0; 150_000]}), json!({"x": nested})] {
        let mut call = said(1, "tool_call", r#"{"code": "1"}"#.into());
        call["meta"] = json!({"tool": "run", "id": "c1"});
        call["meta"]
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        conversation.push(call);
    }
    let file = reference_file(env.ws(), conversation, vec![]);
    env.run(&["share", "import", file.to_str().unwrap()]).ok();
    for format in ["v1", "v0.1"] {
        let exported = exported_file(&env.run(&["share", "export", "--format", format]).ok().stdout);
        let other = Env::new();
        let run = other.run(&["share", "import", exported.to_str().unwrap()]);
        assert!(run.ok().stdout.contains("Imported: "), "{format}: {run:#?}");
        let store = other.store();
        let copy = store.list_sessions(&Default::default()).unwrap().remove(0).0.id;
        for call in store
            .messages(&copy, 0)
            .unwrap()
            .iter()
            .filter(|m| m.role == "tool_call")
        {
            let meta: serde_json::Value = serde_json::from_str(&call.meta).unwrap();
            assert_eq!((&meta["tool"], &meta["id"]), (&json!("run"), &json!("c1")), "{format}");
        }
    }
}

#[test]
fn a_session_with_more_memories_than_a_file_carries_exports_and_says_so() {
    let env = Env::new();
    let store = env.store();
    let s = store.create_session(&NewSession::default()).unwrap();
    store
        .append_message(&s.id, 1, "user", "learn a lot", "{}", None)
        .unwrap();
    for n in 0..3 {
        let lesson = anton::store::SessionMemory {
            born: true,
            kind: "lesson".into(),
            scope: "project".into(),
            text: format!("{n}{}", "m".repeat(MAX_TEXT - 1)),
            topic: String::new(),
        };
        store.record_memory(&s.id, &lesson).unwrap();
    }
    drop(store);
    let run = env.run(&["share", "export"]);
    assert!(
        run.ok()
            .stdout
            .contains("Memory:   0 session-born, 0 project memories (3 left out"),
        "{run:#?}"
    );
    let other = Env::new();
    other
        .run(&["share", "import", exported_file(&run.stdout).to_str().unwrap()])
        .ok();
}
