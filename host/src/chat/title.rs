//! Titles and summaries: from the cheap model when there is one, from the
//! task otherwise. A title the user chose is never replaced (the store
//! guards that).

use serde_json::Value;

use super::Chat;
use super::journal::Record;
use crate::llm::{Client, Message, Request};
use crate::settings::ModelConfig;

/// The first words of the task, for when no model can name the session.
pub fn heuristic(task: &str) -> String {
    let words: Vec<&str> = task.split_whitespace().take(7).collect();
    let mut title = words.join(" ");
    if task.split_whitespace().count() > 7 {
        title.push('…');
    }
    title
}

/// Ask the coding model for `{title, summary}` over the last messages.
pub async fn generate(client: &Client, model: &ModelConfig, history: &[Message]) -> Option<(String, String)> {
    let transcript: Vec<String> = history
        .iter()
        .rev()
        .take(20)
        .rev()
        .filter_map(|m| match m {
            Message::User(t) => Some(format!("user: {}", cut(t))),
            Message::Assistant { text, .. } if !text.is_empty() => Some(format!("assistant: {}", cut(text))),
            _ => None,
        })
        .collect();
    let prompt = format!(
        "Name and summarise this work session. Reply with JSON only: \
         {{\"title\": \"3 to 7 plain words\", \"summary\": \"2 to 4 sentences: the goal, what was found, dead ends, where it stands\"}}\n\n{}",
        transcript.join("\n")
    );
    let messages = [Message::User(prompt)];
    let request = Request {
        system: "You write short, concrete titles and summaries.",
        messages: &messages,
        tools: &[],
        max_tokens: 400,
    };
    let reply = client.stream(model, &request, &mut |_| {}).await.ok()?;
    let text = reply.text.trim();
    let json = &text[text.find('{')?..=text.rfind('}')?];
    let value: Value = serde_json::from_str(json).ok()?;
    let title = value["title"].as_str()?.trim().to_string();
    let summary = value["summary"].as_str().unwrap_or_default().trim().to_string();
    (!title.is_empty()).then_some((title, summary))
}

fn cut(text: &str) -> String {
    text.chars().take(400).collect()
}

impl Chat<'_> {
    /// After the first turn and every fifth, ask the cheap model to name and
    /// summarise the session.
    pub(super) fn refresh_title(&mut self, id: &str, turn: u32) {
        if turn != 1 && !turn.is_multiple_of(5) {
            return;
        }
        let Ok(model) = self.app.services.settings().coding.clone() else {
            return;
        };
        let live = self.live.as_ref().expect("in a session");
        let services = self.app.services.clone();
        let (runtime, client) = services.llm().expect("checked when the chat opened");
        let generated = runtime.block_on(generate(client, &model, &live.history));
        if let Some((title, summary)) = generated {
            self.journal.write(Record::Title {
                session: id.to_string(),
                title: self.scrubber().scrub(&title),
            });
            self.journal.write(Record::Summary {
                session: id.to_string(),
                summary: self.scrubber().scrub(&summary),
            });
        }
    }
}
