//! The handler driven by Lambda events (function URL payload 2.0, API Gateway HTTP API and
//! REST API fixtures) against Route 53, DynamoDB and SNS in a real moto_server.
//!
//! Each test asserts the record in Route 53, the SNS texts read back from moto, the EMF
//! metrics, and for every rejected request that nothing changed.

use crate::common;
use common::{
    counts, dead_endpoint, fixture_event, sdk_config, to_request, v1_hash, v2_body, SharedBuf,
    Stack,
};
use dyn53::protocol::{ErrorCode, IpMode, Outcome, RecordType, Response, MAX_BODY};
use dyn53_backend::aws::AwsBackend;
use dyn53_backend::handler::{Policy, AUTH_FAILED};
use dyn53_backend::lambda_event;
use dyn53_backend::metrics::UNKNOWN_HOST;
use dyn53_backend::store::RateLimit;
use lambda_http::{Body, RequestExt};
use serde_json::{json, Value};

const A: RecordType = RecordType::A;
const AAAA: RecordType = RecordType::Aaaa;

/// Builds an event from a fixture file with the given caller, method, query and body.
fn event(
    fixture: &str,
    source: &str,
    method: &str,
    query: &str,
    body: Option<&str>,
) -> lambda_http::Request {
    let mut v = fixture_event(fixture, source, method, query);
    v["body"] = body.map_or(Value::Null, |b| json!(b));
    to_request(v)
}

/// A stack and a backend on it.
struct T {
    s: Stack,
    b: AwsBackend<SharedBuf>,
    m: SharedBuf,
}

/// What one call answered.
struct Got {
    status: u16,
    r: Response,
    raw: String,
}

impl T {
    async fn new(tag: &str) -> T {
        Self::with_policy(tag, common::policy()).await
    }

    async fn with_policy(tag: &str, p: Policy) -> T {
        let s = Stack::new(tag).await;
        let (b, m) = s.backend(p);
        T { s, b, m }
    }

    async fn send(&self, req: lambda_http::Request) -> Got {
        let resp = lambda_event::respond(&self.b, req).await;
        assert_eq!(
            resp.headers().get("content-type").unwrap(),
            "application/json"
        );
        // The reference handler's CORS headers.
        for (k, v) in [
            ("access-control-allow-headers", "Content-Type"),
            ("access-control-allow-origin", "*"),
            ("access-control-allow-methods", "GET"),
        ] {
            assert_eq!(resp.headers().get(k).unwrap(), v);
        }
        let raw = match resp.body() {
            Body::Text(t) => t.clone(),
            Body::Binary(b) => String::from_utf8(b.clone()).unwrap(),
            _ => String::new(),
        };
        let status = resp.status().as_u16();
        let r =
            Response::from_answer(status, raw.as_bytes()).unwrap_or_else(|e| panic!("{e}: {raw}"));
        Got { status, r, raw }
    }

    /// POST a JSON body through the function URL fixture.
    async fn post(&self, source: &str, body: &str) -> Got {
        self.send(event("function-url.json", source, "POST", "", Some(body)))
            .await
    }

