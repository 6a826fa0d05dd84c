//! TLS settings: rustls with the ring provider, the built-in Amazon roots plus `ca_file`,
//! and plain-language explanations of certificate failures.
//!
//! There is deliberately no way to turn certificate verification off.

use crate::error::Error;
use crate::logging as log;
use crate::roots::AMAZON_ROOTS;
use rustls::crypto::{
    CryptoProvider, GetRandomFailed, KeyProvider, SecureRandom, WebPkiSupportedAlgorithms,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::SignatureScheme;
use rustls::{ClientConfig, RootCertStore};
use std::path::Path;
use std::sync::Arc;

/// Largest `ca_file` read.
const MAX_CA_FILE: u64 = 1024 * 1024;

/// Builds the rustls client configuration: TLS 1.2 and 1.3, ring, our root store.
pub fn client_config(ca_file: Option<&Path>) -> Result<Arc<ClientConfig>, Error> {
    let mut roots = RootCertStore {
        roots: AMAZON_ROOTS.to_vec(),
    };
    if let Some(path) = ca_file {
        add_ca_file(&mut roots, path)?;
    }
    let config = ClientConfig::builder_with_provider(Arc::new(provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Config(format!("TLS setup failed: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The ring provider, trimmed to what talking to AWS needs, which keeps the router binary
/// small: AES-GCM suites only (every TLS server offers them), RSA and ECDSA signatures, and
/// no private-key loading (the client never presents a certificate). `default_provider()`
/// would link every suite.
///
/// Key exchange is P-256 only: TLS 1.3 requires every server to support it (RFC 8446,
/// 9.1) and Lambda function URLs, API Gateway and CloudFront all offer it, while X25519
/// cost 22.7 KB on mipsel (ring's curve25519 code and its base-point table). The client
/// sends a P-256 key share at once, so no server needs an extra round trip.
fn provider() -> CryptoProvider {
    use rustls::crypto::ring::{cipher_suite as cs, kx_group};
    CryptoProvider {
        cipher_suites: vec![
            cs::TLS13_AES_128_GCM_SHA256,
            cs::TLS13_AES_256_GCM_SHA384,
            cs::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
            cs::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
            cs::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
            cs::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        ],
        kx_groups: vec![kx_group::SECP256R1],
        signature_verification_algorithms: SIGNATURES,
        secure_random: &SystemRandom,
        key_provider: &NoClientKeys,
    }
}

/// Certificate and handshake signatures accepted: what the ring provider offers, minus Ed25519.
static SIGNATURES: WebPkiSupportedAlgorithms = {
    use webpki::ring as alg;
    WebPkiSupportedAlgorithms {
        all: &[
            alg::ECDSA_P256_SHA256,
            alg::ECDSA_P256_SHA384,
            alg::ECDSA_P384_SHA256,
            alg::ECDSA_P384_SHA384,
            alg::RSA_PSS_2048_8192_SHA256_LEGACY_KEY,
            alg::RSA_PSS_2048_8192_SHA384_LEGACY_KEY,
            alg::RSA_PSS_2048_8192_SHA512_LEGACY_KEY,
            alg::RSA_PKCS1_2048_8192_SHA256,
            alg::RSA_PKCS1_2048_8192_SHA384,
            alg::RSA_PKCS1_2048_8192_SHA512,
            alg::RSA_PKCS1_2048_8192_SHA256_ABSENT_PARAMS,
            alg::RSA_PKCS1_2048_8192_SHA384_ABSENT_PARAMS,
            alg::RSA_PKCS1_2048_8192_SHA512_ABSENT_PARAMS,
        ],
        mapping: &[
            // For TLS 1.2 the curve is not fixed by the scheme; for TLS 1.3 it is.
            (
                SignatureScheme::ECDSA_NISTP384_SHA384,
                &[alg::ECDSA_P384_SHA384, alg::ECDSA_P256_SHA384],
            ),
            (
                SignatureScheme::ECDSA_NISTP256_SHA256,
                &[alg::ECDSA_P256_SHA256, alg::ECDSA_P384_SHA256],
            ),
            (
                SignatureScheme::RSA_PSS_SHA512,
                &[alg::RSA_PSS_2048_8192_SHA512_LEGACY_KEY],
            ),
            (
                SignatureScheme::RSA_PSS_SHA384,
                &[alg::RSA_PSS_2048_8192_SHA384_LEGACY_KEY],
            ),
            (
                SignatureScheme::RSA_PSS_SHA256,
                &[alg::RSA_PSS_2048_8192_SHA256_LEGACY_KEY],
            ),
            (
                SignatureScheme::RSA_PKCS1_SHA512,
                &[alg::RSA_PKCS1_2048_8192_SHA512],
            ),
            (
                SignatureScheme::RSA_PKCS1_SHA384,
                &[alg::RSA_PKCS1_2048_8192_SHA384],
            ),
            (
                SignatureScheme::RSA_PKCS1_SHA256,
                &[alg::RSA_PKCS1_2048_8192_SHA256],
            ),
        ],
    }
};

/// Randomness from the kernel (getrandom), through ring.
#[derive(Debug)]
struct SystemRandom;

impl SecureRandom for SystemRandom {
    fn fill(&self, buf: &mut [u8]) -> Result<(), GetRandomFailed> {
        use ring::rand::SecureRandom as _;
        ring::rand::SystemRandom::new()
            .fill(buf)
            .map_err(|_| GetRandomFailed)
    }
}

/// Refuses private keys: dyn53 never presents a client certificate.
#[derive(Debug)]
struct NoClientKeys;

impl KeyProvider for NoClientKeys {
    fn load_private_key(
        &self,
        _key: rustls::pki_types::PrivateKeyDer<'static>,
    ) -> Result<Arc<dyn rustls::sign::SigningKey>, rustls::Error> {
        Err(rustls::Error::General(
            "client certificates are not supported".into(),
        ))
    }
}

/// Adds every certificate of a PEM file to the root store.
fn add_ca_file(roots: &mut RootCertStore, path: &Path) -> Result<(), Error> {
    let shown = path.display();
    let err = |msg: String| Error::Config(format!("ca_file {shown}: {msg}"));
    let mut bytes = Vec::new();
    let file = std::fs::File::open(path).map_err(|e| err(format!("cannot open: {e}")))?;
    std::io::Read::read_to_end(&mut std::io::Read::take(file, MAX_CA_FILE + 1), &mut bytes)
        .map_err(|e| err(format!("cannot read: {e}")))?;
    if bytes.len() as u64 > MAX_CA_FILE {
        return Err(err("larger than 1 MiB: is it the right file?".into()));
    }
    let mut added = 0;
    for (i, cert) in CertificateDer::pem_slice_iter(&bytes).enumerate() {
        let cert = cert.map_err(|e| err(format!("certificate {} is not valid PEM: {e}", i + 1)))?;
        roots
            .add(cert)
            .map_err(|e| err(format!("certificate {} is not usable: {e}", i + 1)))?;
        added += 1;
    }
    if added == 0 {
        return Err(err(
            "no certificate found (expected PEM: -----BEGIN CERTIFICATE-----)".into(),
        ));
    }
    log::debug!("trusting {added} certificate(s) from ca_file {shown}");
    Ok(())
}

/// Explains a TLS failure with `host`, naming the certificate problem.
pub fn explain(e: &rustls::Error, host: &str) -> Error {
    use rustls::CertificateError as C;
    let (message, retry) = match e {
        rustls::Error::InvalidCertificate(c) => match c {
            C::UnknownIssuer => (
                format!(
                    "the certificate of {host} is not signed by a trusted CA (built in: Amazon \
                     Trust Services roots; for a private backend set ca_file to its CA)"
                ),
                false,
            ),
            C::NotValidForName | C::NotValidForNameContext { .. } => (
                format!(
                    "the certificate presented by {host} is not valid for that name (wrong url, \
                     or something intercepts the connection)"
                ),
                false,
            ),
            C::Expired | C::ExpiredContext { .. } => (
                format!(
                    "the certificate of {host} has expired, or this router's clock is wrong \
                     (is NTP synced?)"
                ),
                true,
            ),
            C::NotValidYet | C::NotValidYetContext { .. } => (
                format!(
                    "the certificate of {host} is not valid yet: this router's clock is \
                     probably behind (NTP not synced yet?)"
                ),
                true,
            ),
            C::Revoked => (format!("the certificate of {host} is revoked"), false),
            C::BadSignature | C::BadEncoding => (
                format!("the certificate of {host} is malformed or badly signed"),
                false,
            ),
            _ => (format!("the certificate of {host} was refused"), false),
        },
        rustls::Error::AlertReceived(_) => (format!("{host} refused the TLS handshake"), false),
        _ => (format!("TLS with {host} failed"), true),
    };
    Error::Tls {
        message: format!("TLS: {message} ({e})"),
        retry,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_with_builtin_roots() {
        assert!(client_config(None).is_ok());
        assert_eq!(AMAZON_ROOTS.len(), 5);
    }

    #[test]
    fn bad_ca_files() {
        let dir = std::env::temp_dir().join(format!("dyn53-tls-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("ca.pem");
        std::fs::write(&p, "not a certificate\n").unwrap();
        let e = client_config(Some(&p)).unwrap_err();
        assert!(e.to_string().contains("no certificate found"), "{e}");
        assert_eq!(e.exit_code(), 2);
        std::fs::write(
            &p,
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let e = client_config(Some(&p)).unwrap_err();
        assert!(e.to_string().contains("certificate 1 is not usable"), "{e}");
        let e = client_config(Some(&dir.join("missing.pem"))).unwrap_err();
        assert!(e.to_string().contains("cannot open"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn explains_certificate_problems() {
        let e = explain(
            &rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
            "h.example",
        );
        assert!(e.to_string().contains("not signed by a trusted CA"));
        assert!(!e.retry_in_run());
        assert_eq!(e.exit_code(), 1);
        let e = explain(
            &rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidYet),
            "h.example",
        );
        assert!(e.to_string().contains("clock"));
        assert!(e.retry_in_run());
    }
}
