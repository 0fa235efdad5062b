//! Redaction end to end: secrets of many kinds planted everywhere a real
//! chat puts text (the user's words, the model's replies, scratchpad code,
//! its output, errors and description, memorize, the title and summary), a
//! data-source password saved mid-chat, the model key and a secret-named
//! variable; then three exports. No planted value may reach the model, an
//! export, its name or the ledger, and no known secret may be anywhere under
//! the workspace or home but the vault.

mod common;

use common::Env;
use common::llm_server::{LlmServer, Reply};
use serde_json::json;

const PASSWORD: &str = "Vault-pw-7QxZ29kLm";
const ENV_TOKEN: &str = "acme-env-token-55UvWx901";

/// (kind, secret, the text it appears in), from the shared fixture.
fn planted() -> Vec<(String, String, String)> {
    let text = std::fs::read_to_string(common::repo_root().join("tests/fixtures/planted-secrets.tsv")).unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|line| {
            let parts: Vec<&str> = line.split('\t').collect();
            let text = parts[2].replace("\\n", "\n").replace("{}", parts[1]);
            (parts[0].to_string(), parts[1].to_string(), text)
        })
        .collect()
}

#[test]
fn no_planted_secret_reaches_the_model_an_export_or_the_disk() {
    let env = Env::new();
    let server = LlmServer::start();
    let rows = planted();
    let kinds: std::collections::BTreeSet<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    assert!(kinds.len() >= 12, "{kinds:?}");
    let text_of = |range: std::ops::Range<usize>| -> String {
        rows[range].iter().map(|r| r.2.clone()).collect::<Vec<_>>().join("\n")
    };
    let mut vars = server.openai_env();
    let model_key = vars
        .iter()
        .find(|(k, _)| *k == "ANTON_OPENAI_API_KEY")
        .unwrap()
        .1
        .clone();
    vars.push(("ACME_SERVICE_TOKEN", ENV_TOKEN.to_string()));

    server.titles(
        &format!("Keys {} audit", rows[0].1),
        &format!("The user shared {} and {PASSWORD}.", rows[2].1),
    );
    let code = format!(
        "import os, sys\nprint({:?})\nprint(os.environ.get('DS_POSTGRES_PROD_DB__PASSWORD'))\nsys.stderr.write({:?})\nraise RuntimeError({:?})",
        text_of(6..10),
        rows[11].2,
        rows[13].2
    );
    server
        .then(Reply::Tool {
            text: format!("Running it with {PASSWORD}. "),
            id: "call_1".into(),
            name: "scratchpad".into(),
            input: json!({"name": "main", "code": code, "one_line_description": format!("check {}", rows[10].1)}),
        })
        .then(Reply::Tool {
            text: String::new(),
            id: "call_2".into(),
            name: "memorize".into(),
            input: json!({"entries": [{"text": format!("Storage: {} pw {PASSWORD}", rows[14].2), "kind": "lesson",
                "topic": rows[15].2, "scope": "project"}]}),
        })
        .then(Reply::Text(format!(
            "Done. {} and {} with {model_key} and {ENV_TOKEN}",
            text_of(16..rows.len()),
            rows[12].2
        )));
    let input = format!(
        "/connect postgres\ndb.internal\n\nsales\nbob\n{PASSWORD}\nprod db\n{} {PASSWORD} {ENV_TOKEN}\n",
        text_of(0..6).replace('\n', " ; ")
    );
    let chat = env.run_env(&vars, &[], &input);
    chat.ok();
    assert!(chat.stdout.contains("Saved postgres-prod-db."), "{chat:#?}");
    let id = chat.session_id();

    // The pad got the real password, through its variable only.
    let cells = env.store().cells(&id).unwrap();
    assert!(
        cells[0].stdout.contains("[DS_POSTGRES_PROD_DB__PASSWORD]"),
        "{:?}",
        cells[0]
    );

    let mut exports = Vec::new();
    for args in [vec![], vec!["--summary"], vec!["--format", "v0.1"]] {
        let run = env.run_env(&vars, &[&["share", "export"][..], &args].concat(), "");
        run.ok();
        assert!(run.stdout.contains("Redacted: "), "{run:#?}");
        exports.push((common::exported_file(&run.stdout), run.stdout.clone()));
    }

    let known = [PASSWORD, ENV_TOKEN, model_key.as_str()];
    let secrets: Vec<&str> = rows.iter().map(|r| r.1.as_str()).chain(known).collect();
    let leaks = |what: &str, text: &str| -> Vec<String> {
        secrets
            .iter()
            .filter(|s| text.contains(*s))
            .map(|s| format!("{what} holds {s}"))
            .collect()
    };
    let mut found = Vec::new();
    for (file, stdout) in &exports {
        found.extend(leaks(
            &file.display().to_string(),
            &common::unpacked(&std::fs::read(file).unwrap()),
        ));
        found.extend(leaks("the export's name", &file.display().to_string()));
        found.extend(leaks("what export printed", stdout));
    }
    for entry in env.store().share_history(0).unwrap() {
        found.extend(leaks("the ledger", &format!("{entry:?}")));
    }
    for request in server.all_requests() {
        found.extend(leaks("a request to the model", &request.body.to_string()));
    }
    // The screen hides what anton knows is secret; a token shape the model
    // streams is shown as it came (it is stored scrubbed).
    for secret in known {
        for (what, text) in [("the chat's screen", &chat.stdout), ("the chat's errors", &chat.stderr)] {
            if text.contains(secret) {
                found.push(format!("{what} holds {secret}"));
            }
        }
    }
    let vault = env.home.path().join(".anton/data_vault");
    assert!(
        std::fs::read_to_string(vault.join("postgres-prod-db"))
            .unwrap()
            .contains(PASSWORD)
    );
    for root in [env.ws(), env.home.path()] {
        for file in common::every_file(root).into_iter().filter(|f| !f.starts_with(&vault)) {
            let bytes = String::from_utf8_lossy(&std::fs::read(&file).unwrap()).into_owned();
            found.extend(leaks(&file.display().to_string(), &bytes));
        }
    }
    assert!(found.is_empty(), "{}", found.join("\n"));

    // What the default export hides, by kind, and that it still reads.
    let (bundle, _) = anton_share_format::read(&std::fs::read(&exports[0].0).unwrap()).unwrap();
    for kind in &kinds {
        assert!(
            bundle.redactions.contains_key(*kind),
            "{kind} missing from {:?}",
            bundle.redactions
        );
    }
    assert!(
        bundle.title.starts_with("Keys [REDACTED_AWS_ACCESS_KEY_ID] audit"),
        "{}",
        bundle.title
    );
}

