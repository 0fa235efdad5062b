//! The reference Anton's format 0.1: one pretty-printed JSON object. Read
//! as it streams (a message at a time), written the same way, in the
//! reference's key order.

use std::collections::BTreeMap;
use std::io::{self, BufRead, Write};

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::json::Json;
use crate::{Cell, Episode, FormatError, Head, Imported, Memory, SessionWriter, Sink, bad, checks, quote};

/// A title or summary: text, no longer than any text a file may hold.
struct Text(String);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        checks::text(deserializer).map(Text)
    }
}

pub(crate) fn read<R: BufRead>(source: R, sink: &mut dyn Sink) -> Result<Head, FormatError> {
    let mut json = Json::new(source, "");
    let mut head = Head::default();
    let (mut version, mut session, mut rows) = (false, false, 0u64);
    json.object(|json, key| match key {
        "version" => {
            let value: Value = json.value()?;
            match value.as_str() {
                Some("0.1") => {
                    version = true;
                    Ok(())
                }
                Some(other) => Err(bad(format!(
                    "unsupported .anton version {}; this anton reads 0.1 and its own format 1",
                    quote(other)
                ))),
                None => Err(no_version()),
            }
        }
        "exported_by" => {
            head.exported_by = json.value()?;
            Ok(())
        }
        "exported_at" => {
            head.exported_at = json.value()?;
            Ok(())
        }
        "imported" => {
            head.imported = json.value()?;
            Ok(())
        }
        "session" => {
            session = true;
            json.object(|json, key| match key {
                "id" => {
                    head.session_id = json.value()?;
                    Ok(())
                }
                "title" => {
                    head.title = json.value::<Text>()?.0;
                    Ok(())
                }
                "summary" => {
                    head.summary = json.value::<Text>()?.0;
                    Ok(())
                }
                "conversation_history" => json.array(|json| {
                    let episode = json.value()?;
                    rows += 1;
                    sink.episode(episode).map_err(bad)
                }),
                _ => json.skip(),
            })
        }
        "memory" => json.object(|json, key| {
            let born = match key {
                "session_born" => true,
                "project_accessed" => false,
                _ => return json.skip(),
            };
            json.array(|json| {
                let memory = json.value()?;
                sink.memory(memory, born).map_err(bad)
            })
        }),
        "scratchpad" => json.object(|json, key| match key {
            "cells" => json.array(|json| {
                let cell = json.value()?;
                sink.cell(cell).map_err(bad)
            }),
            _ => json.skip(),
        }),
        _ => json.skip(),
    })?;
    json.end()?;
    if !version {
        return Err(no_version());
    }
    if !session {
        return Err(bad("session: missing"));
    }
    head.summary_only = rows == 0;
    Ok(head)
}

fn no_version() -> FormatError {
    bad("not a .anton file: the JSON has no \"version\"")
}

/// Where the writer is, for the brackets it owes.
#[derive(PartialEq)]
enum Stage {
    /// No message yet.
    Started,
    Conversation,
    Cells,
}

/// A 0.1 file, written as rows come: episodes, then cells, then
/// [`SessionWriter::finish`].
pub struct V01Writer<W: Write> {
    out: W,
    stage: Stage,
    imported: Option<Imported>,
    memory: String,
}

/// Each row sits this deep: in the root, in `session` (or `scratchpad`), in its list.
const ROW_INDENT: &[u8] = b"      ";

impl<W: Write> V01Writer<W> {
    pub fn new(mut out: W, head: &Head, session_born: &[Memory], project_accessed: &[Memory]) -> io::Result<Self> {
        let text = |value: &str| serde_json::to_string(value).expect("text serialises");
        write!(
            out,
            "{{\n  \"version\": \"0.1\",\n  \"exported_by\": {},\n  \"exported_at\": {},\n  \"session\": {{\n    \"id\": {},\n    \"title\": {},\n    \"summary\": {},\n    \"conversation_history\": [",
            text(&head.exported_by),
            text(&head.exported_at),
            text(&head.session_id),
            text(&head.title),
            text(&head.summary)
        )?;
        #[derive(Serialize)]
        struct OutMemory<'a> {
            session_born: &'a [Memory],
            project_accessed: &'a [Memory],
        }
        let memory = OutMemory {
            session_born,
            project_accessed,
        };
        Ok(V01Writer {
            out,
            stage: Stage::Started,
            imported: head.imported.clone(),
            memory: indented(&memory)?,
        })
    }

    /// One row, pretty-printed at its depth by `write`, after a comma when it is not the first.
    fn row(&mut self, first: bool, write: impl FnOnce(&mut Indenting<'_, W>) -> io::Result<()>) -> io::Result<()> {
        self.out.write_all(if first { b"\n" } else { b",\n" })?;
        self.out.write_all(ROW_INDENT)?;
        write(&mut Indenting { out: &mut self.out })
    }

    /// Close the conversation, write the memories, open the cells.
    fn begin_cells(&mut self) -> io::Result<()> {
        let close = if self.stage == Stage::Started { "]" } else { "\n    ]" };
        write!(
            self.out,
            "{close}\n  }},\n  \"memory\": {},\n  \"scratchpad\": {{\n    \"cells\": [",
            self.memory
        )?;
        self.stage = Stage::Cells;
        Ok(())
    }
}

impl<W: Write> SessionWriter<W> for V01Writer<W> {
    fn episode(&mut self, episode: &Episode) -> io::Result<()> {
        let first = match self.stage {
            Stage::Started => true,
            Stage::Conversation => false,
            Stage::Cells => return Err(io::Error::other("a message after the cells")),
        };
        self.stage = Stage::Conversation;
        self.row(first, |out| crate::episode_json::write_episode(out, episode, true))
    }

    fn cell(&mut self, cell: &Cell) -> io::Result<()> {
        let first = self.stage != Stage::Cells;
        if first {
            self.begin_cells()?;
        }
        self.row(first, |out| Ok(serde_json::to_writer_pretty(out, cell)?))
    }

    fn finish(mut self: Box<Self>, _redactions: &BTreeMap<String, u64>) -> io::Result<W> {
        let no_cells = self.stage != Stage::Cells;
        if no_cells {
            self.begin_cells()?;
            self.out.write_all(b"]\n  }")?;
        } else {
            self.out.write_all(b"\n    ]\n  }")?;
        }
        if let Some(imported) = &self.imported {
            write!(self.out, ",\n  \"imported\": {}", indented(imported)?)?;
        }
        self.out.write_all(b"\n}")?;
        Ok(self.out)
    }
}

/// `value` pretty-printed as a field of the root: its later lines one level in.
fn indented(value: &impl Serialize) -> io::Result<String> {
    Ok(serde_json::to_string_pretty(value)?.replace('\n', "\n  "))
}

/// Pretty JSON one level of rows deep: every line after the first starts
/// with [`ROW_INDENT`]. A newline is never inside a JSON string (it is
/// escaped there), so each one is a line of the layout.
struct Indenting<'a, W> {
    out: &'a mut W,
}

impl<W: Write> Write for Indenting<'_, W> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let mut rest = bytes;
        while let Some(at) = memchr::memchr(b'\n', rest) {
            self.out.write_all(&rest[..=at])?;
            self.out.write_all(ROW_INDENT)?;
            rest = &rest[at + 1..];
        }
        self.out.write_all(rest)?;
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}
