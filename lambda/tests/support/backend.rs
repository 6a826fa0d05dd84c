//! The real `dyn53-backend serve` for load and herd runs: like `common::service`, but the
//! binary can be an optimised build (`DYN53_BACKEND_BIN`, e.g. `target/backend/dyn53-backend`
//! for `make bench`), and the EMF lines are only counted, not kept in full.

use crate::common::{emf_lines, Stack};
use dyn53_backend::metrics::Counts;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

/// The backend binary: `DYN53_BACKEND_BIN`, else the one cargo built for this test.
pub fn bin() -> String {
    std::env::var("DYN53_BACKEND_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_dyn53-backend").to_string())
}

/// A running local service; killed when dropped.
pub struct Backend {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    metrics: Arc<Mutex<Vec<(String, Counts)>>>,
    errors: Arc<Mutex<Vec<String>>>,
}

impl Backend {
    /// Starts `dyn53-backend serve` on a free loopback port for `stack`, with `env` added.
    pub fn start(stack: &Stack, env: &[(&str, &str)]) -> Backend {
        let mut child = Command::new(bin())
            .args(["serve", "--listen", "127.0.0.1:0"])
            .envs(stack.env())
            // The simulated fleet shares 127.0.0.1: no per-address connection cap.
            .env("DYN53_MAX_CONNECTIONS_PER_ADDRESS", "0")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start dyn53-backend serve");
        let metrics = Arc::new(Mutex::new(Vec::new()));
        let errors = Arc::new(Mutex::new(Vec::new()));
        let out = child.stdout.take().unwrap();
        let sink = metrics.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                sink.lock().unwrap().extend(emf_lines(&line));
            }
        });
        let (tx, rx) = mpsc::channel();
        let err = child.stderr.take().unwrap();
        let sink = errors.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("listening on http://").nth(1) {
                    let _ = tx.send(rest.trim_end_matches('/').to_string());
                } else if line.contains("error") {
                    sink.lock().unwrap().push(line);
                }
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(a) => a.parse().expect("listen address"),
            Err(_) => {
                let _ = child.kill();
                panic!("dyn53-backend serve did not start");
            }
        };
        Backend {
            child,
            addr,
            metrics,
            errors,
        }
    }

    /// `http://ADDR/`.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// EMF lines so far.
    pub fn metrics(&self) -> Vec<(String, Counts)> {
        self.metrics.lock().unwrap().clone()
    }

    /// Waits (bounded) until at least `n` EMF lines arrived (they follow the answers).
    pub fn wait_metrics(&self, n: usize) -> Vec<(String, Counts)> {
        for _ in 0..200 {
            if self.metrics.lock().unwrap().len() >= n {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.metrics()
    }

    /// Error lines it logged.
    pub fn errors(&self) -> Vec<String> {
        self.errors.lock().unwrap().clone()
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
