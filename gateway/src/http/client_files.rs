//! The web client's files (`crate::web_client`), each in the content
//! coding the browser asks for: Trunk's post-build hook
//! (`scripts/precompress.mjs`) writes a brotli `NAME.br` and a gzip
//! `NAME.gz` beside each compressible file, once per build, and a request
//! whose `Accept-Encoding` takes one gets it (`Content-Encoding`, `Vary:
//! Accept-Encoding`); nothing is compressed per request or per start.
//!
//! From a directory, tower-http's `ServeDir` does the choosing
//! (`precompressed_br`/`precompressed_gzip`) and answers
//! `If-Modified-Since` with 304; from the copy embedded in the binary,
//! [`negotiate`] does, with a strong ETag per coding (`If-None-Match`
//! gets 304). Both: Trunk's hashed names (`client-<hash>_bg.wasm`) are
//! kept a year (`immutable`), anything else is revalidated (`no-cache`).
//! A path that is no file gets the app's page with 404, so that the
//! client's own routes survive a reload.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get};
use tower_http::services::ServeDir;

use super::{AppState, page};
use crate::web_client::{self, EmbeddedFile, WebClient};

/// The service for every path no route took.
pub fn service(state: &AppState) -> MethodRouter {
    match &state.config.web_client {
        WebClient::Directory(dir) => axum::routing::get_service(
            ServeDir::new(dir)
                .precompressed_br()
                .precompressed_gzip()
                .not_found_service(get(page::app).with_state(state.clone())),
        )
        .layer(axum::middleware::from_fn(directory_file_headers)),
        WebClient::Embedded => get(embedded).with_state(state.clone()),
    }
}

/// `ServeDir` sets neither `Cache-Control` nor `Vary`: both are added to
/// its file answers (not to the 404 page, which keeps its `no-store`).
async fn directory_file_headers(request: Request, next: Next) -> Response {
    let immutable = web_client::is_hashed_name(request.uri().path());
    let mut response = next.run(request).await;
    let status = response.status();
    if status.is_success() || status == StatusCode::NOT_MODIFIED {
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, cache_control(immutable));
        headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    response
}

fn cache_control(immutable: bool) -> HeaderValue {
    HeaderValue::from_static(if immutable {
        "public, max-age=31536000, immutable"
    } else {
        // Revalidated each time (a 304 while unchanged).
        "no-cache"
    })
}

/// `GET`/`HEAD` of an embedded file.
async fn embedded(State(state): State<AppState>, request: Request) -> Response {
    let path = request.uri().path().trim_start_matches('/');
    match file_response(web_client::embedded, path, request.headers()) {
        Some(response) => response,
        None => match page::app(State(state)).await {
            Ok(mut page) => {
                *page.status_mut() = StatusCode::NOT_FOUND;
                page
            }
            Err(e) => e.into_response(),
        },
    }
}

/// The answer for `path` from a table of files (`lookup`: the embedded
/// one, or a test's), in the coding `request` takes best among the
/// file's precompressed copies (`path.br`, `path.gz`); `None` when there
/// is no such file.
fn file_response(
    lookup: impl Fn(&str) -> Option<EmbeddedFile>,
    path: &str,
    request: &HeaderMap,
) -> Option<Response> {
    let plain = lookup(path)?;
    let copies: Vec<(Coding, EmbeddedFile)> = [Coding::Br, Coding::Gzip]
        .into_iter()
        .filter_map(|coding| Some((coding, lookup(&format!("{path}.{}", coding.suffix()?))?)))
        .collect();
    let available: Vec<Coding> = copies.iter().map(|(coding, _)| *coding).collect();
    let coding = negotiate(request, &available);
    let file = copies
        .iter()
        .find(|(c, _)| *c == coding)
        .map_or(plain, |(_, file)| *file);

    let mut headers = HeaderMap::new();
    headers.insert(header::ETAG, HeaderValue::from_static(file.etag));
    headers.insert(header::CACHE_CONTROL, cache_control(plain.immutable));
    if !copies.is_empty() {
        headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    if matches(request, file.etag) {
        return Some((StatusCode::NOT_MODIFIED, headers).into_response());
    }
    // The type of what was asked for, not of the `.br` copy.
    let mime = mime_guess::from_path(path).first_or_octet_stream();
    if let Ok(value) = HeaderValue::from_str(mime.as_ref()) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    if coding != Coding::Identity {
        headers.insert(
            header::CONTENT_ENCODING,
            HeaderValue::from_static(coding.token()),
        );
    }
    Some((headers, file.bytes).into_response())
}

/// A content coding the client's files are kept in. The order is the
/// preference between codings the request ranks equally: the smaller copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Coding {
    Identity,
    Gzip,
    Br,
}

