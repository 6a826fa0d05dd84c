//! ntfy (ntfy.sh or a self-hosted server): `POST {server}/{topic}` with the text as the
//! body and the `Title`, `Priority` and `Tags` headers (docs.ntfy.sh/publish).

use super::{header_text, Request};
use crate::notify::{Kind, Message};

/// The request that publishes `msg` to `topic`; `token` is an access token (`tk_...`).
pub fn request(server: &str, topic: &str, token: Option<&str>, msg: &Message) -> Request {
    let (priority, tag) = match msg.event.kind {
        Kind::Change => ("default", "globe_with_meridians"),
        Kind::AuthFailure => ("high", "lock"),
        Kind::Error | Kind::Alarm => ("high", "rotating_light"),
        Kind::Silent => ("high", "warning"),
        Kind::Back => ("default", "white_check_mark"),
        Kind::Test => ("low", "bell"),
    };
    let mut headers = vec![
        ("Title".to_string(), header_text(&msg.subject)),
        ("Priority".to_string(), priority.to_string()),
        ("Tags".to_string(), format!("dyn53,{tag}")),
        (
            "Content-Type".to_string(),
            "text/plain; charset=utf-8".to_string(),
        ),
    ];
    if let Some(t) = token {
        headers.push(("Authorization".to_string(), format!("Bearer {t}")));
    }
    Request {
        url: format!("{}/{topic}", server.trim_end_matches('/')),
        headers,
        body: msg.text.clone().into_bytes(),
    }
}
