//! Schema migrations. `user_version` holds how many have run; a migration is
//! never edited once released, only appended.

pub const MIGRATIONS: &[&str] = &[V1, V2, V3, V4, V5, V6];

/// The first schema with the `session_count` table.
pub const SESSION_COUNT: i64 = 2;

/// The first schema that keeps an imported session's own summary.
pub const IMPORTED_SUMMARY: i64 = 3;

/// The first schema that adopts the reference Anton's sessions.
pub const REFERENCE_SESSIONS: i64 = 4;

/// The first schema whose search index may lag behind a large import.
pub const UNINDEXED_SESSIONS: i64 = 5;

/// The first schema that builds a large import in parts.
pub const UNLANDED_SESSIONS: i64 = 6;

/// The oldest schema the read queries work on, so a read-only open can use
/// it without migrating. Raise it when a migration changes what they read.
pub const OLDEST_READABLE: i64 = 1;

const V1: &str = r#"
CREATE TABLE sessions (
    id            TEXT PRIMARY KEY,
    title         TEXT NOT NULL DEFAULT '',
    title_source  TEXT NOT NULL DEFAULT 'auto' CHECK (title_source IN ('auto', 'user', 'import')),
    task          TEXT NOT NULL DEFAULT '',
    status        TEXT NOT NULL DEFAULT 'idle'
                  CHECK (status IN ('active', 'idle', 'completed', 'interrupted', 'failed')),
    summary       TEXT NOT NULL DEFAULT '',
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    turns         INTEGER NOT NULL DEFAULT 0,
    messages      INTEGER NOT NULL DEFAULT 0,
    provider      TEXT,
    model         TEXT,
    workspace     TEXT NOT NULL,
    imported_by   TEXT,
    imported_at   INTEGER,
    exported_by   TEXT,
    exported_at   INTEGER,
    original_id   TEXT,
    source_file   TEXT,
    file_sha256   TEXT,
    forked_from   TEXT REFERENCES sessions(id) ON DELETE SET NULL,
    writer_pid    INTEGER,
    writer_host   TEXT
);
CREATE INDEX sessions_by_update ON sessions (updated_at DESC, id DESC);

CREATE TABLE messages (
    id          INTEGER PRIMARY KEY,
    session_id  TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    turn        INTEGER NOT NULL,
    role        TEXT NOT NULL CHECK (role IN ('user', 'assistant', 'tool_call', 'tool_result',
                    'scratchpad', 'memory_write', 'memory_read', 'system')),
    content     TEXT NOT NULL,
    meta        TEXT NOT NULL DEFAULT '{}',
    created_at  INTEGER NOT NULL
);
CREATE INDEX messages_by_session ON messages (session_id, id);

CREATE VIRTUAL TABLE messages_fts USING fts5 (content, content = 'messages', content_rowid = 'id');
CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts (rowid, content) VALUES (new.id, new.content);
END;
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, content) VALUES ('delete', old.id, old.content);
END;
CREATE TRIGGER messages_fts_update AFTER UPDATE OF content ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, content) VALUES ('delete', old.id, old.content);
    INSERT INTO messages_fts (rowid, content) VALUES (new.id, new.content);
END;

CREATE TABLE cells (
    id           INTEGER PRIMARY KEY,
    session_id   TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    pad          TEXT NOT NULL,
    code         TEXT NOT NULL,
    stdout       TEXT NOT NULL DEFAULT '',
    stderr       TEXT NOT NULL DEFAULT '',
    error        TEXT,
    description  TEXT NOT NULL DEFAULT '',
    started_at   INTEGER NOT NULL,
    finished_at  INTEGER
);
CREATE INDEX cells_by_session ON cells (session_id, id);

-- 'born': written during the session; 'used': given to the model in it.
CREATE TABLE session_memories (
    session_id  TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    relation    TEXT NOT NULL CHECK (relation IN ('born', 'used')),
    kind        TEXT NOT NULL CHECK (kind IN ('always', 'never', 'when', 'lesson')),
    scope       TEXT NOT NULL CHECK (scope IN ('project', 'global')),
    text        TEXT NOT NULL,
    topic       TEXT NOT NULL DEFAULT '',
    at          INTEGER NOT NULL,
    PRIMARY KEY (session_id, relation, text)
);

