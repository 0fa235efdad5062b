//! A session made from parts over many calls (an import of any size), on a
//! connection of its own. Its rows land a part at a time, each part its own
//! transaction, so SQLite moves each into the database while the next is
//! read, not 200 MB at the end; the session's own row lands last, in
//! [`SessionBuild::commit`], so nothing shows it before. Dropped, a build
//! takes out what it landed; a build whose process died is taken out by the
//! next anton that opens the store to write.

use rusqlite::params;

use super::lease::{hostname, writer_is_alive};
use super::*;

/// Text landed in one transaction: about what SQLite's log holds before it
/// moves the log into the database (1000 pages of 16 KiB).
const PART_BYTES: usize = 16 << 20;

/// A build from another host (a shared folder) this old is taken out: its
/// pid cannot be checked from here, and no import takes a day.
const ABANDONED_AFTER_MS: i64 = 24 * 3600 * 1000;

/// What one built session may hold.
#[derive(Debug, Clone, Copy)]
pub struct BuildLimits {
    pub messages: u64,
    pub cells: u64,
    pub memories: u64,
    /// Every text together, in bytes.
    pub text_bytes: u64,
    /// The memories' texts together: lessons and rules are short, and an
    /// export holds all of a session's at once.
    pub memory_bytes: u64,
}

impl Default for BuildLimits {
    fn default() -> Self {
        BuildLimits {
            messages: 10_000_000,
            cells: 1_000_000,
            memories: anton_share_format::MAX_MEMORIES as u64,
            text_bytes: 4 << 30,
            memory_bytes: anton_share_format::MAX_MEMORY_BYTES as u64,
        }
    }
}

/// Why a part was refused: too much, or the store failed.
#[derive(Debug, Clone)]
pub enum BuildError {
    /// The part breaks a limit; the text says which.
    Refused(String),
    Store(StoreError),
}

impl std::fmt::Display for BuildError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BuildError::Refused(why) => f.write_str(why),
            BuildError::Store(e) => e.fmt(f),
        }
    }
}

impl From<StoreError> for BuildError {
    fn from(error: StoreError) -> Self {
        BuildError::Store(error)
    }
}

pub struct SessionBuild {
    store: Store,
    session_id: String,
    created_at: i64,
    limits: BuildLimits,
    held: BuildLimits,
    /// Counted as parts come: a count over a large session's rows at the
    /// end would read them all again.
    turns: u32,
    /// Text written in the part not landed yet.
    part_bytes: usize,
    landed: bool,
}

impl Store {
    /// Begin a session from outside on this connection, which the build
    /// then owns.
    pub fn build_session(self, limits: BuildLimits) -> Result<SessionBuild> {
        // A cache that holds a part's busy pages: a small one wrote them to
        // the log over and over as it spilled. The session's row comes
        // last, so its rows cannot name it as their foreign key yet.
        self.conn
            .execute_batch("PRAGMA cache_size = -32768; PRAGMA foreign_keys = OFF")
            .map_err(|e| self.fail(e))?;
        let created_at = now_ms();
        let session_id = self.transaction(|w| w.reserve_session_id(created_at))?;
        Ok(SessionBuild {
            store: self,
            session_id,
            created_at,
            limits,
            held: BuildLimits {
                messages: 0,
                cells: 0,
                memories: 0,
                text_bytes: 0,
                memory_bytes: 0,
            },
            turns: 0,
            part_bytes: 0,
            landed: false,
        })
    }

    /// Take out the builds whose process died.
    pub(super) fn sweep_dead_builds(&self) -> Result<()> {
        let builds = self.all(
            "SELECT session_id, writer_pid, writer_host, started_at FROM unlanded_sessions",
            [],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, u32>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                ))
            },
        )?;
        let now = now_ms();
        for (id, pid, host, started_at) in builds {
            let stale = host != hostname() && now - started_at > ABANDONED_AFTER_MS;
            if !writer_is_alive(pid, &host) || stale {
                self.transaction(|w| w.remove_unlanded(&id))?;
            }
        }
        Ok(())
    }
}

