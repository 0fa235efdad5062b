//! The team's remote (`anton:plugin@0.3.0`, needs `remote`): list what was
//! shared, push a file from the output folder, pull one to read. The host
//! holds the credentials and the keys.

use crate::HostError;
use crate::bindings::anton::plugin0_3_0::remote as host;
use crate::file_io::NamedFile;

pub use host::{Pushed, RemoteFile, RemotePage, RemoteSettings};

/// The remote this workspace shares through, if one is set.
pub fn settings() -> Result<Option<RemoteSettings>, HostError> {
    host::settings()
}

/// Up to `limit` files (at most 1,000) from `offset`, newest first.
pub fn list(offset: u32, limit: u32) -> Result<RemotePage, HostError> {
    host::list_files(offset, limit)
}

/// Upload `path` (a file in the output folder) as `name`, encrypted to
/// `recipients` when any are given (`.age` is added to the name then).
pub fn push(path: &str, name: &str, recipients: &[String]) -> Result<Pushed, HostError> {
    host::push_file(path, name, recipients)
}

/// Download `name` and open it, decrypted with the user's identity when encrypted.
pub fn pull(name: &str) -> Result<NamedFile, HostError> {
    Ok(NamedFile::from_host(host::pull_file(name)?))
}

/// The user's own public key (`age1…`); with `create`, made first when there is none.
pub fn own_key(create: bool) -> Result<Option<String>, HostError> {
    host::own_key(create)
}
