//! Checking single values: the secret, booleans, protocol, timeout, URL, record names and
//! the `--ip` hint. Each error names where the value came from.

use super::file::{mode_warning, read_limited, shorten};
use super::types::{cfg_err, BackendUrl, Protocol, Secret, Val, MAX_SECRET, MAX_TIMEOUT, MAX_URL};
use crate::error::Error;
use crate::protocol::{normalize_hostname, parse_ip, RecordType};
use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

/// Checks a secret's text: not empty, one line, printable, not huge.
pub(super) fn check_secret(s: &str, origin: &str) -> Result<Secret, Error> {
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
pub(super) fn read_secret_file(val: &Val, warnings: &mut Vec<String>) -> Result<Secret, Error> {
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
pub(super) fn parse_bool(v: &Val) -> Result<bool, Error> {
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
pub(super) fn parse_protocol(v: &Val) -> Result<Protocol, Error> {
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
pub(super) fn parse_timeout(v: &Val) -> Result<Duration, Error> {
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
pub(super) fn is_loopback_host(host: &str) -> bool {
    host == "localhost" || parse_ip(host).is_some_and(|ip| ip.is_loopback())
}

/// Parses `name` or `name:TYPE` into a hostname and record type.
pub(super) fn parse_record_name(
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
