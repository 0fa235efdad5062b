//! The workspace store. Session access needs the `sessions-read` capability;
//! the key/value space is private to the plugin and always available.

use crate::bindings::anton::plugin0_1_0::storage as host;
use crate::{HostError, Message};

pub use host::{
    Cell, Lookup, MemoryRecord, NewMessage, NewSession, Redacted, RedactionCount, SessionDetails, SessionHit,
    SessionQuery, ShareEntry,
};

pub fn list_sessions(query: &SessionQuery) -> Result<Vec<SessionHit>, HostError> {
    host::list_sessions(query)
}

pub fn count_sessions() -> Result<u64, HostError> {
    host::count_sessions()
}

pub fn find_session(id_or_prefix: &str) -> Result<Lookup, HostError> {
    host::find_session(id_or_prefix)
}

/// All messages when `limit` is 0.
pub fn messages(session_id: &str, limit: u32) -> Result<Vec<Message>, HostError> {
    host::messages(session_id, limit)
}

pub fn session_details(session_id: &str) -> Result<SessionDetails, HostError> {
    host::get_session_details(session_id)
}

pub fn session_memories(session_id: &str) -> Result<Vec<MemoryRecord>, HostError> {
    host::session_memories(session_id)
}

pub fn session_cells(session_id: &str) -> Result<Vec<Cell>, HostError> {
    host::session_cells(session_id)
}

/// Every export and import, newest first; all when `limit` is 0.
pub fn share_history(limit: u32) -> Result<Vec<ShareEntry>, HostError> {
    host::share_history(limit)
}

/// The texts with every secret the host knows of replaced; counts by kind.
pub fn redact(texts: &[String]) -> Redacted {
    host::redact(texts)
}

/// `engine_name` references of the data sources connected here.
pub fn data_sources() -> Result<Vec<String>, HostError> {
    host::data_sources()
}

/// A file the user named in this command's arguments (needs `named-files`).
pub fn read_named_file(path: &str) -> Result<Vec<u8>, HostError> {
    host::read_named_file(path)
}

/// Create a session in one transaction (needs `sessions-write`).
pub fn import_session(session: &NewSession) -> Result<crate::Session, HostError> {
    host::import_session(session)
}

pub fn record_share(entry: &ShareEntry) -> Result<(), HostError> {
    host::record_share(entry)
}

pub fn kv_get(key: &str) -> Result<Option<String>, HostError> {
    host::kv_get(key)
}

pub fn kv_set(key: &str, value: &str) -> Result<(), HostError> {
    host::kv_set(key, value)
}

pub fn kv_delete(key: &str) -> Result<(), HostError> {
    host::kv_delete(key)
}
