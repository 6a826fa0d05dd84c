//! Host secrets sealed at rest (KMS on moto, the real binary): the table alone yields no
//! usable secret, a sealed secret moved to another host's item is refused, plaintext items
//! written before sealing keep working until `host seal` seals them, and no secret reaches
//! a log.

use crate::common;
use aws_sdk_dynamodb::types::AttributeValue;
use common::service::Service;
use common::{admin_with, http, printed_secret, v1_hash, Stack};
use dyn53_backend::aws_json::AwsJson;
use dyn53_backend::host::HostConfig;
use dyn53_backend::sealed::{PLAIN, SEALED, SEALED_KEY};
use dyn53_backend::table::DATA_KEY_PK;
use std::collections::HashMap;
use std::process::Output;

type Item = HashMap<String, AttributeValue>;

/// A set limit no test here reaches.
const LIMIT: (&str, &str) = ("DYN53_RATE_LIMIT", "100/300");

/// A KMS key in moto, as the stack's SecretsKey.
async fn kms_key(s: &Stack) -> String {
    let made = AwsJson::kms(&s.cfg)
        .call(
            "CreateKey",
            &serde_json::json!({ "Description": "dyn53 test" }),
        )
        .await
        .expect("create KMS key");
    made["KeyMetadata"]["Arn"]
        .as_str()
        .expect("key arn")
        .to_string()
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Runs the admin CLI with the KMS key; its stdout (the command must succeed).
fn admin_ok(s: &Stack, key: &str, args: &[&str]) -> String {
    let o = admin_with(s, args, &[("DYN53_KMS_KEY", key)], None);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{args:?}: {err}");
    out
}

/// The raw table item `pk`, as anyone with read access to the table sees it.
async fn raw(s: &Stack, pk: &str) -> Item {
    aws_sdk_dynamodb::Client::new(&s.cfg)
        .get_item()
        .table_name(&s.table)
        .key("pk", AttributeValue::S(pk.into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .unwrap_or_else(|| panic!("no item {pk}"))
}

/// Every byte of every item in the table, as one lossy string (a reader's whole view).
async fn whole_table(s: &Stack) -> String {
    let out = aws_sdk_dynamodb::Client::new(&s.cfg)
        .scan()
        .table_name(&s.table)
        .send()
        .await
        .unwrap();
    format!("{:?}", out.items())
}

/// A v1 set from 127.0.0.1 (the service's TCP peer): did the secret work?
fn v1_works(svc: &Service, host: &str, secret: &str) -> bool {
    let body = format!(
        r#"{{"execution_mode":"set","ddns_hostname":"{host}","validation_hash":"{}"}}"#,
        v1_hash("127.0.0.1", host, secret)
    );
    let a = http::once(svc.addr, "POST", "/", body.as_bytes());
    a.text().contains("\"success\"")
}

#[tokio::test]
async fn sealed_secrets_open_only_with_the_key_and_for_their_own_host() {
    let s = Stack::new("sealed").await;
    let key = kms_key(&s).await;
    let (home, nas) = (s.name("home"), s.name("nas"));
    let home_secret = printed_secret(&admin_ok(
        &s,
        &key,
        &["host", "add", &home, "--zone-id", &s.zone_id],
    ));
    let nas_secret = printed_secret(&admin_ok(
        &s,
        &key,
        &["host", "add", &nas, "--zone-id", &s.zone_id],
    ));

    // The table alone: no plaintext secret anywhere, the sealed form and the KMS-encrypted
    // data key only.
    let item = raw(&s, &format!("host#{home}")).await;
    assert!(!item.contains_key(PLAIN), "{item:?}");
    assert!(matches!(item.get(SEALED), Some(AttributeValue::B(_))));
    assert!(matches!(item.get(SEALED_KEY), Some(AttributeValue::B(_))));
    assert!(matches!(
        raw(&s, DATA_KEY_PK).await.get("blob"),
        Some(AttributeValue::B(_))
    ));
    let table = whole_table(&s).await;
    assert!(!table.contains(&home_secret) && !table.contains(&nas_secret));

    // With the key: both hosts work. Without it: a sealed item is unusable.
    let sealed = Service::start(&s, "127.0.0.1:0", &[], &[("DYN53_KMS_KEY", &key), LIMIT]);
    assert!(v1_works(&sealed, &home, &home_secret));
    assert!(v1_works(&sealed, &nas, &nas_secret));
    let plain = Service::start(&s, "127.0.0.1:0", &[], &[LIMIT]);
    assert!(!v1_works(&plain, &home, &home_secret));
    assert!(plain.stderr().contains(&format!(
        "{home}: unusable host item: the secret of {home} is sealed, but DYN53_KMS_KEY is not set"
    )));

    // Another KMS key (another stack) cannot open this table's data key.
    let other = kms_key(&s).await;
    let wrong = Service::start(&s, "127.0.0.1:0", &[], &[("DYN53_KMS_KEY", &other), LIMIT]);
    assert!(!v1_works(&wrong, &home, &home_secret));

    // nas's sealed secret copied into home's item (a table writer's move): refused, for
    // nas's secret and home's alike.
    let nas_item = raw(&s, &format!("host#{nas}")).await;
    let mut moved = item.clone();
    moved.insert(SEALED.into(), nas_item[SEALED].clone());
    moved.insert(SEALED_KEY.into(), nas_item[SEALED_KEY].clone());
    put(&s, moved).await;
    assert!(!v1_works(&sealed, &home, &nas_secret));
    assert!(!v1_works(&sealed, &home, &home_secret));
    assert!(sealed.stderr().contains(&format!(
        "{home}: unusable host item: the sealed secret of {home} does not open"
    )));
    // A flipped bit: refused too. The original item works again.
    let mut flipped = item.clone();
    if let Some(AttributeValue::B(b)) = item.get(SEALED) {
        let mut bytes = b.as_ref().to_vec();
        *bytes.last_mut().unwrap() ^= 1;
        flipped.insert(SEALED.into(), AttributeValue::B(bytes.into()));
    }
    put(&s, flipped).await;
    assert!(!v1_works(&sealed, &home, &home_secret));
    put(&s, item).await;
    assert!(v1_works(&sealed, &home, &home_secret));

    // A rotated secret is sealed as well; the old one stops working.
    let new_secret = printed_secret(&admin_ok(&s, &key, &["host", "rotate", &home]));
    let rotated = raw(&s, &format!("host#{home}")).await;
    assert!(!rotated.contains_key(PLAIN) && rotated.contains_key(SEALED));
    assert!(!v1_works(&sealed, &home, &home_secret));
    assert!(v1_works(&sealed, &home, &new_secret));

    // No secret in any log or metric line, nor in the admin CLI's stderr.
    for svc in [&sealed, &plain, &wrong] {
        let logs = format!("{}{}", svc.stdout(), svc.stderr());
        for secret in [&home_secret, &nas_secret, &new_secret] {
            assert!(!logs.contains(secret.as_str()), "secret in a log:\n{logs}");
        }
    }
}

async fn put(s: &Stack, item: Item) {
    aws_sdk_dynamodb::Client::new(&s.cfg)
        .put_item()
        .table_name(&s.table)
        .set_item(Some(item))
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn plaintext_items_keep_working_until_host_seal_seals_them() {
    let s = Stack::new("reseal").await;
    let key = kms_key(&s).await;
    // Two hosts as an older version wrote them: plaintext secrets.
    let old = s.add_host("old", |_| {}).await;
    let older = s.add_host("older", |_| {}).await;
    let (old_host, older_host) = (s.name("old"), s.name("older"));
    let svc = Service::start(&s, "127.0.0.1:0", &[], &[("DYN53_KMS_KEY", &key), LIMIT]);
    assert!(v1_works(&svc, &old_host, &old));

    // Listed, not changed, by --dry-run.
    let out = admin_ok(&s, &key, &["host", "seal", "--dry-run"]);
    assert!(
        out.contains("2 host secret(s) stored in plaintext")
            && out.contains(&format!("  {old_host}\n"))
            && out.contains(&format!("  {older_host}\n")),
        "{out}"
    );
    assert!(raw(&s, &format!("host#{old_host}"))
        .await
        .contains_key(PLAIN));

    // Without the key there is nothing to seal with: a clear error, nothing written.
    let o = admin_with(&s, &["host", "seal"], &[], None);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("DYN53_KMS_KEY is not set"), "{err}");

    let out = admin_ok(&s, &key, &["host", "seal"]);
    assert!(out.starts_with("Sealed 2 host secret(s):"), "{out}");
    for host in [&old_host, &older_host] {
        let item = raw(&s, &format!("host#{host}")).await;
        assert!(
            !item.contains_key(PLAIN) && item.contains_key(SEALED),
            "{item:?}"
        );
    }
    let table = whole_table(&s).await;
    assert!(!table.contains(&old) && !table.contains(&older));
    assert!(v1_works(&svc, &old_host, &old));
    assert!(v1_works(&svc, &older_host, &older));
    let out = admin_ok(&s, &key, &["host", "seal", "--dry-run"]);
    assert!(out.starts_with("No plaintext secrets"), "{out}");

    // A plaintext item written later (an old admin CLI) still works beside sealed ones.
    let mut h = HostConfig::new(&s.name("late"), &s.zone_id, "late-secret-0123456789".into());
    h.zone_name = Some(s.zone.clone());
    s.put_host(&h).await;
    assert!(v1_works(&svc, &h.hostname, "late-secret-0123456789"));
    let logs = format!("{}{}", svc.stdout(), svc.stderr());
    assert!(!logs.contains(&old) && !logs.contains("late-secret-0123456789"));
}
