//! Reading a config file: size and line limits, the mode warning, and detecting which of
//! the two formats (UCI or `key=value`) it is written in.

use super::keyvalue::parse_kv;
use super::types::{cfg_err, FileConfig, SecretSource, Val, MAX_LINE};
use super::uci::parse_uci;
use super::values::check_secret;
use crate::error::Error;
use std::fs;
use std::io::Read;
use std::path::Path;

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
pub(super) fn mode_warning(path: &Path, what: &str) -> Option<String> {
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
pub(super) fn mode_warning(_path: &Path, _what: &str) -> Option<String> {
    None
}

/// Splits file bytes into lines, refusing NUL bytes, invalid UTF-8 and overlong lines.
/// Windows line endings are accepted (files edited on a PC and copied to the router).
pub(super) fn lines(bytes: &[u8], name: &str) -> Result<Vec<String>, Error> {
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

/// Combines `secret` and `secret_file` from one file; empty values count as unset.
pub(super) fn secret_source(
    inline: Option<Val>,
    file: Option<Val>,
) -> Result<Option<SecretSource>, Error> {
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
pub(super) fn shorten(s: &str) -> String {
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
