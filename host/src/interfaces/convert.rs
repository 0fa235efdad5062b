//! Between the store's types and the WIT records plugins see: each pair of
//! mirror types is named once, with its fields, and converts both ways.

use super::latest::storage::{Cell, MemoryRecord, ShareEntry};
use super::latest::types::{Message, Provenance, Session, SessionStatus};
use crate::store;

/// `From` both ways for two records with the same fields (or variants).
macro_rules! mirror {
    (enum $ours:path, $theirs:path { $($variant:ident),* $(,)? }) => {
        impl From<$ours> for $theirs {
            fn from(v: $ours) -> Self {
                match v { $(<$ours>::$variant => Self::$variant),* }
            }
        }
        impl From<$theirs> for $ours {
            fn from(v: $theirs) -> Self {
                match v { $(<$theirs>::$variant => Self::$variant),* }
            }
        }
    };
    ($ours:path, $theirs:path { $($field:ident),* $(,)? }) => {
        impl From<$ours> for $theirs {
            fn from(v: $ours) -> Self {
                Self { $($field: v.$field.into()),* }
            }
        }
        impl From<$theirs> for $ours {
            fn from(v: $theirs) -> Self {
                Self { $($field: v.$field.into()),* }
            }
        }
    };
}

mirror!(enum store::Status, SessionStatus { Active, Idle, Completed, Interrupted, Failed });
mirror!(
    store::Cell,
    Cell {
        pad,
        code,
        stdout,
        stderr,
        error,
        description,
        started_at,
        finished_at
    }
);
mirror!(
    store::Message,
    Message {
        id,
        turn,
        role,
        content,
        meta,
        created_at
    }
);
mirror!(
    store::SessionMemory,
    MemoryRecord {
        born,
        kind,
        scope,
        text,
        topic
    }
);
mirror!(
    store::Provenance,
    Provenance {
        imported_by,
        imported_at,
        exported_by,
        exported_at,
        original_id,
        source_file,
        file_sha256,
        forked_from,
    }
);

impl From<store::Session> for Session {
    fn from(s: store::Session) -> Session {
        Session {
            id: s.id,
            title: s.title,
            task: s.task,
            status: s.status.into(),
            summary: s.summary,
            created_at: s.created_at,
            updated_at: s.updated_at,
            turns: s.turns,
            messages: s.messages,
            provider: s.provider,
            model: s.model,
            workspace: s.workspace,
            provenance: s.provenance.into(),
            live_writer: s.live_writer,
        }
    }
}

/// Whether the file is still there is the one thing the store does not know.
impl From<store::ShareEntry> for ShareEntry {
    fn from(e: store::ShareEntry) -> ShareEntry {
        ShareEntry {
            // A remote's file is not looked for: that would be a request per row.
            file_exists: e.path.contains("://") || std::path::Path::new(&e.path).exists(),
            direction: e.direction,
            path: e.path,
            sha256: e.sha256,
            title: e.title,
            who: e.who,
            at: e.at,
            format: e.format,
            session_id: e.session_id,
        }
    }
}
