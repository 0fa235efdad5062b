//! The workspace store: `.anton/anton.db` (SQLite, WAL).
//!
//! Every write runs in an immediate transaction, so two processes in one
//! workspace queue behind `busy_timeout` instead of failing on a lock upgrade.

mod adopted;
mod build;
mod index;
mod lease;
mod pages;
mod rows;
mod schema;
mod types;
mod writer;

pub use adopted::{Adopted, Adoption, FileState};
pub use build::{BuildError, BuildInBackground, BuildLimits, SessionBuild};
pub use lease::hostname;
pub use pages::{PagedRow, ReadAhead};
use rows::{SESSION_COLUMNS, cell_from_row, message_from_row, session_from_row, share_from_row};
pub use types::*;
pub use writer::{MAX_CELL_TEXT, MAX_META, MAX_META_VALUES, MAX_TEXT, Writer, fit_text};

use std::fmt;

use crate::scrub::Scrubber;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, TransactionBehavior, params};

pub const DB_FILE: &str = "anton.db";
/// How long a write waits for another anton's transaction;
/// `ANTON_BUSY_TIMEOUT_MS` changes it (tests, impatient people).
fn busy_timeout() -> Duration {
    std::env::var("ANTON_BUSY_TIMEOUT_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map(Duration::from_millis)
        .unwrap_or(Duration::from_secs(10))
}

#[derive(Debug, Clone)]
pub struct StoreError(pub String, Damage);

/// Whether the store lacks what its schema promises: set by anton alone,
/// never read from a message (a trigger's text could say anything).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Damage {
    Unknown,
    Damaged,
}

