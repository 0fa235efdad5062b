use super::PluginState;
use super::latest::log::{Host, Level};

/// `ANTON_LOG=debug|info|warn|error` (default warn).
fn threshold() -> Level {
    match std::env::var("ANTON_LOG").as_deref() {
        Ok("debug") => Level::Debug,
        Ok("info") => Level::Info,
        Ok("error") => Level::Error,
        _ => Level::Warn,
    }
}

fn rank(level: Level) -> u8 {
    match level {
        Level::Debug => 0,
        Level::Info => 1,
        Level::Warn => 2,
        Level::Error => 3,
    }
}

/// Whether `ANTON_LOG` lets the host say what it notices at debug level.
pub fn debugging() -> bool {
    rank(threshold()) == rank(Level::Debug)
}

impl Host for PluginState {
    fn log(&mut self, level: Level, message: String) {
        if !self.sealed && rank(level) >= rank(threshold()) {
            let name = format!("{level:?}").to_lowercase();
            eprintln!("[{} {name}] {}", self.plugin_id, crate::terminal::sanitize(&message));
        }
    }
}
