//! The user's data-source connections. Needs the `vault` capability; secret
//! values can be written but are never read back.

use crate::HostError;
use crate::bindings::anton::plugin0_1_0::vault as host;

pub use host::{Connection, Field, Listing, ReachResult, Unreadable};

pub fn connections() -> Result<Listing, HostError> {
    host::connections()
}

/// Save (create or replace); returns the `DS_<ENGINE>_<NAME>__` prefix.
pub fn save(connection: &Connection) -> Result<String, HostError> {
    host::save(connection)
}

pub fn remove(handle: &str) -> Result<bool, HostError> {
    host::remove(handle)
}

/// A TCP connection to the saved host and port of `handle`.
pub fn reach(handle: &str, timeout_ms: u32) -> Result<ReachResult, HostError> {
    host::reach(handle, timeout_ms)
}
