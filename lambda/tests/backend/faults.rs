//! Fault injection (issue 6): the real `dyn53-backend serve` on moto with a fault-injecting
//! proxy between it and moto (AWS_ENDPOINT_URL), and the real `dyn53` client with another
//! proxy between it and the backend. Each test checks the answer, the Route 53 record,
//! the SNS texts read back from moto, the EMF metrics, and what reached moto.

use crate::common;
use crate::support;
use common::http::Conn;
use common::service::Service;
use common::{emf_lines, v2_body, Stack};
use dyn53::protocol::{ErrorCode, IpMode, RecordType, Response};
use dyn53_testsupport::{config, update, Cert, TempDir, TestCa};
use std::time::Duration;
use support::proxy::{Done, Fault, Kind, Match, Proxy, Rule, Seen};

const A: RecordType = RecordType::A;
const JSON: (&str, &str) = ("content-type", "application/json");
const LOOPBACK: &str = "127.0.0.1";

fn parse(body: &[u8]) -> Response {
    Response::from_json(body).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(body)))
}

/// The backend on `s` with AWS reached through `aws` (a proxy in front of moto).
fn service(s: &Stack, aws: &Proxy, env: &[(&str, &str)]) -> Service {
    let url = aws.url();
    let mut all = vec![("AWS_ENDPOINT_URL", url.as_str())];
    all.extend_from_slice(env);
    Service::start(s, "127.0.0.1:0", &[], &all)
}

/// One v2 get + set from loopback on a fresh connection, as the client would send it.
fn v2_set(svc: &Service, host: &str, secret: &str) -> (u16, Response, String) {
    let mut c = Conn::open(svc.addr);
    let get = c.request(
        "POST",
        "/",
        &[JSON],
        br#"{"execution_mode":"get","protocol":2}"#,
    );
    assert_eq!(get.status, 200, "{}", get.text());
    let nonce = parse(&get.body).nonce.expect("nonce");
    let body = v2_body(host, A, LOOPBACK, IpMode::Source, &nonce, secret);
    let set = c.request("POST", "/", &[JSON], body.as_bytes());
    (set.status, parse(&set.body), set.text())
}

/// No AWS error text, secret or stack detail in an answer.
fn assert_clean(raw: &str) {
    for word in [
        "Exception",
        "aws",
        "dispatch",
        "Throttling",
        "PriorRequest",
        "InternalServerError",
    ] {
        assert!(!raw.contains(word), "leaked {word:?}: {raw}");
    }
}

fn route53_calls_forwarded(seen: &[Seen]) -> usize {
    seen.iter()
        .filter(|s| s.kind.is_route53_record_call() && s.reached_upstream())
        .count()
}

/// SNS texts, split into change notices and error notices, each cut before its time stamp.
fn notices(s: &Stack) -> (Vec<String>, Vec<String>) {
    let cut = |t: &String| t.split_inclusive('(').next().unwrap_or("").to_string();
    let texts = s.sns_texts();
    let changes = texts.iter().filter(|t| t.contains(" changed ")).map(cut);
    let errors = texts.iter().filter(|t| !t.contains(" changed ")).map(cut);
    (changes.collect(), errors.collect())
}

