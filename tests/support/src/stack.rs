//! One test's AWS resources in moto (hosted zone, table, topic), so tests run in parallel
//! without sharing state, and the backend built on them with its metrics readable.

use crate::http;
use crate::moto::moto;
use aws_config::{Region, SdkConfig};
use aws_sdk_dynamodb::config::Credentials;
use aws_sdk_route53::types::{
    Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType,
};
use dyn53::protocol::RecordType;
use dyn53_backend::aws::{self, AwsBackend};
use dyn53_backend::dynamo::{host_to_item, Dynamo};
use dyn53_backend::handler::{Backend, Policy};
use dyn53_backend::host::HostConfig;
use dyn53_backend::metrics::{parse_emf_line, Counts, Emf};
use dyn53_backend::random;
use serde_json::Value;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// SDK config pointing at moto (or at `endpoint`).
pub async fn sdk_config(endpoint: &str) -> SdkConfig {
    aws::config_loader()
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "tests"))
        .load()
        .await
}

/// A Write that tests can read back (EMF output).
#[derive(Clone, Default)]
pub struct SharedBuf(pub Arc<Mutex<Vec<u8>>>);

impl Write for SharedBuf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl SharedBuf {
    /// The EMF lines written so far, parsed.
    pub fn metrics(&self) -> Vec<(String, Counts)> {
        emf_lines(&String::from_utf8_lossy(&self.0.lock().unwrap()))
    }
}

/// Parses every line of `text` as EMF; panics on a line that is not.
pub fn emf_lines(text: &str) -> Vec<(String, Counts)> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| parse_emf_line(l).unwrap_or_else(|| panic!("not an EMF line: {l}")))
        .collect()
}

/// Counts shorthand: (check_in, changed, auth_failure, error).
pub fn counts(c: (u32, u32, u32, u32)) -> Counts {
    Counts {
        check_in: c.0,
        changed: c.1,
        auth_failure: c.2,
        error: c.3,
        ..Counts::default()
    }
}

/// One test's resources in moto.
pub struct Stack {
    /// SDK config for moto.
    pub cfg: SdkConfig,
    /// Zone name, e.g. `first.example.net`.
    pub zone: String,
    /// Zone id.
    pub zone_id: String,
    /// Table name.
    pub table: String,
    /// Topic ARN.
    pub topic_arn: String,
}

impl Stack {
    /// Creates zone `<tag>.example.net`, table `dyn53-<tag>` and topic `dyn53-<tag>`.
    pub async fn new(tag: &str) -> Stack {
        let m = moto();
        let cfg = sdk_config(&m.url).await;
        let zone = format!("{tag}.example.net");
        let r53 = aws_sdk_route53::Client::new(&cfg);
        let z = r53
            .create_hosted_zone()
            .name(&zone)
            .caller_reference(format!(
                "{tag}-{}",
                random::hex(&random::bytes::<4>().unwrap())
            ))
            .send()
            .await
            .expect("create zone");
        let zone_id = z
            .hosted_zone()
            .unwrap()
            .id()
            .trim_start_matches("/hostedzone/")
            .to_string();
        let table = format!("dyn53-{tag}");
        Dynamo::new(aws_sdk_dynamodb::Client::new(&cfg), &table)
            .create_table()
            .await
            .expect("create table");
        let topic_arn = aws_sdk_sns::Client::new(&cfg)
            .create_topic()
            .name(format!("dyn53-{tag}"))
            .send()
            .await
            .expect("create topic")
            .topic_arn()
            .unwrap()
            .to_string();
        Stack {
            cfg,
            zone,
            zone_id,
            table,
            topic_arn,
        }
    }

    /// `<label>.<zone>`.
    pub fn name(&self, label: &str) -> String {
        format!("{label}.{}", self.zone)
    }

    /// Environment for a `dyn53-backend` process using this stack.
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ENDPOINT_URL", moto().url.as_str()),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("DYN53_TABLE", self.table.as_str()),
            ("DYN53_TOPIC_ARN", self.topic_arn.as_str()),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    /// A host in this zone with defaults, changed by `edit`; returns its secret.
    pub async fn add_host(&self, label: &str, edit: impl FnOnce(&mut HostConfig)) -> String {
        let secret = random::secret().unwrap();
        let mut h = HostConfig::new(&self.name(label), &self.zone_id, secret.clone());
        h.zone_name = Some(self.zone.clone());
        edit(&mut h);
        self.put_host(&h).await;
        secret
    }

