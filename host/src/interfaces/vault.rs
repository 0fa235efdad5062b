use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use serde_json::json;

use super::latest::anton::plugin::vault::{Connection, Field, Host, Listing, ReachResult, Unreadable};
use super::{HostError, PluginState, home_dir};
use crate::vault::{DataSource, Vault};

impl PluginState {
    fn vault(&self) -> Result<Vault, HostError> {
        self.require(self.grants.vault, "vault")?;
        Ok(Vault::new(&home_dir()))
    }
}

fn find(vault: &Vault, handle: &str) -> Option<DataSource> {
    vault.list().0.into_iter().find(|s| s.file_name() == handle)
}

impl Host for PluginState {
    fn connections(&mut self) -> Result<Listing, HostError> {
        let (sources, unreadable) = self.vault()?.list();
        Ok(Listing {
            connections: sources.iter().map(to_wit).collect(),
            unreadable: unreadable
                .into_iter()
                .map(|u| Unreadable {
                    file: u.file.display().to_string(),
                    error: u.error,
                })
                .collect(),
        })
    }

    fn save(&mut self, connection: Connection) -> Result<String, HostError> {
        let vault = self.vault()?;
        let valid = |s: &str| !s.is_empty() && !s.contains(['/', '\\']) && !s.starts_with('.');
        if !valid(&connection.engine) || !valid(&connection.name) {
            return Err(HostError::Invalid(format!(
                "'{}-{}' is not a usable connection name: no slashes, not empty",
                connection.engine, connection.name
            )));
        }
        let now = jiff::Timestamp::now().to_string();
        let handle = format!("{}-{}", connection.engine, connection.name);
        let existing = find(&vault, &handle);
        let mut source = DataSource {
            engine: connection.engine,
            name: connection.name,
            created_at: existing.as_ref().map_or_else(|| now.clone(), |e| e.created_at.clone()),
            updated_at: now,
            fields: Default::default(),
            extra: existing.as_ref().map(|e| e.extra.clone()).unwrap_or_default(),
        };
        let mut secure_keys = Vec::new();
        for field in connection.fields {
            // An empty secret keeps the saved one: editing need not retype it.
            let value = match (&field.secret, field.value.is_empty(), &existing) {
                (true, true, Some(old)) => old.fields.get(&field.name).cloned().unwrap_or_default(),
                _ => field.value,
            };
            if field.secret {
                secure_keys.push(field.name.clone());
            }
            source.fields.insert(field.name, value);
        }
        source.extra.insert("secure_keys".into(), json!(secure_keys));
        vault.save(&source).map_err(HostError::Failed)?;
        Ok(source.env_prefix())
    }

    fn remove(&mut self, handle: String) -> Result<bool, HostError> {
        self.vault()?.remove(&handle).map_err(HostError::Invalid)
    }

    fn reach(&mut self, handle: String, timeout_ms: u32) -> Result<ReachResult, HostError> {
        let vault = self.vault()?;
        let source = find(&vault, &handle).ok_or_else(|| HostError::NotFound(format!("no connection '{handle}'")))?;
        let host = ["host", "hostname", "server"]
            .iter()
            .find_map(|k| source.fields.get(*k))
            .filter(|h| !h.is_empty());
        let port = source.fields.get("port").and_then(|p| p.trim().parse::<u16>().ok());
        let (Some(host), Some(port)) = (host, port) else {
            return Err(HostError::Invalid(format!(
                "connection '{handle}' has no host and port to reach"
            )));
        };
        let target = format!("TCP {host}:{port}");
        let started = Instant::now();
        let timeout = Duration::from_millis(timeout_ms.clamp(10, 30_000) as u64);
        let attempt = (host.as_str(), port)
            .to_socket_addrs()
            .map_err(|e| format!("cannot resolve {host}: {e}"))
            .and_then(|mut addrs| addrs.next().ok_or_else(|| format!("{host} has no address")))
            .and_then(|addr| TcpStream::connect_timeout(&addr, timeout).map_err(|e| e.to_string()));
        // The user waits on the network, not the plugin.
        self.deadline += started.elapsed();
        let millis = started.elapsed().as_millis() as u32;
        Ok(match attempt {
            Ok(_) => ReachResult {
                target,
                reached: true,
                millis,
                error: None,
            },
            Err(error) => ReachResult {
                target,
                reached: false,
                millis,
                error: Some(error),
            },
        })
    }
}

fn to_wit(source: &DataSource) -> Connection {
    Connection {
        engine: source.engine.clone(),
        name: source.name.clone(),
        created_at: source.created_at.clone(),
        updated_at: source.updated_at.clone(),
        fields: source
            .fields
            .iter()
            .map(|(name, value)| {
                let secret = source.is_secret(name);
                Field {
                    name: name.clone(),
                    value: if secret { String::new() } else { value.clone() },
                    secret,
                }
            })
            .collect(),
    }
}
