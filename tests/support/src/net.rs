//! Loopback ports for tests: free ones, dead ones, and a listener that never speaks.

use std::net::{Shutdown, SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// An address where nothing listens (a service that is down).
pub fn dead_endpoint() -> String {
    format!("http://127.0.0.1:{}", free_port())
}

/// A listener that accepts connections and never says anything; set the flag to stop it.
pub fn silent_listener() -> (SocketAddr, Arc<AtomicBool>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let sp = stop.clone();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for c in l.incoming() {
            if sp.load(Ordering::SeqCst) {
                break;
            }
            if let Ok(c) = c {
                held.push(c);
            }
        }
        for c in held {
            let _ = c.shutdown(Shutdown::Both);
        }
    });
    (addr, stop)
}
