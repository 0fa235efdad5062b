//! The linker plugins are instantiated with, holding only the interfaces
//! the plugins met so far import: linking every WASI and anton function took
//! a command a third of a millisecond, for a plugin that calls a dozen.

use std::collections::HashSet;

use wasmtime::component::{Component, HasData, HasSelf, Linker, ResourceTable};
use wasmtime_wasi::WasiView;
use wasmtime_wasi::cli::{WasiCli, WasiCliView};
use wasmtime_wasi::clocks::{WasiClocks, WasiClocksView};
use wasmtime_wasi::filesystem::{WasiFilesystem, WasiFilesystemView};
use wasmtime_wasi::p2::bindings::{cli, clocks, filesystem, random, sockets, sync};
use wasmtime_wasi::random::{WasiRandom, WasiRandomView};
use wasmtime_wasi::sockets::{WasiSockets, WasiSocketsView};

use super::engine::engine;
use super::instance::PluginFailure;
use crate::interfaces::PluginState;
use crate::interfaces::latest::Contract;
use crate::interfaces::{since_v0_1_0, since_v0_2_0, since_v0_3_0};

type Link = fn(&mut Linker<PluginState>) -> wasmtime::Result<()>;

/// `wasi:io` hands its functions the resource table alone.
struct WasiIo;

impl HasData for WasiIo {
    type Data<'a> = &'a mut ResourceTable;
}

fn io_table(state: &mut PluginState) -> &mut ResourceTable {
    state.ctx().table
}