#[test]
fn the_line_history_keeps_no_secret_and_an_old_one_is_cleaned() {
    let env = Env::new();
    let history = env.home.path().join("data/anton/history.txt");
    std::fs::create_dir_all(history.parent().unwrap()).unwrap();
    let old = "sk-proj-OLDOLDOLDOLDOLDOLDOLD1234";
    std::fs::write(&history, format!("#V2\nmy key is {old}\n")).unwrap();
    let mut terminal = common::pty::Terminal::open(&env, &[("ACME_SERVICE_TOKEN", ENV_TOKEN.to_string())]);
    terminal.wait_for("you>", 0);
    terminal.send(&format!("/nothing-here ghp_{} {ENV_TOKEN}\r", "A".repeat(36)));
    let typed = terminal.screen.lock().unwrap().len();
    terminal.wait_for("you>", typed);
    terminal.send("\x04");
    terminal.child.wait().unwrap();
    let kept = std::fs::read_to_string(&history).unwrap();
    assert!(
        !kept.contains(old) && !kept.contains("ghp_AAAA") && !kept.contains(ENV_TOKEN),
        "{kept}"
    );
    assert!(
        kept.contains("[REDACTED_OPENAI_API_KEY]") && kept.contains("[REDACTED_GITHUB_TOKEN]"),
        "{kept}"
    );
    assert!(kept.contains("[REDACTED_ENV_SECRET]"), "{kept}");
}

#[test]
fn the_users_own_patterns_are_redacted_and_a_bad_one_is_named_once() {
    let env = Env::new();
    let server = LlmServer::start();
    let config = env.user_config("[redact]\npatterns = [\"ACME-[0-9]{6}\", \"(unclosed\"]\n");
    let id = env.chat_once(&server, "ship order ACME-123456 today", "Shipping ACME-123456.");
    let stored: Vec<String> = env
        .store()
        .messages(&id, 0)
        .unwrap()
        .into_iter()
        .map(|m| m.content)
        .collect();
    assert_eq!(
        stored,
        [
            "ship order [REDACTED_CUSTOM_SECRET] today",
            "Shipping [REDACTED_CUSTOM_SECRET]."
        ]
    );
    assert!(
        !server
            .all_requests()
            .iter()
            .any(|r| r.body.to_string().contains("ACME-123456"))
    );
    // Learned while the plugin loads, said once all the same.
    let run = env.run(&["sessions"]);
    let warnings: Vec<&str> = run.stderr.lines().filter(|l| l.contains("(unclosed")).collect();
    assert_eq!(warnings.len(), 1, "{run:#?}");
    let chat = env.run_env(&server.openai_env(), &[], "/help\n");
    let warning = chat
        .stderr
        .lines()
        .find(|l| l.contains("(unclosed"))
        .unwrap_or_default();
    assert!(
        warning.starts_with("warning: ")
            && warning.contains(&config.display().to_string())
            && warning.ends_with("skipped"),
        "{chat:#?}"
    );
}
