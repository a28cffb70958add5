//! The gateway's own certificate from an ACME CA (RFC 8555: Let's Encrypt,
//! or Pebble in the tests) with the HTTP-01 challenge (`--acme-domain`).
//!
//! ```text
//!  start ──► ensure: cert.pem + key.pem in <data>/acme load and are
//!            younger than RENEW_AFTER? ── yes ──► serve them
//!                 │ no
//!                 ▼
//!            account (<data>/acme/account.json, created once)
//!            → order for the domain → each authorization's http-01
//!              token published on --acme-http
//!              (/.well-known/acme-challenge/<token>) → ready
//!            → finalize (a fresh P-256 key, rcgen's CSR)
//!            → chain written next to the key (tmp + rename)
//!  renew_loop: the same check every 12 h; the new files reach new
//!  connections through tls_server's reload loop.
//! ```
//!
//! The ACME server is reached with our own small HTTPS client (hyper over
//! tokio-rustls, as the webhook does), trusting Mozilla's roots or only the
//! CA `--acme-ca` names.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use bytes::Bytes;
use instant_acme::{
    Account, AccountCredentials, AuthorizationStatus, BodyWrapper, BytesResponse, ChallengeType,
    HttpClient, Identifier, NewAccount, NewOrder, OrderStatus, RetryPolicy,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tracing::{info, warn};

use crate::transport::tls_server::CertFiles;

/// Let's Encrypt's production directory, the default.
pub const LETS_ENCRYPT: &str = "https://acme-v02.api.letsencrypt.org/directory";

/// A certificate older than this is renewed (Let's Encrypt's last 90 days).
pub const RENEW_AFTER: Duration = Duration::from_secs(60 * 24 * 3600);

/// How often the certificate's age is looked at.
const CHECK_EVERY: Duration = Duration::from_secs(12 * 3600);

/// How long one request to the ACME server may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The checked `acme_*` settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcmeConfig {
    /// The public host name the certificate is for.
    pub domain: String,
    /// The ACME directory URL (`https://…`).
    pub directory: String,
    /// `mailto:` contact for the account, if given.
    pub email: Option<String>,
    /// A PEM CA to trust for the directory instead of the public roots.
    pub ca: Option<PathBuf>,
    /// Where the HTTP-01 responder listens (port 80 for a real CA).
    pub http: std::net::SocketAddr,
    /// `<data>/acme`: the account and the certificate files.
    pub dir: PathBuf,
}

impl AcmeConfig {
    /// Where the certificate and key are kept (what `tls_server` serves).
    pub fn files(&self) -> CertFiles {
        CertFiles {
            cert: self.dir.join("cert.pem"),
            key: self.dir.join("key.pem"),
        }
    }
}

/// HTTP-01 key authorizations by token, while an order is being validated.
#[derive(Debug, Clone, Default)]
pub struct Challenges(Arc<Mutex<HashMap<String, String>>>);

impl Challenges {
    fn set(&self, token: &str, key_authorization: &str) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(token.to_owned(), key_authorization.to_owned());
    }

    fn clear(&self) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    fn get(&self, token: &str) -> Option<String> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(token)
            .cloned()
    }
}

/// The HTTP-01 responder: `GET /.well-known/acme-challenge/{token}`
/// answers the key authorization of a token being validated, 404 for an
/// unknown token; every other request is redirected to HTTPS on
/// `https_port` ([`crate::http::redirect`]). Nothing else is served on this
/// plain-HTTP port.
pub fn challenge_router(challenges: Challenges, https_port: u16) -> Router {
    async fn answer(
        State(challenges): State<Challenges>,
        UrlPath(token): UrlPath<String>,
    ) -> axum::response::Response {
        match challenges.get(&token) {
            Some(key_authorization) => key_authorization.into_response(),
            None => (StatusCode::NOT_FOUND, "no such challenge").into_response(),
        }
    }
    Router::new()
        .route("/.well-known/acme-challenge/{token}", get(answer))
        .with_state(challenges)
        .fallback_service(crate::http::redirect::router(https_port))
}

/// Whether the files hold a usable pair younger than [`RENEW_AFTER`].
fn fresh(files: &CertFiles) -> bool {
    let young = std::fs::metadata(&files.cert)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .is_some_and(|age| age < RENEW_AFTER);
    young && crate::transport::tls_server::load(files).is_ok()
}

/// Makes sure the files hold a fresh certificate, ordering one if not;
/// `Ok(true)` when a new one was written.
pub async fn ensure(config: &AcmeConfig, challenges: &Challenges) -> Result<bool, String> {
    let files = config.files();
    if fresh(&files) {
        return Ok(false);
    }
    info!(domain = %config.domain, directory = %config.directory, "ordering a certificate (ACME)");
    let result = order(config, challenges, &files).await;
    challenges.clear();
    result.map(|()| true)
}

