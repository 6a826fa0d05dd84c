//! The admin CLI (the real binary) against moto: `table create`, `zone-id`, `host add`
//! (secret printed once, both client configs), `host list` (no secrets), `host rotate`,
//! `host remove`; bad input is a clear error with nothing written.

use crate::common;
use common::service::backend_bin;
use common::{admin, moto, printed_secret, Stack};
use dyn53::protocol::{IpMode, Outcome, RecordType};
use dyn53_backend::call::{Call, Method};
use dyn53_backend::handler::Handle;
use std::process::{Command, Output};

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Host items in the table (count), read directly.
async fn host_items(s: &Stack) -> usize {
    let out = aws_sdk_dynamodb::Client::new(&s.cfg)
        .scan()
        .table_name(&s.table)
        .send()
        .await
        .unwrap();
    out.items()
        .iter()
        .filter(|i| i["pk"].as_s().is_ok_and(|p| p.starts_with("host#")))
        .count()
}

/// The host item's `silent_after` attribute, as stored.
async fn silent_after(s: &Stack, host: &str) -> Option<String> {
    let out = aws_sdk_dynamodb::Client::new(&s.cfg)
        .get_item()
        .table_name(&s.table)
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("host#{host}")),
        )
        .send()
        .await
        .unwrap();
    out.item()?.get("silent_after")?.as_n().ok().cloned()
}

/// A v2 set through the in-process backend with `secret`: does the secret work?
async fn secret_works(s: &Stack, host: &str, secret: &str) -> bool {
    let (b, _) = s.backend(common::policy());
    let ip = "198.51.100.200";
    let get = b
        .handle(Call {
            source: ip.parse().unwrap(),
            method: Method::Post,
            query: None,
            body: br#"{"execution_mode":"get","protocol":2}"#.to_vec(),
        })
        .await;
    let nonce = dyn53::protocol::Response::from_json(get.body.as_bytes())
        .unwrap()
        .nonce
        .unwrap();
    let body = common::v2_body(host, RecordType::A, ip, IpMode::Source, &nonce, secret);
    let set = b
        .handle(Call {
            source: ip.parse().unwrap(),
            method: Method::Post,
            query: None,
            body: body.into_bytes(),
        })
        .await;
    let r = dyn53::protocol::Response::from_json(set.body.as_bytes()).unwrap();
    matches!(r.outcome, Outcome::Changed | Outcome::Unchanged)
}

