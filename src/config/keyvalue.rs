//! The Asuswrt-Merlin `key=value` reader (`/jffs/addons/dyn53.d/dyn53.conf`): one record
//! per file, shell-style quoting.

use super::file::{secret_source, shorten};
use super::types::{cfg_err, FileConfig, RecordSpec, Val};
use crate::error::Error;

/// Keys of the Merlin `key=value` format.
pub(super) const KV_KEYS: &[&str] = &[
    "url",
    "secret",
    "secret_file",
    "ca_file",
    "protocol",
    "timeout",
    "explicit_ip",
    "enabled",
    "hostname",
    "record_type",
    "records",
    "status_file",
];
/// Keys the Merlin scripts may use that the client ignores.
pub(super) const KV_SCRIPT_KEYS: &[&str] = &["check_interval", "lan_prefix"];

/// Parses the value part of `key=value`: optional single or double quotes, `#` comments
/// after whitespace.
pub(super) fn kv_value(raw: &str) -> Result<String, String> {
    let v = raw.trim_start();
    let rest_ok = |rest: &str| {
        let rest = rest.trim();
        rest.is_empty() || rest.starts_with('#')
    };
    if let Some(body) = v.strip_prefix('\'') {
        let end = body.find('\'').ok_or("unterminated ' quote")?;
        if !rest_ok(&body[end + 1..]) {
            return Err("text after the closing quote".into());
        }
        return Ok(body[..end].to_string());
    }
    if let Some(body) = v.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = body.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    if !rest_ok(&body[i + 1..]) {
                        return Err("text after the closing quote".into());
                    }
                    return Ok(out);
                }
                '\\' => match chars.next() {
                    Some((_, c)) => out.push(c),
                    None => break,
                },
                c => out.push(c),
            }
        }
        return Err("unterminated \" quote".into());
    }
    // Unquoted: a '#' after whitespace starts a comment.
    let mut end = v.len();
    let mut prev_space = true;
    for (i, c) in v.char_indices() {
        if c == '#' && prev_space {
            end = i;
            break;
        }
        prev_space = c.is_whitespace();
    }
    let value = v[..end].trim_end();
    // `a=1 b=2` on one line is a common slip; say so instead of taking "1 b=2" as the value.
    if value
        .split_whitespace()
        .skip(1)
        .any(|w| w.split_once('=').is_some_and(|(k, _)| is_key(k)))
    {
        return Err("looks like several settings on one line: put each key=value on its own line (quote values that contain spaces and '=')".into());
    }
    Ok(value.to_string())
}

pub(super) fn is_key(k: &str) -> bool {
    !k.is_empty()
        && k.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !k.as_bytes()[0].is_ascii_digit()
}

/// Reads a `key=value` file: one setting a line, each key once, one record (or a
/// `records` list) per file. One piece (~80 lines) for the router binary's size budget
/// (see `uci::parse_uci`): its two halves, read lines and build the layer, are marked below.
pub(super) fn parse_kv(lines: &[String], name: &str) -> Result<FileConfig, Error> {
    let mut out = FileConfig::default();
    let mut seen: Vec<(String, usize)> = Vec::new();
    let mut vals: Vec<(String, Val)> = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let n = i + 1;
        let at = |msg: String| cfg_err(format!("{name} line {n}: {msg}"));
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let Some((key, raw)) = t.split_once('=') else {
            return Err(at(format!("expected key=value, found '{}'", shorten(t))));
        };
        let key = key.trim();
        if !is_key(key) {
            return Err(at(format!(
                "'{}' is not a setting name (lower-case letters, digits and _)",
                shorten(key)
            )));
        }
        if let Some((_, first)) = seen.iter().find(|(k, _)| k == key) {
            return Err(at(format!(
                "'{key}' is set twice (first on line {first}); keep one"
            )));
        }
        seen.push((key.to_string(), n));
        let value = kv_value(raw).map_err(at)?;
        if KV_SCRIPT_KEYS.contains(&key) {
            continue;
        }
        if !KV_KEYS.contains(&key) {
            out.warnings
                .push(format!("{name} line {n}: unknown setting '{key}' ignored"));
            continue;
        }
        vals.push((key.to_string(), Val::new(value, format!("{name} line {n}"))));
    }
    // Second half: the layer these settings give (empty values count as unset).
    let mut take = |k: &str| {
        vals.iter()
            .position(|(key, _)| key == k)
            .map(|i| vals.remove(i).1)
    };
    let l = &mut out.layer;
    l.url = take("url").filter(|v| !v.value.is_empty());
    l.ca_file = take("ca_file");
    l.protocol = take("protocol").filter(|v| !v.value.is_empty());
    l.timeout = take("timeout").filter(|v| !v.value.is_empty());
    l.enabled = take("enabled").filter(|v| !v.value.is_empty());
    l.explicit_ip = take("explicit_ip").filter(|v| !v.value.is_empty());
    l.secret = secret_source(take("secret"), take("secret_file"))?;
    // key=value is Merlin's format, and Merlin's pages read the status under /tmp.
    l.status_file = take("status_file").or(Some(Val::new(crate::status::MERLIN_PATH, name)));
    let hostname = take("hostname").filter(|v| !v.value.is_empty());
    let record_type = take("record_type").filter(|v| !v.value.is_empty());
    let records = take("records").filter(|v| !v.value.is_empty());
    l.records = match (hostname, record_type, records) {
        (Some(_), _, Some(r)) => {
            return Err(r.err("set either hostname (with record_type) or records, not both"))
        }
        (None, Some(t), _) => return Err(t.err("record_type is set but hostname is not")),
        (Some(h), t, None) => Some(vec![RecordSpec {
            origin: h.origin.clone(),
            hostname: Some(h),
            record_type: t,
            ..RecordSpec::default()
        }]),
        (None, None, Some(r)) => Some(
            r.value
                .split(|c: char| c.is_whitespace() || c == ',')
                .filter(|w| !w.is_empty())
                .map(|w| RecordSpec {
                    hostname: Some(Val::new(w, r.origin.clone())),
                    origin: r.origin.clone(),
                    ..RecordSpec::default()
                })
                .collect(),
        ),
        (None, None, None) => None,
    };
    Ok(out)
}
