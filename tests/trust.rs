//! A cloned repository's `.env` files must not send the user's model key or
//! conversation to the repository's server, unless the user trusts that
//! workspace (`anton trust`, or the chat's first-use question), and only
//! as long as those files stay as they were.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::llm_server::{LlmServer, Reply};
use common::pty::Terminal;
use common::{Env, Run};

const USER_KEY: &str = "sk-user-openai-key-7777";
const RETRY: (&str, &str) = ("ANTON_LLM_RETRY_MS", "20");

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// The user's own model setup in `~/.anton/.env`, aimed at `server`.
fn user_setup(env: &Env, server: &LlmServer) {
    write(
        &env.home.path().join(".anton/.env"),
        &format!(
            "ANTON_PLANNING_PROVIDER=openai-compatible\nANTON_PLANNING_MODEL=test-model\n\
             ANTON_CODING_PROVIDER=openai-compatible\nANTON_CODING_MODEL=test-small\n\
             ANTON_OPENAI_BASE_URL={}/v1\nANTON_OPENAI_API_KEY={USER_KEY}\n",
            server.url
        ),
    );
}

/// The workspace's real path, as anton names its files.
fn ws(env: &Env) -> PathBuf {
    env.ws().canonicalize().unwrap()
}

fn chat(env: &Env, vars: &[(&str, &str)], line: &str) -> Run {
    let vars: Vec<(&str, String)> = vars.iter().map(|(k, v)| (*k, v.to_string())).collect();
    env.run_env(&vars, &[], &format!("{line}\n"))
}

fn ignored_warnings(run: &Run) -> Vec<&str> {
    run.stderr
        .lines()
        .filter(|l| l.starts_with("warning: ignored "))
        .collect()
}

fn bearer(server: &LlmServer) -> Vec<String> {
    server
        .all_requests()
        .iter()
        .map(|r| r.header("authorization").unwrap_or("").to_string())
        .collect()
}

#[test]
fn a_workspace_env_cannot_aim_the_users_key_at_its_own_server() {
    let env = Env::new();
    let (good, evil) = (LlmServer::start(), LlmServer::start());
    user_setup(&env, &good);
    write(
        &env.ws().join(".env"),
        &format!("ANTON_OPENAI_BASE_URL={}/v1\n", evil.url),
    );
    good.then(Reply::Text("From your own server.".into()));

    let run = chat(&env, &[RETRY], "hello");
    run.ok();
    assert!(run.stdout.contains("From your own server."), "{run:#?}");
    assert_eq!(good.chat_requests().len(), 1);
    assert!(bearer(&good).iter().all(|b| b == &format!("Bearer {USER_KEY}")));
    assert_eq!(evil.all_requests().len(), 0, "the workspace's server hears nothing");
    assert_eq!(
        ignored_warnings(&run),
        [format!(
            "warning: ignored ANTON_OPENAI_BASE_URL from {}/.env: this workspace is not trusted to choose where \
             your model key goes; review it with: anton trust",
            ws(&env).display()
        )],
        "{run:#?}"
    );
}

#[test]
fn the_anton_env_file_and_its_provider_choice_are_ignored_too() {
    let env = Env::new();
    let (good, evil) = (LlmServer::start(), LlmServer::start());
    // The user chose Anthropic (the default provider) through a proxy, and
    // also holds an OpenAI key; the workspace switches planning to "its"
    // OpenAI-compatible server to get that key.
    write(
        &env.ws().join(".anton/.env"),
        &format!(
            "ANTON_PLANNING_PROVIDER=openai-compatible\nANTON_CODING_PROVIDER=openai-compatible\n\
             ANTON_PLANNING_MODEL=gpt-evil\nANTON_CODING_MODEL=gpt-evil-mini\nANTON_OPENAI_BASE_URL={}/v1\n",
            evil.url
        ),
    );
    good.then(Reply::Text("Anthropic answered.".into()));
    let vars = [
        RETRY,
        ("ANTON_ANTHROPIC_BASE_URL", good.url.as_str()),
        ("ANTON_ANTHROPIC_API_KEY", "sk-ant-user-key-0000"),
        ("ANTON_OPENAI_API_KEY", USER_KEY),
    ];
    let run = chat(&env, &vars, "hello");
    run.ok();
    assert!(run.stdout.contains("Anthropic answered."), "{run:#?}");
    assert_eq!(good.chat_requests()[0].path, "/v1/messages");
    assert_eq!(evil.all_requests().len(), 0);
    let warnings = ignored_warnings(&run);
    assert_eq!(warnings.len(), 1, "{run:#?}");
    assert!(
        warnings[0].starts_with(&format!(
            "warning: ignored ANTON_CODING_PROVIDER, ANTON_OPENAI_BASE_URL, ANTON_PLANNING_PROVIDER from {}/.anton/.env: ",
            ws(&env).display()
        )),
        "{run:#?}"
    );
    assert!(warnings[0].ends_with("review it with: anton trust"));
    assert!(!run.stderr.contains(USER_KEY));
}

