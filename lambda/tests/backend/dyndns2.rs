//! The dyndns2 endpoint (`/nic/update`) against Route 53, DynamoDB and SNS in moto: through
//! function URL and REST API events (the Lambda transport) and the local service over HTTP.
//!
//! Each test asserts the answer lines, the record in Route 53, the SNS texts and the
//! metrics, and for every refused request that nothing changed.

use crate::common;
use base64::Engine;
use common::http::{once, Conn};
use common::service::Service;
use common::{
    counts, dead_endpoint, fixture_event, sdk_config, to_request, v1_hash, SharedBuf, Stack,
};
use dyn53::protocol::RecordType;
use dyn53_backend::aws::AwsBackend;
use dyn53_backend::handler::Policy;
use dyn53_backend::lambda_event;
use dyn53_backend::metrics::UNKNOWN_HOST;
use dyn53_backend::store::RateLimit;
use lambda_http::Body;
use serde_json::{json, Value};

const A: RecordType = RecordType::A;
const AAAA: RecordType = RecordType::Aaaa;

fn basic(user: &str, password: &str) -> String {
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {token}")
}

/// A GET to `path?query` from `source` in the shape of `fixture`, with `authorization`.
fn event(
    fixture: &str,
    path: &str,
    source: &str,
    query: &str,
    authorization: Option<&str>,
) -> lambda_http::Request {
    let mut v = fixture_event(fixture, source, "GET", query);
    if v["version"] == "2.0" {
        v["rawPath"] = json!(path);
        v["requestContext"]["http"]["path"] = json!(path);
        v["headers"]["authorization"] = authorization.map_or(Value::Null, |a| json!(a));
    } else {
        v["path"] = json!(path);
        v["requestContext"]["path"] = json!(format!("/prod{path}"));
        if let Some(a) = authorization {
            v["headers"]["Authorization"] = json!(a);
            v["multiValueHeaders"]["Authorization"] = json!([a]);
        }
    }
    v["body"] = Value::Null;
    let headers = v["headers"].as_object_mut().unwrap();
    headers.retain(|_, val| !val.is_null());
    to_request(v)
}

/// A stack and a backend on it.
struct T {
    s: Stack,
    b: AwsBackend<SharedBuf>,
    m: SharedBuf,
}

/// What one request answered.
#[derive(Debug)]
struct Got {
    status: u16,
    body: String,
    challenge: Option<String>,
}

impl T {
    async fn new(tag: &str, p: Policy) -> T {
        let s = Stack::new(tag).await;
        let (b, m) = s.backend(p);
        T { s, b, m }
    }

    async fn send(&self, req: lambda_http::Request) -> Got {
        let resp = lambda_event::respond(&self.b, req).await;
        let body = match resp.body() {
            Body::Text(t) => t.clone(),
            Body::Binary(b) => String::from_utf8(b.clone()).unwrap(),
            _ => String::new(),
        };
        assert_eq!(
            resp.headers().get("content-type").unwrap(),
            "text/plain; charset=utf-8",
            "{body}"
        );
        Got {
            status: resp.status().as_u16(),
            body,
            challenge: resp
                .headers()
                .get("www-authenticate")
                .map(|v| v.to_str().unwrap().to_string()),
        }
    }

    /// `/nic/update?query` from `source` with these credentials, as a function URL event.
    async fn update(&self, source: &str, query: &str, user: &str, password: &str) -> Got {
        let auth = basic(user, password);
        self.send(event(
            "function-url.json",
            "/nic/update",
            source,
            query,
            Some(&auth),
        ))
        .await
    }

    async fn record(&self, name: &str, t: RecordType) -> Option<Vec<String>> {
        self.s.record(name, t).await.map(|(v, _)| v)
    }
}

fn dyndns2_on(h: &mut dyn53_backend::host::HostConfig) {
    h.protocols.dyndns2 = true;
}

