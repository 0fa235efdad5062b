use std::io::Write;

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
        forked_from: None,
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

/// A file of `size` spaces that is never there: only its size is read.
struct Spaces {
    size: u64,
    at: u64,
}

impl Read for Spaces {
    fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
        panic!("read {} bytes into a file refused for its size", self.at)
    }
}

impl BufRead for Spaces {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        panic!("read into a file refused for its size")
    }
    fn consume(&mut self, _: usize) {}
}

impl Seek for Spaces {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        self.at = match to {
            SeekFrom::Start(at) => at,
            SeekFrom::End(delta) => self.size.saturating_add_signed(delta),
            SeekFrom::Current(delta) => self.at.saturating_add_signed(delta),
        };
        Ok(self.at)
    }
}

#[test]
fn oversized_input_is_refused_before_parsing() {
    let huge = Spaces {
        size: MAX_FILE + 1,
        at: 0,
    };
    assert_eq!(
        read_from(huge, &mut Bundle::default(), local_sha256).unwrap_err().0,
        "the file is just over the 4.0 GiB limit"
    );
    let long = "x".repeat(MAX_TEXT + 1);
    let text = format!(
        r#"{{"version":"0.1","session":{{"conversation_history":[{{"ts":"t","turn":1,"role":"user","content":"{long}"}}]}}}}"#
    );
    // Read whole or through a plugin's 64 KiB buffer, the same words.
    assert_eq!(
        read(text.as_bytes()).unwrap_err().0,
        "session.conversation_history[0]: a text over the 8.0 MiB limit"
    );
    let buffered = std::io::BufReader::with_capacity(64 << 10, Cursor::new(text.as_bytes()));
    assert_eq!(
        read_from(buffered, &mut Bundle::default(), local_sha256).unwrap_err().0,
        "session.conversation_history[0]: a text over the 8.0 MiB limit"
    );
}

