//! Named Python pads: each a long-lived `python3` process, so variables
//! persist between the cells of a session.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::Duration;

use serde_json::{Value, json};

/// Runs each request line in one namespace and answers with one JSON line.
const DRIVER: &str = r#"
import sys, json, io, traceback, contextlib
namespace = {"__name__": "__main__"}
for line in sys.stdin:
    code = json.loads(line)["code"]
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
    replies: Receiver<String>,
}

pub struct Pads {
    pads: HashMap<String, Pad>,
    env: Vec<(String, String)>,
    workdir: PathBuf,
    timeout: Duration,
}

impl Pads {
    /// `env` is all the pads see besides PATH, HOME and LANG (data-source variables).
    pub fn new(workdir: PathBuf, env: Vec<(String, String)>) -> Pads {
        let timeout = std::env::var("ANTON_SCRATCHPAD_TIMEOUT")
            .ok()
            .and_then(|v| v.parse().ok())
            .map(Duration::from_secs_f64)
            .unwrap_or(Duration::from_secs(120));
        Pads {
            pads: HashMap::new(),
            env,
            workdir,
            timeout,
        }
    }

    fn start(&self) -> Result<Pad, String> {
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
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut child = command
            .spawn()
            .map_err(|e| format!("cannot start python3 for the scratchpad: {e}"))?;
        let stdin = child.stdin.take().expect("piped");
        let stdout = child.stdout.take().expect("piped");
        let (sender, replies) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        Ok(Pad { child, stdin, replies })
    }

    /// Run `code` in pad `name`, starting the pad when needed.
    pub fn run(&mut self, name: &str, code: &str) -> CellOutput {
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
        let request = json!({ "code": code }).to_string() + "\n";
        let sent = pad.stdin.write_all(request.as_bytes()).and_then(|_| pad.stdin.flush());
        let outcome = match sent {
            Err(_) => Err(None),
            Ok(()) => match pad.replies.recv_timeout(self.timeout) {
                Ok(line) => Ok(line),
                Err(RecvTimeoutError::Timeout) => Err(Some(format!(
                    "the cell ran past {} s and was stopped; pad '{name}' starts fresh next time (its variables are gone)",
                    self.timeout.as_secs_f64()
                ))),
                Err(RecvTimeoutError::Disconnected) => Err(None),
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
                let mut pad = self.pads.remove(name).expect("present");
                let _ = pad.child.kill();
                let status = pad.child.wait().ok().and_then(|s| s.code());
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

impl Drop for Pads {
    fn drop(&mut self) {
        for pad in self.pads.values_mut() {
            let _ = pad.child.kill();
            let _ = pad.child.wait();
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
    format!("{}\n… ({} more bytes cut)", &text[..end], text.len() - end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_persist_between_cells_and_errors_are_captured() {
        let dir = tempfile::tempdir().unwrap();
        let mut pads = Pads::new(dir.path().to_path_buf(), vec![("DS_X_Y__HOST".into(), "h".into())]);
        assert_eq!(pads.run("main", "x = 20 + 1").stdout, "");
        assert_eq!(pads.run("main", "x * 2").stdout, "42\n");
        assert_eq!(
            pads.run("main", "import os; print(os.environ['DS_X_Y__HOST'])").stdout,
            "h\n"
        );
        let failed = pads.run("main", "1/0");
        assert!(failed.error.unwrap().contains("ZeroDivisionError"));
        assert_eq!(pads.run("other", "'x' in dir()").stdout, "False\n", "pads are separate");
    }

    #[test]
    fn a_pad_that_crashes_or_hangs_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let mut pads = Pads::new(dir.path().to_path_buf(), vec![]);
        pads.timeout = Duration::from_millis(500);
        pads.run("p", "y = 1");
        let crash = pads.run("p", "import os; os._exit(7)");
        assert!(crash.error.unwrap().contains("crashed (python exited with 7)"));
        assert!(pads.run("p", "y").error.unwrap().contains("NameError"), "a fresh pad");
        let hang = pads.run("p", "while True: pass");
        assert!(hang.error.unwrap().contains("ran past 0.5 s"));
        assert_eq!(pads.run("p", "1 + 1").stdout, "2\n");
    }
}