impl Writer<'_> {
    /// An id no session has, held for a build until it lands.
    fn reserve_session_id(&self, at: i64) -> rusqlite::Result<String> {
        for _ in 0..super::NEW_ID_DRAWS {
            let id = new_session_id(at);
            let reserved = self.conn.execute(
                "INSERT OR IGNORE INTO unlanded_sessions (session_id, writer_pid, writer_host, started_at)
                 SELECT ?1, ?2, ?3, ?4 WHERE NOT EXISTS (SELECT 1 FROM sessions WHERE id = ?1)",
                params![id, std::process::id(), hostname(), at],
            )?;
            if reserved == 1 {
                // A large import lands without waiting for the search index.
                self.defer_indexing(&id)?;
                return Ok(id);
            }
        }
        Err(super::kept_out_by_a_foreign_rule())
    }

    /// Everything a build that did not land wrote.
    fn remove_unlanded(&self, session_id: &str) -> rusqlite::Result<()> {
        // The messages go while the session is still listed as unindexed,
        // so the index, which never had them, is left alone.
        for table in ["messages", "cells", "session_memories"] {
            self.conn
                .execute(&format!("DELETE FROM {table} WHERE session_id = ?1"), [session_id])?;
        }
        self.conn
            .execute("DELETE FROM unindexed_sessions WHERE session_id = ?1", [session_id])?;
        self.conn
            .execute("DELETE FROM unlanded_sessions WHERE session_id = ?1", [session_id])?;
        Ok(())
    }

    /// The row that makes a built session show, with what its parts
    /// counted; false, and nothing written, when another anton took the
    /// build for abandoned and its parts out.
    #[allow(clippy::too_many_arguments)]
    fn land_session(
        &self,
        id: &str,
        created_at: i64,
        title: &str,
        summary: &str,
        p: &Provenance,
        messages: u64,
        turns: u32,
    ) -> rusqlite::Result<bool> {
        let held = self
            .conn
            .execute("DELETE FROM unlanded_sessions WHERE session_id = ?1", [id])?;
        if held != 1 {
            return Ok(false);
        }
        // Listings follow local activity, not the exporter's clock.
        self.conn.execute(
            "INSERT INTO sessions (id, title, title_source, summary, imported_summary, imported_by, imported_at,
                 exported_by, exported_at, original_id, source_file, file_sha256, messages, turns,
                 created_at, updated_at, workspace, task)
             VALUES (?1, ?2, 'import', ?3, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15,
                 coalesce((SELECT substr(content, 1, 2000) FROM messages WHERE session_id = ?1 AND role = 'user' ORDER BY id LIMIT 1), ''))",
            params![
                id,
                self.clean_title(title),
                self.clean_summary(summary),
                p.imported_by.as_deref().map(|t| self.clean(t)),
                p.imported_at,
                p.exported_by.as_deref().map(|t| self.clean(t)),
                p.exported_at,
                p.original_id.as_deref().map(|t| self.clean(t)),
                p.source_file.as_deref().map(|t| self.clean(t)),
                p.file_sha256,
                messages as i64,
                turns,
                created_at,
                now_ms(),
                self.workspace
            ],
        )?;
        Ok(true)
    }
}

/// Messages checked and cleaned (scrubbed, cut to fit) for a build, on
/// whichever thread has the time; only the store makes them.
pub(super) struct CleanMessages {
    messages: Vec<NewMessage>,
    /// Their size as they came, which the limits count.
    bytes: usize,
    turns: u32,
}

impl CleanMessages {
    /// `messages`, the first of them number `first` of the session's.
    fn new(scrubber: &Scrubber, first: u64, messages: Vec<NewMessage>) -> std::result::Result<Self, BuildError> {
        for (index, m) in messages.iter().enumerate() {
            let place = format!("message {}", first + index as u64);
            check_turn(m.turn, &format!("{place}: its turn")).map_err(|e| BuildError::Refused(e.0))?;
            check_text(&place, &m.content)?;
        }
        let bytes = messages.iter().map(|m| m.content.len() + m.meta.len()).sum();
        let turns = messages.iter().map(|m| m.turn).max().unwrap_or(0);
        let messages = messages
            .into_iter()
            .map(|m| {
                let (content, meta) = writer::clean_message(scrubber, &m.role, &m.content, &m.meta);
                NewMessage { content, meta, ..m }
            })
            .collect();
        Ok(CleanMessages { messages, bytes, turns })
    }