/// Looks at the certificate's age every 12 hours and renews it; a failure
/// is logged and tried again at the next look (the old certificate is
/// served meanwhile).
pub async fn renew_loop(config: AcmeConfig, challenges: Challenges) {
    loop {
        tokio::time::sleep(CHECK_EVERY).await;
        match ensure(&config, &challenges).await {
            Ok(true) => info!(domain = %config.domain, "certificate renewed (ACME)"),
            Ok(false) => {}
            Err(e) => warn!(domain = %config.domain, "certificate renewal failed: {e}"),
        }
    }
}

async fn order(
    config: &AcmeConfig,
    challenges: &Challenges,
    files: &CertFiles,
) -> Result<(), String> {
    std::fs::create_dir_all(&config.dir)
        .map_err(|e| format!("cannot create {}: {e}", config.dir.display()))?;
    let account = account(config).await?;
    let identifiers = [Identifier::Dns(config.domain.clone())];
    let mut order = account
        .new_order(&NewOrder::new(&identifiers))
        .await
        .map_err(|e| format!("new order: {e}"))?;
    let mut authorizations = order.authorizations();
    while let Some(authorization) = authorizations.next().await {
        let mut authorization = authorization.map_err(|e| format!("authorization: {e}"))?;
        match authorization.status {
            AuthorizationStatus::Pending => {}
            AuthorizationStatus::Valid => continue,
            other => return Err(format!("authorization is {other:?}")),
        }
        let mut challenge = authorization
            .challenge(ChallengeType::Http01)
            .ok_or("the CA offers no http-01 challenge")?;
        challenges.set(&challenge.token, challenge.key_authorization().as_str());
        challenge
            .set_ready()
            .await
            .map_err(|e| format!("challenge: {e}"))?;
    }
    let status = order
        .poll_ready(&RetryPolicy::default())
        .await
        .map_err(|e| format!("waiting for validation: {e}"))?;
    if status != OrderStatus::Ready {
        let why = order
            .state()
            .error
            .as_ref()
            .map_or_else(String::new, |p| format!(": {p}"));
        return Err(format!(
            "the order is {status:?}{why} (is http://{}/.well-known/acme-challenge/ \
             reaching --acme-http?)",
            config.domain
        ));
    }
    let key_pem = order
        .finalize()
        .await
        .map_err(|e| format!("finalize: {e}"))?;
    let chain_pem = order
        .poll_certificate(&RetryPolicy::default())
        .await
        .map_err(|e| format!("certificate: {e}"))?;
    // The key first: the reload loop then sees a whole pair at the latest
    // once the certificate lands.
    write_atomic(&files.key, key_pem.as_bytes())?;
    write_atomic(&files.cert, chain_pem.as_bytes())?;
    info!(domain = %config.domain, cert = %files.cert.display(), "certificate issued (ACME)");
    Ok(())
}

/// The account: restored from `account.json`, or created (and saved).
async fn account(config: &AcmeConfig) -> Result<Account, String> {
    let path = config.dir.join("account.json");
    let client = || -> Result<Box<dyn HttpClient>, String> { Ok(Box::new(AcmeHttp::new(config)?)) };
    if let Ok(text) = std::fs::read_to_string(&path) {
        let credentials: AccountCredentials = serde_json::from_str(&text)
            .map_err(|e| format!("{} is not ACME account credentials: {e}", path.display()))?;
        return Account::builder_with_http(client()?)
            .from_credentials(credentials)
            .await
            .map_err(|e| format!("ACME account: {e}"));
    }
    let contact = config.email.as_ref().map(|e| format!("mailto:{e}"));
    let contacts: Vec<&str> = contact.iter().map(String::as_str).collect();
    let (account, credentials) = Account::builder_with_http(client()?)
        .create(
            &NewAccount {
                contact: &contacts,
                terms_of_service_agreed: true,
                only_return_existing: false,
            },
            config.directory.clone(),
            None,
        )
        .await
        .map_err(|e| format!("creating the ACME account: {e}"))?;
    let json = serde_json::to_vec(&credentials).map_err(|e| format!("account: {e}"))?;
    write_atomic(&path, &json)?;
    Ok(account)
}

/// Writes `bytes` to `path` by renaming a finished temporary file over it,
/// readable by the owner only (the key, the account's key).
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), String> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    options.mode(0o600);
    let written = options
        .open(&tmp)
        .and_then(|mut f| f.write_all(bytes).and_then(|()| f.sync_all()))
        .and_then(|()| std::fs::rename(&tmp, path));
    written.map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// instant-acme's HTTP client: one HTTP/1.1 request per TLS connection.
struct AcmeHttp {
    tls: tokio_rustls::TlsConnector,
}

