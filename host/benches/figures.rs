//! The figures the issues ask for, measured on this machine:
//! `cargo bench --bench figures [sessions|chat|plugins|store|share|redact|reference|remote]`.
//! Each line: what, median, spread.
//!
//! Process timings run the release `anton` binary against an isolated home.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anton::interfaces::latest::command::{Invocation, Origin};
use anton::plugin_host::PluginHost;
use anton::plugin_host::catalog::{Catalog, Resolution};
use anton::services::Services;
use anton::store::{NewSession, SessionQuery, Store};

const ANTON: &str = env!("CARGO_BIN_EXE_anton");

fn main() {
    if std::env::var_os(SPAWNER_MODE).is_some() {
        return spawner();
    }
    start_spawner();
    let only: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let want = |name: &str| only.as_deref().is_none_or(|o| name.contains(o));
    let scratch = tempfile::tempdir().unwrap();
    if want("plugins") {
        plugins_list_cold_and_warm(scratch.path());
        host_to_plugin_call(scratch.path());
    }
    if want("store") {
        store_figures(scratch.path());
    }
    if want("sessions") {
        sessions_command(scratch.path());
    }
    if want("chat") {
        first_chat(scratch.path());
        sse_to_screen();
        long_session_memory(scratch.path());
    }
    if want("share") {
        share_figures(scratch.path());
        share_at_scale(scratch.path());
    }
    if want("reference") {
        reference_figures(scratch.path());
    }
    if want("redact") {
        redaction_figures();
    }
    if want("remote") {
        remote_figures(scratch.path());
    }
}

fn report(what: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let median = samples[samples.len() / 2];
    let (lo, hi) = (samples[0], samples[samples.len() - 1]);
    println!(
        "{what:<58} median {:>10}  (min {}, max {}, n={})",
        show(median),
        show(lo),
        show(hi),
        samples.len()
    );
}

fn show(d: Duration) -> String {
    let ns = d.as_nanos();
    match ns {
        n if n < 10_000 => format!("{:.2} µs", n as f64 / 1e3),
        n if n < 10_000_000 => format!("{:.3} ms", n as f64 / 1e6),
        n => format!("{:.1} ms", n as f64 / 1e6),
    }
}

fn anton(home: &Path, workspace: &Path, cache: &Path, args: &[&str]) -> Duration {
    measured(home, workspace, cache, args).0
}

fn plugins_list_cold_and_warm(scratch: &Path) {
    let home = scratch.join("home-plugins");
    let ws = scratch.join("ws-plugins");
    std::fs::create_dir_all(&ws).unwrap();
    let cold: Vec<Duration> = (0..5)
        .map(|i| {
            anton(
                &home,
                &ws,
                &scratch.join(format!("cold-cache-{i}")),
                &["plugins", "list"],
            )
        })
        .collect();
    report("anton plugins list, 4 built-ins, cold cache (process)", cold);
    let cache = scratch.join("warm-cache");
    anton(&home, &ws, &cache, &["plugins", "list"]);
    let warm: Vec<Duration> = (0..30)
        .map(|_| anton(&home, &ws, &cache, &["plugins", "list"]))
        .collect();
    report("anton plugins list, 4 built-ins, warm cache (process)", warm);
}

fn paths(scratch: &Path, name: &str) -> anton::workspace::Paths {
    let ws = scratch.join(name);
    std::fs::create_dir_all(&ws).unwrap();
    anton::workspace::Paths {
        anton_dir: ws.join(".anton"),
        workspace: ws,
        user_config: scratch.join("cfg"),
        user_data: scratch.join("data"),
        user_cache: Some(scratch.join("call-cache")),
        home: scratch.join("home"),
    }
}

fn host_to_plugin_call(scratch: &Path) {
    let paths = paths(scratch, "ws-call");
    let config = anton::config::Config::load(&paths).unwrap();
    let trust = anton::plugin_host::trust::TrustStore::load(&paths.user_data).unwrap();
    let catalog = Catalog::discover(&paths, &config, &trust);
    let mut host = PluginHost::new(catalog, Services::new(paths));
    let Resolution::Runnable(index) = host.catalog.resolve("resume") else {
        panic!("resume runs")
    };
    host.describe(index).unwrap();
    // `session` with an unknown option fails inside the plugin before any
    // host call: a pure round trip with a small argument and result.
    let Resolution::Runnable(sessions) = host.catalog.resolve("session") else {
        panic!("session runs")
    };
    let invocation = Invocation {
        command: "session".into(),
        args: vec!["--bogus".into()],
        origin: Origin::Cli,
    };
    let _ = host.run(sessions, &invocation);
    let rounds = 20_000;
    let samples: Vec<Duration> = (0..15)
        .map(|_| {
            let started = Instant::now();
            for _ in 0..rounds {
                let _ = host.run(sessions, &invocation);
            }
            started.elapsed() / rounds
        })
        .collect();
    report("host→plugin call: run() returning an error, per call", samples);
    let samples: Vec<Duration> = (0..15)
        .map(|_| {
            let started = Instant::now();
            for _ in 0..rounds {
                host.describe(index).unwrap();
            }
            started.elapsed() / rounds
        })
        .collect();
    report("host→plugin call: describe() of resume, per call", samples);
}

