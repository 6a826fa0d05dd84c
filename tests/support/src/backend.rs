//! The real `dyn53-backend serve`, started for one test on a [`Stack`] and killed when
//! dropped: the one way tests run the local service (HTTP API, load, herd, faults, admin).
//!
//! The binary is DYN53_BACKEND_BIN if set (e.g. `target/backend/dyn53-backend`, the
//! optimised build `make bench` measures), else the build next to the running test (cargo
//! builds it for the backend's own tests).

use crate::stack::{emf_lines, Stack};
use dyn53_backend::metrics::Counts;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The backend binary under test.
pub fn backend_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("DYN53_BACKEND_BIN").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().unwrap();
    let bin = exe
        .parent()
        .and_then(|deps| deps.parent())
        .unwrap()
        .join("dyn53-backend");
    assert!(
        bin.exists(),
        "{} is missing: run the backend's tests (cargo test -p dyn53-backend) or set DYN53_BACKEND_BIN",
        bin.display()
    );
    bin
}

/// A running local service.
pub struct Service {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
}

impl Service {
    /// Starts `dyn53-backend serve --listen <listen> <extra...>` on `stack`, `env` added.
    pub fn start(stack: &Stack, listen: &str, extra: &[&str], env: &[(&str, &str)]) -> Service {
        let mut cmd = Command::new(backend_bin());
        cmd.args(["serve", "--listen", listen])
            .args(extra)
            .envs(stack.env())
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("start dyn53-backend serve");
        let stdout = Arc::new(Mutex::new(String::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel();
        let out = child.stdout.take().unwrap();
        let sink = stdout.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                sink.lock().unwrap().push_str(&format!("{line}\n"));
            }
        });
        let err = child.stderr.take().unwrap();
        let sink = stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("listening on http://").nth(1) {
                    let _ = tx.send(rest.trim_end_matches('/').to_string());
                }
                sink.lock().unwrap().push_str(&format!("{line}\n"));
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(a) => a.parse().expect("listen address"),
            Err(_) => {
                let _ = child.kill();
                panic!("service did not start; stderr:\n{}", stderr.lock().unwrap());
            }
        };
        Service {
            child,
            addr,
            stdout,
            stderr,
        }
    }

    /// Starts the service for a simulated fleet (load and herd runs) on a free loopback
    /// port: every router shares 127.0.0.1, so no per-address connection cap.
    pub fn fleet(stack: &Stack, env: &[(&str, &str)]) -> Service {
        let mut all = vec![("DYN53_MAX_CONNECTIONS_PER_ADDRESS", "0")];
        all.extend_from_slice(env);
        Service::start(stack, "127.0.0.1:0", &[], &all)
    }

    /// `http://ADDR/`.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// What it printed on stdout so far (EMF lines).
    pub fn stdout(&self) -> String {
        self.stdout.lock().unwrap().clone()
    }

    /// What it logged on stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits until stdout holds `n` lines (metrics are written after the answer is sent).
    pub fn wait_stdout_lines(&self, n: usize) -> String {
        for _ in 0..100 {
            let out = self.stdout();
            if out.lines().count() >= n {
                return out;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.stdout()
    }

    /// The EMF lines so far, parsed.
    pub fn metrics(&self) -> Vec<(String, Counts)> {
        emf_lines(&self.stdout())
    }

    /// Waits (bounded) until at least `n` EMF lines arrived (they follow the answers).
    pub fn wait_metrics(&self, n: usize) -> Vec<(String, Counts)> {
        for _ in 0..200 {
            if self.stdout.lock().unwrap().lines().count() >= n {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.metrics()
    }

    /// The lines it logged that mention an error.
    pub fn errors(&self) -> Vec<String> {
        self.stderr()
            .lines()
            .filter(|l| l.contains("error"))
            .map(str::to_string)
            .collect()
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
