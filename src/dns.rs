//! What DNS currently answers for a record, through the system resolver (for `check` and
//! `--dry-run`). ureq's resolver does the lookup: it is in the binary anyway for connections,
//! and it runs the lookup on a helper thread so a stuck resolver cannot overrun the run's
//! deadline (a second copy of that machinery here cost about 8 KB on mipsel).

use crate::error::Error;
use crate::logging as log;
use crate::protocol::{canonical_ip, RecordType};
use std::net::IpAddr;
use std::time::Duration;
use ureq::unversioned::resolver::{DefaultResolver, Resolver};
use ureq::unversioned::transport::NextTimeout;

/// The addresses of `rt` type that `hostname` resolves to, sorted; empty if none.
///
/// A name that does not exist (or has no address of that type) gives an empty list; only a
/// resolver that does not answer in `timeout` is an error.
pub fn lookup(hostname: &str, rt: RecordType, timeout: Duration) -> Result<Vec<IpAddr>, Error> {
    // The port only completes the URI the resolver takes; nothing connects to it.
    let Ok(uri) = format!("http://{hostname}/").parse::<ureq::http::Uri>() else {
        log::debug!("DNS lookup of {hostname}: not a host name");
        return Ok(Vec::new());
    };
    let budget = NextTimeout {
        after: timeout.into(),
        reason: ureq::Timeout::Resolve,
        per_read: None,
        per_write: None,
    };
    match DefaultResolver::default().resolve(&uri, &ureq::config::Config::default(), budget) {
        Ok(addrs) => Ok(of_type(addrs.iter().map(|a| a.ip()), rt)),
        Err(ureq::Error::Timeout(_)) => Err(Error::Timeout(format!(
            "the system resolver did not answer for {hostname} in time"
        ))),
        Err(e) => {
            log::debug!("DNS lookup of {hostname}: {e}");
            Ok(Vec::new())
        }
    }
}

/// Keeps the addresses of type `rt`, canonical, sorted and without duplicates.
pub fn of_type(addrs: impl Iterator<Item = IpAddr>, rt: RecordType) -> Vec<IpAddr> {
    let mut out: Vec<IpAddr> = addrs
        .map(canonical_ip)
        .filter(|ip| rt.matches(*ip))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Formats a DNS answer for output: `a,b` or `none`.
pub fn show(addrs: &[IpAddr]) -> String {
    if addrs.is_empty() {
        return "none".into();
    }
    addrs
        .iter()
        .map(IpAddr::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_and_formats() {
        let ips: Vec<IpAddr> = [
            "::1",
            "192.0.2.2",
            "192.0.2.1",
            "192.0.2.2",
            "::ffff:192.0.2.3",
        ]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
        let v4 = of_type(ips.iter().copied(), RecordType::A);
        assert_eq!(show(&v4), "192.0.2.1,192.0.2.2,192.0.2.3");
        assert_eq!(show(&of_type(ips.into_iter(), RecordType::Aaaa)), "::1");
        assert_eq!(show(&[]), "none");
    }

    #[test]
    fn resolves_loopback_literal() {
        let r = lookup("127.0.0.1", RecordType::A, Duration::from_secs(5)).unwrap();
        assert_eq!(show(&r), "127.0.0.1");
    }
}