/// Waits (bounded) until `f` holds.
fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    for _ in 0..1500 {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test]
async fn route53_busy_is_retried_then_503_and_the_client_succeeds_when_it_ends() {
    let s = Stack::new("fault-r53").await;
    let host = s.name("home");
    let secret = s.add_host("home", |_| {}).await;
    let aws = Proxy::start(common::moto().addr);
    // Throttling / PriorRequestNotComplete on every ListResourceRecordSets and
    // ChangeResourceRecordSets until the test lifts it.
    aws.set_rules(vec![Rule::always(
        Match::Route53Records,
        Fault::Route53Busy,
    )]);
    let svc = service(&s, &aws, &[("DYN53_DNS_BUDGET_MS", "400")]);

    // Past the budget: a clear, retryable 503, after more than one attempt.
    let (status, r, raw) = v2_set(&svc, &host, &secret);
    assert_eq!(status, 503, "{raw}");
    assert_eq!(r.error, Some(ErrorCode::Unavailable), "{raw}");
    assert!(r.error.unwrap().retryable());
    assert!(r.message.contains("Route 53 is busy"), "{raw}");
    assert_clean(&raw);
    let seen = aws.seen();
    let throttled = seen
        .iter()
        .filter(|x| x.kind.is_route53_record_call() && x.done == Done::Injected(400))
        .count();
    assert!(throttled >= 2, "retried inside the budget: {seen:?}");
    assert_eq!(route53_calls_forwarded(&seen), 0);
    assert_eq!(s.record(&host, A).await, None);
    // Busy is not news for the owner (the router retries): no text.
    assert_eq!(notices(&s), (vec![], vec![]));

    // The real client meets the same burst, backs off, and succeeds once it ends.
    aws.forget();
    let front = Proxy::start(svc.addr);
    let dir = TempDir::new("fault-r53");
    let conf = dir.file(
        "dyn53.conf",
        config(&format!("{}/", front.url()), &host, &secret, "timeout=60\n"),
    );
    let client = std::thread::spawn(move || update(&conf, &[]));
    wait_until("the client to get a 503", || {
        front.count(|x| x.kind == Kind::Dyn53Set && x.done == Done::Forwarded(503)) >= 1
    });
    // The burst ends with a short tail the backend absorbs (or the client retries again).
    aws.set_rules(vec![Rule::times(
        Match::Route53Records,
        Fault::Route53Busy,
        2,
    )]);
    let run = client.join().unwrap();
    assert_eq!(run.code, 0, "{run}");
    assert_eq!(run.stdout, format!("{host} A changed none -> 127.0.0.1\n"));
    assert!(run.stderr.contains("unavailable"), "{run}");
    assert!(run.stderr.contains("retry 1 in"), "{run}");
    let sets: Vec<Seen> = front
        .seen()
        .into_iter()
        .filter(|x| x.kind == Kind::Dyn53Set)
        .collect();
    assert_eq!(sets.last().unwrap().done, Done::Forwarded(201), "{sets:?}");
    for x in &sets[..sets.len() - 1] {
        assert_eq!(x.done, Done::Forwarded(503), "{sets:?}");
        let answer = parse(x.answer.as_deref().unwrap().as_bytes());
        assert_eq!(answer.error, Some(ErrorCode::Unavailable));
    }
    assert_eq!(
        s.record(&host, A).await.map(|r| r.0),
        Some(vec![LOOPBACK.to_string()])
    );
    assert_eq!(aws.changes_forwarded(), 1, "one change reached Route 53");
    // Exactly one notification: the change.
    assert_eq!(
        notices(&s),
        (
            vec![format!("dyn53: {host} A changed none -> 127.0.0.1 (")],
            vec![]
        )
    );
    // Every 503 counted an Error; the change counted once.
    let m = emf_lines(&svc.wait_stdout_lines(sets.len() + 1));
    let changed: u32 = m.iter().map(|(_, c)| c.changed).sum();
    let errors: u32 = m.iter().map(|(_, c)| c.error).sum();
    assert_eq!(changed, 1, "{m:?}");
    assert!(errors as usize >= sets.len(), "{m:?}");
}

