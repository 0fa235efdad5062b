//! Which non-built-in plugins the user has agreed to run, pinned by the
//! sha256 of their wasm, with the capabilities granted at that moment.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::manifest::Capabilities;
use crate::files;

/// What trust is pinned to: the manifest as written (its limits, commands
/// and grants) and the component, so a change to either voids it.
pub fn pin(manifest_text: &str, wasm_sha256: &str) -> String {
    crate::files::sha256_hex(format!("{manifest_text}\0{wasm_sha256}").as_bytes())
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrustRecord {
    /// The plugin's directory; trust never follows a plugin to another place.
    pub location: String,
    pub id: String,
    /// [`pin`] of the manifest and component trusted.
    pub sha256: String,
    pub granted: Capabilities,
    pub trusted_at: i64,
}

#[derive(Default, Serialize, Deserialize)]
struct TrustFile {
    #[serde(default)]
    plugins: Vec<TrustRecord>,
}

pub struct TrustStore {
    file: PathBuf,
    records: Vec<TrustRecord>,
}

impl TrustStore {
    pub fn file(user_data: &Path) -> std::path::PathBuf {
        user_data.join("trusted-plugins.json")
    }

    pub fn load(user_data: &Path) -> Result<TrustStore, String> {
        let file = Self::file(user_data);
        let records = match std::fs::read(&file) {
            Ok(bytes) => {
                serde_json::from_slice::<TrustFile>(&bytes)
                    .map_err(|e| format!("{}: {e} — remove it and trust your plugins again", file.display()))?
                    .plugins
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(format!("cannot read {}: {e}", file.display())),
        };
        Ok(TrustStore { file, records })
    }

    pub fn lookup(&self, location: &Path) -> Option<&TrustRecord> {
        let location = location.display().to_string();
        self.records.iter().find(|r| r.location == location)
    }

    pub fn trust(&mut self, record: TrustRecord) -> Result<(), String> {
        self.records.retain(|r| r.location != record.location);
        self.records.push(record);
        self.save()
    }

    pub fn forget(&mut self, location: &Path) -> Result<(), String> {
        let location = location.display().to_string();
        self.records.retain(|r| r.location != location);
        self.save()
    }

    fn save(&self) -> Result<(), String> {
        let file = TrustFile {
            plugins: self.records.clone(),
        };
        let text = serde_json::to_vec_pretty(&file).map_err(|e| e.to_string())?;
        files::write_atomic(&self.file, &text).map_err(|e| format!("cannot write {}: {e}", self.file.display()))
    }
}
