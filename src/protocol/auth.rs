//! The two ways a set request proves it comes from the host's owner.
//!
//! - v1 (reference design): `hex(sha256(ip || hostname || secret))`, kept for existing clients.
//! - v2 (dyn53): HMAC-SHA256 under the secret over a delimited canonical string that binds
//!   the protocol version, hostname, record type, IP, how the IP was chosen and a nonce the
//!   server issued, so a captured request cannot be replayed or re-targeted.

use super::crypto::{ct_eq, ct_eq_hex, hmac_sha256, hmac_sha256_hex, sha256_hex};
use super::names::RecordType;
use super::prefix::LanPrefix;
use core::net::IpAddr;

/// The v1 token: `hex(sha256(ip ‖ hostname ‖ secret))`, plain concatenation as the reference
/// design computes it, with the hostname exactly as the client sends it.
pub fn v1_token(ip: &str, hostname: &str, secret: &str) -> String {
    let mut buf = String::with_capacity(ip.len() + hostname.len() + secret.len());
    buf.push_str(ip);
    buf.push_str(hostname);
    buf.push_str(secret);
    sha256_hex(buf.as_bytes())
}

/// Checks a v1 token in constant time.
pub fn v1_verify(ip: &str, hostname: &str, secret: &str, token: &str) -> bool {
    ct_eq_hex(&v1_token(ip, hostname, secret), token)
}

/// How the IP in a v2 set request was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpMode {
    /// The source address the backend sees (what `get` reported).
    Source,
    /// An address the client names; accepted only where the host's config allows it.
    Explicit,
}

impl IpMode {
    /// The mode's name in the canonical string and on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            IpMode::Source => "source",
            IpMode::Explicit => "explicit",
        }
    }
}

/// The fields a v2 signature covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedFields<'a> {
    /// Normalised hostname (lower case, no trailing dot).
    pub hostname: &'a str,
    /// Record to set.
    pub record_type: RecordType,
    /// Address to set.
    pub ip: IpAddr,
    /// How `ip` was chosen.
    pub ip_mode: IpMode,
    /// Nonce from the server's `get` answer.
    pub nonce: &'a str,
}

impl SignedFields<'_> {
    /// The canonical string: one field per line, each line ending in `\n`.
    ///
    /// No field can contain a newline (hostname and nonce syntax are checked, the IP is
    /// printed by the standard library), so distinct requests never share a string.
    pub fn canonical(&self) -> String {
        format!(
            "dyn53-v2\n{}\n{}\n{}\n{}\n{}\n",
            self.hostname,
            self.record_type.as_str(),
            self.ip,
            self.ip_mode.as_str(),
            self.nonce
        )
    }

    /// The v2 signature: lower-case hex HMAC-SHA256 of the canonical string under `secret`.
    pub fn sign(&self, secret: &str) -> String {
        hmac_sha256_hex(secret.as_bytes(), self.canonical().as_bytes())
    }

    /// Checks a v2 signature in constant time.
    pub fn verify(&self, secret: &str, signature: &str) -> bool {
        ct_eq_hex(&self.sign(secret), signature)
    }

    /// The canonical string of a request that also carries a LAN prefix: the six lines
    /// above plus the prefix in canonical text as a seventh. No other line can hold a
    /// newline, so it never equals a six-line string; without a prefix it is the six lines.
    pub fn canonical_lan(&self, lan: Option<&LanPrefix>) -> String {
        let mut s = self.canonical();
        if let Some(p) = lan {
            s.push_str(&format!("{p}\n"));
        }
        s
    }

    /// The signature of a request with an optional LAN prefix (see [`Self::canonical_lan`]).
    pub fn sign_lan(&self, secret: &str, lan: Option<&LanPrefix>) -> String {
        hmac_sha256_hex(secret.as_bytes(), self.canonical_lan(lan).as_bytes())
    }

    /// Checks the signature of a request with an optional LAN prefix, in constant time.
    pub fn verify_lan(&self, secret: &str, lan: Option<&LanPrefix>, signature: &str) -> bool {
        ct_eq_hex(&self.sign_lan(secret, lan), signature)
    }
}

/// Longest nonce accepted on the wire.
pub const MAX_NONCE: usize = 128;

/// Whether `nonce` has the syntax of a nonce (so it is safe inside the canonical string).
pub fn nonce_syntax_ok(nonce: &str) -> bool {
    !nonce.is_empty()
        && nonce.len() <= MAX_NONCE
        && nonce
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_')
}

/// Why the server refuses a nonce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceError {
    /// Not a nonce this server issued (bad syntax or MAC).
    Forged,
    /// Issued more than the allowed age ago, or in the future.
    Expired,
}

/// Issues a server nonce: `<unix-seconds hex>.<random hex>.<mac>`.
///
/// The MAC under the server's nonce key makes nonces checkable without storing them at
/// `get` time; the server records a nonce only when a signed `set` spends it. The time is
/// the server's own, so routers without a synced clock are fine.
pub fn issue_nonce(key: &[u8], now_unix: u64, random: &[u8; 16]) -> String {
    let body = format!("{:x}.{}", now_unix, hex::encode(random));
    let mac = hmac_sha256(key, body.as_bytes());
    format!("{body}.{}", hex::encode(&mac[..16]))
}

