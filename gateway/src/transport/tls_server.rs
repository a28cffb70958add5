//! The gateway's own certificate and the TLS servers that use it: HTTPS
//! (and so WSS, the SIP WebSocket on the same port) and SIP over TLS from
//! carriers ([`super::tls::accept_loop`]).
//!
//! ```text
//!  --tls-cert / --tls-key ──► ReloadingCert ◄── reload_loop: every 2 s, read
//!  (or crate::acme's files)       │               both files; changed → use
//!                                 │               the pair, keep the old one
//!                                 ▼               (and say why) if it fails
//!  TcpListener ──► accept_each ──► handshake (≤ 10 s, ≤ 256 at once)
//!                                 ──► HTTPS: HttpsListener ──► axum::serve
//!                                 ──► SIP:   tcp::run (framing, the core)
//! ```
//!
//! Toward TLS carriers ([`super::tls::connect`]) the same certificate is
//! our client certificate when a carrier asks for one (mutual TLS).
//!
//! A new certificate is used by new handshakes only: connections already
//! up (a WebSocket carrying a call, a carrier's TLS connection) keep the
//! session they have. Reloading polls the files rather than waiting for
//! SIGHUP so that a renewal tool (certbot, an ACME client, a
//! Kubernetes secret mount) needs no hook to tell the gateway.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use rustls::client::ResolvesClientCert;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tracing::{debug, info, warn};

/// How long a client may take to finish its handshake before the
/// connection is closed (a silent or slow client holds nothing longer).
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Handshakes in progress at once per listener; past it, new connections
/// wait in the kernel's backlog.
const MAX_HANDSHAKES: usize = 256;

/// How often the certificate files are looked at.
pub const RELOAD_INTERVAL: Duration = Duration::from_secs(2);

/// The certificate (chain) and private key files, PEM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Why a certificate and key could not be used; `setting` names the file's
/// setting (`tls_cert` or `tls_key`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct CertError {
    pub setting: &'static str,
    pub message: String,
}

/// Reads and checks a certificate chain and its key: both PEM, the key
/// PKCS#8, PKCS#1 (RSA) or SEC1 (EC), and belonging to the first
/// certificate.
pub fn load(files: &CertFiles) -> Result<CertifiedKey, CertError> {
    let (cert, key) = read(files)?;
    parse(files, &cert, &key)
}

fn read(files: &CertFiles) -> Result<(Vec<u8>, Vec<u8>), CertError> {
    let cert = std::fs::read(&files.cert).map_err(|e| CertError {
        setting: "tls_cert",
        message: format!("cannot read {}: {e}", files.cert.display()),
    })?;
    let key = std::fs::read(&files.key).map_err(|e| CertError {
        setting: "tls_key",
        message: format!("cannot read {}: {e}", files.key.display()),
    })?;
    Ok((cert, key))
}

fn parse(files: &CertFiles, cert: &[u8], key: &[u8]) -> Result<CertifiedKey, CertError> {
    let cert_err = |message: String| CertError {
        setting: "tls_cert",
        message,
    };
    let key_err = |message: String| CertError {
        setting: "tls_key",
        message,
    };
    let cert_path = files.cert.display();
    let chain = CertificateDer::pem_slice_iter(cert)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| cert_err(format!("{cert_path} is not PEM: {e}")))?;
    if chain.is_empty() {
        return Err(cert_err(format!("{cert_path} holds no CERTIFICATE")));
    }
    let key_path = files.key.display();
    let key = PrivateKeyDer::from_pem_slice(key).map_err(|e| {
        key_err(format!(
            "{key_path}: no usable PEM private key (PKCS#8, RSA or EC): {e}"
        ))
    })?;
    let signing = rustls::crypto::ring::default_provider()
        .key_provider
        .load_private_key(key)
        .map_err(|e| key_err(format!("{key_path}: the key cannot sign: {e}")))?;
    let certified = CertifiedKey::new(chain, signing);
    certified.keys_match().map_err(|e| {
        key_err(format!(
            "{key_path} is not the key of the certificate in {cert_path}: {e}"
        ))
    })?;
    Ok(certified)
}

/// The files' contents by SHA-256: what tells a new pair from the one
/// already loaded (or already refused). Contents, not modification times:
/// a renewal written twice within one clock tick, or a certificate of the
/// same length, is still seen.
type Stamp = Option<([u8; 32], [u8; 32])>;

fn stamp(read: &Result<(Vec<u8>, Vec<u8>), CertError>) -> Stamp {
    use sha2::Digest;
    read.as_ref().ok().map(|(cert, key)| {
        (
            sha2::Sha256::digest(cert).into(),
            sha2::Sha256::digest(key).into(),
        )
    })
}

