//! Test helpers for the race, load and herd tests: simulated routers and fleets, the herd
//! model. The fault-injecting proxy, certificates, the client runner and the service runner
//! are shared with the client tests in the dyn53-testsupport crate.
#![allow(dead_code, unused_imports)] // each test binary uses a different part of this module

pub mod fleet;
pub mod herd_sim;
pub mod wire;

pub use dyn53_testsupport::proxy;