#[tokio::test]
async fn good_then_nochg_from_the_callers_address() {
    let t = T::new("d2-good", common::policy()).await;
    let host = t.s.name("home");
    let secret = t.s.add_host("home", dyndns2_on).await;
    let q = format!("system=dyndns&hostname={host}&myip=");

    let g = t.update("203.0.113.7", &q, &host, &secret).await;
    assert_eq!((g.status, g.body.as_str()), (200, "good 203.0.113.7\n"));
    assert_eq!(t.record(&host, A).await, Some(vec!["203.0.113.7".into()]));
    // myip equal to the caller's address is fine for any host.
    let q = format!("hostname={host}&myip=203.0.113.7");
    let g = t.update("203.0.113.7", &q, "any-name", &secret).await;
    assert_eq!((g.status, g.body.as_str()), (200, "nochg 203.0.113.7\n"));
    // A new address from the router's new connection.
    let g = t
        .update("203.0.113.8", &q.replace(".7", ".8"), &host, &secret)
        .await;
    assert_eq!(g.body, "good 203.0.113.8\n");
    assert_eq!(t.record(&host, A).await, Some(vec!["203.0.113.8".into()]));

    let texts = t.s.sns_texts();
    assert_eq!(texts.len(), 2, "{texts:?}");
    assert!(texts[0].starts_with(&format!("dyn53: {host} A changed none -> 203.0.113.7 (")));
    assert!(texts[1].starts_with(&format!(
        "dyn53: {host} A changed 203.0.113.7 -> 203.0.113.8 ("
    )));
    assert_eq!(
        t.m.metrics(),
        vec![
            (host.clone(), counts((1, 1, 0, 0))),
            (host.clone(), counts((1, 0, 0, 0))),
            (host.clone(), counts((1, 1, 0, 0))),
        ]
    );
    // The user name, when hostname= is absent, names the host.
    let g = t.update("203.0.113.8", "", &host, &secret).await;
    assert_eq!(g.body, "nochg 203.0.113.8\n");
}

#[tokio::test]
async fn badauth_is_one_answer_for_wrong_password_and_unknown_host() {
    let t = T::new("d2-auth", common::policy()).await;
    let host = t.s.name("home");
    let secret = t.s.add_host("home", dyndns2_on).await;
    let wrong = t
        .update(
            "203.0.113.7",
            &format!("hostname={host}"),
            &host,
            "not-the-secret",
        )
        .await;
    let unknown_name = t.s.name("nobody");
    let unknown = t
        .update(
            "203.0.113.7",
            &format!("hostname={unknown_name}"),
            &unknown_name,
            &secret,
        )
        .await;
    assert_eq!((wrong.status, wrong.body.as_str()), (200, "badauth\n"));
    assert_eq!((unknown.status, unknown.body.as_str()), (200, "badauth\n"));
    // No credentials at all: a challenge, so clients that wait for one send them.
    let none = t
        .send(event(
            "function-url.json",
            "/nic/update",
            "203.0.113.7",
            &format!("hostname={host}"),
            None,
        ))
        .await;
    assert_eq!((none.status, none.body.as_str()), (401, "badauth\n"));
    assert_eq!(none.challenge.as_deref(), Some("Basic realm=\"dyn53\""));
    assert_eq!(t.record(&host, A).await, None, "nothing changed");
    assert_eq!(
        t.m.metrics(),
        vec![
            (host.clone(), counts((0, 0, 1, 0))),
            (UNKNOWN_HOST.to_string(), counts((0, 0, 1, 0))),
        ]
    );
    let texts = t.s.sns_texts();
    assert_eq!(
        texts.len(),
        1,
        "one auth-failure text for the known host: {texts:?}"
    );
    assert!(texts[0].contains(&host) && !texts[0].contains(&secret));
}

