//! A signed AWS JSON 1.1 call (SSM, KMS): one POST to `/` naming the operation in
//! `X-Amz-Target`, signed with SigV4 from the SdkConfig's credentials, retried like the SDK's
//! standard mode. Four operations did not justify aws-sdk-ssm and aws-sdk-kms, the two
//! slowest crates of the build.

use crate::aws_error;
use crate::channels::http::{connector, describe};
use crate::retry::{retry, Backoff, Transient};
use aws_config::SdkConfig;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime};

/// Attempts per call, as in the SDK's standard retry mode (full jitter, `retry::retry`).
const MAX_ATTEMPTS: u32 = 3;
/// First backoff ceiling (full jitter, doubled per retry).
const BACKOFF_BASE: Duration = Duration::from_millis(100);
/// Attempt and call timeouts when the SdkConfig sets none (those of `aws::config_loader`).
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(3);
const CALL_TIMEOUT: Duration = Duration::from_secs(7);
/// Most of an answer read: a page of ten 8 KB parameters is far below it.
const MAX_ANSWER: usize = 1024 * 1024;
/// The protocol's content type.
const CONTENT_TYPE: &str = "application/x-amz-json-1.1";

/// Error codes the SDK retries as throttling or transient (aws-runtime's classifiers).
const RETRYABLE_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "LimitExceededException",
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
    "RequestTimeout",
    "RequestTimeoutException",
];

/// Why a call failed. No variant holds a request or answer body (parameters are secrets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AwsJsonError {
    /// The service refused the call: its error code (`__type` after `#`) and message.
    Service {
        /// HTTP status of the answer.
        status: u16,
        /// Error code, e.g. `ParameterNotFound` (`HTTP <status>` when the answer names none).
        code: String,
        /// The service's message (`(no message)` when it gave none).
        message: String,
    },
    /// No answer: could not connect, the connection failed, or no answer in time.
    Transport(String),
    /// An answer that is not the protocol's JSON.
    BadAnswer(String),
    /// The call could not be made: no region, no credentials, no TLS roots.
    Setup(String),
}

impl AwsJsonError {
    /// The service's error code, if the service answered with one.
    pub fn code(&self) -> Option<&str> {
        match self {
            AwsJsonError::Service { code, .. } => Some(code),
            _ => None,
        }
    }

    /// Whether another attempt may succeed: throttling, 5xx, or no answer at all.
    pub fn is_retryable(&self) -> bool {
        match self {
            AwsJsonError::Service { status, code, .. } => {
                matches!(status, 500 | 502 | 503 | 504) || RETRYABLE_CODES.contains(&code.as_str())
            }
            AwsJsonError::Transport(_) => true,
            AwsJsonError::BadAnswer(_) | AwsJsonError::Setup(_) => false,
        }
    }
}

impl fmt::Display for AwsJsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // The shape of `aws_error::detail`, which the SDK clients' errors went through.
            AwsJsonError::Service { code, message, .. } => write!(f, "{code}: {message}"),
            AwsJsonError::Transport(d) | AwsJsonError::BadAnswer(d) | AwsJsonError::Setup(d) => {
                f.write_str(d)
            }
        }
    }
}

impl std::error::Error for AwsJsonError {}

impl Transient for AwsJsonError {
    fn is_transient(&self) -> bool {
        self.is_retryable()
    }
}

type HttpClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// One AWS JSON 1.1 service (cheap to clone).
#[derive(Clone)]
pub struct AwsJson {
    /// Signing name and endpoint prefix (`ssm`, `kms`).
    service: &'static str,
    /// `X-Amz-Target` prefix (`AmazonSSM`, `TrentService`).
    target_prefix: &'static str,
    region: Option<String>,
    endpoint_url: Option<String>,
    credentials: Option<SharedCredentialsProvider>,
    attempt_timeout: Duration,
    call_timeout: Duration,
    // The SdkConfig's provider has no cache of its own (the SDK's clients add one); kept
    // until five minutes before they expire, so a profile or IMDS is not asked per call.
    cached: Arc<tokio::sync::Mutex<Option<Credentials>>>,
    // Built on first use: reading the root certificates is work a cold start without
    // sealed hosts or channels does not need.
    http: Arc<OnceLock<Result<HttpClient, String>>>,
}

