//! The reference Anton logs a tool call's input as Python's `repr` of a
//! dict, not JSON: this reads that literal back into JSON.

use serde_json::{Map, Number, Value};

/// A Python literal (dict, list, tuple, str, bytes-free numbers, None,
/// True, False) as JSON; `None` for anything else or trailing text.
pub fn parse(text: &str) -> Option<Value> {
    let mut reader = Reader {
        chars: text.chars().collect(),
        at: 0,
        depth: 0,
    };
    let value = reader.value()?;
    reader.blank();
    (reader.at == reader.chars.len()).then_some(value)
}

/// Nesting a hostile line may ask for before it is refused.
const MAX_DEPTH: usize = 64;

struct Reader {
    chars: Vec<char>,
    at: usize,
    depth: usize,
}

impl Reader {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn blank(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.at += 1;
        }
    }

    fn eat(&mut self, c: char) -> bool {
        self.blank();
        let found = self.peek() == Some(c);
        if found {
            self.at += 1;
        }
        found
    }

    fn value(&mut self) -> Option<Value> {
        self.blank();
        match self.peek()? {
            '{' => self.nested(|r| r.dict()),
            '[' => self.nested(|r| r.list(']')),
            '(' => self.nested(|r| r.list(')')),
            '\'' | '"' => self.string().map(Value::String),
            _ => self.word(),
        }
    }

    fn nested(&mut self, read: impl FnOnce(&mut Self) -> Option<Value>) -> Option<Value> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return None;
        }
        self.at += 1;
        let value = read(self);
        self.depth -= 1;
        value
    }

    fn dict(&mut self) -> Option<Value> {
        let mut map = Map::new();
        loop {
            if self.eat('}') {
                return Some(Value::Object(map));
            }
            let key = match self.value()? {
                Value::String(s) => s,
                other => other.to_string(),
            };
            if !self.eat(':') {
                return None;
            }
            map.insert(key, self.value()?);
            if self.eat('}') {
                return Some(Value::Object(map));
            }
            if !self.eat(',') {
                return None;
            }
        }
    }

    fn list(&mut self, close: char) -> Option<Value> {
        let mut items = Vec::new();
        loop {
            if self.eat(close) {
                return Some(Value::Array(items));
            }
            items.push(self.value()?);
            if self.eat(close) {
                return Some(Value::Array(items));
            }
            if !self.eat(',') {
                return None;
            }
        }
    }

    fn string(&mut self) -> Option<String> {
        let quote = self.peek()?;
        self.at += 1;
        let mut out = String::new();
        loop {
            let c = self.peek()?;
            self.at += 1;
            match c {
                c if c == quote => return Some(out),
                '\\' => {
                    let escaped = self.peek()?;
                    self.at += 1;
                    match escaped {
                        'n' => out.push('\n'),
                        't' => out.push('\t'),
                        'r' => out.push('\r'),
                        '0' => out.push('\0'),
                        'x' => out.push(self.code_point(2)?),
                        'u' => out.push(self.code_point(4)?),
                        'U' => out.push(self.code_point(8)?),
                        other => out.push(other),
                    }
                }
                c => out.push(c),
            }
        }
    }

    fn code_point(&mut self, digits: usize) -> Option<char> {
        let hex: String = self.chars.get(self.at..self.at + digits)?.iter().collect();
        self.at += digits;
        char::from_u32(u32::from_str_radix(&hex, 16).ok()?)
    }

    fn word(&mut self) -> Option<Value> {
        let start = self.at;
        while self
            .peek()
            .is_some_and(|c| c.is_alphanumeric() || matches!(c, '-' | '+' | '.' | '_'))
        {
            self.at += 1;
        }
        let word: String = self.chars[start..self.at].iter().collect();
        match word.as_str() {
            "None" => Some(Value::Null),
            "True" => Some(Value::Bool(true)),
            "False" => Some(Value::Bool(false)),
            _ => {
                if let Ok(n) = word.parse::<i64>() {
                    return Some(Value::Number(n.into()));
                }
                word.parse::<f64>().ok().and_then(Number::from_f64).map(Value::Number)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::parse;

    #[test]
    fn a_logged_tool_call_reads_back_as_json() {
        let logged = r#"{'action': 'exec', 'name': 'main', 'code': "import os\nprint('hi')\n", 'n': -3, 'ok': True, 'none': None, 'xs': [1, 2.5, ('a', "b\"c")], 'u': '\u00e9\x41'}"#;
        assert_eq!(
            parse(logged),
            Some(json!({
                "action": "exec", "name": "main", "code": "import os\nprint('hi')\n",
                "n": -3, "ok": true, "none": null, "xs": [1, 2.5, ["a", "b\"c"]], "u": "éA"
            }))
        );
        assert_eq!(parse("{}"), Some(json!({})));
        assert_eq!(parse("{'a': 1,}"), Some(json!({"a": 1})));
    }

    #[test]
    fn what_is_not_a_literal_reads_as_nothing() {
        for bad in [
            "",
            "{'a': 1",
            "{'a' 1}",
            "{'a': 1} trailing",
            "'open",
            "{'a': <object at 0x1>}",
            "'\\x4'",
            &"[".repeat(10_000),
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }
}