/// What one look at the files found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reload {
    /// Neither file changed since the last look.
    Unchanged,
    /// A new pair is in use.
    Reloaded,
    /// The files changed but the pair cannot be used: the one before stays.
    Kept(CertError),
}

/// The certificate new handshakes get (rustls asks for it on each one),
/// replaced by [`ReloadingCert::check`] when the files change.
#[derive(Debug)]
pub struct ReloadingCert {
    files: CertFiles,
    current: RwLock<Arc<CertifiedKey>>,
    /// The files as last read (loaded or refused): a refused pair is
    /// reported once, not at every look.
    tried: Mutex<Stamp>,
}

impl ReloadingCert {
    /// Loads the pair; fails if it cannot be used.
    pub fn new(files: CertFiles) -> Result<ReloadingCert, CertError> {
        let read = read(&files);
        let tried = stamp(&read);
        let (cert, key) = read?;
        let certified = parse(&files, &cert, &key)?;
        Ok(ReloadingCert {
            files,
            current: RwLock::new(Arc::new(certified)),
            tried: Mutex::new(tried),
        })
    }

    /// Reads the files once and uses them if either changed.
    pub fn check(&self) -> Reload {
        let read = read(&self.files);
        {
            let new = stamp(&read);
            let mut tried = self.tried.lock().unwrap_or_else(|p| p.into_inner());
            if *tried == new {
                return Reload::Unchanged;
            }
            *tried = new;
        }
        match read.and_then(|(cert, key)| parse(&self.files, &cert, &key)) {
            Ok(certified) => {
                *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(certified);
                Reload::Reloaded
            }
            Err(e) => Reload::Kept(e),
        }
    }

    /// The certificate in use now.
    pub fn current(&self) -> Arc<CertifiedKey> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

/// The same certificate is our client certificate toward a TLS carrier
/// that asks for one (mutual TLS); one that does not ask is sent none.
impl ResolvesClientCert for ReloadingCert {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        sigschemes: &[rustls::SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        let current = self.current();
        current
            .key
            .choose_scheme(sigschemes)
            .is_some()
            .then_some(current)
    }

    fn has_certs(&self) -> bool {
        true
    }
}

/// Looks at the files every `interval` for as long as the process runs,
/// logging each reload and each refused pair.
pub async fn reload_loop(cert: Arc<ReloadingCert>, interval: Duration) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let checker = cert.clone();
        // File reads block; a slow disk must not stall a runtime thread.
        let outcome = match tokio::task::spawn_blocking(move || checker.check()).await {
            Ok(outcome) => outcome,
            Err(e) => {
                warn!("certificate reload check failed: {e}");
                continue;
            }
        };
        match outcome {
            Reload::Unchanged => {}
            Reload::Reloaded => info!(
                cert = %cert.files.cert.display(),
                "TLS certificate reloaded; new connections use it"
            ),
            Reload::Kept(e) => warn!(
                "TLS certificate files changed but cannot be used ({e}); \
                 still serving the previous certificate"
            ),
        }
    }
}

/// The server configuration for `cert`: TLS 1.2 and 1.3 with ring, no
/// client certificates, and `alpn` offered (`http/1.1` for HTTPS; none for
/// SIP).
pub fn acceptor(cert: Arc<ReloadingCert>, alpn: &[&[u8]]) -> Result<TlsAcceptor, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS set-up: {e}"))?
        .with_no_client_auth()
        .with_cert_resolver(cert);
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Accepts connections on `listener` for as long as it is open, runs each
/// one's handshake (at most `timeout`, at most [`MAX_HANDSHAKES`] at once)
/// on a task of its own, and hands each finished one to `handle`. A source
/// `admit` refuses is closed before its handshake. A failed or timed-out
/// handshake closes the connection and is logged at debug level: a port
/// on the Internet sees scanners all day.
pub async fn accept_each<A, H, F>(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    timeout: Duration,
    admit: A,
    handle: H,
) where
    A: Fn(SocketAddr) -> bool + Send + 'static,
    H: Fn(TlsStream<TcpStream>, SocketAddr) -> F + Clone + Send + Sync + 'static,
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let handshakes = Arc::new(Semaphore::new(MAX_HANDSHAKES));
    loop {
        let Ok(permit) = handshakes.clone().acquire_owned().await else {
            return;
        };
        let (tcp, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                debug!("TLS accept: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        if !admit(peer) {
            continue;
        }
        if let Err(e) = tcp.set_nodelay(true) {
            debug!(%peer, "TCP_NODELAY not set: {e}");
        }
        let acceptor = acceptor.clone();
        let handle = handle.clone();
        tokio::spawn(async move {
            let stream = match tokio::time::timeout(timeout, acceptor.accept(tcp)).await {
                Ok(Ok(stream)) => stream,
                Ok(Err(e)) => {
                    debug!(%peer, "TLS handshake failed: {e}");
                    return;
                }
                Err(_) => {
                    debug!(%peer, "TLS handshake timed out");
                    return;
                }
            };
            drop(permit);
            handle(stream, peer).await;
        });
    }
}

