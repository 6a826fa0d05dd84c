//! The backend tests' own helpers: signed request bodies, the admin CLI, Lambda fixture
//! events. Everything shared with the client tests (moto, the per-test [`Stack`], the
//! service runner, the HTTP client) lives in the dyn53-testsupport crate, re-exported here.
#![allow(dead_code, unused_imports)]

pub use dyn53_testsupport::calls;

use dyn53::protocol::{IpMode, RecordType, Request, SetV2, SignedFields};
use dyn53_backend::handler::Policy;
pub use dyn53_testsupport::{counts, dead_endpoint, emf_lines, http, moto, sdk_config};
pub use dyn53_testsupport::{SharedBuf, Stack};

/// The local service runner.
pub mod service {
    pub use dyn53_testsupport::backend::{backend_bin, Service};
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

/// The secret line of `host add`/`rotate` output.
pub fn printed_secret(out: &str) -> String {
    let mut lines = out.lines();
    lines
        .find(|l| l.starts_with("Secret (shown only now"))
        .and_then(|_| lines.next())
        .map(|l| l.trim().to_string())
        .expect("secret printed")
}
