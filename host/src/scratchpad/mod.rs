//! Named Python pads: each a long-lived `python3` process, so variables
//! persist between the cells of a session.
//!
//! A pad holds the data sources' secrets in its environment, so it never
//! outlives anton: the kernel kills it when anton dies (even by `kill -9`),
//! and each pad leaves a marker in `.anton/pads/` so the next anton in the
//! workspace kills any that slipped through.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::time::Duration;

use rustix::process::{Pid, Signal};
use serde_json::{Value, json};

mod markers;
use markers::{reap_leftovers, remove_marker};
use tokio::sync::mpsc::{self, UnboundedReceiver};

/// Runs each request line in one namespace and answers with one JSON line.
const DRIVER: &str = r#"
import sys
# The workspace is the current folder, and a cloned repository could shadow
# json or io there: nothing is imported from it unless a cell asks by path.
sys.path[:] = [p for p in sys.path if p not in ("", ".")]
import json, io, traceback, contextlib
namespace = {"__name__": "__main__"}
import os
for line in sys.stdin:
    request = json.loads(line)
    code = request["code"]
    # Data sources as they are now: one connected or removed since the pad
    # started is seen by its next cell.
    for name in [k for k in os.environ if k.startswith("DS_") and k not in request["env"]]:
        del os.environ[name]
    os.environ.update(request["env"])
    out, err, error = io.StringIO(), io.StringIO(), None
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            try:
                compiled = compile(code, "<cell>", "eval")
            except SyntaxError:
                exec(compile(code, "<cell>", "exec"), namespace)
            else:
                value = eval(compiled, namespace)
                if value is not None:
                    print(repr(value))
        except BaseException:
            error = traceback.format_exc()
    sys.__stdout__.write(json.dumps({"stdout": out.getvalue(), "stderr": err.getvalue(), "error": error}) + "\n")
    sys.__stdout__.flush()
"#;

/// At most this much of each stream is kept.
const OUTPUT_LIMIT: usize = 20_000;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CellOutput {
    pub stdout: String,
    pub stderr: String,
    pub error: Option<String>,
}

struct Pad {
    child: Child,
    stdin: ChildStdin,
    replies: UnboundedReceiver<String>,
    /// `.anton/pads/<pid>`, while the pad runs.
    marker: Option<PathBuf>,
    stopped: bool,
}

impl Pad {
    /// Kill the pad, and what its cells started (it leads its own process
    /// group), reap it and drop its marker. Once only: after the reap its pid
    /// may name another process.
    fn stop(&mut self) -> Option<ExitStatus> {
        if self.stopped {
            return None;
        }
        self.stopped = true;
        let group = Pid::from_raw(self.child.id() as i32);
        if group.is_none_or(|group| rustix::process::kill_process_group(group, Signal::KILL).is_err()) {
            let _ = self.child.kill();
        }
        let status = self.child.wait().ok();
        if let Some(marker) = self.marker.take() {
            remove_marker(&marker);
        }
        status
    }
}

impl Drop for Pad {
    fn drop(&mut self) {
        self.stop();
    }
}

pub struct Pads {
    pads: HashMap<String, Pad>,
    env: Vec<(String, String)>,
    workdir: PathBuf,
    timeout: Duration,
    markers: PathBuf,
}

impl Pads {
    /// `env` is all the pads see besides PATH, HOME and LANG (data-source
    /// variables). Pads a dead anton left running in `workdir` are killed.
    pub fn new(workdir: PathBuf, env: Vec<(String, String)>) -> Pads {
        let timeout = std::env::var("ANTON_SCRATCHPAD_TIMEOUT")
            .ok()
            .and_then(|v| v.parse().ok())
            .map(Duration::from_secs_f64)
            .unwrap_or(Duration::from_secs(120));
        let markers = workdir.join(crate::workspace::ANTON_DIR).join("pads");
        reap_leftovers(&markers);
        Pads {
            pads: HashMap::new(),
            env,
            workdir,
            timeout,
            markers,
        }
    }

    fn start(&self) -> Result<Pad, String> {
        let token = markers::new_token();
        let mut command = Command::new("python3");
        command
            .args(["-u", "-c", DRIVER])
            .current_dir(&self.workdir)
            .env_clear()
            .envs(
                ["PATH", "HOME", "LANG"]
                    .iter()
                    .filter_map(|k| Some((*k, std::env::var(k).ok()?))),
            )
            .env("PYTHONIOENCODING", "utf-8")
            .env(markers::PAD_VARIABLE, &token)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            // A Ctrl-C at the terminal is anton's to handle (it interrupts
            // the running cell), never a surprise death of the pad.
            .process_group(0);
        let anton = std::process::id();
        // SAFETY: between fork and exec the closure makes two system calls
        // and allocates nothing, as a child of a threaded process must.
        unsafe {
            command.pre_exec(move || {
                // Sent when the thread that forked dies: pads start on the
                // chat's thread, which lives as long as anton.
                rustix::process::set_parent_process_death_signal(Some(Signal::KILL))?;
                // anton died before the signal was set: nothing would send it.
                if std::os::unix::process::parent_id() != anton {
                    return Err(rustix::io::Errno::SRCH.into());
                }
                Ok(())
            });
        }
        let mut child = command
            .spawn()
            .map_err(|e| format!("cannot start python3 for the scratchpad: {e}"))?;
        let stdin = child.stdin.take().expect("piped");
        let stdout = child.stdout.take().expect("piped");
        let (sender, replies) = mpsc::unbounded_channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        let marker = markers::record(&self.markers, child.id(), &token);
        Ok(Pad {
            child,
            stdin,
            replies,
            marker,
            stopped: false,
        })
    }

