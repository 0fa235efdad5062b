//! A JSON document read a value at a time from a [`BufRead`]: the objects
//! and arrays a reader walks by hand, every other value parsed whole by
//! serde. Memory holds one value (one message), never the document, and a
//! refusal names where it is: the line and column of broken JSON, the path
//! from the root of a wrong field.

use std::collections::BTreeSet;
use std::io::{self, BufRead, Read};

use serde::de::DeserializeOwned;

use crate::{FormatError, MAX_TEXT, bad, human_size, json_error, quote};

/// A value this long or shorter is gathered and parsed from memory (fast);
/// a longer one is parsed as it streams by (one text of a few MiB).
const GATHERED: usize = 1 << 20;
/// The longest object key read (every key of an object is kept, to find
/// one given twice: 1,024 of these are little).
const MAX_KEY: usize = 4 * 1024;
/// The most keys an object the walker reads may have.
const MAX_KEYS: usize = 1024;
/// The most one long value (a row: a message, a cell) may take in the
/// file, and the most values inside it: bounds on what parsing it holds.
const MAX_ROW: u64 = 2 * MAX_TEXT as u64 + (1 << 20);
const MAX_ROW_VALUES: u64 = 100_000;

/// One step of the path from the root.
enum Step {
    Key(String),
    Index(u64),
}

pub(crate) struct Json<R> {
    source: R,
    /// `manifest.json` or `cells.jsonl line 4`, or empty for a v0.1 file.
    place: String,
    line: u64,
    column: u64,
    path: Vec<Step>,
    /// A reading error of the source itself, kept apart from what the file says.
    failed: Option<io::Error>,
    /// What [`Json::gather`] read of a value too long to gather, and where its scan stood.
    gathered: Vec<u8>,
    scan: Scan,
}

/// How a value ends: where a reader of its bytes must stop.
#[derive(Clone, Copy)]
enum Scan {
    /// Outside any string, `depth` brackets in.
    Structure {
        depth: u32,
    },
    /// Inside a string, `depth` brackets in; `escaped` after a backslash.
    Text {
        depth: u32,
        escaped: bool,
    },
    /// A number, `true`, `false` or `null`: ends at the first byte that is none of theirs.
    Scalar,
    Done,
}

impl<R: BufRead> Json<R> {
    pub fn new(source: R, place: &str) -> Json<R> {
        Json {
            source,
            place: place.to_string(),
            line: 1,
            column: 1,
            path: Vec::new(),
            failed: None,
            gathered: Vec::new(),
            scan: Scan::Done,
        }
    }

    /// The reader, where the document ended.
    pub fn into_inner(self) -> R {
        self.source
    }

    fn path_text(&self) -> String {
        let mut text = String::new();
        for step in &self.path {
            match step {
                Step::Key(key) => crate::push_key(&mut text, key),
                Step::Index(i) => text.push_str(&format!("[{i}]")),
            }
        }
        text
    }

    /// "place: path: problem", as every refusal reads.
    pub fn refuse(&self, problem: impl std::fmt::Display) -> FormatError {
        let path = self.path_text();
        let location: Vec<&str> = [self.place.as_str(), path.as_str()]
            .into_iter()
            .filter(|p| !p.is_empty())
            .collect();
        if location.is_empty() {
            bad(problem.to_string())
        } else {
            bad(format!("{}: {problem}", location.join(": ")))
        }
    }

    fn broken(&self, what: &str) -> FormatError {
        broken_at(&self.place, self.line, self.column, what)
    }

    /// A source's errors say what failed ("cannot unpack 'cells.jsonl' (…)").
    fn io_failure(&mut self, error: io::Error) -> FormatError {
        let message = error.to_string();
        self.failed = Some(error);
        bad(message)
    }

    pub fn line(&self) -> u64 {
        self.line
    }

    /// Errors from here on are placed in `place` (a zip entry and its line).
    pub fn set_place(&mut self, place: String) {
        self.place = place;
    }