/// The HTTPS side of the HTTP listener, for `axum::serve`: connections
/// whose handshake is done, from an [`accept_each`] task that ends with it.
pub struct HttpsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
    accepting: tokio::task::JoinHandle<()>,
}

impl HttpsListener {
    pub fn new(listener: TcpListener, acceptor: TlsAcceptor) -> io::Result<HttpsListener> {
        let local = listener.local_addr()?;
        let (tx, ready) = mpsc::channel(64);
        let accepting = tokio::spawn(accept_each(
            listener,
            acceptor,
            HANDSHAKE_TIMEOUT,
            |_| true,
            move |stream, peer| {
                let tx = tx.clone();
                async move {
                    // The server is shutting down: the connection closes.
                    let _ = tx.send((stream, peer)).await;
                }
            },
        ));
        Ok(HttpsListener {
            ready,
            local,
            accepting,
        })
    }
}

impl Drop for HttpsListener {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}

impl axum::serve::Listener for HttpsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(accepted) => accepted,
            // The accepting task ended (its listener failed for good):
            // serve no new connection, keep the open ones.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(self.local)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod tests {
    use super::*;
    use std::path::Path;

    use base64::Engine;
    use rustls::pki_types::ServerName;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A throwaway CA and a certificate it signed for 127.0.0.1, as PEM.
    pub struct TestPki {
        pub ca_der: CertificateDer<'static>,
        pub cert_pem: String,
        pub key_pem: String,
    }

    pub fn pem_of(label: &str, der: &[u8]) -> String {
        let body = base64::engine::general_purpose::STANDARD.encode(der);
        let mut out = format!("-----BEGIN {label}-----\n");
        for line in body.as_bytes().chunks(64) {
            out.push_str(std::str::from_utf8(line).unwrap());
            out.push('\n');
        }
        out.push_str(&format!("-----END {label}-----\n"));
        out
    }

    pub fn test_pki(name: &str) -> TestPki {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, format!("{name} CA"));
        let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        let cert = params.signed_by(&key, &ca).unwrap();
        TestPki {
            ca_der: ca.der().clone(),
            cert_pem: pem_of("CERTIFICATE", cert.der()),
            key_pem: pem_of("PRIVATE KEY", &key.serialize_der()),
        }
    }

    fn write(dir: &Path, pki: &TestPki) -> CertFiles {
        let files = CertFiles {
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
        };
        std::fs::write(&files.cert, &pki.cert_pem).unwrap();
        std::fs::write(&files.key, &pki.key_pem).unwrap();
        files
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("gw-tls-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn bad_files_are_refused_naming_the_setting() {
        let dir = temp_dir("bad");
        let good = test_pki("good");
        let other = test_pki("other");
        let files = write(&dir, &good);
        assert!(load(&files).is_ok());

        let missing = CertFiles {
            cert: dir.join("nope.pem"),
            ..files.clone()
        };
        let err = load(&missing).unwrap_err();
        assert_eq!(err.setting, "tls_cert", "{err}");
        assert!(err.message.contains("cannot read"), "{err}");

        std::fs::write(dir.join("empty.pem"), "no pem here\n").unwrap();
        let empty = CertFiles {
            cert: dir.join("empty.pem"),
            ..files.clone()
        };
        let err = load(&empty).unwrap_err();
        assert_eq!(err.setting, "tls_cert", "{err}");
        assert!(err.message.contains("no CERTIFICATE"), "{err}");

        let nokey = CertFiles {
            key: dir.join("empty.pem"),
            ..files.clone()
        };
        assert_eq!(load(&nokey).unwrap_err().setting, "tls_key");

        std::fs::write(dir.join("other.key"), &other.key_pem).unwrap();
        let mismatch = CertFiles {
            key: dir.join("other.key"),
            ..files
        };
        let err = load(&mismatch).unwrap_err();
        assert_eq!(err.setting, "tls_key", "{err}");
        assert!(err.message.contains("is not the key"), "{err}");
    }

    #[test]
    fn a_changed_pair_is_loaded_and_a_bad_one_keeps_the_old() {
        let dir = temp_dir("reload");
        let first = test_pki("first");
        let files = write(&dir, &first);
        let cert = ReloadingCert::new(files.clone()).unwrap();
        let in_use = |c: &ReloadingCert| c.current().cert[0].clone();
        assert_eq!(cert.check(), Reload::Unchanged);

        let second = test_pki("second");
        write(&dir, &second);
        assert_eq!(cert.check(), Reload::Reloaded);
        let second_der = in_use(&cert);
        assert_ne!(
            second_der,
            CertificateDer::from_pem_slice(first.cert_pem.as_bytes()).unwrap()
        );
        assert_eq!(cert.check(), Reload::Unchanged);

        // Half a renewal: a new certificate next to the old key.
        let third = test_pki("third");
        std::fs::write(&files.cert, &third.cert_pem).unwrap();
        match cert.check() {
            Reload::Kept(e) => assert_eq!(e.setting, "tls_key", "{e}"),
            other => panic!("a mismatched pair was {other:?}"),
        }
        assert_eq!(in_use(&cert), second_der, "the previous pair stays");
        // Reported once, not at every look.
        assert_eq!(cert.check(), Reload::Unchanged);
        // The key arrives: the pair is whole again.
        std::fs::write(&files.key, &third.key_pem).unwrap();
        assert_eq!(cert.check(), Reload::Reloaded);
        assert_ne!(in_use(&cert), second_der);

        std::fs::write(&files.cert, "garbage").unwrap();
        assert!(matches!(cert.check(), Reload::Kept(_)));
        assert_ne!(in_use(&cert), second_der);
    }

    fn client(ca: &CertificateDer<'static>) -> tokio_rustls::TlsConnector {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca.clone()).unwrap();
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        tokio_rustls::TlsConnector::from(Arc::new(config))
    }

    async fn connect(
        addr: SocketAddr,
        ca: &CertificateDer<'static>,
    ) -> io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
        let tcp = TcpStream::connect(addr).await?;
        let name = ServerName::try_from("127.0.0.1").unwrap();
        client(ca).connect(name, tcp).await
    }

    /// An echo server behind `accept_each`, for the tests below.
    async fn echo_server(cert: Arc<ReloadingCert>, timeout: Duration) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let acceptor = acceptor(cert, &[]).unwrap();
        tokio::spawn(accept_each(
            listener,
            acceptor,
            timeout,
            |_| true,
            |mut stream, _| async move {
                let mut buf = [0u8; 64];
                while let Ok(n) = stream.read(&mut buf).await {
                    if n == 0 || stream.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                    let _ = stream.flush().await;
                }
            },
        ));
        addr
    }

    async fn echoes(stream: &mut tokio_rustls::client::TlsStream<TcpStream>, text: &[u8]) {
        stream.write_all(text).await.unwrap();
        stream.flush().await.unwrap();
        let mut got = vec![0u8; text.len()];
        stream.read_exact(&mut got).await.unwrap();
        assert_eq!(got, text);
    }

    #[tokio::test]
    async fn reload_serves_new_handshakes_and_keeps_open_connections() {
        let dir = temp_dir("live");
        let first = test_pki("first");
        let files = write(&dir, &first);
        let cert = Arc::new(ReloadingCert::new(files).unwrap());
        let addr = echo_server(cert.clone(), HANDSHAKE_TIMEOUT).await;

        let mut old = connect(addr, &first.ca_der).await.unwrap();
        echoes(&mut old, b"before").await;

        let second = test_pki("second");
        write(&dir, &second);
        assert_eq!(cert.check(), Reload::Reloaded);
        // A client that trusts only the old CA is refused now…
        assert!(connect(addr, &first.ca_der).await.is_err());
        // …one that trusts the new CA gets the new certificate…
        let mut new = connect(addr, &second.ca_der).await.unwrap();
        echoes(&mut new, b"new").await;
        // …and the connection made before the reload is still up.
        echoes(&mut old, b"after").await;
    }

    #[tokio::test]
    async fn garbage_and_silence_are_closed_and_the_server_goes_on() {
        let dir = temp_dir("garbage");
        let pki = test_pki("g");
        let cert = Arc::new(ReloadingCert::new(write(&dir, &pki)).unwrap());
        let addr = echo_server(cert, Duration::from_millis(300)).await;

        // Not TLS at all: the server answers with an alert (or nothing)
        // and closes.
        let mut plain = TcpStream::connect(addr).await.unwrap();
        plain
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut rest = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(5), plain.read_to_end(&mut rest)).await;
        assert!(read.is_ok(), "the server did not close a plain-text client");

        // Silent after connecting: closed once the handshake time is up.
        let mut silent = TcpStream::connect(addr).await.unwrap();
        let started = std::time::Instant::now();
        let mut byte = [0u8; 1];
        let read = tokio::time::timeout(Duration::from_secs(5), silent.read(&mut byte)).await;
        assert!(
            matches!(read, Ok(Ok(0)) | Ok(Err(_))),
            "a silent client was not closed: {read:?}"
        );
        assert!(started.elapsed() >= Duration::from_millis(250));

        // A real client is still served.
        let mut ok = connect(addr, &pki.ca_der).await.unwrap();
        echoes(&mut ok, b"still here").await;
    }
}
