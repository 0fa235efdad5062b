//! The session store under crashes and concurrent writers, with real
//! processes: this test binary re-runs itself as the writer.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use anton::store::{NewSession, Store};

const WRITER_DIR: &str = "ANTON_TEST_WRITER_DIR";
const WRITER_SESSION: &str = "ANTON_TEST_WRITER_SESSION";
const WRITER_COUNT: &str = "ANTON_TEST_WRITER_COUNT";

/// Runs only as a child of the tests below: appends messages and prints
/// `ack <id>` after each commit returns.
#[test]
fn writer_process() {
    let Ok(dir) = std::env::var(WRITER_DIR) else {
        return;
    };
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

fn writer(dir: &std::path::Path, session: &str, count: u32) -> Command {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", "writer_process", "--nocapture", "--test-threads=1"])
        .env(WRITER_DIR, dir)
        .env(WRITER_SESSION, session)
        .env(WRITER_COUNT, count.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
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
