//! A session for people to read: Markdown, or one self-contained HTML page
//! (no scripts, nothing fetched, every text escaped) that prints well.
//! Made from the same redacted [`Bundle`] a `.anton` file is.

use crate::{Bundle, Episode};

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

fn tool(row: &Episode) -> String {
    row.meta["tool"].as_str().map(|t| format!(" ({t})")).unwrap_or_default()
}

/// A fence longer than any run of backticks in `text`.
fn fence(text: &str) -> String {
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    "`".repeat(longest.max(2) + 1)
}

fn code_block(out: &mut String, language: &str, text: &str) {
    let fence = fence(text);
    out.push_str(&format!(
        "{fence}{language}\n{}\n{fence}\n",
        text.trim_end_matches('\n')
    ));
}

pub fn markdown(bundle: &Bundle) -> String {
    let mut out = format!("# {}\n\n", prose(&one_line(&bundle.title, "Untitled session")));
    out.push_str(&format!(
        "Exported by {} on {} · session `{}`\n\n",
        prose(&one_line(&bundle.exported_by, "someone")),
        when(&bundle.exported_at),
        bundle.session_id
    ));
    if !bundle.summary.trim().is_empty() {
        for line in bundle.summary.lines() {
            out.push_str(&format!("> {}\n", prose(line)));
        }
        out.push('\n');
    }
    if !bundle.conversation.is_empty() {
        out.push_str("## Conversation\n\n");
        for row in bundle.conversation.iter().filter(|r| !r.role.starts_with("memory_")) {
            out.push_str(&format!(
                "**{}**{} · turn {} · {}\n\n",
                speaker(&row.role),
                tool(row),
                row.turn,
                when(&row.ts)
            ));
            match row.role.as_str() {
                "user" | "assistant" => {
                    // Quoted: an unclosed fence or HTML block ends with the quote.
                    for line in row.content.trim_end().lines() {
                        out.push_str(&format!("> {}\n", prose(line)));
                    }
                    out.push('\n');
                }
                "tool_call" => code_block(&mut out, "json", &row.content),
                _ => code_block(&mut out, "", &row.content),
            }
            out.push('\n');
        }
    }
    if !bundle.cells.is_empty() {
        out.push_str("## Scratchpad cells\n\n");
        for (n, cell) in bundle.cells.iter().enumerate() {
            out.push_str(&format!(
                "### {}. {}{}\n\n",
                n + 1,
                prose(&one_line(&cell.pad, "main")),
                prose(&described(&cell.description))
            ));
            code_block(&mut out, "python", &cell.code);
            for (label, text) in cell_outputs(cell) {
                out.push_str(&format!("\n{label}:\n\n"));
                code_block(&mut out, "", text);
            }
            out.push('\n');
        }
    }
    let memories = memories(bundle);
    if !memories.is_empty() {
        out.push_str("## Memories\n\n");
        for (group, kind, text, topic) in memories {
            out.push_str(&format!(
                "- {group}, {}: {}{}\n",
                prose(kind),
                prose(&one_line(text, "")),
                prose(&topic_of(topic))
            ));
        }
    }
    out
}

pub fn html(bundle: &Bundle) -> String {
    let title = escape(&one_line(&bundle.title, "Untitled session"));
    let mut out = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n\
         <title>{title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n<h1>{title}</h1>\n"
    );
    out.push_str(&format!(
        "<p class=\"meta\">Exported by {} on {} · session <code>{}</code></p>\n",
        escape(&one_line(&bundle.exported_by, "someone")),
        escape(&when(&bundle.exported_at)),
        escape(&bundle.session_id)
    ));
    if !bundle.summary.trim().is_empty() {
        out.push_str(&format!(
            "<blockquote class=\"summary\">{}</blockquote>\n",
            paragraphs(&bundle.summary)
        ));
    }
    if !bundle.conversation.is_empty() {
        out.push_str("<h2>Conversation</h2>\n");
        for row in bundle.conversation.iter().filter(|r| !r.role.starts_with("memory_")) {
            let class = match row.role.as_str() {
                "user" => "user",
                "assistant" => "assistant",
                _ => "tool",
            };
            out.push_str(&format!(
                "<section class=\"turn {class}\"><p class=\"who\">{}{} <span>turn {} · {}</span></p>",
                speaker(&row.role),
                escape(&tool(row)),
                row.turn,
                escape(&when(&row.ts))
            ));
            match class {
                "tool" => {
                    out.push_str(&format!("<pre>{}</pre>", escape(row.content.trim_end())));
                }
                _ => out.push_str(&paragraphs(&row.content)),
            }
            out.push_str("</section>\n");
        }
    }
    if !bundle.cells.is_empty() {
        out.push_str("<h2>Scratchpad cells</h2>\n");
        for (n, cell) in bundle.cells.iter().enumerate() {
            out.push_str(&format!(
                "<section class=\"cell\"><h3>{}. {}{}</h3><pre class=\"code\">{}</pre>",
                n + 1,
                escape(&one_line(&cell.pad, "main")),
                escape(&described(&cell.description)),
                escape(cell.code.trim_end())
            ));
            for (label, text) in cell_outputs(cell) {
                out.push_str(&format!(
                    "<p class=\"label\">{label}</p><pre>{}</pre>",
                    escape(text.trim_end())
                ));
            }
            out.push_str("</section>\n");
        }
    }
    let memories = memories(bundle);
    if !memories.is_empty() {
        out.push_str("<h2>Memories</h2>\n<ul class=\"memories\">\n");
        for (group, kind, text, topic) in memories {
            out.push_str(&format!(
                "<li><span class=\"kind\">{group}, {}</span> {}{}</li>\n",
                escape(kind),
                escape(&one_line(text, "")),
                escape(&topic_of(topic))
            ));
        }
        out.push_str("</ul>\n");
    }
    out.push_str("</main>\n</body>\n</html>\n");
    out
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
    text.replace('&', "&amp;").replace('<', "&lt;")
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    // Windows line ends are line ends; a lone carriage return is nothing.
    for c in text.replace("\r\n", "\n").chars().filter(|c| *c != '\r') {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Controls have no business in a page.
            c if c.is_control() && c != '\n' && c != '\t' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// Text as paragraphs, its line breaks kept.
fn paragraphs(text: &str) -> String {
    text.trim()
        .split("\n\n")
        .map(|p| format!("<p>{}</p>", escape(p.trim()).replace('\n', "<br>")))
        .collect()
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

fn cell_outputs(cell: &crate::Cell) -> Vec<(&'static str, &str)> {
    [("Output", cell.stdout.as_str()), ("Errors", cell.stderr.as_str())]
        .into_iter()
        .chain(cell.error.as_deref().map(|e| ("Failed", e)))
        .filter(|(_, text)| !text.trim().is_empty())
        .collect()
}

/// (group, kind, text, topic) of every memory the file carries.
fn memories(bundle: &Bundle) -> Vec<(&'static str, &str, &str, &str)> {
    bundle
        .session_born
        .iter()
        .map(|m| ("born here", m.kind.as_str(), m.content.as_str(), m.topic.as_str()))
        .chain(bundle.project_accessed.iter().map(|m| {
            (
                "project memory used",
                m.kind.as_str(),
                m.content.as_str(),
                m.topic.as_str(),
            )
        }))
        .collect()
}
