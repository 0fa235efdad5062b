//! The host side of the WIT contract: one module per interface, each an
//! `impl Host for PluginState` whose first step is the capability check.

mod chat;
mod convert;
mod file_io;
mod llm;
pub mod log;
mod remote;
mod session_io;
mod storage;
mod vault;

use std::sync::Arc;
use std::time::Instant;

use wasmtime::component::{Resource, ResourceTable};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::capabilities::Capabilities;
pub use crate::services::Services;
use crate::store::{Store, StoreError};

/// Bindings for `anton:plugin@0.1.0`: its interfaces, and the `command`
/// export every plugin of every version has.
pub mod since_v0_1_0 {
    wasmtime::component::bindgen!({
        path: "../wit/since_v0.1.0",
        world: "plugin",
    });
}

/// Bindings for `anton:plugin@0.2.0`. Its world holds 0.1.0's interfaces
/// themselves, so they map to the bindings above and are implemented once;
/// only what 0.2.0 adds is generated here.
pub mod since_v0_2_0 {
    wasmtime::component::bindgen!({
        path: "../wit/since_v0.2.0",
        world: "plugin",
        with: {
            "anton:plugin/types@0.1.0": super::since_v0_1_0::anton::plugin::types,
            "anton:plugin/chat@0.1.0": super::since_v0_1_0::anton::plugin::chat,
            "anton:plugin/storage@0.1.0": super::since_v0_1_0::anton::plugin::storage,
            "anton:plugin/llm@0.1.0": super::since_v0_1_0::anton::plugin::llm,
            "anton:plugin/log@0.1.0": super::since_v0_1_0::anton::plugin::log,
            "anton:plugin/vault@0.1.0": super::since_v0_1_0::anton::plugin::vault,
            "anton:plugin/session-io@0.2.0.message-reader": super::session_io::MessageReader,
            "anton:plugin/session-io@0.2.0.cell-reader": super::session_io::CellReader,
            "anton:plugin/session-io@0.2.0.session-builder": super::session_io::SessionBuilder,
            "anton:plugin/file-io@0.2.0.named-file": super::file_io::NamedFile,
            "anton:plugin/file-io@0.2.0.output-file": super::file_io::OutputFile,
            "anton:plugin/file-io@0.2.0.sha256": super::file_io::Sha256Stream,
        },
    });
}

/// Bindings for `anton:plugin@0.3.0`: 0.1.0's and 0.2.0's interfaces map
/// to the bindings above; only `remote` is generated here.
pub mod since_v0_3_0 {
    wasmtime::component::bindgen!({
        path: "../wit/since_v0.3.0",
        world: "plugin",
        with: {
            "anton:plugin/types@0.1.0": super::since_v0_1_0::anton::plugin::types,
            "anton:plugin/chat@0.1.0": super::since_v0_1_0::anton::plugin::chat,
            "anton:plugin/storage@0.1.0": super::since_v0_1_0::anton::plugin::storage,
            "anton:plugin/llm@0.1.0": super::since_v0_1_0::anton::plugin::llm,
            "anton:plugin/log@0.1.0": super::since_v0_1_0::anton::plugin::log,
            "anton:plugin/vault@0.1.0": super::since_v0_1_0::anton::plugin::vault,
            "anton:plugin/session-io@0.2.0": super::since_v0_2_0::anton::plugin0_2_0::session_io,
            "anton:plugin/file-io@0.2.0": super::since_v0_2_0::anton::plugin0_2_0::file_io,
        },
    });
}

/// Every interface at its newest version, one path each.
pub mod latest {
    pub use super::since_v0_1_0::anton::plugin::{chat, llm, log, storage, types, vault};
    pub use super::since_v0_1_0::exports::anton::plugin::command;
    /// Finds the `command` export, which every version shares.
    pub use super::since_v0_1_0::{Plugin, PluginPre};
    pub use super::since_v0_2_0::anton::plugin0_2_0::{file_io, session_io};
    /// Links every interface of every version this host serves.
    pub use super::since_v0_3_0::Plugin as Contract;
    pub use super::since_v0_3_0::anton::plugin0_3_0::remote;
}

pub use latest::types::HostError;

/// Memory cap that remembers a refused growth, so a crash can be explained,
/// and the most the plugin held, for `ANTON_LOG=debug`.
pub struct MemoryLimiter {
    pub max_bytes: usize,
    pub refused: Option<usize>,
    pub peak: usize,
}

impl wasmtime::ResourceLimiter for MemoryLimiter {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.max_bytes {
            self.refused = Some(desired);
            return Ok(false);
        }
        self.peak = self.peak.max(desired);
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
        // A progress line goes before anything else is printed.
        crate::terminal::clear_progress();
        crate::terminal::sanitize(&self.services.secrets().scrubber.scrub_known(text))
    }

    fn shown_line(&self, text: &str) -> String {
        crate::terminal::clear_progress();
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

    /// Put a host object in the plugin's table; its handle is what the plugin holds.
    fn keep<T: Send + 'static>(&mut self, value: T) -> Result<Resource<T>, HostError> {
        self.table
            .push(value)
            .map_err(|e| HostError::Failed(format!("cannot keep another handle: {e}")))
    }

    fn kept<T: 'static>(&self, handle: &Resource<T>) -> Result<&T, HostError> {
        self.table
            .get(handle)
            .map_err(|e| HostError::Invalid(format!("a handle the host does not know: {e}")))
    }

    fn kept_mut<T: 'static>(&mut self, handle: &Resource<T>) -> Result<&mut T, HostError> {
        self.table
            .get_mut(handle)
            .map_err(|e| HostError::Invalid(format!("a handle the host does not know: {e}")))
    }

    /// Time spent waiting on the user is the user's, not the plugin's.
    fn waiting_on_user<R>(&mut self, f: impl FnOnce() -> R) -> R {
        crate::terminal::clear_progress();
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

impl latest::types::Host for PluginState {}