#[tokio::test]
async fn sns_down_still_updates_dns_with_an_error_metric() {
    let s = Stack::new("fault-sns").await;
    let aws = Proxy::start(common::moto().addr);
    let svc = service(&s, &aws, &[]);
    let dir = TempDir::new("fault-sns");
    // Publish answered 500 (SNS failing), then refused outright (SNS unreachable).
    for (label, fault) in [("err", Fault::SnsError), ("refused", Fault::Refuse)] {
        aws.set_rules(vec![Rule::always(Match::SnsPublish, fault)]);
        let host = s.name(label);
        let secret = s.add_host(label, |_| {}).await;
        let conf = dir.file(
            &format!("{label}.conf"),
            config(&format!("http://{}/", svc.addr), &host, &secret, ""),
        );
        let before = svc.stdout().lines().count();
        let run = update(&conf, &[]);
        assert_eq!(run.code, 0, "{label}: {run}");
        assert_eq!(run.stdout, format!("{host} A changed none -> 127.0.0.1\n"));
        assert_eq!(
            s.record(&host, A).await.map(|r| r.0),
            Some(vec![LOOPBACK.to_string()])
        );
        let m = emf_lines(&svc.wait_stdout_lines(before + 1));
        assert_eq!(m.len(), before + 1);
        let (name, c) = &m[before];
        assert_eq!(name, &host);
        assert_eq!(
            (c.check_in, c.changed, c.error),
            (1, 1, 1),
            "{label}: changed, and the failed notification is an Error"
        );
    }
    let publishes = aws.count(|x| x.kind == Kind::Sns("Publish".into()));
    assert!(publishes >= 2, "the backend did try to publish");
    assert_eq!(
        aws.count(|x| x.kind == Kind::Sns("Publish".into()) && x.reached_upstream()),
        0
    );
    assert!(s.sns_texts().is_empty());
    assert!(svc.stderr().contains("notification failed"), "logged");

    // SNS takes the message but answers after the SDK's timeout: the owner must not get it
    // twice (no repeat of a Publish that may have gone out), and the miss is counted.
    aws.set_rules(vec![Rule::times(
        Match::SnsPublish,
        Fault::DelayAnswer(Duration::from_millis(3500)),
        1,
    )]);
    let host = s.name("late");
    let secret = s.add_host("late", |_| {}).await;
    let conf = dir.file(
        "late.conf",
        config(&format!("http://{}/", svc.addr), &host, &secret, ""),
    );
    let before = svc.stdout().lines().count();
    let run = update(&conf, &[]);
    assert_eq!(run.code, 0, "{run}");
    assert_eq!(
        notices(&s),
        (
            vec![format!("dyn53: {host} A changed none -> 127.0.0.1 (")],
            vec![]
        )
    );
    let published = || aws.count(|x| x.kind == Kind::Sns("Publish".into()) && x.reached_upstream());
    wait_until("the late answer", || published() >= 1);
    assert_eq!(published(), 1, "published once, not repeated");
    let m = emf_lines(&svc.wait_stdout_lines(before + 1));
    assert_eq!((m[before].1.changed, m[before].1.error), (1, 1));
}

#[tokio::test]
async fn table_down_or_slow_is_a_clear_503_and_route53_is_not_touched() {
    let s = Stack::new("fault-table").await;
    let host = s.name("home");
    let secret = s.add_host("home", |_| {}).await;
    let aws = Proxy::start(common::moto().addr);
    let svc = service(&s, &aws, &[]);
    // A first get caches the nonce key, as any warm instance has it.
    let get = Conn::open(svc.addr).request(
        "POST",
        "/",
        &[JSON],
        br#"{"execution_mode":"get","protocol":2}"#,
    );
    assert!(parse(&get.body).nonce.is_some());
    let dir = TempDir::new("fault-table");
    let conf = dir.file(
        "dyn53.conf",
        config(&format!("http://{}/", svc.addr), &host, &secret, ""),
    );

    // Down (every call answered 500): the client gets a clear, retryable 503 until its
    // deadline, and exits 1.
    aws.set_rules(vec![Rule::always(Match::Dynamo, Fault::DynamoError)]);
    let run = update(&conf, &["--timeout", "4"]);
    assert_eq!(run.code, 1, "{run}");
    assert!(
        run.stderr
            .contains("backend answered 'unavailable': the host table is unavailable"),
        "{run}"
    );
    assert_clean(&run.stderr);

    // Slow (every call answered after 4 s, beyond the SDK's 3 s attempt timeout).
    aws.set_rules(vec![Rule::always(
        Match::Dynamo,
        Fault::Delay(Duration::from_secs(4)),
    )]);
    let (status, r, raw) = v2_set(&svc, &host, &secret);
    assert_eq!(status, 503, "{raw}");
    assert_eq!(r.error, Some(ErrorCode::Unavailable));
    assert!(r.message.contains("host table"), "{raw}");
    assert_clean(&raw);

    // Nothing reached Route 53, nothing changed, nobody was notified; every failure counted.
    let seen = aws.seen();
    assert!(seen.iter().any(|x| matches!(x.kind, Kind::Dynamo(_))));
    assert_eq!(
        seen.iter()
            .filter(|x| matches!(x.kind, Kind::Route53(_)))
            .count(),
        0,
        "Route 53 untouched"
    );
    assert_eq!(s.record(&host, A).await, None);
    assert!(s.sns_texts().is_empty());
    let m = emf_lines(&svc.stdout());
    assert!(!m.is_empty() && m.iter().all(|(_, c)| c.error == 1 && c.changed == 0));

    // Once the table is back, the same client succeeds.
    aws.clear_rules();
    let run = update(&conf, &[]);
    assert_eq!(run.code, 0, "{run}");
    assert_eq!(run.stdout, format!("{host} A changed none -> 127.0.0.1\n"));
    assert_eq!(aws.changes_forwarded(), 1);
}