#[test]
fn a_key_too_long_is_refused_at_the_same_place_whatever_the_buffer() {
    let text = format!("{{\n\"version\": \"0.1\",\n\"{}\": 1}}", "k".repeat(10_000));
    let whole = read(text.as_bytes()).unwrap_err().0;
    assert!(whole.contains("a key longer than 4 KiB"), "{whole}");
    for capacity in [1, 7, 300, 4096, 5000] {
        let buffered = std::io::BufReader::with_capacity(capacity, Cursor::new(text.as_bytes()));
        let pieces = read_from(buffered, &mut Bundle::default(), local_sha256).unwrap_err().0;
        assert_eq!(pieces, whole, "a buffer of {capacity}");
    }
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
        assert!(!error.contains('\n'), "{file}: {error:?} is not one line");
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

// ---------------------------------------------------------------- words and sizes

#[test]
fn serde_wording_becomes_plain_words() {
    for (serde, plain) in [
        ("invalid type: null, expected a string", "expected text, found null"),
        ("invalid type: integer `3`, expected a string", "expected text, found 3"),
        (
            "invalid type: boolean `true`, expected u64",
            "expected a whole number, found true",
        ),
        (
            "invalid type: floating point `1.5`, expected u32",
            "expected a whole number, found 1.5",
        ),
        (
            "invalid type: string \"12\", expected i64",
            "expected a whole number, found text \"12\"",
        ),
        (
            "invalid type: map, expected a sequence",
            "expected a list, found an object",
        ),
        (
            "invalid type: sequence, expected struct Cell",
            "expected an object, found a list",
        ),
        (
            "invalid type: string \"yes\", expected a boolean",
            "expected true or false, found text \"yes\"",
        ),
        ("invalid type: null, expected f64", "expected a number, found null"),
        (
            "invalid value: integer `-1`, expected u32",
            "expected a whole number from 0 to 4294967295, found -1",
        ),
        ("invalid length 1, expected a sequence", "expected a list, found 1 item"),
        ("unknown role \"root\"", "unknown role \"root\""),
    ] {
        assert_eq!(plain_words(serde), plain, "{serde}");
    }
}

#[test]
fn a_long_value_from_the_file_is_quoted_short() {
    let long = "y".repeat(10_000);
    let message = plain_words(&format!("invalid type: string \"{long}\", expected u64"));
    assert_eq!(
        message,
        format!("expected a whole number, found text \"{}…\"", "y".repeat(40))
    );
    let role = format!(
        r#"{{"version":"0.1","session":{{"conversation_history":[{{"ts":"t","turn":1,"role":"{long}","content":""}}]}}}}"#
    );
    let error = read(role.as_bytes()).unwrap_err().0;
    assert!(error.len() < 300, "{error}");
    assert!(
        error.starts_with("session.conversation_history[0].role: unknown role \"yyy"),
        "{error}"
    );
}

#[test]
fn sizes_show_in_a_unit_that_shows_them() {
    for (bytes, shown) in [
        (0, "0 B"),
        (512, "512 B"),
        (1023, "1023 B"),
        (2048, "2.0 KiB"),
        (2_100, "2.1 KiB"),
        (1024 * 1024 - 1, "1.0 MiB"),
        (3 * 1024 * 1024 / 2, "1.5 MiB"),
        (MAX_UNPACKED, "4.0 GiB"),
        (3_435_973_837, "3.2 GiB"),
    ] {
        assert_eq!(human_size(bytes), shown, "{bytes}");
    }
    assert_eq!(over_limit(40 << 20, 32 << 20), "40.0 MiB, over the 32.0 MiB limit");
    assert_eq!(over_limit((32 << 20) + 1, 32 << 20), "just over the 32.0 MiB limit");
}

// ---------------------------------------------------------------- fields named

/// A v1 file from `sample()` with `entry` replaced by `content`, the manifest
/// changed by `edit` and its hashes made to match again: only what the test
/// changes is wrong.
fn doctored_v1(entry: &str, content: &str, edit: impl Fn(&mut Value)) -> Vec<u8> {
    let mut archive = zip::ZipArchive::new(Cursor::new(write_v1(&sample()))).unwrap();
    let mut files: Vec<(String, Vec<u8>)> = (0..archive.len())
        .map(|i| {
            let mut file = archive.by_index(i).unwrap();
            let mut data = Vec::new();
            file.read_to_end(&mut data).unwrap();
            (file.name().unwrap().into_owned(), data)
        })
        .collect();
    for (name, data) in &mut files {
        if name == entry {
            *data = content.as_bytes().to_vec();
        }
    }
    let at = files.iter().position(|(name, _)| name == "manifest.json").unwrap();
    let mut manifest: Value = serde_json::from_slice(&files[at].1).unwrap();
    for (name, data) in &files {
        if name != "manifest.json" {
            manifest["entries"][name] = json!(sha256_hex(data));
        }
    }
    edit(&mut manifest);
    files[at].1 = serde_json::to_vec(&manifest).unwrap();
    zip_of(&files)
}

fn zip_of(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, data) in files {
        out.start_file(name.as_str(), zip::write::SimpleFileOptions::default())
            .unwrap();
        out.write_all(data).unwrap();
    }
    out.finish().unwrap().into_inner()
}

#[test]
fn a_wrong_field_in_a_reference_file_is_named_by_its_path() {
    let file = r#"{"version":"0.1","session":{},"scratchpad":{"cells":[
        {"code":"a"},{"code":"b"},{"code":"c"},{"code":"d","description":null}]}}"#;
    assert_eq!(
        read(file.as_bytes()).unwrap_err().0,
        "scratchpad.cells[3].description: expected text, found null"
    );
    let file = r#"{"version":"0.1","session":{"conversation_history":[{"ts":"t","turn":1,"role":"user"}]}}"#;
    assert_eq!(
        read(file.as_bytes()).unwrap_err().0,
        "session.conversation_history[0].content: missing"
    );
}

#[test]
fn a_wrong_field_in_a_native_file_is_named_by_entry_line_and_field() {
    let cells = "{\"code\":\"a\"}\n\n{\"code\":\"b\"}\n{\"code\":\"c\",\"description\":null}\n";
    let file = doctored_v1("cells.jsonl", cells, |m| m["counts"]["cells"] = json!(3));
    assert_eq!(
        read(&file).unwrap_err().0,
        "cells.jsonl line 4: description: expected text, found null"
    );
    let file = doctored_v1("cells.jsonl", "", |m| m["counts"]["cells"] = json!(null));
    assert_eq!(
        read(&file).unwrap_err().0,
        "manifest.json: counts.cells: expected a whole number, found null"
    );
    let file = doctored_v1(
        "memory.json",
        r#"{"session_born":[{"content":7,"kind":"always"}]}"#,
        |_| {},
    );
    assert_eq!(
        read(&file).unwrap_err().0,
        "memory.json: session_born[0].content: expected text, found 7"
    );
}

