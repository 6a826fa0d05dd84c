//! The client end-to-end tests' stand-in server, for what the real backend (which those
//! tests run in-process, dyn53_testsupport::Served) cannot be: a FOREIGN server. It plays
//! the 2015/2016 and 2023 reference deployments ([`Style`], written from the field notes on
//! them, not with dyn53's answer writer), a server that hands out a malformed nonce (ours
//! never does), one that comes up after the client started (bound to a port reserved
//! first), one that completes TLS and never answers ([`Mode::Hang`]), and one on `[::1]`
//! (behind the proxy the real backend sees the proxy's IPv4 address, not the client's).
//!
//! It keeps a fixed host table (hostname -> secret), records in memory, v2 nonces issued
//! with `issue_nonce` and spent once; it logs every request with the id of the TCP
//! connection it came on, and everything secret it saw so tests can assert none of it is
//! printed.

#![allow(dead_code)] // each test binary uses a different part of this module

use dyn53::protocol::{
    canonical_ip, check_nonce, issue_nonce, v1_token, v1_verify, ErrorCode, Form, IpMode,
    RecordType, Request, Response, SignedFields,
};
use dyn53_testsupport::{Run, TestCa};
use rustls::{ServerConfig, ServerConnection, StreamOwned};
use std::collections::{HashMap, HashSet};
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

// ---------------------------------------------------------------------------------------
// The protocol peer

/// One registered host.
#[derive(Clone)]
pub struct Host {
    /// Shared secret.
    pub secret: String,
    /// Whether v2 explicit-IP mode is allowed.
    pub allow_explicit: bool,
}

/// A request the peer received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// Id of the TCP connection it came on.
    pub conn: u64,
    /// `get`, `set-v1` or `set-v2`.
    pub kind: &'static str,
    /// Hostname of a set.
    pub hostname: Option<String>,
}

/// The peer's state, shared with the test.
#[derive(Default)]
pub struct State {
    /// hostname -> host.
    pub hosts: HashMap<String, Host>,
    /// (hostname, type) -> address.
    pub records: HashMap<(String, RecordType), IpAddr>,
    /// Requests in arrival order.
    pub requests: Vec<Seen>,
    /// Hand out this nonce text in get answers instead of a real one.
    pub inject_nonce: Option<String>,
    /// Everything secret that crossed the wire (must never show up in client output).
    pub secrets: Vec<String>,
    /// Which backend the peer plays.
    pub style: Style,
    spent: HashSet<String>,
}

/// Which backend the peer plays.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub enum Style {
    /// dyn53's backend (protocols 1 and 2).
    #[default]
    Dyn53,
    /// A 2015/2016 reference deployment: an API Gateway GET method with a non-proxy
    /// integration. Only `GET ?mode=`; a POST finds no method (403 "Missing Authentication
    /// Token"); every answer is HTTP 200 with compact JSON; hosts keyed by the name as sent.
    Reference2015,
    /// The 2023 reference handler behind a function URL: JSON POSTs only, answers written
    /// by `json.dumps` with its status codes (changed 201, wrong hash 401, unknown host 403).
    Reference2023,
}

/// The parts of an HTTP request the peer reads.
struct HttpRequest {
    /// `get` or `post`.
    method: String,
    /// The query string, if any.
    query: Option<String>,
    body: Vec<u8>,
}

/// How the peer behaves.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Answer requests.
    Normal,
    /// Complete TLS, read the request, never answer.
    Hang,
}

/// A running peer; stopped when dropped.
pub struct Peer {
    /// Listening address.
    pub addr: SocketAddr,
    /// Shared state.
    pub state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
}

const NONCE_KEY: &[u8] = b"dyn53 test peer nonce key";

