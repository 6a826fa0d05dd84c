//! The status file: what the last `update` run did, for the LuCI and Merlin pages and for
//! `dyn53 status`. No secret, token or URL is ever written to it.
//!
//! Shape (agreed with the web UIs): `{"time":T,"exit":N,"records":[{...},...]}`, each
//! record `{"hostname","type","result","address"?,"previous"?,"message","time",
//! "lan_prefix"?,"lan"?}` with `result` one of `changed`, `unchanged`, `error`. The record
//! whose set carried the LAN prefix has `lan_prefix` and `lan`, the backend's list of LAN
//! records in it (`name=address` separated by spaces, empty if the backend did not say). It is written one record per line, so
//! `dyn53 status` reads it back with the flat-object parser of the protocol module.

use crate::client::RecordResult;
use crate::config::Record;
use crate::error::Error;
use crate::protocol::json::{self, Writer};
use crate::protocol::LanPrefix;
use std::fmt::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

/// Default status file on OpenWrt (UCI config, or no config file).
pub const OPENWRT_PATH: &str = "/var/run/dyn53/status.json";
/// Default status file on Merlin (key=value config).
pub const MERLIN_PATH: &str = "/tmp/dyn53/status.json";
/// Largest status file `dyn53 status` reads.
const MAX_FILE: u64 = 256 * 1024;
const RECORDS_START: &str = ",\"records\":[";

/// Seconds since the Unix epoch (0 if the clock is before it).
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// One record's entry: its result or its error, at `time`, and the LAN prefix its set
/// carried with the LAN records the backend answered.
pub fn entry(
    record: &Record,
    result: &Result<RecordResult, Error>,
    lan: Option<(LanPrefix, Box<str>)>,
    time: u64,
) -> String {
    let w = Writer::new()
        .str("hostname", &record.hostname)
        .str("type", &record.record_type.to_string());
    let (w, message) = match result {
        Ok(RecordResult::Changed { old, new }) => (
            w.str("result", "changed")
                .str("address", &new.to_string())
                .opt_str("previous", old.map(|o| o.to_string()).as_deref()),
            format!(
                "changed {} -> {new}",
                old.map_or("none".into(), |o| o.to_string())
            ),
        ),
        Ok(RecordResult::Unchanged(ip)) => (
            w.str("result", "unchanged").str("address", &ip.to_string()),
            format!("unchanged {ip}"),
        ),
        // update returns only the two above; anything else is reported as what it says.
        Ok(other) => (w.str("result", "error"), other.line(record)),
        Err(e) => (w.str("result", "error"), e.to_string()),
    };
    let w = w.str("message", &message).uint("time", time);
    match lan {
        Some((prefix, records)) => w
            .str("lan_prefix", &prefix.to_string())
            .str("lan", &records)
            .finish(),
        None => w.finish(),
    }
}

/// The whole file: the run's time and exit code and the record entries, one a line.
pub fn render(time: u64, exit: i32, entries: &[String]) -> String {
    let records = format!("[\n{}\n]", entries.join(",\n"));
    let mut text = Writer::new()
        .uint("time", time)
        .uint("exit", exit.unsigned_abs().into())
        .raw("records", if entries.is_empty() { "[]" } else { &records })
        .finish();
    text.push('\n');
    text
}

