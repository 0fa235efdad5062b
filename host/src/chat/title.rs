//! Titles and summaries from the coding model, written in the background so
//! the prompt never waits for them (the first turn's title comes from the
//! task at once). A title the user chose is never replaced (the store
//! guards that), nor one an imported session came with.

use std::time::Duration;

use anton_share_format::naming;
use tokio::task::JoinHandle;

use super::Chat;
use super::journal::Record;
use crate::llm::{Client, Message, Request};
use crate::settings::ModelConfig;
use crate::terminal;

/// How long leaving the chat waits for a title still being written.
const LEAVING_WAIT: Duration = Duration::from_secs(5);

fn said(history: &[Message]) -> impl Iterator<Item = (&str, &str)> {
    history.iter().filter_map(|m| match m {
        Message::User(text) => Some(("user", text.as_str())),
        Message::Assistant { text, .. } => Some(("assistant", text.as_str())),
        _ => None,
    })
}

/// Ask the coding model for `{title, summary}`.
async fn generate(client: Client, model: ModelConfig, prompt: String) -> Option<(String, String)> {
    let messages = [Message::User(prompt)];
    let request = Request {
        system: "You write short, concrete titles and summaries.",
        messages: &messages,
        tools: &[],
        max_tokens: 400,
    };
    let reply = client.stream(&model, &request, &mut |_| {}).await.ok()?;
    naming::parse(&reply.text)
}

/// A title and summary being written in the background.
pub struct Naming {
    session: String,
    /// An imported session keeps the title it came with.
    keep_title: bool,
    task: JoinHandle<Option<(String, String)>>,
}

impl Chat<'_> {
    /// After the first turn and every fifth, have the coding model name and
    /// summarise the session, in the background.
    pub(super) fn refresh_title(&mut self, id: &str, turn: u32) {
        if turn != 1 && !turn.is_multiple_of(5) {
            return;
        }
        self.store_naming(false);
        // One at a time: a refresh still running covers this one.
        if self.naming.is_some() {
            return;
        }
        let Ok(model) = self.app.services.settings().coding.clone() else {
            return;
        };
        let session = match self.journal.with_store(|s| s.get_session(id)) {
            Ok(Some(session)) => session,
            Ok(None) => return,
            Err(e) => return println!("warning: the session cannot be named ({e})"),
        };
        let live = self.live.as_ref().expect("in a session");
        // An imported session's goal is what its exporter summed up, not
        // the first question asked here.
        let goal = match &live.imported {
            Some(imported) if !imported.summary.trim().is_empty() => &imported.summary,
            _ => &session.task,
        };
        let prompt = naming::prompt(goal, &session.summary, said(&live.history));
        let services = self.app.services.clone();
        let (runtime, client) = services.llm().expect("checked when the chat opened");
        self.naming = Some(Naming {
            session: id.to_string(),
            keep_title: live.imported.is_some(),
            task: runtime.spawn(generate(client.clone(), model, prompt)),
        });
    }

    /// Store what the background wrote, once it is done; `leaving` the
    /// chat gives it a little longer.
    pub(super) fn store_naming(&mut self, leaving: bool) {
        let Some(naming) = self.naming.take_if(|n| leaving || n.task.is_finished()) else {
            return;
        };
        let wait = if leaving { LEAVING_WAIT } else { Duration::ZERO };
        let services = self.app.services.clone();
        let (runtime, _) = services.llm().expect("checked when the chat opened");
        let mut task = naming.task;
        let mut spinner = (leaving && !task.is_finished()).then(|| terminal::Spinner::start("Naming the session"));
        let interactive = self.interactive;
        let done = runtime.block_on(async {
            let finished = tokio::time::timeout(wait, &mut task);
            if !interactive {
                return finished.await.ok().and_then(Result::ok);
            }
            // Ctrl-C skips the wait: the session keeps the title it has.
            tokio::select! {
                done = finished => done.ok().and_then(Result::ok),
                _ = tokio::signal::ctrl_c() => None,
            }
        });
        if let Some(spinner) = spinner.as_mut() {
            spinner.stop();
        }
        task.abort();
        let Some(Some((title, summary))) = done else {
            return;
        };
        let scrubber = self.scrubber();
        if !naming.keep_title {
            self.journal.write(Record::Title {
                session: naming.session.clone(),
                title: scrubber.scrub(&title),
                by_user: false,
            });
        }
        self.journal.write(Record::Summary {
            session: naming.session,
            summary: scrubber.scrub(&summary),
        });
    }
}
