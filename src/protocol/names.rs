//! Hostnames, record types and IP addresses as the protocol accepts them.

use core::fmt;
use core::net::IpAddr;
use core::str::FromStr;

/// Longest hostname accepted, without the trailing dot (RFC 1035).
pub const MAX_HOSTNAME: usize = 253;

/// A DNS record type dyn53 manages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RecordType {
    /// IPv4 address record.
    A,
    /// IPv6 address record.
    Aaaa,
}

impl RecordType {
    /// The type's name as DNS writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordType::A => "A",
            RecordType::Aaaa => "AAAA",
        }
    }

    /// The record type that holds `ip`.
    pub fn for_ip(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(_) => RecordType::A,
            IpAddr::V6(_) => RecordType::Aaaa,
        }
    }

    /// Whether `ip` belongs in a record of this type.
    pub fn matches(self, ip: IpAddr) -> bool {
        Self::for_ip(ip) == self
    }
}

impl fmt::Display for RecordType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A record type name that is not A or AAAA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRecordType;

impl FromStr for RecordType {
    type Err = BadRecordType;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("A") {
            Ok(RecordType::A)
        } else if s.eq_ignore_ascii_case("AAAA") {
            Ok(RecordType::Aaaa)
        } else {
            Err(BadRecordType)
        }
    }
}

/// Why a hostname is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostnameError {
    /// Empty, or only a dot.
    Empty,
    /// Longer than 253 characters.
    TooLong,
    /// A label is empty or longer than 63 characters.
    BadLabel,
    /// A character other than letters, digits, '-' and '_'.
    BadChar,
    /// A single label (no dot): not a name in a hosted zone.
    NotQualified,
}

impl fmt::Display for HostnameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HostnameError::Empty => "hostname is empty",
            HostnameError::TooLong => "hostname is longer than 253 characters",
            HostnameError::BadLabel => {
                "hostname has an empty label or one longer than 63 characters"
            }
            HostnameError::BadChar => {
                "hostname may only contain letters, digits, '-', '_' and dots between labels"
            }
            HostnameError::NotQualified => {
                "hostname must be fully qualified (e.g. home.example.com)"
            }
        })
    }
}

/// Validates `name` and returns it lower-cased without a trailing dot, as Route 53 stores it.
pub fn normalize_hostname(name: &str) -> Result<String, HostnameError> {
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_empty() {
        return Err(HostnameError::Empty);
    }
    if name.len() > MAX_HOSTNAME {
        return Err(HostnameError::TooLong);
    }
    let mut labels = 0;
    for label in name.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err(HostnameError::BadLabel);
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(HostnameError::BadChar);
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(HostnameError::BadChar);
        }
        labels += 1;
    }
    if labels < 2 {
        return Err(HostnameError::NotQualified);
    }
    Ok(name.to_ascii_lowercase())
}

/// Parses an IP address strictly (no brackets, zones or surrounding spaces).
pub fn parse_ip(s: &str) -> Option<IpAddr> {
    if s.len() > 45 {
        return None;
    }
    IpAddr::from_str(s).ok()
}

/// The canonical text form of `ip` (dotted quad, or RFC 5952 for IPv6).
///
/// An IPv4-mapped IPv6 address is reduced to its IPv4 form, so a dual-stack listener
/// reports the address the client actually has.
pub fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => ip,
        },
        v4 => v4,
    }
}

/// Whether `ip` can be somebody's public address (not private, CGNAT, loopback, ...).
pub fn is_public(ip: IpAddr) -> bool {
    match canonical_ip(ip) {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || o[0] == 0
                || (o[0] == 100 && (o[1] & 0xc0) == 64) // 100.64.0.0/10, carrier-grade NAT
                || o[0] >= 240)
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local
                || (s[0] & 0xffc0) == 0xfe80 // link local
                || (s[0] == 0x2001 && s[1] == 0x0db8)) // documentation
        }
    }
}

/// Whether `ip` is a private or carrier-grade NAT IPv4 address (a sign of double NAT).
pub fn is_behind_nat(ip: IpAddr) -> bool {
    match canonical_ip(ip) {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_private() || (o[0] == 100 && (o[1] & 0xc0) == 64)
        }
        IpAddr::V6(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostnames() {
        assert_eq!(
            normalize_hostname("Home.Example.COM.").unwrap(),
            "home.example.com"
        );
        assert_eq!(
            normalize_hostname("a-b.c_d.example").unwrap(),
            "a-b.c_d.example"
        );
        assert_eq!(normalize_hostname(""), Err(HostnameError::Empty));
        assert_eq!(normalize_hostname("."), Err(HostnameError::Empty));
        assert_eq!(
            normalize_hostname("localhost"),
            Err(HostnameError::NotQualified)
        );
        assert_eq!(normalize_hostname("a..b"), Err(HostnameError::BadLabel));
        assert_eq!(normalize_hostname("-a.b"), Err(HostnameError::BadChar));
        assert_eq!(normalize_hostname("a b.c"), Err(HostnameError::BadChar));
        assert_eq!(normalize_hostname("a\nb.c"), Err(HostnameError::BadChar));
        assert_eq!(normalize_hostname("a\0.c"), Err(HostnameError::BadChar));
        assert_eq!(normalize_hostname("é.example"), Err(HostnameError::BadChar));
        assert_eq!(
            normalize_hostname(&format!("{}.com", "a".repeat(64))),
            Err(HostnameError::BadLabel)
        );
        let long = vec!["a".repeat(60); 5].join(".");
        assert_eq!(normalize_hostname(&long), Err(HostnameError::TooLong));
    }

    #[test]
    fn ips() {
        assert!(parse_ip(" 1.2.3.4").is_none());
        assert!(parse_ip("1.2.3.4.5").is_none());
        assert!(parse_ip("01.2.3.4").is_none());
        assert!(parse_ip("[::1]").is_none());
        assert_eq!(
            canonical_ip(parse_ip("::ffff:203.0.113.9").unwrap()).to_string(),
            "203.0.113.9"
        );
        assert_eq!(
            parse_ip("2001:DB8:0:0:0:0:0:1").unwrap().to_string(),
            "2001:db8::1"
        );
        assert!(is_public(parse_ip("8.8.8.8").unwrap()));
        assert!(!is_public(parse_ip("100.64.1.1").unwrap()));
        assert!(!is_public(parse_ip("192.168.1.1").unwrap()));
        assert!(!is_public(parse_ip("fd00::1").unwrap()));
        assert!(is_public(parse_ip("2a00:1450::1").unwrap()));
        assert!(is_behind_nat(parse_ip("100.127.255.255").unwrap()));
        assert!(!is_behind_nat(parse_ip("100.128.0.1").unwrap()));
    }

    #[test]
    fn record_types() {
        assert_eq!("aaaa".parse::<RecordType>(), Ok(RecordType::Aaaa));
        assert_eq!("A".parse::<RecordType>(), Ok(RecordType::A));
        assert!("CNAME".parse::<RecordType>().is_err());
        assert!(RecordType::A.matches(parse_ip("1.2.3.4").unwrap()));
        assert!(!RecordType::A.matches(parse_ip("::1").unwrap()));
    }
}
