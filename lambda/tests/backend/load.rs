//! Load (issue 6): many simulated routers checking in at the same moment against the real
//! local service on moto, each from its own loopback address. Every router: first set
//! (changed), a repeat (unchanged), a new address (changed), then sets past the per-host
//! limit. Checks that no update is lost or wrong (every record, every notification, every
//! metric) and that the per-host rate limit holds exactly under concurrency.
//!
//! `load_200_routers` runs in `make test`; `bench_load` (ignored; DYN53_LOAD_HOSTS, default
//! 1000) is what tests/bench/load-herd runs for `make bench`, printing BENCH lines.

use crate::common;
use crate::support;
use common::Stack;
use dyn53::protocol::{ErrorCode, Outcome};
use dyn53_testsupport::Service;
use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::fleet::{a_records, add_hosts, percentile_ms, Host};
use support::wire::{loopback, Answer, Conn};
use tokio::sync::Barrier;

/// Sets each router sends; the limit admits the first `LIMIT`.
const SETS: usize = 7;
const LIMIT: usize = 5;
/// Offset of the routers' second addresses (after "the ISP" gave them new ones).
const SECOND: u32 = 100_000;

/// What one router expects from each of its sets.
fn expected(step: usize, first: IpAddr) -> (u16, Outcome, Option<IpAddr>) {
    match step {
        0 => (201, Outcome::Changed, None),
        2 => (201, Outcome::Changed, Some(first)),
        s if s < LIMIT => (200, Outcome::Unchanged, None),
        _ => (429, Outcome::Error, None),
    }
}

/// What the run measured.
struct Report {
    routers: usize,
    wall: Duration,
    requests: usize,
    set_latencies: Vec<Duration>,
}

/// One router's script; returns the latency of each set, or what went wrong.
async fn router(
    backend: std::net::SocketAddr,
    i: u32,
    host: Host,
    start: Arc<Barrier>,
) -> Result<Vec<Duration>, String> {
    let first = loopback(i);
    let second = loopback(SECOND + i);
    let mut conn = Conn::open(first, backend)
        .await
        .map_err(|e| format!("{}: connect: {e:?}", host.name))?;
    start.wait().await;
    let mut latencies = Vec::new();
    for step in 0..SETS {
        if step == 2 {
            conn = Conn::open(second, backend)
                .await
                .map_err(|e| format!("{}: connect: {e:?}", host.name))?;
        }
        let nonce = conn
            .nonce()
            .await
            .map_err(|e| format!("{} step {step}: get: {e:?}", host.name))?;
        let t = Instant::now();
        let a: Answer = conn
            .set_v2(&host.name, &host.secret, &nonce)
            .await
            .map_err(|e| format!("{} step {step}: set: {e:?}", host.name))?;
        latencies.push(t.elapsed());
        let (status, outcome, previous) = expected(step, first);
        let ip_ok = outcome == Outcome::Error || a.r.ip == Some(conn.source);
        let code_ok = outcome != Outcome::Error || a.r.error == Some(ErrorCode::RateLimited);
        if a.status != status
            || a.r.outcome != outcome
            || a.r.previous != previous
            || !ip_ok
            || !code_ok
        {
            return Err(format!(
                "{} step {step}: expected {status} {outcome:?} (previous {previous:?}), got {} {:?}",
                host.name, a.status, a.r
            ));
        }
    }
    Ok(latencies)
}

