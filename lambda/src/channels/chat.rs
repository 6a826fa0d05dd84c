//! Chat incoming webhooks: Slack and Mattermost take `{"text": ...}`
//! (api.slack.com/messaging/webhooks), Discord takes `{"content": ...}`
//! (discord.com/developers/docs/resources/webhook#execute-webhook).

use super::Request;
use crate::notify::Message;
use serde_json::json;

/// Which JSON field the webhook reads the text from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// Slack, Mattermost, Rocket.Chat and others: `text`.
    Slack,
    /// Discord: `content`.
    Discord,
}

impl Flavor {
    /// The name in `notify add` and the stored channel.
    pub fn name(self) -> &'static str {
        match self {
            Flavor::Slack => "slack",
            Flavor::Discord => "discord",
        }
    }
}

/// The request that posts `msg` to the webhook at `url`.
pub fn request(url: &str, flavor: Flavor, msg: &Message) -> Request {
    let body = match flavor {
        Flavor::Slack => json!({ "text": msg.text }),
        Flavor::Discord => json!({ "content": msg.text }),
    };
    Request::json(url.to_string(), &body)
}
