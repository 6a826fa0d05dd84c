//! The real backend in-process: the handler with the in-memory fakes behind it
//! (`dyn53_backend::testkit`), served by the local service (`serve::serve`) on a loopback
//! port, reached through the [`Proxy`], which terminates TLS (as a function URL does) and
//! records every request. Tests assert on the fakes (records, texts sent, metrics) and on
//! the requests seen, with no AWS, moto or second process.

use crate::proxy::{Kind, Proxy, Rule};
use crate::run::Run;
use crate::TestCa;
use dyn53::protocol::{RecordType, Request};
use dyn53_backend::dns::Current;
use dyn53_backend::handler::Policy;
use dyn53_backend::host::HostConfig;
use dyn53_backend::metrics::Counts;
use dyn53_backend::testkit::{self, Fakes};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

// The faults tests inject into the fakes (crates without the backend as a dependency use
// them from here).
pub use dyn53_backend::testkit::{DnsFault, StoreFault};

/// The zone every host is added to.
pub const ZONE: &str = "ZTESTZONE";

/// One dyn53 request the backend was sent (by way of the proxy).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// Id of the client's TLS connection it came on.
    pub conn: u64,
    /// `get`, `set-v1`, `set-v2` (or `bad` for a request the protocol cannot read).
    pub kind: &'static str,
    /// Hostname of a set, normalised.
    pub hostname: Option<String>,
}

