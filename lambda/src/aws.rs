//! AWS SDK wiring: one HTTP client (rustls with ring, so the arm64 musl build needs no
//! cmake or aws-lc), timeouts, and the three clients the backend uses.

use crate::dynamo::Dynamo;
use crate::handler::Backend;
use crate::limiter::Limiter;
use crate::metrics::Emf;
use crate::retry::Backoff;
use crate::route53::Route53;
use crate::sealed::Sealing;
use crate::settings::Settings;
use crate::sns::Sns;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, ConfigLoader, SdkConfig};
use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
use std::time::Duration;

/// The backend as deployed: Route 53, DynamoDB, SNS and EMF metrics.
pub type AwsBackend<W> = Backend<Route53, Dynamo, Sns, Emf<W>>;

/// Config loader with dyn53's HTTP client, timeouts and retries; the region, credentials
/// and `AWS_ENDPOINT_URL` (moto) come from the environment unless the caller sets them.
pub fn config_loader() -> ConfigLoader {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https();
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(http)
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(2))
                .read_timeout(Duration::from_secs(3))
                .operation_attempt_timeout(Duration::from_secs(3))
                .operation_timeout(Duration::from_secs(7))
                .build(),
        )
        // DynamoDB and SNS: one quick retry; a slow table must become a clear 503 in time.
        .retry_config(RetryConfig::standard().with_max_attempts(2))
}

/// Loads the config from the environment.
pub async fn load_config() -> SdkConfig {
    config_loader().load().await
}

/// Route 53 with the SDK's retries off: [`crate::retry`] retries inside `budget` instead.
pub fn route53(cfg: &SdkConfig, budget: Duration) -> Route53 {
    let conf = aws_sdk_route53::config::Builder::from(cfg)
        .retry_config(RetryConfig::disabled())
        .build();
    Route53::new(
        aws_sdk_route53::Client::from_conf(conf),
        Backoff::with_budget(budget),
    )
}

/// The host table.
pub fn dynamo(cfg: &SdkConfig, table: &str) -> Dynamo {
    Dynamo::new(aws_sdk_dynamodb::Client::new(cfg), table)
}

/// The host table, sealing host secrets with `kms_key` when given (see [`crate::sealed`]).
pub fn sealed_dynamo(cfg: &SdkConfig, table: &str, kms_key: Option<&str>) -> Dynamo {
    let dynamo = dynamo(cfg, table);
    match kms_key {
        Some(key) => dynamo.with_sealing(Sealing::new(aws_sdk_kms::Client::new(cfg), key)),
        None => dynamo,
    }
}

/// The notification topic, with the SDK's retries off: a repeated Publish after a timeout
/// would send the owner a second text, so [`Sns`] repeats only what SNS said it refused.
pub fn sns(cfg: &SdkConfig, topic_arn: &str) -> Sns {
    let conf = aws_sdk_sns::config::Builder::from(cfg)
        .retry_config(RetryConfig::disabled())
        .build();
    Sns::new(aws_sdk_sns::Client::from_conf(conf), topic_arn)
}

/// The whole backend from `settings`, writing metrics to `out`.
pub fn backend<W: std::io::Write + Send>(
    cfg: &SdkConfig,
    settings: &Settings,
    out: W,
) -> AwsBackend<W> {
    let table = sealed_dynamo(cfg, &settings.table, settings.kms_key.as_deref());
    let dns = route53(cfg, settings.dns_budget);
    let dns = match settings.route53_pace {
        Some(limit) => dns.paced(Limiter::new(table.items().clone(), limit)),
        None => dns,
    };
    Backend::new(
        dns,
        table,
        settings.topic_arn.as_deref().map(|arn| sns(cfg, arn)),
        Emf::new(&settings.namespace, out),
        settings.policy.clone(),
        settings.nonce_key.clone(),
    )
}
