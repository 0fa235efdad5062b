//! The host side of the WIT contract: one module per interface, each an
//! `impl Host for PluginState` whose first step is the capability check.

mod chat;
mod llm;
mod log;
mod storage;
mod vault;

use std::sync::{Arc, Mutex};
use std::time::Instant;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::capabilities::Capabilities;
use crate::store::{Store, StoreError};
use crate::workspace::Paths;

/// Bindings for `anton:plugin@0.1.0`. A later WIT version gets its own module
/// here, and `latest` moves to it.
pub mod since_v0_1_0 {
    wasmtime::component::bindgen!({
        path: "../wit/since_v0.1.0",
        world: "plugin",
    });
}
pub use since_v0_1_0 as latest;

pub use latest::anton::plugin::types::HostError;

/// What every plugin call shares: the workspace, its store, the chat.
pub struct HostContext {
    pub paths: Paths,
    store: Mutex<Option<Store>>,
    pub current_session: Mutex<Option<String>>,
    secrets: std::sync::OnceLock<Secrets>,
    llm: std::sync::OnceLock<Option<(tokio::runtime::Runtime, crate::llm::Client)>>,
}

/// What the host knows is secret, learned on first need.
pub struct Secrets {
    pub scrubber: crate::scrub::Scrubber,
    /// The connected data sources.
    pub data_sources: Vec<crate::vault::DataSource>,
    /// Vault files that could not be read.
    pub unreadable: Vec<crate::vault::Unreadable>,
}

impl HostContext {
    pub fn new(paths: Paths) -> Arc<HostContext> {
        Arc::new(HostContext {
            paths,
            store: Mutex::new(None),
            current_session: Mutex::new(None),
            secrets: std::sync::OnceLock::new(),
            llm: std::sync::OnceLock::new(),
        })
    }

    /// One model client, and the runtime its connections live on, for every
    /// plugin call. `None` when no runtime can be started.
    pub fn llm(&self) -> Option<&(tokio::runtime::Runtime, crate::llm::Client)> {
        self.llm
            .get_or_init(|| {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .ok()?;
                Some((runtime, crate::llm::Client::new()))
            })
            .as_ref()
    }

    pub fn secrets(&self) -> &Secrets {
        self.secrets.get_or_init(|| {
            // Keys an untrusted workspace sets are ignored, yet still never stored.
            let keys = crate::settings::Layers::read(&self.paths.workspace).key_values();
            let (sources, unreadable) = self.paths.vault().list();
            Secrets {
                scrubber: crate::scrub::Scrubber::new(&keys, &sources),
                data_sources: sources,
                unreadable,
            }
        })
    }

    /// Run `f` on the workspace store, opening it read-only on first use. A
    /// workspace with no store yet reads as empty: a query never creates
    /// `.anton/`, migrates or writes, so a read-only workspace still lists.
    pub fn read_store<R: Default>(&self, f: impl FnOnce(&Store) -> Result<R, StoreError>) -> Result<R, HostError> {
        let db = self.paths.anton_dir.join(crate::store::DB_FILE);
        let mut slot = self.store.lock().unwrap_or_else(|p| p.into_inner());
        if slot.is_none() {
            if !db.exists() {
                return Ok(R::default());
            }
            *slot = Some(Store::open_read_only(&self.paths.anton_dir, &self.paths.workspace).map_err(failed)?);
        }
        f(slot.as_ref().expect("opened above")).map_err(failed)
    }

    /// Run `f` on the store opened for writing, creating it when it is
    /// missing; a store opened for reads before is reopened read-write.
    pub fn write_store<R>(&self, f: impl FnOnce(&Store) -> Result<R, StoreError>) -> Result<R, HostError> {
        let mut slot = self.store.lock().unwrap_or_else(|p| p.into_inner());
        if slot.as_ref().is_none_or(Store::is_read_only) {
            *slot = Some(Store::open(&self.paths.anton_dir, &self.paths.workspace).map_err(failed)?);
        }
        f(slot.as_ref().expect("opened above")).map_err(failed)
    }
}

fn failed(error: StoreError) -> HostError {
    HostError::Failed(error.0)
}

/// Memory cap that remembers a refused growth, so a crash can be explained.
pub struct MemoryLimiter {
    pub max_bytes: usize,
    pub refused: Option<usize>,
}

impl wasmtime::ResourceLimiter for MemoryLimiter {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.max_bytes {
            self.refused = Some(desired);
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= 1_000_000)
    }
}

/// The data of one plugin's store.
pub struct PluginState {
    pub wasi: WasiCtx,
    pub table: ResourceTable,
    pub limiter: MemoryLimiter,
    /// When the running call must have returned; pushed back while the host
    /// waits on the user, so a slow answer never counts against the plugin.
    pub deadline: Instant,
    pub timed_out: bool,
    pub plugin_id: String,
    pub grants: Capabilities,
    /// Set while the plugin is examined before anyone agreed to it: the
    /// calls every plugin may make (print, prompt, log, key/value) do nothing.
    pub sealed: bool,
    /// The arguments of the running command: the only paths `read-named-file` opens.
    pub named_paths: Vec<String>,
    pub host: Arc<HostContext>,
}

impl PluginState {
    fn denial(&self, capability: &str) -> String {
        format!(
            "plugin '{}' may not use {capability}: add `{capability} = true` under [capabilities] \
             in its anton-plugin.toml, then run `anton plugins trust {}`",
            self.plugin_id, self.plugin_id
        )
    }

    fn require(&self, granted: bool, capability: &str) -> Result<(), HostError> {
        if granted {
            Ok(())
        } else {
            Err(HostError::Denied(self.denial(capability)))
        }
    }

    /// Time spent waiting on the user is the user's, not the plugin's.
    fn waiting_on_user<R>(&mut self, f: impl FnOnce() -> R) -> R {
        let started = Instant::now();
        let result = f();
        self.deadline += started.elapsed();
        result
    }
}

impl WasiView for PluginState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl latest::anton::plugin::types::Host for PluginState {}
