//! `anton-plugin.toml`: who a plugin is, what it serves, what it may touch.

use std::fmt;
use std::path::{Component, Path, PathBuf};

use serde::Deserialize;

use crate::{files, terminal};

pub use crate::capabilities::{Access, Capabilities, FileAccess};

pub const MANIFEST_FILE: &str = "anton-plugin.toml";

/// The largest manifest and component anton reads; checked before reading.
pub const MAX_MANIFEST_BYTES: u64 = 64 * 1024;
pub const MAX_COMPONENT_BYTES: u64 = 64 * 1024 * 1024;

/// WIT package versions this host serves, newest first.
pub const SUPPORTED_APIS: &[&str] = &["0.3.0", "0.2.0", "0.1.0"];

/// The one plugin id that may ask for the `remote` capability.
const REMOTE_HOLDER: &str = "share";
const DEFAULT_MEMORY_MB: u32 = 64;
const MAX_MEMORY_MB: u32 = 1024;
const DEFAULT_TIMEOUT_MS: u64 = 30_000;
const MAX_TIMEOUT_MS: u64 = 600_000;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    pub version: String,
    /// The `anton:plugin` WIT version the component was built against.
    pub api: String,
    #[serde(default)]
    pub description: String,
    /// The wasm file, relative to the manifest.
    #[serde(default = "default_component")]
    pub component: String,
    pub commands: Vec<ManifestCommand>,
    #[serde(default)]
    pub capabilities: Capabilities,
    #[serde(default)]
    pub limits: Limits,
}