#[tokio::test]
async fn refusals_change_nothing() {
    let t = T::new("d2-refuse", common::policy()).await;
    let plain = t.s.name("plain");
    let plain_secret = t.s.add_host("plain", |_| {}).await;
    let home = t.s.name("home");
    let secret = t.s.add_host("home", dyndns2_on).await;
    let v4only = t.s.name("v4only");
    let v4_secret =
        t.s.add_host("v4only", |h| {
            dyndns2_on(h);
            h.allow_explicit_ip = true;
        })
        .await;

    // dyndns2 is opt-in: the right secret of a host without it is refused.
    let g = t
        .update(
            "203.0.113.7",
            &format!("hostname={plain}"),
            &plain,
            &plain_secret,
        )
        .await;
    assert_eq!(g.body, "!donator\n");
    // A myip other than the caller's, for a host without explicit addresses: refused, not
    // silently replaced by the caller's address.
    let g = t
        .update(
            "203.0.113.7",
            &format!("hostname={home}&myip=198.51.100.1"),
            &home,
            &secret,
        )
        .await;
    assert_eq!(g.body, "!donator\n");
    // An IPv6 address for a host allowed only A records.
    let g = t
        .update(
            "2001:db8::7",
            &format!("hostname={v4only}&myip=2001:db8::7"),
            &v4only,
            &v4_secret,
        )
        .await;
    assert_eq!(g.body, "!donator\n");
    // Malformed requests.
    let g = t
        .update(
            "203.0.113.7",
            &format!("hostname={home}&myip=300.1.1.1"),
            &home,
            &secret,
        )
        .await;
    assert_eq!(g.body, "badagent\n");
    let g = t
        .update("203.0.113.7", "hostname=nodots", "x", &secret)
        .await;
    assert_eq!(g.body, "notfqdn\n");
    // A host item whose name is outside its zone: the owner must fix it (dnserr, and the
    // owner is told).
    let stray = t.s.name("stray");
    let stray_secret =
        t.s.add_host("stray", |h| {
            dyndns2_on(h);
            h.zone_name = Some("other.example.org".into());
        })
        .await;
    let g = t
        .update(
            "203.0.113.7",
            &format!("hostname={stray}"),
            &stray,
            &stray_secret,
        )
        .await;
    assert_eq!(g.body, "dnserr\n");
    for name in [&plain, &home, &v4only, &stray] {
        assert_eq!(t.record(name, A).await, None, "{name}");
        assert_eq!(t.record(name, AAAA).await, None, "{name}");
    }
    let texts = t.s.sns_texts();
    assert_eq!(texts.len(), 1, "{texts:?}");
    assert!(texts[0].contains("outside its hosted zone"), "{texts:?}");
}

#[tokio::test]
async fn explicit_ipv4_and_ipv6_for_several_hosts() {
    let t = T::new("d2-explicit", common::policy()).await;
    let nas = t.s.name("nas");
    let cam = t.s.name("cam");
    let secret =
        t.s.add_host("nas", |h| {
            dyndns2_on(h);
            h.allow_explicit_ip = true;
            h.types = vec![A, AAAA];
        })
        .await;
    // The same secret for a second host (one password in the router's form).
    let mut second = dyn53_backend::host::HostConfig::new(&cam, &t.s.zone_id, secret.clone());
    second.zone_name = Some(t.s.zone.clone());
    second.protocols.dyndns2 = true;
    second.allow_explicit_ip = true;
    second.types = vec![A, AAAA];
    t.s.put_host(&second).await;

    let q = format!("hostname={nas},{cam},not..a.name&myip=198.51.100.20,2001:db8::20");
    let g = t.update("2001:db8::99", &q, "owner", &secret).await;
    assert_eq!(
        g.body,
        "good 198.51.100.20,2001:db8::20\ngood 198.51.100.20,2001:db8::20\nnotfqdn\n"
    );
    for name in [&nas, &cam] {
        assert_eq!(t.record(name, A).await, Some(vec!["198.51.100.20".into()]));
        assert_eq!(
            t.record(name, AAAA).await,
            Some(vec!["2001:db8::20".into()])
        );
    }
    // Without myip the caller's (IPv6) address sets AAAA only.
    let g = t
        .update("2001:db8::20", &format!("hostname={nas}"), "owner", &secret)
        .await;
    assert_eq!(g.body, "nochg 2001:db8::20\n");
}