// ---------------------------------------------------------------- numbers bounded

#[test]
fn a_turn_past_the_cap_is_refused_with_its_field_and_range() {
    let v01 = |turn: u64| {
        format!(
            r#"{{"version":"0.1","session":{{"conversation_history":[{{"ts":"t","turn":{turn},"role":"user","content":"x"}}]}}}}"#
        )
    };
    assert_eq!(
        read(v01(4_294_967_295).as_bytes()).unwrap_err().0,
        "session.conversation_history[0].turn: expected a whole number from 0 to 1000000, found 4294967295"
    );
    let (bundle, _) = read(v01(MAX_TURN.into()).as_bytes()).unwrap();
    assert_eq!(bundle.conversation[0].turn, MAX_TURN);
    let line = r#"{"ts":"t","turn":1000001,"role":"user","content":"x"}"#;
    let file = doctored_v1("conversation.jsonl", line, |m| m["counts"]["messages"] = json!(1));
    assert_eq!(
        read(&file).unwrap_err().0,
        "conversation.jsonl line 1: turn: expected a whole number from 0 to 1000000, found 1000001"
    );
}

#[test]
fn manifest_counts_must_match_the_entries() {
    let file = doctored_v1("cells.jsonl", "", |m| m["counts"]["messages"] = json!(5));
    assert_eq!(
        read(&file).unwrap_err().0,
        "manifest.json: counts.messages is 5, but conversation.jsonl holds 2: the file was changed or damaged"
    );
    let file = doctored_v1("cells.jsonl", "", |m| m["redactions"]["api key"] = json!(u64::MAX));
    assert_eq!(
        read(&file).unwrap_err().0,
        "manifest.json: redactions[\"api key\"]: expected a whole number from 0 to 4294967296, found 18446744073709551615"
    );
}

// ---------------------------------------------------------------- sizes, not ratios

#[test]
fn a_highly_compressible_message_of_a_megabyte_round_trips() {
    let mut bundle = sample();
    bundle.conversation[1].content = "x".repeat(1 << 20);
    let bytes = write_v1(&bundle);
    // Ninety times smaller (at the fast level anton writes): what a ratio
    // test would have called a zip bomb.
    assert!(bytes.len() < 16_000, "compresses well: {} bytes", bytes.len());
    assert_eq!(read(&bytes).unwrap().0, bundle);
}

/// Every directory record and local header of `name` gets `size` as its
/// unpacked size.
fn declare_size(bytes: &mut [u8], name: &str, size: u32) {
    for at in 0..bytes.len() - 4 {
        let (signature, name_at, size_at) = match &bytes[at..at + 4] {
            b"PK\x03\x04" => (true, at + 30, at + 22),
            b"PK\x01\x02" => (true, at + 46, at + 24),
            _ => (false, 0, 0),
        };
        if signature && bytes.get(name_at..name_at + name.len()) == Some(name.as_bytes()) {
            bytes[size_at..size_at + 4].copy_from_slice(&size.to_le_bytes());
        }
    }
}

#[test]
fn what_an_entry_declares_is_capped_and_never_exceeded() {
    let mut file = write_v1(&sample());
    declare_size(&mut file, "cells.jsonl", u32::MAX - 15);
    let error = read(&file).unwrap_err().0;
    assert!(
        error.starts_with("the zip would unpack to 4.0 GiB, over the 4.0 GiB limit")
            || error.starts_with("the zip would unpack to just over the 4.0 GiB limit"),
        "{error}"
    );
    let mut file = write_v1(&sample());
    declare_size(&mut file, "cells.jsonl", 3);
    let error = read(&file).unwrap_err().0;
    assert!(error.starts_with("cannot unpack 'cells.jsonl'"), "{error}");
}

// ---------------------------------------------------------------- the directory, walked

