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
pub const NAMES: [&str; 4] = ["CheckIn", "Changed", "AuthFailure", "Error"];

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
}

impl Counts {
    /// Whether every count is zero.
    pub fn is_empty(&self) -> bool {
        *self == Counts::default()
    }

    fn values(&self) -> [u32; 4] {
        [self.check_in, self.changed, self.auth_failure, self.error]
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

/// The EMF document for one request: per-host metrics and, through the empty dimension
/// set, account-wide totals that the template's error alarm watches.
pub fn emf_line(namespace: &str, hostname: &str, counts: Counts, now_ms: u64) -> String {
    let mut doc = json!({
        "_aws": {
            "Timestamp": now_ms,
            "CloudWatchMetrics": [{
                "Namespace": namespace,
                "Dimensions": [["Hostname"], []],
                "Metrics": NAMES.iter().map(|n| json!({"Name": n, "Unit": "Count"})).collect::<Vec<_>>(),
            }],
        },
        "Hostname": hostname,
    });
    for (name, v) in NAMES.iter().zip(counts.values()) {
        doc[*name] = json!(v);
    }
    doc.to_string()
}

/// Reads an EMF line back into (hostname, counts); None if it is not one of ours.
pub fn parse_emf_line(line: &str) -> Option<(String, Counts)> {
    let v: Value = serde_json::from_str(line).ok()?;
    v.get("_aws")?.get("CloudWatchMetrics")?;
    let n = |k: &str| v.get(k).and_then(Value::as_u64).map(|x| x as u32);
    Some((
        v.get("Hostname")?.as_str()?.to_string(),
        Counts {
            check_in: n("CheckIn")?,
            changed: n("Changed")?,
            auth_failure: n("AuthFailure")?,
            error: n("Error")?,
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
            error: 0,
        };
        let m = Emf::new("dyn53", Vec::new());
        m.record("home.example.com", c, 1_700_000_000_000);
        let text = String::from_utf8(m.out.into_inner().unwrap()).unwrap();
        assert!(text.ends_with('\n'));
        let v: Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(v["_aws"]["CloudWatchMetrics"][0]["Namespace"], "dyn53");
        assert_eq!(v["_aws"]["Timestamp"], 1_700_000_000_000u64);
        assert_eq!(
            parse_emf_line(text.trim()),
            Some(("home.example.com".into(), c))
        );
        assert_eq!(parse_emf_line("{\"a\":1}"), None);
    }
}
