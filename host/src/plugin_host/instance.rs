//! One plugin's store and instance: limits, deadline, and what to say when
//! it breaks. A trapped instance is dropped and made anew on the next call.
//!
//! A sealed instance is how a plugin is looked at before anyone consented
//! to it: no files, no capability, nothing shown, nothing stored.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Store, Trap, UpdateDeadline};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

use super::catalog::PluginRecord;
use super::engine::engine;
use super::manifest::{Access, Capabilities, home_dirs, whole_tree};
use crate::interfaces::latest::command::{CommandSpec, Invocation, Outcome};
use crate::interfaces::latest::{Plugin, PluginPre};
use crate::interfaces::{MemoryLimiter, PluginState};
use crate::services::Services;
use crate::terminal;

/// What a plugin may write through WASI stdout and stderr in one instance's
/// life; shown (sanitised) after each call.
const STDOUT_CAPACITY: usize = 1024 * 1024;
const STDERR_CAPACITY: usize = 64 * 1024;
const STDERR_TAIL_LINES: usize = 4;
/// The longest a sealed `describe` may take.
const SEALED_TIMEOUT_MS: u64 = 5_000;

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
    grants: Capabilities,
    sealed: bool,
    pre: PluginPre<PluginState>,
    live: Option<Live>,
    services: Arc<Services>,
}

struct Live {
    store: Store<PluginState>,
    bindings: Plugin,
    stdout: MemoryOutputPipe,
    stdout_shown: usize,
    stderr: MemoryOutputPipe,
    stderr_shown: usize,
}

impl PluginInstance {
    /// An instance with the record's grants, for a plugin that may run.
    pub fn new(
        record: &PluginRecord,
        component: &Component,
        linker: &Linker<PluginState>,
        services: Arc<Services>,
    ) -> Result<PluginInstance, PluginFailure> {
        Self::with(record, component, linker, services, false)
    }

    /// An instance for a plugin nobody has agreed to yet: every capability
    /// denied, no files, its output kept from the terminal, its storage and
    /// prompts inert.
    pub fn sealed(
        record: &PluginRecord,
        component: &Component,
        linker: &Linker<PluginState>,
        services: Arc<Services>,
    ) -> Result<PluginInstance, PluginFailure> {
        Self::with(record, component, linker, services, true)
    }

    fn with(
        record: &PluginRecord,
        component: &Component,
        linker: &Linker<PluginState>,
        services: Arc<Services>,
        sealed: bool,
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
            // Checking a plugin nobody agreed to run is quick, whatever it asks for.
            timeout: Duration::from_millis(if sealed {
                record.manifest.limits.timeout_ms().min(SEALED_TIMEOUT_MS)
            } else {
                record.manifest.limits.timeout_ms()
            }),
            grants: if sealed {
                Capabilities::default()
            } else {
                record.grants.clone()
            },
            sealed,
            pre,
            live: None,
            services,
        })
    }

    fn instantiate(&self) -> Result<Live, PluginFailure> {
        let stdout = MemoryOutputPipe::new(STDOUT_CAPACITY);
        let stderr = MemoryOutputPipe::new(STDERR_CAPACITY);
        let mut wasi = WasiCtxBuilder::new();
        wasi.stdout(stdout.clone()).stderr(stderr.clone());
        for file in &self.grants.files {
            let guest = expand(&file.path, &self.services.paths.workspace);
            let host_dir = self.grant_dir(&file.path, &guest)?;
            let perms = match file.access {
                Access::Read => FsPerms::ReadOnly,
                Access::ReadWrite => FsPerms::ReadWrite,
            };
            wasi.preopened_dir(&host_dir, guest.display().to_string(), perms)
                .map_err(|e| self.refusal(format!("cannot open {}: {e}", host_dir.display())))?;
        }
        let state = PluginState {
            wasi: wasi.build(),
            table: ResourceTable::new(),
            limiter: MemoryLimiter {
                max_bytes: self.memory_bytes,
                refused: None,
                peak: 0,
            },
            deadline: Instant::now() + self.timeout,
            timed_out: false,
            plugin_id: self.id.clone(),
            grants: self.grants.clone(),
            sealed: self.sealed,
            named_paths: Vec::new(),
            services: self.services.clone(),
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
            stdout,
            stdout_shown: 0,
            stderr,
            stderr_shown: 0,
        })
    }

    /// The folder behind a files grant, created when missing. The grant was
    /// judged as written; this judges where it really leads, since a link
    /// (one a cloned repository carries, say) can point anywhere.
    fn grant_dir(&self, grant: &str, wanted: &Path) -> Result<PathBuf, PluginFailure> {
        let workspace = &self.services.paths.workspace;
        let real_workspace = workspace.canonicalize().unwrap_or_else(|_| workspace.clone());
        // Resolve the deepest part that exists; what is created below it has no links.
        let mut existing = wanted;
        let mut missing = Vec::new();
        while std::fs::symlink_metadata(existing).is_err() {
            let (Some(parent), Some(name)) = (existing.parent(), existing.file_name()) else {
                break;
            };
            missing.push(name);
            existing = parent;
        }
        let mut real = existing
            .canonicalize()
            .map_err(|e| self.refusal(format!("cannot resolve {}: {e}", existing.display())))?;
        real.extend(missing.iter().rev());
        let leads_to = |what: &str| {
            self.refusal(format!(
                "its grant {grant} leads to {}, {what}; remove the link or change the grant",
                real.display()
            ))
        };
        if grant.starts_with("{workspace}") && !real.starts_with(&real_workspace) {
            return Err(leads_to("outside this workspace"));
        }
        // `{workspace}` itself is a whole tree when anton runs in `/` or `~`.
        if let Some(what) = whole_tree(&real, &real_workspace, &home_dirs()) {
            return Err(leads_to(what));
        }
        std::fs::create_dir_all(&real).map_err(|e| self.refusal(format!("cannot create {}: {e}", real.display())))?;
        Ok(real)
    }

    fn refusal(&self, why: String) -> PluginFailure {
        PluginFailure(terminal::sanitize_line(&format!("plugin '{}': {why}", self.id)))
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
        result.map_err(|message| PluginFailure(terminal::sanitize_line(&format!("{}: {message}", self.id))))
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
        let result = f(&live.bindings, &mut live.store);
        if !self.sealed {
            print!("{}", unseen(&live.stdout, &mut live.stdout_shown));
        }
        if !self.sealed && crate::interfaces::log::debugging() {
            let peak = live.store.data().limiter.peak as f64 / (1024.0 * 1024.0);
            eprintln!(
                "[{} debug] {what}: linear memory peaked at {peak:.1} MiB of its {} MiB",
                self.id, self.memory_mb
            );
        }
        match result {
            Ok(value) => {
                if !self.sealed {
                    eprint!("{}", unseen(&live.stderr, &mut live.stderr_shown));
                }
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
        PluginFailure(terminal::sanitize_line(&line))
    }
}

/// What a plugin wrote through WASI (println!, eprintln!) since the last
/// call, made safe for the terminal; shown after each call.
fn unseen(pipe: &MemoryOutputPipe, shown: &mut usize) -> String {
    let contents = pipe.contents();
    let new = terminal::sanitize(&String::from_utf8_lossy(&contents[*shown..]));
    *shown = contents.len();
    new
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