#[test]
fn a_name_given_twice_is_refused_whichever_copy_a_reader_takes() {
    let mut archive = zip::ZipArchive::new(Cursor::new(write_v1(&sample()))).unwrap();
    let mut files: Vec<(String, Vec<u8>)> = (0..archive.len())
        .map(|i| {
            let mut file = archive.by_index(i).unwrap();
            let mut data = Vec::new();
            file.read_to_end(&mut data).unwrap();
            (file.name().unwrap().into_owned(), data)
        })
        .collect();
    // Same length as session.json, renamed in the bytes below: the zip crate writes no duplicates.
    files.push((
        "session.jsoX".into(),
        br#"{"id":"x","title":"Trust me","summary":""}"#.to_vec(),
    ));
    let mut bytes = zip_of(&files);
    for at in 0..bytes.len() - 12 {
        if &bytes[at..at + 12] == b"session.jsoX" {
            bytes[at + 11] = b'n';
        }
    }
    // The end record counts 5, as a .anton file has: only a walk of the directory sees the sixth.
    let end = bytes.windows(4).rposition(|w| w == b"PK\x05\x06").unwrap();
    bytes[end + 8..end + 12].copy_from_slice(&[5, 0, 5, 0]);
    assert_eq!(
        read(&bytes).unwrap_err().0,
        "the zip holds an entry twice: \"session.json\" (zip readers differ on which one counts)"
    );
}

#[test]
fn a_directory_that_disagrees_with_its_end_record_is_refused() {
    let mut bytes = write_v1(&sample());
    let end = bytes.windows(4).rposition(|w| w == b"PK\x05\x06").unwrap();
    bytes[end + 8..end + 12].copy_from_slice(&[4, 0, 4, 0]);
    assert_eq!(
        read(&bytes).unwrap_err().0,
        "the zip's directory lists 5 entries, but its end record says 4: a damaged or doctored file"
    );
}

/// The tags of an HTML page nest and close (void tags aside): a page a
/// browser reads as written, not by repair.
fn tags_nest(html: &str) -> Result<(), String> {
    const VOID: [&str; 2] = ["meta", "br"];
    let mut open: Vec<String> = Vec::new();
    for piece in html.split('<').skip(1) {
        let tag = piece.split(['>', ' ']).next().unwrap_or_default();
        if tag.starts_with('!') || VOID.contains(&tag) {
            continue;
        }
        match tag.strip_prefix('/') {
            Some(closing) => match open.pop() {
                Some(opened) if opened == closing => {}
                other => return Err(format!("</{closing}> closes {other:?}")),
            },
            None => open.push(tag.to_string()),
        }
    }
    if open.is_empty() {
        Ok(())
    } else {
        Err(format!("left open: {open:?}"))
    }
}

#[test]
fn a_transcript_for_people_escapes_what_the_session_said_and_fetches_nothing() {
    let mut bundle = sample();
    bundle.title = "Revenue <b>by</b> region".into();
    bundle.summary = "Found it.\n\nNext: <script>alert(1)</script> & more".into();
    bundle.conversation[0].content = "<img src=http://evil.example/x.png onerror=alert(1)>\u{1b}[31m\r\nnext".into();
    bundle.cells[0].code = "print('```')\n```\nfence".into();
    let html = crate::readable::html(&bundle);
    tags_nest(&html).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>\n<html lang=\"en\">"));
    for absent in ["<script", "<img", "url(", "@import", "\u{1b}"] {
        assert!(!html.contains(absent), "{absent:?} in:\n{html}");
    }
    for tag in html
        .split('<')
        .skip(1)
        .map(|piece| piece.split('>').next().unwrap_or_default())
    {
        assert!(
            !["src=", "href=", "on"].iter().any(|a| tag.contains(&format!(" {a}"))) || tag.starts_with("meta"),
            "nothing fetched or run: <{tag}>"
        );
    }
    assert!(
        html.contains("<title>Revenue &lt;b&gt;by&lt;/b&gt; region</title>"),
        "{html}"
    );
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; more"),
        "{html}"
    );
    assert!(html.contains("&lt;img src=http://evil.example/x.png"), "{html}");
    assert!(
        !html.contains('\u{fffd}') || html.contains("\u{fffd}[31m"),
        "a CRLF is a line end: {html}"
    );
    assert!(html.contains("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'"));
    for text in [
        "Conversation",
        "Scratchpad cells",
        "Memories",
        bundle.cells[0].description.as_str(),
    ] {
        assert!(html.contains(text), "{text} in:\n{html}");
    }

    let markdown = crate::readable::markdown(&bundle);
    assert!(
        markdown.starts_with("# Revenue &lt;b>by&lt;/b> region\n\nExported by "),
        "{markdown}"
    );
    assert!(
        markdown.contains("> &lt;img src=http://evil.example/x.png"),
        "a row is quoted, its HTML shown as text: {markdown}"
    );
    assert!(
        markdown.contains("````python\nprint('```')\n```\nfence\n````"),
        "a fence longer than any in the code: {markdown}"
    );
    assert!(markdown.contains("> Found it.\n> \n> Next: &lt;script>"), "{markdown}");
}

