//! What the handler needs from its table: host configs and one state item per host.

use crate::host::HostConfig;
use dyn53::protocol::RecordType;
use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::net::IpAddr;

/// A limit of `max` calls per `window` seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Calls allowed per window (at least 1).
    pub max: u32,
    /// Window length in seconds; a window starts at the first call after the last one ended.
    pub window: u64,
}

impl RateLimit {
    /// Parses `N/SECONDS`, e.g. `10/300`.
    pub fn parse(s: &str) -> Option<RateLimit> {
        let (n, w) = s.trim().split_once('/')?;
        let max: u32 = n.trim().parse().ok()?;
        let window: u64 = w.trim().parse().ok()?;
        (max >= 1 && window >= 1).then_some(RateLimit { max, window })
    }
}

impl fmt::Display for RateLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.max, self.window)
    }
}

/// What the table remembers of a record: the address dyn53 last wrote or saw there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Known {
    /// The address.
    pub ip: IpAddr,
    /// When it was written or last confirmed, Unix seconds.
    pub at: u64,
}

/// A rate-limit window: when it started and how many calls it counted (a counter, so a
/// raised limit costs nothing per call).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Window {
    /// Window start, Unix seconds (0: none yet).
    pub start: u64,
    /// Calls counted in it.
    pub count: u32,
}

impl Window {
    /// Counts one call against `limit` at `now`; false (nothing counted) when it is used up.
    /// A window starts at the first call after the last one ended.
    pub fn take(&mut self, limit: RateLimit, now: u64) -> bool {
        if self.start == 0 || now.saturating_sub(self.start) >= limit.window {
            *self = Window {
                start: now,
                count: 0,
            };
        }
        if self.count >= limit.max {
            return false;
        }
        self.count += 1;
        true
    }
}

/// A record change in flight: the request that claimed it UPSERTs `ip`; until `until`
/// (or until Route 53 holds `ip`) no other change of the host starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pending {
    /// The record's type.
    pub rtype: RecordType,
    /// The address being written.
    pub ip: IpAddr,
    /// When the claim lapses if its holder died, Unix seconds.
    pub until: u64,
}

/// Everything a request checks and changes for one host, kept in one item
/// (`state#<hostname>`) and written back whole by one conditional write.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostState {
    /// Update version read (0: no item yet); the write succeeds only if it is unchanged.
    pub version: u64,
    /// Tokens of the last writes (see `table::TOKENS`).
    pub tokens: Vec<String>,
    /// Unix seconds of the last successful check-in.
    pub seen: Option<u64>,
    /// The set-call window.
    pub sets: Window,
    /// The record-change window.
    pub changes: Window,
    /// When the last auth-failure notification window opened (0: never).
    pub quiet_auth: u64,
    /// When the last error notification window opened (0: never).
    pub quiet_error: u64,
    /// Spent v2 nonces and when they could no longer be accepted anyway.
    pub nonces: BTreeMap<String, u64>,
    /// What dyn53 last wrote or saw in each record.
    pub records: BTreeMap<RecordType, Known>,
    /// A change in flight.
    pub pending: Option<Pending>,
    /// The LAN prefix last applied to the host's LAN records, and when (Unix seconds).
    pub lan: Option<(String, u64)>,
    /// The `seen` of a silence already alerted (written by the silent-host check, `watch`;
    /// kept here so a set's whole-item write does not erase it).
    pub silent: Option<u64>,
    /// When the item may be deleted (only for names that are no host).
    pub expires: Option<u64>,
}

impl HostState {
    /// Forgets spent nonces past their life.
    pub fn prune(&mut self, now: u64) {
        self.nonces.retain(|_, expires| *expires >= now);
        if self.pending.is_some_and(|p| p.until < now) {
            self.pending = None;
        }
    }

    /// Opens a notification quiet window (`quiet` is `quiet_auth` or `quiet_error`) if the
    /// last one ended; true when a notification may go out.
    pub fn open_quiet(quiet: &mut u64, period: u64, now: u64) -> bool {
        if *quiet != 0 && now.saturating_sub(*quiet) < period {
            return false;
        }
        *quiet = now;
        true
    }
}

/// A host item and its state, read together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded {
    /// The host (None: no such host; Err: an item that cannot be used, with why).
    pub host: Result<Option<HostConfig>, String>,
    /// Its state (empty when there is none yet).
    pub state: HostState,
}

/// Why a table call failed. Details are for the server log only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// DynamoDB could not be reached or failed.
    Unavailable(String),
    /// An item exists but cannot be used (hand-edited host item with a bad field).
    BadItem(String),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Unavailable(d) => write!(f, "host table unavailable: {d}"),
            StoreError::BadItem(d) => write!(f, "bad item in the host table: {d}"),
        }
    }
}

impl std::error::Error for StoreError {}

/// The backend's table, as the request flow needs it.
pub trait HostStore: Send + Sync {
    /// The host item of a normalised hostname and its state, in one read.
    fn load(&self, hostname: &str) -> impl Future<Output = Result<Loaded, StoreError>> + Send;

    /// The host's state alone (re-read after a lost race).
    fn load_state(
        &self,
        hostname: &str,
    ) -> impl Future<Output = Result<HostState, StoreError>> + Send;

    /// Writes `state` as the next version if the stored version is still `state.version`;
    /// false (nothing written) when another request wrote first.
    fn save_state(
        &self,
        hostname: &str,
        state: &HostState,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// The server's nonce key, created (once, race-free) on first use.
    fn nonce_key(&self) -> impl Future<Output = Result<Vec<u8>, StoreError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rate_limits() {
        assert_eq!(
            RateLimit::parse("10/300"),
            Some(RateLimit {
                max: 10,
                window: 300
            })
        );
        assert_eq!(RateLimit::parse("0/300"), None);
        assert_eq!(RateLimit::parse("5"), None);
        assert_eq!(RateLimit::parse("5/x"), None);
    }

    #[test]
    fn windows_count_and_restart() {
        let l = RateLimit { max: 2, window: 10 };
        let mut w = Window::default();
        assert!(w.take(l, 100) && w.take(l, 105));
        assert!(!w.take(l, 109), "used up");
        assert_eq!(
            w,
            Window {
                start: 100,
                count: 2
            }
        );
        assert!(w.take(l, 110), "a new window");
        assert_eq!(
            w,
            Window {
                start: 110,
                count: 1
            }
        );
    }
}