impl fmt::Debug for AwsJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsJson")
            .field("service", &self.service)
            .field("region", &self.region)
            .finish()
    }
}

impl AwsJson {
    /// The service `service` (signing name) whose operations are `<target_prefix>.<Op>`,
    /// with the region, endpoint, credentials and timeouts of `cfg`.
    pub fn new(cfg: &SdkConfig, service: &'static str, target_prefix: &'static str) -> AwsJson {
        let timeouts = cfg.timeout_config();
        AwsJson {
            service,
            target_prefix,
            region: cfg.region().map(|r| r.as_ref().to_string()),
            endpoint_url: cfg.endpoint_url().map(str::to_string),
            credentials: cfg.credentials_provider(),
            attempt_timeout: timeouts
                .and_then(|t| t.operation_attempt_timeout())
                .unwrap_or(ATTEMPT_TIMEOUT),
            call_timeout: timeouts
                .and_then(|t| t.operation_timeout())
                .unwrap_or(CALL_TIMEOUT),
            cached: Arc::default(),
            http: Arc::default(),
        }
    }

    /// SSM (Parameter Store).
    pub fn ssm(cfg: &SdkConfig) -> AwsJson {
        AwsJson::new(cfg, "ssm", "AmazonSSM")
    }

    /// KMS.
    pub fn kms(cfg: &SdkConfig) -> AwsJson {
        AwsJson::new(cfg, "kms", "TrentService")
    }

    /// Runs `operation` with `input`; the answer's JSON. Retries what is retryable, at most
    /// [`MAX_ATTEMPTS`] times within the call timeout.
    pub async fn call(&self, operation: &str, input: &Value) -> Result<Value, AwsJsonError> {
        let deadline = Instant::now() + self.call_timeout;
        let region = self.region.as_deref().ok_or_else(|| {
            AwsJsonError::Setup("no AWS region is configured (set AWS_REGION)".into())
        })?;
        let url = endpoint(self.endpoint_url.as_deref(), self.service, region);
        let body = serde_json::to_vec(input)
            .map_err(|e| AwsJsonError::Setup(format!("cannot encode the request: {e}")))?;
        let http = self
            .http
            .get_or_init(|| connector().map(|c| Client::builder(TokioExecutor::new()).build(c)))
            .as_ref()
            .map_err(|e| AwsJsonError::Setup(e.clone()))?;
        let target = format!("{}.{operation}", self.target_prefix);
        let backoff = Backoff {
            budget: self.call_timeout,
            base: BACKOFF_BASE,
            cap: Duration::from_secs(2),
            max_attempts: MAX_ATTEMPTS,
        };
        let (url, target, body) = (&url, &target, &body);
        let (result, _) = retry(backoff, move || async move {
            let remaining = deadline.saturating_duration_since(Instant::now());
            let limit = self.attempt_timeout.min(remaining);
            let once = async {
                let credentials = self.credentials().await?;
                let mut req = request(url, target, body.clone())?;
                sign_request(
                    &mut req,
                    &credentials,
                    region,
                    self.service,
                    SystemTime::now(),
                )?;
                send(http, req).await
            };
            match tokio::time::timeout(limit, once).await {
                Ok(r) => r,
                Err(_) => Err(AwsJsonError::Transport(format!(
                    "{} {operation}: no answer within {} ms",
                    self.service,
                    limit.as_millis()
                ))),
            }
        })
        .await;
        result
    }

