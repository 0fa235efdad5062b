//! `anton plugins new <name>`: a plugin crate that builds and works as it is.

use std::path::Path;
use std::process::ExitCode;

use crate::plugin_host::manifest::{MANIFEST_FILE, SUPPORTED_APIS};

// The SDK (its sources, its macros and the WIT) as this anton was built with it.
include!(concat!(env!("OUT_DIR"), "/sdk_files.rs"));

/// The versions this anton's own plugins were built with: with them in
/// cargo's cache (as they are where anton was built), a new plugin builds
/// offline.
const LOCKED: &str = include_str!("../../Cargo.lock");

pub fn create(name: &str, dir: &Path) -> Result<ExitCode, String> {
    let valid = name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && name.len() <= 40;
    if !valid {
        return Err(format!(
            "'{name}' cannot be a plugin name: use lowercase letters, digits and dashes, starting with a letter"
        ));
    }
    if dir.exists() && dir.read_dir().map_err(|e| e.to_string())?.next().is_some() {
        return Err(format!("{} already exists and is not empty", dir.display()));
    }
    let artifact = name.replace('-', "_");
    let api = SUPPORTED_APIS[0];
    let files = [
        (
            "Cargo.toml",
            format!(
                r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2024"
publish = false

[lib]
crate-type = ["cdylib"]

[dependencies]
# The SDK of the anton that made this crate, in sdk/: no anton sources or
# registry needed to build.
anton-plugin-sdk = {{ path = "sdk" }}

[profile.release]
opt-level = "s"
strip = "debuginfo"

# A plugin builds on its own, not as part of a surrounding workspace.
[workspace]
"#
            ),
        ),
        (
            MANIFEST_FILE,
            format!(
                r#"id = "{name}"
version = "0.1.0"
api = "{api}"
description = "The /{name} command"
component = "{artifact}.wasm"

# Ask only for what the plugin uses; users see and grant this list.
[capabilities]
sessions-read = true

# Commands are declared here once; the SDK builds its table from this file.
[[commands]]
name = "{name}"
kind = "both"
summary = "Say hello from {name}"
usage = "{name} [words…]"
"#
            ),
        ),
        (
            "src/lib.rs",
            format!(
                r#"//! The /{name} command.

use anton_plugin_sdk::storage;
use anton_plugin_sdk::{{Invocation, Outcome, Plugin, chat, register_plugin}};

struct Command;

impl Plugin for Command {{
    fn new() -> Self {{
        Command
    }}

    fn run(&mut self, invocation: &Invocation) -> Result<Outcome, String> {{
        let sessions = storage::count_sessions()?;
        let words = invocation.args.join(" ");
        let sessions = chat::count(sessions, "session", "sessions");
        chat::print(&format!("Hello from {name}! This workspace has {{sessions}}. You said: {{words}}"));
        Ok(Outcome::ok())
    }}
}}

register_plugin!(Command);
"#
            ),
        ),
        (
            "README.md",
            format!(
                r#"# {name}

An anton plugin serving `/{name}` (and `anton {name}`).

```sh
rustup target add wasm32-wasip2                      # once
cargo build --release --target wasm32-wasip2         # build the component
anton plugins install .                              # this workspace (--global: everywhere)
anton {name} hello                                   # or /{name} hello in the chat
```

After a rebuild, `anton plugins install .` again, then `/plugins reload` in a
running chat. `anton plugins check .` validates without installing. The guide:
docs/plugins.md in the anton repository.

`sdk/` is the anton plugin SDK and the WIT contract (`anton:plugin@{api}`) of
the anton that made this crate, so it builds anywhere, offline too.
"#
            ),
        ),
        (".gitignore", "/target\n".to_string()),
    ];
    let sdk = SDK_FILES.iter().map(|(file, text)| (*file, text.to_string()));
    let lock = std::iter::once(("Cargo.lock", plugin_lock(name)));
    for (file, text) in files.into_iter().chain(sdk).chain(lock) {
        let path = dir.join(file);
        std::fs::create_dir_all(path.parent().expect("inside dir"))
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    println!("Created plugin '{name}' in {}.", dir.display());
    println!(
        "Next: cd {} && cargo build --release --target wasm32-wasip2 && anton plugins install .",
        dir.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// The lock of a plugin named `name`: this anton's own, cut to what the SDK
/// may need, with the plugin itself in cargo's order. It pins the versions
/// anton was built with, which cargo finds in its cache offline; the first
/// build trims what features leave unused.
fn plugin_lock(name: &str) -> String {
    let mut blocks = LOCKED.split("\n[[package]]\n");
    let header = blocks.next().unwrap_or_default();
    let field = |block: &str, key: &str| -> String {
        block
            .lines()
            .find_map(|line| line.strip_prefix(&format!("{key} = \"")))
            .map(|value| value.trim_end_matches('"').to_string())
            .unwrap_or_default()
    };
    let dependencies = |block: &str| -> Vec<String> {
        block
            .lines()
            .filter_map(|line| line.strip_prefix(" \"")?.strip_suffix("\","))
            .map(str::to_string)
            .collect()
    };
    let own = format!("name = \"{name}\"\nversion = \"0.1.0\"\ndependencies = [\n \"anton-plugin-sdk\",\n]\n");
    let mut packages: Vec<(String, String, String)> = blocks
        .map(|block| {
            (
                field(block, "name"),
                field(block, "version"),
                block.trim_end().to_string() + "\n",
            )
        })
        .collect();
    // A dependency is named alone, or with its version where two are locked.
    let mut wanted = vec!["anton-plugin-sdk".to_string()];
    let mut kept = std::collections::BTreeSet::new();
    while let Some(dependency) = wanted.pop() {
        let mut words = dependency.split(' ');
        let (dep_name, dep_version) = (words.next().unwrap_or_default(), words.next());
        let found = packages
            .iter()
            .position(|(n, v, _)| n == dep_name && dep_version.is_none_or(|wanted| wanted == v));
        if let Some(at) = found
            && kept.insert(at)
        {
            wanted.extend(dependencies(&packages[at].2));
        }
    }
    let mut chosen: Vec<(String, String, String)> =
        kept.into_iter().map(|at| std::mem::take(&mut packages[at])).collect();
    chosen.push((name.to_string(), "0.1.0".to_string(), own));
    // Kept in the lock's own order (by name, then version as cargo orders them).
    chosen.sort_by(|a, b| a.0.cmp(&b.0));
    let mut lock = header.trim_end().to_string() + "\n";
    for (_, _, block) in chosen {
        lock.push_str("\n[[package]]\n");
        lock.push_str(&block);
    }
    lock
}
