//! Push channels against real HTTP receivers on 127.0.0.1 that check each request as the
//! service documents it (ntfy, Telegram Bot API, Slack/Discord webhooks, the generic JSON
//! webhook), plus the delivery rules: routing by host and event, a slow channel bounded by
//! its budget, a failing one reported by name, never a token in an error or a log. Then end
//! to end on moto: `notify add|list|test|remove` in SSM, the local service sending a change
//! once, the silent-host check on a real-shaped EventBridge event, and a CloudWatch alarm
//! in a real-shaped SNS event forwarded to the channels.

use crate::common;
use common::service::Service;
use common::{admin_with, policy, to_request, v1_hash, Stack};
use dyn53::protocol::RecordType;
use dyn53_backend::aws_json::AwsJson;
use dyn53_backend::channels::{Channel, Fanout, Flavor, NoSns, Target};
use dyn53_backend::lambda_event::respond_with;
use dyn53_backend::notify::{self, Kind, Notifier};
use dyn53_backend::watch::Watch;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// One request a receiver got.
#[derive(Debug, Clone)]
struct Got {
    method: String,
    path: String,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

impl Got {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }
}

/// A plain HTTP/1.1 receiver on loopback answering `status` after `delay`.
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<Got>>>,
}

impl Receiver {
    async fn start(status: u16, delay: Duration) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let got = Arc::new(Mutex::new(Vec::new()));
        let sink = got.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let sink = sink.clone();
                tokio::spawn(async move {
                    let mut r = BufReader::new(stream);
                    let mut line = String::new();
                    if r.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let mut parts = line.split_whitespace();
                    let method = parts.next().unwrap_or("").to_string();
                    let path = parts.next().unwrap_or("").to_string();
                    let mut headers = HashMap::new();
                    loop {
                        let mut h = String::new();
                        r.read_line(&mut h).await.unwrap();
                        let h = h.trim_end();
                        if h.is_empty() {
                            break;
                        }
                        let (k, v) = h.split_once(':').expect("header line");
                        headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
                    }
                    let len: usize = headers
                        .get("content-length")
                        .map_or(0, |v| v.parse().unwrap());
                    let mut body = vec![0; len];
                    r.read_exact(&mut body).await.unwrap();
                    sink.lock().unwrap().push(Got {
                        method,
                        path,
                        headers,
                        body,
                    });
                    tokio::time::sleep(delay).await;
                    let answer = format!(
                        "HTTP/1.1 {status} X\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok"
                    );
                    let _ = r.get_mut().write_all(answer.as_bytes()).await;
                });
            }
        });
        Receiver { url, got }
    }

    fn got(&self) -> Vec<Got> {
        self.got.lock().unwrap().clone()
    }
}

fn channel(name: &str, target: Target) -> Channel {
    Channel::new(name, target, vec![], vec![]).unwrap()
}

fn change() -> notify::Message {
    notify::changed(
        "home.example.com",
        RecordType::A,
        Some("198.51.100.1".parse().unwrap()),
        "203.0.113.7".parse().unwrap(),
        1_795_600_800,
    )
}

const TEXT: &str =
    "dyn53: home.example.com A changed 198.51.100.1 -> 203.0.113.7 (2026-11-25 10:00 UTC)";

