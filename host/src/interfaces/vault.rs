use std::time::Duration;

use super::latest::vault::{Connection, Field, Host, Listing, ReachResult, Unreadable};
use super::{HostError, PluginState};
use crate::vault::{DataSource, Vault};

impl PluginState {
    fn vault(&self) -> Result<Vault, HostError> {
        self.require(self.grants.vault, "vault")?;
        Ok(self.services.paths.vault())
    }
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
        let fields = connection
            .fields
            .into_iter()
            .map(|f| (f.name, f.value, f.secret))
            .collect();
        let vault = self.vault()?;
        Vault::check_name(&connection.engine, &connection.name).map_err(HostError::Invalid)?;
        let source = vault
            .save_fields(connection.engine, connection.name, fields)
            .map_err(HostError::Failed)?;
        self.services.vault_changed();
        Ok(source.env_prefix())
    }

    fn remove(&mut self, handle: String) -> Result<bool, HostError> {
        // A removed password can still sit in the scrollback and the
        // store's older rows: it stays known until anton exits.
        self.vault()?.remove(&handle).map_err(HostError::Invalid)
    }

    fn reach(&mut self, handle: String, timeout_ms: u32) -> Result<ReachResult, HostError> {
        let source = self
            .vault()?
            .find(&handle)
            .ok_or_else(|| HostError::NotFound(format!("no connection '{handle}'")))?;
        let timeout = Duration::from_millis(timeout_ms.clamp(10, 30_000) as u64);
        let reach = source.reach(timeout).map_err(HostError::Invalid)?;
        // The user waits on the network, not the plugin.
        self.deadline += reach.elapsed;
        Ok(ReachResult {
            target: reach.target,
            reached: reach.result.is_ok(),
            millis: reach.elapsed.as_millis() as u32,
            error: reach.result.err(),
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
