//! Diagnostics on stderr, filtered by `ANTON_LOG`.

use crate::bindings::anton::plugin0_1_0::log as host;

pub use host::Level;

pub fn debug(message: &str) {
    host::log(Level::Debug, message)
}
pub fn info(message: &str) {
    host::log(Level::Info, message)
}
pub fn warn(message: &str) {
    host::log(Level::Warn, message)
}
pub fn error(message: &str) {
    host::log(Level::Error, message)
}
