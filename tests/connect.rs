//! `anton connect` / `/connect`: prompts driven through piped stdin, the vault
//! the reference Anton shares, reachability checks on loopback.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use common::Env;

const SECRET: &str = "hunter2-very-secret";

fn vault(env: &Env) -> PathBuf {
    env.home.path().join(".anton/data_vault")
}

fn connect_postgres(env: &Env, host: &str, port: &str, name: &str) -> common::Run {
    env.run_with_input(
        &["connect", "postgres"],
        &format!("{host}\n{port}\nsales\nbob\n{SECRET}\n{name}\n"),
    )
}

#[test]
fn connecting_saves_an_anton_compatible_private_file_and_never_shows_the_secret() {
    let env = Env::new();
    let run = connect_postgres(&env, "db.internal", "", "prod db");
    run.ok();
    assert!(
        run.stdout
            .contains("Saved postgres-prod-db. Scratchpad code sees it as DS_POSTGRES_PROD_DB__<FIELD> variables."),
        "{run:#?}"
    );
    let file = vault(&env).join("postgres-prod-db");
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    assert_eq!(
        std::fs::metadata(vault(&env)).unwrap().permissions().mode() & 0o777,
        0o700
    );
    let saved: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(saved["engine"], "postgres");
    assert_eq!(saved["name"], "prod-db");
    assert_eq!(saved["fields"]["port"], "5432", "the default port");
    assert_eq!(saved["fields"]["password"], SECRET);
    assert!(saved["created_at"].as_str().unwrap().ends_with('Z'));

    let list = env.run(&["connect", "list"]).ok().stdout.clone();
    assert!(
        list.contains("host=db.internal") && list.contains("password=••••"),
        "{list}"
    );
    assert!(list.contains(" UTC"), "dates carry their zone: {list}");
    let json = env.run(&["connect", "list", "--json"]).ok().json();
    assert_eq!(json[0]["handle"], "postgres-prod-db");
    assert_eq!(json[0]["fields"]["password"], "••••");
    let chat = env.run_env(&[], &[], "/connect list\n").ok().clone();
    for output in [
        &run.stdout,
        &run.stderr,
        &list,
        &json.to_string(),
        &chat.stdout,
        &chat.stderr,
    ] {
        assert!(!output.contains(SECRET), "the secret showed: {output}");
    }
    // Nothing but the vault file holds the secret.
    for path in common::every_file(env.home.path())
        .into_iter()
        .chain(common::every_file(env.ws()))
    {
        if path != file && std::fs::read(&path).is_ok_and(|b| String::from_utf8_lossy(&b).contains(SECRET)) {
            panic!("{} holds the secret", path.display());
        }
    }
}

#[test]
fn test_checks_the_host_and_port_and_says_what_was_not_checked() {
    let env = Env::new();
    let open = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = open.local_addr().unwrap().port().to_string();
    connect_postgres(&env, "127.0.0.1", &port, "local").ok();
    let run = env.run(&["connect", "test", "postgres-local"]);
    run.ok();
    assert!(
        run.stdout.starts_with(&format!("✓ Reached TCP 127.0.0.1:{port} in ")),
        "{run:#?}"
    );
    assert!(run.stdout.contains("not the credentials or the database"), "{run:#?}");

    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    connect_postgres(&env, "127.0.0.1", &closed, "gone").ok();
    let run = env.run(&["connect", "test", "postgres-gone"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout
            .contains(&format!("! Could not reach TCP 127.0.0.1:{closed}: ")),
        "{run:#?}"
    );

    env.run_with_input(&["connect", "sqlite"], "/data/x.db\nlocal\n").ok();
    let run = env.run(&["connect", "test", "sqlite-local"]);
    assert!(
        run.ok()
            .stdout
            .contains("SQLite cannot be checked without its driver; nothing was tested."),
        "{run:#?}"
    );
    let missing = env.run(&["connect", "test", "nope-nope"]);
    assert_eq!(missing.code, 1);
}

#[test]
fn a_cancelled_prompt_writes_nothing_and_an_existing_connection_is_replaced_only_when_confirmed() {
    let env = Env::new();
    let run = env.run_with_input(&["connect", "postgres"], "db.internal\n5432\n");
    assert_eq!(run.code, 1);
    assert!(run.stdout.contains("Cancelled; nothing saved."), "{run:#?}");
    assert!(!vault(&env).join("postgres-postgres").exists() && common::every_file(&vault(&env)).is_empty());

    connect_postgres(&env, "first.host", "", "main").ok();
    let run = env.run_with_input(
        &["connect", "postgres"],
        &format!("second.host\n\nsales\nbob\n{SECRET}\nmain\nn\n"),
    );
    assert_eq!(run.code, 1);
    assert!(run.stdout.contains("Kept the saved connection"), "{run:#?}");
    let saved = std::fs::read_to_string(vault(&env).join("postgres-main")).unwrap();
    assert!(saved.contains("first.host"));
    env.run_with_input(&["connect", "postgres"], "second.host\n\nsales\nbob\n\nmain\ny\n")
        .ok();
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(vault(&env).join("postgres-main")).unwrap()).unwrap();
    assert_eq!(saved["fields"]["host"], "second.host");
    assert_eq!(
        saved["fields"]["password"], SECRET,
        "an empty secret keeps the saved one"
    );
}

#[test]
fn entries_the_reference_anton_wrote_are_listed_and_a_corrupt_one_is_named_and_kept() {
    let env = Env::new();
    std::fs::create_dir_all(vault(&env)).unwrap();
    std::fs::write(
        vault(&env).join("mysql-sales"),
        r#"{"engine": "mysql", "name": "sales", "created_at": "2026-11-20T10:00:00", "updated_at": "2026-11-20T10:00:00", "fields": {"host": "m.internal", "port": "3306", "api_token": "tok"}, "secure_keys": ["api_token"]}"#,
    )
    .unwrap();
    std::fs::write(vault(&env).join("postgres-broken"), "{ not json").unwrap();
    let run = env.run(&["connect", "list"]);
    run.ok();
    assert!(
        run.stdout.contains("mysql") && run.stdout.contains("host=m.internal") && run.stdout.contains("api_token=••••"),
        "{run:#?}"
    );
    assert!(
        run.stderr.contains("Skipped ") && run.stderr.contains("postgres-broken"),
        "{run:#?}"
    );
    assert!(vault(&env).join("postgres-broken").exists(), "never deleted");
}

#[test]
fn remove_asks_first_and_the_picker_offers_every_engine() {
    let env = Env::new();
    connect_postgres(&env, "h", "", "x").ok();
    let kept = env.run_with_input(&["connect", "remove", "postgres-x"], "n\n");
    assert_eq!(kept.code, 1);
    assert!(vault(&env).join("postgres-x").exists());
    env.run_with_input(&["connect", "remove", "postgres-x"], "y\n").ok();
    assert!(!vault(&env).join("postgres-x").exists());

    let run = env.run_with_input(
        &["connect"],
        "6\napi_key\ny\nregion\nn\n\nsk-custom-value-123\neu\nmine\n",
    );
    run.ok();
    for engine in ["PostgreSQL", "MySQL", "SQLite", "Snowflake", "BigQuery", "Custom"] {
        assert!(run.stdout.contains(engine), "{engine} not offered: {run:#?}");
    }
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(vault(&env).join("custom-mine")).unwrap()).unwrap();
    assert_eq!(saved["fields"]["api_key"], "sk-custom-value-123");
    assert_eq!(saved["fields"]["region"], "eu");
    assert_eq!(saved["secure_keys"], serde_json::json!(["api_key"]));
}
