//! What the model sees: the system prompt (with memories) and the
//! conversation rebuilt from the store, repaired where a crash cut it.

use serde_json::Value;

use crate::llm::{Message, ToolCall};
use crate::memory::{Entry, Kind};
use crate::store;

const BASE_PROMPT: &str = "You are anton, a coworker in the user's terminal. Answer plainly and briefly. \
Use the scratchpad tool to run Python when data or computation is involved; variables persist between cells of a pad. \
Data-source credentials are in environment variables named DS_<ENGINE>_<NAME>__<FIELD>; never print their values. \
Use the memorize tool to keep rules and lessons that will matter in later sessions.";

/// The system prompt, with the rules and lessons in force.
pub fn system_prompt(memories: &[Entry]) -> String {
    let mut prompt = BASE_PROMPT.to_string();
    let rules: Vec<&Entry> = memories.iter().filter(|m| m.kind != Kind::Lesson).collect();
    if !rules.is_empty() {
        prompt.push_str("\n\nRules:");
        for rule in rules {
            let label = match rule.kind {
                Kind::Always => "Always",
                Kind::Never => "Never",
                _ => "When",
            };
            let text = rule.text.strip_prefix(label).map(str::trim_start).unwrap_or(&rule.text);
            prompt.push_str(&format!("\n- {label}: {text}"));
        }
    }
    let lessons: Vec<&Entry> = memories.iter().filter(|m| m.kind == Kind::Lesson).collect();
    if !lessons.is_empty() {
        prompt.push_str("\n\nLessons learned:");
        for lesson in lessons {
            prompt.push_str(&format!("\n- {}", lesson.text));
        }
    }
    prompt
}

/// Rebuild the model conversation from stored messages: imported turns as
/// quoted material under `imported_note`, local turns as they were. A tool
/// call without a result (a crash mid-tool) gets a placeholder result, so
/// providers accept the history; no earlier turn is ever dropped. Returns
/// whether it repaired.
pub fn rebuild(messages: &[store::Message], imported_note: Option<&str>) -> (Vec<Message>, bool) {
    let mut history: Vec<Message> = Vec::new();
    let imported = messages.iter().take_while(|m| super::imported::is_imported(m)).count();
    // A summary-only import has no turns, but its note still tells the
    // model whose session this is and what it was about.
    if let Some(note) = imported_note {
        history.extend(super::imported::quoted(note, &messages[..imported]));
    }
    let messages = &messages[if imported_note.is_some() { imported } else { 0 }..];
    let mut open_calls: Vec<ToolCall> = Vec::new();
    let mut repaired = false;
    let close_open = |history: &mut Vec<Message>, open: &mut Vec<ToolCall>, repaired: &mut bool| {
        *repaired |= !open.is_empty();
        history.extend(crate::llm::unanswered(
            open,
            "(no result: the session stopped before this tool finished)",
        ));
    };
    for (index, message) in messages.iter().enumerate() {
        let meta: Value = serde_json::from_str(&message.meta).unwrap_or_default();
        match message.role.as_str() {
            "user" => {
                close_open(&mut history, &mut open_calls, &mut repaired);
                history.push(Message::User(message.content.clone()));
            }
            "assistant" => {
                close_open(&mut history, &mut open_calls, &mut repaired);
                history.push(Message::Assistant {
                    text: message.content.clone(),
                    tool_calls: Vec::new(),
                });
            }
            "tool_call" => {
                let id = meta["id"]
                    .as_str()
                    .filter(|id| !id.is_empty())
                    .map(str::to_string)
                    .unwrap_or_else(|| {
                        repaired = true;
                        format!("call_repaired_{index}")
                    });
                let call = ToolCall {
                    id,
                    name: meta["tool"].as_str().unwrap_or("unknown").to_string(),
                    input: serde_json::from_str(&message.content)
                        .unwrap_or_else(|_| serde_json::json!({"raw": message.content})),
                };
                match history.last_mut() {
                    // Calls made in the same reply as the text before them.
                    Some(Message::Assistant { tool_calls, .. }) => tool_calls.push(call.clone()),
                    _ => history.push(Message::Assistant {
                        text: String::new(),
                        tool_calls: vec![call.clone()],
                    }),
                }
                open_calls.push(call);
            }
            "tool_result" => {
                let id = meta["id"].as_str().unwrap_or_default();
                let position =
                    open_calls
                        .iter()
                        .position(|c| c.id == id)
                        .or(if open_calls.is_empty() { None } else { Some(0) });
                if let Some(position) = position {
                    let call = open_calls.remove(position);
                    history.push(Message::ToolResult {
                        call_id: call.id,
                        name: call.name,
                        content: message.content.clone(),
                    });
                }
            }
            _ => {}
        }
    }
    close_open(&mut history, &mut open_calls, &mut repaired);
    (history, repaired)
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A stored message of turn 1, for tests of what the model is given.
    pub(in crate::chat) fn row(role: &str, content: &str, meta: &str) -> store::Message {
        store::Message {
            id: 0,
            turn: 1,
            role: role.into(),
            content: content.into(),
            meta: meta.into(),
            created_at: 0,
        }
    }

    #[test]
    fn a_tool_round_trip_rebuilds_as_the_provider_sent_it() {
        let (history, repaired) = rebuild(
            &[
                row("user", "sum it", "{}"),
                row("assistant", "Let me compute.", "{}"),
                row("tool_call", r#"{"code":"1+1"}"#, r#"{"tool":"scratchpad","id":"c1"}"#),
                row("scratchpad", "2\n", r#"{"description":"add"}"#),
                row("tool_result", "[output]\n2", r#"{"tool":"scratchpad","id":"c1"}"#),
                row("assistant", "It is 2.", "{}"),
            ],
            None,
        );
        assert!(!repaired);
        assert_eq!(history.len(), 4);
        assert!(matches!(&history[1], Message::Assistant { tool_calls, .. } if tool_calls[0].id == "c1"));
        assert!(matches!(&history[2], Message::ToolResult { call_id, .. } if call_id == "c1"));
    }

    #[test]
    fn a_crash_cut_tail_is_repaired_without_dropping_turns() {
        let (history, repaired) = rebuild(
            &[
                row("user", "first", "{}"),
                row("assistant", "ok", "{}"),
                row("user", "second", "{}"),
                row("tool_call", r#"{"code":"x"}"#, r#"{"tool":"scratchpad","id":""}"#),
            ],
            None,
        );
        assert!(repaired);
        assert_eq!(history.len(), 5);
        assert_eq!(history[0], Message::User("first".into()));
        let Message::Assistant { tool_calls, .. } = &history[3] else {
            panic!("{history:?}")
        };
        let Message::ToolResult { call_id, content, .. } = &history[4] else {
            panic!("{history:?}")
        };
        assert_eq!(call_id, &tool_calls[0].id);
        assert!(content.contains("no result"));
    }

    #[test]
    fn memories_reach_the_system_prompt() {
        let mut rule = Entry::new(Kind::Always, "Always group by region_code");
        rule.date = String::new();
        let lesson = Entry::new(Kind::Lesson, "Amounts are in cents");
        let prompt = system_prompt(&[rule, lesson]);
        assert!(prompt.contains("- Always: group by region_code"));
        assert!(prompt.contains("Lessons learned:\n- Amounts are in cents"));
    }
}
