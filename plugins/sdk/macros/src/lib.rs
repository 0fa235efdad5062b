//! `manifest_commands!()`: the `describe` table of the plugin being built,
//! read from the `anton-plugin.toml` beside its `Cargo.toml` at compile time,
//! so a plugin declares its commands once. A change to the manifest rebuilds
//! the plugin (the manifest is included as bytes).

use std::path::PathBuf;

use proc_macro::TokenStream;
use serde::Deserialize;

/// The part of a manifest the table needs; the host checks the rest.
#[derive(Deserialize)]
struct Manifest {
    commands: Vec<Command>,
}

#[derive(Deserialize)]
struct Command {
    name: String,
    kind: String,
    summary: String,
    #[serde(default)]
    aliases: Vec<String>,
    usage: Option<String>,
    #[serde(default)]
    subcommands: Vec<Subcommand>,
    #[serde(default)]
    launch_flags: Vec<Flag>,
}

#[derive(Deserialize)]
struct Subcommand {
    name: String,
    summary: String,
}

#[derive(Deserialize)]
struct Flag {
    long: String,
    short: Option<char>,
    value_name: Option<String>,
    summary: String,
}

#[proc_macro]
pub fn manifest_commands(_input: TokenStream) -> TokenStream {
    match table() {
        Ok(code) => code.parse().expect("generated code parses"),
        Err(message) => format!("compile_error!({message:?})").parse().expect("an error parses"),
    }
}

fn table() -> Result<String, String> {
    let dir = std::env::var("CARGO_MANIFEST_DIR").map_err(|_| "CARGO_MANIFEST_DIR is not set".to_string())?;
    let file = PathBuf::from(dir).join("anton-plugin.toml");
    let text = std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
    let manifest: Manifest = toml::from_str(&text).map_err(|e| format!("{}: {}", file.display(), e.message()))?;
    let sdk = "::anton_plugin_sdk";
    let text = |s: &str| format!("{s:?}.into()");
    let list = |items: Vec<String>| format!("::std::vec![{}]", items.join(", "));
    let mut commands = Vec::new();
    for c in manifest.commands {
        let kind = match c.kind.as_str() {
            "slash" => "Slash",
            "cli" => "Cli",
            "both" => "Both",
            other => {
                return Err(format!(
                    "{}: command '{}': unknown kind '{other}'",
                    file.display(),
                    c.name
                ));
            }
        };
        let subcommands = c
            .subcommands
            .iter()
            .map(|s| {
                format!(
                    "{sdk}::Subcommand {{ name: {}, summary: {} }}",
                    text(&s.name),
                    text(&s.summary)
                )
            })
            .collect();
        let flags = c
            .launch_flags
            .iter()
            .map(|f| {
                format!(
                    "{sdk}::LaunchFlag {{ long: {}, short: {:?}, value_name: {}, summary: {} }}",
                    text(&f.long),
                    f.short,
                    f.value_name
                        .as_deref()
                        .map_or("None".to_string(), |v| format!("Some({})", text(v))),
                    text(&f.summary)
                )
            })
            .collect();
        commands.push(format!(
            "{sdk}::CommandSpec {{ name: {}, aliases: {}, summary: {}, usage: {}, subcommands: {}, kind: {sdk}::CommandKind::{kind}, launch_flags: {} }}",
            text(&c.name),
            list(c.aliases.iter().map(|a| text(a)).collect()),
            text(&c.summary),
            text(c.usage.as_deref().unwrap_or(&c.name)),
            list(subcommands),
            list(flags),
        ));
    }
    Ok(format!(
        "{{ const _: &[u8] = include_bytes!({:?}); {} }}",
        file.display().to_string(),
        list(commands)
    ))
}
