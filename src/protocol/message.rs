//! Requests and answers on the wire: parsing (backend) and writing (client), both directions.
//!
//! See docs/PROTOCOL.md for the field tables. Parsing is strict: a malformed request is an
//! error with a message safe to show the caller, never a guess.

use super::auth::{nonce_syntax_ok, IpMode};
use super::json::{self, Object, Writer};
use super::names::{canonical_ip, normalize_hostname, parse_ip, RecordType};
use super::prefix::LanPrefix;
use core::fmt;
use core::net::IpAddr;

/// Largest request body the backend reads, in bytes.
pub const MAX_BODY: usize = 4096;

/// A request, in any of the forms the backend accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Ask for the caller's IP (both protocols; v2 answers carry a nonce too).
    Get,
    /// A v1 set, from the query string or the JSON body.
    SetV1(SetV1),
    /// A v2 set.
    SetV2(SetV2),
}

/// A reference-design set request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetV1 {
    /// Hostname exactly as sent (the token covers these bytes).
    pub hostname_raw: String,
    /// Hostname normalised for lookup.
    pub hostname: String,
    /// `hex(sha256(ip ‖ hostname ‖ secret))`.
    pub hash: String,
}

/// A dyn53 v2 set request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetV2 {
    /// Hostname, normalised.
    pub hostname: String,
    /// Record to set.
    pub record_type: RecordType,
    /// Address to set: the caller's source address, or an explicit one.
    pub ip: IpAddr,
    /// How `ip` was chosen.
    pub ip_mode: IpMode,
    /// Nonce from the server's get answer.
    pub nonce: String,
    /// Hex HMAC-SHA256 over the canonical string.
    pub signature: String,
    /// The router's LAN prefix, for the host's LAN records (signed as a seventh line).
    pub lan_prefix: Option<LanPrefix>,
}

/// Why a request is malformed; the text is safe to send back to the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRequest(pub String);

impl fmt::Display for BadRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn bad(msg: impl Into<String>) -> BadRequest {
    BadRequest(msg.into())
}

fn hostname_field(raw: &str) -> Result<String, BadRequest> {
    normalize_hostname(raw).map_err(|e| bad(e.to_string()))
}

fn hex_field(name: &str, value: &str) -> Result<String, BadRequest> {
    if value.len() != 64 || !value.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad(format!("{name} must be 64 hex characters")));
    }
    Ok(value.to_ascii_lowercase())
}

/// The v1 hash, refused in the reference's words when malformed.
fn v1_hash_field(value: &str) -> Result<String, BadRequest> {
    hex_field("hash", value).map_err(|_| bad(V1_BAD_HASH))
}

/// The reference's answer to a malformed v1 hash (HTTP 400).
pub const V1_BAD_HASH: &str = "You must pass a valid sha256 hash in the hash= argument.";
/// The reference's answer to a wrong v1 hash (HTTP 401); dyn53 gives it for unknown hosts too.
pub const V1_AUTH_FAILED: &str = "Validation hashes do not match.";
/// The reference's answer when the record already holds the caller's address.
pub const V1_UNCHANGED: &str = "Your IP address matches the current Route53 DNS record.";

impl Request {
    /// Parses a JSON body (v1 `execution_mode` form or v2).
    pub fn from_json(body: &[u8]) -> Result<Request, BadRequest> {
        if body.len() > MAX_BODY {
            return Err(bad("request body too large"));
        }
        let obj = json::parse(body).map_err(|e| bad(e.to_string()))?;
        let s = |k: &str| obj.str(k).map_err(|e| bad(format!("{k}: {}", e.0)));
        let mode = s("execution_mode")?.ok_or_else(|| bad("execution_mode is missing"))?;
        let version = obj
            .uint("protocol")
            .map_err(|e| bad(format!("protocol: {}", e.0)))?
            .unwrap_or(1);
        match (mode, version) {
            ("get", 1 | 2) => Ok(Request::Get),
            ("set", 1) => {
                let raw = s("ddns_hostname")?.ok_or_else(|| bad("ddns_hostname is missing"))?;
                let hash =
                    s("validation_hash")?.ok_or_else(|| bad("validation_hash is missing"))?;
                Ok(Request::SetV1(SetV1 {
                    hostname: hostname_field(raw)?,
                    hostname_raw: raw.to_string(),
                    hash: v1_hash_field(hash)?,
                }))
            }
            ("set", 2) => Self::set_v2(&obj),
            ("get" | "set", _) => Err(bad(
                "unsupported protocol version (this server speaks 1 and 2)",
            )),
            _ => Err(bad("execution_mode must be \"get\" or \"set\"")),
        }
    }

