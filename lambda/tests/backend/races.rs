//! Races (issue 6): set requests for one host arriving at the same moment, through two
//! instances of the real local service (two Lambda instances share only the table), from
//! different source addresses, v1 and v2 mixed. Whatever order the per-host lock gives
//! them, the accepted changes must form one chain (each saw the previous one's address),
//! the record must hold the last one's address, and there must be exactly one notification
//! per accepted change, naming the true previous address.

use crate::common;
use crate::support;
use common::service::Service;
use common::{emf_lines, Stack};
use dyn53::protocol::{ErrorCode, Outcome, RecordType};
use std::net::IpAddr;
use std::sync::Arc;
use support::wire::{loopback, Answer, Conn};
use tokio::sync::Barrier;

/// Sends one set per source at the same moment (after every get is done), alternating
/// between `services`; odd racers use v1 when `mixed`.
async fn race(
    services: &[&Service],
    host: &str,
    secret: &str,
    sources: &[IpAddr],
    mixed: bool,
) -> Vec<(IpAddr, Answer)> {
    let barrier = Arc::new(Barrier::new(sources.len()));
    let mut tasks = Vec::new();
    for (i, &src) in sources.iter().enumerate() {
        let addr = services[i % services.len()].addr;
        let (host, secret, barrier) = (host.to_string(), secret.to_string(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            let mut c = Conn::open(src, addr).await.expect("connect");
            let nonce = c.nonce().await.expect("get");
            barrier.wait().await;
            let a = if mixed && i % 2 == 1 {
                c.set_v1(&host, &secret).await
            } else {
                c.set_v2(&host, &secret, &nonce).await
            };
            (src, a.expect("set answered"))
        }));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

/// The previous address the change notification to `ip` names.
fn previous_in(texts: &[String], host: &str, ip: IpAddr) -> Option<IpAddr> {
    let head = format!("dyn53: {host} A changed ");
    let tail = format!(" -> {ip} (");
    let text = texts
        .iter()
        .find(|t| t.starts_with(&head) && t.contains(&tail))
        .unwrap_or_else(|| panic!("no notification of the change to {ip}: {texts:?}"));
    let old = &text[head.len()..text.find(&tail).unwrap()];
    old.parse().ok()
}

/// Orders the accepted changes by their `previous_ip` links, starting from `start`;
/// panics unless they form exactly one chain.
fn chain(start: Option<IpAddr>, changes: &[(IpAddr, Option<IpAddr>)]) -> Vec<IpAddr> {
    let mut order = Vec::new();
    let mut at = start;
    let mut left: Vec<_> = changes.to_vec();
    while !left.is_empty() {
        let i = left
            .iter()
            .position(|(_, prev)| *prev == at)
            .unwrap_or_else(|| panic!("no change follows {at:?}: lost update in {changes:?}"));
        let (ip, _) = left.remove(i);
        order.push(ip);
        at = Some(ip);
    }
    order
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_sets_across_two_instances_form_one_chain() {
    let s = Stack::new("race-chain").await;
    let host = s.name("home");
    let secret = s.add_host("home", |_| {}).await;
    let limits = [
        ("DYN53_RATE_LIMIT", "1000/300"),
        ("DYN53_CHANGE_LIMIT", "1000/3600"),
    ];
    let one = Service::start(&s, "127.0.0.1:0", &[], &limits);
    let two = Service::start(&s, "127.0.0.1:0", &[], &limits);
    let mut start = None;
    let mut changes_total = 0;
    // Several rounds, so the lock is contended in different orders.
    for round in 0..3u32 {
        let sources: Vec<IpAddr> = (0..8).map(|i| loopback(round * 100 + i)).collect();
        let answers = race(&[&one, &two], &host, &secret, &sources, true).await;
        let texts = s.sns_texts();
        let mut changes = Vec::new();
        for (src, a) in &answers {
            match (a.status, a.r.outcome) {
                // A v2 answer names the previous address.
                (201, Outcome::Changed) if a.r.ip.is_some() => {
                    assert_eq!(a.r.ip, Some(*src));
                    changes.push((*src, a.r.previous));
                }
                // A v1 answer (the reference's two fields) does not: its notification does.
                (201, Outcome::Changed) => {
                    assert!(a.r.message.ends_with(&format!(" set to {src}")), "{a:?}");
                    changes.push((*src, previous_in(&texts, &host, *src)));
                }
                // Waited past DYN53_LOCK_WAIT_MS for the others: retryable, nothing done.
                (503, Outcome::Error) => {
                    assert_eq!(a.r.error, Some(ErrorCode::Unavailable));
                    assert!(a.r.message.contains("another update"), "{a:?}");
                }
                _ => panic!("unexpected answer {a:?}"),
            }
        }
        assert!(!changes.is_empty(), "round {round}: {answers:?}");
        let order = chain(start, &changes);
        let last = *order.last().unwrap();
        assert_eq!(
            s.record(&host, RecordType::A).await.map(|r| r.0),
            Some(vec![last.to_string()]),
            "the record holds the later accepted request"
        );
        // Exactly one notification per accepted change, each naming the true previous one.
        let texts = s.sns_texts();
        let mut prev = start;
        for ip in &order {
            let old = prev.map_or("none".to_string(), |p| p.to_string());
            let want = format!("dyn53: {host} A changed {old} -> {ip} (");
            let n = texts.iter().filter(|t| t.starts_with(&want)).count();
            assert_eq!(n, 1, "{want} in {texts:?}");
            prev = Some(*ip);
        }
        changes_total += order.len();
        assert_eq!(texts.len(), changes_total, "{texts:?}");
        start = Some(last);
    }
    let m = emf_lines(&format!("{}{}", one.stdout(), two.stdout()));
    let changed: u32 = m.iter().map(|(_, c)| c.changed).sum();
    assert_eq!(changed as usize, changes_total);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_sets_of_the_same_address_change_and_notify_once() {
    let s = Stack::new("race-dup").await;
    let host = s.name("home");
    let secret = s.add_host("home", |_| {}).await;
    s.put_record(&host, aws_sdk_route53::types::RrType::A, "198.51.100.9")
        .await;
    let one = Service::start(&s, "127.0.0.1:0", &[], &[]);
    let two = Service::start(&s, "127.0.0.1:0", &[], &[]);
    // The hotplug event and the periodic check of one router firing together, twice over.
    let src = loopback(7);
    let answers = race(&[&one, &two], &host, &secret, &[src; 4], false).await;
    let outcomes: Vec<Outcome> = answers.iter().map(|(_, a)| a.r.outcome).collect();
    assert_eq!(
        outcomes.iter().filter(|o| **o == Outcome::Changed).count(),
        1,
        "{answers:?}"
    );
    for (_, a) in &answers {
        assert!(
            a.r.outcome == Outcome::Changed
                && a.r.previous == Some("198.51.100.9".parse().unwrap())
                || a.r.outcome == Outcome::Unchanged
                || a.r.error == Some(ErrorCode::Unavailable),
            "{a:?}"
        );
    }
    assert_eq!(
        s.record(&host, RecordType::A).await.map(|r| r.0),
        Some(vec![src.to_string()])
    );
    let texts = s.sns_texts();
    assert_eq!(texts.len(), 1, "{texts:?}");
    assert!(texts[0].starts_with(&format!("dyn53: {host} A changed 198.51.100.9 -> {src} (")));
}
