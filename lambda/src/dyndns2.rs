//! The dyndns2 endpoint (`GET /nic/update?hostname=H[,H2]&myip=IP[,IP6]`, HTTP Basic auth):
//! an adapter onto the handler's set flow, so ddclient, inadyn and the DDNS clients built
//! into routers update Route 53 with the same checks, rate limits, notifications and
//! metrics as v1 and v2.
//!
//! The password is the host's secret; the user name is not checked (the hostname is the
//! natural choice, and it names the host when `hostname=` is absent). The answer is text,
//! one dyndns2 code per hostname in the order asked; docs/PROTOCOL.md has the table.

use crate::call::{Method, Reply};
use crate::dns::Dns;
use crate::handler::{Backend, Tally};
use crate::log;
use crate::metrics::Metrics;
use crate::notify::Notifier;
use crate::store::HostStore;
use base64::Engine;
use dyn53::protocol::crypto::{ct_eq_hex, sha256_hex};
use dyn53::protocol::{
    canonical_ip, normalize_hostname, parse_ip, ErrorCode, Outcome, RecordType, Response, MAX_BODY,
};
use std::fmt;
use std::net::IpAddr;

/// The endpoint's path (also matched behind an API Gateway stage prefix).
pub const PATH: &str = "/nic/update";

/// Most hostnames one request may name (dyndns2's own limit).
pub const MAX_HOSTS: usize = 20;

/// The realm a `401` asks credentials for.
pub const REALM: &str = "Basic realm=\"dyn53\"";

/// Whether a request path is the dyndns2 endpoint.
pub fn is_update_path(path: &str) -> bool {
    path.strip_suffix('/').unwrap_or(path).ends_with(PATH)
}

/// A dyndns2 request as a transport hands it over.
#[derive(Clone, PartialEq, Eq)]
pub struct Update {
    /// The caller's address, as for every other call.
    pub source: IpAddr,
    /// HTTP method (dyndns2 is GET only).
    pub method: Method,
    /// Raw query string without `?`.
    pub query: Option<String>,
    /// The `Authorization` header, if any.
    pub authorization: Option<String>,
}

// Hand-written so a debug print never shows the credentials.
impl fmt::Debug for Update {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Update")
            .field("source", &self.source)
            .field("method", &self.method)
            .field("query", &self.query)
            .field(
                "authorization",
                &self.authorization.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// One dyndns2 return code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Code {
    /// `good IP`: the record was changed to these addresses.
    Good(Vec<IpAddr>),
    /// `nochg IP`: the record already held them.
    NoChg(Vec<IpAddr>),
    /// `badauth`: unknown host or wrong password (one answer for both).
    BadAuth,
    /// `notfqdn`: not a fully qualified hostname, or none given.
    NotFqdn,
    /// `numhost`: more than [`MAX_HOSTS`] hostnames.
    NumHost,
    /// `abuse`: this host's rate limit is reached; try much later.
    Abuse,
    /// `911`: the backend (host table, Route 53) is in trouble; retry later.
    ServerError,
    /// `dnserr`: the record cannot be set (the host's zone or record needs the owner).
    DnsErr,
    /// `!donator`: authenticated, but this host may not do what was asked (dyndns2 not
    /// enabled, an address other than the caller's without `--allow-explicit-ip`, or a
    /// record type the host does not allow).
    NotAllowed,
    /// `badagent`: malformed request (bad `myip`, a parameter given twice, not a GET).
    BadAgent,
}

impl Code {
    /// The line on the wire.
    pub fn line(&self) -> String {
        let with_ips = |word: &str, ips: &[IpAddr]| {
            let ips: Vec<String> = ips.iter().map(IpAddr::to_string).collect();
            format!("{word} {}", ips.join(","))
        };
        match self {
            Code::Good(ips) => with_ips("good", ips),
            Code::NoChg(ips) => with_ips("nochg", ips),
            Code::BadAuth => "badauth".into(),
            Code::NotFqdn => "notfqdn".into(),
            Code::NumHost => "numhost".into(),
            Code::Abuse => "abuse".into(),
            Code::ServerError => "911".into(),
            Code::DnsErr => "dnserr".into(),
            Code::NotAllowed => "!donator".into(),
            Code::BadAgent => "badagent".into(),
        }
    }

