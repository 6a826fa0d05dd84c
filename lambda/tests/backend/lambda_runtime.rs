//! The real binary in Lambda mode (no subcommand, AWS_LAMBDA_RUNTIME_API set), fed function
//! URL events by cargo-lambda's Lambda runtime emulator (`cargo lambda watch
//! --only-lambda-apis`), against moto: main.rs wiring, settings from the environment, EMF on
//! stdout, the same flow as everywhere else.

use crate::common;
use common::http::Conn;
use common::service::backend_bin;
use common::{counts, emf_lines, v2_body, Stack};
use dyn53::protocol::{IpMode, Outcome, RecordType, Response};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Kills the child when the test ends, pass or fail.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn capture(child: &mut Child) -> Arc<Mutex<String>> {
    let text = Arc::new(Mutex::new(String::new()));
    for stream in [
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
    ]
    .into_iter()
    .flatten()
    {
        let sink = text.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                sink.lock().unwrap().push_str(&format!("{line}\n"));
            }
        });
    }
    text
}

/// A function URL event from the fixture, with this caller and body.
fn event(source: &str, body: &str) -> Vec<u8> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/function-url.json"
    );
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    v["requestContext"]["http"]["sourceIp"] = json!(source);
    v["body"] = json!(body);
    v.to_string().into_bytes()
}

/// Invokes the function through the emulator's Invoke API; returns what it returned.
fn invoke_raw(emulator: SocketAddr, event: &[u8]) -> Value {
    let a = Conn::open(emulator).request(
        "POST",
        "/2015-03-31/functions/_/invocations",
        &[("content-type", "application/json")],
        event,
    );
    assert_eq!(a.status, 200, "invoke: {}", a.text());
    serde_json::from_slice(&a.body).expect("a JSON result")
}

/// Invokes the function with a function URL event; returns (status, answer).
fn invoke(emulator: SocketAddr, event: &[u8]) -> (u16, Response) {
    let proxy = invoke_raw(emulator, event);
    let body = proxy["body"].as_str().expect("body");
    (
        proxy["statusCode"].as_u64().unwrap() as u16,
        Response::from_json(body.as_bytes()).unwrap_or_else(|e| panic!("{e}: {body}")),
    )
}

#[tokio::test]
async fn binary_serves_function_url_events_in_lambda_mode() {
    let s = Stack::new("lambda-rt").await;
    let host = s.name("home");
    let secret = s.add_host("home", |_| {}).await;

    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut emu = Command::new(cargo)
        .args([
            "lambda",
            "watch",
            "--only-lambda-apis",
            "-A",
            "127.0.0.1",
            "-P",
            &port.to_string(),
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cargo-lambda is not installed: run `make setup` (pip install cargo-lambda)");
    let emu_log = capture(&mut emu);
    let _emu = Killed(emu);
    let emulator: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(emulator).is_err() {
        assert!(
            Instant::now() < deadline,
            "emulator did not start:\n{}",
            emu_log.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    let mut function = Command::new(backend_bin())
        .envs(s.env())
        .env(
            "AWS_LAMBDA_RUNTIME_API",
            format!("http://127.0.0.1:{port}/.rt"),
        )
        .env("AWS_LAMBDA_FUNCTION_NAME", "_")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the function");
    let stdout = capture(&mut function);
    let _function = Killed(function);

    let ip = "203.0.113.7";
    let (status, get) = invoke(
        emulator,
        &event(ip, r#"{"execution_mode":"get","protocol":2}"#),
    );
    assert_eq!(status, 200);
    assert_eq!(get.ip, Some(ip.parse().unwrap()));
    let body = v2_body(
        &host,
        RecordType::A,
        ip,
        IpMode::Source,
        &get.nonce.unwrap(),
        &secret,
    );
    let (status, set) = invoke(emulator, &event(ip, &body));
    assert_eq!((status, set.outcome), (201, Outcome::Changed));
    assert_eq!(
        s.record(&host, RecordType::A).await.map(|r| r.0),
        Some(vec![ip.to_string()])
    );
    let texts = s.sns_texts();
    assert_eq!(texts.len(), 1);
    assert!(texts[0].starts_with(&format!("dyn53: {host} A changed none -> {ip} (")));
    // The replay of the same event is refused and changes nothing.
    let (status, replay) = invoke(emulator, &event(ip, &body));
    assert_eq!(
        (status, replay.error.map(|e| e.as_str())),
        (409, Some("nonce"))
    );

    // A 2016 deployment's non-proxy event (mapping template): the result is the answer
    // object itself, not an HTTP response.
    let ev = json!({"execution_mode": "get", "source_ip": ip, "query_string": "{mode=get}",
        "validation_hash": "", "set_hostname": ""});
    assert_eq!(
        invoke_raw(emulator, ev.to_string().as_bytes()),
        json!({"return_status": "success", "return_message": ip})
    );
    // The Merlin design's event is refused, and changes nothing.
    let ev = json!({"ip": "198.51.100.8", "X-Forwarded-For": "198.51.100.8"});
    let refused = invoke_raw(emulator, ev.to_string().as_bytes());
    assert_eq!(refused["return_status"], "fail", "{refused}");
    assert_eq!(refused.as_object().unwrap().len(), 2, "{refused}");

    // Non-HTTP events through the real runtime: the EventBridge schedule runs the
    // silent-host check; an SNS event carrying a CloudWatch alarm is forwarded.
    let schedule = json!({"version": "0", "id": "53dc4d37", "detail-type": "Scheduled Event",
        "source": "aws.events", "account": "123456789012", "time": "2026-12-01T10:15:00Z",
        "region": "us-east-1", "resources": [], "detail": {}});
    assert_eq!(
        invoke_raw(emulator, schedule.to_string().as_bytes()),
        json!({"silent_check": "done", "alerts": 0})
    );
    let alarm = json!({"AlarmName": "dyn53 update errors", "NewStateValue": "ALARM",
        "OldStateValue": "OK", "NewStateReason": "Threshold Crossed"});
    let sns = json!({"Records": [{"EventSource": "aws:sns", "EventVersion": "1.0",
        "Sns": {"Type": "Notification", "Message": alarm.to_string()}}]});
    assert_eq!(
        invoke_raw(emulator, sns.to_string().as_bytes()),
        json!({"forwarded": 1})
    );

    let mut lines = Vec::new();
    for _ in 0..100 {
        lines = emf_lines(&stdout.lock().unwrap());
        if !lines.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(lines, vec![(host.clone(), counts((1, 1, 0, 0)))]);
}