impl Peer {
    /// Starts a peer on `listener`, with TLS unless `tls` is `None`.
    pub fn start(listener: TcpListener, tls: Option<Arc<ServerConfig>>, mode: Mode) -> Peer {
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (st, sp) = (state.clone(), stop.clone());
        std::thread::spawn(move || {
            let conns = AtomicU64::new(0);
            for tcp in listener.incoming() {
                if sp.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(tcp) = tcp else { continue };
                let id = conns.fetch_add(1, Ordering::SeqCst) + 1;
                let (st, sp, tls) = (st.clone(), sp.clone(), tls.clone());
                std::thread::spawn(move || serve(tcp, tls, st, sp, mode, id));
            }
        });
        Peer { addr, state, stop }
    }

    /// Starts an HTTPS peer on 127.0.0.1 with a certificate for localhost and 127.0.0.1.
    pub fn https(ca: &TestCa) -> Peer {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        Peer::start(
            l,
            Some(ca.server_config(&["localhost", "127.0.0.1"])),
            Mode::Normal,
        )
    }

    /// The URL to give the client (`https://localhost:PORT/` for IPv4 peers).
    pub fn url(&self) -> String {
        match self.addr {
            SocketAddr::V4(a) => format!("https://localhost:{}/", a.port()),
            SocketAddr::V6(a) => format!("https://[::1]:{}/", a.port()),
        }
    }

    /// Makes the peer play another backend.
    pub fn set_style(&self, style: Style) {
        self.state.lock().unwrap().style = style;
    }

    /// Registers a host.
    pub fn add_host(&self, hostname: &str, secret: &str, allow_explicit: bool) {
        let mut s = self.state.lock().unwrap();
        s.secrets.push(secret.to_string());
        s.hosts.insert(
            hostname.to_string(),
            Host {
                secret: secret.to_string(),
                allow_explicit,
            },
        );
    }

    /// Sets a record's current value.
    pub fn set_record(&self, hostname: &str, rt: RecordType, ip: &str) {
        self.state
            .lock()
            .unwrap()
            .records
            .insert((hostname.to_string(), rt), ip.parse().unwrap());
    }

    /// A record's current value.
    pub fn record(&self, hostname: &str, rt: RecordType) -> Option<IpAddr> {
        let s = self.state.lock().unwrap();
        s.records.get(&(hostname.to_string(), rt)).copied()
    }

    /// The requests received so far.
    pub fn requests(&self) -> Vec<Seen> {
        self.state.lock().unwrap().requests.clone()
    }

    /// Fails the test if any secret, token, signature or nonce appears in `run`'s output.
    pub fn assert_nothing_secret_in(&self, run: &Run) {
        let s = self.state.lock().unwrap();
        for secret in &s.secrets {
            assert!(
                !run.stdout.contains(secret.as_str()) && !run.stderr.contains(secret.as_str()),
                "a secret value ({} chars) appears in the output:\n{run}",
                secret.len()
            );
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
    }
}

trait Stream: Read + Write + Send {}
impl<T: Read + Write + Send> Stream for T {}

fn serve(
    tcp: TcpStream,
    tls: Option<Arc<ServerConfig>>,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    mode: Mode,
    conn: u64,
) {
    let Ok(peer) = tcp.peer_addr() else { return };
    let src = canonical_ip(peer.ip());
    let _ = tcp.set_read_timeout(Some(Duration::from_secs(60)));
    let mut stream: Box<dyn Stream> = match tls {
        Some(cfg) => Box::new(StreamOwned::new(ServerConnection::new(cfg).unwrap(), tcp)),
        None => Box::new(tcp),
    };
    let mut buf = Vec::new();
    loop {
        let Some(req) = read_request(&mut stream, &mut buf) else {
            return;
        };
        if mode == Mode::Hang {
            while !stop.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(100));
            }
            return;
        }
        let (status, text) = handle(&state, src, &req, conn);
        let reason = if status < 300 { "OK" } else { "Error" };
        let head = format!(
            "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: keep-alive\r\n\r\n",
            text.len()
        );
        if stream.write_all(head.as_bytes()).is_err()
            || stream.write_all(text.as_bytes()).is_err()
            || stream.flush().is_err()
        {
            return;
        }
    }
}

