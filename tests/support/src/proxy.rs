//! A fault-injecting HTTP/1.1 proxy for tests: it forwards every request to a real upstream
//! (moto, or the real `dyn53-backend serve`) unless a rule says otherwise, and answers with
//! the exact error shapes the real services send (Route 53 XML `Throttling` /
//! `PriorRequestNotComplete`, DynamoDB JSON, SNS XML), delays, refuses, or drops the
//! connection after forwarding. Optionally it terminates TLS (as a function URL does) with
//! a certificate the test chooses (expired, wrong name).
//!
//! It runs on its own thread and runtime, so tests may block (run the client binary, use
//! the blocking HTTP helper) without stalling it. Every request is logged with what was done
//! to it, so tests can assert what reached the upstream (e.g. no ChangeResourceRecordSets).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// Where proxies listen unless told otherwise.
const LOOPBACK_V4: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// Longest request or response head accepted (anything bigger is a bug in a test).
const MAX_HEAD: usize = 64 * 1024;
/// How long the proxy waits for the upstream's answer.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(60);

/// What a request is, as far as rules care.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// A Route 53 call (REST-XML under `/2013-04-01/`), by operation name.
    Route53(&'static str),
    /// A DynamoDB call, by operation name (`X-Amz-Target`).
    Dynamo(String),
    /// An SNS call, by `Action`.
    Sns(String),
    /// A dyn53 get (either protocol, query or JSON form).
    Dyn53Get,
    /// A dyn53 set.
    Dyn53Set,
    /// Anything else (moto's own API, unknown).
    Other,
}

impl Kind {
    /// Whether this is a Route 53 ListResourceRecordSets or ChangeResourceRecordSets call.
    pub fn is_route53_record_call(&self) -> bool {
        matches!(
            self,
            Kind::Route53("ListResourceRecordSets" | "ChangeResourceRecordSets")
        )
    }
}

/// Which requests a rule applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Match {
    /// ListResourceRecordSets and ChangeResourceRecordSets (what a set does in Route 53).
    Route53Records,
    /// Only ChangeResourceRecordSets.
    Route53Change,
    /// Every DynamoDB call.
    Dynamo,
    /// DynamoDB calls of one operation (e.g. `PutItem`).
    DynamoOp(&'static str),
    /// DynamoDB calls of one operation whose body contains a text (e.g. a key prefix).
    DynamoOpWith(&'static str, &'static str),
    /// SNS Publish.
    SnsPublish,
    /// A dyn53 set request.
    Dyn53Set,
    /// Every request.
    Any,
}

impl Match {
    fn matches(&self, k: &Kind, body: &[u8]) -> bool {
        match self {
            Match::Route53Records => k.is_route53_record_call(),
            Match::Route53Change => *k == Kind::Route53("ChangeResourceRecordSets"),
            Match::Dynamo => matches!(k, Kind::Dynamo(_)),
            Match::DynamoOp(op) => matches!(k, Kind::Dynamo(o) if o == op),
            Match::DynamoOpWith(op, text) => {
                matches!(k, Kind::Dynamo(o) if o == op)
                    && String::from_utf8_lossy(body).contains(text)
            }
            Match::SnsPublish => matches!(k, Kind::Sns(a) if a == "Publish"),
            Match::Dyn53Set => *k == Kind::Dyn53Set,
            Match::Any => true,
        }
    }
}

/// A Route 53 style token bucket: `rate` tokens per second, at most `burst` saved up.
#[derive(Debug, Clone)]
pub struct Bucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Option<Instant>,
}

impl Bucket {
    /// A full bucket.
    pub fn new(rate: f64, burst: u32) -> Self {
        Bucket {
            rate,
            burst: f64::from(burst),
            tokens: f64::from(burst),
            last: None,
        }
    }

