//! A strict parser and writer for flat JSON objects (`{"key": scalar, ...}`).
//!
//! Every message of the protocol is one flat object, so this is all the JSON the router
//! binary needs; serde_json would cost it tens of kilobytes. Nested values, duplicate keys,
//! trailing data and invalid escapes are errors, never guesses.

use core::fmt::Write as _;

/// A scalar JSON value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// A string, unescaped.
    Str(String),
    /// A number, kept as its source text.
    Num(String),
    /// `true` or `false`.
    Bool(bool),
    /// `null`.
    Null,
}

/// Why a body is not a flat JSON object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError(pub &'static str);

impl core::fmt::Display for JsonError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "invalid JSON: {}", self.0)
    }
}

/// A parsed flat object: keys in source order, no duplicates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Object(pub Vec<(String, Value)>);

impl Object {
    /// The value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// The string value of `key`; `Err` if present with another type.
    pub fn str(&self, key: &str) -> Result<Option<&str>, JsonError> {
        match self.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Str(s)) => Ok(Some(s)),
            Some(_) => Err(JsonError("a field has the wrong type (expected a string)")),
        }
    }

    /// The boolean value of `key`; `Err` if present with another type.
    pub fn bool(&self, key: &str) -> Result<Option<bool>, JsonError> {
        match self.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(JsonError(
                "a field has the wrong type (expected true or false)",
            )),
        }
    }

    /// The non-negative integer value of `key` (a number, or a string of digits).
    pub fn uint(&self, key: &str) -> Result<Option<u64>, JsonError> {
        let text = match self.get(key) {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::Num(n)) | Some(Value::Str(n)) => n,
            Some(_) => return Err(JsonError("a field has the wrong type (expected a number)")),
        };
        if text.is_empty() || text.len() > 19 || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(JsonError(
                "a number field is not a small non-negative integer",
            ));
        }
        text.parse()
            .map(Some)
            .map_err(|_| JsonError("number out of range"))
    }
}

/// Parses `input` as one flat JSON object.
pub fn parse(input: &[u8]) -> Result<Object, JsonError> {
    let text = core::str::from_utf8(input).map_err(|_| JsonError("body is not UTF-8"))?;
    let mut p = Parser {
        s: text.as_bytes(),
        i: 0,
        text,
    };
    p.ws();
    p.expect(b'{')?;
    let mut obj = Object::default();
    p.ws();
    if p.peek() == Some(b'}') {
        p.i += 1;
    } else {
        loop {
            p.ws();
            let key = p.string()?;
            p.ws();
            p.expect(b':')?;
            p.ws();
            let value = p.value()?;
            if obj.get(&key).is_some() {
                return Err(JsonError("duplicate key"));
            }
            obj.0.push((key, value));
            p.ws();
            match p.next() {
                Some(b',') => continue,
                Some(b'}') => break,
                _ => return Err(JsonError("expected ',' or '}'")),
            }
        }
    }
    p.ws();
    if p.i != p.s.len() {
        return Err(JsonError("trailing data after the object"));
    }
    Ok(obj)
}

struct Parser<'a> {
    s: &'a [u8],
    text: &'a str,
    i: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn next(&mut self) -> Option<u8> {
        let b = self.peek();
        self.i += 1;
        b
    }
    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }
    fn expect(&mut self, want: u8) -> Result<(), JsonError> {
        if self.next() == Some(want) {
            Ok(())
        } else {
            Err(JsonError(match want {
                b'{' => "expected an object",
                b':' => "expected ':'",
                _ => "unexpected character",
            }))
        }
    }
    fn value(&mut self) -> Result<Value, JsonError> {
        match self.peek() {
            Some(b'"') => self.string().map(Value::Str),
            Some(b't') => self.word("true").map(|_| Value::Bool(true)),
            Some(b'f') => self.word("false").map(|_| Value::Bool(false)),
            Some(b'n') => self.word("null").map(|_| Value::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b'{' | b'[') => Err(JsonError("nested objects and arrays are not accepted")),
            _ => Err(JsonError("expected a value")),
        }
    }
    fn word(&mut self, w: &str) -> Result<(), JsonError> {
        if self.s[self.i..].starts_with(w.as_bytes()) {
            self.i += w.len();
            Ok(())
        } else {
            Err(JsonError("expected a value"))
        }
    }
    fn number(&mut self) -> Result<Value, JsonError> {
        let start = self.i;
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        let digits = |p: &mut Self| {
            let s = p.i;
            while matches!(p.peek(), Some(b'0'..=b'9')) {
                p.i += 1;
            }
            p.i - s
        };
        let int_start = self.i;
        let n = digits(self);
        if n == 0 || (n > 1 && self.s[int_start] == b'0') {
            return Err(JsonError("invalid number"));
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if digits(self) == 0 {
                return Err(JsonError("invalid number"));
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if digits(self) == 0 {
                return Err(JsonError("invalid number"));
            }
        }
        Ok(Value::Num(self.text[start..self.i].to_string()))
    }
    fn hex4(&mut self) -> Result<u32, JsonError> {
        let h = self
            .s
            .get(self.i..self.i + 4)
            .ok_or(JsonError("bad \\u escape"))?;
        let h = core::str::from_utf8(h).map_err(|_| JsonError("bad \\u escape"))?;
        if !h.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(JsonError("bad \\u escape"));
        }
        self.i += 4;
        u32::from_str_radix(h, 16).map_err(|_| JsonError("bad \\u escape"))
    }
    fn string(&mut self) -> Result<String, JsonError> {
        if self.next() != Some(b'"') {
            return Err(JsonError("expected a string"));
        }
        let mut out = String::new();
        loop {
            let start = self.i;
            while !matches!(self.peek(), None | Some(b'"' | b'\\' | 0..=0x1f)) {
                self.i += 1;
            }
            out.push_str(&self.text[start..self.i]);
            match self.next() {
                Some(b'"') => return Ok(out),
                Some(b'\\') => {
                    let c = match self.next() {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => {
                            let hi = self.hex4()?;
                            let code = if (0xd800..0xdc00).contains(&hi) {
                                if !self.s[self.i..].starts_with(b"\\u") {
                                    return Err(JsonError("lone surrogate in \\u escape"));
                                }
                                self.i += 2;
                                let lo = self.hex4()?;
                                if !(0xdc00..0xe000).contains(&lo) {
                                    return Err(JsonError("lone surrogate in \\u escape"));
                                }
                                0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00)
                            } else {
                                hi
                            };
                            char::from_u32(code).ok_or(JsonError("lone surrogate in \\u escape"))?
                        }
                        _ => return Err(JsonError("bad escape in string")),
                    };
                    out.push(c);
                }
                None => return Err(JsonError("unterminated string")),
                Some(_) => return Err(JsonError("control character in string")),
            }
        }
    }
}