fn seeded_store(dir: &Path, sessions: usize, messages_each: usize) -> Store {
    let store = Store::open(&dir.join(".anton"), dir).unwrap();
    let start = 1_700_000_000_000i64;
    store
        .transaction(|s| {
            for i in 0..sessions {
                let session = s.create_session(&NewSession {
                    created_at: Some(start + i as i64 * 1000),
                    ..Default::default()
                })?;
                for m in 0..messages_each {
                    let role = if m % 2 == 0 { "user" } else { "assistant" };
                    let text = format!(
                        "message {m} of session {i}: revenue by region {} churn {}",
                        i % 97,
                        m % 13
                    );
                    s.append_message(
                        &session.id,
                        (m / 2 + 1) as u32,
                        role,
                        &text,
                        "{}",
                        Some(start + i as i64 * 1000 + m as i64),
                    )?;
                }
            }
            Ok(())
        })
        .unwrap();
    store
}

fn store_figures(scratch: &Path) {
    let dir = scratch.join("store-append");
    std::fs::create_dir_all(&dir).unwrap();
    let store = Store::open(&dir.join(".anton"), &dir).unwrap();
    let session = store.create_session(&NewSession::default()).unwrap();
    let started = Instant::now();
    for m in 0..100_000u32 {
        store
            .append_message(
                &session.id,
                m / 2 + 1,
                "user",
                "an ordinary message of a few words",
                "{}",
                None,
            )
            .unwrap();
    }
    let took = started.elapsed();
    println!(
        "{:<58} total  {:>10}  ({} per message, each its own transaction)",
        "append 100,000 messages",
        show(took),
        show(took / 100_000)
    );

    for count in [10_000usize, 100_000] {
        let dir = scratch.join(format!("store-{count}"));
        std::fs::create_dir_all(&dir).unwrap();
        let store = seeded_store(&dir, count, 1);
        let query = SessionQuery {
            limit: 20,
            include_empty: true,
            ..Default::default()
        };
        let samples = (0..200)
            .map(|_| {
                let started = Instant::now();
                assert_eq!(store.list_sessions(&query).unwrap().len(), 20);
                started.elapsed()
            })
            .collect();
        report(&format!("list newest 20 of {count} sessions (in process)"), samples);
    }

    let dir = scratch.join("store-fts");
    std::fs::create_dir_all(&dir).unwrap();
    let store = seeded_store(&dir, 1_000, 100);
    for (label, text) in [
        ("rare word, 10 sessions match", "region 42"),
        ("common word, every session", "churn"),
    ] {
        let query = SessionQuery {
            limit: 20,
            search: Some(text.into()),
            include_empty: true,
            ..Default::default()
        };
        let samples = (0..30)
            .map(|_| {
                let started = Instant::now();
                store.list_sessions(&query).unwrap();
                started.elapsed()
            })
            .collect();
        report(&format!("full-text search of 100,000 messages: {label}"), samples);
    }
}

/// Everyday commands at 10,000 sessions (60,000 messages) and 100,000
/// (600,000): one word in a single message, one in every 97th session, one
/// in every message.
fn sessions_command(scratch: &Path) {
    let home: PathBuf = scratch.join("home-sessions");
    let cache = scratch.join("sessions-cache");
    // Process starts on this machine vary by a factor of two from hour to hour.
    report_with_peak(
        "a process that does nothing (`true`), for scale",
        (0..30).map(|_| measured_program(Path::new("true"), &home, scratch, &cache, &[])),
    );
    for count in [10_000usize, 100_000] {
        let ws = scratch.join(format!("ws-sessions-{count}"));
        std::fs::create_dir_all(&ws).unwrap();
        let store = seeded_store(&ws, count, 6);
        let middle = store
            .list_sessions(&SessionQuery {
                limit: count as u32 / 2,
                include_empty: true,
                ..Default::default()
            })
            .unwrap()
            .pop()
            .unwrap()
            .0;
        store
            .append_message(&middle.id, 4, "user", "and the zebra?", "{}", Some(middle.updated_at))
            .unwrap();
        drop(store);
        let run = |args: &[&str]| measured(&home, &ws, &cache, args);
        // The first run may compile the plugin into the cache.
        run(&["sessions"]);
        settle();
        report_with_peak(
            &format!("anton sessions, {count} sessions"),
            (0..30).map(|_| run(&["sessions"])),
        );
        for (what, word) in [
            ("in one message", "zebra"),
            ("in every 97th session", "region 42"),
            ("in every message", "churn"),
        ] {
            report_with_peak(
                &format!("anton sessions --search, word {what}, {count}"),
                (0..15).map(|_| run(&["sessions", "--search", word])),
            );
        }
        report_with_peak(
            &format!("anton session <id>, {count} sessions"),
            (0..30).map(|_| run(&["session", &middle.id])),
        );
    }
    // Last: each first run writes a compiled plugin, whose writeback would
    // run beside the timings above.
    let ws = scratch.join("ws-sessions-10000");
    report_with_peak(
        "anton sessions, 10000 sessions, first run after install",
        (0..5).map(|i| measured(&home, &ws, &scratch.join(format!("cold-sessions-{i}")), &["sessions"])),
    );
}

