//! LAN records on moto: a router's new IPv6 prefix moves all its LAN hosts' AAAA records in
//! one ChangeResourceRecordSets call (counted on the Route 53 SDK client itself), an
//! unchanged prefix changes nothing, and hosts without LAN records refuse a prefix.

use crate::common;
use aws_sdk_route53::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_route53::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_route53::error::BoxError;
use aws_sdk_route53::types::RrType;
use common::{admin, admin_with, policy, SharedBuf, Stack};
use dyn53::protocol::{IpMode, LanPrefix, RecordType, Request, Response, SetV2, SignedFields};
use dyn53_backend::aws::{self, AwsBackend};
use dyn53_backend::call::{Call, Method};
use dyn53_backend::handler::{Backend, Policy};
use dyn53_backend::lan::LanRecord;
use dyn53_backend::metrics::Emf;
use dyn53_backend::retry::Backoff;
use dyn53_backend::route53::Route53;
use dyn53_backend::store::RateLimit;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Each Route 53 request: `list maxitems=N` or `change`.
#[derive(Debug, Clone, Default)]
struct Calls(Arc<Mutex<Vec<String>>>);

impl Calls {
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut self.0.lock().unwrap())
    }
}

impl Intercept for Calls {
    fn name(&self) -> &'static str {
        "count Route 53 calls"
    }

    fn read_before_transmit(
        &self,
        ctx: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let req = ctx.request();
        let uri = req.uri().to_string();
        let call = match req.method() {
            "POST" if uri.contains("/rrset") => "change".to_string(),
            "GET" if uri.contains("/rrset") => {
                let max = uri.split("maxitems=").nth(1).unwrap_or("?");
                format!("list maxitems={}", max.split('&').next().unwrap_or(max))
            }
            m => format!("{m} {uri}"),
        };
        self.0.lock().unwrap().push(call);
        Ok(())
    }
}

/// The backend with its Route 53 calls counted.
fn backend(s: &Stack) -> (AwsBackend<SharedBuf>, Calls, SharedBuf) {
    backend_with(s, policy())
}

fn backend_with(s: &Stack, policy: Policy) -> (AwsBackend<SharedBuf>, Calls, SharedBuf) {
    let calls = Calls::default();
    let conf = aws_sdk_route53::config::Builder::from(&s.cfg)
        .interceptor(calls.clone())
        .build();
    let r53 = Route53::new(
        aws_sdk_route53::Client::from_conf(conf),
        Backoff::with_budget(Duration::from_secs(5)),
    );
    let buf = SharedBuf::default();
    let b = Backend::new(
        r53,
        aws::dynamo(&s.cfg, &s.table),
        Some(aws::sns(&s.cfg, &s.topic_arn)),
        Emf::new("dyn53", buf.clone()),
        policy,
        None,
    );
    (b, calls, buf)
}

const ROUTER_IP: &str = "203.0.113.7";

fn call(body: String) -> Call {
    Call {
        source: ROUTER_IP.parse().unwrap(),
        method: Method::Post,
        query: None,
        body: body.into_bytes(),
    }
}