fn default_component() -> String {
    "plugin.wasm".into()
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ManifestCommand {
    pub name: String,
    pub kind: CommandKind,
    pub summary: String,
    #[serde(default)]
    pub aliases: Vec<String>,
    /// How it is typed, for `--help` ("share export [--summary] | …").
    #[serde(default)]
    pub usage: Option<String>,
    /// Its first words, for Tab completion.
    #[serde(default)]
    pub subcommands: Vec<ManifestSubcommand>,
    /// Flags of `anton` itself that run this command first (`--resume`).
    #[serde(default)]
    pub launch_flags: Vec<ManifestFlag>,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ManifestSubcommand {
    pub name: String,
    pub summary: String,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ManifestFlag {
    pub long: String,
    #[serde(default)]
    pub short: Option<char>,
    /// Name of the flag's optional value ("ID").
    #[serde(default)]
    pub value_name: Option<String>,
    pub summary: String,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum CommandKind {
    Slash,
    Cli,
    Both,
}

impl CommandKind {
    pub fn is_cli(self) -> bool {
        matches!(self, CommandKind::Cli | CommandKind::Both)
    }
    pub fn is_slash(self) -> bool {
        matches!(self, CommandKind::Slash | CommandKind::Both)
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    pub memory_mb: Option<u32>,
    pub timeout_ms: Option<u64>,
}

impl Limits {
    pub fn memory_bytes(&self) -> usize {
        self.memory_mb.unwrap_or(DEFAULT_MEMORY_MB) as usize * 1024 * 1024
    }
    pub fn memory_mb(&self) -> u32 {
        self.memory_mb.unwrap_or(DEFAULT_MEMORY_MB)
    }
    pub fn timeout_ms(&self) -> u64 {
        self.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS)
    }
}

/// A manifest problem: the file and the field, in words.
#[derive(Debug, Clone)]
pub struct ManifestError {
    pub file: String,
    pub message: String,
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Both halves may echo a hostile file's name or contents.
        f.write_str(&terminal::sanitize_line(&format!("{}: {}", self.file, self.message)))
    }
}

/// Read and parse the manifest at `file` as a regular file within the size
/// cap; the text too, for an install to copy.
pub fn read_manifest(file: &Path, workspace: &Path) -> Result<(Manifest, String), String> {
    let bytes = files::read_regular(file, MAX_MANIFEST_BYTES)
        .map_err(|e| terminal::sanitize_line(&format!("{}: {e}", file.display())))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| terminal::sanitize_line(&format!("{}: not UTF-8 text", file.display())))?;
    let manifest = Manifest::parse(&text, file, workspace).map_err(|e| e.to_string())?;
    Ok((manifest, text))
}

impl Manifest {
    /// `workspace` is where the plugin would run: a grant may not cover it
    /// from above.
    pub fn parse(text: &str, file: &Path, workspace: &Path) -> Result<Manifest, ManifestError> {
        let error = |message: String| ManifestError {
            file: file.display().to_string(),
            message,
        };
        let manifest: Manifest = toml::from_str(text).map_err(|e| error(e.message().to_string() + &field_hint(&e)))?;
        manifest.validate(workspace, &home_dirs()).map_err(error)?;
        Ok(manifest)
    }

    /// A built-in plugin's manifest, which the build read into JSON.
    pub fn builtin(json: &str, workspace: &Path, homes: &[PathBuf]) -> Result<Manifest, String> {
        let manifest: Manifest = serde_json::from_str(json).map_err(|e| e.to_string())?;
        manifest.validate(workspace, homes)?;
        Ok(manifest)
    }

    fn validate(&self, workspace: &Path, homes: &[PathBuf]) -> Result<(), String> {
        if !is_name(&self.id) {
            return Err(format!(
                "field `id`: '{}' must be lowercase letters, digits and dashes, starting with a letter",
                self.id
            ));
        }
        if self.version.split('.').count() != 3 || self.version.split('.').any(|p| p.parse::<u32>().is_err()) {
            return Err(format!("field `version`: '{}' is not MAJOR.MINOR.PATCH", self.version));
        }
        if !SUPPORTED_APIS.contains(&self.api.as_str()) {
            return Err(format!(
                "field `api`: anton:plugin@{} is not served by this anton (it serves {})",
                self.api,
                SUPPORTED_APIS.join(", ")
            ));
        }
        if !is_plain_file_name(&self.component) {
            return Err(format!(
                "field `component`: '{}' must be a plain file name next to the manifest (no folders)",
                self.component
            ));
        }
        if self.commands.is_empty() {
            return Err("field `commands`: a plugin serves at least one command".into());
        }
        let mut seen = Vec::new();
        for command in &self.commands {
            for name in std::iter::once(&command.name).chain(&command.aliases) {
                if !is_name(name) {
                    return Err(format!(
                        "field `commands`: '{name}' must be lowercase letters, digits and dashes"
                    ));
                }
                if seen.contains(&name) {
                    return Err(format!("field `commands`: '{name}' appears twice"));
                }
                seen.push(name);
            }
        }
        // What reaches the team's remote is the share command's to send:
        // a plugin of its id, built in or replacing it in a workspace.
        if self.capabilities.remote && self.id != REMOTE_HOLDER {
            return Err(format!(
                "field `capabilities.remote`: only the {REMOTE_HOLDER} plugin (id \"{REMOTE_HOLDER}\") may send to the team remote"
            ));
        }
        for file in &self.capabilities.files {
            check_grant(&file.path, workspace, homes)
                .map_err(|why| format!("field `capabilities.files`: '{}' {why}", file.path))?;
        }
        if let Some(mb) = self.limits.memory_mb
            && !(1..=MAX_MEMORY_MB).contains(&mb)
        {
            return Err(format!("field `limits.memory_mb`: {mb} is outside 1..={MAX_MEMORY_MB}"));
        }
        if let Some(ms) = self.limits.timeout_ms
            && !(10..=MAX_TIMEOUT_MS).contains(&ms)
        {
            return Err(format!(
                "field `limits.timeout_ms`: {ms} is outside 10..={MAX_TIMEOUT_MS}"
            ));
        }
        Ok(())
    }

    pub fn serves(&self, command: &str) -> bool {
        self.commands
            .iter()
            .any(|c| c.name == command || c.aliases.iter().any(|a| a == command))
    }

    pub fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.id)
    }
}