    /// Past white space and blank lines: whether a value follows.
    pub fn skip_blank(&mut self) -> Result<bool, FormatError> {
        Ok(self.skip_space()?.is_some())
    }

    /// After a row of a `.jsonl` entry: nothing more on its line.
    pub fn line_end(&mut self) -> Result<(), FormatError> {
        loop {
            match self.peek()? {
                Some(b' ' | b'\t' | b'\r') => self.advance(1),
                Some(b'\n') | None => return Ok(()),
                Some(_) => return Err(self.broken("trailing characters")),
            }
        }
    }

    fn peek(&mut self) -> Result<Option<u8>, FormatError> {
        match self.source.fill_buf() {
            Ok(bytes) => Ok(bytes.first().copied()),
            Err(e) => Err(self.io_failure(e)),
        }
    }

    /// Move past `bytes`, which were just peeked, keeping line and column.
    fn advance(&mut self, count: usize) {
        if let Ok(bytes) = self.source.fill_buf() {
            let taken = &bytes[..count.min(bytes.len())];
            match memchr::memrchr(b'\n', taken) {
                Some(last) => {
                    self.line += memchr::memchr_iter(b'\n', taken).count() as u64;
                    self.column = (taken.len() - last) as u64;
                }
                None => self.column += taken.len() as u64,
            }
        }
        self.source.consume(count);
    }

    fn skip_space(&mut self) -> Result<Option<u8>, FormatError> {
        loop {
            let bytes = match self.source.fill_buf() {
                Ok(bytes) => bytes,
                Err(e) => return Err(self.io_failure(e)),
            };
            if bytes.is_empty() {
                return Ok(None);
            }
            match bytes.iter().position(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r')) {
                Some(at) => {
                    let next = bytes[at];
                    self.advance(at);
                    return Ok(Some(next));
                }
                None => {
                    let all = bytes.len();
                    self.advance(all);
                }
            }
        }
    }

    fn expect(&mut self, wanted: u8, what: &str) -> Result<(), FormatError> {
        match self.skip_space()? {
            Some(b) if b == wanted => {
                self.advance(1);
                Ok(())
            }
            Some(_) => Err(self.broken(&format!("expected {what}"))),
            None => Err(self.broken("EOF while parsing a value")),
        }
    }

    /// Nothing but white space is left.
    pub fn end(&mut self) -> Result<(), FormatError> {
        match self.skip_space()? {
            None => Ok(()),
            Some(_) => Err(self.broken("trailing characters")),
        }
    }

    /// A value that must be an object (`what` says so otherwise): `field` is
    /// called with each key, and must read or skip its value.
    pub fn object(
        &mut self,
        mut field: impl FnMut(&mut Self, &str) -> Result<(), FormatError>,
    ) -> Result<(), FormatError> {
        self.container(b'{', "an object")?;
        let mut seen = BTreeSet::new();
        if self.skip_space()? == Some(b'}') {
            self.advance(1);
            return Ok(());
        }
        loop {
            if self.skip_space()? != Some(b'"') {
                return Err(self.broken("expected a key in double quotes"));
            }
            let key = self.key()?;
            self.expect(b':', "`:`")?;
            if seen.len() == MAX_KEYS && !seen.contains(&key) {
                return Err(self.refuse(format!("an object with more than {MAX_KEYS} keys")));
            }
            if !seen.insert(key.clone()) {
                self.path.push(Step::Key(key));
                let error = self.refuse("given twice");
                self.path.pop();
                return Err(error);
            }
            self.path.push(Step::Key(key.clone()));
            field(self, &key)?;
            self.path.pop();
            match self.skip_space()? {
                Some(b',') => self.advance(1),
                Some(b'}') => {
                    self.advance(1);
                    return Ok(());
                }
                Some(_) => return Err(self.broken("expected `,` or `}`")),
                None => return Err(self.broken("EOF while parsing an object")),
            }
        }
    }

