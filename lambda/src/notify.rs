//! Notifications to the owner (SNS: SMS or email) and their SMS-sized texts.

use crate::clock::utc_minute;
use dyn53::protocol::RecordType;
use std::fmt;
use std::future::Future;
use std::net::IpAddr;

/// A notification could not be sent. The detail is for the server log only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyError(pub String);

impl fmt::Display for NotifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "notification failed: {}", self.0)
    }
}

impl std::error::Error for NotifyError {}

/// Sends a short text to the owner.
pub trait Notifier: Send + Sync {
    /// Publishes `text`; `subject` is the email subject line (SMS ignores it).
    fn publish(
        &self,
        subject: &str,
        text: &str,
    ) -> impl Future<Output = Result<(), NotifyError>> + Send;
}

/// A notification: subject and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Email subject line.
    pub subject: String,
    /// Body, short enough for one SMS in the common case.
    pub text: String,
}

/// `dyn53: home.example.com A changed 198.51.100.1 -> 203.0.113.7 (2026-11-25 10:00 UTC)`.
pub fn changed(host: &str, t: RecordType, old: Option<IpAddr>, new: IpAddr, now: u64) -> Message {
    let old = old.map_or_else(|| "none".to_string(), |ip| ip.to_string());
    Message {
        subject: format!("dyn53: {host} {t} changed"),
        text: format!(
            "dyn53: {host} {t} changed {old} -> {new} ({})",
            utc_minute(now)
        ),
    }
}

/// A failed authentication for a known host, with the caller's address.
pub fn auth_failure(host: &str, from: IpAddr, now: u64) -> Message {
    Message {
        subject: format!("dyn53: {host} authentication failure"),
        text: format!(
            "dyn53: {host} authentication failure from {from} ({})",
            utc_minute(now)
        ),
    }
}

/// An update that failed on the server side; `what` is dyn53's own short text.
pub fn error(host: &str, t: RecordType, what: &str, now: u64) -> Message {
    Message {
        subject: format!("dyn53: {host} {t} update failed"),
        text: format!(
            "dyn53: {host} {t} update failed: {what} ({})",
            utc_minute(now)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts() {
        let m = changed(
            "home.example.com",
            RecordType::A,
            Some("198.51.100.1".parse().unwrap()),
            "203.0.113.7".parse().unwrap(),
            1_795_600_800,
        );
        assert_eq!(
            m.text,
            "dyn53: home.example.com A changed 198.51.100.1 -> 203.0.113.7 (2026-11-25 10:00 UTC)"
        );
        let m = changed(
            "home.example.com",
            RecordType::Aaaa,
            None,
            "2001:db8::7".parse().unwrap(),
            0,
        );
        assert_eq!(
            m.text,
            "dyn53: home.example.com AAAA changed none -> 2001:db8::7 (1970-01-01 00:00 UTC)"
        );
        assert!(m.text.len() <= 160);
    }
}