/// A running in-process backend behind a TLS proxy; stopped when dropped.
pub struct Served {
    /// Handles on the fakes behind the backend.
    pub fakes: Fakes,
    /// The proxy the client talks to (add fault rules to it; it logs every request).
    pub proxy: Proxy,
    secrets: Mutex<Vec<String>>,
    tls: bool,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Served {
    /// The backend over HTTPS with a certificate of `ca` for localhost and 127.0.0.1.
    pub fn https(ca: &TestCa) -> Served {
        Self::start(Some(ca.server_config(&["localhost", "127.0.0.1"])))
    }

    /// The backend over HTTPS with `tls` (e.g. a certificate for another name), or over
    /// plain HTTP with `None`; default policy.
    pub fn start(tls: Option<Arc<rustls::ServerConfig>>) -> Served {
        Self::start_on(tls, IpAddr::V4(Ipv4Addr::LOCALHOST))
    }

    /// The backend over HTTPS on the IPv6 loopback (`https://[::1]:PORT/`, a certificate of
    /// `ca` for ::1): the backend sees the client's ::1, so AAAA records can be set. `None`
    /// when this machine has no IPv6 loopback.
    pub fn https_v6(ca: &TestCa) -> Option<Served> {
        std::net::TcpListener::bind("[::1]:0").ok()?;
        Some(Self::start_on(
            Some(ca.server_config(&["::1"])),
            IpAddr::V6(Ipv6Addr::LOCALHOST),
        ))
    }

    /// The backend and its proxy both on loopback address `bind`, so the address the backend
    /// sees for the client is of `bind`'s family.
    fn start_on(tls: Option<Arc<rustls::ServerConfig>>, bind: IpAddr) -> Served {
        let (backend, fakes) = testkit::backend(Policy::default());
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let (addr_tx, addr_rx) = std::sync::mpsc::channel::<SocketAddr>();
        // Its own thread and runtime, so tests may block while it answers.
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("backend runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind((bind, 0))
                    .await
                    .expect("backend bind");
                addr_tx.send(listener.local_addr().unwrap()).unwrap();
                // Every connection comes from the proxy: no per-address cap.
                let serve = dyn53_backend::serve::serve(Arc::new(backend), listener, None, 0);
                tokio::select! {
                    _ = serve => {}
                    _ = stop_rx => {}
                }
            });
            rt.shutdown_background();
        });
        let upstream = addr_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("backend did not start");
        let proxy = match tls.clone() {
            Some(cfg) => Proxy::start_tls_on(upstream, cfg, bind),
            None => Proxy::start(upstream),
        };
        Served {
            fakes,
            proxy,
            secrets: Mutex::new(Vec::new()),
            tls: tls.is_some(),
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    /// The URL to give the client: `https://localhost:PORT/` (`https://[::1]:PORT/` on IPv6),
    /// or `http://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        match self.tls {
            true if self.proxy.addr.is_ipv6() => format!("https://{}/", self.proxy.addr),
            true => format!("https://localhost:{}/", self.proxy.addr.port()),
            false => format!("http://127.0.0.1:{}/", self.proxy.addr.port()),
        }
    }

    /// Registers a host in zone [`ZONE`] (type A, protocols 1 and 2). Explicit addresses,
    /// when allowed, may be private or documentation ones (tests use 203.0.113.0/24).
    pub fn add_host(&self, hostname: &str, secret: &str, allow_explicit: bool) {
        self.add_host_with(hostname, secret, allow_explicit, &[RecordType::A]);
    }

    /// [`Served::add_host`] allowing the record `types` (e.g. A and AAAA).
    pub fn add_host_with(
        &self,
        hostname: &str,
        secret: &str,
        allow_explicit: bool,
        types: &[RecordType],
    ) {
        self.secrets.lock().unwrap().push(secret.to_string());
        let mut host = HostConfig::new(hostname, ZONE, secret.to_string());
        host.allow_explicit_ip = allow_explicit;
        host.public_ip_only = false;
        host.types = types.to_vec();
        self.fakes.store.add_host(host);
    }

    /// Sets a record as Route 53 holds it (written by someone else).
    pub fn set_record(&self, hostname: &str, ip: &str) {
        self.fakes.dns.put(hostname, ip.parse().unwrap());
    }

    /// A record's address in the fake Route 53 (`None`: no record).
    pub fn record(&self, hostname: &str, rtype: RecordType) -> Option<IpAddr> {
        match self.fakes.dns.record(hostname, rtype) {
            Current::Plain { values, .. } => values.first().and_then(|v| v.parse().ok()),
            _ => None,
        }
    }

    /// The dyn53 requests sent so far, in arrival order.
    pub fn requests(&self) -> Vec<Sent> {
        self.proxy
            .seen()
            .into_iter()
            .filter(|s| matches!(s.kind, Kind::Dyn53Get | Kind::Dyn53Set))
            .map(|s| {
                let (kind, hostname) = match parse(s.sent.as_deref().unwrap_or("")) {
                    Some(Request::Get) => ("get", None),
                    Some(Request::SetV1(r)) => ("set-v1", Some(r.hostname)),
                    Some(Request::SetV2(r)) => ("set-v2", Some(r.hostname)),
                    _ => ("bad", None),
                };
                Sent {
                    conn: s.conn,
                    kind,
                    hostname,
                }
            })
            .collect()
    }

    /// The kinds of [`requests`](Self::requests), in order.
    pub fn kinds(&self) -> Vec<&'static str> {
        self.requests().iter().map(|s| s.kind).collect()
    }

    /// The notification texts the backend published.
    pub fn notifications(&self) -> Vec<String> {
        self.fakes.notifier.texts()
    }

    /// The metrics the backend recorded, one entry per request it handled.
    pub fn metrics(&self) -> Vec<(String, Counts)> {
        self.fakes.metrics.all()
    }

    /// Adds a fault rule to the proxy.
    pub fn add_rule(&self, rule: Rule) {
        self.proxy.add_rule(rule);
    }

    /// Fails the test if a secret, token, signature or nonce that crossed the wire appears
    /// in `run`'s output.
    pub fn assert_nothing_secret_in(&self, run: &Run) {
        let mut secrets = self.secrets.lock().unwrap().clone();
        for seen in self.proxy.seen() {
            match parse(seen.sent.as_deref().unwrap_or("")) {
                Some(Request::SetV1(r)) => secrets.push(r.hash),
                Some(Request::SetV2(r)) => secrets.extend([r.signature, r.nonce]),
                _ => {}
            }
            let answer = seen.answer.unwrap_or_default();
            if let Ok(a) = dyn53::protocol::Response::from_json(answer.as_bytes()) {
                secrets.extend(a.nonce);
            }
        }
        for secret in secrets.iter().filter(|s| !s.is_empty()) {
            assert!(
                !run.stdout.contains(secret.as_str()) && !run.stderr.contains(secret.as_str()),
                "a secret value ({} chars) appears in the output:\n{run}",
                secret.len()
            );
        }
    }
}

/// A request as the backend reads it: a query string or a JSON body.
fn parse(sent: &str) -> Option<Request> {
    if sent.trim_start().starts_with('{') {
        Request::from_json(sent.as_bytes()).ok()
    } else {
        Request::from_query(sent).ok()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