#[test]
fn a_transcript_for_people_holds_nothing_a_terminal_or_a_renderer_acts_on() {
    let mut bundle = sample();
    bundle.conversation[0].content =
        "see ![t](http://evil.example/t.png) \u{1b}[2J\u{1b}]52;c;aGk=\u{7} \u{9b}1m \u{202e}txt".into();
    bundle.cells[0].stdout = "\u{1b}[2Jcleared".into();
    let mut call = bundle.conversation[0].clone();
    call.role = "tool_call".into();
    // What a code block holds is shown as it is, never rendered.
    call.content = "{}".into();
    call.meta = json!({"tool": "run\u{1b}]52;c;aGk=\u{7}![t](http://evil.example/t.png)\u{8}"});
    bundle.conversation.push(call);
    let markdown = crate::readable::markdown(&bundle);
    for absent in ["\u{1b}", "\u{7}", "\u{8}", "\u{9b}", "\u{202e}", "![t]("] {
        assert!(!markdown.contains(absent), "{absent:?} in:\n{markdown}");
    }
    let html = crate::readable::html(&bundle);
    assert!(!html.contains('\u{202e}'), "{html}");
    assert!(markdown.contains("!\\[t\\](http://evil.example/t.png)"), "{markdown}");
    assert!(markdown.contains("\u{fffd}[2Jcleared"), "{markdown}");
}

#[test]
fn a_text_over_the_limit_is_refused_by_its_place_while_it_streams() {
    let text = "x".repeat(MAX_TEXT + 1);
    for file in [
        json!({"version": "0.1", "session": {"conversation_history": [
            {"ts": "t", "turn": 1, "role": "user", "content": text}]}}),
        json!({"version": "0.1", "session": {"conversation_history": [
            {"ts": text, "turn": 1, "role": "user", "content": "hi"}]}}),
    ] {
        let bytes = serde_json::to_vec(&file).unwrap();
        let mut rows = Bundle::default();
        let source = std::io::BufReader::with_capacity(64 * 1024, Cursor::new(&bytes));
        let refused = read_from(source, &mut rows, local_sha256).unwrap_err().0;
        assert_eq!(
            refused,
            "session.conversation_history[0]: a text over the 8.0 MiB limit"
        );
    }
    // Escapes decode to fewer bytes than they take: a text of 8 MiB in
    // `\n` escapes is within the limit, though 16 MiB in the file.
    let escaped = "\n".repeat(MAX_TEXT);
    let file = json!({"version": "0.1", "session": {"conversation_history": [
        {"ts": "t", "turn": 1, "role": "user", "content": escaped}]}});
    let bytes = serde_json::to_vec(&file).unwrap();
    let mut rows = Bundle::default();
    let source = std::io::BufReader::with_capacity(64 * 1024, Cursor::new(&bytes));
    read_from(source, &mut rows, local_sha256).unwrap();
    assert_eq!(rows.conversation[0].content.len(), MAX_TEXT);
}

