use super::latest::anton::plugin::storage::{
    Cell, Host, Lookup, MemoryRecord, NewSession, Redacted, RedactionCount, SessionDetails, SessionHit, SessionQuery,
    ShareEntry,
};
use super::latest::anton::plugin::types::{Message, Session};
use super::{HostError, PluginState};
use crate::files::NamedFileError;
use crate::store;

impl Host for PluginState {
    fn list_sessions(&mut self, query: SessionQuery) -> Result<Vec<SessionHit>, HostError> {
        self.require(self.grants.sessions_read, "sessions-read")?;
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
        let texts = texts.iter().map(|t| scrubber.scrub_counting(t, &mut report)).collect();
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

    fn import_session(&mut self, session: NewSession) -> Result<Session, HostError> {
        self.require(self.grants.sessions_write, "sessions-write")?;
        let now = store::now_ms();
        let latest = now + DAY_MS;
        let p = session.provenance;
        let import = store::Import {
            title: session.title,
            summary: session.summary,
            messages: session
                .messages
                .into_iter()
                .map(|m| store::NewMessage {
                    created_at: m.created_at.clamp(0, latest),
                    meta: imported_meta(&m.meta, m.created_at, latest),
                    turn: m.turn,
                    role: m.role,
                    content: m.content,
                })
                .collect(),
            memories: session
                .memories
                .iter()
                .map(|m| store::SessionMemory {
                    born: m.born,
                    kind: m.kind.clone(),
                    scope: m.scope.clone(),
                    text: m.text.clone(),
                    topic: m.topic.clone(),
                })
                .collect(),
            cells: session.cells.into_iter().map(store::Cell::from).collect(),
            provenance: store::Provenance {
                imported_at: p.imported_at.map(|t| t.clamp(0, latest)),
                exported_at: p.exported_at.map(|t| t.clamp(0, latest)),
                exported_by: p.exported_by.clone(),
                imported_by: p.imported_by,
                original_id: p.original_id,
                source_file: p.source_file,
                file_sha256: p.file_sha256,
                forked_from: None,
            },
        };
        // Whatever plugin sends them, memory files get them scrubbed.
        let secrets = self.services.secrets();
        let entries: Vec<crate::memory::Entry> = session
            .memories
            .iter()
            .filter_map(|m| {
                let mut entry = crate::memory::Entry::new(crate::memory::Kind::parse(&m.kind)?, &m.text);
                entry.topic = m.topic.clone();
                entry.source = "import".into();
                entry.confidence = "medium".into();
                Some(entry.scrubbed(&secrets.scrubber))
            })
            .collect();
        if let Some(sha256) = &import.provenance.file_sha256 {
            self.refuse_a_second_copy(sha256)?;
        }
        let exporter = p.exported_by.unwrap_or_else(|| "an unknown person".into());
        let args = self.named_paths.clone();
        let adopt = !entries.is_empty() && self.waiting_on_user(|| consent_to_memories(&entries, &exporter, &args));
        // The database and the memory files change together or not at all.
        let memory = crate::memory::MemoryDir::new(&self.services.paths.project_memory());
        let snapshot = if adopt {
            Some(
                memory
                    .add_all(&entries)
                    .map_err(|e| HostError::Failed(format!("{e}; nothing was imported")))?
                    .1,
            )
        } else {
            None
        };
        match self.write_store(|s| s.import_session(&import)) {
            Ok(created) => {
                // A snapshot is only needed while the import can still fail.
                drop(snapshot);
                if adopt {
                    // Accepted by the user: in force in this workspace's chats.
                    let mut known = crate::memory_review::Known::load(&self.services.paths);
                    if let Err(e) = known.accept(&entries) {
                        eprintln!("warning: {e}; the chat will ask about these memories again");
                    }
                }
                Ok(Session::from(created))
            }
            Err(error) => {
                if let Some(snapshot) = snapshot {
                    snapshot
                        .restore()
                        .map_err(|e| HostError::Failed(format!("{error:?}; and {e}")))?;
                }
                Err(error)
            }
        }
    }

    fn record_share(&mut self, entry: ShareEntry) -> Result<(), HostError> {
        self.require(self.grants.sessions_write, "sessions-write")?;
        let entry = store::ShareEntry {
            direction: entry.direction,
            // As typed (`~/x`, a relative path) it would later read as missing.
            path: crate::files::user_path(&entry.path).display().to_string(),
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
    fn refuse_a_second_copy(&mut self, file_sha256: &str) -> Result<(), HostError> {
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

const DAY_MS: i64 = 86_400_000;

/// An imported message's meta: marked imported (the model gets it as quoted
/// material, never as its own conversation), and a time from the file
/// outside [1970, now + 1 day] kept here, as the message itself is clamped
/// (it would pin the session first in every listing).
fn imported_meta(meta: &str, at: i64, latest: i64) -> String {
    let mut value: serde_json::Value = serde_json::from_str(meta).unwrap_or_else(|_| serde_json::json!({}));
    if !value.is_object() {
        value = serde_json::json!({});
    }
    value["imported"] = serde_json::json!(true);
    // Only adoption marks a row as the reference Anton's log in this folder.
    if let Some(meta) = value.as_object_mut() {
        meta.remove("reference");
    }
    if !(0..=latest).contains(&at) {
        value["original_created_at"] = serde_json::json!(at);
    }
    value.to_string()
}

/// Memories from a file become standing guidance for every later session
/// here, so they are adopted only when the user says yes. Without a person
/// to ask, only `--accept-memories` on the command adopts them.
fn consent_to_memories(entries: &[crate::memory::Entry], exporter: &str, args: &[String]) -> bool {
    use crate::terminal::sanitize_line;
    let count = entries.len();
    let plural = if count == 1 { "memory" } else { "memories" };
    if !crate::terminal::stdin_is_terminal() {
        if args.iter().any(|a| a == "--accept-memories") {
            println!("Adding the file's {count} {plural} to this project's memory (--accept-memories).");
            return true;
        }
        println!(
            "Not added: the file's {count} {plural} from {} stay with the imported session; \
             import with --accept-memories to add them to this project's memory.",
            sanitize_line(exporter)
        );
        return false;
    }
    println!("This file brings {count} {plural} from {}:", sanitize_line(exporter));
    for entry in entries {
        println!("  {:<7} {}", entry.kind.as_str(), sanitize_line(&entry.text));
    }
    let adopt = crate::terminal::confirm(
        "Add them to this project's memory (.anton/memory), where they guide every later session?",
        false,
    );
    if !adopt {
        println!("Not added: they stay with the imported session only.");
    }
    adopt
}
