//! HTTPS to the backend.
//!
//! One ureq agent per address family: A records talk to the backend over IPv4 and AAAA
//! records over IPv6, so the backend (a dual-stack function URL) sees the address that
//! belongs in the record. Within a family the agent keeps the connection open, so a
//! record's `get` and `set` share one TLS connection (one handshake, one source address).
//!
//! TLS is rustls with the ring provider, wrapped around ureq's TCP transport here rather
//! than through ureq's TLS features, so the root store is exactly ours (see `tls`).

use crate::config::BackendUrl;
use crate::error::Error;
use crate::logging as log;
use crate::protocol::RecordType;
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, StreamOwned};
use std::fmt;
use std::io::{self, Read, Write};
use std::net::ToSocketAddrs;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use ureq::config::IpFamily;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, Either, LazyBuffers, NextTimeout, TcpConnector,
    Transport as Carrier, TransportAdapter,
};
use ureq::Agent;

/// Largest answer read from the backend.
const MAX_ANSWER: u64 = 64 * 1024;
/// Longest wait for a TCP connection; the rest of an attempt's budget is for TLS and HTTP.
const CONNECT_MAX: Duration = Duration::from_secs(10);

/// An HTTP answer.
#[derive(Debug, Clone)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// `Location` header of a redirect.
    pub location: Option<String>,
    /// Body (at most 64 KiB).
    pub body: Vec<u8>,
}

