//! `anton sessions` and `anton session <id>` through the real binary, over a
//! real store.

mod common;

use anton::store::{NewSession, Status, Store};
use common::Env;

/// A session with one exchange, last active `minutes_ago`.
fn seed(store: &Store, task: &str, reply: &str, minutes_ago: i64) -> String {
    let at = anton::store::now_ms() - minutes_ago * 60_000;
    let s = store
        .create_session(&NewSession {
            created_at: Some(at),
            ..Default::default()
        })
        .unwrap();
    store.append_message(&s.id, 1, "user", task, "{}", Some(at)).unwrap();
    store
        .append_message(&s.id, 1, "assistant", reply, "{}", Some(at + 1))
        .unwrap();
    s.id
}

#[test]
fn an_empty_workspace_has_no_sessions_and_says_how_to_start_one() {
    let env = Env::new();
    let run = env.run(&["sessions"]).ok().clone();
    assert_eq!(run.stdout, "No sessions found. Run `anton` to start one.\n");
    assert_eq!(env.run(&["sessions", "--json"]).ok().json(), serde_json::json!([]));
    assert!(
        !env.ws().join(".anton").exists(),
        "listing must not create the workspace store"
    );
}

#[test]
fn one_session_shows_id_task_status_summary_and_when() {
    let env = Env::new();
    let store = env.store();
    let id = seed(&store, "what is revenue by region?", "APAC leads.", 120);
    store
        .set_summary(&id, "User asked for revenue by region; APAC leads.")
        .unwrap();
    let out = env.run(&["sessions"]).ok().stdout.clone();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    for header in ["ID", "Task", "Status", "Summary", "Last active"] {
        assert!(lines[0].contains(header), "{out}");
    }
    assert!(lines[1].starts_with(&id), "{out}");
    assert!(lines[1].contains("what is revenue by region?"), "{out}");
    assert!(lines[1].contains("idle"), "{out}");
    assert!(
        lines[1].contains("User asked for revenue by region; APAC leads."),
        "{out}"
    );
    assert!(lines[1].ends_with("2 h ago"), "{out}");
}

#[test]
fn many_sessions_list_newest_first_with_limit_all_and_status() {
    let env = Env::new();
    let store = env.store();
    let ids: Vec<String> = (0..25)
        .map(|i| seed(&store, &format!("task number {i}"), "ok", 100 - i))
        .collect();
    store.set_status(&ids[3], Status::Completed).unwrap();
    let out = env.run(&["sessions"]).ok().stdout.clone();
    assert_eq!(out.lines().count(), 1 + 20 + 1, "{out}");
    assert!(out.lines().nth(1).unwrap().starts_with(&ids[24]), "newest first: {out}");
    assert!(
        out.ends_with("20 of 25 sessions shown; --all lists every one.\n"),
        "{out}"
    );
    assert_eq!(
        env.run(&["sessions", "--limit", "5"]).ok().stdout.lines().count(),
        1 + 5 + 1
    );
    assert_eq!(env.run(&["sessions", "--all"]).ok().stdout.lines().count(), 1 + 25);
    let done = env.run(&["sessions", "--status", "completed", "--json"]).ok().json();
    assert_eq!(done.as_array().unwrap().len(), 1);
    assert_eq!(done[0]["id"], ids[3].as_str());
    let bad = env.run(&["sessions", "--status", "asleep"]);
    assert_eq!(bad.code, 1);
    assert!(bad.stderr.contains("unknown status 'asleep'"), "{bad:#?}");
    let bad = env.run(&["sessions", "--limit", "lots"]);
    assert!(bad.stderr.contains("--limit takes a whole number"), "{bad:#?}");
}

