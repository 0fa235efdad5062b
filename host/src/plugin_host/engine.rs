//! One wasmtime engine per process, its epoch ticker, and the on-disk cache of
//! compiled components.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use wasmtime::component::Component;
use wasmtime::{Config, Engine};

use crate::files;

/// How often the epoch advances; a plugin's deadline is checked this often.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

static ENGINE: OnceLock<Engine> = OnceLock::new();

pub fn engine() -> &'static Engine {
    ENGINE.get_or_init(|| {
        start_clock();
        let mut config = Config::new();
        config.wasm_component_model(true);
        config.epoch_interruption(true);
        Engine::new(&config).expect("the wasmtime configuration is valid")
    })
}

/// Work handed to the clock's thread.
type Job = Box<dyn FnOnce() + Send>;

/// The clock a plugin's deadline is read from, on the one helper thread a
/// command starts: it also does the short jobs handed to it
/// ([`beside_the_clock`]), since starting a second thread for them cost each
/// command about 0.15 ms here.
pub fn start_clock() {
    clock();
}

/// Run `job` on the clock's thread, off the CPU of the caller. It must not
/// wait on anything that may take long: meanwhile no deadline is checked.
pub fn beside_the_clock(job: impl FnOnce() + Send + 'static) {
    // The receiver lives as long as the process: sending cannot fail.
    drop(clock().send(Box::new(job)));
}

fn clock() -> &'static Sender<Job> {
    static CLOCK: OnceLock<Sender<Job>> = OnceLock::new();
    CLOCK.get_or_init(|| {
        let (jobs, to_do) = mpsc::channel::<Job>();
        // A plain thread, not a runtime task: a blocked executor must not
        // stop the clock that interrupts a looping plugin.
        crate::threads::spawn_beside("anton-clock", move || keep_time(&to_do))
            .unwrap_or_else(|e| panic!("cannot start the plugin clock thread: {e}"));
        jobs
    })
}

fn keep_time(to_do: &Receiver<Job>) {
    let mut next_tick = Instant::now() + EPOCH_TICK;
    loop {
        if let Ok(job) = to_do.recv_timeout(next_tick.saturating_duration_since(Instant::now())) {
            // A job that panics (only where panics unwind) must not stop the clock.
            drop(std::panic::catch_unwind(std::panic::AssertUnwindSafe(job)));
        }
        if Instant::now() >= next_tick {
            if let Some(engine) = ENGINE.get() {
                engine.increment_epoch();
            }
            next_tick = Instant::now() + EPOCH_TICK;
        }
    }
}

pub use crate::files::sha256_hex;

/// Compiled components keyed by the engine's compatibility hash and the
/// sha256 of the wasm, so an upgrade or a changed plugin never loads a stale
/// artifact.
#[derive(Clone)]
pub struct ComponentCache {
    dir: Option<PathBuf>,
    /// What this process loaded, by wasm sha256: the chat's background
    /// warm-up and a command that wants the same plugin meanwhile compile it
    /// once, not twice.
    loaded: Arc<Mutex<HashMap<String, Slot>>>,
    /// Why a compiled component could not be kept, for the foreground to
    /// say: the warm-up thread must not print over the prompt.
    unwritable: Arc<Mutex<Option<String>>>,
}

/// One plugin's component, filled by whoever loads it first.
type Slot = Arc<Mutex<Option<Component>>>;

impl ComponentCache {
    /// `None` disables the cache (ANTON_NO_PLUGIN_CACHE=1).
    pub fn new(dir: Option<&Path>) -> Self {
        let dir = dir.map(|d| d.join("components"));
        ComponentCache {
            dir,
            loaded: Arc::default(),
            unwritable: Arc::default(),
        }
    }

    fn entry(&self, wasm_sha256: &str) -> Option<PathBuf> {
        Some(
            self.dir
                .as_ref()?
                .join(engine_key())
                .join(format!("{wasm_sha256}.cwasm")),
        )
    }

    /// A cache that cannot be written only costs speed: said once per process.
    pub fn warn_if_unwritable(&self) {
        static WARNED: AtomicBool = AtomicBool::new(false);
        let unwritable = self.unwritable.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if let Some(why) = unwritable
            && !WARNED.swap(true, Ordering::Relaxed)
        {
            eprintln!("warning: {}", crate::terminal::sanitize_line(&why));
        }
    }

    /// Loaded in this process already, or compiled on disk.
    pub fn is_warm(&self, wasm_sha256: &str) -> bool {
        let loaded = self.loaded.lock().unwrap_or_else(|p| p.into_inner());
        let in_memory = loaded
            .get(wasm_sha256)
            .is_some_and(|slot| slot.try_lock().is_ok_and(|c| c.is_some()));
        in_memory || self.entry(wasm_sha256).is_some_and(|p| p.exists())
    }

    pub fn load(&self, wasm: &[u8], wasm_sha256: &str) -> wasmtime::Result<Component> {
        let slot = self
            .loaded
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .entry(wasm_sha256.to_string())
            .or_default()
            .clone();
        let mut slot = slot.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(component) = slot.as_ref() {
            return Ok(component.clone());
        }
        let component = self.load_from_disk_or_compile(wasm, wasm_sha256)?;
        *slot = Some(component.clone());
        Ok(component)
    }

    fn load_from_disk_or_compile(&self, wasm: &[u8], wasm_sha256: &str) -> wasmtime::Result<Component> {
        let engine = engine();
        let entry = self.entry(wasm_sha256);
        if let Some(path) = entry.as_ref().filter(|p| p.exists()) {
            // SAFETY: only files this cache wrote live under its directory,
            // and wasmtime checks the artifact's engine compatibility itself.
            // A corrupt or foreign entry fails here and is recompiled below.
            if let Ok(component) = unsafe { Component::deserialize_file(engine, path) } {
                return Ok(component);
            }
        }
        let component = Component::new(engine, wasm)?;
        if let Some(path) = entry {
            let written = component
                .serialize()
                .map_err(|e| e.to_string())
                .and_then(|bytes| files::write_atomic(&path, &bytes).map_err(|e| e.to_string()));
            if let Err(error) = written {
                let folder = path.parent().unwrap_or(&path).display().to_string();
                self.unwritable
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .get_or_insert(format!(
                        "cannot cache a compiled plugin in {folder} ({error}); plugins compile again at each start"
                    ));
            }
        }
        Ok(component)
    }
}

/// Asked for only once a plugin is wanted: making the engine takes a
/// command that runs none (`--version`, `trust`) a third of a millisecond.
fn engine_key() -> &'static str {
    static KEY: OnceLock<String> = OnceLock::new();
    KEY.get_or_init(|| {
        let mut hasher = DefaultHasher::new();
        engine().precompile_compatibility_hash().hash(&mut hasher);
        env!("CARGO_PKG_VERSION").hash(&mut hasher);
        format!("{:016x}", hasher.finish())
    })
}

#[cfg(test)]
mod tests {
    use super::beside_the_clock;
    use std::time::Duration;

    /// The thread that interrupts looping plugins outlives a job that panics.
    #[test]
    fn the_clock_keeps_going_after_a_job_panics() {
        beside_the_clock(|| panic!("a job that fails"));
        let (done, finished) = std::sync::mpsc::channel();
        beside_the_clock(move || done.send(std::thread::current().name().map(str::to_owned)).unwrap());
        let ran_on = finished
            .recv_timeout(Duration::from_secs(10))
            .expect("the second job ran");
        assert_eq!(ran_on.as_deref(), Some("anton-clock"));
    }
}
