//! Writing plugins: the scaffold from `new` to a working command, the example
//! plugin, a plugin pinned to the first WIT version, and `/plugins reload`.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::llm_server::{LlmServer, Reply};
use common::{Env, staged_plugin};
use serde_json::json;

#[test]
fn from_plugins_new_to_a_working_command_in_the_chat() {
    let env = Env::new();
    let dir = env.home.path().join("hello");
    let created = env.run(&["plugins", "new", "hello", "--dir", dir.to_str().unwrap()]);
    created.ok();
    assert!(
        created.stdout.contains("cargo build --release --target wasm32-wasip2"),
        "{created:#?}"
    );
    for file in ["Cargo.toml", "anton-plugin.toml", "src/lib.rs", "README.md"] {
        assert!(dir.join(file).exists(), "{file} missing");
    }
    // It carries the SDK and the WIT: nothing points back at anton's sources.
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
    assert!(manifest.contains("anton-plugin-sdk = { path = \"sdk\" }"), "{manifest}");
    for file in [
        "sdk/Cargo.toml",
        "sdk/src/lib.rs",
        "sdk/macros/Cargo.toml",
        "sdk/wit/world.wit",
        "sdk/wit/deps/anton-plugin-0.1.0/world.wit",
        "Cargo.lock",
    ] {
        assert!(dir.join(file).is_file(), "{file} missing");
    }
    let lock = std::fs::read_to_string(dir.join("Cargo.lock")).unwrap();
    assert!(
        lock.contains("name = \"hello\"") && lock.contains("name = \"wit-bindgen\"") && !lock.contains("wasmtime"),
        "the plugin's own lock, no more: {lock}"
    );
    let root = common::repo_root().display().to_string();
    for file in common::every_file(&dir) {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        assert!(!text.contains(&root), "{} names the anton sources", file.display());
    }
    // The build command the scaffold's README gives, offline, into a target
    // folder elsewhere (as CARGO_TARGET_DIR often puts it).
    let target = env.home.path().join("elsewhere");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--release", "--target", "wasm32-wasip2", "--offline"])
        .current_dir(&dir)
        .env("CARGO_TARGET_DIR", &target)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .status()
        .unwrap();
    assert!(status.success(), "the scaffold does not build offline");
    let elsewhere = [("CARGO_TARGET_DIR", target.display().to_string())];
    env.run_env(&elsewhere, &["plugins", "check", dir.to_str().unwrap()], "")
        .ok();
    env.run_env(&elsewhere, &["plugins", "install", dir.to_str().unwrap(), "--yes"], "")
        .ok();
    let run = env.run_env(&[], &[], "/hello big world\n");
    assert!(
        run.ok()
            .stdout
            .contains("Hello from hello! This workspace has 0 sessions. You said: big world"),
        "{run:#?}"
    );
    assert!(env.run(&["hello", "x"]).ok().stdout.contains("You said: x"));
}