/// A workspace the reference Anton used for `logs` sessions: each log ten
/// episode lines of one turn, each with its private `_history.json`.
fn reference_workspace(ws: &Path, logs: usize) {
    use std::os::unix::fs::PermissionsExt;
    let episodes = ws.join(".anton/episodes");
    std::fs::create_dir_all(&episodes).unwrap();
    for n in 0..logs {
        let id = format!("20260{:03}_{:06}", n / 1000 + 101, n % 1000);
        let line = |role: &str, content: &str, meta: &str| {
            format!(
                "{{\"ts\":\"2026-11-23T23:20:51.5+00:00\",\"session\":\"{id}\",\"turn\":1,\"role\":\"{role}\",\"content\":{content:?},\"meta\":{meta}}}\n"
            )
        };
        let mut log = line("user", &format!("question {n} about revenue by region"), "{}");
        for _ in 0..4 {
            log += &line(
                "tool_call",
                "{'name': 'main', 'code': 'print(1)'}",
                r#"{"tool":"scratchpad"}"#,
            );
            log += &line("tool_result", "[output]\n1", r#"{"tool":"scratchpad"}"#);
        }
        log += &line("assistant", "APAC leads revenue this quarter.", "{}");
        std::fs::write(episodes.join(format!("{id}.jsonl")), log).unwrap();
        let history = episodes.join(format!("{id}_history.json"));
        std::fs::write(
            &history,
            r#"[{"role":"user","content":"q"},{"role":"assistant","content":"a"}]"#,
        )
        .unwrap();
        std::fs::set_permissions(&history, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
}

fn reference_figures(scratch: &Path) {
    let home = scratch.join("home-reference");
    let cache = scratch.join("reference-cache");
    let workspaces: Vec<PathBuf> = (0..5)
        .map(|i| {
            let ws = scratch.join(format!("ws-reference-{i}"));
            reference_workspace(&ws, 1_000);
            ws
        })
        .collect();
    // The first run may compile the plugin into the cache.
    let warm = scratch.join("ws-reference-warm");
    std::fs::create_dir_all(&warm).unwrap();
    measured(&home, &warm, &cache, &["sessions"]);
    settle();
    report_with_peak(
        "anton sessions, 1,000 reference logs, first run (adopts them)",
        workspaces.iter().map(|ws| measured(&home, ws, &cache, &["sessions"])),
    );
    let ws = &workspaces[0];
    report_with_peak(
        "anton sessions, 1,000 adopted reference logs, nothing new",
        (0..30).map(|_| measured(&home, ws, &cache, &["sessions"])),
    );
    let (present, away) = (ws.join(".anton/episodes"), ws.join(".anton/episodes-away"));
    std::fs::rename(&present, &away).unwrap();
    report_with_peak(
        "anton sessions, the same store without the logs folder",
        (0..30).map(|_| measured(&home, ws, &cache, &["sessions"])),
    );
    std::fs::rename(&away, &present).unwrap();
}

/// Let the kernel write out what seeding left dirty, so that writeback does
/// not run beside the timings.
fn settle() {
    // SAFETY: sync takes no arguments and cannot fail.
    unsafe { libc::sync() };
    std::thread::sleep(Duration::from_secs(2));
}

/// Time and peak resident memory of one `anton` run, started by the
/// spawner: Linux counts into a child's peak the memory of the process that
/// started it, and this one holds large seeded stores.
fn measured(home: &Path, workspace: &Path, cache: &Path, args: &[&str]) -> (Duration, u64) {
    measured_program(Path::new(ANTON), home, workspace, cache, args)
}

fn measured_program(program: &Path, home: &Path, workspace: &Path, cache: &Path, args: &[&str]) -> (Duration, u64) {
    use std::io::{BufRead as _, Write as _};
    let mut spawner = SPAWNER.get().expect("started first thing").lock().unwrap();
    let mut request = vec![program, workspace, home, cache]
        .into_iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>();
    // The settings of this process a run takes on: the log level, and the
    // cloud credential chain for the remote figures.
    let passed: std::collections::BTreeMap<String, String> = std::env::vars()
        .filter(|(k, _)| k == "ANTON_LOG" || k.starts_with("AWS_"))
        .collect();
    request.push(serde_json::to_string(&passed).unwrap());
    request.extend(args.iter().map(|a| a.to_string()));
    writeln!(spawner.0, "{}", serde_json::to_string(&request).unwrap()).unwrap();
    let mut answer = String::new();
    spawner.1.read_line(&mut answer).unwrap();
    let (nanos, peak) = answer.trim().split_once(' ').unwrap_or_else(|| {
        let said = std::fs::read_to_string(cache.join(LAST_STDERR)).unwrap_or_default();
        panic!("anton {args:?} failed:\n{said}")
    });
    (Duration::from_nanos(nanos.parse().unwrap()), peak.parse().unwrap())
}

type Spawner = (std::process::ChildStdin, std::io::BufReader<std::process::ChildStdout>);
/// In the cache folder of a run: what it wrote on stderr.
const LAST_STDERR: &str = "last-stderr.txt";
static SPAWNER: std::sync::OnceLock<std::sync::Mutex<Spawner>> = std::sync::OnceLock::new();
const SPAWNER_MODE: &str = "ANTON_FIGURES_SPAWNER";

/// A small copy of this program that runs what is measured; it ends when
/// this one does and closes its input.
#[expect(clippy::zombie_processes, reason = "the spawner outlives every measurement")]
fn start_spawner() {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .env(SPAWNER_MODE, "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let pipes = (
        child.stdin.take().unwrap(),
        std::io::BufReader::new(child.stdout.take().unwrap()),
    );
    assert!(SPAWNER.set(std::sync::Mutex::new(pipes)).is_ok());
}

/// Each request line: the program, workspace, home, cache, the settings passed
/// on, then the arguments; each answer: nanoseconds and peak bytes, or `failed`.
#[expect(clippy::zombie_processes, reason = "wait4 reaps the child, for its rusage")]
fn spawner() {
    for line in std::io::stdin().lines() {
        let request: Vec<String> = serde_json::from_str(&line.unwrap()).unwrap();
        let (program, workspace, home, cache) = (
            &request[0],
            Path::new(&request[1]),
            Path::new(&request[2]),
            Path::new(&request[3]),
        );
        let started = Instant::now();
        // What the run said on stderr is kept for the bench to read (ANTON_LOG=debug lines).
        std::fs::create_dir_all(cache).unwrap();
        let stderr = std::fs::File::create(cache.join(LAST_STDERR)).unwrap();
        let mut command = Command::new(program);
        let passed: std::collections::BTreeMap<String, String> = serde_json::from_str(&request[4]).unwrap();
        command.envs(passed);
        let child = command
            .env("HOME", home)
            .env("XDG_CONFIG_HOME", home.join("config"))
            .env("XDG_DATA_HOME", home.join("data"))
            .env("XDG_CACHE_HOME", cache)
            .args(&request[5..])
            .current_dir(workspace)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap();
        let mut status = 0;
        // SAFETY: a zeroed rusage is valid, and wait4 only writes into it.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: the pid is this process's own child, not yet reaped.
        let reaped = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
        let took = started.elapsed();
        if reaped > 0 && libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 {
            // Linux reports ru_maxrss in KiB.
            println!("{} {}", took.as_nanos(), usage.ru_maxrss as u64 * 1024);
        } else {
            println!("failed");
        }
    }
}

fn report_with_peak(what: &str, runs: impl Iterator<Item = (Duration, u64)>) {
    let (samples, peaks): (Vec<Duration>, Vec<u64>) = runs.unzip();
    let peak = peaks.into_iter().max().unwrap_or(0);
    let mut samples = samples;
    samples.sort();
    let median = samples[samples.len() / 2];
    println!(
        "{what:<58} median {:>10}  (min {}, max {}, n={}), peak {:.1} MiB",
        show(median),
        show(samples[0]),
        show(samples[samples.len() - 1]),
        samples.len(),
        peak as f64 / (1024.0 * 1024.0)
    );
}

/// From starting `anton` in a terminal to its prompt: right after install
/// (no compiled plugins cached) and on later runs.
fn first_chat(scratch: &Path) {
    let to_prompt = |home: &Path, cache: &Path| -> Duration {
        let ws = home.join("project");
        std::fs::create_dir_all(&ws).unwrap();
        use portable_pty::{CommandBuilder, PtySize, native_pty_system};
        use std::io::{Read as _, Write as _};
        let pty = native_pty_system()
            .openpty(PtySize {
                rows: 40,
                cols: 120,
                pixel_width: 0,
                pixel_height: 0,
            })
            .unwrap();
        let mut cmd = CommandBuilder::new(ANTON);
        cmd.cwd(&ws);
        cmd.env_clear();
        cmd.env("PATH", std::env::var("PATH").unwrap_or_default());
        cmd.env("TERM", "xterm");
        cmd.env("HOME", home);
        cmd.env("XDG_CONFIG_HOME", home.join("config"));
        cmd.env("XDG_DATA_HOME", home.join("data"));
        cmd.env("XDG_CACHE_HOME", cache);
        cmd.env("ANTON_PLANNING_PROVIDER", "openai");
        cmd.env("ANTON_OPENAI_API_KEY", "sk-bench-not-a-key");
        cmd.env("ANTON_OPENAI_BASE_URL", "http://127.0.0.1:9/v1");
        let started = Instant::now();
        let mut child = pty.slave.spawn_command(cmd).unwrap();
        drop(pty.slave);
        let mut reader = pty.master.try_clone_reader().unwrap();
        let mut screen = Vec::new();
        let mut buffer = [0u8; 4096];
        while !String::from_utf8_lossy(&screen).contains("you> ") {
            let n = reader.read(&mut buffer).unwrap();
            assert!(
                n > 0,
                "anton ended before its prompt: {}",
                String::from_utf8_lossy(&screen)
            );
            screen.extend_from_slice(&buffer[..n]);
        }
        let took = started.elapsed();
        pty.master.take_writer().unwrap().write_all(b"\x04").unwrap();
        std::thread::spawn(move || while reader.read(&mut buffer).is_ok_and(|n| n > 0) {});
        child.wait().unwrap();
        took
    };
    let cold = (0..5)
        .map(|i| {
            let home = scratch.join(format!("home-first-chat-{i}"));
            to_prompt(&home, &home.join("cache"))
        })
        .collect();
    report("first chat after install, to the prompt (pty)", cold);
    let home = scratch.join("home-first-chat-0");
    let warm = (0..10).map(|_| to_prompt(&home, &home.join("cache"))).collect();
    report("later chats, to the prompt (pty)", warm);
}

/// From the server writing the last SSE event to the chat's text callback
/// receiving its text, over loopback: parser + decoder + hand-off.
fn sse_to_screen() {
    use std::io::Write as _;
    use std::net::TcpListener;
    use std::sync::{Arc, Mutex};

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    let sent: Arc<Mutex<Option<Instant>>> = Arc::default();
    let stamp = sent.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut stream = stream;
            let mut reader = std::io::BufReader::new(stream.try_clone().unwrap());
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                std::io::BufRead::read_line(&mut reader, &mut line).unwrap();
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap();
                }
                if line.trim().is_empty() {
                    break;
                }
            }
            let mut body = vec![0; length];
            std::io::Read::read_exact(&mut reader, &mut body).unwrap();
            write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
            )
            .unwrap();
            for i in 0..200 {
                write!(
                    stream,
                    "data: {{\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"word{i} \"}}}}]}}\n\n"
                )
                .unwrap();
            }
            stream.flush().unwrap();
            std::thread::sleep(Duration::from_millis(5));
            *stamp.lock().unwrap() = Some(Instant::now());
            write!(
                stream,
                "data: {{\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"END\"}}}}]}}\n\ndata: [DONE]\n\n"
            )
            .unwrap();
            stream.flush().unwrap();
        }
    });
    let model = anton::settings::ModelConfig {
        provider: anton::settings::Provider::OpenAiCompatible,
        model: "bench".into(),
        api_key: None,
        base_url: url,
    };
    let client = anton::llm::Client::new();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let messages = [anton::llm::Message::User("hi".into())];
    let request = anton::llm::Request {
        system: "",
        messages: &messages,
        tools: &[],
        max_tokens: 10,
    };
    let samples = (0..50)
        .map(|_| {
            let mut seen = None;
            let mut sink = std::io::sink();
            runtime
                .block_on(client.stream(&model, &request, &mut |text| {
                    let _ = sink.write_all(text.as_bytes());
                    if text == "END" {
                        seen = Some(Instant::now());
                    }
                }))
                .unwrap();
            seen.unwrap() - sent.lock().unwrap().take().unwrap()
        })
        .collect();
    report("last SSE byte written → text handed to the screen (loopback)", samples);
}

