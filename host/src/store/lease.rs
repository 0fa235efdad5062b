//! The live-writer lease: which process writes a session now. A mark whose
//! process died reads as `interrupted`.

use std::path::Path;

use rusqlite::params;

use super::{Result, Status, Store};

impl Store {
    /// Mark the session as written by this process (status `active`). Other
    /// processes see who holds it; a mark whose process died reads as
    /// `interrupted`. `Err` names the live holder. The check and the mark are
    /// one transaction, so of two processes claiming at once one sees the other.
    pub fn claim(&self, session_id: &str) -> Result<std::result::Result<(), String>> {
        self.transaction(|w| {
            if let Some(holder) = w.live_holder(session_id)? {
                return Ok(Err(holder));
            }
            w.conn.execute(
                "UPDATE sessions SET status = 'active', writer_pid = ?2, writer_host = ?3 WHERE id = ?1",
                params![session_id, std::process::id(), hostname()],
            )?;
            Ok(Ok(()))
        })
    }

    /// Give the session up with its final status.
    pub fn release(&self, session_id: &str, status: Status) -> Result<()> {
        self.transaction(|w| {
            w.conn.execute(
                "UPDATE sessions SET status = ?2, writer_pid = NULL, writer_host = NULL WHERE id = ?1 AND writer_pid = ?3",
                params![session_id, status.as_str(), std::process::id()],
            )
        })?;
        Ok(())
    }
}

/// How a holder is named to people: "pid 4242 on host-a".
pub fn holder(pid: u32, host: &str) -> String {
    format!("pid {pid} on {host}")
}

/// A writer on another host is taken at its word; on this host, its pid must exist.
pub fn writer_is_alive(pid: u32, host: &str) -> bool {
    host != hostname() || Path::new(&format!("/proc/{pid}")).exists()
}

pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "localhost".into())
}