/// Every interface the host serves, by name without its version (a plugin
/// built against `wasi:cli/stdout@0.2.0` links to the newer 0.2 here, as
/// wasmtime allows). The same set `wasmtime_wasi::p2::add_to_linker_sync`
/// and the anton contract link, one interface at a time.
const INTERFACES: &[(&str, Link)] = &[
    ("wasi:io/error", |l| {
        sync::io::error::add_to_linker::<_, WasiIo>(l, io_table)
    }),
    ("wasi:io/poll", |l| {
        sync::io::poll::add_to_linker::<_, WasiIo>(l, io_table)
    }),
    ("wasi:io/streams", |l| {
        sync::io::streams::add_to_linker::<_, WasiIo>(l, io_table)
    }),
    ("wasi:clocks/wall-clock", |l| {
        clocks::wall_clock::add_to_linker::<_, WasiClocks>(l, PluginState::clocks)
    }),
    ("wasi:clocks/monotonic-clock", |l| {
        clocks::monotonic_clock::add_to_linker::<_, WasiClocks>(l, PluginState::clocks)
    }),
    ("wasi:filesystem/preopens", |l| {
        filesystem::preopens::add_to_linker::<_, WasiFilesystem>(l, PluginState::filesystem)
    }),
    ("wasi:filesystem/types", |l| {
        sync::filesystem::types::add_to_linker::<_, WasiFilesystem>(l, PluginState::filesystem)
    }),
    ("wasi:random/random", |l| {
        random::random::add_to_linker::<_, WasiRandom>(l, PluginState::random)
    }),
    ("wasi:random/insecure", |l| {
        random::insecure::add_to_linker::<_, WasiRandom>(l, PluginState::random)
    }),
    ("wasi:random/insecure-seed", |l| {
        random::insecure_seed::add_to_linker::<_, WasiRandom>(l, PluginState::random)
    }),
    ("wasi:cli/exit", |l| {
        cli::exit::add_to_linker::<_, WasiCli>(l, PluginState::cli)
    }),
    ("wasi:cli/environment", |l| {
        cli::environment::add_to_linker::<_, WasiCli>(l, PluginState::cli)
    }),
    ("wasi:cli/stdin", |l| {
        cli::stdin::add_to_linker::<_, WasiCli>(l, PluginState::cli)
    }),
    ("wasi:cli/stdout", |l| {
        cli::stdout::add_to_linker::<_, WasiCli>(l, PluginState::cli)
    }),
    ("wasi:cli/stderr", |l| {
        cli::stderr::add_to_linker::<_, WasiCli>(l, PluginState::cli)
    }),
    ("wasi:cli/terminal-input", |l| {
        cli::terminal_input::add_to_linker::<_, WasiCli>(l, PluginState::cli)
    }),
    ("wasi:cli/terminal-output", |l| {
        cli::terminal_output::add_to_linker::<_, WasiCli>(l, PluginState::cli)
    }),
    ("wasi:cli/terminal-stdin", |l| {
        cli::terminal_stdin::add_to_linker::<_, WasiCli>(l, PluginState::cli)
    }),
    ("wasi:cli/terminal-stdout", |l| {
        cli::terminal_stdout::add_to_linker::<_, WasiCli>(l, PluginState::cli)
    }),
    ("wasi:cli/terminal-stderr", |l| {
        cli::terminal_stderr::add_to_linker::<_, WasiCli>(l, PluginState::cli)
    }),
    ("wasi:sockets/network", |l| {
        let options = sockets::network::LinkOptions::default();
        sockets::network::add_to_linker::<_, WasiSockets>(l, &options, PluginState::sockets)
    }),
    ("wasi:sockets/instance-network", |l| {
        sockets::instance_network::add_to_linker::<_, WasiSockets>(l, PluginState::sockets)
    }),
    ("wasi:sockets/tcp-create-socket", |l| {
        sockets::tcp_create_socket::add_to_linker::<_, WasiSockets>(l, PluginState::sockets)
    }),
    ("wasi:sockets/tcp", |l| {
        sync::sockets::tcp::add_to_linker::<_, WasiSockets>(l, PluginState::sockets)
    }),
    ("wasi:sockets/udp-create-socket", |l| {
        sync::sockets::udp_create_socket::add_to_linker::<_, WasiSockets>(l, PluginState::sockets)
    }),
    ("wasi:sockets/udp", |l| {
        sync::sockets::udp::add_to_linker::<_, WasiSockets>(l, PluginState::sockets)
    }),
    ("wasi:sockets/ip-name-lookup", |l| {
        sockets::ip_name_lookup::add_to_linker::<_, WasiSockets>(l, PluginState::sockets)
    }),
    ("anton:plugin/types", |l| {
        since_v0_1_0::anton::plugin::types::add_to_linker::<_, HasSelf<_>>(l, |s| s)
    }),
    ("anton:plugin/chat", |l| {
        since_v0_1_0::anton::plugin::chat::add_to_linker::<_, HasSelf<_>>(l, |s| s)
    }),
    ("anton:plugin/storage", |l| {
        since_v0_1_0::anton::plugin::storage::add_to_linker::<_, HasSelf<_>>(l, |s| s)
    }),
    ("anton:plugin/llm", |l| {
        since_v0_1_0::anton::plugin::llm::add_to_linker::<_, HasSelf<_>>(l, |s| s)
    }),
    ("anton:plugin/log", |l| {
        since_v0_1_0::anton::plugin::log::add_to_linker::<_, HasSelf<_>>(l, |s| s)
    }),
    ("anton:plugin/vault", |l| {
        since_v0_1_0::anton::plugin::vault::add_to_linker::<_, HasSelf<_>>(l, |s| s)
    }),
    ("anton:plugin/session-io", |l| {
        since_v0_2_0::anton::plugin0_2_0::session_io::add_to_linker::<_, HasSelf<_>>(l, |s| s)
    }),
    ("anton:plugin/file-io", |l| {
        since_v0_2_0::anton::plugin0_2_0::file_io::add_to_linker::<_, HasSelf<_>>(l, |s| s)
    }),
    ("anton:plugin/remote", |l| {
        since_v0_3_0::anton::plugin0_3_0::remote::add_to_linker::<_, HasSelf<_>>(l, |s| s)
    }),
];

pub struct PluginLinker {
    linker: Linker<PluginState>,
    linked: HashSet<&'static str>,
    /// Set once a plugin imported a name not in [`INTERFACES`]: from then
    /// on everything is linked, and wasmtime names what is still missing.
    everything: bool,
}

