//! Plain HTTP that sends people to HTTPS: `308 Permanent Redirect` to the
//! same host and path on the HTTPS port. Served on `--http-redirect` and,
//! with ACME, on the HTTP-01 port next to the challenges, so that someone
//! who types the bare host name lands on the secure page (the browser's
//! microphone needs it). Nothing else is served in plain text.
//!
//! The host comes from the request's `Host` header: it is checked to be a
//! host name or an IP literal (no userinfo, path or odd bytes), its port
//! replaced by the HTTPS one. A request without a usable `Host` gets 400
//! with a JSON body.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use shared::api::ApiError;

/// A router whose every request is redirected to HTTPS on `https_port`.
pub fn router(https_port: u16) -> Router {
    Router::new().fallback(to_https).with_state(https_port)
}

/// The fallback handler, for routers that serve something else too.
pub async fn to_https(State(https_port): State<u16>, headers: HeaderMap, uri: Uri) -> Response {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| uri.authority().map(|a| a.as_str()));
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    match host.and_then(|h| location(h, path, https_port)) {
        Some(location) => (
            StatusCode::PERMANENT_REDIRECT,
            [(header::LOCATION, location)],
            "This gateway is served over HTTPS.",
        )
            .into_response(),
        None => (
            StatusCode::BAD_REQUEST,
            Json(ApiError {
                code: "bad_host".to_owned(),
                message: "The request has no usable Host header to redirect to HTTPS.".to_owned(),
                field: None,
            }),
        )
            .into_response(),
    }
}

/// `https://host[:port]/path` for a `Host` header value, or `None` when it
/// is not a plain host name or IP literal with an optional port.
pub fn location(host_header: &str, path_and_query: &str, https_port: u16) -> Option<String> {
    let host = host_only(host_header.trim())?;
    let port = if https_port == 443 {
        String::new()
    } else {
        format!(":{https_port}")
    };
    let path = if path_and_query.starts_with('/') {
        path_and_query
    } else {
        "/"
    };
    Some(format!("https://{host}{port}{path}"))
}

/// The host of `host[:port]` / `[v6][:port]`, checked.
fn host_only(value: &str) -> Option<&str> {
    let (host, port) = if let Some(rest) = value.strip_prefix('[') {
        let end = rest.find(']')?;
        let literal = &rest[..end];
        literal.parse::<std::net::Ipv6Addr>().ok()?;
        (&value[..end + 2], &rest[end + 1..])
    } else {
        match value.rsplit_once(':') {
            Some((host, _)) => (host, value.get(host.len()..).unwrap_or_default()),
            None => (value, ""),
        }
    };
    if let Some(digits) = port.strip_prefix(':') {
        digits.parse::<u16>().ok()?;
    } else if !port.is_empty() {
        return None;
    }
    if host.starts_with('[') {
        return Some(host);
    }
    let name_ok = !host.is_empty()
        && host.len() <= 253
        && host
            .split('.')
            .all(|label| !label.is_empty() && label.len() <= 63)
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        && !host.starts_with('-');
    name_ok.then_some(host)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    #[test]
    fn hosts_keep_their_name_and_take_the_https_port() {
        assert_eq!(
            location("dialer.example.com", "/phone?x=1", 443).as_deref(),
            Some("https://dialer.example.com/phone?x=1")
        );
        assert_eq!(
            location("dialer.example.com:80", "/", 8443).as_deref(),
            Some("https://dialer.example.com:8443/")
        );
        assert_eq!(
            location("127.0.0.1:8080", "/a", 8443).as_deref(),
            Some("https://127.0.0.1:8443/a")
        );
        assert_eq!(
            location("[2001:db8::1]:80", "/", 443).as_deref(),
            Some("https://[2001:db8::1]/")
        );
    }

    #[test]
    fn odd_hosts_are_refused() {
        for bad in [
            "",
            "evil.com/x",
            "user@evil.com",
            "a..b",
            "-a.com",
            "host:99999",
            "host:8x",
            "[not-v6]:80",
            "[2001:db8::1]x",
            "exa mple.com",
        ] {
            assert_eq!(location(bad, "/", 443), None, "{bad:?}");
        }
    }

    #[tokio::test]
    async fn every_path_is_redirected_and_no_host_is_a_json_400() {
        let app = router(8443);
        let response = app
            .clone()
            .oneshot(
                Request::get("/api/v1/session")
                    .header("host", "gw.example:80")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::PERMANENT_REDIRECT);
        assert_eq!(
            response.headers()[header::LOCATION],
            "https://gw.example:8443/api/v1/session"
        );
        let response = app
            .oneshot(
                Request::get("/")
                    .header("host", "bad host")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let body = axum::body::to_bytes(response.into_body(), 4096)
            .await
            .unwrap();
        let error: ApiError = serde_json::from_slice(&body).unwrap();
        assert_eq!(error.code, "bad_host");
    }
}