    /// Takes a token if there is one.
    pub fn take(&mut self, now: Instant) -> bool {
        if let Some(last) = self.last {
            let refill = now.saturating_duration_since(last).as_secs_f64() * self.rate;
            self.tokens = (self.tokens + refill).min(self.burst);
        }
        self.last = Some(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// What to do with a matching request.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Answer with a Route 53 error of this code (HTTP 400, the real XML shape).
    Route53Error(&'static str),
    /// Alternate `Throttling` and `PriorRequestNotComplete`, as a busy account sees them.
    Route53Busy,
    /// Answer 500 InternalServerError in DynamoDB's JSON shape.
    DynamoError,
    /// Answer 500 InternalError in SNS's XML shape.
    SnsError,
    /// Close the connection without an answer, forwarding nothing.
    Refuse,
    /// Wait, then forward.
    Delay(Duration),
    /// Forward, wait for the upstream's answer, then close the connection without it.
    DropAnswer,
    /// Forward (the upstream acts on it), then hold the answer back this long.
    DelayAnswer(Duration),
    /// Forward while the bucket has tokens, else answer Route 53 `Throttling`.
    Throttle(Bucket),
    /// Answer with this status and JSON body, forwarding nothing (a gateway's error page,
    /// or an answer the upstream gives only in a race a test cannot time).
    Answer(u16, String),
}

/// A fault and how many requests it applies to.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Requests it applies to.
    pub matcher: Match,
    /// What it does.
    pub fault: Fault,
    /// How many more matching requests it applies to (`None`: all).
    pub times: Option<u32>,
}

impl Rule {
    /// `fault` for the next `n` matching requests.
    pub fn times(matcher: Match, fault: Fault, n: u32) -> Rule {
        Rule {
            matcher,
            fault,
            times: Some(n),
        }
    }

    /// `fault` for every matching request.
    pub fn always(matcher: Match, fault: Fault) -> Rule {
        Rule {
            matcher,
            fault,
            times: None,
        }
    }
}

/// What happened to a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Done {
    /// Forwarded; the upstream answered this status (and the client got it).
    Forwarded(u16),
    /// Forwarded, the upstream answered this status, and the client got nothing.
    Dropped(u16),
    /// Answered by the proxy with this status (an injected error).
    Injected(u16),
    /// Connection closed without forwarding.
    Refused,
    /// The upstream could not be reached or did not answer.
    UpstreamFailed,
}

/// One request the proxy saw.
#[derive(Debug, Clone)]
pub struct Seen {
    /// What it was.
    pub kind: Kind,
    /// What was done.
    pub done: Done,
    /// When it arrived.
    pub at: Instant,
    /// When it was done with.
    pub finished: Instant,
    /// For dyn53 requests: the answer body the upstream gave.
    pub answer: Option<String>,
    /// Id of the client connection it came on (1, 2, ... in accept order).
    pub conn: u64,
    /// For dyn53 requests: what was sent (the query string of a GET that has one, else
    /// the body), so tests can tell the protocols apart and find the secrets in it.
    pub sent: Option<String>,
}

impl Seen {
    /// Whether the upstream received it.
    pub fn reached_upstream(&self) -> bool {
        matches!(self.done, Done::Forwarded(_) | Done::Dropped(_))
    }
}

#[derive(Default)]
struct Inner {
    rules: Vec<Rule>,
    seen: Vec<Seen>,
    busy_flip: bool,
}

/// A running proxy; stops when dropped.
pub struct Proxy {
    /// Where it listens.
    pub addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Proxy {
    /// A plain HTTP proxy to `upstream` on a free loopback port.
    pub fn start(upstream: SocketAddr) -> Proxy {
        Self::start_with(upstream, None, LOOPBACK_V4)
    }

    /// A proxy that terminates TLS with `tls` and forwards plain HTTP to `upstream`.
    pub fn start_tls(upstream: SocketAddr, tls: Arc<rustls::ServerConfig>) -> Proxy {
        Self::start_tls_on(upstream, tls, LOOPBACK_V4)
    }

    /// [`Proxy::start_tls`] listening on loopback address `bind` (`::1` for IPv6 clients).
    pub fn start_tls_on(
        upstream: SocketAddr,
        tls: Arc<rustls::ServerConfig>,
        bind: IpAddr,
    ) -> Proxy {
        Self::start_with(upstream, Some(tokio_rustls::TlsAcceptor::from(tls)), bind)
    }

    fn start_with(
        upstream: SocketAddr,
        tls: Option<tokio_rustls::TlsAcceptor>,
        bind: IpAddr,
    ) -> Proxy {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let state = inner.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("proxy runtime");
            rt.block_on(async move {
                let listener = TcpListener::bind((bind, 0)).await.expect("proxy bind");
                addr_tx.send(listener.local_addr().unwrap()).unwrap();
                let accept = async {
                    let mut conns = 0;
                    loop {
                        let Ok((tcp, _)) = listener.accept().await else {
                            continue;
                        };
                        let _ = tcp.set_nodelay(true);
                        conns += 1;
                        let (state, tls, conn) = (state.clone(), tls.clone(), conns);
                        tokio::spawn(async move {
                            match tls {
                                None => serve(tcp, upstream, state, conn).await,
                                Some(acceptor) => {
                                    // A refused handshake is the point of some tests.
                                    if let Ok(stream) = acceptor.accept(tcp).await {
                                        serve(stream, upstream, state, conn).await;
                                    }
                                }
                            }
                        });
                    }
                };
                tokio::select! {
                    _ = accept => {}
                    _ = stop_rx => {}
                }
            });
            rt.shutdown_background();
        });
        let addr = addr_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("proxy did not start");
        Proxy {
            addr,
            inner,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    /// `http://ADDR` (for AWS_ENDPOINT_URL).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Replaces the rules.
    pub fn set_rules(&self, rules: Vec<Rule>) {
        self.inner.lock().unwrap().rules = rules;
    }

    /// Adds a rule after the existing ones.
    pub fn add_rule(&self, rule: Rule) {
        self.inner.lock().unwrap().rules.push(rule);
    }

    /// Removes every rule: plain forwarding from now on.
    pub fn clear_rules(&self) {
        self.inner.lock().unwrap().rules.clear();
    }

    /// Everything seen so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.inner.lock().unwrap().seen.clone()
    }