/// Peak memory of the chat holding a resumed 1,000-turn session.
fn long_session_memory(scratch: &Path) {
    use std::io::BufRead as _;
    let home = scratch.join("home-memory");
    let ws = scratch.join("ws-memory");
    std::fs::create_dir_all(&ws).unwrap();
    let store = Store::open(&ws.join(".anton"), &ws).unwrap();
    let text = "a question or an answer of ordinary length, some four hundred characters. ".repeat(5);
    let id = store
        .transaction(|w| {
            let s = w.create_session(&NewSession::default())?;
            for turn in 1..=1000u32 {
                w.append_message(&s.id, turn, "user", &text, "{}", None)?;
                w.append_message(&s.id, turn, "assistant", &text, "{}", None)?;
            }
            Ok(s.id)
        })
        .unwrap();
    let mut child = Command::new(ANTON)
        .args(["-r", &id])
        .current_dir(&ws)
        .env("HOME", &home)
        .env("XDG_CACHE_HOME", scratch.join("memory-cache"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    while let Some(Ok(line)) = lines.next() {
        if line.starts_with("Resumed session") {
            break;
        }
    }
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or("")
            .split_whitespace()
            .nth(1)
            .unwrap_or("0")
            .parse::<u64>()
            .unwrap()
    };
    drop(child.stdin.take());
    child.wait().unwrap();
    println!(
        "{:<58} peak   {:>7.1} MiB  (resident now {:.1} MiB; 2,000 messages of {} bytes)",
        "chat with a resumed 1,000-turn session",
        field("VmHWM:") as f64 / 1024.0,
        field("VmRSS:") as f64 / 1024.0,
        text.len()
    );
}

fn share_figures(scratch: &Path) {
    let home = scratch.join("home-share");
    let cache = scratch.join("share-cache");
    let ws = scratch.join("ws-share");
    std::fs::create_dir_all(&ws).unwrap();
    let store = Store::open(&ws.join(".anton"), &ws).unwrap();
    let id = store
        .transaction(|w| {
            let s = w.create_session(&NewSession {
                title: "big session".into(),
                ..Default::default()
            })?;
            for i in 0..10_000u32 {
                let role = if i % 2 == 0 { "user" } else { "assistant" };
                w.append_message(
                    &s.id,
                    i / 2 + 1,
                    role,
                    &format!("message {i}: revenue by region, churn and pricing"),
                    "{}",
                    None,
                )?;
            }
            w.set_summary(&s.id, "a long session")?;
            Ok(s.id)
        })
        .unwrap();
    anton(&home, &ws, &cache, &["share", "export", "--session", &id]);
    let samples = (0..10)
        .map(|_| anton(&home, &ws, &cache, &["share", "export", "--session", &id]))
        .collect();
    report("share export of a 10,000-message session (process)", samples);
    let file = std::fs::read_dir(ws.join(".anton/output"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "anton"))
        .unwrap();
    let samples = (0..10)
        .map(|i| {
            let target = scratch.join(format!("ws-import-{i}"));
            std::fs::create_dir_all(&target).unwrap();
            anton(&home, &target, &cache, &["share", "import", file.to_str().unwrap()])
        })
        .collect();
    report("share import of a 10,000-message session (process)", samples);
}

/// A 100,000-message session (about 200 MB of text): export to format 1 and
/// to 0.1, import of its 0.1 file, and import of the format 1 file; each
/// with the host's peak memory and the share plugin's linear memory, which
/// `ANTON_LOG=debug` reports (the spawner passes the bench's environment on).
/// A session of `messages` messages of 2,000 bytes of ordinary words each
/// (about 200 MB at 100,000), in `ws`'s store; its id.
fn long_session(ws: &Path, messages: u32) -> String {
    let store = Store::open(&ws.join(".anton"), ws).unwrap();
    let words = [
        "revenue", "region", "churn", "pricing", "the", "customer", "cohort", "and", "of", "march", "query", "table",
        "total", "by", "month", "EMEA", "APAC", "grew", "fell", "because",
    ];
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    store
        .transaction(|w| {
            let s = w.create_session(&NewSession {
                title: "a very long session".into(),
                ..Default::default()
            })?;
            for i in 0..messages {
                let mut text = format!("message {i}: ");
                while text.len() < 2_000 {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    text.push_str(words[(seed % words.len() as u64) as usize]);
                    text.push(if seed.is_multiple_of(11) { '\n' } else { ' ' });
                }
                let role = if i % 2 == 0 { "user" } else { "assistant" };
                w.append_message(&s.id, i / 2 + 1, role, &text, "{}", None)?;
            }
            w.set_summary(&s.id, "a long session")?;
            Ok(s.id)
        })
        .unwrap()
}

fn share_at_scale(scratch: &Path) {
    const MESSAGES: u32 = 100_000;
    // SAFETY: the bench sets this before any thread of its own reads the environment.
    unsafe { std::env::set_var("ANTON_LOG", "debug") };
    let home = scratch.join("home-scale");
    let cache = scratch.join("scale-cache");
    let ws = scratch.join("ws-scale");
    std::fs::create_dir_all(&ws).unwrap();
    std::fs::create_dir_all(&cache).unwrap();
    let id = long_session(&ws, MESSAGES);
    settle();
    let plugin_peak = |cache: &Path| -> String {
        let said = std::fs::read_to_string(cache.join(LAST_STDERR)).unwrap_or_default();
        said.lines()
            .filter(|l| l.starts_with("[share debug]"))
            .filter_map(|l| l.split("peaked at ").nth(1))
            .filter_map(|l| l.split(' ').next()?.parse::<f64>().ok())
            .fold(None, |max: Option<f64>, v| Some(max.map_or(v, |m| m.max(v))))
            .map_or("?".into(), |v| format!("{v:.1} MiB"))
    };
    let output = ws.join(".anton/output");
    let newest = |extension: &str| -> PathBuf {
        std::fs::read_dir(&output)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == extension))
            .max_by_key(|p| std::fs::metadata(p).unwrap().modified().unwrap())
            .unwrap()
    };
    let mut files = Vec::new();
    for (what, args) in [
        ("format 1", vec!["share", "export", "--session", &id]),
        ("0.1", vec!["share", "export", "--session", &id, "--format", "v0.1"]),
    ] {
        let runs: Vec<(Duration, u64)> = (0..3).map(|_| measured(&home, &ws, &cache, &args)).collect();
        let file = newest("anton");
        report_with_peak(
            &format!("export of a 100,000-message session to {what} (process)"),
            runs.into_iter(),
        );
        println!(
            "  {}: {:.1} MB, share plugin peak {}",
            file.display(),
            std::fs::metadata(&file).unwrap().len() as f64 / 1e6,
            plugin_peak(&cache)
        );
        files.push((what, file));
    }
    for (what, file) in files.iter().rev() {
        let runs = (0..3).map(|i| {
            let target = scratch.join(format!("ws-scale-import-{}-{i}", what.replace(' ', "-")));
            std::fs::create_dir_all(&target).unwrap();
            measured(&home, &target, &cache, &["share", "import", file.to_str().unwrap()])
        });
        report_with_peak(
            &format!("import of its {what} file (process)"),
            runs.collect::<Vec<_>>().into_iter(),
        );
        println!("  share plugin peak {}", plugin_peak(&cache));
    }
    // SAFETY: as above.
    unsafe { std::env::remove_var("ANTON_LOG") };
}

