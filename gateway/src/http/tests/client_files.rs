//! The client's files from a directory (what `--static-dir` and the e2e
//! tests use): the precompressed copies Trunk's hook writes are chosen by
//! `Accept-Encoding`, with `Vary`, and hashed names are kept a year.

use super::*;

const WASM: &str = "client-0123456789abcdef_bg.wasm";

/// A built client: the wasm with both copies, a stylesheet with none.
fn write_client(app: &TestApp) {
    let dir = &app.static_dir;
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("index.html"), "<!doctype html><title>t</title>").unwrap();
    std::fs::write(dir.join(WASM), b"plain wasm").unwrap();
    std::fs::write(dir.join(format!("{WASM}.br")), b"br wasm").unwrap();
    std::fs::write(dir.join(format!("{WASM}.gz")), b"gz wasm").unwrap();
    std::fs::write(dir.join("notes.txt"), b"plain text").unwrap();
}

#[tokio::test]
async fn a_directory_serves_the_coding_asked_for_with_cache_headers() {
    let app = test_app().await;
    write_client(&app);
    let path = format!("/{WASM}");
    for (accept, body, encoding) in [
        (Some("gzip, deflate, br, zstd"), &b"br wasm"[..], Some("br")),
        (Some("gzip"), b"gz wasm", Some("gzip")),
        (Some("br;q=0, gzip;q=0"), b"plain wasm", None),
        (None, b"plain wasm", None),
    ] {
        let headers: Vec<(&str, &str)> =
            accept.map(|a| ("accept-encoding", a)).into_iter().collect();
        let (status, headers, got) = app.raw("GET", &path, &headers, None).await;
        assert_eq!(status, StatusCode::OK, "{accept:?}");
        assert_eq!(&got[..], body, "{accept:?}");
        assert_eq!(
            headers
                .get(header::CONTENT_ENCODING)
                .map(|v| v.to_str().unwrap()),
            encoding,
            "{accept:?}"
        );
        assert_eq!(headers[header::CONTENT_TYPE], "application/wasm");
        assert_eq!(headers[header::VARY], "accept-encoding");
        assert_eq!(
            headers[header::CACHE_CONTROL],
            "public, max-age=31536000, immutable"
        );
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");

        // Unchanged since: 304, with the same caching headers.
        let last_modified = headers[header::LAST_MODIFIED].to_str().unwrap().to_owned();
        let mut conditional: Vec<(&str, &str)> = vec![("if-modified-since", &last_modified)];
        conditional.extend(accept.map(|a| ("accept-encoding", a)));
        let (status, headers, got) = app.raw("GET", &path, &conditional, None).await;
        assert_eq!(status, StatusCode::NOT_MODIFIED, "{accept:?}");
        assert!(got.is_empty());
        assert_eq!(headers[header::VARY], "accept-encoding");
    }

    // An unhashed name is revalidated; a file without copies is sent as it is.
    let (status, headers, got) = app
        .raw(
            "GET",
            "/notes.txt",
            &[("accept-encoding", "br, gzip")],
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(&got[..], b"plain text");
    assert!(headers.get(header::CONTENT_ENCODING).is_none());
    assert_eq!(headers[header::CACHE_CONTROL], "no-cache");

    // No such file: the app's page with 404, never cached.
    let (status, headers, _) = app
        .raw(
            "GET",
            "/client-fedcba9876543210.js",
            &[("accept-encoding", "br")],
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    assert!(headers.get(header::CONTENT_ENCODING).is_none());
}
