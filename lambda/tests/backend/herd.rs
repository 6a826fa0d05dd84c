//! Herd (issue 6): every router of a zone gets a new address at once (an ISP outage ends).
//!
//! - `model_*`: the discrete-event model (tests/support/herd_sim.rs, rules read from the
//!   code) at 10,000 routers: every record ends correct, and the backend keeps Route 53
//!   within the account's 10 requests/s.
//! - `herd_through_throttled_route53`: the real local service and the real `dyn53` client
//!   for each router, with a proxy in front of moto that throttles Route 53 like an account
//!   (token bucket): every record ends correct, one change and one notification per router.
//! - `paced_*`, `confirmed_*`: the pacing refuses without calling Route 53; the record
//!   memory answers "unchanged" without a read only with DYN53_RECORD_CONFIRM_SECS.
//! - `bench_herd` (ignored; tests/bench/load-herd): the real run at DYN53_HERD_HOSTS
//!   routers (default 500) next to the model's prediction for it, and the model at 10,000.

use crate::common;
use crate::support;
use common::Stack;
use dyn53::protocol::RecordType;
use dyn53_backend::dynamo::Dynamo;
use dyn53_testsupport::{client_bin, config, Service, TempDir};
use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use support::fleet::{a_records, add_hosts, seed_records, Host};
use support::herd_sim::{self, Front, Params};
use support::proxy::{Bucket, Done, Fault, Match, Proxy, Rule};

/// The fleet setting SCALING.md recommends beyond about 4,000 routers per account.
fn fleet(hosts: usize) -> Params {
    Params {
        record_confirm: 3600.0,
        ..Params::new(hosts)
    }
}

#[test]
fn model_10000_routers_all_correct_within_the_account_limit() {
    let r = herd_sim::run(fleet(10_000));
    eprintln!("{r:#?}");
    let all = r.all_correct.expect("every record correct");
    assert!(all < 6.0 * 3600.0);
    assert_eq!(r.correct, 10_000);
    assert_eq!(r.change_notices, 10_000, "one notification per router");
    assert_eq!(r.changes, 10_000, "one change per router");
    // Paced below the account's bucket (10/s, burst 50): Route 53 never throttles, and
    // over the run the calls average no more than the pacing rate.
    assert_eq!(r.route53_throttled, 0, "{r:?}");
    let code = herd_sim::Code::read();
    let allowed = code.limiter_burst + code.limiter_rate * r.route53_span;
    assert!((r.route53_ok as f64) <= allowed, "{r:?}");
}

#[test]
fn model_is_deterministic_and_the_old_design_is_slower() {
    let a = herd_sim::run(Params::new(2_000));
    let b = herd_sim::run(Params::new(2_000));
    assert_eq!(a.all_correct, b.all_correct);
    let old = herd_sim::run(Params::before(2_000));
    assert_eq!(old.correct, 2_000);
    assert!(old.route53_throttled > 0);
    assert!(
        old.all_correct.unwrap() > a.all_correct.unwrap(),
        "{old:?}\n{a:?}"
    );
}

/// One router's real client runs: the hotplug run at `start`, then (like dyn53-run's loop)
/// again `retry_after` after each temporary failure, until one succeeds or `limit` passes.
fn router_loop(
    conf: PathBuf,
    start: Duration,
    retry_after: Duration,
    limit: Instant,
) -> (i32, u32) {
    std::thread::sleep(start);
    let mut runs = 0;
    loop {
        runs += 1;
        let o = std::process::Command::new(client_bin())
            .arg("-c")
            .arg(&conf)
            .arg("update")
            .env_clear()
            .output()
            .expect("run dyn53");
        let code = o.status.code().unwrap_or(-1);
        if code != 1 || Instant::now() + retry_after > limit {
            return (code, runs);
        }
        std::thread::sleep(retry_after);
    }
}

/// What a real herd run measured.
struct RealHerd {
    hosts: usize,
    all_correct: Duration,
    route53_ok: usize,
    route53_throttled: usize,
    changes: usize,
    runs: u32,
    failed_runs: u32,
    /// Mean latencies seen at the proxy: DynamoDB call, ChangeResourceRecordSets.
    dynamo_latency: f64,
    change_latency: f64,
}