    /// Forgets what was seen.
    pub fn forget(&self) {
        self.inner.lock().unwrap().seen.clear();
    }

    /// How many requests satisfy `f`.
    pub fn count(&self, f: impl Fn(&Seen) -> bool) -> usize {
        self.inner
            .lock()
            .unwrap()
            .seen
            .iter()
            .filter(|s| f(s))
            .count()
    }

    /// How many ChangeResourceRecordSets calls reached the upstream.
    pub fn changes_forwarded(&self) -> usize {
        self.count(|s| s.kind == Kind::Route53("ChangeResourceRecordSets") && s.reached_upstream())
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// One HTTP request as read from the client.
struct Request {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn wants_close(&self) -> bool {
        self.header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"))
    }
}

/// One HTTP response.
struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// Reads what kind of call a request is.
fn classify(r: &Request) -> Kind {
    let path = r.target.split('?').next().unwrap_or("");
    if let Some(rest) = path.strip_prefix("/2013-04-01/") {
        let op = match (
            r.method.as_str(),
            rest.trim_end_matches('/').ends_with("/rrset"),
        ) {
            ("GET", true) => "ListResourceRecordSets",
            ("POST", true) => "ChangeResourceRecordSets",
            _ => "Other",
        };
        return Kind::Route53(op);
    }
    if let Some(t) = r.header("x-amz-target") {
        if let Some((_, op)) = t.split_once('.') {
            if t.starts_with("DynamoDB_") {
                return Kind::Dynamo(op.to_string());
            }
        }
    }
    let body = String::from_utf8_lossy(&r.body);
    if let Some(action) = body
        .split('&')
        .find_map(|p| p.strip_prefix("Action="))
        .filter(|_| r.method == "POST")
    {
        return Kind::Sns(action.to_string());
    }
    let query = r.target.split_once('?').map(|(_, q)| q).unwrap_or("");
    let says = |mode: &str| {
        query.split('&').any(|p| p == format!("mode={mode}"))
            || body.contains(&format!("\"execution_mode\":\"{mode}\""))
    };
    if says("set") {
        Kind::Dyn53Set
    } else if says("get") {
        Kind::Dyn53Get
    } else {
        Kind::Other
    }
}

/// The rule's fault for this request, if one applies (and counts it down).
fn decide(inner: &Mutex<Inner>, kind: &Kind, body: &[u8]) -> Option<Fault> {
    let mut g = inner.lock().unwrap();
    let Inner {
        rules, busy_flip, ..
    } = &mut *g;
    for rule in rules.iter_mut() {
        if !rule.matcher.matches(kind, body) || rule.times == Some(0) {
            continue;
        }
        if let Some(n) = rule.times.as_mut() {
            *n -= 1;
        }
        return Some(match &mut rule.fault {
            Fault::Throttle(bucket) => {
                if bucket.take(Instant::now()) {
                    return None;
                }
                Fault::Route53Error("Throttling")
            }
            Fault::Route53Busy => {
                *busy_flip = !*busy_flip;
                Fault::Route53Error(if *busy_flip {
                    "Throttling"
                } else {
                    "PriorRequestNotComplete"
                })
            }
            other => other.clone(),
        });
    }
    None
}

fn request_id() -> String {
    format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..))
}

/// The answer Route 53 gives for `code` (HTTP 400, REST-XML error document).
pub fn route53_error(code: &str) -> (u16, String) {
    let message = match code {
        "Throttling" => "Rate exceeded",
        "PriorRequestNotComplete" => {
            "The request was rejected because Route 53 was still processing a prior request."
        }
        _ => "Injected by the test proxy",
    };
    (
        400,
        format!(
            "<?xml version=\"1.0\"?>\n<ErrorResponse xmlns=\"https://route53.amazonaws.com/doc/2013-04-01/\">\
             <Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>\
             <RequestId>{}</RequestId></ErrorResponse>",
            request_id()
        ),
    )
}

fn injected(fault: &Fault) -> Option<Response> {
    let (status, ctype, body) = match fault {
        Fault::Route53Error(code) => {
            let (status, body) = route53_error(code);
            (status, "text/xml", body)
        }
        Fault::DynamoError => (
            500,
            "application/x-amz-json-1.0",
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"Internal server error"}"#
                .to_string(),
        ),
        Fault::SnsError => (
            500,
            "text/xml",
            format!(
                "<ErrorResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\"><Error>\
                 <Type>Receiver</Type><Code>InternalError</Code><Message>Internal Error</Message>\
                 </Error><RequestId>{}</RequestId></ErrorResponse>",
                request_id()
            ),
        ),
        Fault::Answer(status, body) => (*status, "application/json", body.clone()),
        _ => return None,
    };
    Some(Response {
        status,
        headers: vec![
            ("content-type".into(), ctype.into()),
            ("x-amzn-requestid".into(), request_id()),
        ],
        body: body.into_bytes(),
    })
}

