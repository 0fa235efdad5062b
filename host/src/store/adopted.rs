//! Sessions adopted from the reference Anton's episode logs: how far each
//! log was read, and what is new in it, written in one transaction.

use std::collections::HashMap;

use rusqlite::{OptionalExtension, params};

use super::{Cell, NewMessage, Result, SessionMemory, Store, schema};

/// A file as a stat saw it: what tells that it changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileState {
    pub size: u64,
    pub modified_ns: i64,
}

/// What the store knows of one adopted log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adopted {
    pub log: FileState,
    /// Bytes of the log read: whole lines only.
    pub read_to: u64,
    pub history: Option<FileState>,
}

/// What is new in one log since it was last read.
#[derive(Debug, Default)]
pub struct Adoption {
    pub session_id: String,
    /// When the first episode was logged (a new session starts then).
    pub started_at: i64,
    pub messages: Vec<NewMessage>,
    pub memories: Vec<SessionMemory>,
    pub cells: Vec<Cell>,
    pub log: Option<FileState>,
    /// Where this reading started: what the store must still hold as read,
    /// or another anton adopted these lines meanwhile.
    pub read_from: u64,
    pub read_to: u64,
    /// Lines that were not episodes.
    pub skipped: u64,
    /// The `_history.json` looked at anew: its state (none when it is gone
    /// or not private), and its text when it is a list of messages.
    pub history: Option<(Option<FileState>, Option<String>)>,
}

fn state(size: i64, modified_ns: i64) -> FileState {
    FileState {
        size: size.max(0) as u64,
        modified_ns,
    }
}

impl Store {
    /// Every adopted log by session id; none on a store older than adoption.
    pub fn adopted(&self) -> Result<HashMap<String, Adopted>> {
        if self.schema < schema::REFERENCE_SESSIONS {
            return Ok(HashMap::new());
        }
        let rows = self.all(
            "SELECT session_id, log_size, log_modified, read_to, history_size, history_modified FROM reference_sessions",
            [],
            |r| {
                let history: (Option<i64>, Option<i64>) = (r.get(4)?, r.get(5)?);
                Ok((
                    r.get::<_, String>(0)?,
                    Adopted {
                        log: state(r.get(1)?, r.get(2)?),
                        read_to: r.get::<_, i64>(3)?.max(0) as u64,
                        history: match history {
                            (Some(size), Some(modified)) => Some(state(size, modified)),
                            _ => None,
                        },
                    },
                ))
            },
        )?;
        Ok(rows.into_iter().collect())
    }

    /// The reference's own model context for an adopted session, and
    /// whether the user accepted it as the model's own.
    pub fn reference_context(&self, session_id: &str) -> Result<Option<(String, bool)>> {
        if self.schema < schema::REFERENCE_SESSIONS {
            return Ok(None);
        }
        self.conn
            .query_row(
                "SELECT context, context_accepted FROM reference_sessions WHERE session_id = ?1 AND context IS NOT NULL",
                [session_id],
                |r| Ok((r.get(0)?, r.get::<_, i64>(1)? != 0)),
            )
            .optional()
            .map_err(|e| self.fail(e))
    }

    /// The episodes folder's mtime when it was last looked through.
    pub fn reference_folder(&self) -> Result<Option<i64>> {
        if self.schema < schema::REFERENCE_SESSIONS {
            return Ok(None);
        }
        self.conn
            .query_row("SELECT modified FROM reference_folder", [], |r| r.get(0))
            .optional()
            .map_err(|e| self.fail(e))
    }

    pub fn set_reference_folder(&self, modified: i64) -> Result<()> {
        self.transaction(|w| {
            w.conn.execute("DELETE FROM reference_folder", [])?;
            w.conn
                .execute("INSERT INTO reference_folder (modified) VALUES (?1)", [modified])?;
            Ok(())
        })
    }

    /// The user's yes: this session's saved context is the model's own.
    pub fn accept_reference_context(&self, session_id: &str) -> Result<()> {
        self.transaction(|w| {
            w.conn.execute(
                "UPDATE reference_sessions SET context_accepted = 1 WHERE session_id = ?1",
                [session_id],
            )?;
            Ok(())
        })
    }

    /// What is new in one log, with how far it is now read, in one
    /// transaction: a log is never half adopted. Returns whether the
    /// session was new; a session of that id that anton did not adopt is
    /// left alone (`Ok(None)`).
    pub fn adopt(&self, adoption: &Adoption) -> Result<Option<bool>> {
        let id = &adoption.session_id;
        self.transaction(|w| {
            let read_to: Option<i64> = w
                .conn
                .query_row("SELECT read_to FROM reference_sessions WHERE session_id = ?1", [id], |r| r.get(0))
                .optional()?;
            // Another anton read these lines first: they are stored once.
            if read_to.unwrap_or(0) as u64 != adoption.read_from {
                return Ok(Some(false));
            }
            let new = read_to.is_none();
            if new {
                let inserted = w.conn.execute(
                    "INSERT OR IGNORE INTO sessions (id, created_at, updated_at, workspace) VALUES (?1, ?2, ?2, ?3)",
                    params![id, adoption.started_at, w.workspace],
                )?;
                if inserted == 0 {
                    return Ok(None);
                }
                w.conn.execute(
                    "INSERT INTO reference_sessions (session_id, log_size, log_modified, read_to) VALUES (?1, 0, 0, 0)",
                    [id],
                )?;
            }
            if !adoption.messages.is_empty() {
                w.append_messages(id, &adoption.messages)?;
                w.conn.execute(
                    "UPDATE sessions SET title = ?2 WHERE id = ?1 AND title = ''",
                    params![id, anton_share_format::naming::heuristic(&first_question(w, id)?)],
                )?;
            }
            for memory in &adoption.memories {
                w.record_memory(id, memory)?;
            }
            for cell in &adoption.cells {
                w.add_cell(id, cell)?;
            }
            if let Some(log) = adoption.log {
                w.conn.execute(
                    "UPDATE reference_sessions SET log_size = ?2, log_modified = ?3, read_to = ?4, skipped = skipped + ?5
                     WHERE session_id = ?1",
                    params![id, log.size as i64, log.modified_ns, adoption.read_to as i64, adoption.skipped as i64],
                )?;
            }
            if let Some((history, context)) = &adoption.history {
                // Scrubbed as JSON: an escape (`\n`, `\u0041`) hides a
                // secret from a scrub of the raw text.
                let context = context
                    .as_deref()
                    .map(|c| w.scrubber.scrub_json_text(c, &mut Default::default()));
                w.conn.execute(
                    "UPDATE reference_sessions SET history_size = ?2, history_modified = ?3, context = ?4,
                         context_accepted = 0 WHERE session_id = ?1",
                    params![
                        id,
                        history.map(|h| h.size as i64),
                        history.map(|h| h.modified_ns),
                        context
                    ],
                )?;
            }
            Ok(Some(new))
        })
    }
}

fn first_question(w: &super::Writer, id: &str) -> rusqlite::Result<String> {
    w.conn
        .query_row("SELECT task FROM sessions WHERE id = ?1", [id], |r| r.get(0))
}
