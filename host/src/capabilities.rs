//! What a plugin may touch: asked for in its manifest, granted by the user,
//! checked first in every host call. A leaf: the plugin host and the host
//! interfaces both read it, neither through the other.

use std::path::Path;

use serde::{Deserialize, Serialize};

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
    /// Write files into the workspace's `.anton/output/`.
    #[serde(default)]
    pub output_files: bool,
    /// Send files to and fetch them from the team's remote (`[share]
    /// remote`), encrypted to the keys given; the host holds the credentials.
    #[serde(default)]
    pub remote: bool,
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

impl Capabilities {
    /// What both sides allow: a manifest's request narrowed by a grant.
    pub fn intersect(&self, granted: &Capabilities) -> Capabilities {
        Capabilities {
            sessions_read: self.sessions_read && granted.sessions_read,
            sessions_write: self.sessions_write && granted.sessions_write,
            named_files: self.named_files && granted.named_files,
            vault: self.vault && granted.vault,
            llm: self.llm && granted.llm,
            output_files: self.output_files && granted.output_files,
            remote: self.remote && granted.remote,
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
        if self.output_files {
            lines.push("output-files: write files into this workspace's .anton/output".into());
        }
        if self.remote {
            lines.push("remote: send files of .anton/output to your team's share remote, encrypted to keys it names, and fetch shares from it".into());
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

    /// The files grants that reach outside `workspace`, in words ("read and
    /// write /srv/data"), for the user to see before agreeing.
    pub fn outside_workspace(&self, workspace: &Path) -> Vec<String> {
        self.files
            .iter()
            .filter(|f| !f.path.starts_with("{workspace}") && !Path::new(&f.path).starts_with(workspace))
            .map(|f| {
                let access = match f.access {
                    Access::Read => "read",
                    Access::ReadWrite => "read and write",
                };
                format!("{access} {}", f.path)
            })
            .collect()
    }
}