#[tokio::test]
async fn abuse_when_rate_limited_and_911_when_the_table_is_down() {
    let p = Policy {
        set_limit: RateLimit {
            max: 2,
            window: 300,
        },
        ..common::policy()
    };
    let t = T::new("d2-limits", p.clone()).await;
    let host = t.s.name("home");
    let secret = t.s.add_host("home", dyndns2_on).await;
    let q = format!("hostname={host}");
    for want in ["good 203.0.113.7\n", "nochg 203.0.113.7\n", "abuse\n"] {
        let g = t.update("203.0.113.7", &q, &host, &secret).await;
        assert_eq!(g.body, want);
    }
    let g = t.update("203.0.113.9", &q, &host, &secret).await;
    assert_eq!(g.body, "abuse\n");
    assert_eq!(t.record(&host, A).await, Some(vec!["203.0.113.7".into()]));

    let down = sdk_config(&dead_endpoint()).await;
    let (b, _) = t.s.backend_with(p, &t.s.cfg, &down);
    let resp = lambda_event::respond(
        &b,
        event(
            "function-url.json",
            "/nic/update",
            "203.0.113.9",
            &q,
            Some(&basic(&host, &secret)),
        ),
    )
    .await;
    match resp.body() {
        Body::Text(t) => assert_eq!(t, "911\n"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn rest_api_events_reach_the_endpoint_too() {
    let t = T::new("d2-rest", common::policy()).await;
    let host = t.s.name("home");
    let secret = t.s.add_host("home", dyndns2_on).await;
    let auth = basic(&host, &secret);
    let g = t
        .send(event(
            "apigw-rest.json",
            "/nic/update",
            "203.0.113.7",
            &format!("hostname={host}&myip=203.0.113.7"),
            Some(&auth),
        ))
        .await;
    assert_eq!(g.body, "good 203.0.113.7\n");
    assert_eq!(t.record(&host, A).await, Some(vec!["203.0.113.7".into()]));
}

#[tokio::test]
async fn local_service_routes_nic_update_and_keeps_the_protocol_path() {
    let s = Stack::new("d2-svc").await;
    let host = s.name("home");
    let secret = s.add_host("home", dyndns2_on).await;
    let svc = Service::start(&s, "127.0.0.1:0", &[], &[]);
    let target = format!("/nic/update?hostname={host}&myip=127.0.0.1");
    let auth = basic(&host, &secret);
    let mut c = Conn::open(svc.addr);
    let g = c.request("GET", &target, &[("authorization", &auth)], b"");
    assert_eq!((g.status, g.text().as_str()), (200, "good 127.0.0.1\n"));
    assert_eq!(g.header("content-type"), Some("text/plain; charset=utf-8"));
    let g = c.request("GET", &target, &[("authorization", &auth)], b"");
    assert_eq!(g.text(), "nochg 127.0.0.1\n");
    let wrong = basic(&host, "wrong");
    let g = c.request("GET", &target, &[("authorization", &wrong)], b"");
    assert_eq!(g.text(), "badauth\n");
    let g = c.request("GET", &target, &[], b"");
    assert_eq!(g.status, 401);
    assert_eq!(g.header("www-authenticate"), Some("Basic realm=\"dyn53\""));
    assert_eq!(
        s.record(&host, A).await.map(|r| r.0),
        Some(vec!["127.0.0.1".to_string()])
    );
    // The protocol keeps its path: a v1 set of the same host on `/`.
    let v1 = once(
        svc.addr,
        "GET",
        &format!(
            "/?mode=set&hostname={host}&hash={}",
            v1_hash("127.0.0.1", &host, &secret)
        ),
        b"",
    );
    assert!(
        v1.text().contains("matches the current Route53"),
        "{}",
        v1.text()
    );
    assert!(!svc.stderr().contains(&secret), "no secret in logs");
}