/// Runs `n` routers against a fresh stack and checks everything; panics on any deviation.
async fn run(tag: &str, n: usize) -> Report {
    let s = Stack::new(tag).await;
    eprintln!("load: registering {n} hosts");
    let hosts = add_hosts(&s, n).await;
    let limit = format!("{LIMIT}/300");
    // Route 53 pacing off: moto has no account limit, and this measures the backend (the
    // herd test measures the pacing).
    let backend = Service::fleet(
        &s,
        &[("DYN53_RATE_LIMIT", &limit), ("DYN53_ROUTE53_RATE", "0")],
    );
    let start = Arc::new(Barrier::new(n + 1));
    let tasks: Vec<_> = hosts
        .iter()
        .enumerate()
        .map(|(i, h)| tokio::spawn(router(backend.addr, i as u32, h.clone(), start.clone())))
        .collect();
    start.wait().await;
    eprintln!("load: {n} routers checking in");
    let t0 = Instant::now();
    let mut latencies = Vec::new();
    let mut failures = Vec::new();
    for t in tasks {
        match t.await.unwrap() {
            Ok(l) => latencies.extend(l),
            Err(e) => failures.push(e),
        }
    }
    let wall = t0.elapsed();
    assert!(
        failures.is_empty(),
        "{} of {n} routers saw a wrong answer, e.g.:\n{}\nbackend errors: {:?}",
        failures.len(),
        failures[..failures.len().min(10)].join("\n"),
        &backend.errors()[..backend.errors().len().min(10)]
    );

    // Every record holds its router's second address; nothing else was written.
    let records = a_records(&s).await;
    let want: HashMap<String, Vec<String>> = hosts
        .iter()
        .enumerate()
        .map(|(i, h)| {
            (
                h.name.clone(),
                vec![loopback(SECOND + i as u32).to_string()],
            )
        })
        .collect();
    assert_eq!(records.len(), n, "one A record per host, no other");
    for (name, values) in &want {
        assert_eq!(records.get(name), Some(values), "record of {name}");
    }
    // Exactly the two notifications of each router, nothing more.
    let texts: Vec<String> = s
        .sns_texts()
        .iter()
        .map(|t| t.split(" (").next().unwrap().to_string())
        .collect();
    assert_eq!(texts.len(), 2 * n);
    let got: BTreeSet<String> = texts.into_iter().collect();
    let mut expect = BTreeSet::new();
    for (i, h) in hosts.iter().enumerate() {
        let (a, b) = (loopback(i as u32), loopback(SECOND + i as u32));
        expect.insert(format!("dyn53: {} A changed none -> {a}", h.name));
        expect.insert(format!("dyn53: {} A changed {a} -> {b}", h.name));
    }
    assert_eq!(got, expect, "notifications");
    // One metric line per set: a check-in each, two changes per host, no errors.
    let m = backend.wait_metrics(SETS * n);
    assert_eq!(m.len(), SETS * n);
    let mut per_host: HashMap<&str, (u32, u32, u32)> = HashMap::new();
    for (name, c) in &m {
        let e = per_host.entry(name.as_str()).or_default();
        *e = (
            e.0 + c.check_in,
            e.1 + c.changed,
            e.2 + c.error + c.auth_failure,
        );
    }
    for h in &hosts {
        assert_eq!(
            per_host.get(h.name.as_str()),
            Some(&(SETS as u32, 2, 0)),
            "{}",
            h.name
        );
    }
    Report {
        routers: n,
        wall,
        requests: 2 * SETS * n,
        set_latencies: latencies,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_200_routers() {
    let r = run("load-200", 200).await;
    assert_eq!(r.set_latencies.len(), SETS * r.routers);
}

/// `make bench`: BENCH lines for the load on DYN53_LOAD_HOSTS routers (default 1000).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run by tests/bench/load-herd"]
async fn bench_load() {
    let n: usize = std::env::var("DYN53_LOAD_HOSTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let mut r = run("load-bench", n).await;
    let secs = r.wall.as_secs_f64();
    let sets = r.set_latencies.len();
    println!("BENCH backend_load_routers {} routers", r.routers);
    println!("BENCH backend_load_requests {} requests", r.requests);
    println!(
        "BENCH backend_load_throughput {:.1} req/s",
        r.requests as f64 / secs
    );
    println!(
        "BENCH backend_load_set_throughput {:.1} req/s",
        sets as f64 / secs
    );
    println!(
        "BENCH backend_load_p50 {:.1} ms",
        percentile_ms(&mut r.set_latencies, 50.0)
    );
    println!(
        "BENCH backend_load_p99 {:.1} ms",
        percentile_ms(&mut r.set_latencies, 99.0)
    );
    println!("BENCH backend_load_wall {secs:.1} s");
    println!("BENCH backend_load_wrong_updates 0 count");
}
