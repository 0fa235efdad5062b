//! A message as serde_json writes it, compact or pretty, byte for byte, but
//! with its content (most of a file) escaped a word at a time: serde_json
//! looks at every byte of a text, which was a tenth of a large export.

use std::io::{self, Write};

use crate::Episode;

/// `episode` as `serde_json::to_writer` (or `to_writer_pretty`) writes it.
pub(crate) fn write_episode(out: &mut impl Write, episode: &Episode, pretty: bool) -> io::Result<()> {
    let (open, gap, close) = if pretty {
        ("{\n  ", ",\n  ", "\n}")
    } else {
        ("{", ",", "}")
    };
    let colon: &[u8] = if pretty { b": " } else { b":" };
    let key = |out: &mut dyn Write, before: &str, name: &str| -> io::Result<()> {
        out.write_all(before.as_bytes())?;
        out.write_all(b"\"")?;
        out.write_all(name.as_bytes())?;
        out.write_all(b"\"")?;
        out.write_all(colon)
    };
    key(out, open, "ts")?;
    write_json_string(out, &episode.ts)?;
    key(out, gap, "session")?;
    write_json_string(out, &episode.session)?;
    key(out, gap, "turn")?;
    write!(out, "{}", episode.turn)?;
    key(out, gap, "role")?;
    write_json_string(out, &episode.role)?;
    key(out, gap, "content")?;
    write_json_string(out, &episode.content)?;
    key(out, gap, "meta")?;
    if pretty {
        // One level in; a newline is never inside a JSON string.
        let meta = serde_json::to_string_pretty(&episode.meta)?;
        out.write_all(meta.replace('\n', "\n  ").as_bytes())?;
    } else {
        serde_json::to_writer(&mut *out, &episode.meta)?;
    }
    out.write_all(close.as_bytes())
}

/// `text` as a JSON string, escaped as serde_json escapes it.
pub(crate) fn write_json_string(out: &mut (impl Write + ?Sized), text: &str) -> io::Result<()> {
    let bytes = text.as_bytes();
    out.write_all(b"\"")?;
    let (mut start, mut at) = (0, 0);
    while at < bytes.len() {
        while let Some(word) = bytes.get(at..at + 8) {
            if needs_escape(u64::from_le_bytes(word.try_into().expect("eight bytes"))) {
                break;
            }
            at += 8;
        }
        let Some(&byte) = bytes.get(at) else {
            break;
        };
        at += 1;
        let escaped: &[u8] = match byte {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0x00..=0x1f => {
                out.write_all(&bytes[start..at - 1])?;
                write!(out, "\\u{byte:04x}")?;
                start = at;
                continue;
            }
            _ => continue,
        };
        out.write_all(&bytes[start..at - 1])?;
        out.write_all(escaped)?;
        start = at;
    }
    out.write_all(&bytes[start..])?;
    out.write_all(b"\"")
}

/// Whether any of eight bytes is a control character, a quote or a
/// backslash (exact as a whole, if not byte by byte).
fn needs_escape(word: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let below = |v: u64, n: u64| v.wrapping_sub(ONES * n) & !v & HIGHS;
    let quote = word ^ (ONES * u64::from(b'"'));
    let backslash = word ^ (ONES * u64::from(b'\\'));
    (below(word, 0x20) | below(quote, 1) | below(backslash, 1)) != 0
}
