//! One small HTTPS client for the channels: hyper with rustls (ring) and the system's root
//! certificates, the stack the AWS SDK already builds on; plain http only to loopback.

use super::Request;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_rustls::{ConfigBuilderExt, HttpsConnector};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// Most of an answer body read (only to keep the connection reusable).
const MAX_ANSWER: usize = 16 * 1024;

/// The channels' HTTP client (cheap to clone).
#[derive(Clone, Debug)]
pub struct Http {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
}

impl Http {
    /// A client trusting the system's root certificates.
    pub fn new() -> Result<Http, String> {
        Ok(Http {
            client: Client::builder(TokioExecutor::new()).build(connector()?),
        })
    }

    /// Sends `req` once, within `budget`. The error never quotes the URL (it may hold a
    /// token), only what went wrong.
    pub async fn post(&self, req: Request, budget: Duration) -> Result<(), String> {
        check_url(&req.url)?;
        let mut b = hyper::Request::post(req.url.as_str());
        for (name, value) in &req.headers {
            b = b.header(name.as_str(), value.as_str());
        }
        let request = b
            .header("user-agent", concat!("dyn53/", env!("CARGO_PKG_VERSION")))
            .body(Full::new(Bytes::from(req.body)))
            .map_err(|_| "the request is malformed (check the channel's settings)".to_string())?;
        let exchange = async {
            let answer = self.client.request(request).await.map_err(describe)?;
            let status = answer.status();
            // Read a little of the answer so the connection can be reused; ignore the rest.
            let body = http_body_util::Limited::new(answer.into_body(), MAX_ANSWER);
            let _ = body.collect().await;
            if status.is_success() {
                Ok(())
            } else {
                Err(format!("answered HTTP {}", status.as_u16()))
            }
        };
        match tokio::time::timeout(budget, exchange).await {
            Ok(r) => r,
            Err(_) => Err(format!("no answer within {} ms", budget.as_millis())),
        }
    }
}

/// The connector of the channels and of [`crate::aws_json`]: TLS with rustls (ring) trusting
/// the system's root certificates, or plain http (callers decide where that is allowed).
pub fn connector() -> Result<HttpsConnector<HttpConnector>, String> {
    // Read once per process: the channels, SSM and KMS each build a client at cold start.
    static TLS: OnceLock<Result<rustls::ClientConfig, String>> = OnceLock::new();
    let tls = TLS.get_or_init(|| {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        Ok(rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS setup: {e}"))?
            .with_native_roots()
            .map_err(|e| format!("cannot read the system's root certificates: {e}"))?
            .with_no_client_auth())
    });
    Ok(hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls.clone()?)
        .https_or_http()
        .enable_http1()
        .build())
}

/// What failed, from the error chain (hyper's errors name no URL).
pub fn describe(e: hyper_util::client::legacy::Error) -> String {
    let mut text = if e.is_connect() {
        "could not connect".to_string()
    } else {
        "request failed".to_string()
    };
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    text
}

/// Whether `url` may be used: https, or plain http to a loopback address (tests, a receiver
/// on the same machine as the local service). The error does not quote the URL.
pub fn check_url(url: &str) -> Result<(), String> {
    let uri: hyper::Uri = url
        .parse()
        .map_err(|_| "the URL is malformed".to_string())?;
    let host = uri.host().unwrap_or("");
    let loopback = host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match uri.scheme_str() {
        _ if host.is_empty() => Err("the URL names no server".into()),
        Some("https") => Ok(()),
        Some("http") if loopback => Ok(()),
        _ => {
            Err("the URL must start with https:// (plain http:// only to 127.0.0.1 or ::1)".into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::check_url;

    #[test]
    fn only_https_or_loopback_http() {
        assert!(check_url("https://ntfy.sh/topic").is_ok());
        assert!(check_url("http://127.0.0.1:8080/x").is_ok());
        assert!(check_url("http://[::1]:8080/x").is_ok());
        assert!(check_url("http://localhost/x").is_ok());
        let e = check_url("http://example.com/secret-token").unwrap_err();
        assert!(!e.contains("secret-token"), "{e}");
        assert!(check_url("ftp://example.com/").is_err());
        assert!(check_url("not a url").is_err());
        assert!(check_url("/relative").is_err());
    }
}
