//! SIP over TLS toward carriers (RFC 3261 §26.2, `sip:…;transport=tls`):
//! rustls (ring). The carrier's certificate is verified against Mozilla's
//! roots (`webpki-roots`), or only against the CA the carrier's settings pin;
//! SNI and the name check use the carrier's configured host. A connection
//! that cannot be made, or a certificate that is refused, is reported with
//! its reason ([`CoreInput::ConnectFailed`]) so the carrier page and the
//! agent see why.
//!
//! From carriers (`--sip-tls`): [`accept_loop`] takes their TLS connections
//! with the gateway's own certificate ([`super::tls_server`]) and feeds them
//! to the core exactly as TCP connections are fed ([`tcp::run`]), their
//! messages marked TLS; the core's carrier checks (allowlisted sources or
//! digest) and the guard apply to them as to TCP, and a banned source is
//! closed before its handshake.

use std::net::SocketAddr;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use shared::sip::Transport;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_rustls::{TlsAcceptor, TlsConnector};
use tracing::debug;

use super::{CoreInput, SipHandle, tcp};
use crate::sip::ConnId;

/// How the shell reaches one TLS carrier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsTarget {
    /// The carrier's host as configured: SNI and the certificate's name.
    pub server_name: String,
    /// A pinned CA (PEM); `None`: the usual public roots.
    pub ca_pem: Option<String>,
}

/// The client configuration for `target`, or why there is none.
pub fn connector(target: &TlsTarget) -> Result<(TlsConnector, ServerName<'static>), String> {
    connector_presenting(target, None)
}