/// 1 MB of ordinary prose and code, none of it secret: this repository's
/// sources and docs (its tests and the scrubber's own rules left out, as
/// they hold planted secrets), then the Python standard library's
/// top-level modules in name order, where the machine has them.
fn ordinary_text() -> (String, Vec<String>) {
    const WANTED: usize = 1 << 20;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let listed = Command::new("git")
        .arg("-C")
        .arg(root)
        .arg("ls-files")
        .output()
        .unwrap();
    let mut files: Vec<PathBuf> = String::from_utf8_lossy(&listed.stdout)
        .lines()
        .filter(|f| !f.starts_with("tests/") && !f.contains("scrub/") && !f.contains("fixtures"))
        .filter(|f| [".rs", ".md", ".wit", ".toml", ".sh"].iter().any(|e| f.ends_with(e)))
        .map(|f| root.join(f))
        .collect();
    let mut sources = vec!["this repository".to_string()];
    if let Some(python) = std::fs::read_dir("/usr/lib")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("python3."))
        })
        .max()
    {
        let mut modules: Vec<PathBuf> = std::fs::read_dir(&python)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "py"))
            .collect();
        modules.sort();
        files.extend(modules);
        sources.push(python.display().to_string());
    }
    let mut text = String::new();
    for file in files {
        if text.len() >= WANTED {
            break;
        }
        text.push_str(&String::from_utf8_lossy(&std::fs::read(file).unwrap_or_default()));
        text.push('\n');
    }
    text.truncate(text.floor_char_boundary(WANTED));
    (text, sources)
}

