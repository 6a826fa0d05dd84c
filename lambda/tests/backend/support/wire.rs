//! Simulated routers speaking the dyn53 protocol over async HTTP/1.1, each from its own
//! loopback source address (Linux routes all of 127.0.0.0/8 to lo), so the backend sees
//! distinct callers exactly as it sees routers: by their TCP source address.

use dyn53::protocol::{v1_token, IpMode, RecordType, Request, Response, SetV2, SignedFields};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpSocket, TcpStream};

/// Longest wait for one answer (the backend answers well within this or the test is broken).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(120);

/// The `n`th distinct loopback address (127.1.0.1, 127.1.0.2, ...), `n` < 16 million.
pub fn loopback(n: u32) -> IpAddr {
    let n = n + 1;
    IpAddr::V4(Ipv4Addr::new(
        127,
        1 + (n >> 16) as u8,
        (n >> 8) as u8,
        n as u8,
    ))
}

/// One keep-alive connection from a chosen source address.
pub struct Conn {
    r: BufReader<TcpStream>,
    /// The source address the backend sees.
    pub source: IpAddr,
}

/// A failed exchange (connection refused, reset, or a malformed answer).
#[derive(Debug)]
pub struct WireError(pub String);

impl From<std::io::Error> for WireError {
    fn from(e: std::io::Error) -> Self {
        WireError(e.to_string())
    }
}

/// An answer: HTTP status and the parsed dyn53 response.
#[derive(Debug, Clone)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// The dyn53 answer.
    pub r: Response,
}

impl Conn {
    /// Connects to `to` from `source`.
    pub async fn open(source: IpAddr, to: SocketAddr) -> Result<Conn, WireError> {
        let sock = TcpSocket::new_v4()?;
        sock.bind(SocketAddr::new(source, 0))?;
        let s = sock.connect(to).await?;
        let _ = s.set_nodelay(true);
        Ok(Conn {
            r: BufReader::new(s),
            source,
        })
    }

    /// POSTs a JSON body and reads the answer.
    pub async fn post(&mut self, body: &str) -> Result<Answer, WireError> {
        self.send("POST", "/", body.as_bytes()).await
    }

    /// GETs `target` (v1 query form) and reads the answer.
    pub async fn get(&mut self, target: &str) -> Result<Answer, WireError> {
        self.send("GET", target, b"").await
    }

    async fn send(&mut self, method: &str, target: &str, body: &[u8]) -> Result<Answer, WireError> {
        let mut msg = format!(
            "{method} {target} HTTP/1.1\r\nhost: dyn53\r\ncontent-type: application/json\r\n\
             content-length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        msg.extend_from_slice(body);
        self.r.get_mut().write_all(&msg).await?;
        tokio::time::timeout(ANSWER_TIMEOUT, self.read_answer())
            .await
            .map_err(|_| WireError("no answer in time".into()))?
    }

    async fn read_answer(&mut self) -> Result<Answer, WireError> {
        let mut line = String::new();
        if self.r.read_line(&mut line).await? == 0 {
            return Err(WireError("connection closed".into()));
        }
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| WireError(format!("bad status line {line:?}")))?;
        let mut len = 0usize;
        loop {
            let mut h = String::new();
            self.r.read_line(&mut h).await?;
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                if k.trim().eq_ignore_ascii_case("content-length") {
                    len = v
                        .trim()
                        .parse()
                        .map_err(|_| WireError("bad length".into()))?;
                }
            }
        }
        let mut body = vec![0; len];
        self.r.read_exact(&mut body).await?;
        let r = Response::from_answer(status, &body)
            .map_err(|e| WireError(format!("{e}: {}", String::from_utf8_lossy(&body))))?;
        Ok(Answer { status, r })
    }

    /// A v2 get: the nonce.
    pub async fn nonce(&mut self) -> Result<String, WireError> {
        let a = self.post(&Request::Get.to_json()).await?;
        a.r.nonce
            .ok_or_else(|| WireError(format!("get answered {} without a nonce", a.status)))
    }

    /// A signed v2 set of `host`'s A record to this connection's source address.
    pub async fn set_v2(
        &mut self,
        host: &str,
        secret: &str,
        nonce: &str,
    ) -> Result<Answer, WireError> {
        let ip = self.source;
        let fields = SignedFields {
            hostname: host,
            record_type: RecordType::A,
            ip,
            ip_mode: IpMode::Source,
            nonce,
        };
        let body = Request::SetV2(SetV2 {
            hostname: host.to_string(),
            record_type: RecordType::A,
            ip,
            ip_mode: IpMode::Source,
            signature: fields.sign(secret),
            nonce: nonce.to_string(),
            lan_prefix: None,
        })
        .to_json();
        self.post(&body).await
    }

    /// A v1 set (query form, as the reference clients send it).
    pub async fn set_v1(&mut self, host: &str, secret: &str) -> Result<Answer, WireError> {
        let hash = v1_token(&self.source.to_string(), host, secret);
        self.get(&format!("/?mode=set&hostname={host}&hash={hash}"))
            .await
    }

    /// get + v2 set on this connection.
    pub async fn update_v2(&mut self, host: &str, secret: &str) -> Result<Answer, WireError> {
        let nonce = self.nonce().await?;
        self.set_v2(host, secret, &nonce).await
    }
}
