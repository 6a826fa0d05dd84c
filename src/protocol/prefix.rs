//! The router's IPv6 LAN prefix, as a v2 set request carries it (`lan_prefix`).
//!
//! Shared by the client (checks `--lan-prefix` before sending) and the backend (refuses a
//! bad one as a malformed request). Only global unicast prefixes from /48 to /64 make sense
//! for LAN hosts' public AAAA records: a longer prefix leaves no room for a 64-bit interface
//! identifier, a shorter one is not a prefix a router hands a LAN.

use core::fmt;
use core::net::Ipv6Addr;

/// Shortest LAN prefix accepted.
pub const MIN_PREFIX_LEN: u8 = 48;
/// Longest LAN prefix accepted (SLAAC and EUI-64 need 64 identifier bits).
pub const MAX_PREFIX_LEN: u8 = 64;

/// A global unicast IPv6 prefix from /48 to /64 with no bits set past its length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LanPrefix {
    addr: Ipv6Addr,
    len: u8,
}

/// Why a LAN prefix is refused; the text names the rule that failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrefixError(pub String);

impl fmt::Display for PrefixError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The network mask of a `len`-bit prefix.
pub fn mask(len: u8) -> u128 {
    match len {
        0 => 0,
        l => u128::MAX << (128 - u32::from(l.min(128))),
    }
}

impl LanPrefix {
    /// Parses `2001:db8:1:10::/64`.
    pub fn parse(s: &str) -> Result<LanPrefix, PrefixError> {
        let err = |why: &str| PrefixError(format!("LAN prefix {s:?} {why}"));
        let (addr, len) = s
            .split_once('/')
            .ok_or_else(|| err("needs a length, like 2001:db8:1:10::/64"))?;
        let addr: Ipv6Addr = addr
            .parse()
            .map_err(|_| err("is not an IPv6 prefix (like 2001:db8:1:10::/64)"))?;
        let len: u8 = match len.parse() {
            Ok(l) if len.bytes().all(|b| b.is_ascii_digit()) => l,
            _ => return Err(err("has a bad length after the /")),
        };
        LanPrefix::new(addr, len).map_err(|e| err(&e))
    }

    /// A prefix from its parts, checked: global unicast, /48 to /64, no host bits.
    pub fn new(addr: Ipv6Addr, len: u8) -> Result<LanPrefix, String> {
        if !(MIN_PREFIX_LEN..=MAX_PREFIX_LEN).contains(&len) {
            return Err(format!(
                "must be from /{MIN_PREFIX_LEN} to /{MAX_PREFIX_LEN} (it is /{len})"
            ));
        }
        let bits = u128::from(addr);
        // 2000::/3: the only block with public, routed addresses.
        if bits >> 125 != 1 {
            return Err("is not global unicast (2000::/3)".into());
        }
        if bits & !mask(len) != 0 {
            return Err(format!("has bits set past its /{len} length"));
        }
        Ok(LanPrefix { addr, len })
    }

    /// The prefix's first address.
    pub fn addr(&self) -> Ipv6Addr {
        self.addr
    }

    /// Its length in bits.
    pub fn length(&self) -> u8 {
        self.len
    }

    /// Whether `ip` lies inside the prefix.
    pub fn contains(&self, ip: Ipv6Addr) -> bool {
        u128::from(ip) & mask(self.len) == u128::from(self.addr)
    }
}

impl fmt::Display for LanPrefix {
    /// Canonical text: RFC 5952 address, `/`, length (what the signature covers).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_lan_prefixes_in_canonical_form() {
        for (given, canonical) in [
            ("2001:db8:1:10::/64", "2001:db8:1:10::/64"),
            ("2001:0DB8:0001:0000::/56", "2001:db8:1::/56"),
            ("2a02:1234:5600::/48", "2a02:1234:5600::/48"),
            ("3fff:ffff:ffff:ff00::/56", "3fff:ffff:ffff:ff00::/56"),
        ] {
            let p = LanPrefix::parse(given).unwrap();
            assert_eq!(p.to_string(), canonical);
            assert_eq!(LanPrefix::parse(canonical).unwrap(), p);
        }
        let p = LanPrefix::parse("2001:db8:1::/56").unwrap();
        assert!(p.contains("2001:db8:1:ff::1".parse().unwrap()));
        assert!(!p.contains("2001:db8:2::1".parse().unwrap()));
    }

    #[test]
    fn refuses_bad_prefixes_with_the_rule() {
        for (bad, why) in [
            ("2001:db8:1:10::/65", "from /48 to /64"),
            ("2001:db8:1:10::1/128", "from /48 to /64"),
            ("2001:db8::/32", "from /48 to /64"),
            ("fd00:1:2:3::/64", "global unicast"),
            ("fe80::/64", "global unicast"),
            ("::/64", "global unicast"),
            ("2001:db8:1:10::1/64", "bits set past"),
            ("2001:db8:1:10::/56", "bits set past"),
            ("2001:db8:1:10::", "needs a length"),
            ("2001:db8:1:10::/", "bad length"),
            ("2001:db8:1:10::/+64", "bad length"),
            ("2001:db8:1:10::/0x40", "bad length"),
            ("203.0.113.0/24", "not an IPv6 prefix"),
            ("", "needs a length"),
        ] {
            let e = LanPrefix::parse(bad).unwrap_err();
            assert!(e.0.contains(why), "{bad}: {e}");
        }
    }
}
