//! The agent's page on a cold load: the client's wasm, JS and CSS come
//! precompressed (brotli for Chromium, gzip for a client that takes only
//! gzip, as built for one that takes neither) with `Vary:
//! Accept-Encoding` and a year's `immutable` caching for Trunk's hashed
//! names; in a fresh Chromium the page still starts (Trunk's `integrity`
//! attributes check the decoded bytes) and the phone registers, and a
//! second visit takes the files from the browser's cache.
//!
//! `page_load_figures` (ignored; `-- --ignored --nocapture`) prints the
//! bytes over the wire per coding and the time from navigation to
//! "Registered" on cold loads, on loopback and over an emulated slow link.
//! `E2E_STATIC_DIR` points it at another build to compare.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use e2e::{Browser, Gateway};
use serde::Deserialize;

const REGISTERED: &str = r#"#registration-state[data-state="registered"]"#;

/// What Chromium sends.
const CHROMIUM_ACCEPT: &str = "gzip, deflate, br, zstd";

/// The hashed files `index.html` names (`href="/…"`, `'/…'`): script,
/// wasm, stylesheet.
fn assets(html: &str) -> Vec<String> {
    let mut found: Vec<String> = html
        .split(['"', '\''])
        .filter(|token| token.starts_with('/') && !token.starts_with("//"))
        .filter(|token| {
            [".js", ".wasm", ".css"]
                .iter()
                .any(|ext| token.ends_with(ext))
        })
        .map(str::to_owned)
        .collect();
    found.sort();
    found.dedup();
    found
}

fn header<'a>(response: &'a e2e::http::HttpResponse, name: &str) -> &'a str {
    response
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

/// What the browser's Resource Timing says about one file of the page.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Fetched {
    name: String,
    transfer_size: u64,
    encoded_body_size: u64,
    decoded_body_size: u64,
    response_end: f64,
}

async fn fetched(browser: &Browser) -> Result<Vec<Fetched>> {
    let value = browser
        .client()?
        .execute(
            "return performance.getEntriesByType('resource').map((e) => ({ name: e.name, \
             transferSize: e.transferSize, encodedBodySize: e.encodedBodySize, \
             decodedBodySize: e.decodedBodySize, responseEnd: e.responseEnd }));",
            vec![],
        )
        .await
        .context("reading Resource Timing")?;
    Ok(serde_json::from_value(value)?)
}

#[tokio::test]
async fn a_cold_load_gets_compressed_files_and_the_phone_registers() -> Result<()> {
    let mut gateway = Gateway::start().await?;
    gateway.require_client()?;
    let page = gateway.get("/").await?;
    ensure!(
        header(&page, "cache-control") == "no-store",
        "the page may be kept: {:?}",
        page.headers
    );
    let files = assets(&page.text());
    ensure!(
        files.iter().any(|f| f.ends_with("_bg.wasm")) && files.iter().any(|f| f.ends_with(".js")),
        "index.html names no wasm and script: {files:?}"
    );

    for file in &files {
        let url = gateway.url(file);
        let plain = e2e::http::get(&url, &[]).await?;
        ensure!(plain.status == 200, "GET {file}: {}", plain.status);
        ensure!(
            header(&plain, "content-encoding").is_empty(),
            "{file} without Accept-Encoding came encoded"
        );
        for (accept, coding) in [(CHROMIUM_ACCEPT, "br"), ("gzip", "gzip")] {
            let got = e2e::http::get(&url, &[("accept-encoding", accept)]).await?;
            ensure!(got.status == 200, "GET {file} ({accept}): {}", got.status);
            ensure!(
                header(&got, "content-encoding") == coding,
                "{file} with Accept-Encoding {accept:?} came as {:?}, not {coding}",
                header(&got, "content-encoding")
            );
            ensure!(
                header(&got, "vary").eq_ignore_ascii_case("accept-encoding"),
                "{file}: Vary is {:?}",
                header(&got, "vary")
            );
            ensure!(
                header(&got, "cache-control") == "public, max-age=31536000, immutable",
                "{file}: Cache-Control is {:?}",
                header(&got, "cache-control")
            );
            ensure!(
                header(&got, "content-type") == header(&plain, "content-type"),
                "{file}: the {coding} copy has another type"
            );
            ensure!(
                got.body.len() * 2 < plain.body.len(),
                "{file}: {coding} is {} bytes of {}, not compressed",
                got.body.len(),
                plain.body.len()
            );
        }
    }

    let browser = Browser::start().await?;
    let result = async {
        e2e::calls::sign_in_agent(&browser, &gateway).await?;
        // For a person to look at: the phone as the compressed files built it.
        let dir = e2e::artifacts_dir();
        std::fs::create_dir_all(&dir)?;
        let png = browser.client()?.screenshot().await?;
        std::fs::write(dir.join("phone-after-cold-load.png"), png)?;
        let first = fetched(&browser).await?;
        for file in &files {
            let Some(entry) = first.iter().find(|e| e.name.ends_with(file.as_str())) else {
                bail!("the browser never fetched {file}: {first:?}");
            };
            // Resource Timing: the body as sent (encoded) against as used.
            ensure!(
                entry.encoded_body_size > 0
                    && entry.encoded_body_size * 2 < entry.decoded_body_size
                    && entry.transfer_size >= entry.encoded_body_size,
                "{file} did not come compressed: {entry:?}"
            );
        }

        // A second visit: the hashed files from the cache, nothing sent.
        browser.goto(&gateway.url("/")).await?;
        browser
            .wait_for(REGISTERED, Duration::from_secs(30))
            .await?;
        let second = fetched(&browser).await?;
        for file in &files {
            let Some(entry) = second.iter().find(|e| e.name.ends_with(file.as_str())) else {
                bail!("the second visit never used {file}: {second:?}");
            };
            ensure!(
                entry.transfer_size == 0 && entry.decoded_body_size > 0,
                "the second visit fetched {file} again: {entry:?}"
            );
        }
        gateway.check_alive()
    }
    .await;
    browser.finish(result).await
}

