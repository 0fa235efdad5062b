//! The session store under crashes and concurrent writers, with real
//! processes: this test binary re-runs itself as the writer. Also what a
//! read-only workspace and a killed anton do to it.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use anton::store::{BuildLimits, NewMessage, NewSession, SessionQuery, Store};

const WRITER_DIR: &str = "ANTON_TEST_WRITER_DIR";
const WRITER_SESSION: &str = "ANTON_TEST_WRITER_SESSION";
const WRITER_COUNT: &str = "ANTON_TEST_WRITER_COUNT";

/// Not a test of its own: the tests below run this binary again with
/// `--ignored --exact writer_process`, and it appends messages, printing
/// `ack <id>` after each commit returns.
#[test]
#[ignore = "a child process of the crash and concurrency tests"]
fn writer_process() {
    let dir = std::env::var(WRITER_DIR).expect("run by the tests below, which set the writer's folder");
    let dir = std::path::Path::new(&dir);
    let session = std::env::var(WRITER_SESSION).unwrap();
    let count: u32 = std::env::var(WRITER_COUNT).unwrap().parse().unwrap();
    let store = Store::open(&dir.join(".anton"), dir).unwrap();
    for i in 0..count {
        match store.append_message(
            &session,
            i / 2 + 1,
            "user",
            &format!("message {i} from {}", std::process::id()),
            "{}",
            None,
        ) {
            Ok(id) => println!("ack {id}"),
            Err(e) => {
                println!("error {e}");
                std::process::exit(3);
            }
        }
    }
}

/// This binary again, running only the child test `test`, on `dir`.
fn child(test: &str, dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--ignored", "--exact", test, "--nocapture", "--test-threads=1"])
        .env(WRITER_DIR, dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

fn writer(dir: &std::path::Path, session: &str, count: u32) -> Command {
    let mut cmd = child("writer_process", dir);
    cmd.env(WRITER_SESSION, session).env(WRITER_COUNT, count.to_string());
    cmd
}

/// The harness may print "test writer_process ... " before the first ack.
fn acks(output: &str) -> Vec<i64> {
    output
        .lines()
        .filter_map(|l| l.split_once("ack "))
        .map(|(_, id)| id.trim().parse().unwrap())
        .collect()
}

/// Not a test of its own: the test below runs this binary again to import
/// a large session in parts, printing `landed <n>` after each batch, and
/// kills it before the end.
#[test]
#[ignore = "a child process of the crash and concurrency tests"]
fn builder_process() {
    let dir = std::env::var(WRITER_DIR).expect("run by the test below, which sets the builder's folder");
    let dir = std::path::Path::new(&dir);
    let store = Store::open(&dir.join(".anton"), dir).unwrap();
    let mut build = store.build_session(BuildLimits::default()).unwrap();
    for batch in 0..10_000u32 {
        let messages: Vec<NewMessage> = (0..16)
            .map(|i| NewMessage {
                turn: batch + 1,
                role: if i == 0 { "user" } else { "assistant" }.into(),
                content: format!("batch {batch} {}", "x".repeat(64 << 10)),
                meta: "{}".into(),
                created_at: i64::from(batch),
            })
            .collect();
        build.add_messages(&messages).unwrap();
        println!("landed {}", (batch + 1) * 16);
    }
}

#[test]
fn an_import_killed_midway_shows_nothing_and_the_next_anton_takes_its_parts_out() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join(".anton"), dir.path()).unwrap();
    let mut child = child("builder_process", dir.path()).spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    // 1,000 messages of 64 KiB: several parts landed.
    while !lines
        .next()
        .expect("the builder stopped before landing a part")
        .unwrap()
        .contains("landed 1008")
    {}
    child.kill().unwrap();
    child.wait().unwrap();
    let raw = rusqlite::Connection::open(dir.path().join(".anton/anton.db")).unwrap();
    let count = |table: &str| -> i64 {
        raw.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
            .unwrap()
    };
    assert!(
        count("messages") >= 700,
        "parts of the import landed: {}",
        count("messages")
    );
    let every = SessionQuery {
        include_empty: true,
        ..Default::default()
    };
    assert!(
        store.list_sessions(&every).unwrap().is_empty(),
        "and nothing shows them"
    );
    assert_eq!(store.count_sessions().unwrap(), 0);
    drop(store);
    let store = Store::open(&dir.path().join(".anton"), dir.path()).unwrap();
    for table in ["messages", "unlanded_sessions", "unindexed_sessions"] {
        assert_eq!(count(table), 0, "{table} holds what the dead import wrote");
    }
    let check: String = raw.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(check, "ok");
    store.create_session(&NewSession::default()).unwrap();
    assert_eq!(store.list_sessions(&every).unwrap().len(), 1);
}