CREATE TABLE share_ledger (
    id          INTEGER PRIMARY KEY,
    session_id  TEXT REFERENCES sessions(id) ON DELETE SET NULL,
    direction   TEXT NOT NULL CHECK (direction IN ('export', 'import')),
    path        TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    title       TEXT NOT NULL DEFAULT '',
    who         TEXT NOT NULL,
    at          INTEGER NOT NULL,
    format      TEXT NOT NULL
);
CREATE INDEX share_ledger_by_session ON share_ledger (session_id, at);

CREATE TABLE plugin_kv (
    plugin  TEXT NOT NULL,
    key     TEXT NOT NULL,
    value   TEXT NOT NULL,
    PRIMARY KEY (plugin, key)
);
"#;

/// How many sessions there are, kept by triggers: counting the rows took
/// `anton sessions` 3 ms at 100,000 sessions.
const V2: &str = r#"
CREATE TABLE session_count (total INTEGER NOT NULL);
INSERT INTO session_count SELECT count(*) FROM sessions;
CREATE TRIGGER session_counted AFTER INSERT ON sessions BEGIN
    UPDATE session_count SET total = total + 1;
END;
CREATE TRIGGER session_uncounted AFTER DELETE ON sessions BEGIN
    UPDATE session_count SET total = total - 1;
END;
"#;

/// The summary an imported session came with, kept apart from the one the
/// chat refreshes: it stays the session's goal and the exporter's words.
const V3: &str = r#"
ALTER TABLE sessions ADD COLUMN imported_summary TEXT;
UPDATE sessions SET imported_summary = summary WHERE imported_by IS NOT NULL;
"#;

/// Sessions adopted from the reference Anton's `.anton/episodes/`: how far
/// each log was read, so a later run of the reference adds only its new
/// lines, and the model context its `_history.json` held.
const V4: &str = r#"
CREATE TABLE reference_sessions (
    session_id        TEXT PRIMARY KEY REFERENCES sessions(id) ON DELETE CASCADE,
    log_size          INTEGER NOT NULL,
    log_modified      INTEGER NOT NULL,
    read_to           INTEGER NOT NULL,
    skipped           INTEGER NOT NULL DEFAULT 0,
    history_size      INTEGER,
    history_modified  INTEGER,
    context           TEXT,
    -- The user said the saved context may be the model's own (asked once).
    context_accepted  INTEGER NOT NULL DEFAULT 0
);
-- When the episodes folder was last looked through (its mtime): the
-- reference replaces a history file at every turn's end, which changes it.
CREATE TABLE reference_folder (modified INTEGER NOT NULL);
"#;

/// Sessions not yet wholly in the search index: indexing 200 MB of text
/// takes SQLite seconds, so a large import lands at once and is indexed when
/// a search first needs it. A message is in the index unless its session is
/// listed here and its id is past `indexed_to`; the triggers keep to that
/// (deleting a row the index never had would corrupt it). No foreign key: a
/// session deleted with its messages leaves a row the indexer clears.
const V5: &str = r#"
CREATE TABLE unindexed_sessions (
    session_id  TEXT PRIMARY KEY,
    indexed_to  INTEGER NOT NULL DEFAULT 0
);
DROP TRIGGER messages_fts_insert;
DROP TRIGGER messages_fts_delete;
DROP TRIGGER messages_fts_update;
CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages
WHEN NOT EXISTS (SELECT 1 FROM unindexed_sessions WHERE session_id = new.session_id)
BEGIN
    INSERT INTO messages_fts (rowid, content) VALUES (new.id, new.content);
END;
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages
WHEN NOT EXISTS (SELECT 1 FROM unindexed_sessions WHERE session_id = old.session_id AND old.id > indexed_to)
BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, content) VALUES ('delete', old.id, old.content);
END;
CREATE TRIGGER messages_fts_update AFTER UPDATE OF content ON messages
WHEN NOT EXISTS (SELECT 1 FROM unindexed_sessions WHERE session_id = old.session_id AND old.id > indexed_to)
BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, content) VALUES ('delete', old.id, old.content);
    INSERT INTO messages_fts (rowid, content) VALUES (new.id, new.content);
END;
"#;

/// Sessions being built in parts (a large import): their messages, cells
/// and memories are in, their `sessions` row is not, so nothing shows them
/// until the last part lands it. A build whose process died is swept by the
/// next anton that opens the store to write.
const V6: &str = r#"
CREATE TABLE unlanded_sessions (
    session_id   TEXT PRIMARY KEY,
    writer_pid   INTEGER NOT NULL,
    writer_host  TEXT NOT NULL,
    started_at   INTEGER NOT NULL
);
"#;