/// One cold load of the signed-in agent's page in a fresh Chromium:
/// milliseconds from navigation to "Registered" (the page's own clock,
/// polled every 5 ms), when the wasm had arrived, and the bytes the
/// browser took over the wire.
struct ColdLoad {
    registered_ms: f64,
    wasm_arrived_ms: f64,
    transferred: u64,
}

async fn cold_load(gateway: &Gateway, link: Option<(Duration, u64)>) -> Result<ColdLoad> {
    let session = gateway.sign_in("demo", &gateway.demo_password).await?;
    let browser = Browser::start().await?;
    let mut load = None;
    let result = async {
        // A page of the gateway without the client, to set the cookie on.
        browser.goto(&gateway.url("/healthz")).await?;
        let cookie = fantoccini::cookies::Cookie::parse(format!(
            "{}; Domain={}; Path=/; HttpOnly; SameSite=Strict",
            session.cookie,
            gateway.http.ip()
        ))
        .context("the session cookie")?;
        browser.client()?.add_cookie(cookie).await?;
        if let Some((latency, bytes_per_second)) = link {
            browser.emulate_network(latency, bytes_per_second).await?;
        }
        browser.goto(&gateway.url("/")).await?;
        let registered_ms = browser
            .client()?
            .execute_async(
                "const done = arguments[arguments.length - 1]; \
                 const check = () => document.querySelector(arguments[0]) \
                   ? done(performance.now()) : setTimeout(check, 5); \
                 check();",
                vec![REGISTERED.into()],
            )
            .await
            .context("waiting for Registered")?
            .as_f64()
            .context("performance.now() is no number")?;
        let entries = fetched(&browser).await?;
        let page = browser
            .client()?
            .execute(
                "return performance.getEntriesByType('navigation')[0].transferSize;",
                vec![],
            )
            .await?
            .as_u64()
            .unwrap_or(0);
        load = Some(ColdLoad {
            registered_ms,
            wasm_arrived_ms: entries
                .iter()
                .find(|e| e.name.ends_with(".wasm"))
                .map_or(f64::NAN, |e| e.response_end),
            transferred: page + entries.iter().map(|e| e.transfer_size).sum::<u64>(),
        });
        Ok(())
    }
    .await;
    browser.finish(result).await?;
    load.context("the cold load gave no figures")
}

#[tokio::test]
#[ignore = "prints figures; run with -- --ignored --nocapture"]
async fn page_load_figures() -> Result<()> {
    const RUNS: usize = 3;
    let gateway = Gateway::start().await?;
    gateway.require_client()?;
    let page = gateway.get("/").await?;
    println!("\nbytes over the wire (HTTP bodies):");
    println!(
        "{:<40} {:>10} {:>10} {:>10}",
        "file", "identity", "gzip", "br"
    );
    let mut totals = [0usize; 3];
    for file in assets(&page.text()) {
        let mut row = [0usize; 3];
        for (i, accept) in [None, Some("gzip"), Some("br")].into_iter().enumerate() {
            let headers: Vec<(&str, &str)> =
                accept.map(|a| ("accept-encoding", a)).into_iter().collect();
            row[i] = e2e::http::get(&gateway.url(&file), &headers)
                .await?
                .body
                .len();
            totals[i] += row[i];
        }
        println!("{file:<40} {:>10} {:>10} {:>10}", row[0], row[1], row[2]);
    }
    println!(
        "{:<40} {:>10} {:>10} {:>10}",
        "total (without the page)", totals[0], totals[1], totals[2]
    );

    // Loopback, then a 10 Mbit/s link with 40 ms added per request.
    for (label, link) in [
        ("loopback", None),
        (
            "10 Mbit/s, +40 ms",
            Some((Duration::from_millis(40), 10_000_000 / 8)),
        ),
    ] {
        println!("\ncold load of the signed-in agent's page, {label}:");
        for run in 1..=RUNS {
            let started = Instant::now();
            let load = cold_load(&gateway, link).await?;
            println!(
                "  run {run}: Registered at {:.0} ms after navigation (wasm in at {:.0} ms), \
                 {} bytes transferred ({:.1} s with browser start)",
                load.registered_ms,
                load.wasm_arrived_ms,
                load.transferred,
                started.elapsed().as_secs_f64()
            );
        }
    }
    Ok(())
}
