//! The Lambda transport: function URL (payload 2.0), API Gateway HTTP API and REST API
//! events, through lambda_http, into the same [`Handle`] as the local service.

use crate::call::{Call, Method, Reply};
use crate::dyndns2;
use crate::handler::Handle;
use crate::log;
use dyn53::protocol::{parse_ip, ErrorCode, Response};
use lambda_http::request::RequestContext;
use lambda_http::{service_fn, Body, RequestExt};
use std::net::IpAddr;
use std::sync::Arc;

/// Serves Lambda invocations until the runtime stops the process.
pub async fn run<H: Handle>(handler: Arc<H>) -> Result<(), lambda_http::Error> {
    lambda_http::run(service_fn(move |req: lambda_http::Request| {
        let handler = handler.clone();
        async move { Ok::<_, lambda_http::Error>(respond(&*handler, req).await) }
    }))
    .await
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

fn to_response(reply: Reply) -> lambda_http::Response<Body> {
    let mut b = lambda_http::Response::builder()
        .status(reply.status)
        .header("content-type", reply.content_type)
        .header("cache-control", "no-store");
    for (name, value) in reply.headers {
        b = b.header(name, value);
    }
    b.body(Body::from(reply.body))
        .unwrap_or_else(|_| lambda_http::Response::new(Body::Empty))
}