#[tokio::test]
async fn each_channel_sends_what_its_service_documents() {
    let ntfy = Receiver::start(200, Duration::ZERO).await;
    let telegram = Receiver::start(200, Duration::ZERO).await;
    let slack = Receiver::start(200, Duration::ZERO).await;
    let discord = Receiver::start(204, Duration::ZERO).await;
    let hook = Receiver::start(202, Duration::ZERO).await;
    let channels = vec![
        channel(
            "phone",
            Target::Ntfy {
                server: ntfy.url.clone(),
                topic: "dyn53-alerts".into(),
                token: Some("tk_AgQdq7mVBoFD37zQVN29RhuMzNIz2".into()),
            },
        ),
        channel(
            "tg",
            Target::Telegram {
                api: telegram.url.clone(),
                token: "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11".into(),
                chat_id: "-1001234567890".into(),
            },
        ),
        channel(
            "team",
            Target::Chat {
                url: format!("{}/services/T000/B000/XXXX", slack.url),
                flavor: Flavor::Slack,
            },
        ),
        channel(
            "guild",
            Target::Chat {
                url: format!("{}/api/webhooks/1/tok", discord.url),
                flavor: Flavor::Discord,
            },
        ),
        channel(
            "hook",
            Target::Webhook {
                url: format!("{}/dyn53/in", hook.url),
            },
        ),
    ];
    let fanout = Fanout::<NoSns>::new(None, channels).unwrap();
    fanout.send(&change()).await.unwrap();

    let n = ntfy.got();
    assert_eq!(n.len(), 1);
    assert_eq!(
        (n[0].method.as_str(), n[0].path.as_str()),
        ("POST", "/dyn53-alerts")
    );
    assert_eq!(
        n[0].header("title"),
        Some("dyn53: home.example.com A changed")
    );
    assert_eq!(n[0].header("priority"), Some("default"));
    assert_eq!(n[0].header("tags"), Some("dyn53,globe_with_meridians"));
    assert_eq!(
        n[0].header("authorization"),
        Some("Bearer tk_AgQdq7mVBoFD37zQVN29RhuMzNIz2")
    );
    assert_eq!(String::from_utf8_lossy(&n[0].body), TEXT);

    let t = telegram.got();
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].method, "POST");
    assert_eq!(
        t[0].path,
        "/bot123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11/sendMessage"
    );
    assert_eq!(t[0].header("content-type"), Some("application/json"));
    assert_eq!(
        t[0].json(),
        json!({"chat_id": -1001234567890_i64, "text": TEXT})
    );

    let s = slack.got();
    assert_eq!(
        (s[0].method.as_str(), s[0].path.as_str()),
        ("POST", "/services/T000/B000/XXXX")
    );
    assert_eq!(s[0].header("content-type"), Some("application/json"));
    assert_eq!(s[0].json(), json!({"text": TEXT}));
    let d = discord.got();
    assert_eq!(d[0].path, "/api/webhooks/1/tok");
    assert_eq!(d[0].json(), json!({"content": TEXT}));

    let h = hook.got();
    assert_eq!(
        (h[0].method.as_str(), h[0].path.as_str()),
        ("POST", "/dyn53/in")
    );
    assert_eq!(
        h[0].json(),
        json!({"event": "change", "host": "home.example.com", "type": "A",
               "old": "198.51.100.1", "new": "203.0.113.7", "time": 1_795_600_800_u64,
               "text": TEXT})
    );
    // Every request says who sends it.
    for g in [&n[0], &t[0], &s[0], &d[0], &h[0]] {
        assert!(g.header("user-agent").unwrap().starts_with("dyn53/"));
    }
}

#[tokio::test]
async fn channels_receive_only_their_hosts_and_events() {
    let r = Receiver::start(200, Duration::ZERO).await;
    let only = Channel::new(
        "silent-only",
        Target::Webhook { url: r.url.clone() },
        vec!["home.example.com".into()],
        vec![Kind::Silent, Kind::Alarm],
    )
    .unwrap();
    let fanout = Fanout::<NoSns>::new(None, vec![only]).unwrap();
    fanout.send(&change()).await.unwrap();
    let other = notify::silent("other.example.com", 1, 6, 100_000);
    fanout.send(&other).await.unwrap();
    assert!(r.got().is_empty(), "{:?}", r.got());
    fanout
        .send(&notify::silent("home.example.com", 1, 6, 100_000))
        .await
        .unwrap();
    fanout
        .send(&notify::back("home.example.com", 99_000, 100_000))
        .await
        .unwrap();
    fanout
        .send(&notify::alarm("dyn53-Errors", "OK", "ALARM", "x", 0))
        .await
        .unwrap();
    let events: Vec<Value> = r.got().iter().map(|g| g.json()["event"].clone()).collect();
    assert_eq!(events, vec![json!("silent"), json!("back"), json!("alarm")]);
    assert_eq!(r.got()[0].json()["old"], json!("1"));
}

