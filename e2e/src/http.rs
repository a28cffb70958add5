//! A small HTTP/1.1 client (hyper, on loopback) for the REST API: plain
//! HTTP, or HTTPS to an address whose CA was given to [`trust`] (a gateway
//! the harness started with a test certificate).

use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rustls::pki_types::CertificateDer;
use serde::de::DeserializeOwned;

const TIMEOUT: Duration = Duration::from_secs(15);

/// CAs trusted for HTTPS, by `host:port`.
static TRUSTED: std::sync::Mutex<Vec<(String, CertificateDer<'static>)>> =
    std::sync::Mutex::new(Vec::new());

/// Trusts `ca` for HTTPS to `authority` (`127.0.0.1:PORT`).
pub fn trust(authority: &str, ca: CertificateDer<'static>) {
    let mut trusted = TRUSTED.lock().unwrap_or_else(|p| p.into_inner());
    trusted.retain(|(a, _)| a != authority);
    trusted.push((authority.to_owned(), ca));
}

/// A TLS client that trusts only `ca`.
pub fn tls_connector(ca: &CertificateDer<'static>) -> Result<tokio_rustls::TlsConnector> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.clone())?;
    let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(std::sync::Arc::new(
        config,
    )))
}

/// Sends `request` over a new TLS connection to its host, trusting the CA
/// given to [`trust`] for it.
async fn https_exchange(
    mut request: Request<Full<Bytes>>,
) -> Result<hyper::Response<hyper::body::Incoming>> {
    let uri = request.uri().clone();
    let authority = uri
        .authority()
        .ok_or_else(|| anyhow!("{uri} names no host"))?
        .as_str()
        .to_owned();
    let ca = TRUSTED
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .find(|(a, _)| *a == authority)
        .map(|(_, ca)| ca.clone())
        .ok_or_else(|| anyhow!("no CA trusted for https://{authority} (http::trust)"))?;
    let host = uri.host().unwrap_or_default().to_owned();
    let name = rustls::pki_types::ServerName::try_from(host)?;
    let tcp = tokio::net::TcpStream::connect(&authority).await?;
    let tls = tls_connector(&ca)?.connect(name, tcp).await?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls)).await?;
    tokio::spawn(connection);
    *request.uri_mut() = uri.path_and_query().map_or("/", |p| p.as_str()).parse()?;
    request
        .headers_mut()
        .insert(hyper::header::HOST, HeaderValue::from_str(&authority)?);
    Ok(sender.send_request(request).await?)
}

/// A whole response, body read.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json<T: DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_slice(&self.body).with_context(|| {
            format!(
                "HTTP {} body is not the expected JSON: {}",
                self.status,
                self.text()
            )
        })
    }

    /// The `name=value` part of each `Set-Cookie`.
    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(hyper::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|v| v.split(';').next())
            .map(|v| v.trim().to_owned())
            .collect()
    }

    /// The full `Set-Cookie` values (with their attributes).
    pub fn set_cookie_headers(&self) -> Vec<String> {
        self.headers
            .get_all(hyper::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(str::to_owned)
            .collect()
    }
}

pub async fn get(url: &str, headers: &[(&str, &str)]) -> Result<HttpResponse> {
    request(Method::GET, url, headers, None).await
}

pub async fn post_json(url: &str, body: Vec<u8>, headers: &[(&str, &str)]) -> Result<HttpResponse> {
    let mut all = vec![("content-type", "application/json")];
    all.extend_from_slice(headers);
    request(Method::POST, url, &all, Some(body)).await
}

pub async fn delete(url: &str, headers: &[(&str, &str)]) -> Result<HttpResponse> {
    request(Method::DELETE, url, headers, None).await
}

pub async fn request(
    method: Method,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<Vec<u8>>,
) -> Result<HttpResponse> {
    let what = format!("{method} {url}");
    let client: Client<HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    let mut builder = Request::builder().method(method).uri(url);
    for (name, value) in headers {
        builder = builder.header(
            HeaderName::from_bytes(name.as_bytes())?,
            HeaderValue::from_str(value)?,
        );
    }
    let request = builder
        .body(Full::new(Bytes::from(body.unwrap_or_default())))
        .with_context(|| format!("building {what}"))?;
    let https = request.uri().scheme_str() == Some("https");
    let exchange = async {
        let response = if https {
            https_exchange(request).await?
        } else {
            client.request(request).await?
        };
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await?.to_bytes().to_vec();
        Ok::<_, anyhow::Error>(HttpResponse {
            status,
            headers,
            body,
        })
    };
    tokio::time::timeout(TIMEOUT, exchange)
        .await
        .map_err(|_| anyhow!("{what}: no answer within {TIMEOUT:?}"))?
        .with_context(|| what.clone())
}
