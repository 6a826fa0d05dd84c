//! Settings: the config file (OpenWrt UCI or Merlin `key=value`, detected automatically),
//! environment overrides and command-line flags, merged with the precedence
//! flags > environment > file > defaults, then validated.
//!
//! Every error names where the bad value came from (`file line N`, `DYN53_X`, `--flag`),
//! and no message ever contains the secret.

use crate::cli::Args;
use crate::error::Error;
use crate::logging as log;
use crate::protocol::{normalize_hostname, parse_ip, RecordType};
use std::fmt;
use std::fs;
use std::io::Read;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Config files tried in order when neither `-c` nor `DYN53_CONFIG` names one.
pub const DEFAULT_PATHS: [&str; 2] = ["/etc/config/dyn53", "/jffs/addons/dyn53.d/dyn53.conf"];
/// Default total deadline of a run, in seconds.
pub const DEFAULT_TIMEOUT: u64 = 60;
/// Longest accepted `timeout`, in seconds.
pub const MAX_TIMEOUT: u64 = 3600;
/// Largest config file read.
pub const MAX_FILE: u64 = 64 * 1024;
/// Longest line in a config file.
pub const MAX_LINE: usize = 4096;
/// Longest secret.
pub const MAX_SECRET: usize = 1024;
/// Longest backend URL.
const MAX_URL: usize = 2048;

/// The shared secret. It has no `Display`, and `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// The secret's text, for signing only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Protocol version spoken with the backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `1`: the reference design's sha256 token in JSON bodies (2023 function URL backends).
    V1,
    /// `1-query`: the same token in `GET ?mode=` query strings (2015/2016 API Gateway).
    V1Query,
    /// `2`: dyn53's HMAC with a server nonce.
    V2,
}

/// A DNS record to keep up to date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Normalised hostname (lower case, no trailing dot).
    pub hostname: String,
    /// The hostname exactly as configured: protocol 1 sends and hashes it so, since
    /// reference host configs and hashes use the name as written (often with its dot).
    pub hostname_raw: String,
    /// A or AAAA.
    pub record_type: RecordType,
    /// OpenWrt logical interface the record belongs to (`--interface` filter).
    pub interface: Option<String>,
    /// v2 explicit-IP mode: sign and send the `--ip` address instead of the source address.
    pub explicit_ip: bool,
}

/// The interfaces a record without `interface` follows: OpenWrt's usual WAN names, and
/// `wan_6`, the DHCPv6 side netifd creates on PPPoE links.
pub const WAN_INTERFACES: &[&str] = &["wan", "wan6", "wan_6"];

impl Record {
    /// The interfaces whose events concern this record: the names in `interface`
    /// (several separated by spaces, as in a firewall zone's `network`), else the WAN names.
    pub fn interfaces(&self) -> Vec<&str> {
        match &self.interface {
            Some(names) => names.split_whitespace().collect(),
            None => WAN_INTERFACES.to_vec(),
        }
    }
}

impl fmt::Display for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.hostname, self.record_type)
    }
}

/// The backend URL, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendUrl {
    /// The URL as given.
    pub text: String,
    /// Host part, without brackets for IPv6 literals.
    pub host: String,
}

/// Everything a run needs, merged and validated.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Config file read, if any.
    pub config_path: Option<PathBuf>,
    /// Backend URL (missing only if the config gives none; commands check).
    pub url: Option<BackendUrl>,
    /// Shared secret (needed by `update` only).
    pub secret: Option<Secret>,
    /// Extra CA certificates (PEM) trusted besides the built-in Amazon roots.
    pub ca_file: Option<PathBuf>,
    /// Protocol version.
    pub protocol: Protocol,
    /// Total deadline of the run.
    pub timeout: Duration,
    /// The config's global `enabled` switch.
    pub enabled: bool,
    /// Records to work on (enabled, matching `--interface`).
    pub records: Vec<Record>,
    /// Where `update` writes its status (`None`: `status_file` set empty, write none).
    pub status_file: Option<PathBuf>,
    /// Records left out because their interface differs from `--interface`.
    pub other_interfaces: usize,
    /// Non-fatal findings to log (unknown keys, permissive file modes).
    pub warnings: Vec<String>,
}

fn cfg_err(msg: impl Into<String>) -> Error {
    Error::Config(msg.into())
}

/// A value and where it came from (for error messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Val {
    /// The text.
    pub value: String,
    /// `file line N`, `DYN53_X` or `--flag`.
    pub origin: String,
}

impl Val {
    fn new(value: impl Into<String>, origin: impl Into<String>) -> Self {
        Val {
            value: value.into(),
            origin: origin.into(),
        }
    }
    fn err(&self, msg: &str) -> Error {
        cfg_err(format!("{}: {msg}", self.origin))
    }
}

/// Where the secret comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// Given inline (config `secret` or `DYN53_SECRET`).
    Inline(Secret, String),
    /// Read from a file.
    File(Val),
}

/// A record as written, before validation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordSpec {
    /// `name` or `name:TYPE`.
    pub hostname: Option<Val>,
    /// Separate type (`type` in UCI, `record_type` in key=value).
    pub record_type: Option<Val>,
    /// UCI `interface`.
    pub interface: Option<Val>,
    /// Per-record explicit-IP switch.
    pub explicit_ip: Option<Val>,
    /// Per-record enable switch.
    pub enabled: Option<Val>,
    /// Where the record was defined.
    pub origin: String,
}

