//! A throwaway certificate authority for loopback HTTPS: the CloudFront fake serves a
//! certificate for `localhost` and `127.0.0.1` signed by it, and the functions under test
//! trust it through a bundle that also holds the system's roots, so loading that bundle
//! costs what loading the system store costs in Lambda.

use std::path::Path;
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

/// Where Debian (and so this machine) keeps the system's trusted roots.
pub const SYSTEM_ROOTS: &str = "/etc/ssl/certs/ca-certificates.crt";

/// A CA and the server configuration of a certificate it signed.
pub struct LocalCa {
    /// The CA certificate, PEM.
    pub ca_pem: String,
    /// What the fake serves.
    pub server: Arc<rustls::ServerConfig>,
}

impl LocalCa {
    pub fn new() -> Result<LocalCa, Box<dyn std::error::Error + Send + Sync>> {
        let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        // Distinct names: OpenSSL (boto3) takes a leaf whose issuer is its own subject for
        // a self-signed certificate and refuses it.
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "s3-cloudfront-invalidator local CA");
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate()?)?;
        let server_key = KeyPair::generate()?;
        let mut server_params =
            CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()])?;
        server_params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        let server_cert = server_params.signed_by(&server_key, &ca)?;
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der()));
        let server = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(vec![server_cert.der().clone()], key)?;
        Ok(LocalCa {
            ca_pem: ca.pem(),
            server: Arc::new(server),
        })
    }

    /// Writes the system's roots plus this CA to `path`, for `SSL_CERT_FILE` (Rust) or
    /// `AWS_CA_BUNDLE` (boto3).
    pub fn write_bundle(&self, path: &Path) -> std::io::Result<()> {
        let mut bundle = std::fs::read_to_string(SYSTEM_ROOTS).unwrap_or_default();
        bundle.push('\n');
        bundle.push_str(&self.ca_pem);
        std::fs::write(path, bundle)
    }
}
