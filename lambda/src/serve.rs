//! The local service: the same handler over plain HTTP/1.1 (keep-alive, so a client's get
//! and set share one connection), for `make demo`, router tests and self-hosting.

use crate::call::{too_large, Call, Method, Reply};
use crate::dyndns2;
use crate::handler::Handle;
use crate::log;
use dyn53::protocol::{canonical_ip, parse_ip, ErrorCode, Response as Answer, MAX_BODY};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderName, AUTHORIZATION, CONNECTION, CONTENT_LENGTH, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::collections::HashMap;
use std::convert::Infallible;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// Most connections served at once; more wait in the listen backlog.
pub const MAX_CONNECTIONS: usize = 1024;

/// Most requests handled at once; more wait their turn. Without a bound, a crowd of routers
/// (an ISP outage ending) would start so many AWS calls at once that they time out in the
/// SDK and fail together, instead of being answered one after another.
pub const MAX_IN_FLIGHT: usize = 64;

/// Time a client has to send a request's headers (also bounds idle keep-alive).
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(15);

/// Time a client has to send a request's body once its headers are in. Bodies are at most
/// 4 KiB; without a bound, connections that send one byte of a declared body hold their
/// slots for ever and, enough of them, keep every other router out.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(10);

/// Default of the most connections one address may hold open at once (when the peer is
/// the client, not a trusted proxy): one address cannot take all [`MAX_CONNECTIONS`].
/// Connections beyond it are closed at once. A router needs one; a NAT full of them a few.
pub const MAX_PER_ADDRESS: usize = 32;

/// Open connections per peer address; an entry is released when its connection ends.
#[derive(Default)]
struct PerAddress(std::sync::Mutex<HashMap<IpAddr, usize>>);

/// One connection counted in [`PerAddress`].
struct Counted(Arc<PerAddress>, IpAddr);

impl PerAddress {
    fn admit(self: &Arc<Self>, ip: IpAddr, most: usize) -> Option<Counted> {
        let mut open = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let n = open.entry(ip).or_insert(0);
        if *n >= most {
            return None;
        }
        *n += 1;
        Some(Counted(self.clone(), ip))
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        let mut open = (self.0).0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = open.get_mut(&self.1) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.1);
            }
        }
    }
}

/// Accepts connections on `listener` forever.
///
/// The caller's address is the TCP peer; with `proxy_header` (only behind a trusted reverse
/// proxy) it is the last address in that header instead. One peer address may hold at most
/// `per_address` connections (0: no limit; not applied behind a proxy).
pub async fn serve<H: Handle>(
    handler: Arc<H>,
    listener: TcpListener,
    proxy_header: Option<HeaderName>,
    per_address: usize,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let in_flight = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let open = Arc::new(PerAddress::default());
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return Ok(());
        };
        let (stream, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                // Out of file descriptors and the like: pause instead of spinning.
                log::warn(format!("accept failed: {e}"));
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        // Behind a trusted proxy every connection comes from the proxy: no per-address cap.
        let counted = match (&proxy_header, per_address) {
            (Some(_), _) | (None, 0) => None,
            (None, most) => match open.admit(canonical_ip(peer.ip()), most) {
                Some(c) => Some(c),
                None => {
                    log::warn(format!(
                        "{}: more than {most} connections; closed",
                        peer.ip()
                    ));
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let handler = handler.clone();
        let header = proxy_header.clone();
        let in_flight = in_flight.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req| {
                let handler = handler.clone();
                let header = header.clone();
                let in_flight = in_flight.clone();
                async move {
                    let reply = respond(handler, req, peer.ip(), header.as_ref(), &in_flight).await;
                    Ok::<_, Infallible>(reply)
                }
            });
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), svc);
            let _ = conn.await;
            drop(counted);
            drop(slot);
        });
    }
}

/// The address in the trusted proxy's header: the last entry, the one the proxy added.
fn forwarded_ip(req: &Request<Incoming>, name: &HeaderName) -> Option<IpAddr> {
    let value = req
        .headers()
        .get_all(name)
        .iter()
        .next_back()?
        .to_str()
        .ok()?;
    parse_ip(value.rsplit(',').next()?.trim())
}

/// A header's value as text, if present and readable.
fn header_text(req: &Request<Incoming>, name: HeaderName) -> Option<String> {
    Some(req.headers().get(name)?.to_str().ok()?.to_string())
}

fn response(reply: Reply, close: bool) -> Response<Full<Bytes>> {
    let mut b = Response::builder()
        .status(reply.status)
        .header(CONTENT_TYPE, reply.content_type)
        .header("cache-control", "no-store");
    for (name, value) in reply.headers {
        b = b.header(name, value);
    }
    if close {
        b = b.header(CONNECTION, "close");
    }
    b.body(Full::new(Bytes::from(reply.body)))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

fn refuse(answer: Answer) -> Response<Full<Bytes>> {
    // The unread rest of the request cannot be trusted: close after answering.
    response(Reply::from(&answer), true)
}

async fn respond<H: Handle>(
    handler: Arc<H>,
    req: Request<Incoming>,
    peer: IpAddr,
    proxy_header: Option<&HeaderName>,
    in_flight: &Arc<Semaphore>,
) -> Response<Full<Bytes>> {
    let source = match proxy_header {
        None => canonical_ip(peer),
        Some(name) => match forwarded_ip(&req, name) {
            Some(ip) => ip,
            None => {
                log::warn(format!("request from {peer} without a valid {name} header"));
                return refuse(Answer::error(
                    ErrorCode::BadRequest,
                    format!("expected the client address in the {name} header from the proxy"),
                ));
            }
        },
    };
    // Refuse a declared oversize body before reading any of it.
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY as u64) {
        return refuse(too_large());
    }
    let method = Method::from_name(req.method().as_str());
    let query = req.uri().query().map(str::to_string);
    let dyndns2 = dyndns2::is_update_path(req.uri().path()).then(|| dyndns2::Update {
        source,
        method,
        query: query.clone(),
        authorization: header_text(&req, AUTHORIZATION),
    });
    let read = Limited::new(req.into_body(), MAX_BODY).collect();
    let body = match tokio::time::timeout(BODY_TIMEOUT, read).await {
        Ok(Ok(collected)) => collected.to_bytes().to_vec(),
        Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => return refuse(too_large()),
        Err(_) => {
            log::warn(format!("{source}: request body not sent in time; closed"));
            return refuse(Answer::error(
                ErrorCode::BadRequest,
                "the request body did not arrive in time",
            ));
        }
        Ok(Err(_)) => {
            return refuse(Answer::error(
                ErrorCode::BadRequest,
                "the request body could not be read",
            ))
        }
    };
    // A request whose client leaves while it waits for its turn is dropped; once started,
    // it runs to the end in its own task (as a Lambda invocation does), so a client that
    // gives up mid-update cannot leave the host's lock held or a change half done.
    let Ok(turn) = in_flight.clone().acquire_owned().await else {
        return refuse(Answer::error(ErrorCode::Unavailable, "shutting down"));
    };
    let call = Call {
        source,
        method,
        query,
        body,
    };
    let task = tokio::spawn(async move {
        let reply = match dyndns2 {
            Some(update) => handler.handle_dyndns2(update).await,
            None => handler.handle(call).await,
        };
        drop(turn);
        reply
    });
    let reply = match task.await {
        Ok(reply) => reply,
        Err(e) => {
            log::error(format!("request from {source} failed: {e}"));
            Reply::from(&Answer::error(
                ErrorCode::Internal,
                "internal error; try again later",
            ))
        }
    };
    response(reply, false)
}
