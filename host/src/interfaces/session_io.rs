//! `session-io` (0.2.0): sessions of any size, a page at a time. A reader
//! reads ahead on a connection of its own; a builder writes on another, in
//! parts nothing shows until its commit, and takes them out when the plugin
//! drops it (or traps, which drops the plugin's whole table).

use wasmtime::component::Resource;

use super::latest::session_io::{Host, HostCellReader, HostMessageReader, HostSessionBuilder};
use super::latest::storage::{Cell, MemoryRecord, NewMessage, RedactionCount};
use super::latest::types::{Message, Provenance, Session};
use super::{HostError, PluginState};
use crate::scrub::{Report, Scrubber};
use crate::store::{self, BuildError, BuildInBackground, BuildLimits};

/// The largest page a reader hands out in one call.
const MAX_PAGE_BYTES: u32 = 16 * 1024 * 1024;

fn page_budget(max_bytes: u32) -> usize {
    max_bytes.min(MAX_PAGE_BYTES) as usize
}

pub struct MessageReader {
    pages: store::ReadAhead<store::Message>,
    session_id: String,
    /// For the progress line: how many the session holds, how many went out.
    total: u64,
    done: u64,
}

pub struct CellReader {
    pages: store::ReadAhead<(i64, store::Cell)>,
}

pub struct SessionBuilder {
    /// `None` once committed.
    build: Option<BuildInBackground>,
    /// The memories, for the workspace's memory files if the user agrees.
    entries: Vec<crate::memory::Entry>,
    /// The file it is built from, as `build-session` named it.
    file_sha256: Option<String>,
}

impl Host for PluginState {
    fn read_messages(&mut self, session_id: String, redact: bool) -> Result<Resource<MessageReader>, HostError> {
        self.require(self.grants.sessions_read, "sessions-read")?;
        let total = self.known_session(&session_id)?.messages.into();
        let pages = self.read_ahead(&session_id, redact)?;
        self.keep(MessageReader {
            pages,
            session_id,
            total,
            done: 0,
        })
    }

    fn read_cells(&mut self, session_id: String, redact: bool) -> Result<Resource<CellReader>, HostError> {
        self.require(self.grants.sessions_read, "sessions-read")?;
        self.known_session(&session_id)?;
        let pages = self.read_ahead(&session_id, redact)?;
        self.keep(CellReader { pages })
    }

    fn recent_messages(&mut self, session_id: String, limit: u32, max_chars: u32) -> Result<Vec<Message>, HostError> {
        self.require(self.grants.sessions_read, "sessions-read")?;
        let messages = self.read_store(|s| s.recent_messages(&session_id, limit, max_chars))?;
        Ok(messages.into_iter().map(Message::from).collect())
    }

    fn build_session(&mut self, file_sha256: Option<String>) -> Result<Resource<SessionBuilder>, HostError> {
        let builder = self.begin_build(file_sha256)?;
        self.keep(builder)
    }

    fn set_summary(&mut self, session_id: String, summary: String) -> Result<(), HostError> {
        self.require(self.grants.sessions_write, "sessions-write")?;
        self.known_session(&session_id)?;
        self.write_store(|s| s.set_summary(&session_id, &summary))
    }

    fn fork_session(
        &mut self,
        session_id: String,
        at_turn: Option<u32>,
        title: Option<String>,
    ) -> Result<Session, HostError> {
        self.require(self.grants.sessions_write, "sessions-write")?;
        self.known_session(&session_id)?;
        if let Some(title) = &title
            && title.trim().is_empty()
        {
            return Err(HostError::Invalid("a fork's title cannot be empty".into()));
        }
        let fork = self.write_store(|s| s.fork_session(&session_id, at_turn, title.as_deref()))?;
        Ok(Session::from(fork))
    }
}

impl HostMessageReader for PluginState {
    fn next_page(&mut self, reader: Resource<MessageReader>, max_bytes: u32) -> Result<Vec<Message>, HostError> {
        let plugin = self.plugin_id.clone();
        let r = self.kept_mut(&reader)?;
        let page = r
            .pages
            .next_page(page_budget(max_bytes))
            .map_err(|e| HostError::Failed(e.0))?;
        r.done += page.len() as u64;
        let what = format!("{plugin}: reading session {}", r.session_id);
        crate::terminal::progress(
            &what,
            r.done.min(r.total),
            r.total,
            crate::terminal::Unit::Items("message"),
        );
        Ok(page.into_iter().map(Message::from).collect())
    }

    fn redactions(&mut self, reader: Resource<MessageReader>) -> Vec<RedactionCount> {
        self.kept(&reader)
            .map(|r| counts(&r.pages.report()))
            .unwrap_or_default()
    }