    async fn credentials(&self) -> Result<Credentials, AwsJsonError> {
        let mut cached = self.cached.lock().await;
        let fresh = |c: &Credentials| {
            c.expiry()
                .is_none_or(|t| t > SystemTime::now() + Duration::from_secs(300))
        };
        if let Some(c) = cached.as_ref().filter(|c| fresh(c)) {
            return Ok(c.clone());
        }
        let provider = self
            .credentials
            .as_ref()
            .ok_or_else(|| AwsJsonError::Setup("no AWS credentials are configured".into()))?;
        let c = provider.provide_credentials().await.map_err(|e| {
            AwsJsonError::Setup(format!("no AWS credentials: {}", aws_error::chain(&e)))
        })?;
        *cached = Some(c.clone());
        Ok(c)
    }
}

/// The endpoint: the configured one (`AWS_ENDPOINT_URL`, e.g. moto), else the regional one.
fn endpoint(configured: Option<&str>, service: &str, region: &str) -> String {
    match configured {
        Some(url) => format!("{}/", url.trim_end_matches('/')),
        None => format!("https://{service}.{region}.amazonaws.com/"),
    }
}

/// The unsigned request for operation `target` (e.g. `AmazonSSM.PutParameter`).
fn request(
    url: &str,
    target: &str,
    body: Vec<u8>,
) -> Result<hyper::Request<Vec<u8>>, AwsJsonError> {
    let uri: hyper::Uri = url
        .parse()
        .map_err(|_| AwsJsonError::Setup(format!("the endpoint {url:?} is not a URL")))?;
    let host = uri
        .authority()
        .ok_or_else(|| AwsJsonError::Setup(format!("the endpoint {url:?} names no host")))?
        .to_string();
    hyper::Request::post(uri)
        .header("host", host)
        .header("content-type", CONTENT_TYPE)
        .header("x-amz-target", target)
        .body(body)
        .map_err(|e| AwsJsonError::Setup(format!("cannot build the request: {e}")))
}

/// Adds the SigV4 headers (`x-amz-date`, `authorization`, `x-amz-security-token`) to `req`.
fn sign_request(
    req: &mut hyper::Request<Vec<u8>>,
    credentials: &Credentials,
    region: &str,
    service: &str,
    time: SystemTime,
) -> Result<(), AwsJsonError> {
    let failed = |e: &dyn std::error::Error| {
        AwsJsonError::Setup(format!("cannot sign the request: {}", aws_error::chain(e)))
    };
    let identity = credentials.clone().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| failed(&e))?
        .into();
    let headers = req
        .headers()
        .iter()
        .filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?)));
    let signable = SignableRequest::new(
        req.method().as_str(),
        req.uri().to_string(),
        headers,
        SignableBody::Bytes(req.body()),
    )
    .map_err(|e| failed(&e))?;
    let (instructions, _) = sign(signable, &params)
        .map_err(|e| failed(&e))?
        .into_parts();
    instructions.apply_to_request_http1x(req);
    Ok(())
}

/// Sends one signed request; the answer's JSON, or the service's error.
async fn send(http: &HttpClient, req: hyper::Request<Vec<u8>>) -> Result<Value, AwsJsonError> {
    let (mut parts, body) = req.into_parts();
    parts.headers.insert(
        "user-agent",
        hyper::header::HeaderValue::from_static(concat!("dyn53/", env!("CARGO_PKG_VERSION"))),
    );
    let req = hyper::Request::from_parts(parts, Full::new(Bytes::from(body)));
    let answer = http
        .request(req)
        .await
        .map_err(|e| AwsJsonError::Transport(describe(e)))?;
    let status = answer.status().as_u16();
    let error_type = answer
        .headers()
        .get("x-amzn-errortype")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = Limited::new(answer.into_body(), MAX_ANSWER)
        .collect()
        .await
        .map_err(|e| AwsJsonError::Transport(format!("reading the answer failed: {e}")))?
        .to_bytes();
    if (200..300).contains(&status) {
        parse_success(&body)
    } else {
        Err(parse_error(status, error_type.as_deref(), &body))
    }
}

