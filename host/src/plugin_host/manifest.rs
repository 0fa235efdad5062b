//! `anton-plugin.toml`: who a plugin is, what it serves, what it may touch.

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

pub const MANIFEST_FILE: &str = "anton-plugin.toml";

/// WIT package versions this host serves, newest first.
pub const SUPPORTED_APIS: &[&str] = &["0.1.0"];

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
    /// Flags of `anton` itself that run this command first (`--resume`).
    #[serde(default)]
    pub launch_flags: Vec<ManifestFlag>,
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

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Capabilities {
    /// Read sessions, messages and their records.
    #[serde(default)]
    pub sessions_read: bool,
    /// Create sessions (imports) and record shares.
    #[serde(default)]
    pub sessions_write: bool,
    /// Read a file the user names in the command's arguments.
    #[serde(default)]
    pub named_files: bool,
    /// Read and write the data-source vault (secret values write-only).
    #[serde(default)]
    pub vault: bool,
    /// Ask the user's model for completions.
    #[serde(default)]
    pub llm: bool,
    /// Directories the plugin may open. `{workspace}` is the workspace root.
    #[serde(default)]
    pub files: Vec<FileAccess>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct FileAccess {
    pub path: String,
    pub access: Access,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Access {
    Read,
    ReadWrite,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    pub memory_mb: Option<u32>,
    pub timeout_ms: Option<u64>,
}

impl Capabilities {
    /// What both sides allow: a manifest's request narrowed by a grant.
    pub fn intersect(&self, granted: &Capabilities) -> Capabilities {
        Capabilities {
            sessions_read: self.sessions_read && granted.sessions_read,
            sessions_write: self.sessions_write && granted.sessions_write,
            named_files: self.named_files && granted.named_files,
            vault: self.vault && granted.vault,
            llm: self.llm && granted.llm,
            files: self
                .files
                .iter()
                .filter(|f| granted.files.contains(f))
                .cloned()
                .collect(),
        }
    }

    /// One line per capability, for people deciding whether to trust.
    pub fn describe(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if self.sessions_read {
            lines.push("sessions-read: read this workspace's sessions and their messages".into());
        }
        if self.sessions_write {
            lines.push("sessions-write: create sessions in this workspace and record shares".into());
        }
        if self.named_files {
            lines.push("named-files: read a file you name in the command".into());
        }
        if self.vault {
            lines.push("vault: list, save and test your data-source connections (secrets write-only)".into());
        }
        if self.llm {
            lines.push("llm: send prompts to your configured model".into());
        }
        for file in &self.files {
            let access = match file.access {
                Access::Read => "read",
                Access::ReadWrite => "read and write",
            };
            lines.push(format!("files: {access} {}", file.path));
        }
        lines
    }
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
        write!(f, "{}: {}", self.file, self.message)
    }
}

impl Manifest {
    pub fn parse(text: &str, file: &Path) -> Result<Manifest, ManifestError> {
        let error = |message: String| ManifestError {
            file: file.display().to_string(),
            message,
        };
        let manifest: Manifest = toml::from_str(text).map_err(|e| error(e.message().to_string() + &field_hint(&e)))?;
        manifest.validate().map_err(error)?;
        Ok(manifest)
    }

    fn validate(&self) -> Result<(), String> {
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
        if self.component.contains("..") || Path::new(&self.component).is_absolute() {
            return Err(format!(
                "field `component`: '{}' must be a file next to the manifest",
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
        for file in &self.capabilities.files {
            if file.path.split('/').any(|part| part == "..") {
                return Err(format!("field `capabilities.files`: '{}' may not use ..", file.path));
            }
            if !file.path.starts_with("{workspace}") && !Path::new(&file.path).is_absolute() {
                return Err(format!(
                    "field `capabilities.files`: '{}' must start with {{workspace}} or /",
                    file.path
                ));
            }
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

    pub fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.id)
    }
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
        Manifest::parse(text, Path::new("/p/anton-plugin.toml")).map_err(|e| e.to_string())
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
                GOOD.to_string() + "\n[capabilities]\nfiles = [{ path = \"{workspace}/../x\", access = \"read\" }]\n",
                "may not use ..",
            ),
        ];
        for (text, expected) in cases {
            let error = parse(&text).unwrap_err();
            assert!(error.starts_with("/p/anton-plugin.toml: "), "{error}");
            assert!(error.contains(expected), "{error} should mention {expected}");
        }
    }
}