    /// The code for what the set flow answered.
    fn from_response(r: &Response) -> Code {
        match (r.outcome, r.error) {
            (Outcome::Changed, _) => Code::Good(r.ip.into_iter().collect()),
            (Outcome::Unchanged, _) => Code::NoChg(r.ip.into_iter().collect()),
            (_, Some(ErrorCode::Auth)) => Code::BadAuth,
            (_, Some(ErrorCode::RateLimited)) => Code::Abuse,
            // Record type, protocol and address are checked before the flow runs, so the
            // flow refuses only a host outside its zone or an alias record: owner's work.
            (_, Some(ErrorCode::NotAllowed)) => Code::DnsErr,
            _ => Code::ServerError,
        }
    }
}

/// A whole-request refusal, answered before any host is looked at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No usable Basic credentials: `401` with a challenge, body `badauth`.
    NoCredentials,
    /// One code for the whole request.
    Code(Code),
}

/// What a well-formed request asks for.
#[derive(Clone, PartialEq, Eq)]
pub struct Parsed {
    /// Hostnames in the order asked, normalised; `None` for one that is not a FQDN.
    pub hostnames: Vec<Option<String>>,
    /// Addresses from `myip` (and `myipv6`): at most one IPv4 and one IPv6; empty means
    /// the caller's address.
    pub myip: Vec<IpAddr>,
    /// The Basic password: the host's secret.
    pub password: String,
}

// Hand-written so a debug print never shows the password.
impl fmt::Debug for Parsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Parsed")
            .field("hostnames", &self.hostnames)
            .field("myip", &self.myip)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// `user:password` from a `Basic` Authorization header.
fn basic_credentials(header: &str) -> Option<(String, String)> {
    let (scheme, token) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(token.trim())
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

/// A FQDN: a valid hostname with at least two labels.
fn fqdn(name: &str) -> Option<String> {
    normalize_hostname(name.trim())
        .ok()
        .filter(|n| n.contains('.'))
}

/// Parses a request; the refusal when it cannot be served at all.
pub fn parse(u: &Update) -> Result<Parsed, Refusal> {
    if u.method != Method::Get {
        return Err(Refusal::Code(Code::BadAgent));
    }
    let query = u.query.as_deref().unwrap_or("");
    if query.len() > MAX_BODY {
        return Err(Refusal::Code(Code::BadAgent));
    }
    let (user, password) = u
        .authorization
        .as_deref()
        .and_then(basic_credentials)
        .ok_or(Refusal::NoCredentials)?;
    if password.is_empty() {
        return Err(Refusal::NoCredentials);
    }
    let mut hostname = None;
    let mut myip = None;
    let mut myipv6 = None;
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        let slot = match k.as_ref() {
            "hostname" => &mut hostname,
            "myip" => &mut myip,
            "myipv6" => &mut myipv6,
            // system=, wildcard=, mx=, backmx=, offline=: nothing dyn53 does.
            _ => continue,
        };
        if slot.replace(v.into_owned()).is_some() {
            return Err(Refusal::Code(Code::BadAgent));
        }
    }
    let names: Vec<&str> = match hostname.as_deref().map(str::trim) {
        Some(list) if !list.is_empty() => list.split(',').collect(),
        // No hostname=: the user name names the host, if it is one.
        _ if fqdn(&user).is_some() => vec![user.as_str()],
        _ => return Err(Refusal::Code(Code::NotFqdn)),
    };
    if names.len() > MAX_HOSTS {
        return Err(Refusal::Code(Code::NumHost));
    }
    let mut ips: Vec<IpAddr> = Vec::new();
    let listed = [myip, myipv6];
    for text in listed.iter().flatten().flat_map(|v| v.split(',')) {
        let text = text.trim();
        if text.is_empty() {
            continue;
        }
        let ip = canonical_ip(parse_ip(text).ok_or(Refusal::Code(Code::BadAgent))?);
        // One address per family: a record gets one value.
        if ips.iter().any(|i| i.is_ipv4() == ip.is_ipv4()) {
            return Err(Refusal::Code(Code::BadAgent));
        }
        ips.push(ip);
    }
    Ok(Parsed {
        hostnames: names.into_iter().map(fqdn).collect(),
        myip: ips,
        password,
    })
}

/// The text answer: one line per code.
pub fn reply(codes: &[Code]) -> Reply {
    let mut body: String = codes.iter().map(|c| c.line() + "\n").collect();
    if body.is_empty() {
        body.push('\n');
    }
    Reply::text(200, body)
}

fn refusal_reply(r: Refusal) -> Reply {
    match r {
        Refusal::NoCredentials => {
            let mut reply = Reply::text(401, "badauth\n".into());
            reply.headers.push(("www-authenticate", REALM));
            reply
        }
        Refusal::Code(c) => reply(&[c]),
    }
}