#[tokio::test]
async fn dropped_answer_is_retried_without_a_second_change_or_notification() {
    let s = Stack::new("fault-drop").await;
    let host = s.name("home");
    let secret = s.add_host("home", |_| {}).await;
    s.put_record(&host, aws_sdk_route53::types::RrType::A, "198.51.100.7")
        .await;
    let aws = Proxy::start(common::moto().addr);
    let svc = service(&s, &aws, &[]);
    // Between client and backend: the first set is forwarded and carried out, then the
    // connection is closed before the answer reaches the client.
    let front = Proxy::start(svc.addr);
    front.set_rules(vec![Rule::times(Match::Dyn53Set, Fault::DropAnswer, 1)]);
    let dir = TempDir::new("fault-drop");
    let conf = dir.file(
        "dyn53.conf",
        config(&format!("{}/", front.url()), &host, &secret, ""),
    );
    let run = update(&conf, &[]);
    assert_eq!(run.code, 0, "{run}");
    // The change happened on the first try; the retry finds it done.
    assert_eq!(run.stdout, format!("{host} A unchanged 127.0.0.1\n"));
    assert!(run.stderr.contains("retry 1 in"), "{run}");
    let sets: Vec<Done> = front
        .seen()
        .into_iter()
        .filter(|x| x.kind == Kind::Dyn53Set)
        .map(|x| x.done)
        .collect();
    assert_eq!(sets, vec![Done::Dropped(201), Done::Forwarded(200)]);
    assert_eq!(
        s.record(&host, A).await.map(|r| r.0),
        Some(vec![LOOPBACK.to_string()])
    );
    assert_eq!(aws.changes_forwarded(), 1, "no second change");
    assert_eq!(
        notices(&s),
        (
            vec![format!(
                "dyn53: {host} A changed 198.51.100.7 -> 127.0.0.1 ("
            )],
            vec![]
        ),
        "exactly one notification"
    );
    let m = emf_lines(&svc.wait_stdout_lines(2));
    let changed: Vec<u32> = m.iter().map(|(_, c)| c.changed).collect();
    assert_eq!(changed, vec![1, 0]);
}

