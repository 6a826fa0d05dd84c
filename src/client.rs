//! The conversation with the backend for one record: `get` (the address the backend sees,
//! plus a nonce in v2), sign, `set` on the same connection; and the read-only variants used
//! by `ip`, `check` and `--dry-run`.

use crate::backoff::{retry, Deadline};
use crate::config::{Protocol, Record, Secret, Settings};
use crate::error::Error;
use crate::logging as log;
use crate::protocol::auth::nonce_syntax_ok;
use crate::protocol::{
    is_behind_nat, v1_token, ErrorCode, IpMode, LanPrefix, Outcome, RecordType, Request, Response,
    SetV1, SetV2, SignedFields,
};
use crate::resolve;
use crate::transport::{Answer, Sent, Transport};
use std::cell::Cell;
use std::net::IpAddr;

/// Longest backend message shown in a log line.
const MAX_MESSAGE: usize = 200;

/// What the backend sees over one address family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// The caller's address as the backend sees it.
    pub ip: IpAddr,
    /// v2 nonce for the following set (never logged).
    nonce: Option<String>,
}

/// The result for one record, printed as one stdout line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordResult {
    /// The record already held the address.
    Unchanged(IpAddr),
    /// The record was set (`old` is `None` if it did not exist).
    Changed {
        /// Previous address.
        old: Option<IpAddr>,
        /// New address.
        new: IpAddr,
    },
    /// The record was set; the backend did not say what it held (reference-shaped answers).
    Set(IpAddr),
    /// Dry run: the record would be set (`old` is the current DNS answer).
    WouldChange {
        /// Current DNS answer.
        old: Vec<IpAddr>,
        /// Address that would be set.
        new: IpAddr,
    },
    /// `check`: DNS answers exactly the expected address.
    InSync(IpAddr),
    /// `check`: DNS answers something else.
    OutOfSync {
        /// Current DNS answer.
        dns: Vec<IpAddr>,
        /// Address the record should hold.
        expected: IpAddr,
    },
}

impl RecordResult {
    /// The stdout line for `record` (see `--help`; router scripts parse it).
    pub fn line(&self, record: &Record) -> String {
        let r = record;
        match self {
            RecordResult::Unchanged(ip) => format!("{r} unchanged {ip}"),
            RecordResult::Changed { old, new } => {
                let old = old.map_or_else(|| "none".to_string(), |o| o.to_string());
                format!("{r} changed {old} -> {new}")
            }
            RecordResult::Set(ip) => format!("{r} changed -> {ip}"),
            RecordResult::WouldChange { old, new } => {
                format!("{r} would-change {} -> {new}", resolve::show(old))
            }
            RecordResult::InSync(ip) => format!("{r} in-sync {ip}"),
            RecordResult::OutOfSync { dns, expected } => {
                format!(
                    "{r} out-of-sync dns={} expected={expected}",
                    resolve::show(dns)
                )
            }
        }
    }
}

/// One run's connection to the backend and its settings.
pub struct Session<'a> {
    settings: &'a Settings,
    transport: Transport,
    deadline: Deadline,
    hint: Option<IpAddr>,
    dry_run: bool,
    /// The LAN prefix still to send (with the first set that succeeds).
    lan: Cell<Option<LanPrefix>>,
    /// The prefix sent and the backend's list of LAN records in it, until the status file
    /// takes them.
    lan_answer: Cell<Option<(LanPrefix, Box<str>)>>,
}

impl<'a> Session<'a> {
    /// Sends `lan` (the router's LAN prefix) with the first set of the run.
    pub fn lan_prefix(self, lan: Option<LanPrefix>) -> Self {
        Session {
            lan: Cell::new(lan),
            ..self
        }
    }

    /// The LAN prefix the last set sent and the LAN records the backend answered for it
    /// (`name=address ...`; empty from a backend that does not name them), once.
    pub fn take_lan_answer(&self) -> Option<(LanPrefix, Box<str>)> {
        self.lan_answer.take()
    }

