//! dyn53: keep a home router's name in Route 53 pointing at its public IP.
//!
//! The library holds the wire [`protocol`] (always built, I/O-free) and, with the default
//! `client` feature, the router client that the `dyn53` binary runs.

pub mod protocol;
