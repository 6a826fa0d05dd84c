//! Push channels beside SNS: ntfy, Telegram, Slack/Discord-style chat webhooks and a
//! generic JSON webhook; their settings (kept as SSM SecureString parameters, see
//! [`crate::ssm`]) and [`Fanout`], the [`Notifier`] that sends one alert to SNS and to
//! every channel that wants it, in parallel and within a fixed time.

pub mod chat;
pub mod http;
pub mod ntfy;
pub mod telegram;
pub mod webhook;

use crate::log;
use crate::notify::{Event, Kind, Message, Notifier, NotifyError};
use serde_json::{json, Value};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

pub use chat::Flavor;
pub use http::Http;

/// Time one channel may take; they all run at once, so this bounds how long an alert
/// delays the answer to the router.
pub const BUDGET: Duration = Duration::from_millis(2500);

/// One HTTP POST a channel makes.
#[derive(Clone, PartialEq, Eq)]
pub struct Request {
    /// Where to (may hold a token: never logged).
    pub url: String,
    /// Header names and values.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Request {
    /// A POST of `body` as JSON.
    pub fn json(url: String, body: &Value) -> Request {
        Request {
            url,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: body.to_string().into_bytes(),
        }
    }
}

/// A header value: printable ASCII only (HTTP headers are not UTF-8).
pub fn header_text(s: &str) -> String {
    s.chars()
        .map(|c| if (' '..='~').contains(&c) { c } else { '?' })
        .take(200)
        .collect()
}

/// Where a channel sends, with its secrets.
#[derive(Clone, PartialEq, Eq)]
pub enum Target {
    /// An ntfy server and topic, with an optional access token.
    Ntfy {
        /// `https://ntfy.sh` or a self-hosted server.
        server: String,
        /// The topic (on a public server, the topic name is the password).
        topic: String,
        /// Access token (`tk_...`), sent as `Authorization: Bearer`.
        token: Option<String>,
    },
    /// A Telegram bot and chat.
    Telegram {
        /// The Bot API server ([`telegram::API`] unless tested).
        api: String,
        /// The bot token from @BotFather.
        token: String,
        /// The chat to write to.
        chat_id: String,
    },
    /// A Slack-, Mattermost- or Discord-style incoming webhook.
    Chat {
        /// The webhook URL (it holds the token).
        url: String,
        /// Which JSON field carries the text.
        flavor: Flavor,
    },
    /// The generic JSON webhook.
    Webhook {
        /// Where to POST (may hold a token).
        url: String,
    },
}

impl Target {
    /// The channel type's name (`ntfy`, `telegram`, `slack`, `discord`, `webhook`).
    pub fn kind(&self) -> &'static str {
        match self {
            Target::Ntfy { .. } => "ntfy",
            Target::Telegram { .. } => "telegram",
            Target::Chat { flavor, .. } => flavor.name(),
            Target::Webhook { .. } => "webhook",
        }
    }

    /// The request that delivers `msg`.
    pub fn request(&self, msg: &Message) -> Request {
        match self {
            Target::Ntfy {
                server,
                topic,
                token,
            } => ntfy::request(server, topic, token.as_deref(), msg),
            Target::Telegram {
                api,
                token,
                chat_id,
            } => telegram::request(api, token, chat_id, msg),
            Target::Chat { url, flavor } => chat::request(url, *flavor, msg),
            Target::Webhook { url } => webhook::request(url, msg),
        }
    }

    /// The URL the channel posts to must be https (or http to loopback).
    fn base_url(&self) -> &str {
        match self {
            Target::Ntfy { server, .. } => server,
            Target::Telegram { api, .. } => api,
            Target::Chat { url, .. } | Target::Webhook { url } => url,
        }
    }
}

/// A named channel and what it receives.
#[derive(Clone, PartialEq, Eq)]
pub struct Channel {
    /// The owner's name for it (letters, digits, `-`, `_`).
    pub name: String,
    /// Where it sends.
    pub target: Target,
    /// The hosts whose alerts it receives (empty: all).
    pub hosts: Vec<String>,
    /// The kinds of alert it receives (empty: all).
    pub events: Vec<Kind>,
}

// Hand-written: a channel's token, topic or webhook URL never reaches a log.
impl fmt::Debug for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Channel({} {})", self.name, self.summary())
    }
}

/// A channel setting is missing or malformed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelError(pub String);

impl fmt::Display for ChannelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ChannelError {}

