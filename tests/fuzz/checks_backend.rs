//! The property of the `event` fuzz target, shared with lambda/tests/fuzz_corpus.rs, which
//! replays its corpus and saved crashes in `make test`.

use dyn53::protocol::Request;
use dyn53_backend::call;
use dyn53_backend::lambda_event::to_call;

/// Any Lambda event (function URL, API Gateway REST or HTTP API JSON) is turned into a call
/// and parsed without panicking; an accepted request survives a write/parse round trip.
pub fn event(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(req) = lambda_http::request::from_str(text) else {
        return;
    };
    let Ok(c) = to_call(&req) else { return };
    if let Ok(parsed) = call::parse(&c) {
        assert_eq!(
            Request::from_json(parsed.to_json().as_bytes()).ok(),
            Some(parsed)
        );
    }
}