#[test]
fn a_row_long_outside_its_texts_is_refused_at_the_row_limit() {
    // Whitespace and numbers are not texts, but they are the row's bytes.
    let row = |padding: &str| {
        format!(
            r#"{{"version":"0.1","session":{{"conversation_history":[{{"ts":"t","turn":1,"role":"user","content":"hi"{padding}}}]}}}}"#
        )
    };
    let spaces = " ".repeat(20 << 20);
    let number = format!(r#","n":{}"#, "9".repeat(20 << 20));
    for padding in [spaces, number] {
        let bytes = row(&padding).into_bytes();
        let source = std::io::BufReader::with_capacity(64 * 1024, Cursor::new(&bytes));
        let refused = read_from(source, &mut Bundle::default(), local_sha256).unwrap_err().0;
        assert_eq!(
            refused,
            "session.conversation_history[0]: a row over the 17.0 MiB limit"
        );
    }
}

#[test]
fn texts_of_control_characters_at_the_limits_read_back_in_both_formats() {
    // Each such character is six bytes in the file (`\u0001`): a row is
    // held to what it decodes to, so anton reads back what it wrote.
    let controls = |n: usize| "\u{1}\u{1f}\u{7f}".repeat(n / 3);
    let mut bundle = sample();
    bundle.conversation[1].content = controls(MAX_TEXT - 2);
    bundle.cells[0].code = controls(MAX_TEXT / 2);
    bundle.cells[0].stdout = controls(MAX_TEXT / 2);
    for (format, bytes) in [(Format::V1, write_v1(&bundle)), (Format::V01, write_v01(&bundle))] {
        // Through a buffer as small as the plugin's, so long rows stream and are counted.
        let source = std::io::BufReader::with_capacity(64 * 1024, Cursor::new(&bytes));
        let mut back = Bundle::default();
        let (_, read_as) = read_from(source, &mut back, local_sha256).unwrap_or_else(|e| panic!("{format:?}: {}", e.0));
        assert_eq!(read_as, format);
        assert_eq!(back.conversation[1].content, bundle.conversation[1].content);
        assert_eq!(back.cells, bundle.cells);
    }
}

#[test]
fn an_object_of_endless_keys_is_refused_at_its_limit() {
    let mut file = String::from(r#"{"version":"0.1""#);
    for i in 0..2_000 {
        file.push_str(&format!(r#","k{i}":0"#));
    }
    file.push('}');
    assert_eq!(
        read(file.as_bytes()).unwrap_err().0,
        "an object with more than 1024 keys"
    );
}

#[test]
fn a_reference_file_may_begin_with_a_byte_order_mark() {
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    bytes.extend(write_v01(&sample()));
    let (bundle, format) = read(&bytes).unwrap();
    assert_eq!((format, bundle.conversation), (Format::V01, sample().conversation));
}

#[test]
fn every_ascii_character_at_every_offset_is_escaped_as_serde_json_escapes_it() {
    let ascii: String = (0u8..=127).map(char::from).collect();
    for offset in 0..9 {
        let text = format!("{}{ascii}é{ascii}", "a".repeat(offset));
        let mut ours = Vec::new();
        crate::episode_json::write_json_string(&mut ours, &text).unwrap();
        assert_eq!(ours, serde_json::to_vec(&text).unwrap(), "offset {offset}");
    }
}

// ---------------------------------------------------------------- what is written reads back

mod round_trips {
    use proptest::prelude::*;

    use super::*;

    /// Any text: most short and anything at all (controls, quotes,
    /// backslashes, any script), some a piece repeated many times.
    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            9 => "(?s).{0,40}",
            1 => ("[\\PC\"\\\\\n\t\u{1}-\u{1f}]{1,4}", 1usize..5_000).prop_map(|(piece, n)| piece.repeat(n)),
        ]
    }

    /// One text longer than a reader gathers in memory before it streams.
    fn huge() -> impl Strategy<Value = String> {
        ("[\\PC\"\\\\\u{1}]{1,3}", 1_100_000usize..1_300_000)
            .prop_map(|(piece, bytes)| piece.repeat(bytes / piece.len() + 1))
    }

    fn episode() -> impl Strategy<Value = Episode> {
        (
            "(?s).{0,30}",
            0..=MAX_TURN,
            prop::sample::select(checks::ROLES.to_vec()),
            text(),
            prop::collection::btree_map("[a-z_]{1,8}", "(?s).{0,20}", 0..3),
        )
            .prop_map(|(ts, turn, role, content, meta)| Episode {
                ts,
                session: "20261124_010000_ab12".into(),
                turn,
                role: role.into(),
                content,
                meta: json!(meta),
            })
    }

    fn memory() -> impl Strategy<Value = Memory> {
        (
            text(),
            prop::sample::select(checks::MEMORY_KINDS.to_vec()),
            "(?s).{0,20}",
        )
            .prop_map(|(content, kind, topic)| Memory {
                content,
                kind: kind.into(),
                topic,
            })
    }

    fn cell() -> impl Strategy<Value = Cell> {
        (
            "(?s).{0,10}",
            text(),
            text(),
            "(?s).{0,30}",
            prop::option::of(text()),
            "(?s).{0,30}",
        )
            .prop_map(|(pad, code, stdout, stderr, error, description)| Cell {
                pad,
                code,
                stdout,
                stderr,
                error,
                description,
            })
    }

    fn bundle() -> impl Strategy<Value = Bundle> {
        (
            (
                "(?s).{0,30}",
                "(?s).{0,40}",
                text(),
                text(),
                any::<bool>(),
                prop::option::weighted(0.3, huge()),
                prop::option::of("[0-9a-z_]{1,30}"),
            ),
            prop::collection::vec(episode(), 0..30),
            prop::collection::vec(memory(), 0..4),
            prop::collection::vec(memory(), 0..4),
            prop::collection::vec(cell(), 0..60),
            prop::collection::btree_map("[a-z ]{1,12}", 0..1000u64, 0..3),
        )
            .prop_map(
                |(
                    (exported_by, session_id, title, summary, summary_only, huge, forked_from),
                    mut conversation,
                    born,
                    used,
                    mut cells,
                    redactions,
                )| {
                    match (huge, conversation.first_mut(), cells.first_mut()) {
                        (Some(huge), Some(first), _) => first.content = huge,
                        (Some(huge), None, Some(first)) => first.stdout = huge,
                        _ => {}
                    }
                    Bundle {
                        exported_by,
                        exported_at: "2026-11-24T01:00:00.123Z".into(),
                        anton_version: "0.1.0".into(),
                        session_id,
                        title,
                        summary,
                        summary_only,
                        conversation,
                        session_born: born,
                        project_accessed: used,
                        cells,
                        redactions,
                        imported: None,
                        forked_from,
                    }
                },
            )
    }

    /// What a reference file carries of a bundle: no redaction report, no
    /// anton version, no parent, and `summary_only` is having no conversation.
    fn as_v01(bundle: &Bundle) -> Bundle {
        Bundle {
            anton_version: String::new(),
            redactions: BTreeMap::new(),
            forked_from: None,
            summary_only: bundle.conversation.is_empty(),
            ..bundle.clone()
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

        #[test]
        fn a_message_is_written_as_serde_json_writes_it_compact_and_pretty(episode in episode(), nested in "(?s).{0,20}") {
            let mut episode = episode;
            if !nested.is_empty() {
                episode.meta["nested"] = json!({"deeper": [nested, {}, []], "empty": {}});
            }
            for pretty in [false, true] {
                let mut ours = Vec::new();
                crate::episode_json::write_episode(&mut ours, &episode, pretty).unwrap();
                let theirs = if pretty { serde_json::to_vec_pretty(&episode) } else { serde_json::to_vec(&episode) }.unwrap();
                prop_assert_eq!(String::from_utf8(ours).unwrap(), String::from_utf8(theirs).unwrap());
            }
        }

        #[test]
        fn every_bundle_reads_back_equal_in_both_formats_through_any_buffer(bundle in bundle(), buffer in 7usize..5_000) {
            for (bytes, expected) in [(write_v1(&bundle), bundle.clone()), (write_v01(&bundle), as_v01(&bundle))] {
                let (whole, _) = read(&bytes).map_err(|e| TestCaseError::fail(e.0))?;
                prop_assert_eq!(&whole, &expected);
                // The same file read a few bytes at a time: every boundary falls somewhere.
                let mut pieces = Bundle::default();
                let source = std::io::BufReader::with_capacity(buffer, Cursor::new(&bytes));
                let (head, _) = read_from(source, &mut pieces, local_sha256).map_err(|e| TestCaseError::fail(e.0))?;
                prop_assert_eq!(head, expected.head());
                prop_assert_eq!(pieces.conversation, expected.conversation);
                prop_assert_eq!(pieces.cells, expected.cells);
                prop_assert_eq!(pieces.session_born, expected.session_born);
            }
        }
    }
}
