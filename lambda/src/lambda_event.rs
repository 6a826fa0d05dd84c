//! The Lambda transport: function URL (payload 2.0), API Gateway HTTP API and REST API
//! events, through lambda_http, into the same [`Handle`] as the local service; and the
//! non-proxy API Gateway events of 2015/2016 reference deployments (see [`non_proxy_call`]).

use crate::call::{Call, Method, Reply};
use crate::dyndns2;
use crate::handler::Handle;
use crate::log;
use crate::watch::Events;
use dyn53::protocol::{parse_ip, ErrorCode, Form, Response};
use lambda_http::request::RequestContext;
use lambda_http::{service_fn, Body, RequestExt};
use serde_json::Value;
use std::net::IpAddr;
use std::sync::Arc;

/// Serves Lambda invocations until the runtime stops the process.
pub async fn run<H: Handle>(handler: Arc<H>) -> Result<(), lambda_http::Error> {
    run_with(handler, Arc::new(())).await
}

/// The same, with `events` answering the schedule and SNS events (see [`crate::watch`]).
pub async fn run_with<H: Handle, E: Events>(
    handler: Arc<H>,
    events: Arc<E>,
) -> Result<(), lambda_http::Error> {
    lambda_http::run(service_fn(move |req: lambda_http::Request| {
        let (handler, events) = (handler.clone(), events.clone());
        async move { Ok::<_, lambda_http::Error>(respond_with(&*handler, &*events, req).await) }
    }))
    .await
}

/// Answers one event: a schedule or SNS event through `events`, anything else as a request.
pub async fn respond_with<H: Handle, E: Events>(
    handler: &H,
    events: &E,
    req: lambda_http::Request,
) -> lambda_http::Response<Body> {
    // Non-HTTP events reach lambda_http as pass-through, the event itself as the body.
    if matches!(req.request_context_ref(), Some(RequestContext::PassThrough)) {
        if let Ok(v) = serde_json::from_slice::<Value>(req.body().as_ref()) {
            if let Some(answer) = events.event(&v).await {
                return to_response(Reply {
                    status: 200,
                    content_type: crate::call::JSON,
                    headers: Vec::new(),
                    body: answer.to_string(),
                });
            }
        }
    }
    respond(handler, req).await
}

/// The caller's address as the event reports it (`sourceIp`).
pub fn source_ip(req: &lambda_http::Request) -> Option<IpAddr> {
    let text = match req.request_context_ref()? {
        RequestContext::ApiGatewayV2(ctx) => ctx.http.source_ip.as_deref(),
        RequestContext::ApiGatewayV1(ctx) => ctx.identity.source_ip.as_deref(),
        _ => None,
    }?;
    parse_ip(text)
}

/// Answers one event.
pub async fn respond<H: Handle>(
    handler: &H,
    req: lambda_http::Request,
) -> lambda_http::Response<Body> {
    if dyndns2::is_update_path(req.uri().path()) {
        return match to_update(&req) {
            Ok(update) => to_response(handler.handle_dyndns2(update).await),
            Err(reply) => to_response(reply),
        };
    }
    match to_call(&req) {
        Ok(call) => to_response(handler.handle(call).await),
        Err(reply) => to_response(reply),
    }
}

