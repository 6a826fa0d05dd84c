//! The local service (`dyn53-backend serve`, the real binary) over HTTP against moto:
//! keep-alive, body limits, IPv6, the trusted proxy header, and the same flow as Lambda.

use crate::common;
use common::http::{once, Conn};
use common::service::{backend_bin, Service};
use common::{counts, emf_lines, v1_hash, v2_body, Stack};
use dyn53::protocol::{ErrorCode, IpMode, Outcome, RecordType, Response, MAX_BODY};
use dyn53_backend::serve::{BODY_TIMEOUT, MAX_PER_ADDRESS};
use std::io::{Read, Write};
use std::process::Command;
use std::time::{Duration, Instant};

fn parse(body: &[u8]) -> Response {
    Response::from_json(body).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(body)))
}

const JSON: (&str, &str) = ("content-type", "application/json");

#[tokio::test]
async fn get_and_set_share_one_keep_alive_connection() {
    let s = Stack::new("svc-keepalive").await;
    let host = s.name("home");
    let secret = s.add_host("home", |_| {}).await;
    let svc = Service::start(&s, "127.0.0.1:0", &[], &[]);
    let mut c = Conn::open(svc.addr);
    let local = c.local_addr();
    for (round, want) in [(0, Outcome::Changed), (1, Outcome::Unchanged)] {
        let get = c.request(
            "POST",
            "/",
            &[JSON],
            br#"{"execution_mode":"get","protocol":2}"#,
        );
        assert_eq!(get.status, 200, "round {round}: {}", get.text());
        let r = parse(&get.body);
        assert_eq!(r.ip, Some("127.0.0.1".parse().unwrap()));
        let body = v2_body(
            &host,
            RecordType::A,
            "127.0.0.1",
            IpMode::Source,
            &r.nonce.unwrap(),
            &secret,
        );
        let set = c.request("POST", "/", &[JSON], body.as_bytes());
        assert_eq!(parse(&set.body).outcome, want, "{}", set.text());
        assert_ne!(set.header("connection"), Some("close"));
        assert_eq!(set.header("cache-control"), Some("no-store"));
    }
    assert_eq!(c.local_addr(), local, "one TCP connection for everything");
    assert_eq!(
        s.record(&host, RecordType::A).await.map(|r| r.0),
        Some(vec!["127.0.0.1".to_string()])
    );
    let texts = s.sns_texts();
    assert_eq!(texts.len(), 1);
    assert!(texts[0].starts_with(&format!("dyn53: {host} A changed none -> 127.0.0.1 (")));
    let m = emf_lines(&svc.wait_stdout_lines(2));
    assert_eq!(
        m,
        vec![
            (host.clone(), counts((1, 1, 0, 0))),
            (host.clone(), counts((1, 0, 0, 0)))
        ]
    );
    assert!(!svc.stderr().contains(&secret), "no secret in logs");
}

#[tokio::test]
async fn v1_query_form_and_bad_requests_over_http() {
    let s = Stack::new("svc-v1").await;
    let host = s.name("legacy");
    let secret = s.add_host("legacy", |_| {}).await;
    let svc = Service::start(&s, "127.0.0.1:0", &[], &[]);

    let get = once(svc.addr, "GET", "/?mode=get", b"");
    assert_eq!(
        get.text(),
        r#"{"return_status": "success", "return_message": "127.0.0.1"}"#
    );

    let mut c = Conn::open(svc.addr);
    // Malformed JSON: 400, and the connection stays usable.
    let bad = c.request("POST", "/", &[JSON], b"{\"execution_mode\":");
    assert_eq!(bad.status, 400);
    let r = Response::from_answer(bad.status, &bad.body).unwrap();
    assert_eq!(r.error, Some(ErrorCode::BadRequest));
    let target = format!(
        "/?mode=set&hostname={host}&hash={}",
        v1_hash("127.0.0.1", &host, &secret)
    );
    let set = c.request("GET", &target, &[], b"");
    assert_eq!(set.status, 201, "{}", set.text());
    assert_eq!(
        s.record(&host, RecordType::A).await.map(|r| r.0),
        Some(vec!["127.0.0.1".to_string()])
    );
    // Wrong hash: the reference's 401 and nothing changes.
    let before = s.records().await;
    let target = format!(
        "/?mode=set&hostname={host}&hash={}",
        v1_hash("127.0.0.1", &host, "wrong")
    );
    let denied = c.request("GET", &target, &[], b"");
    assert_eq!(denied.status, 401);
    assert_eq!(
        denied.text(),
        r#"{"return_status": "fail", "return_message": "Validation hashes do not match."}"#
    );
    assert_eq!(s.records().await, before);
}