/// Why a files grant is refused, after the path: "is your home folder; …".
fn check_grant(path: &str, workspace: &Path, homes: &[PathBuf]) -> Result<(), String> {
    if path.chars().any(char::is_control) {
        return Err("may not contain control characters".into());
    }
    if path.split('/').any(|part| part == "..") {
        return Err("may not use ..".into());
    }
    if path.starts_with('~') {
        return Err("uses ~, which anton does not expand; write {workspace}/… or a full path".into());
    }
    if path == "{workspace}" || path.starts_with("{workspace}/") {
        return Ok(());
    }
    if !path.starts_with('/') {
        return Err("must be {workspace}, start with {workspace}/, or be a full path starting with /".into());
    }
    match whole_tree(Path::new(path), workspace, homes) {
        Some(what) => Err(format!(
            "is {what}, a whole tree a plugin may not be granted; grant a folder inside it, such as {{workspace}}/data"
        )),
        None => Ok(()),
    }
}

/// What `path` (absolute, without `..`) would hand a plugin if it is too much:
/// the root, a top-level folder, the home folder or one above it, or a
/// folder above the workspace.
pub fn whole_tree(path: &Path, workspace: &Path, homes: &[PathBuf]) -> Option<&'static str> {
    let normal = |p: &Path| -> PathBuf {
        p.components()
            .filter(|c| matches!(c, Component::RootDir | Component::Normal(_)))
            .collect()
    };
    let path = normal(path);
    let depth = path.components().filter(|c| matches!(c, Component::Normal(_))).count();
    if depth == 0 {
        return Some("the whole file system");
    }
    if depth == 1 {
        return Some("a top-level folder");
    }
    // The kernel's views of processes and devices: anton's own environment
    // (with its keys) is one path away there.
    if ["/proc", "/sys", "/dev"].iter().any(|system| path.starts_with(system)) {
        return Some("a folder of the system's processes or devices");
    }
    for home in homes.iter().filter(|h| h.is_absolute()) {
        let home = normal(home);
        if home == path {
            return Some("your home folder");
        }
        if home.starts_with(&path) {
            return Some("a folder above your home folder");
        }
    }
    let workspace = normal(workspace);
    if workspace.starts_with(&path) && workspace != path {
        return Some("a folder above this workspace");
    }
    None
}

/// `$HOME` as written and as resolved, so a symlinked home is caught either way.
pub fn home_dirs() -> Vec<PathBuf> {
    let home = crate::files::home_dir();
    let mut homes = vec![home.clone()];
    if let Ok(real) = home.canonicalize()
        && real != home
    {
        homes.push(real);
    }
    homes
}

fn is_plain_file_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && !name.contains(['/', '\\'])
        && !name.chars().any(char::is_control)
}

fn field_hint(error: &toml::de::Error) -> String {
    match error.span() {
        Some(span) => format!(" (at byte {})", span.start),
        None => String::new(),
    }
}

