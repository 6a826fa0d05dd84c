//! Randomness from the operating system (secrets, nonces, lock owners).

use std::fmt;

/// The OS refused to give random bytes (should never happen on Linux).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoRandom;

impl fmt::Display for NoRandom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the operating system's random number generator failed")
    }
}

impl std::error::Error for NoRandom {}

/// `N` random bytes.
pub fn bytes<const N: usize>() -> Result<[u8; N], NoRandom> {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).map_err(|_| NoRandom)?;
    Ok(buf)
}

/// A new host secret: 32 random bytes as 64 lower-case hex characters (256 bits; hex so
/// it survives UCI quoting, shell and copy-paste unchanged).
pub fn secret() -> Result<String, NoRandom> {
    Ok(hex(&bytes::<32>()?))
}

/// Lower-case hex of `b`.
pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn secrets_differ() {
        let a = super::secret().unwrap();
        assert_eq!(a.len(), 64);
        assert_ne!(a, super::secret().unwrap());
    }
}