async fn nonce(b: &AwsBackend<SharedBuf>) -> String {
    let r = b
        .answer(call(r#"{"execution_mode":"get","protocol":2}"#.into()))
        .await;
    Response::from_json(r.body.as_bytes())
        .unwrap()
        .nonce
        .expect("nonce")
}

/// A signed v2 set of the router's A record from its source address, with `lan`.
fn set_body(host: &str, secret: &str, nonce: &str, lan: &str, sign_lan: bool) -> String {
    let prefix = LanPrefix::parse(lan).unwrap();
    let ip = ROUTER_IP.parse().unwrap();
    let fields = SignedFields {
        hostname: host,
        record_type: RecordType::A,
        ip,
        ip_mode: IpMode::Source,
        nonce,
    };
    let signature = if sign_lan {
        fields.sign_lan(secret, Some(&prefix))
    } else {
        fields.sign(secret)
    };
    Request::SetV2(SetV2 {
        hostname: host.into(),
        record_type: RecordType::A,
        ip,
        ip_mode: IpMode::Source,
        nonce: nonce.into(),
        signature,
        lan_prefix: Some(prefix),
    })
    .to_json()
}

async fn set(b: &AwsBackend<SharedBuf>, host: &str, secret: &str, lan: &str) -> (u16, Response) {
    let n = nonce(b).await;
    let r = b.answer(call(set_body(host, secret, &n, lan, true))).await;
    (r.status, Response::from_json(r.body.as_bytes()).unwrap())
}

/// The AAAA value of every `dev<i>` LAN record, read with the plain SDK.
async fn lan_values(s: &Stack, n: usize) -> Vec<Option<String>> {
    let all = s.records().await;
    (0..n)
        .map(|i| {
            let name = s.name(&format!("dev{i}"));
            all.iter()
                .find(|(rn, t, _, _)| *rn == name && t == "AAAA")
                .map(|(_, _, v, _)| v.join(","))
        })
        .collect()
}

fn changes(calls: &[String]) -> usize {
    calls.iter().filter(|c| *c == "change").count()
}

#[tokio::test]
async fn a_new_prefix_moves_twenty_records_in_one_change_call() {
    let s = Stack::new("lan20").await;
    // Records of other hosts in between, as a real zone has.
    s.put_record(&s.name("www"), RrType::A, "198.51.100.1")
        .await;
    s.put_record(&s.name("dev1x"), RrType::Aaaa, "2001:db8:ffff::1")
        .await;
    let home = s.name("home");
    let secret = s
        .add_host("home", |h| {
            h.lan = (0..20)
                .map(|i| {
                    let id = if i == 7 {
                        "eui64:00:11:22:33:44:55".to_string()
                    } else {
                        format!("::{:x}", 0x100 + i)
                    };
                    LanRecord::parse(&format!("{}={id}", s.name(&format!("dev{i}")))).unwrap()
                })
                .collect();
        })
        .await;
    let (b, calls, metrics) = backend(&s);

    // First prefix: the router's A record and then all 20 LAN records are created.
    let (status, r) = set(&b, &home, &secret, "2001:db8:1::/56").await;
    assert_eq!(status, 201, "{r:?}");
    assert_eq!(r.lan_updated, Some(20), "{r:?}");
    let first = calls.take();
    assert_eq!(changes(&first), 2, "A record + one LAN batch: {first:?}");

    // The ISP hands out a new prefix: one read of the LAN records, one batch of 20.
    let (status, r) = set(&b, &home, &secret, "2001:db8:7::/56").await;
    assert_eq!(status, 200, "the router's own A record is unchanged: {r:?}");
    assert_eq!(r.lan_updated, Some(20), "{r:?}");
    let moved = calls.take();
    assert_eq!(changes(&moved), 1, "exactly one change call: {moved:?}");
    assert_eq!(
        moved.iter().filter(|c| *c == "list maxitems=300").count(),
        1,
        "one listing page for all 20: {moved:?}"
    );
    let values = lan_values(&s, 20).await;
    for (i, v) in values.iter().enumerate() {
        let want = if i == 7 {
            "2001:db8:7:0:211:22ff:fe33:4455".to_string()
        } else {
            format!("2001:db8:7::{:x}", 0x100 + i)
        };
        assert_eq!(v.as_deref(), Some(want.as_str()), "dev{i}");
    }
    assert_eq!(
        s.record(&s.name("dev1x"), RecordType::Aaaa)
            .await
            .unwrap()
            .0,
        ["2001:db8:ffff::1"],
        "records that are not LAN records stay"
    );
    let texts = s.sns_texts();
    let summary: Vec<&String> = texts.iter().filter(|t| t.contains(" LAN ")).collect();
    assert_eq!(summary.len(), 2, "one message per change: {texts:?}");
    assert!(
        summary[1].contains(&format!(
            "{home} LAN prefix 2001:db8:1::/56 -> 2001:db8:7::/56, 20 records updated"
        )),
        "{}",
        summary[1]
    );
    let lan_metric: Vec<u32> = metrics
        .metrics()
        .iter()
        .map(|(_, c)| c.lan_changed)
        .collect();
    assert_eq!(lan_metric, [20, 20]);

    // The same prefix again: nothing is written, nothing is sent.
    let (status, r) = set(&b, &home, &secret, "2001:db8:7::/56").await;
    assert_eq!(status, 200, "{r:?}");
    assert_eq!(r.lan_updated, Some(0));
    let again = calls.take();
    assert_eq!(changes(&again), 0, "{again:?}");
    assert_eq!(s.sns_texts().len(), texts.len());
    assert_eq!(lan_values(&s, 20).await, values);
}

#[tokio::test]
async fn prefixes_are_refused_where_they_cannot_apply() {
    let s = Stack::new("lanno").await;
    let plain = s.name("plain");
    let plain_secret = s.add_host("plain", |_| {}).await;
    let home = s.name("home");
    let secret = s
        .add_host("home", |h| {
            h.lan = vec![
                LanRecord::parse(&format!("{}=::1234", s.name("nas"))).unwrap(),
                LanRecord::parse(&format!("{}=0:0:0:20::5", s.name("cam"))).unwrap(),
            ];
        })
        .await;
    let (b, calls, _) = backend(&s);

    // A host without LAN records: refused, its own record untouched too.
    let (status, r) = set(&b, &plain, &plain_secret, "2001:db8:1::/56").await;
    assert_eq!(status, 403, "{r:?}");
    assert!(r.message.contains("no LAN records"), "{}", r.message);

    // An identifier that reaches into the prefix (cam's subnet under a /64): nothing moves.
    let (status, r) = set(&b, &home, &secret, "2001:db8:1:10::/64").await;
    assert_eq!(status, 403, "{r:?}");
    assert!(r.message.contains("reaches into the /64"), "{}", r.message);

    // A prefix outside the rules never reaches the host.
    let n = nonce(&b).await;
    let body = set_body(&home, &secret, &n, "2001:db8:1::/56", true)
        .replace("2001:db8:1::/56", "2001:db8:1::/72");
    let reply = b.answer(call(body)).await;
    assert_eq!(reply.status, 400, "{}", reply.body);

    // An old client's signature (six lines) with a prefix added on the way: auth failure.
    let n = nonce(&b).await;
    let reply = b
        .answer(call(set_body(&home, &secret, &n, "2001:db8:1::/56", false)))
        .await;
    assert_eq!(reply.status, 403, "{}", reply.body);
    assert!(reply.body.contains("\"error\":\"auth\""), "{}", reply.body);

    let seen = calls.take();
    assert_eq!(
        changes(&seen),
        0,
        "refused before anything changed: {seen:?}"
    );
    assert!(s.record(&plain, RecordType::A).await.is_none());
    assert!(s.record(&home, RecordType::A).await.is_none());
    assert!(s.record(&s.name("nas"), RecordType::Aaaa).await.is_none());
}

/// Host item's LAN list, read with the backend's own decoder from a plain GetItem.
async fn lan_of(s: &Stack, host: &str) -> Vec<String> {
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
    let item = out.item().expect("host item");
    dyn53_backend::dynamo::host_from_item(item, true)
        .unwrap()
        .lan
        .iter()
        .map(|r| r.to_string())
        .collect()
}

#[tokio::test]
async fn admin_cli_manages_lan_records_and_refuses_bad_input() {
    let s = Stack::new("lanadmin").await;
    let home = s.name("home");
    let (nas, cam, tv) = (s.name("nas"), s.name("cam"), s.name("tv"));
    let text = |o: &std::process::Output| {
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    };
    let o = admin(
        &s,
        &[
            "host",
            "add",
            &home,
            "--zone-id",
            &s.zone_id,
            "--lan",
            &format!("{nas}=::1234"),
            "--lan",
            &format!("{cam}=eui64:00:11:22:33:44:55"),
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        lan_of(&s, &home).await,
        [
            format!("{nas}=::1234"),
            format!("{cam}=eui64:00:11:22:33:44:55")
        ]
    );
    let o = admin(
        &s,
        &["host", "lan", "add", &home, &format!("{tv}=::a:b:c:d")],
    );
    assert!(o.status.success(), "{}", text(&o));
    let o = admin(&s, &["host", "lan", "list", &home]);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        format!("{nas}=::1234\n{cam}=eui64:00:11:22:33:44:55\n{tv}=::a:b:c:d\n")
    );
    let o = admin(&s, &["host", "lan", "remove", &home, &cam]);
    assert!(o.status.success(), "{}", text(&o));
    let kept = [format!("{nas}=::1234"), format!("{tv}=::a:b:c:d")];
    assert_eq!(lan_of(&s, &home).await, kept);

    // Bad input: exit 2, a message naming the problem, the item unchanged.
    let outside = "nas.example.org=::1".to_string();
    let too_many: Vec<String> = (0..50)
        .map(|i| format!("{}=::{:x}", s.name(&format!("d{i}")), i + 1))
        .collect();
    let mut many_args = vec!["host", "lan", "add", home.as_str()];
    many_args.extend(too_many.iter().map(String::as_str));
    for (args, env, why) in [
        (
            vec!["host", "lan", "add", home.as_str(), outside.as_str()],
            vec![],
            "not inside",
        ),
        (
            vec!["host", "lan", "add", home.as_str(), &home],
            vec![],
            "NAME=IDENTIFIER",
        ),
        (
            vec![
                "host",
                "lan",
                "add",
                home.as_str(),
                "x.lanadmin.example.net=2001:db8::1",
            ],
            vec![],
            "first 48",
        ),
        (
            vec!["host", "lan", "remove", home.as_str(), &cam],
            vec![],
            "no LAN record",
        ),
        (many_args.clone(), vec![], "at most 50"),
        (
            vec![
                "host",
                "lan",
                "add",
                home.as_str(),
                "y.lanadmin.example.net=::9",
            ],
            vec![("DYN53_RECORD_NAMES", "home.lanadmin.example.net")],
            "RecordNames",
        ),
    ] {
        let o = admin_with(&s, &args, &env, None);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o));
        assert!(text(&o).contains(why), "{args:?}: {}", text(&o));
        assert_eq!(lan_of(&s, &home).await, kept, "{args:?} wrote");
    }
    let o = admin(&s, &["host", "lan", "list", &s.name("nobody")]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}

#[tokio::test]
async fn dyn53_update_lan_prefix_end_to_end() {
    use common::service::{backend_bin, Service};
    use std::os::unix::fs::PermissionsExt;
    use std::process::Command;
    let s = Stack::new("lan-e2e").await;
    let svc = Service::start(&s, "127.0.0.1:0", &[], &[]);
    let url = format!("http://{}/", svc.addr);
    let host = s.name("home");
    let lan: Vec<String> = ["nas=::1234", "cam=eui64:00:11:22:33:44:55", "tv=::a:b:c:d"]
        .iter()
        .map(|spec| {
            let (label, id) = spec.split_once('=').unwrap();
            format!("{}={id}", s.name(label))
        })
        .collect();
    let mut args = vec![
        "host",
        "add",
        host.as_str(),
        "--zone-id",
        &s.zone_id,
        "--url",
        &url,
    ];
    for l in &lan {
        args.extend(["--lan", l.as_str()]);
    }
    let o = Command::new(backend_bin())
        .args(&args)
        .envs(s.env())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let added = String::from_utf8_lossy(&o.stdout).into_owned();
    let conf = added
        .split("Asuswrt-Merlin: ")
        .nth(1)
        .and_then(|rest| rest.split_once('\n'))
        .map(|(_, body)| body.to_string())
        .expect("Merlin config printed");
    let dir = std::env::temp_dir().join(format!("dyn53-lan-e2e-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("dyn53.conf");
    std::fs::write(&path, &conf).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let update = |prefix: &str| {
        let o = Command::new(dyn53_testsupport::client_bin())
            .arg("-c")
            .arg(&path)
            .args(["--lan-prefix", prefix, "update"])
            .env_clear()
            .output()
            .unwrap();
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let st = &s;
    let aaaa = |label: &str| {
        let name = st.name(label);
        async move {
            st.record(&name, RecordType::Aaaa)
                .await
                .map(|r| r.0.join(","))
        }
    };

    let (code, out, err) = update("2001:db8:1:10::/64");
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(err.contains("LAN records updated: 3"), "{err}");
    assert_eq!(aaaa("nas").await.as_deref(), Some("2001:db8:1:10::1234"));
    let (code, _, err) = update("2001:db8:9:20::/64");
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("LAN records updated: 3"), "{err}");
    assert_eq!(aaaa("nas").await.as_deref(), Some("2001:db8:9:20::1234"));
    assert_eq!(
        aaaa("cam").await.as_deref(),
        Some("2001:db8:9:20:211:22ff:fe33:4455")
    );
    assert_eq!(aaaa("tv").await.as_deref(), Some("2001:db8:9:20:a:b:c:d"));
    let (code, _, err) = update("2001:db8:9:20::/64");
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("LAN records updated: 0"), "{err}");
    // A prefix the client can tell is wrong is never sent.
    let (code, _, err) = update("fd00:1:2:3::/64");
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("global unicast"), "{err}");
    assert_eq!(aaaa("nas").await.as_deref(), Some("2001:db8:9:20::1234"));
    // Protocol 1 has no signed field to carry it.
    let o = Command::new(dyn53_testsupport::client_bin())
        .arg("-c")
        .arg(&path)
        .args([
            "--protocol",
            "1",
            "--lan-prefix",
            "2001:db8:5::/56",
            "update",
        ])
        .env_clear()
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("--lan-prefix needs protocol 2"), "{err}");
    assert_eq!(aaaa("nas").await.as_deref(), Some("2001:db8:9:20::1234"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_lan_change_counts_against_the_change_limit() {
    let s = Stack::new("lanlimit").await;
    let home = s.name("home");
    let secret = s
        .add_host("home", |h| {
            h.lan = vec![LanRecord::parse(&format!("{}=::1234", s.name("nas"))).unwrap()];
        })
        .await;
    // Two changes per hour: the router's A record and one LAN batch.
    let p = Policy {
        change_limit: RateLimit {
            max: 2,
            window: 3600,
        },
        ..policy()
    };
    let (b, calls, metrics) = backend_with(&s, p);
    let (status, r) = set(&b, &home, &secret, "2001:db8:1::/56").await;
    assert_eq!((status, r.lan_updated), (201, Some(1)), "{r:?}");
    calls.take();
    let (status, r) = set(&b, &home, &secret, "2001:db8:7::/56").await;
    assert_eq!(status, 429, "{r:?}");
    assert_eq!(changes(&calls.take()), 0);
    let nas = s.record(&s.name("nas"), RecordType::Aaaa).await.unwrap().0;
    assert_eq!(nas, ["2001:db8:1::1234"]);
    let last = metrics.metrics().pop().unwrap().1;
    assert_eq!(
        (last.error, last.lan_changed),
        (0, 0),
        "a limit is not an error"
    );
}
