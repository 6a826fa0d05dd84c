//! AWS SDK wiring: one HTTP client (rustls with ring, so the arm64 musl build needs no
//! cmake or aws-lc), timeouts, and the SDK clients the backend uses (Route 53, DynamoDB,
//! SNS); SSM and KMS are signed JSON calls with the same config ([`crate::aws_json`]).

use crate::aws_json::AwsJson;
use crate::channels::{Channel, Fanout};
use crate::dynamo::Dynamo;
use crate::handler::Backend;
use crate::limiter::Limiter;
use crate::log;
use crate::metrics::Emf;
use crate::notify::Notifier;
use crate::retry::Backoff;
use crate::route53::Route53;
use crate::sealed::Sealing;
use crate::settings::Settings;
use crate::sns::Sns;
use crate::ssm::ChannelStore;
use crate::watch::Watch;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, ConfigLoader, SdkConfig};
use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
use std::time::Duration;

/// The backend on Route 53, DynamoDB, SNS and EMF metrics.
pub type AwsBackend<W> = Backend<Route53, Dynamo, Sns, Emf<W>>;

/// The backend as deployed: the same with SNS plus the push channels.
pub type AlertingBackend<W> = Backend<Route53, Dynamo, Fanout<Sns>, Emf<W>>;

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
        Some(key) => dynamo.with_sealing(Sealing::new(AwsJson::kms(cfg), key)),
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

/// The push channels under `DYN53_SSM_PATH`, read once (at start-up: a cold start). A
/// failure is logged and leaves SNS alone working: alerts must not stop the DNS service.
pub async fn channels(cfg: &SdkConfig, settings: &Settings) -> Vec<Channel> {
    let Some(path) = &settings.ssm_path else {
        return Vec::new();
    };
    match ChannelStore::new(AwsJson::ssm(cfg), path).load().await {
        Ok(list) => {
            let names: Vec<_> = list.iter().map(|c| c.name.as_str()).collect();
            log::info(format!(
                "alert channels: {}",
                if names.is_empty() {
                    "none".to_string()
                } else {
                    names.join(", ")
                }
            ));
            list
        }
        Err(e) => {
            log::error(format!(
                "{e}; push alerts are off until the next cold start"
            ));
            Vec::new()
        }
    }
}

/// SNS (if a topic is set) plus `channels`; None when there is nothing to send to.
pub fn alerts(cfg: &SdkConfig, settings: &Settings, channels: Vec<Channel>) -> Option<Fanout<Sns>> {
    let sns = settings.topic_arn.as_deref().map(|arn| sns(cfg, arn));
    let fanout = match Fanout::new(sns.clone(), channels) {
        Ok(f) => f,
        Err(e) => {
            log::error(format!("push channels are off: {e}"));
            Fanout::new(sns, Vec::new()).ok()?
        }
    };
    (!fanout.is_empty()).then_some(fanout)
}

/// The silent-host check and alarm forwarding over the same alerts as the backend.
pub fn watch<W: std::io::Write + Send>(
    cfg: &SdkConfig,
    settings: &Settings,
    alerts: Option<Fanout<Sns>>,
    out: W,
) -> Watch<Fanout<Sns>, Emf<W>> {
    let forward = alerts.as_ref().map(Fanout::without_sns);
    Watch::new(
        aws_sdk_dynamodb::Client::new(cfg),
        &settings.table,
        alerts,
        forward,
        Emf::new(&settings.namespace, out),
    )
}

/// The whole backend from `settings`, writing metrics to `out` (SNS only, no channels).
pub fn backend<W: std::io::Write + Send>(
    cfg: &SdkConfig,
    settings: &Settings,
    out: W,
) -> AwsBackend<W> {
    let sns = settings.topic_arn.as_deref().map(|arn| sns(cfg, arn));
    backend_with(cfg, settings, sns, out)
}

/// The whole backend from `settings` with `notifier` (SNS, or SNS plus the channels).
pub fn backend_with<N: Notifier, W: std::io::Write + Send>(
    cfg: &SdkConfig,
    settings: &Settings,
    notifier: Option<N>,
    out: W,
) -> Backend<Route53, Dynamo, N, Emf<W>> {
    let table = sealed_dynamo(cfg, &settings.table, settings.kms_key.as_deref());
    let dns = route53(cfg, settings.dns_budget);
    let dns = match settings.route53_pace {
        Some(limit) => dns.paced(Limiter::new(table.items().clone(), limit)),
        None => dns,
    };
    Backend::new(
        dns,
        table,
        notifier,
        Emf::new(&settings.namespace, out),
        settings.policy.clone(),
        settings.nonce_key.clone(),
    )
}
