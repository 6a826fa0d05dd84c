//! Per-host CloudWatch metrics as Embedded Metric Format (EMF) lines.
//!
//! In Lambda, a JSON line on stdout in this format becomes metrics with no API call (and
//! moto cannot serve the CBOR protocol newer CloudWatch SDKs speak). Writing a line never
//! fails a request: a lost metric is better than a lost update.

use serde_json::{json, Value};
use std::io::Write;
use std::sync::Mutex;

/// The Hostname dimension for requests that name no known host, so strangers cannot create
/// billed metrics by sending made-up names.
pub const UNKNOWN_HOST: &str = "(unknown)";

/// Metric names, as the template's alarms use them.
pub const NAMES: [&str; 5] = ["CheckIn", "Changed", "AuthFailure", "Error", "LanChanged"];

/// Counts for one request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// An authenticated set request arrived (the router is alive).
    pub check_in: u32,
    /// The record was created or changed.
    pub changed: u32,
    /// Authentication failed (unknown host, bad token or signature).
    pub auth_failure: u32,
    /// Something failed on the server side (Route 53, table, notification, bad host config).
    pub error: u32,
    /// LAN records moved to a new prefix by this request (see [`crate::lan`]).
    pub lan_changed: u32,
}

impl Counts {
    /// Whether every count is zero.
    pub fn is_empty(&self) -> bool {
        *self == Counts::default()
    }

    fn values(&self) -> [u32; 5] {
        [
            self.check_in,
            self.changed,
            self.auth_failure,
            self.error,
            self.lan_changed,
        ]
    }
}

/// Records per-host counts.
pub trait Metrics: Send + Sync {
    /// Records the counts of one request for `hostname` (or [`UNKNOWN_HOST`]).
    fn record(&self, hostname: &str, counts: Counts, now_ms: u64);
}

/// Writes one EMF line per request to `W` (stdout on Lambda and in the local service).
pub struct Emf<W> {
    namespace: String,
    out: Mutex<W>,
}

impl<W: Write + Send> Emf<W> {
    /// Metrics in `namespace` written to `out`.
    pub fn new(namespace: &str, out: W) -> Self {
        Emf {
            namespace: namespace.to_string(),
            out: Mutex::new(out),
        }
    }
}

/// The EMF document for one request. Only non-zero counts are published (each metric and
/// Hostname pair is a billed custom metric, and the alarms treat missing data as intended),
/// plus an account-wide `Error` total for the template's error alarm.
pub fn emf_line(namespace: &str, hostname: &str, counts: Counts, now_ms: u64) -> String {
    let present: Vec<(&str, u32)> = NAMES
        .iter()
        .copied()
        .zip(counts.values())
        .filter(|(_, v)| *v > 0)
        .collect();
    let unit = |n: &str| json!({"Name": n, "Unit": "Count"});
    let mut directives = vec![json!({
        "Namespace": namespace,
        "Dimensions": [["Hostname"]],
        "Metrics": present.iter().map(|(n, _)| unit(n)).collect::<Vec<_>>(),
    })];
    if counts.error > 0 {
        directives.push(json!({
            "Namespace": namespace,
            "Dimensions": [[]],
            "Metrics": [unit("Error")],
        }));
    }
    let mut doc = json!({
        "_aws": {"Timestamp": now_ms, "CloudWatchMetrics": directives},
        "Hostname": hostname,
    });
    for (name, v) in present {
        doc[name] = json!(v);
    }
    doc.to_string()
}

/// Reads an EMF line back into (hostname, counts); None if it is not one of ours.
pub fn parse_emf_line(line: &str) -> Option<(String, Counts)> {
    let v: Value = serde_json::from_str(line).ok()?;
    let directives = v.get("_aws")?.get("CloudWatchMetrics")?.as_array()?;
    // Every published metric must have its value in the document, as EMF requires.
    for d in directives {
        for m in d.get("Metrics")?.as_array()? {
            v.get(m.get("Name")?.as_str()?)?.as_u64()?;
        }
    }
    let n = |k: &str| v.get(k).and_then(Value::as_u64).unwrap_or(0) as u32;
    Some((
        v.get("Hostname")?.as_str()?.to_string(),
        Counts {
            check_in: n("CheckIn"),
            changed: n("Changed"),
            auth_failure: n("AuthFailure"),
            error: n("Error"),
            lan_changed: n("LanChanged"),
        },
    ))
}

impl<W: Write + Send> Metrics for Emf<W> {
    fn record(&self, hostname: &str, counts: Counts, now_ms: u64) {
        let line = emf_line(&self.namespace, hostname, counts, now_ms);
        if let Ok(mut out) = self.out.lock() {
            let _ = writeln!(out, "{line}").and_then(|_| out.flush());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emf_round_trip() {
        let c = Counts {
            check_in: 1,
            changed: 1,
            auth_failure: 0,
            error: 1,
            lan_changed: 3,
        };
        let m = Emf::new("dyn53", Vec::new());
        m.record("home.example.com", c, 1_700_000_000_000);
        let text = String::from_utf8(m.out.into_inner().unwrap()).unwrap();
        assert!(text.ends_with('\n'));
        let v: Value = serde_json::from_str(text.trim()).unwrap();
        let d = &v["_aws"]["CloudWatchMetrics"];
        assert_eq!(d[0]["Namespace"], "dyn53");
        assert_eq!(d[0]["Dimensions"], json!([["Hostname"]]));
        let names: Vec<&str> = d[0]["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["Name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            ["CheckIn", "Changed", "Error", "LanChanged"],
            "zeros are not published"
        );
        assert_eq!(d[1]["Dimensions"], json!([[]]));
        assert_eq!(v["_aws"]["Timestamp"], 1_700_000_000_000u64);
        assert!(v.get("AuthFailure").is_none());
        assert_eq!(
            parse_emf_line(text.trim()),
            Some(("home.example.com".into(), c))
        );
        assert_eq!(parse_emf_line("{\"a\":1}"), None);
        let no_error = emf_line(
            "dyn53",
            "h.example",
            Counts {
                check_in: 1,
                ..Counts::default()
            },
            0,
        );
        assert_eq!(
            serde_json::from_str::<Value>(&no_error).unwrap()["_aws"]["CloudWatchMetrics"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
    }
}