#[tokio::test]
async fn expired_or_misnamed_certificates_are_refused_with_a_clear_message() {
    let s = Stack::new("fault-tls").await;
    let host = s.name("home");
    let secret = s.add_host("home", |_| {}).await;
    let svc = Service::start(&s, "127.0.0.1:0", &[], &[]);
    let ca = TestCa::new();
    let dir = TempDir::new("fault-tls");
    let ca_file = dir.file("ca.pem", &ca.pem);
    let conf_for = |tls: &Proxy, name: &str| {
        let url = format!("https://localhost:{}/", tls.addr.port());
        let extra = format!("ca_file={ca_file}\ntimeout=3\n");
        dir.file(name, config(&url, &host, &secret, &extra))
    };
    for (which, message) in [
        (
            Cert::Expired,
            "TLS: the certificate of localhost has expired, or this router's clock is wrong",
        ),
        (
            Cert::OtherName,
            "TLS: the certificate presented by localhost is not valid for that name",
        ),
    ] {
        let tls = Proxy::start_tls(svc.addr, ca.server_config_of(which));
        let run = update(&conf_for(&tls, "bad.conf"), &[]);
        assert_eq!(run.code, 1, "{which:?}: {run}");
        assert!(run.stderr.contains(message), "{which:?}: {run}");
        assert!(run.stdout.is_empty());
        assert!(tls.seen().is_empty(), "{which:?}: nothing sent over it");
    }
    assert_eq!(s.record(&host, A).await, None);
    // The same CA with a good certificate works: the refusals were about the certificate.
    let tls = Proxy::start_tls(svc.addr, ca.server_config_of(Cert::Good));
    let run = update(&conf_for(&tls, "good.conf"), &[]);
    assert_eq!(run.code, 0, "{run}");
    assert_eq!(run.stdout, format!("{host} A changed none -> 127.0.0.1\n"));
    let kinds: Vec<Kind> = tls.seen().into_iter().map(|x| x.kind).collect();
    assert_eq!(kinds, vec![Kind::Dyn53Get, Kind::Dyn53Set]);
}

#[tokio::test]
async fn cold_instance_with_the_table_down_answers_a_v2_get_with_503() {
    let s = Stack::new("fault-cold").await;
    let host = s.name("home");
    let secret = s.add_host("home", |_| {}).await;
    let aws = Proxy::start(common::moto().addr);
    aws.set_rules(vec![Rule::always(Match::Dynamo, Fault::DynamoError)]);
    // Cold: the nonce key (kept in the table) was never loaded.
    let svc = service(&s, &aws, &[]);
    let get = Conn::open(svc.addr).request(
        "POST",
        "/",
        &[JSON],
        br#"{"execution_mode":"get","protocol":2}"#,
    );
    assert_eq!(get.status, 503, "{}", get.text());
    assert_eq!(parse(&get.body).error, Some(ErrorCode::Unavailable));
    assert_clean(&get.text());
    // A v1 get needs no nonce and still answers the address.
    let get = Conn::open(svc.addr).request("GET", "/?mode=get", &[], b"");
    assert_eq!(get.status, 200, "{}", get.text());
    assert_eq!(parse(&get.body).ip, Some(LOOPBACK.parse().unwrap()));
    // So the v2 client sees a temporary failure (exit 1), not "does not speak protocol 2".
    let dir = TempDir::new("fault-cold");
    let conf = dir.file(
        "dyn53.conf",
        config(&format!("http://{}/", svc.addr), &host, &secret, ""),
    );
    let run = update(&conf, &["--timeout", "3"]);
    assert_eq!(run.code, 1, "{run}");
    assert!(
        run.stderr.contains("the host table is unavailable"),
        "{run}"
    );
    aws.clear_rules();
    let run = update(&conf, &[]);
    assert_eq!(run.code, 0, "{run}");
    assert_eq!(
        s.record(&host, A).await.map(|r| r.0),
        Some(vec![LOOPBACK.to_string()])
    );
}

