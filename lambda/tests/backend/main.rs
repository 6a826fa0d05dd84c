//! The backend's integration tests, as one test binary: moto, the local service, the Lambda
//! runtime API and the fault proxy against the real AWS adapters. One binary links the AWS
//! SDK once; one file per binary linked it seventeen times (about 9 s of compile each).
//! Run one part with a filter: `cargo test -p dyn53-backend --test backend call_budget::`.

mod common;
mod support;

mod admin_cli;
mod alert_channels;
mod auth_same_work;
mod call_budget;
mod client_e2e;
mod dyndns2;
mod faults;
mod fuzz_corpus;
mod handler_events;
mod herd;
mod import;
mod lambda_runtime;
mod lan;
mod load;
mod local_service;
mod races;
mod sealed_secrets;
