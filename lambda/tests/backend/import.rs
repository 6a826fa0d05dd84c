//! `dyn53-backend import` and `host add --secret-file` (the real binary) against moto, with
//! a reference deployment's host config laid out as the reference lays it out: the 2023
//! DynamoDB config table and the 2015/2016 S3 JSON object (read from standard input, as
//! `aws s3 cp s3://BUCKET/KEY -` gives it). The imported hosts keep their
//! secrets (the routers' v1 tokens still verify), no secret is ever printed, and bad input
//! writes nothing.

use crate::common;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType,
};
use common::{admin, admin_with, v1_hash, Stack};
use dyn53::protocol::{Outcome, Response};
use dyn53_backend::call::{Call, Method};
use dyn53_backend::handler::Handle;
use std::process::Output;

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A reference host config object, as the 2015/2016 S3 object and the 2023 `data` hold it.
fn reference_config(zone_id: &str, secret: &str) -> String {
    format!(
        r#"{{"aws_region": "us-west-2", "route_53_zone_id": "{zone_id}", "route_53_record_ttl": 60, "route_53_record_type": "A", "shared_secret": "{secret}"}}"#
    )
}

/// Host items in the dyn53 table.
async fn host_items(s: &Stack) -> Vec<String> {
    let out = aws_sdk_dynamodb::Client::new(&s.cfg)
        .scan()
        .table_name(&s.table)
        .send()
        .await
        .unwrap();
    let mut hosts: Vec<String> = out
        .items()
        .iter()
        .filter_map(|i| i["pk"].as_s().ok())
        .filter_map(|p| p.strip_prefix("host#").map(String::from))
        .collect();
    hosts.sort();
    hosts
}

/// A v1 set the way the 2015/2016 bash client sends it (query form, hostname as
/// configured, e.g. with its trailing dot), through the in-process backend.
async fn v1_set(s: &Stack, hostname_as_sent: &str, secret: &str) -> Response {
    let (b, _) = s.backend(common::policy());
    let ip = "198.51.100.30";
    let hash = v1_hash(ip, hostname_as_sent, secret);
    let reply = b
        .handle(Call {
            source: ip.parse().unwrap(),
            method: Method::Get,
            query: Some(format!("mode=set&hostname={hostname_as_sent}&hash={hash}")),
            body: Vec::new(),
        })
        .await;
    Response::from_json(reply.body.as_bytes()).unwrap()
}

async fn create_config_table(s: &Stack, name: &str) -> aws_sdk_dynamodb::Client {
    let ddb = aws_sdk_dynamodb::Client::new(&s.cfg);
    ddb.create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("hostname")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("hostname")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("create config table");
    ddb
}

async fn put_config(ddb: &aws_sdk_dynamodb::Client, table: &str, hostname: &str, data: &str) {
    ddb.put_item()
        .table_name(table)
        .item("hostname", AttributeValue::S(hostname.into()))
        .item("data", AttributeValue::S(data.into()))
        .send()
        .await
        .expect("put config item");
}