impl Coding {
    /// The `Accept-Encoding` / `Content-Encoding` token.
    fn token(self) -> &'static str {
        match self {
            Coding::Identity => "identity",
            Coding::Gzip => "gzip",
            Coding::Br => "br",
        }
    }

    /// The extension of the precompressed copy.
    fn suffix(self) -> Option<&'static str> {
        match self {
            Coding::Identity => None,
            Coding::Gzip => Some("gz"),
            Coding::Br => Some("br"),
        }
    }
}

/// The coding to send, among `available` copies and the file itself, by
/// the request's `Accept-Encoding` (RFC 9110 §12.5.3): the highest
/// q-value wins, `br` before `gzip` before the file itself when equal; `*`
/// stands for codings not named; the file itself is acceptable unless
/// excluded (`identity;q=0`, or `*;q=0` without `identity`) but ranks
/// below any coding given a q-value. No header, or nothing acceptable:
/// the file itself (RFC 9110 allows it instead of 406).
pub fn negotiate(request: &HeaderMap, available: &[Coding]) -> Coding {
    let mut named: Vec<(&str, u16)> = Vec::new();
    for element in request
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
    {
        let mut parts = element.split(';');
        let name = parts.next().unwrap_or_default().trim();
        if name.is_empty() {
            continue;
        }
        let q = match parts.find_map(|p| {
            let (key, value) = p.split_once('=')?;
            key.trim().eq_ignore_ascii_case("q").then(|| value.trim())
        }) {
            None => Some(1000),
            Some(value) => qvalue(value),
        };
        // A malformed q-value: the element is ignored.
        if let Some(q) = q {
            named.push((name, q));
        }
    }
    let q_of = |token: &str| {
        named
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(token))
            .map(|(_, q)| *q)
    };
    let star = q_of("*");
    let identity = q_of("identity").unwrap_or(match star {
        Some(0) => 0,
        // Acceptable, but after anything the request ranked.
        _ => 1,
    });
    available
        .iter()
        .filter_map(|&coding| Some((q_of(coding.token()).or(star)?, coding)))
        .chain([(identity, Coding::Identity)])
        .filter(|(q, _)| *q > 0)
        .max()
        .map_or(Coding::Identity, |(_, coding)| coding)
}

