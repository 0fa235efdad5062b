//! One plugin's store and instance: limits, deadline, and what to say when
//! it breaks. A trapped instance is dropped and made anew on the next call.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Store, Trap, UpdateDeadline};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

use super::catalog::PluginRecord;
use super::engine::engine;
use super::manifest::Access;
use crate::interfaces::latest::exports::anton::plugin::command::{CommandSpec, Invocation, Outcome};
use crate::interfaces::latest::{Plugin, PluginPre};
use crate::interfaces::{HostContext, MemoryLimiter, PluginState};

const STDERR_CAPACITY: usize = 64 * 1024;
const STDERR_TAIL_LINES: usize = 4;

/// A plugin failure, as one line for the user that names the plugin.
#[derive(Debug, Clone)]
pub struct PluginFailure(pub String);

impl std::fmt::Display for PluginFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

pub struct PluginInstance {
    id: String,
    version: String,
    memory_bytes: usize,
    memory_mb: u32,
    timeout: Duration,
    grants: super::manifest::Capabilities,
    pre: PluginPre<PluginState>,
    live: Option<Live>,
    host: Arc<HostContext>,
}

struct Live {
    store: Store<PluginState>,
    bindings: Plugin,
    stderr: MemoryOutputPipe,
    stderr_shown: usize,
}

impl PluginInstance {
    pub fn new(
        record: &PluginRecord,
        component: &Component,
        linker: &Linker<PluginState>,
        host: Arc<HostContext>,
    ) -> Result<PluginInstance, PluginFailure> {
        let pre = linker
            .instantiate_pre(component)
            .and_then(PluginPre::new)
            .map_err(|e| PluginFailure(format!("plugin '{}' cannot be linked: {e}", record.id())))?;
        Ok(PluginInstance {
            id: record.id().to_string(),
            version: record.manifest.version.clone(),
            memory_bytes: record.manifest.limits.memory_bytes(),
            memory_mb: record.manifest.limits.memory_mb(),
            timeout: Duration::from_millis(record.manifest.limits.timeout_ms()),
            grants: record.grants.clone(),
            pre,
            live: None,
            host,
        })
    }

    fn instantiate(&self) -> Result<Live, PluginFailure> {
        let stderr = MemoryOutputPipe::new(STDERR_CAPACITY);
        let mut wasi = WasiCtxBuilder::new();
        wasi.stderr(stderr.clone()).inherit_stdout();
        for file in &self.grants.files {
            let path = expand(&file.path, &self.host.paths.workspace);
            std::fs::create_dir_all(&path)
                .map_err(|e| PluginFailure(format!("plugin '{}': cannot create {}: {e}", self.id, path.display())))?;
            let perms = match file.access {
                Access::Read => FsPerms::ReadOnly,
                Access::ReadWrite => FsPerms::ReadWrite,
            };
            let guest = path.display().to_string();
            wasi.preopened_dir(&path, &guest, perms)
                .map_err(|e| PluginFailure(format!("plugin '{}': cannot open {}: {e}", self.id, path.display())))?;
        }
        let state = PluginState {
            wasi: wasi.build(),
            table: ResourceTable::new(),
            limiter: MemoryLimiter {
                max_bytes: self.memory_bytes,
                refused: None,
            },
            deadline: Instant::now() + self.timeout,
            timed_out: false,
            plugin_id: self.id.clone(),
            grants: self.grants.clone(),
            named_paths: Vec::new(),
            host: self.host.clone(),
        };
        let mut store = Store::new(engine(), state);
        store.limiter(|s| &mut s.limiter);
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(|mut cx| {
            let state = cx.data_mut();
            if Instant::now() < state.deadline {
                return Ok(UpdateDeadline::Continue(1));
            }
            state.timed_out = true;
            Ok(UpdateDeadline::Interrupt)
        });
        let bindings = self
            .pre
            .instantiate(&mut store)
            .map_err(|e| self.failure("start", &mut store, &stderr.contents(), e))?;
        Ok(Live {
            store,
            bindings,
            stderr,
            stderr_shown: 0,
        })
    }