impl From<String> for StoreError {
    fn from(message: String) -> Self {
        StoreError(message, Damage::Unknown)
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StoreError {}

impl StoreError {
    /// The store lacks what its schema promises: trying again cannot help,
    /// and writing to it should not be tried.
    pub fn is_damaged(&self) -> bool {
        self.1 == Damage::Damaged
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

pub struct Store {
    conn: Connection,
    path: PathBuf,
    workspace: String,
    read_only: bool,
    /// The schema the database has: a read-only open may find an older one.
    schema: i64,
    /// See [`Store::is_unmade`].
    unmade: bool,
    /// What every written text goes through: token shapes alone until the
    /// owner says which values are secret ([`Store::scrub_with`]).
    scrubber: std::sync::RwLock<std::sync::Arc<Scrubber>>,
}

impl Store {
    /// Open (creating on first use) `<anton_dir>/anton.db`.
    pub fn open(anton_dir: &Path, workspace: &Path) -> Result<Store> {
        std::fs::create_dir_all(anton_dir)
            .map_err(|e| StoreError::from(format!("cannot create {}: {e}", anton_dir.display())))?;
        let path = anton_dir.join(DB_FILE);
        let shown = path.display().to_string();
        plain_files_only(&path)?;
        let conn =
            Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE)
                .map_err(|e| StoreError::from(format!("cannot open the session store {shown}: {e}")))?;
        conn.busy_timeout(busy_timeout()).map_err(|e| sql_error(&shown, e))?;
        let store = Store {
            conn,
            path,
            workspace: workspace.display().to_string(),
            read_only: false,
            schema: schema::MIGRATIONS.len() as i64,
            unmade: false,
            scrubber: Default::default(),
        };
        store.migrate()?;
        // Leftovers are invisible: a store too busy to take them out now
        // still opens, and the next anton tries again.
        match store.sweep_dead_builds() {
            // Not a writer for a store that lacks its own tables.
            Err(error) if error.is_damaged() => return Err(error),
            Err(error) => eprintln!(
                "warning: cannot take out what a killed import left ({}); the next anton tries again",
                crate::terminal::sanitize_line(&error.to_string())
            ),
            Ok(()) => {}
        }
        Ok(store)
    }

    /// Open an existing `<anton_dir>/anton.db` for reading only: nothing is
    /// created, migrated or written, so a read-only workspace can be listed.
    pub fn open_read_only(anton_dir: &Path, workspace: &Path) -> Result<Store> {
        Store::open_for_reads(anton_dir, workspace, busy_timeout())
    }

    /// [`Store::open_read_only`], failing at once where another anton's lock
    /// would make it wait: for work done ahead, which must not add a wait
    /// to the one the command then has.
    pub fn try_open_read_only(anton_dir: &Path, workspace: &Path) -> Result<Store> {
        Store::open_for_reads(anton_dir, workspace, Duration::ZERO)
    }

    fn open_for_reads(anton_dir: &Path, workspace: &Path, wait: Duration) -> Result<Store> {
        let path = anton_dir.join(DB_FILE);
        let shown = path.display().to_string();
        plain_files_only(&path)?;
        let open_plain = |flags: OpenFlags| {
            Connection::open_with_flags(&path, flags).and_then(|conn| {
                // Set before the first read, or rusqlite's default 5 s applies to it.
                conn.busy_timeout(wait)?;
                // A WAL database opens lazily: the first read shows whether its
                // -wal and -shm files exist or can be made.
                let version = user_version(&conn)?;
                Ok((conn, version))
            })
        };
        let mut plain = open_plain(OpenFlags::SQLITE_OPEN_READ_ONLY);
        if plain.as_ref().is_err_and(left_half_written) {
            // A program writing in rollback-journal mode stopped mid-way:
            // read around its journal, the file shows what it never
            // committed. A read-write open puts it back, as any writer would.
            if let Err(e) = open_plain(OpenFlags::SQLITE_OPEN_READ_WRITE) {
                return Err(StoreError::from(format!(
                    "{shown} was left half-written by a program that stopped, and cannot be put back from here ({e}): \
                     run `anton` once where its folder can be written"
                )));
            }
            plain = open_plain(OpenFlags::SQLITE_OPEN_READ_ONLY);
        }
        let (conn, version) = match plain {
            Ok(opened) => opened,
            // A folder that cannot be written has no -shm to share (or one
            // that cannot be set up), so read the database file alone, as it
            // was last checkpointed.
            Err(e)
                if matches!(
                    e.sqlite_error_code(),
                    Some(rusqlite::ErrorCode::CannotOpen | rusqlite::ErrorCode::ReadOnly)
                ) && !left_half_written(&e) =>
            {
                let conn = Connection::open_with_flags(
                    immutable_uri(&path),
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI,
                )
                .map_err(|e| StoreError::from(format!("cannot open the session store {shown}: {e}")))?;
                let version = user_version(&conn).map_err(|e| sql_error(&shown, e))?;
                (conn, version)
            }
            Err(e) => return Err(sql_error(&shown, e)),
        };
        conn.busy_timeout(wait).map_err(|e| sql_error(&shown, e))?;
        let mut store = Store {
            conn,
            path,
            workspace: workspace.display().to_string(),
            read_only: true,
            schema: 0,
            unmade: false,
            scrubber: Default::default(),
        };
        // Migrations only raise the version, so a store past 0 has its tables.
        // At 0, another anton may be setting it up: read both again in one
        // statement, or its commit could fall between the two.
        let (version, unmade) = if version > 0 {
            (version, false)
        } else {
            store
                .conn
                .query_row(
                    "SELECT (SELECT user_version FROM pragma_user_version), (SELECT count(*) = 0 FROM sqlite_schema)",
                    [],
                    |r| Ok((r.get::<_, i64>(0)?, r.get::<_, bool>(1)?)),
                )
                .map_err(|e| store.fail(e))?
        };
        store.schema = version;
        store.unmade = unmade;
        let known = schema::MIGRATIONS.len() as i64;
        if version > known {
            return Err(store.newer_schema(version));
        }
        if unmade {
            return Ok(store);
        }
        if version < schema::OLDEST_READABLE {
            return Err(StoreError::from(format!(
                "{shown} has schema {version}, older than this anton's {known}, and reading it needs a write: \
                 run `anton` once in a workspace you can write to upgrade it"
            )));
        }
        Ok(store)
    }

    /// Opened for reading with no tables at all: just made by another anton
    /// and not yet set up. It holds no sessions, so it reads as empty.
    pub fn is_unmade(&self) -> bool {
        self.unmade
    }

    /// Have SQLite read the schema now, not at the first query.
    pub fn read_schema(&self) -> Result<()> {
        self.conn
            .prepare("SELECT 1 FROM sessions LIMIT 0")
            .map(drop)
            .map_err(|e| self.fail(e))
    }

    /// Wait for another anton's lock as long as the settings say again, after
    /// [`Store::try_open_read_only`].
    pub fn wait_as_usual(&self) -> Result<()> {
        self.conn.busy_timeout(busy_timeout()).map_err(|e| self.fail(e))
    }

    /// Opened by [`Store::open_read_only`]: every write fails.
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn fail(&self, error: rusqlite::Error) -> StoreError {
        sql_error(&self.path.display().to_string(), error)
    }

    fn migrate(&self) -> Result<()> {
        let known = schema::MIGRATIONS.len() as i64;
        let version = user_version(&self.conn).map_err(|e| self.fail(e))?;
        if version > known {
            return Err(self.newer_schema(version));
        }
        if version == 0 {
            // Set before the first table, for good. A message is a few KB:
            // 4 KB pages held one each and wrote a large import twice over.
            self.conn
                .execute_batch("PRAGMA page_size = 16384")
                .map_err(|e| self.fail(e))?;
        }
        self.enter_wal()?;
        // Statement journals (an insert that fires a trigger keeps one) in
        // memory: in a temporary file, a large import wrote each page twice more.
        self.conn
            .execute_batch("PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL; PRAGMA temp_store = MEMORY;")
            .map_err(|e| self.fail(e))?;
        if version == known {
            return Ok(());
        }
        let tx = self.immediate()?;
        // Re-read under the write lock: another process may have migrated.
        let version = user_version(&tx).map_err(|e| self.fail(e))?;
        for (index, migration) in schema::MIGRATIONS.iter().enumerate().skip(version as usize) {
            tx.execute_batch(migration).map_err(|e| self.fail(e))?;
            tx.pragma_update(None, "user_version", index as i64 + 1)
                .map_err(|e| self.fail(e))?;
        }
        tx.commit().map_err(|e| self.fail(e))
    }

    /// Writers work in WAL mode, beside readers. Two writers switching a
    /// store left in rollback-journal mode at once would each keep a shared
    /// lock while SQLite waited for the other's: so a switch that finds the
    /// store busy gives up its locks at once, and tries again a moment later.
    fn enter_wal(&self) -> Result<()> {
        let patience = busy_timeout();
        let started = std::time::Instant::now();
        let mut entered = self.conn.busy_timeout(Duration::ZERO);
        while entered.is_ok() {
            match self
                .conn
                .query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0))
            {
                Err(e) if is_busy(&e) && started.elapsed() < patience => {
                    // Apart by a few milliseconds, two writers do not meet again.
                    let nanos = started.elapsed().subsec_nanos() as u64;
                    std::thread::sleep(Duration::from_millis(1 + nanos % 4));
                }
                done => {
                    entered = done.map(drop);
                    break;
                }
            }
        }
        let waits_again = self.conn.busy_timeout(patience);
        entered.and(waits_again).map_err(|e| self.fail(e))
    }

    /// The last writer out leaves the database in rollback-journal mode, so
    /// that a listing reads the file alone: in WAL mode every `anton
    /// sessions`, the only one using it, made and rebuilt the -shm index
    /// (0.3 ms of 6). It takes a moment's exclusive lock: where another
    /// connection has the database open the store stays in WAL mode, which
    /// the next writer out tries again. The next writer in turns WAL back on.
    fn leave_wal(&self) {
        let left = self.conn.busy_timeout(Duration::ZERO).and_then(|()| {
            self.conn
                .query_row("PRAGMA journal_mode = DELETE", [], |r| r.get::<_, String>(0))
        });
        match left {
            Ok(_) => {}
            Err(e) if is_busy(&e) => {}
            // Nothing is lost: the store stays in WAL mode.
            Err(e) => eprintln!(
                "warning: {} stays in WAL mode: {}",
                crate::terminal::sanitize_line(&self.path.display().to_string()),
                crate::terminal::sanitize_line(&e.to_string())
            ),
        }
    }

    fn newer_schema(&self, version: i64) -> StoreError {
        StoreError::from(format!(
            "{} was written by a newer anton (schema {version}; this anton knows {}); \
             upgrade anton to open it — nothing was changed",
            self.path.display(),
            schema::MIGRATIONS.len()
        ))
    }

    /// Every row of a query, mapped.
    fn all<T, P: rusqlite::Params>(
        &self,
        sql: &str,
        params: P,
        map: impl FnMut(&Row) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(|e| self.fail(e))?;
        let rows = stmt.query_map(params, map).map_err(|e| self.fail(e))?;
        rows.collect::<rusqlite::Result<_>>().map_err(|e| self.fail(e))
    }

    fn immediate(&self) -> Result<rusqlite::Transaction<'_>> {
        // Transaction::new_unchecked: the store's methods take &self and never nest.
        rusqlite::Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate).map_err(|e| self.fail(e))
    }

    pub fn schema_version(&self) -> Result<i64> {
        user_version(&self.conn).map_err(|e| self.fail(e))
    }

    /// Scrub what is written from now on with `scrubber`.
    pub fn scrub_with(&self, scrubber: std::sync::Arc<Scrubber>) {
        *self.scrubber.write().unwrap_or_else(|p| p.into_inner()) = scrubber;
    }

    /// Run `f` in one immediate transaction: all of its writes land, or none.
    pub fn transaction<R>(&self, f: impl FnOnce(&Writer) -> rusqlite::Result<R>) -> Result<R> {
        let tx = self.immediate()?;
        let result = self.with_writer(f)?;
        tx.commit().map_err(|e| self.fail(e))?;
        Ok(result)
    }

    /// What writes are scrubbed with now.
    fn scrubber(&self) -> std::sync::Arc<Scrubber> {
        self.scrubber.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Run `f` with a writer inside the transaction the caller holds.
    fn with_writer<R>(&self, f: impl FnOnce(&Writer) -> rusqlite::Result<R>) -> Result<R> {
        let scrubber = self.scrubber();
        f(&Writer {
            conn: &self.conn,
            workspace: &self.workspace,
            scrubber: &scrubber,
        })
        .map_err(|e| self.fail(e))
    }

    pub fn create_session(&self, new: &NewSession) -> Result<Session> {
        let id = self.transaction(|w| w.create_session(new))?.id;
        self.get_session(&id)?
            .ok_or_else(|| StoreError::from(format!("session {id} vanished")))
    }

    /// Append one message; keeps the session's counters, task and update time.
    pub fn append_message(
        &self,
        session_id: &str,
        turn: u32,
        role: &str,
        content: &str,
        meta: &str,
        at: Option<i64>,
    ) -> Result<i64> {
        check_turn(turn, "the message's turn")?;
        // Checked under the write lock: two antons never interleave one session.
        let appended = self.transaction(|w| match w.live_holder(session_id)? {
            Some(holder) => Ok(Err(holder)),
            None => w.append_message(session_id, turn, role, content, meta, at).map(Ok),
        })?;
        appended.map_err(|holder| {
            StoreError::from(format!(
                "session {session_id} is being written by another anton ({holder}); \
                 nothing was added to it — continue it in a fork with `anton -r {session_id}`"
            ))
        })
    }

    pub fn set_title(&self, session_id: &str, title: &str, by_user: bool) -> Result<()> {
        self.transaction(|w| w.set_title(session_id, title, by_user))
    }

    pub fn set_summary(&self, session_id: &str, summary: &str) -> Result<()> {
        self.transaction(|w| w.set_summary(session_id, summary))
    }

    pub fn set_status(&self, session_id: &str, status: Status) -> Result<()> {
        self.transaction(|w| w.set_status(session_id, status))
    }

    /// A new session with `id`'s history and records up to turn `at` (all
    /// of it without), linked to it as its parent. What the parent was
    /// given from outside stays marked so in the fork: where it was
    /// imported from, the summary it came with, the context the reference
    /// Anton saved.
    pub fn fork_session(&self, id: &str, at: Option<u32>, title: Option<&str>) -> Result<Session> {
        let at = at.unwrap_or(MAX_TURN);
        let new_id = self.transaction(|w| {
            let parent = w.conn.query_row(&format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE id = ?1"), [id], session_from_row)?;
            let child = w.create_session(&NewSession {
                title: title.map_or_else(|| parent.title.clone(), str::to_string),
                provider: parent.provider.clone(),
                model: parent.model.clone(),
                created_at: None,
            })?;
            // A fork of a large session lands without waiting for the search index.
            w.defer_indexing(&child.id)?;
            w.conn.execute(
                "INSERT INTO messages (session_id, turn, role, content, meta, created_at)
                 SELECT ?2, turn, role, content, meta, created_at FROM messages WHERE session_id = ?1 AND turn <= ?3 ORDER BY id",
                params![id, child.id, at],
            )?;
            w.index_if_small(&child.id, None)?;
            // Records made by the turns kept: up to the last message kept.
            let until: i64 = w.conn.query_row(
                "SELECT coalesce(max(created_at), 0) FROM messages WHERE session_id = ?1",
                [&child.id],
                |r| r.get(0),
            )?;
            // What came with an import or from the reference's log is stamped
            // when it arrived, not on the turn's clock: all of it is kept.
            let first_local: i64 = w.conn.query_row(
                "SELECT coalesce(min(created_at), 9223372036854775807) FROM messages WHERE session_id = ?1
                     AND json_extract(meta, '$.imported') IS NULL AND json_extract(meta, '$.reference') IS NULL",
                [id],
                |r| r.get(0),
            )?;
            let whole = at >= parent.turns;
            w.conn.execute(
                "INSERT INTO cells (session_id, pad, code, stdout, stderr, error, description, started_at, finished_at)
                 SELECT ?2, pad, code, stdout, stderr, error, description, started_at, finished_at FROM cells
                 WHERE session_id = ?1 AND (?3 OR started_at <= ?4 OR started_at < ?5) ORDER BY id",
                params![id, child.id, whole, until, first_local],
            )?;
            w.conn.execute(
                "INSERT INTO session_memories (session_id, relation, kind, scope, text, topic, at)
                 SELECT ?2, relation, kind, scope, text, topic, at FROM session_memories
                 WHERE session_id = ?1 AND (?3 OR at <= ?4 OR at < ?5)",
                params![id, child.id, whole, until, first_local],
            )?;
            w.conn.execute(
                "UPDATE sessions SET forked_from = ?1, summary = CASE WHEN ?3 THEN p.summary ELSE '' END,
                     title_source = CASE WHEN ?4 THEN 'user' ELSE p.title_source END,
                     imported_by = p.imported_by, imported_at = p.imported_at, exported_by = p.exported_by,
                     exported_at = p.exported_at, original_id = p.original_id, source_file = p.source_file,
                     file_sha256 = p.file_sha256, imported_summary = p.imported_summary,
                     task = (SELECT coalesce((SELECT substr(content, 1, 2000) FROM messages WHERE session_id = ?2 AND role = 'user' ORDER BY id LIMIT 1), '')),
                     turns = (SELECT coalesce(max(turn), 0) FROM messages WHERE session_id = ?2),
                     messages = (SELECT count(*) FROM messages WHERE session_id = ?2)
                 FROM (SELECT * FROM sessions WHERE id = ?1) AS p
                 WHERE sessions.id = ?2",
                params![id, child.id, whole, title.is_some()],
            )?;
            w.conn.execute(
                "INSERT INTO reference_sessions (session_id, log_size, log_modified, read_to, context)
                 SELECT ?2, 0, 0, 0, context FROM reference_sessions WHERE session_id = ?1 AND context IS NOT NULL AND ?3",
                params![id, child.id, whole],
            )?;
            Ok(child.id)
        })?;
        self.get_session(&new_id)?
            .ok_or_else(|| StoreError::from(format!("session {new_id} vanished")))
    }

    pub fn get_session(&self, id: &str) -> Result<Option<Session>> {
        self.conn
            .query_row(
                &format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE id = ?1"),
                [id],
                session_from_row,
            )
            .optional()
            .map_err(|e| self.fail(e))
    }

    /// The summary an imported session came with, as the exporter wrote it
    /// (None for a session not imported).
    pub fn imported_summary(&self, id: &str) -> Result<Option<String>> {
        if self.schema < schema::IMPORTED_SUMMARY {
            return Ok(None);
        }
        self.conn
            .query_row("SELECT imported_summary FROM sessions WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()
            .map(Option::flatten)
            .map_err(|e| self.fail(e))
    }

    /// The newest session imported from a file with these bytes.
    pub fn imported_from(&self, file_sha256: &str) -> Result<Option<Session>> {
        self.conn
            .query_row(
                &format!(
                    "SELECT {SESSION_COLUMNS} FROM sessions WHERE file_sha256 = ?1 ORDER BY imported_at DESC LIMIT 1"
                ),
                [file_sha256],
                session_from_row,
            )
            .optional()
            .map_err(|e| self.fail(e))
    }

    pub fn count_sessions(&self) -> Result<u64> {
        // A count another program dropped or left wrong is counted again.
        let kept: Option<i64> = if self.schema >= schema::SESSION_COUNT {
            self.conn
                .query_row("SELECT total FROM session_count", [], |r| {
                    Ok(r.get_ref(0)?.as_i64().ok())
                })
                .ok()
                .flatten()
        } else {
            None
        };
        let count = match kept.filter(|n| *n >= 0) {
            Some(n) => n,
            None => self
                .conn
                .query_row("SELECT count(*) FROM sessions", [], |r| r.get(0))
                .map_err(|e| self.fail(e))?,
        };
        Ok(count as u64)
    }

    /// Newest first; with a search, each hit carries its best snippet.
    pub fn list_sessions(&self, query: &SessionQuery) -> Result<Vec<(Session, Option<String>)>> {
        let limit = if query.limit == 0 { -1 } else { query.limit as i64 };
        let status = query.status.map(Status::as_str);
        // An imported summary is not an empty session, turns or not.
        let filter = "(?1 IS NULL OR s.status = ?1) AND (?2 OR s.turns > 0 OR s.imported_by IS NOT NULL)";
        match query.search.as_deref().map(fts_query).filter(|q| !q.is_empty()) {
            None => {
                let sql = format!(
                    "SELECT {SESSION_COLUMNS} FROM sessions s WHERE {filter}
                     ORDER BY s.updated_at DESC, s.id DESC LIMIT ?3"
                );
                self.all(&sql, params![status, query.include_empty, limit], |row| {
                    Ok((session_from_row(row)?, None))
                })
            }
            Some(fts) => self.search_sessions(&fts, filter, status, query, limit),
        }
    }

    /// Sessions by their newest hit, straight from the index's rowid order:
    /// the walk stops once `limit` sessions are found, and only those get a
    /// snippet, so a word in every message costs no more than a rare one.
    fn search_sessions(
        &self,
        fts: &str,
        filter: &str,
        status: Option<&str>,
        query: &SessionQuery,
        limit: i64,
    ) -> Result<Vec<(Session, Option<String>)>> {
        let columns = SESSION_COLUMNS
            .split(", ")
            .map(|c| format!("s.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut newest_hits = self
            .conn
            .prepare_cached(&format!(
                "SELECT {columns}, messages_fts.rowid FROM messages_fts
                 JOIN messages m ON m.id = messages_fts.rowid JOIN sessions s ON s.id = m.session_id
                 WHERE messages_fts MATCH ?3 AND {filter} ORDER BY messages_fts.rowid DESC"
            ))
            .map_err(|e| self.fail(e))?;
        let mut rows = newest_hits
            .query(params![status, query.include_empty, fts])
            .map_err(|e| self.fail(e))?;
        let mut seen = std::collections::HashSet::new();
        let mut found = Vec::new();
        while (limit < 0 || (found.len() as i64) < limit)
            && let Some(row) = rows.next().map_err(|e| self.fail(e))?
        {
            let id: String = row.get(0).map_err(|e| self.fail(e))?;
            if seen.insert(id) {
                let hit: i64 = row.get(22).map_err(|e| self.fail(e))?;
                found.push((session_from_row(row).map_err(|e| self.fail(e))?, hit));
            }
        }
        drop(rows);
        found
            .into_iter()
            .map(|(session, hit)| Ok((session, self.snippet(fts, hit)?)))
            .collect()
    }

    /// The hit first, with what follows it: a table cut to any width still
    /// shows it. `highlight()` reads the text once; `snippet()` took time in
    /// the square of the hits a message holds.
    fn snippet(&self, fts: &str, message_id: i64) -> Result<Option<String>> {
        let content: Option<String> = self
            .conn
            .query_row("SELECT content FROM messages WHERE id = ?1", [message_id], lossy_text)
            .optional()
            .map_err(|e| self.fail(e))?;
        let Some(content) = content else {
            return Ok(None);
        };
        // Marks the text does not hold, so no stored character passes for one.
        let marks = HIT_MARKS
            .iter()
            .find(|(open, close)| !content.contains(*open) && !content.contains(*close));
        let (Some(&(open, close)), true) = (marks, content.len() <= HIGHLIGHT_LIMIT) else {
            return Ok(Some(leading(&content, "")));
        };
        let marked: String = self
            .conn
            .query_row(
                "SELECT highlight(messages_fts, 0, ?3, ?4) FROM messages_fts WHERE messages_fts MATCH ?1 AND rowid = ?2",
                params![fts, message_id, open.to_string(), close.to_string()],
                lossy_text,
            )
            .map_err(|e| self.fail(e))?;
        let (before, from_hit) = marked.split_at(marked.find(open).unwrap_or(0));
        let lead = if before.is_empty() { "" } else { "…" };
        Ok(Some(leading(&from_hit.replace(open, "[").replace(close, "]"), lead)))
    }

    /// A full id, a unique prefix, or a unique ending (the random suffix).
    pub fn find_session(&self, id_or_prefix: &str) -> Result<Lookup> {
        if let Some(session) = self.get_session(id_or_prefix)? {
            return Ok(Lookup::Found(Box::new(session)));
        }
        let length = id_or_prefix.chars().count() as i64;
        let mut found = self.all(
            &format!(
                "SELECT {SESSION_COLUMNS} FROM sessions WHERE substr(id, 1, ?2) = ?1 ORDER BY updated_at DESC LIMIT 10"
            ),
            params![id_or_prefix, length],
            session_from_row,
        )?;
        // The random suffix is what sets ids apart on screen (`fc58`): it finds one too.
        if found.is_empty() && length >= 3 {
            found = self.all(
                &format!(
                    "SELECT {SESSION_COLUMNS} FROM sessions WHERE substr(id, -?2) = ?1 ORDER BY updated_at DESC LIMIT 10"
                ),
                params![id_or_prefix, length],
                session_from_row,
            )?;
        }
        Ok(match found.len() {
            0 => Lookup::Missing,
            1 => Lookup::Found(Box::new(found.remove(0))),
            _ => Lookup::Ambiguous(found),
        })
    }

    /// Messages in order; `limit` 0 means all, otherwise the last `limit`.
    pub fn messages(&self, session_id: &str, limit: u32) -> Result<Vec<Message>> {
        let limit = if limit == 0 { -1 } else { limit as i64 };
        self.all(
            "SELECT * FROM (SELECT id, turn, role, content, meta, created_at FROM messages
                 WHERE session_id = ?1 ORDER BY id DESC LIMIT ?2) ORDER BY id",
            params![session_id, limit],
            message_from_row,
        )
    }

    /// The latest `limit` messages, oldest first, their content cut to
    /// `max_chars` characters and a meta over 64 KiB given as `{}`.
    pub fn recent_messages(&self, session_id: &str, limit: u32, max_chars: u32) -> Result<Vec<Message>> {
        self.all(
            "SELECT * FROM (SELECT id, turn, role, substr(content, 1, ?3),
                     CASE WHEN length(CAST(meta AS BLOB)) <= 65536 THEN meta ELSE '{}' END, created_at
                 FROM messages WHERE session_id = ?1 ORDER BY id DESC LIMIT ?2) ORDER BY id",
            params![session_id, limit, max_chars],
            message_from_row,
        )
    }

    /// The messages after message `after_id`, in order: as many as fit in
    /// `max_bytes` of text, and one at least while any are left.
    pub fn messages_page(&self, session_id: &str, after_id: i64, max_bytes: usize) -> Result<Vec<Message>> {
        let mut page = self
            .conn
            .prepare_cached(
                "SELECT id, turn, role, content, meta, created_at FROM messages
                 WHERE session_id = ?1 AND id > ?2 ORDER BY id",
            )
            .map_err(|e| self.fail(e))?;
        let rows = page
            .query_map(params![session_id, after_id], message_from_row)
            .map_err(|e| self.fail(e))?;
        within_budget(rows, max_bytes, |m| m.content.len() + m.meta.len()).map_err(|e| self.fail(e))
    }

    /// The cells after cell `after_id`, in order, with their ids, paged as
    /// [`Store::messages_page`] pages messages.
    pub fn cells_page(&self, session_id: &str, after_id: i64, max_bytes: usize) -> Result<Vec<(i64, Cell)>> {
        let mut page = self
            .conn
            .prepare_cached(
                "SELECT id, pad, code, stdout, stderr, error, description, started_at, finished_at FROM cells
                 WHERE session_id = ?1 AND id > ?2 ORDER BY id",
            )
            .map_err(|e| self.fail(e))?;
        let rows = page
            .query_map(params![session_id, after_id], |r| Ok((r.get(0)?, cell_from_row(r, 1)?)))
            .map_err(|e| self.fail(e))?;
        within_budget(rows, max_bytes, |(_, c)| {
            c.code.len() + c.stdout.len() + c.stderr.len() + c.error.as_ref().map_or(0, String::len)
        })
        .map_err(|e| self.fail(e))
    }

    pub fn details(&self, session_id: &str) -> Result<Details> {
        let count = |sql: &str| -> Result<u32> {
            self.conn
                .query_row(sql, [session_id], |r| r.get(0))
                .map_err(|e| self.fail(e))
        };
        let shares = self.all(
            "SELECT direction, path, sha256, title, who, at, format, session_id FROM share_ledger
             WHERE session_id = ?1 ORDER BY at DESC, id DESC",
            [session_id],
            share_from_row,
        )?;
        Ok(Details {
            memories_born: count("SELECT count(*) FROM session_memories WHERE session_id = ?1 AND relation = 'born'")?,
            memories_used: count("SELECT count(*) FROM session_memories WHERE session_id = ?1 AND relation = 'used'")?,
            cells: count("SELECT count(*) FROM cells WHERE session_id = ?1")?,
            shares,
        })
    }

    pub fn record_memory(&self, session_id: &str, memory: &SessionMemory) -> Result<()> {
        self.transaction(|w| w.record_memory(session_id, memory))
    }

    pub fn record_share(&self, entry: &ShareEntry) -> Result<()> {
        self.transaction(|w| w.record_share(entry))
    }

    pub fn add_cell(&self, session_id: &str, cell: &Cell) -> Result<i64> {
        self.transaction(|w| w.add_cell(session_id, cell))
    }

    /// A session's memory snapshot: as many as one `.anton` file carries
    /// (10,000, with 2 MiB of text), those born in it first, each kind in
    /// the order it came. `details` counts them all.
    pub fn session_memories(&self, session_id: &str) -> Result<Vec<SessionMemory>> {
        let all = self.all(
            "SELECT relation, kind, scope, text, topic FROM session_memories WHERE session_id = ?1
             ORDER BY relation = 'used', at, rowid",
            [session_id],
            |r| {
                Ok(SessionMemory {
                    born: r.get::<_, String>(0)? == "born",
                    kind: r.get(1)?,
                    scope: r.get(2)?,
                    text: r.get(3)?,
                    topic: r.get(4)?,
                })
            },
        )?;
        let mut room = anton_share_format::MAX_MEMORY_BYTES;
        let mut kept: Vec<SessionMemory> = Vec::new();
        for memory in all {
            let bytes = memory.text.len() + memory.topic.len();
            if kept.len() < anton_share_format::MAX_MEMORIES && bytes <= room {
                room -= bytes;
                kept.push(memory);
            }
        }
        Ok(kept)
    }

    pub fn cells(&self, session_id: &str) -> Result<Vec<Cell>> {
        self.all(
            "SELECT pad, code, stdout, stderr, error, description, started_at, finished_at FROM cells
                 WHERE session_id = ?1 ORDER BY id",
            [session_id],
            |r| cell_from_row(r, 0),
        )
    }

    /// Newest first; `limit` 0 means all.
    pub fn share_history(&self, limit: u32) -> Result<Vec<ShareEntry>> {
        let limit = if limit == 0 { -1 } else { limit as i64 };
        self.all(
            "SELECT direction, path, sha256, title, who, at, format, session_id FROM share_ledger
                 ORDER BY at DESC, id DESC LIMIT ?1",
            [limit],
            share_from_row,
        )
    }

    pub fn kv_get(&self, plugin: &str, key: &str) -> Result<Option<String>> {
        self.conn
            .query_row(
                "SELECT value FROM plugin_kv WHERE plugin = ?1 AND key = ?2",
                [plugin, key],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.fail(e))
    }

    pub fn kv_set(&self, plugin: &str, key: &str, value: &str) -> Result<()> {
        let value = self.scrubber.read().unwrap_or_else(|p| p.into_inner()).scrub(value);
        let value = value.as_str();
        self.conn
            .execute(
                "INSERT INTO plugin_kv (plugin, key, value) VALUES (?1, ?2, ?3)
                 ON CONFLICT (plugin, key) DO UPDATE SET value = excluded.value",
                [plugin, key, value],
            )
            .map_err(|e| self.fail(e))?;
        Ok(())
    }

    pub fn kv_delete(&self, plugin: &str, key: &str) -> Result<()> {
        self.conn
            .execute("DELETE FROM plugin_kv WHERE plugin = ?1 AND key = ?2", [plugin, key])
            .map_err(|e| self.fail(e))?;
        Ok(())
    }
}

/// The most turns a session holds, so counting one more never overflows.
pub const MAX_TURN: u32 = 1_000_000;

fn check_turn(turn: u32, field: &str) -> Result<()> {
    if turn > MAX_TURN {
        return Err(StoreError::from(format!(
            "{field}: {turn} is past the most turns a session holds ({MAX_TURN})"
        )));
    }
    Ok(())
}

/// Rows up to `max_bytes` by `size`, and the first row whatever its size.
fn within_budget<T>(
    rows: impl Iterator<Item = rusqlite::Result<T>>,
    max_bytes: usize,
    size: impl Fn(&T) -> usize,
) -> rusqlite::Result<Vec<T>> {
    let mut page = Vec::new();
    let mut used = 0;
    for row in rows {
        let row = row?;
        used += size(&row);
        page.push(row);
        if used >= max_bytes {
            break;
        }
    }
    Ok(page)
}

/// The database has a hot journal, which a read-only connection cannot roll back.
fn left_half_written(error: &rusqlite::Error) -> bool {
    matches!(error, rusqlite::Error::SqliteFailure(failure, _)
        if failure.extended_code == rusqlite::ffi::SQLITE_READONLY_ROLLBACK)
}

/// Another connection has the database locked.
fn is_busy(error: &rusqlite::Error) -> bool {
    matches!(
        error.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

impl Drop for Store {
    fn drop(&mut self) {
        if !self.read_only {
            self.leave_wal();
        }
    }
}

fn user_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
}

/// `file:` URI of `path` with `immutable=1`: SQLite then takes no locks and
/// needs no -wal or -shm file.
fn immutable_uri(path: &Path) -> String {
    let mut uri = String::from("file:");
    for byte in path.as_os_str().as_encoded_bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'-' | b'_' | b'.' | b'~' => uri.push(*byte as char),
            _ => uri.push_str(&format!("%{byte:02X}")),
        }
    }
    uri + "?immutable=1"
}

/// The database and its -wal, -shm and -journal files, where they exist,
/// must be regular files: a cloned workspace could put a FIFO there (SQLite
/// would hang opening it) or a link that sends anton's writes elsewhere.
fn plain_files_only(db: &Path) -> Result<()> {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let file = PathBuf::from(format!("{}{suffix}", db.display()));
        let risky = |kind: std::fs::FileType| {
            use std::os::unix::fs::FileTypeExt;
            kind.is_symlink() || kind.is_fifo() || kind.is_char_device() || kind.is_block_device() || kind.is_socket()
        };
        if std::fs::symlink_metadata(&file).is_ok_and(|meta| risky(meta.file_type())) {
            return Err(StoreError::from(format!(
                "{} is a link, FIFO or device, not a file; move it aside to start a new store",
                crate::terminal::sanitize_line(&file.display().to_string())
            )));
        }
    }
    Ok(())
}