    /// Prepares a session; `hint` is `--ip`. Fails on a missing url or a bad `ca_file`.
    pub fn new(
        settings: &'a Settings,
        deadline: Deadline,
        hint: Option<IpAddr>,
        dry_run: bool,
    ) -> Result<Self, Error> {
        let url = require_url(settings)?;
        Ok(Session {
            settings,
            transport: Transport::new(url, settings.ca_file.as_deref())?,
            deadline,
            hint,
            dry_run,
            lan: Cell::new(None),
            lan_answer: Cell::new(None),
        })
    }

    /// One request, in the form the protocol setting names, within the time left.
    fn send(&self, family: RecordType, request: &Request) -> Result<Answer, Error> {
        self.deadline.check()?;
        let text;
        let sent = match (self.settings.protocol, request) {
            (Protocol::V1Query, r) => {
                text = r.to_query().unwrap_or_default();
                Sent::Query(&text)
            }
            // The reference backend's form, without dyn53's protocol field.
            (Protocol::V1, Request::Get) => Sent::Json(r#"{"execution_mode":"get"}"#),
            (_, r) => {
                text = r.to_json();
                Sent::Json(&text)
            }
        };
        self.transport
            .send(family, sent, self.deadline.attempt_budget())
    }

    /// Reads the answer to `what` (see [`interpret`]).
    fn read(&self, answer: &Answer, what: &str) -> Result<Response, Error> {
        interpret(answer, self.transport.host(), self.settings.protocol, what)
    }

    /// The error for an answer that is not what the protocol says.
    fn unexpected(&self, answer: &Answer, what: &str) -> Error {
        not_dyn53(answer, self.transport.host(), what, self.settings.protocol)
    }

    /// One `get`: the address the backend sees over `family`'s address family.
    pub fn get(&self, family: RecordType) -> Result<Seen, Error> {
        let answer = self.send(family, &Request::Get)?;
        let r = self.read(&answer, "a get")?;
        let ip = match (r.outcome, r.ip) {
            (Outcome::Ip, Some(ip)) => crate::protocol::canonical_ip(ip),
            _ => return Err(self.unexpected(&answer, "a get")),
        };
        if self.settings.protocol == Protocol::V2 && r.nonce.is_none() {
            return Err(Error::BadAnswer {
                status: answer.status,
                message: format!(
                    "{} gave no nonce, so it does not speak protocol 2 (for a reference-design \
                     backend set protocol 1)",
                    self.transport.host()
                ),
            });
        }
        // The nonce goes into the signed text: one with line breaks or other bytes outside
        // the nonce syntax could make a signature over fields the client never meant.
        let v2 = self.settings.protocol == Protocol::V2;
        if let Some(n) = r.nonce.as_deref().filter(|n| v2 && !nonce_syntax_ok(n)) {
            return Err(Error::BadAnswer {
                status: answer.status,
                message: format!(
                    "{} gave a malformed nonce ({} bytes); nothing was signed",
                    self.transport.host(),
                    n.len()
                ),
            });
        }
        log::debug!("backend sees {ip}");
        Ok(Seen { ip, nonce: r.nonce })
    }

    /// The address the backend sees over `family`, retried until the deadline.
    pub fn public_ip(&self, family: RecordType) -> Result<IpAddr, Error> {
        let what = format!(
            "get over {}",
            if family == RecordType::A {
                "IPv4"
            } else {
                "IPv6"
            }
        );
        let seen = retry(&self.deadline, &what, || self.get(family))?;
        self.compare_hint(&seen, family);
        Ok(seen.ip)
    }

    /// Logs how `--ip` relates to what the backend sees.
    fn compare_hint(&self, seen: &Seen, family: RecordType) {
        if let Some(hint) = self.hint.filter(|h| family.matches(*h)) {
            if hint != seen.ip && !is_behind_nat(hint) {
                log::warn!(
                    "--ip says {hint} but the backend sees {} (another NAT or a proxy in \
                     between?); using {}",
                    seen.ip,
                    seen.ip
                );
            }
        }
    }

    /// The address to put in `record` and how it was chosen.
    fn address_for(&self, record: &Record, seen: &Seen) -> Result<(IpAddr, IpMode), Error> {
        if record.explicit_ip {
            if let Some(hint) = self.hint.filter(|h| record.record_type.matches(*h)) {
                return Ok((hint, IpMode::Explicit));
            }
            log::warn!(
                "{record}: explicit_ip needs an --ip address of the record's family; using \
                 the address the backend sees"
            );
        }
        if !record.record_type.matches(seen.ip) {
            return Err(Error::Network(format!(
                "the backend saw {} over the connection for {record} (a proxy or NAT64 in \
                 between?); cannot set the record from it",
                seen.ip
            )));
        }
        self.compare_hint(seen, record.record_type);
        Ok((seen.ip, IpMode::Source))
    }

    /// Brings `record` up to date (or, in a dry run, says what would change).
    pub fn update(&self, record: &Record, secret: &Secret) -> Result<RecordResult, Error> {
        retry(&self.deadline, &record.to_string(), || {
            self.update_once(record, secret)
        })
    }

    /// One get + set on the same connection.
    fn update_once(&self, record: &Record, secret: &Secret) -> Result<RecordResult, Error> {
        let seen = self.get(record.record_type)?;
        let (ip, mode) = self.address_for(record, &seen)?;
        if self.dry_run {
            let old = resolve::lookup(&record.hostname, record.record_type);
            log::info!("{record}: dry run, no set sent (current value from DNS)");
            return Ok(if old == [ip] {
                RecordResult::Unchanged(ip)
            } else {
                RecordResult::WouldChange { old, new: ip }
            });
        }
        let request = match self.settings.protocol {
            // The name as configured: the reference's host config and hash use it so.
            Protocol::V1 | Protocol::V1Query => Request::SetV1(SetV1 {
                hostname_raw: record.hostname_raw.clone(),
                hostname: record.hostname.clone(),
                hash: v1_token(&ip.to_string(), &record.hostname_raw, secret.expose()),
            }),
            Protocol::V2 => {
                let nonce = seen.nonce.unwrap_or_default();
                let fields = SignedFields {
                    hostname: &record.hostname,
                    record_type: record.record_type,
                    ip,
                    ip_mode: mode,
                    nonce: &nonce,
                };
                let lan = self.lan.get();
                Request::SetV2(SetV2 {
                    hostname: record.hostname.clone(),
                    record_type: record.record_type,
                    ip,
                    ip_mode: mode,
                    signature: fields.sign_lan(secret.expose(), lan.as_ref()),
                    nonce,
                    lan_prefix: lan,
                })
            }
        };
        log::debug!("{record}: set {ip} ({} mode)", mode.as_str());
        let answer = self.send(record.record_type, &request)?;
        let r = self.read(&answer, "a set")?;
        if let (Some(n), Some(p)) = (r.lan_updated, self.lan.take()) {
            self.lan_answer.set(Some((p, r.lan.unwrap_or_default())));
            log::info!("{record}: LAN records updated: {n}");
        }
        match (r.outcome, r.ip) {
            // dyn53's answer names the previous address (none: the record did not exist).
            (Outcome::Changed, Some(new)) => Ok(RecordResult::Changed {
                old: r.previous,
                new,
            }),
            (Outcome::Changed, None) => Ok(RecordResult::Set(ip)),
            (Outcome::Unchanged, _) => Ok(RecordResult::Unchanged(r.ip.unwrap_or(ip))),
            _ => Err(self.unexpected(&answer, "a set")),
        }
    }

    /// Compares `record`'s DNS answer with the address it should hold.
    pub fn check(&self, record: &Record) -> Result<RecordResult, Error> {
        let seen = retry(&self.deadline, &record.to_string(), || {
            self.get(record.record_type)
        })?;
        let expected = match self.hint {
            Some(h) if record.explicit_ip && record.record_type.matches(h) => h,
            _ => seen.ip,
        };
        let dns = resolve::lookup(&record.hostname, record.record_type);
        if dns == [expected] {
            return Ok(RecordResult::InSync(expected));
        }
        if dns.is_empty() {
            log::info!(
                "{record}: DNS has no {} record for the name (never set, or not resolvable \
                 from here); run dyn53 update",
                record.record_type
            );
        } else {
            log::info!(
                "{record}: DNS answers {} but the record should hold {expected}; run dyn53 \
                 update (answers may be cached for up to the record's TTL)",
                resolve::show(&dns)
            );
        }
        Ok(RecordResult::OutOfSync { dns, expected })
    }
}

/// The backend URL, or the error saying how to set it.
pub fn require_url(settings: &Settings) -> Result<&crate::config::BackendUrl, Error> {
    settings.url.as_ref().ok_or_else(|| {
        Error::Config("no backend url: set url in the config file, DYN53_URL or --url".into())
    })
}

/// Reads an answer: a dyn53 (or reference-design) answer, an error answer, or something else.
fn interpret(
    answer: &Answer,
    host: &str,
    protocol: Protocol,
    what: &str,
) -> Result<Response, Error> {
    let status = answer.status;
    if (300..400).contains(&status) {
        let to = answer.location.as_deref().unwrap_or("elsewhere");
        return Err(Error::BadAnswer {
            status,
            message: format!(
                "{host} redirects to {}: set url to the final address",
                clean(to)
            ),
        });
    }
    match Response::from_answer(status, &answer.body) {
        Ok(r) if r.outcome == Outcome::Error => {
            let code = r.error.unwrap_or(ErrorCode::Internal);
            Err(Error::Backend {
                code,
                message: format!(
                    "backend answered '{}': {}",
                    code.as_str(),
                    advice(code, &clean(&r.message))
                ),
            })
        }
        Ok(r) => Ok(r),
        Err(_) => Err(not_dyn53(answer, host, what, protocol)),
    }
}

/// The error for an answer that is not what the protocol says, naming the form sent and
/// the setting for the other form (a 2015/2016 gateway refuses POSTs, a function URL may
/// refuse GETs).
fn not_dyn53(answer: &Answer, host: &str, what: &str, protocol: Protocol) -> Error {
    let status = answer.status;
    let (sent, other) = match protocol {
        Protocol::V2 => (
            "as a protocol 2 JSON POST",
            "a reference-design backend needs protocol 1 or 1-query",
        ),
        Protocol::V1 => (
            "in the 2023 JSON form (POST, protocol 1)",
            "a 2015/2016 API Gateway backend needs protocol 1-query",
        ),
        Protocol::V1Query => (
            "in the 2015/2016 query form (GET ?mode=, protocol 1-query)",
            "a function URL backend needs protocol 1",
        ),
    };
    let message = match status {
        404 | 405 => format!(
            "{host} answered HTTP {status} to {what} sent {sent}: no backend at this url \
             (check url; {other})"
        ),
        408 | 429 | 500.. => format!(
            "{host} answered HTTP {status} to {what} sent {sent} without a backend answer \
             (gateway or Lambda error, or throttling)"
        ),
        _ => format!(
            "{host} answered HTTP {status} to {what} sent {sent}, but not in the dyn53 or \
             reference format: is url the backend? ({other})"
        ),
    };
    Error::BadAnswer { status, message }
}

/// Adds what to do about a backend error.
fn advice(code: ErrorCode, message: &str) -> String {
    let hint = match code {
        ErrorCode::Auth => {
            " (check that the secret is the one the backend printed for this host, and that \
             the hostname is registered there)"
        }
        ErrorCode::NotAllowed => {
            " (the host's settings on the backend do not allow this record type, protocol or \
             explicit address)"
        }
        ErrorCode::RateLimited => " (too many updates for this host; wait a while)",
        _ => "",
    };
    format!("{message}{hint}")
}

/// Makes a server-supplied text safe for one log line: no control characters, bounded.
fn clean(text: &str) -> String {
    let mut out: String = text
        .chars()
        .take(MAX_MESSAGE)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if text.chars().count() > MAX_MESSAGE {
        out.push_str("...");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &str) -> Answer {
        Answer {
            status,
            location: None,
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn answers() {
        let r = interpret(
            &answer(
                200,
                &Response::ip("192.0.2.1".parse().unwrap(), None).to_json(),
            ),
            "h",
            Protocol::V2,
            "a get",
        );
        assert_eq!(r.unwrap().outcome, Outcome::Ip);
        let e = interpret(
            &answer(403, &Response::error(ErrorCode::Auth, "bad\nsig").to_json()),
            "h",
            Protocol::V2,
            "a get",
        )
        .unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(
            e.to_string().contains("bad sig (check that the secret"),
            "{e}"
        );
        let e = interpret(
            &answer(429, r#"{"Message":"Rate Exceeded."}"#),
            "h",
            Protocol::V2,
            "a get",
        )
        .unwrap_err();
        assert_eq!(e.exit_code(), 1);
        let e = interpret(&answer(404, "<html>"), "h", Protocol::V1, "a get").unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("check url"));
        assert!(e.to_string().contains("2023 JSON form"), "{e}");
        assert!(e.to_string().contains("needs protocol 1-query"), "{e}");
        // A reference backend's 401 is an authentication failure (exit 2).
        let body = crate::protocol::v1_json(false, "Validation hashes do not match.");
        let e = interpret(&answer(401, &body), "h", Protocol::V1Query, "a get").unwrap_err();
        assert!(e.to_string().contains("backend answered 'auth'"), "{e}");
        assert_eq!(e.exit_code(), 2);
        let mut redirect = answer(301, "");
        redirect.location = Some("https://other.example/".into());
        let e = interpret(&redirect, "h", Protocol::V2, "a get").unwrap_err();
        assert!(e
            .to_string()
            .contains("redirects to https://other.example/"));
        assert_eq!(e.exit_code(), 2);
        let e = interpret(
            &answer(
                503,
                &Response::error(ErrorCode::Unavailable, "busy").to_json(),
            ),
            "h",
            Protocol::V2,
            "a get",
        )
        .unwrap_err();
        assert!(e.retry_in_run() && e.exit_code() == 1);
    }

    #[test]
    fn lines() {
        let rec = Record {
            hostname: "home.example.com".into(),
            hostname_raw: "home.example.com.".into(),
            record_type: RecordType::A,
            interface: None,
            explicit_ip: false,
        };
        let ip: IpAddr = "203.0.113.7".parse().unwrap();
        let old: IpAddr = "198.51.100.1".parse().unwrap();
        assert_eq!(
            RecordResult::Changed {
                old: Some(old),
                new: ip
            }
            .line(&rec),
            "home.example.com A changed 198.51.100.1 -> 203.0.113.7"
        );
        assert_eq!(
            RecordResult::Changed { old: None, new: ip }.line(&rec),
            "home.example.com A changed none -> 203.0.113.7"
        );
        assert_eq!(
            RecordResult::Set(ip).line(&rec),
            "home.example.com A changed -> 203.0.113.7"
        );
        assert_eq!(
            RecordResult::Unchanged(ip).line(&rec),
            "home.example.com A unchanged 203.0.113.7"
        );
        assert_eq!(
            RecordResult::WouldChange {
                old: vec![],
                new: ip
            }
            .line(&rec),
            "home.example.com A would-change none -> 203.0.113.7"
        );
        assert_eq!(
            RecordResult::OutOfSync {
                dns: vec![old],
                expected: ip
            }
            .line(&rec),
            "home.example.com A out-of-sync dns=198.51.100.1 expected=203.0.113.7"
        );
        assert_eq!(
            RecordResult::InSync(ip).line(&rec),
            "home.example.com A in-sync 203.0.113.7"
        );
    }

    #[test]
    fn clean_bounds_messages() {
        assert_eq!(clean("a\r\nb"), "a  b");
        assert_eq!(clean(&"x".repeat(500)).len(), MAX_MESSAGE + 3);
    }
}