#[tokio::test]
async fn a_slow_or_failing_channel_is_bounded_and_named_never_with_its_token() {
    let slow = Receiver::start(200, Duration::from_secs(5)).await;
    let broken = Receiver::start(500, Duration::ZERO).await;
    let fine = Receiver::start(200, Duration::ZERO).await;
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let token = "123456:SECRET-bot-token";
    let channels = vec![
        channel(
            "slow",
            Target::Ntfy {
                server: slow.url.clone(),
                topic: "t".into(),
                token: Some("tk_secret_slow".into()),
            },
        ),
        channel(
            "broken",
            Target::Telegram {
                api: broken.url.clone(),
                token: token.into(),
                chat_id: "42".into(),
            },
        ),
        channel(
            "down",
            Target::Webhook {
                url: format!("{dead}/hook/tk_secret_down"),
            },
        ),
        channel(
            "fine",
            Target::Webhook {
                url: fine.url.clone(),
            },
        ),
    ];
    let fanout = Fanout::<NoSns>::new(None, channels)
        .unwrap()
        .with_budget(Duration::from_millis(400));
    let started = Instant::now();
    let err = fanout.send(&change()).await.unwrap_err().to_string();
    let took = started.elapsed();
    // All at once: the whole send takes one budget, not four, and never the slow 5 s.
    assert!(took < Duration::from_millis(1500), "took {took:?}");
    assert_eq!(
        err,
        "notification failed: channels failed: broken, down, slow"
    );
    assert!(
        !err.contains("SECRET") && !err.contains("tk_secret"),
        "{err}"
    );
    // One try each: no retries against a failing channel.
    assert_eq!(broken.got().len(), 1);
    assert_eq!(slow.got().len(), 1);
    assert_eq!(fine.got().len(), 1);
}

#[test]
fn plain_http_is_refused_except_to_loopback() {
    let t = Target::Webhook {
        url: "http://hooks.example.com/tk_secret".into(),
    };
    let e = Channel::new("x", t, vec![], vec![])
        .unwrap_err()
        .to_string();
    assert!(e.contains("https://") && !e.contains("tk_secret"), "{e}");
}

/// The environment that points the admin CLI and the service at this test's SSM path.
fn ssm_env(path: &str) -> Vec<(&str, &str)> {
    vec![("DYN53_SSM_PATH", path)]
}

