//! Shared by the end-to-end tests: an isolated home and workspace, the real
//! `anton` binary, and test plugins built for wasm32-wasip2 from this repo.
#![allow(dead_code)] // each test binary uses its own part of this module

pub mod llm_server;
pub mod pty;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

pub const ANTON: &str = env!("CARGO_BIN_EXE_anton");

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// A user (home, config, data) and one workspace, both temporary.
pub struct Env {
    pub home: tempfile::TempDir,
    pub workspace: tempfile::TempDir,
    /// Shared between tests unless a test needs a cold one.
    pub cache: PathBuf,
}

/// Every file under `dir`, however deep; none for a missing folder.
pub fn every_file(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            out.extend(every_file(&path));
        } else {
            out.push(path);
        }
    }
    out
}

impl Env {
    pub fn new() -> Env {
        Env {
            home: tempfile::tempdir().unwrap(),
            workspace: tempfile::tempdir().unwrap(),
            cache: repo_root().join("target/test-plugin-cache"),
        }
    }

    pub fn with_cold_cache() -> Env {
        let env = Env::new();
        Env {
            cache: env.home.path().join("cache"),
            ..env
        }
    }

    /// The plugins compiled into this environment's cache.
    pub fn compiled_plugins(&self) -> Vec<PathBuf> {
        every_file(&self.cache)
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "cwasm"))
            .collect()
    }

    pub fn ws(&self) -> &Path {
        self.workspace.path()
    }

    pub fn command_in(&self, dir: &Path, args: &[&str]) -> Command {
        let mut cmd = Command::new(ANTON);
        cmd.args(args)
            .current_dir(dir)
            .env("HOME", self.home.path())
            .env("XDG_CONFIG_HOME", self.home.path().join("config"))
            .env("XDG_DATA_HOME", self.home.path().join("data"))
            .env("XDG_CACHE_HOME", &self.cache)
            .env("COLUMNS", "200")
            .env("TZ", "UTC")
            .env_remove("NO_COLOR")
            .env_remove("ANTHROPIC_API_KEY")
            .env_remove("OPENAI_API_KEY")
            .stdin(Stdio::null());
        // Nothing of the developer's own anton setup leaks into a test.
        // Nor the developer's cloud credentials.
        for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("ANTON_") || k.starts_with("AWS_")) {
            cmd.env_remove(key);
        }
        cmd.env("ANTON_SCRATCHPAD_TIMEOUT", "20");
        cmd
    }

    pub fn run_in(&self, dir: &Path, args: &[&str]) -> Run {
        Run::from(self.command_in(dir, args).output().unwrap())
    }

    pub fn run(&self, args: &[&str]) -> Run {
        self.run_in(self.ws(), args)
    }

    /// Run with `input` on stdin.
    pub fn run_with_input(&self, args: &[&str], input: &str) -> Run {
        self.run_env(&[], args, input)
    }

    /// Run with extra environment (a model setup) and `input` on stdin.
    pub fn run_env(&self, vars: &[(&str, String)], args: &[&str], input: &str) -> Run {
        use std::io::Write;
        let mut cmd = self.command_in(self.ws(), args);
        for (k, v) in vars {
            cmd.env(k, v);
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        Run::from(child.wait_with_output().unwrap())
    }

    /// One exchange through the real chat; the new session's id.
    pub fn chat_once(&self, server: &llm_server::LlmServer, question: &str, answer: &str) -> String {
        server.then(llm_server::Reply::Text(answer.into()));
        let run = self.run_env(&server.openai_env(), &[], &format!("{question}\n"));
        run.ok().session_id()
    }

    /// A connection in this user's vault, as the reference Anton writes it.
    pub fn save_data_source(&self, engine: &str, name: &str, password: &str) {
        let vault = self.home.path().join(".anton/data_vault");
        std::fs::create_dir_all(&vault).unwrap();
        let entry = serde_json::json!({"engine": engine, "name": name, "created_at": "", "updated_at": "",
            "fields": {"host": "db.internal", "password": password}});
        std::fs::write(vault.join(format!("{engine}-{name}")), entry.to_string()).unwrap();
    }

    /// This user's own `config.toml` (`~/.config/anton/`), written as `text`; its path.
    pub fn user_config(&self, text: &str) -> PathBuf {
        let file = self.home.path().join("config/anton/config.toml");
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, text).unwrap();
        file
    }

    pub fn store(&self) -> anton::store::Store {
        anton::store::Store::open(&self.ws().join(".anton"), self.ws()).unwrap()
    }

    /// Install a test plugin into this workspace with `anton plugins install`.
    pub fn install(&self, plugin: &str) -> Run {
        let dir = staged_plugin(plugin, &self.home.path().join("staged"));
        self.run(&["plugins", "install", dir.to_str().unwrap(), "--yes"])
    }
}

