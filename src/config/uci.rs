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
pub(super) const UCI_SCRIPT_KEYS: &[&str] = &["check_interval", "lan_prefix"];
/// Keys of `config record`.
pub(super) const UCI_RECORD_KEYS: &[&str] =
    &["hostname", "type", "interface", "enabled", "explicit_ip"];

/// Reads a UCI file: `config dyn53` (the global settings, once) and `config record`
/// sections; unknown section types and options are warnings, anything else an error.
/// One piece (~120 lines) on purpose: split into a reader struct with a method per
/// statement it measured +600 B on the mipsel router binary, which has a hard budget.
pub(super) fn parse_uci(lines: &[String], name: &str) -> Result<FileConfig, Error> {
    let mut out = FileConfig::default();
    let mut records: Vec<RecordSpec> = Vec::new();
    let mut section = Section::None;
    let mut global_line: Option<usize> = None;
    let mut inline_secret: Option<Val> = None;
    let mut secret_file: Option<Val> = None;
    // Keys seen in the current section, with their line, to refuse duplicates.
    let mut seen: Vec<(String, usize)> = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let n = i + 1;
        let at = |msg: String| cfg_err(format!("{name} line {n}: {msg}"));
        let words = uci_words(line).map_err(&at)?;
        let Some(keyword) = words.first() else {
            continue;
        };
        match keyword.as_str() {
            "package" => {}
            "config" => {
                if words.len() < 2 || words.len() > 3 {
                    return Err(at("expected: config <type> ['<name>']".into()));
                }
                seen.clear();
                section = match words[1].as_str() {
                    "dyn53" => {
                        if let Some(first) = global_line {
                            return Err(at(format!(
                                "a second 'config dyn53' section (the first is on line {first})"
                            )));
                        }
                        global_line = Some(n);
                        Section::Global
                    }
                    "record" => {
                        records.push(RecordSpec {
                            origin: format!("{name} line {n}"),
                            ..RecordSpec::default()
                        });
                        Section::Record
                    }
                    other => {
                        out.warnings.push(format!(
                            "{name} line {n}: section type '{other}' is not used by dyn53; ignored"
                        ));
                        Section::Other
                    }
                };
            }
            "option" | "list" => {
                if words.len() != 3 {
                    return Err(at(format!("expected: {keyword} <name> '<value>'")));
                }
                let (key, value) = (words[1].as_str(), words[2].as_str());
                let known = match section {
                    Section::None => {
                        return Err(at(format!(
                            "'{keyword} {key}' comes before any 'config' section"
                        )))
                    }
                    Section::Other => continue,
                    Section::Global => {
                        UCI_GLOBAL_KEYS.contains(&key) || UCI_SCRIPT_KEYS.contains(&key)
                    }
                    Section::Record => UCI_RECORD_KEYS.contains(&key),
                };
                if !known {
                    out.warnings
                        .push(format!("{name} line {n}: unknown option '{key}' ignored"));
                    continue;
                }
                if keyword == "list" {
                    return Err(at(format!(
                        "'{key}' takes one value: write 'option {key}' (one 'config record' per hostname)"
                    )));
                }
                if let Some((_, first)) = seen.iter().find(|(k, _)| k == key) {
                    return Err(at(format!(
                        "option '{key}' is set twice in this section (first on line {first})"
                    )));
                }
                seen.push((key.to_string(), n));
                let val = Val::new(value, format!("{name} line {n}"));
                if section == Section::Record {
                    let rec = records.last_mut().expect("record section has a spec");
                    match key {
                        "hostname" => rec.hostname = Some(val),
                        "type" => rec.record_type = Some(val),
                        "interface" => rec.interface = Some(val),
                        "enabled" => rec.enabled = Some(val),
                        _ => rec.explicit_ip = Some(val),
                    }
                    continue;
                }
                let l = &mut out.layer;
                match key {
                    "url" => l.url = Some(val),
                    "secret" => inline_secret = Some(val),
                    "secret_file" => secret_file = Some(val),
                    "ca_file" => l.ca_file = Some(val),
                    "protocol" => l.protocol = Some(val),
                    "timeout" => l.timeout = Some(val),
                    "enabled" => l.enabled = Some(val),
                    "explicit_ip" => l.explicit_ip = Some(val),
                    "status_file" => l.status_file = Some(val),
                    _ => {} // used by the init scripts only
                }
            }
            other => {
                return Err(at(format!(
                    "expected 'config', 'option' or 'list', found '{}'",
                    shorten(other)
                )))
            }
        }
    }
    out.layer.secret = secret_source(inline_secret, secret_file)?;
    if !records.is_empty() {
        out.layer.records = Some(records);
    }
    Ok(out)
}
