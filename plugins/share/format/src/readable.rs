//! A session for people to read: Markdown, or one self-contained HTML page
//! (no scripts, nothing fetched, every text escaped) that prints well.
//! Made from the same redacted rows a `.anton` file is, and written as they
//! come: a long message is escaped straight into the output.

use std::collections::BTreeMap;
use std::io::{self, Write};

use crate::{Bundle, Cell, Episode, Head, Memory, SessionWriter};

/// Who said a conversation row, for people.
fn speaker(role: &str) -> &'static str {
    match role {
        "user" => "You",
        "assistant" => "anton",
        "tool_call" => "Tool call",
        "tool_result" => "Tool result",
        "scratchpad" => "Scratchpad output",
        _ => "Note",
    }
}

/// An ISO time as "2026-11-23 23:20 UTC" (as written when it is not one).
fn when(iso: &str) -> String {
    match (iso.get(..10), iso.get(11..16)) {
        (Some(day), Some(minute)) if iso.ends_with('Z') || iso.ends_with("+00:00") => format!("{day} {minute} UTC"),
        _ => iso.to_string(),
    }
}

/// The tool a row names, on one line.
fn tool(row: &Episode) -> String {
    row.meta["tool"]
        .as_str()
        .map(|t| format!(" ({})", one_line(t, "?")))
        .unwrap_or_default()
}

/// A fence longer than any run of backticks in `text`.
fn fence(text: &str) -> String {
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    "`".repeat(longest.max(2) + 1)
}

fn code_block(out: &mut impl Write, language: &str, text: &str) -> io::Result<()> {
    let fence = fence(text);
    writeln!(out, "{fence}{language}")?;
    write_visible(out, text.trim_end_matches('\n'))?;
    write!(out, "\n{fence}\n")
}

/// What both transcripts keep of the file: its memories, for the end, and
/// whether a section has begun.
struct Sections {
    memories: Vec<(&'static str, Memory)>,
    conversation_begun: bool,
    cells: usize,
}

impl Sections {
    fn new(session_born: &[Memory], project_accessed: &[Memory]) -> Sections {
        let born = session_born.iter().map(|m| ("born here", m.clone()));
        let used = project_accessed.iter().map(|m| ("project memory used", m.clone()));
        Sections {
            memories: born.chain(used).collect(),
            conversation_begun: false,
            cells: 0,
        }
    }
}

/// Markdown, written as rows come.
pub struct MarkdownWriter<W: Write> {
    out: W,
    sections: Sections,
}

impl<W: Write> MarkdownWriter<W> {
    pub fn new(mut out: W, head: &Head, session_born: &[Memory], project_accessed: &[Memory]) -> io::Result<Self> {
        write!(out, "# {}\n\n", prose(&one_line(&head.title, "Untitled session")))?;
        write!(
            out,
            "Exported by {} on {} · session `{}`\n\n",
            prose(&one_line(&head.exported_by, "someone")),
            when(&head.exported_at),
            head.session_id
        )?;
        if let Some(parent) = &head.forked_from {
            write!(out, "Forked from session `{parent}`\n\n")?;
        }
        if !head.summary.trim().is_empty() {
            for line in head.summary.lines() {
                writeln!(out, "> {}", prose(line))?;
            }
            out.write_all(b"\n")?;
        }
        Ok(MarkdownWriter {
            out,
            sections: Sections::new(session_born, project_accessed),
        })
    }
}

impl<W: Write> SessionWriter<W> for MarkdownWriter<W> {
    fn episode(&mut self, row: &Episode) -> io::Result<()> {
        if row.role.starts_with("memory_") {
            return Ok(());
        }
        let out = &mut self.out;
        if !std::mem::replace(&mut self.sections.conversation_begun, true) {
            out.write_all(b"## Conversation\n\n")?;
        }
        write!(
            out,
            "**{}**{} · turn {} · {}\n\n",
            speaker(&row.role),
            prose(&tool(row)),
            row.turn,
            when(&row.ts)
        )?;
        match row.role.as_str() {
            "user" | "assistant" => {
                // Quoted: an unclosed fence or HTML block ends with the quote.
                for line in row.content.trim_end().lines() {
                    out.write_all(b"> ")?;
                    write_prose(out, line)?;
                    out.write_all(b"\n")?;
                }
                out.write_all(b"\n")?;
            }
            "tool_call" => code_block(out, "json", &row.content)?,
            _ => code_block(out, "", &row.content)?,
        }
        out.write_all(b"\n")
    }

