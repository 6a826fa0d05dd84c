//! The generic JSON webhook: `POST {url}` with one object per alert (docs/BACKEND.md,
//! "Alert channels"):
//! `{"event", "host", "type", "old", "new", "time", "text"}`; `event` is one of change,
//! auth-failure, error, silent, back, alarm, test; `time` is Unix seconds; absent values
//! are `null`.

use super::Request;
use crate::notify::Message;
use serde_json::json;

/// The request that posts `msg` to `url`.
pub fn request(url: &str, msg: &Message) -> Request {
    let e = &msg.event;
    let body = json!({
        "event": e.kind.name(),
        "host": (!e.host.is_empty()).then_some(&e.host),
        "type": e.rtype.map(|t| t.as_str()),
        "old": e.old,
        "new": e.new,
        "time": e.time,
        "text": msg.text,
    });
    Request::json(url.to_string(), &body)
}
