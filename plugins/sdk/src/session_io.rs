//! Sessions of any size, a page at a time (`anton:plugin@0.2.0`): read one
//! out, build one in. Reading needs the `sessions-read` capability, the rest
//! `sessions-write`.

use crate::bindings::anton::plugin0_2_0::session_io as host;
use crate::storage::{Cell, MemoryRecord, NewMessage, RedactionCount};
use crate::{HostError, Message, Provenance, Session};

/// The text one page carries: little next to a plugin's memory, enough
/// that a long session takes few calls. A longer single text comes alone.
pub const PAGE_BYTES: u32 = 1 << 20;

/// A reader the host pages out.
pub trait PageSource {
    type Item;
    fn next_page(&self, max_bytes: u32) -> Result<Vec<Self::Item>, HostError>;
    fn redactions(&self) -> Vec<RedactionCount>;
}

impl PageSource for host::MessageReader {
    type Item = Message;
    fn next_page(&self, max_bytes: u32) -> Result<Vec<Message>, HostError> {
        host::MessageReader::next_page(self, max_bytes)
    }
    fn redactions(&self) -> Vec<RedactionCount> {
        host::MessageReader::redactions(self)
    }
}

impl PageSource for host::CellReader {
    type Item = Cell;
    fn next_page(&self, max_bytes: u32) -> Result<Vec<Cell>, HostError> {
        host::CellReader::next_page(self, max_bytes)
    }
    fn redactions(&self) -> Vec<RedactionCount> {
        host::CellReader::redactions(self)
    }
}

/// Pages of a session's messages or cells, in order, until the end; an
/// error ends them.
pub struct Pages<R: PageSource> {
    reader: R,
    done: bool,
}

impl<R: PageSource> Pages<R> {
    /// What redaction replaced in the pages so far, by kind.
    pub fn redactions(&self) -> Vec<RedactionCount> {
        self.reader.redactions()
    }
}

impl<R: PageSource> Iterator for Pages<R> {
    type Item = Result<Vec<R::Item>, HostError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let page = self.reader.next_page(PAGE_BYTES);
        self.done = !matches!(&page, Ok(rows) if !rows.is_empty());
        match page {
            Ok(rows) if rows.is_empty() => None,
            page => Some(page),
        }
    }
}

pub type Messages = Pages<host::MessageReader>;
pub type Cells = Pages<host::CellReader>;

/// A session's messages in order. With `redact`, every text passes the
/// host's redaction on its way out, counted in [`Pages::redactions`].
pub fn messages(session_id: &str, redact: bool) -> Result<Messages, HostError> {
    Ok(Pages {
        reader: host::read_messages(session_id, redact)?,
        done: false,
    })
}

/// A session's scratchpad cells in order, as [`messages`].
pub fn cells(session_id: &str, redact: bool) -> Result<Cells, HostError> {
    Ok(Pages {
        reader: host::read_cells(session_id, redact)?,
        done: false,
    })
}

/// The latest `limit` messages, oldest first, each content cut to at most
/// `max_chars` characters: enough to name a session of any size.
pub fn recent_messages(session_id: &str, limit: u32, max_chars: u32) -> Result<Vec<Message>, HostError> {
    host::recent_messages(session_id, limit, max_chars)
}

/// A new session made from parts. Nothing of it is seen until
/// [`SessionBuilder::commit`]; dropped before, it leaves nothing behind.
pub struct SessionBuilder(host::SessionBuilder);

/// Start a session from the file whose bytes hash to `file_sha256` (if it
/// came from one); refused when that file was imported before and the user
/// wants no other copy.
pub fn build_session(file_sha256: Option<&str>) -> Result<SessionBuilder, HostError> {
    host::build_session(file_sha256).map(SessionBuilder)
}

impl SessionBuilder {
    pub fn add_messages(&self, messages: &[NewMessage]) -> Result<(), HostError> {
        self.0.add_messages(messages)
    }

    pub fn add_cells(&self, cells: &[Cell]) -> Result<(), HostError> {
        self.0.add_cells(cells)
    }

    pub fn add_memories(&self, memories: &[MemoryRecord]) -> Result<(), HostError> {
        self.0.add_memories(memories)
    }

    /// Land the session with where it came from; its memories reach the
    /// workspace's memory files only on the user's yes.
    pub fn commit(self, title: &str, summary: &str, provenance: &Provenance) -> Result<Session, HostError> {
        self.0.commit(title, summary, provenance)
    }
}

/// Keep the summary an export brought up to date.
pub fn set_summary(session_id: &str, summary: &str) -> Result<(), HostError> {
    host::set_summary(session_id, summary)
}

/// A new session with `session_id`'s history up to turn `at_turn` (all of
/// it when `None`), titled `title` (the parent's when `None`).
pub fn fork_session(session_id: &str, at_turn: Option<u32>, title: Option<&str>) -> Result<Session, HostError> {
    host::fork_session(session_id, at_turn, title)
}