/// Serves one client connection (keep-alive) until it closes or a fault closes it.
async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    upstream: SocketAddr,
    inner: Arc<Mutex<Inner>>,
    id: u64,
) {
    let mut conn = BufReader::new(stream);
    loop {
        let req = match read_request(&mut conn).await {
            Ok(Some(r)) => r,
            _ => return,
        };
        let at = Instant::now();
        let kind = classify(&req);
        let fault = decide(&inner, &kind, &req.body);
        let dyn53 = matches!(kind, Kind::Dyn53Get | Kind::Dyn53Set);
        let sent = dyn53.then(|| match req.target.split_once('?') {
            Some((_, q)) if req.method == "GET" => q.to_string(),
            _ => String::from_utf8_lossy(&req.body).into_owned(),
        });
        let log = |done: Done, answer: Option<&Response>| {
            let answer = answer
                .filter(|_| dyn53)
                .map(|a| String::from_utf8_lossy(&a.body).into_owned());
            inner.lock().unwrap().seen.push(Seen {
                kind: kind.clone(),
                done,
                at,
                finished: Instant::now(),
                answer,
                conn: id,
                sent: sent.clone(),
            });
        };
        if let Some(resp) = fault.as_ref().and_then(injected) {
            log(Done::Injected(resp.status), None);
            if write_response(conn.get_mut(), &resp, req.wants_close())
                .await
                .is_err()
                || req.wants_close()
            {
                return;
            }
            continue;
        }
        match fault {
            Some(Fault::Refuse) => {
                log(Done::Refused, None);
                return;
            }
            Some(Fault::Delay(d)) => tokio::time::sleep(d).await,
            _ => {}
        }
        let resp = match tokio::time::timeout(UPSTREAM_TIMEOUT, forward(upstream, &req)).await {
            Ok(Ok(r)) => r,
            _ => {
                log(Done::UpstreamFailed, None);
                return;
            }
        };
        if let Some(Fault::DelayAnswer(d)) = fault {
            tokio::time::sleep(d).await;
        }
        if matches!(fault, Some(Fault::DropAnswer)) {
            log(Done::Dropped(resp.status), Some(&resp));
            return;
        }
        log(Done::Forwarded(resp.status), Some(&resp));
        if write_response(conn.get_mut(), &resp, req.wants_close())
            .await
            .is_err()
            || req.wants_close()
        {
            return;
        }
    }
}

