//! What the handler needs from DNS: read and write records (one, or a host's LAN batch).

use dyn53::protocol::RecordType;
use std::fmt;
use std::future::Future;
use std::net::IpAddr;

/// The record a name and type currently have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Current {
    /// No record of exactly this name and type.
    Missing,
    /// A plain record with these values (text as Route 53 holds them) and TTL.
    Plain {
        /// Record values.
        values: Vec<String>,
        /// TTL in seconds.
        ttl: i64,
    },
    /// An alias or a routing-policy record: not dyn53's to replace.
    Foreign,
}

impl Current {
    /// Whether the record holds exactly `ip` and nothing else.
    pub fn holds_only(&self, ip: IpAddr) -> bool {
        match self {
            Current::Plain { values, .. } => {
                values.len() == 1 && values[0].parse::<IpAddr>().ok() == Some(ip)
            }
            _ => false,
        }
    }

    /// The address the record held, if it held one (the first value).
    pub fn previous_ip(&self) -> Option<IpAddr> {
        match self {
            Current::Plain { values, .. } => values.first().and_then(|v| v.parse().ok()),
            _ => None,
        }
    }
}

/// Why a DNS call failed. The detail strings are for the server log only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DnsError {
    /// Throttled or busy past the retry budget.
    Throttled(String),
    /// Network, timeout or server-side failure.
    Unavailable(String),
    /// Route 53 refused the request (bad zone, name outside the zone, access denied).
    Rejected(String),
}

impl fmt::Display for DnsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DnsError::Throttled(d) => write!(f, "Route 53 throttled past the retry budget: {d}"),
            DnsError::Unavailable(d) => write!(f, "Route 53 unavailable: {d}"),
            DnsError::Rejected(d) => write!(f, "Route 53 refused the request: {d}"),
        }
    }
}

impl std::error::Error for DnsError {}

/// Reads and writes address records in a hosted zone.
pub trait Dns: Send + Sync {
    /// The record of exactly `name` and `rtype` in `zone_id`.
    fn get(
        &self,
        zone_id: &str,
        name: &str,
        rtype: RecordType,
    ) -> impl Future<Output = Result<Current, DnsError>> + Send;

    /// The record, but only if a Route 53 call may go right now (no waiting for the
    /// account's pacing); `Throttled` otherwise. For looking at another request's change,
    /// which must not crowd out the changes themselves.
    fn peek(
        &self,
        zone_id: &str,
        name: &str,
        rtype: RecordType,
    ) -> impl Future<Output = Result<Current, DnsError>> + Send {
        self.get(zone_id, name, rtype)
    }

    /// Creates or replaces the record with the single value `ip`.
    fn upsert(
        &self,
        zone_id: &str,
        name: &str,
        rtype: RecordType,
        ip: IpAddr,
        ttl: u32,
    ) -> impl Future<Output = Result<(), DnsError>> + Send;

    /// The records of exactly these names and type, in the order asked. The default reads
    /// them one by one; Route 53 reads them from one listing page where they sit together.
    fn get_many(
        &self,
        zone_id: &str,
        names: &[String],
        rtype: RecordType,
    ) -> impl Future<Output = Result<Vec<Current>, DnsError>> + Send {
        async move {
            let mut out = Vec::with_capacity(names.len());
            for name in names {
                out.push(self.get(zone_id, name, rtype).await?);
            }
            Ok(out)
        }
    }

    /// Creates or replaces each record `(name, ip)` with its single value. Route 53 makes it
    /// one all-or-nothing change batch (one API call); the default upserts one by one.
    fn upsert_many(
        &self,
        zone_id: &str,
        records: &[(String, IpAddr)],
        rtype: RecordType,
        ttl: u32,
    ) -> impl Future<Output = Result<(), DnsError>> + Send {
        async move {
            for (name, ip) in records {
                self.upsert(zone_id, name, rtype, *ip, ttl).await?;
            }
            Ok(())
        }
    }
}