/// A success answer's JSON (an empty body is an empty object).
fn parse_success(body: &[u8]) -> Result<Value, AwsJsonError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Default::default()));
    }
    // The parser's error can quote the body; only say where it failed.
    serde_json::from_slice(body).map_err(|e| {
        AwsJsonError::BadAnswer(format!(
            "the answer is not JSON (line {}, column {})",
            e.line(),
            e.column()
        ))
    })
}

/// The error in a non-2xx answer: the code from `__type` (or `code`, or the
/// `x-amzn-errortype` header), without a namespace (`com.amazonaws.ssm#`) or a suffix after
/// `:`; the message from `message` (or `Message`).
fn parse_error(status: u16, error_type: Option<&str>, body: &[u8]) -> AwsJsonError {
    let doc: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let field = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| doc.get(*n).and_then(Value::as_str))
            .map(str::to_string)
    };
    let code = field(&["__type", "code"])
        .or_else(|| error_type.map(str::to_string))
        .map(|t| {
            let t = t.split(':').next().unwrap_or("");
            t.rsplit('#').next().unwrap_or("").trim().to_string()
        })
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| format!("HTTP {status}"));
    let message = field(&["message", "Message", "errorMessage"])
        .unwrap_or_else(|| "(no message)".to_string());
    AwsJsonError::Service {
        status,
        code,
        message,
    }
}

/// A stand-in SSM for unit tests: canned answers from a local server.
#[cfg(test)]
pub(crate) mod fake {
    use super::*;

    /// The test suite's example credentials (only ever sent to 127.0.0.1).
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

    /// A server on 127.0.0.1 that answers each connection with the next of `answers`
    /// (status, JSON body) and records the `x-amz-target` and body it was sent.
    pub(crate) async fn server(
        answers: Vec<(u16, String)>,
    ) -> (String, Arc<std::sync::Mutex<Vec<String>>>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = seen.clone();
        tokio::spawn(async move {
            for (status, body) in answers {
                let (mut conn, _) = listener.accept().await.unwrap();
                let mut buf = Vec::new();
                let mut chunk = [0; 4096];
                // Headers, then as many body bytes as content-length says.
                let (head_len, want) = loop {
                    let n = conn.read(&mut chunk).await.unwrap();
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..end]).to_lowercase();
                        let len = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .map_or(0, |v| v.trim().parse::<usize>().unwrap());
                        break (end + 4, len);
                    }
                };
                while buf.len() < head_len + want {
                    let n = conn.read(&mut chunk).await.unwrap();
                    buf.extend_from_slice(&chunk[..n]);
                }
                let head = String::from_utf8_lossy(&buf[..head_len]).to_lowercase();
                let target = head
                    .lines()
                    .find_map(|l| l.strip_prefix("x-amz-target:"))
                    .unwrap_or("")
                    .trim()
                    .to_string();
                let sent = String::from_utf8_lossy(&buf[head_len..]);
                log.lock().unwrap().push(format!("{target} {sent}"));
                let answer = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/x-amz-json-1.1\r\n\
                     content-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                conn.write_all(answer.as_bytes()).await.unwrap();
            }
        });
        (url, seen)
    }

    pub(crate) fn config(url: &str) -> SdkConfig {
        SdkConfig::builder()
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url(url)
            .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                "AKIDEXAMPLE",
                SECRET,
                None,
                None,
                "test",
            )))
            .build()
    }
}

#[cfg(test)]
mod tests {
    use super::fake::{config, server};
    use super::*;
    use std::time::UNIX_EPOCH;

