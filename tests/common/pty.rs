//! The real `anton` in a pseudo-terminal: what a person at a terminal sees
//! and types.

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portable_pty::{CommandBuilder, PtySize, native_pty_system};

use super::{ANTON, Env};

pub struct Terminal {
    pub screen: Arc<Mutex<String>>,
    pub writer: Box<dyn Write + Send>,
    pub child: Box<dyn portable_pty::Child + Send + Sync>,
}

impl Terminal {
    /// The chat in the workspace, with its own HOME and `vars`.
    pub fn open(env: &Env, vars: &[(&str, String)]) -> Terminal {
        Terminal::launch(env, &[], vars)
    }

    /// `anton` with `args` in the workspace, its own HOME and `vars`.
    pub fn launch(env: &Env, args: &[&str], vars: &[(&str, String)]) -> Terminal {
        let pty = native_pty_system()
            .openpty(PtySize {
                rows: 40,
                cols: 120,
                pixel_width: 0,
                pixel_height: 0,
            })
            .unwrap();
        let mut cmd = CommandBuilder::new(ANTON);
        cmd.args(args);
        cmd.cwd(env.ws());
        cmd.env_clear();
        cmd.env("PATH", std::env::var("PATH").unwrap_or_default());
        cmd.env("HOME", env.home.path());
        cmd.env("XDG_CONFIG_HOME", env.home.path().join("config"));
        cmd.env("XDG_DATA_HOME", env.home.path().join("data"));
        cmd.env("XDG_CACHE_HOME", &env.cache);
        cmd.env("TERM", "xterm");
        cmd.env("NO_COLOR", "1");
        for (k, v) in vars {
            cmd.env(k, v);
        }
        let child = pty.slave.spawn_command(cmd).unwrap();
        drop(pty.slave);
        let mut reader = pty.master.try_clone_reader().unwrap();
        let writer = pty.master.take_writer().unwrap();
        let screen = Arc::new(Mutex::new(String::new()));
        let sink = screen.clone();
        std::thread::spawn(move || {
            let _keep_master_open = pty.master;
            let mut buffer = [0u8; 4096];
            while let Ok(n) = reader.read(&mut buffer) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().push_str(&String::from_utf8_lossy(&buffer[..n]));
            }
        });
        Terminal { screen, writer, child }
    }

    /// Wait until `text` appears after position `from`; the position after it.
    pub fn wait_for(&self, text: &str, from: usize) -> usize {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            {
                let screen = self.screen.lock().unwrap();
                if let Some(at) = screen.get(from..).and_then(|s| s.find(text)) {
                    return from + at + text.len();
                }
                assert!(
                    Instant::now() < deadline,
                    "timed out waiting for {text:?}; the screen:\n{screen}"
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn send(&mut self, keys: &str) {
        self.writer.write_all(keys.as_bytes()).unwrap();
        self.writer.flush().unwrap();
    }
}