    pub(super) fn messages(&self) -> &[NewMessage] {
        &self.messages
    }
}

impl SessionBuild {
    pub fn add_messages(&mut self, messages: &[NewMessage]) -> std::result::Result<(), BuildError> {
        let clean = CleanMessages::new(&self.store.scrubber(), self.held.messages + 1, messages.to_vec())?;
        self.add_clean_messages(clean)
    }

    fn add_clean_messages(&mut self, clean: CleanMessages) -> std::result::Result<(), BuildError> {
        self.take(clean.messages.len(), 0, 0, clean.bytes, 0)?;
        self.turns = self.turns.max(clean.turns);
        let id = self.session_id.clone();
        Ok(self.write_part(clean.bytes, |w| w.insert_clean_messages(&id, &clean))?)
    }

    pub fn add_cells(&mut self, cells: &[Cell]) -> std::result::Result<(), BuildError> {
        let mut bytes = 0;
        for (index, c) in cells.iter().enumerate() {
            let place = format!("cell {}", self.held.cells + index as u64 + 1);
            for text in c.texts() {
                check_text(&place, text)?;
                bytes += text.len();
            }
        }
        self.take(0, cells.len(), 0, bytes, 0)?;
        let id = self.session_id.clone();
        Ok(self.write_part(bytes, |w| {
            for cell in cells {
                w.add_cell(&id, cell)?;
            }
            Ok(())
        })?)
    }

    pub fn add_memories(&mut self, memories: &[SessionMemory]) -> std::result::Result<(), BuildError> {
        let mut bytes = 0;
        for (index, m) in memories.iter().enumerate() {
            let place = format!("memory {}", self.held.memories + index as u64 + 1);
            check_text(&place, &m.text)?;
            check_text(&place, &m.topic)?;
            bytes += m.text.len() + m.topic.len();
        }
        self.take(0, 0, memories.len(), bytes, bytes)?;
        let id = self.session_id.clone();
        Ok(self.write_part(bytes, |w| {
            for memory in memories {
                w.record_memory(&id, memory)?;
            }
            Ok(())
        })?)
    }

    /// Land the session with its title, summary and provenance, counted from its parts.
    pub fn commit(
        mut self,
        title: &str,
        summary: &str,
        provenance: &Provenance,
    ) -> std::result::Result<Session, BuildError> {
        check_text("the title", title)?;
        check_text("the summary", summary)?;
        let id = self.session_id.clone();
        let (created_at, messages, turns, text) =
            (self.created_at, self.held.messages, self.turns, self.held.text_bytes);
        let mut held = false;
        self.write_part(0, |w| {
            held = w.land_session(&id, created_at, title, summary, provenance, messages, turns)?;
            if held {
                w.index_if_small(&id, text)?;
            }
            Ok(())
        })?;
        self.end_part()?;
        if !held {
            return Err(BuildError::Store(StoreError::from(
                "another anton took this import for abandoned and removed it while it ran; \
                 nothing was imported: import the file again"
                    .to_string(),
            )));
        }
        self.landed = true;
        Ok(self
            .store
            .get_session(&id)?
            .ok_or_else(|| StoreError::from(format!("session {id} vanished")))?)
    }

    /// Write in the part open now (opening one if none is), and land the
    /// part once it holds enough.
    fn write_part(&mut self, bytes: usize, write: impl FnOnce(&Writer) -> rusqlite::Result<()>) -> Result<()> {
        if self.store.conn.is_autocommit() {
            self.store
                .conn
                .execute_batch("BEGIN IMMEDIATE")
                .map_err(|e| self.store.fail(e))?;
        }
        self.store.with_writer(write)?;
        self.part_bytes += bytes;
        if self.part_bytes >= PART_BYTES {
            self.end_part()?;
        }
        Ok(())
    }