#[test]
fn search_shows_the_matching_snippet_or_says_nothing_matched() {
    let env = Env::new();
    let store = env.store();
    let hit = seed(&store, "plot quarterly churn for the EU", "done", 10);
    seed(&store, "summarise revenue", "done", 5);
    let out = env.run(&["sessions", "--search", "churn"]).ok().stdout.clone();
    assert_eq!(out.lines().count(), 2, "{out}");
    assert!(out.lines().next().unwrap().contains("Match"), "{out}");
    assert!(out.contains(&hit) && out.contains("…[churn] for the EU"), "{out}");
    let json = env.run(&["sessions", "--search", "churn", "--json"]).ok().json();
    assert_eq!(json[0]["snippet"], "…[churn] for the EU");
    let miss = env.run(&["sessions", "--search", "kubernetes"]).ok().stdout.clone();
    assert_eq!(miss, "No sessions match \"kubernetes\".\n");
    let miss = env
        .run(&["sessions", "--search", "churn", "--status", "failed"])
        .ok()
        .stdout
        .clone();
    assert_eq!(miss, "No failed sessions match \"churn\".\n");
    let blank = env.run(&["sessions", "--search", "  "]);
    assert_eq!(blank.code, 1, "{blank:#?}");
    assert!(blank.stderr.contains("--search needs a word"), "{blank:#?}");
}

#[test]
fn the_hit_shows_in_the_match_column_at_every_width() {
    let env = Env::new();
    let store = env.store();
    let lead = "we looked at the quarterly numbers for every region and every product line, then ";
    for i in 0..3 {
        seed(
            &store,
            &format!("{} task number {i}", "a long task title ".repeat(5)),
            &format!(
                "{lead}{}and found the churn was rising in region {i}",
                "more words ".repeat(i * 7)
            ),
            i as i64 + 1,
        );
    }
    for columns in [64, 80, 120, 200] {
        let out = env
            .command_in(env.ws(), &["sessions", "--search", "churn"])
            .env("COLUMNS", columns.to_string())
            .output()
            .unwrap();
        let out = String::from_utf8(out.stdout).unwrap();
        let rows: Vec<&str> = out.lines().skip(1).collect();
        assert_eq!(rows.len(), 3, "{out}");
        for row in rows {
            assert!(row.chars().count() <= columns, "wider than {columns}: {row:?}");
            assert!(
                row.contains("[churn]"),
                "at {columns} columns the hit is cut off: {row:?}"
            );
        }
    }
}

#[test]
fn dates_are_shown_in_the_zone_tz_names_with_its_abbreviation() {
    let env = Env::new();
    let store = env.store();
    let s = store
        .create_session(&NewSession {
            created_at: Some(1_700_000_000_000),
            ..Default::default()
        })
        .unwrap();
    let fifo = env.home.path().join("zone-fifo");
    let path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid C string; mkfifo only reads it.
    assert_eq!(unsafe { libc::mkfifo(path.as_ptr(), 0o644) }, 0);
    let fifo = fifo.display().to_string();
    for (tz, shown) in [
        ("UTC", "2023-11-14 22:13 UTC"),
        ("Asia/Tokyo", "2023-11-15 07:13 JST"),
        ("Asia//Tokyo", "2023-11-15 07:13 JST"),
        (":Europe/Berlin", "2023-11-14 23:13 CET"),
        ("<+0330>-3:30", "2023-11-15 01:43 +0330"),
        // No zone file: read as UTC, never waited on or read to the end.
        (fifo.as_str(), "2023-11-14 22:13 UTC"),
        ("/dev/zero", "2023-11-14 22:13 UTC"),
        ("../../../etc/passwd", "2023-11-14 22:13 UTC"),
    ] {
        let mut child = env
            .command_in(env.ws(), &["session", &s.id])
            .env("TZ", tz)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while child.try_wait().unwrap().is_none() {
            if std::time::Instant::now() > deadline {
                child.kill().unwrap();
                panic!("TZ={tz}: anton hung");
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let out = child.wait_with_output().unwrap();
        let out = String::from_utf8(out.stdout).unwrap();
        assert!(out.contains(&format!("Created:     {shown}")), "TZ={tz}: {out}");
    }
}

#[test]
fn the_json_schema_is_stable() {
    let env = Env::new();
    let store = env.store();
    let id = seed(&store, "task", "reply", 1);
    let list = env.run(&["sessions", "--json"]).ok().json();
    let keys: Vec<&String> = list[0].as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "created_at",
            "id",
            "live_writer",
            "messages",
            "model",
            "provenance",
            "provider",
            "status",
            "summary",
            "task",
            "title",
            "turns",
            "updated_at",
            "workspace"
        ]
    );
    assert_eq!(list[0]["turns"], 1);
    assert_eq!(list[0]["messages"], 2);
    assert!(list[0]["updated_at"].as_str().unwrap().ends_with('Z'), "{}", list[0]);
    let one = env.run(&["session", &id, "--json"]).ok().json();
    assert_eq!(one["id"], id.as_str());
    let details: Vec<&String> = one["details"].as_object().unwrap().keys().collect();
    assert_eq!(
        details,
        ["memories_born", "memories_used", "scratchpad_cells", "shares"]
    );
}

