//! [`Notifier`] on an SNS topic (SMS and email subscriptions).

use crate::aws_error;
use crate::notify::{Notifier, NotifyError};
use aws_sdk_sns::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sns::operation::publish::PublishError;
use aws_sdk_sns::Client;

/// Publishes to one topic.
#[derive(Clone, Debug)]
pub struct Sns {
    client: Client,
    topic_arn: String,
}

impl Sns {
    /// Publishes to `topic_arn` through `client`.
    pub fn new(client: Client, topic_arn: &str) -> Self {
        Sns {
            client,
            topic_arn: topic_arn.to_string(),
        }
    }
}

/// An email subject: printable ASCII, at most 100 characters (SNS rejects anything else).
fn subject_line(s: &str) -> String {
    s.chars()
        .map(|c| if (' '..='~').contains(&c) { c } else { '?' })
        .take(100)
        .collect()
}

/// Whether SNS answered that it did not take the message (throttled or failed), so sending
/// it again cannot make a duplicate. A timeout or a lost answer is not: the text may be out.
fn refused<R>(e: &SdkError<PublishError, R>) -> bool {
    match e {
        SdkError::ServiceError(se) => matches!(
            se.err().code(),
            Some(
                "InternalError"
                    | "InternalFailure"
                    | "ServiceUnavailable"
                    | "Throttling"
                    | "ThrottledException"
                    | "KMSThrottlingException"
            )
        ),
        _ => false,
    }
}

impl Notifier for Sns {
    async fn publish(&self, subject: &str, text: &str) -> Result<(), NotifyError> {
        let send = || {
            self.client
                .publish()
                .topic_arn(&self.topic_arn)
                .subject(subject_line(subject))
                .message(text)
                .send()
        };
        // At most once: one more try only when SNS surely did not take the first.
        let result = match send().await {
            Err(e) if refused(&e) => send().await,
            other => other,
        };
        result
            .map(|_| ())
            .map_err(|e| NotifyError(aws_error::detail(&e)))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn subjects_are_safe() {
        assert_eq!(super::subject_line("a\nb"), "a?b");
        assert_eq!(super::subject_line(&"x".repeat(200)).len(), 100);
    }
}