    fn set_v2(obj: &Object) -> Result<Request, BadRequest> {
        let s = |k: &str| -> Result<&str, BadRequest> {
            obj.str(k)
                .map_err(|e| bad(format!("{k}: {}", e.0)))?
                .ok_or_else(|| bad(format!("{k} is missing")))
        };
        let hostname = hostname_field(s("ddns_hostname")?)?;
        let record_type = s("record_type")?
            .parse()
            .map_err(|_| bad("record_type must be A or AAAA"))?;
        let ip = parse_ip(s("ip")?).ok_or_else(|| bad("ip is not a valid IPv4 or IPv6 address"))?;
        let ip = canonical_ip(ip);
        if !RecordType::matches(record_type, ip) {
            return Err(bad(
                "ip does not match record_type (A needs IPv4, AAAA needs IPv6)",
            ));
        }
        let ip_mode = match s("ip_mode")? {
            "source" => IpMode::Source,
            "explicit" => IpMode::Explicit,
            _ => return Err(bad("ip_mode must be \"source\" or \"explicit\"")),
        };
        let nonce = s("nonce")?;
        if !nonce_syntax_ok(nonce) {
            return Err(bad("nonce is malformed"));
        }
        let lan_prefix = match obj.str("lan_prefix") {
            Ok(None) => None,
            Ok(Some(p)) => Some(LanPrefix::parse(p).map_err(|e| bad(e.0))?),
            Err(e) => return Err(bad(format!("lan_prefix: {}", e.0))),
        };
        Ok(Request::SetV2(SetV2 {
            hostname,
            record_type,
            ip,
            ip_mode,
            nonce: nonce.to_string(),
            signature: hex_field("signature", s("signature")?)?,
            lan_prefix,
        }))
    }

    /// Parses the reference design's query-string form (`mode=get`, `mode=set&hostname=&hash=`).
    pub fn from_query(query: &str) -> Result<Request, BadRequest> {
        if query.len() > MAX_BODY {
            return Err(bad("query string too large"));
        }
        let mut pairs: Vec<(String, String)> = Vec::new();
        for part in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = part.split_once('=').unwrap_or((part, ""));
            let (k, v) = (percent_decode(k)?, percent_decode(v)?);
            if pairs.iter().any(|(pk, _)| *pk == k) {
                return Err(bad(format!("{k} is given twice")));
            }
            pairs.push((k, v));
        }
        let get = |k: &str| {
            pairs
                .iter()
                .find(|(pk, _)| pk == k)
                .map(|(_, v)| v.as_str())
        };
        match get("mode") {
            Some("get") => Ok(Request::Get),
            Some("set") => {
                let raw = get("hostname").ok_or_else(|| bad("hostname is missing"))?;
                let hash = get("hash").ok_or_else(|| bad("hash is missing"))?;
                Ok(Request::SetV1(SetV1 {
                    hostname: hostname_field(raw)?,
                    hostname_raw: raw.to_string(),
                    hash: v1_hash_field(hash)?,
                }))
            }
            Some(_) => Err(bad("mode must be \"get\" or \"set\"")),
            None => Err(bad("mode is missing")),
        }
    }

    /// Writes the request as the JSON body a client sends.
    pub fn to_json(&self) -> String {
        match self {
            Request::Get => Writer::new()
                .str("execution_mode", "get")
                .uint("protocol", 2)
                .finish(),
            Request::SetV1(r) => Writer::new()
                .str("execution_mode", "set")
                .str("ddns_hostname", &r.hostname_raw)
                .str("validation_hash", &r.hash)
                .finish(),
            Request::SetV2(r) => Writer::new()
                .str("execution_mode", "set")
                .uint("protocol", 2)
                .str("ddns_hostname", &r.hostname)
                .str("record_type", r.record_type.as_str())
                .str("ip", &r.ip.to_string())
                .str("ip_mode", r.ip_mode.as_str())
                .str("nonce", &r.nonce)
                .str("signature", &r.signature)
                .opt_str("lan_prefix", r.lan_prefix.map(|p| p.to_string()).as_deref())
                .finish(),
        }
    }

    /// Writes a v1 request as the 2015/2016 query string (`None` for v2, which has none).
    /// Hostnames and hashes need no escaping: their syntax is checked.
    pub fn to_query(&self) -> Option<String> {
        match self {
            Request::Get => Some("mode=get".into()),
            Request::SetV1(r) => Some(format!(
                "mode=set&hostname={}&hash={}",
                r.hostname_raw, r.hash
            )),
            Request::SetV2(_) => None,
        }
    }
}

