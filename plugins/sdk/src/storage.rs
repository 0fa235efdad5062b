//! The workspace store. Session access needs the `sessions-read` capability;
//! the key/value space is private to the plugin and always available.

use crate::bindings::anton::plugin::storage as host;
use crate::{HostError, Message};

pub use host::{Lookup, SessionDetails, SessionHit, SessionQuery, ShareEntry};

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

pub fn kv_get(key: &str) -> Result<Option<String>, HostError> {
    host::kv_get(key)
}

pub fn kv_set(key: &str, value: &str) -> Result<(), HostError> {
    host::kv_set(key, value)
}

pub fn kv_delete(key: &str) -> Result<(), HostError> {
    host::kv_delete(key)
}