    fn cell(&mut self, cell: &Cell) -> io::Result<()> {
        let out = &mut self.out;
        if self.sections.cells == 0 {
            out.write_all(b"## Scratchpad cells\n\n")?;
        }
        self.sections.cells += 1;
        write!(
            out,
            "### {}. {}{}\n\n",
            self.sections.cells,
            prose(&one_line(&cell.pad, "main")),
            prose(&described(&cell.description))
        )?;
        code_block(out, "python", &cell.code)?;
        for (label, text) in cell_outputs(cell) {
            write!(out, "\n{label}:\n\n")?;
            code_block(out, "", text)?;
        }
        out.write_all(b"\n")
    }

    fn finish(mut self: Box<Self>, _redactions: &BTreeMap<String, u64>) -> io::Result<W> {
        if !self.sections.memories.is_empty() {
            self.out.write_all(b"## Memories\n\n")?;
            for (group, m) in &self.sections.memories {
                writeln!(
                    self.out,
                    "- {group}, {}: {}{}",
                    prose(&m.kind),
                    prose(&one_line(&m.content, "")),
                    prose(&topic_of(&m.topic))
                )?;
            }
        }
        Ok(self.out)
    }
}

/// One HTML page, written as rows come.
pub struct HtmlWriter<W: Write> {
    out: W,
    sections: Sections,
}

impl<W: Write> HtmlWriter<W> {
    pub fn new(mut out: W, head: &Head, session_born: &[Memory], project_accessed: &[Memory]) -> io::Result<Self> {
        let title = escape(&one_line(&head.title, "Untitled session"));
        write!(
            out,
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n\
             <title>{title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n<h1>{title}</h1>\n"
        )?;
        writeln!(
            out,
            "<p class=\"meta\">Exported by {} on {} · session <code>{}</code></p>",
            escape(&one_line(&head.exported_by, "someone")),
            escape(&when(&head.exported_at)),
            escape(&head.session_id)
        )?;
        if let Some(parent) = &head.forked_from {
            writeln!(
                out,
                "<p class=\"meta\">Forked from session <code>{}</code></p>",
                escape(parent)
            )?;
        }
        if !head.summary.trim().is_empty() {
            out.write_all(b"<blockquote class=\"summary\">")?;
            write_paragraphs(&mut out, &head.summary)?;
            out.write_all(b"</blockquote>\n")?;
        }
        Ok(HtmlWriter {
            out,
            sections: Sections::new(session_born, project_accessed),
        })
    }
}

impl<W: Write> SessionWriter<W> for HtmlWriter<W> {
    fn episode(&mut self, row: &Episode) -> io::Result<()> {
        if row.role.starts_with("memory_") {
            return Ok(());
        }
        let out = &mut self.out;
        if !std::mem::replace(&mut self.sections.conversation_begun, true) {
            out.write_all(b"<h2>Conversation</h2>\n")?;
        }
        let class = match row.role.as_str() {
            "user" => "user",
            "assistant" => "assistant",
            _ => "tool",
        };
        write!(
            out,
            "<section class=\"turn {class}\"><p class=\"who\">{}{} <span>turn {} · {}</span></p>",
            speaker(&row.role),
            escape(&tool(row)),
            row.turn,
            escape(&when(&row.ts))
        )?;
        match class {
            "tool" => {
                out.write_all(b"<pre>")?;
                write_escaped(out, row.content.trim_end(), false)?;
                out.write_all(b"</pre>")?;
            }
            _ => write_paragraphs(out, &row.content)?,
        }
        out.write_all(b"</section>\n")
    }