/// Whether `name` can name a channel (it becomes part of an SSM parameter name).
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl Channel {
    /// A checked channel.
    pub fn new(
        name: &str,
        target: Target,
        hosts: Vec<String>,
        events: Vec<Kind>,
    ) -> Result<Channel, ChannelError> {
        if !valid_name(name) {
            return Err(ChannelError(format!(
                "channel name {name:?} must be 1 to 64 letters, digits, '-' or '_'"
            )));
        }
        http::check_url(target.base_url())
            .map_err(|e| ChannelError(format!("channel {name}: {e}")))?;
        let empty = |s: &str| s.trim().is_empty();
        let missing = match &target {
            Target::Ntfy { topic, .. } if empty(topic) || topic.contains('/') => Some("--topic"),
            Target::Telegram { token, .. } if empty(token) || token.contains('/') => {
                Some("--token")
            }
            Target::Telegram { chat_id, .. } if empty(chat_id) => Some("--chat-id"),
            _ => None,
        };
        if let Some(flag) = missing {
            return Err(ChannelError(format!(
                "channel {name}: {flag} is missing or malformed"
            )));
        }
        Ok(Channel {
            name: name.to_string(),
            target,
            hosts,
            events,
        })
    }

    /// Whether this channel receives `e`.
    pub fn wants(&self, e: &Event) -> bool {
        if e.kind == Kind::Test {
            return true;
        }
        let kind = e.kind.chosen_as();
        let kind_ok = self.events.is_empty() || self.events.contains(&kind);
        // Alarms are about the whole stack, not a host.
        let host_ok = kind == Kind::Alarm || self.hosts.is_empty() || self.hosts.contains(&e.host);
        kind_ok && host_ok
    }

    /// What `notify list` shows: everything but secrets.
    pub fn summary(&self) -> String {
        let list = |v: Vec<String>| {
            if v.is_empty() {
                "all".to_string()
            } else {
                v.join(",")
            }
        };
        let mut text = self.target.kind().to_string();
        if let Target::Ntfy { server, .. } = &self.target {
            text.push_str(&format!(" on {server}"));
        }
        format!(
            "{text}; hosts {}; events {}",
            list(self.hosts.clone()),
            list(self.events.iter().map(|k| k.name().to_string()).collect())
        )
    }

    /// The stored form (a JSON object; the SSM parameter's value).
    pub fn to_json(&self) -> String {
        let mut v = match &self.target {
            Target::Ntfy {
                server,
                topic,
                token,
            } => json!({"type": "ntfy", "server": server, "topic": topic, "token": token}),
            Target::Telegram {
                api,
                token,
                chat_id,
            } => json!({"type": "telegram", "api": api, "token": token, "chat_id": chat_id}),
            Target::Chat { url, flavor } => json!({"type": flavor.name(), "url": url}),
            Target::Webhook { url } => json!({"type": "webhook", "url": url}),
        };
        v["hosts"] = json!(self.hosts);
        v["events"] = json!(self.events.iter().map(|k| k.name()).collect::<Vec<_>>());
        v.to_string()
    }

    /// Reads the stored form back; the error never quotes the value (it holds secrets).
    pub fn from_json(name: &str, text: &str) -> Result<Channel, ChannelError> {
        let bad = |what: &str| ChannelError(format!("channel {name}: {what}"));
        let Ok(Value::Object(v)) = serde_json::from_str::<Value>(text) else {
            return Err(bad("the stored value is not a JSON object"));
        };
        let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        let need = |k: &str| text(k).ok_or_else(|| bad(&format!("\"{k}\" is missing")));
        let target = match text("type").as_deref() {
            Some("ntfy") => Target::Ntfy {
                server: need("server")?,
                topic: need("topic")?,
                token: text("token"),
            },
            Some("telegram") => Target::Telegram {
                api: text("api").unwrap_or_else(|| telegram::API.to_string()),
                token: need("token")?,
                chat_id: need("chat_id")?,
            },
            Some("slack") => Target::Chat {
                url: need("url")?,
                flavor: Flavor::Slack,
            },
            Some("discord") => Target::Chat {
                url: need("url")?,
                flavor: Flavor::Discord,
            },
            Some("webhook") => Target::Webhook { url: need("url")? },
            _ => return Err(bad("unknown \"type\"")),
        };
        let list = |k: &str| -> Vec<String> {
            v.get(k)
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default()
        };
        let events = list("events")
            .iter()
            .map(|e| Kind::parse(e).ok_or_else(|| bad(&format!("unknown event {e:?}"))))
            .collect::<Result<_, _>>()?;
        Channel::new(name, target, list("hosts"), events)
    }
}

/// Parses `--events change,silent` (empty: all).
pub fn parse_events(list: &str) -> Result<Vec<Kind>, ChannelError> {
    list.split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(|e| {
            Kind::parse(e).ok_or_else(|| {
                let known: Vec<_> = Kind::CHOSEN.iter().map(|k| k.name()).collect();
                ChannelError(format!("unknown event {e:?} (known: {})", known.join(", ")))
            })
        })
        .collect()
}

/// Sends each alert to SNS (if any) and to the channels that want it, all at once; each
/// channel gets one try within [`BUDGET`] (no retries: a failed push is logged and
/// counted, never repeated into a storm).
#[derive(Clone)]
pub struct Fanout<N> {
    sns: Option<N>,
    channels: Arc<[Channel]>,
    http: Option<Http>,
    budget: Duration,
}

impl<N: Notifier> Fanout<N> {
    /// SNS (if any) plus `channels`; fails only if the HTTPS client cannot be set up.
    pub fn new(sns: Option<N>, channels: Vec<Channel>) -> Result<Fanout<N>, String> {
        // Reading the root certificates costs start-up time: only when there is a channel.
        let http = if channels.is_empty() {
            None
        } else {
            Some(Http::new()?)
        };
        Ok(Fanout {
            sns,
            channels: channels.into(),
            http,
            budget: BUDGET,
        })
    }