/// Checks a nonce issued by [`issue_nonce`] under `key`, no older than `max_age` seconds.
pub fn check_nonce(key: &[u8], nonce: &str, now_unix: u64, max_age: u64) -> Result<(), NonceError> {
    if !nonce_syntax_ok(nonce) {
        return Err(NonceError::Forged);
    }
    let (body, mac) = nonce.rsplit_once('.').ok_or(NonceError::Forged)?;
    let (ts, rand) = body.split_once('.').ok_or(NonceError::Forged)?;
    if ts.is_empty() || ts.len() > 16 || rand.len() != 32 {
        return Err(NonceError::Forged);
    }
    let expected = hex::encode(&hmac_sha256(key, body.as_bytes())[..16]);
    // Exact bytes, not ignoring case: a spent nonce is remembered by its exact text, so a
    // re-cased MAC would otherwise be a "new" nonce that replays a captured request.
    if !ct_eq(expected.as_bytes(), mac.as_bytes()) {
        return Err(NonceError::Forged);
    }
    let issued = u64::from_str_radix(ts, 16).map_err(|_| NonceError::Forged)?;
    // A little slack for clock differences between Lambda instances.
    if issued > now_unix + 5 || now_unix - issued.min(now_unix) > max_age {
        return Err(NonceError::Expired);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonce_round_trip() {
        let key = b"server key";
        let n = issue_nonce(key, 1_700_000_000, &[7; 16]);
        assert!(nonce_syntax_ok(&n));
        assert_eq!(check_nonce(key, &n, 1_700_000_100, 300), Ok(()));
        assert_eq!(
            check_nonce(key, &n, 1_700_000_301, 300),
            Err(NonceError::Expired)
        );
        assert_eq!(
            check_nonce(key, &n, 1_600_000_000, 300),
            Err(NonceError::Expired)
        );
        assert_eq!(
            check_nonce(b"other", &n, 1_700_000_100, 300),
            Err(NonceError::Forged)
        );
        let mut forged = n.clone();
        forged.replace_range(0..1, "7");
        assert_eq!(
            check_nonce(key, &forged, 1_700_000_100, 300),
            Err(NonceError::Forged)
        );
        assert_eq!(check_nonce(key, "a.b.c", 1, 300), Err(NonceError::Forged));
        assert_eq!(check_nonce(key, "", 1, 300), Err(NonceError::Forged));
        assert_eq!(check_nonce(key, "x\ny", 1, 300), Err(NonceError::Forged));
    }

    #[test]
    fn recased_nonce_mac_is_forged() {
        let key = b"server key";
        let n = issue_nonce(key, 1_700_000_000, &[7; 16]);
        let (body, mac) = n.rsplit_once('.').unwrap();
        assert!(mac.bytes().any(|b| b.is_ascii_lowercase()), "{n}");
        let recased = format!("{body}.{}", mac.to_ascii_uppercase());
        assert_eq!(
            check_nonce(key, &recased, 1_700_000_100, 300),
            Err(NonceError::Forged)
        );
    }

    #[test]
    fn v2_binds_every_field() {
        let base = SignedFields {
            hostname: "home.example.com",
            record_type: RecordType::A,
            ip: "203.0.113.7".parse().unwrap(),
            ip_mode: IpMode::Source,
            nonce: "n1",
        };
        let sig = base.sign("s3cret");
        assert!(base.verify("s3cret", &sig));
        assert!(base.verify("s3cret", &sig.to_ascii_uppercase()));
        assert!(!base.verify("s3cret!", &sig));
        let variants = [
            SignedFields {
                hostname: "homee.example.com",
                ..base.clone()
            },
            SignedFields {
                record_type: RecordType::Aaaa,
                ..base.clone()
            },
            SignedFields {
                ip: "203.0.113.8".parse().unwrap(),
                ..base.clone()
            },
            SignedFields {
                ip_mode: IpMode::Explicit,
                ..base.clone()
            },
            SignedFields {
                nonce: "n2",
                ..base.clone()
            },
        ];
        for v in variants {
            assert!(!v.verify("s3cret", &sig), "{v:?}");
        }
    }

    #[test]
    fn lan_prefix_is_signed_as_a_seventh_line() {
        let f = SignedFields {
            hostname: "home.example.com",
            record_type: RecordType::Aaaa,
            ip: "2001:db8:1::1".parse().unwrap(),
            ip_mode: IpMode::Source,
            nonce: "n1",
        };
        let p = LanPrefix::parse("2001:db8:1:10::/64").unwrap();
        let q = LanPrefix::parse("2001:db8:1:11::/64").unwrap();
        assert_eq!(f.canonical_lan(None), f.canonical());
        assert_eq!(
            f.canonical_lan(Some(&p)),
            format!("{}2001:db8:1:10::/64\n", f.canonical())
        );
        let sig = f.sign_lan("s3cret", Some(&p));
        assert!(f.verify_lan("s3cret", Some(&p), &sig));
        // The prefix cannot be changed, added or stripped.
        assert!(!f.verify_lan("s3cret", Some(&q), &sig));
        assert!(!f.verify_lan("s3cret", None, &sig));
        assert!(!f.verify("s3cret", &sig));
        assert!(!f.verify_lan("s3cret", Some(&p), &f.sign("s3cret")));
    }
}
