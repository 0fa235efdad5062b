//! Markdown for the terminal, rendered as it streams: a line is shown once
//! it is complete, a table once it ends. Headings, emphasis, lists, quotes,
//! links, tables and fenced code (highlighted in colour) lose their markup;
//! prose wraps at word boundaries with list items' hanging indent. Colour
//! follows `NO_COLOR`. Text reaching here is already sanitised.

use std::sync::OnceLock;

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};
use syntect::easy::HighlightLines;
use syntect::highlighting::ThemeSet;
use syntect::parsing::SyntaxSet;
use unicode_width::UnicodeWidthStr;

const BOLD: &str = "\x1b[1m";
const ITALIC: &str = "\x1b[3m";
const DIM: &str = "\x1b[2m";
const CODE: &str = "\x1b[36m";
const LINK: &str = "\x1b[4m";
const STRIKE: &str = "\x1b[9m";
const RESET: &str = "\x1b[0m";
/// How far a code block is indented.
const CODE_INDENT: &str = "    ";

/// A whole text at once (what a plugin prints as Markdown).
pub fn render(text: &str, width: usize, color: bool) -> String {
    let mut stream = Stream::new(width, color);
    let mut out = stream.push(text);
    out.push_str(&stream.finish());
    out.trim_end_matches('\n').to_string()
}

/// A reply arriving in pieces.
pub struct Stream {
    width: usize,
    color: bool,
    /// The line still arriving.
    partial: String,
    /// Table rows waiting for the table to end.
    table: Vec<String>,
    fence: Option<Fence>,
}

struct Fence {
    marker: String,
    highlighter: Option<HighlightLines<'static>>,
}

impl Stream {
    pub fn new(width: usize, color: bool) -> Stream {
        Stream {
            width: width.max(20),
            color,
            partial: String::new(),
            table: Vec::new(),
            fence: None,
        }
    }

    /// What can be shown of the reply so far, as whole rendered lines.
    pub fn push(&mut self, piece: &str) -> String {
        self.partial.push_str(piece);
        let mut out = String::new();
        while let Some(end) = self.partial.find('\n') {
            let line: String = self.partial.drain(..=end).collect();
            self.line(line.trim_end_matches(['\n', '\r']), &mut out);
        }
        out
    }

    /// The line still arriving, unrendered: shown meanwhile, then replaced
    /// by its rendering once it is complete.
    pub fn pending(&self) -> &str {
        &self.partial
    }

    /// The rest, at the end of the reply.
    pub fn finish(&mut self) -> String {
        let mut out = String::new();
        if !self.partial.is_empty() {
            let line = std::mem::take(&mut self.partial);
            self.line(&line, &mut out);
        }
        self.flush_table(&mut out);
        self.fence = None;
        out
    }

    fn line(&mut self, line: &str, out: &mut String) {
        let trimmed = line.trim_start();
        if let Some(fence) = &mut self.fence {
            if trimmed.starts_with(fence.marker.as_str()) && trimmed.trim_start_matches(['`', '~']).trim().is_empty() {
                self.fence = None;
            } else {
                out.push_str(CODE_INDENT);
                match fence.highlighter.as_mut() {
                    Some(h) => out.push_str(&highlight(h, line)),
                    None => out.push_str(line),
                }
                out.push('\n');
            }
            return;
        }
        if trimmed.starts_with('|') {
            self.table.push(trimmed.to_string());
            return;
        }
        self.flush_table(out);
        if let Some(marker) = fence_opening(trimmed) {
            let fence_len = trimmed.len() - trimmed.trim_start_matches(marker).len();
            let language = trimmed[fence_len..].trim();
            self.fence = Some(Fence {
                marker: trimmed[..fence_len].to_string(),
                highlighter: self.color.then(|| highlighter(language)).flatten(),
            });
            return;
        }
        let indent = line.len() - trimmed.len();
        let block = Block::of(trimmed);
        let (lead, text, style) = match &block {
            Block::Heading(text) => (String::new(), *text, Some(BOLD)),
            Block::Item { marker, text } => (format!("{}{marker} ", " ".repeat(indent)), *text, None),
            Block::Quote(text) => (format!("{}│ ", " ".repeat(indent)), *text, Some(DIM)),
            Block::Rule => {
                out.push_str(&"─".repeat(self.width.min(40)));
                out.push('\n');
                return;
            }
            Block::Paragraph(text) => (" ".repeat(indent), *text, None),
        };
        let mut spans = inline(text, style);
        // What Markdown would hide (a reference definition) is shown as written.
        if spans.iter().all(|(t, _)| t.trim().is_empty()) && !text.trim().is_empty() {
            spans = vec![(text.to_string(), style)];
        }
        for wrapped in wrap(&spans, &lead, self.width) {
            out.push_str(&self.paint(&wrapped));
            out.push('\n');
        }
    }