#[test]
fn killing_a_writer_at_100_random_points_loses_no_acknowledged_message() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join(".anton"), dir.path()).unwrap();
    let session = store.create_session(&NewSession::default()).unwrap().id;
    drop(store);
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut acknowledged = Vec::new();
    for _ in 0..100 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let mut child = writer(dir.path(), &session, 1_000_000).spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        // Wait for the writer to be mid-stream, then a random while more.
        let mut lines = BufReader::new(stdout).lines();
        let mut seen = Vec::new();
        while seen.is_empty() {
            match lines.next() {
                Some(line) => seen.extend(acks(&line.unwrap())),
                None => panic!("the writer stopped before writing"),
            }
        }
        std::thread::sleep(Duration::from_micros(seed % 20_000));
        child.kill().unwrap();
        child.wait().unwrap();
        for line in lines {
            seen.extend(acks(&line.unwrap_or_default()));
        }
        acknowledged.extend(seen);
    }
    let conn = rusqlite::Connection::open(dir.path().join(".anton/anton.db")).unwrap();
    let check: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(check, "ok");
    let mut stmt = conn.prepare("SELECT count(*) FROM messages WHERE id = ?1").unwrap();
    let lost: Vec<i64> = acknowledged
        .iter()
        .copied()
        .filter(|id| stmt.query_row([id], |r| r.get::<_, i64>(0)).unwrap() != 1)
        .collect();
    assert!(
        acknowledged.len() > 100,
        "the writers wrote too little to prove anything"
    );
    assert!(lost.is_empty(), "{} acknowledged messages lost: {lost:?}", lost.len());
    // The store still opens and takes writes.
    let store = Store::open(&dir.path().join(".anton"), dir.path()).unwrap();
    store
        .append_message(&session, 1, "user", "after the crashes", "{}", None)
        .unwrap();
}

#[test]
fn two_processes_writing_1000_messages_each_lose_nothing_and_never_see_a_lock() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join(".anton"), dir.path()).unwrap();
    let session = store.create_session(&NewSession::default()).unwrap().id;
    let children: Vec<_> = (0..2)
        .map(|_| writer(dir.path(), &session, 1_000).spawn().unwrap())
        .collect();
    for child in children {
        let output = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "a writer failed: {stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(!stdout.contains("locked") && !stdout.contains("busy"), "{stdout}");
        assert_eq!(acks(&stdout).len(), 1_000);
    }
    let stored = store.get_session(&session).unwrap().unwrap();
    assert_eq!(stored.messages, 2_000);
    assert_eq!(store.messages(&session, 0).unwrap().len(), 2_000);
}

/// `anton args` with the workspace mounted read-only in a private mount
/// namespace (root ignores file modes, not a read-only mount). `None` where
/// this host allows no mount namespace.
fn run_in_read_only_workspace(env: &common::Env, args: &[&str]) -> Option<common::Run> {
    let mount = r#"mount --bind -o ro "$0" "$0" && touch "$0/.probe" 2>/dev/null && exit 9; exec "$@""#;
    let probe = Command::new("unshare")
        .args(["-m", "sh", "-c", mount])
        .arg(env.ws())
        .arg("true")
        .status();
    if !probe.is_ok_and(|s| s.success()) {
        return None;
    }
    let anton = env.command_in(env.ws(), args);
    let mut cmd = Command::new("unshare");
    cmd.args(["-m", "sh", "-c", mount])
        .arg(env.ws())
        .arg(common::ANTON)
        .args(args);
    cmd.current_dir(env.ws()).stdin(Stdio::null());
    for (key, value) in anton.get_envs() {
        match value {
            Some(value) => cmd.env(key, value),
            None => cmd.env_remove(key),
        };
    }
    Some(common::Run::from(cmd.output().unwrap()))
}

