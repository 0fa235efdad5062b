use super::latest::anton::plugin::storage::{Host, Lookup, SessionDetails, SessionHit, SessionQuery, ShareEntry};
use super::latest::anton::plugin::types::{Message, Provenance, Session, SessionStatus};
use super::{HostError, PluginState};
use crate::store;

impl Host for PluginState {
    fn list_sessions(&mut self, query: SessionQuery) -> Result<Vec<SessionHit>, HostError> {
        self.require(self.grants.sessions_read, "sessions-read")?;
        let query = store::SessionQuery {
            limit: query.limit,
            status: query.status.map(status_from_wit),
            search: query.search,
            include_empty: query.include_empty,
        };
        let hits = self.host.read_store(|s| s.list_sessions(&query))?;
        Ok(hits
            .into_iter()
            .map(|(session, snippet)| SessionHit {
                session: session_to_wit(session),
                snippet,
            })
            .collect())
    }

    fn count_sessions(&mut self) -> Result<u64, HostError> {
        self.require(self.grants.sessions_read, "sessions-read")?;
        self.host.read_store(|s| s.count_sessions())
    }

    fn find_session(&mut self, id_or_prefix: String) -> Result<Lookup, HostError> {
        self.require(self.grants.sessions_read, "sessions-read")?;
        if id_or_prefix.is_empty() {
            return Err(HostError::Invalid("an empty session id matches every session".into()));
        }
        let found = self.host.read_store(|s| s.find_session(&id_or_prefix).map(Some))?;
        Ok(match found {
            None | Some(store::Lookup::Missing) => Lookup::Missing,
            Some(store::Lookup::Found(s)) => Lookup::Found(session_to_wit(*s)),
            Some(store::Lookup::Ambiguous(v)) => Lookup::Ambiguous(v.into_iter().map(session_to_wit).collect()),
        })
    }

    fn messages(&mut self, session_id: String, limit: u32) -> Result<Vec<Message>, HostError> {
        self.require(self.grants.sessions_read, "sessions-read")?;
        let messages = self.host.read_store(|s| s.messages(&session_id, limit))?;
        Ok(messages
            .into_iter()
            .map(|m| Message {
                id: m.id,
                turn: m.turn,
                role: m.role,
                content: m.content,
                meta: m.meta,
                created_at: m.created_at,
            })
            .collect())
    }

    fn get_session_details(&mut self, session_id: String) -> Result<SessionDetails, HostError> {
        self.require(self.grants.sessions_read, "sessions-read")?;
        let d = self.host.read_store(|s| s.details(&session_id))?;
        Ok(SessionDetails {
            memories_born: d.memories_born,
            memories_used: d.memories_used,
            cells: d.cells,
            shares: d
                .shares
                .into_iter()
                .map(|e| ShareEntry {
                    direction: e.direction,
                    path: e.path,
                    sha256: e.sha256,
                    title: e.title,
                    who: e.who,
                    at: e.at,
                    format: e.format,
                    session_id: e.session_id,
                })
                .collect(),
        })
    }

    fn kv_get(&mut self, key: String) -> Result<Option<String>, HostError> {
        let plugin = self.plugin_id.clone();
        self.host.read_store(|s| s.kv_get(&plugin, &key))
    }

    fn kv_set(&mut self, key: String, value: String) -> Result<(), HostError> {
        let plugin = self.plugin_id.clone();
        self.host.write_store(|s| s.kv_set(&plugin, &key, &value))
    }

    fn kv_delete(&mut self, key: String) -> Result<(), HostError> {
        let plugin = self.plugin_id.clone();
        self.host.read_store(|s| s.kv_delete(&plugin, &key))
    }
}

fn status_from_wit(status: SessionStatus) -> store::Status {
    match status {
        SessionStatus::Active => store::Status::Active,
        SessionStatus::Idle => store::Status::Idle,
        SessionStatus::Completed => store::Status::Completed,
        SessionStatus::Interrupted => store::Status::Interrupted,
        SessionStatus::Failed => store::Status::Failed,
    }
}

fn status_to_wit(status: store::Status) -> SessionStatus {
    match status {
        store::Status::Active => SessionStatus::Active,
        store::Status::Idle => SessionStatus::Idle,
        store::Status::Completed => SessionStatus::Completed,
        store::Status::Interrupted => SessionStatus::Interrupted,
        store::Status::Failed => SessionStatus::Failed,
    }
}

fn session_to_wit(s: store::Session) -> Session {
    let p = s.provenance;
    Session {
        id: s.id,
        title: s.title,
        task: s.task,
        status: status_to_wit(s.status),
        summary: s.summary,
        created_at: s.created_at,
        updated_at: s.updated_at,
        turns: s.turns,
        messages: s.messages,
        provider: s.provider,
        model: s.model,
        workspace: s.workspace,
        provenance: Provenance {
            imported_by: p.imported_by,
            imported_at: p.imported_at,
            exported_by: p.exported_by,
            exported_at: p.exported_at,
            original_id: p.original_id,
            source_file: p.source_file,
            file_sha256: p.file_sha256,
            forked_from: p.forked_from,
        },
        live_writer: s.live_writer,
    }
}
