//! Test harness: one real moto_server per test binary, and per-test AWS resources in it
//! (hosted zone, table, topic), so tests run in parallel without sharing state.
#![allow(dead_code)]

pub mod calls;
pub mod http;
pub mod service;

use aws_config::{Region, SdkConfig};
use aws_sdk_dynamodb::config::Credentials;
use aws_sdk_route53::types::{
    Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType,
};
use dyn53::protocol::{IpMode, RecordType, Request, SetV2, SignedFields};
use dyn53_backend::aws::{self, AwsBackend};
use dyn53_backend::dynamo::{host_to_item, Dynamo};
use dyn53_backend::handler::{Backend, Policy};
use dyn53_backend::host::HostConfig;
use dyn53_backend::metrics::{parse_emf_line, Counts, Emf};
use dyn53_backend::random;
use serde_json::Value;
use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The moto server of this test binary.
pub struct Moto {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// Its address.
    pub addr: SocketAddr,
    /// The watchdog shell that owns moto (it stops moto when this process exits).
    _watchdog: std::process::Child,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts moto_server once per test binary (it is stopped when this process exits).
pub fn moto() -> &'static Moto {
    static MOTO: OnceLock<Moto> = OnceLock::new();
    MOTO.get_or_init(|| {
        let found = Command::new("sh")
            .args(["-c", "command -v moto_server"])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        assert!(
            found,
            "moto_server is not installed: run `make setup` (pip install 'moto[server]')"
        );
        for _ in 0..3 {
            let port = free_port();
            // A watchdog shell stops moto when this test process exits (tests never drop
            // statics, and a crashed test must not leave moto behind).
            let script = format!(
                "moto_server -H 127.0.0.1 -p {port} >/dev/null 2>&1 & m=$!; \
                 trap 'kill $m 2>/dev/null' EXIT INT TERM; \
                 while kill -0 {pid} 2>/dev/null && kill -0 $m 2>/dev/null; do sleep 0.5; done",
                pid = std::process::id()
            );
            let mut watchdog = Command::new("sh")
                .args(["-c", &script])
                .stdin(Stdio::null())
                .spawn()
                .expect("spawn moto_server");
            let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
            let deadline = Instant::now() + Duration::from_secs(60);
            while Instant::now() < deadline {
                if TcpStream::connect(addr).is_ok() {
                    let a = http::once(addr, "GET", "/moto-api/data.json", b"");
                    if a.status == 200 {
                        return Moto {
                            url: format!("http://127.0.0.1:{port}"),
                            addr,
                            _watchdog: watchdog,
                        };
                    }
                }
                if watchdog.try_wait().ok().flatten().is_some() {
                    break; // moto exited (port taken?): try another port
                }
                std::thread::sleep(Duration::from_millis(200));
            }
            let _ = watchdog.kill();
            let _ = watchdog.wait();
        }
        panic!("moto_server did not start (tried 3 ports)");
    })
}

/// SDK config pointing at moto (or at `endpoint`).
pub async fn sdk_config(endpoint: &str) -> SdkConfig {
    aws::config_loader()
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "tests"))
        .load()
        .await
}

/// An address where nothing listens (a service that is down).
pub fn dead_endpoint() -> String {
    format!("http://127.0.0.1:{}", free_port())
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
        let a = http::once(moto().addr, "GET", "/moto-api/data.json", b"");
        assert_eq!(a.status, 200);
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

/// A v1 token as the reference client computes it.
pub fn v1_hash(ip: &str, hostname: &str, secret: &str) -> String {
    dyn53::protocol::v1_token(ip, hostname, secret)
}

/// A signed v2 set request body.
pub fn v2_body(
    hostname: &str,
    rtype: RecordType,
    ip: &str,
    mode: IpMode,
    nonce: &str,
    secret: &str,
) -> String {
    let ip = ip.parse().unwrap();
    let signature = SignedFields {
        hostname,
        record_type: rtype,
        ip,
        ip_mode: mode,
        nonce,
    }
    .sign(secret);
    Request::SetV2(SetV2 {
        hostname: hostname.to_string(),
        record_type: rtype,
        ip,
        ip_mode: mode,
        nonce: nonce.to_string(),
        signature,
        lan_prefix: None,
    })
    .to_json()
}

/// The tests' default policy: generous limits, so only the rate-limit test hits one.
pub fn policy() -> Policy {
    Policy::default()
}

/// Runs the admin CLI (`dyn53-backend ARGS`) against this stack, with `extra` environment
/// variables and `stdin` on its standard input (none: empty); DYN53_URL is left out so the
/// printed configs show the placeholder.
pub fn admin_with(
    s: &Stack,
    args: &[&str],
    extra: &[(&str, &str)],
    stdin: Option<&str>,
) -> std::process::Output {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(service::backend_bin())
        .args(args)
        .envs(s.env())
        .envs(extra.iter().copied())
        .env_remove("DYN53_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run dyn53-backend");
    let input = child.stdin.take().expect("stdin");
    if let Some(text) = stdin {
        let mut input = input;
        input.write_all(text.as_bytes()).expect("write stdin");
    }
    child.wait_with_output().expect("wait for dyn53-backend")
}

/// Runs the admin CLI against this stack (see [`admin_with`]).
pub fn admin(s: &Stack, args: &[&str]) -> std::process::Output {
    admin_with(s, args, &[], None)
}

/// A Lambda HTTP event from `tests/fixtures/FIXTURE` (payload 2.0 or API Gateway REST) with
/// the caller's address, method and query string set in every place that format keeps
/// them; the tests add their own path, headers and body before [`to_request`].
pub fn fixture_event(fixture: &str, source: &str, method: &str, query: &str) -> serde_json::Value {
    use serde_json::{json, Value};
    let file = format!("{}/tests/fixtures/{fixture}", env!("CARGO_MANIFEST_DIR"));
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    let params: serde_json::Map<String, Value> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (k.to_string(), json!(v))
        })
        .collect();
    let object_or_null = |m: serde_json::Map<String, Value>| {
        if m.is_empty() {
            Value::Null
        } else {
            Value::Object(m)
        }
    };
    if v["version"] == "2.0" {
        v["requestContext"]["http"]["sourceIp"] = json!(source);
        v["requestContext"]["http"]["method"] = json!(method);
        v["rawQueryString"] = json!(query);
        v["queryStringParameters"] = object_or_null(params);
    } else {
        v["requestContext"]["identity"]["sourceIp"] = json!(source);
        v["httpMethod"] = json!(method);
        v["requestContext"]["httpMethod"] = json!(method);
        let multi = params
            .iter()
            .map(|(k, v)| (k.clone(), json!([v])))
            .collect();
        v["queryStringParameters"] = object_or_null(params);
        v["multiValueQueryStringParameters"] = object_or_null(multi);
    }
    v
}

/// The `lambda_http` request of an event built by [`fixture_event`].
pub fn to_request(v: serde_json::Value) -> lambda_http::Request {
    let req: lambda_http::request::LambdaRequest =
        serde_json::from_value(v).expect("fixture is a Lambda HTTP event");
    lambda_http::Request::from(req)
}