fn is_name(text: &str) -> bool {
    let mut chars = text.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && text.len() <= 40
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
id = "hello"
version = "0.1.0"
api = "0.1.0"
[[commands]]
name = "hello"
kind = "slash"
summary = "Say hello"
"#;

    fn parse(text: &str) -> Result<Manifest, String> {
        Manifest::parse(text, Path::new("/p/anton-plugin.toml"), Path::new("/work/projects/ws"))
            .map_err(|e| e.to_string())
    }

    fn with_grant(path: &str) -> String {
        format!("{GOOD}\n[capabilities]\nfiles = [{{ path = \"{path}\", access = \"read\" }}]\n")
    }

    #[test]
    fn accepts_a_minimal_manifest_with_defaults() {
        let m = parse(GOOD).unwrap();
        assert_eq!(m.component, "plugin.wasm");
        assert_eq!(m.limits.memory_mb(), 64);
        assert_eq!(m.capabilities, Capabilities::default());
    }

    #[test]
    fn names_the_file_and_field_of_each_problem() {
        let cases = [
            (GOOD.replace("\"hello\"\nversion", "\"Hello!\"\nversion"), "field `id`"),
            (GOOD.replace("0.1.0\"\napi", "1.0\"\napi"), "field `version`"),
            (GOOD.replace("api = \"0.1.0\"", "api = \"9.0.0\""), "field `api`"),
            (GOOD.replace("kind = \"slash\"", "kind = \"menu\""), "menu"),
            (GOOD.to_string() + "\n[limits]\nmemory_mb = 0\n", "limits.memory_mb"),
            (GOOD.to_string() + "typo = 1\n", "typo"),
            (
                GOOD.to_string() + "\n[capabilities]\nremote = true\n",
                "only the share plugin (id \"share\") may send to the team remote",
            ),
            (with_grant("{workspace}/../x"), "may not use .."),
            (with_grant("/"), "'/' is the whole file system"),
            (with_grant("/etc"), "'/etc' is a top-level folder"),
            (with_grant("/work//"), "is a top-level folder"),
            (with_grant("/work/projects"), "is a folder above this workspace"),
            (with_grant("~/notes"), "uses ~"),
            (with_grant("{workspace}x"), "must be {workspace}"),
            (with_grant("data"), "must be {workspace}"),
            (
                GOOD.replace("version =", "component = \"bin/p.wasm\"\nversion ="),
                "field `component`",
            ),
            (
                GOOD.replace("version =", "component = \"..\"\nversion ="),
                "field `component`",
            ),
        ];
        for (text, expected) in cases {
            let error = parse(&text).unwrap_err();
            assert!(error.starts_with("/p/anton-plugin.toml: "), "{error}");
            assert!(error.contains(expected), "{error} should mention {expected}");
        }
    }

    #[test]
    fn the_home_folder_and_those_above_it_are_whole_trees() {
        let homes = [PathBuf::from("/home/ana")];
        let ws = Path::new("/srv/code/app");
        assert_eq!(whole_tree(Path::new("/home/ana"), ws, &homes), Some("your home folder"));
        assert_eq!(
            whole_tree(Path::new("/home/ana/"), ws, &homes),
            Some("your home folder")
        );
        assert_eq!(whole_tree(Path::new("/home"), ws, &homes), Some("a top-level folder"));
        assert_eq!(
            whole_tree(Path::new("/srv/code"), ws, &homes),
            Some("a folder above this workspace")
        );
        assert_eq!(whole_tree(Path::new("/home/ana/data"), ws, &homes), None);
        assert_eq!(whole_tree(Path::new("/srv/data/shared"), ws, &homes), None);
        assert_eq!(whole_tree(ws, ws, &homes), None);
    }

    #[test]
    fn deeper_and_workspace_grants_are_accepted() {
        for path in ["{workspace}", "{workspace}/out", "/srv/data/shared"] {
            parse(&with_grant(path)).unwrap();
        }
    }

    /// The build hands the built-in manifests over as JSON: what anton reads
    /// from it is what the TOML says.
    #[test]
    fn built_in_manifests_read_as_their_toml() {
        let plugins = Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins");
        let ws = Path::new("/work/projects/ws");
        for builtin in crate::plugin_host::BUILTIN_PLUGINS {
            let text = std::fs::read_to_string(plugins.join(builtin.id).join(MANIFEST_FILE)).unwrap();
            let from_toml = parse(&text).unwrap();
            let from_json = Manifest::builtin(builtin.manifest_json, ws, &home_dirs()).unwrap();
            assert_eq!(format!("{from_json:?}"), format!("{from_toml:?}"), "{}", builtin.id);
        }
    }
}
