//! A throw-away certificate authority and the server certificates the tests present:
//! for chosen names, or one of the broken kinds (expired, for another name).

use rcgen::{date_time_ymd, BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::ServerConfig;
use std::sync::Arc;

/// A test certificate authority.
pub struct TestCa {
    /// The CA certificate in PEM (the client's `ca_file`).
    pub pem: String,
    issuer: Issuer<'static, KeyPair>,
}

/// Which server certificate to present.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cert {
    /// Valid now, for localhost and 127.0.0.1.
    Good,
    /// For localhost and 127.0.0.1, but expired in 2021.
    Expired,
    /// Valid now, but for another name.
    OtherName,
}

impl Default for TestCa {
    fn default() -> Self {
        Self::new()
    }
}

impl TestCa {
    /// A new CA with a fresh key.
    pub fn new() -> TestCa {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "dyn53 test CA");
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        TestCa {
            pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// A rustls server config with a certificate for `names` (DNS names or IP addresses).
    pub fn server_config(&self, names: &[&str]) -> Arc<ServerConfig> {
        let params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .unwrap();
        self.config_for(params)
    }

    /// A rustls server config presenting `which`.
    pub fn server_config_of(&self, which: Cert) -> Arc<ServerConfig> {
        let names: Vec<String> = match which {
            Cert::Good | Cert::Expired => vec!["localhost".into(), "127.0.0.1".into()],
            Cert::OtherName => vec!["other.dyn53.invalid".into()],
        };
        let mut params = CertificateParams::new(names).unwrap();
        if which == Cert::Expired {
            params.not_before = date_time_ymd(2020, 1, 1);
            params.not_after = date_time_ymd(2021, 1, 1);
        }
        self.config_for(params)
    }

    fn config_for(&self, params: CertificateParams) -> Arc<ServerConfig> {
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        let chain = vec![CertificateDer::from(cert.der().to_vec())];
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        Arc::new(
            ServerConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(chain, key)
                .unwrap(),
        )
    }
}