/// `n` routers whose records dyn53 wrote before the outage (old addresses in Route 53 and
/// in the table's memory) update at once through the real service, with Route 53 behind
/// a proxy that throttles like an account with `bucket`.
async fn real_herd(
    tag: &str,
    n: usize,
    spread: f64,
    bucket: Bucket,
    env: &[(&str, &str)],
) -> RealHerd {
    let s = Stack::new(tag).await;
    eprintln!("herd: {n} routers, records set before the outage");
    let hosts = add_hosts(&s, n).await;
    let old = |i: usize| -> IpAddr {
        format!("198.18.{}.{}", i / 250, i % 250 + 1)
            .parse()
            .unwrap()
    };
    let seeded: Vec<(String, String)> = hosts
        .iter()
        .enumerate()
        .map(|(i, h)| (h.name.clone(), old(i).to_string()))
        .collect();
    seed_records(&s, &seeded).await;
    let table = Dynamo::new(aws_sdk_dynamodb::Client::new(&s.cfg), &s.table);
    let now = dyn53_backend::clock::now_unix();
    for (i, h) in hosts.iter().enumerate() {
        table
            .remember_record(&h.name, RecordType::A, Some(old(i)), now - 3600)
            .await
            .unwrap();
    }
    let aws = Proxy::start(common::moto().addr);
    aws.set_rules(vec![Rule::always(
        Match::Route53Records,
        Fault::Throttle(bucket),
    )]);
    let mut all_env = vec![("AWS_ENDPOINT_URL", aws.url())];
    all_env.extend(env.iter().map(|(k, v)| (*k, v.to_string())));
    let env_refs: Vec<(&str, &str)> = all_env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let backend = Service::fleet(&s, &env_refs);
    let dir = TempDir::new(tag);
    let confs: Vec<PathBuf> = hosts
        .iter()
        .map(|h: &Host| {
            PathBuf::from(dir.file(
                &format!("{}.conf", h.name),
                config(&backend.url(), &h.name, &h.secret, ""),
            ))
        })
        .collect();
    let code = herd_sim::Code::read();
    let retry_after = Duration::from_secs_f64(code.retry_after_failure);
    let limit = Instant::now() + Duration::from_secs(900);
    let mut rng = fastrand::Rng::with_seed(7);
    eprintln!("herd: the outage ends");
    let t0 = Instant::now();
    let threads: Vec<_> = confs
        .into_iter()
        .map(|c| {
            let start = Duration::from_secs_f64(rng.f64() * spread);
            std::thread::spawn(move || router_loop(c, start, retry_after, limit))
        })
        .collect();
    // Time until every record is correct, polled from Route 53 (through moto directly).
    let want: BTreeSet<String> = hosts.iter().map(|h| h.name.clone()).collect();
    let all_correct = loop {
        let records = a_records(&s).await;
        let ok = want
            .iter()
            .filter(|h| {
                records
                    .get(*h)
                    .is_some_and(|v| v == &["127.0.0.1".to_string()])
            })
            .count();
        if ok == n {
            break t0.elapsed();
        }
        assert!(
            Instant::now() < limit,
            "herd did not finish: {ok} of {n} correct"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let mut runs = 0;
    let mut failed_runs = 0;
    for t in threads {
        let (code, r) = t.join().unwrap();
        assert_eq!(code, 0, "every router's client succeeds in the end");
        runs += r;
        failed_runs += r - 1;
    }
    // Exactly one change notice per router, naming its old address.
    let texts: BTreeSet<String> = s
        .sns_texts()
        .iter()
        .map(|t| t.split(" (").next().unwrap().to_string())
        .collect();
    let expect: BTreeSet<String> = hosts
        .iter()
        .enumerate()
        .map(|(i, h)| format!("dyn53: {} A changed {} -> 127.0.0.1", h.name, old(i)))
        .collect();
    let changes: BTreeSet<String> = texts
        .iter()
        .filter(|t| t.contains(" changed "))
        .cloned()
        .collect();
    assert_eq!(changes, expect);
    assert_eq!(
        s.sns_texts()
            .iter()
            .filter(|t| t.contains(" changed "))
            .count(),
        n,
        "no notification twice"
    );
    let seen = aws.seen();
    let r53: Vec<_> = seen
        .iter()
        .filter(|x| x.kind.is_route53_record_call())
        .collect();
    let mean = |f: &dyn Fn(&&support::proxy::Seen) -> bool| {
        let v: Vec<f64> = seen
            .iter()
            .filter(|x| f(x))
            .map(|x| (x.finished - x.at).as_secs_f64())
            .collect();
        v.iter().sum::<f64>() / v.len().max(1) as f64
    };
    RealHerd {
        hosts: n,
        all_correct,
        route53_ok: r53.iter().filter(|x| x.reached_upstream()).count(),
        route53_throttled: r53.iter().filter(|x| x.done == Done::Injected(400)).count(),
        changes: aws.changes_forwarded(),
        runs,
        failed_runs,
        dynamo_latency: mean(&|x| matches!(x.kind, support::proxy::Kind::Dynamo(_))),
        change_latency: mean(&|x| {
            x.kind == support::proxy::Kind::Route53("ChangeResourceRecordSets")
                && x.reached_upstream()
        }),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn herd_through_throttled_route53() {
    // The account is tighter than the backend's pacing (4/s against 8/s), so Route 53 does
    // throttle: the backend's retries, its 503s and the clients' retries all take part.
    let r = real_herd("herd-small", 60, 5.0, Bucket::new(4.0, 10), &[]).await;
    eprintln!(
        "herd: {} routers correct after {:?}; Route 53 {} ok, {} throttled; {} runs",
        r.hosts, r.all_correct, r.route53_ok, r.route53_throttled, r.runs
    );
    assert!(r.route53_throttled > 0, "the account did throttle");
    assert_eq!(r.changes, 60, "one change per router, never two");
}

/// Exploration: the model across designs and fronts (not part of make test or bench).
#[test]
#[ignore = "exploration"]
fn model_matrix() {
    let n: usize = std::env::var("DYN53_HERD_MODEL_HOSTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let confirm = Params {
        record_confirm: 3600.0,
        ..Params::new(n)
    };
    for hosts in [2_000, 4_000, 6_000, 10_000, 20_000, 30_000] {
        for c in [0.0, 3600.0] {
            let r = herd_sim::run(Params {
                steady: true,
                record_confirm: c,
                horizon: 3600.0,
                ..Params::new(hosts)
            });
            println!(
                "steady {hosts:>6} confirm {c:>5}: r53 {:.1}/s runs {} failed {} 503 {} 429f {}",
                r.route53_ok as f64 / 3600.0,
                r.runs,
                r.runs_failed,
                r.answers_503,
                r.front_429
            );
        }
    }
    for (name, base) in [
        ("before", Params::before(n)),
        ("now", Params::new(n)),
        ("conf", confirm),
    ] {
        for front in [
            Front::Lambda(5),
            Front::Lambda(50),
            Front::Lambda(1000),
            Front::Queue(64),
        ] {
            for spread in [0.0, 30.0] {
                let r = herd_sim::run(Params {
                    front,
                    wan_up_spread: spread,
                    ..base.clone()
                });
                println!(
                    "{name:6} {front:?} spread {spread:>4}: all {:>7.0} s p50 {:>6.0} p90 {:>6.0} r53 ok {} thr {} peak {}/{} 503 {} 429f {} limited {} runs {} failed {} errmsg {}",
                    r.all_correct.unwrap_or(f64::NAN), r.correct_p50, r.correct_p90,
                    r.route53_ok, r.route53_throttled, r.route53_peak_ok, r.route53_peak_sent,
                    r.answers_503, r.front_429, r.rate_limited, r.runs, r.runs_failed, r.error_notices
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paced_route53_refuses_quickly_and_calls_nothing() {
    let s = Stack::new("herd-pace").await;
    let hosts = add_hosts(&s, 6).await;
    let table = Dynamo::new(aws_sdk_dynamodb::Client::new(&s.cfg), &s.table);
    let now = dyn53_backend::clock::now_unix();
    let mut seeded = Vec::new();
    for (i, h) in hosts.iter().enumerate() {
        let old: IpAddr = format!("198.18.9.{}", i + 1).parse().unwrap();
        table
            .remember_record(&h.name, RecordType::A, Some(old), now)
            .await
            .unwrap();
        seeded.push((h.name.clone(), old.to_string()));
    }
    seed_records(&s, &seeded).await;
    let aws = Proxy::start(common::moto().addr);
    // One call per 2 s, no burst, and a 300 ms budget: of sets arriving together, one goes
    // through and the rest are told at once that Route 53 is busy.
    let url = aws.url();
    let backend = Service::fleet(
        &s,
        &[
            ("AWS_ENDPOINT_URL", url.as_str()),
            ("DYN53_ROUTE53_RATE", "0.5"),
            ("DYN53_ROUTE53_BURST", "1"),
            ("DYN53_DNS_BUDGET_MS", "300"),
        ],
    );
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(hosts.len()));
    let tasks: Vec<_> = hosts
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let (h, start, addr) = (h.clone(), start.clone(), backend.addr);
            tokio::spawn(async move {
                let mut c = support::wire::Conn::open(support::wire::loopback(i as u32), addr)
                    .await
                    .unwrap();
                let nonce = c.nonce().await.unwrap();
                start.wait().await;
                c.set_v2(&h.name, &h.secret, &nonce).await.unwrap()
            })
        })
        .collect();
    let mut changed = 0;
    let mut busy = 0;
    for t in tasks {
        let a = t.await.unwrap();
        match a.status {
            201 => changed += 1,
            503 => {
                assert_eq!(a.r.error, Some(dyn53::protocol::ErrorCode::Unavailable));
                assert!(a.r.message.contains("Route 53 is busy"), "{a:?}");
                busy += 1;
            }
            _ => panic!("{a:?}"),
        }
    }
    assert!(changed >= 1 && busy >= 1, "{changed} changed, {busy} busy");
    assert_eq!(
        aws.changes_forwarded(),
        changed,
        "a refused set calls nothing"
    );
    let listed = aws.count(|x| x.kind == support::proxy::Kind::Route53("ListResourceRecordSets"));
    assert_eq!(listed, 0, "the table knew every record");
    // Refused sets changed nothing and told nobody.
    let records = a_records(&s).await;
    let moved = seeded
        .iter()
        .filter(|(n, ip)| records[n] != [ip.clone()])
        .count();
    assert_eq!(moved, changed);
    assert_eq!(s.sns_texts().len(), changed);
}

/// `make bench`: the real herd at DYN53_HERD_HOSTS routers (default 500) through an
/// account-like Route 53 (10/s, burst 50), the model's prediction for that very setup, and
/// the model at 10,000 routers, now and before issue 6. BENCH lines on stdout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run by tests/bench/load-herd"]
async fn bench_herd() {
    let n: usize = std::env::var("DYN53_HERD_HOSTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500);
    let spread = 10.0;
    let real = real_herd("herd-bench", n, spread, Bucket::new(10.0, 50), &[]).await;
    let code = herd_sim::Code::read();
    // The same setup in the model: the local service, each router's loop starting when its
    // WAN comes up, the latencies the proxy saw.
    let model = herd_sim::run(Params {
        front: Front::Queue(code.in_flight),
        wan_up_spread: spread,
        hotplug: false,
        periodic_random_phase: false,
        dynamo_latency: real.dynamo_latency,
        change_latency: real.change_latency,
        list_latency: real.change_latency,
        net_latency: 0.001,
        get_latency: real.dynamo_latency,
        ..Params::new(n)
    });
    let b = |name: &str, value: String, unit: &str| println!("BENCH {name} {value} {unit}");
    b("backend_herd_real_routers", n.to_string(), "routers");
    b(
        "backend_herd_real_all_correct",
        format!("{:.1}", real.all_correct.as_secs_f64()),
        "s",
    );
    b(
        "backend_herd_real_model_all_correct",
        format!("{:.1}", model.all_correct.unwrap_or(f64::NAN)),
        "s",
    );
    b(
        "backend_herd_real_route53_calls",
        real.route53_ok.to_string(),
        "calls",
    );
    b(
        "backend_herd_real_route53_throttled",
        real.route53_throttled.to_string(),
        "calls",
    );
    b(
        "backend_herd_real_changes",
        real.changes.to_string(),
        "calls",
    );
    b(
        "backend_herd_real_failed_runs",
        real.failed_runs.to_string(),
        "runs",
    );
    // 10,000 routers on Lambda (reserved concurrency 5, the template's default): the
    // defaults, the fleet setting (DYN53_RECORD_CONFIRM_SECS=3600), the design before
    // issue 6; and the fleet setting without a concurrency reservation (1000).
    for (tag, p) in [
        ("backend_herd_10000", Params::new(10_000)),
        ("backend_herd_10000_confirm3600", fleet(10_000)),
        ("backend_herd_10000_before", Params::before(10_000)),
        (
            "backend_herd_10000_conc1000_confirm3600",
            Params {
                front: Front::Lambda(1000),
                ..fleet(10_000)
            },
        ),
    ] {
        eprintln!("herd: model {tag}");
        let r = herd_sim::run(p);
        let all = r.all_correct.map_or("nan".into(), |t| format!("{t:.0}"));
        b(&format!("{tag}_all_correct"), all, "s");
        b(
            &format!("{tag}_p50_correct"),
            format!("{:.0}", r.correct_p50),
            "s",
        );
        b(
            &format!("{tag}_route53_calls"),
            r.route53_ok.to_string(),
            "calls",
        );
        b(
            &format!("{tag}_route53_peak"),
            r.route53_peak_ok.to_string(),
            "req/s",
        );
        b(
            &format!("{tag}_route53_throttled"),
            r.route53_throttled.to_string(),
            "calls",
        );
        b(
            &format!("{tag}_busy_503"),
            r.answers_503.to_string(),
            "answers",
        );
        b(
            &format!("{tag}_error_texts"),
            r.error_notices.to_string(),
            "texts",
        );
    }
    // Steady state for an hour, nobody's address changing: what one account sustains.
    for (tag, confirm) in [
        ("backend_steady_10000", 0.0),
        ("backend_steady_10000_confirm3600", 3600.0),
    ] {
        eprintln!("herd: model {tag}");
        let r = herd_sim::run(Params {
            steady: true,
            record_confirm: confirm,
            horizon: 3600.0,
            ..Params::new(10_000)
        });
        b(
            &format!("{tag}_route53_rate"),
            format!("{:.1}", r.route53_ok as f64 / 3600.0),
            "req/s",
        );
        b(
            &format!("{tag}_failed_runs"),
            r.runs_failed.to_string(),
            "runs/h",
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confirmed_records_skip_the_read_only_when_asked() {
    let s = Stack::new("herd-confirm").await;
    let hosts = add_hosts(&s, 2).await;
    let aws = Proxy::start(common::moto().addr);
    let url = aws.url();
    let lists = || aws.count(|x| x.kind == support::proxy::Kind::Route53("ListResourceRecordSets"));
    for (host, confirm, reads_on_repeat) in [(&hosts[0], "0", 1), (&hosts[1], "3600", 0)] {
        let backend = Service::fleet(
            &s,
            &[
                ("AWS_ENDPOINT_URL", url.as_str()),
                ("DYN53_RECORD_CONFIRM_SECS", confirm),
            ],
        );
        let mut c = support::wire::Conn::open(support::wire::loopback(40), backend.addr)
            .await
            .unwrap();
        let first = c.update_v2(&host.name, &host.secret).await.unwrap();
        assert_eq!(first.status, 201, "{first:?}");
        let before = lists();
        let again = c.update_v2(&host.name, &host.secret).await.unwrap();
        assert_eq!(
            (again.status, again.r.outcome),
            (200, dyn53::protocol::Outcome::Unchanged)
        );
        assert_eq!(lists() - before, reads_on_repeat, "confirm {confirm}");
        // A new address is never held back by it.
        let mut moved = support::wire::Conn::open(support::wire::loopback(41), backend.addr)
            .await
            .unwrap();
        let next = moved.update_v2(&host.name, &host.secret).await.unwrap();
        assert_eq!(
            next.r.previous,
            Some(support::wire::loopback(40)),
            "{next:?}"
        );
    }
    assert_eq!(aws.changes_forwarded(), 4);
}