    fn end_part(&mut self) -> Result<()> {
        self.part_bytes = 0;
        self.store.conn.execute_batch("COMMIT").map_err(|e| self.store.fail(e))
    }

    /// Count a part against the limits before it is written.
    fn take(
        &mut self,
        messages: usize,
        cells: usize,
        memories: usize,
        bytes: usize,
        memory_bytes: usize,
    ) -> std::result::Result<(), BuildError> {
        let held = BuildLimits {
            messages: self.held.messages + messages as u64,
            cells: self.held.cells + cells as u64,
            memories: self.held.memories + memories as u64,
            text_bytes: self.held.text_bytes + bytes as u64,
            memory_bytes: self.held.memory_bytes + memory_bytes as u64,
        };
        let over = [
            (
                held.messages > self.limits.messages,
                format!("{} messages", self.limits.messages),
            ),
            (held.cells > self.limits.cells, format!("{} cells", self.limits.cells)),
            (
                held.memories > self.limits.memories,
                format!("{} memories", self.limits.memories),
            ),
            (
                held.text_bytes > self.limits.text_bytes,
                format!("{} bytes of text", self.limits.text_bytes),
            ),
            (
                held.memory_bytes > self.limits.memory_bytes,
                format!("{} bytes of memories", self.limits.memory_bytes),
            ),
        ]
        .into_iter()
        .find_map(|(over, limit)| over.then_some(limit));
        if let Some(limit) = over {
            return Err(BuildError::Refused(format!(
                "the session would hold more than {limit}, the most one session holds"
            )));
        }
        self.held = held;
        Ok(())
    }
}

impl Drop for SessionBuild {
    fn drop(&mut self) {
        if self.landed {
            return;
        }
        // The part not landed goes with the rollback (or with the
        // connection); the parts landed are taken out here or, should that
        // fail, by the next anton to open the store.
        let rolled_back = match self.store.conn.is_autocommit() {
            true => Ok(()),
            false => self
                .store
                .conn
                .execute_batch("ROLLBACK")
                .map_err(|e| self.store.fail(e)),
        };
        let removed = rolled_back.and_then(|()| self.store.transaction(|w| w.remove_unlanded(&self.session_id)));
        match removed {
            Err(error) if error.is_damaged() => {
                eprintln!("warning: {}", crate::terminal::sanitize_line(&error.to_string()));
            }
            Err(error) => eprintln!(
                "warning: {}; the next anton to open the store takes the half-built session out",
                crate::terminal::sanitize_line(&error.to_string())
            ),
            Ok(()) => {}
        }
    }
}

fn check_text(place: &str, text: &str) -> std::result::Result<(), BuildError> {
    if text.len() > MAX_TEXT {
        return Err(BuildError::Refused(format!(
            "{place}: a text of {} bytes, over the {MAX_TEXT} bytes one text may hold",
            text.len()
        )));
    }
    Ok(())
}

/// A build on a thread of its own: each part is written there while the
/// caller reads the next one (a plugin parsing a file, say), so the two
/// take turns on two cores instead of one. A refusal comes back with the
/// next part or the commit; dropped, the build is rolled back before the
/// drop returns.
pub struct BuildInBackground {
    /// Messages are cleaned on the caller's thread, which has time to spare
    /// while the writer's is busy.
    scrubber: std::sync::Arc<Scrubber>,
    /// How many messages were handed over, to number the next.
    messages: u64,
    parts: Option<std::sync::mpsc::SyncSender<Part>>,
    refused: std::sync::Arc<std::sync::Mutex<Option<BuildError>>>,
    worker: Option<std::thread::JoinHandle<()>>,
}

enum Part {
    Messages(CleanMessages),
    Cells(Vec<Cell>),
    Memories(Vec<SessionMemory>),
    Commit(Box<Landing>),
}

