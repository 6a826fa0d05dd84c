//! The real `dyn53-backend serve` process, started for one test and killed when dropped.

use super::Stack;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A running local service.
pub struct Service {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
}

/// The backend binary under test.
pub fn backend_bin() -> &'static str {
    env!("CARGO_BIN_EXE_dyn53-backend")
}

impl Service {
    /// Starts `dyn53-backend serve --listen <listen> <extra...>` on `stack`.
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
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