    pub fn describe(&mut self) -> Result<Vec<CommandSpec>, PluginFailure> {
        self.call("describe", |b, s| b.anton_plugin_command().call_describe(s))
    }

    pub fn run(&mut self, invocation: &Invocation) -> Result<Outcome, PluginFailure> {
        let what = format!("`{}`", invocation.command);
        let result = self.call(&what, |b, s| {
            s.data_mut().named_paths = invocation.args.clone();
            let result = b.anton_plugin_command().call_run(&mut *s, invocation);
            s.data_mut().named_paths.clear();
            result
        })?;
        result.map_err(|message| PluginFailure(format!("{}: {message}", self.id)))
    }

    fn call<R>(
        &mut self,
        what: &str,
        f: impl FnOnce(&Plugin, &mut Store<PluginState>) -> wasmtime::Result<R>,
    ) -> Result<R, PluginFailure> {
        if self.live.is_none() {
            self.live = Some(self.instantiate()?);
        }
        let live = self.live.as_mut().expect("instantiated above");
        let state = live.store.data_mut();
        state.deadline = Instant::now() + self.timeout;
        state.timed_out = false;
        state.limiter.refused = None;
        live.store.set_epoch_deadline(1);
        match f(&live.bindings, &mut live.store) {
            Ok(value) => {
                forward_stderr(live);
                Ok(value)
            }
            Err(error) => {
                // The instance is poisoned after a trap: drop it, start afresh next call.
                let mut live = self.live.take().expect("still live");
                let unseen = live.stderr.contents().slice(live.stderr_shown..);
                Err(self.failure(what, &mut live.store, &unseen, error))
            }
        }
    }

    fn failure(
        &self,
        what: &str,
        store: &mut Store<PluginState>,
        stderr: &[u8],
        error: wasmtime::Error,
    ) -> PluginFailure {
        let state = store.data();
        let who = format!("plugin '{}' {}", self.id, self.version);
        let mut line = if state.timed_out {
            format!(
                "{who} ran past its {} time limit in {what} and was stopped \
                 (a plugin may raise [limits] timeout_ms in its anton-plugin.toml)",
                human_duration(self.timeout)
            )
        } else if let Some(wanted) = state.limiter.refused {
            format!(
                "{who} hit its {} MiB memory limit in {what} (it asked for {} MiB) and was stopped \
                 (a plugin may raise [limits] memory_mb in its anton-plugin.toml)",
                self.memory_mb,
                wanted.div_ceil(1024 * 1024)
            )
        } else if let Some(trap) = error.downcast_ref::<Trap>() {
            format!("{who} crashed in {what} ({trap})")
        } else {
            format!("{who} failed in {what}: {}", first_line(&error.to_string()))
        };
        let tail = stderr_tail(stderr);
        if !tail.is_empty() {
            line.push_str(": ");
            line.push_str(&tail);
        }
        PluginFailure(line)
    }
}

/// Text a plugin wrote to stderr (eprintln!) reaches the user after each call.
fn forward_stderr(live: &mut Live) {
    let contents = live.stderr.contents();
    if contents.len() > live.stderr_shown {
        let new = String::from_utf8_lossy(&contents[live.stderr_shown..]);
        eprint!("{new}");
        live.stderr_shown = contents.len();
    }
}

fn stderr_tail(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("note:"))
        .collect();
    lines[lines.len().saturating_sub(STDERR_TAIL_LINES)..].join(" | ")
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or(text)
}

fn human_duration(d: Duration) -> String {
    if d.as_millis().is_multiple_of(1000) {
        format!("{} s", d.as_secs())
    } else {
        format!("{} ms", d.as_millis())
    }
}

/// `{workspace}/x` → `<workspace>/x`.
pub fn expand(path: &str, workspace: &std::path::Path) -> PathBuf {
    match path.strip_prefix("{workspace}") {
        Some(rest) => workspace.join(rest.trim_start_matches('/')),
        None => PathBuf::from(path),
    }
}