fn sql_error(path: &str, error: rusqlite::Error) -> StoreError {
    use rusqlite::ErrorCode::*;
    let code = error.sqlite_error_code();
    StoreError::from(match code {
        Some(DatabaseBusy | DatabaseLocked) => format!(
            "the session store {path} stayed locked by another anton for {} s; try again when it finishes",
            busy_timeout().as_secs_f64()
        ),
        // SQLite's own words for the code: its message may quote the file's
        // schema, which anyone could have written.
        Some(NotADatabase | DatabaseCorrupt) => return damaged(path, &described(&error)),
        // anton's schema has no trigger that refuses a write: a trigger that
        // does (in words of its own, which may mimic any other error) was
        // put there by someone else.
        Some(ConstraintViolation)
            if error.sqlite_error().map(|e| e.extended_code) == Some(rusqlite::ffi::SQLITE_CONSTRAINT_TRIGGER) =>
        {
            return damaged(path, "a rule anton did not make refused the write");
        }
        _ if let Some(missing) = missing_from_schema(&error) => return damaged(path, &missing),
        Some(ReadOnly | CannotOpen | PermissionDenied) => {
            format!("cannot write the session store {path} ({error}); check its permissions")
        }
        Some(DiskFull) => format!("the disk holding {path} is full"),
        _ => format!("session store {path}: {error}"),
    })
}

