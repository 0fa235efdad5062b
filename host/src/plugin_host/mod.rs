//! The plugin runtime: discovery (catalog), compilation (engine), one
//! instance per plugin, and dispatch of commands to them.

mod builtin;
pub mod catalog;
pub mod engine;
pub mod install;
pub mod instance;
pub mod linker;
pub mod manifest;
pub mod trust;

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Arc;

use wasmtime::component::Component;

use catalog::{Catalog, PluginRecord, Resolution};
use engine::{ComponentCache, engine};
pub use instance::PluginFailure;
use instance::PluginInstance;
use linker::PluginLinker;

use crate::interfaces::latest::command::{CommandSpec, Invocation, Origin, Outcome};
use crate::services::Services;

pub use builtin::BUILTIN_PLUGINS;

/// What became of a command given to [`PluginHost::dispatch`].
pub enum Dispatch {
    /// A plugin ran it, or failed trying.
    Ran(Result<Outcome, PluginFailure>),
    /// A plugin serves it, but not here or not now; the text says what to do.
    Unavailable(String),
    /// No plugin in any layer serves it.
    Unknown,
}

pub struct PluginHost {
    pub catalog: Catalog,
    pub services: Arc<Services>,
    cache: ComponentCache,
    linker: Option<PluginLinker>,
    /// By index into `catalog.records`.
    instances: HashMap<usize, PluginInstance>,
    announced_compile: bool,
}

impl PluginHost {
    pub fn new(catalog: Catalog, services: Arc<Services>) -> PluginHost {
        let cache = ComponentCache::new(services.paths.user_cache.as_deref());
        PluginHost {
            catalog,
            services,
            cache,
            linker: None,
            instances: HashMap::new(),
            announced_compile: false,
        }
    }

    /// Compile (or load from cache) and link the plugin at `index`.
    pub fn prepare(&mut self, index: usize) -> Result<(), PluginFailure> {
        if self.instances.contains_key(&index) {
            return Ok(());
        }
        let record = &self.catalog.records[index];
        // Before the engine: opening the store ahead takes longer than making
        // the engine and loading the plugin, so it starts first, on the
        // clock's thread.
        self.services
            .prepare_ahead(record.grants.sessions_read || record.grants.sessions_write);
        engine::start_clock();
        let warm = self.cache.is_warm(&record.sha256);
        if !warm && !self.announced_compile {
            // Only the first run after an install or upgrade compiles.
            self.announced_compile = true;
            if std::io::stderr().is_terminal() {
                eprintln!("Preparing plugins… (compiled once, then cached)");
            }
        }
        let component = load_component(&self.cache, record);
        self.cache.warn_if_unwritable();
        let component = component?;
        let linker = self
            .linker
            .get_or_insert_with(PluginLinker::default)
            .for_component(&component)?;
        let instance = PluginInstance::new(record, &component, linker, self.services.clone())?;
        self.instances.insert(index, instance);
        Ok(())
    }

    /// Compile, off the critical path, the runnable plugins the disk cache
    /// lacks, so the chat's first slash command does not wait for them.
    pub fn warm_up(&self) {
        let cold: Vec<PluginRecord> = self
            .catalog
            .records
            .iter()
            .filter(|r| r.runnable() && !self.cache.is_warm(&r.sha256))
            .cloned()
            .collect();
        if cold.is_empty() {
            return;
        }
        let cache = self.cache.clone();
        let compile = move || {
            for record in &cold {
                // A plugin that fails here fails again, with its message,
                // when it is used.
                drop(load_component(&cache, record));
            }
        };
        // A warm-up that cannot start only costs the first command its wait.
        drop(std::thread::Builder::new().name("anton-warm-up".into()).spawn(compile));
    }

    pub fn describe(&mut self, index: usize) -> Result<Vec<CommandSpec>, PluginFailure> {
        self.prepare(index)?;
        self.instances.get_mut(&index).expect("prepared").describe()
    }

    pub fn run(&mut self, index: usize, invocation: &Invocation) -> Result<Outcome, PluginFailure> {
        self.prepare(index)?;
        self.instances.get_mut(&index).expect("prepared").run(invocation)
    }

