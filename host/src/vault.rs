//! The reference Anton's data-source vault: `~/.anton/data_vault/<engine>-<name>`,
//! JSON `{engine, name, created_at, updated_at, fields}`, file 0600 in a 0700
//! directory. Scratchpad code sees each field as `DS_<ENGINE>_<NAME>__<FIELD>`.

use std::collections::BTreeMap;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::files;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DataSource {
    pub engine: String,
    pub name: String,
    #[serde(default)]
    pub created_at: String,
    #[serde(default)]
    pub updated_at: String,
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
    /// Whatever else the reference Anton keeps (e.g. `secure_keys`), untouched.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// Field names whose values are secret.
const SECRET_FIELDS: &[&str] = &["password", "secret", "token", "key", "credential", "private", "auth"];

impl DataSource {
    /// Secret by the reference Anton's `secure_keys`, or by its name.
    pub fn is_secret(&self, field: &str) -> bool {
        let listed = self
            .extra
            .get("secure_keys")
            .and_then(Value::as_array)
            .is_some_and(|keys| keys.iter().any(|k| k == field));
        listed || SECRET_FIELDS.iter().any(|s| field.to_lowercase().contains(s))
    }

    /// `<engine>-<name>`: the vault file name and the `/connect` handle.
    pub fn file_name(&self) -> String {
        format!("{}-{}", self.engine, self.name)
    }

    /// The single mapping between a connection and everything derived from
    /// it; see [`reference`].
    pub fn reference(&self) -> String {
        reference(&self.engine, &self.name)
    }

    /// `DS_<ENGINE>_<NAME>__`.
    pub fn env_prefix(&self) -> String {
        format!("DS_{}__", self.reference().to_uppercase())
    }

    /// What scratchpad code sees.
    pub fn env_vars(&self) -> Vec<(String, String)> {
        self.fields
            .iter()
            .map(|(field, value)| {
                (
                    format!("{}{}", self.env_prefix(), reference_part(field).to_uppercase()),
                    value.clone(),
                )
            })
            .collect()
    }
}

/// `postgres` + `prod-db.eu` → `postgres_prod_db_eu`: lowercase, every run of
/// other characters one `_`. The same function reads a variable name back
/// (`DS_POSTGRES_PROD_DB_EU__HOST` → `postgres_prod_db_eu`), so names with
/// `-` or `.` match in both directions.
pub fn reference(engine: &str, name: &str) -> String {
    format!("{}_{}", reference_part(engine), reference_part(name))
}

fn reference_part(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    out.trim_matches('_').to_string()
}

/// The data sources scratchpad code refers to, from `DS_<REF>__` names in it.
pub fn references_in(code: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("DS_") {
        let boundary = at == 0 || !rest[..at].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_');
        let tail = &rest[at + 3..];
        if boundary && let Some(end) = tail.find("__") {
            let candidate = &tail[..end];
            if !candidate.is_empty()
                && candidate
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
            {
                let reference = reference_part(candidate);
                if !found.contains(&reference) {
                    found.push(reference);
                }
            }
        }
        rest = &rest[at + 3..];
    }
    found
}

pub struct Vault {
    dir: PathBuf,
}

/// A vault file that could not be read: reported by name, never deleted.
#[derive(Debug)]
pub struct Unreadable {
    pub file: PathBuf,
    pub error: String,
}

impl Vault {
    /// `<home>/.anton/data_vault`.
    pub fn new(home: &Path) -> Vault {
        Vault {
            dir: home.join(".anton").join("data_vault"),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn list(&self) -> (Vec<DataSource>, Vec<Unreadable>) {
        let mut good = Vec::new();
        let mut bad = Vec::new();
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return (good, bad);
        };
        let mut files: Vec<PathBuf> = entries.flatten().map(|e| e.path()).filter(|p| p.is_file()).collect();
        files.sort();
        for file in files {
            if file.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')) {
                continue;
            }
            match std::fs::read(&file)
                .map_err(|e| e.to_string())
                .and_then(|b| serde_json::from_slice::<DataSource>(&b).map_err(|e| e.to_string()))
            {
                Ok(source) => good.push(source),
                Err(error) => bad.push(Unreadable { file, error }),
            }
        }
        (good, bad)
    }

    pub fn save(&self, source: &DataSource) -> Result<PathBuf, String> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)
            .map_err(|e| format!("cannot create {}: {e}", self.dir.display()))?;
        let _ = std::fs::set_permissions(&self.dir, std::fs::Permissions::from_mode(0o700));
        let file = self.dir.join(source.file_name());
        let bytes = serde_json::to_vec_pretty(source).map_err(|e| e.to_string())?;
        files::write_atomic_private(&file, &bytes).map_err(|e| format!("cannot write {}: {e}", file.display()))?;
        Ok(file)
    }

    /// A connection's name becomes a file name: no slashes, not empty, not hidden.
    pub fn check_name(engine: &str, name: &str) -> Result<(), String> {
        let usable = |s: &str| !s.is_empty() && !s.contains(['/', '\\']) && !s.starts_with('.');
        if usable(engine) && usable(name) {
            Ok(())
        } else {
            Err(format!(
                "'{engine}-{name}' is not a usable connection name: no slashes, not empty"
            ))
        }
    }

    pub fn find(&self, handle: &str) -> Option<DataSource> {
        self.list().0.into_iter().find(|s| s.file_name() == handle)
    }

    /// Create or replace `<engine>-<name>` from `fields` (name, value, secret).
    /// An empty secret keeps the saved value, so editing need not retype it;
    /// `secure_keys` lists the secret fields, as the reference Anton does.
    /// Returns the saved connection.
    pub fn save_fields(
        &self,
        engine: String,
        name: String,
        fields: Vec<(String, String, bool)>,
    ) -> Result<DataSource, String> {
        let now = jiff::Timestamp::now().to_string();
        let existing = self.find(&format!("{engine}-{name}"));
        let mut source = DataSource {
            engine,
            name,
            created_at: existing.as_ref().map_or_else(|| now.clone(), |e| e.created_at.clone()),
            updated_at: now,
            fields: Default::default(),
            extra: existing.as_ref().map(|e| e.extra.clone()).unwrap_or_default(),
        };
        let mut secure_keys = Vec::new();
        for (field, value, secret) in fields {
            let value = match (secret, value.is_empty(), &existing) {
                (true, true, Some(old)) => old.fields.get(&field).cloned().unwrap_or_default(),
                _ => value,
            };
            if secret {
                secure_keys.push(field.clone());
            }
            source.fields.insert(field, value);
        }
        source
            .extra
            .insert("secure_keys".into(), serde_json::json!(secure_keys));
        self.save(&source)?;
        Ok(source)
    }

    pub fn remove(&self, file_name: &str) -> Result<bool, String> {
        if file_name.contains('/') || file_name.starts_with('.') {
            return Err(format!("'{file_name}' is not a data-source name"));
        }
        match std::fs::remove_file(self.dir.join(file_name)) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(format!("cannot remove {file_name}: {e}")),
        }
    }
}

