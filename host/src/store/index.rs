//! The search index of sessions that landed without it (a large import, a
//! fork of one): caught up a slice at a time, each slice its own
//! transaction, so another anton waits for one slice at most.

use rusqlite::{OptionalExtension, params};

use super::*;

/// Text a session may hold and still be indexed as it lands: a few MiB
/// take SQLite a fraction of a second.
const INDEX_AT_ONCE: u64 = 4 << 20;
/// Messages indexed in one transaction.
const SLICE: i64 = 5_000;

impl Writer<'_> {
    /// Keep `session_id`'s messages from here on out of the index, until
    /// [`Writer::index_if_small`] or [`Store::catch_up_index`] puts them in.
    pub(super) fn defer_indexing(&self, session_id: &str) -> rusqlite::Result<()> {
        self.conn.execute(
            "INSERT OR IGNORE INTO unindexed_sessions (session_id, indexed_to)
             VALUES (?1, (SELECT coalesce(max(id), 0) FROM messages WHERE session_id = ?1))",
            [session_id],
        )?;
        Ok(())
    }

    /// Index now what [`Writer::defer_indexing`] held back, when that is
    /// little: `text_bytes`, or measured when `None`.
    pub(super) fn index_if_small(&self, session_id: &str, text_bytes: impl Into<Option<u64>>) -> rusqlite::Result<()> {
        let after: Option<i64> = self
            .conn
            .query_row(
                "SELECT indexed_to FROM unindexed_sessions WHERE session_id = ?1",
                [session_id],
                |r| r.get(0),
            )
            .optional()?;
        let Some(after) = after else {
            return Ok(());
        };
        let bytes = match text_bytes.into() {
            Some(bytes) => bytes,
            None => self.conn.query_row(
                "SELECT coalesce(sum(length(content)), 0) FROM messages WHERE session_id = ?1 AND id > ?2",
                params![session_id, after],
                |r| r.get::<_, i64>(0),
            )? as u64,
        };
        if bytes > INDEX_AT_ONCE {
            return Ok(());
        }
        self.conn.execute(
            "INSERT INTO messages_fts (rowid, content)
             SELECT id, content FROM messages WHERE session_id = ?1 AND id > ?2 ORDER BY id",
            params![session_id, after],
        )?;
        self.conn
            .execute("DELETE FROM unindexed_sessions WHERE session_id = ?1", [session_id])?;
        Ok(())
    }
}

impl Store {
    /// How many messages wait for the search index.
    pub fn unindexed_messages(&self) -> Result<u64> {
        if self.schema < schema::UNINDEXED_SESSIONS {
            return Ok(0);
        }
        // A session still being built is indexed once it lands.
        let building = match self.schema >= schema::UNLANDED_SESSIONS {
            true => "WHERE u.session_id NOT IN (SELECT session_id FROM unlanded_sessions)",
            false => "",
        };
        let waiting: i64 = self
            .conn
            .query_row(
                &format!(
                    "SELECT coalesce(sum((SELECT count(*) FROM messages m
                         WHERE m.session_id = u.session_id AND m.id > u.indexed_to)), 0)
                     FROM unindexed_sessions u {building}"
                ),
                [],
                |r| r.get(0),
            )
            .map_err(|e| self.fail(e))?;
        Ok(waiting as u64)
    }

    /// Index every message that waits, telling `progress` how many of
    /// `waiting` are done after each slice.
    pub fn catch_up_index(&self, waiting: u64, progress: &mut dyn FnMut(u64, u64)) -> Result<()> {
        let mut done = 0;
        loop {
            let indexed = self.transaction(|w| {
                // Read under the write lock: another anton may be catching up too.
                let next: Option<(String, i64)> = w
                    .conn
                    .query_row(
                        "SELECT session_id, indexed_to FROM unindexed_sessions
                         WHERE session_id NOT IN (SELECT session_id FROM unlanded_sessions) ORDER BY session_id LIMIT 1",
                        [],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .optional()?;
                let Some((session_id, after)) = next else {
                    return Ok(None);
                };
                let last: Option<i64> = w.conn.query_row(
                    "SELECT max(id) FROM (SELECT id FROM messages WHERE session_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3)",
                    params![session_id, after, SLICE],
                    |r| r.get(0),
                )?;
                let Some(last) = last else {
                    w.conn
                        .execute("DELETE FROM unindexed_sessions WHERE session_id = ?1", [&session_id])?;
                    return Ok(Some(0));
                };
                let indexed = w.conn.execute(
                    "INSERT INTO messages_fts (rowid, content)
                     SELECT id, content FROM messages WHERE session_id = ?1 AND id > ?2 AND id <= ?3 ORDER BY id",
                    params![session_id, after, last],
                )?;
                w.conn.execute(
                    "UPDATE unindexed_sessions SET indexed_to = ?2 WHERE session_id = ?1",
                    params![session_id, last],
                )?;
                Ok(Some(indexed as u64))
            })?;
            match indexed {
                None => return Ok(()),
                Some(n) => {
                    done += n;
                    progress(done, waiting.max(done));
                }
            }
        }
    }
}