    /// The one way a command reaches a plugin, from the chat, the command
    /// line or a launch flag of `anton` (then `name` is the flag's long name).
    pub fn dispatch(&mut self, name: &str, args: Vec<String>, origin: Origin) -> Dispatch {
        let command = match origin {
            Origin::Launch => match self.catalog.launch_flags().into_iter().find(|(f, _, _)| f.long == name) {
                Some((_, command, _)) => command.to_string(),
                None => return Dispatch::Unknown,
            },
            Origin::Chat | Origin::Cli => name.to_string(),
        };
        let index = match self.catalog.resolve(&command) {
            Resolution::Runnable(index) => index,
            Resolution::Unavailable(why) => return Dispatch::Unavailable(why),
            Resolution::Unknown => return Dispatch::Unknown,
        };
        let kind = self.catalog.records[index]
            .manifest
            .commands
            .iter()
            .find(|c| c.name == command || c.aliases.contains(&command))
            .map(|c| c.kind)
            .expect("a runnable record serves the command it resolved");
        match origin {
            Origin::Chat if !kind.is_slash() => {
                return Dispatch::Unavailable(format!(
                    "/{command} is a command-line command: run `anton {command}` in a shell."
                ));
            }
            Origin::Cli if !kind.is_cli() => {
                return Dispatch::Unavailable(format!(
                    "`{command}` is a chat command: type /{command} in the chat (`anton` opens it)."
                ));
            }
            _ => {}
        }
        let invocation = Invocation {
            command: name.to_string(),
            args,
            origin,
        };
        Dispatch::Ran(self.run(index, &invocation))
    }
}

/// Compile or load from cache, refusing what is not an anton component.
pub fn load_component(cache: &ComponentCache, record: &PluginRecord) -> Result<Component, PluginFailure> {
    let id = record.id();
    check_component_bytes(&record.wasm).map_err(|e| PluginFailure(format!("plugin '{id}': {e}")))?;
    let component = cache.load(&record.wasm, &record.sha256).map_err(|e| {
        PluginFailure(format!(
            "plugin '{id}' is not a valid component: {}",
            e.to_string().lines().next().unwrap_or("")
        ))
    })?;
    check_world(&component, &record.manifest.api).map_err(|e| PluginFailure(format!("plugin '{id}': {e}")))?;
    Ok(component)
}

/// What every plugin exports, at every WIT version: 0.2.0 kept 0.1.0's `command`.
const COMMAND_EXPORT: &str = "anton:plugin/command@0.1.0";

/// The component must export `anton:plugin/command`, and import nothing of
/// `anton:plugin` newer than its manifest's `api` (nor anything this anton
/// does not serve).
fn check_world(component: &Component, api: &str) -> Result<(), String> {
    let ty = component.component_type();
    let exports: Vec<String> = ty.exports(engine()).map(|(name, _)| name.to_string()).collect();
    if !exports.iter().any(|e| e == COMMAND_EXPORT) {
        return Err(match exports.iter().find(|e| e.starts_with("anton:plugin/command@")) {
            Some(found) => {
                format!("its manifest says api {api}, but the component exports {found}; rebuild it or fix `api`")
            }
            None => format!(
                "the component does not export anton:plugin/command (it exports: {}); build it with the anton plugin SDK",
                if exports.is_empty() {
                    "nothing".to_string()
                } else {
                    exports.join(", ")
                }
            ),
        });
    }
    for (import, _) in ty.imports(engine()) {
        let Some(version) = import
            .strip_prefix("anton:plugin/")
            .and_then(|i| i.split_once('@'))
            .map(|(_, v)| v)
        else {
            continue;
        };
        if !manifest::SUPPORTED_APIS.contains(&version) {
            return Err(format!(
                "it imports {import}, which this anton does not serve (it serves anton:plugin@{}); upgrade anton",
                manifest::SUPPORTED_APIS.join(", ")
            ));
        }
        if version_key(version) > version_key(api) {
            return Err(format!(
                "its manifest says api {api}, but the component imports {import}; set `api = \"{version}\"` in its anton-plugin.toml"
            ));
        }
    }
    Ok(())
}

/// "0.2.0" as numbers, so that 0.10.0 comes after 0.9.0.
fn version_key(version: &str) -> Vec<u64> {
    version.split('.').map(|part| part.parse().unwrap_or(0)).collect()
}

/// Tell a core module or junk from a component before asking wasmtime.
pub fn check_component_bytes(bytes: &[u8]) -> Result<(), String> {
    const MAGIC: &[u8] = b"\0asm";
    if bytes.len() < 8 || &bytes[..4] != MAGIC {
        return Err("the file is not WebAssembly".into());
    }
    match bytes[4..8] {
        [0x0d, 0x00, 0x01, 0x00] => Ok(()),
        [0x01, 0x00, 0x00, 0x00] => Err(
            "the file is a core wasm module, not a component; build it with `cargo build --target wasm32-wasip2`"
                .into(),
        ),
        _ => Err("the file is WebAssembly of an unknown version".into()),
    }
}
