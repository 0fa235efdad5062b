//! The one place the chat writes a session's rows. A write the store
//! refuses (a lock held past the busy timeout, a full disk) is never
//! dropped: it waits in order and is tried again before the next write and
//! when the chat ends; what still cannot be stored then is saved beside the
//! store as a rescue file, and the user is told where.

use std::collections::VecDeque;
use std::path::PathBuf;

use std::sync::Arc;

use serde::Serialize;

use crate::services::Services;
use crate::store::{self, Cell, SessionMemory, Status, Store};

/// One write the chat owes the store, with the time it happened.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "write", rename_all = "snake_case")]
pub enum Record {
    Message {
        session: String,
        turn: u32,
        role: String,
        content: String,
        meta: String,
        at: i64,
    },
    Title {
        session: String,
        title: String,
        /// Typed by the user (`/rename`): no automatic title replaces it.
        by_user: bool,
    },
    Summary {
        session: String,
        summary: String,
    },
    Memory {
        session: String,
        memory: SessionMemory,
    },
    Cell {
        session: String,
        cell: Cell,
    },
    Release {
        session: String,
        status: &'static str,
    },
}

impl Record {
    fn apply(&self, store: &Store) -> store::Result<()> {
        match self {
            Record::Message {
                session,
                turn,
                role,
                content,
                meta,
                at,
            } => store
                .append_message(session, *turn, role, content, meta, Some(*at))
                .map(drop),
            Record::Title {
                session,
                title,
                by_user,
            } => store.set_title(session, title, *by_user),
            Record::Summary { session, summary } => store.set_summary(session, summary),
            Record::Memory { session, memory } => store.record_memory(session, memory),
            Record::Cell { session, cell } => store.add_cell(session, cell).map(drop),
            Record::Release { session, status } => {
                let status = Status::ALL
                    .into_iter()
                    .find(|s| s.as_str() == *status)
                    .unwrap_or(Status::Idle);
                store.release(session, status)
            }
        }
    }

    pub fn message(session: &str, turn: u32, role: &str, content: &str, meta: &str) -> Record {
        Record::Message {
            session: session.into(),
            turn,
            role: role.into(),
            content: content.into(),
            meta: meta.into(),
            at: store::now_ms(),
        }
    }

    pub fn cell(session: &str, cell: Cell) -> Record {
        Record::Cell {
            session: session.into(),
            cell,
        }
    }

    pub fn memory(session: &str, memory: &SessionMemory) -> Record {
        Record::Memory {
            session: session.into(),
            memory: memory.clone(),
        }
    }
}

pub struct Journal {
    services: Arc<Services>,
    pending: VecDeque<Record>,
    /// Whether the user has been told that writes are waiting.
    warned: bool,
}

impl Journal {
    pub fn new(services: Arc<Services>) -> Journal {
        Journal {
            services,
            pending: VecDeque::new(),
            warned: false,
        }
    }

    /// Run `f` on the store now: for reads, and for the writes whose answer
    /// the chat needs before it goes on (a claim, a new session). The rows
    /// of a conversation go through [`Journal::write`].
    pub fn with_store<R>(&self, f: impl FnOnce(&Store) -> store::Result<R>) -> store::Result<R> {
        self.services.write_store(f)
    }

    /// Store `write` after everything still waiting, in order. A refusal is
    /// reported once and the write kept for the next try.
    pub fn write(&mut self, record: Record) {
        self.pending.push_back(record);
        self.flush();
    }

    /// Try every waiting write, in order, until one is refused.
    pub fn flush(&mut self) -> bool {
        while let Some(next) = self.pending.front() {
            match self.services.write_store(|s| next.apply(s)) {
                Ok(()) => {
                    self.pending.pop_front();
                }
                Err(error) => {
                    if !self.warned {
                        let said = crate::terminal::sanitize_line(&error.to_string());
                        if error.is_damaged() {
                            println!("warning: {said}; anton keeps what was said in this chat");
                        } else {
                            println!(
                                "warning: could not save to the session store ({said}); \
                                 anton keeps what was said and tries again with the next message"
                            );
                        }
                        self.warned = true;
                    }
                    return false;
                }
            }
        }
        if self.warned {
            println!("Saved everything that was waiting for the session store.");
            self.warned = false;
        }
        true
    }

    /// The chat is ending: a last try, then a rescue file for what the store
    /// still refuses, so nothing said is lost.
    pub fn finish(&mut self, rescue_dir: &std::path::Path) {
        if self.pending.is_empty() || self.flush() {
            return;
        }
        match self.rescue(rescue_dir) {
            Ok(file) => println!(
                "warning: {} could not reach the session store; saved in {}",
                crate::terminal::count(self.pending.len() as u64, "write"),
                file.display()
            ),
            Err(e) => println!(
                "error: {} could not reach the session store, nor a rescue file: {e}",
                crate::terminal::count(self.pending.len() as u64, "write")
            ),
        }
    }

    fn rescue(&self, dir: &std::path::Path) -> std::io::Result<PathBuf> {
        let file = dir.join(format!("unsaved-{}-{}.jsonl", std::process::id(), store::now_ms()));
        let mut text = String::new();
        for record in &self.pending {
            text.push_str(&serde_json::to_string(record).map_err(std::io::Error::other)?);
            text.push('\n');
        }
        crate::files::write_atomic_private(&file, text.as_bytes())?;
        Ok(file)
    }
}
