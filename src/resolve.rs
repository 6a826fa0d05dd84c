//! What DNS currently answers for a record, through the system resolver (for `check` and
//! `--dry-run`). The lookup runs on the calling thread, bounded by the resolver's own timeout
//! (musl: `options timeout:` in /etc/resolv.conf, 5 s by default); see `transport` for why
//! there is no helper thread.

use crate::logging as log;
use crate::protocol::{canonical_ip, RecordType};
use std::net::{IpAddr, ToSocketAddrs};

/// The addresses of `rt` type that `hostname` resolves to, sorted; empty if the name does not
/// exist, has no address of that type, or the resolver gives no answer.
pub fn lookup(hostname: &str, rt: RecordType) -> Vec<IpAddr> {
    match (hostname, 0u16).to_socket_addrs() {
        Ok(addrs) => of_type(addrs.map(|a| a.ip()), rt),
        Err(e) => {
            log::debug!("DNS lookup of {hostname}: {e}");
            Vec::new()
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
        let r = lookup("127.0.0.1", RecordType::A);
        assert_eq!(show(&r), "127.0.0.1");
    }
}