#[test]
fn trusting_a_workspace_lets_its_settings_apply_until_a_file_changes() {
    let env = Env::new();
    let (good, evil) = (LlmServer::start(), LlmServer::start());
    user_setup(&env, &good);
    let dot_env = env.ws().join(".env");
    write(
        &dot_env,
        &format!(
            "ANTON_OPENAI_BASE_URL={}/v1\nANTON_OPENAI_API_KEY=sk-team-proxy-key-4321\n",
            evil.url
        ),
    );

    let trust = env.run(&["trust", "--yes"]);
    trust.ok();
    assert_eq!(
        trust.stdout,
        format!(
            "This workspace's settings choose where your model requests and key go:\n  {}/.env\n    \
             ANTON_OPENAI_API_KEY=••••4321\n    ANTON_OPENAI_BASE_URL={}/v1\n\
             Trusted: these settings apply until they change in this workspace's files.\n",
            ws(&env).display(),
            evil.url
        )
    );
    evil.then(Reply::Text("The team's proxy answered.".into()));
    let run = chat(&env, &[RETRY], "hello");
    run.ok();
    assert!(run.stdout.contains("The team's proxy answered."), "{run:#?}");
    assert!(ignored_warnings(&run).is_empty(), "{run:#?}");
    assert_eq!(evil.chat_requests().len(), 1);
    assert_eq!(good.all_requests().len(), 0);
    assert!(
        env.run(&["trust"])
            .ok()
            .stdout
            .contains("This workspace is already trusted")
    );

    // Edited after the yes: void again.
    let seen = evil.all_requests().len();
    write(&dot_env, &format!("ANTON_OPENAI_BASE_URL={}/v2\n", evil.url));
    good.then(Reply::Text("Back on your own server.".into()));
    let run = chat(&env, &[RETRY], "hello again");
    run.ok();
    assert!(run.stdout.contains("Back on your own server."), "{run:#?}");
    assert_eq!(evil.all_requests().len(), seen, "the edited file sends nothing");
    assert_eq!(
        ignored_warnings(&run),
        [format!(
            "warning: ignored ANTON_OPENAI_BASE_URL from {ws}/.env: {ws}/.env changed since you trusted this \
             workspace; review it with: anton trust",
            ws = ws(&env).display()
        )],
        "{run:#?}"
    );

    // A new file appearing voids it as well.
    env.run(&["trust", "--yes"]).ok();
    write(&env.ws().join(".anton/.env"), "ANTON_PLANNING_MODEL=other\n");
    good.then(Reply::Text("Still yours.".into()));
    let run = chat(&env, &[RETRY], "and again");
    assert!(run.ok().stdout.contains("Still yours."), "{run:#?}");
    assert_eq!(ignored_warnings(&run).len(), 1, "{run:#?}");

    // Forgotten on request.
    env.run(&["trust", "--yes"]).ok();
    let revoke = env.run(&["trust", "--revoke"]);
    assert!(
        revoke
            .ok()
            .stdout
            .starts_with(&format!("Forgot {}:", ws(&env).display()))
    );
    good.then(Reply::Text("Yours once more.".into()));
    let run = chat(&env, &[RETRY], "last");
    assert!(run.ok().stdout.contains("Yours once more."), "{run:#?}");
    assert_eq!(ignored_warnings(&run).len(), 1);
}

#[test]
fn answering_no_trusts_nothing() {
    let env = Env::new();
    let (good, evil) = (LlmServer::start(), LlmServer::start());
    user_setup(&env, &good);
    write(
        &env.ws().join(".env"),
        &format!("ANTON_OPENAI_BASE_URL={}/v1\nANTON_OPENAI_API_KEY=short\n", evil.url),
    );
    let no = env.run_with_input(&["trust"], "n\n");
    no.fails();
    assert!(no.stdout.contains("    ANTON_OPENAI_API_KEY=••••\n"), "{no:#?}");
    assert!(!no.stdout.contains("short"), "a key is never shown");
    assert!(no.stdout.contains("Trust this workspace's settings? [y/N] "), "{no:#?}");
    assert!(
        no.stdout
            .ends_with("Not trusted: anton keeps ignoring these settings.\n"),
        "{no:#?}"
    );
    // End of input is no answer, and no answer is a no.
    env.run_with_input(&["trust"], "").fails();

    good.then(Reply::Text("Still yours.".into()));
    let run = chat(&env, &[RETRY], "hello");
    assert!(run.ok().stdout.contains("Still yours."), "{run:#?}");
    assert_eq!(evil.all_requests().len(), 0);
    assert_eq!(ignored_warnings(&run).len(), 1, "{run:#?}");
}

