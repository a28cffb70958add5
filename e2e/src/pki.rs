//! A throwaway CA and a server certificate it signed for 127.0.0.1, made
//! per test (rcgen), for a gateway that serves TLS itself.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use base64::Engine;
use rcgen::PublicKeyData;
use rustls::pki_types::CertificateDer;
use sha2::Digest;

/// The files the gateway is given and what clients need to trust it.
#[derive(Debug, Clone)]
pub struct TestPki {
    /// The CA's certificate, PEM (`ca.pem`).
    pub ca_file: PathBuf,
    /// The CA's certificate, DER, for a rustls client's roots.
    pub ca_der: CertificateDer<'static>,
    /// The server certificate for 127.0.0.1 (`<name>.pem`) and its key
    /// (`<name>.key`), PEM.
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    /// base64 of the SHA-256 of the server certificate's
    /// SubjectPublicKeyInfo: what Chromium's
    /// `--ignore-certificate-errors-spki-list` takes.
    pub spki_sha256: String,
}

fn pem(label: &str, der: &[u8]) -> String {
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

impl TestPki {
    /// Makes a CA and a certificate named `name` for 127.0.0.1 (and
    /// `localhost`) in `dir`.
    pub fn new(dir: &Path, name: &str) -> Result<TestPki> {
        let ca_key = rcgen::KeyPair::generate()?;
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new())?;
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, format!("{name} test CA"));
        let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key)?;
        let key = rcgen::KeyPair::generate()?;
        let mut params =
            rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])?;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        let cert = params.signed_by(&key, &ca)?;
        let pki = TestPki {
            ca_file: dir.join("ca.pem"),
            ca_der: ca.der().clone(),
            cert_file: dir.join(format!("{name}.pem")),
            key_file: dir.join(format!("{name}.key")),
            spki_sha256: base64::engine::general_purpose::STANDARD
                .encode(sha2::Sha256::digest(key.subject_public_key_info())),
        };
        let write = |path: &Path, text: String| {
            std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
        };
        write(&pki.ca_file, pem("CERTIFICATE", ca.der()))?;
        write(&pki.cert_file, pem("CERTIFICATE", cert.der()))?;
        write(&pki.key_file, pem("PRIVATE KEY", &key.serialize_der()))?;
        Ok(pki)
    }
}