impl Default for PluginLinker {
    fn default() -> PluginLinker {
        let mut linker = Linker::new(engine());
        // Linking everything after some interfaces defines those again.
        linker.allow_shadowing(true);
        PluginLinker {
            linker,
            linked: HashSet::new(),
            everything: false,
        }
    }
}

impl PluginLinker {
    /// The linker, holding at least what `component` imports.
    pub fn for_component(&mut self, component: &Component) -> Result<&Linker<PluginState>, PluginFailure> {
        let failed = |e: wasmtime::Error| PluginFailure(format!("cannot set up the plugin host: {e}"));
        if !self.everything {
            for (import, _) in component.component_type().imports(engine()) {
                let name = import.split_once('@').map_or(import, |(name, _)| name);
                match INTERFACES.iter().find(|(served, _)| *served == name) {
                    Some((served, _)) if self.linked.contains(served) => {}
                    Some((served, link)) => {
                        link(&mut self.linker).map_err(failed)?;
                        self.linked.insert(served);
                    }
                    None => {
                        link_everything(&mut self.linker).map_err(failed)?;
                        self.everything = true;
                        break;
                    }
                }
            }
        }
        Ok(&self.linker)
    }
}

fn link_everything(linker: &mut Linker<PluginState>) -> wasmtime::Result<()> {
    wasmtime_wasi::p2::add_to_linker_sync(linker)?;
    Contract::add_to_linker::<_, HasSelf<_>>(linker, |s| s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin_host::BUILTIN_PLUGINS;

    #[test]
    fn each_interface_links_on_its_own() {
        for (name, link) in INTERFACES {
            let mut linker = Linker::<PluginState>::new(engine());
            link(&mut linker).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }

    /// A new WIT interface left out of the table would still link (all of
    /// them, slowly); this says it was left out.
    #[test]
    fn every_anton_interface_is_in_the_table() {
        let wit = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../wit");
        let mut interfaces = Vec::new();
        for version in std::fs::read_dir(&wit).unwrap() {
            for file in std::fs::read_dir(version.unwrap().path()).unwrap() {
                let path = file.unwrap().path();
                if path.extension().is_some_and(|e| e == "wit") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    interfaces.extend(text.lines().filter_map(|line| {
                        let name = line.trim().strip_prefix("interface ")?.split_whitespace().next()?;
                        Some(format!("anton:plugin/{name}"))
                    }));
                }
            }
        }
        assert!(interfaces.len() >= 10, "read the WIT folders: {interfaces:?}");
        for interface in interfaces.iter().filter(|i| *i != "anton:plugin/command") {
            assert!(
                INTERFACES.iter().any(|(served, _)| served == interface),
                "{interface} is not in INTERFACES"
            );
        }
    }

    /// The plugins anton ships link from the table alone, each with its own
    /// imports and no more, and instantiate.
    #[test]
    fn the_builtin_plugins_link_only_what_they_import() {
        let mut shared = PluginLinker::default();
        for builtin in BUILTIN_PLUGINS {
            let component = Component::new(engine(), builtin.wasm).unwrap();
            let mut own = PluginLinker::default();
            own.for_component(&component)
                .unwrap()
                .instantiate_pre(&component)
                .unwrap_or_else(|e| panic!("{}: {e}", builtin.id));
            assert!(!own.everything, "{} imports what INTERFACES lacks", builtin.id);
            let imported = component.component_type().imports(engine()).count();
            assert!(own.linked.len() <= imported, "{}: linked {:?}", builtin.id, own.linked);
            shared
                .for_component(&component)
                .unwrap()
                .instantiate_pre(&component)
                .unwrap();
        }
        assert!(!shared.everything);
    }

    /// What a plugin importing something the table lacks gets.
    #[test]
    fn everything_links_over_what_was_linked_one_by_one() {
        let mut linker = PluginLinker::default();
        let sessions = BUILTIN_PLUGINS.iter().find(|b| b.id == "sessions").unwrap();
        let component = Component::new(engine(), sessions.wasm).unwrap();
        linker.for_component(&component).unwrap();
        link_everything(&mut linker.linker).unwrap();
        linker.linker.instantiate_pre(&component).unwrap();
    }
}