#[tokio::test]
async fn oversize_bodies_are_refused_before_reading() {
    let s = Stack::new("svc-oversize").await;
    let svc = Service::start(&s, "127.0.0.1:0", &[], &[]);

    // Declared too large: answered from the headers alone, then closed.
    let mut c = Conn::open(svc.addr);
    c.send_raw(b"POST / HTTP/1.1\r\nhost: t\r\ncontent-type: application/json\r\ncontent-length: 100000000\r\n\r\n{\"exe")
        .unwrap();
    let a = c.read_answer();
    assert_eq!(a.status, 413);
    assert_eq!(parse(&a.body).error, Some(ErrorCode::TooLarge));
    assert_eq!(a.header("connection"), Some("close"));

    // Chunked, no declared length: cut off at the limit.
    let mut c = Conn::open(svc.addr);
    let chunk = "x".repeat(1000);
    let mut msg = String::from("POST / HTTP/1.1\r\nhost: t\r\ntransfer-encoding: chunked\r\n\r\n");
    for _ in 0..(MAX_BODY / 1000 + 2) {
        msg.push_str(&format!("{:x}\r\n{chunk}\r\n", chunk.len()));
    }
    msg.push_str("0\r\n\r\n");
    c.send_raw(msg.as_bytes()).unwrap();
    let a = c.read_answer();
    assert_eq!(a.status, 413);

    // Just under the limit is read and judged on its content.
    let pad = "x".repeat(MAX_BODY - 60);
    let body = format!(r#"{{"execution_mode":"get","pad":"{pad}"}}"#);
    assert!(body.len() <= MAX_BODY);
    let a = once(svc.addr, "POST", "/", body.as_bytes());
    assert_eq!(a.status, 200, "{}", a.text());
    assert!(
        svc.wait_stdout_lines(0).is_empty(),
        "no metrics for gets and refusals"
    );
}

#[tokio::test]
async fn ipv6_caller_sets_aaaa() {
    let s = Stack::new("svc-ipv6").await;
    let host = s.name("home");
    let secret = s
        .add_host("home", |h| h.types = vec![RecordType::A, RecordType::Aaaa])
        .await;
    let svc = Service::start(&s, "[::1]:0", &[], &[]);
    let mut c = Conn::open(svc.addr);
    let get = parse(
        &c.request(
            "POST",
            "/",
            &[JSON],
            br#"{"execution_mode":"get","protocol":2}"#,
        )
        .body,
    );
    assert_eq!(get.ip, Some("::1".parse().unwrap()));
    let body = v2_body(
        &host,
        RecordType::Aaaa,
        "::1",
        IpMode::Source,
        &get.nonce.unwrap(),
        &secret,
    );
    let set = c.request("POST", "/", &[JSON], body.as_bytes());
    assert_eq!(set.status, 201, "{}", set.text());
    assert_eq!(
        s.record(&host, RecordType::Aaaa).await.map(|r| r.0),
        Some(vec!["::1".to_string()])
    );
    assert_eq!(s.record(&host, RecordType::A).await, None);
}

#[tokio::test]
async fn proxy_header_is_used_only_when_configured() {
    let s = Stack::new("svc-proxy").await;
    let plain = Service::start(&s, "127.0.0.1:0", &[], &[]);
    let xff = ("x-forwarded-for", "198.51.100.7, 203.0.113.77");
    let a = Conn::open(plain.addr).request("GET", "/?mode=get", &[xff], b"");
    assert_eq!(
        parse(&a.body).ip,
        Some("127.0.0.1".parse().unwrap()),
        "header ignored by default"
    );

    let proxied = Service::start(
        &s,
        "127.0.0.1:0",
        &["--trust-proxy-header", "X-Forwarded-For"],
        &[],
    );
    let a = Conn::open(proxied.addr).request("GET", "/?mode=get", &[xff], b"");
    assert_eq!(
        parse(&a.body).ip,
        Some("203.0.113.77".parse().unwrap()),
        "last hop is the proxy's"
    );
    let a = Conn::open(proxied.addr).request("GET", "/?mode=get", &[], b"");
    assert_eq!(a.status, 400);
    let a = Conn::open(proxied.addr).request(
        "GET",
        "/?mode=get",
        &[("x-forwarded-for", "unknown")],
        b"",
    );
    assert_eq!(a.status, 400);
}

#[test]
fn serve_refuses_bad_settings() {
    let out = Command::new(backend_bin())
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env_remove("DYN53_TABLE")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("DYN53_TABLE is not set"));
    let out = Command::new(backend_bin())
        .args(["serve", "--listen", "nowhere"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--listen"));
    let out = Command::new(backend_bin())
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("DYN53_TABLE", "t")
        .env("DYN53_RATE_LIMIT", "lots")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("DYN53_RATE_LIMIT"));
}

/// A `get` from `from` (any 127.x address works on Linux loopback), answered within 5 s.
async fn get_from(from: &str, to: std::net::SocketAddr) -> Option<u16> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let sock = tokio::net::TcpSocket::new_v4().ok()?;
    sock.bind(format!("{from}:0").parse().ok()?).ok()?;
    let mut s = sock.connect(to).await.ok()?;
    let body = r#"{"execution_mode":"get"}"#;
    let req = format!(
        "POST / HTTP/1.1\r\nhost: t\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.ok()?;
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out))
        .await
        .ok()?
        .ok()?;
    String::from_utf8_lossy(&out)
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

