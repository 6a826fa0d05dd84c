//! Hostname enumeration: an authentication failure for a registered name and for an
//! unknown name must make the same AWS calls (counted on the SDK clients themselves) and
//! take at least the same floor time, so neither the answer, its time nor the table load
//! tells them apart.

use crate::common;
use common::calls::Calls;
use common::{policy, v1_hash, SharedBuf, Stack};
use dyn53_backend::aws;
use dyn53_backend::call::{Call, Method};
use dyn53_backend::dynamo::Dynamo;
use dyn53_backend::handler::Backend;
use dyn53_backend::metrics::Emf;
use dyn53_backend::sns::Sns;
use std::time::{Duration, Instant};

fn v1_call(source: &str, hostname: &str, hash: &str) -> Call {
    Call {
        source: source.parse().unwrap(),
        method: Method::Post,
        query: None,
        body: format!(
            r#"{{"execution_mode":"set","ddns_hostname":"{hostname}","validation_hash":"{hash}"}}"#
        )
        .into_bytes(),
    }
}

#[tokio::test]
async fn known_and_unknown_names_cost_the_same_calls_and_time() {
    let s = Stack::new("samework").await;
    let calls = Calls::default();
    let ddb = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&s.cfg)
            .interceptor(calls.clone())
            .build(),
    );
    let sns = aws_sdk_sns::Client::from_conf(
        aws_sdk_sns::config::Builder::from(&s.cfg)
            .interceptor(calls.clone())
            .build(),
    );
    let p = policy();
    let floor = p.auth_failure_time;
    let backend = Backend::new(
        aws::route53(&s.cfg, Duration::from_secs(5)),
        Dynamo::new(ddb, &s.table),
        Some(Sns::new(sns, &s.topic_arn)),
        Emf::new("dyn53", SharedBuf::default()),
        p,
        None,
    );
    let known = s.name("home");
    s.add_host("home", |_| {}).await;
    let unknown = s.name("nobody");
    let ip = "203.0.113.90";

    // Interleaved, each name's first failure (its notification window opens) and then two
    // more (the window is shut).
    let mut seen: Vec<(Vec<String>, Vec<String>)> = Vec::new();
    for round in 0..3 {
        let mut replies = Vec::new();
        for name in [&known, &unknown] {
            let start = Instant::now();
            let reply = backend
                .answer(v1_call(ip, name, &v1_hash(ip, name, "guess")))
                .await;
            let took = start.elapsed();
            // The reference's answer for a wrong hash, the same for every name.
            assert_eq!(reply.status, 401, "{}", reply.body);
            assert!(
                reply.body.contains("Validation hashes do not match."),
                "{}",
                reply.body
            );
            assert!(took >= floor, "{name}: answered after {took:?}");
            replies.push((reply, calls.take()));
        }
        let (u, k) = (replies.pop().unwrap(), replies.pop().unwrap());
        assert_eq!(k.0, u.0, "round {round}: the same answer");
        seen.push((k.1, u.1));
    }
    let table_only =
        |c: &[String]| -> Vec<String> { c.iter().filter(|op| *op != "sns").cloned().collect() };
    for (round, (k, u)) in seen.iter().enumerate() {
        assert_eq!(
            table_only(k),
            table_only(u),
            "round {round}: the same table calls"
        );
        // The name's auth-failure window lives in its state item.
        assert!(table_only(k).iter().any(|c| c.contains("state#")), "{k:?}");
        assert!(
            !u.contains(&"sns".to_string()),
            "no notification for an unknown name"
        );
    }
    // The known host's owner hears of the first failure only (behind the time floor).
    let published: Vec<usize> = seen
        .iter()
        .map(|(k, _)| k.iter().filter(|c| *c == "sns").count())
        .collect();
    assert_eq!(published, [1, 0, 0]);
}