fn entries(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn sessions_lists_a_read_only_workspace() {
    let env = common::Env::new();
    let server = common::llm_server::LlmServer::start();
    let id = env.chat_once(&server, "revenue by region?", "APAC leads.");
    let Some(run) = run_in_read_only_workspace(&env, &["sessions"]) else {
        eprintln!("skipped: no mount namespace here; the next test covers a store that cannot be written");
        return;
    };
    assert!(run.ok().stdout.contains(&id), "{run:#?}");
}

#[test]
fn sessions_reads_the_store_without_writing_next_to_it() {
    let env = common::Env::new();
    let server = common::llm_server::LlmServer::start();
    let id = env.chat_once(&server, "revenue by region?", "APAC leads.");
    let anton_dir = env.ws().join(".anton");
    // SQLite cannot create the write-ahead log here, as in a read-only folder.
    std::fs::create_dir(anton_dir.join("anton.db-wal")).unwrap();
    let before = (
        entries(&anton_dir),
        std::fs::metadata(anton_dir.join("anton.db"))
            .unwrap()
            .modified()
            .unwrap(),
    );
    let run = env.run(&["sessions"]);
    assert!(run.ok().stdout.contains(&id), "{run:#?}");
    let after = (
        entries(&anton_dir),
        std::fs::metadata(anton_dir.join("anton.db"))
            .unwrap()
            .modified()
            .unwrap(),
    );
    assert_eq!(after, before, "a listing leaves the store as it was");
}

#[test]
fn a_locked_store_is_waited_for_as_long_as_the_setting_says_once() {
    let env = common::Env::new();
    let session = env.store().create_session(&NewSession::default()).unwrap().id;
    let holder = rusqlite::Connection::open(env.ws().join(".anton").join("anton.db")).unwrap();
    holder
        .execute_batch("PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE;")
        .unwrap();
    let started = std::time::Instant::now();
    let run = env.run_env(&[("ANTON_BUSY_TIMEOUT_MS", "1000".into())], &["session", &session], "");
    let waited = started.elapsed();
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(
        run.stderr.contains("stayed locked by another anton for 1 s"),
        "{run:#?}"
    );
    // Not SQLite's own 5 s, and not the store opened ahead waiting first and
    // then the command again.
    assert!(waited < Duration::from_secs(4), "waited {waited:?}");
    drop(holder);
}

#[test]
fn a_store_not_set_up_yet_lists_empty_and_one_too_old_is_refused_in_one_line() {
    let env = common::Env::new();
    let anton_dir = env.ws().join(".anton");
    std::fs::create_dir(&anton_dir).unwrap();
    let db = anton_dir.join("anton.db");
    // No tables yet: as another anton making the store leaves it for a moment.
    std::fs::write(&db, b"").unwrap();
    let run = env.run(&["sessions"]);
    assert!(run.ok().stdout.contains("No sessions found"), "{run:#?}");
    assert_eq!(std::fs::metadata(&db).unwrap().len(), 0, "nothing was migrated");

    // Schema 0 with tables: not a store this anton can read without a write.
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch("CREATE TABLE sessions (id TEXT)")
        .unwrap();
    let before = std::fs::read(&db).unwrap();
    let run = env.run(&["sessions"]);
    run.fails();
    assert!(
        run.stderr.contains("anton.db") && run.stderr.contains("write") && run.stderr.trim().lines().count() == 1,
        "{run:#?}"
    );
    assert_eq!(std::fs::read(&db).unwrap(), before, "nothing was migrated");
}

#[test]
fn killing_anton_mid_cell_kills_its_scratchpad() {
    use common::llm_server::{LlmServer, Reply};
    use std::io::Write;
    let env = common::Env::new();
    let server = LlmServer::start();
    let pid_file = env.ws().join("pad.pid");
    server.then(Reply::Tool {
        text: "Running it.".into(),
        id: "call_1".into(),
        name: "scratchpad".into(),
        input: serde_json::json!({
            "name": "main",
            "code": format!(
                "import os, subprocess, time\nchild = subprocess.Popen(['sleep', '600'])\n\
                 open({:?}, 'w').write(f'{{os.getpid()}} {{child.pid}}')\ntime.sleep(600)",
                pid_file.display().to_string()
            ),
        }),
    });
    let mut cmd = env.command_in(env.ws(), &[]);
    cmd.envs(server.openai_env())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut anton = cmd.spawn().unwrap();
    let mut stdin = anton.stdin.take().unwrap();
    stdin.write_all(b"load everything\n").unwrap();
    let (pad, started) = wait_for(|| {
        let text = std::fs::read_to_string(&pid_file).ok()?;
        let (pad, child) = text.split_once(' ')?;
        Some((pad.parse::<u32>().ok()?, child.parse::<u32>().ok()?))
    })
    .expect("the scratchpad never started its cell");
    // A dead process may linger as a zombie where nothing reaps orphans.
    let alive = |pid: u32| {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .is_ok_and(|stat| stat.rsplit_once(") ").is_some_and(|(_, rest)| !rest.starts_with('Z')))
    };
    let running = || alive(pad);
    assert!(running() && alive(started));
    anton.kill().unwrap();
    anton.wait().unwrap();
    drop(stdin);
    let gone = wait_for(|| (!running()).then_some(()));
    if gone.is_none() {
        Command::new("kill").args(["-9", &pad.to_string()]).status().unwrap();
        panic!("the scratchpad (pid {pad}) outlived anton");
    }
    // The next anton in the workspace clears what the killed one left: the
    // marker, and what the cell started (it holds the pad's environment).
    env.run(&[]).ok();
    let markers = env.ws().join(".anton/pads");
    assert_eq!(entries(&markers), Vec::<String>::new(), "left in {}", markers.display());
    let reaped = wait_for(|| (!alive(started)).then_some(()));
    if reaped.is_none() {
        Command::new("kill")
            .args(["-9", &started.to_string()])
            .status()
            .unwrap();
        panic!("the cell's own process (pid {started}) outlived anton and the next start");
    }
}

/// Poll `probe` for up to 20 s (a hang guard, not a timing assertion).
fn wait_for<T>(mut probe: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while std::time::Instant::now() < deadline {
        if let Some(found) = probe() {
            return Some(found);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

/// What SQLite says the store's journal mode is, asked by a reader.
fn journal_mode(env: &common::Env) -> String {
    let db = env.ws().join(".anton").join("anton.db");
    let reader = rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    reader.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap()
}

#[test]
fn after_the_last_writer_a_listing_reads_the_database_file_alone() {
    let env = common::Env::new();
    let server = common::llm_server::LlmServer::start();
    let id = env.chat_once(&server, "revenue by region?", "APAC leads.");
    assert_eq!(journal_mode(&env), "delete");
    let anton_dir = env.ws().join(".anton");
    assert_eq!(entries(&anton_dir), ["anton.db"]);

    let run = env.run(&["sessions"]);
    assert!(run.ok().stdout.contains(&id), "{run:#?}");
    assert_eq!(entries(&anton_dir), ["anton.db"], "no -wal or -shm made for a listing");

    // The next writer turns the write-ahead log back on while it works.
    let writer = env.store();
    assert_eq!(journal_mode(&env), "wal");
    assert!(writer.get_session(&id).unwrap().is_some());
    drop(writer);
    assert_eq!(journal_mode(&env), "delete");
}

#[test]
fn a_writer_leaving_while_another_has_the_store_open_keeps_the_log_for_it() {
    let env = common::Env::new();
    let server = common::llm_server::LlmServer::start();
    let first = env.chat_once(&server, "revenue by region?", "APAC leads.");
    let staying = env.store();
    let second = env.chat_once(&server, "and by quarter?", "Q3 leads.");
    assert_eq!(
        journal_mode(&env),
        "wal",
        "the chat that ended left the log to the store still open"
    );
    for id in [&first, &second] {
        assert!(
            staying.get_session(id).unwrap().is_some(),
            "{id} is read by the one that stayed"
        );
    }
    let run = env.run(&["sessions"]);
    let listed = run.ok().stdout.clone();
    assert!(listed.contains(&first) && listed.contains(&second), "{run:#?}");
    drop(staying);
    assert_eq!(journal_mode(&env), "delete");
}

#[test]
fn a_command_that_wrote_leaves_the_store_as_a_chat_does() {
    let env = common::Env::new();
    let fixture = common::repo_root().join("tests/fixtures/anton-v0.1/revenue-by-region.anton");
    let run = env.run(&["share", "import", fixture.to_str().unwrap()]);
    let stdout = &run.ok().stdout;
    let id = stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("Session: "))
        .unwrap_or_else(|| panic!("no session line in {run:#?}"))
        .trim()
        .to_string();
    assert_eq!(journal_mode(&env), "delete");
    assert_eq!(
        entries(&env.ws().join(".anton")),
        ["anton.db"],
        "all of it checkpointed into the file"
    );
    assert!(env.store().get_session(&id).unwrap().is_some());
}

#[test]
fn writers_starting_together_on_a_new_store_or_one_left_to_readers_all_get_in() {
    let env = common::Env::new();
    let fixture = common::repo_root().join("tests/fixtures/anton-v0.1/revenue-by-region.anton");
    let fixture = fixture.to_str().unwrap();
    // The first round makes the store, the next ones find it left to readers.
    for round in 0..3 {
        let writers: Vec<_> = (0..4)
            .map(|_| {
                env.command_in(env.ws(), &["share", "import", "--again", fixture])
                    .env("ANTON_BUSY_TIMEOUT_MS", "5000")
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for writer in writers {
            let ran = writer.wait_with_output().unwrap();
            assert!(
                ran.status.success(),
                "round {round}: {}",
                String::from_utf8_lossy(&ran.stderr)
            );
        }
    }
    // Writers leaving together may each find the other still there; the
    // next one to leave alone hands the store to readers.
    env.run(&["share", "import", "--again", fixture]).ok();
    assert_eq!(journal_mode(&env), "delete");
    let listed = env.run(&["sessions", "--json"]).json();
    assert_eq!(
        listed.as_array().map(Vec::len),
        Some(13),
        "every import is there: {listed}"
    );
}

#[test]
fn a_listing_never_shows_what_a_writer_that_stopped_had_not_committed() {
    let env = common::Env::new();
    let fixture = common::repo_root().join("tests/fixtures/anton-v0.1/revenue-by-region.anton");
    env.run(&["share", "import", fixture.to_str().unwrap()]).ok();
    assert_eq!(journal_mode(&env), "delete");
    let db = env.ws().join(".anton").join("anton.db");

    // Another program's transaction, its pages spilled into the file, copied
    // as a crash would leave it: the database and its hot journal.
    let crashed = common::Env::new();
    let crashed_dir = crashed.ws().join(".anton");
    std::fs::create_dir(&crashed_dir).unwrap();
    {
        let writer = rusqlite::Connection::open(&db).unwrap();
        writer
            .execute_batch(
                "PRAGMA cache_size = 1; BEGIN; UPDATE sessions SET title = 'NEVER-COMMITTED';
                 CREATE TABLE filler (x BLOB);",
            )
            .unwrap();
        for _ in 0..500 {
            writer
                .execute("INSERT INTO filler VALUES (randomblob(5000))", [])
                .unwrap();
        }
        assert!(db.with_file_name("anton.db-journal").exists());
        for name in ["anton.db", "anton.db-journal"] {
            std::fs::copy(db.with_file_name(name), crashed_dir.join(name)).unwrap();
        }
    }

    let run = crashed.run(&["sessions", "--json"]);
    let listed = run.ok().json();
    let title = listed[0]["title"].as_str().unwrap_or_default();
    assert!(!title.is_empty() && title != "NEVER-COMMITTED", "{listed}");
}
