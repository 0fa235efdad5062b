//! Rows of the session tables into the store's types.

use rusqlite::Row;

use super::lease::{holder, writer_is_alive};
use super::{Cell, MAX_TURN, Message, Provenance, Session, ShareEntry, Status, now_ms};

pub const SESSION_COLUMNS: &str = "id, title, task, status, summary, created_at, updated_at, turns, \
    messages, provider, model, workspace, imported_by, imported_at, exported_by, exported_at, \
    original_id, source_file, file_sha256, forked_from, writer_pid, writer_host";

pub fn session_from_row(row: &Row) -> rusqlite::Result<Session> {
    let status: String = row.get(3)?;
    let writer_pid: Option<u32> = row.get(20)?;
    let writer_host: Option<String> = row.get(21)?;
    let live_writer = match (writer_pid, writer_host) {
        (Some(pid), Some(host)) if writer_is_alive(pid, &host) => Some(holder(pid, &host)),
        _ => None,
    };
    let mut status = Status::parse(&status);
    if status == Status::Active && live_writer.is_none() {
        // The writer died without closing the session: its last reply was cut.
        status = Status::Interrupted;
    }
    Ok(Session {
        id: row.get(0)?,
        title: row.get(1)?,
        task: row.get(2)?,
        status,
        summary: row.get(4)?,
        // Another process (or a cloned repository's store) may hold any number.
        created_at: within_reason(row.get(5)?),
        updated_at: within_reason(row.get(6)?),
        turns: turn_from(row, 7)?,
        messages: row.get(8)?,
        provider: row.get(9)?,
        model: row.get(10)?,
        workspace: row.get(11)?,
        provenance: Provenance {
            imported_by: row.get(12)?,
            imported_at: row.get(13)?,
            exported_by: row.get(14)?,
            exported_at: row.get(15)?,
            original_id: row.get(16)?,
            source_file: row.get(17)?,
            file_sha256: row.get(18)?,
            forked_from: row.get(19)?,
        },
        live_writer,
    })
}

/// A turn number as stored, held to [`MAX_TURN`]: a hostile database's
/// 4294967295 cannot make the next turn overflow.
pub fn turn_from(row: &Row, index: usize) -> rusqlite::Result<u32> {
    let turn: i64 = row.get(index)?;
    Ok(turn.clamp(0, MAX_TURN.into()) as u32)
}

pub fn share_from_row(r: &Row) -> rusqlite::Result<ShareEntry> {
    Ok(ShareEntry {
        direction: r.get(0)?,
        path: r.get(1)?,
        sha256: r.get(2)?,
        title: r.get(3)?,
        who: r.get(4)?,
        at: r.get(5)?,
        format: r.get(6)?,
        session_id: r.get(7)?,
    })
}

/// A time as people can read it: from 1970 to a day from now.
pub fn within_reason(at_ms: i64) -> i64 {
    at_ms.clamp(0, now_ms() + 86_400_000)
}

/// A cell from the columns starting at `first`, in this order:
/// pad, code, stdout, stderr, error, description, started_at, finished_at.
pub fn cell_from_row(r: &Row, first: usize) -> rusqlite::Result<Cell> {
    Ok(Cell {
        pad: r.get(first)?,
        code: r.get(first + 1)?,
        stdout: r.get(first + 2)?,
        stderr: r.get(first + 3)?,
        error: r.get(first + 4)?,
        description: r.get(first + 5)?,
        started_at: r.get(first + 6)?,
        finished_at: r.get(first + 7)?,
    })
}

/// A message from `id, turn, role, content, meta, created_at`.
pub fn message_from_row(r: &Row) -> rusqlite::Result<Message> {
    Ok(Message {
        id: r.get(0)?,
        turn: turn_from(r, 1)?,
        role: r.get(2)?,
        content: r.get(3)?,
        meta: r.get(4)?,
        created_at: r.get(5)?,
    })
}
