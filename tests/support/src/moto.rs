//! moto, the AWS stand-in: one server per test binary, started through `tests/support/moto-up`
//! (the same starter the shell suites use).

use crate::http;
use crate::net::free_port;
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The moto server of this test binary.
pub struct Moto {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// Its address.
    pub addr: SocketAddr,
    /// The moto-up watchdog that owns moto (it stops moto when this process exits).
    _watchdog: std::process::Child,
}

/// The shared starter script.
const MOTO_UP: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/moto-up");

/// Starts moto once per test binary (it is stopped when this process exits).
pub fn moto() -> &'static Moto {
    static MOTO: OnceLock<Moto> = OnceLock::new();
    MOTO.get_or_init(|| {
        for _ in 0..3 {
            let port = free_port();
            let mut watchdog = Command::new(MOTO_UP)
                .arg(port.to_string())
                .arg(std::process::id().to_string())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("run tests/support/moto-up");
            let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
            let deadline = Instant::now() + Duration::from_secs(60);
            while Instant::now() < deadline {
                if TcpStream::connect(addr).is_ok() {
                    let a = http::once(addr, "GET", "/moto-api/data.json", b"");
                    if a.status == 200 {
                        return Moto {
                            url: format!("http://127.0.0.1:{port}"),
                            addr,
                            _watchdog: watchdog,
                        };
                    }
                }
                if let Ok(Some(status)) = watchdog.try_wait() {
                    // 127: not installed; anything else: the port was taken, try another.
                    assert_ne!(
                        status.code(),
                        Some(127),
                        "moto_server is not installed: run `make setup` (pip install 'moto[server]')"
                    );
                    break;
                }
                std::thread::sleep(Duration::from_millis(200));
            }
            let _ = watchdog.kill();
            let _ = watchdog.wait();
        }
        panic!("moto_server did not start (tried 3 ports)");
    })
}
