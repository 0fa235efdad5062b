//! Writes inside one transaction (see [`super::Store::transaction`]).

use rusqlite::{Connection, OptionalExtension, params};

use super::build::CleanMessages;
use super::lease::{holder, writer_is_alive};
use super::rows::{SESSION_COLUMNS, session_from_row};
use serde_json::Value;

use super::*;

/// Writes inside one transaction (see [`Store::bulk`]).
pub struct Writer<'a> {
    pub(super) conn: &'a Connection,
    pub(super) workspace: &'a str,
    pub(super) scrubber: &'a Scrubber,
}

impl Writer<'_> {
    /// Every text goes to disk through here: no secret is kept at rest, and
    /// none longer than a `.anton` file carries.
    pub(super) fn clean(&self, text: &str) -> String {
        fit_text(self.scrubber.scrub(text))
    }

    /// A title as a listing or a picker shows it: cleaned, and one line's worth.
    pub(super) fn clean_title(&self, title: &str) -> String {
        self.clean(title).chars().take(MAX_TITLE_CHARS).collect()
    }

    /// A summary is a few sentences: one that came longer is kept to a page.
    pub(super) fn clean_summary(&self, summary: &str) -> String {
        self.clean(summary).chars().take(MAX_SUMMARY_CHARS).collect()
    }

    /// A message's content and meta, cleaned as [`Writer::clean`] does.
    fn clean_message(&self, role: &str, content: &str, meta: &str) -> (String, String) {
        clean_message(self.scrubber, role, content, meta)
    }

    /// "pid N on HOST" of a live process other than this one that holds the session.
    pub(super) fn live_holder(&self, session_id: &str) -> rusqlite::Result<Option<String>> {
        let writer: Option<(Option<u32>, Option<String>)> = self
            .conn
            .prepare_cached("SELECT writer_pid, writer_host FROM sessions WHERE id = ?1")?
            .query_row([session_id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        Ok(match writer {
            Some((Some(pid), Some(host)))
                if writer_is_alive(pid, &host) && (pid != std::process::id() || host != hostname()) =>
            {
                Some(holder(pid, &host))
            }
            _ => None,
        })
    }

    pub fn create_session(&self, new: &NewSession) -> rusqlite::Result<Session> {
        let now = new.created_at.unwrap_or_else(now_ms);
        for _ in 0..super::NEW_ID_DRAWS {
            let id = new_session_id(now);
            let inserted = self.conn.execute(
                "INSERT OR IGNORE INTO sessions (id, title, created_at, updated_at, provider, model, workspace)
                 SELECT ?1, ?2, ?3, ?3, ?4, ?5, ?6 WHERE NOT EXISTS (SELECT 1 FROM unlanded_sessions WHERE session_id = ?1)",
                params![
                    id,
                    self.clean_title(&new.title),
                    now,
                    new.provider,
                    new.model,
                    self.workspace
                ],
            )?;
            // A clash needs two sessions in the same second with the same
            // random suffix (or a build holding it); draw again.
            if inserted == 1 {
                return self.conn.query_row(
                    &format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE id = ?1"),
                    [&id],
                    session_from_row,
                );
            }
        }
        Err(super::kept_out_by_a_foreign_rule())
    }

    pub fn append_message(
        &self,
        session_id: &str,
        turn: u32,
        role: &str,
        content: &str,
        meta: &str,
        at: Option<i64>,
    ) -> rusqlite::Result<i64> {
        let at = at.unwrap_or_else(now_ms);
        let (content, meta) = self.clean_message(role, content, meta);
        let id = self.insert_message(session_id, turn, role, &content, &meta, at)?;
        self.conn
            .prepare_cached(
                "UPDATE sessions SET messages = messages + 1, turns = max(turns, ?2), updated_at = max(updated_at, ?3),
                     task = CASE WHEN task = '' AND ?4 = 'user' THEN substr(?5, 1, 2000) ELSE task END
                 WHERE id = ?1",
            )?
            .execute(params![session_id, turn, at, role, content])?;
        Ok(id)
    }

    fn insert_message(
        &self,
        session_id: &str,
        turn: u32,
        role: &str,
        content: &str,
        meta: &str,
        at: i64,
    ) -> rusqlite::Result<i64> {
        self.conn
            .prepare_cached(
                "INSERT INTO messages (session_id, turn, role, content, meta, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![session_id, turn, role, content, meta, at])?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Many messages at once; the session's counters are set once at the end.
    pub fn append_messages(&self, session_id: &str, messages: &[NewMessage]) -> rusqlite::Result<()> {
        self.insert_messages(session_id, messages)?;
        self.recount(session_id)
    }

    /// Messages without touching the session's counters ([`Writer::recount`] sets them).
    pub(super) fn insert_messages(&self, session_id: &str, messages: &[NewMessage]) -> rusqlite::Result<()> {
        for m in messages {
            let (content, meta) = self.clean_message(&m.role, &m.content, &m.meta);
            self.insert_message(session_id, m.turn, &m.role, &content, &meta, m.created_at)?;
        }
        Ok(())
    }

    /// Messages cleaned already, by [`CleanMessages::new`], without the counters.
    pub(super) fn insert_clean_messages(&self, session_id: &str, clean: &CleanMessages) -> rusqlite::Result<()> {
        for m in clean.messages() {
            self.insert_message(session_id, m.turn, &m.role, &m.content, &m.meta, m.created_at)?;
        }
        Ok(())
    }

    /// The session's message count, turns, last activity and task, from its messages.
    pub(super) fn recount(&self, session_id: &str) -> rusqlite::Result<()> {
        self.conn.execute(
            "UPDATE sessions SET
                 messages = (SELECT count(*) FROM messages WHERE session_id = ?1),
                 turns = max(turns, (SELECT coalesce(max(turn), 0) FROM messages WHERE session_id = ?1)),
                 updated_at = max(updated_at, (SELECT coalesce(max(created_at), 0) FROM messages WHERE session_id = ?1)),
                 task = CASE WHEN task = '' THEN coalesce(
                     (SELECT substr(content, 1, 2000) FROM messages WHERE session_id = ?1 AND role = 'user' ORDER BY id LIMIT 1), '')
                     ELSE task END
             WHERE id = ?1",
            [session_id],
        )?;
        Ok(())
    }

    pub fn set_title(&self, session_id: &str, title: &str, by_user: bool) -> rusqlite::Result<()> {
        // An automatic title never replaces one the user chose, nor the one
        // an imported session came with.
        self.conn.execute(
            "UPDATE sessions SET title = ?2, title_source = CASE WHEN ?3 THEN 'user' ELSE title_source END
             WHERE id = ?1 AND (?3 OR title_source = 'auto')",
            params![session_id, self.clean_title(title), by_user],
        )?;
        Ok(())
    }

    pub fn set_summary(&self, session_id: &str, summary: &str) -> rusqlite::Result<()> {
        self.conn.execute(
            "UPDATE sessions SET summary = ?2 WHERE id = ?1",
            params![session_id, self.clean_summary(summary)],
        )?;
        Ok(())
    }

    pub fn set_status(&self, session_id: &str, status: Status) -> rusqlite::Result<()> {
        self.conn.execute(
            "UPDATE sessions SET status = ?2 WHERE id = ?1",
            params![session_id, status.as_str()],
        )?;
        Ok(())
    }

    pub fn record_memory(&self, session_id: &str, memory: &SessionMemory) -> rusqlite::Result<()> {
        self.conn.execute(
            "INSERT OR IGNORE INTO session_memories (session_id, relation, kind, scope, text, topic, at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                session_id,
                if memory.born { "born" } else { "used" },
                memory.kind,
                memory.scope,
                self.clean(&memory.text),
                self.clean(&memory.topic),
                now_ms()
            ],
        )?;
        Ok(())
    }

    pub fn record_share(&self, entry: &ShareEntry) -> rusqlite::Result<()> {
        self.conn.execute(
            "INSERT INTO share_ledger (session_id, direction, path, sha256, title, who, at, format)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                entry.session_id,
                entry.direction,
                self.clean(&entry.path),
                entry.sha256,
                self.clean(&entry.title),
                self.clean(&entry.who),
                entry.at,
                entry.format
            ],
        )?;
        Ok(())
    }

    pub fn add_cell(&self, session_id: &str, cell: &Cell) -> rusqlite::Result<i64> {
        let mut clean = Cell {
            pad: self.clean(&cell.pad),
            code: self.clean(&cell.code),
            stdout: self.clean(&cell.stdout),
            stderr: self.clean(&cell.stderr),
            error: cell.error.as_deref().map(|e| self.clean(e)),
            description: self.clean(&cell.description),
            ..*cell
        };
        fit_cell(&mut clean);
        self.conn.execute(
            "INSERT INTO cells (session_id, pad, code, stdout, stderr, error, description, started_at, finished_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                session_id,
                clean.pad,
                clean.code,
                clean.stdout,
                clean.stderr,
                clean.error,
                clean.description,
                clean.started_at,
                clean.finished_at
            ],
        )?;
        Ok(self.conn.last_insert_rowid())
    }
}