#[tokio::test]
async fn host_lifecycle() {
    let s = Stack::new("admin-life").await;
    let host = s.name("home");

    let o = admin(&s, &["zone-id", &host]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), format!("{} {} public\n", s.zone_id, s.zone));

    let o = admin(
        &s,
        &[
            "host",
            "add",
            &host,
            "--zone-id",
            &format!("/hostedzone/{}", s.zone_id),
            "--types",
            "A,AAAA",
            "--url",
            "http://127.0.0.1:8053/",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let secret = printed_secret(&out);
    assert_eq!(secret.len(), 64);
    assert!(secret.bytes().all(|b| b.is_ascii_hexdigit()));
    assert!(
        out.contains(&format!("\toption secret '{secret}'\n")),
        "{out}"
    );
    assert!(out.contains("\toption url 'http://127.0.0.1:8053/'\n"));
    assert!(out.contains(&format!(
        "\toption hostname '{host}'\n\toption type 'AAAA'\n"
    )));
    assert!(out.contains(&format!("records={host}:A {host}:AAAA\n")));
    assert!(out.contains(&format!("secret={secret}\n")));
    assert!(secret_works(&s, &host, &secret).await);

    // A second add of the same name: refused, the first secret still works.
    let o = admin(&s, &["host", "add", &host, "--zone-id", &s.zone_id]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("already exists"));
    assert!(secret_works(&s, &host, &secret).await);

    let o = admin(&s, &["host", "list"]);
    assert!(o.status.success());
    let list = stdout(&o);
    assert!(list.starts_with("HOSTNAME"), "{list}");
    assert!(list.contains(&host) && list.contains("A,AAAA"));
    assert!(!list.contains(&secret), "list never prints secrets");

    let o = admin(&s, &["host", "rotate", &host]);
    assert!(o.status.success(), "{}", stderr(&o));
    let new_secret = printed_secret(&stdout(&o));
    assert_ne!(new_secret, secret);
    assert!(
        !secret_works(&s, &host, &secret).await,
        "old secret refused"
    );
    assert!(secret_works(&s, &host, &new_secret).await);

    // Watching a host for silence, then not; bad input changes nothing.
    let o = admin(&s, &["host", "watch", &host, "--silent-after", "6"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("6 h"), "{}", stdout(&o));
    assert_eq!(silent_after(&s, &host).await.as_deref(), Some("6"));
    for bad in [
        &["--silent-after", "0"][..],
        &["--silent-after", "721"],
        &[],
        &["--off", "--silent-after", "2"],
    ] {
        let args: Vec<&str> = ["host", "watch", host.as_str()]
            .iter()
            .chain(bad)
            .copied()
            .collect();
        let o = admin(&s, &args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
    }
    assert_eq!(silent_after(&s, &host).await.as_deref(), Some("6"));
    let o = admin(&s, &["host", "watch", &host, "--off"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(silent_after(&s, &host).await, None);
    let o = admin(
        &s,
        &["host", "watch", "nobody.example.com", "--silent-after", "2"],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no host"));
    assert_eq!(host_items(&s).await, 1, "watch never creates a host");

    let o = admin(&s, &["host", "remove", &host]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(host_items(&s).await, 0);
    assert!(!secret_works(&s, &host, &new_secret).await);
    let o = admin(&s, &["host", "remove", &host]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no host"));
    let o = admin(&s, &["host", "rotate", &host]);
    assert_eq!(o.status.code(), Some(2));
}

#[tokio::test]
async fn bad_input_is_refused_and_writes_nothing() {
    let s = Stack::new("admin-bad").await;
    let host = s.name("home");
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec!["host".into(), "add".into(), host.clone()],
            "--zone-id is missing",
        ),
        (
            vec![
                "host".into(),
                "add".into(),
                host.clone(),
                "--zone-id".into(),
                "Z 1".into(),
            ],
            "not a Route 53 hosted zone id",
        ),
        (
            vec![
                "host".into(),
                "add".into(),
                host.clone(),
                "--zone-id".into(),
                "ZDOESNOTEXIST".into(),
            ],
            "no hosted zone",
        ),
        (
            vec![
                "host".into(),
                "add".into(),
                "home.example.org".into(),
                "--zone-id".into(),
                s.zone_id.clone(),
            ],
            "is not inside zone",
        ),
        (
            vec![
                "host".into(),
                "add".into(),
                "bad_name!".into(),
                "--zone-id".into(),
                s.zone_id.clone(),
            ],
            "hostname",
        ),
        (
            vec![
                "host".into(),
                "add".into(),
                host.clone(),
                "--zone-id".into(),
                s.zone_id.clone(),
                "--ttl".into(),
                "0".into(),
            ],
            "ttl",
        ),
        (
            vec![
                "host".into(),
                "add".into(),
                host.clone(),
                "--zone-id".into(),
                s.zone_id.clone(),
                "--types".into(),
                "A,MX".into(),
            ],
            "A or AAAA",
        ),
        (
            vec![
                "host".into(),
                "add".into(),
                host.clone(),
                "--zone-id".into(),
                s.zone_id.clone(),
                "--protocols".into(),
                "3".into(),
            ],
            "1, 2 or dyndns2",
        ),
        (
            vec![
                "host".into(),
                "add".into(),
                host.clone(),
                "--zone-id".into(),
                s.zone_id.clone(),
                "--url".into(),
                "https://x/'".into(),
            ],
            "--url",
        ),
        (
            vec![
                "host".into(),
                "add".into(),
                host.clone(),
                "--zone-id".into(),
                s.zone_id.clone(),
                "--frobnicate".into(),
            ],
            "unexpected argument",
        ),
        (vec!["host".into()], "add, list, rotate, remove or seal"),
        (
            vec!["zone-id".into(), "nothing.example.org".into()],
            "no hosted zone",
        ),
    ];
    for (args, msg) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = admin(&s, &args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains(msg),
            "{args:?}: want {msg:?} in {}",
            stderr(&o)
        );
        assert!(stdout(&o).is_empty(), "{args:?} printed {}", stdout(&o));
    }
    assert_eq!(host_items(&s).await, 0, "no partial writes");
    let o = admin(&s, &["host", "list"]);
    assert_eq!(stdout(&o), format!("No hosts in table {}.\n", s.table));
}

#[test]
fn aws_failures_exit_1_and_missing_table_exits_2() {
    let _ = moto();
    let o = Command::new(backend_bin())
        .args(["host", "list"])
        .env_remove("DYN53_TABLE")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("DYN53_TABLE"));
    let o = Command::new(backend_bin())
        .args(["host", "list"])
        .env("DYN53_TABLE", "no-such-table")
        .env("AWS_ENDPOINT_URL", &moto().url)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("ResourceNotFoundException"),
        "{}",
        stderr(&o)
    );
}
