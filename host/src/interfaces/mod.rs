//! The host side of the WIT contract: one module per interface, each an
//! `impl Host for PluginState` whose first step is the capability check.

mod chat;
mod convert;
mod llm;
mod log;
mod storage;
mod vault;

use std::sync::Arc;
use std::time::Instant;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::capabilities::Capabilities;
pub use crate::services::Services;
use crate::store::{Store, StoreError};

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
    pub services: Arc<Services>,
}

impl PluginState {
    /// A plugin's text as the screen may show it: no escape sequences, no
    /// known secret (a store another process wrote may still hold one).
    fn shown(&self, text: &str) -> String {
        crate::terminal::sanitize(&self.services.secrets().scrubber.scrub_known(text))
    }

    fn shown_line(&self, text: &str) -> String {
        crate::terminal::sanitize_line(&self.services.secrets().scrubber.scrub_known(text))
    }

    /// The workspace store for reading; no store yet reads as empty.
    fn read_store<R: Default>(&self, f: impl FnOnce(&Store) -> Result<R, StoreError>) -> Result<R, HostError> {
        self.services.read_store(f).map_err(|e| HostError::Failed(e.0))
    }

    fn write_store<R>(&self, f: impl FnOnce(&Store) -> Result<R, StoreError>) -> Result<R, HostError> {
        self.services.write_store(f).map_err(|e| HostError::Failed(e.0))
    }

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
