use proptest::prelude::*;

use super::*;

/// (kind, secret, the text it is planted in), from the fixture the
/// end-to-end tests plant too.
fn planted() -> Vec<(String, String, String)> {
    include_str!("../../../tests/fixtures/planted-secrets.tsv")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|line| {
            let mut parts = line.split('\t');
            let (kind, secret, context) = (parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap());
            let text = context.replace("\\n", "\n").replace("{}", secret);
            (kind.to_string(), secret.to_string(), text)
        })
        .collect()
}

fn source(password: &str) -> DataSource {
    DataSource {
        engine: "postgres".into(),
        name: "prod-db".into(),
        created_at: String::new(),
        updated_at: String::new(),
        fields: [
            ("host".to_string(), "db.internal".to_string()),
            ("password".to_string(), password.to_string()),
        ]
        .into(),
        extra: Default::default(),
    }
}

fn knowing(values: &[&str]) -> Scrubber {
    let mut known: Vec<Known> = Known::data_source(&source(values[0]));
    known.extend(values[1..].iter().filter_map(|v| Known::env_secret(v)));
    Scrubber::new(known, Vec::new())
}

#[test]
fn every_planted_kind_is_found_and_named() {
    let scrubber = Scrubber::default();
    for (kind, secret, text) in planted() {
        let mut report = Report::new();
        let clean = scrubber.scrub_counting(&text, &mut report);
        assert!(!clean.contains(&secret), "{kind} survived: {clean}");
        assert_eq!(report.get(kind.as_str()), Some(&1), "{kind}: {report:?} for {clean}");
        assert!(clean.contains(&placeholder(&kind)), "{clean}");
        assert_eq!(scrubber.scrub(&clean), clean, "scrubbing twice changes nothing");
    }
}

#[test]
fn known_values_go_wherever_they_are_and_what_is_not_secret_stays() {
    let scrubber = Scrubber::new(
        [
            Known::data_source(&source("hunter22")),
            Known::model_key("key-abcdefgh-1234").into_iter().collect(),
        ]
        .concat(),
        Vec::new(),
    );
    let text = "host db.internal pw hunter22 key key-abcdefgh-1234 Authorization: Bearer abc.def-123456";
    let mut report = Report::new();
    assert_eq!(
        scrubber.scrub_counting(text, &mut report),
        "host db.internal pw [DS_POSTGRES_PROD_DB__PASSWORD] key [REDACTED_API_KEY] \
         Authorization: Bearer [REDACTED_TOKEN]"
    );
    assert_eq!(
        report,
        Report::from([("api key", 1), ("data-source secret", 1), ("token", 1)])
    );
    // Too short to hide anything, and everywhere in ordinary text.
    assert!(Known::model_key("1234567").is_none() && Known::data_source(&source("abc")).is_empty());
}

#[test]
fn code_and_prose_that_only_sound_secret_stay_as_they_are() {
    let scrubber = Scrubber::default();
    for text in [
        "token = get_token()",
        "password = os.environ[\"DS_POSTGRES_PROD_DB__PASSWORD\"]",
        "api_key=args.api_key",
        "secret_key: str",
        "password: ${DB_PASSWORD}",
        "PWD=/home/ada/work",
        "The key to this is patience: keep going.",
        "token_type = \"bearer\"",
        "see https://example.com/a:b@c is not a login",
        "sort_key = created_at",
        "secrets: Mutex::new(None),",
        "let secret = confirm(&question)?;",
        "password = self.vault.password",
        "sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "[REDACTED_PASSWORD] and password = [DS_POSTGRES_PROD_DB__PASSWORD]",
    ] {
        assert_eq!(scrubber.scrub(text), text);
    }
}

#[test]
fn json_stays_json_with_every_string_scrubbed() {
    let scrubber = knowing(&["hunter22"]);
    let meta =
        r#"{"description":"log in with hunter22","nested":[{"hunter22":"sk-proj-AAAAAAAAAAAAAAAAAAAAAAAA"}],"n":3}"#;
    let clean: Value = serde_json::from_str(&scrubber.scrub_json_text(meta, &mut Report::new())).unwrap();
    assert_eq!(
        clean,
        serde_json::json!({"description": "log in with [DS_POSTGRES_PROD_DB__PASSWORD]",
            "nested": [{"[DS_POSTGRES_PROD_DB__PASSWORD]": "[REDACTED_OPENAI_API_KEY]"}], "n": 3})
    );
    assert_eq!(
        scrubber.scrub_json_text("not json hunter22", &mut Report::new()),
        "not json [DS_POSTGRES_PROD_DB__PASSWORD]"
    );
}

#[test]
fn users_add_their_own_shapes_and_a_bad_one_is_named() {
    let from = |p: &str| ("config.toml".to_string(), p.to_string());
    let (custom, problems) = custom_patterns(&[from("ACME-[0-9]{6}"), from("(unclosed"), from("x*")]);
    assert_eq!(custom.len(), 1);
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(problems[0].starts_with("config.toml: ") && problems[0].contains("(unclosed"));
    assert!(problems[1].contains("matches empty text"));
    let scrubber = Scrubber::new(Vec::new(), custom);
    let mut report = Report::new();
    assert_eq!(
        scrubber.scrub_counting("order ACME-123456 shipped", &mut report),
        "order [REDACTED_CUSTOM_SECRET] shipped"
    );
    assert_eq!(report, Report::from([("custom secret", 1)]));
}