struct Landing {
    title: String,
    summary: String,
    provenance: Provenance,
    landed: std::sync::mpsc::SyncSender<std::result::Result<Session, BuildError>>,
}

impl BuildInBackground {
    pub fn start(mut build: SessionBuild) -> std::io::Result<BuildInBackground> {
        let scrubber = build.store.scrubber();
        // A dozen pages in waiting (12 MiB): the writer stalls while SQLite
        // moves a part into the database, and with two the reader stalled too.
        let (parts, waiting) = std::sync::mpsc::sync_channel::<Part>(12);
        let refused = std::sync::Arc::new(std::sync::Mutex::new(None));
        let said = refused.clone();
        let worker = std::thread::Builder::new().name("anton-build".into()).spawn(move || {
            for part in waiting {
                let done = match part {
                    Part::Messages(messages) => build.add_clean_messages(messages),
                    Part::Cells(cells) => build.add_cells(&cells),
                    Part::Memories(memories) => build.add_memories(&memories),
                    Part::Commit(landing) => {
                        let Landing {
                            title,
                            summary,
                            provenance,
                            landed,
                        } = *landing;
                        // A send fails only when the caller stopped waiting.
                        drop(landed.send(build.commit(&title, &summary, &provenance)));
                        return;
                    }
                };
                if let Err(error) = done {
                    *said.lock().unwrap_or_else(|p| p.into_inner()) = Some(error);
                    // The build is dropped, and with it rolled back.
                    return;
                }
            }
        })?;
        Ok(BuildInBackground {
            scrubber,
            messages: 0,
            parts: Some(parts),
            refused,
            worker: Some(worker),
        })
    }

    pub fn add_messages(&mut self, messages: Vec<NewMessage>) -> std::result::Result<(), BuildError> {
        let count = messages.len() as u64;
        let clean = CleanMessages::new(&self.scrubber, self.messages + 1, messages)?;
        self.messages += count;
        self.hand_over(Part::Messages(clean))
    }

    pub fn add_cells(&self, cells: Vec<Cell>) -> std::result::Result<(), BuildError> {
        self.hand_over(Part::Cells(cells))
    }

    pub fn add_memories(&self, memories: Vec<SessionMemory>) -> std::result::Result<(), BuildError> {
        self.hand_over(Part::Memories(memories))
    }

    /// Land the session once every part before is written.
    pub fn commit(
        mut self,
        title: &str,
        summary: &str,
        provenance: &Provenance,
    ) -> std::result::Result<Session, BuildError> {
        let (landed, outcome) = std::sync::mpsc::sync_channel(1);
        self.hand_over(Part::Commit(Box::new(Landing {
            title: title.to_string(),
            summary: summary.to_string(),
            provenance: provenance.clone(),
            landed,
        })))?;
        let outcome = outcome.recv();
        self.finish();
        match outcome {
            Ok(result) => result,
            Err(_) => Err(self.refusal()),
        }
    }

    fn hand_over(&self, part: Part) -> std::result::Result<(), BuildError> {
        if let Some(error) = self.refused.lock().unwrap_or_else(|p| p.into_inner()).clone() {
            return Err(error);
        }
        let parts = self.parts.as_ref().expect("parts go in until the build ends");
        parts.send(part).map_err(|_| self.refusal())
    }

    /// Why the worker stopped, once it has.
    fn refusal(&self) -> BuildError {
        self.refused
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .unwrap_or_else(|| {
                BuildError::Store(StoreError::from(String::from(
                    "the import stopped before it was stored",
                )))
            })
    }

    /// No more parts; wait for the worker to end (and to roll back what it did not commit).
    fn finish(&mut self) {
        self.parts = None;
        if let Some(worker) = self.worker.take()
            && worker.join().is_err()
        {
            *self.refused.lock().unwrap_or_else(|p| p.into_inner()) = Some(BuildError::Store(StoreError::from(
                "the import's writer crashed; nothing was stored".to_string(),
            )));
        }
    }
}

impl Drop for BuildInBackground {
    fn drop(&mut self) {
        self.finish();
    }
}