#[test]
fn plugins_new_refuses_a_bad_name_or_a_used_directory() {
    let env = Env::new();
    let run = env.run(&["plugins", "new", "Hello World"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("cannot be a plugin name"), "{run:#?}");
    std::fs::write(env.ws().join("taken"), "x").unwrap();
    std::fs::create_dir_all(env.ws().join("busy")).unwrap();
    std::fs::write(env.ws().join("busy/file"), "x").unwrap();
    let run = env.run(&["plugins", "new", "busy"]);
    assert!(run.stderr.contains("already exists and is not empty"), "{run:#?}");
}

#[test]
fn a_plugin_built_against_wit_0_1_0_still_loads_and_runs() {
    let env = Env::new();
    env.install("pinned").ok();
    let run = env.run(&["pinned"]);
    assert_eq!(
        run.ok().stdout,
        "pinned 0.1.0 plugin ran `pinned` (1970-01-01T00:00:00Z)\n"
    );
}

#[test]
fn the_stats_example_built_against_wit_0_1_0_still_loads_and_runs() {
    let env = Env::new();
    // As someone shipped it for anton:plugin@0.1.0, never rebuilt.
    let shipped = common::repo_root().join("tests/fixtures/plugins/stats-0.1.0");
    env.run(&["plugins", "install", shipped.to_str().unwrap(), "--yes"])
        .ok();
    let server = LlmServer::start();
    server.then(Reply::Text("two".into()));
    env.run_env(&server.openai_env(), &[], "add one and one\n").ok();
    let json = env.run(&["stats", "--json"]).ok().json();
    assert_eq!(json["messages"]["user"], 1, "{json}");
    let table = env.run(&["stats"]).ok().stdout.clone();
    assert!(table.contains("user messages"), "{table}");
}

#[test]
fn the_stats_example_tables_the_current_session() {
    let env = Env::new();
    env.install("stats").ok();
    let server = LlmServer::start();
    server
        .then(Reply::Tool {
            text: String::new(),
            id: "c1".into(),
            name: "scratchpad".into(),
            input: json!({"code": "1+1"}),
        })
        .then(Reply::Text("two".into()));
    let run = env.run_env(&server.openai_env(), &[], "add\n/stats\n");
    let out = run.ok().stdout.clone();
    for expected in ["What", "turns", "tokens in", "22", "scratchpad calls", "user messages"] {
        assert!(out.contains(expected), "{expected} missing in:\n{out}");
    }
    let json = env.run(&["stats", "--json"]).ok().json();
    assert_eq!(json["tools"]["scratchpad"], 1);
    assert_eq!(json["output_tokens"], 14);
}

#[test]
fn plugins_reload_picks_up_a_plugin_installed_while_the_chat_runs() {
    let env = Env::new();
    let mut chat = env
        .command_in(env.ws(), &[])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = chat.stdin.take().unwrap();
    stdin.write_all(b"/faulty ok\n").unwrap();
    stdin.flush().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    let dir = staged_plugin("faulty", &env.home.path().join("staged"));
    env.run(&["plugins", "install", dir.to_str().unwrap(), "--yes"]).ok();
    stdin.write_all(b"/plugins reload\n/faulty ok\n").unwrap();
    drop(stdin);
    let out = String::from_utf8(chat.wait_with_output().unwrap().stdout).unwrap();
    let unknown = out.find("Unknown command /faulty.").unwrap_or_else(|| panic!("{out}"));
    let reloaded = out
        .find("Reloaded plugins: sessions, resume, share, connect, faulty.")
        .unwrap_or_else(|| panic!("{out}"));
    let works = out.find("faulty is fine").unwrap_or_else(|| panic!("{out}"));
    assert!(unknown < reloaded && reloaded < works, "{out}");
}

#[test]
fn a_component_built_for_an_unknown_wit_version_is_refused_by_check_and_install() {
    let env = Env::new();
    let root = common::repo_root();
    // The pinned plugin, rebuilt against a copy of the WIT that claims 0.9.0.
    let krate = env.home.path().join("future");
    std::fs::create_dir_all(krate.join("src")).unwrap();
    std::fs::create_dir_all(krate.join("wit")).unwrap();
    for entry in std::fs::read_dir(root.join("wit/since_v0.1.0")).unwrap().flatten() {
        let text = std::fs::read_to_string(entry.path())
            .unwrap()
            .replace("anton:plugin@0.1.0", "anton:plugin@0.9.0");
        std::fs::write(krate.join("wit").join(entry.file_name()), text).unwrap();
    }
    let source = std::fs::read_to_string(root.join("tests/plugins/pinned/src/lib.rs"))
        .unwrap()
        .replace("../../../wit/since_v0.1.0", "wit");
    std::fs::write(krate.join("src/lib.rs"), source).unwrap();
    let wit_bindgen = std::fs::read_to_string(root.join("Cargo.toml"))
        .unwrap()
        .lines()
        .find(|l| l.starts_with("wit-bindgen"))
        .unwrap()
        .to_string();
    std::fs::write(
        krate.join("Cargo.toml"),
        format!(
            "[package]\nname = \"pinned\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n[lib]\ncrate-type = [\"cdylib\"]\n\n[dependencies]\n{wit_bindgen}\n\n[workspace]\n"
        ),
    )
    .unwrap();
    std::fs::copy(
        root.join("tests/plugins/pinned/anton-plugin.toml"),
        krate.join("anton-plugin.toml"),
    )
    .unwrap();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--release", "--target", "wasm32-wasip2", "--target-dir"])
        .arg(root.join("target/unknown-wit"))
        .current_dir(&krate)
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .status()
        .unwrap();
    assert!(status.success());
    std::fs::copy(
        root.join("target/unknown-wit/wasm32-wasip2/release/pinned.wasm"),
        krate.join("pinned.wasm"),
    )
    .unwrap();
    for command in ["check", "install"] {
        let run =
            env.run(&["plugins", command, krate.to_str().unwrap(), "--yes"][..if command == "check" { 3 } else { 4 }]);
        assert_eq!(run.code, 1, "{run:#?}");
        assert!(
            run.stderr
                .contains("its manifest says api 0.1.0, but the component exports anton:plugin/command@0.9.0"),
            "{run:#?}"
        );
    }
    assert!(!env.ws().join(".anton/plugins").exists(), "nothing installed");
}