/// The dyndns2 request an event to `/nic/update` carries.
pub fn to_update(req: &lambda_http::Request) -> Result<dyndns2::Update, Reply> {
    let Some(source) = source_ip(req) else {
        log::error("dyndns2 event without a usable sourceIp");
        return Err(Reply::text(200, "911\n".into()));
    };
    let authorization = req
        .headers()
        .get(lambda_http::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    Ok(dyndns2::Update {
        source,
        method: Method::from_name(req.method().as_str()),
        query: req.uri().query().map(str::to_string),
        authorization,
    })
}

/// The call an event carries, or the answer when it has no usable caller address.
pub fn to_call(req: &lambda_http::Request) -> Result<Call, Reply> {
    if matches!(req.request_context_ref(), Some(RequestContext::PassThrough)) {
        return non_proxy_call(req.body().as_ref());
    }
    let Some(source) = source_ip(req) else {
        log::error("event without a usable sourceIp; is this a function URL or API Gateway event?");
        let r = Response::error(ErrorCode::Internal, "the caller's address is unknown");
        return Err(Reply::from(&r));
    };
    Ok(Call {
        source,
        method: Method::from_name(req.method().as_str()),
        query: req.uri().query().map(str::to_string),
        body: req.body().as_ref().to_vec(),
    })
}

/// A non-proxy API Gateway event (an integration with a mapping template), whose answer
/// is returned as the JSON object itself (lambda_http's pass-through):
///
/// - the 2016 rebuild's: `execution_mode`, `source_ip` (the template fills it from the
///   gateway's `$context.identity.sourceIp`), `set_hostname`, `validation_hash`, and
///   `query_string` (not needed). It is the query form with the address the gateway saw, so
///   it is answered as the 2015/2016 handler answers, and authenticated by its hash.
/// - the Merlin design's `{"ip", "X-Forwarded-For"}`: no hostname and no token. Only the
///   gateway's IAM authorisation vouched for it, which the function cannot check, so it is
///   refused (nothing changes) and the owner is told to move the router to a signed form.
pub fn non_proxy_call(event: &[u8]) -> Result<Call, Reply> {
    let refuse = |code, msg: &str| Err(Reply::render(&Response::error(code, msg), Form::Query));
    let Ok(Value::Object(event)) = serde_json::from_slice::<Value>(event) else {
        log::error("event is neither an HTTP event nor a JSON object");
        return refuse(ErrorCode::BadRequest, "unrecognised event");
    };
    let text = |k: &str| event.get(k).and_then(Value::as_str);
    if text("execution_mode").is_none() && event.contains_key("ip") {
        log::error(
            "refused a Merlin-design event ({\"ip\", \"X-Forwarded-For\"}): it names no host \
             and carries no token; move the router to the dyn53 client or the query form",
        );
        return refuse(
            ErrorCode::NotAllowed,
            "this request names no host and carries no token, so dyn53 cannot authenticate \
             it; nothing was changed (use the dyn53 client, or mode=set with hostname and hash)",
        );
    }
    let Some(source) = text("source_ip").and_then(parse_ip) else {
        log::error(
            "non-proxy event without a usable source_ip (the mapping template must pass \
             $context.identity.sourceIp)",
        );
        let r = Response::error(ErrorCode::Internal, "the caller's address is unknown");
        return Err(Reply::render(&r, Form::Query));
    };
    let mut query = format!("mode={}", escape(text("execution_mode").unwrap_or("")));
    for (key, field) in [("hostname", "set_hostname"), ("hash", "validation_hash")] {
        if let Some(v) = text(field).filter(|v| !v.is_empty()) {
            query.push_str(&format!("&{key}={}", escape(v)));
        }
    }
    Ok(Call {
        source,
        method: Method::Get,
        query: Some(query),
        body: Vec::new(),
    })
}

/// Percent-encodes everything but unreserved characters, so a value cannot add fields.
fn escape(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn to_response(reply: Reply) -> lambda_http::Response<Body> {
    let mut b = lambda_http::Response::builder()
        .status(reply.status)
        .header("content-type", reply.content_type)
        .header("cache-control", "no-store")
        // The reference handler's CORS headers, so browser-based clients keep working.
        .header("access-control-allow-headers", "Content-Type")
        .header("access-control-allow-origin", "*")
        .header("access-control-allow-methods", "GET");
    for (name, value) in reply.headers {
        b = b.header(name, value);
    }
    b.body(Body::from(reply.body))
        .unwrap_or_else(|_| lambda_http::Response::new(Body::Empty))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapping_template_event_becomes_the_query_form() {
        let ev = br#"{"execution_mode":"set","source_ip":"203.0.113.7","query_string":"{}",
            "validation_hash":"ab12","set_hostname":"home.example.com."}"#;
        let call = non_proxy_call(ev).unwrap();
        assert_eq!(call.source, "203.0.113.7".parse::<IpAddr>().unwrap());
        assert_eq!((call.method, call.body.len()), (Method::Get, 0));
        assert_eq!(
            call.query.as_deref(),
            Some("mode=set&hostname=home.example.com.&hash=ab12")
        );
        let get = br#"{"execution_mode":"get","source_ip":"2001:db8::1","set_hostname":""}"#;
        assert_eq!(
            non_proxy_call(get).unwrap().query.as_deref(),
            Some("mode=get")
        );
        // A value cannot add or repeat fields.
        let ev = br#"{"execution_mode":"set&mode=get","source_ip":"203.0.113.7",
            "set_hostname":"a.example&hash=00"}"#;
        assert_eq!(
            non_proxy_call(ev).unwrap().query.as_deref(),
            Some("mode=set%26mode%3Dget&hostname=a.example%26hash%3D00")
        );
    }

    #[test]
    fn events_without_host_token_or_source_are_refused() {
        let refused = |ev: &[u8]| non_proxy_call(ev).unwrap_err();
        let merlin = refused(br#"{"ip":"198.51.100.7","X-Forwarded-For":"198.51.100.7"}"#);
        assert_eq!(merlin.status, 403);
        assert!(
            merlin.body.contains("cannot authenticate"),
            "{}",
            merlin.body
        );
        assert!(merlin
            .body
            .starts_with(r#"{"return_status": "fail", "return_message": ""#));
        let no_source = refused(br#"{"execution_mode":"get","source_ip":"not an ip"}"#);
        assert_eq!(no_source.status, 500);
        assert_eq!(refused(b"[1,2]").status, 400);
        assert_eq!(refused(b"\"text\"").status, 400);
    }
}
