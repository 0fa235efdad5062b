//! Known secrets off the screen when text arrives in pieces (a streamed
//! reply): a piece that ends with what could be the start of a known value,
//! or a whole short one whose next character decides whether it is that
//! value or part of a longer word, keeps that tail back until the next piece
//! says.

use super::Scrubber;

pub struct Screen<'a> {
    scrubber: &'a Scrubber,
    /// The last character shown: whether a value is inside a word depends
    /// on it.
    shown: String,
    held: String,
}

impl<'a> Screen<'a> {
    pub(super) fn new(scrubber: &'a Scrubber) -> Screen<'a> {
        Screen {
            scrubber,
            shown: String::new(),
            held: String::new(),
        }
    }

    /// What of `piece` (and what was held) can be shown now.
    pub fn push(&mut self, piece: &str) -> String {
        self.held.push_str(piece);
        let cut = self.undecided_from();
        self.show_until(cut)
    }

    /// Whatever is still held: the text has ended.
    pub fn finish(&mut self) -> String {
        self.show_until(self.held.len())
    }

    /// `held[..cut]` scrubbed, judged with the character before it and all
    /// that is held after it; a value that crosses `cut` stays held whole.
    fn show_until(&mut self, mut cut: usize) -> String {
        let text = format!("{}{}", self.shown, self.held);
        let offset = self.shown.len();
        let spans = self.scrubber.known_spans(&text);
        for (start, end, _) in &spans {
            if *start < offset + cut && *end > offset + cut {
                cut = start.saturating_sub(offset);
            }
        }
        let mut out = String::new();
        let mut last = offset;
        for (start, end, known) in spans.iter().filter(|(s, e, _)| *s >= offset && *e <= offset + cut) {
            out.push_str(&text[last..*start]);
            out.push_str(&known.replacement);
            last = *end;
        }
        out.push_str(&text[last..offset + cut]);
        if let Some(c) = text[..offset + cut].chars().next_back() {
            self.shown = c.to_string();
        }
        self.held = self.held[cut..].to_string();
        out
    }

    /// Where the first tail of what is held begins that is, or could grow
    /// into, a known value; the end when there is none.
    fn undecided_from(&self) -> usize {
        let text = &self.held;
        let longest = self.scrubber.known_values().next().map_or(0, str::len);
        let from = text.len().saturating_sub(longest);
        (from..text.len())
            .filter(|&i| text.is_char_boundary(i))
            .find(|&i| self.scrubber.known_values().any(|v| v.starts_with(&text[i..])))
            .unwrap_or(text.len())
    }
}
