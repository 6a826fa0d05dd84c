//! One HTTP call, independent of how it arrived (function URL event, API Gateway event,
//! or the local service), and the reply to it.

use dyn53::protocol::{ErrorCode, Form, Request, Response, MAX_BODY};
use std::net::IpAddr;

/// The HTTP methods the protocol uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Query-string form (`?mode=get`, `?mode=set&hostname=&hash=`).
    Get,
    /// JSON body form.
    Post,
    /// Anything else (refused).
    Other,
}

impl Method {
    /// Maps an HTTP method name.
    pub fn from_name(name: &str) -> Method {
        if name.eq_ignore_ascii_case("GET") {
            Method::Get
        } else if name.eq_ignore_ascii_case("POST") {
            Method::Post
        } else {
            Method::Other
        }
    }
}

/// A call as the handler sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// The caller's address (TCP peer, `sourceIp`, or a trusted proxy header).
    pub source: IpAddr,
    /// HTTP method.
    pub method: Method,
    /// Raw query string without `?`, if any.
    pub query: Option<String>,
    /// Request body (already bounded by the transport).
    pub body: Vec<u8>,
}

/// Content type of protocol answers.
pub const JSON: &str = "application/json";
/// Content type of dyndns2 answers.
pub const TEXT: &str = "text/plain; charset=utf-8";

/// The answer: HTTP status, body and its type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// HTTP status code.
    pub status: u16,
    /// Body ([`JSON`] for the protocol, [`TEXT`] for dyndns2).
    pub body: String,
    /// Content type of `body`.
    pub content_type: &'static str,
    /// Headers beyond the usual ones (the `WWW-Authenticate` challenge of a dyndns2 401).
    pub headers: Vec<(&'static str, &'static str)>,
}

impl Reply {
    /// A plain-text answer.
    pub fn text(status: u16, body: String) -> Reply {
        Reply {
            status,
            body,
            content_type: TEXT,
            headers: Vec::new(),
        }
    }

    /// The answer to a request in `form` (v1: the reference's shape and codes).
    pub fn render(r: &Response, form: Form) -> Self {
        let (status, body) = r.render(form);
        Reply {
            status,
            body,
            content_type: JSON,
            headers: Vec::new(),
        }
    }
}

/// An answer given before the request was read (its form unknown): dyn53's full shape.
impl From<&Response> for Reply {
    fn from(r: &Response) -> Self {
        Reply::render(r, Form::V2)
    }
}

/// The form of a call, which decides how it is answered: a JSON body is v1 unless it asks
/// for protocol 2; everything else (query string, malformed) is answered as v1.
pub fn form(call: &Call) -> Form {
    match call.method {
        Method::Post if !call.body.iter().all(u8::is_ascii_whitespace) => Form::of_json(&call.body),
        _ => Form::Query,
    }
}

/// The answer to a body over [`MAX_BODY`] (also used by transports that stop reading early).
pub fn too_large() -> Response {
    Response::error(
        ErrorCode::TooLarge,
        format!("request too large (at most {MAX_BODY} bytes)"),
    )
}

/// Turns a call into a protocol request, or the error answer for a malformed one.
pub fn parse(call: &Call) -> Result<Request, Response> {
    let query = call.query.as_deref().unwrap_or("");
    if call.body.len() > MAX_BODY || query.len() > MAX_BODY {
        return Err(too_large());
    }
    let bad = |e: dyn53::protocol::BadRequest| Response::error(ErrorCode::BadRequest, e.0);
    let body_blank = call.body.iter().all(u8::is_ascii_whitespace);
    match call.method {
        Method::Post if !body_blank => Request::from_json(&call.body).map_err(bad),
        Method::Get | Method::Post if !query.is_empty() => Request::from_query(query).map_err(bad),
        Method::Get | Method::Post => Err(Response::error(
            ErrorCode::BadRequest,
            "empty request: send ?mode=get, or POST a JSON body like {\"execution_mode\":\"get\"}",
        )),
        Method::Other => Err(Response::error(
            ErrorCode::BadRequest,
            "use GET with ?mode=... or POST with a JSON body",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(method: Method, query: Option<&str>, body: &[u8]) -> Call {
        Call {
            source: "203.0.113.9".parse().unwrap(),
            method,
            query: query.map(str::to_string),
            body: body.to_vec(),
        }
    }

    #[test]
    fn forms() {
        assert_eq!(
            parse(&call(Method::Get, Some("mode=get"), b"")),
            Ok(Request::Get)
        );
        assert_eq!(
            parse(&call(Method::Post, None, br#"{"execution_mode":"get"}"#)),
            Ok(Request::Get)
        );
        let err = |c: &Call| parse(c).unwrap_err().error.unwrap();
        assert_eq!(err(&call(Method::Get, None, b"")), ErrorCode::BadRequest);
        assert_eq!(
            err(&call(Method::Other, Some("mode=get"), b"")),
            ErrorCode::BadRequest
        );
        assert_eq!(err(&call(Method::Post, None, b"{")), ErrorCode::BadRequest);
        assert_eq!(
            err(&call(Method::Post, None, &vec![b'{'; MAX_BODY + 1])),
            ErrorCode::TooLarge
        );
    }
}
