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
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS set-up: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
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
    let (connector, name) = match connector(&target) {
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
}