#[test]
fn a_narrow_terminal_gets_a_table_that_fits() {
    let env = Env::new();
    let store = env.store();
    let id = seed(
        &store,
        &"a very long task description that goes on and on ".repeat(4),
        "ok",
        1,
    );
    store
        .set_summary(&id, &"a summary far longer than any narrow terminal ".repeat(4))
        .unwrap();
    let out = env
        .command_in(env.ws(), &["sessions"])
        .env("COLUMNS", "60")
        .output()
        .unwrap();
    let out = String::from_utf8(out.stdout).unwrap();
    for line in out.lines() {
        assert!(line.chars().count() <= 60, "{line:?} is wider than 60 columns");
    }
    assert!(out.contains(&id), "the id is never cut: {out}");
    assert!(out.contains('…'), "{out}");
}

#[test]
fn session_shows_details_by_full_id_or_unique_prefix() {
    let env = Env::new();
    let store = env.store();
    let id = seed(&store, "what is revenue by region?", "APAC leads.", 30);
    store.set_title(&id, "Revenue by region", false).unwrap();
    let out = env.run(&["session", &id[..18]]).ok().stdout.clone();
    for expected in [
        format!("Session:     {id}"),
        "Title:       Revenue by region".into(),
        "Task:        what is revenue by region?".into(),
        "Status:      idle".into(),
        "Turns:       1 (2 messages)".into(),
        "Memory:      0 session-born, 0 project memories used".into(),
        "Code:        0 scratchpad cells".into(),
        "Shared:      never".into(),
        "(30 min ago)".into(),
        " UTC".into(),
    ] {
        assert!(out.contains(&expected), "missing {expected:?} in:\n{out}");
    }
}

#[test]
fn session_reports_unknown_and_ambiguous_ids() {
    let env = Env::new();
    let store = env.store();
    let a = seed(&store, "first", "ok", 1);
    let b = seed(&store, "second", "ok", 1);
    let missing = env.run(&["session", "29991231"]);
    assert_eq!(missing.code, 1);
    assert_eq!(
        missing.stderr,
        "Session 29991231 not found. `anton sessions` lists them.\n"
    );
    let common_prefix: String = a
        .chars()
        .zip(b.chars())
        .take_while(|(x, y)| x == y)
        .map(|(x, _)| x)
        .collect();
    let ambiguous = env.run(&["session", &common_prefix]);
    assert_eq!(ambiguous.code, 1, "{ambiguous:#?}");
    assert!(ambiguous.stderr.contains("matches 2 sessions"), "{ambiguous:#?}");
    assert!(
        ambiguous.stderr.contains(&a) && ambiguous.stderr.contains(&b),
        "{ambiguous:#?}"
    );
    let none = env.run(&["session"]);
    assert_eq!(none.code, 1);
    assert!(none.stderr.contains("which session?"), "{none:#?}");
}

#[test]
fn with_the_plugin_disabled_both_commands_say_so() {
    let env = Env::new();
    env.run(&["plugins", "disable", "sessions"]).ok();
    for args in [&["sessions"][..], &["session", "x"]] {
        let run = env.run(args);
        assert_eq!(run.code, 1);
        assert!(
            run.stderr.contains("is disabled in this workspace (plugin 'sessions')"),
            "{run:#?}"
        );
        assert!(run.stderr.contains("anton plugins enable sessions"), "{run:#?}");
    }
}

