//! What plugins ask about sessions again and again, said once: the session
//! a command is about, statuses and roles as types, a message's meta parsed.

use crate::bindings::anton::plugin0_1_0::storage as host;
use crate::storage::{Lookup, SessionQuery};
use crate::{Args, HostError, Invocation, Message, Origin, Session, SessionStatus};

impl SessionQuery {
    /// The newest `limit` sessions that have turns; 0 means all of them.
    pub fn recent(limit: u32) -> SessionQuery {
        SessionQuery {
            limit,
            status: None,
            search: None,
            include_empty: false,
        }
    }
}

/// The most recent session with turns, if there is one.
pub fn latest() -> Result<Option<Session>, HostError> {
    Ok(host::list_sessions(&SessionQuery::recent(1))?
        .into_iter()
        .next()
        .map(|hit| hit.session))
}

/// The session a command is about: `--session ID` (a unique prefix will
/// do), else the chat's session, else on the command line the most recent.
pub fn about(invocation: &Invocation, args: &Args) -> Result<Session, String> {
    let id = match args.value("--session")? {
        Some(id) => id.to_string(),
        None => match crate::chat::current_session() {
            Some(id) => id,
            None if invocation.origin == Origin::Chat => {
                return Err("no session yet: say something first, or /resume one".into());
            }
            None => match latest()? {
                Some(session) => return Ok(session),
                None => return Err("this workspace has no sessions yet".into()),
            },
        },
    };
    match host::find_session(&id)? {
        Lookup::Found(session) => Ok(session),
        Lookup::Missing => Err(format!("session {id} not found")),
        Lookup::Ambiguous(_) => Err(format!(
            "session prefix {id} matches more than one session; give more of it"
        )),
    }
}

impl SessionStatus {
    pub const ALL: [SessionStatus; 5] = [
        SessionStatus::Active,
        SessionStatus::Idle,
        SessionStatus::Completed,
        SessionStatus::Interrupted,
        SessionStatus::Failed,
    ];

    pub fn name(self) -> &'static str {
        match self {
            SessionStatus::Active => "active",
            SessionStatus::Idle => "idle",
            SessionStatus::Completed => "completed",
            SessionStatus::Interrupted => "interrupted",
            SessionStatus::Failed => "failed",
        }
    }

    /// A status by name; the error lists the names.
    pub fn parse(text: &str) -> Result<SessionStatus, String> {
        Self::ALL.into_iter().find(|s| s.name() == text).ok_or_else(|| {
            let names: Vec<&str> = Self::ALL.iter().map(|s| s.name()).collect();
            format!("unknown status '{text}': use {}", names.join(", "))
        })
    }
}

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    User,
    Assistant,
    ToolCall,
    ToolResult,
    Scratchpad,
    MemoryWrite,
    MemoryRead,
    System,
}

impl Role {
    pub const ALL: [Role; 8] = [
        Role::User,
        Role::Assistant,
        Role::ToolCall,
        Role::ToolResult,
        Role::Scratchpad,
        Role::MemoryWrite,
        Role::MemoryRead,
        Role::System,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::ToolCall => "tool_call",
            Role::ToolResult => "tool_result",
            Role::Scratchpad => "scratchpad",
            Role::MemoryWrite => "memory_write",
            Role::MemoryRead => "memory_read",
            Role::System => "system",
        }
    }
}

impl Message {
    /// The role as a type; `None` for a role this SDK does not know.
    pub fn role(&self) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.name() == self.role)
    }

    /// The meta JSON object; an empty one when the text is not an object.
    pub fn meta(&self) -> serde_json::Map<String, serde_json::Value> {
        match serde_json::from_str(&self.meta) {
            Ok(serde_json::Value::Object(map)) => map,
            _ => serde_json::Map::new(),
        }
    }
}
