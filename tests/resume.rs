//! `anton -r`, `anton -c` and `/resume`, through piped stdin against the
//! loopback model server: the request after resuming carries earlier turns.

mod common;

use anton::store::{NewSession, Store};
use common::Env;
use common::llm_server::{LlmServer, Reply};
use serde_json::{Value, json};

fn conversation(request: &Value) -> Vec<(String, String)> {
    request["messages"]
        .as_array()
        .unwrap()
        .iter()
        .skip(1)
        .map(|m| {
            (
                m["role"].as_str().unwrap().to_string(),
                m["content"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
}

#[test]
fn resume_by_id_carries_the_earlier_turns_into_the_next_request() {
    let env = Env::new();
    let server = LlmServer::start();
    let id = env.chat_once(&server, "revenue by region?", "APAC leads.");
    server.then(Reply::Text("By month: growing.".into()));
    let run = env.run_env(&server.openai_env(), &["-r", &id[..18]], "and by month?\n");
    run.ok();
    assert!(
        run.stdout.starts_with(&format!(
            "Resumed session {id} (1 turn)\n  you:   revenue by region?\n  anton: APAC leads.\n"
        )),
        "{run:#?}"
    );
    let last = server.chat_requests().pop().unwrap();
    assert_eq!(
        conversation(&last.body),
        pairs(&[
            ("user", "revenue by region?"),
            ("assistant", "APAC leads."),
            ("user", "and by month?")
        ])
    );
    let store = env.store();
    let session = store.get_session(&id).unwrap().unwrap();
    assert_eq!((session.turns, session.messages), (2, 4));
    assert_eq!(
        store.count_sessions().unwrap(),
        1,
        "resuming does not start another session"
    );
}

#[test]
fn the_picker_lists_sessions_with_turns_and_reads_a_number_from_a_pipe() {
    let env = Env::new();
    let server = LlmServer::start();
    let older = env.chat_once(&server, "first question", "first answer");
    env.chat_once(&server, "second question", "second answer");
    env.store().create_session(&NewSession::default()).unwrap();
    server.then(Reply::Text("ok".into()));
    let run = env.run_env(&server.openai_env(), &["--resume"], "2\nfollow up\n");
    run.ok();
    let listed: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.trim_start().starts_with(|c: char| c.is_ascii_digit()))
        .collect();
    assert_eq!(listed.len(), 2, "empty sessions are not offered: {run:#?}");
    assert!(listed[0].contains("UTC · 1 turn · "), "{listed:?}");
    assert!(!run.stdout.contains("[20"), "no raw timestamp stamps: {run:#?}");
    assert!(run.stdout.contains(&format!("Resumed session {older}")), "{run:#?}");
    let last = server.chat_requests().pop().unwrap();
    assert_eq!(
        conversation(&last.body)[0],
        ("user".to_string(), "first question".to_string())
    );
}

#[test]
fn continue_takes_the_most_recent_session_and_slash_resume_switches_in_the_chat() {
    let env = Env::new();
    let server = LlmServer::start();
    let first = env.chat_once(&server, "alpha", "a");
    let second = env.chat_once(&server, "beta", "b");
    server.then(Reply::Text("c".into()));
    let run = env.run_env(&server.openai_env(), &["-c"], "gamma\n");
    assert!(
        run.ok().stdout.contains(&format!("Resumed session {second}")),
        "{run:#?}"
    );

    server.then(Reply::Text("d".into()));
    let run = env.run_env(&server.openai_env(), &[], &format!("/resume {first}\ndelta\n"));
    assert!(
        run.ok().stdout.contains(&format!("Resumed session {first} (1 turn)")),
        "{run:#?}"
    );
    assert_eq!(conversation(&server.chat_requests().pop().unwrap().body)[0].1, "alpha");
    let unknown = env.run_env(&server.openai_env(), &[], "/resume 1999\n");
    assert!(unknown.ok().stderr.contains("Session 1999 not found."), "{unknown:#?}");
}

#[test]
fn an_unknown_id_at_launch_fails_and_no_sessions_starts_fresh() {
    let env = Env::new();
    let run = env.run_env(&[], &["-r", "nope"], "");
    assert_eq!(run.code, 1);
    assert_eq!(run.stderr, "Session nope not found. `anton sessions` lists them.\n");
    let run = env.run_env(&[], &["-r"], "");
    run.ok();
    assert!(run.stdout.contains("No earlier sessions to resume."), "{run:#?}");
}

#[test]
fn a_crash_truncated_session_is_repaired_on_resume() {
    let env = Env::new();
    let store: Store = env.store();
    let s = store.create_session(&NewSession::default()).unwrap();
    store
        .append_message(&s.id, 1, "user", "load the data", "{}", None)
        .unwrap();
    store
        .append_message(&s.id, 1, "assistant", "Loading.", "{}", None)
        .unwrap();
    store
        .append_message(
            &s.id,
            1,
            "tool_call",
            r#"{"code":"load()"}"#,
            r#"{"tool":"scratchpad","id":"call_9"}"#,
            None,
        )
        .unwrap();
    let server = LlmServer::start();
    server.then(Reply::Text("Let us try again.".into()));
    let run = env.run_env(&server.openai_env(), &["-r", &s.id], "retry\n");
    run.ok();
    assert!(
        run.stdout.contains("Repaired the end of this session's history"),
        "{run:#?}"
    );
    let messages = server.chat_requests().pop().unwrap().body["messages"].clone();
    assert_eq!(messages[2]["tool_calls"][0]["id"], "call_9");
    assert_eq!(messages[3]["role"], "tool");
    assert_eq!(messages[3]["tool_call_id"], "call_9");
    assert_eq!(messages[4], json!({"role": "user", "content": "retry"}));
}

#[test]
fn a_session_another_live_anton_writes_is_continued_in_a_fork() {
    let env = Env::new();
    let server = LlmServer::start();
    let id = env.chat_once(&server, "shared work", "ok");
    let store = env.store();
    // This test process stands in for the other, live anton.
    store.claim(&id).unwrap().unwrap();
    server.then(Reply::Text("forked reply".into()));
    let run = env.run_env(&server.openai_env(), &["-r", &id], "next step\n");
    run.ok();
    assert!(
        run.stdout.contains(&format!(
            "Session {id} is open in another anton (pid {}",
            std::process::id()
        )),
        "{run:#?}"
    );
    let fork = run
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix(&format!("Forked {id} into ")))
        .unwrap()
        .trim_end_matches('.')
        .to_string();
    let forked = store.get_session(&fork).unwrap().unwrap();
    assert_eq!(forked.provenance.forked_from.as_deref(), Some(id.as_str()));
    assert_eq!(forked.turns, 2);
    assert_eq!(
        store.get_session(&id).unwrap().unwrap().turns,
        1,
        "the original is untouched"
    );
    assert_eq!(
        conversation(&server.chat_requests().pop().unwrap().body)[0].1,
        "shared work"
    );
}

#[test]
fn a_session_from_another_model_resumes_on_the_current_one_with_a_warning() {
    let env = Env::new();
    let server = LlmServer::start();
    let id = env.chat_once(&server, "q", "a");
    server.then(Reply::Text("b".into()));
    let mut vars = server.openai_env();
    vars.retain(|(k, _)| *k != "ANTON_PLANNING_MODEL");
    vars.push(("ANTON_PLANNING_MODEL", "other-model".into()));
    let run = env.run_env(&vars, &["-r", &id], "more\n");
    assert!(
        run.ok().stdout.contains(
            "This session ran on openai-compatible/test-model; it continues on openai-compatible/other-model."
        ),
        "{run:#?}"
    );
}

#[test]
fn with_the_resume_plugin_disabled_both_ways_say_so() {
    let env = Env::new();
    env.run(&["plugins", "disable", "resume"]).ok();
    let run = env.run_env(&[], &["-r"], "");
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .contains("`resume` is disabled in this workspace (plugin 'resume')"),
        "{run:#?}"
    );
    let run = env.run_env(&[], &[], "/resume\n");
    assert!(run.ok().stdout.contains("anton plugins enable resume"), "{run:#?}");
}

#[test]
fn two_anton_c_started_at_once_never_both_write_the_session() {
    use std::io::Write;
    use std::process::Stdio;
    use std::time::Duration;
    let env = Env::new();
    let server = LlmServer::start();
    for round in 0..6 {
        let id = env.chat_once(&server, &format!("question of round {round}"), "ok");
        // Each reply takes a while, so that the two processes surely overlap:
        // one holds the session while the other starts.
        for _ in 0..2 {
            server.then(Reply::Stall("a".into(), Duration::from_millis(1500), "b".into()));
        }
        let mut children: Vec<_> = (0..2)
            .map(|_| {
                let mut cmd = env.command_in(env.ws(), &["-c"]);
                cmd.envs(server.openai_env())
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped());
                cmd.spawn().unwrap()
            })
            .collect();
        let pids: Vec<u32> = children.iter().map(|c| c.id()).collect();
        // Without a terminal the one that finds the session held forks at once.
        for (process, child) in children.iter_mut().enumerate() {
            let input = format!("from process {process} of round {round}\n");
            child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        }
        let runs: Vec<common::Run> = children
            .into_iter()
            .map(|c| common::Run::from(c.wait_with_output().unwrap()))
            .collect();
        for run in &runs {
            run.ok();
        }
        let asked: Vec<String> = env
            .store()
            .messages(&id, 0)
            .unwrap()
            .into_iter()
            .filter(|m| m.role == "user")
            .map(|m| m.content)
            .collect();
        let writers: Vec<usize> = (0..2)
            .filter(|p| asked.contains(&format!("from process {p} of round {round}")))
            .collect();
        assert_eq!(
            writers.len(),
            1,
            "round {round}: session {id} was written by {writers:?}: {asked:?}\n{runs:#?}"
        );
        let (winner, loser) = (writers[0], 1 - writers[0]);
        assert!(
            runs[loser].stdout.contains(&format!("(pid {} on ", pids[winner])),
            "round {round}: the second anton does not say who holds {id}:\n{runs:#?}"
        );
        // And its message is not lost: it went into the fork.
        let store = env.store();
        let kept = store
            .list_sessions(&Default::default())
            .unwrap()
            .into_iter()
            .any(|(s, _)| {
                s.provenance.forked_from.as_deref() == Some(id.as_str())
                    && store
                        .messages(&s.id, 0)
                        .unwrap()
                        .iter()
                        .any(|m| m.content == format!("from process {loser} of round {round}"))
            });
        assert!(kept, "round {round}: the second anton's message is lost:\n{runs:#?}");
    }
}

#[test]
fn cancelling_the_launch_picker_leaves_instead_of_opening_a_chat() {
    let env = Env::new();
    let server = LlmServer::start();
    env.chat_once(&server, "an earlier question", "ok");
    let run = env.run_env(&server.openai_env(), &["-r"], "q\nnot a message\n");
    assert_eq!(run.code, 130, "{run:#?}");
    assert!(
        !run.stdout.contains("Resume this session with"),
        "no chat was opened: {run:#?}"
    );
    assert_eq!(server.chat_requests().len(), 1, "the line after q reached no model");
}
