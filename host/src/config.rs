//! `config.toml`, user and workspace; the workspace wins key by key.
//!
//! ```toml
//! [plugins.share]
//! enabled = false
//!
//! [redact]
//! patterns = ["ACME-[0-9]{6}"]
//!
//! [share]
//! remote = "s3://team-bucket/anton"
//! recipients = ["age1…", "ssh-ed25519 AAAA… bob"]
//! push = false
//! ```

use std::path::{Path, PathBuf};

use toml::{Table, Value};

use crate::files;
use crate::workspace::Paths;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    User,
    Workspace,
}

impl Scope {
    pub fn describe(self) -> &'static str {
        match self {
            Scope::User => "for you (all workspaces)",
            Scope::Workspace => "in this workspace",
        }
    }
}

pub struct Config {
    user: Table,
    workspace: Table,
    user_file: PathBuf,
    workspace_file: PathBuf,
}

impl Config {
    pub fn load(paths: &Paths) -> Result<Config, String> {
        let user_file = paths.user_config_file();
        let workspace_file = paths.workspace_config();
        Ok(Config {
            user: read_table(&user_file)?,
            workspace: read_table(&workspace_file)?,
            user_file,
            workspace_file,
        })
    }

    /// Whether plugin `id` is enabled, and which file said so (`None`: default on).
    pub fn plugin_enabled(&self, id: &str) -> (bool, Option<Scope>) {
        let lookup = |table: &Table| table.get("plugins")?.get(id)?.get("enabled")?.as_bool();
        match (lookup(&self.workspace), lookup(&self.user)) {
            (Some(on), _) => (on, Some(Scope::Workspace)),
            (None, Some(on)) => (on, Some(Scope::User)),
            (None, None) => (true, None),
        }
    }

    pub fn set_plugin_enabled(&mut self, scope: Scope, id: &str, enabled: bool) -> Result<PathBuf, String> {
        let (table, file) = match scope {
            Scope::User => (&mut self.user, &self.user_file),
            Scope::Workspace => (&mut self.workspace, &self.workspace_file),
        };
        let plugins = table
            .entry("plugins")
            .or_insert_with(|| Value::Table(Table::new()))
            .as_table_mut()
            .ok_or_else(|| format!("{}: `plugins` must be a table", file.display()))?;
        let entry = plugins
            .entry(id)
            .or_insert_with(|| Value::Table(Table::new()))
            .as_table_mut()
            .ok_or_else(|| format!("{}: `plugins.{id}` must be a table", file.display()))?;
        entry.insert("enabled".into(), Value::Boolean(enabled));
        let text = toml::to_string(table).map_err(|e| e.to_string())?;
        files::write_atomic(file, text.as_bytes()).map_err(|e| format!("cannot write {}: {e}", file.display()))?;
        Ok(file.clone())
    }

    /// The user's own secret shapes, from both files: more redaction never
    /// acts for anyone, so a workspace's count before it is trusted. A
    /// value that is not a list of strings is named, not fatal.
    /// Each pattern with the file it came from.
    pub fn redact_patterns(&self) -> (Vec<(String, String)>, Vec<String>) {
        let mut patterns = Vec::new();
        let mut problems = Vec::new();
        for (table, file) in [(&self.user, &self.user_file), (&self.workspace, &self.workspace_file)] {
            let Some(value) = table.get("redact").and_then(|r| r.get("patterns")) else {
                continue;
            };
            match value
                .as_array()
                .map(|a| a.iter().map(Value::as_str).collect::<Option<Vec<_>>>())
            {
                Some(Some(list)) => {
                    patterns.extend(list.into_iter().map(|p| (file.display().to_string(), p.to_string())))
                }
                _ => problems.push(format!(
                    "{}: `redact.patterns` must be a list of strings; ignored",
                    file.display()
                )),
            }
        }
        (patterns, problems)
    }
}

/// How this workspace shares beyond the machine (`[share]`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShareSettings {
    /// Where shares go, and the file that said so.
    pub remote: Option<(String, PathBuf)>,
    /// The team's public keys.
    pub recipients: Vec<String>,
    /// `push = false` in either file forbids sending sessions out.
    pub push: bool,
    /// Settings given wrongly, named with their file.
    pub problems: Vec<String>,
}

impl Config {
    /// The `[share]` settings: a workspace's `remote` and `recipients`
    /// (where sessions go, and who can read them) count only once the
    /// workspace is trusted; its `push = false` always does.
    pub fn share(&self, workspace_trusted: bool) -> ShareSettings {
        let mut settings = ShareSettings {
            push: true,
            ..ShareSettings::default()
        };
        let mut problems = Vec::new();
        let layers = [
            (&self.user, &self.user_file, true),
            (&self.workspace, &self.workspace_file, workspace_trusted),
        ];
        for (table, file, chooses) in layers {
            let Some(share) = table.get("share") else {
                continue;
            };
            match share.get("push").map(Value::as_bool) {
                Some(Some(push)) => settings.push &= push,
                // Meant to keep sessions in, written wrong: they stay in.
                Some(None) => {
                    settings.push = false;
                    problems.push(format!(
                        "{}: `share.push` must be true or false; sessions stay in until it is",
                        file.display()
                    ));
                }
                None => {}
            }
            if !chooses {
                continue;
            }
            let mut problem = |what: &str| problems.push(format!("{}: `share.{what}; ignored", file.display()));
            match share.get("remote").map(Value::as_str) {
                Some(Some(remote)) => settings.remote = Some((remote.to_string(), file.clone())),
                Some(None) => problem("remote` must be a string"),
                None => {}
            }
            match share.get("recipients").map(|v| {
                v.as_array()
                    .and_then(|a| a.iter().map(|k| k.as_str().map(String::from)).collect())
            }) {
                Some(Some(keys)) => settings.recipients = keys,
                Some(None) => problem("recipients` must be a list of strings"),
                None => {}
            }
        }
        settings.problems = problems;
        settings
    }

    /// The workspace's own `remote` and `recipients`, as one text: what
    /// trust pins, so a change to either asks again.
    pub fn workspace_share_choice(&self) -> Option<String> {
        let share = self.workspace.get("share")?;
        let chosen: Table = ["remote", "recipients"]
            .into_iter()
            .filter_map(|key| Some((key.to_string(), share.get(key)?.clone())))
            .collect();
        (!chosen.is_empty()).then(|| chosen.to_string())
    }
}

fn read_table(file: &Path) -> Result<Table, String> {
    // A cloned workspace can put a FIFO or a link to /dev/zero here.
    match files::read_text(file, files::MAX_TEXT_FILE) {
        Ok(Some(text)) => text
            .parse::<Table>()
            .map_err(|e| format!("{}: {} — fix or remove the file", file.display(), e.message())),
        Ok(None) => Ok(Table::new()),
        Err(e) => Err(format!("cannot read {}: {e}", file.display())),
    }
}
