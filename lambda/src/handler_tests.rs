//! The whole request flow on the in-memory fakes (crate::testkit): no AWS, no moto.

use super::*;
use crate::call::Method;
use crate::dns::Current;
use crate::testkit::{self, DnsFault, FakeBackend, Fakes, StoreFault};
use dyn53::protocol::{v1_token, LanPrefix};

const NAME: &str = "home.example.com";
const ROUTER: &str = "203.0.113.7";

fn policy() -> Policy {
    Policy {
        auth_failure_time: Duration::ZERO,
        ..Policy::default()
    }
}

fn secret() -> String {
    "5".repeat(64)
}

fn setup(p: Policy) -> (FakeBackend, Fakes) {
    let (b, f) = testkit::backend(p);
    let mut h = HostConfig::new(NAME, "Z1", secret());
    h.zone_name = Some("example.com".into());
    h.types = vec![RecordType::A, RecordType::Aaaa];
    f.store.add_host(h);
    (b, f)
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

async fn post(b: &FakeBackend, source: &str, body: String) -> (u16, Response) {
    let reply = b
        .answer(Call {
            source: ip(source),
            method: Method::Post,
            query: None,
            body: body.into_bytes(),
        })
        .await;
    let r = Response::from_json(reply.body.as_bytes()).unwrap_or_else(|e| {
        panic!("{e:?}: {}", reply.body);
    });
    (reply.status, r)
}

async fn nonce(b: &FakeBackend, source: &str) -> String {
    let (status, r) = post(b, source, r#"{"execution_mode":"get","protocol":2}"#.into()).await;
    assert_eq!(status, 200, "{r:?}");
    r.nonce.expect("a v2 get answers a nonce")
}

fn v2_body(name: &str, ip: IpAddr, nonce: &str, secret: &str) -> String {
    let fields = SignedFields {
        hostname: name,
        record_type: RecordType::for_ip(ip),
        ip,
        ip_mode: IpMode::Source,
        nonce,
    };
    Request::SetV2(SetV2 {
        hostname: name.into(),
        record_type: RecordType::for_ip(ip),
        ip,
        ip_mode: IpMode::Source,
        nonce: nonce.into(),
        signature: fields.sign(secret),
        lan_prefix: None,
    })
    .to_json()
}

/// A v2 get and set from `source` for `name` with `secret`.
async fn v2(b: &FakeBackend, source: &str, name: &str, secret: &str) -> (u16, Response) {
    let n = nonce(b, source).await;
    post(b, source, v2_body(name, ip(source), &n, secret)).await
}

async fn v1(b: &FakeBackend, source: &str, name: &str, secret: &str) -> u16 {
    let hash = v1_token(source, name, secret);
    let body = format!(
        r#"{{"execution_mode":"set","ddns_hostname":"{name}","validation_hash":"{hash}"}}"#
    );
    let reply = b
        .answer(Call {
            source: ip(source),
            method: Method::Post,
            query: None,
            body: body.into_bytes(),
        })
        .await;
    reply.status
}

fn a_record(f: &Fakes) -> Current {
    f.dns.record(NAME, RecordType::A)
}

fn plain(ip: &str) -> Current {
    Current::Plain {
        values: vec![ip.into()],
        ttl: i64::from(crate::host::DEFAULT_TTL),
    }
}

#[tokio::test]
async fn get_answers_the_address_and_a_nonce_without_calls_when_warm() {
    let (b, f) = setup(policy());
    let n = nonce(&b, ROUTER).await;
    assert!(!n.is_empty());
    // The key is given (DYN53_NONCE_KEY), so not even the table is asked.
    assert_eq!(f.calls(), 0);
    let reply = b
        .answer(Call {
            source: ip(ROUTER),
            method: Method::Get,
            query: Some("mode=get".into()),
            body: vec![],
        })
        .await;
    assert_eq!(reply.status, 200);
    assert!(reply.body.contains(ROUTER), "{}", reply.body);
}

#[tokio::test]
async fn v2_changes_then_answers_unchanged_within_the_call_budget() {
    let (b, f) = setup(policy());
    f.dns.put(NAME, ip("198.51.100.1"));
    // First set: the table knows nothing, so Route 53 is read once.
    let (status, r) = v2(&b, ROUTER, NAME, &secret()).await;
    assert_eq!((status, r.outcome), (201, Outcome::Changed), "{r:?}");
    assert_eq!(r.previous, Some(ip("198.51.100.1")));
    assert_eq!(a_record(&f), plain(ROUTER));
    assert_eq!(
        f.store.calls(),
        ["load home.example.com", "save home.example.com"]
    );
    assert_eq!(
        f.dns.calls(),
        [
            "get home.example.com A",
            "upsert home.example.com A 203.0.113.7"
        ]
    );
    assert_eq!(
        f.notifier.texts().len(),
        1,
        "one text: {:?}",
        f.notifier.texts()
    );
    // Unchanged: one read and one write, no Route 53 call (the memory is fresh).
    let before = (f.store.calls().len(), f.dns.calls().len());
    let (status, r) = v2(&b, ROUTER, NAME, &secret()).await;
    assert_eq!((status, r.outcome), (200, Outcome::Unchanged), "{r:?}");
    assert_eq!(f.store.calls().len() - before.0, 2);
    assert_eq!(f.dns.calls().len(), before.1);
    // A change the memory names the old address of (and no claim in flight): read, write,
    // UPSERT, SNS.
    let mut st = f.store.state(NAME).unwrap();
    st.pending = None;
    f.store.set_state(NAME, st);
    let before = f.calls();
    let (status, r) = v2(&b, "203.0.113.8", NAME, &secret()).await;
    assert_eq!((status, r.previous), (201, Some(ip(ROUTER))), "{r:?}");
    assert_eq!(
        f.calls() - before,
        4,
        "{:?} {:?}",
        f.store.calls(),
        f.dns.calls()
    );
    let texts = f.notifier.texts();
    assert_eq!(texts.len(), 2);
    assert!(texts[1].starts_with("dyn53: home.example.com A changed 203.0.113.7 -> 203.0.113.8 ("));
    // Metrics: a check-in per set, a change per change.
    let m = f.metrics.all();
    let sum = |f: fn(&crate::metrics::Counts) -> u32| m.iter().map(|(_, c)| f(c)).sum::<u32>();
    assert_eq!((sum(|c| c.check_in), sum(|c| c.changed)), (3, 2));
    // The state is one item: check-in time, spent nonces, windows, memory.
    let st = f.store.state(NAME).unwrap();
    assert!(st.seen.is_some());
    assert_eq!(st.nonces.len(), 3);
    assert_eq!(st.sets.count, 3);
    assert_eq!(st.changes.count, 2);
    assert_eq!(st.records[&RecordType::A].ip, ip("203.0.113.8"));
}

#[tokio::test]
async fn confirm_window_zero_always_reads_route53() {
    let (b, f) = setup(Policy {
        record_confirm: 0,
        ..policy()
    });
    assert_eq!(v2(&b, ROUTER, NAME, &secret()).await.0, 201);
    let reads = f.dns.calls().len();
    let (status, r) = v2(&b, ROUTER, NAME, &secret()).await;
    assert_eq!((status, r.outcome), (200, Outcome::Unchanged));
    assert_eq!(f.dns.calls().len(), reads + 1, "{:?}", f.dns.calls());
    // A record changed behind dyn53's back is repaired on the next set.
    f.dns.put(NAME, ip("192.0.2.99"));
    let (status, r) = v2(&b, ROUTER, NAME, &secret()).await;
    assert_eq!((status, r.previous), (201, Some(ip("192.0.2.99"))), "{r:?}");
    assert_eq!(a_record(&f), plain(ROUTER));
}

#[tokio::test]
async fn memory_past_the_confirm_window_is_checked_against_route53() {
    let (b, f) = setup(policy());
    let mut st = HostState::default();
    let old = now_unix() - 3601;
    st.records.insert(
        RecordType::A,
        Known {
            ip: ip(ROUTER),
            at: old,
        },
    );
    f.store.set_state(NAME, st);
    f.dns.put(NAME, ip(ROUTER));
    let (status, _) = v2(&b, ROUTER, NAME, &secret()).await;
    assert_eq!(status, 200);
    assert_eq!(f.dns.calls(), ["get home.example.com A"]);
    // Confirmed now: the next one needs no read.
    assert!(f.store.state(NAME).unwrap().records[&RecordType::A].at > old);
    assert_eq!(v2(&b, ROUTER, NAME, &secret()).await.0, 200);
    assert_eq!(f.dns.calls().len(), 1);
}

#[tokio::test]
async fn v1_sets_share_the_flow() {
    let (b, f) = setup(policy());
    assert_eq!(v1(&b, ROUTER, NAME, &secret()).await, 201);
    assert_eq!(a_record(&f), plain(ROUTER));
    assert_eq!(v1(&b, ROUTER, NAME, &secret()).await, 200);
    assert_eq!(v1(&b, ROUTER, NAME, "wrong").await, 401);
    assert_eq!(f.dns.upserts(), 1);
    let texts = f.notifier.texts();
    assert_eq!(texts.len(), 2, "the change and the auth failure: {texts:?}");
    assert!(texts[1].contains("authentication failure"));
}

#[tokio::test]
async fn spent_nonces_are_refused() {
    let (b, f) = setup(policy());
    let n = nonce(&b, ROUTER).await;
    let body = v2_body(NAME, ip(ROUTER), &n, &secret());
    assert_eq!(post(&b, ROUTER, body.clone()).await.0, 201);
    let (status, r) = post(&b, ROUTER, body).await;
    assert_eq!(r.error, Some(ErrorCode::Nonce), "{r:?}");
    assert_eq!(status, r.http_status());
    assert!(r.message.contains("already used"));
    assert_eq!(f.dns.upserts(), 1);
    // A forged nonce is refused before the table is asked.
    let calls = f.store.calls().len();
    let body = v2_body(NAME, ip(ROUTER), "1.2.forged", &secret());
    assert_eq!(post(&b, ROUTER, body).await.1.error, Some(ErrorCode::Nonce));
    assert_eq!(f.store.calls().len(), calls);
}

#[tokio::test]
async fn set_and_change_limits_hold_and_change_nothing() {
    let (b, f) = setup(Policy {
        set_limit: RateLimit {
            max: 3,
            window: 300,
        },
        change_limit: RateLimit {
            max: 2,
            window: 3600,
        },
        ..policy()
    });
    for (i, src) in ["203.0.113.1", "203.0.113.2"].iter().enumerate() {
        let (status, _) = v2(&b, src, NAME, &secret()).await;
        assert_eq!(status, 201, "set {i}");
    }
    let (_, r) = v2(&b, "203.0.113.3", NAME, &secret()).await;
    assert_eq!(r.error, Some(ErrorCode::RateLimited), "{r:?}");
    assert!(r.message.contains("changes"));
    let (_, r) = v2(&b, "203.0.113.4", NAME, &secret()).await;
    assert_eq!(r.error, Some(ErrorCode::RateLimited), "{r:?}");
    assert!(r.message.contains("updates"));
    assert_eq!(a_record(&f), plain("203.0.113.2"));
    assert_eq!(f.notifier.texts().len(), 2);
    // A stranger's failures do not spend the owner's budget.
    let st = f.store.state(NAME).unwrap();
    assert_eq!(
        v2(&b, ROUTER, NAME, &"f".repeat(64)).await.1.error,
        Some(ErrorCode::Auth)
    );
    assert_eq!(f.store.state(NAME).unwrap().sets, st.sets);
}

#[tokio::test]
async fn auth_failures_do_the_same_work_for_known_and_unknown_names() {
    let (b, f) = setup(policy());
    let mut seen = Vec::new();
    for round in 0..3 {
        for name in [NAME, "nobody.example.com"] {
            let before = f.store.calls().len();
            let (status, r) = v2(&b, ROUTER, name, &"f".repeat(64)).await;
            assert_eq!((status, r.error), (403, Some(ErrorCode::Auth)), "{r:?}");
            assert_eq!(r.message, AUTH_FAILED);
            let ops: Vec<String> = f.store.calls()[before..]
                .iter()
                .map(|c| c.split(' ').next().unwrap().to_string())
                .collect();
            seen.push((round, name, ops));
        }
    }
    for pair in seen.chunks(2) {
        assert_eq!(pair[0].2, pair[1].2, "{pair:?}");
    }
    // The window opened on the first failure only: a read and a write, then reads.
    assert_eq!(seen[0].2, ["load", "save"]);
    assert_eq!(seen[2].2, ["load"]);
    // The owner heard once; the stranger's name expires from the table.
    assert_eq!(f.notifier.texts().len(), 1);
    assert!(f.notifier.texts()[0].contains("authentication failure from 203.0.113.7"));
    assert!(f
        .store
        .state("nobody.example.com")
        .unwrap()
        .expires
        .is_some());
    assert!(f.store.state(NAME).unwrap().expires.is_none());
    let unknown = f
        .metrics
        .all()
        .iter()
        .filter(|(h, _)| h == "(unknown)")
        .count();
    assert_eq!(unknown, 3);
    // An unusable host item answers the same, and counts an error.
    f.store
        .add_bad_host("bad.example.com", "record_ttl must be a number");
    let (_, r) = v2(&b, ROUTER, "bad.example.com", &secret()).await;
    assert_eq!(r.error, Some(ErrorCode::Auth));
}

#[tokio::test]
async fn a_lost_race_decides_again_on_what_the_winner_wrote() {
    let (b, f) = setup(policy());
    f.dns.put(NAME, ip("198.51.100.1"));
    f.store.fail(StoreFault::LoseRace, 1);
    let (status, r) = v2(&b, ROUTER, NAME, &secret()).await;
    assert_eq!(
        (status, r.previous),
        (201, Some(ip("198.51.100.1"))),
        "{r:?}"
    );
    assert_eq!(
        f.store.calls(),
        [
            "load home.example.com",
            "save home.example.com",
            "load_state home.example.com",
            "save home.example.com"
        ]
    );
    assert_eq!(f.dns.upserts(), 1);
    assert_eq!(f.notifier.texts().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_changes_form_one_chain() {
    let (b, f) = setup(Policy {
        set_limit: RateLimit {
            max: 100,
            window: 300,
        },
        change_limit: RateLimit {
            max: 100,
            window: 300,
        },
        record_confirm: 0,
        ..policy()
    });
    f.dns.slow_upserts(Duration::from_millis(30));
    let b = std::sync::Arc::new(b);
    let sources: Vec<String> = (1..=6).map(|i| format!("203.0.113.{i}")).collect();
    let mut tasks = Vec::new();
    for src in sources.clone() {
        let b = b.clone();
        tasks.push(tokio::spawn(async move {
            (src.clone(), v2(&b, &src, NAME, &secret()).await)
        }));
    }
    let mut changes = Vec::new();
    for t in tasks {
        let (src, (status, r)) = t.await.unwrap();
        match status {
            201 => changes.push((ip(&src), r.previous)),
            503 => assert!(r.message.contains("another update"), "{r:?}"),
            _ => panic!("{status} {r:?}"),
        }
    }
    assert!(!changes.is_empty());
    // One chain from "none": each change saw the one before it.
    let mut at = None;
    let mut left = changes.clone();
    while !left.is_empty() {
        let i = left
            .iter()
            .position(|(_, prev)| *prev == at)
            .unwrap_or_else(|| panic!("lost update in {changes:?}"));
        at = Some(left.remove(i).0);
    }
    assert_eq!(a_record(&f), plain(&at.unwrap().to_string()));
    assert_eq!(f.notifier.texts().len(), changes.len());
    assert_eq!(f.dns.upserts(), changes.len());
}

#[tokio::test]
async fn repeated_writes_count_once() {
    let (b, f) = setup(policy());
    f.store.fail(StoreFault::RepeatWrite, 1);
    let (status, _) = v2(&b, ROUTER, NAME, &secret()).await;
    assert_eq!(status, 201);
    let st = f.store.state(NAME).unwrap();
    assert_eq!(
        (st.sets.count, st.changes.count, st.nonces.len()),
        (1, 1, 1)
    );
    assert_eq!(f.notifier.texts().len(), 1);
    assert_eq!(v2(&b, ROUTER, NAME, &secret()).await.0, 200);
}

#[tokio::test]
async fn a_throttled_read_is_a_503_that_writes_nothing() {
    let (b, f) = setup(policy());
    f.dns.put(NAME, ip("198.51.100.1"));
    f.dns.fail(DnsFault::Throttled, 1);
    let (status, r) = v2(&b, ROUTER, NAME, &secret()).await;
    assert_eq!((status, r.error), (503, Some(ErrorCode::Unavailable)));
    assert!(r.message.contains("Route 53 is busy"));
    assert_eq!(f.store.calls(), ["load home.example.com"]);
    assert!(f.notifier.texts().is_empty(), "busy is not news");
    assert_eq!(f.metrics.all()[0].1.error, 1);
    // The router's retry goes through.
    assert_eq!(v2(&b, ROUTER, NAME, &secret()).await.0, 201);
}

#[tokio::test]
async fn a_throttled_change_releases_its_claim_and_allowance() {
    let (b, f) = setup(policy());
    // The table remembers the old address, so the change needs no read: the one Route 53
    // call is the UPSERT, and it is throttled.
    let mut st = HostState::default();
    st.records.insert(
        RecordType::A,
        Known {
            ip: ip("198.51.100.1"),
            at: now_unix(),
        },
    );
    f.store.set_state(NAME, st);
    f.dns.put(NAME, ip("198.51.100.1"));
    f.dns.fail_upserts(DnsFault::Throttled, 1);
    let (status, r) = v2(&b, ROUTER, NAME, &secret()).await;
    assert_eq!(
        (status, r.error),
        (503, Some(ErrorCode::Unavailable)),
        "{r:?}"
    );
    assert!(r.message.contains("Route 53 is busy"));
    let st = f.store.state(NAME).unwrap();
    assert_eq!(st.pending, None);
    assert_eq!(st.records[&RecordType::A].ip, ip("198.51.100.1"));
    assert_eq!((st.sets.count, st.changes.count), (0, 0));
    assert!(f.notifier.texts().is_empty(), "busy is not news");
    assert_eq!(a_record(&f), plain("198.51.100.1"));
    // The retry goes straight to the change (no read), once.
    let (status, r) = v2(&b, ROUTER, NAME, &secret()).await;
    assert_eq!((status, r.previous), (201, Some(ip("198.51.100.1"))));
    assert_eq!(
        f.dns
            .calls()
            .iter()
            .filter(|c| c.starts_with("get"))
            .count(),
        0
    );
    assert_eq!(f.notifier.texts().len(), 1);
}

#[tokio::test]
async fn a_change_that_timed_out_is_checked_not_repeated_or_notified_twice() {
    let (b, f) = setup(policy());
    f.dns.put(NAME, ip("198.51.100.1"));
    // The read passes; the UPSERT is carried out but its answer is lost.
    f.dns.fail_upserts(DnsFault::TimeoutAfterChange, 1);
    let (status, r) = v2(&b, ROUTER, NAME, &secret()).await;
    assert_eq!(
        (status, r.error),
        (503, Some(ErrorCode::Unavailable)),
        "{r:?}"
    );
    assert_eq!(a_record(&f), plain(ROUTER), "Route 53 did change");
    assert_eq!(f.notifier.texts().len(), 1, "{:?}", f.notifier.texts());
    assert!(f.notifier.texts()[0].contains("update failed"));
    // The retry reads the record (the memory was dropped), finds it done: no second change.
    let (status, r) = v2(&b, ROUTER, NAME, &secret()).await;
    assert_eq!((status, r.outcome), (200, Outcome::Unchanged), "{r:?}");
    assert_eq!(f.dns.upserts(), 1);
}

#[tokio::test]
async fn foreign_records_are_left_alone_with_one_error_text() {
    let (b, f) = setup(policy());
    f.dns.set(NAME, RecordType::A, Current::Foreign);
    for _ in 0..2 {
        let (status, r) = v2(&b, ROUTER, NAME, &secret()).await;
        assert_eq!(
            (status, r.error),
            (403, Some(ErrorCode::NotAllowed)),
            "{r:?}"
        );
        assert!(r.message.contains("alias"));
    }
    assert_eq!(a_record(&f), Current::Foreign);
    assert_eq!(f.dns.upserts(), 0);
    let texts = f.notifier.texts();
    assert_eq!(texts.len(), 1, "one per quiet period: {texts:?}");
    assert!(texts[0].contains("alias or routed record"));
}

#[tokio::test]
async fn duplicates_change_and_notify_once() {
    let (b, f) = setup(policy());
    f.dns.put(NAME, ip("198.51.100.9"));
    for _ in 0..3 {
        let (status, _) = v2(&b, ROUTER, NAME, &secret()).await;
        assert!(status == 201 || status == 200);
    }
    assert_eq!(f.dns.upserts(), 1);
    assert_eq!(f.notifier.texts().len(), 1);
}

/// A v2 get and set from ROUTER for NAME carrying `prefix` as its signed `lan_prefix`.
async fn v2_lan(b: &FakeBackend, prefix: &str) -> (u16, Response) {
    let n = nonce(b, ROUTER).await;
    let prefix = LanPrefix::parse(prefix).unwrap();
    let fields = SignedFields {
        hostname: NAME,
        record_type: RecordType::A,
        ip: ip(ROUTER),
        ip_mode: IpMode::Source,
        nonce: &n,
    };
    let body = Request::SetV2(SetV2 {
        hostname: NAME.into(),
        record_type: RecordType::A,
        ip: ip(ROUTER),
        ip_mode: IpMode::Source,
        signature: fields.sign_lan(&secret(), Some(&prefix)),
        nonce: n,
        lan_prefix: Some(prefix),
    })
    .to_json();
    post(b, ROUTER, body).await
}

fn with_lan_records(f: &Fakes, specs: &[&str]) {
    let mut h = HostConfig::new(NAME, "Z1", secret());
    h.zone_name = Some("example.com".into());
    h.lan = specs
        .iter()
        .map(|s| lan::LanRecord::parse(s).unwrap())
        .collect();
    f.store.add_host(h);
}

#[tokio::test]
async fn lan_answers_name_each_record_and_its_address() {
    let (b, f) = setup(policy());
    with_lan_records(
        &f,
        &[
            "nas.example.com=::1234",
            "cam.example.com=eui64:00:11:22:33:44:55",
        ],
    );
    let listed =
        "nas.example.com=2001:db8:1:10::1234 cam.example.com=2001:db8:1:10:211:22ff:fe33:4455";
    let (status, r) = v2_lan(&b, "2001:db8:1:10::/64").await;
    assert_eq!((status, r.lan_updated), (201, Some(2)), "{r:?}");
    assert_eq!(r.lan.as_deref(), Some(listed));
    assert_eq!(
        f.dns.record("cam.example.com", RecordType::Aaaa),
        plain("2001:db8:1:10:211:22ff:fe33:4455")
    );
    // The same prefix again changes nothing, and still names the records.
    let upserts = f.dns.upserts();
    let (status, r) = v2_lan(&b, "2001:db8:1:10::/64").await;
    assert_eq!((status, r.lan_updated), (200, Some(0)), "{r:?}");
    assert_eq!(r.lan.as_deref(), Some(listed));
    assert_eq!(f.dns.upserts(), upserts);
    // A new prefix: the listing follows it.
    let (_, r) = v2_lan(&b, "2001:db8:7::/56").await;
    assert_eq!(r.lan_updated, Some(2), "{r:?}");
    assert_eq!(
        r.lan.as_deref(),
        Some("nas.example.com=2001:db8:7::1234 cam.example.com=2001:db8:7:0:211:22ff:fe33:4455")
    );
    // A set without a prefix says nothing about LAN records.
    let (_, r) = v2(&b, ROUTER, NAME, &secret()).await;
    assert_eq!((r.lan_updated, r.lan), (None, None));
}

#[tokio::test]
async fn a_refused_lan_prefix_lists_nothing_and_changes_nothing() {
    let (b, f) = setup(policy());
    // The host has no LAN records.
    let (status, r) = v2_lan(&b, "2001:db8:1:10::/64").await;
    assert_eq!(
        (status, r.error),
        (403, Some(ErrorCode::NotAllowed)),
        "{r:?}"
    );
    assert_eq!((r.lan_updated, r.lan), (None, None));
    // An identifier meant for a /56 reaches into a /64 prefix's bits.
    with_lan_records(&f, &["nas.example.com=0:0:0:20::5"]);
    let (status, r) = v2_lan(&b, "2001:db8:1:10::/64").await;
    assert_eq!((status, r.lan.as_deref()), (403, None), "{r:?}");
    assert_eq!(f.dns.upserts(), 0);
}

#[tokio::test]
async fn a_table_outage_is_a_clear_503_and_route53_is_not_touched() {
    let (b, f) = setup(policy());
    f.store.fail(StoreFault::Unavailable, 1);
    let (status, r) = v2(&b, ROUTER, NAME, &secret()).await;
    assert_eq!((status, r.error), (503, Some(ErrorCode::Unavailable)));
    assert!(r.message.contains("host table"));
    assert!(f.dns.calls().is_empty());
    // The write failing after the read: nothing changed either.
    f.store.fail(StoreFault::WriteUnavailable, 1);
    let (status, r) = v2(&b, ROUTER, NAME, &secret()).await;
    assert_eq!((status, r.error), (503, Some(ErrorCode::Unavailable)));
    assert_eq!(f.dns.upserts(), 0);
    assert!(f.notifier.texts().is_empty());
    assert!(f
        .metrics
        .all()
        .iter()
        .all(|(_, c)| c.error == 1 && c.changed == 0));
    // Back: the same set goes through.
    assert_eq!(v2(&b, ROUTER, NAME, &secret()).await.0, 201);
}

#[tokio::test]
async fn sns_down_still_changes_the_record_and_counts_an_error() {
    let (b, f) = setup(policy());
    f.notifier.fail(1);
    let (status, _) = v2(&b, ROUTER, NAME, &secret()).await;
    assert_eq!(status, 201);
    assert_eq!(a_record(&f), plain(ROUTER));
    let (_, c) = f.metrics.all().pop().unwrap();
    assert_eq!((c.check_in, c.changed, c.error), (1, 1, 1));
}

#[tokio::test]
async fn a_claim_in_flight_holds_off_other_changes_until_route53_shows_it() {
    let (b, f) = setup(Policy {
        lock_wait: Duration::from_millis(200),
        ..policy()
    });
    // Someone claimed a change to .1 and has not written it yet.
    let st = HostState {
        pending: Some(Pending {
            rtype: RecordType::A,
            ip: ip("203.0.113.1"),
            until: now_unix() + 30,
        }),
        ..HostState::default()
    };
    f.store.set_state(NAME, st);
    f.dns.put(NAME, ip("198.51.100.1"));
    let (status, r) = v2(&b, "203.0.113.2", NAME, &secret()).await;
    assert_eq!(
        (status, r.error),
        (503, Some(ErrorCode::Unavailable)),
        "{r:?}"
    );
    assert!(r.message.contains("another update"));
    assert_eq!(f.dns.upserts(), 0);
    // Once Route 53 holds it, the next change follows it.
    f.dns.put(NAME, ip("203.0.113.1"));
    let (status, r) = v2(&b, "203.0.113.2", NAME, &secret()).await;
    assert_eq!(
        (status, r.previous),
        (201, Some(ip("203.0.113.1"))),
        "{r:?}"
    );
    assert_eq!(
        f.store.state(NAME).unwrap().pending.unwrap().ip,
        ip("203.0.113.2")
    );
}

#[test]
fn plans_from_the_state_alone() {
    let p = policy();
    let now = 1_800_000_000;
    let a = RecordType::A;
    let none = BTreeMap::new();
    let mut st = HostState::default();
    assert_eq!(
        plan(&p, &mut st.clone(), a, ip(ROUTER), None, &none, now),
        Plan::Read(a)
    );
    st.records.insert(
        a,
        Known {
            ip: ip(ROUTER),
            at: now - 10,
        },
    );
    assert_eq!(
        plan(&p, &mut st.clone(), a, ip(ROUTER), None, &none, now),
        Plan::Unchanged
    );
    let mut next = st.clone();
    let other = ip("192.0.2.1");
    assert_eq!(
        plan(&p, &mut next, a, other, Some("n"), &none, now),
        Plan::Change(Some(ip(ROUTER)))
    );
    assert_eq!(next.pending.map(|c| c.ip), Some(other));
    assert_eq!(next.seen, Some(now));
    assert!(next.nonces.contains_key("n"));
    assert_eq!(
        plan(&p, &mut next.clone(), a, other, Some("n"), &none, now),
        Plan::Replay
    );
    // Memory older than the trust window is not used for a change.
    st.records.insert(
        a,
        Known {
            ip: ip(ROUTER),
            at: now - p.record_trust - 1,
        },
    );
    assert_eq!(
        plan(&p, &mut st.clone(), a, other, None, &none, now),
        Plan::Read(a)
    );
}
