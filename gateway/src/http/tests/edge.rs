//! The browser edge: which pages may open `/ws` (the `Origin` check, over
//! a real socket), the Content-Security-Policy of the served pages, and
//! `/metrics` closed to everyone (even a signed-in admin) without a token.

use serde_json::json;
use tokio_tungstenite::tungstenite;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use super::*;

/// Serves the app on a loopback port, as `crate::start` does.
async fn serve(app: &TestApp) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let service = app
        .router
        .clone()
        .into_make_service_with_connect_info::<std::net::SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, service).await });
    addr
}

/// Opens `/ws` with the `sip` subprotocol and `origin`; the HTTP status
/// of the answer, and its body when refused.
async fn open_ws(addr: std::net::SocketAddr, origin: Option<&str>) -> (u16, String) {
    let mut request = format!("ws://{addr}/ws").into_client_request().unwrap();
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", "sip".parse().unwrap());
    if let Some(origin) = origin {
        request
            .headers_mut()
            .insert("Origin", origin.parse().unwrap());
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((mut ws, response)) => {
            let _ = ws.close(None).await;
            (response.status().as_u16(), String::new())
        }
        Err(tungstenite::Error::Http(response)) => {
            let body = response
                .body()
                .as_ref()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default();
            (response.status().as_u16(), body)
        }
        Err(e) => panic!("WebSocket to {addr}: {e}"),
    }
}

#[tokio::test]
async fn the_sip_websocket_opens_for_its_own_pages_and_allowed_embedders_only() {
    let app = test_app().await;
    let addr = serve(&app).await;
    // No Origin: a SIP client outside a browser.
    assert_eq!(open_ws(addr, None).await.0, 101);
    // The gateway's own page, over http or (behind a TLS proxy) https.
    assert_eq!(open_ws(addr, Some(&format!("http://{addr}"))).await.0, 101);
    assert_eq!(open_ws(addr, Some(&format!("https://{addr}"))).await.0, 101);
    // Any other site is refused with a JSON reason.
    for foreign in [
        "https://evil.example",
        "http://127.0.0.1:1",
        "null",
        "http://crm.example:8090",
    ] {
        let (status, body) = open_ws(addr, Some(foreign)).await;
        assert_eq!(status, 403, "{foreign}");
        let body: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["code"], "origin_not_allowed", "{foreign}: {body}");
    }
    // Once the admin allows a CRM to embed the phone, its pages may connect.
    let (admin, _) = admin_and_agent(&app).await;
    let (status, json) = app
        .json(
            "PUT",
            "/api/v1/embed/settings",
            &admin,
            Some(json!({"allowed_origins": ["http://crm.example:8090"]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(open_ws(addr, Some("http://crm.example:8090")).await.0, 101);
    assert_eq!(open_ws(addr, Some("https://evil.example")).await.0, 403);
}

#[test]
fn own_origin_matches_the_host_with_or_without_the_default_port() {
    let o = |t| crate::embed::Origin::parse(t).unwrap();
    assert!(same_authority(
        &o("https://gw.example.com"),
        "gw.example.com"
    ));
    assert!(same_authority(
        &o("https://gw.example.com"),
        "GW.example.com:443"
    ));
    assert!(same_authority(
        &o("http://gw.example.com:80"),
        "gw.example.com"
    ));
    assert!(same_authority(&o("http://[::1]:8080"), "[::1]:8080"));
    assert!(!same_authority(
        &o("http://gw.example.com"),
        "gw.example.com:8080"
    ));
    assert!(!same_authority(
        &o("https://gw.example.com.evil"),
        "gw.example.com"
    ));
    assert!(!same_authority(&o("https://gw.example.com"), ""));
}

/// Writes a trunk-like `index.html` into the test's static directory.
fn write_index(app: &TestApp) -> String {
    let script = "\nimport init from '/client.js';\nawait init();\n";
    let html = format!(
        "<!doctype html><html><head><script type=\"module\">{script}</script></head><body></body></html>"
    );
    std::fs::create_dir_all(&app.static_dir).unwrap();
    std::fs::write(app.static_dir.join("index.html"), &html).unwrap();
    use base64::Engine;
    use sha2::Digest;
    base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(script.as_bytes()))
}

#[tokio::test]
async fn the_app_page_carries_a_strict_policy_and_is_never_framed() {
    let app = test_app().await;
    let hash = write_index(&app);
    for path in ["/", "/index.html", "/admin/agents"] {
        let (status, headers, body) = app.raw("GET", path, &[], None).await;
        let expected = if path == "/admin/agents" {
            StatusCode::NOT_FOUND
        } else {
            StatusCode::OK
        };
        assert_eq!(status, expected, "{path}");
        assert!(String::from_utf8_lossy(&body).contains("<script type=\"module\">"));
        let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(
            csp.contains(&format!(
                "script-src 'self' 'wasm-unsafe-eval' 'sha256-{hash}';"
            )),
            "{path}: {csp}"
        );
        assert!(csp.contains("default-src 'self'"), "{csp}");
        assert!(csp.contains("object-src 'none'"), "{csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        assert_eq!(headers[header::X_FRAME_OPTIONS], "DENY");
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(headers[header::REFERRER_POLICY], "same-origin");
    }
}

#[tokio::test]
async fn the_embed_page_may_be_framed_by_allowed_origins_only() {
    let app = test_app().await;
    let hash = write_index(&app);
    let (admin, _) = admin_and_agent(&app).await;
    let (status, _) = app
        .json(
            "PUT",
            "/api/v1/embed/settings",
            &admin,
            Some(json!({"allowed_origins": ["https://crm.example"]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, headers, _) = app.raw("GET", "/embed", &[], None).await;
    assert_eq!(status, StatusCode::OK);
    let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(csp.contains(&format!("'sha256-{hash}'")), "{csp}");
    assert!(
        csp.ends_with("frame-ancestors 'self' https://crm.example"),
        "{csp}"
    );
    assert!(headers.get(header::X_FRAME_OPTIONS).is_none());
    assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
}

#[tokio::test]
async fn metrics_are_refused_when_no_token_is_configured() {
    let app = test_app().await;
    let (admin, _) = admin_and_agent(&app).await;
    for headers in [
        vec![],
        vec![("authorization", "Bearer anything-at-all-here")],
        vec![("cookie", admin.as_str())],
    ] {
        let (status, _, body) = app.raw("GET", "/metrics", &headers, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{headers:?}");
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["code"], "metrics_unauthorized");
    }
}