    /// The same with another per-channel time budget.
    pub fn with_budget(mut self, budget: Duration) -> Fanout<N> {
        self.budget = budget;
        self
    }

    /// The same without SNS (for alerts that came from the SNS topic).
    pub fn without_sns(&self) -> Fanout<N> {
        Fanout {
            sns: None,
            channels: self.channels.clone(),
            http: self.http.clone(),
            budget: self.budget,
        }
    }

    /// Whether anything would be sent at all.
    pub fn is_empty(&self) -> bool {
        self.sns.is_none() && self.channels.is_empty()
    }

    /// The channels' names that failed (each logged), for `msg`.
    async fn push(&self, msg: &Message) -> Vec<String> {
        let Some(http) = &self.http else {
            return Vec::new();
        };
        let mut set = tokio::task::JoinSet::new();
        for c in self.channels.iter().filter(|c| c.wants(&msg.event)) {
            let (http, req, budget) = (http.clone(), c.target.request(msg), self.budget);
            let (name, kind) = (c.name.clone(), c.target.kind());
            set.spawn(async move { (name, kind, http.post(req, budget).await) });
        }
        let mut failed = Vec::new();
        while let Some(done) = set.join_next().await {
            match done {
                Ok((_, _, Ok(()))) => {}
                Ok((name, kind, Err(e))) => {
                    log::error(format!("alert channel {name} ({kind}) failed: {e}"));
                    failed.push(name);
                }
                Err(e) => {
                    log::error(format!("alert channel task failed: {e}"));
                    failed.push("?".into());
                }
            }
        }
        failed.sort();
        failed
    }
}

impl<N: Notifier> Notifier for Fanout<N> {
    async fn publish(&self, subject: &str, text: &str) -> Result<(), NotifyError> {
        let msg = Message {
            subject: subject.to_string(),
            text: text.to_string(),
            event: Event {
                kind: Kind::Alarm,
                host: String::new(),
                rtype: None,
                old: None,
                new: None,
                time: crate::clock::now_unix(),
            },
        };
        self.send(&msg).await
    }

    async fn send(&self, msg: &Message) -> Result<(), NotifyError> {
        let sns = async {
            match &self.sns {
                Some(n) => n.send(msg).await,
                None => Ok(()),
            }
        };
        let (sns, failed) = tokio::join!(sns, self.push(msg));
        let mut problems = Vec::new();
        if let Err(e) = sns {
            problems.push(format!("SNS: {}", e.0));
        }
        if !failed.is_empty() {
            problems.push(format!("channels failed: {}", failed.join(", ")));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(NotifyError(problems.join("; ")))
        }
    }
}

/// No SNS topic (the local service without one, `notify test`).
#[derive(Clone, Copy, Debug)]
pub struct NoSns;

impl Notifier for NoSns {
    async fn publish(&self, _: &str, _: &str) -> Result<(), NotifyError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ntfy() -> Channel {
        let t = Target::Ntfy {
            server: "https://ntfy.sh".into(),
            topic: "secret-topic".into(),
            token: Some("tk_secret".into()),
        };
        Channel::new("phone", t, vec!["a.example.com".into()], vec![Kind::Silent]).unwrap()
    }

    #[test]
    fn stored_form_round_trips_and_hides_secrets() {
        let c = ntfy();
        assert_eq!(Channel::from_json("phone", &c.to_json()), Ok(c.clone()));
        let shown = format!("{c:?} {}", c.summary());
        assert!(!shown.contains("secret"), "{shown}");
        assert_eq!(
            c.summary(),
            "ntfy on https://ntfy.sh; hosts a.example.com; events silent"
        );
        let e = Channel::from_json("x", r#"{"type":"webhook","url":"http://example.com/tok"}"#)
            .unwrap_err();
        assert!(!e.0.contains("tok"), "{e}");
        assert!(Channel::from_json("x", r#"{"type":"sms"}"#).is_err());
        assert!(Channel::from_json("x", "tk_secret").is_err());
        assert!(Channel::new("bad/name", c.target.clone(), vec![], vec![]).is_err());
    }

    #[test]
    fn routing_by_host_and_kind() {
        let c = ntfy();
        let m = |kind, host: &str| Event {
            kind,
            host: host.into(),
            rtype: None,
            old: None,
            new: None,
            time: 0,
        };
        assert!(c.wants(&m(Kind::Silent, "a.example.com")));
        assert!(c.wants(&m(Kind::Back, "a.example.com")));
        assert!(!c.wants(&m(Kind::Silent, "b.example.com")));
        assert!(!c.wants(&m(Kind::Change, "a.example.com")));
        assert!(c.wants(&m(Kind::Test, "")));
        let all = Channel {
            hosts: vec![],
            events: vec![],
            ..c
        };
        assert!(all.wants(&m(Kind::Change, "b.example.com")));
        assert_eq!(
            parse_events("change, silent").unwrap(),
            vec![Kind::Change, Kind::Silent]
        );
        assert!(parse_events("sms").is_err());
    }
}