/// What a request carries.
#[derive(Debug, Clone, Copy)]
pub enum Sent<'a> {
    /// A JSON body (POST).
    Json(&'a str),
    /// A query string without `?` (GET), the reference's 2015/2016 form.
    Query(&'a str),
}

/// Talks to the backend; agents are created on first use per address family.
pub struct Transport {
    url: BackendUrl,
    tls: Arc<ClientConfig>,
    v4: OnceLock<Agent>,
    v6: OnceLock<Agent>,
}

impl Transport {
    /// Prepares a transport for `url` (reads `ca_file` now, so its errors come first).
    pub fn new(url: &BackendUrl, ca_file: Option<&std::path::Path>) -> Result<Self, Error> {
        Ok(Transport {
            url: url.clone(),
            tls: crate::tls::client_config(ca_file)?,
            v4: OnceLock::new(),
            v6: OnceLock::new(),
        })
    }

    /// The backend's host name (for log lines).
    pub fn host(&self) -> &str {
        &self.url.host
    }

    fn agent(&self, family: RecordType) -> &Agent {
        let (cell, ip_family) = match family {
            RecordType::A => (&self.v4, IpFamily::Ipv4Only),
            RecordType::Aaaa => (&self.v6, IpFamily::Ipv6Only),
        };
        cell.get_or_init(|| {
            let config = Agent::config_builder()
                .ip_family(ip_family)
                .http_status_as_error(false)
                .max_redirects(0)
                .max_redirects_will_error(false)
                .proxy(None)
                .user_agent(concat!("dyn53/", env!("CARGO_PKG_VERSION")))
                .build();
            let connector = ().chain(TcpConnector::default()).chain(TlsConnector(self.tls.clone()));
            Agent::with_parts(config, connector, ExplainingResolver)
        })
    }

    /// Sends a request over the address family of `family`, within `budget`: a JSON body
    /// as a POST, or (`Query`) a GET of the url with the query string added. One piece
    /// (~60 lines, most of them ureq's builder chains): request, read, log, in order.
    pub fn send(
        &self,
        family: RecordType,
        request: Sent<'_>,
        budget: Duration,
    ) -> Result<Answer, Error> {
        self.check_literal_host(family)?;
        let fam = family_name(family);
        let agent = self.agent(family);
        let result = match request {
            Sent::Json(body) => agent
                .post(&self.url.text)
                .header("content-type", "application/json")
                .config()
                .timeout_global(Some(budget))
                .timeout_connect(Some(budget.min(CONNECT_MAX)))
                .build()
                .send(body.as_bytes()),
            Sent::Query(query) => {
                let sep = if self.url.text.contains('?') {
                    '&'
                } else {
                    '?'
                };
                agent
                    .get(format!("{}{sep}{query}", self.url.text))
                    .config()
                    .timeout_global(Some(budget))
                    .timeout_connect(Some(budget.min(CONNECT_MAX)))
                    .build()
                    .call()
            }
        };
        let mut resp = result.map_err(|e| self.explain(e, fam, budget))?;
        let status = resp.status().as_u16();
        let location = resp
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = resp
            .body_mut()
            .with_config()
            .limit(MAX_ANSWER)
            .read_to_vec()
            .map_err(|e| self.explain(e, fam, budget))?;
        log::debug!(
            "{} {} over {fam}: HTTP {status}, {} bytes",
            match request {
                Sent::Json(_) => "POST",
                Sent::Query(_) => "GET",
            },
            self.url.host,
            body.len()
        );
        Ok(Answer {
            status,
            location,
            body,
        })
    }

    /// An IP-literal URL host of the other family can never work: say so plainly.
    fn check_literal_host(&self, family: RecordType) -> Result<(), Error> {
        match crate::protocol::parse_ip(&self.url.host) {
            Some(ip) if !family.matches(ip) => Err(Error::Config(format!(
                "the url's host {} is an {} address, but {} records must be sent over {} \
                 (use a url whose host name has both A and AAAA records)",
                self.url.host,
                family_name(RecordType::for_ip(ip)),
                family,
                family_name(family)
            ))),
            _ => Ok(()),
        }
    }

    /// Turns a ureq error into a message a router owner can act on.
    fn explain(&self, e: ureq::Error, fam: &str, budget: Duration) -> Error {
        let host = &self.url.host;
        match e {
            ureq::Error::Timeout(_) => Error::Timeout(format!(
                "no answer from {host} within {}",
                crate::backoff::seconds(budget)
            )),
            ureq::Error::HostNotFound => Error::Network(format!(
                "{host} has no {fam} address in DNS (no {fam} connectivity on this network?)"
            )),
            ureq::Error::Other(inner) => match inner.downcast::<DnsError>() {
                Ok(dns) => Error::Network(format!(
                    "cannot resolve {host}: {} (DNS not ready yet?)",
                    dns.0
                )),
                Err(other) => Error::Network(format!("request to {host} failed: {other}")),
            },
            ureq::Error::Io(io) => explain_io(&io, host, fam),
            ureq::Error::BodyExceedsLimit(_) => Error::BadAnswer {
                status: 200,
                message: format!("the answer from {host} is larger than 64 KiB: is url right?"),
            },
            ureq::Error::Protocol(p) => Error::Network(format!(
                "{host} did not answer in HTTP/1.1 ({p}): is url right?"
            )),
            other => Error::Network(format!("request to {host} failed: {other}")),
        }
    }
}

fn family_name(family: RecordType) -> &'static str {
    match family {
        RecordType::A => "IPv4",
        RecordType::Aaaa => "IPv6",
    }
}

fn explain_io(io: &io::Error, host: &str, fam: &str) -> Error {
    if let Some(tls) = io.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        return crate::tls::explain(tls, host);
    }
    use io::ErrorKind as K;
    let what = match io.kind() {
        K::ConnectionRefused => format!(
            "{host} refused the {fam} connection (backend down, or the network is not up yet)"
        ),
        K::TimedOut | K::WouldBlock => {
            return Error::Timeout(format!("{host} did not answer in time"))
        }
        K::ConnectionReset | K::ConnectionAborted | K::UnexpectedEof | K::BrokenPipe => {
            format!("{host} closed the connection early")
        }
        K::NetworkUnreachable | K::HostUnreachable | K::AddrNotAvailable => {
            format!("no {fam} route to {host} (WAN not up yet, or no {fam} on this network)")
        }
        _ => format!("connection to {host} failed"),
    };
    Error::Network(format!("{what} ({io})"))
}

