//! dyn53: keep a home router's name in Route 53 pointing at its public IP.
//!
//! The library holds the wire [`protocol`] (always built, I/O-free) and, with the default
//! `client` feature, the router client that the `dyn53` binary runs.

pub mod protocol;

#[cfg(feature = "client")]
pub mod app;
#[cfg(feature = "client")]
pub mod backoff;
#[cfg(feature = "client")]
pub mod cli;
#[cfg(feature = "client")]
pub mod client;
#[cfg(feature = "client")]
pub mod config;
#[cfg(feature = "client")]
pub mod error;
#[cfg(feature = "client")]
pub mod logging;
#[cfg(feature = "client")]
pub mod resolve;
#[cfg(feature = "client")]
pub mod roots;
#[cfg(feature = "client")]
pub mod status;
#[cfg(feature = "client")]
pub mod tls;
#[cfg(feature = "client")]
pub mod transport;