    /// The data-source variables every pad sees from its next cell on
    /// (see [`Pads::new`]).
    pub fn set_env(&mut self, env: Vec<(String, String)>) {
        self.env = env;
    }

    /// Run `code` in pad `name`, starting the pad when needed.
    /// `runtime` waits for the cell's reply, its timeout and a Ctrl-C at once.
    pub fn run(&mut self, runtime: &tokio::runtime::Runtime, name: &str, code: &str) -> CellOutput {
        if !self.pads.contains_key(name) {
            match self.start() {
                Ok(pad) => {
                    self.pads.insert(name.to_string(), pad);
                }
                Err(error) => {
                    return CellOutput {
                        error: Some(error),
                        ..Default::default()
                    };
                }
            }
        }
        let pad = self.pads.get_mut(name).expect("started above");
        let env: serde_json::Map<String, serde_json::Value> =
            self.env.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
        let request = json!({ "code": code, "env": env }).to_string() + "\n";
        let sent = pad.stdin.write_all(request.as_bytes()).and_then(|_| pad.stdin.flush());
        let outcome = match sent {
            Err(_) => Err(None),
            Ok(()) => match runtime.block_on(reply(pad, self.timeout, crate::terminal::stdin_is_terminal())) {
                Reply::Line(line) => Ok(line),
                Reply::TimedOut => Err(Some(format!(
                    "the cell ran past {} s and was stopped; pad '{name}' starts fresh next time (its variables are gone)",
                    self.timeout.as_secs_f64()
                ))),
                Reply::Gone => Err(None),
            },
        };
        match outcome {
            Ok(line) => {
                let reply: Value = serde_json::from_str(&line).unwrap_or_default();
                let text = |key: &str| limit(reply[key].as_str().unwrap_or_default());
                CellOutput {
                    stdout: text("stdout"),
                    stderr: text("stderr"),
                    error: reply["error"].as_str().map(limit),
                }
            }
            Err(reason) => {
                let status = self.pads.remove(name).expect("present").stop().and_then(|s| s.code());
                let error = reason.unwrap_or_else(|| {
                    format!(
                        "pad '{name}' crashed (python exited{}); it starts fresh next time (its variables are gone)",
                        status.map(|c| format!(" with {c}")).unwrap_or_default()
                    )
                });
                CellOutput {
                    error: Some(error),
                    ..Default::default()
                }
            }
        }
    }
}

enum Reply {
    Line(String),
    TimedOut,
    Gone,
}

/// The pad's answer to the cell just sent. With anton at a terminal, a
/// Ctrl-C is passed on to the pad as Python's KeyboardInterrupt.
async fn reply(pad: &mut Pad, timeout: Duration, interactive: bool) -> Reply {
    let deadline = tokio::time::sleep(timeout);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            line = pad.replies.recv() => return line.map_or(Reply::Gone, Reply::Line),
            () = &mut deadline => return Reply::TimedOut,
            Ok(()) = tokio::signal::ctrl_c(), if interactive => {
                if let Some(group) = Pid::from_raw(pad.child.id() as i32) {
                    let _ = rustix::process::kill_process_group(group, Signal::INT);
                }
            }
        }
    }
}

fn limit(text: &str) -> String {
    if text.len() <= OUTPUT_LIMIT {
        return text.to_string();
    }
    let mut end = OUTPUT_LIMIT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!(
        "{}\n… ({} more cut)",
        &text[..end],
        crate::terminal::count((text.len() - end) as u64, "byte")
    )
}

#[cfg(test)]
mod tests {
    use super::markers::{Marker, runs_driver, started_at, stat_fields};
    use super::*;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn a_module_in_the_workspace_cannot_shadow_what_the_pad_imports() {
        let rt = runtime();
        let dir = tempfile::tempdir().unwrap();
        let planted = dir.path().join("planted");
        std::fs::write(
            dir.path().join("json.py"),
            format!(
                "open({:?}, 'w').write('ran')\nraise SystemExit(3)\n",
                planted.display().to_string()
            ),
        )
        .unwrap();
        let mut pads = Pads::new(dir.path().to_path_buf(), vec![]);
        assert_eq!(
            pads.run(&rt, "main", "import json; print(json.dumps([1]))").stdout,
            "[1]\n"
        );
        assert!(!planted.exists(), "the workspace's json.py never ran");
    }