fn out(o: &std::process::Output) -> (i32, String, String) {
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn notify_commands_keep_channels_in_ssm_and_test_sends_for_real() {
    let s = Stack::new("alerts-cli").await;
    let phone = Receiver::start(200, Duration::ZERO).await;
    let broken = Receiver::start(503, Duration::ZERO).await;
    let path = "/dyn53/alerts-cli";
    let env = ssm_env(path);
    let token = "tk_e2eSECRETtoken";
    let add = admin_with(
        &s,
        &[
            "notify",
            "add",
            "phone",
            "ntfy",
            "--server",
            &phone.url,
            "--topic",
            "home",
            "--token",
            "-",
            "--events",
            "change,silent",
        ],
        &env,
        Some(&format!("{token}\n")),
    );
    let (code, stdout, stderr) = out(&add);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("channel phone: ntfy on http://127.0.0.1"),
        "{stdout}"
    );
    let bad_url = format!("{}/hook/whSECRET", broken.url);
    let add = admin_with(
        &s,
        &["notify", "add", "broken", "webhook", "--url", &bad_url],
        &env,
        None,
    );
    assert_eq!(out(&add).0, 0, "{}", out(&add).2);

    // Stored as SecureString parameters under the path, one per channel.
    let input = json!({
        "Name": format!("{path}/channels/phone"),
        "WithDecryption": true,
    });
    let p = AwsJson::ssm(&s.cfg)
        .call("GetParameter", &input)
        .await
        .unwrap();
    let p = &p["Parameter"];
    assert_eq!(p["Type"], "SecureString");
    assert!(p["Value"].as_str().unwrap().contains(token));

    let (code, stdout, _) = out(&admin_with(&s, &["notify", "list"], &env, None));
    assert_eq!(code, 0);
    assert!(
        stdout.contains("phone: ntfy on http://127.0.0.1:")
            && stdout.contains("events change,silent"),
        "{stdout}"
    );
    assert!(
        stdout.contains("broken: webhook; hosts all; events all"),
        "{stdout}"
    );
    assert!(
        !stdout.contains(token) && !stdout.contains("whSECRET") && !stdout.contains("home"),
        "{stdout}"
    );

    let (code, stdout, stderr) = out(&admin_with(&s, &["notify", "test", "phone"], &env, None));
    assert_eq!(
        (code, stdout.trim()),
        (0, "test message sent through channel phone"),
        "{stderr}"
    );
    let got = phone.got();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].path, "/home");
    assert_eq!(
        got[0].header("authorization"),
        Some(format!("Bearer {token}").as_str())
    );
    assert!(
        String::from_utf8_lossy(&got[0].body).starts_with("dyn53: test message for channel phone")
    );

    // A failing channel: exit 1, its name and the HTTP status, never its URL.
    let (code, _, stderr) = out(&admin_with(&s, &["notify", "test", "broken"], &env, None));
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("alert channel broken (webhook) failed: answered HTTP 503"),
        "{stderr}"
    );
    assert!(!stderr.contains("whSECRET"), "{stderr}");
    assert_eq!(broken.got().len(), 1, "one try, no retries");

    // Bad input changes nothing.
    let (code, _, stderr) = out(&admin_with(
        &s,
        &[
            "notify",
            "add",
            "x",
            "webhook",
            "--url",
            "http://example.com/tok",
        ],
        &env,
        None,
    ));
    assert!(code == 2 && stderr.contains("https://"), "{stderr}");
    let (code, _, stderr) = out(&admin_with(
        &s,
        &["notify", "add", "x", "sms", "--url", "https://a.example"],
        &env,
        None,
    ));
    assert!(
        code == 2 && stderr.contains("unknown channel type"),
        "{stderr}"
    );
    let (code, _, stderr) = out(&admin_with(&s, &["notify", "list"], &[], None));
    assert!(
        code == 2 && stderr.contains("DYN53_SSM_PATH is not set"),
        "{stderr}"
    );

    let (code, stdout, _) = out(&admin_with(&s, &["notify", "remove", "broken"], &env, None));
    assert_eq!((code, stdout.trim()), (0, "channel broken removed"));
    let (code, _, stderr) = out(&admin_with(&s, &["notify", "remove", "broken"], &env, None));
    assert!(
        code == 2 && stderr.contains("no channel named broken"),
        "{stderr}"
    );
    let (_, stdout, _) = out(&admin_with(&s, &["notify", "list"], &env, None));
    assert!(!stdout.contains("broken"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_local_service_pushes_a_change_once_and_logs_no_token() {
    let s = Stack::new("alerts-serve").await;
    let phone = Receiver::start(200, Duration::ZERO).await;
    let down = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let path = "/dyn53/alerts-serve";
    let env = ssm_env(path);
    let token = "tk_serveSECRET";
    let add = admin_with(
        &s,
        &[
            "notify", "add", "phone", "ntfy", "--server", &phone.url, "--topic", "t", "--token",
            token,
        ],
        &env,
        None,
    );
    assert_eq!(out(&add).0, 0, "{}", out(&add).2);
    let hook = format!("{down}/hook/whSECRET");
    let add = admin_with(
        &s,
        &["notify", "add", "down", "webhook", "--url", &hook],
        &env,
        None,
    );
    assert_eq!(out(&add).0, 0);
    let host = s.name("home");
    let secret = s.add_host("home", |_| {}).await;

    let svc = Service::start(&s, "127.0.0.1:0", &[], &env);
    let body = serde_json::to_vec(&json!({
        "execution_mode": "set", "ddns_hostname": host,
        "validation_hash": v1_hash("127.0.0.1", &host, &secret)}))
    .unwrap();
    for _ in 0..2 {
        let a = common::http::once(svc.addr, "POST", "/", &body);
        assert!(a.status == 201 || a.status == 200, "{}", a.text());
    }
    svc.wait_stdout_lines(2);
    let got = phone.got();
    assert_eq!(
        got.len(),
        1,
        "one message per change, even when the request is repeated"
    );
    let text = String::from_utf8_lossy(&got[0].body).into_owned();
    assert!(
        text.starts_with(&format!("dyn53: {host} A changed none -> 127.0.0.1 (")),
        "{text}"
    );
    // SNS still gets its text.
    assert_eq!(s.sns_texts().len(), 1);
    let log = svc.stderr();
    assert!(log.contains("alert channels: down, phone"), "{log}");
    assert!(
        log.contains("alert channel down (webhook) failed: could not connect"),
        "{log}"
    );
    assert!(!log.contains(token) && !log.contains("whSECRET"), "{log}");
    // The failed channel counts as an Error in the change's metrics.
    let metrics = common::emf_lines(&svc.stdout());
    assert!(
        metrics
            .iter()
            .any(|(h, c)| h == &host && c.changed == 1 && c.error == 1),
        "{metrics:?}"
    );
}

/// A real-shaped EventBridge scheduled event.
fn schedule_event() -> Value {
    json!({"version": "0", "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
           "detail-type": "Scheduled Event", "source": "aws.events",
           "account": "123456789012", "time": "2026-12-01T10:15:00Z", "region": "us-east-1",
           "resources": ["arn:aws:events:us-east-1:123456789012:rule/dyn53-SilentCheck"],
           "detail": {}})
}

/// A real-shaped SNS event (AWS's documented Lambda SNS event) carrying `message`.
fn sns_event(message: &str) -> Value {
    json!({"Records": [{
        "EventVersion": "1.0", "EventSource": "aws:sns",
        "EventSubscriptionArn": "arn:aws:sns:us-east-1:123456789012:dyn53:2bcfbf39-05c3-41de-beaa-fcfcc21c8f55",
        "Sns": {
            "SignatureVersion": "1", "Timestamp": "2026-12-01T10:15:00.000Z",
            "Signature": "EXAMPLE", "SigningCertUrl": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0000000000000000000000.pem",
            "MessageId": "95df01b4-ee98-5cb9-9903-4c221d41eb5e",
            "Message": message,
            "MessageAttributes": {}, "Type": "Notification",
            "UnsubscribeUrl": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe",
            "TopicArn": "arn:aws:sns:us-east-1:123456789012:dyn53",
            "Subject": "ALARM: \"dyn53 dyn53 update errors\" in US East (N. Virginia)"}}]})
}

#[tokio::test(flavor = "multi_thread")]
async fn lambda_mode_checks_silent_hosts_on_schedule_and_forwards_alarms() {
    let s = Stack::new("alerts-watch").await;
    let phone = Receiver::start(200, Duration::ZERO).await;
    let ch = Channel::new(
        "phone",
        Target::Webhook {
            url: phone.url.clone(),
        },
        vec![],
        vec![],
    )
    .unwrap();
    // The channels plus SNS for silent hosts; the channels only for alarms from SNS.
    let sns = dyn53_backend::aws::sns(&s.cfg, &s.topic_arn);
    let alerts = Fanout::new(Some(sns), vec![ch]).unwrap();
    let watch = Watch::new(
        aws_sdk_dynamodb::Client::new(&s.cfg),
        &s.table,
        Some(alerts.clone()),
        Some(alerts.without_sns()),
        dyn53_backend::metrics::Emf::new("dyn53", std::io::sink()),
    );
    let (backend, _) = s.backend(policy());
    let watched = s.name("router");
    s.add_host("router", |h| h.notify.silent_after = Some(2))
        .await;
    s.add_host("unwatched", |_| {}).await;
    let db = aws_sdk_dynamodb::Client::new(&s.cfg);
    let now = dyn53_backend::clock::now_unix();
    let seen = |host: &str, t: u64| {
        db.update_item()
            .table_name(&s.table)
            .key(
                "pk",
                aws_sdk_dynamodb::types::AttributeValue::S(format!("state#{host}")),
            )
            .update_expression("SET seen = :t")
            .expression_attribute_values(
                ":t",
                aws_sdk_dynamodb::types::AttributeValue::N(t.to_string()),
            )
            .send()
    };
    seen(&watched, now - 3 * 3600).await.unwrap();
    seen(&s.name("unwatched"), now - 300 * 3600).await.unwrap();

    let run = |ev: Value| {
        let (backend, watch) = (&backend, &watch);
        async move {
            let r = respond_with(backend, watch, to_request(ev)).await;
            assert_eq!(r.status(), 200);
            serde_json::from_slice::<Value>(r.body().as_ref()).unwrap()
        }
    };
    assert_eq!(
        run(schedule_event()).await,
        json!({"silent_check": "done", "alerts": 1})
    );
    let got = phone.got();
    assert_eq!(got.len(), 1);
    let alert = got[0].json();
    assert_eq!(
        (alert["event"].as_str(), alert["host"].as_str()),
        (Some("silent"), Some(watched.as_str()))
    );
    assert_eq!(alert["old"], json!((now - 3 * 3600).to_string()));
    assert!(s
        .sns_texts()
        .iter()
        .any(|t| t.contains(&format!("{watched} silent for over 2 h"))));
    // Once per silence.
    assert_eq!(
        run(schedule_event()).await,
        json!({"silent_check": "done", "alerts": 0})
    );
    assert_eq!(phone.got().len(), 1);
    // Back: once.
    seen(&watched, now - 60).await.unwrap();
    assert_eq!(run(schedule_event()).await["alerts"], 1);
    assert_eq!(run(schedule_event()).await["alerts"], 0);
    let events: Vec<Value> = phone
        .got()
        .iter()
        .map(|g| g.json()["event"].clone())
        .collect();
    assert_eq!(events, vec![json!("silent"), json!("back")]);

    // A CloudWatch alarm on the topic reaches the channels, not SNS again.
    let sns_before = s.sns_texts().len();
    let alarm = json!({"AlarmName": "dyn53 dyn53 update errors", "AlarmDescription": "Route 53, table or notification failures",
        "AWSAccountId": "123456789012", "NewStateValue": "ALARM",
        "NewStateReason": "Threshold Crossed: 1 datapoint [1.0 (01/12/26 10:10:00)] was greater than or equal to the threshold (1.0).",
        "StateChangeTime": "2026-12-01T10:15:00.000+0000", "Region": "US East (N. Virginia)",
        "OldStateValue": "OK", "Trigger": {"MetricName": "Error", "Namespace": "dyn53"}});
    assert_eq!(
        run(sns_event(&alarm.to_string())).await,
        json!({"forwarded": 1})
    );
    // dyn53's own texts on the topic are not forwarded (the channels already had them).
    assert_eq!(
        run(sns_event(
            "dyn53: a.example.net A changed none -> 192.0.2.1 (2026-12-01 10:00 UTC)"
        ))
        .await,
        json!({"forwarded": 0})
    );
    let last = phone.got().last().unwrap().json();
    assert_eq!(
        (
            last["event"].as_str(),
            last["new"].as_str(),
            last["old"].as_str()
        ),
        (Some("alarm"), Some("ALARM"), Some("OK"))
    );
    assert!(last["text"]
        .as_str()
        .unwrap()
        .starts_with("dyn53: alarm dyn53 dyn53 update errors is ALARM: Threshold Crossed"));
    assert_eq!(s.sns_texts().len(), sns_before);
    // HTTP events still reach the handler.
    let get = common::fixture_event("function-url.json", "198.51.100.7", "POST", "");
    let mut get = get;
    get["body"] = json!("{\"execution_mode\":\"get\"}");
    let r = respond_with(&backend, &watch, to_request(get)).await;
    assert_eq!(r.status(), 200);
}