#[tokio::test]
async fn imports_the_2023_dynamodb_config_table() {
    let s = Stack::new("import-ddb").await;
    let table = "ddns-config-import-ddb";
    let ddb = create_config_table(&s, table).await;
    let home = s.name("home");
    let office = s.name("office");
    let home_secret = "home-shared-secret-2023";
    let office_secret = "office-secret-9f8e7d6c5b";
    // The reference keeps host keys with and without the trailing dot.
    put_config(
        &ddb,
        table,
        &home,
        &reference_config(&s.zone_id, home_secret),
    )
    .await;
    put_config(
        &ddb,
        table,
        &format!("{home}."),
        &reference_config(&s.zone_id, home_secret),
    )
    .await;
    put_config(
        &ddb,
        table,
        &format!("{office}."),
        &reference_config(&s.zone_id, office_secret),
    )
    .await;

    let o = admin(&s, &["import", "--from-dynamodb", table, "--dry-run"]);
    assert!(o.status.success(), "{}", text(&o));
    let out = text(&o);
    assert!(
        out.contains(&format!("would add {home} (zone {}", s.zone)),
        "{out}"
    );
    assert!(
        out.contains("Dry run: 2 host(s) checked, nothing written"),
        "{out}"
    );
    assert!(host_items(&s).await.is_empty(), "a dry run writes nothing");

    let o = admin(&s, &["import", "--from-dynamodb", table]);
    assert!(o.status.success(), "{}", text(&o));
    let out = text(&o);
    for secret in [home_secret, office_secret] {
        assert!(!out.contains(secret), "a secret was printed: {out}");
    }
    assert!(out.contains("2 host(s) added"), "{out}");
    assert_eq!(host_items(&s).await, vec![home.clone(), office.clone()]);

    // The routers' existing tokens verify: trailing dot as the 2015 client sends it, and not.
    let r = v1_set(&s, &format!("{home}."), home_secret).await;
    assert_eq!(r.outcome, Outcome::Changed, "{r:?}");
    let r = v1_set(&s, &office, office_secret).await;
    assert_eq!(r.outcome, Outcome::Changed, "{r:?}");
    assert_eq!(
        v1_set(&s, &office, home_secret).await.outcome,
        Outcome::Error
    );

    // Again: nothing new, nothing overwritten.
    let o = admin(&s, &["import", "--from-dynamodb", table]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("0 host(s) added"), "{}", text(&o));
    assert!(text(&o).contains("already in the table"), "{}", text(&o));

    let o = admin(&s, &["host", "list"]);
    assert!(text(&o).contains("1,2"), "v1 and v2 allowed: {}", text(&o));
}

