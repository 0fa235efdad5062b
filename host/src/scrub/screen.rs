//! Known secrets off the screen when text arrives in pieces (a streamed
//! reply): a piece that ends with what could be the start of a known value
//! keeps that tail back until the next piece says whether it is one.

use super::Scrubber;

pub struct Screen<'a> {
    scrubber: &'a Scrubber,
    held: String,
}

impl<'a> Screen<'a> {
    pub(super) fn new(scrubber: &'a Scrubber) -> Screen<'a> {
        Screen {
            scrubber,
            held: String::new(),
        }
    }

    /// What of `piece` (and what was held) can be shown now.
    pub fn push(&mut self, piece: &str) -> String {
        self.held.push_str(piece);
        let text = self.scrubber.scrub_known(&self.held);
        let cut = self.safe_prefix(&text);
        self.held = text[cut..].to_string();
        text[..cut].to_string()
    }

    /// Whatever is still held: the text has ended.
    pub fn finish(&mut self) -> String {
        std::mem::take(&mut self.held)
    }

    /// The end of the first tail of `text` that a known value starts with;
    /// all of `text` when there is none.
    fn safe_prefix(&self, text: &str) -> usize {
        let longest = self.scrubber.known_values().next().map_or(0, str::len);
        let from = text.len().saturating_sub(longest.saturating_sub(1));
        (from..text.len())
            .filter(|&i| text.is_char_boundary(i))
            .find(|&i| self.scrubber.known_values().any(|v| v.starts_with(&text[i..])))
            .unwrap_or(text.len())
    }
}