/// Reads one HTTP/1.1 request; `None` when the connection ends.
fn read_request(stream: &mut Box<dyn Stream>, buf: &mut Vec<u8>) -> Option<HttpRequest> {
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 || buf.len() > 64 * 1024 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    // As strict as a real HTTP server (hyper, Lambda's front end) about the request line:
    // a router build once sent `POST / ` without the version and only a real server noticed.
    let request_line = head.lines().next().unwrap_or("");
    let parts: Vec<&str> = request_line.split(' ').collect();
    if parts.len() != 3
        || !matches!(parts[0], "post" | "get")
        || !parts[1].starts_with('/')
        || parts[2] != "http/1.1"
    {
        eprintln!("test peer: malformed request line {request_line:?}");
        return None;
    }
    if head
        .lines()
        .skip(1)
        .any(|l| !l.is_empty() && !l.contains(':'))
    {
        eprintln!("test peer: malformed header line");
        return None;
    }
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + len {
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    // The query as sent (the head was lower-cased for the header checks).
    let line_end = buf.iter().position(|&b| b == b'\r').unwrap_or(0);
    let target = String::from_utf8_lossy(&buf[..line_end]).into_owned();
    let query = target
        .split(' ')
        .nth(1)
        .and_then(|t| t.split_once('?'))
        .map(|(_, q)| q.to_string());
    let body = buf[head_end..head_end + len].to_vec();
    buf.drain(..head_end + len);
    Some(HttpRequest {
        method: parts[0].to_string(),
        query,
        body,
    })
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Answers one request the way the protocol (or the reference [`Style`]) says.
fn handle(state: &Mutex<State>, src: IpAddr, req: &HttpRequest, conn: u64) -> (u16, String) {
    let mut s = state.lock().unwrap();
    if s.style != Style::Dyn53 {
        return reference(&mut s, src, req, conn);
    }
    let (parsed, form) = match &req.query {
        Some(q) if req.method == "get" => (Request::from_query(q), Form::Query),
        _ => (Request::from_json(&req.body), Form::of_json(&req.body)),
    };
    let r = match parsed {
        Err(e) => Response::error(ErrorCode::BadRequest, e.0),
        Ok(Request::Get) => {
            static COUNTER: AtomicU64 = AtomicU64::new(1);
            let mut rand = [0u8; 16];
            rand[..8].copy_from_slice(&COUNTER.fetch_add(1, Ordering::SeqCst).to_le_bytes());
            rand[8..].copy_from_slice(&conn.to_le_bytes());
            let nonce = s
                .inject_nonce
                .clone()
                .unwrap_or_else(|| issue_nonce(NONCE_KEY, now(), &rand));
            s.secrets.push(nonce.clone());
            s.requests.push(Seen {
                conn,
                kind: "get",
                hostname: None,
            });
            Response::ip(src, Some(nonce))
        }
        Ok(Request::SetV1(r)) => {
            s.secrets.push(r.hash.clone());
            s.requests.push(Seen {
                conn,
                kind: "set-v1",
                hostname: Some(r.hostname.clone()),
            });
            let ok = s
                .hosts
                .get(&r.hostname)
                .is_some_and(|h| v1_verify(&src.to_string(), &r.hostname_raw, &h.secret, &r.hash));
            if ok {
                apply(&mut s, &r.hostname, RecordType::for_ip(src), src)
            } else {
                Response::error(ErrorCode::Auth, "authentication failed")
            }
        }
        Ok(Request::SetV2(r)) => {
            s.secrets.push(r.signature.clone());
            s.requests.push(Seen {
                conn,
                kind: "set-v2",
                hostname: Some(r.hostname.clone()),
            });
            let fields = SignedFields {
                hostname: &r.hostname,
                record_type: r.record_type,
                ip: r.ip,
                ip_mode: r.ip_mode,
                nonce: &r.nonce,
            };
            let host = s.hosts.get(&r.hostname).cloned();
            if check_nonce(NONCE_KEY, &r.nonce, now(), 300).is_err() || s.spent.contains(&r.nonce) {
                Response::error(ErrorCode::Nonce, "nonce expired or already used")
            } else if !host
                .as_ref()
                .is_some_and(|h| fields.verify(&h.secret, &r.signature))
            {
                Response::error(ErrorCode::Auth, "authentication failed")
            } else {
                s.spent.insert(r.nonce.clone());
                let host = host.unwrap();
                match r.ip_mode {
                    IpMode::Source if r.ip != src => {
                        Response::error(ErrorCode::IpMismatch, "ip is not your source address")
                    }
                    IpMode::Explicit if !host.allow_explicit => Response::error(
                        ErrorCode::NotAllowed,
                        "explicit addresses are not allowed for this host",
                    ),
                    _ => apply(&mut s, &r.hostname, r.record_type, r.ip),
                }
            }
        }
    };
    r.render(form)
}

/// Answers as a reference-design deployment does (see [`Style`]).
fn reference(s: &mut State, src: IpAddr, req: &HttpRequest, conn: u64) -> (u16, String) {
    let y2015 = s.style == Style::Reference2015;
    let answer = |status: u16, ok: bool, message: &str| {
        let word = if ok { "success" } else { "fail" };
        if y2015 {
            (
                200,
                format!(r#"{{"return_status":"{word}","return_message":"{message}"}}"#),
            )
        } else {
            (
                status,
                format!(r#"{{"return_status": "{word}", "return_message": "{message}"}}"#),
            )
        }
    };
    let mut fields: HashMap<String, String> = HashMap::new();
    match (y2015, req.method.as_str()) {
        (true, "get") => {
            for pair in req.query.as_deref().unwrap_or("").split('&') {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                fields.insert(k.to_string(), v.to_string());
            }
        }
        (true, _) => return (403, r#"{"message":"Missing Authentication Token"}"#.into()),
        (false, "post") => {
            let Ok(obj) = dyn53::protocol::json::parse(&req.body) else {
                return (502, "Internal Server Error".into());
            };
            for (from, to) in [
                ("execution_mode", "mode"),
                ("ddns_hostname", "hostname"),
                ("validation_hash", "hash"),
            ] {
                if let Ok(Some(v)) = obj.str(from) {
                    fields.insert(to.to_string(), v.to_string());
                }
            }
        }
        // The 2023 handler reads the JSON body; a GET has none, and the function fails.
        (false, _) => return (502, "Internal Server Error".into()),
    }
    let field = |k: &str| fields.get(k).cloned().unwrap_or_default();
    let host = field("hostname");
    let kind = if field("mode") == "get" {
        "get"
    } else {
        "set-v1"
    };
    s.requests.push(Seen {
        conn,
        kind,
        hostname: (kind != "get").then(|| host.clone()),
    });
    if kind == "get" {
        return answer(200, true, &src.to_string());
    }
    let hash = field("hash");
    s.secrets.push(hash.clone());
    if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return answer(
            400,
            false,
            "You must pass a valid sha256 hash in the hash= argument.",
        );
    }
    let Some(secret) = s.hosts.get(&host).map(|h| h.secret.clone()) else {
        let msg = format!(
            "There was an issue finding or reading {host} configuration from dynamoDB table: ddns-config"
        );
        return answer(403, false, &msg);
    };
    if v1_token(&src.to_string(), &host, &secret) != hash {
        return answer(401, false, "Validation hashes do not match.");
    }
    match s.records.insert((host.clone(), RecordType::A), src) {
        Some(old) if old == src => answer(
            200,
            true,
            "Your IP address matches the current Route53 DNS record.",
        ),
        _ if y2015 => answer(
            200,
            true,
            &format!("Your hostname record {host} has been set to {src}"),
        ),
        _ => answer(201, true, &format!("{host} has been updated to {src}")),
    }
}

fn apply(s: &mut State, hostname: &str, rt: RecordType, ip: IpAddr) -> Response {
    match s.records.insert((hostname.to_string(), rt), ip) {
        Some(old) if old == ip => Response::unchanged(ip),
        old => Response::changed(hostname, ip, old),
    }
}
