//! Running a program under test: output captured, wall time measured, a hard time limit.

use std::io::Read;
use std::process::Command;
use std::time::{Duration, Instant};

/// Longest a single run may take before the test kills it and fails.
pub const RUN_LIMIT: Duration = Duration::from_secs(180);

/// The finished run of a program.
#[derive(Debug)]
pub struct Run {
    /// Exit code (-1 if killed by a signal).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
    /// Wall-clock time.
    pub elapsed: Duration,
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {} after {:.1} s\n--- stdout\n{}--- stderr\n{}---",
            self.code,
            self.elapsed.as_secs_f32(),
            self.stdout,
            self.stderr
        )
    }
}

/// A running program.
pub struct Running {
    child: std::process::Child,
    start: Instant,
    out: std::thread::JoinHandle<String>,
    err: std::thread::JoinHandle<String>,
}

/// Starts `cmd` (stdout and stderr must be piped) without waiting.
pub fn spawn(mut cmd: Command) -> Running {
    let start = Instant::now();
    let mut child = cmd.spawn().expect("start the program under test");
    let mut so = child.stdout.take().unwrap();
    let mut se = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = so.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = se.read_to_string(&mut s);
        s
    });
    Running {
        child,
        start,
        out,
        err,
    }
}

impl Running {
    /// Waits for the exit, killing the process if it overruns [`RUN_LIMIT`].
    pub fn wait(mut self) -> Run {
        let status = loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                break st;
            }
            if self.start.elapsed() > RUN_LIMIT {
                let _ = self.child.kill();
                panic!("the program ran longer than {RUN_LIMIT:?}; killed");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        Run {
            code: status.code().unwrap_or(-1),
            stdout: self.out.join().unwrap(),
            stderr: self.err.join().unwrap(),
            elapsed: self.start.elapsed(),
        }
    }
}
