//! TLS settings: rustls with the ring provider, the built-in Amazon roots plus `ca_file`,
//! and plain-language explanations of certificate failures.
//!
//! There is deliberately no way to turn certificate verification off.

use crate::error::Error;
use crate::roots::AMAZON_ROOTS;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
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
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Config(format!("TLS setup failed: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
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
        message: format!("{message} ({e})"),
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
