use super::latest::storage::{
    Cell, Host, Lookup, MemoryRecord, NewSession, Redacted, RedactionCount, SessionDetails, SessionHit, SessionQuery,
    ShareEntry,
};
use super::latest::types::{Message, Session};
use super::{HostError, PluginState};
use crate::files::NamedFileError;
use crate::store;

impl Host for PluginState {
    fn list_sessions(&mut self, query: SessionQuery) -> Result<Vec<SessionHit>, HostError> {
        self.require(self.grants.sessions_read, "sessions-read")?;
        if query.search.is_some() {
            // Indexing for the user is not the plugin's time.
            let services = self.services.clone();
            self.waiting_on_user(|| services.catch_up_search_index());
        }
        let query = store::SessionQuery {
            limit: query.limit,
            status: query.status.map(store::Status::from),
            search: query.search,
            include_empty: query.include_empty,
        };
        let hits = self.read_store(|s| s.list_sessions(&query))?;
        Ok(hits
            .into_iter()
            .map(|(session, snippet)| SessionHit {
                session: Session::from(session),
                snippet,
            })
            .collect())
    }

    fn count_sessions(&mut self) -> Result<u64, HostError> {
        self.require(self.grants.sessions_read, "sessions-read")?;
        self.read_store(|s| s.count_sessions())
    }

    fn find_session(&mut self, id_or_prefix: String) -> Result<Lookup, HostError> {
        self.require(self.grants.sessions_read, "sessions-read")?;
        if id_or_prefix.is_empty() {
            return Err(HostError::Invalid("an empty session id matches every session".into()));
        }
        let found = self.read_store(|s| s.find_session(&id_or_prefix).map(Some))?;
        Ok(match found {
            None | Some(store::Lookup::Missing) => Lookup::Missing,
            Some(store::Lookup::Found(s)) => Lookup::Found(Session::from(*s)),
            Some(store::Lookup::Ambiguous(v)) => Lookup::Ambiguous(v.into_iter().map(Session::from).collect()),
        })
    }

    fn messages(&mut self, session_id: String, limit: u32) -> Result<Vec<Message>, HostError> {
        self.require(self.grants.sessions_read, "sessions-read")?;
        let messages = self.read_store(|s| s.messages(&session_id, limit))?;
        Ok(messages.into_iter().map(Message::from).collect())
    }

    fn get_session_details(&mut self, session_id: String) -> Result<SessionDetails, HostError> {
        self.require(self.grants.sessions_read, "sessions-read")?;
        let d = self.read_store(|s| s.details(&session_id))?;
        Ok(SessionDetails {
            memories_born: d.memories_born,
            memories_used: d.memories_used,
            cells: d.cells,
            shares: d.shares.into_iter().map(ShareEntry::from).collect(),
        })
    }

    fn session_memories(&mut self, session_id: String) -> Result<Vec<MemoryRecord>, HostError> {
        self.require(self.grants.sessions_read, "sessions-read")?;
        let memories = self.read_store(|s| s.session_memories(&session_id))?;
        Ok(memories.into_iter().map(MemoryRecord::from).collect())
    }

    fn session_cells(&mut self, session_id: String) -> Result<Vec<Cell>, HostError> {
        self.require(self.grants.sessions_read, "sessions-read")?;
        let cells = self.read_store(|s| s.cells(&session_id))?;
        Ok(cells.into_iter().map(Cell::from).collect())
    }

    fn share_history(&mut self, limit: u32) -> Result<Vec<ShareEntry>, HostError> {
        self.require(self.grants.sessions_read, "sessions-read")?;
        Ok(self
            .read_store(|s| s.share_history(limit))?
            .into_iter()
            .map(ShareEntry::from)
            .collect())
    }

    fn redact(&mut self, texts: Vec<String>) -> Redacted {
        // Loading the secrets reads the vault: not for a plugin no one agreed to.
        if self.sealed {
            return Redacted {
                texts,
                counts: Vec::new(),
            };
        }
        let mut report = crate::scrub::Report::new();
        let secrets = self.services.secrets();
        let scrubber = &secrets.scrubber;
        // A placeholder may be longer than its secret: what comes back is
        // still no longer than one text anton keeps.
        let texts = texts
            .iter()
            .map(|t| crate::store::fit_text(scrubber.scrub_counting(t, &mut report)))
            .collect();
        let counts = report
            .into_iter()
            .map(|(kind, count)| RedactionCount {
                kind: kind.into(),
                count: count as u32,
            })
            .collect();
        Redacted { texts, counts }
    }