#[tokio::test]
async fn stalled_bodies_cannot_freeze_the_service() {
    let s = Stack::new("svc-stall").await;
    let svc = Service::start(&s, "127.0.0.1:0", &[], &[]);
    let stalled = "POST / HTTP/1.1\r\nhost: t\r\ncontent-length: 100\r\n\r\n{";
    // One address holds at most MAX_PER_ADDRESS connections; more are closed at once.
    let mut held = Vec::new();
    for _ in 0..MAX_PER_ADDRESS {
        let mut c = Conn::open(svc.addr);
        c.send_raw(stalled.as_bytes()).unwrap();
        held.push(c);
    }
    std::thread::sleep(Duration::from_millis(300));
    let mut extra = std::net::TcpStream::connect(svc.addr).unwrap();
    extra
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let _ = extra.write_all(stalled.as_bytes());
    let mut buf = [0u8; 64];
    // Closed with our bytes unread, the kernel may answer with a reset instead of EOF.
    let r = extra.read(&mut buf);
    assert!(
        matches!(&r, Ok(0))
            || matches!(&r, Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset),
        "the connection over the cap is closed without an answer: {r:?}"
    );
    // Another address is served at once meanwhile.
    assert_eq!(get_from("127.0.0.2", svc.addr).await, Some(200));
    // A body that never completes is given up after BODY_TIMEOUT, freeing the slot.
    let start = Instant::now();
    let a = held[0].read_answer();
    assert_eq!(a.status, 400, "{}", a.text());
    assert!(a.text().contains("did not arrive in time"), "{}", a.text());
    let waited = start.elapsed();
    assert!(
        waited <= BODY_TIMEOUT + Duration::from_secs(3),
        "answered after {waited:?}"
    );
}