#[test]
fn a_listing_into_a_closed_pipe_ends_quietly() {
    use std::io::BufRead;
    let env = Env::new();
    let store = env.store();
    for i in 0..400 {
        seed(
            &store,
            &format!("task number {i} with some words to make the listing long"),
            "reply",
            i,
        );
    }
    let mut child = env
        .command_in(env.ws(), &["sessions", "--all", "--json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert_eq!(first, "[\n");
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_ne!(out.status.code(), Some(101), "{stderr}");
}

#[test]
fn the_random_suffix_shown_in_an_id_finds_its_session() {
    let env = Env::new();
    let store = env.store();
    let id = seed(&store, "the only task", "reply", 1);
    let suffix = id.rsplit('_').next().unwrap().to_string();
    let run = env.run(&["session", &suffix]);
    assert!(run.ok().stdout.starts_with(&format!("Session:     {id}\n")), "{run:#?}");
}

#[test]
fn session_fork_makes_a_new_session_cut_at_a_turn_that_names_its_parent() {
    let env = Env::new();
    let store = env.store();
    let parent = seed(&store, "what is revenue by region?", "APAC leads.", 30);
    store
        .append_message(&parent, 2, "user", "and by month?", "{}", None)
        .unwrap();
    store
        .append_message(&parent, 2, "assistant", "March was best.", "{}", None)
        .unwrap();
    store.set_title(&parent, "Revenue by region", false).unwrap();

    let run = env.run(&["session", "fork", &parent[..18], "--at", "1", "--title", "Regions only"]);
    let said = run.ok().stdout.clone();
    let fork = said
        .lines()
        .find_map(|l| l.strip_prefix("Continue it with: anton -r "))
        .unwrap_or_else(|| panic!("no resume line in {said}"))
        .to_string();
    assert!(
        said.starts_with(&format!(
            "Forked {parent} into {fork} with its turns 1 to 1; {parent} stays as it was."
        )),
        "{said}"
    );
    let forked = store.get_session(&fork).unwrap().unwrap();
    assert_eq!(forked.provenance.forked_from.as_deref(), Some(parent.as_str()));
    assert_eq!(
        (forked.turns, forked.messages, forked.title.as_str()),
        (1, 2, "Regions only")
    );
    assert_eq!(
        store.get_session(&parent).unwrap().unwrap().turns,
        2,
        "the parent stays"
    );
    let shown = env.run(&["session", &fork]).ok().stdout.clone();
    assert!(shown.contains(&format!("Forked from: {parent}")), "{shown}");

    // Whole, as JSON, keeping the parent's title.
    let whole = env.run(&["session", "fork", &parent, "--json"]).ok().json();
    assert_eq!(whole["turns"], 2);
    assert_eq!(whole["title"], "Revenue by region");
    assert_eq!(whole["provenance"]["forked_from"], parent.as_str());

    for (args, fault) in [
        (
            vec!["session", "fork", &parent, "--at", "3"],
            "--at takes a turn from 1 to 2",
        ),
        (
            vec!["session", "fork", &parent, "--at", "zero"],
            "--at takes a turn from 1 to 2",
        ),
        (
            vec!["session", "fork", &parent, "--at", "1", "--at", "2"],
            "--at is given twice",
        ),
        (vec!["session", "fork"], "fork which session?"),
        (vec!["session", "fork", "29991231"], "Session 29991231 not found."),
    ] {
        let before = store.list_sessions(&Default::default()).unwrap().len();
        let refused = env.run(&args);
        assert_eq!(refused.code, 1, "{args:?}: {refused:#?}");
        assert!(refused.stderr.contains(fault), "{args:?}: {refused:#?}");
        assert_eq!(
            store.list_sessions(&Default::default()).unwrap().len(),
            before,
            "{args:?}"
        );
    }
}
