//! A session made from parts over many calls (an import of any size), on a
//! connection of its own, in one transaction held open until
//! [`SessionBuild::commit`]: nothing of it shows before, and nothing is left
//! when it is dropped (closing a connection rolls back what it did not commit).

use rusqlite::params;

use super::*;

/// What one built session may hold.
#[derive(Debug, Clone, Copy)]
pub struct BuildLimits {
    pub messages: u64,
    pub cells: u64,
    pub memories: u64,
    /// Every text together, in bytes.
    pub text_bytes: u64,
}

impl Default for BuildLimits {
    fn default() -> Self {
        BuildLimits {
            messages: 10_000_000,
            cells: 1_000_000,
            memories: 100_000,
            text_bytes: 4 << 30,
        }
    }
}

/// Why a part was refused: too much, or the store failed.
#[derive(Debug)]
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
    limits: BuildLimits,
    held: BuildLimits,
}

impl Store {
    /// Begin a session from outside on this connection, which the build
    /// then owns. Takes the write lock until it ends.
    pub fn build_session(self, limits: BuildLimits) -> Result<SessionBuild> {
        self.conn.execute_batch("BEGIN IMMEDIATE").map_err(|e| self.fail(e))?;
        let session_id = self.with_writer(|w| {
            let session = w.create_session(&NewSession::default())?;
            w.conn.execute(
                "UPDATE sessions SET title_source = 'import' WHERE id = ?1",
                [&session.id],
            )?;
            Ok(session.id)
        })?;
        Ok(SessionBuild {
            store: self,
            session_id,
            limits,
            held: BuildLimits {
                messages: 0,
                cells: 0,
                memories: 0,
                text_bytes: 0,
            },
        })
    }
}

impl SessionBuild {
    pub fn add_messages(&mut self, messages: &[NewMessage]) -> std::result::Result<(), BuildError> {
        for (index, m) in messages.iter().enumerate() {
            let place = format!("message {}", self.held.messages + index as u64 + 1);
            check_turn(m.turn, &format!("{place}: its turn")).map_err(|e| BuildError::Refused(e.0))?;
            check_text(&place, &m.content)?;
        }
        let bytes: usize = messages.iter().map(|m| m.content.len() + m.meta.len()).sum();
        self.take(messages.len(), 0, 0, bytes)?;
        let id = &self.session_id;
        self.store.with_writer(|w| w.insert_messages(id, messages))?;
        Ok(())
    }

    pub fn add_cells(&mut self, cells: &[Cell]) -> std::result::Result<(), BuildError> {
        let mut bytes = 0;
        for (index, c) in cells.iter().enumerate() {
            let place = format!("cell {}", self.held.cells + index as u64 + 1);
            for text in [&c.pad, &c.code, &c.stdout, &c.stderr, &c.description]
                .into_iter()
                .chain(c.error.as_ref())
            {
                check_text(&place, text)?;
                bytes += text.len();
            }
        }
        self.take(0, cells.len(), 0, bytes)?;
        let id = &self.session_id;
        self.store.with_writer(|w| {
            for cell in cells {
                w.add_cell(id, cell)?;
            }
            Ok(())
        })?;
        Ok(())
    }

    pub fn add_memories(&mut self, memories: &[SessionMemory]) -> std::result::Result<(), BuildError> {
        let mut bytes = 0;
        for (index, m) in memories.iter().enumerate() {
            let place = format!("memory {}", self.held.memories + index as u64 + 1);
            check_text(&place, &m.text)?;
            check_text(&place, &m.topic)?;
            bytes += m.text.len() + m.topic.len();
        }
        self.take(0, 0, memories.len(), bytes)?;
        let id = &self.session_id;
        self.store.with_writer(|w| {
            for memory in memories {
                w.record_memory(id, memory)?;
            }
            Ok(())
        })?;
        Ok(())
    }

    /// Land the session with its title, summary and provenance, counted from its parts.
    pub fn commit(
        self,
        title: &str,
        summary: &str,
        provenance: &Provenance,
    ) -> std::result::Result<Session, BuildError> {
        check_text("the title", title)?;
        check_text("the summary", summary)?;
        let id = &self.session_id;
        let p = provenance;
        self.store.with_writer(|w| {
            w.conn.execute(
                "UPDATE sessions SET title = ?2, summary = ?3, imported_summary = ?3, imported_by = ?4, imported_at = ?5,
                     exported_by = ?6, exported_at = ?7, original_id = ?8, source_file = ?9, file_sha256 = ?10
                 WHERE id = ?1",
                params![
                    id,
                    w.clean(title),
                    w.clean(summary),
                    p.imported_by.as_deref().map(|t| w.clean(t)),
                    p.imported_at,
                    p.exported_by.as_deref().map(|t| w.clean(t)),
                    p.exported_at,
                    p.original_id.as_deref().map(|t| w.clean(t)),
                    p.source_file.as_deref().map(|t| w.clean(t)),
                    p.file_sha256
                ],
            )?;
            w.recount(id)?;
            // Listings follow local activity, not the exporter's clock.
            w.conn
                .execute("UPDATE sessions SET updated_at = ?2 WHERE id = ?1", params![id, now_ms()])?;
            Ok(())
        })?;
        self.store
            .conn
            .execute_batch("COMMIT")
            .map_err(|e| self.store.fail(e))?;
        Ok(self
            .store
            .get_session(id)?
            .ok_or_else(|| StoreError(format!("session {id} vanished")))?)
    }

    /// Count a part against the limits before it is written.
    fn take(
        &mut self,
        messages: usize,
        cells: usize,
        memories: usize,
        bytes: usize,
    ) -> std::result::Result<(), BuildError> {
        let held = BuildLimits {
            messages: self.held.messages + messages as u64,
            cells: self.held.cells + cells as u64,
            memories: self.held.memories + memories as u64,
            text_bytes: self.held.text_bytes + bytes as u64,
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

fn check_text(place: &str, text: &str) -> std::result::Result<(), BuildError> {
    if text.len() > MAX_TEXT {
        return Err(BuildError::Refused(format!(
            "{place}: a text of {} bytes, over the {MAX_TEXT} bytes one text may hold",
            text.len()
        )));
    }
    Ok(())
}