    fn data_sources(&mut self) -> Result<Vec<String>, HostError> {
        self.require(self.grants.sessions_read, "sessions-read")?;
        Ok(self
            .services
            .secrets()
            .data_sources
            .iter()
            .map(|s| s.reference())
            .collect())
    }

    fn read_named_file(&mut self, path: String) -> Result<Vec<u8>, HostError> {
        self.require(self.grants.named_files, "named-files")?;
        if !self.named_paths.contains(&path) {
            return Err(HostError::Denied(format!(
                "plugin '{}' may read only files named in the command, and '{path}' was not",
                self.plugin_id
            )));
        }
        crate::files::read_named(&path).map_err(|e| match e {
            NamedFileError::Missing(m) => HostError::NotFound(m),
            NamedFileError::Refused(m) => HostError::Invalid(m),
            NamedFileError::Failed(m) => HostError::Failed(m),
        })
    }

    /// The whole session in one call: the same build as `session-io`'s.
    fn import_session(&mut self, session: NewSession) -> Result<Session, HostError> {
        let mut builder = self.begin_build(session.provenance.file_sha256.clone())?;
        builder.add_messages(session.messages)?;
        builder.add_cells(session.cells)?;
        builder.add_memories(session.memories, &self.services.secrets().scrubber)?;
        self.commit_build(builder, &session.title, &session.summary, session.provenance)
    }

    fn record_share(&mut self, entry: ShareEntry) -> Result<(), HostError> {
        self.require(self.grants.sessions_write, "sessions-write")?;
        let entry = store::ShareEntry {
            direction: entry.direction,
            // As typed (`~/x`, a relative path) it would later read as
            // missing; a remote's address stays as it is.
            path: match entry.path.contains("://") {
                true => entry.path,
                false => crate::files::user_path(&entry.path).display().to_string(),
            },
            sha256: entry.sha256,
            title: entry.title,
            who: entry.who,
            at: entry.at,
            format: entry.format,
            session_id: entry.session_id,
        };
        if !matches!(entry.direction.as_str(), "export" | "import") {
            return Err(HostError::Invalid(format!(
                "direction '{}' is neither export nor import",
                entry.direction
            )));
        }
        self.write_store(|s| s.record_share(&entry))
    }

    fn kv_get(&mut self, key: String) -> Result<Option<String>, HostError> {
        if self.sealed {
            return Ok(None);
        }
        let plugin = self.plugin_id.clone();
        self.read_store(|s| s.kv_get(&plugin, &key))
    }

    fn kv_set(&mut self, key: String, value: String) -> Result<(), HostError> {
        if self.sealed {
            return Ok(());
        }
        let plugin = self.plugin_id.clone();
        self.write_store(|s| s.kv_set(&plugin, &key, &value))
    }

    fn kv_delete(&mut self, key: String) -> Result<(), HostError> {
        if self.sealed {
            return Ok(());
        }
        let plugin = self.plugin_id.clone();
        self.write_store(|s| s.kv_delete(&plugin, &key))
    }
}

impl PluginState {
    /// A file imported before makes no second session unless the user says
    /// so (on a terminal) or the command says `--again`.
    pub(super) fn refuse_a_second_copy(&mut self, file_sha256: &str) -> Result<(), HostError> {
        let Some(existing) = self.read_store(|s| s.imported_from(file_sha256))? else {
            return Ok(());
        };
        if self.named_paths.iter().any(|a| a == "--again") {
            return Ok(());
        }
        let title = existing.title.trim();
        let imported_at = existing.provenance.imported_at.unwrap_or(existing.created_at);
        let already = format!(
            "is imported already, as session {} ({}{})",
            existing.id,
            if title.is_empty() {
                String::new()
            } else {
                format!("\"{}\", ", self.shown_line(title))
            },
            crate::terminal::format_time(imported_at, false)
        );
        let again = crate::terminal::stdin_is_terminal()
            && self.waiting_on_user(|| {
                println!("This file {already}.");
                crate::terminal::confirm("Import it again as another session?", false)
            });
        if again {
            return Ok(());
        }
        Err(HostError::Invalid(format!(
            "this file {already}; resume that one (/resume {id}, or anton -r {id}), or import with --again for another copy",
            id = existing.id
        )))
    }
}
