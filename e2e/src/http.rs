//! A small HTTP/1.1 client (hyper, plain HTTP on loopback) for the REST API.

use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::de::DeserializeOwned;

const TIMEOUT: Duration = Duration::from_secs(15);

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
    let exchange = async {
        let response = client.request(request).await?;
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