async fn read_head<R: AsyncBufReadExt + Unpin>(r: &mut R) -> std::io::Result<Option<Vec<String>>> {
    let mut lines = Vec::new();
    let mut total = 0;
    loop {
        let mut line = String::new();
        let n = r.read_line(&mut line).await?;
        if n == 0 {
            return Ok(None);
        }
        total += n;
        if total > MAX_HEAD {
            return Err(std::io::Error::other("head too large"));
        }
        let line = line.trim_end_matches(['\r', '\n']).to_string();
        if line.is_empty() {
            if lines.is_empty() {
                continue; // stray CRLF between requests
            }
            return Ok(Some(lines));
        }
        lines.push(line);
    }
}

fn parse_headers(lines: &[String]) -> Vec<(String, String)> {
    lines
        .iter()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect()
}

/// Reads a body framed by Content-Length, chunked encoding, or (responses) the close.
async fn read_body<R: AsyncBufReadExt + Unpin>(
    r: &mut R,
    headers: &[(String, String)],
    until_close: bool,
) -> std::io::Result<Vec<u8>> {
    let get = |n: &str| {
        headers
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.as_str())
    };
    if get("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked")) {
        let mut body = Vec::new();
        loop {
            let mut size = String::new();
            r.read_line(&mut size).await?;
            let size = size.trim().split(';').next().unwrap_or("");
            let n = usize::from_str_radix(size, 16)
                .map_err(|_| std::io::Error::other("bad chunk size"))?;
            let mut chunk = vec![0; n + 2];
            r.read_exact(&mut chunk).await?;
            if n == 0 {
                return Ok(body);
            }
            body.extend_from_slice(&chunk[..n]);
        }
    }
    if let Some(len) = get("content-length") {
        let len: usize = len
            .parse()
            .map_err(|_| std::io::Error::other("bad content-length"))?;
        let mut body = vec![0; len];
        r.read_exact(&mut body).await?;
        return Ok(body);
    }
    let mut body = Vec::new();
    if until_close {
        r.read_to_end(&mut body).await?;
    }
    Ok(body)
}

async fn read_request<R: AsyncBufReadExt + Unpin>(r: &mut R) -> std::io::Result<Option<Request>> {
    let Some(lines) = read_head(r).await? else {
        return Ok(None);
    };
    let mut first = lines[0].split_whitespace();
    let (Some(method), Some(target)) = (first.next(), first.next()) else {
        return Err(std::io::Error::other("bad request line"));
    };
    let headers = parse_headers(&lines[1..]);
    let body = read_body(r, &headers, false).await?;
    Ok(Some(Request {
        method: method.to_string(),
        target: target.to_string(),
        headers,
        body,
    }))
}

/// Hop-by-hop and framing headers, which the proxy sets itself.
fn end_to_end(name: &str) -> bool {
    !matches!(
        name,
        "connection" | "keep-alive" | "transfer-encoding" | "content-length" | "proxy-connection"
    )
}

/// Sends `req` to `upstream` on a fresh connection and reads the whole answer.
async fn forward(upstream: SocketAddr, req: &Request) -> std::io::Result<Response> {
    let mut up = TcpStream::connect(upstream).await?;
    let _ = up.set_nodelay(true);
    let mut head = format!("{} {} HTTP/1.1\r\n", req.method, req.target);
    for (k, v) in req.headers.iter().filter(|(k, _)| end_to_end(k)) {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!(
        "content-length: {}\r\nconnection: close\r\n\r\n",
        req.body.len()
    ));
    let mut msg = head.into_bytes();
    msg.extend_from_slice(&req.body);
    up.write_all(&msg).await?;
    let mut r = BufReader::new(up);
    let lines = read_head(&mut r)
        .await?
        .ok_or_else(|| std::io::Error::other("upstream closed without answering"))?;
    let status: u16 = lines[0]
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other("bad status line"))?;
    let headers = parse_headers(&lines[1..]);
    let body = read_body(&mut r, &headers, true).await?;
    Ok(Response {
        status,
        headers,
        body,
    })
}

async fn write_response<W: AsyncWrite + Unpin>(
    w: &mut W,
    resp: &Response,
    close: bool,
) -> std::io::Result<()> {
    let mut head = format!("HTTP/1.1 {} {}\r\n", resp.status, reason(resp.status));
    for (k, v) in resp.headers.iter().filter(|(k, _)| end_to_end(k)) {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!("content-length: {}\r\n", resp.body.len()));
    if close {
        head.push_str("connection: close\r\n");
    }
    head.push_str("\r\n");
    let mut msg = head.into_bytes();
    msg.extend_from_slice(&resp.body);
    w.write_all(&msg).await?;
    w.flush().await
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        413 => "Payload Too Large",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}
