//! Test helpers for the fault, race, load and herd tests (issue 6): a fault-injecting
//! proxy, the real router client, certificates, and simulated routers.
#![allow(dead_code)] // each test binary uses a different part of this module

pub mod backend;
pub mod certs;
pub mod fleet;
pub mod herd_sim;
pub mod proxy;
pub mod router;
pub mod wire;