    /// The AWS SigV4 test suite's credentials and time (2015-08-30T12:36:00Z).
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    const TIME: u64 = 1_440_938_160;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn header<'a>(r: &'a hyper::Request<Vec<u8>>, name: &str) -> &'a str {
        r.headers()
            .get(name)
            .map(|v| v.to_str().unwrap())
            .unwrap_or_else(|| panic!("no {name}"))
    }

    #[test]
    fn signs_the_sigv4_suites_get_vanilla() {
        // aws-sig-v4-test-suite/get-vanilla: the published Authorization header. The same
        // signature from Python hmac/hashlib (canonical request, string to sign and key
        // derivation written out by hand): 5fa00fa3...fbf31.
        let mut req = hyper::Request::get("https://example.amazonaws.com/")
            .header("host", "example.amazonaws.com")
            .body(Vec::new())
            .unwrap();
        let creds = Credentials::new("AKIDEXAMPLE", SECRET, None, None, "test");
        sign_request(&mut req, &creds, "us-east-1", "service", at(TIME)).unwrap();
        assert_eq!(header(&req, "x-amz-date"), "20150830T123600Z");
        assert_eq!(
            header(&req, "authorization"),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
             SignedHeaders=host;x-amz-date, \
             Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        );
    }

    #[test]
    fn signs_a_json_call_with_a_session_token() {
        // Expected signature computed independently with Python's hmac and hashlib:
        // canonical request "POST\n/\n\n" + the five headers below, sorted, lower-cased,
        // + signed-header list + hex(sha256(body)); scope 20150830/eu-west-1/ssm/aws4_request;
        // key HMAC chain from "AWS4" + SECRET (the script gives get-vanilla's 5fa00fa3... too).
        let input = serde_json::json!({
            "Path": "/dyn53/home/channels",
            "WithDecryption": true,
            "Recursive": false,
        });
        let body = serde_json::to_vec(&input).unwrap();
        assert_eq!(
            body,
            br#"{"Path":"/dyn53/home/channels","Recursive":false,"WithDecryption":true}"#
        );
        let url = endpoint(None, "ssm", "eu-west-1");
        assert_eq!(url, "https://ssm.eu-west-1.amazonaws.com/");
        let mut req = request(&url, "AmazonSSM.GetParametersByPath", body).unwrap();
        assert_eq!(req.method(), "POST");
        assert_eq!(header(&req, "host"), "ssm.eu-west-1.amazonaws.com");
        assert_eq!(header(&req, "content-type"), "application/x-amz-json-1.1");
        assert_eq!(
            header(&req, "x-amz-target"),
            "AmazonSSM.GetParametersByPath"
        );
        let creds = Credentials::new(
            "AKIDEXAMPLE",
            SECRET,
            Some("session-token-example".into()),
            None,
            "test",
        );
        sign_request(&mut req, &creds, "eu-west-1", "ssm", at(TIME)).unwrap();
        assert_eq!(
            header(&req, "x-amz-security-token"),
            "session-token-example"
        );
        assert_eq!(
            header(&req, "authorization"),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/eu-west-1/ssm/aws4_request, \
             SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target, \
             Signature=2697e3dfd213e89a3412dd62616803797ec29488070c4d2ad701b3d2b240fd46"
        );
    }

    #[test]
    fn endpoints() {
        assert_eq!(
            endpoint(Some("http://127.0.0.1:5000"), "kms", "us-east-1"),
            "http://127.0.0.1:5000/"
        );
        assert_eq!(
            endpoint(Some("http://[::1]:5000/"), "kms", "x"),
            "http://[::1]:5000/"
        );
        let req = request("http://127.0.0.1:5000/", "TrentService.Decrypt", vec![]).unwrap();
        // Signed with the port, as the HTTP client sends it.
        assert_eq!(header(&req, "host"), "127.0.0.1:5000");
        assert!(matches!(
            request("not a url", "T.Op", vec![]),
            Err(AwsJsonError::Setup(_))
        ));
    }

    #[test]
    fn error_codes_and_messages() {
        let e = parse_error(
            400,
            None,
            br#"{"__type":"com.amazonaws.ssm#ParameterNotFound","message":"not here"}"#,
        );
        assert_eq!(e.code(), Some("ParameterNotFound"));
        assert_eq!(e.to_string(), "ParameterNotFound: not here");
        let e = parse_error(
            400,
            None,
            br#"{"__type":"ThrottlingException:http://x","Message":"slow"}"#,
        );
        assert_eq!(e.to_string(), "ThrottlingException: slow");
        let e = parse_error(400, Some("AccessDeniedException:http://x"), b"");
        assert_eq!(e.to_string(), "AccessDeniedException: (no message)");
        let e = parse_error(502, None, b"<html>Bad Gateway</html>");
        assert_eq!(e.to_string(), "HTTP 502: (no message)");
        assert!(matches!(
            parse_success(br#"{"Plaintext": "c2VjcmV0"#),
            Err(AwsJsonError::BadAnswer(ref d)) if !d.contains("c2VjcmV0")
        ));
        assert_eq!(parse_success(b"").unwrap(), serde_json::json!({}));
    }

    #[tokio::test]
    async fn calls_retry_throttling_then_answer() {
        let throttled = (
            400,
            r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#.to_string(),
        );
        let (url, seen) = server(vec![
            throttled.clone(),
            throttled,
            (200, r#"{"Version":1}"#.into()),
        ])
        .await;
        let input = serde_json::json!({"Name": "/p", "Value": "s3cret", "Overwrite": true});
        let answer = AwsJson::ssm(&config(&url))
            .call("PutParameter", &input)
            .await
            .unwrap();
        assert_eq!(answer, serde_json::json!({"Version": 1}));
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 3);
        assert_eq!(
            seen[0],
            r#"amazonssm.putparameter {"Name":"/p","Overwrite":true,"Value":"s3cret"}"#
        );
    }

    #[tokio::test]
    async fn calls_stop_at_a_refusal_or_after_three_attempts() {
        let missing = (
            400,
            r#"{"__type":"ParameterNotFound","message":"no /p"}"#.into(),
        );
        let (url, seen) = server(vec![missing]).await;
        let input = serde_json::json!({"Name": "/p"});
        let e = AwsJson::ssm(&config(&url))
            .call("DeleteParameter", &input)
            .await
            .unwrap_err();
        assert_eq!(e.code(), Some("ParameterNotFound"));
        assert_eq!(seen.lock().unwrap().len(), 1);

        let down = (
            503,
            r#"{"__type":"ServiceUnavailable","message":"down"}"#.to_string(),
        );
        let (url, seen) = server(vec![down.clone(), down.clone(), down.clone(), down]).await;
        let input = serde_json::json!({"Name": "/p", "Value": "s3cret"});
        let e = AwsJson::ssm(&config(&url))
            .call("PutParameter", &input)
            .await
            .unwrap_err();
        assert_eq!(e.to_string(), "ServiceUnavailable: down");
        assert_eq!(seen.lock().unwrap().len(), 3);

        // Nothing listening (a port just freed): a transport error naming no value.
        let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let closed = format!("http://{}", free.local_addr().unwrap());
        drop(free);
        let e = AwsJson::ssm(&config(&closed))
            .call("PutParameter", &input)
            .await
            .unwrap_err();
        assert!(matches!(e, AwsJsonError::Transport(_)), "{e:?}");
        assert!(!format!("{e} {e:?}").contains("s3cret"), "{e}");
    }

    #[test]
    fn retries_throttling_5xx_and_lost_answers_only() {
        let service = |status, code: &str| AwsJsonError::Service {
            status,
            code: code.into(),
            message: String::new(),
        };
        assert!(service(400, "ThrottlingException").is_retryable());
        assert!(service(400, "TooManyRequestsException").is_retryable());
        assert!(service(503, "ServiceUnavailable").is_retryable());
        assert!(service(500, "InternalServerError").is_retryable());
        assert!(AwsJsonError::Transport("could not connect".into()).is_retryable());
        assert!(!service(400, "ParameterNotFound").is_retryable());
        assert!(!service(400, "AccessDeniedException").is_retryable());
        assert!(!service(400, "InvalidCiphertextException").is_retryable());
        assert!(!AwsJsonError::BadAnswer("x".into()).is_retryable());
        assert!(!AwsJsonError::Setup("x".into()).is_retryable());
    }
}
