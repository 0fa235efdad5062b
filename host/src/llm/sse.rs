//! Server-sent events, as both providers stream them.

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Event {
    pub event: Option<String>,
    pub data: String,
}

/// Feed it bytes as they arrive; it hands back each complete event.
#[derive(Default)]
pub struct Parser {
    buffer: Vec<u8>,
}

impl Parser {
    pub fn push(&mut self, bytes: &[u8]) -> Vec<Event> {
        self.buffer.extend(bytes.iter().copied().filter(|b| *b != b'\r'));
        let mut events = Vec::new();
        while let Some(end) = self.buffer.windows(2).position(|w| w == b"\n\n") {
            let block: Vec<u8> = self.buffer.drain(..end + 2).collect();
            let text = String::from_utf8_lossy(&block);
            let mut event = Event::default();
            let mut data = Vec::new();
            for line in text.lines() {
                if let Some(value) = line.strip_prefix("data:") {
                    data.push(value.strip_prefix(' ').unwrap_or(value).to_string());
                } else if let Some(value) = line.strip_prefix("event:") {
                    event.event = Some(value.trim().to_string());
                }
            }
            if !data.is_empty() {
                event.data = data.join("\n");
                events.push(event);
            }
        }
        events
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_split_across_chunks_and_multibyte_text_survive() {
        let mut parser = Parser::default();
        let stream = "event: a\r\ndata: {\"t\":\"h€llo\"}\r\n\r\n: comment\n\ndata: x\ndata: y\n\n";
        let bytes = stream.as_bytes();
        let mut events = Vec::new();
        for chunk in bytes.chunks(3) {
            events.extend(parser.push(chunk));
        }
        assert_eq!(
            events,
            vec![
                Event {
                    event: Some("a".into()),
                    data: "{\"t\":\"h€llo\"}".into()
                },
                Event {
                    event: None,
                    data: "x\ny".into()
                },
            ]
        );
    }
}