    /// A value that must be a list: `item` is called for each element, and
    /// must read or skip it.
    pub fn array(&mut self, mut item: impl FnMut(&mut Self) -> Result<(), FormatError>) -> Result<(), FormatError> {
        self.container(b'[', "a list")?;
        if self.skip_space()? == Some(b']') {
            self.advance(1);
            return Ok(());
        }
        let mut index = 0;
        loop {
            self.path.push(Step::Index(index));
            item(self)?;
            self.path.pop();
            index += 1;
            match self.skip_space()? {
                Some(b',') => self.advance(1),
                Some(b']') => {
                    self.advance(1);
                    return Ok(());
                }
                Some(_) => return Err(self.broken("expected `,` or `]`")),
                None => return Err(self.broken("EOF while parsing a list")),
            }
        }
    }

    /// The opening bracket of an object or a list, or a refusal that says
    /// what stood there instead ("expected a list, found text \"…\"").
    fn container(&mut self, open: u8, what: &str) -> Result<(), FormatError> {
        match self.skip_space()? {
            Some(b) if b == open => {
                self.advance(1);
                Ok(())
            }
            Some(_) => {
                let found: serde_json::Value = self.value()?;
                Err(self.refuse(format!("expected {what}, found {}", describe(&found))))
            }
            None => Err(self.broken("EOF while parsing a value")),
        }
    }

    /// An object key (short), at its opening quote.
    fn key(&mut self) -> Result<String, FormatError> {
        let raw = self.gather(MAX_KEY)?;
        let Some(raw) = raw else {
            return Err(self.broken("a key longer than 4 KiB"));
        };
        serde_json::from_slice(&raw).map_err(|e| self.refuse(crate::plain_words(&e.to_string())))
    }

    /// One value, whatever it is, parsed by serde: from memory when it is
    /// short, as it streams by when it is long.
    pub fn value<T: DeserializeOwned>(&mut self) -> Result<T, FormatError> {
        if self.skip_space()?.is_none() {
            return Err(self.broken("EOF while parsing a value"));
        }
        let start = Start {
            place: self.place.clone(),
            path: self.path_text(),
            line: self.line,
            column: self.column,
        };
        // Most values lie whole in what the reader holds: parsed where they
        // lie, in one pass. Only a value that ends with a bracket or quote
        // can be known to end there (a number may go on in the next read).
        let bytes = self.source.fill_buf().map_err(|e| bad(e.to_string()))?;
        if matches!(bytes[0], b'{' | b'[' | b'"') {
            let mut values = serde_json::Deserializer::from_slice(bytes).into_iter::<T>();
            if let Some(Ok(value)) = values.next() {
                let used = values.byte_offset();
                self.advance(used);
                return Ok(value);
            }
            // Cut off by the read, or refused: gathered, and refused again with its path.
        }
        match self.gather(GATHERED)? {
            Some(raw) => parse(&raw).map_err(|_| start.tracked::<T>(&raw)),
            None => {
                // Too long to gather: the part read so far, then the rest as it comes.
                let head = std::mem::take(&mut self.gathered);
                let scan = self.scan;
                let mut tail = Tail {
                    json: self,
                    scan,
                    head: io::Cursor::new(head),
                    sizes: Sizes::default(),
                    over: None,
                };
                let mut deserializer = serde_json::Deserializer::from_reader(&mut tail);
                let mut track = serde_path_to_error::Track::new();
                let result = T::deserialize(serde_path_to_error::Deserializer::new(&mut deserializer, &mut track))
                    .and_then(|value| deserializer.end().map(|_| value));
                drop(deserializer);
                if let Some(over) = tail.over.take() {
                    return Err(start.over(&over));
                }
                if let Some(error) = tail.json.failed.take() {
                    return Err(bad(error.to_string()));
                }
                result.map_err(|e| start.refusal(e, track.path()))
            }
        }
    }

