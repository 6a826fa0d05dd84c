//! The real router client (`dyn53`): finding the binary (one variable, DYN53_CLIENT_BIN),
//! running it with a clean environment, and writing its key=value config.
//!
//! DYN53_TEST_RUNNER (e.g. `qemu-mipsel-static`) runs a cross-built router binary under
//! qemu-user; tests/suites/30-router-binaries sets both variables.

use crate::run::{spawn, Run};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// The client binary: DYN53_CLIENT_BIN, else the build next to the running test (cargo
/// builds it for the client's own tests and for `cargo test --workspace`), else a build into
/// a separate target directory (so `cargo test -p dyn53-backend` works too).
pub fn client_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(p) = std::env::var_os("DYN53_CLIENT_BIN").filter(|p| !p.is_empty()) {
            return PathBuf::from(p);
        }
        let sibling = profile_dir().join("dyn53");
        if sibling.exists() {
            return sibling;
        }
        let target = profile_dir().join("client-e2e");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let ok = Command::new(cargo)
            .args([
                "build",
                "-q",
                "-p",
                "dyn53",
                "--bin",
                "dyn53",
                "--target-dir",
            ])
            .arg(&target)
            .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
            .status()
            .expect("run cargo build")
            .success();
        assert!(ok, "building the dyn53 client failed");
        target.join("debug/dyn53")
    })
    .clone()
}

/// `target/<profile>`, from the running test binary (`target/<profile>/deps/NAME`).
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().and_then(|deps| deps.parent()).unwrap().into()
}

/// The command that runs the client under test (through DYN53_TEST_RUNNER if set), with no
/// DYN53_* variables inherited.
pub fn client_command() -> Command {
    let bin = client_bin();
    let runner = std::env::var("DYN53_TEST_RUNNER").unwrap_or_default();
    let mut words = runner.split_whitespace();
    let mut cmd = match words.next() {
        Some(prog) => {
            let mut c = Command::new(prog);
            c.args(words).arg(&bin);
            c
        }
        None => Command::new(&bin),
    };
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("DYN53_") {
            cmd.env_remove(k);
        }
    }
    // Keep the status files of tests off the machine's /var/run and /tmp/dyn53 (one shared
    // file under target/tmp: writes are atomic); a test that reads the status passes its own
    // DYN53_STATUS_FILE (set later, so it wins).
    let tmp = profile_dir().parent().unwrap().join("tmp");
    let _ = std::fs::create_dir_all(&tmp);
    cmd.env("DYN53_STATUS_FILE", tmp.join("dyn53-status.json"));
    cmd
}

/// Runs the client with `args` and extra environment, and waits (at most `RUN_LIMIT`).
pub fn run_env(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = client_command();
    cmd.args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    spawn(cmd).wait()
}

/// Runs the client with `args`.
pub fn run(args: &[&str]) -> Run {
    run_env(args, &[])
}

/// A Merlin-style (key=value) client config for one A record.
pub fn config(url: &str, hostname: &str, secret: &str, extra: &str) -> String {
    format!("url={url}\nsecret={secret}\nhostname={hostname}\n{extra}")
}

/// `dyn53 -c CONF ARGS... update` with an empty environment.
pub fn update(conf: &str, args: &[&str]) -> Run {
    let mut cmd = Command::new(client_bin());
    cmd.arg("-c")
        .arg(conf)
        .args(args)
        .arg("update")
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    spawn(cmd).wait()
}
