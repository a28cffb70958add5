//! The client's HTML page (`index.html` built by trunk) with its
//! Content-Security-Policy, for the app at `/` (and every client route)
//! and for the embedded phone at `/embed` (`super::embed::page`).
//!
//! The policy allows scripts from the gateway only, plus the inline module
//! script trunk writes into `index.html` (by its SHA-256, computed from the
//! file as served, so a rebuilt client needs no gateway change) and
//! `'wasm-unsafe-eval'`, without which a page may not compile WebAssembly.
//! No `'unsafe-inline'` for scripts or styles, no `eval`; connections
//! (the API, the SIP WebSocket) go to the gateway only. `frame-ancestors`
//! is `'none'` for the app (the admin pages cannot be framed to trick a
//! click) and the allowed embedding origins for `/embed`.

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use base64::Engine;
use sha2::{Digest, Sha256};

use super::{AppError, AppState};

/// `GET /` and every path that is no file: the app, never framed.
pub async fn app(State(state): State<AppState>) -> Result<Response, AppError> {
    let mut response = serve(&state, "frame-ancestors 'none'").await?;
    response
        .headers_mut()
        .insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    Ok(response)
}

/// The page with the policy for `frame_ancestors` (a whole directive).
pub async fn serve(state: &AppState, frame_ancestors: &str) -> Result<Response, AppError> {
    let html = state
        .config
        .web_client
        .index_html()
        .await
        .map_err(AppError::Internal)?;
    let csp = content_security_policy(&html, frame_ancestors);
    let mut response = Html(html).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_str(&csp).map_err(|e| AppError::Internal(format!("CSP: {e}")))?,
    );
    // A rebuilt client names new asset files: never keep an old page.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// The policy for `html`: its inline scripts allowed by hash.
pub fn content_security_policy(html: &str, frame_ancestors: &str) -> String {
    let mut script_src = String::from("script-src 'self' 'wasm-unsafe-eval'");
    for hash in inline_script_hashes(html) {
        script_src.push_str(&format!(" 'sha256-{hash}'"));
    }
    format!(
        "default-src 'self'; {script_src}; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'; media-src 'self' blob:; object-src 'none'; base-uri 'none'; \
         form-action 'self'; {frame_ancestors}"
    )
}

/// Base64 SHA-256 of the text of each `<script>` without `src`, as CSP
/// hashes it (the exact characters between the tags).
fn inline_script_hashes(html: &str) -> Vec<String> {
    let lower = html.to_ascii_lowercase();
    let mut hashes = Vec::new();
    let mut at = 0;
    while let Some(start) = lower[at..].find("<script").map(|i| at + i) {
        let Some(tag_end) = lower[start..].find('>').map(|i| start + i) else {
            break;
        };
        let Some(close) = lower[tag_end..].find("</script").map(|i| tag_end + i) else {
            break;
        };
        let tag = &lower[start..tag_end];
        if !tag.contains(" src=") && !tag.contains("\tsrc=") && !tag.contains("\nsrc=") {
            // `to_ascii_lowercase` keeps byte offsets, so they index `html`.
            let text = &html[tag_end + 1..close];
            let digest = Sha256::digest(text.as_bytes());
            hashes.push(base64::engine::general_purpose::STANDARD.encode(digest));
        }
        at = close;
    }
    hashes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_scripts_are_hashed_and_external_ones_are_not() {
        let html = "<head><script type=\"module\">\nimport init from '/c.js';\n</script>\
                    <SCRIPT src=\"/x.js\"></SCRIPT><script>alert(1)</script></head>";
        let hashes = inline_script_hashes(html);
        let expect = |text: &str| {
            base64::engine::general_purpose::STANDARD.encode(Sha256::digest(text.as_bytes()))
        };
        assert_eq!(
            hashes,
            [expect("\nimport init from '/c.js';\n"), expect("alert(1)")]
        );
        let csp = content_security_policy(html, "frame-ancestors 'none'");
        assert!(
            csp.contains(&format!("'sha256-{}'", expect("alert(1)"))),
            "{csp}"
        );
        assert!(csp.contains("script-src 'self' 'wasm-unsafe-eval' 'sha256-"));
        assert!(csp.ends_with("frame-ancestors 'none'"), "{csp}");
        assert!(!csp.contains("unsafe-inline"), "{csp}");
    }

    #[test]
    fn a_page_without_inline_scripts_or_with_a_broken_tag_gets_no_hash() {
        assert!(inline_script_hashes("<p>no scripts</p>").is_empty());
        assert!(inline_script_hashes("<script>never closed").is_empty());
        assert!(inline_script_hashes("<script").is_empty());
    }
}