fn damaged(path: &str, why: &str) -> StoreError {
    StoreError(
        format!("the session store {path} is damaged ({why}); move it aside to start a new one"),
        Damage::Damaged,
    )
}

/// How many fresh ids a new session draws before its store is taken to
/// drop new rows by a rule of its own: a clash needs the same second and
/// the same random suffix, so two draws in a row are already rare.
const NEW_ID_DRAWS: usize = 64;

/// What [`sql_error`] tells as a rule anton did not make: a trigger or an
/// index someone added that keeps every new row out.
fn kept_out_by_a_foreign_rule() -> rusqlite::Error {
    rusqlite::Error::SqliteFailure(
        rusqlite::ffi::Error {
            code: rusqlite::ErrorCode::ConstraintViolation,
            extended_code: rusqlite::ffi::SQLITE_CONSTRAINT_TRIGGER,
        },
        None,
    )
}

/// The fixed description of the error's code, without its message.
fn described(error: &rusqlite::Error) -> String {
    error
        .sqlite_error()
        .map_or_else(|| error.to_string(), ToString::to_string)
}

/// SQLite's words for a table, column or trigger the schema version promises
/// but the file lacks: anton's migrations make every one, so another program
/// (or a hand) took it away. The names come from the file, so they are
/// quoted only when they are plain names.
fn missing_from_schema(error: &rusqlite::Error) -> Option<String> {
    let message = match error {
        rusqlite::Error::SqliteFailure(_, Some(message)) => message,
        rusqlite::Error::SqlInputError { msg, .. } => msg,
        _ => return None,
    };
    let named = |prefix: &str| message.strip_prefix(prefix).map(|name| vec![name]);
    let names = named("no such table: ")
        .or_else(|| named("no such column: "))
        .or_else(|| named("no such trigger: "))
        .or_else(|| named("vtable constructor failed: "))
        .or_else(|| {
            let (table, column) = message.strip_prefix("table ")?.split_once(" has no column named ")?;
            Some(vec![table, column])
        })?;
    let plain = |name: &&str| {
        (1..=64).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
    };
    Some(match names.iter().all(plain) {
        true => message.clone(),
        false => "a table or column it needs is missing".into(),
    })
}

