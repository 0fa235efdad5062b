//! The services of one anton process, opened once and lent out.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, TryLockError};

use crate::scrub::{Known, Scrubber};
use crate::settings::{Layers, LlmSettings};
use crate::store::{Store, StoreError};
use crate::workspace::Paths;

/// What anton opens once per process and lends to the chat and to every
/// plugin call: the workspace's paths and store, the model settings and
/// client with the runtime its connections live on, the known secrets, and
/// the session the chat is in.
pub struct Services {
    pub paths: Paths,
    store: Mutex<Option<Store>>,
    pub current_session: Mutex<Option<String>>,
    secrets: Mutex<Option<Learned>>,
    llm: std::sync::OnceLock<Option<(tokio::runtime::Runtime, crate::llm::Client)>>,
    settings: std::sync::OnceLock<LlmSettings>,
    /// The settings files and environment, read once for the model
    /// settings and the known secrets alike.
    layers: std::sync::OnceLock<Layers>,
    /// Whether the reference Anton's sessions were looked for yet.
    reference_looked: AtomicBool,
}

/// The secrets, and what of the settings could not be used: said once, by
/// the first caller in the foreground, even when learned ahead.
struct Learned {
    secrets: Arc<Secrets>,
    unsaid: Vec<String>,
}

/// What the host knows is secret, learned on first need and again whenever
/// the vault changes ([`Services::vault_changed`]).
pub struct Secrets {
    pub scrubber: Arc<Scrubber>,
    /// The connected data sources.
    pub data_sources: Vec<crate::vault::DataSource>,
    /// Vault files that could not be read.
    pub unreadable: Vec<crate::vault::Unreadable>,
}

impl Secrets {
    /// What scratchpad code sees: the data sources' `DS_*` variables.
    pub fn pad_env(&self) -> Vec<(String, String)> {
        self.data_sources.iter().flat_map(|s| s.env_vars()).collect()
    }
}

impl Services {
    pub fn new(paths: Paths) -> Arc<Services> {
        Arc::new(Services {
            paths,
            store: Mutex::new(None),
            current_session: Mutex::new(None),
            secrets: Mutex::new(None),
            llm: std::sync::OnceLock::new(),
            settings: std::sync::OnceLock::new(),
            layers: std::sync::OnceLock::new(),
            reference_looked: AtomicBool::new(false),
        })
    }

    /// The model settings, as this workspace's trust allows them; read once.
    pub fn settings(&self) -> &LlmSettings {
        self.settings
            .get_or_init(|| crate::workspace_trust::settings(&self.paths, self.layers()).llm())
    }

    /// One model client, and the runtime its connections live on, for every
    /// plugin call. `None` when no runtime can be started.
    pub fn llm(&self) -> Option<&(tokio::runtime::Runtime, crate::llm::Client)> {
        self.llm
            .get_or_init(|| {
                // One worker: what the chat runs in the background (titles)
                // goes on while the prompt waits for a line.
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(1)
                    .enable_all()
                    .build()
                    .ok()?;
                Some((runtime, crate::llm::Client::new()))
            })
            .as_ref()
    }

    fn layers(&self) -> &Layers {
        self.layers.get_or_init(|| Layers::read(&self.paths))
    }

    pub fn secrets(&self) -> Arc<Secrets> {
        let mut slot = self.secrets.lock().unwrap_or_else(|p| p.into_inner());
        let learned = slot.get_or_insert_with(|| self.learn_secrets());
        for problem in learned.unsaid.drain(..) {
            eprintln!("warning: {}", crate::terminal::sanitize_line(&problem));
        }
        learned.secrets.clone()
    }

    /// On the plugin clock's thread while a plugin loads: learn the secrets
    /// its first line of output is scrubbed with, and open the store for
    /// reading when it may read it (about a millisecond in all, which the
    /// command no longer waits for). What fails here, or finds the store or
    /// the secrets in someone's hands, is left to the command, which says it.
    pub fn prepare_ahead(self: &Arc<Self>, store: bool) {
        // A chat has both by its first slash command: no work for nothing.
        if filled(&self.secrets) && (!store || filled(&self.store)) {
            return;
        }
        let services = Arc::clone(self);
        let ahead = move || {
            // Busy, damaged, missing: the command meets it, and says it.
            if store && let Some(mut slot) = unless_held(&services.store) {
                let opened = services.open_for_reading(&mut slot, Store::try_open_read_only, |store| {
                    let read = store.read_schema();
                    store.wait_as_usual()?;
                    read
                });
                drop(opened);
            }
            if let Some(mut slot) = unless_held(&services.secrets)
                && slot.is_none()
            {
                *slot = Some(services.learn_secrets());
            }
        };
        crate::plugin_host::engine::beside_the_clock(ahead);
    }