#[derive(Debug, Clone)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Run {
    #[track_caller]
    pub fn ok(&self) -> &Run {
        assert_eq!(self.code, 0, "expected success:\n{self:#?}");
        self
    }

    #[track_caller]
    pub fn fails(&self) -> &Run {
        assert_ne!(self.code, 0, "expected failure:\n{self:#?}");
        self
    }

    /// The id in the chat's closing "Resume this session with: anton -r <id>".
    #[track_caller]
    pub fn session_id(&self) -> String {
        let line = self
            .stdout
            .lines()
            .find_map(|l| l.strip_prefix("Resume this session with: anton -r "));
        line.unwrap_or_else(|| panic!("no resume line in {self:#?}"))
            .trim()
            .to_string()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", self.stdout))
    }
}

/// The test plugins in tests/plugins, built once per test binary.
fn built_test_plugins() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let root = repo_root();
        let target = root.join("target/anton-plugins");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .current_dir(&root)
            .args([
                "build",
                "--locked",
                "--profile",
                "plugin",
                "--target",
                "wasm32-wasip2",
                "-p",
                "faulty",
                "-p",
                "replacement",
                "-p",
                "pinned",
                "-p",
                "stats",
                "--target-dir",
            ])
            .arg(&target)
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .status()
            .expect("run cargo to build the test plugins");
        assert!(status.success(), "building the test plugins failed");
        target.join("wasm32-wasip2/plugin")
    })
}

/// `<under>/<crate>` holding the crate's manifest and built wasm, as an
/// author ships a plugin.
pub fn staged_plugin(crate_name: &str, under: &Path) -> PathBuf {
    let wasm = built_test_plugins().join(format!("{crate_name}.wasm"));
    let dir = under.join(crate_name);
    std::fs::create_dir_all(&dir).unwrap();
    let source = match crate_name {
        "stats" => repo_root().join("plugins/examples/stats"),
        _ => repo_root().join("tests/plugins").join(crate_name),
    };
    std::fs::copy(source.join("anton-plugin.toml"), dir.join("anton-plugin.toml")).unwrap();
    std::fs::copy(&wasm, dir.join(format!("{crate_name}.wasm"))).unwrap();
    dir
}

/// Every byte a `.anton` file holds, as text: a v1 zip's entries
/// decompressed one after another, a v0.1 file as it is.
pub fn unpacked(bytes: &[u8]) -> String {
    use std::io::Read;
    let Ok(mut zip) = zip::ZipArchive::new(std::io::Cursor::new(bytes)) else {
        return String::from_utf8_lossy(bytes).into_owned();
    };
    let mut text = String::new();
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).unwrap();
        text.push_str(&entry.name().unwrap());
        text.push('\n');
        entry.read_to_string(&mut text).unwrap();
        text.push('\n');
    }
    text
}

/// The file a `share export` run printed on its `File:` line.
pub fn exported_file(stdout: &str) -> PathBuf {
    let line = stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("File:"))
        .unwrap_or_else(|| panic!("no File: line in {stdout}"));
    PathBuf::from(line.trim())
}