    fn flush_table(&mut self, out: &mut String) {
        if self.table.is_empty() {
            return;
        }
        // Only a table's second row can be its header's underline.
        let mut rows: Vec<Vec<String>> = std::mem::take(&mut self.table)
            .iter()
            .enumerate()
            .filter(|(i, row)| *i != 1 || !is_separator(row))
            .map(|(_, row)| cells(row).iter().map(|cell| plain(cell)).collect())
            .collect();
        let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
        for row in &mut rows {
            row.resize(columns, String::new());
        }
        let Some((header, body)) = rows.split_first() else {
            return;
        };
        let natural: usize = (0..columns)
            .map(|i| rows.iter().map(|r| r[i].width()).max().unwrap_or(0) + 2)
            .sum();
        if natural <= self.width {
            let columns: Vec<crate::terminal::Column> = header
                .iter()
                .map(|h| crate::terminal::Column {
                    header: h.clone(),
                    shrinkable: true,
                })
                .collect();
            out.push_str(&crate::terminal::render_table(&columns, body, self.width));
            return;
        }
        // Too wide to fit: each row as its fields, so no cell is cut.
        let header_only = [header.iter().map(|_| String::new()).collect::<Vec<_>>()];
        let (names, rows) = if body.is_empty() {
            (&header_only[0], std::slice::from_ref(header))
        } else {
            (header, body)
        };
        for row in rows {
            for (i, (name, value)) in names.iter().zip(row).enumerate() {
                let lead = if i == 0 { "• " } else { "  " };
                let label = if name.is_empty() {
                    String::new()
                } else {
                    format!("{name}: ")
                };
                let spans = vec![(label, Some(BOLD)), (value.clone(), None)];
                for wrapped in wrap(&spans, lead, self.width) {
                    out.push_str(&self.paint(&wrapped));
                    out.push('\n');
                }
            }
        }
    }