fn percent_decode(s: &str) -> Result<String, BadRequest> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let h = b
                    .get(i + 1..i + 3)
                    .ok_or_else(|| bad("bad %-escape in query"))?;
                let h = core::str::from_utf8(h).map_err(|_| bad("bad %-escape in query"))?;
                out.push(u8::from_str_radix(h, 16).map_err(|_| bad("bad %-escape in query"))?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| bad("query is not UTF-8"))
}

/// What happened, in a machine-readable word (`result` on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Answer to a get.
    Ip,
    /// The record already held the address.
    Unchanged,
    /// The record was created or changed.
    Changed,
    /// The request failed; see [`ErrorCode`].
    Error,
}

impl Outcome {
    /// The word on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ip => "ip",
            Outcome::Unchanged => "unchanged",
            Outcome::Changed => "changed",
            Outcome::Error => "error",
        }
    }
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "ip" => Outcome::Ip,
            "unchanged" => Outcome::Unchanged,
            "changed" => Outcome::Changed,
            "error" => Outcome::Error,
            _ => return None,
        })
    }
}

/// Why a request failed, with its HTTP status and whether trying again later can help.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// Malformed request.
    BadRequest,
    /// Body or query over [`MAX_BODY`].
    TooLarge,
    /// Unknown host or bad token/signature: one answer for both, so names cannot be probed.
    Auth,
    /// The v2 nonce is expired, forged or already spent: get a fresh one.
    Nonce,
    /// Authenticated, but the host's config forbids this (record type, protocol, explicit IP).
    NotAllowed,
    /// A v2 source-mode IP differs from the caller's address: get again.
    IpMismatch,
    /// Too many set calls for this host.
    RateLimited,
    /// Route 53 or the host store failed or throttled: try again later.
    Unavailable,
    /// An unexpected server fault.
    Internal,
}