/// The longest text the store keeps: what one `.anton` file's text may be,
/// so everything stored can be exported and imported back.
pub const MAX_TEXT: usize = 8 * 1024 * 1024;

/// The most a cell's texts hold together: what one row of a `.anton` file
/// may, with room for its keys, so every stored cell exports and imports
/// back.
pub const MAX_CELL_TEXT: usize = 2 * MAX_TEXT;

pub(super) const MAX_TITLE_CHARS: usize = 300;
pub(super) const MAX_SUMMARY_CHARS: usize = 16_000;

/// The most a message's meta holds: anton's own are a few short fields
/// (tool, id, model), and with its content it must fit one row of a
/// `.anton` file, however that file lays it out.
pub const MAX_META: usize = 1024 * 1024;
/// The most values (as a `.anton` reader counts them) a meta holds: a row
/// of a file may have 100,000.
pub const MAX_META_VALUES: usize = 10_000;
/// What an export keeps of a meta: room left for what an import adds.
pub(super) const MAX_EXPORTED_META: usize = MAX_META - 1024;

/// A message's content and meta as every stored one is: scrubbed, and held
/// to what one row of a `.anton` file carries.
pub(super) fn clean_message(scrubber: &Scrubber, role: &str, content: &str, meta: &str) -> (String, String) {
    let (content, meta) = scrubber.scrub_message(role, content, meta, &mut crate::scrub::Report::new());
    fit_message(content, meta, MAX_META)
}

