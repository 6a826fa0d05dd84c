//! What the handler needs from its table: host configs, spent nonces, rate limits, locks.

use crate::host::HostConfig;
use dyn53::protocol::RecordType;
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

/// The backend's table.
pub trait HostStore: Send + Sync {
    /// The host item for a normalised hostname, if there is one.
    fn load_host(
        &self,
        hostname: &str,
    ) -> impl Future<Output = Result<Option<HostConfig>, StoreError>> + Send;

    /// Records `nonce` as spent until `expires` (Unix seconds); false if it already was.
    fn spend_nonce(
        &self,
        nonce: &str,
        expires: u64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Counts one call against the limit named `key`; false when the limit is reached.
    fn take_rate(
        &self,
        key: &str,
        limit: RateLimit,
        now: u64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Takes the per-host update lock for `lease` seconds; false while someone else holds it.
    fn lock(
        &self,
        hostname: &str,
        owner: &str,
        now: u64,
        lease: u64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Releases the lock if `owner` still holds it.
    fn unlock(
        &self,
        hostname: &str,
        owner: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// What the table remembers of `hostname`'s `rtype` record.
    fn known_record(
        &self,
        hostname: &str,
        rtype: RecordType,
    ) -> impl Future<Output = Result<Option<Known>, StoreError>> + Send;

    /// Remembers `ip` (None: forgets) as `hostname`'s `rtype` record at `now`.
    fn remember_record(
        &self,
        hostname: &str,
        rtype: RecordType,
        ip: Option<IpAddr>,
        now: u64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

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
}
