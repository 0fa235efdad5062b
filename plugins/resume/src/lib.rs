//! `/resume`, `anton --resume` / `-r` and `--continue` / `-c`: choose an
//! earlier session; the host switches to it after the call.

use anton_plugin_sdk::chat::{self, TimeStyle, one_line};
use anton_plugin_sdk::storage::{self, Lookup, SessionQuery};
use anton_plugin_sdk::{Invocation, Origin, Outcome, Plugin, Session, SessionStatus, register_plugin, session};

/// How many recent sessions the picker offers.
const OFFERED: u32 = 200;

struct Resume;

impl Plugin for Resume {
    fn new() -> Self {
        Resume
    }

    fn run(&mut self, invocation: &Invocation) -> Result<Outcome, String> {
        let at_launch = invocation.origin == Origin::Launch;
        // At launch an unknown id is an error (exit 1); in the chat, one line.
        let failed = || Outcome::exit(if at_launch { 1 } else { 0 });
        if invocation.command == "continue" {
            return Ok(match session::latest()? {
                Some(session) => Outcome::switch_session(session.id),
                None => {
                    chat::print("No earlier sessions to continue; starting a new one.");
                    Outcome::ok()
                }
            });
        }
        match invocation.args.first() {
            Some(id) => match storage::find_session(id)? {
                Lookup::Found(session) => Ok(Outcome::switch_session(session.id)),
                Lookup::Missing => {
                    chat::print_error(&format!(
                        "Session {id} not found. {} lists them.",
                        invocation.how_to_run("sessions")
                    ));
                    Ok(failed())
                }
                Lookup::Ambiguous(candidates) => {
                    chat::print_error(&format!("Session prefix {id} matches {} sessions:", candidates.len()));
                    for s in candidates {
                        chat::print_error(&format!("  {}  {}", s.id, label(&s)));
                    }
                    Ok(failed())
                }
            },
            None => pick(invocation.origin),
        }
    }
}

register_plugin!(Resume);

fn recent(limit: u32) -> Result<Vec<Session>, String> {
    Ok(storage::list_sessions(&SessionQuery::recent(limit))?
        .into_iter()
        .map(|hit| hit.session)
        .collect())
}

fn pick(origin: Origin) -> Result<Outcome, String> {
    let current = chat::current_session();
    let sessions: Vec<Session> = recent(OFFERED)?
        .into_iter()
        .filter(|s| Some(&s.id) != current.as_ref())
        .collect();
    if sessions.is_empty() {
        chat::print("No earlier sessions to resume.");
        return Ok(Outcome::ok());
    }
    // Typing filters on the whole line: date, status, title, where it came
    // from, and the summary after the dash.
    let items: Vec<String> = sessions.iter().map(item).collect();
    Ok(match chat::pick("Resume which session?", &items)? {
        Some(index) => Outcome::switch_session(sessions[index as usize].id.clone()),
        // Cancelled at launch (`anton -r`, Esc or Ctrl-C): leave, as the
        // user asked, rather than open a chat nobody wanted.
        None if origin == Origin::Launch => Outcome::exit(130),
        None => Outcome::ok(),
    })
}

/// One session as the picker shows it.
fn item(s: &Session) -> String {
    let turns = chat::count(s.turns, "turn", "turns");
    let mut line = format!(
        "{} · {turns} · {}",
        chat::format_time(s.updated_at, TimeStyle::Absolute),
        label(s)
    );
    if !matches!(s.status, SessionStatus::Idle | SessionStatus::Completed) {
        line.push_str(&format!(" [{}]", s.status.name()));
    }
    if let Some(parent) = &s.provenance.forked_from {
        line.push_str(&format!(" (fork of {})", one_line(parent)));
    }
    if s.provenance.imported_by.is_some() {
        let from = s.provenance.exported_by.as_deref().unwrap_or("someone");
        line.push_str(&format!(" (imported from {})", one_line(from)));
    }
    if !s.summary.trim().is_empty() {
        line.push_str(&format!(" — {}", one_line(&s.summary)));
    }
    line
}

/// The title, or the first message when there is none yet.
fn label(session: &Session) -> String {
    let text = if session.title.is_empty() {
        &session.task
    } else {
        &session.title
    };
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