/// Writes `text` to `path` atomically (temporary file in the same directory, then rename),
/// mode 0644, creating its directory if needed.
pub fn write(path: &Path, text: &str) -> std::io::Result<()> {
    // Only the last directory: /var/run and /tmp exist on every router.
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir(dir);
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".{}.tmp", std::process::id()));
    let result = std::fs::write(&tmp, text)
        // The umask may have taken bits away; the pages read this file as another user.
        .and_then(|()| std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o644)))
        .and_then(|()| std::fs::rename(&tmp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// `dyn53 status`: the status file in words, or why there is none.
pub fn show(path: &Path) -> Result<String, Error> {
    if !path.exists() {
        return Ok(format!(
            "no status yet: dyn53 update has not run since the router started ({} does not exist)",
            path.display()
        ));
    }
    let bytes = crate::config::read_limited(path, MAX_FILE, "status file")?;
    std::str::from_utf8(&bytes)
        .ok()
        .and_then(describe)
        .ok_or_else(|| {
            Error::Config(format!(
                "status file {}: not a dyn53 status file",
                path.display()
            ))
        })
}

/// The readable form of a status file's text; `None` if it is not one dyn53 wrote.
fn describe(text: &str) -> Option<String> {
    let mut lines = text.lines();
    let head = lines.next()?;
    let (head, has_records) = match head.strip_suffix(RECORDS_START) {
        Some(h) => (format!("{h}}}"), true),
        None => (
            format!("{}}}", head.strip_suffix(",\"records\":[]}")?),
            false,
        ),
    };
    let head = json::parse(head.as_bytes()).ok()?;
    let exit = head.uint("exit").ok()??;
    let mut out = format!(
        "last update: {} UTC, exit code {exit} ({})\n",
        utc(head.uint("time").ok()??),
        match exit {
            0 => "ok",
            1 => "transient failure, retried later",
            _ => "permanent failure, needs a fix",
        }
    );
    for line in lines.take_while(|_| has_records) {
        if line == "]}" {
            return Some(out);
        }
        let r = json::parse(line.trim_end_matches(',').as_bytes()).ok()?;
        // Messages of changed and unchanged records start with the result already.
        let error = if r.str("result").ok()?? == "error" {
            "error: "
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "{} {} {error}{} ({} UTC)",
            r.str("hostname").ok()??,
            r.str("type").ok()??,
            r.str("message").ok()??,
            utc(r.uint("time").ok()??)
        );
        if let Some(prefix) = r.str("lan_prefix").ok()? {
            let _ = writeln!(out, "  LAN {prefix}: {}", r.str("lan").ok()?.unwrap_or(""));
        }
    }
    (!has_records).then_some(out)
}

/// `YYYY-MM-DD hh:mm:ss` for Unix seconds (proleptic Gregorian calendar, UTC).
fn utc(secs: u64) -> String {
    // In u32 (days fit until far past the year 9999): on the 32-bit router CPUs each u64
    // division and u64 formatting is a library call (440 bytes more code on mipsel).
    let days = (secs / 86_400).min(u64::from(u32::MAX / 2)) as u32;
    let rem = (secs % 86_400) as u32;
    // Howard Hinnant's days-to-civil algorithm, shifted so eras start on 0000-03-01.
    let z = days + 719_468;
    let (era, doe) = (z / 146_097, z % 146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = era * 400 + yoe + u32::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::RecordType;

    fn record(name: &str, t: RecordType) -> Record {
        Record {
            hostname: name.into(),
            hostname_raw: name.into(),
            record_type: t,
            interface: None,
            explicit_ip: false,
        }
    }

    #[test]
    fn entries_render_the_agreed_shape_and_read_back() {
        let home = record("home.example.com", RecordType::A);
        let changed = RecordResult::Changed {
            old: Some("198.51.100.4".parse().unwrap()),
            new: "203.0.113.7".parse().unwrap(),
        };
        let t = 1_764_577_200;
        let entries = [
            entry(
                &home,
                &Ok(changed),
                Some((
                    LanPrefix::parse("2001:db8:1:10::/64").unwrap(),
                    "nas.example.com=2001:db8:1:10::1234 cam.example.com=2001:db8:1:10::5".into(),
                )),
                t,
            ),
            entry(
                &record("new.example.com", RecordType::Aaaa),
                &Ok(RecordResult::Changed {
                    old: None,
                    new: "2001:db8::7".parse().unwrap(),
                }),
                None,
                t,
            ),
            entry(
                &record("nas.example.com", RecordType::A),
                &Err(Error::Network("connect: \"refused\"".into())),
                None,
                t + 1,
            ),
        ];
        assert_eq!(
            entries[0],
            "{\"hostname\":\"home.example.com\",\"type\":\"A\",\"result\":\"changed\",\
             \"address\":\"203.0.113.7\",\"previous\":\"198.51.100.4\",\
             \"message\":\"changed 198.51.100.4 -> 203.0.113.7\",\"time\":1764577200,\
             \"lan_prefix\":\"2001:db8:1:10::/64\",\"lan\":\"nas.example.com=2001:db8:1:10::1234 \
             cam.example.com=2001:db8:1:10::5\"}"
        );
        assert!(!entries[1].contains("lan"), "{}", entries[1]);
        assert!(!entries[1].contains("previous"), "{}", entries[1]);
        assert!(!entries[2].contains("address"), "{}", entries[2]);
        let text = render(t, 1, &entries);
        assert!(text.starts_with("{\"time\":1764577200,\"exit\":1,\"records\":[\n{"));
        assert!(text.ends_with("}\n]}\n"), "{text}");
        assert_eq!(
            describe(&text).unwrap(),
            "last update: 2025-12-01 08:20:00 UTC, exit code 1 (transient failure, retried later)\n\
             home.example.com A changed 198.51.100.4 -> 203.0.113.7 (2025-12-01 08:20:00 UTC)\n\
             \x20 LAN 2001:db8:1:10::/64: nas.example.com=2001:db8:1:10::1234 \
             cam.example.com=2001:db8:1:10::5\n\
             new.example.com AAAA changed none -> 2001:db8::7 (2025-12-01 08:20:00 UTC)\n\
             nas.example.com A error: network: connect: \"refused\" (2025-12-01 08:20:01 UTC)\n"
                .replace("network: ", &Error::Network(String::new()).to_string())
        );
        let empty = render(t, 2, &[]);
        assert_eq!(empty, "{\"time\":1764577200,\"exit\":2,\"records\":[]}\n");
        assert!(describe(&empty).unwrap().contains("exit code 2 (permanent"));
    }

    #[test]
    fn foreign_or_truncated_files_are_refused() {
        for bad in [
            "",
            "{}",
            "{\"time\":1,\"exit\":0,\"records\":[\n{\"hostname\":\"a\"}\n]}",
            "{\"time\":1,\"exit\":0,\"records\":[\n",
            "<html>",
        ] {
            assert_eq!(describe(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn dates_are_utc_civil_time() {
        assert_eq!(utc(0), "1970-01-01 00:00:00");
        assert_eq!(utc(951_825_600), "2000-02-29 12:00:00");
        assert_eq!(utc(4_102_444_799), "2099-12-31 23:59:59");
    }

    #[test]
    fn writes_atomically_with_mode_0644_and_says_when_there_is_none() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("dyn53-status-unit-{}", std::process::id()));
        let path = dir.join("status.json");
        assert!(show(&path).unwrap().starts_with("no status yet"));
        write(&path, "one\n").unwrap();
        write(&path, &render(1, 0, &[])).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644);
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        assert!(show(&path).unwrap().contains("exit code 0 (ok)"));
        std::fs::write(&path, "garbage").unwrap();
        assert!(show(&path)
            .unwrap_err()
            .to_string()
            .contains("not a dyn53 status"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