impl ErrorCode {
    /// The word on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::TooLarge => "too_large",
            ErrorCode::Auth => "auth",
            ErrorCode::Nonce => "nonce",
            ErrorCode::NotAllowed => "not_allowed",
            ErrorCode::IpMismatch => "ip_mismatch",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::Internal => "internal",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "bad_request" => ErrorCode::BadRequest,
            "too_large" => ErrorCode::TooLarge,
            "auth" => ErrorCode::Auth,
            "nonce" => ErrorCode::Nonce,
            "not_allowed" => ErrorCode::NotAllowed,
            "ip_mismatch" => ErrorCode::IpMismatch,
            "rate_limited" => ErrorCode::RateLimited,
            "unavailable" => ErrorCode::Unavailable,
            "internal" => ErrorCode::Internal,
            _ => return None,
        })
    }

    /// HTTP status the backend answers with.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::BadRequest => 400,
            ErrorCode::TooLarge => 413,
            ErrorCode::Auth | ErrorCode::NotAllowed => 403,
            ErrorCode::Nonce | ErrorCode::IpMismatch => 409,
            ErrorCode::RateLimited => 429,
            ErrorCode::Unavailable => 503,
            ErrorCode::Internal => 500,
        }
    }

    /// The code a reference-shaped error answer stands for, from its HTTP status.
    pub fn from_status(status: u16) -> ErrorCode {
        match status {
            400 => ErrorCode::BadRequest,
            403 => ErrorCode::NotAllowed,
            413 => ErrorCode::TooLarge,
            429 => ErrorCode::RateLimited,
            502..=504 => ErrorCode::Unavailable,
            500.. => ErrorCode::Internal,
            _ => ErrorCode::Auth,
        }
    }

    /// Whether the same request may succeed later (client exit code 1 rather than 2).
    pub fn retryable(self) -> bool {
        matches!(
            self,
            ErrorCode::Nonce
                | ErrorCode::IpMismatch
                | ErrorCode::RateLimited
                | ErrorCode::Unavailable
                | ErrorCode::Internal
        )
    }
}

fn body_has_error_field(body: &[u8]) -> bool {
    json::parse(body).is_ok_and(|o| o.get("error").is_some())
}

/// An answer: the reference shape (`return_status`, `return_message`) plus dyn53's fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// What happened.
    pub outcome: Outcome,
    /// Human-readable text (`return_message`; the caller's IP for a get, as the reference does).
    pub message: String,
    /// The caller's IP (get) or the address now in the record (set).
    pub ip: Option<IpAddr>,
    /// The address the record held before a change, if it existed.
    pub previous: Option<IpAddr>,
    /// A fresh v2 nonce (get answers).
    pub nonce: Option<String>,
    /// Why it failed (error answers).
    pub error: Option<ErrorCode>,
    /// How many LAN records the set changed (answers to a set with a LAN prefix).
    pub lan_updated: Option<u64>,
    /// The host's LAN records in that prefix, `name=address` separated by spaces (answers
    /// to a set with a LAN prefix), for the router's status pages. Boxed: a `Response` is
    /// the error type of request parsing, and stays small.
    pub lan: Option<Box<str>>,
}

impl Response {
    /// A get answer.
    pub fn ip(ip: IpAddr, nonce: Option<String>) -> Self {
        Response {
            outcome: Outcome::Ip,
            message: ip.to_string(),
            ip: Some(ip),
            previous: None,
            nonce,
            error: None,
            lan_updated: None,
            lan: None,
        }
    }

    /// The record already matched.
    pub fn unchanged(ip: IpAddr) -> Self {
        Response {
            outcome: Outcome::Unchanged,
            message: V1_UNCHANGED.into(),
            ip: Some(ip),
            previous: None,
            nonce: None,
            error: None,
            lan_updated: None,
            lan: None,
        }
    }

    /// The record was set to `ip` (from `previous`, if it existed).
    pub fn changed(hostname: &str, ip: IpAddr, previous: Option<IpAddr>) -> Self {
        Response {
            outcome: Outcome::Changed,
            message: format!("Your hostname record {hostname} has been set to {ip}"),
            ip: Some(ip),
            previous,
            nonce: None,
            error: None,
            lan_updated: None,
            lan: None,
        }
    }

    /// A failure; `message` must be safe to show anyone (no AWS error text, no secret).
    pub fn error(code: ErrorCode, message: impl Into<String>) -> Self {
        Response {
            outcome: Outcome::Error,
            message: message.into(),
            ip: None,
            previous: None,
            nonce: None,
            error: Some(code),
            lan_updated: None,
            lan: None,
        }
    }

    /// The HTTP status the backend answers with (201 for a change, as the reference does).
    pub fn http_status(&self) -> u16 {
        match (self.outcome, self.error) {
            (Outcome::Changed, _) => 201,
            (Outcome::Error, Some(code)) => code.http_status(),
            (Outcome::Error, None) => 500,
            _ => 200,
        }
    }