    /// Writes a host item as is (bypassing the admin checks).
    pub async fn put_host(&self, h: &HostConfig) {
        aws_sdk_dynamodb::Client::new(&self.cfg)
            .put_item()
            .table_name(&self.table)
            .set_item(Some(host_to_item(h)))
            .send()
            .await
            .expect("put host");
    }

    /// The values of exactly `name`/`rtype`, read independently of the backend's code.
    pub async fn record(&self, name: &str, rtype: RecordType) -> Option<(Vec<String>, i64)> {
        self.records()
            .await
            .into_iter()
            .find(|(n, t, _, _)| n == name && t == rtype.as_str())
            .map(|(_, _, v, ttl)| (v, ttl))
    }

    /// Every record in the zone: (name without dot, type, values, ttl).
    pub async fn records(&self) -> Vec<(String, String, Vec<String>, i64)> {
        let out = aws_sdk_route53::Client::new(&self.cfg)
            .list_resource_record_sets()
            .hosted_zone_id(&self.zone_id)
            .send()
            .await
            .expect("list records");
        out.resource_record_sets()
            .iter()
            .map(|s| {
                (
                    s.name().trim_end_matches('.').to_string(),
                    s.r#type().as_str().to_string(),
                    s.resource_records()
                        .iter()
                        .map(|r| r.value().to_string())
                        .collect(),
                    s.ttl().unwrap_or(0),
                )
            })
            .collect()
    }

    /// Creates a record directly (state the backend did not write).
    pub async fn put_record(&self, name: &str, rtype: RrType, value: &str) {
        let set = ResourceRecordSet::builder()
            .name(format!("{name}."))
            .r#type(rtype)
            .ttl(300)
            .resource_records(ResourceRecord::builder().value(value).build().unwrap())
            .build()
            .unwrap();
        aws_sdk_route53::Client::new(&self.cfg)
            .change_resource_record_sets()
            .hosted_zone_id(&self.zone_id)
            .change_batch(
                ChangeBatch::builder()
                    .changes(
                        Change::builder()
                            .action(ChangeAction::Upsert)
                            .resource_record_set(set)
                            .build()
                            .unwrap(),
                    )
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .expect("put record");
    }

    /// Texts published to this stack's topic, read back from moto.
    pub fn sns_texts(&self) -> Vec<String> {
        // moto serialises every service's state for this page, and now and then fails (500)
        // while other tests change that state at the same time; the next try succeeds.
        let mut a = http::once(moto().addr, "GET", "/moto-api/data.json", b"");
        for _ in 0..10 {
            if a.status == 200 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
            a = http::once(moto().addr, "GET", "/moto-api/data.json", b"");
        }
        assert_eq!(a.status, 200, "moto /moto-api/data.json kept failing");
        let v: Value = serde_json::from_slice(&a.body).expect("moto data.json");
        let topics = v["sns"]["Topic"].as_array().cloned().unwrap_or_default();
        topics
            .iter()
            .filter(|t| t["arn"] == self.topic_arn.as_str())
            .flat_map(|t| {
                t["sent_notifications"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
            })
            .map(|n| n[1].as_str().unwrap_or_default().to_string())
            .collect()
    }

    /// The backend on this stack, metrics into the returned buffer.
    pub fn backend(&self, policy: Policy) -> (AwsBackend<SharedBuf>, SharedBuf) {
        self.backend_with(policy, &self.cfg, &self.cfg)
    }

    /// The backend with SNS and DynamoDB reached through other configs (a dead endpoint
    /// simulates an outage of that service).
    pub fn backend_with(
        &self,
        policy: Policy,
        sns_cfg: &SdkConfig,
        table_cfg: &SdkConfig,
    ) -> (AwsBackend<SharedBuf>, SharedBuf) {
        let buf = SharedBuf::default();
        let b = Backend::new(
            aws::route53(&self.cfg, Duration::from_secs(5)),
            aws::dynamo(table_cfg, &self.table),
            Some(aws::sns(sns_cfg, &self.topic_arn)),
            Emf::new("dyn53", buf.clone()),
            policy,
            None,
        );
        (b, buf)
    }
}