/// As [`connector`], presenting `client_cert` to a carrier that asks for a
/// client certificate (mutual TLS); without one, a carrier that requires
/// it refuses the handshake, and that reason reaches the call and the
/// carrier's status.
pub fn connector_presenting(
    target: &TlsTarget,
    client_cert: Option<Arc<dyn rustls::client::ResolvesClientCert>>,
) -> Result<(TlsConnector, ServerName<'static>), String> {
    let mut roots = rustls::RootCertStore::empty();
    match &target.ca_pem {
        Some(pem) => {
            let mut added = 0;
            for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
                let cert = cert.map_err(|e| format!("the pinned CA is not PEM: {e}"))?;
                roots
                    .add(cert)
                    .map_err(|e| format!("the pinned CA is not usable: {e}"))?;
                added += 1;
            }
            if added == 0 {
                return Err("the pinned CA holds no certificate".to_owned());
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS set-up: {e}"))?
        .with_root_certificates(roots);
    let config = match client_cert {
        Some(resolver) => builder.with_client_cert_resolver(resolver),
        None => builder.with_no_client_auth(),
    };
    let name = ServerName::try_from(target.server_name.clone())
        .map_err(|_| format!("`{}` is not a TLS server name", target.server_name))?;
    Ok((TlsConnector::from(Arc::new(config)), name))
}

/// Opens a TLS connection to a carrier for the driver (as [`tcp::connect`]).
pub async fn connect(
    addr: SocketAddr,
    target: TlsTarget,
    conn: ConnId,
    rx: mpsc::Receiver<Vec<u8>>,
    core: SipHandle,
) {
    let fail = |reason: String| {
        let core = core.clone();
        async move {
            debug!(%addr, %reason, "TLS connection failed");
            core.send(CoreInput::ConnectFailed { conn, addr, reason })
                .await;
        }
    };
    let client_cert = core
        .client_cert()
        .map(|c| c as Arc<dyn rustls::client::ResolvesClientCert>);
    let (connector, name) = match connector_presenting(&target, client_cert) {
        Ok(c) => c,
        Err(reason) => return fail(reason).await,
    };
    let attempt = async {
        let tcp = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("TCP connection for TLS failed: {e}"))?;
        let _ = tcp.set_nodelay(true);
        connector
            .connect(name, tcp)
            .await
            .map_err(|e| format!("TLS handshake with {} failed: {e}", target.server_name))
    };
    match tokio::time::timeout(tcp::CONNECT_TIMEOUT, attempt).await {
        Ok(Ok(stream)) => tcp::run(stream, Transport::Tls, addr, conn, rx, core).await,
        Ok(Err(reason)) => fail(reason).await,
        Err(_) => fail("TLS connection timed out".to_owned()).await,
    }
}

/// Accepts carriers' SIP over TLS on `listener` for as long as the process
/// runs.
pub async fn accept_loop(
    listener: tokio::net::TcpListener,
    acceptor: TlsAcceptor,
    core: SipHandle,
) {
    let bans = core.bans();
    super::tls_server::accept_each(
        listener,
        acceptor,
        super::tls_server::HANDSHAKE_TIMEOUT,
        move |peer| !bans.refuses(peer.ip(), super::now().unix),
        move |stream, peer| {
            let core = core.clone();
            async move {
                let conn = core.new_conn_id();
                let (tx, rx) = mpsc::channel::<Vec<u8>>(tcp::QUEUE);
                core.send(CoreInput::Connected { conn, tx }).await;
                tcp::run(stream, Transport::Tls, peer, conn, rx, core).await;
            }
        },
    )
    .await;
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn pinned_ca_must_be_a_certificate() {
        let target = |ca: Option<&str>| TlsTarget {
            server_name: "carrier.example".to_owned(),
            ca_pem: ca.map(str::to_owned),
        };
        assert!(connector(&target(None)).is_ok());
        let err = connector(&target(Some("not a pem"))).err().unwrap();
        assert!(err.contains("no certificate"), "{err}");
        let bad_name = TlsTarget {
            server_name: "bad name!".to_owned(),
            ca_pem: None,
        };
        assert!(connector(&bad_name).err().unwrap().contains("server name"));
    }

    /// A carrier that requires a client certificate gets ours (the
    /// gateway's own, `--tls-cert`) and sees who we are; without one it
    /// refuses the handshake.
    #[tokio::test]
    async fn mutual_tls_presents_the_gateways_certificate() {
        use super::super::tls_server::{self, CertFiles, ReloadingCert};
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let dir = std::env::temp_dir().join(format!("gw-mtls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let write = |name: &str, pki: &tls_server::tests::TestPki| {
            let files = CertFiles {
                cert: dir.join(format!("{name}.pem")),
                key: dir.join(format!("{name}.key")),
            };
            std::fs::write(&files.cert, &pki.cert_pem).unwrap();
            std::fs::write(&files.key, &pki.key_pem).unwrap();
            files
        };
        let carrier = tls_server::tests::test_pki("carrier");
        let ours = tls_server::tests::test_pki("gateway");
        let our_cert = Arc::new(ReloadingCert::new(write("gateway", &ours)).unwrap());

        // The carrier: its own certificate, and only clients our CA signed.
        let mut client_roots = rustls::RootCertStore::empty();
        client_roots.add(ours.ca_der.clone()).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            Arc::new(client_roots),
            provider.clone(),
        )
        .build()
        .unwrap();
        let carrier_cert = ReloadingCert::new(write("carrier", &carrier)).unwrap();
        let server = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_client_cert_verifier(verifier)
            .with_cert_resolver(Arc::new(carrier_cert));
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (seen_tx, mut seen) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            loop {
                let (tcp, _) = listener.accept().await.unwrap();
                let seen_tx = seen_tx.clone();
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let outcome = match acceptor.accept(tcp).await {
                        Ok(mut tls) => {
                            let peer = tls.get_ref().1.peer_certificates().map(<[_]>::to_vec);
                            let _ = tls.write_all(b"ok").await;
                            let _ = tls.flush().await;
                            Ok(peer)
                        }
                        Err(e) => Err(e.to_string()),
                    };
                    let _ = seen_tx.send(outcome);
                });
            }
        });

        let target = TlsTarget {
            server_name: "127.0.0.1".to_owned(),
            ca_pem: Some(tls_server::tests::pem_of("CERTIFICATE", &carrier.ca_der)),
        };
        let presenting = our_cert.clone() as Arc<dyn rustls::client::ResolvesClientCert>;
        let (mutual, name) = connector_presenting(&target, Some(presenting)).unwrap();
        let tcp = TcpStream::connect(addr).await.unwrap();
        let mut tls = mutual.connect(name, tcp).await.unwrap();
        let mut ok = [0u8; 2];
        tls.read_exact(&mut ok).await.unwrap();
        let peer = seen.recv().await.unwrap().unwrap().unwrap();
        assert_eq!(
            peer[0],
            our_cert.current().cert[0],
            "the carrier saw our certificate"
        );

        // Without a client certificate the carrier refuses us.
        let (anonymous, name) = connector(&target).unwrap();
        let tcp = TcpStream::connect(addr).await.unwrap();
        if let Ok(mut tls) = anonymous.connect(name, tcp).await {
            // TLS 1.3: the refusal arrives after our side finished.
            let mut byte = [0u8; 1];
            assert!(!matches!(tls.read(&mut byte).await, Ok(n) if n > 0));
        }
        let refused = seen.recv().await.unwrap().unwrap_err();
        assert!(refused.contains("certificate"), "{refused}");
    }
}
