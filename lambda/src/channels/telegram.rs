//! Telegram Bot API: `POST {api}/bot<token>/sendMessage` with the JSON object
//! `{"chat_id", "text"}` (core.telegram.org/bots/api#sendmessage).

use super::Request;
use crate::notify::Message;
use serde_json::{json, Value};

/// Telegram's API server.
pub const API: &str = "https://api.telegram.org";

/// The request that sends `msg` to `chat_id` (a number, or `@channelname`).
pub fn request(api: &str, token: &str, chat_id: &str, msg: &Message) -> Request {
    // The API takes an integer id or a string; send numbers as numbers.
    let chat: Value = chat_id
        .parse::<i64>()
        .map_or_else(|_| json!(chat_id), |n| json!(n));
    Request::json(
        format!("{}/bot{token}/sendMessage", api.trim_end_matches('/')),
        &json!({ "chat_id": chat, "text": msg.text }),
    )
}