#[test]
fn env_names_that_say_secret() {
    for name in [
        "GITHUB_TOKEN",
        "MY_API_KEY",
        "APIKEY",
        "DB_PASSWORD",
        "aws_secret_access_key",
        "SSH_KEYS",
    ] {
        assert!(secret_name(name), "{name}");
    }
    for name in ["PATH", "KEYBOARD_LAYOUT", "PWD", "HOME", "XKB_KEYMAP"] {
        assert!(!secret_name(name), "{name}");
    }
}

/// Words without digits or dashes: text no rule should touch.
fn prose() -> impl Strategy<Value = String> {
    proptest::collection::vec("[a-zA-Z]{1,9}[ ,.!?\n]{1,2}", 0..60).prop_map(|w| w.concat())
}

proptest! {
    #[test]
    fn ordinary_text_comes_back_unchanged(text in prose()) {
        prop_assert_eq!(Scrubber::default().scrub(&text), text);
    }

    #[test]
    fn a_planted_secret_never_survives_and_twice_is_once(
        before in prose(), after in prose(), which in 0usize..18, known in "[a-zA-Z0-9!#%&]{8,24}"
    ) {
        let rows = planted();
        let (_, secret, planted) = &rows[which % rows.len()];
        let scrubber = knowing(&[&known]);
        let text = format!("{before} {planted} {after} {known}");
        let clean = scrubber.scrub(&text);
        prop_assert!(!clean.contains(secret.as_str()), "{}", clean);
        prop_assert!(!clean.contains(known.as_str()), "{}", clean);
        prop_assert_eq!(scrubber.scrub(&clean), clean.clone());
    }

    #[test]
    fn the_screen_shows_what_scrubbing_the_whole_would(
        text in prose(), known in "[a-z]{4,12}", cuts in proptest::collection::vec(0usize..400, 0..8)
    ) {
        let scrubber = knowing(&[&known]);
        let whole = format!("{text}{known}{text}{}", &known[..known.len() / 2]);
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (whole.len() + 1)).collect();
        cuts.sort();
        let mut screen = scrubber.screen();
        let mut shown = String::new();
        let mut last = 0;
        for cut in cuts.into_iter().chain([whole.len()]) {
            shown.push_str(&screen.push(&whole[last..cut]));
            last = cut;
        }
        shown.push_str(&screen.finish());
        prop_assert_eq!(shown, scrubber.scrub_known(&whole));
    }
}

#[test]
fn what_the_first_attack_got_through_is_caught_and_what_it_mangled_is_kept() {
    let scrubber = Scrubber::default();
    let ghp = format!("ghp_{}", "Ab1".repeat(12));
    for (text, secret) in [
        ("postgres://admin:S3cr%40t2024@db/app", "S3cr%40t2024"),
        ("redis://:Sup3rS3cret99@cache:6379", "Sup3rS3cret99"),
        ("mongodb://u:p@ssw0rd@host/db", "p@ssw0rd"),
        ("DB_PASSWORD=Xk9$mLp2qR", "Xk9$mLp2qR"),
        ("password = \"100%Secure!\"", "100%Secure!"),
        (&format!("id call_{ghp} here"), &ghp),
    ] {
        let clean = scrubber.scrub(text);
        assert!(!clean.contains(secret), "{text} → {clean}");
    }
    for text in [
        "Bearer authentication is described below.",
        "\"secretary\": \"Jennifer Smith\"",
        "\"passwordless\": \"enabled\"",
        "\"tokenizer_name\": \"gpt2-tokenizer-v3\"",
        "token_uri = https://oauth2.googleapis.com/token",
        "-----BEGIN RSA PRIVATE KEY-----\nand then the prose goes on, untouched by any of it.",
        "password:\n  username: bob",
        "'postgresql://bob:%s@dbhost/appdb' % password",
    ] {
        let clean = scrubber.scrub(text);
        match text.strip_prefix("-----BEGIN RSA PRIVATE KEY-----") {
            Some(prose) => assert!(clean.ends_with(prose), "{clean}"),
            None => assert_eq!(clean, text),
        }
    }
}

#[test]
fn a_known_value_is_caught_however_code_prints_it_and_a_short_one_only_as_a_word() {
    let quoted = knowing(&["Pa\"s\\w0rd9"]);
    for text in [r#"{"pw": "Pa\"s\\w0rd9"}"#, r#"{'pw': 'Pa"s\\w0rd9'}"#] {
        assert!(quoted.scrub(text).contains("[DS_POSTGRES_PROD_DB__PASSWORD]"), "{text}");
    }
    let accented = knowing(&["pässwörd77"]);
    assert_eq!(
        accented.scrub(r#"{"pw": "p\u00e4ssw\u00f6rd77"}"#),
        r#"{"pw": "[DS_POSTGRES_PROD_DB__PASSWORD]"}"#
    );
    let word = knowing(&["postgres"]);
    assert_eq!(
        word.scrub("user=postgres on postgresql"),
        "user=[DS_POSTGRES_PROD_DB__PASSWORD] on postgresql"
    );
    let mixed = knowing(&["Zq9kLm2x"]);
    assert_eq!(
        mixed.scrub("xZq9kLm2xWv7 and Zq9kLm2x%22"),
        "x[DS_POSTGRES_PROD_DB__PASSWORD]Wv7 and [DS_POSTGRES_PROD_DB__PASSWORD]%22"
    );
    assert_eq!(
        quoted.scrub("postgresql://bob:Pa%22s%5Cw0rd9@db"),
        "postgresql://bob:[DS_POSTGRES_PROD_DB__PASSWORD]@db"
    );
    assert!(Known::env_secret("localhost").is_none() && Known::env_secret("localhost1").is_some());
}