    /// Skip one value, whatever it is, holding none of it.
    pub fn skip(&mut self) -> Result<(), FormatError> {
        if self.skip_space()?.is_none() {
            return Err(self.broken("EOF while parsing a value"));
        }
        self.scan = start_scan(self.peek()?.unwrap_or(b' '));
        loop {
            let bytes = match self.source.fill_buf() {
                Ok(bytes) => bytes,
                Err(e) => return Err(self.io_failure(e)),
            };
            if bytes.is_empty() {
                return match self.scan {
                    Scan::Scalar | Scan::Done => Ok(()),
                    _ => Err(self.broken("EOF while parsing a value")),
                };
            }
            let (used, done) = scan(&mut self.scan, bytes);
            self.advance(used);
            if done {
                return Ok(());
            }
        }
    }
}

/// Where a value began: its zip entry (or nothing), its path from the root,
/// its line and column in the document.
struct Start {
    place: String,
    path: String,
    line: u64,
    column: u64,
}

/// A value from memory, as fast as serde goes: no path kept.
fn parse<T: DeserializeOwned>(raw: &[u8]) -> Result<T, serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_slice(raw);
    let value = T::deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(value)
}

impl Start {
    /// The refusal of a row that breaks a bound while it streams by.
    fn over(&self, what: &str) -> FormatError {
        let at = match (self.place.is_empty(), self.path.is_empty()) {
            (true, true) => String::new(),
            (true, false) => format!("{}: ", self.path),
            (false, true) => format!("{}: ", self.place),
            (false, false) => format!("{}: {}: ", self.place, self.path),
        };
        bad(format!("{at}{what}"))
    }

    /// The refusal of a value that did not parse: parsed again, keeping
    /// the path this time (refusals are rare; paths cost on every value).
    fn tracked<T: DeserializeOwned>(&self, raw: &[u8]) -> FormatError {
        let mut deserializer = serde_json::Deserializer::from_slice(raw);
        let mut track = serde_path_to_error::Track::new();
        let value = T::deserialize(serde_path_to_error::Deserializer::new(&mut deserializer, &mut track));
        match value.and_then(|_| deserializer.end()) {
            Err(e) => self.refusal(e, track.path()),
            Ok(()) => bad("a value that parses only the second time"),
        }
    }

    /// serde's error for the value, placed in the document.
    fn refusal(&self, error: serde_json::Error, inner: serde_path_to_error::Path) -> FormatError {
        if !(error.is_syntax() || error.is_eof()) {
            let inner = crate::json_path(&inner);
            let mut path = self.path.clone();
            if !inner.is_empty() && !path.is_empty() && !inner.starts_with('[') {
                path.push('.');
            }
            path.push_str(&inner);
            return json_error(&self.place, path, &error);
        }
        // serde counts from the value's first byte.
        let (line, column) = match error.line() as u64 {
            0 | 1 => (self.line, self.column + (error.column() as u64).saturating_sub(1)),
            l => (self.line + l - 1, error.column() as u64),
        };
        let message = error.to_string();
        let message = message
            .strip_suffix(&format!(" at line {} column {}", error.line(), error.column()))
            .unwrap_or(&message);
        let message = match message {
            "invalid unicode code point" => "not UTF-8 text",
            other => other,
        };
        broken_at(&self.place, line, column, message)
    }
}

/// "place: broken JSON at line L column C (what)"; a row of a `.jsonl`
/// entry is its own line, so only its column is said.
fn broken_at(place: &str, line: u64, column: u64, what: &str) -> FormatError {
    let at = match line {
        1 => format!("column {column}"),
        _ if place.contains(".jsonl line ") => format!("column {column}"),
        line => format!("line {line} column {column}"),
    };
    match place {
        "" => bad(format!("broken JSON at {at} ({what})")),
        place => bad(format!("{place}: broken JSON at {at} ({what})")),
    }
}