/// The settings one source (file, environment, flags) gives; `None` = not set there.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Layer {
    /// Backend URL.
    pub url: Option<Val>,
    /// Secret or secret file.
    pub secret: Option<SecretSource>,
    /// CA file; an empty value means none.
    pub ca_file: Option<Val>,
    /// `1` or `2`.
    pub protocol: Option<Val>,
    /// Seconds.
    pub timeout: Option<Val>,
    /// Global enable switch.
    pub enabled: Option<Val>,
    /// Default explicit-IP switch for records.
    pub explicit_ip: Option<Val>,
    /// `--explicit-ip`: explicit mode for every record, whatever the config says.
    pub force_explicit_ip: bool,
    /// Records (replace those of lower layers).
    pub records: Option<Vec<RecordSpec>>,
    /// Status file; an empty value means none.
    pub status_file: Option<Val>,
}

/// A parsed config file: its settings and non-fatal warnings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileConfig {
    /// The settings.
    pub layer: Layer,
    /// Unknown keys and sections.
    pub warnings: Vec<String>,
}

// ---------------------------------------------------------------------------------------
// Reading files

/// Reads at most `limit` bytes of `path`; more is an error (a wrong or hostile file).
pub(crate) fn read_limited(path: &Path, limit: u64, what: &str) -> Result<Vec<u8>, Error> {
    let file = fs::File::open(path)
        .map_err(|e| cfg_err(format!("cannot open {what} {}: {e}", path.display())))?;
    let mut buf = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut buf)
        .map_err(|e| cfg_err(format!("cannot read {what} {}: {e}", path.display())))?;
    if buf.len() as u64 > limit {
        return Err(cfg_err(format!(
            "{what} {} is larger than {} bytes: is it the right file?",
            path.display(),
            limit
        )));
    }
    Ok(buf)
}

/// A warning if `path` can be read by group or others (it holds or leads to the secret).
#[cfg(unix)]
fn mode_warning(path: &Path, what: &str) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = fs::metadata(path).ok()?.permissions().mode() & 0o777;
    (mode & 0o077 != 0).then(|| {
        format!(
            "{what} {} is readable by group or others (mode {mode:03o}); run: chmod 600 {}",
            path.display(),
            path.display()
        )
    })
}

#[cfg(not(unix))]
fn mode_warning(_path: &Path, _what: &str) -> Option<String> {
    None
}

/// Splits file bytes into lines, refusing NUL bytes, invalid UTF-8 and overlong lines.
/// Windows line endings are accepted (files edited on a PC and copied to the router).
fn lines(bytes: &[u8], name: &str) -> Result<Vec<String>, Error> {
    let mut out = Vec::new();
    for (i, raw) in bytes.split(|&b| b == b'\n').enumerate() {
        let n = i + 1;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        if raw.len() > MAX_LINE {
            return Err(cfg_err(format!(
                "{name} line {n} is longer than {MAX_LINE} bytes"
            )));
        }
        if raw.contains(&0) {
            return Err(cfg_err(format!(
                "{name} line {n} contains a NUL byte: is this a text file?"
            )));
        }
        let line = std::str::from_utf8(raw)
            .map_err(|_| cfg_err(format!("{name} line {n} is not valid UTF-8")))?;
        out.push(line.to_string());
    }
    Ok(out)
}

/// Parses config file text, detecting UCI (first statement is `config ...` or
/// `package ...`) or `key=value`.
pub fn parse_file_text(bytes: &[u8], name: &str) -> Result<FileConfig, Error> {
    let lines = lines(bytes, name)?;
    let first = lines
        .iter()
        .map(|l| l.trim())
        .find(|l| !l.is_empty() && !l.starts_with('#'));
    let is_uci = first.is_some_and(|l| {
        let word = l.split_whitespace().next().unwrap_or("");
        word == "config" || word == "package"
    });
    if is_uci {
        parse_uci(&lines, name)
    } else {
        parse_kv(&lines, name)
    }
}

// ---------------------------------------------------------------------------------------
// UCI