#[tokio::test]
async fn imports_the_2015_s3_object_from_standard_input() {
    let s = Stack::new("import-s3").await;
    let nas = s.name("nas");
    let secret = "nas-reference-secret-2015";
    // The object as `aws s3 cp s3://BUCKET/KEY -` prints it.
    let object = format!(
        "{{\"{nas}.\": {}}}",
        reference_config(&format!("/hostedzone/{}", s.zone_id), secret)
    );
    let o = admin_with(
        &s,
        &["import", "--from-file", "-", "--protocols", "1,2,dyndns2"],
        &[],
        Some(&object),
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(!text(&o).contains(secret), "{}", text(&o));
    assert_eq!(host_items(&s).await, vec![nas.clone()]);
    assert_eq!(
        v1_set(&s, &format!("{nas}."), secret).await.outcome,
        Outcome::Changed
    );
    let list = text(&admin(&s, &["host", "list"]));
    assert!(list.contains("1,2,dyndns2"), "{list}");

    // A missing file: a clear input error naming it (exit 2), nothing written.
    let o = admin(&s, &["import", "--from-file", "/nonexistent/missing.json"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("missing.json"), "{}", text(&o));
    assert_eq!(host_items(&s).await, vec![nas]);
}

#[tokio::test]
async fn bad_entries_write_nothing_and_never_show_a_secret() {
    let s = Stack::new("import-bad").await;
    let table = "ddns-config-import-bad";
    let ddb = create_config_table(&s, table).await;
    let secret = "a-secret-that-must-stay-hidden";
    put_config(
        &ddb,
        table,
        &s.name("good"),
        &reference_config(&s.zone_id, secret),
    )
    .await;
    put_config(&ddb, table, &s.name("broken"), "{not json").await;
    put_config(
        &ddb,
        table,
        &s.name("nosecret"),
        &format!(r#"{{"route_53_zone_id": "{}"}}"#, s.zone_id),
    )
    .await;
    // The same name twice with different secrets: ambiguous.
    put_config(
        &ddb,
        table,
        &s.name("twice"),
        &reference_config(&s.zone_id, secret),
    )
    .await;
    put_config(
        &ddb,
        table,
        &format!("{}.", s.name("twice")),
        &reference_config(&s.zone_id, "another-hidden-secret"),
    )
    .await;
    let o = admin(&s, &["import", "--from-dynamodb", table]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let out = text(&o);
    assert!(out.contains("nothing imported"), "{out}");
    assert!(out.contains("not JSON"), "{out}");
    assert!(out.contains("shared_secret is missing"), "{out}");
    assert!(out.contains("differ in shared_secret"), "{out}");
    assert!(
        !out.contains(secret) && !out.contains("another-hidden-secret"),
        "{out}"
    );
    assert!(host_items(&s).await.is_empty());

    // A zone that is not in this account: checked before anything is written.
    let ddb2 = create_config_table(&s, "ddns-config-import-zone").await;
    put_config(
        &ddb2,
        "ddns-config-import-zone",
        &s.name("a"),
        &reference_config(&s.zone_id, secret),
    )
    .await;
    put_config(
        &ddb2,
        "ddns-config-import-zone",
        &s.name("b"),
        &reference_config("ZNOSUCHZONE1", secret),
    )
    .await;
    let o = admin(
        &s,
        &["import", "--from-dynamodb", "ddns-config-import-zone"],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("ZNOSUCHZONE1"), "{}", text(&o));
    assert!(host_items(&s).await.is_empty());

    let o = admin(&s, &["import", "--from-dynamodb", "no-such-table"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
}

#[tokio::test]
async fn host_add_keeps_a_secret_from_a_file() {
    let s = Stack::new("import-secretfile").await;
    let dir = std::env::temp_dir().join(format!("dyn53-secret-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("secret");
    let secret = "kept-secret-from-the-old-setup";
    std::fs::write(&file, format!("{secret}\n")).unwrap();
    let host = s.name("kept");
    let f = file.to_str().unwrap();
    let o = admin(
        &s,
        &[
            "host",
            "add",
            &host,
            "--zone-id",
            &s.zone_id,
            "--secret-file",
            f,
            "--protocols",
            "1,dyndns2",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(!text(&o).contains(secret), "{}", text(&o));
    assert!(text(&o).contains("kept, not printed"), "{}", text(&o));
    assert!(text(&o).contains("/nic/update?hostname="), "{}", text(&o));
    assert_eq!(v1_set(&s, &host, secret).await.outcome, Outcome::Changed);

    std::fs::write(&file, "\n").unwrap();
    let o = admin(
        &s,
        &[
            "host",
            "add",
            &s.name("empty"),
            "--zone-id",
            &s.zone_id,
            "--secret-file",
            f,
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("the secret is empty"), "{}", text(&o));
    let o = admin(
        &s,
        &[
            "host",
            "add",
            &s.name("nofile"),
            "--zone-id",
            &s.zone_id,
            "--secret-file",
            "/nonexistent/x",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert_eq!(host_items(&s).await, vec![host]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn names_outside_the_stacks_record_names_are_not_imported() {
    let s = Stack::new("import-names").await;
    let table = "ddns-config-import-names";
    let ddb = create_config_table(&s, table).await;
    let (home, www) = (s.name("home"), s.name("www"));
    for name in [&home, &www] {
        put_config(
            &ddb,
            table,
            name,
            &reference_config(&s.zone_id, "pw-0123456789abcdef"),
        )
        .await;
    }
    // The stack lets the function change only `home`: importing `www` would leave a host
    // whose record can never be updated, so nothing is imported.
    let o = admin_with(
        &s,
        &["import", "--from-dynamodb", table],
        &[("DYN53_RECORD_NAMES", &home)],
        None,
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains(&format!("{www}: not among the stack's RecordNames")),
        "{}",
        text(&o)
    );
    assert!(!text(&o).contains("pw-0123456789abcdef"), "{}", text(&o));
    assert!(host_items(&s).await.is_empty());
}