/// What stood where a container was expected, in plain words.
fn describe(value: &serde_json::Value) -> String {
    use serde_json::Value;
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => format!("text {}", quote(s)),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "an object".into(),
    }
}

/// The scan of a value whose first byte is `first`.
fn start_scan(first: u8) -> Scan {
    match first {
        b'"' | b'{' | b'[' => Scan::Structure { depth: 0 },
        _ => Scan::Scalar,
    }
}

/// Run the scan over `bytes`: how many belong to the value, and whether it
/// ended within them.
fn scan(state: &mut Scan, bytes: &[u8]) -> (usize, bool) {
    let mut at = 0;
    while at < bytes.len() {
        match *state {
            Scan::Done => return (at, true),
            Scan::Scalar => match bytes[at..]
                .iter()
                .position(|b| matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r' | b':'))
            {
                Some(end) => {
                    *state = Scan::Done;
                    return (at + end, true);
                }
                None => return (bytes.len(), false),
            },
            Scan::Text { depth, escaped: true } => {
                *state = Scan::Text { depth, escaped: false };
                at += 1;
            }
            Scan::Text { depth, escaped: false } => match memchr::memchr2(b'"', b'\\', &bytes[at..]) {
                Some(found) => {
                    let b = bytes[at + found];
                    at += found + 1;
                    if b == b'\\' {
                        *state = Scan::Text { depth, escaped: true };
                    } else if depth == 0 {
                        *state = Scan::Done;
                        return (at, true);
                    } else {
                        *state = Scan::Structure { depth };
                    }
                }
                None => return (bytes.len(), false),
            },
            Scan::Structure { depth } => {
                let b = bytes[at];
                at += 1;
                match b {
                    b'"' => *state = Scan::Text { depth, escaped: false },
                    b'{' | b'[' => *state = Scan::Structure { depth: depth + 1 },
                    b'}' | b']' => {
                        if depth <= 1 {
                            *state = Scan::Done;
                            return (at, true);
                        }
                        *state = Scan::Structure { depth: depth - 1 };
                    }
                    _ => {}
                }
            }
        }
    }
    (at, matches!(state, Scan::Done))
}

impl<R: BufRead> Json<R> {
    /// The bytes of the value here, if it ends within `limit` bytes; else
    /// `None`, with what was read kept in `self.gathered` and the scan's
    /// state in `self.scan` for [`Tail`] to go on from.
    fn gather(&mut self, limit: usize) -> Result<Option<Vec<u8>>, FormatError> {
        self.scan = start_scan(self.peek()?.unwrap_or(b' '));
        let mut raw = Vec::new();
        loop {
            let bytes = match self.source.fill_buf() {
                Ok(bytes) => bytes,
                Err(e) => return Err(self.io_failure(e)),
            };
            if bytes.is_empty() {
                // A scalar ends at the end of the document; anything else is cut short.
                return Ok(Some(raw));
            }
            // Never past the limit by more than a byte: where a refusal
            // is placed must not depend on how the source is buffered.
            let room = (limit + 1).saturating_sub(raw.len());
            let bytes = &bytes[..bytes.len().min(room)];
            let (used, done) = scan(&mut self.scan, bytes);
            raw.extend_from_slice(&bytes[..used]);
            self.advance(used);
            if done {
                return Ok(Some(raw));
            }
            if raw.len() > limit {
                self.gathered = raw;
                return Ok(None);
            }
        }
    }
}

/// The rest of a long value, read on from where [`Json::gather`] stopped
/// and ending where the value ends, for serde to parse as it streams.
struct Tail<'a, R> {
    json: &'a mut Json<R>,
    scan: Scan,
    head: io::Cursor<Vec<u8>>,
    sizes: Sizes,
    /// The bound the row broke, which ends its reading.
    over: Option<String>,
}