/// Splits a UCI line into words: 'single' (literal) and "double" (backslash escapes)
/// quotes, backslash escapes outside quotes, `#` starts a comment between words.
fn uci_words(line: &str) -> Result<Vec<String>, String> {
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
enum Section {
    None,
    Global,
    Record,
    Other,
}

/// Keys of `config dyn53` the client reads (plus ones only the init scripts use).
const UCI_GLOBAL_KEYS: &[&str] = &[
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
const UCI_SCRIPT_KEYS: &[&str] = &["check_interval"];
/// Keys of `config record`.
const UCI_RECORD_KEYS: &[&str] = &["hostname", "type", "interface", "enabled", "explicit_ip"];

fn parse_uci(lines: &[String], name: &str) -> Result<FileConfig, Error> {
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

/// Combines `secret` and `secret_file` from one file; empty values count as unset.
fn secret_source(inline: Option<Val>, file: Option<Val>) -> Result<Option<SecretSource>, Error> {
    let inline = inline.filter(|v| !v.value.is_empty());
    let file = file.filter(|f| !f.value.is_empty());
    match (inline, file) {
        (Some(_), Some(f)) => Err(cfg_err(format!(
            "{}: both secret and secret_file are set; keep one",
            f.origin
        ))),
        (Some(v), None) => Ok(Some(SecretSource::Inline(
            check_secret(&v.value, &v.origin)?,
            v.origin,
        ))),
        (None, Some(f)) => Ok(Some(SecretSource::File(f))),
        (None, None) => Ok(None),
    }
}

/// Truncates text for error messages (hostile input may be huge).
fn shorten(s: &str) -> String {
    let mut out: String = s
        .chars()
        .take(40)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if s.chars().count() > 40 {
        out.push_str("...");
    }
    out
}

// ---------------------------------------------------------------------------------------
// key=value

/// Keys of the Merlin `key=value` format.
const KV_KEYS: &[&str] = &[
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
const KV_SCRIPT_KEYS: &[&str] = &["check_interval"];

/// Parses the value part of `key=value`: optional single or double quotes, `#` comments
/// after whitespace.
fn kv_value(raw: &str) -> Result<String, String> {
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

fn is_key(k: &str) -> bool {
    !k.is_empty()
        && k.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !k.as_bytes()[0].is_ascii_digit()
}

fn parse_kv(lines: &[String], name: &str) -> Result<FileConfig, Error> {
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

// ---------------------------------------------------------------------------------------
// Environment and flags

/// Settings from `DYN53_*` variables; `get` reads one (empty values count as unset).
pub fn env_layer(get: &dyn Fn(&str) -> Option<String>) -> Result<Layer, Error> {
    let var = |k: &str| get(k).filter(|v| !v.is_empty()).map(|v| Val::new(v, k));
    let secret = match (var("DYN53_SECRET"), var("DYN53_SECRET_FILE")) {
        (Some(_), Some(_)) => {
            return Err(cfg_err(
                "both DYN53_SECRET and DYN53_SECRET_FILE are set; keep one",
            ))
        }
        (Some(s), None) => Some(SecretSource::Inline(
            check_secret(&s.value, "DYN53_SECRET")?,
            s.origin,
        )),
        (None, Some(f)) => Some(SecretSource::File(f)),
        (None, None) => None,
    };
    Ok(Layer {
        url: var("DYN53_URL"),
        secret,
        ca_file: var("DYN53_CA_FILE"),
        protocol: var("DYN53_PROTOCOL"),
        timeout: var("DYN53_TIMEOUT"),
        status_file: var("DYN53_STATUS_FILE"),
        ..Layer::default()
    })
}

/// Settings from command-line flags.
pub fn flag_layer(args: &Args) -> Layer {
    let val = |v: &Option<String>, flag: &str| v.as_ref().map(|v| Val::new(v.clone(), flag));
    let path = |p: &Option<PathBuf>, flag: &str| {
        p.as_ref()
            .map(|p| Val::new(p.to_string_lossy().into_owned(), flag))
    };
    Layer {
        url: val(&args.url, "--url"),
        secret: path(&args.secret_file, "--secret-file").map(SecretSource::File),
        ca_file: path(&args.ca_file, "--ca-file"),
        protocol: val(&args.protocol, "--protocol"),
        timeout: val(&args.timeout, "--timeout"),
        force_explicit_ip: args.explicit_ip,
        records: (!args.hostnames.is_empty()).then(|| {
            args.hostnames
                .iter()
                .map(|h| RecordSpec {
                    hostname: Some(Val::new(h.clone(), "--hostname")),
                    origin: "--hostname".into(),
                    ..RecordSpec::default()
                })
                .collect()
        }),
        ..Layer::default()
    }
}

// ---------------------------------------------------------------------------------------
// Validation

/// Checks a secret's text: not empty, one line, printable, not huge.
fn check_secret(s: &str, origin: &str) -> Result<Secret, Error> {
    if s.is_empty() {
        return Err(cfg_err(format!("{origin}: the secret is empty")));
    }
    if s.len() > MAX_SECRET {
        return Err(cfg_err(format!(
            "{origin}: the secret is longer than {MAX_SECRET} bytes"
        )));
    }
    if s.chars().any(|c| c.is_control()) {
        return Err(cfg_err(format!(
            "{origin}: the secret contains a line break or control character; it must be one line"
        )));
    }
    Ok(Secret(s.to_string()))
}

/// Reads a secret file: the secret on one line, surrounding whitespace ignored.
fn read_secret_file(val: &Val, warnings: &mut Vec<String>) -> Result<Secret, Error> {
    let path = Path::new(&val.value);
    let what = format!("secret file (from {})", val.origin);
    let bytes = read_limited(path, MAX_SECRET as u64 + 64, &what)?;
    warnings.extend(mode_warning(path, "secret file"));
    let text = std::str::from_utf8(&bytes).map_err(|_| {
        cfg_err(format!(
            "secret file {} is not valid UTF-8 text",
            path.display()
        ))
    })?;
    check_secret(
        text.trim_matches(|c: char| c.is_ascii_whitespace()),
        &format!("secret file {}", path.display()),
    )
}

/// Parses a boolean the way UCI does (1/0, true/false, yes/no, on/off, enabled/disabled).
fn parse_bool(v: &Val) -> Result<bool, Error> {
    match v.value.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" | "enabled" => Ok(true),
        "0" | "false" | "no" | "off" | "disabled" | "" => Ok(false),
        _ => Err(v.err(&format!(
            "'{}' is not a boolean (use 1 or 0)",
            shorten(&v.value)
        ))),
    }
}

/// Parses the protocol version.
fn parse_protocol(v: &Val) -> Result<Protocol, Error> {
    match v.value.trim() {
        "1" => Ok(Protocol::V1),
        "1-query" => Ok(Protocol::V1Query),
        "2" => Ok(Protocol::V2),
        _ => Err(v.err(&format!(
            "protocol must be 1, 1-query or 2, not '{}'",
            shorten(&v.value)
        ))),
    }
}

/// Parses the run deadline in whole seconds.
fn parse_timeout(v: &Val) -> Result<Duration, Error> {
    let t = v.value.trim();
    let secs = if !t.is_empty() && t.len() <= 5 && t.bytes().all(|b| b.is_ascii_digit()) {
        t.parse::<u64>().ok()
    } else {
        None
    };
    match secs {
        Some(s) if (1..=MAX_TIMEOUT).contains(&s) => Ok(Duration::from_secs(s)),
        _ => Err(v.err(&format!(
            "timeout must be whole seconds from 1 to {MAX_TIMEOUT}, not '{}'",
            shorten(&v.value)
        ))),
    }
}

/// Checks the backend URL: https, or http to a loopback host (local backend and tests).
pub fn parse_url(v: &Val) -> Result<BackendUrl, Error> {
    let text = v.value.trim();
    if text.len() > MAX_URL {
        return Err(v.err("url is too long"));
    }
    let lower = text.to_ascii_lowercase();
    let (https, rest) = if let Some(r) = lower.strip_prefix("https://") {
        (true, r)
    } else if let Some(r) = lower.strip_prefix("http://") {
        (false, r)
    } else {
        return Err(v.err(&format!(
            "url must start with https:// (got '{}')",
            shorten(text)
        )));
    };
    if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(v.err("url contains spaces or control characters"));
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.contains('@') {
        return Err(v.err(
            "url must not contain a user name or password (dyn53 signs its requests instead)",
        ));
    }
    let uri: ureq::http::Uri = text
        .parse()
        .map_err(|_| v.err(&format!("'{}' is not a valid URL", shorten(text))))?;
    let host = uri
        .host()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| v.err("url has no host"))?;
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    if !https && !is_loopback_host(&host) {
        return Err(v.err(
            "url must use https:// (plain http:// is only allowed for a loopback host such as 127.0.0.1 or localhost)",
        ));
    }
    Ok(BackendUrl {
        text: text.to_string(),
        host,
    })
}

/// Whether `host` is `localhost` or a loopback address.
fn is_loopback_host(host: &str) -> bool {
    host == "localhost" || parse_ip(host).is_some_and(|ip| ip.is_loopback())
}

/// Parses `name` or `name:TYPE` into a hostname and record type.
fn parse_record_name(
    v: &Val,
    separate_type: Option<&Val>,
) -> Result<(String, String, RecordType), Error> {
    let (name, suffix) = match v.value.rsplit_once(':') {
        Some((n, t)) => (n, Some(t)),
        None => (v.value.as_str(), None),
    };
    let record_type = match (suffix, separate_type) {
        (Some(_), Some(t)) => {
            return Err(t.err("the record type is given twice (as name:TYPE and separately)"))
        }
        (Some(t), None) => t.parse().map_err(|_| {
            v.err(&format!(
                "record type '{}' in '{}' must be A or AAAA",
                shorten(t),
                shorten(&v.value)
            ))
        })?,
        (None, Some(t)) => t.value.parse().map_err(|_| {
            t.err(&format!(
                "record type must be A or AAAA, not '{}'",
                shorten(&t.value)
            ))
        })?,
        (None, None) => RecordType::A,
    };
    if parse_ip(name).is_some() || parse_ip(name.trim_end_matches('.')).is_some() {
        return Err(v.err(&format!(
            "'{}' is an IP address; give the DNS name to update (e.g. home.example.com)",
            shorten(name)
        )));
    }
    let hostname =
        normalize_hostname(name).map_err(|e| v.err(&format!("{e} (got '{}')", shorten(name))))?;
    Ok((hostname, name.to_string(), record_type))
}

/// Parses the `--ip` hint.
pub fn parse_ip_hint(s: &str) -> Result<IpAddr, Error> {
    parse_ip(s.trim())
        .map(crate::protocol::canonical_ip)
        .ok_or_else(|| {
            Error::Usage(format!(
                "--ip: '{}' is not an IPv4 or IPv6 address",
                shorten(s)
            ))
        })
}

/// Merges the layers (first = highest precedence) and validates the result.
pub fn merge(
    layers: &[&Layer],
    interface: Option<&str>,
    warnings: &mut Vec<String>,
) -> Result<Settings, Error> {
    fn first<'a, T>(layers: &[&'a Layer], f: impl Fn(&'a Layer) -> Option<&'a T>) -> Option<&'a T> {
        layers.iter().find_map(|l| f(l))
    }
    let url = first(layers, |l| l.url.as_ref())
        .map(parse_url)
        .transpose()?;
    let secret = match first(layers, |l| l.secret.as_ref()) {
        Some(SecretSource::Inline(s, _)) => Some(s.clone()),
        Some(SecretSource::File(f)) => Some(read_secret_file(f, warnings)?),
        None => None,
    };
    let ca_file = first(layers, |l| l.ca_file.as_ref())
        .filter(|v| !v.value.trim().is_empty())
        .map(|v| PathBuf::from(v.value.trim()));
    let protocol = first(layers, |l| l.protocol.as_ref())
        .map(parse_protocol)
        .transpose()?
        .unwrap_or(Protocol::V2);
    let timeout = first(layers, |l| l.timeout.as_ref())
        .map(parse_timeout)
        .transpose()?
        .unwrap_or(Duration::from_secs(DEFAULT_TIMEOUT));
    let enabled = first(layers, |l| l.enabled.as_ref())
        .map(parse_bool)
        .transpose()?
        .unwrap_or(true);
    // `--explicit-ip` forces it on; otherwise each record's own switch, then the global one.
    let force_explicit = layers.iter().any(|l| l.force_explicit_ip);
    let explicit_default = first(layers, |l| l.explicit_ip.as_ref())
        .map(parse_bool)
        .transpose()?
        .unwrap_or(false);

    let mut records: Vec<Record> = Vec::new();
    // Enabled records, whatever their interface: the same record twice is a mistake.
    let mut seen: Vec<(String, RecordType)> = Vec::new();
    let mut other_interfaces = 0;
    for spec in first(layers, |l| l.records.as_ref()).map_or(&[][..], |v| v.as_slice()) {
        let name = spec
            .hostname
            .as_ref()
            .ok_or_else(|| cfg_err(format!("{}: record has no hostname", spec.origin)))?;
        let (hostname, hostname_raw, record_type) =
            parse_record_name(name, spec.record_type.as_ref())?;
        let explicit_ip = match &spec.explicit_ip {
            _ if force_explicit => true,
            Some(v) => parse_bool(v)?,
            None => explicit_default,
        };
        let enabled = spec
            .enabled
            .as_ref()
            .map(parse_bool)
            .transpose()?
            .unwrap_or(true);
        let iface = spec
            .interface
            .as_ref()
            .map(|v| v.value.trim().to_string())
            .filter(|s| !s.is_empty());
        if !enabled {
            log::debug!("{hostname} {record_type}: disabled in the config; skipped");
            continue;
        }
        if seen.contains(&(hostname.clone(), record_type)) {
            return Err(name.err(&format!("record {hostname} {record_type} is listed twice")));
        }
        seen.push((hostname.clone(), record_type));
        let record = Record {
            hostname,
            hostname_raw,
            record_type,
            interface: iface,
            explicit_ip,
        };
        if interface.is_some_and(|want| !record.interfaces().contains(&want)) {
            other_interfaces += 1;
            continue;
        }
        records.push(record);
    }
    Ok(Settings {
        config_path: None,
        url,
        secret,
        ca_file,
        protocol,
        timeout,
        enabled,
        records,
        other_interfaces,
        status_file: first(layers, |l| l.status_file.as_ref())
            .map_or(Some(crate::status::OPENWRT_PATH), |v| Some(v.value.trim()))
            .filter(|p| !p.is_empty())
            .map(PathBuf::from),
        warnings: std::mem::take(warnings),
    })
}

/// Finds the config file: `-c`, else `DYN53_CONFIG`, else the first default path present.
fn find_config(flag: Option<&Path>, env: Option<String>) -> Option<(PathBuf, bool)> {
    if let Some(p) = flag {
        return Some((p.to_path_buf(), true));
    }
    if let Some(p) = env.filter(|p| !p.is_empty()) {
        return Some((PathBuf::from(p), true));
    }
    DEFAULT_PATHS
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .map(|p| (p, false))
}

/// Loads settings from the config file, the process environment and the flags.
pub fn load(args: &Args) -> Result<Settings, Error> {
    load_with(args, &|k| std::env::var(k).ok())
}

/// [`load`] with an injectable environment (for tests).
pub fn load_with(args: &Args, env: &dyn Fn(&str) -> Option<String>) -> Result<Settings, Error> {
    let mut warnings = Vec::new();
    let found = find_config(args.config.as_deref(), env("DYN53_CONFIG"));
    let file = match &found {
        Some((path, _)) => {
            let bytes = read_limited(path, MAX_FILE, "config file")?;
            warnings.extend(mode_warning(path, "config file"));
            let parsed = parse_file_text(&bytes, &path.display().to_string())?;
            warnings.extend(parsed.warnings);
            parsed.layer
        }
        None => Layer::default(),
    };
    let env_layer = env_layer(env)?;
    let flags = flag_layer(args);
    let mut settings = merge(
        &[&flags, &env_layer, &file],
        args.interface.as_deref(),
        &mut warnings,
    )?;
    settings.config_path = found.map(|(p, _)| p);
    Ok(settings)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<FileConfig, Error> {
        parse_file_text(text.as_bytes(), "cfg")
    }

    fn settings(text: &str) -> Result<Settings, Error> {
        let f = parse(text)?;
        merge(&[&f.layer], None, &mut Vec::new())
    }

    fn err(text: &str) -> String {
        match settings(text) {
            Err(Error::Config(m)) => m,
            other => panic!("expected a config error for {text:?}, got {other:?}"),
        }
    }

    const UCI: &str = "\
# dyn53
config dyn53 'global'
\toption enabled '1'
\toption url 'https://abc.lambda-url.eu-west-1.on.aws/'
\toption secret 's3cr3t'     # or secret_file
\toption ca_file ''
\toption protocol '2'
\toption timeout '45'
\toption check_interval '600'

config record 'home'
\toption hostname 'Home.Example.com.'
\toption type 'A'
\toption interface 'wan'
\toption enabled '1'
\toption explicit_ip '0'

config record
\toption hostname \"home.example.com\"
\toption type AAAA
\toption interface wan6
\toption explicit_ip 1

config record 'off'
\toption hostname 'off.example.com'
\toption enabled '0'
";

    #[test]
    fn uci_full_example() {
        let s = settings(UCI).unwrap();
        assert_eq!(s.url.unwrap().host, "abc.lambda-url.eu-west-1.on.aws");
        assert_eq!(s.secret.unwrap().expose(), "s3cr3t");
        assert_eq!(s.ca_file, None);
        assert_eq!(s.protocol, Protocol::V2);
        assert_eq!(s.timeout, Duration::from_secs(45));
        assert_eq!(s.records.len(), 2);
        assert_eq!(s.records[0].hostname, "home.example.com");
        assert_eq!(s.records[0].record_type, RecordType::A);
        assert_eq!(s.records[0].interface.as_deref(), Some("wan"));
        assert!(!s.records[0].explicit_ip);
        assert_eq!(s.records[1].record_type, RecordType::Aaaa);
        assert!(s.records[1].explicit_ip);
    }

    #[test]
    fn interface_filter_records_without_interface_follow_the_wan_names() {
        let text = format!("{UCI}\nconfig record\n\toption hostname 'any.example.com'\n");
        let f = parse(&text).unwrap();
        let names = |want| {
            let s = merge(&[&f.layer], Some(want), &mut Vec::new()).unwrap();
            let n: Vec<String> = s.records.iter().map(|r| r.to_string()).collect();
            (n, s.other_interfaces)
        };
        assert_eq!(
            names("wan6"),
            (
                vec!["home.example.com AAAA".into(), "any.example.com A".into()],
                1
            )
        );
        assert_eq!(names("wan_6"), (vec!["any.example.com A".into()], 2));
        assert_eq!(names("lan"), (vec![], 3));
    }

    #[test]
    fn interface_may_name_several() {
        let text = "config record\n\toption hostname 'a.example.com'\n\toption interface ' wan6  wan_6 '\n";
        let f = parse(text).unwrap();
        let s = merge(&[&f.layer], Some("wan_6"), &mut Vec::new()).unwrap();
        assert_eq!(s.records[0].interfaces(), ["wan6", "wan_6"]);
        let s = merge(&[&f.layer], Some("wan"), &mut Vec::new()).unwrap();
        assert!(s.records.is_empty());
    }

    #[test]
    fn uci_booleans_and_quoted_option_names() {
        for (word, on) in [
            ("enabled", true),
            ("disabled", false),
            ("Off", false),
            ("yes", true),
        ] {
            let text = format!(
                "config dyn53\n\toption 'enabled' '{word}'\nconfig record\n\toption \"hostname\" 'a.example.com'\n\toption enabled \"{word}\"\n"
            );
            let s = settings(&text).unwrap();
            assert_eq!(s.enabled, on, "{word}");
            assert_eq!(s.records.len(), usize::from(on), "{word}");
        }
    }

    #[test]
    fn the_openwrt_default_config_follows_pppoe_wan_6() {
        let f = parse(include_str!("../openwrt/files/dyn53.config")).unwrap();
        // Filled in and switched on as the owner would (url, enabled records).
        let mut layer = f.layer.clone();
        layer.url = Some(Val::new("https://example.com/", "test"));
        layer.secret = None;
        for spec in layer.records.as_mut().unwrap() {
            spec.enabled = None;
        }
        let s = merge(&[&layer], None, &mut Vec::new()).unwrap();
        let six = s
            .records
            .iter()
            .find(|r| r.record_type == RecordType::Aaaa)
            .unwrap();
        assert_eq!(six.interfaces(), ["wan6", "wan_6"]);
    }

    #[test]
    fn uci_tokenizer() {
        assert_eq!(
            uci_words(r#"option  url 'a b'"c\"d"e\ f # x"#).unwrap(),
            ["option", "url", "a bc\"de f"]
        );
        assert_eq!(uci_words("option a ''").unwrap(), ["option", "a", ""]);
        assert!(uci_words("option a 'b").is_err());
        assert!(uci_words("option a \"b").is_err());
        assert!(uci_words("option a b\\").is_err());
    }

    #[test]
    fn kv_example() {
        let s = settings(
            "url=https://abc.lambda-url.eu-west-1.on.aws/\n\
             secret='p#ss word'   # quoted\n\
             records=home.example.com:A home.example.com:AAAA, nas.example.com\n\
             ca_file=\n\
             protocol=1\n\
             timeout=30\r\n\
             explicit_ip=0\n",
        )
        .unwrap();
        assert_eq!(s.secret.unwrap().expose(), "p#ss word");
        assert_eq!(s.protocol, Protocol::V1);
        assert_eq!(s.timeout, Duration::from_secs(30));
        let names: Vec<String> = s.records.iter().map(|r| r.to_string()).collect();
        assert_eq!(
            names,
            [
                "home.example.com A",
                "home.example.com AAAA",
                "nas.example.com A"
            ]
        );
    }

    #[test]
    fn kv_single_hostname_and_type() {
        let s = settings(
            "url=https://x.example/\nhostname=home.example.com\nrecord_type=AAAA\nsecret=a#b\n",
        )
        .unwrap();
        assert_eq!(s.records[0].record_type, RecordType::Aaaa);
        assert_eq!(s.secret.unwrap().expose(), "a#b");
        let s = settings("hostname=\"h.example.com\" # home\n").unwrap();
        assert_eq!(s.records[0].hostname, "h.example.com");
    }

    #[test]
    fn hostile_input() {
        // Huge line.
        let long = format!("url=https://{}/\n", "a".repeat(5000));
        assert!(err(&long).contains("line 1 is longer than 4096 bytes"));
        // NUL byte.
        assert!(err("url=https://a.example/\nsec\0ret=x\n").contains("line 2 contains a NUL byte"));
        // Invalid UTF-8.
        match parse_file_text(b"url=\xff\xfe\n", "cfg") {
            Err(Error::Config(m)) => assert!(m.contains("line 1 is not valid UTF-8"), "{m}"),
            other => panic!("{other:?}"),
        }
        // Duplicate keys.
        assert!(err("url=https://a.example/\nurl=https://b.example/\n")
            .contains("line 2: 'url' is set twice (first on line 1)"));
        assert!(err(
            "config dyn53\n option url 'https://a.example/'\n option url 'https://b.example/'\n"
        )
        .contains("line 3: option 'url' is set twice"));
        assert!(err("config dyn53\nconfig dyn53\n").contains("a second 'config dyn53'"));
        // Garbage lines.
        assert!(err("this is not a config\n").contains("expected key=value"));
        assert!(err("config dyn53\n bogus line here\n")
            .contains("expected 'config', 'option' or 'list'"));
        assert!(err("option url 'x'\n").contains("expected key=value"));
        assert!(err("package x\noption url 'x'\n").contains("before any 'config'"));
        assert!(err("config dyn53\n option url\n").contains("expected: option <name> '<value>'"));
        assert!(err("URL=https://a.example/\n").contains("not a setting name"));
        assert!(err("ca_file=  protocol=2  timeout=60\n").contains("several settings on one line"));
        assert!(err("secret='abc\n").contains("unterminated ' quote"));
        assert!(err("secret='abc' def\n").contains("text after the closing quote"));
        // Bad hostnames.
        assert!(err("hostname=bad_host name.example.com\n").contains("hostname"));
        assert!(err("hostname=localhost\n").contains("fully qualified"));
        assert!(err("hostname=a..example.com\n").contains("empty label"));
        assert!(err("hostname=203.0.113.7\n").contains("is an IP address"));
        assert!(err(&format!("hostname={}.com\n", "a".repeat(70))).contains("longer than 63"));
        assert!(err("hostname=h.example.com:MX\n").contains("must be A or AAAA"));
        assert!(err("hostname=h.example.com:AAAA\nrecord_type=A\n").contains("given twice"));
        assert!(err("records=a.example.com a.example.com\n").contains("listed twice"));
        // A disabled copy is not a duplicate.
        let dup = "config record\n option hostname 'a.example.com'\n\
                   config record\n option hostname 'a.example.com'\n option enabled '0'\n";
        assert_eq!(settings(dup).unwrap().records.len(), 1);
        assert!(err("hostname=a.example.com\nrecords=b.example.com\n").contains("not both"));
        assert!(err("record_type=A\n").contains("hostname is not"));
        assert!(err("config record\n option type 'A'\n").contains("record has no hostname"));
        // Bad numbers and switches.
        for t in ["0", "-5", "abc", "99999999999999999999", "3601", "1.5", " "] {
            let m = err(&format!("timeout='{t}'\n"));
            assert!(m.contains("timeout must be whole seconds"), "{t}: {m}");
        }
        assert!(err("protocol=3\n").contains("protocol must be 1, 1-query or 2"));
        assert!(err("explicit_ip=maybe\n").contains("not a boolean"));
        // Bad URLs.
        assert!(err("url=ftp://a.example/\n").contains("must start with https://"));
        assert!(err("url=http://a.example/\n").contains("only allowed for a loopback host"));
        assert!(err("url=https://user:pw@a.example/\n").contains("user name or password"));
        let m = err("url=https:///path\n");
        assert!(
            m.contains("not a valid URL") || m.contains("no host"),
            "{m}"
        );
        // Secrets.
        assert!(err("secret=a\nsecret_file=/x\n").contains("both secret and secret_file"));
        assert!(err(&format!("secret={}\n", "x".repeat(2000))).contains("longer than 1024"));
        // Errors never echo the secret.
        let m = err("secret=hunter2hunter2\nsecret_file=/x\n");
        assert!(!m.contains("hunter2"), "{m}");
    }

    #[test]
    fn plain_http_is_fine_for_loopback() {
        for u in [
            "http://127.0.0.1:8053/",
            "http://localhost:1/",
            "http://[::1]:80/x",
        ] {
            let url = parse_url(&Val::new(u, "t")).unwrap();
            assert!(!url.host.contains('['), "{}", url.host);
        }
    }

    #[test]
    fn unknown_keys_warn() {
        let f = parse("url=https://a.example/\ncolour=blue\ncheck_interval=600\n").unwrap();
        assert_eq!(f.warnings.len(), 1);
        assert!(f.warnings[0].contains("unknown setting 'colour'"));
        let f = parse("config dyn53\n option colour 'blue'\nconfig foo\n option x 'y'\n").unwrap();
        assert_eq!(f.warnings.len(), 2, "{:?}", f.warnings);
    }

    #[test]
    fn precedence_flags_env_file() {
        let file = parse("url=https://file.example/\ntimeout=10\nprotocol=1\nsecret=filesecret\n")
            .unwrap()
            .layer;
        let env = env_layer(&|k| match k {
            "DYN53_URL" => Some("https://env.example/".into()),
            "DYN53_TIMEOUT" => Some("20".into()),
            "DYN53_PROTOCOL" => Some(String::new()), // empty = unset
            _ => None,
        })
        .unwrap();
        let args = Args {
            timeout: Some("30".into()),
            ..Args::default()
        };
        let flags = flag_layer(&args);
        let s = merge(&[&flags, &env, &file], None, &mut Vec::new()).unwrap();
        assert_eq!(s.url.unwrap().host, "env.example");
        assert_eq!(s.timeout, Duration::from_secs(30));
        assert_eq!(s.protocol, Protocol::V1);
        assert_eq!(s.secret.unwrap().expose(), "filesecret");
        let env = env_layer(&|k| match k {
            "DYN53_TIMEOUT" => Some("soon".into()),
            _ => None,
        })
        .unwrap();
        match merge(&[&env], None, &mut Vec::new()) {
            Err(Error::Config(m)) => assert!(m.starts_with("DYN53_TIMEOUT: "), "{m}"),
            other => panic!("{other:?}"),
        }
        assert!(env_layer(&|k| k.starts_with("DYN53_SECRET").then(|| "x".into())).is_err());
    }

    #[test]
    fn query_form_keeps_the_name_as_written() {
        let s = settings(
            "url=https://x.example/prod\nsecret=s\nprotocol=1-query\nhostname=Home.Example.com.\n",
        )
        .unwrap();
        assert_eq!(s.protocol, Protocol::V1Query);
        assert_eq!(s.records[0].hostname, "home.example.com");
        assert_eq!(s.records[0].hostname_raw, "Home.Example.com.");
    }

    #[test]
    fn flags_replace_records_and_force_explicit() {
        let file = parse("records=a.example.com b.example.com:AAAA\nexplicit_ip=0\n")
            .unwrap()
            .layer;
        let args = Args {
            hostnames: vec!["c.example.com:aaaa".into()],
            explicit_ip: true,
            ..Args::default()
        };
        let s = merge(&[&flag_layer(&args), &file], None, &mut Vec::new()).unwrap();
        assert_eq!(
            s.records,
            [Record {
                hostname: "c.example.com".into(),
                hostname_raw: "c.example.com".into(),
                record_type: RecordType::Aaaa,
                interface: None,
                explicit_ip: true
            }]
        );
    }

    #[test]
    fn secret_files() {
        let dir = std::env::temp_dir().join(format!("dyn53-cfg-test-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("secret");
        let v = Val::new(path.to_string_lossy(), "test");
        fs::write(&path, "  t0ps3cret\r\n").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        }
        let mut w = Vec::new();
        assert_eq!(read_secret_file(&v, &mut w).unwrap().expose(), "t0ps3cret");
        #[cfg(unix)]
        assert!(
            w[0].contains("readable by group or others (mode 644)"),
            "{w:?}"
        );
        fs::write(&path, "two\nlines\n").unwrap();
        let e = read_secret_file(&v, &mut w).unwrap_err().to_string();
        assert!(e.contains("line break") && !e.contains("two"), "{e}");
        fs::write(&path, "\n").unwrap();
        assert!(read_secret_file(&v, &mut w)
            .unwrap_err()
            .to_string()
            .contains("empty"));
        fs::write(&path, vec![b'x'; 5000]).unwrap();
        assert!(read_secret_file(&v, &mut w)
            .unwrap_err()
            .to_string()
            .contains("larger than"));
        let missing = Val::new(dir.join("nope").to_string_lossy(), "--secret-file");
        let e = read_secret_file(&missing, &mut w).unwrap_err().to_string();
        assert!(
            e.contains("cannot open secret file (from --secret-file)"),
            "{e}"
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn secret_debug_is_redacted() {
        let s = Secret("hunter2".into());
        assert!(!format!("{s:?}").contains("hunter2"));
    }

    #[test]
    fn ip_hints() {
        assert_eq!(
            parse_ip_hint("::ffff:203.0.113.9").unwrap().to_string(),
            "203.0.113.9"
        );
        assert!(parse_ip_hint("300.1.1.1").is_err());
        assert!(parse_ip_hint("").is_err());
        assert!(parse_ip_hint("1.2.3.4/24").is_err());
    }
}