/// A name-resolution failure, kept apart from connection errors for clearer messages.
#[derive(Debug)]
struct DnsError(String);

impl fmt::Display for DnsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DnsError {}

/// Name resolution for the agents: the system resolver (getaddrinfo) on the calling thread,
/// addresses of the agent's family only, lookup failures marked as DNS errors.
///
/// ureq's `DefaultResolver` runs every lookup on a new thread so that it can give up at the
/// request's deadline; that thread and channel machinery cost 28.9 KB of the mipsel binary.
/// musl bounds a lookup itself (`options timeout:` in /etc/resolv.conf, 5 s by default), so
/// a resolver that never answers can hold a run at most that long past its deadline.
#[derive(Debug)]
struct ExplainingResolver;

impl Resolver for ExplainingResolver {
    fn resolve(
        &self,
        uri: &ureq::http::Uri,
        config: &ureq::config::Config,
        _timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let host_port = match (uri.scheme(), uri.authority()) {
            (Some(scheme), Some(authority)) => DefaultResolver::host_and_port(scheme, authority),
            _ => None,
        }
        .ok_or_else(|| ureq::Error::BadUri(format!("{uri} has no host or port")))?;
        let found = host_port
            .to_socket_addrs()
            .map_err(|e| ureq::Error::Other(Box::new(DnsError(e.to_string()))))?;
        let mut addrs = self.empty();
        for addr in config.ip_family().keep_wanted(found) {
            if addrs.try_push(addr).is_err() {
                break;
            }
        }
        if addrs.is_empty() {
            return Err(ureq::Error::HostNotFound);
        }
        Ok(addrs)
    }
}

/// Wraps https connections in rustls with our client configuration.
struct TlsConnector(Arc<ClientConfig>);

impl fmt::Debug for TlsConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TlsConnector")
    }
}

impl<In: Carrier> Connector<In> for TlsConnector {
    type Out = Either<In, TlsTransport>;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        let Some(transport) = chained else {
            return Ok(None);
        };
        if !details.needs_tls() || transport.is_tls() {
            return Ok(Some(Either::A(transport)));
        }
        let host = details.uri.host().unwrap_or_default();
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let name = ServerName::try_from(host.to_string())
            .map_err(|_| ureq::Error::Tls("the url's host is not a valid TLS server name"))?;
        let conn = ClientConnection::new(self.0.clone(), name)
            .map_err(|e| ureq::Error::Io(io::Error::new(io::ErrorKind::InvalidData, e)))?;
        let mut sock = TransportAdapter::new(transport.boxed(), details.current_time.clone());
        sock.set_timeout(details.timeout);
        let mut stream = StreamOwned::new(conn, sock);
        // Finish the handshake here, so certificate problems surface as connect errors.
        while stream.conn.is_handshaking() {
            stream.conn.complete_io(&mut stream.sock)?;
        }
        let buffers = LazyBuffers::new(
            details.config.input_buffer_size(),
            details.config.output_buffer_size(),
        );
        Ok(Some(Either::B(TlsTransport { buffers, stream })))
    }
}

/// A TLS connection carrying HTTP/1.1 for ureq.
pub struct TlsTransport {
    buffers: LazyBuffers,
    stream: StreamOwned<ClientConnection, TransportAdapter>,
}

impl fmt::Debug for TlsTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TlsTransport")
    }
}

impl Carrier for TlsTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        self.stream.get_mut().set_timeout(timeout);
        let output = &self.buffers.output()[..amount];
        self.stream.write_all(output)?;
        self.stream.flush()?;
        Ok(())
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        self.stream.get_mut().set_timeout(timeout);
        let input = self.buffers.input_append_buf();
        let amount = self.stream.read(input)?;
        self.buffers.input_appended(amount);
        Ok(amount > 0)
    }

    fn is_open(&mut self) -> bool {
        self.stream.get_mut().get_mut().is_open()
    }

    fn is_tls(&self) -> bool {
        true
    }
}