/// A q-value (`0`, `0.5`, `1.000`) in thousandths; `None` if malformed.
fn qvalue(text: &str) -> Option<u16> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths = format!("{fraction:0<3}").parse::<u16>().ok()?;
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
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
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn accept(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_str(value).unwrap(),
        );
        headers
    }

    #[test]
    fn the_best_acceptable_coding_is_chosen() {
        use Coding::*;
        let both = [Br, Gzip];
        // (Accept-Encoding, copies there are, expected)
        let cases: &[(Option<&str>, &[Coding], Coding)] = &[
            (None, &both, Identity),
            // What Chromium sends.
            (Some("gzip, deflate, br, zstd"), &both, Br),
            (Some("gzip, deflate, br, zstd"), &[Gzip], Gzip),
            (Some("gzip, deflate, br, zstd"), &[], Identity),
            (Some("gzip"), &both, Gzip),
            (Some("GZIP"), &both, Gzip),
            (Some("br;q=0.5, gzip;q=0.8"), &both, Gzip),
            (Some("br;Q=1.0, gzip"), &both, Br),
            (Some("br;q=0, gzip;q=0"), &both, Identity),
            (Some("identity;q=0.5, gzip;q=0.1"), &both, Identity),
            (Some("gzip;q=0.1"), &both, Gzip),
            (Some("*"), &both, Br),
            (Some("*;q=0.5, br;q=0.2"), &both, Gzip),
            (Some("*;q=0"), &both, Identity),
            (Some("identity"), &both, Identity),
            (Some(""), &both, Identity),
            (Some("deflate, zstd"), &both, Identity),
            // Malformed q-values: that element is ignored.
            (Some("br;q=2, gzip"), &both, Gzip),
            (Some("br;q=0.0001, gzip;q=x"), &both, Identity),
            (Some("br;q=.5"), &both, Identity),
            (Some(" , ;q=1, br ; q=0.9 "), &both, Br),
        ];
        for (header, available, expected) in cases {
            let headers = header.map(accept).unwrap_or_default();
            assert_eq!(
                negotiate(&headers, available),
                *expected,
                "Accept-Encoding {header:?} with {available:?}"
            );
        }
    }

    #[test]
    fn qvalues_are_read_in_thousandths() {
        for (text, q) in [
            ("1", Some(1000)),
            ("1.", Some(1000)),
            ("1.000", Some(1000)),
            ("0", Some(0)),
            ("0.5", Some(500)),
            ("0.05", Some(50)),
            ("0.001", Some(1)),
            ("1.001", None),
            ("0.0001", None),
            ("2", None),
            ("-0.5", None),
            ("0.5x", None),
            ("", None),
        ] {
            assert_eq!(qvalue(text), q, "{text:?}");
        }
    }

    fn table(path: &str) -> Option<EmbeddedFile> {
        let file = |bytes: &'static [u8], etag, immutable| EmbeddedFile {
            bytes,
            etag,
            immutable,
        };
        match path {
            "client-0123456789abcdef_bg.wasm" => Some(file(b"plain wasm", "\"w\"", true)),
            "client-0123456789abcdef_bg.wasm.br" => Some(file(b"br wasm", "\"w-br\"", true)),
            "client-0123456789abcdef_bg.wasm.gz" => Some(file(b"gz wasm", "\"w-gz\"", true)),
            "notes.txt" => Some(file(b"plain text", "\"t\"", false)),
            _ => None,
        }
    }

    async fn answer(
        path: &str,
        request: &[(header::HeaderName, &str)],
    ) -> (StatusCode, HeaderMap, Vec<u8>) {
        let mut headers = HeaderMap::new();
        for (name, value) in request {
            headers.insert(name, HeaderValue::from_str(value).unwrap());
        }
        let response = file_response(table, path, &headers).expect("a file");
        let (parts, body) = response.into_parts();
        let body = http_body_util::BodyExt::collect(body)
            .await
            .unwrap()
            .to_bytes();
        (parts.status, parts.headers, body.to_vec())
    }

    #[tokio::test]
    async fn embedded_files_are_served_in_the_coding_asked_for_with_their_own_etag() {
        let wasm = "client-0123456789abcdef_bg.wasm";
        for (accept, body, encoding, etag) in [
            (
                "gzip, deflate, br, zstd",
                &b"br wasm"[..],
                Some("br"),
                "\"w-br\"",
            ),
            ("gzip", b"gz wasm", Some("gzip"), "\"w-gz\""),
            ("identity", b"plain wasm", None, "\"w\""),
        ] {
            let (status, headers, got) = answer(wasm, &[(header::ACCEPT_ENCODING, accept)]).await;
            assert_eq!(status, StatusCode::OK, "{accept}");
            assert_eq!(got, body, "{accept}");
            assert_eq!(
                headers
                    .get(header::CONTENT_ENCODING)
                    .map(|v| v.to_str().unwrap()),
                encoding,
                "{accept}"
            );
            assert_eq!(headers[header::CONTENT_TYPE], "application/wasm");
            assert_eq!(headers[header::VARY], "accept-encoding");
            assert_eq!(headers[header::ETAG], etag);
            assert_eq!(
                headers[header::CACHE_CONTROL],
                "public, max-age=31536000, immutable"
            );
            // The same coding's tag is a 304; another coding's is not.
            let (status, headers, got) = answer(
                wasm,
                &[
                    (header::ACCEPT_ENCODING, accept),
                    (header::IF_NONE_MATCH, etag),
                ],
            )
            .await;
            assert_eq!(status, StatusCode::NOT_MODIFIED, "{accept}");
            assert!(got.is_empty());
            assert_eq!(headers[header::VARY], "accept-encoding");
            let (status, _, _) = answer(
                wasm,
                &[
                    (header::ACCEPT_ENCODING, accept),
                    (header::IF_NONE_MATCH, "\"w-zz\""),
                ],
            )
            .await;
            assert_eq!(status, StatusCode::OK, "{accept}");
        }

        // A file without copies: as it is, no Vary, revalidated.
        let (status, headers, got) =
            answer("notes.txt", &[(header::ACCEPT_ENCODING, "br, gzip")]).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(got, b"plain text");
        assert!(headers.get(header::CONTENT_ENCODING).is_none());
        assert!(headers.get(header::VARY).is_none());
        assert_eq!(headers[header::CACHE_CONTROL], "no-cache");
        assert!(file_response(table, "missing.js", &HeaderMap::new()).is_none());
    }

    /// With `embed-client` (as `scripts/test.sh` builds), the embedded
    /// client's wasm is served from its brotli copy; without the feature
    /// there is no embedded client to check.
    #[tokio::test]
    async fn the_embedded_wasm_is_served_precompressed() {
        if !web_client::has_embedded() {
            return;
        }
        let wasm = web_client::embedded_names()
            .find(|name| name.ends_with("_bg.wasm"))
            .expect("the embedded client has a wasm file");
        let plain = web_client::embedded(wasm).unwrap();
        for (request, coding) in [("gzip, deflate, br, zstd", "br"), ("gzip", "gzip")] {
            let response = file_response(web_client::embedded, wasm, &accept(request)).unwrap();
            assert_eq!(response.headers()[header::CONTENT_ENCODING], coding);
            assert_eq!(response.headers()[header::VARY], "accept-encoding");
            let body = http_body_util::BodyExt::collect(response.into_body())
                .await
                .unwrap()
                .to_bytes();
            assert!(
                body.len() * 2 < plain.bytes.len(),
                "{coding}: {} bytes",
                body.len()
            );
        }
    }

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
