//! The OpenWrt UCI reader (`/etc/config/dyn53`): `config dyn53` and `config record`
//! sections, quoting as `uci` itself writes it.

use super::file::{secret_source, shorten};
use super::types::{cfg_err, FileConfig, RecordSpec, Val};
use crate::error::Error;

/// Splits a UCI line into words: 'single' (literal) and "double" (backslash escapes)
/// quotes, backslash escapes outside quotes, `#` starts a comment between words.
pub(super) fn uci_words(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        match chars.peek() {
            None | Some('#') => return Ok(words),
            _ => {}
        }
        let mut word = String::new();
        while let Some(&c) = chars.peek() {
            if c.is_whitespace() {
                break;
            }
            chars.next();
            match c {
                '\'' => loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err("unterminated ' quote".into()),
                    }
                },
                '"' => loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c) => word.push(c),
                            None => return Err("unterminated \" quote".into()),
                        },
                        Some(c) => word.push(c),
                        None => return Err("unterminated \" quote".into()),
                    }
                },
                '\\' => match chars.next() {
                    Some(c) => word.push(c),
                    None => return Err("a line may not end with \\".into()),
                },
                c => word.push(c),
            }
        }
        words.push(word);
    }
}

#[derive(PartialEq)]
pub(super) enum Section {
    None,
    Global,
    Record,
    Other,
}

/// Keys of `config dyn53` the client reads (plus ones only the init scripts use).
pub(super) const UCI_GLOBAL_KEYS: &[&str] = &[
    "enabled",
    "url",
    "secret",
    "secret_file",
    "ca_file",
    "protocol",
    "timeout",
    "explicit_ip",
    "status_file",
];
/// Keys of `config dyn53` that the router scripts use and the client ignores.
pub(super) const UCI_SCRIPT_KEYS: &[&str] = &["check_interval"];
/// Keys of `config record`.
pub(super) const UCI_RECORD_KEYS: &[&str] =
    &["hostname", "type", "interface", "enabled", "explicit_ip"];

/// Reads a UCI file: `config dyn53` (the global settings, once) and `config record`
/// sections; unknown section types and options are warnings, anything else an error.
pub(super) fn parse_uci(lines: &[String], name: &str) -> Result<FileConfig, Error> {
    let mut r = UciReader {
        name,
        out: FileConfig::default(),
        records: Vec::new(),
        section: Section::None,
        global_line: None,
        inline_secret: None,
        secret_file: None,
        seen: Vec::new(),
    };
    for (i, line) in lines.iter().enumerate() {
        let n = i + 1;
        let at = |msg: String| cfg_err(format!("{name} line {n}: {msg}"));
        let words = uci_words(line).map_err(&at)?;
        let Some(keyword) = words.first() else {
            continue;
        };
        match keyword.as_str() {
            "package" => {}
            "config" => r.config(&words, n).map_err(&at)?,
            "option" | "list" => r.option(&words, n).map_err(&at)?,
            other => {
                return Err(at(format!(
                    "expected 'config', 'option' or 'list', found '{}'",
                    shorten(other)
                )))
            }
        }
    }
    let mut out = r.out;
    out.layer.secret = secret_source(r.inline_secret, r.secret_file)?;
    if !r.records.is_empty() {
        out.layer.records = Some(r.records);
    }
    Ok(out)
}

/// The state of [`parse_uci`] between lines.
struct UciReader<'a> {
    /// File name for messages.
    name: &'a str,
    out: FileConfig,
    records: Vec<RecordSpec>,
    section: Section,
    /// Line of the `config dyn53` section, once seen.
    global_line: Option<usize>,
    inline_secret: Option<Val>,
    secret_file: Option<Val>,
    /// Keys seen in the current section, with their line, to refuse duplicates.
    seen: Vec<(String, usize)>,
}

impl UciReader<'_> {
    /// `config <type> ['<name>']` on line `n`: starts a section.
    fn config(&mut self, words: &[String], n: usize) -> Result<(), String> {
        let name = self.name;
        if words.len() < 2 || words.len() > 3 {
            return Err("expected: config <type> ['<name>']".into());
        }
        self.seen.clear();
        self.section = match words[1].as_str() {
            "dyn53" => {
                if let Some(first) = self.global_line {
                    return Err(format!(
                        "a second 'config dyn53' section (the first is on line {first})"
                    ));
                }
                self.global_line = Some(n);
                Section::Global
            }
            "record" => {
                self.records.push(RecordSpec {
                    origin: format!("{name} line {n}"),
                    ..RecordSpec::default()
                });
                Section::Record
            }
            other => {
                self.out.warnings.push(format!(
                    "{name} line {n}: section type '{other}' is not used by dyn53; ignored"
                ));
                Section::Other
            }
        };
        Ok(())
    }

    /// `option <key> '<value>'` (or `list`) on line `n`, in the current section.
    fn option(&mut self, words: &[String], n: usize) -> Result<(), String> {
        let (name, keyword) = (self.name, words[0].as_str());
        if words.len() != 3 {
            return Err(format!("expected: {keyword} <name> '<value>'"));
        }
        let (key, value) = (words[1].as_str(), words[2].as_str());
        let known = match self.section {
            Section::None => {
                return Err(format!(
                    "'{keyword} {key}' comes before any 'config' section"
                ))
            }
            Section::Other => return Ok(()),
            Section::Global => UCI_GLOBAL_KEYS.contains(&key) || UCI_SCRIPT_KEYS.contains(&key),
            Section::Record => UCI_RECORD_KEYS.contains(&key),
        };
        if !known {
            self.out
                .warnings
                .push(format!("{name} line {n}: unknown option '{key}' ignored"));
            return Ok(());
        }
        if keyword == "list" {
            return Err(format!(
                "'{key}' takes one value: write 'option {key}' (one 'config record' per hostname)"
            ));
        }
        if let Some((_, first)) = self.seen.iter().find(|(k, _)| k == key) {
            return Err(format!(
                "option '{key}' is set twice in this section (first on line {first})"
            ));
        }
        self.seen.push((key.to_string(), n));
        let val = Val::new(value, format!("{name} line {n}"));
        if self.section == Section::Record {
            let rec = self.records.last_mut().expect("record section has a spec");
            match key {
                "hostname" => rec.hostname = Some(val),
                "type" => rec.record_type = Some(val),
                "interface" => rec.interface = Some(val),
                "enabled" => rec.enabled = Some(val),
                _ => rec.explicit_ip = Some(val),
            }
            return Ok(());
        }
        let l = &mut self.out.layer;
        match key {
            "url" => l.url = Some(val),
            "secret" => self.inline_secret = Some(val),
            "secret_file" => self.secret_file = Some(val),
            "ca_file" => l.ca_file = Some(val),
            "protocol" => l.protocol = Some(val),
            "timeout" => l.timeout = Some(val),
            "enabled" => l.enabled = Some(val),
            "explicit_ip" => l.explicit_ip = Some(val),
            "status_file" => l.status_file = Some(val),
            _ => {} // used by the init scripts only
        }
        Ok(())
    }
}
