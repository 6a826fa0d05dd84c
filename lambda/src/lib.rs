//! dyn53 backend: the AWS Lambda function (function URL, API Gateway REST and HTTP API
//! events), the same handler as a local HTTP service, and the admin CLI.
//!
//! The flow lives in [`handler`], over four small traits: [`dns::Dns`] (Route 53),
//! [`store::HostStore`] (DynamoDB), [`notify::Notifier`] (SNS) and [`metrics::Metrics`]
//! (Embedded Metric Format). docs/BACKEND.md describes deployment and the table.

pub mod admin;
pub mod aws;
pub mod aws_error;
pub mod aws_json;
pub mod call;
pub mod channels;
pub mod cli;
pub mod client_config;
pub mod clock;
pub mod dns;
pub mod dynamo;
pub mod dyndns2;
pub mod handler;
pub mod host;
pub mod import;
pub mod lambda_event;
pub mod lan;
pub mod limiter;
pub mod log;
pub mod metrics;
pub mod notify;
pub mod notify_admin;
pub mod random;
pub mod retry;
pub mod route53;
pub mod sealed;
pub mod serve;
pub mod settings;
pub mod settings_table;
pub mod sns;
pub mod ssm;
pub mod store;
pub mod table;
#[cfg(any(test, feature = "testkit"))]
pub mod testkit;
pub mod watch;