    fn cell(&mut self, cell: &Cell) -> io::Result<()> {
        let out = &mut self.out;
        if self.sections.cells == 0 {
            out.write_all(b"<h2>Scratchpad cells</h2>\n")?;
        }
        self.sections.cells += 1;
        write!(
            out,
            "<section class=\"cell\"><h3>{}. {}{}</h3><pre class=\"code\">",
            self.sections.cells,
            escape(&one_line(&cell.pad, "main")),
            escape(&described(&cell.description)),
        )?;
        write_escaped(out, cell.code.trim_end(), false)?;
        out.write_all(b"</pre>")?;
        for (label, text) in cell_outputs(cell) {
            write!(out, "<p class=\"label\">{label}</p><pre>")?;
            write_escaped(out, text.trim_end(), false)?;
            out.write_all(b"</pre>")?;
        }
        out.write_all(b"</section>\n")
    }

    fn finish(mut self: Box<Self>, _redactions: &BTreeMap<String, u64>) -> io::Result<W> {
        if !self.sections.memories.is_empty() {
            self.out.write_all(b"<h2>Memories</h2>\n<ul class=\"memories\">\n")?;
            for (group, m) in &self.sections.memories {
                writeln!(
                    self.out,
                    "<li><span class=\"kind\">{group}, {}</span> {}{}</li>",
                    escape(&m.kind),
                    escape(&one_line(&m.content, "")),
                    escape(&topic_of(&m.topic))
                )?;
            }
            self.out.write_all(b"</ul>\n")?;
        }
        self.out.write_all(b"</main>\n</body>\n</html>\n")?;
        Ok(self.out)
    }
}

/// A whole transcript in memory.
fn whole(writer: io::Result<Box<dyn SessionWriter<Vec<u8>>>>, bundle: &Bundle) -> String {
    let bytes = writer
        .and_then(|w| crate::write_with(w, bundle))
        .expect("writing to memory cannot fail");
    String::from_utf8(bytes).expect("written from text")
}

pub fn markdown(bundle: &Bundle) -> String {
    let writer = MarkdownWriter::new(
        Vec::new(),
        &bundle.head(),
        &bundle.session_born,
        &bundle.project_accessed,
    );
    whole(writer.map(|w| Box::new(w) as Box<dyn SessionWriter<Vec<u8>>>), bundle)
}

pub fn html(bundle: &Bundle) -> String {
    let writer = HtmlWriter::new(
        Vec::new(),
        &bundle.head(),
        &bundle.session_born,
        &bundle.project_accessed,
    );
    whole(writer.map(|w| Box::new(w) as Box<dyn SessionWriter<Vec<u8>>>), bundle)
}

/// Readable on screen and on paper: one column, nothing fetched.
const STYLE: &str = "
body{font:16px/1.55 system-ui,-apple-system,'Segoe UI',sans-serif;color:#1d1d1f;background:#fff;margin:0}
main{max-width:46rem;margin:0 auto;padding:2.5rem 1.25rem}
h1{font-size:1.7rem;margin:0 0 .25rem}h2{font-size:1.2rem;margin:2.2rem 0 .8rem;border-bottom:1px solid #ddd;padding-bottom:.3rem}
h3{font-size:1rem;margin:0 0 .5rem}.meta{color:#666;margin:0 0 1.2rem}
.summary{margin:0;padding:.6rem 1rem;border-left:4px solid #7a8cff;background:#f4f5ff}
.turn{margin:0 0 1rem;padding:.6rem .9rem;border-radius:8px;break-inside:avoid}
.user{background:#eef6ee}.assistant{background:#f6f6f8}.tool{background:#fbfaf3;font-size:.9rem}
.who{margin:0 0 .3rem;font-weight:600}.who span{font-weight:400;color:#777;font-size:.85rem;margin-left:.4rem}
.turn p{margin:.3rem 0}pre{white-space:pre-wrap;word-break:break-word;background:#f3f3f3;padding:.6rem .8rem;border-radius:6px;margin:.3rem 0;font:13px/1.45 ui-monospace,Menlo,Consolas,monospace}
.cell{margin:0 0 1.2rem;break-inside:avoid}.code{background:#eef1f6}.label{margin:.5rem 0 0;color:#666;font-size:.85rem}
.memories li{margin:.3rem 0}.kind{color:#666;font-size:.85rem;margin-right:.3rem}
code{font-family:ui-monospace,Menlo,Consolas,monospace}
@media print{body{font-size:11pt}main{max-width:none;padding:0}.turn,.summary,pre{background:none;border:1px solid #ccc}}
";

/// Text Markdown shows as written: no HTML of its own.
fn prose(text: &str) -> String {
    let mut out = Vec::new();
    write_prose(&mut out, text).expect("writing to memory cannot fail");
    String::from_utf8(out).expect("written from text")
}

/// Text as Markdown shows it: no HTML, no link or image (which a renderer
/// would follow or fetch), and nothing a terminal would act on.
fn write_prose(out: &mut impl Write, text: &str) -> io::Result<()> {
    write_replacing(out, text, |c| match c {
        '&' => Some("&amp;"),
        '<' => Some("&lt;"),
        '[' => Some("\\["),
        ']' => Some("\\]"),
        c => invisible(c),
    })
}

/// Text as it is, but for what a terminal showing the file would act on:
/// control characters (a line break and a tab aside) and bidirectional
/// overrides become U+FFFD.
fn write_visible(out: &mut impl Write, text: &str) -> io::Result<()> {
    write_replacing(out, text, invisible)
}

fn invisible(c: char) -> Option<&'static str> {
    let acts =
        (c.is_control() && c != '\n' && c != '\t') || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
    acts.then_some("\u{fffd}")
}

/// `text` with each character `replace` has a replacement for replaced.
fn write_replacing(out: &mut impl Write, text: &str, replace: impl Fn(char) -> Option<&'static str>) -> io::Result<()> {
    let mut plain = 0;
    for (at, c) in text.char_indices() {
        if let Some(replacement) = replace(c) {
            out.write_all(&text.as_bytes()[plain..at])?;
            out.write_all(replacement.as_bytes())?;
            plain = at + c.len_utf8();
        }
    }
    out.write_all(&text.as_bytes()[plain..])
}

fn escape(text: &str) -> String {
    let mut out = Vec::new();
    write_escaped(&mut out, text, false).expect("writing to memory cannot fail");
    String::from_utf8(out).expect("written from text")
}

/// `text` for a page, every special character escaped; line breaks as
/// `<br>` when `breaks`. Windows line ends are line ends; a lone carriage
/// return is nothing; other controls have no business in a page.
fn write_escaped(out: &mut impl Write, text: &str, breaks: bool) -> io::Result<()> {
    write_replacing(out, text, |c| match c {
        '&' => Some("&amp;"),
        '<' => Some("&lt;"),
        '>' => Some("&gt;"),
        '"' => Some("&quot;"),
        '\'' => Some("&#39;"),
        '\r' => Some(""),
        '\n' if breaks => Some("<br>"),
        '\n' | '\t' => None,
        c => invisible(c),
    })
}

/// Text as paragraphs, its line breaks kept.
fn write_paragraphs(out: &mut impl Write, text: &str) -> io::Result<()> {
    for paragraph in text.trim().split("\n\n") {
        out.write_all(b"<p>")?;
        write_escaped(out, paragraph.trim(), true)?;
        out.write_all(b"</p>")?;
    }
    Ok(())
}

fn one_line(text: &str, otherwise: &str) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.is_empty() { otherwise.to_string() } else { flat }
}

fn described(description: &str) -> String {
    let description = one_line(description, "");
    if description.is_empty() {
        String::new()
    } else {
        format!(" — {description}")
    }
}

fn topic_of(topic: &str) -> String {
    let topic = one_line(topic, "");
    if topic.is_empty() {
        String::new()
    } else {
        format!(" ({topic})")
    }
}

fn cell_outputs(cell: &Cell) -> Vec<(&'static str, &str)> {
    [("Output", cell.stdout.as_str()), ("Errors", cell.stderr.as_str())]
        .into_iter()
        .chain(cell.error.as_deref().map(|e| ("Failed", e)))
        .filter(|(_, text)| !text.trim().is_empty())
        .collect()
}