    /// Writes the answer as JSON.
    pub fn to_json(&self) -> String {
        let ip = self.ip.map(|i| i.to_string());
        let previous = self.previous.map(|i| i.to_string());
        let mut w = Writer::new()
            .str(
                "return_status",
                if self.outcome == Outcome::Error {
                    "fail"
                } else {
                    "success"
                },
            )
            .str("return_message", &self.message)
            .str("result", self.outcome.as_str())
            .opt_str("ip", ip.as_deref())
            .opt_str("previous_ip", previous.as_deref())
            .opt_str("nonce", self.nonce.as_deref());
        if let Some(n) = self.lan_updated {
            w = w.uint("lan_updated", n);
        }
        w = w.opt_str("lan", self.lan.as_deref());
        if let Some(code) = self.error {
            w = w
                .str("error", code.as_str())
                .bool("retryable", code.retryable());
        }
        w.finish()
    }

    /// Parses an answer (client side). Answers in the reference shape (a reference backend,
    /// or dyn53's to a v1 request), which lack dyn53's fields, are understood from
    /// `return_status`, `return_message` and the HTTP status.
    pub fn from_answer(status: u16, body: &[u8]) -> Result<Response, BadRequest> {
        let mut r = Self::from_json(body)?;
        if r.outcome == Outcome::Error && !body_has_error_field(body) {
            r.error = Some(ErrorCode::from_status(status));
        }
        Ok(r)
    }

    /// Parses an answer without its HTTP status (an error without `error` counts as `auth`).
    pub fn from_json(body: &[u8]) -> Result<Response, BadRequest> {
        let obj = json::parse(body).map_err(|e| bad(format!("server answer: {e}")))?;
        let s = |k: &str| {
            obj.str(k)
                .map_err(|e| bad(format!("server answer: {k}: {}", e.0)))
        };
        let status =
            s("return_status")?.ok_or_else(|| bad("server answer has no return_status"))?;
        let message = s("return_message")?.unwrap_or("").to_string();
        let ip_of = |k: &str| -> Result<Option<IpAddr>, BadRequest> {
            match s(k)? {
                None => Ok(None),
                Some(v) => parse_ip(v)
                    .map(Some)
                    .ok_or_else(|| bad(format!("server answer: {k} is not an IP"))),
            }
        };
        let error = s("error")?.map(|e| ErrorCode::parse(e).unwrap_or(ErrorCode::Internal));
        let outcome = match s("result")? {
            Some(r) => Outcome::parse(r).ok_or_else(|| bad("server answer: unknown result"))?,
            None if status != "success" => Outcome::Error,
            // Reference backend: infer from the message.
            None if parse_ip(&message).is_some() => Outcome::Ip,
            None if message.contains("matches") => Outcome::Unchanged,
            None => Outcome::Changed,
        };
        let mut ip = ip_of("ip")?;
        if ip.is_none() && outcome == Outcome::Ip {
            ip = parse_ip(&message);
        }
        Ok(Response {
            outcome,
            error: if outcome == Outcome::Error {
                Some(error.unwrap_or(ErrorCode::Auth))
            } else {
                None
            },
            message,
            ip,
            previous: ip_of("previous_ip")?,
            nonce: s("nonce")?.map(str::to_string),
            lan_updated: obj
                .uint("lan_updated")
                .map_err(|e| bad(format!("server answer: lan_updated: {}", e.0)))?,
            lan: s("lan")?.map(Box::from),
        })
    }
}

/// The form a request came in; it decides how the answer is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// v1, the 2015/2016 query string (`GET ?mode=...`), or a request that could not be read.
    Query,
    /// v1, the 2023 JSON body (`{"execution_mode": ...}` without `"protocol": 2`).
    Json,
    /// dyn53's protocol 2 (`"protocol": 2` in the JSON body).
    V2,
}

impl Form {
    /// The form of a JSON body: v2 if it asks for protocol 2, else the v1 JSON form.
    pub fn of_json(body: &[u8]) -> Form {
        if body.len() > MAX_BODY {
            return Form::Json;
        }
        match json::parse(body).map(|o| o.uint("protocol")) {
            Ok(Ok(Some(2))) => Form::V2,
            _ => Form::Json,
        }
    }
}