    fn drop(&mut self, reader: Resource<MessageReader>) -> wasmtime::Result<()> {
        self.table.delete(reader)?;
        crate::terminal::clear_progress();
        Ok(())
    }
}

impl HostCellReader for PluginState {
    fn next_page(&mut self, reader: Resource<CellReader>, max_bytes: u32) -> Result<Vec<Cell>, HostError> {
        let page = self
            .kept(&reader)?
            .pages
            .next_page(page_budget(max_bytes))
            .map_err(|e| HostError::Failed(e.0))?;
        Ok(page.into_iter().map(|(_, cell)| Cell::from(cell)).collect())
    }

    fn redactions(&mut self, reader: Resource<CellReader>) -> Vec<RedactionCount> {
        self.kept(&reader)
            .map(|r| counts(&r.pages.report()))
            .unwrap_or_default()
    }

    fn drop(&mut self, reader: Resource<CellReader>) -> wasmtime::Result<()> {
        self.table.delete(reader)?;
        Ok(())
    }
}

impl HostSessionBuilder for PluginState {
    fn add_messages(&mut self, builder: Resource<SessionBuilder>, messages: Vec<NewMessage>) -> Result<(), HostError> {
        self.kept_mut(&builder)?.add_messages(messages)
    }

    fn add_cells(&mut self, builder: Resource<SessionBuilder>, cells: Vec<Cell>) -> Result<(), HostError> {
        self.kept_mut(&builder)?.add_cells(cells)
    }

    fn add_memories(
        &mut self,
        builder: Resource<SessionBuilder>,
        memories: Vec<MemoryRecord>,
    ) -> Result<(), HostError> {
        let secrets = self.services.secrets();
        self.kept_mut(&builder)?.add_memories(memories, &secrets.scrubber)
    }

    fn commit(
        &mut self,
        builder: Resource<SessionBuilder>,
        title: String,
        summary: String,
        provenance: Provenance,
    ) -> Result<Session, HostError> {
        let b = self.kept_mut(&builder)?;
        let taken = SessionBuilder {
            build: Some(b.build.take().ok_or_else(committed_already)?),
            entries: std::mem::take(&mut b.entries),
            file_sha256: b.file_sha256.take(),
        };
        self.commit_build(taken, &title, &summary, provenance)
    }

    fn drop(&mut self, builder: Resource<SessionBuilder>) -> wasmtime::Result<()> {
        self.table.delete(builder)?;
        Ok(())
    }
}

impl SessionBuilder {
    pub(super) fn add_messages(&mut self, messages: Vec<NewMessage>) -> Result<(), HostError> {
        let messages: Vec<store::NewMessage> = messages.into_iter().map(imported_message).collect();
        self.open()?.add_messages(messages).map_err(refusal)
    }

    pub(super) fn add_cells(&mut self, cells: Vec<Cell>) -> Result<(), HostError> {
        let cells: Vec<store::Cell> = cells.into_iter().map(store::Cell::from).collect();
        self.open()?.add_cells(cells).map_err(refusal)
    }

    pub(super) fn add_memories(&mut self, memories: Vec<MemoryRecord>, scrubber: &Scrubber) -> Result<(), HostError> {
        let records: Vec<store::SessionMemory> = memories.into_iter().map(store::SessionMemory::from).collect();
        self.open()?.add_memories(records.clone()).map_err(refusal)?;
        // Whatever plugin sends them, memory files get them scrubbed.
        self.entries.extend(records.iter().filter_map(|m| {
            let mut entry = crate::memory::Entry::new(crate::memory::Kind::parse(&m.kind)?, &m.text);
            entry.topic = m.topic.clone();
            entry.source = "import".into();
            entry.confidence = "medium".into();
            Some(entry.scrubbed(scrubber))
        }));
        Ok(())
    }

    fn open(&mut self) -> Result<&mut BuildInBackground, HostError> {
        self.build.as_mut().ok_or_else(committed_already)
    }
}

impl PluginState {
    /// Begin a session from outside, refused when its file was imported
    /// before (unless the user wants another copy).
    pub(super) fn begin_build(&mut self, file_sha256: Option<String>) -> Result<SessionBuilder, HostError> {
        self.require(self.grants.sessions_write, "sessions-write")?;
        if let Some(sha256) = &file_sha256 {
            self.refuse_a_second_copy(sha256)?;
        }
        let build = self
            .services
            .store_for_build()
            .and_then(|store| store.build_session(BuildLimits::default()))
            .map_err(|e| HostError::Failed(e.0))?;
        let build = BuildInBackground::start(build)
            .map_err(|e| HostError::Failed(format!("cannot start the import's writer: {e}")))?;
        Ok(SessionBuilder {
            build: Some(build),
            entries: Vec::new(),
            file_sha256,
        })
    }

