//! What the user sees and types: tables that fit, prompts that work with or
//! without a terminal, times with their zone, NO_COLOR.

use std::io::{BufRead, IsTerminal, Write};

pub fn stdin_is_terminal() -> bool {
    std::io::stdin().is_terminal()
}

/// Columns available; `COLUMNS` wins so scripts and tests can pin it.
pub fn width() -> usize {
    if let Some(cols) = std::env::var("COLUMNS").ok().and_then(|c| c.parse::<usize>().ok()) {
        return cols.max(20);
    }
    terminal_size::terminal_size()
        .map(|(w, _)| w.0 as usize)
        .unwrap_or(80)
        .max(20)
}

/// Colour only on a terminal, and never when NO_COLOR is set to anything.
pub fn color() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stdout().is_terminal()
}

pub fn bold(text: &str) -> String {
    if color() {
        format!("\x1b[1m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

pub struct Column {
    pub header: String,
    pub shrinkable: bool,
}

/// Render a table in at most `width` columns: shrinkable columns give way
/// first, widest first; cut text ends with `…`.
pub fn render_table(columns: &[Column], rows: &[Vec<String>], width: usize) -> String {
    const GAP: usize = 2;
    let cell = |row: &Vec<String>, i: usize| -> String {
        row.get(i)
            .map(|c| c.split_whitespace().collect::<Vec<_>>().join(" "))
            .unwrap_or_default()
    };
    let mut widths: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            rows.iter()
                .map(|r| cell(r, i).chars().count())
                .max()
                .unwrap_or(0)
                .max(c.header.chars().count())
        })
        .collect();
    let total = |w: &[usize]| w.iter().sum::<usize>() + GAP * w.len().saturating_sub(1);
    for pass_shrinkable in [true, false] {
        while total(&widths) > width {
            let floor = |i: usize| {
                if pass_shrinkable {
                    columns[i].header.chars().count().max(6)
                } else {
                    3
                }
            };
            let candidate = (0..columns.len())
                .filter(|&i| columns[i].shrinkable == pass_shrinkable && widths[i] > floor(i))
                .max_by_key(|&i| widths[i]);
            match candidate {
                Some(i) => widths[i] -= 1,
                None => break,
            }
        }
    }
    let mut out = String::new();
    let line = |values: Vec<String>, out: &mut String, header: bool| {
        let last = values.len().saturating_sub(1);
        let mut text = String::new();
        for (i, value) in values.into_iter().enumerate() {
            let value = fit(&value, widths[i]);
            if i == last {
                text.push_str(&value);
            } else {
                let pad = widths[i] - value.chars().count() + GAP;
                text.push_str(&value);
                text.push_str(&" ".repeat(pad));
            }
        }
        let text = text.trim_end().to_string();
        out.push_str(&if header { bold(&text) } else { text });
        out.push('\n');
    };
    line(columns.iter().map(|c| c.header.clone()).collect(), &mut out, true);
    for row in rows {
        line((0..columns.len()).map(|i| cell(row, i)).collect(), &mut out, false);
    }
    out
}

fn fit(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(width.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// One line from stdin without its newline; `None` at end of input.
pub fn read_line() -> Option<String> {
    let mut line = String::new();
    match std::io::stdin().lock().read_line(&mut line) {
        Ok(0) | Err(_) => None,
        Ok(_) => Some(line.trim_end_matches(['\n', '\r']).to_string()),
    }
}

pub fn prompt(text: &str) -> Option<String> {
    print!("{text}");
    let _ = std::io::stdout().flush();
    let answer = read_line();
    // A piped answer is not echoed, so end the prompt's line ourselves.
    if !stdin_is_terminal() {
        println!();
    }
    answer
}

/// Like `prompt`, without echo on a terminal.
pub fn prompt_secret(text: &str) -> Option<String> {
    use rustix::termios;
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return prompt(text);
    }
    print!("{text}");
    let _ = std::io::stdout().flush();
    let saved = termios::tcgetattr(&stdin).ok()?;
    let mut quiet = saved.clone();
    quiet.local_modes.remove(termios::LocalModes::ECHO);
    let _ = termios::tcsetattr(&stdin, termios::OptionalActions::Now, &quiet);
    let line = read_line();
    let _ = termios::tcsetattr(&stdin, termios::OptionalActions::Now, &saved);
    println!();
    line
}

/// A numbered list, then a number from the user; `None` on q, empty or EOF.
pub fn pick(title: &str, items: &[String]) -> Option<usize> {
    if !title.is_empty() {
        println!("{title}");
    }
    for (i, item) in items.iter().enumerate() {
        println!("  {:>2}. {item}", i + 1);
    }
    loop {
        let answer = prompt(&format!("Pick 1-{} (q to cancel): ", items.len()))?;
        let answer = answer.trim();
        if answer.is_empty() || answer.eq_ignore_ascii_case("q") {
            return None;
        }
        match answer.parse::<usize>() {
            Ok(n) if (1..=items.len()).contains(&n) => return Some(n - 1),
            _ => println!("'{answer}' is not a number from 1 to {}.", items.len()),
        }
    }
}

pub fn confirm(question: &str, default_yes: bool) -> bool {
    let hint = if default_yes { "[Y/n]" } else { "[y/N]" };
    match prompt(&format!("{question} {hint} ")) {
        Some(a) if a.trim().is_empty() => default_yes,
        Some(a) => matches!(a.trim().to_ascii_lowercase().as_str(), "y" | "yes"),
        None => false,
    }
}

/// A timestamp (ms since the epoch) for people, in the system's zone.
pub fn format_time(at_ms: i64, relative: bool) -> String {
    let Ok(at) = jiff::Timestamp::from_millisecond(at_ms) else {
        return "?".into();
    };
    if relative {
        let seconds = jiff::Timestamp::now().as_second() - at.as_second();
        match seconds {
            s if s < -60 => {}
            s if s < 60 => return "just now".into(),
            s if s < 3_600 => return format!("{} min ago", s / 60),
            s if s < 86_400 => return format!("{} h ago", s / 3_600),
            s if s < 7 * 86_400 => return format!("{} d ago", s / 86_400),
            _ => {}
        }
    }
    at.to_zoned(jiff::tz::TimeZone::system())
        .strftime("%Y-%m-%d %H:%M %Z")
        .to_string()
}

pub fn format_iso(at_ms: i64) -> String {
    jiff::Timestamp::from_millisecond(at_ms)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cols(spec: &[(&str, bool)]) -> Vec<Column> {
        spec.iter()
            .map(|(h, s)| Column {
                header: h.to_string(),
                shrinkable: *s,
            })
            .collect()
    }

    #[test]
    fn a_table_that_fits_is_left_alone() {
        let out = render_table(
            &cols(&[("ID", false), ("Task", true)]),
            &[vec!["a1".into(), "short".into()]],
            80,
        );
        assert_eq!(out, "ID  Task\na1  short\n");
    }

    #[test]
    fn wide_text_columns_are_cut_with_an_ellipsis_to_fit() {
        let rows = vec![vec![
            "20261124_010203_ab12".into(),
            "x".repeat(100),
            "idle".into(),
            "y".repeat(100),
        ]];
        let out = render_table(
            &cols(&[("ID", false), ("Task", true), ("Status", false), ("Summary", true)]),
            &rows,
            60,
        );
        for line in out.lines() {
            assert!(line.chars().count() <= 60, "{line:?} is wider than 60");
        }
        assert!(out.contains("20261124_010203_ab12"), "ids are never cut: {out}");
        assert!(out.contains('…'));
    }

    #[test]
    fn relative_times_fall_back_to_dates_with_a_zone() {
        let now = jiff::Timestamp::now().as_millisecond();
        assert_eq!(format_time(now - 2 * 3_600_000 - 5, true), "2 h ago");
        let old = format_time(0, true);
        assert!(old.starts_with("1970-01-01") || old.starts_with("1969-12-31"), "{old}");
        assert!(old.split(' ').count() == 3, "the zone is named: {old}");
    }
}