/// The v1 wording of a change: the 2015/2016 handler's for the query form, the 2023
/// handler's for the JSON form, with the hostname exactly as the client sent it.
pub fn v1_changed(form: Form, host_as_sent: &str, ip: IpAddr) -> String {
    match form {
        Form::Json => format!("{host_as_sent} has been updated to {ip}"),
        _ => format!("Your hostname record {host_as_sent} has been set to {ip}"),
    }
}

/// A v1 answer body as the reference writes it with Python's `json.dumps`: the two fields
/// only, `": "` and `", "` separators, non-ASCII as `\uXXXX`. Reference clients take the
/// IP out of the whole body with a digit-run match, so no other digits may appear.
pub fn v1_json(success: bool, message: &str) -> String {
    let mut out = String::from("{\"return_status\": ");
    py_str(&mut out, if success { "success" } else { "fail" });
    out.push_str(", \"return_message\": ");
    py_str(&mut out, message);
    out.push('}');
    out
}

/// A JSON string as Python's `json.dumps` (ensure_ascii) writes it.
fn py_str(out: &mut String, s: &str) {
    use core::fmt::Write as _;
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            c => {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{u:04x}");
                }
            }
        }
    }
    out.push('"');
}

impl Response {
    /// The answer to a request in `form`: dyn53's full answer for v2; for v1 exactly the
    /// reference's two fields and codes (unknown host and wrong hash alike: 401).
    pub fn render(&self, form: Form) -> (u16, String) {
        if form == Form::V2 {
            return (self.http_status(), self.to_json());
        }
        match self.error {
            Some(ErrorCode::Auth) => (401, v1_json(false, V1_AUTH_FAILED)),
            Some(_) => (self.http_status(), v1_json(false, &self.message)),
            None => (self.http_status(), v1_json(true, &self.message)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn v1_forms() {
        let q =
            Request::from_query(&format!("mode=set&hostname=Home.example.com.&hash={H}")).unwrap();
        let j = Request::from_json(
            format!(r#"{{"execution_mode":"set","ddns_hostname":"Home.example.com.","validation_hash":"{H}"}}"#).as_bytes(),
        )
        .unwrap();
        assert_eq!(q, j);
        match q {
            Request::SetV1(r) => {
                assert_eq!(r.hostname, "home.example.com");
                assert_eq!(r.hostname_raw, "Home.example.com.");
            }
            _ => panic!(),
        }
        assert_eq!(Request::from_query("mode=get").unwrap(), Request::Get);
        assert_eq!(
            Request::from_json(br#"{"execution_mode":"get"}"#).unwrap(),
            Request::Get
        );
        assert_eq!(Request::from_query("mode=get&x=%41").unwrap(), Request::Get);
    }

    #[test]
    fn rejects_bad_requests() {
        for q in [
            "",
            "mode=put",
            "mode=set&hostname=a.b",
            "mode=set&hostname=a.b&hash=zz",
            "mode=get&mode=set",
            "mode=%zz",
        ] {
            assert!(Request::from_query(q).is_err(), "{q}");
        }
        for j in [
            r#"{}"#,
            r#"{"execution_mode":"set"}"#,
            r#"{"execution_mode":"get","protocol":3}"#,
            r#"{"execution_mode":5}"#,
            r#"{"execution_mode":"set","protocol":2,"ddns_hostname":"a.b","record_type":"A","ip":"::1","ip_mode":"source","nonce":"n","signature":"00"}"#,
        ] {
            assert!(Request::from_json(j.as_bytes()).is_err(), "{j}");
        }
        assert!(Request::from_json(&vec![b' '; MAX_BODY + 1]).is_err());
    }

    #[test]
    fn v2_round_trip() {
        let r = Request::SetV2(SetV2 {
            hostname: "home.example.com".into(),
            record_type: RecordType::Aaaa,
            ip: "2001:db8::1".parse().unwrap(),
            ip_mode: IpMode::Explicit,
            nonce: "1.2.3".into(),
            signature: H.into(),
            lan_prefix: None,
        });
        assert_eq!(Request::from_json(r.to_json().as_bytes()).unwrap(), r);
        let Request::SetV2(mut v2) = r else { panic!() };
        v2.lan_prefix = Some(LanPrefix::parse("2001:db8:1::/56").unwrap());
        let r = Request::SetV2(v2);
        assert!(r.to_json().contains(r#""lan_prefix":"2001:db8:1::/56""#));
        assert_eq!(Request::from_json(r.to_json().as_bytes()).unwrap(), r);
    }

    #[test]
    fn bad_lan_prefixes_are_bad_requests() {
        let base = r#"{"execution_mode":"set","protocol":2,"ddns_hostname":"a.example.com","record_type":"A","ip":"192.0.2.1","ip_mode":"source","nonce":"1.2.3","signature":"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef""#;
        for (p, why) in [
            (r#""2001:db8:1::/72""#, "from /48 to /64"),
            (r#""fd00::/64""#, "global unicast"),
            (r#""2001:db8:1::1/64""#, "bits set past"),
            ("64", "lan_prefix"),
        ] {
            let body = format!("{base},\"lan_prefix\":{p}}}");
            let e = Request::from_json(body.as_bytes()).unwrap_err();
            assert!(e.0.contains(why), "{p}: {e}");
        }
    }

    #[test]
    fn responses_round_trip() {
        let ip: IpAddr = "203.0.113.9".parse().unwrap();
        for r in [
            Response::ip(ip, Some("n.o.nce".into())),
            Response::unchanged(ip),
            Response::changed("home.example.com", ip, Some("203.0.113.1".parse().unwrap())),
            Response::error(ErrorCode::RateLimited, "slow down"),
        ] {
            assert_eq!(Response::from_json(r.to_json().as_bytes()).unwrap(), r);
        }
        assert_eq!(Response::changed("h.example", ip, None).http_status(), 201);
        assert_eq!(Response::error(ErrorCode::Auth, "x").http_status(), 403);
    }

    #[test]
    fn lan_answers_round_trip_and_unknown_fields_are_ignored() {
        let ip: IpAddr = "203.0.113.9".parse().unwrap();
        let r = Response {
            lan_updated: Some(2),
            lan: Some("nas.example.com=2001:db8:1::1234 cam.example.com=2001:db8:1::5".into()),
            ..Response::unchanged(ip)
        };
        let json = r.to_json();
        assert!(
            json.contains(r#""lan":"nas.example.com=2001:db8:1::1234 cam.example.com"#),
            "{json}"
        );
        assert_eq!(Response::from_json(json.as_bytes()).unwrap(), r);
        // A field this client does not know (as `lan` is to an older one) is skipped.
        let newer = json.replace("\"lan\":", "\"later\":1,\"lan\":");
        assert_eq!(Response::from_json(newer.as_bytes()).unwrap(), r);
        let wrong = json.replace("\"lan\":\"nas", "\"lan\":5,\"x\":\"nas");
        assert!(Response::from_json(wrong.as_bytes()).is_err(), "{wrong}");
    }

    #[test]
    fn v1_answers_have_the_reference_shape_and_codes() {
        let ip: IpAddr = "203.0.113.9".parse().unwrap();
        let v1 = |r: &Response, f| r.render(f);
        assert_eq!(
            v1(&Response::ip(ip, Some("6a.0b.1c".into())), Form::Json),
            (
                200,
                r#"{"return_status": "success", "return_message": "203.0.113.9"}"#.into()
            )
        );
        assert_eq!(
            v1(&Response::unchanged(ip), Form::Query).0,
            200,
            "unchanged"
        );
        let changed = Response::changed("h.example", ip, Some("192.0.2.1".parse().unwrap()));
        let (status, body) = v1(&changed, Form::Query);
        assert_eq!(status, 201);
        assert!(!body.contains("192.0.2.1"), "no previous address: {body}");
        // Unknown host and wrong hash: one answer, the reference's wrong-hash one.
        assert_eq!(
            v1(&Response::error(ErrorCode::Auth, "whatever"), Form::Json),
            (
                401,
                r#"{"return_status": "fail", "return_message": "Validation hashes do not match."}"#
                    .into()
            )
        );
        let (status, body) = v1(
            &Response::error(ErrorCode::RateLimited, "slow down"),
            Form::Query,
        );
        assert_eq!(
            (status, body.as_str()),
            (
                429,
                r#"{"return_status": "fail", "return_message": "slow down"}"#
            )
        );
        // v2 keeps everything.
        let (status, body) = v1(&changed, Form::V2);
        assert_eq!(status, 201);
        assert!(body.contains(r#""previous_ip":"192.0.2.1""#), "{body}");
        assert_eq!(
            v1_changed(Form::Query, "Home.example.com.", ip),
            "Your hostname record Home.example.com. has been set to 203.0.113.9"
        );
        assert_eq!(
            v1_changed(Form::Json, "home.example.com", ip),
            "home.example.com has been updated to 203.0.113.9"
        );
        for bad in [
            "mode=set&hostname=a.example&hash=zz".to_string(),
            format!("mode=set&hostname=a.example&hash={H}0"),
        ] {
            assert_eq!(Request::from_query(&bad).unwrap_err().0, V1_BAD_HASH);
        }
        let j = br#"{"execution_mode":"set","ddns_hostname":"a.example","validation_hash":"x"}"#;
        assert_eq!(Request::from_json(j).unwrap_err().0, V1_BAD_HASH);
        assert_eq!(
            Form::of_json(br#"{"execution_mode":"get","protocol":2}"#),
            Form::V2
        );
        assert_eq!(
            Form::of_json(br#"{"execution_mode":"get","protocol":"2"}"#),
            Form::V2
        );
        assert_eq!(Form::of_json(br#"{"execution_mode":"get"}"#), Form::Json);
        assert_eq!(Form::of_json(b"{"), Form::Json);
    }

    #[test]
    fn reference_errors_are_read_from_the_http_status() {
        let body = |m: &str| v1_json(false, m);
        for (status, code) in [
            (401, ErrorCode::Auth),
            (400, ErrorCode::BadRequest),
            (403, ErrorCode::NotAllowed),
            (429, ErrorCode::RateLimited),
            (503, ErrorCode::Unavailable),
            (500, ErrorCode::Internal),
        ] {
            let r = Response::from_answer(status, body("x").as_bytes()).unwrap();
            assert_eq!(r.error, Some(code), "{status}");
        }
        // dyn53's own code wins over the status.
        let r = Response::error(ErrorCode::Nonce, "again").to_json();
        let r = Response::from_answer(409, r.as_bytes()).unwrap();
        assert_eq!(r.error, Some(ErrorCode::Nonce));
        assert_eq!(
            Request::SetV1(SetV1 {
                hostname_raw: "Home.example.com.".into(),
                hostname: "home.example.com".into(),
                hash: H.into(),
            })
            .to_query()
            .unwrap(),
            format!("mode=set&hostname=Home.example.com.&hash={H}")
        );
        assert_eq!(Request::Get.to_query().as_deref(), Some("mode=get"));
    }

    #[test]
    fn understands_reference_backend() {
        let r =
            Response::from_json(br#"{"return_status":"success","return_message":"198.51.100.4"}"#)
                .unwrap();
        assert_eq!(r.outcome, Outcome::Ip);
        assert_eq!(r.ip, Some("198.51.100.4".parse().unwrap()));
        let r = Response::from_json(
            br#"{"return_status":"success","return_message":"Your IP address matches the current Route53 DNS record."}"#,
        )
        .unwrap();
        assert_eq!(r.outcome, Outcome::Unchanged);
        let r = Response::from_json(
            br#"{"return_status":"fail","return_message":"Validation hashes do not match."}"#,
        )
        .unwrap();
        assert_eq!(r.error, Some(ErrorCode::Auth));
    }
}