/// What a reachability check tried and found.
pub struct Reach {
    /// "TCP db.internal:5432".
    pub target: String,
    pub elapsed: std::time::Duration,
    pub result: Result<(), String>,
}

impl DataSource {
    /// A TCP connection to the saved host and port, within `timeout`.
    pub fn reach(&self, timeout: std::time::Duration) -> Result<Reach, String> {
        use std::net::{TcpStream, ToSocketAddrs};
        let host = ["host", "hostname", "server"]
            .iter()
            .find_map(|k| self.fields.get(*k))
            .filter(|h| !h.is_empty());
        let port = self.fields.get("port").and_then(|p| p.trim().parse::<u16>().ok());
        let (Some(host), Some(port)) = (host, port) else {
            return Err(format!(
                "connection '{}' has no host and port to reach",
                self.file_name()
            ));
        };
        let started = std::time::Instant::now();
        let result = (host.as_str(), port)
            .to_socket_addrs()
            .map_err(|e| format!("cannot resolve {host}: {e}"))
            .and_then(|mut addrs| addrs.next().ok_or_else(|| format!("{host} has no address")))
            .and_then(|addr| TcpStream::connect_timeout(&addr, timeout).map_err(|e| e.to_string()))
            .map(drop);
        Ok(Reach {
            target: format!("TCP {host}:{port}"),
            elapsed: started.elapsed(),
            result,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(engine: &str, name: &str) -> DataSource {
        DataSource {
            engine: engine.into(),
            name: name.into(),
            created_at: "2026-11-23T10:00:00+00:00".into(),
            updated_at: "2026-11-23T10:00:00+00:00".into(),
            fields: BTreeMap::from([
                ("host".into(), "db.internal".into()),
                ("password".into(), "s3cret".into()),
            ]),
            extra: BTreeMap::new(),
        }
    }

    #[test]
    fn names_with_dashes_and_dots_match_in_both_directions() {
        let s = source("postgres", "prod-db.eu");
        assert_eq!(s.env_prefix(), "DS_POSTGRES_PROD_DB_EU__");
        assert!(
            s.env_vars()
                .contains(&("DS_POSTGRES_PROD_DB_EU__HOST".into(), "db.internal".into()))
        );
        let seen = references_in("import os\nh = os.environ['DS_POSTGRES_PROD_DB_EU__HOST']\nx = MY_DS_FOO__BAR");
        assert_eq!(seen, vec![s.reference()]);
    }

    #[test]
    fn saves_private_files_and_reads_the_reference_antons_back() {
        let home = tempfile::tempdir().unwrap();
        let vault = Vault::new(home.path());
        let file = vault.save(&source("mysql", "sales")).unwrap();
        assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(
            std::fs::metadata(vault.dir()).unwrap().permissions().mode() & 0o777,
            0o700
        );
        let anton_written = r#"{"engine": "postgres", "name": "prod_db", "created_at": "2026-11-23T10:00:00", "updated_at": "2026-11-23T10:00:00", "fields": {"host": "h"}, "secure_keys": ["password"]}"#;
        std::fs::write(vault.dir().join("postgres-prod_db"), anton_written).unwrap();
        std::fs::write(vault.dir().join("broken-one"), "{not json").unwrap();
        let (good, bad) = vault.list();
        assert_eq!(good.len(), 2);
        assert_eq!(good[1].extra["secure_keys"], serde_json::json!(["password"]));
        assert_eq!(bad.len(), 1);
        assert!(bad[0].file.ends_with("broken-one"));
        assert!(vault.dir().join("broken-one").exists(), "never deleted");
    }
}