#[tokio::test]
async fn table_writes_repeated_after_a_timeout_count_once() {
    let s = Stack::new("fault-repeat").await;
    let host = s.name("home");
    let secret = s.add_host("home", |_| {}).await;
    let aws = Proxy::start(common::moto().addr);
    let svc = service(&s, &aws, &[]);
    let warm = Conn::open(svc.addr).request(
        "POST",
        "/",
        &[JSON],
        br#"{"execution_mode":"get","protocol":2}"#,
    );
    assert!(parse(&warm.body).nonce.is_some());
    // The one state write (nonce spent, set counted, change claimed) is carried out, but
    // its answer comes after the SDK's 3 s attempt timeout, so the SDK sends it again.
    let late = Duration::from_millis(3500);
    let once = |op, key| Rule::times(Match::DynamoOpWith(op, key), Fault::DelayAnswer(late), 1);
    aws.set_rules(vec![once("PutItem", "\"state#")]);
    let (status, r, raw) = v2_set(&svc, &host, &secret);
    // Without the write's token the repeat reads as a lost race, and the decision made
    // again on the state it wrote as a replay (409 nonce) or a second set.
    assert_eq!(status, 201, "{raw}");
    assert_eq!(r.previous, None);
    // (The held-back answers are logged when they finally go out, after the set's answer.)
    let late_writes = || {
        aws.count(|x| {
            matches!(&x.kind, Kind::Dynamo(op) if op == "PutItem" || op == "UpdateItem")
                && x.finished - x.at >= late
        })
    };
    wait_until("the held-back answer", || late_writes() >= 1);
    assert_eq!(late_writes(), 1, "the fault applied");
    let item = aws_sdk_dynamodb::Client::new(&s.cfg)
        .get_item()
        .table_name(&s.table)
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("state#{host}")),
        )
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    assert_eq!(
        item.get("set_c"),
        Some(&aws_sdk_dynamodb::types::AttributeValue::N("1".into())),
        "counted once: {item:?}"
    );
    assert_eq!(
        s.record(&host, A).await.map(|r| r.0),
        Some(vec![LOOPBACK.to_string()])
    );
    assert_eq!(notices(&s).0.len(), 1);
    // Nothing is held: the next set goes straight through.
    let (status, r, raw) = v2_set(&svc, &host, &secret);
    assert_eq!(
        (status, r.outcome),
        (200, dyn53::protocol::Outcome::Unchanged),
        "{raw}"
    );
}

#[tokio::test]
async fn client_leaving_mid_update_does_not_leave_it_half_done() {
    let s = Stack::new("fault-leave").await;
    let host = s.name("home");
    let secret = s.add_host("home", |_| {}).await;
    let aws = Proxy::start(common::moto().addr);
    let svc = service(&s, &aws, &[]);
    // Route 53 takes its time with the change; the client does not wait for it.
    aws.set_rules(vec![Rule::times(
        Match::Route53Change,
        Fault::DelayAnswer(Duration::from_millis(1500)),
        1,
    )]);
    {
        let mut c = Conn::open(svc.addr);
        let get = c.request(
            "POST",
            "/",
            &[JSON],
            br#"{"execution_mode":"get","protocol":2}"#,
        );
        let nonce = parse(&get.body).nonce.unwrap();
        let body = v2_body(&host, A, LOOPBACK, IpMode::Source, &nonce, &secret);
        let head = format!(
            "POST / HTTP/1.1\r\nhost: t\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        c.send_raw(head.as_bytes()).unwrap();
        // (Logged once answered: the read is done, so the change is on its way.)
        wait_until("the record read", || {
            aws.count(|x| x.kind == Kind::Route53("ListResourceRecordSets")) > 0
        });
        std::thread::sleep(Duration::from_millis(300));
        // The connection closes here, while Route 53 holds the change's answer.
    }
    // The update still finishes: record set, lock released, owner told once.
    wait_until("the notification", || !s.sns_texts().is_empty());
    let (status, r, raw) = v2_set(&svc, &host, &secret);
    assert_eq!(
        (status, r.outcome),
        (200, dyn53::protocol::Outcome::Unchanged),
        "{raw}"
    );
    assert_eq!(
        s.record(&host, A).await.map(|r| r.0),
        Some(vec![LOOPBACK.to_string()])
    );
    assert_eq!(
        notices(&s),
        (
            vec![format!("dyn53: {host} A changed none -> 127.0.0.1 (")],
            vec![]
        )
    );
    assert_eq!(aws.changes_forwarded(), 1);
}
