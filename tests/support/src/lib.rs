//! Test support shared by the dyn53 client and backend tests, one owner per concern:
//! temporary directories ([`fs`]), process runs ([`run`]), the client binary ([`client`]),
//! the test CA ([`ca`]), loopback ports ([`net`]), a raw HTTP/1.1 client ([`http`]), moto
//! ([`moto`]), per-test AWS resources ([`stack`]), AWS call counting ([`calls`]), the backend runner ([`backend`]), a
//! fault-injecting (optionally TLS-terminating) proxy ([`proxy`]) and the real backend
//! in-process over TLS with in-memory fakes behind it ([`served`]).

pub mod backend;
pub mod ca;
pub mod calls;
pub mod client;
pub mod fs;
pub mod http;
pub mod moto;
pub mod net;
pub mod proxy;
pub mod run;
pub mod served;
pub mod stack;

pub use backend::{backend_bin, Service};
pub use ca::{Cert, TestCa};
pub use calls::Calls;
pub use client::{client_bin, client_command, config, run, run_env, update};
pub use fs::TempDir;
pub use moto::{moto, Moto};
pub use net::{dead_endpoint, free_port, silent_listener};
pub use run::{spawn, Run, Running};
pub use served::{Sent, Served};
pub use stack::{counts, emf_lines, sdk_config, SharedBuf, Stack};
