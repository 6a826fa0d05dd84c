//! Notifications to the owner (SNS: SMS or email, and the push channels of
//! [`crate::channels`]) and their SMS-sized texts.

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

    /// Sends `msg`; a notifier that routes by host or event kind reads `msg.event`.
    fn send(&self, msg: &Message) -> impl Future<Output = Result<(), NotifyError>> + Send {
        self.publish(&msg.subject, &msg.text)
    }
}

/// What an alert is about (the `event` of the JSON webhook payload).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A record changed.
    Change,
    /// A failed authentication for a known host.
    AuthFailure,
    /// An update failed on the server side.
    Error,
    /// A host has not checked in for longer than its `silent-after` hours.
    Silent,
    /// A silent host checked in again.
    Back,
    /// A CloudWatch alarm of the stack (forwarded from the SNS topic).
    Alarm,
    /// `notify test`.
    Test,
}

impl Kind {
    /// Kinds a channel can choose (`--events`); `back` goes with `silent`, `test` everywhere.
    pub const CHOSEN: [Kind; 5] = [
        Kind::Change,
        Kind::AuthFailure,
        Kind::Error,
        Kind::Silent,
        Kind::Alarm,
    ];

    /// The name in `--events`, channel settings and the webhook payload.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Change => "change",
            Kind::AuthFailure => "auth-failure",
            Kind::Error => "error",
            Kind::Silent => "silent",
            Kind::Back => "back",
            Kind::Alarm => "alarm",
            Kind::Test => "test",
        }
    }

    /// The kind named `name` (one of [`Kind::CHOSEN`]).
    pub fn parse(name: &str) -> Option<Kind> {
        Kind::CHOSEN.into_iter().find(|k| k.name() == name)
    }

    /// The chosen kind this one is delivered as (`back` with `silent`).
    pub fn chosen_as(self) -> Kind {
        match self {
            Kind::Back => Kind::Silent,
            k => k,
        }
    }
}

/// The facts of one alert, for channels that send structured data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// What happened.
    pub kind: Kind,
    /// The host ("" for a stack-wide alarm).
    pub host: String,
    /// The record type, for changes and errors.
    pub rtype: Option<RecordType>,
    /// Previous value (address, last check-in time, alarm state), if any.
    pub old: Option<String>,
    /// New value (address, alarm state), if any.
    pub new: Option<String>,
    /// Unix seconds.
    pub time: u64,
}

impl Event {
    fn new(kind: Kind, host: &str, now: u64) -> Event {
        Event {
            kind,
            host: host.to_string(),
            rtype: None,
            old: None,
            new: None,
            time: now,
        }
    }
}

/// A notification: subject and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Email subject line.
    pub subject: String,
    /// Body, short enough for one SMS in the common case.
    pub text: String,
    /// The facts, for routing and structured channels.
    pub event: Event,
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
        event: Event {
            rtype: Some(t),
            old: (old != "none").then_some(old),
            new: Some(new.to_string()),
            ..Event::new(Kind::Change, host, now)
        },
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
        event: Event {
            new: Some(from.to_string()),
            ..Event::new(Kind::AuthFailure, host, now)
        },
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
        event: Event {
            rtype: Some(t),
            new: Some(what.to_string()),
            ..Event::new(Kind::Error, host, now)
        },
    }
}

/// A host silent for longer than its `silent-after` hours; `seen` is its last check-in.
pub fn silent(host: &str, seen: u64, hours: u32, now: u64) -> Message {
    Message {
        subject: format!("dyn53: {host} is silent"),
        text: format!(
            "dyn53: {host} silent for over {hours} h, last check-in {} ({})",
            utc_minute(seen),
            utc_minute(now)
        ),
        event: Event {
            old: Some(seen.to_string()),
            ..Event::new(Kind::Silent, host, now)
        },
    }
}

/// A silent host checked in again at `seen`.
pub fn back(host: &str, seen: u64, now: u64) -> Message {
    Message {
        subject: format!("dyn53: {host} is back"),
        text: format!(
            "dyn53: {host} is back, checked in {} ({})",
            utc_minute(seen),
            utc_minute(now)
        ),
        event: Event {
            new: Some(seen.to_string()),
            ..Event::new(Kind::Back, host, now)
        },
    }
}

/// A CloudWatch alarm changed state (`reason` is CloudWatch's own text, shortened).
pub fn alarm(name: &str, old: &str, new: &str, reason: &str, now: u64) -> Message {
    let reason: String = reason.chars().take(200).collect();
    Message {
        subject: format!("dyn53: alarm {name} {new}"),
        text: format!(
            "dyn53: alarm {name} is {new}: {reason} ({})",
            utc_minute(now)
        ),
        event: Event {
            old: Some(old.to_string()),
            new: Some(new.to_string()),
            ..Event::new(Kind::Alarm, "", now)
        },
    }
}

/// What `notify test` sends.
pub fn test(channel: &str, now: u64) -> Message {
    Message {
        subject: "dyn53: test message".into(),
        text: format!(
            "dyn53: test message for channel {channel} ({})",
            utc_minute(now)
        ),
        event: Event::new(Kind::Test, "", now),
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
        assert_eq!((m.event.kind, m.event.old), (Kind::Change, None));
        assert_eq!(m.event.new.as_deref(), Some("2001:db8::7"));
        let m = silent("home.example.com", 1_795_600_800, 6, 1_795_630_000);
        assert_eq!(
            m.text,
            "dyn53: home.example.com silent for over 6 h, last check-in 2026-11-25 10:00 UTC \
             (2026-11-25 18:06 UTC)"
        );
        for k in Kind::CHOSEN {
            assert_eq!(Kind::parse(k.name()), Some(k));
        }
        assert_eq!(
            (Kind::parse("back"), Kind::Back.chosen_as()),
            (None, Kind::Silent)
        );
    }
}