    fn paint(&self, spans: &[(String, Option<&'static str>)]) -> String {
        let mut line = String::new();
        for (text, style) in spans {
            match style.filter(|_| self.color) {
                Some(code) => {
                    line.push_str(code);
                    line.push_str(text);
                    line.push_str(RESET);
                }
                None => line.push_str(text),
            }
        }
        line.trim_end().to_string()
    }
}

/// The fence character a line opens a code block with: three or more
/// backticks (and no backtick after them: that is inline code) or tildes.
fn fence_opening(line: &str) -> Option<char> {
    ['`', '~'].into_iter().find(|&c| {
        let run = line.len() - line.trim_start_matches(c).len();
        run >= 3 && (c == '~' || !line[run..].contains('`'))
    })
}

/// What one line is, by its leading markup.
enum Block<'a> {
    Heading(&'a str),
    Item { marker: String, text: &'a str },
    Quote(&'a str),
    Rule,
    Paragraph(&'a str),
}

impl<'a> Block<'a> {
    fn of(line: &'a str) -> Block<'a> {
        let hashes = line.len() - line.trim_start_matches('#').len();
        if (1..=6).contains(&hashes) && line[hashes..].starts_with(' ') {
            return Block::Heading(line[hashes..].trim().trim_end_matches('#').trim_end());
        }
        let compact: String = line.chars().filter(|c| *c != ' ').collect();
        if compact.len() >= 3 && ['-', '*', '_'].iter().any(|rule| compact.chars().all(|c| c == *rule)) {
            return Block::Rule;
        }
        for bullet in ["- ", "* ", "+ "] {
            if let Some(text) = line.strip_prefix(bullet) {
                let (marker, text) = if let Some(rest) = text.strip_prefix("[x] ") {
                    ("☑", rest)
                } else if let Some(rest) = text.strip_prefix("[ ] ") {
                    ("☐", rest)
                } else {
                    ("•", text)
                };
                return Block::Item {
                    marker: marker.to_string(),
                    text,
                };
            }
        }
        let digits = line.len() - line.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if (1..=9).contains(&digits) && (line[digits..].starts_with(". ") || line[digits..].starts_with(") ")) {
            return Block::Item {
                marker: line[..digits + 1].to_string(),
                text: &line[digits + 2..],
            };
        }
        if let Some(text) = line.strip_prefix('>') {
            return Block::Quote(text.trim_start());
        }
        Block::Paragraph(line)
    }
}

/// `text` with what would open a block (a list number, a bullet, `>`,
/// `#`, a fence, a rule) escaped: inline text is parsed as a document, and
/// its blocks were taken apart already.
fn escape_block_start(text: &str) -> String {
    let digits = text.len() - text.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    if digits > 0 && text[digits..].starts_with(['.', ')']) {
        return format!("{}\\{}", &text[..digits], &text[digits..]);
    }
    let compact: String = text.chars().filter(|c| *c != ' ').collect();
    let rule = compact.len() >= 3 && ['-', '*', '_'].iter().any(|r| compact.chars().all(|c| c == *r));
    let bullet = text.starts_with(['-', '+', '*']) && (text.len() == 1 || text[1..].starts_with(' '));
    let opens_block =
        rule || bullet || text.starts_with(['>', '#', '|']) || text.starts_with("```") || text.starts_with("~~~");
    if opens_block {
        format!("\\{text}")
    } else {
        text.to_string()
    }
}

/// A line's inline markup as styled spans (`base` styles plain text).
fn inline(text: &str, base: Option<&'static str>) -> Vec<(String, Option<&'static str>)> {
    let text = &escape_block_start(text);
    let mut spans: Vec<(String, Option<&'static str>)> = Vec::new();
    let mut styles: Vec<&'static str> = base.into_iter().collect();
    let mut link: Option<(String, usize)> = None;
    for event in Parser::new_ext(text, Options::ENABLE_STRIKETHROUGH) {
        match event {
            Event::Start(Tag::Strong) => styles.push(BOLD),
            Event::Start(Tag::Emphasis) => styles.push(ITALIC),
            Event::Start(Tag::Strikethrough) => styles.push(STRIKE),
            Event::Start(Tag::Link { dest_url, title, .. } | Tag::Image { dest_url, title, .. }) => {
                styles.push(LINK);
                let target = if title.is_empty() {
                    dest_url.to_string()
                } else {
                    format!("{dest_url} \"{title}\"")
                };
                link = Some((target, spans.len()));
            }
            Event::End(TagEnd::Strong | TagEnd::Emphasis | TagEnd::Strikethrough) => {
                styles.pop();
            }
            Event::End(TagEnd::Link | TagEnd::Image) => {
                styles.pop();
                if let Some((url, from)) = link.take() {
                    let shown: String = spans[from..].iter().map(|(t, _)| t.as_str()).collect();
                    if url != shown {
                        spans.push((format!(" ({url})"), Some(DIM)));
                    }
                }
            }
            Event::Text(t) | Event::Html(t) | Event::InlineHtml(t) => {
                spans.push((t.to_string(), styles.last().copied()))
            }
            Event::Code(code) => spans.push((code.to_string(), Some(CODE))),
            Event::SoftBreak | Event::HardBreak => spans.push((" ".into(), None)),
            _ => {}
        }
    }
    spans
}

/// Text without its markup, for a table cell.
fn plain(text: &str) -> String {
    inline(text, None).into_iter().map(|(t, _)| t).collect()
}

/// A table row's cells: `|` inside a code span or escaped as `\|` stays.
fn cells(row: &str) -> Vec<String> {
    let row = row.trim();
    let row = row.strip_prefix('|').unwrap_or(row);
    let row = row.strip_suffix('|').filter(|r| !r.ends_with('\\')).unwrap_or(row);
    let mut cells = vec![String::new()];
    let mut in_code = false;
    let mut chars = row.chars();
    while let Some(c) = chars.next() {
        let cell = cells.last_mut().expect("never empty");
        match c {
            '\\' => match chars.next() {
                Some('|') => cell.push('|'),
                Some(other) => {
                    cell.push('\\');
                    cell.push(other);
                }
                None => cell.push('\\'),
            },
            '`' => {
                in_code = !in_code;
                cell.push(c);
            }
            '|' if !in_code => cells.push(String::new()),
            c => cell.push(c),
        }
    }
    cells.iter().map(|c| c.trim().to_string()).collect()
}

fn is_separator(row: &str) -> bool {
    row.chars().all(|c| matches!(c, '|' | '-' | ':' | ' '))
}

/// Spans cut into lines of at most `width` columns at word boundaries; the
/// first line starts with `lead`, later ones with as many spaces.
fn wrap(
    spans: &[(String, Option<&'static str>)],
    lead: &str,
    width: usize,
) -> Vec<Vec<(String, Option<&'static str>)>> {
    let hanging = " ".repeat(lead.width());
    let mut lines = vec![vec![(lead.to_string(), None)]];
    let mut used = lead.width();
    let room = width.max(hanging.len() + 10);
    for (text, style) in spans {
        for word in text.split_inclusive(' ') {
            let word_width = word.trim_end().width();
            if used + word_width > room && used > hanging.len() {
                lines.push(vec![(hanging.clone(), None)]);
                used = hanging.len();
            }
            let line = lines.last_mut().expect("never empty");
            line.push((word.to_string(), *style));
            used += word.width();
        }
    }
    lines
}

fn syntaxes() -> &'static SyntaxSet {
    static SYNTAXES: OnceLock<SyntaxSet> = OnceLock::new();
    SYNTAXES.get_or_init(SyntaxSet::load_defaults_newlines)
}

fn highlighter(language: &str) -> Option<HighlightLines<'static>> {
    static THEMES: OnceLock<ThemeSet> = OnceLock::new();
    let syntax = syntaxes().find_syntax_by_token(language.split_whitespace().next()?)?;
    let theme = THEMES
        .get_or_init(ThemeSet::load_defaults)
        .themes
        .get("base16-ocean.dark")?;
    Some(HighlightLines::new(syntax, theme))
}

fn highlight(highlighter: &mut HighlightLines<'static>, line: &str) -> String {
    let with_newline = format!("{line}\n");
    match highlighter.highlight_line(&with_newline, syntaxes()) {
        Ok(ranges) => {
            let mut out = syntect::util::as_24_bit_terminal_escaped(&ranges, false);
            out.push_str(RESET);
            out.replace('\n', "")
        }
        Err(_) => line.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPLY: &str = "# Results\nRevenue is **up** by *12%*, see [the report](https://example.com/r).\n\n- APAC\n  - Japan\n1. first\n> a quote\n\n```python\nprint(\"hi\")\n```\n| Region | Revenue |\n|---|---|\n| APAC | **12** |\n| EMEA | 9 |\nafter";

    #[test]
    fn without_colour_the_markup_goes_and_the_text_stays() {
        assert_eq!(
            render(REPLY, 80, false),
            "Results\nRevenue is up by 12%, see the report (https://example.com/r).\n\n• APAC\n  • Japan\n1. first\n│ a quote\n\n    print(\"hi\")\nRegion  Revenue\nAPAC    12\nEMEA    9\nafter"
        );
    }

    #[test]
    fn in_colour_bold_is_bold_and_code_is_highlighted() {
        let out = render("Revenue is **up**.\n```rust\nfn main() {}\n```", 80, true);
        assert!(out.contains("\x1b[1mup\x1b[0m"), "{out:?}");
        assert!(out.contains("\x1b[38;2;"), "24-bit colours for the code: {out:?}");
        assert!(!out.contains("**") && !out.contains("```"), "{out:?}");
    }

    #[test]
    fn pieces_render_as_the_whole_and_lines_show_when_complete() {
        let mut stream = Stream::new(80, false);
        let mut out = String::new();
        for piece in REPLY.as_bytes().chunks(3) {
            out.push_str(&stream.push(std::str::from_utf8(piece).unwrap()));
        }
        out.push_str(&stream.finish());
        assert_eq!(out.trim_end(), render(REPLY, 80, false));
        let mut stream = Stream::new(80, false);
        assert_eq!(stream.push("**bold** and"), "");
        assert_eq!(stream.push(" more\nnext"), "bold and more\n");
        assert_eq!(stream.finish(), "next\n");
    }

    #[test]
    fn nothing_of_the_text_is_lost() {
        let out = render(
            "```bash is great``` said nobody\n[ref]: https://example.com/important\n![diagram](http://x/y.png)\n| a | b |\n|---|---|\n| 1 | 2 | 3extra |\n| `x|y` | esc\\|aped |",
            80,
            false,
        );
        for kept in [
            "bash is great",
            "said nobody",
            "[ref]: https://example.com/important",
            "diagram (http://x/y.png)",
            "3extra",
            "x|y",
            "esc|aped",
        ] {
            assert!(out.contains(kept), "{kept:?} lost:\n{out}");
        }
        let wide = render(
            "| name | note |\n|---|---|\n| churn | IMPORTANTWORD and a long explanation of it that cannot fit |",
            30,
            false,
        );
        assert!(wide.contains("IMPORTANTWORD") && !wide.contains('…'), "{wide}");
        assert!(wide.lines().all(|l| l.width() <= 30), "{wide}");
    }

    #[test]
    fn prose_wraps_at_words_and_list_items_hang() {
        let out = render(
            "- a list item whose text is long enough to wrap at least once here",
            30,
            false,
        );
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines.len() > 1, "{out}");
        assert!(lines.iter().all(|l| l.width() <= 30), "{out}");
        assert!(lines[0].starts_with("• a list") && lines[1].starts_with("  "), "{out}");
        assert_eq!(
            out.split_whitespace().collect::<Vec<_>>().join(" "),
            "• a list item whose text is long enough to wrap at least once here"
        );
    }
}