    async fn nonce(&self, source: &str) -> String {
        let g = self
            .post(source, r#"{"execution_mode":"get","protocol":2}"#)
            .await;
        assert_eq!(g.status, 200, "{}", g.raw);
        assert_eq!(g.r.ip, Some(source.parse().unwrap()));
        g.r.nonce.expect("get answer carries a nonce")
    }

    /// A full v2 exchange (get, then signed set) from `source`.
    async fn v2(
        &self,
        host: &str,
        t: RecordType,
        ip: &str,
        mode: IpMode,
        source: &str,
        secret: &str,
    ) -> Got {
        let nonce = self.nonce(source).await;
        self.post(source, &v2_body(host, t, ip, mode, &nonce, secret))
            .await
    }

    async fn record(&self, name: &str, t: RecordType) -> Option<Vec<String>> {
        self.s.record(name, t).await.map(|(v, _)| v)
    }
}

/// Whether an answer has exactly the reference's shape: the two fields, as json.dumps writes
/// them, and no digits outside return_message.
fn is_v1_shape(raw: &str) -> bool {
    let v: Value = serde_json::from_str(raw).unwrap();
    let msg = v["return_message"].as_str().unwrap_or_default();
    v.as_object().unwrap().len() == 2
        && raw == dyn53::protocol::v1_json(v["return_status"] == "success", msg)
}

fn assert_error(g: &Got, code: ErrorCode) {
    assert_eq!(g.r.outcome, Outcome::Error, "{}", g.raw);
    assert_eq!(g.r.error, Some(code), "{}", g.raw);
    // v1 answers carry the reference's codes: 401 for an unknown host or a wrong hash.
    let want = match (is_v1_shape(&g.raw), code) {
        (true, ErrorCode::Auth) => 401,
        _ => code.http_status(),
    };
    assert_eq!(g.status, want, "{}", g.raw);
    // No AWS error text, ever.
    for word in [
        "Exception",
        "aws",
        "dispatch",
        "Throttling",
        "service error",
    ] {
        assert!(!g.raw.contains(word), "leaked {word:?}: {}", g.raw);
    }
}

#[tokio::test]
async fn v2_first_set_unchanged_changed_and_aaaa_over_ipv6() {
    let t = T::new("v2flow").await;
    let host = t.s.name("home");
    let secret = t.s.add_host("home", |h| h.types = vec![A, AAAA]).await;
    // A record of the next name exists: ListResourceRecordSets returns it for a missing
    // record, and it must not be mistaken for ours.
    t.s.put_record(
        &t.s.name("www"),
        aws_sdk_route53::types::RrType::A,
        "192.0.2.250",
    )
    .await;

    // First set: no record yet.
    let g = t
        .v2(
            &host,
            A,
            "203.0.113.7",
            IpMode::Source,
            "203.0.113.7",
            &secret,
        )
        .await;
    assert_eq!(
        (g.status, g.r.outcome),
        (201, Outcome::Changed),
        "{}",
        g.raw
    );
    assert_eq!(g.r.previous, None);
    assert_eq!(t.record(&host, A).await, Some(vec!["203.0.113.7".into()]));
    assert_eq!(t.s.record(&host, A).await.unwrap().1, 60, "host TTL used");

    // Same address again: unchanged, no notification.
    let g = t
        .v2(
            &host,
            A,
            "203.0.113.7",
            IpMode::Source,
            "203.0.113.7",
            &secret,
        )
        .await;
    assert_eq!(
        (g.status, g.r.outcome),
        (200, Outcome::Unchanged),
        "{}",
        g.raw
    );

    // New address: changed, previous reported.
    let g = t
        .v2(
            &host,
            A,
            "198.51.100.20",
            IpMode::Source,
            "198.51.100.20",
            &secret,
        )
        .await;
    assert_eq!(
        (g.status, g.r.outcome),
        (201, Outcome::Changed),
        "{}",
        g.raw
    );
    assert_eq!(g.r.previous, Some("203.0.113.7".parse().unwrap()));
    assert_eq!(t.record(&host, A).await, Some(vec!["198.51.100.20".into()]));

    // AAAA over IPv6: the A record stays.
    let v6 = "2001:db8:4:5::9";
    let g = t.v2(&host, AAAA, v6, IpMode::Source, v6, &secret).await;
    assert_eq!(
        (g.status, g.r.outcome),
        (201, Outcome::Changed),
        "{}",
        g.raw
    );
    assert_eq!(t.record(&host, AAAA).await, Some(vec![v6.into()]));
    assert_eq!(t.record(&host, A).await, Some(vec!["198.51.100.20".into()]));
    assert_eq!(
        t.record(&t.s.name("www"), A).await,
        Some(vec!["192.0.2.250".into()])
    );

    let texts = t.s.sns_texts();
    assert_eq!(texts.len(), 3, "{texts:?}");
    assert!(
        texts[0].starts_with(&format!("dyn53: {host} A changed none -> 203.0.113.7 (")),
        "{texts:?}"
    );
    assert!(texts[1].starts_with(&format!(
        "dyn53: {host} A changed 203.0.113.7 -> 198.51.100.20 ("
    )));
    assert!(texts[2].starts_with(&format!("dyn53: {host} AAAA changed none -> {v6} (")));
    assert!(texts.iter().all(|t| t.ends_with(" UTC)") && t.len() <= 160));

    let m = t.m.metrics();
    let want = [(1, 1, 0, 0), (1, 0, 0, 0), (1, 1, 0, 0), (1, 1, 0, 0)];
    assert_eq!(
        m.len(),
        want.len(),
        "one EMF line per set, none per get: {m:?}"
    );
    for ((h, c), w) in m.iter().zip(want) {
        assert_eq!((h.as_str(), *c), (host.as_str(), counts(w)));
    }
}

#[tokio::test]
async fn get_reports_source_ip_not_forwarded_header() {
    let t = T::new("getip").await;
    for ip in ["203.0.113.99", "2001:db8::42"] {
        let g = t.post(ip, r#"{"execution_mode":"get"}"#).await;
        assert_eq!(g.status, 200);
        assert_eq!(g.r.outcome, Outcome::Ip);
        assert_eq!(g.r.message, ip, "reference shape: return_message is the IP");
        assert_ne!(
            g.r.message, "192.0.2.250",
            "x-forwarded-for must be ignored"
        );
        // v1: the address and nothing else, so a digit-run match finds exactly it.
        assert_eq!(
            g.raw,
            format!(r#"{{"return_status": "success", "return_message": "{ip}"}}"#)
        );
        let g = t.post(ip, r#"{"execution_mode":"get","protocol":2}"#).await;
        assert_eq!(g.r.ip, Some(ip.parse().unwrap()));
        assert!(g.r.nonce.is_some(), "v2 get: {}", g.raw);
    }
    assert!(t.m.metrics().is_empty());
}

#[tokio::test]
async fn v1_query_and_json_forms_on_every_event_shape() {
    let t = T::new("v1forms").await;
    let host = t.s.name("legacy");
    let secret = t.s.add_host("legacy", |_| {}).await;

    // Query form through a function URL (GET ?mode=set).
    let ip = "203.0.113.10";
    let q = format!(
        "mode=set&hostname={host}&hash={}",
        v1_hash(ip, &host, &secret)
    );
    let g = t
        .send(event("function-url.json", ip, "GET", &q, None))
        .await;
    assert_eq!(
        (g.status, g.r.outcome),
        (201, Outcome::Changed),
        "{}",
        g.raw
    );
    assert_eq!(
        g.r.message,
        format!("Your hostname record {host} has been set to {ip}")
    );
    assert!(is_v1_shape(&g.raw), "{}", g.raw);
    assert_eq!(t.record(&host, A).await, Some(vec![ip.into()]));

    // JSON form, as the 2023 reference client sends it: the 2023 wording.
    let ip = "203.0.113.11";
    let body = json!({"execution_mode":"set","ddns_hostname":host,"validation_hash":v1_hash(ip, &host, &secret)});
    let g = t.post(ip, &body.to_string()).await;
    assert_eq!(
        (g.status, g.r.outcome),
        (201, Outcome::Changed),
        "{}",
        g.raw
    );
    assert_eq!(
        g.raw,
        format!(
            r#"{{"return_status": "success", "return_message": "{host} has been updated to {ip}"}}"#
        )
    );
    assert_eq!(t.record(&host, A).await, Some(vec![ip.into()]));

    // The 2015/2016 clients send the name with its trailing dot, and hash that: the answer
    // names the host as sent.
    let ip = "203.0.113.13";
    let dotted = format!("{host}.");
    let q = format!(
        "mode=set&hostname={dotted}&hash={}",
        v1_hash(ip, &dotted, &secret)
    );
    let g = t
        .send(event("function-url.json", ip, "GET", &q, None))
        .await;
    assert_eq!(
        g.raw,
        format!(
            r#"{{"return_status": "success", "return_message": "Your hostname record {dotted} has been set to {ip}"}}"#
        )
    );
    assert_eq!(g.status, 201);
    assert_eq!(t.record(&host, A).await, Some(vec![ip.into()]));
    // A malformed hash gets the reference's words.
    let g = t
        .send(event(
            "function-url.json",
            ip,
            "GET",
            &format!("mode=set&hostname={dotted}&hash=abc"),
            None,
        ))
        .await;
    assert_error(&g, ErrorCode::BadRequest);
    assert_eq!(g.r.message, dyn53::protocol::V1_BAD_HASH);

    // API Gateway REST API (2015 reference deployment), query form.
    let ip = "203.0.113.12";
    let q = format!(
        "mode=set&hostname={host}&hash={}",
        v1_hash(ip, &host, &secret)
    );
    let g = t.send(event("apigw-rest.json", ip, "GET", &q, None)).await;
    assert_eq!(
        (g.status, g.r.outcome),
        (201, Outcome::Changed),
        "{}",
        g.raw
    );
    assert_eq!(t.record(&host, A).await, Some(vec![ip.into()]));
    let g = t
        .send(event("apigw-rest.json", ip, "GET", "mode=get", None))
        .await;
    assert_eq!(g.r.message, ip);

    // API Gateway HTTP API, unchanged this time.
    let q = format!(
        "mode=set&hostname={host}&hash={}",
        v1_hash(ip, &host, &secret)
    );
    let g = t.send(event("http-api.json", ip, "GET", &q, None)).await;
    assert_eq!(
        (g.status, g.r.outcome),
        (200, Outcome::Unchanged),
        "{}",
        g.raw
    );
    assert_eq!(
        g.r.message,
        "Your IP address matches the current Route53 DNS record."
    );

    // v1 over IPv6 sets the AAAA record only if the host allows AAAA.
    let v6 = "2001:db8::12";
    let q = format!(
        "mode=set&hostname={host}&hash={}",
        v1_hash(v6, &host, &secret)
    );
    let g = t
        .send(event("function-url.json", v6, "GET", &q, None))
        .await;
    assert_error(&g, ErrorCode::NotAllowed);
    assert_eq!(t.record(&host, AAAA).await, None);
    assert_eq!(t.s.sns_texts().len(), 4);
}

#[tokio::test]
async fn unknown_host_and_wrong_secret_get_the_same_answer_and_change_nothing() {
    let t = T::new("auth").await;
    let host = t.s.name("home");
    let secret = t.s.add_host("home", |h| h.types = vec![A, AAAA]).await;
    let ip = "203.0.113.30";
    let g = t.v2(&host, A, ip, IpMode::Source, ip, &secret).await;
    assert_eq!(g.status, 201);
    let before = t.s.records().await;

    let other = "203.0.113.31";
    let wrong = t
        .v2(&host, A, other, IpMode::Source, other, &"0".repeat(64))
        .await;
    let unknown_name = t.s.name("nobody");
    let unknown = t
        .v2(&unknown_name, A, other, IpMode::Source, other, &secret)
        .await;
    assert_error(&wrong, ErrorCode::Auth);
    assert_error(&unknown, ErrorCode::Auth);
    assert_eq!(wrong.raw, unknown.raw, "names must not be enumerable");
    assert_eq!(wrong.r.message, AUTH_FAILED);
    // v1 the same.
    let q = format!(
        "mode=set&hostname={host}&hash={}",
        v1_hash(other, &host, "guess")
    );
    let wrong_v1 = t
        .send(event("function-url.json", other, "GET", &q, None))
        .await;
    let q = format!(
        "mode=set&hostname={unknown_name}&hash={}",
        v1_hash(other, &unknown_name, "guess")
    );
    let unknown_v1 = t
        .send(event("function-url.json", other, "GET", &q, None))
        .await;
    assert_eq!(wrong_v1.raw, unknown_v1.raw);
    assert_eq!(
        (wrong_v1.status, wrong_v1.raw.as_str()),
        (
            401,
            r#"{"return_status": "fail", "return_message": "Validation hashes do not match."}"#
        )
    );

    assert_eq!(t.s.records().await, before, "nothing changed");
    // One auth-failure notification for the known host (throttled), none for the unknown.
    let texts = t.s.sns_texts();
    assert_eq!(texts.len(), 2, "{texts:?}");
    assert!(
        texts[1].starts_with(&format!(
            "dyn53: {host} authentication failure from {other} ("
        )),
        "{texts:?}"
    );
    let m = t.m.metrics();
    assert_eq!(m.len(), 5);
    assert_eq!(m[1], (host.clone(), counts((0, 0, 1, 0))));
    assert_eq!(m[2], (UNKNOWN_HOST.to_string(), counts((0, 0, 1, 0))));
    assert_eq!(m[3], (host.clone(), counts((0, 0, 1, 0))));
    assert_eq!(m[4], (UNKNOWN_HOST.to_string(), counts((0, 0, 1, 0))));
}

#[tokio::test]
async fn replayed_v2_request_is_refused() {
    let t = T::new("replay").await;
    let host = t.s.name("home");
    let secret = t.s.add_host("home", |_| {}).await;
    let ip = "203.0.113.40";
    let nonce = t.nonce(ip).await;
    let body = v2_body(&host, A, ip, IpMode::Source, &nonce, &secret);
    let g = t.post(ip, &body).await;
    assert_eq!(g.status, 201);
    // The owner's router moves on to another address...
    let g = t
        .v2(
            &host,
            A,
            "203.0.113.41",
            IpMode::Source,
            "203.0.113.41",
            &secret,
        )
        .await;
    assert_eq!(g.status, 201);
    // ...and a captured request replayed from the old address changes nothing.
    let before = t.s.records().await;
    let g = t.post(ip, &body).await;
    assert_error(&g, ErrorCode::Nonce);
    assert!(g.r.message.contains("already used"));
    assert_eq!(t.s.records().await, before);
    assert_eq!(t.record(&host, A).await, Some(vec!["203.0.113.41".into()]));
    // A forged nonce is refused before the host is even loaded.
    let forged = v2_body(&host, A, ip, IpMode::Source, "1.2.3", &secret);
    assert_error(&t.post(ip, &forged).await, ErrorCode::Nonce);
    assert_eq!(t.s.sns_texts().len(), 2);
}

#[tokio::test]
async fn malformed_and_oversize_requests_change_nothing() {
    let t = T::new("malformed").await;
    let host = t.s.name("home");
    let secret = t.s.add_host("home", |_| {}).await;
    let ip = "203.0.113.50";
    for body in [
        "{",
        "[]",
        r#"{"execution_mode":"set"}"#,
        r#"{"execution_mode":"set","ddns_hostname":"home","validation_hash":"00"}"#,
        r#"{"execution_mode":"get","protocol":9}"#,
        "\u{0}\u{1}",
    ] {
        assert_error(&t.post(ip, body).await, ErrorCode::BadRequest);
    }
    let big = format!(
        r#"{{"execution_mode":"get","pad":"{}"}}"#,
        "x".repeat(MAX_BODY)
    );
    assert_error(&t.post(ip, &big).await, ErrorCode::TooLarge);
    // Non-IP explicit address.
    let nonce = t.nonce(ip).await;
    let mut v: Value =
        serde_json::from_str(&v2_body(&host, A, ip, IpMode::Explicit, &nonce, &secret)).unwrap();
    v["ip"] = json!("not-an-ip");
    assert_error(&t.post(ip, &v.to_string()).await, ErrorCode::BadRequest);
    v["ip"] = json!("203.0.113.5; rm -rf /");
    assert_error(&t.post(ip, &v.to_string()).await, ErrorCode::BadRequest);
    // PUT is not a protocol method.
    let g = t
        .send(event("function-url.json", ip, "PUT", "mode=get", None))
        .await;
    assert_error(&g, ErrorCode::BadRequest);
    assert_eq!(t.record(&host, A).await, None);
    assert!(t.s.sns_texts().is_empty());
    assert!(t.m.metrics().is_empty());
}

#[tokio::test]
async fn explicit_ip_only_where_allowed_and_source_mode_must_match() {
    let t = T::new("explicit").await;
    let strict = t.s.name("strict");
    let strict_secret = t.s.add_host("strict", |_| {}).await;
    let open = t.s.name("open");
    let open_secret =
        t.s.add_host("open", |h| {
            h.allow_explicit_ip = true;
            // Documentation addresses below: this host predates the public-only rule.
            h.public_ip_only = false;
        })
        .await;
    let public = t.s.name("public");
    let public_secret = t.s.add_host("public", |h| h.allow_explicit_ip = true).await;
    let caller = "203.0.113.60";

    // New hosts accept only public explicit addresses: never 0.0.0.0, the metadata address,
    // private, shared, loopback, link-local or unique-local ones.
    for (ip, rtype) in [
        ("0.0.0.0", A),
        ("169.254.169.254", A),
        ("10.1.2.3", A),
        ("172.16.0.1", A),
        ("192.168.1.1", A),
        ("100.64.0.1", A),
        ("127.0.0.1", A),
        ("fd00::1", AAAA),
        ("fe80::1", AAAA),
        ("::1", AAAA),
    ] {
        let g = t
            .v2(&public, rtype, ip, IpMode::Explicit, caller, &public_secret)
            .await;
        assert_error(&g, ErrorCode::NotAllowed);
        assert!(
            g.r.message.contains("not a public address"),
            "{ip}: {}",
            g.raw
        );
    }
    assert_eq!(t.record(&public, A).await, None);
    let g = t
        .v2(
            &public,
            A,
            "9.9.9.9",
            IpMode::Explicit,
            caller,
            &public_secret,
        )
        .await;
    assert_eq!(
        (g.status, g.r.outcome),
        (201, Outcome::Changed),
        "{}",
        g.raw
    );
    assert_eq!(t.record(&public, A).await, Some(vec!["9.9.9.9".into()]));

    let g = t
        .v2(
            &strict,
            A,
            "198.51.100.60",
            IpMode::Explicit,
            caller,
            &strict_secret,
        )
        .await;
    assert_error(&g, ErrorCode::NotAllowed);
    // Source mode with an address that is not the caller's: re-get.
    let g = t
        .v2(
            &strict,
            A,
            "198.51.100.60",
            IpMode::Source,
            caller,
            &strict_secret,
        )
        .await;
    assert_error(&g, ErrorCode::IpMismatch);
    assert!(g.r.error.unwrap().retryable());
    assert_eq!(t.record(&strict, A).await, None);

    let g = t
        .v2(
            &open,
            A,
            "198.51.100.61",
            IpMode::Explicit,
            caller,
            &open_secret,
        )
        .await;
    assert_eq!(
        (g.status, g.r.outcome),
        (201, Outcome::Changed),
        "{}",
        g.raw
    );
    assert_eq!(t.record(&open, A).await, Some(vec!["198.51.100.61".into()]));
    let texts = t.s.sns_texts();
    assert_eq!(texts.len(), 2);
    assert!(texts[1].contains(&format!("{open} A changed none -> 198.51.100.61")));
    // Refused before the nonce was spent: not a check-in, nothing to count.
    assert_eq!(
        t.m.metrics(),
        vec![
            (public.clone(), counts((1, 1, 0, 0))),
            (open.clone(), counts((1, 1, 0, 0)))
        ]
    );
}

#[tokio::test]
async fn host_config_limits_protocols_and_types() {
    let t = T::new("limits").await;
    let v2only = t.s.name("v2only");
    let secret =
        t.s.add_host("v2only", |h| {
            h.protocols.v1 = false;
            h.notify.on_change = false;
        })
        .await;
    let ip = "203.0.113.70";
    let q = format!(
        "mode=set&hostname={v2only}&hash={}",
        v1_hash(ip, &v2only, &secret)
    );
    let g = t
        .send(event("function-url.json", ip, "GET", &q, None))
        .await;
    assert_error(&g, ErrorCode::NotAllowed);
    let g = t
        .v2(
            &v2only,
            AAAA,
            "2001:db8::70",
            IpMode::Source,
            "2001:db8::70",
            &secret,
        )
        .await;
    assert_error(&g, ErrorCode::NotAllowed);
    assert_eq!(t.s.records().await.len(), 2, "only the zone's NS and SOA");
    let g = t.v2(&v2only, A, ip, IpMode::Source, ip, &secret).await;
    assert_eq!(g.status, 201);
    assert!(t.s.sns_texts().is_empty(), "notify_change off");
    // The refused v1 request is no check-in (a replayed v1 token must not keep the
    // dead-man alarm quiet); the refused AAAA spent a fresh nonce, so it is one.
    let m = t.m.metrics();
    assert_eq!(
        m,
        vec![
            (v2only.clone(), counts((1, 0, 0, 0))),
            (v2only.clone(), counts((1, 1, 0, 0)))
        ]
    );
}

#[tokio::test]
async fn hostname_outside_its_zone_is_refused() {
    let t = T::new("outside").await;
    // Recorded zone name says no: refused before Route 53 is asked.
    let name = "home.elsewhere.example.org";
    let secret = "s".repeat(64);
    let mut h = dyn53_backend::host::HostConfig::new(name, &t.s.zone_id, secret.clone());
    h.zone_name = Some(t.s.zone.clone());
    t.s.put_host(&h).await;
    let ip = "203.0.113.80";
    let g = t.v2(name, A, ip, IpMode::Source, ip, &secret).await;
    assert_error(&g, ErrorCode::NotAllowed);
    // A hand-written item without the zone name: Route 53 itself refuses, a retryable 503.
    let name2 = "nas.elsewhere.example.org";
    let mut h2 = dyn53_backend::host::HostConfig::new(name2, &t.s.zone_id, secret.clone());
    h2.zone_name = None;
    t.s.put_host(&h2).await;
    let g = t.v2(name2, A, ip, IpMode::Source, ip, &secret).await;
    assert_error(&g, ErrorCode::Unavailable);
    assert!(g.r.error.unwrap().retryable());
    assert_eq!(t.s.records().await.len(), 2, "nothing written");
    let texts = t.s.sns_texts();
    assert_eq!(texts.len(), 2, "{texts:?}");
    assert!(texts[0].starts_with(&format!(
        "dyn53: {name} A update failed: hostname outside its hosted zone ("
    )));
    assert!(texts[1].starts_with(&format!(
        "dyn53: {name2} A update failed: Route 53 refused the change ("
    )));
    let m = t.m.metrics();
    assert_eq!(
        m,
        vec![
            (name.to_string(), counts((1, 0, 0, 1))),
            (name2.to_string(), counts((1, 0, 0, 1)))
        ]
    );
}

#[tokio::test]
async fn names_outside_record_names_are_refused_before_route53() {
    let p = Policy {
        record_names: Some(vec![
            "home.names.example.net".into(),
            "*.dyn.names.example.net".into(),
        ]),
        ..common::policy()
    };
    let t = T::with_policy("names", p).await;
    let ip = "203.0.113.85";
    for (label, ok) in [
        ("home", true),
        ("a.dyn", true),
        ("www", false),
        ("dyn", false),
    ] {
        let name = t.s.name(label);
        let secret = t.s.add_host(label, |h| h.notify.on_error = false).await;
        let g = t.v2(&name, A, ip, IpMode::Source, ip, &secret).await;
        if ok {
            assert_eq!(g.status, 201, "{name}: {}", g.raw);
        } else {
            assert_error(&g, ErrorCode::NotAllowed);
            assert!(g.r.message.contains("RecordNames"), "{}", g.raw);
            assert_eq!(t.record(&name, A).await, None);
        }
    }
}

#[tokio::test]
async fn rate_limit_holds_and_changes_nothing() {
    let p = Policy {
        set_limit: RateLimit {
            max: 3,
            window: 3600,
        },
        ..common::policy()
    };
    let t = T::with_policy("ratelimit", p).await;
    let host = t.s.name("home");
    let secret = t.s.add_host("home", |_| {}).await;
    let ips = [
        "203.0.113.91",
        "203.0.113.92",
        "203.0.113.93",
        "203.0.113.94",
    ];
    for (i, ip) in ips[..3].iter().enumerate() {
        let g = t.v2(&host, A, ip, IpMode::Source, ip, &secret).await;
        assert_eq!(g.status, 201, "{}", g.raw);
        if i == 1 {
            // A stranger's failures do not spend the owner's budget: they stop at auth.
            for _ in 0..3 {
                let g = t
                    .v2(&host, A, ips[3], IpMode::Source, ips[3], &"f".repeat(64))
                    .await;
                assert_error(&g, ErrorCode::Auth);
            }
        }
    }
    let g = t
        .v2(&host, A, ips[3], IpMode::Source, ips[3], &secret)
        .await;
    assert_error(&g, ErrorCode::RateLimited);
    assert!(g.r.error.unwrap().retryable());
    assert_eq!(t.record(&host, A).await, Some(vec![ips[2].into()]));
    // v1 shares the host's budget.
    let q = format!(
        "mode=set&hostname={host}&hash={}",
        v1_hash(ips[3], &host, &secret)
    );
    let g = t
        .send(event("function-url.json", ips[3], "GET", &q, None))
        .await;
    assert_error(&g, ErrorCode::RateLimited);
    assert_eq!(t.record(&host, A).await, Some(vec![ips[2].into()]));
    // Three changes and one (throttled) auth-failure notice.
    assert_eq!(t.s.sns_texts().len(), 4);
    let m = t.m.metrics();
    assert_eq!(m.len(), 8);
    assert_eq!(
        m[7],
        (host.clone(), counts((1, 0, 0, 0))),
        "a limited set is still a check-in"
    );
}

#[tokio::test]
async fn sns_down_still_updates_dns() {
    let s = Stack::new("snsdown").await;
    let dead = sdk_config(&dead_endpoint()).await;
    let (b, m) = s.backend_with(common::policy(), &dead, &s.cfg);
    let t = T { s, b, m };
    let host = t.s.name("home");
    let secret = t.s.add_host("home", |_| {}).await;
    let ip = "203.0.113.100";
    let g = t.v2(&host, A, ip, IpMode::Source, ip, &secret).await;
    assert_eq!(
        (g.status, g.r.outcome),
        (201, Outcome::Changed),
        "{}",
        g.raw
    );
    assert_eq!(t.record(&host, A).await, Some(vec![ip.into()]));
    assert_eq!(t.m.metrics(), vec![(host.clone(), counts((1, 1, 0, 1)))]);
}

#[tokio::test]
async fn table_down_is_a_clear_503_and_changes_nothing() {
    let s = Stack::new("tabledown").await;
    let host = s.name("home");
    let secret = s.add_host("home", |_| {}).await;
    let dead = sdk_config(&dead_endpoint()).await;
    let (b, m) = s.backend_with(common::policy(), &s.cfg, &dead);
    let t = T { s, b, m };
    let ip = "203.0.113.110";
    // The get still answers the address (a v1 client needs nothing else).
    let g = t.post(ip, r#"{"execution_mode":"get"}"#).await;
    assert_eq!((g.status, g.r.nonce.as_deref()), (200, None));
    let q = format!(
        "mode=set&hostname={host}&hash={}",
        v1_hash(ip, &host, &secret)
    );
    let g = t
        .send(event("function-url.json", ip, "GET", &q, None))
        .await;
    assert_error(&g, ErrorCode::Unavailable);
    assert!(g.r.message.contains("host table"), "{}", g.raw);
    assert_eq!(t.record(&host, A).await, None);
    assert_eq!(
        t.m.metrics(),
        vec![(UNKNOWN_HOST.to_string(), counts((0, 0, 0, 1)))]
    );
}

#[tokio::test]
async fn racing_sets_serialize_with_exact_notifications() {
    let t = T::new("race").await;
    let host = t.s.name("home");
    let secret = t.s.add_host("home", |_| {}).await;
    let (ip1, ip2) = ("203.0.113.121", "203.0.113.122");
    let n1 = t.nonce(ip1).await;
    let n2 = t.nonce(ip2).await;
    let b1 = v2_body(&host, A, ip1, IpMode::Source, &n1, &secret);
    let b2 = v2_body(&host, A, ip2, IpMode::Source, &n2, &secret);
    let (g1, g2) = tokio::join!(t.post(ip1, &b1), t.post(ip2, &b2));
    assert_eq!((g1.status, g2.status), (201, 201), "{} {}", g1.raw, g2.raw);
    // The later of the two (the one that saw the other's address as previous) wins.
    let (first, last) = if g2.r.previous == Some(ip1.parse().unwrap()) {
        (ip1, ip2)
    } else {
        (ip2, ip1)
    };
    assert_eq!(t.record(&host, A).await, Some(vec![last.into()]));
    let texts = t.s.sns_texts();
    assert_eq!(texts.len(), 2);
    assert!(
        texts
            .iter()
            .any(|x| x.contains(&format!("changed none -> {first} ("))),
        "{texts:?}"
    );
    assert!(
        texts
            .iter()
            .any(|x| x.contains(&format!("changed {first} -> {last} ("))),
        "{texts:?}"
    );
}

/// A non-proxy API Gateway event: the JSON object a mapping template builds, as is.
fn non_proxy(v: Value) -> lambda_http::Request {
    let req = lambda_http::request::from_str(&v.to_string()).expect("a pass-through event");
    assert!(matches!(
        req.request_context_ref(),
        Some(lambda_http::request::RequestContext::PassThrough)
    ));
    req
}

#[tokio::test]
async fn mapping_template_events_of_2016_deployments() {
    let t = T::new("nonproxy").await;
    let host = t.s.name("old");
    let secret = t.s.add_host("old", |_| {}).await;
    let dotted = format!("{host}.");
    let ip = "203.0.113.150";
    let ev = |mode: &str, hostname: &str, hash: &str| {
        json!({
            "execution_mode": mode,
            "source_ip": ip,
            "query_string": format!("{{mode={mode}, hostname={hostname}, hash={hash}}}"),
            "validation_hash": hash,
            "set_hostname": hostname,
        })
    };
    let g = t.send(non_proxy(ev("get", "", ""))).await;
    assert_eq!(
        g.raw,
        format!(r#"{{"return_status": "success", "return_message": "{ip}"}}"#)
    );
    let hash = v1_hash(ip, &dotted, &secret);
    let g = t.send(non_proxy(ev("set", &dotted, &hash))).await;
    assert_eq!(
        g.raw,
        format!(
            r#"{{"return_status": "success", "return_message": "Your hostname record {dotted} has been set to {ip}"}}"#
        )
    );
    assert_eq!(t.record(&host, A).await, Some(vec![ip.into()]));
    let g = t.send(non_proxy(ev("set", &dotted, &hash))).await;
    assert_eq!(g.r.outcome, Outcome::Unchanged, "{}", g.raw);

    // Refused, and nothing changes: a wrong hash, a hash for another address, a hostname
    // trying to smuggle in query fields, an event without the gateway's source address.
    let before = t.s.records().await;
    let wrong = v1_hash(ip, &dotted, "guess");
    let g = t.send(non_proxy(ev("set", &dotted, &wrong))).await;
    assert_error(&g, ErrorCode::Auth);
    let mut other = ev("set", &dotted, &v1_hash("198.51.100.1", &dotted, &secret));
    other["source_ip"] = json!(ip);
    assert_error(&t.send(non_proxy(other)).await, ErrorCode::Auth);
    let sneaky = format!("{dotted}&hash={hash}");
    let g = t.send(non_proxy(ev("set", &sneaky, &hash))).await;
    assert_error(&g, ErrorCode::BadRequest);
    let mut no_source = ev("set", &dotted, &hash);
    no_source.as_object_mut().unwrap().remove("source_ip");
    assert_error(&t.send(non_proxy(no_source)).await, ErrorCode::Internal);
    assert_error(
        &t.send(non_proxy(json!({"execution_mode": "put", "source_ip": ip})))
            .await,
        ErrorCode::BadRequest,
    );
    assert_eq!(t.s.records().await, before);
}

#[tokio::test]
async fn merlin_design_event_without_host_or_token_is_refused() {
    let t = T::new("merlinevent").await;
    let host = t.s.name("merlin");
    t.s.add_host("merlin", |h| h.allow_explicit_ip = true).await;
    let ev = json!({"ip": "198.51.100.77", "X-Forwarded-For": "198.51.100.77, 10.0.0.1"});
    let g = t.send(non_proxy(ev)).await;
    assert_error(&g, ErrorCode::NotAllowed);
    assert!(g.r.message.contains("cannot authenticate"), "{}", g.raw);
    assert_eq!(t.record(&host, A).await, None);
    assert!(t.s.sns_texts().is_empty());
    assert!(t.m.metrics().is_empty());
}
