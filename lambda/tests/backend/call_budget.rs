//! The call budget of the lean request path (issue 13), counted on the SDK clients against
//! moto: a get makes at most 1 AWS call, an unchanged set 2 (read host and state, write the
//! state), a changed set 4 (read, write, UPSERT, publish). Route 53 pacing, when on, adds
//! a booking of its shared schedule per Route 53 call (one conditional write when the
//! instance guesses the schedule's state right, as it does for a lone change; two when not).

use crate::common;
use common::calls::Calls;
use common::{policy, v2_body, SharedBuf, Stack};
use dyn53::protocol::{IpMode, RecordType, Response};
use dyn53_backend::call::{Call, Method};
use dyn53_backend::dynamo::Dynamo;
use dyn53_backend::handler::{Backend, Policy};
use dyn53_backend::limiter::{Limiter, SlotLimit};
use dyn53_backend::metrics::Emf;
use dyn53_backend::retry::Backoff;
use dyn53_backend::route53::Route53;
use dyn53_backend::sns::Sns;
use std::time::Duration;

type Counted = Backend<Route53, Dynamo, Sns, Emf<SharedBuf>>;

/// The backend on `s` with every SDK client counted into `calls`, paced or not.
fn counted(s: &Stack, calls: &Calls, p: Policy, paced: bool) -> Counted {
    let ddb = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&s.cfg)
            .interceptor(calls.clone())
            .build(),
    );
    let r53 = aws_sdk_route53::Client::from_conf(
        aws_sdk_route53::config::Builder::from(&s.cfg)
            .interceptor(calls.clone())
            .retry_config(aws_config::retry::RetryConfig::disabled())
            .build(),
    );
    let sns = aws_sdk_sns::Client::from_conf(
        aws_sdk_sns::config::Builder::from(&s.cfg)
            .interceptor(calls.clone())
            .build(),
    );
    let table = Dynamo::new(ddb, &s.table);
    let mut dns = Route53::new(r53, Backoff::with_budget(Duration::from_secs(5)));
    if paced {
        dns = dns.paced(Limiter::new(table.items().clone(), SlotLimit::default()));
    }
    Backend::new(
        dns,
        table,
        Some(Sns::new(sns, &s.topic_arn)),
        Emf::new("dyn53", SharedBuf::default()),
        p,
        None,
    )
}

async fn post(b: &Counted, body: String) -> Response {
    let reply = b
        .answer(Call {
            source: "127.0.0.1".parse().unwrap(),
            method: Method::Post,
            query: None,
            body: body.into_bytes(),
        })
        .await;
    Response::from_json(reply.body.as_bytes()).unwrap()
}

async fn nonce(b: &Counted) -> String {
    let get = r#"{"execution_mode":"get","protocol":2}"#.to_string();
    post(b, get).await.nonce.expect("nonce")
}

/// One v2 set of `ip` (its get first, not counted); the calls the set made.
async fn set(b: &Counted, calls: &Calls, host: &str, secret: &str, ip: &str) -> Vec<String> {
    let n = nonce(b).await;
    calls.take();
    let body = v2_body(host, RecordType::A, ip, IpMode::Explicit, &n, secret);
    let r = post(b, body).await;
    assert!(r.error.is_none(), "{r:?}");
    calls.take()
}

#[tokio::test]
async fn gets_and_sets_stay_within_the_call_budget() {
    let s = Stack::new("budget").await;
    let host = s.name("home");
    let secret = s
        .add_host("home", |h| {
            h.allow_explicit_ip = true;
            h.public_ip_only = false;
        })
        .await;
    let calls = Calls::default();
    // A short claim, so the changed set below meets none in flight (as a router does,
    // whose address changes days apart, not within the 30 s claim).
    let p = Policy {
        lock_lease: 1,
        ..policy()
    };
    // The nonce key is created once per table; a cold instance reads it once, a warm one
    // never again.
    nonce(&counted(&s, &calls, p.clone(), false)).await;
    calls.take();
    let b = counted(&s, &calls, p.clone(), false);
    nonce(&b).await;
    let cold_get = calls.take();
    nonce(&b).await;
    let warm_get = calls.take();
    assert_eq!(cold_get, ["GetItem dyn53#"]);
    assert!(warm_get.is_empty(), "{warm_get:?}");

    // First set: nothing known yet, so Route 53 is read once.
    let first = set(&b, &calls, &host, &secret, "192.0.2.1").await;
    assert_eq!(
        first,
        [
            "BatchGetItem host# state#",
            "route53:list",
            "PutItem state#",
            "route53:change",
            "sns"
        ]
    );
    let unchanged = set(&b, &calls, &host, &secret, "192.0.2.1").await;
    assert_eq!(unchanged, ["BatchGetItem host# state#", "PutItem state#"]);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let changed = set(&b, &calls, &host, &secret, "192.0.2.2").await;
    assert_eq!(
        changed,
        [
            "BatchGetItem host# state#",
            "PutItem state#",
            "route53:change",
            "sns"
        ]
    );
    assert_eq!(
        s.record(&host, RecordType::A).await.map(|r| r.0),
        Some(vec!["192.0.2.2".to_string()])
    );
    println!(
        "BENCH backend_aws_calls_get {} calls (cold; warm {})",
        cold_get.len(),
        warm_get.len()
    );
    println!(
        "BENCH backend_aws_calls_unchanged {} calls",
        unchanged.len()
    );
    println!("BENCH backend_aws_calls_changed {} calls", changed.len());

    // Paced (the default DYN53_ROUTE53_RATE): one booking per Route 53 call, none for an
    // unchanged set.
    let paced = counted(&s, &calls, p, true);
    nonce(&paced).await;
    let unchanged = set(&paced, &calls, &host, &secret, "192.0.2.2").await;
    assert_eq!(unchanged.len(), 2, "{unchanged:?}");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let changed = set(&paced, &calls, &host, &secret, "192.0.2.3").await;
    // A booking is one conditional UpdateItem when the instance guessed the schedule's form
    // right (idle here: nothing was booked for a while), two when it did not.
    let (bookings, rest): (Vec<String>, Vec<String>) =
        changed.into_iter().partition(|c| c == "UpdateItem dyn53#");
    assert_eq!(
        rest,
        [
            "BatchGetItem host# state#",
            "PutItem state#",
            "route53:change",
            "sns"
        ]
    );
    assert_eq!(bookings.len(), 1, "{bookings:?}");
    println!(
        "BENCH backend_aws_calls_changed_paced {} calls",
        rest.len() + bookings.len()
    );
}