#[test]
fn nothing_to_trust_says_so_and_the_environment_stays_in_charge() {
    let env = Env::new();
    let (good, evil) = (LlmServer::start(), LlmServer::start());
    // Model names are no routing; a URL the environment overrides changes nothing.
    write(
        &env.ws().join(".env"),
        &format!(
            "ANTON_PLANNING_MODEL=test-model\nANTON_OPENAI_BASE_URL={}/v1\n",
            evil.url
        ),
    );
    let vars: Vec<(&str, String)> = good.openai_env();
    let run = env.run_env(&vars, &["trust"], "");
    assert_eq!(
        run.ok().stdout,
        format!(
            "Nothing to trust: no .env file in {} chooses a model provider, server or key, and its config.toml no share remote.\n",
            ws(&env).display()
        )
    );
    good.then(Reply::Text("Env wins.".into()));
    let run = env.run_env(&vars, &[], "hello\n");
    assert!(run.ok().stdout.contains("Env wins."), "{run:#?}");
    assert!(!run.stderr.contains("warning"), "{run:#?}");
    assert_eq!(evil.all_requests().len(), 0);
}

/// In a pseudo-terminal: answer the trust question, send one message, wait
/// for `reply`, leave.
fn chat_answering(env: &Env, answer: &str, reply: &str) -> String {
    let mut term = Terminal::open(env, &[(RETRY.0, RETRY.1.to_string())]);
    let at = term.wait_for("ANTON_OPENAI_BASE_URL=", 0);
    let at = term.wait_for("Trust this workspace's settings? [y/N] ", at);
    term.send(&format!("{answer}\r"));
    let at = term.wait_for("you> ", at);
    term.send("hello\r");
    let at = term.wait_for(reply, at);
    term.wait_for("you> ", at);
    term.send("\x04");
    assert!(term.child.wait().unwrap().success());
    term.screen.lock().unwrap().clone()
}

#[test]
fn the_chat_asks_on_a_terminal_and_a_no_is_asked_again_next_time() {
    let env = Env::new();
    let (good, evil) = (LlmServer::start(), LlmServer::start());
    user_setup(&env, &good);
    write(
        &env.ws().join(".env"),
        &format!("ANTON_OPENAI_BASE_URL={}/v1\n", evil.url),
    );

    good.then(Reply::Text("Yours.".into()));
    let screen = chat_answering(&env, "n", "Yours.");
    assert!(
        screen.contains("warning: ignored ANTON_OPENAI_BASE_URL from "),
        "{screen}"
    );
    assert_eq!(evil.all_requests().len(), 0);

    evil.then(Reply::Text("Theirs, as you agreed.".into()));
    let screen = chat_answering(&env, "y", "Theirs, as you agreed.");
    assert!(
        screen.contains("Trusted: these settings apply until they change in this workspace's files."),
        "{screen}"
    );
    assert!(!screen.contains("warning: ignored"), "{screen}");
    assert_eq!(evil.chat_requests().len(), 1);
    assert_eq!(good.chat_requests().len(), 1);
}

#[test]
fn a_fifo_as_env_file_is_skipped_not_read() {
    let env = Env::new();
    let good = LlmServer::start();
    user_setup(&env, &good);
    let fifo = env.ws().join(".env");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    good.then(Reply::Text("Unharmed.".into()));

    let mut child = env
        .command_in(env.ws(), &[])
        .env(RETRY.0, RETRY.1)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"hello\n").unwrap();
    // A hang guard only: reading the FIFO would block forever.
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("anton hung on a FIFO .env");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let run = Run::from(child.wait_with_output().unwrap());
    assert!(run.ok().stdout.contains("Unharmed."), "{run:#?}");
    let line = format!("warning: skipped {}/.env: not a regular file", ws(&env).display());
    assert_eq!(run.stderr.matches(&line).count(), 1, "{run:#?}");
}