fn redaction_figures() {
    use anton::scrub::{Known, Report, Scrubber};
    let (text, sources) = ordinary_text();
    // A vault's worth of known values, none of which occurs in the text.
    let known = (0..20)
        .filter_map(|i| Known::env_secret(&format!("known-secret-value-{i:04}-xq")))
        .collect();
    let scrubber = Scrubber::new(known, Vec::new());
    let mut kinds = Report::new();
    let scrubbed = scrubber.scrub_counting(&text, &mut kinds);
    let hundreds = text.len() as f64 / 102_400.0;
    let found: usize = kinds.values().sum();
    println!(
        "redaction over {:.2} MB of ordinary text ({}): {found} false positives, {:.2} per 100 KB {kinds:?}",
        text.len() as f64 / 1e6,
        sources.join(" + "),
        found as f64 / hundreds
    );
    for (line_no, (before, after)) in text.lines().zip(scrubbed.lines()).enumerate() {
        if before != after {
            println!(
                "  line {line_no}: {}",
                after.trim().chars().take(110).collect::<String>()
            );
        }
    }
    let chunk = &text[..text.floor_char_boundary(102_400)];
    let samples: Vec<Duration> = (0..30)
        .map(|_| {
            let started = Instant::now();
            std::hint::black_box(scrubber.scrub(std::hint::black_box(chunk)));
            started.elapsed()
        })
        .collect();
    report("scrub 100 KB of ordinary text, 20 known values + every rule", samples);
}