impl<D: Dns, S: HostStore, N: Notifier, M: Metrics> Backend<D, S, N, M> {
    /// Answers one dyndns2 request.
    pub async fn answer_dyndns2(&self, u: Update) -> Reply {
        let source = canonical_ip(u.source);
        let parsed = match parse(&u) {
            Ok(p) => p,
            Err(r) => return refusal_reply(r),
        };
        let mut codes = Vec::with_capacity(parsed.hostnames.len());
        for name in &parsed.hostnames {
            let code = match name {
                None => Code::NotFqdn,
                Some(name) => {
                    let mut tally = Tally::default();
                    let code = self.update_host(name, &parsed, source, &mut tally).await;
                    self.record_metrics(tally);
                    code
                }
            };
            codes.push(code);
        }
        reply(&codes)
    }

    /// One hostname of a request, through the same flow as a v1 set.
    async fn update_host(
        &self,
        name: &str,
        req: &Parsed,
        source: IpAddr,
        tally: &mut Tally,
    ) -> Code {
        // Hashes first, so the comparison takes the same time whatever the lengths.
        let given = sha256_hex(req.password.as_bytes());
        let verify = |secret: &str| ct_eq_hex(&sha256_hex(secret.as_bytes()), &given);
        let (host, state) = match self.authenticate(name, verify, source, tally).await {
            Ok(h) => h,
            Err(resp) => return Code::from_response(&resp),
        };
        // Like v1: no freshness, so a valid password is as much a check-in as it can get.
        tally.counts.check_in = 1;
        let refuse = |why: String| {
            log::warn(format!("{name}: dyndns2 refused: {why}"));
            Code::NotAllowed
        };
        if !host.protocols.dyndns2 {
            return refuse(
                "dyndns2 is not enabled for this host (host add --protocols ...,dyndns2)".into(),
            );
        }
        let ips = if req.myip.is_empty() {
            vec![source]
        } else {
            req.myip.clone()
        };
        for ip in &ips {
            if *ip != source && !host.allow_explicit_ip {
                return refuse(format!(
                    "myip {ip} is not the caller's address {source}, and explicit addresses \
                     are not allowed for this host"
                ));
            }
            let rtype = RecordType::for_ip(*ip);
            if !host.allows_type(rtype) {
                return refuse(format!("record type {rtype} is not enabled for this host"));
            }
        }
        let mut changed = false;
        // The state read with the host serves the first address; later ones read it again.
        let mut state = Some(state);
        for ip in &ips {
            let rtype = RecordType::for_ip(*ip);
            let resp = self
                .apply(&host, state.take(), rtype, *ip, None, tally)
                .await;
            match Code::from_response(&resp) {
                Code::Good(_) => changed = true,
                Code::NoChg(_) => {}
                failed => return failed,
            }
        }
        if changed {
            Code::Good(ips)
        } else {
            Code::NoChg(ips)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(user: &str, password: &str) -> String {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        format!("Basic {token}")
    }

    fn update(query: &str, auth: Option<String>) -> Update {
        Update {
            source: "203.0.113.9".parse().unwrap(),
            method: Method::Get,
            query: Some(query.to_string()),
            authorization: auth,
        }
    }

    fn ok(query: &str) -> Parsed {
        parse(&update(query, Some(basic("home.example.com", "s3:cret")))).unwrap()
    }

    fn refused(query: &str) -> Refusal {
        parse(&update(query, Some(basic("someone", "pw")))).unwrap_err()
    }

    #[test]
    fn paths() {
        assert!(is_update_path("/nic/update"));
        assert!(is_update_path("/nic/update/"));
        assert!(is_update_path("/prod/nic/update"));
        assert!(!is_update_path("/"));
        assert!(!is_update_path("/nic/updates"));
    }

    #[test]
    fn parses_what_clients_send() {
        // ddclient: system=, an empty myip when it leaves the address to the server.
        let p = ok("system=dyndns&hostname=Home.Example.com.&myip=");
        assert_eq!(p.hostnames, vec![Some("home.example.com".to_string())]);
        assert!(p.myip.is_empty());
        assert_eq!(p.password, "s3:cret", "a password may hold a colon");
        let p = ok("hostname=a.example.com,b.example.com&myip=198.51.100.7,2001:db8::1");
        assert_eq!(p.hostnames.len(), 2);
        assert_eq!(
            p.myip,
            vec![
                "198.51.100.7".parse::<IpAddr>().unwrap(),
                "2001:db8::1".parse().unwrap()
            ]
        );
        let p = ok("hostname=a.example.com&myip=%3A%3Affff%3A198.51.100.7&myipv6=2001:db8::2");
        assert_eq!(
            p.myip,
            vec![
                "198.51.100.7".parse::<IpAddr>().unwrap(),
                "2001:db8::2".parse().unwrap()
            ],
            "IPv4-mapped addresses count as IPv4"
        );
        // Without hostname=, the user name names the host.
        let p = ok("myip=198.51.100.7");
        assert_eq!(p.hostnames, vec![Some("home.example.com".to_string())]);
        // A bad name gets its own line; the others still run.
        let p = ok("hostname=a.example.com,localhost,bad..example.com");
        assert_eq!(
            p.hostnames,
            vec![Some("a.example.com".to_string()), None, None]
        );
    }

    #[test]
    fn refuses_malformed_requests() {
        assert_eq!(
            parse(&update("hostname=a.example.com", None)).unwrap_err(),
            Refusal::NoCredentials
        );
        for bad_auth in [
            "Bearer abc",
            "Basic !!!",
            "Basic",
            &basic("a.example.com", ""),
        ] {
            assert_eq!(
                parse(&update(
                    "hostname=a.example.com",
                    Some(bad_auth.to_string())
                ))
                .unwrap_err(),
                Refusal::NoCredentials,
                "{bad_auth}"
            );
        }
        let agent = Refusal::Code(Code::BadAgent);
        assert_eq!(refused("hostname=a.example.com&myip=1.2.3"), agent);
        assert_eq!(
            refused("hostname=a.example.com&myip=1.2.3.4,5.6.7.8"),
            agent
        );
        assert_eq!(
            refused("hostname=a.example.com&hostname=b.example.com"),
            agent
        );
        let mut post = update("hostname=a.example.com", Some(basic("u", "p")));
        post.method = Method::Post;
        assert_eq!(parse(&post).unwrap_err(), agent);
        assert_eq!(refused("myip=1.2.3.4"), Refusal::Code(Code::NotFqdn));
        assert_eq!(refused("hostname="), Refusal::Code(Code::NotFqdn));
        let many: Vec<String> = (0..=MAX_HOSTS)
            .map(|i| format!("h{i}.example.com"))
            .collect();
        assert_eq!(
            refused(&format!("hostname={}", many.join(","))),
            Refusal::Code(Code::NumHost)
        );
    }

    #[test]
    fn answers() {
        let v4: IpAddr = "198.51.100.7".parse().unwrap();
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        let r = reply(&[
            Code::Good(vec![v4]),
            Code::NoChg(vec![v4, v6]),
            Code::BadAuth,
            Code::NotFqdn,
            Code::Abuse,
            Code::ServerError,
            Code::DnsErr,
            Code::NotAllowed,
        ]);
        assert_eq!(r.status, 200);
        assert_eq!(r.content_type, crate::call::TEXT);
        assert_eq!(
            r.body,
            "good 198.51.100.7\nnochg 198.51.100.7,2001:db8::1\nbadauth\nnotfqdn\nabuse\n911\n\
             dnserr\n!donator\n"
        );
        let r = refusal_reply(Refusal::NoCredentials);
        assert_eq!((r.status, r.body.as_str()), (401, "badauth\n"));
        assert_eq!(r.headers, vec![("www-authenticate", REALM)]);
        // The flow's answers, mapped.
        assert_eq!(
            Code::from_response(&Response::changed("h", v4, None)),
            Code::Good(vec![v4])
        );
        assert_eq!(
            Code::from_response(&Response::unchanged(v4)),
            Code::NoChg(vec![v4])
        );
        let code = |e| Code::from_response(&Response::error(e, "x"));
        assert_eq!(code(ErrorCode::Auth), Code::BadAuth);
        assert_eq!(code(ErrorCode::RateLimited), Code::Abuse);
        assert_eq!(code(ErrorCode::Unavailable), Code::ServerError);
        assert_eq!(code(ErrorCode::Internal), Code::ServerError);
        assert_eq!(code(ErrorCode::NotAllowed), Code::DnsErr);
    }

    #[test]
    fn debug_hides_credentials() {
        let u = update("hostname=a.example.com", Some(basic("u", "topsecret")));
        assert!(!format!("{u:?}").contains(u.authorization.as_deref().unwrap()));
        let p = ok("hostname=a.example.com");
        assert!(!format!("{p:?}").contains("s3:cret"));
    }
}