/// Builds a flat JSON object; keys are written as given and must not need escaping.
#[derive(Debug, Default)]
pub struct Writer(String);

impl Writer {
    /// Starts an empty object.
    pub fn new() -> Self {
        Writer(String::from("{"))
    }
    fn key(&mut self, key: &str) {
        if self.0.len() > 1 {
            self.0.push(',');
        }
        self.0.push('"');
        self.0.push_str(key);
        self.0.push_str("\":");
    }
    /// Adds a string field.
    pub fn str(mut self, key: &str, value: &str) -> Self {
        self.key(key);
        escape_into(&mut self.0, value);
        self
    }
    /// Adds a string field when `value` is `Some`.
    pub fn opt_str(self, key: &str, value: Option<&str>) -> Self {
        match value {
            Some(v) => self.str(key, v),
            None => self,
        }
    }
    /// Adds a boolean field.
    pub fn bool(mut self, key: &str, value: bool) -> Self {
        self.key(key);
        self.0.push_str(if value { "true" } else { "false" });
        self
    }
    /// Adds an integer field.
    pub fn uint(mut self, key: &str, value: u64) -> Self {
        self.key(key);
        let _ = write!(self.0, "{value}");
        self
    }
    /// Adds a field whose value is JSON text the caller built (e.g. an array of objects).
    pub fn raw(mut self, key: &str, json: &str) -> Self {
        self.key(key);
        self.0.push_str(json);
        self
    }
    /// Closes the object and returns its text.
    pub fn finish(mut self) -> String {
        self.0.push('}');
        self.0
    }
}

fn escape_into(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_flat_objects() {
        let o =
            parse(br#" { "a" : "x\"y\u00e9\ud83d\ude00", "b": true, "c": -1.5e3, "d": null } "#)
                .unwrap();
        assert_eq!(o.str("a").unwrap(), Some("x\"y\u{e9}\u{1f600}"));
        assert_eq!(o.bool("b").unwrap(), Some(true));
        assert_eq!(o.get("c"), Some(&Value::Num("-1.5e3".into())));
        assert_eq!(o.str("d").unwrap(), None);
        assert_eq!(parse(b"{}").unwrap(), Object::default());
    }

    #[test]
    fn rejects_bad_input() {
        for bad in [
            &b""[..],
            b"[]",
            b"{",
            b"{\"a\":1,}",
            b"{\"a\":1}x",
            b"{\"a\":{}}",
            b"{\"a\":[1]}",
            b"{\"a\":1,\"a\":2}",
            b"{\"a\":\"\\x\"}",
            b"{\"a\":\"\\ud800\"}",
            b"{\"a\":01}",
            b"{\"a\":\"\x01\"}",
            b"{\"a\":\"\xff\"}",
            b"{a:1}",
            b"{\"a\":tru}",
        ] {
            assert!(
                parse(bad).is_err(),
                "accepted {:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn typed_getters() {
        let o = parse(br#"{"n": 42, "s": "7", "b": "yes", "big": 99999999999999999999}"#).unwrap();
        assert_eq!(o.uint("n").unwrap(), Some(42));
        assert_eq!(o.uint("s").unwrap(), Some(7));
        assert!(o.bool("b").is_err());
        assert!(o.uint("big").is_err());
        assert!(o.str("n").is_err());
    }

    #[test]
    fn writer_round_trips() {
        let text = Writer::new()
            .str("k", "a\"b\\c\n\u{1}")
            .bool("t", false)
            .uint("n", 5)
            .opt_str("none", None)
            .finish();
        assert_eq!(text, r#"{"k":"a\"b\\c\n\u0001","t":false,"n":5}"#);
        let o = parse(text.as_bytes()).unwrap();
        assert_eq!(o.str("k").unwrap(), Some("a\"b\\c\n\u{1}"));
    }
}