/// Team sharing: push and pull of the 100,000-message session, plain and
/// encrypted, to a folder remote and to S3 (`s3s-fs` on loopback, when
/// `target/tools` or PATH has it); `share list --remote` over 10,000 shares.
fn remote_figures(scratch: &Path) {
    let (home, cache) = (scratch.join("home-remote"), scratch.join("remote-cache"));
    let ws = scratch.join("ws-remote");
    std::fs::create_dir_all(&ws).unwrap();
    let id = long_session(&ws, 100_000);
    let config = home.join("config/anton/config.toml");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    std::fs::write(&config, "").unwrap();
    let said = |args: &[&str]| -> Vec<u8> {
        let run = Command::new(ANTON)
            .args(args)
            .env("HOME", &home)
            .env("XDG_CONFIG_HOME", home.join("config"))
            .env("XDG_DATA_HOME", home.join("data"))
            .env("XDG_CACHE_HOME", &cache)
            .output()
            .unwrap();
        run.stdout
    };
    let key = String::from_utf8(said(&["share", "key"]))
        .unwrap()
        .lines()
        .last()
        .unwrap()
        .trim()
        .to_string();
    let team = scratch.join("team");
    std::fs::create_dir_all(&team).unwrap();
    let s3_root = scratch.join("s3");
    std::fs::create_dir_all(s3_root.join("team")).unwrap();
    let server = s3s_fs_binary().map(|binary| {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(binary)
            .args([
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--access-key",
                "AK",
                "--secret-key",
                "SK",
            ])
            .arg(&s3_root)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            std::thread::sleep(Duration::from_millis(50));
        }
        (child, port)
    });
    let mut remotes = vec![("a folder", format!("file://{}", team.display()), team.clone())];
    if let Some((_, port)) = &server {
        // SAFETY: set before the runs that read them; no thread of this bench reads the environment now.
        unsafe {
            std::env::set_var("AWS_ENDPOINT", format!("http://127.0.0.1:{port}"));
            std::env::set_var("AWS_ALLOW_HTTP", "true");
            std::env::set_var("AWS_ACCESS_KEY_ID", "AK");
            std::env::set_var("AWS_SECRET_ACCESS_KEY", "SK");
            std::env::set_var("AWS_REGION", "us-east-1");
        }
        remotes.push((
            "S3 (s3s-fs, loopback)",
            "s3://team/anton".into(),
            s3_root.join("team/anton"),
        ));
    } else {
        println!("S3 figures skipped: no s3s-fs (cargo install s3s-fs --features binary --root target/tools)");
    }
    for (what, remote, _) in &remotes {
        std::fs::write(&config, format!("[share]\nremote = \"{remote}\"\n")).unwrap();
        for (how, extra) in [("plain", vec![]), ("encrypted", vec!["--to", key.as_str()])] {
            let mut args = vec!["share", "push", "--session", &id];
            args.extend(extra);
            let runs: Vec<(Duration, u64)> = (0..3).map(|_| measured(&home, &ws, &cache, &args)).collect();
            report_with_peak(
                &format!("push of the 100,000-message session, {how}, to {what}"),
                runs.into_iter(),
            );
            let listed: serde_json::Value =
                serde_json::from_slice(&said(&["share", "list", "--remote", "--json"])).unwrap();
            let newest = listed["shares"][0]["name"].as_str().unwrap().to_string();
            println!(
                "  {newest}: {:.1} MB",
                listed["shares"][0]["size"].as_u64().unwrap() as f64 / 1e6
            );
            let runs = (0..3).map(|i| {
                let target = scratch.join(format!(
                    "ws-pull-{}-{how}-{i}",
                    remotes.iter().position(|r| r.1 == *remote).unwrap()
                ));
                std::fs::create_dir_all(&target).unwrap();
                measured(&home, &target, &cache, &["share", "pull", &newest])
            });
            report_with_peak(
                &format!("pull (and import) of it, {how}, from {what}"),
                runs.collect::<Vec<_>>().into_iter(),
            );
        }
    }
    for (what, remote, folder) in &remotes {
        std::fs::write(&config, format!("[share]\nremote = \"{remote}\"\n")).unwrap();
        std::fs::create_dir_all(folder).unwrap();
        let existing = std::fs::read_dir(folder).unwrap().count();
        for n in existing..10_000 {
            std::fs::write(folder.join(format!("sam__share-{n}_20261203_120000.anton")), b"x").unwrap();
        }
        let runs: Vec<(Duration, u64)> = (0..5)
            .map(|_| measured(&home, &ws, &cache, &["share", "list", "--remote"]))
            .collect();
        report_with_peak(
            &format!("share list --remote over 10,000 shares on {what}"),
            runs.into_iter(),
        );
    }
    if let Some((mut child, _)) = server {
        child.kill().ok();
        child.wait().ok();
    }
}

/// `s3s-fs`, where the tests and `.ci/run` install it.
fn s3s_fs_binary() -> Option<PathBuf> {
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/tools/bin/s3s-fs");
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("s3s-fs"))
            .find(|p| p.is_file())
    });
    on_path.or_else(|| target.is_file().then_some(target))
}