/// `content` held to [`MAX_TEXT`], `meta` to `max_meta` bytes and
/// [`MAX_META_VALUES`]: on the way in, and again after an export's
/// redaction, whose placeholders may be longer than what they replace.
pub(super) fn fit_message(content: String, meta: String, max_meta: usize) -> (String, String) {
    (fit_text(content), fit_meta(meta, max_meta))
}

/// A meta over its bounds keeps the members that fit, the smallest first,
/// and says what was cut.
fn fit_meta(meta: String, max_bytes: usize) -> String {
    let values = json_values(&meta);
    if meta.len() <= max_bytes && values <= MAX_META_VALUES {
        return meta;
    }
    let note = Value::from(format!(
        "the meta was {} bytes with {values} values; anton keeps {max_bytes} bytes and {MAX_META_VALUES} values of one",
        meta.len()
    ));
    let mut members: Vec<(String, Value, usize, usize)> = match serde_json::from_str(&meta) {
        Ok(Value::Object(members)) => members
            .into_iter()
            .map(|(key, value)| {
                let text = format!("{}:{value},", Value::from(key.as_str()));
                let (bytes, values) = (text.len(), json_values(&text));
                (key, value, bytes, values)
            })
            .collect(),
        _ => Vec::new(),
    };
    members.sort_by_key(|&(_, _, bytes, values)| (bytes, values));
    let mut kept = serde_json::Map::new();
    let mut room_bytes = max_bytes - note.to_string().len() - r#"{"cut":}"#.len();
    let mut room_values = MAX_META_VALUES - 2;
    for (key, value, bytes, values) in members {
        if bytes <= room_bytes && values <= room_values {
            room_bytes -= bytes;
            room_values -= values;
            kept.insert(key, value);
        }
    }
    kept.insert("cut".into(), note);
    Value::Object(kept).to_string()
}

/// The values in a JSON text as a `.anton` reader counts them: one for
/// each `,` `:` `[` `{` outside strings.
fn json_values(text: &str) -> usize {
    let (mut values, mut in_string, mut escaped) = (0, false, false);
    for b in text.bytes() {
        match (in_string, b) {
            (true, _) if escaped => escaped = false,
            (true, b'\\') => escaped = true,
            (true, b'"') => in_string = false,
            (true, _) => {}
            (false, b'"') => in_string = true,
            (false, b',' | b':' | b'[' | b'{') => values += 1,
            (false, _) => {}
        }
    }
    values
}

/// A cell whose texts are longer than one text may be, or together pass
/// [`MAX_CELL_TEXT`], is cut: every text over an even share loses its end,
/// each with a note saying so.
pub(super) fn fit_cell(cell: &mut Cell) {
    for text in cell.texts_mut() {
        *text = fit_text(std::mem::take(text));
    }
    let total: usize = cell.texts().map(String::len).sum();
    if total <= MAX_CELL_TEXT {
        return;
    }
    let note = format!("\n[… cut: the cell's texts were {total} bytes; anton keeps {MAX_CELL_TEXT} bytes of one cell]");
    let share = even_share(cell.texts().map(String::len).collect(), MAX_CELL_TEXT);
    for text in cell.texts_mut().filter(|text| text.len() > share) {
        text.truncate(text.floor_char_boundary(share.saturating_sub(note.len())));
        text.push_str(&note);
    }
}

/// The largest share such that `lengths`, each held to it, add up to no
/// more than `budget`.
fn even_share(mut lengths: Vec<usize>, budget: usize) -> usize {
    lengths.sort_unstable_by(|a, b| b.cmp(a));
    let mut rest: usize = lengths.iter().sum();
    for (cut, &length) in lengths.iter().enumerate() {
        rest -= length;
        let share = budget.saturating_sub(rest) / (cut + 1);
        if lengths.get(cut + 1).is_none_or(|&next| share >= next) {
            return share;
        }
    }
    0
}

/// `text`, cut to [`MAX_TEXT`] with a note saying so when it is longer (a
/// paste or a log line no model could take in whole anyway).
pub fn fit_text(text: String) -> String {
    if text.len() <= MAX_TEXT {
        return text;
    }
    let note = format!(
        "\n[… cut: the text was {} bytes; anton keeps {MAX_TEXT} bytes of one text]",
        text.len()
    );
    let mut cut = text;
    cut.truncate(cut.floor_char_boundary(MAX_TEXT - note.len()));
    cut.push_str(&note);
    cut
}