    #[test]
    fn variables_persist_between_cells_and_errors_are_captured() {
        let rt = runtime();
        let dir = tempfile::tempdir().unwrap();
        let mut pads = Pads::new(dir.path().to_path_buf(), vec![("DS_X_Y__HOST".into(), "h".into())]);
        assert_eq!(pads.run(&rt, "main", "x = 20 + 1").stdout, "");
        assert_eq!(pads.run(&rt, "main", "x * 2").stdout, "42\n");
        assert_eq!(
            pads.run(&rt, "main", "import os; print(os.environ['DS_X_Y__HOST'])")
                .stdout,
            "h\n"
        );
        let failed = pads.run(&rt, "main", "1/0");
        assert!(failed.error.unwrap().contains("ZeroDivisionError"));
        assert_eq!(
            pads.run(&rt, "other", "'x' in dir()").stdout,
            "False\n",
            "pads are separate"
        );
    }

    #[test]
    fn a_pad_that_crashes_or_hangs_is_replaced() {
        let rt = runtime();
        let dir = tempfile::tempdir().unwrap();
        let mut pads = Pads::new(dir.path().to_path_buf(), vec![]);
        pads.timeout = Duration::from_millis(500);
        pads.run(&rt, "p", "y = 1");
        let crash = pads.run(&rt, "p", "import os; os._exit(7)");
        assert!(crash.error.unwrap().contains("crashed (python exited with 7)"));
        assert!(
            pads.run(&rt, "p", "y").error.unwrap().contains("NameError"),
            "a fresh pad"
        );
        let hang = pads.run(&rt, "p", "while True: pass");
        assert!(hang.error.unwrap().contains("ran past 0.5 s"));
        assert_eq!(pads.run(&rt, "p", "1 + 1").stdout, "2\n");
    }

    fn pid_of_pad(pads: &mut Pads, name: &str) -> u32 {
        pads.run(&runtime(), name, "__import__('os').getpid()")
            .stdout
            .trim()
            .parse()
            .unwrap()
    }

    #[test]
    fn a_pad_leads_its_own_process_group_and_leaves_a_marker_while_it_runs() {
        let dir = tempfile::tempdir().unwrap();
        let mut pads = Pads::new(dir.path().to_path_buf(), vec![]);
        let pid = pid_of_pad(&mut pads, "main");
        assert_eq!(stat_fields(pid).unwrap()[2], pid.to_string(), "its own process group");
        let marker = dir.path().join(".anton/pads").join(pid.to_string());
        let recorded = Marker::read(&marker).expect("a marker");
        assert_eq!((recorded.pad, recorded.anton), (pid, std::process::id()));
        assert!(recorded.pad_runs() && recorded.anton_runs());
        drop(pads);
        assert!(!marker.exists(), "the marker goes with the pad");
        assert_ne!(started_at(pid), Some(recorded.pad_started), "the pad is gone");
    }

    /// A pad driver nobody will stop, as a dead anton would leave it.
    fn orphan_driver() -> Child {
        Command::new("python3")
            .args(["-u", "-c", DRIVER])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap()
    }

    #[test]
    fn the_next_start_kills_pads_of_a_dead_anton_and_keeps_a_live_antons() {
        let dir = tempfile::tempdir().unwrap();
        let markers = dir.path().join(".anton/pads");
        std::fs::create_dir_all(&markers).unwrap();
        let mut gone = Command::new("true").spawn().unwrap();
        gone.wait().unwrap();
        let dead_anton = format!("{} 1", gone.id());
        let live_anton = format!("{} {}", std::process::id(), started_at(std::process::id()).unwrap());
        let mark = |child: &Child, owner: &str| {
            let pid = child.id();
            let line = format!("{pid} {} {owner} 0123abcd\n", started_at(pid).unwrap());
            std::fs::write(markers.join(pid.to_string()), line).unwrap();
        };
        let mut orphan = orphan_driver();
        let mut kept = orphan_driver();
        let mut stranger = Command::new("sleep").arg("30").spawn().unwrap();
        // Wait until both drivers run python, as a real pad does.
        for child in [&orphan, &kept] {
            let guard = std::time::Instant::now() + Duration::from_secs(20);
            while !runs_driver(child.id()) {
                assert!(std::time::Instant::now() < guard, "python3 never started");
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        mark(&orphan, &dead_anton);
        mark(&kept, &live_anton);
        mark(&stranger, &dead_anton);
        std::fs::write(markers.join("notes.txt"), "not a marker").unwrap();

        drop(Pads::new(dir.path().to_path_buf(), vec![]));

        use std::os::unix::process::ExitStatusExt;
        assert_eq!(
            orphan.wait().unwrap().signal(),
            Some(9),
            "the dead anton's pad is killed"
        );
        assert!(kept.try_wait().unwrap().is_none(), "a live anton's pad runs on");
        assert!(stranger.try_wait().unwrap().is_none(), "only pad drivers are killed");
        let mut left: Vec<String> = std::fs::read_dir(&markers)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(left, vec![kept.id().to_string(), "notes.txt".to_string()]);
        for mut child in [kept, stranger] {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }
}