impl AcmeHttp {
    fn new(config: &AcmeConfig) -> Result<AcmeHttp, String> {
        let mut roots = rustls::RootCertStore::empty();
        match &config.ca {
            Some(path) => {
                for cert in CertificateDer::pem_file_iter(path)
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))?
                {
                    let cert = cert.map_err(|e| format!("{}: {e}", path.display()))?;
                    roots
                        .add(cert)
                        .map_err(|e| format!("{}: {e}", path.display()))?;
                }
            }
            None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        }
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS set-up: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
        Ok(AcmeHttp {
            tls: tokio_rustls::TlsConnector::from(Arc::new(tls)),
        })
    }
}

fn other(message: String) -> instant_acme::Error {
    instant_acme::Error::Other(message.into())
}

impl HttpClient for AcmeHttp {
    fn request(
        &self,
        mut request: axum::http::Request<BodyWrapper<Bytes>>,
    ) -> Pin<Box<dyn Future<Output = Result<BytesResponse, instant_acme::Error>> + Send>> {
        let tls = self.tls.clone();
        Box::pin(async move {
            let uri = request.uri().clone();
            if uri.scheme_str() != Some("https") {
                return Err(other(format!("{uri}: the ACME server must be https")));
            }
            let host = uri.host().unwrap_or_default().to_owned();
            let port = uri.port_u16().unwrap_or(443);
            let exchange = async {
                let name = ServerName::try_from(host.clone())
                    .map_err(|_| other(format!("`{host}` is not a TLS server name")))?;
                let tcp = tokio::net::TcpStream::connect((host.as_str(), port))
                    .await
                    .map_err(|e| other(format!("connecting to {host}:{port}: {e}")))?;
                let stream = tls
                    .connect(name, tcp)
                    .await
                    .map_err(|e| other(format!("TLS with {host}: {e}")))?;
                let (mut sender, connection) =
                    hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                        .await
                        .map_err(|e| other(format!("HTTP with {host}: {e}")))?;
                tokio::spawn(connection);
                let authority = uri
                    .authority()
                    .map_or_else(|| host.clone(), |a| a.as_str().to_owned());
                *request.uri_mut() = uri
                    .path_and_query()
                    .map_or("/", |p| p.as_str())
                    .parse()
                    .map_err(|e| other(format!("{uri}: {e}")))?;
                request.headers_mut().insert(
                    axum::http::header::HOST,
                    authority
                        .parse()
                        .map_err(|e| other(format!("{authority}: {e}")))?,
                );
                let response = sender
                    .send_request(request)
                    .await
                    .map_err(|e| other(format!("{uri}: {e}")))?;
                Ok(BytesResponse::from(response))
            };
            tokio::time::timeout(REQUEST_TIMEOUT, exchange)
                .await
                .map_err(|_| other(format!("{uri}: no answer within {REQUEST_TIMEOUT:?}")))?
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use tower::ServiceExt;

    #[tokio::test]
    async fn the_responder_answers_only_tokens_being_validated() {
        let challenges = Challenges::default();
        challenges.set("tok-1", "tok-1.thumbprint");
        let app = challenge_router(challenges.clone(), 8443);
        let get = |path: &str| {
            axum::http::Request::get(path)
                .body(axum::body::Body::empty())
                .unwrap()
        };
        let response = app
            .clone()
            .oneshot(get("/.well-known/acme-challenge/tok-1"))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let body = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .unwrap();
        assert_eq!(&body[..], b"tok-1.thumbprint");
        let response = app
            .clone()
            .oneshot(get("/.well-known/acme-challenge/other"))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        for path in ["/", "/api/v1/session"] {
            let request = axum::http::Request::get(path)
                .header("host", "gw.example")
                .body(axum::body::Body::empty())
                .unwrap();
            let response = app.clone().oneshot(request).await.unwrap();
            assert_eq!(response.status(), StatusCode::PERMANENT_REDIRECT, "{path}");
            assert_eq!(
                response.headers()[axum::http::header::LOCATION],
                format!("https://gw.example:8443{path}")
            );
        }
        challenges.clear();
        let response = app
            .oneshot(get("/.well-known/acme-challenge/tok-1"))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
    }

    #[test]
    fn fresh_needs_a_loadable_young_pair() {
        let dir = std::env::temp_dir().join(format!("gw-acme-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let files = CertFiles {
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
        };
        assert!(!fresh(&files), "no files");
        let pki = crate::transport::tls_server::tests::test_pki("acme");
        write_atomic(&files.key, pki.key_pem.as_bytes()).unwrap();
        write_atomic(&files.cert, pki.cert_pem.as_bytes()).unwrap();
        assert!(fresh(&files));
        std::fs::write(&files.cert, "garbage").unwrap();
        assert!(!fresh(&files), "a pair that does not load is renewed");
    }
}