    /// Land a built session. The database and the memory files change
    /// together or not at all; the memories go into the files only on the
    /// user's yes.
    pub(super) fn commit_build(
        &mut self,
        mut builder: SessionBuilder,
        title: &str,
        summary: &str,
        provenance: Provenance,
    ) -> Result<Session, HostError> {
        let build = builder.build.take().ok_or_else(committed_already)?;
        let entries = builder.entries;
        let provenance = imported_provenance(provenance, builder.file_sha256);
        let exporter = provenance
            .exported_by
            .clone()
            .unwrap_or_else(|| "an unknown person".into());
        let args = self.named_paths.clone();
        let adopt = !entries.is_empty() && self.waiting_on_user(|| consent_to_memories(&entries, &exporter, &args));
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
        match build.commit(title, summary, &provenance) {
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
                let error = refusal(error);
                if let Some(snapshot) = snapshot {
                    snapshot
                        .restore()
                        .map_err(|e| HostError::Failed(format!("{}; and {e}", error_text(&error))))?;
                }
                Err(error)
            }
        }
    }

    /// Pages of `session_id` read ahead on a connection of their own,
    /// redacted on the way out when `redact`.
    fn read_ahead<T: store::PagedRow>(&self, session_id: &str, redact: bool) -> Result<store::ReadAhead<T>, HostError> {
        let paths = &self.services.paths;
        let store =
            store::Store::open_read_only(&paths.anton_dir, &paths.workspace).map_err(|e| HostError::Failed(e.0))?;
        let scrubber = redact.then(|| self.services.secrets().scrubber.clone());
        store::ReadAhead::start(store, session_id.to_string(), scrubber)
            .map_err(|e| HostError::Failed(format!("cannot start reading the session: {e}")))
    }

    fn known_session(&self, session_id: &str) -> Result<store::Session, HostError> {
        self.read_store(|s| s.get_session(session_id))?
            .ok_or_else(|| HostError::NotFound(format!("no session {session_id}")))
    }
}

const DAY_MS: i64 = 86_400_000;

/// Where a session from outside came from, its times held to what could be
/// true, from the file `build-session` named: a plugin cannot say another.
fn imported_provenance(p: Provenance, file_sha256: Option<String>) -> store::Provenance {
    let latest = store::now_ms() + DAY_MS;
    store::Provenance {
        imported_at: Some(p.imported_at.unwrap_or_else(store::now_ms).clamp(0, latest)),
        exported_at: p.exported_at.map(|t| t.clamp(0, latest)),
        exported_by: p.exported_by,
        imported_by: p.imported_by,
        original_id: p.original_id,
        source_file: p.source_file,
        file_sha256,
        // Only anton forks; a plugin cannot claim a session's parent.
        forked_from: None,
    }
}

/// A message from outside, marked imported (the model gets it as quoted
/// material, never as its own conversation), with a time outside
/// [1970, now + 1 day] kept in its meta and the message held to that
/// range (it would pin the session first in every listing).
fn imported_message(m: NewMessage) -> store::NewMessage {
    let latest = store::now_ms() + DAY_MS;
    let mut meta: serde_json::Value = serde_json::from_str(&m.meta).unwrap_or_else(|_| serde_json::json!({}));
    if !meta.is_object() {
        meta = serde_json::json!({});
    }
    meta["imported"] = serde_json::json!(true);
    // Only adoption marks a row as the reference Anton's log in this folder.
    if let Some(meta) = meta.as_object_mut() {
        meta.remove("reference");
    }
    if !(0..=latest).contains(&m.created_at) {
        meta["original_created_at"] = serde_json::json!(m.created_at);
    }
    store::NewMessage {
        created_at: m.created_at.clamp(0, latest),
        meta: meta.to_string(),
        turn: m.turn,
        role: m.role,
        content: m.content,
    }
}

fn refusal(error: BuildError) -> HostError {
    match error {
        BuildError::Refused(why) => HostError::Invalid(why),
        BuildError::Store(e) => HostError::Failed(e.0),
    }
}

fn error_text(error: &HostError) -> &str {
    match error {
        HostError::Denied(m) | HostError::NotFound(m) | HostError::Invalid(m) | HostError::Failed(m) => m,
    }
}

fn committed_already() -> HostError {
    HostError::Invalid("this session builder was committed already".into())
}

fn counts(report: &Report) -> Vec<RedactionCount> {
    report
        .iter()
        .map(|(kind, count)| RedactionCount {
            kind: kind.to_string(),
            count: *count as u32,
        })
        .collect()
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