/// What a long row holds so far, counted as its bytes pass: no text in it
/// may reach past [`MAX_TEXT`], nor the row past [`MAX_ROW`] or
/// [`MAX_ROW_VALUES`]. Texts are counted as they decode, not as the file
/// spells them: a text of control characters is six times its size in the
/// file, and anton must read back every text it writes.
#[derive(Default)]
struct Sizes {
    /// Its texts as they decode, the rest as in the file.
    row: u64,
    values: u64,
    /// Inside a string: how long it is so far, decoded.
    text: Option<u64>,
    escaped: bool,
    /// Hex digits of a `\u` escape still to pass, and its code unit so far.
    hex: u8,
    unit: u32,
}

impl Sizes {
    /// Count `bytes`; the bound they break, if any.
    fn count(&mut self, bytes: &[u8]) -> Option<String> {
        for &b in bytes {
            self.row += self.decoded(b);
            if self.text.is_some_and(|length| length > MAX_TEXT as u64) {
                return Some(format!("a text over the {} limit", human_size(MAX_TEXT as u64)));
            }
            if self.row > MAX_ROW {
                return Some(format!("a row over the {} limit", human_size(MAX_ROW)));
            }
        }
        (self.values > MAX_ROW_VALUES).then(|| format!("a row of more than {MAX_ROW_VALUES} values"))
    }

    /// What `b` adds to the row: inside a string, the bytes it decodes to
    /// (also added to the string's length); outside, itself.
    fn decoded(&mut self, b: u8) -> u64 {
        let Some(length) = self.text else {
            match b {
                b'"' => self.text = Some(0),
                b',' | b':' | b'[' | b'{' => self.values += 1,
                _ => {}
            }
            return 1;
        };
        let decoded = if self.hex > 0 {
            self.unit = self.unit << 4 | (b as char).to_digit(16).unwrap_or(0);
            self.hex -= 1;
            match self.hex {
                0 => utf8_length(self.unit),
                _ => 0,
            }
        } else if self.escaped {
            self.escaped = false;
            if b == b'u' {
                self.hex = 4;
                self.unit = 0;
                0
            } else {
                1
            }
        } else if b == b'\\' {
            self.escaped = true;
            0
        } else if b == b'"' {
            self.text = None;
            return 1;
        } else {
            1
        };
        self.text = Some(length + decoded);
        decoded
    }
}

/// The UTF-8 bytes a `\u` escape's code unit decodes to; each half of a
/// surrogate pair counts half of the pair's four.
fn utf8_length(unit: u32) -> u64 {
    match unit {
        0..=0x7f => 1,
        0x80..=0x7ff | 0xd800..=0xdfff => 2,
        _ => 3,
    }
}

impl<R: BufRead> Read for Tail<'_, R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let from_head = self.head.read(out)?;
        if from_head > 0 {
            let position = self.head.position() as usize;
            return self.counted(position - from_head, from_head);
        }
        if matches!(self.scan, Scan::Done) {
            return Ok(0);
        }
        let bytes = match self.json.source.fill_buf() {
            Ok(bytes) => bytes,
            Err(e) => {
                let kind = e.kind();
                self.json.failed = Some(e);
                return Err(io::Error::new(kind, "the file could not be read"));
            }
        };
        let (used, _) = scan(&mut self.scan, &bytes[..bytes.len().min(out.len())]);
        out[..used].copy_from_slice(&bytes[..used]);
        if let Some(over) = self.sizes.count(&out[..used]) {
            return Err(self.stop(over));
        }
        self.json.advance(used);
        Ok(used)
    }
}

impl<R> Tail<'_, R> {
    /// Count what the head handed out, `length` bytes from `from`.
    fn counted(&mut self, from: usize, length: usize) -> io::Result<usize> {
        let head = &self.head.get_ref()[from..from + length];
        match self.sizes.count(head) {
            Some(over) => Err(self.stop(over)),
            None => Ok(length),
        }
    }

    fn stop(&mut self, over: String) -> io::Error {
        self.over = Some(over);
        io::Error::new(io::ErrorKind::InvalidData, "over a bound")
    }
}
