//! What the user sees and types: tables that fit, prompts that work with or
//! without a terminal, times with their zone, NO_COLOR.

use std::io::{BufRead, IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

pub fn stdin_is_terminal() -> bool {
    std::io::stdin().is_terminal()
}

/// Text from outside anton (a model, a plugin, a file, the store) made safe
/// for a terminal: no escape or control sequence survives. C0 controls
/// become their visible Control Pictures (`␛`, `␍`, `␈`), C1 controls, bidi
/// overrides and other invisible format characters become `�`; newlines and
/// tabs stay. anton's own styling is added after this, never before.
pub fn sanitize(text: &str) -> String {
    sanitize_with(text, false)
}

/// [`sanitize`] for a field that must stay on one line (a title, a name):
/// every line break or tab becomes a space.
pub fn sanitize_line(text: &str) -> String {
    sanitize_with(text, true)
}

fn sanitize_with(text: &str, one_line: bool) -> String {
    if !text
        .chars()
        .any(|c| needs_care(c) || (one_line && matches!(c, '\n' | '\t')))
    {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' | '\t' if one_line => out.push(' '),
            '\n' | '\t' => out.push(c),
            // A CRLF line end is a line end, not an overwrite.
            '\r' if chars.peek() == Some(&'\n') => {}
            c if (c as u32) < 0x20 => out.push(char::from_u32(0x2400 + c as u32).unwrap_or('\u{fffd}')),
            '\u{7f}' => out.push('\u{2421}'),
            c if needs_care(c) => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// Characters a terminal would act on, or that reorder or hide text.
fn needs_care(c: char) -> bool {
    let code = c as u32;
    (code < 0x20 && c != '\n' && c != '\t')
        || (0x7f..=0x9f).contains(&code)
        // Bidi embeddings, overrides and isolates (Trojan Source).
        || (0x202a..=0x202e).contains(&code)
        || (0x2066..=0x2069).contains(&code)
        || matches!(code, 0x200e | 0x200f | 0x061c)
        // Line and paragraph separators break lines where none is shown.
        || matches!(code, 0x2028 | 0x2029)
        // Invisible characters that hide or split text (zero-width space,
        // word joiners, BOM, interlinear annotations, tag characters).
        || matches!(code, 0x200b | 0x180e | 0xfeff | 0x00ad | 0x034f | 0x115f | 0x1160 | 0x3164 | 0xffa0)
        || (0x1d173..=0x1d17a).contains(&code)
        // Noncharacters: U+FFFE, U+FFFF in every plane.
        || (code & 0xfffe) == 0xfffe
        || (0x2060..=0x2064).contains(&code)
        || (0x206a..=0x206f).contains(&code)
        || (0xfff9..=0xfffb).contains(&code)
        || (0xe0000..=0xe007f).contains(&code)
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

/// The terminal's real width (`COLUMNS` may claim less or more), for
/// drawing that must stay on one row.
pub fn screen_columns() -> usize {
    terminal_size::terminal_size()
        .map(|(w, _)| w.0 as usize)
        .unwrap_or(80)
        .min(width())
}

/// Colour only on a terminal, and never when NO_COLOR is set to anything.
pub fn color() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stdout().is_terminal()
}

/// "1 turn", "2 turns", "0 turns".
pub fn count(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

pub fn bold(text: &str) -> String {
    if color() {
        format!("\x1b[1m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

/// A status line while anton waits (for a model's first words, for a
/// cell): what for, how long so far, how to stop it. Only on a terminal,
/// only after a moment, and gone before anything else is printed.
pub struct Spinner {
    running: Option<(Arc<AtomicBool>, std::thread::JoinHandle<()>)>,
}

impl Spinner {
    pub fn start(what: &str) -> Spinner {
        if !(stdin_is_terminal() && std::io::stdout().is_terminal()) {
            return Spinner { running: None };
        }
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let what = sanitize_line(what);
        let thread = std::thread::spawn(move || {
            const FRAMES: [char; 10] = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
            let started = Instant::now();
            let mut drawn = false;
            let mut frame = 0;
            while !stopped.load(Ordering::Acquire) {
                if started.elapsed() >= Duration::from_millis(300) {
                    print!(
                        "\r{} {what} {}s · Ctrl-C to stop\x1b[K",
                        FRAMES[frame % FRAMES.len()],
                        started.elapsed().as_secs()
                    );
                    let _ = std::io::stdout().flush();
                    drawn = true;
                    frame += 1;
                }
                std::thread::park_timeout(Duration::from_millis(100));
            }
            if drawn {
                print!("\r\x1b[K");
                let _ = std::io::stdout().flush();
            }
        });
        Spinner {
            running: Some((stop, thread)),
        }
    }

    /// Take the line away; the caller prints next.
    pub fn stop(&mut self) {
        if let Some((stop, thread)) = self.running.take() {
            stop.store(true, Ordering::Release);
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A line saying how far a long piece of work is ("Indexing… 45%"), on
/// stderr when it is a terminal: shown once the work has taken a moment,
/// redrawn a few times a second, and taken away before anything else is
/// printed (see [`clear_progress`]).
pub fn progress(what: &str, done: u64, total: u64, unit: Unit) {
    let mut slot = PROGRESS.lock().unwrap_or_else(|p| p.into_inner());
    let now = Instant::now();
    let state = slot.get_or_insert(Progress {
        started: now,
        drawn: None,
    });
    let due = now.duration_since(state.started) >= Duration::from_millis(500)
        && state
            .drawn
            .is_none_or(|at| now.duration_since(at) >= Duration::from_millis(150));
    if !due || !std::io::stderr().is_terminal() {
        return;
    }
    let percent = (done * 100).checked_div(total).unwrap_or(100).min(100);
    let amount = match unit {
        Unit::Bytes => format!(
            "{} of {}",
            crate::files::human_size(done),
            crate::files::human_size(total)
        ),
        Unit::Items(noun) => format!("{done} of {}", count(total, noun)),
    };
    eprint!("\r{} {percent}% ({amount})\x1b[K", sanitize_line(what));
    drop(std::io::stderr().flush());
    state.drawn = Some(now);
}

/// What a [`progress`] line counts.
#[derive(Clone, Copy)]
pub enum Unit {
    Bytes,
    Items(&'static str),
}

/// Take a progress line away, if one is up; the next one starts afresh.
pub fn clear_progress() {
    let mut slot = PROGRESS.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(Progress { drawn: Some(_), .. }) = slot.take() {
        eprint!("\r\x1b[K");
        drop(std::io::stderr().flush());
    }
}

struct Progress {
    started: Instant,
    drawn: Option<Instant>,
}

static PROGRESS: std::sync::Mutex<Option<Progress>> = std::sync::Mutex::new(None);

pub struct Column {
    pub header: String,
    pub shrinkable: bool,
}

/// Render a table in at most `width` columns: shrinkable columns give way
/// first, widest first; cut text ends with `…`.
pub fn render_table(columns: &[Column], rows: &[Vec<String>], width: usize) -> String {
    const GAP: usize = 2;
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            (0..columns.len())
                .map(|i| {
                    row.get(i)
                        .map(|c| c.split_whitespace().collect::<Vec<_>>().join(" "))
                        .unwrap_or_default()
                })
                .collect()
        })
        .collect();
    let mut widths: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            cells
                .iter()
                .map(|r| r[i].width())
                .max()
                .unwrap_or(0)
                .max(c.header.width())
        })
        .collect();
    let total = |w: &[usize]| w.iter().sum::<usize>() + GAP * w.len().saturating_sub(1);
    for pass_shrinkable in [true, false] {
        while total(&widths) > width {
            let floor = |i: usize| {
                if pass_shrinkable {
                    columns[i].header.width().max(6)
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
            let value = fit_cell(&value, widths[i]);
            if i == last {
                text.push_str(&value);
            } else {
                let pad = widths[i].saturating_sub(value.width()) + GAP;
                text.push_str(&value);
                text.push_str(&" ".repeat(pad));
            }
        }
        let text = text.trim_end().to_string();
        out.push_str(&if header { bold(&text) } else { text });
        out.push('\n');
    };
    line(columns.iter().map(|c| c.header.clone()).collect(), &mut out, true);
    for row in cells {
        line(row, &mut out, false);
    }
    out
}

/// A cell cut to `width`: a path or file name keeps its end (the name,
/// its extension) and starts with `…`; other text keeps its start.
fn fit_cell(text: &str, width: usize) -> String {
    let path = text.split(' ').next().is_some_and(|first| {
        let named = first.rsplit_once('.').is_some_and(|(stem, extension)| {
            !stem.is_empty() && (1..=8).contains(&extension.len()) && extension.chars().all(|c| c.is_ascii_alphabetic())
        });
        first.contains('/') || named
    });
    if !path || text.width() <= width {
        return fit(text, width);
    }
    let mut kept: Vec<char> = Vec::new();
    let mut used = 1;
    for c in text.chars().rev() {
        used += c.width().unwrap_or(0);
        if used > width {
            break;
        }
        kept.push(c);
    }
    format!("…{}", kept.iter().rev().collect::<String>())
}

/// `text` in at most `width` columns, cut ones ending with `…`.
pub fn fit(text: &str, width: usize) -> String {
    if text.width() <= width {
        return text.to_string();
    }
    let mut cut = String::new();
    let mut used = 1;
    for c in text.chars() {
        used += c.width().unwrap_or(0);
        if used > width {
            break;
        }
        cut.push(c);
    }
    cut.push('…');
    cut
}

/// One line from stdin without its newline; `None` at end of input.
pub fn read_line() -> Option<String> {
    // A line that is not UTF-8 is read as well as it can be, not taken
    // for the end of input.
    let mut line = Vec::new();
    match std::io::stdin().lock().read_until(b'\n', &mut line) {
        Ok(0) | Err(_) => None,
        Ok(_) => Some(
            String::from_utf8_lossy(&line)
                .trim_end_matches(['\n', '\r'])
                .to_string(),
        ),
    }
}

/// A line typed in answer to `text`; `None` at end of input or when the
/// user presses Ctrl-C, which cancels the question, never anton.
pub fn prompt(text: &str) -> Option<String> {
    ask(text, false)
}

/// Like `prompt`, without echo on a terminal.
pub fn prompt_secret(text: &str) -> Option<String> {
    ask(text, true)
}

fn ask(text: &str, secret: bool) -> Option<String> {
    if stdin_is_terminal() {
        // What was typed before the question was asked is no answer to it.
        raw::discard_waiting();
    }
    print!("{text}");
    let _ = std::io::stdout().flush();
    if let Some(answer) = field::read(secret) {
        return answer;
    }
    let answer = read_line();
    // A piped answer is not echoed, so end the prompt's line ourselves.
    if !stdin_is_terminal() {
        println!();
    }
    answer
}

/// One field typed on a terminal in raw mode: Ctrl-C or Esc cancels,
/// Backspace and Ctrl-U edit, Enter ends, a secret is not shown.
mod field {
    use std::io::Write;

    use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

    /// Bracketed paste on and off: a pasted text arrives marked, so its
    /// lines stay in this field.
    const PASTE_ON: &str = "\x1b[?2004h";
    const PASTE_OFF: &str = "\x1b[?2004l";

    /// `None` when stdin is no terminal that can go raw (the caller reads a line).
    pub fn read(secret: bool) -> Option<Option<String>> {
        if !super::stdin_is_terminal() {
            return None;
        }
        print!("{PASTE_ON}");
        let _ = std::io::stdout().flush();
        let answer = super::raw::with(|| {
            let answer = edit(secret);
            if secret {
                // A paste the terminal did not mark may have more lines of
                // the secret waiting: they must not become the next answers
                // or a chat message.
                super::raw::discard_waiting();
            }
            answer
        });
        print!("{PASTE_OFF}");
        let answer = answer?;
        println!();
        Some(answer)
    }

    fn edit(secret: bool) -> Option<String> {
        let mut text = String::new();
        let mut partial: Vec<u8> = Vec::new();
        let mut pasting = false;
        let mut byte = [0u8];
        loop {
            if super::raw::read(&mut byte) == 0 {
                return None;
            }
            match byte[0] {
                // A pasted secret (a service account's JSON) keeps its lines;
                // elsewhere a pasted line break is a space.
                b'\r' | b'\n' if pasting => {
                    text.push(if secret { '\n' } else { ' ' });
                    if !secret {
                        print!(" ");
                    }
                }
                b'\r' | b'\n' => return Some(text),
                0x03 => {
                    print!("^C");
                    return None;
                }
                0x04 if text.is_empty() => return None,
                // Esc alone cancels; an arrow key's sequence is skipped.
                0x1b if !super::raw::more_input() => return None,
                0x1b => match super::raw::read_sequence().as_str() {
                    "[200~" => pasting = true,
                    "[201~" => pasting = false,
                    _ => {}
                },
                0x7f | 0x08 => {
                    if let Some(gone) = text.pop()
                        && !secret
                    {
                        print!("{}", "\x08 \x08".repeat(gone.width().unwrap_or(0)));
                    }
                }
                0x15 => {
                    if !secret {
                        print!("{}", "\x08 \x08".repeat(text.width()));
                    }
                    text.clear();
                }
                b if b < 0x20 => {}
                b => {
                    partial.push(b);
                    match std::str::from_utf8(&partial) {
                        Ok(c) => {
                            if !secret {
                                print!("{c}");
                            }
                            text.push_str(c);
                            partial.clear();
                        }
                        Err(e) if e.error_len().is_some() => partial.clear(),
                        Err(_) => {}
                    }
                }
            }
            let _ = std::io::stdout().flush();
        }
    }
}

/// The terminal in raw mode: keys one by one, straight from the descriptor.
mod raw {
    use rustix::termios::{self, LocalModes, OptionalActions};

    /// Run `f` with the terminal raw, restored after; `None` when it cannot go raw.
    pub fn with<R>(f: impl FnOnce() -> R) -> Option<R> {
        let stdin = std::io::stdin();
        let saved = termios::tcgetattr(&stdin).ok()?;
        let mut raw = saved.clone();
        raw.local_modes
            .remove(LocalModes::ICANON | LocalModes::ECHO | LocalModes::ISIG);
        termios::tcsetattr(&stdin, OptionalActions::Now, &raw).ok()?;
        let result = f();
        let _ = termios::tcsetattr(&stdin, OptionalActions::Now, &saved);
        Some(result)
    }

    /// Straight from the descriptor: std's buffered stdin would swallow the
    /// rest of an escape sequence where `more_input` cannot see it.
    pub fn read(buf: &mut [u8]) -> usize {
        loop {
            match rustix::io::read(std::io::stdin(), &mut *buf) {
                Err(rustix::io::Errno::INTR) => continue,
                read => return read.unwrap_or(0),
            }
        }
    }

    /// An escape sequence's bytes follow at once; a lone Esc does not.
    pub fn more_input() -> bool {
        use rustix::event::{PollFd, PollFlags, Timespec, poll};
        let stdin = std::io::stdin();
        let mut fds = [PollFd::new(&stdin, PollFlags::IN)];
        let wait = Timespec {
            tv_sec: 0,
            tv_nsec: 50_000_000,
        };
        poll(&mut fds, Some(&wait)).is_ok_and(|n| n > 0)
    }

    /// The rest of an escape sequence after its Esc: `[`, parameters and a
    /// final byte from @ to ~; or `O` and one byte (SS3 arrow keys).
    pub fn read_sequence() -> String {
        let mut sequence = Vec::new();
        let mut byte = [0u8];
        if read(&mut byte) == 0 {
            return String::new();
        }
        let introducer = byte[0];
        sequence.push(introducer);
        match introducer {
            b'[' => {
                while sequence.len() < 32 && read(&mut byte) == 1 {
                    sequence.push(byte[0]);
                    if (0x40..=0x7e).contains(&byte[0]) {
                        break;
                    }
                }
            }
            b'O' if read(&mut byte) == 1 => sequence.push(byte[0]),
            _ => {}
        }
        String::from_utf8_lossy(&sequence).into_owned()
    }

    /// Drop what was typed or pasted but not read yet.
    pub fn discard_waiting() {
        let _ = rustix::termios::tcflush(std::io::stdin(), rustix::termios::QueueSelector::IFlush);
    }
}

/// Let the user choose one of `items`; `None` when cancelled. On a terminal:
/// arrow keys, typing filters, a number and Enter picks, Esc or q cancels,
/// long lists page. Otherwise a numbered list and a number read from stdin.
pub fn pick(title: &str, items: &[String]) -> Option<usize> {
    if stdin_is_terminal()
        && std::io::stdout().is_terminal()
        && let Some(choice) = picker::run(title, items)
    {
        return choice;
    }
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

mod picker {
    use std::io::Write;

    const PAGE: usize = 10;

    enum Key {
        Up,
        Down,
        PageUp,
        PageDown,
        Enter,
        Cancel,
        Backspace,
        Char(char),
        Other,
    }

    /// `None` when the terminal cannot go raw (the caller falls back).
    pub fn run(title: &str, items: &[String]) -> Option<Option<usize>> {
        super::raw::with(|| choose(title, items))
    }

    fn choose(title: &str, items: &[String]) -> Option<usize> {
        let mut query = String::new();
        let mut selected = 0usize;
        let mut drawn = 0usize;
        let width = super::width().saturating_sub(8);
        loop {
            let numbered = !query.is_empty() && query.chars().all(|c| c.is_ascii_digit());
            let needle = query.to_lowercase();
            let visible: Vec<usize> = (0..items.len())
                .filter(|&i| numbered || needle.is_empty() || items[i].to_lowercase().contains(&needle))
                .collect();
            // A typed number moves the marker to what Enter will pick.
            if let Ok(n) = query.parse::<usize>()
                && numbered
                && (1..=items.len()).contains(&n)
            {
                selected = n - 1;
            }
            selected = selected.min(visible.len().saturating_sub(1));
            let page = selected / PAGE;
            let mut out = String::new();
            if drawn > 0 {
                out.push_str(&format!("\x1b[{drawn}A"));
            }
            out.push_str("\r\x1b[J");
            let mut lines = vec![format!(
                "{title}  {}",
                if query.is_empty() {
                    String::new()
                } else {
                    format!("[{query}]")
                }
            )];
            for (row, &i) in visible.iter().enumerate().skip(page * PAGE).take(PAGE) {
                let marker = if row == selected { "›" } else { " " };
                let text: String = items[i].chars().take(width).collect();
                lines.push(format!("{marker} {:>2}. {text}", i + 1));
            }
            if visible.is_empty() {
                lines.push("  (nothing matches)".into());
            }
            let pages = visible.len().div_ceil(PAGE).max(1);
            lines.push(format!(
                "↑↓ move · type to filter · number+Enter picks · Enter chooses · Esc cancels{}",
                if pages > 1 {
                    format!(" · page {}/{pages} (PgUp/PgDn)", page + 1)
                } else {
                    String::new()
                }
            ));
            out.push_str(&lines.join("\r\n"));
            drawn = lines.len() - 1;
            print!("{out}");
            let _ = std::io::stdout().flush();
            let key = read_key();
            if numbered && matches!(key, Key::Up | Key::Down | Key::PageUp | Key::PageDown) {
                // Moving by hand from a typed number: the number goes.
                query.clear();
            }
            match key {
                Key::Up => selected = selected.saturating_sub(1),
                Key::Down => selected = (selected + 1).min(visible.len().saturating_sub(1)),
                Key::PageUp => selected = selected.saturating_sub(PAGE),
                Key::PageDown => selected = (selected + PAGE).min(visible.len().saturating_sub(1)),
                Key::Backspace => {
                    query.pop();
                }
                Key::Char('q') if query.is_empty() => return finish(None),
                Key::Char(c) => {
                    query.push(c);
                    selected = 0;
                }
                Key::Cancel => return finish(None),
                Key::Enter if numbered => match query.parse::<usize>() {
                    Ok(n) if (1..=items.len()).contains(&n) => return finish(Some(n - 1)),
                    _ => query.clear(),
                },
                Key::Enter => return finish(visible.get(selected).copied()),
                Key::Other => {}
            }
        }
    }

    fn finish(choice: Option<usize>) -> Option<usize> {
        print!("\r\n");
        let _ = std::io::stdout().flush();
        choice
    }

    fn read_key() -> Key {
        let mut byte = [0u8; 1];
        if super::raw::read(&mut byte) == 0 {
            return Key::Cancel;
        }
        match byte[0] {
            b'\r' | b'\n' => Key::Enter,
            3 | 4 => Key::Cancel,
            127 | 8 => Key::Backspace,
            0x1b => {
                if !super::raw::more_input() {
                    return Key::Cancel;
                }
                let mut seq = [0u8; 2];
                if super::raw::read(&mut seq[..1]) == 0 || super::raw::read(&mut seq[1..]) == 0 || seq[0] != b'[' {
                    return Key::Other;
                }
                match seq[1] {
                    b'A' => Key::Up,
                    b'B' => Key::Down,
                    b'5' | b'6' => {
                        super::raw::read(&mut byte); // the closing '~'
                        if seq[1] == b'5' { Key::PageUp } else { Key::PageDown }
                    }
                    _ => Key::Other,
                }
            }
            b if b.is_ascii_graphic() || b == b' ' => Key::Char(b as char),
            _ => Key::Other,
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

/// The closest name within three edits, for "did you mean".
pub fn nearest<'a>(wanted: &str, names: &'a [String]) -> Option<&'a str> {
    names
        .iter()
        .map(|name| (strsim::levenshtein(wanted, name), name.as_str()))
        .filter(|(edits, _)| *edits <= 3)
        .min_by_key(|(edits, _)| *edits)
        .map(|(_, name)| name)
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
    at.to_zoned(local_zone().clone())
        .strftime("%Y-%m-%d %H:%M %Z")
        .to_string()
}

/// The system's zone, read from its zone file. jiff's own lookup lists the
/// whole zoneinfo tree to name it first, a third of what `anton sessions`
/// did. A `TZ` that names no file is a POSIX rule; a zone file that is no
/// regular file (a FIFO, `/dev/zero`) or no zone at all reads as UTC.
fn local_zone() -> &'static jiff::tz::TimeZone {
    use jiff::tz::TimeZone;
    static ZONE: std::sync::OnceLock<TimeZone> = std::sync::OnceLock::new();
    ZONE.get_or_init(|| {
        const ZONEINFO: &str = "/usr/share/zoneinfo";
        let file = match std::env::var("TZ") {
            Err(_) => std::path::PathBuf::from("/etc/localtime"),
            Ok(tz) => {
                let name = tz.strip_prefix(':').unwrap_or(&tz);
                let file = if name.starts_with('/') {
                    std::path::PathBuf::from(name)
                } else {
                    std::path::Path::new(ZONEINFO).join(name)
                };
                if name.is_empty() || name.split('/').any(|part| part == "..") {
                    return TimeZone::UTC;
                }
                if std::fs::symlink_metadata(&file).is_err() {
                    return TimeZone::posix(name).unwrap_or(TimeZone::UTC);
                }
                file
            }
        };
        std::fs::canonicalize(&file)
            .ok()
            .and_then(|real| {
                let bytes = crate::files::read_regular(&real, 1 << 20).ok()?;
                let name = real
                    .strip_prefix(ZONEINFO)
                    .ok()
                    .and_then(|n| n.to_str())
                    .unwrap_or("Local");
                TimeZone::tzif(name, &bytes).ok()
            })
            .unwrap_or(TimeZone::UTC)
    })
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
    fn a_cut_path_keeps_the_file_name() {
        let rows = vec![vec![
            "Quarterly revenue by region and product line".into(),
            "/home/alice/projects/sales/.anton/output/quarterly-revenue_20261202.anton (missing)".into(),
        ]];
        let out = render_table(&cols(&[("Title", true), ("File", true)]), &rows, 60);
        let row = out.lines().nth(1).unwrap();
        assert!(row.chars().count() <= 60, "{row:?}");
        assert!(row.contains("Quarterly rev") && row.contains('…'), "{row:?}");
        assert!(row.ends_with("_20261202.anton (missing)"), "{row:?}");
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

#[cfg(test)]
mod sanitize_tests {
    use super::*;

    #[test]
    fn escape_and_control_sequences_become_visible_and_inert() {
        let hostile = "a\x1b]52;c;aGk=\x07b\x1b[2Jc\u{9b}31md\re\x08f\u{202e}g\0h";
        let clean = sanitize(hostile);
        assert_eq!(clean, "a␛]52;c;aGk=␇b␛[2Jc�31md␍e␈f�g␀h");
        assert!(!clean.chars().any(needs_care));
        assert_eq!(sanitize("two\nlines\r\n\tok"), "two\nlines\n\tok");
        assert_eq!(sanitize_line("title\nSession: forged"), "title Session: forged");
        assert_eq!(sanitize("plain ünïcode ✓ 👨\u{200d}👩"), "plain ünïcode ✓ 👨\u{200d}👩");
        assert_eq!(sanitize("hid\u{200b}den\u{feff}\u{e0041}"), "hid�den��");
    }
}
