use super::*;

fn sample() -> Bundle {
    Bundle {
        exported_by: "alice".into(),
        exported_at: "2026-11-24T01:00:00Z".into(),
        anton_version: "0.1.0".into(),
        session_id: "20261124_010000_ab12".into(),
        title: "Revenue by region".into(),
        summary: "APAC leads.".into(),
        summary_only: false,
        conversation: vec![
            Episode {
                ts: "2026-11-24T01:00:00Z".into(),
                session: "s".into(),
                turn: 1,
                role: "user".into(),
                content: "revenue? ✓".into(),
                meta: json!({}),
            },
            Episode {
                ts: "2026-11-24T01:00:01Z".into(),
                session: "s".into(),
                turn: 1,
                role: "assistant".into(),
                content: "APAC".into(),
                meta: json!({"model": "m"}),
            },
        ],
        session_born: vec![Memory {
            content: "Always group by region".into(),
            kind: "always".into(),
            topic: String::new(),
        }],
        project_accessed: vec![Memory {
            content: "Amounts in cents".into(),
            kind: "lesson".into(),
            topic: "sales".into(),
        }],
        cells: vec![Cell {
            pad: "main".into(),
            code: "1+1".into(),
            stdout: "2\n".into(),
            ..Default::default()
        }],
        redactions: BTreeMap::from([("api key".to_string(), 2)]),
        imported: None,
    }
}

#[test]
fn native_files_round_trip_every_message_memory_and_cell() {
    let bundle = sample();
    let (back, format) = read(&write_v1(&bundle)).unwrap();
    assert_eq!(format, Format::V1);
    assert_eq!(back, bundle);
}

#[test]
fn reference_files_round_trip_and_keep_the_recipient_stamp() {
    let mut bundle = sample();
    bundle.anton_version = String::new();
    bundle.redactions.clear();
    bundle.imported = Some(Imported {
        user: "bob".into(),
        date: "2026-11-24".into(),
        session_id: "x".into(),
    });
    let bytes = write_v01(&bundle);
    assert!(
        std::str::from_utf8(&bytes)
            .unwrap()
            .starts_with("{\n  \"version\": \"0.1\""),
        "pretty-printed like Anton"
    );
    let (back, format) = read(&bytes).unwrap();
    assert_eq!(format, Format::V01);
    assert_eq!(back, bundle);
}

#[test]
fn the_written_zip_is_stable_for_the_same_bundle() {
    assert_eq!(write_v1(&sample()), write_v1(&sample()));
}

#[test]
fn oversized_input_is_refused_before_parsing() {
    let huge = vec![b' '; MAX_FILE + 1];
    assert!(read(&huge).unwrap_err().0.contains("the limit is 256 MiB"));
    let long = "x".repeat(MAX_TEXT + 1);
    let text = format!(
        r#"{{"version":"0.1","session":{{"conversation_history":[{{"ts":"t","turn":1,"role":"user","content":"{long}"}}]}}}}"#
    );
    assert!(
        read(text.as_bytes())
            .unwrap_err()
            .0
            .contains("message 1 is 32 MiB long")
    );
}

#[test]
fn a_changed_entry_fails_its_hash() {
    let bytes = write_v1(&sample());
    let mut archive = zip::ZipArchive::new(Cursor::new(&bytes)).unwrap();
    let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for i in 0..archive.len() {
        let mut file = archive.by_index(i).unwrap();
        let mut data = Vec::new();
        file.read_to_end(&mut data).unwrap();
        let name = file.name().unwrap().into_owned();
        if name == "conversation.jsonl" {
            data = String::from_utf8(data).unwrap().replace("APAC", "EMEA").into_bytes();
        }
        out.start_file(name, zip::write::SimpleFileOptions::default()).unwrap();
        out.write_all(&data).unwrap();
    }
    let tampered = out.finish().unwrap().into_inner();
    assert!(
        read(&tampered)
            .unwrap_err()
            .0
            .contains("conversation.jsonl does not match its sha256")
    );
}

/// Every file in tests/fixtures/hostile is refused with its expected line.
#[test]
fn the_hostile_corpus_is_refused() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../tests/fixtures/hostile");
    let expected: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
    let expected = expected.as_object().unwrap();
    assert!(expected.len() >= 12);
    for (file, message) in expected {
        let bytes = std::fs::read(dir.join(file)).unwrap();
        let error = read(&bytes).expect_err(file).0;
        assert!(
            error.contains(message.as_str().unwrap()),
            "{file}: {error:?} lacks {message}"
        );
    }
}

#[test]
fn files_the_reference_anton_wrote_are_read() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../tests/fixtures/anton-v0.1");
    let (bundle, format) = read(&std::fs::read(dir.join("revenue-by-region.anton")).unwrap()).unwrap();
    assert_eq!(format, Format::V01);
    assert_eq!(bundle.title, "revenue-by-region-quick-check");
    assert_eq!(bundle.conversation.len(), 7);
    assert_eq!(bundle.conversation[1].role, "tool_call");
    assert_eq!(
        bundle.conversation[1].meta["datasources"],
        json!(["mysql_sales", "postgres_prod_db"])
    );
    assert_eq!(bundle.session_born.len(), 2);
    assert_eq!(bundle.cells.len(), 1);
}