    /// A connection was saved or removed: what is secret is learned anew,
    /// and the store scrubs with it from the next write.
    pub fn vault_changed(&self) {
        let learned = Learned {
            unsaid: Vec::new(),
            ..self.learn_secrets()
        };
        let scrubber = learned.secrets.scrubber.clone();
        *self.secrets.lock().unwrap_or_else(|p| p.into_inner()) = Some(learned);
        if let Some(store) = self.store.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            store.scrub_with(scrubber);
        }
    }

    /// The secrets, and what of the `[redact]` settings could not be used.
    fn learn_secrets(&self) -> Learned {
        // Keys an untrusted workspace sets are ignored, yet still never stored.
        let mut known: Vec<Known> = self
            .layers()
            .secret_values()
            .iter()
            .filter_map(|(model_key, value)| {
                if *model_key {
                    Known::model_key(value)
                } else {
                    Known::env_secret(value)
                }
            })
            .collect();
        let (sources, unreadable) = self.paths.vault().list();
        known.extend(sources.iter().flat_map(Known::data_source));
        let (patterns, mut pattern_problems) = match crate::config::Config::load(&self.paths) {
            Ok(config) => config.redact_patterns(),
            Err(e) => (Vec::new(), vec![e]),
        };
        let (custom, problems) = crate::scrub::custom_patterns(&patterns);
        pattern_problems.extend(problems);
        let secrets = Secrets {
            scrubber: Arc::new(Scrubber::new(known, custom)),
            data_sources: sources,
            unreadable,
        };
        Learned {
            secrets: Arc::new(secrets),
            unsaid: pattern_problems,
        }
    }
    /// Run `f` on the workspace store, opening it read-only on first use. A
    /// workspace with no store yet reads as empty: a query never creates
    /// `.anton/`, migrates or writes, so a read-only workspace still lists.
    pub fn read_store<R: Default>(&self, f: impl FnOnce(&Store) -> Result<R, StoreError>) -> Result<R, StoreError> {
        self.adopt_reference_sessions();
        let mut slot = self.store.lock().unwrap_or_else(|p| p.into_inner());
        self.open_for_reading(&mut slot, Store::open_read_only, f)
    }

    /// [`Services::read_store`] without looking for the reference Anton's
    /// sessions first, the store opened by `open` into `slot` when it is not yet.
    fn open_for_reading<R: Default>(
        &self,
        slot: &mut Option<Store>,
        open: fn(&Path, &Path) -> Result<Store, StoreError>,
        f: impl FnOnce(&Store) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        let db = self.paths.anton_dir.join(crate::store::DB_FILE);
        if slot.is_none() {
            if !db.exists() {
                return Ok(R::default());
            }
            let store = open(&self.paths.anton_dir, &self.paths.workspace)?;
            // Being made by another anton: nothing in it yet, and the next
            // read opens it again, set up by then.
            if store.is_unmade() {
                return Ok(R::default());
            }
            *slot = Some(store);
        }
        f(slot.as_ref().expect("opened above"))
    }

    /// Run `f` on the store opened for writing, creating it when it is
    /// missing; a store opened for reads before is reopened read-write.
    pub fn write_store<R>(&self, f: impl FnOnce(&Store) -> Result<R, StoreError>) -> Result<R, StoreError> {
        self.adopt_reference_sessions();
        let mut slot = self.store.lock().unwrap_or_else(|p| p.into_inner());
        if slot.as_ref().is_none_or(Store::is_read_only) {
            let store = Store::open(&self.paths.anton_dir, &self.paths.workspace)?;
            store.scrub_with(self.secrets().scrubber.clone());
            *slot = Some(store);
        }
        f(slot.as_ref().expect("opened above"))
    }

    /// Close the store where this process wrote to it, as a chat does at
    /// its end, before a command ends without taking itself apart: the last
    /// writer out leaves the store for readers (see `Store`'s drop).
    pub fn close_writer(&self) {
        let mut slot = self.store.lock().unwrap_or_else(|p| p.into_inner());
        if slot.as_ref().is_some_and(|store| !store.is_read_only()) {
            drop(slot.take());
        }
    }

    /// Before a search: put into the index what large imports left out of
    /// it, saying how far it is when that takes a while. A workspace that
    /// cannot be written is searched as it is, with a warning.
    pub fn catch_up_search_index(&self) {
        let waiting = match self.read_store(|s| s.unindexed_messages()) {
            Ok(0) => return,
            Ok(waiting) => waiting,
            Err(e) => return eprintln!("warning: {}", crate::terminal::sanitize_line(&e.0)),
        };
        let indexed = self.write_store(|s| {
            s.catch_up_index(waiting, &mut |done, total| {
                let what = "Indexing imported messages for search…";
                crate::terminal::progress(what, done, total, crate::terminal::Unit::Items("message"))
            })
        });
        crate::terminal::clear_progress();
        if let Err(e) = indexed {
            eprintln!(
                "warning: {waiting} imported messages are not searchable yet: {}",
                crate::terminal::sanitize_line(&e.0)
            );
        }
    }

    /// A connection of its own for a session built over many calls (an
    /// import), scrubbing as the shared one does.
    pub fn store_for_build(&self) -> Result<Store, StoreError> {
        self.adopt_reference_sessions();
        let store = Store::open(&self.paths.anton_dir, &self.paths.workspace)?;
        store.scrub_with(self.secrets().scrubber.clone());
        Ok(store)
    }

    /// Before the store is first used: what the reference Anton logged in
    /// this workspace since it was last looked at (adoption itself uses the
    /// store, so this runs once, first).
    fn adopt_reference_sessions(&self) {
        if !self.reference_looked.swap(true, Ordering::SeqCst) {
            crate::episodes::adopt(self);
        }
    }
}

/// Holds its value now (a slot another thread is filling does not).
fn filled<T>(slot: &Mutex<Option<T>>) -> bool {
    unless_held(slot).is_some_and(|value| value.is_some())
}

/// The slot, unless another thread has it now.
fn unless_held<T>(slot: &Mutex<T>) -> Option<MutexGuard<'_, T>> {
    match slot.try_lock() {
        Ok(guard) => Some(guard),
        Err(TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
        Err(TryLockError::WouldBlock) => None,
    }
}
