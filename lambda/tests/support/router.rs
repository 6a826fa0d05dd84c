//! The real router client (`dyn53`) for fault, race and herd tests: finding the binary,
//! writing its config file, running it with a clean environment.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

/// The client binary: DYN53_CLIENT_BIN, else the workspace build next to this test
/// (`cargo test --workspace` builds it), else a build into a separate target directory
/// (as lambda/tests/client_e2e.rs does, so `cargo test -p dyn53-backend` works too).
pub fn client_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(p) = std::env::var_os("DYN53_CLIENT_BIN") {
            return PathBuf::from(p);
        }
        let exe = std::env::current_exe().unwrap();
        let profile_dir = exe.parent().and_then(|deps| deps.parent()).unwrap();
        let sibling = profile_dir.join("dyn53");
        if sibling.exists() {
            return sibling;
        }
        let target = profile_dir.join("client-e2e");
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
            .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
            .status()
            .expect("run cargo build")
            .success();
        assert!(ok, "building the dyn53 client failed");
        target.join("debug/dyn53")
    })
    .clone()
}

/// A directory removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// A fresh directory named after `tag`.
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let p = std::env::temp_dir().join(format!(
            "dyn53-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    /// Writes `name` (mode 600) and returns its path.
    pub fn file(&self, name: &str, text: &str) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, text).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A Merlin-style (key=value) client config for one A record.
pub fn config(url: &str, hostname: &str, secret: &str, extra: &str) -> String {
    format!("url={url}\nsecret={secret}\nhostname={hostname}\n{extra}")
}

/// What one client run did.
#[derive(Debug)]
pub struct Run {
    /// Exit code (-1 if killed by a signal).
    pub code: i32,
    /// Result lines.
    pub stdout: String,
    /// Log lines.
    pub stderr: String,
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// `dyn53 -c CONF ARGS... update` with an empty environment.
pub fn update(conf: &Path, args: &[&str]) -> Run {
    let o = Command::new(client_bin())
        .arg("-c")
        .arg(conf)
        .args(args)
        .arg("update")
        .env_clear()
        .output()
        .expect("run dyn53");
    Run {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}