/// Text another program stored as bytes that are not UTF-8 (or as a blob)
/// still reads.
fn lossy_text(row: &Row) -> rusqlite::Result<String> {
    Ok(match row.get_ref(0)? {
        rusqlite::types::ValueRef::Text(bytes) | rusqlite::types::ValueRef::Blob(bytes) => {
            String::from_utf8_lossy(bytes).into_owned()
        }
        rusqlite::types::ValueRef::Integer(n) => n.to_string(),
        rusqlite::types::ValueRef::Real(x) => x.to_string(),
        rusqlite::types::ValueRef::Null => String::new(),
    })
}

/// Pairs of characters that mark a hit, the first the text does not hold.
const HIT_MARKS: &[(char, char)] = &[('\u{1}', '\u{2}'), ('\u{fdd0}', '\u{fdd1}'), ('\u{fdd2}', '\u{fdd3}')];
/// Longer messages show their start: marking a hit reads the whole text.
const HIGHLIGHT_LIMIT: usize = 1 << 20;
/// What a snippet keeps of the text from its hit on.
const SNIPPET_CHARS: usize = 160;

/// `lead`, then the start of `text` on one line, cut to [`SNIPPET_CHARS`].
fn leading(text: &str, lead: &str) -> String {
    // Only a head is looked at: a message may be megabytes long.
    let head = text
        .char_indices()
        .nth(SNIPPET_CHARS * 4)
        .map_or(text, |(end, _)| &text[..end]);
    let mut line = head.split_whitespace().collect::<Vec<_>>().join(" ");
    if head.len() < text.len() {
        line.push_str(" …");
    }
    format!("{lead}{}", crate::terminal::fit(&line, SNIPPET_CHARS))
}

/// Each word becomes a quoted FTS5 phrase, so user text is never FTS syntax.
fn fts_query(text: &str) -> String {
    text.split_whitespace()
        .map(|word| format!("\"{}\"", word.replace('"', "\"\"")))
        .collect::<Vec<_>>()
        .join(" ")
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// `YYYYMMDD_HHMMSS_xxxx` (UTC): sorts by time like the reference Anton's ids,
/// plus a random suffix so two processes in one second do not collide.
fn new_session_id(at_ms: i64) -> String {
    use std::hash::{BuildHasher, RandomState};
    let stamp = jiff::Timestamp::from_millisecond(at_ms)
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        .strftime("%Y%m%d_%H%M%S");
    let suffix = RandomState::new().hash_one((std::process::id(), std::time::Instant::now())) as u16;
    format!("{stamp}_{suffix:04x}")
}

#[cfg(test)]
mod tests;
