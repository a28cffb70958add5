//! The web client's files (`crate::web_client`): from a directory through
//! tower-http's `ServeDir` (Last-Modified), or from the copy embedded in
//! the binary with a strong ETag (`If-None-Match` gets 304) and, for
//! Trunk's hashed names, a year's `immutable` caching. A path that is no
//! file gets the app's page with 404, so that the client's own routes
//! survive a reload.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get};
use tower_http::services::ServeDir;

use super::{AppState, page};
use crate::web_client::{self, WebClient};

/// The service for every path no route took.
pub fn service(state: &AppState) -> MethodRouter {
    match &state.config.web_client {
        WebClient::Directory(dir) => axum::routing::get_service(
            ServeDir::new(dir).not_found_service(get(page::app).with_state(state.clone())),
        ),
        WebClient::Embedded => get(embedded).with_state(state.clone()),
    }
}

/// `GET`/`HEAD` of an embedded file.
async fn embedded(State(state): State<AppState>, request: Request) -> Response {
    let path = request.uri().path().trim_start_matches('/');
    let Some(file) = web_client::embedded(path) else {
        return match page::app(State(state)).await {
            Ok(mut page) => {
                *page.status_mut() = StatusCode::NOT_FOUND;
                page
            }
            Err(e) => e.into_response(),
        };
    };
    let mut headers = HeaderMap::new();
    headers.insert(header::ETAG, HeaderValue::from_static(file.etag));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(if file.immutable {
            "public, max-age=31536000, immutable"
        } else {
            // Revalidated each time (a 304 while unchanged).
            "no-cache"
        }),
    );
    if matches(request.headers(), file.etag) {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    let mime = mime_guess::from_path(path).first_or_octet_stream();
    if let Ok(value) = HeaderValue::from_str(mime.as_ref()) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    (headers, file.bytes).into_response()
}

/// Whether `If-None-Match` names `etag` (or is `*`); weak tags compare
/// by their value (RFC 9110 §13.1.2).
fn matches(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|tag| tag == "*" || tag.trim_start_matches("W/") == etag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_lists_and_weak_tags_match() {
        let mut headers = HeaderMap::new();
        assert!(!matches(&headers, "\"abc\""));
        headers.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_static("\"x\", W/\"abc\""),
        );
        assert!(matches(&headers, "\"abc\""));
        assert!(!matches(&headers, "\"ab\""));
        headers.insert(header::IF_NONE_MATCH, HeaderValue::from_static("*"));
        assert!(matches(&headers, "\"zzz\""));
    }
}
