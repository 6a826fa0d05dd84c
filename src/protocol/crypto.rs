//! SHA-256, HMAC-SHA256 and constant-time comparison: the only primitives the protocol needs.
//!
//! HMAC is written out here (RFC 2104) rather than pulled from a crate, to keep the router
//! binary small; the test vectors in `tests/vectors/` are computed by `openssl` and Python.
//!
//! SHA-256 comes from `sha2`, except in the router client (feature `client`), which already
//! links ring's SHA-256 for TLS: a second implementation there cost about 5 KB on mipsel.
//! `make test` runs the vectors both ways (tests/suites/10-cargo).

const BLOCK: usize = 64;

/// SHA-256 of the concatenation of `parts`.
#[cfg(feature = "client")]
fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    for p in parts {
        ctx.update(p);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

/// SHA-256 of the concatenation of `parts`.
#[cfg(not(feature = "client"))]
fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// Lower-case hex SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(sha256(&[data]))
}

/// HMAC-SHA256 of `msg` under `key` (RFC 2104).
pub fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut k = [0u8; BLOCK];
    if key.len() > BLOCK {
        k[..32].copy_from_slice(&sha256(&[key]));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut ipad = [0x36u8; BLOCK];
    let mut opad = [0x5cu8; BLOCK];
    for i in 0..BLOCK {
        ipad[i] ^= k[i];
        opad[i] ^= k[i];
    }
    let inner = sha256(&[&ipad, msg]);
    sha256(&[&opad, &inner])
}

/// Lower-case hex HMAC-SHA256 of `msg` under `key`.
pub fn hmac_sha256_hex(key: &[u8], msg: &[u8]) -> String {
    hex::encode(hmac_sha256(key, msg))
}

/// Compares two byte strings in time that depends only on their lengths.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut diff = 0u8;
    for (x, y) in a.iter().zip(b) {
        diff |= x ^ y;
    }
    // black_box keeps the optimiser from turning the loop into an early exit.
    core::hint::black_box(diff) == 0
}

/// Compares a received hex digest with the expected one, ignoring ASCII case, in constant time.
pub fn ct_eq_hex(expected_lower: &str, received: &str) -> bool {
    if expected_lower.len() != received.len() {
        return false;
    }
    let mut diff = 0u8;
    for (x, y) in expected_lower.bytes().zip(received.bytes()) {
        diff |= x ^ y.to_ascii_lowercase();
    }
    core::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 4231 test case 2 and 6 (key longer than a block).
    #[test]
    fn hmac_rfc4231() {
        assert_eq!(
            hmac_sha256_hex(b"Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            hmac_sha256_hex(
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            ),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn ct_eq_works() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
        assert!(ct_eq_hex("abcdef", "ABCdef"));
        assert!(!ct_eq_hex("abcdef", "abcdeg"));
    }
}
