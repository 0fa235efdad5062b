//! Rules and lessons steer every later session, so a project memory is in
//! force only once anton wrote it here or the user accepted it. A cloned
//! repository's `.anton/memory/` (or another tool's entries) is shown and
//! asked about first, as an imported file's memories are. What is known is
//! kept per workspace in the user's data folder, by the entry's fingerprint.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::memory::{Entry, clean_text};
use crate::workspace::Paths;

#[derive(Default, Serialize, Deserialize)]
struct KnownFile {
    /// Workspace path → fingerprints of the entries known there.
    #[serde(default)]
    workspaces: BTreeMap<String, BTreeSet<String>>,
}

pub struct Known {
    file: PathBuf,
    workspace: String,
    known: KnownFile,
}

/// An entry as it is known: its kind and its text, nothing else.
fn fingerprint(entry: &Entry) -> String {
    crate::files::sha256_hex(format!("{}\0{}", entry.kind.as_str(), clean_text(&entry.text)).as_bytes())
}

impl Known {
    /// A damaged record is reported and read as empty: nothing is lost but
    /// a question asked again.
    pub fn load(paths: &Paths) -> Known {
        let file = paths.user_data.join("known-memories.json");
        let known = match crate::files::read_text(&file, crate::files::MAX_TEXT_FILE) {
            Ok(Some(text)) => serde_json::from_str(&text).unwrap_or_else(|e| {
                eprintln!(
                    "warning: {}: {e}; project memories will be asked about again",
                    file.display()
                );
                KnownFile::default()
            }),
            Ok(None) => KnownFile::default(),
            Err(e) => {
                eprintln!("warning: cannot read {}: {e}", file.display());
                KnownFile::default()
            }
        };
        let workspace = paths
            .workspace
            .canonicalize()
            .unwrap_or_else(|_| paths.workspace.clone());
        Known {
            file,
            workspace: workspace.display().to_string(),
            known,
        }
    }

    pub fn contains(&self, entry: &Entry) -> bool {
        self.known
            .workspaces
            .get(&self.workspace)
            .is_some_and(|set| set.contains(&fingerprint(entry)))
    }

    /// Remember `entries` as written or accepted here.
    pub fn accept<'a>(&mut self, entries: impl IntoIterator<Item = &'a Entry>) -> Result<(), String> {
        let set = self.known.workspaces.entry(self.workspace.clone()).or_default();
        let before = set.len();
        set.extend(entries.into_iter().map(fingerprint));
        if set.len() == before {
            return Ok(());
        }
        let text = serde_json::to_vec_pretty(&self.known).map_err(|e| e.to_string())?;
        crate::files::write_atomic(&self.file, &text).map_err(|e| format!("cannot write {}: {e}", self.file.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::Kind;

    #[test]
    fn entries_are_known_per_workspace_by_kind_and_text() {
        let home = tempfile::tempdir().unwrap();
        let ws = tempfile::tempdir().unwrap();
        let mut paths = Paths::new(Some(ws.path())).unwrap();
        paths.user_data = home.path().to_path_buf();
        let rule = Entry::new(Kind::Always, "Always group by region");
        let mut known = Known::load(&paths);
        assert!(!known.contains(&rule));
        known.accept([&rule]).unwrap();
        let again = Known::load(&paths);
        assert!(again.contains(&rule));
        assert!(!again.contains(&Entry::new(Kind::Never, "Always group by region")));
        let other = tempfile::tempdir().unwrap();
        let mut elsewhere = Paths::new(Some(other.path())).unwrap();
        elsewhere.user_data = home.path().to_path_buf();
        assert!(!Known::load(&elsewhere).contains(&rule), "known in one workspace only");
    }
}
