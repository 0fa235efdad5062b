//! What the store holds, as the rest of anton sees it.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Active,
    Idle,
    Completed,
    Interrupted,
    Failed,
}

impl Status {
    pub const ALL: [Status; 5] = [
        Status::Active,
        Status::Idle,
        Status::Completed,
        Status::Interrupted,
        Status::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Idle => "idle",
            Status::Completed => "completed",
            Status::Interrupted => "interrupted",
            Status::Failed => "failed",
        }
    }

    pub(super) fn parse(text: &str) -> Status {
        Status::ALL
            .into_iter()
            .find(|s| s.as_str() == text)
            .unwrap_or(Status::Idle)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Provenance {
    pub imported_by: Option<String>,
    pub imported_at: Option<i64>,
    pub exported_by: Option<String>,
    pub exported_at: Option<i64>,
    pub original_id: Option<String>,
    pub source_file: Option<String>,
    pub file_sha256: Option<String>,
    pub forked_from: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: String,
    pub title: String,
    pub task: String,
    pub status: Status,
    pub summary: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub turns: u32,
    pub messages: u32,
    pub provider: Option<String>,
    pub model: Option<String>,
    pub workspace: String,
    pub provenance: Provenance,
    /// "pid N on HOST" while a live process writes the session.
    pub live_writer: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub id: i64,
    pub turn: u32,
    pub role: String,
    pub content: String,
    pub meta: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareEntry {
    pub direction: String,
    pub path: String,
    pub sha256: String,
    pub title: String,
    pub who: String,
    pub at: i64,
    pub format: String,
    pub session_id: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Details {
    pub memories_born: u32,
    pub memories_used: u32,
    pub cells: u32,
    pub shares: Vec<ShareEntry>,
}

#[derive(Debug, Clone, Default)]
pub struct SessionQuery {
    /// 0: no limit.
    pub limit: u32,
    pub status: Option<Status>,
    pub search: Option<String>,
    pub include_empty: bool,
}

pub enum Lookup {
    Found(Box<Session>),
    Missing,
    Ambiguous(Vec<Session>),
}

/// A new session's defaults.
#[derive(Debug, Clone, Default)]
pub struct NewSession {
    pub title: String,
    pub provider: Option<String>,
    pub model: Option<String>,
    pub created_at: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct NewMessage {
    pub turn: u32,
    pub role: String,
    pub content: String,
    pub meta: String,
    pub created_at: i64,
}

/// A memory a session wrote (`born`) or was given.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SessionMemory {
    pub born: bool,
    /// always, never, when or lesson.
    pub kind: String,
    /// project or global.
    pub scope: String,
    pub text: String,
    pub topic: String,
}

/// One scratchpad run.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Cell {
    pub pad: String,
    pub code: String,
    pub stdout: String,
    pub stderr: String,
    pub error: Option<String>,
    pub description: String,
    pub started_at: i64,
    pub finished_at: Option<i64>,
}

impl Cell {
    /// Every text the cell holds, its error too when it has one.
    pub fn texts(&self) -> impl Iterator<Item = &String> {
        [&self.pad, &self.code, &self.stdout, &self.stderr, &self.description]
            .into_iter()
            .chain(self.error.as_ref())
    }

    pub fn texts_mut(&mut self) -> impl Iterator<Item = &mut String> {
        [
            &mut self.pad,
            &mut self.code,
            &mut self.stdout,
            &mut self.stderr,
            &mut self.description,
        ]
        .into_iter()
        .chain(self.error.as_mut())
    }
}
