//! The gateway serving TLS itself (`--tls-cert`/`--tls-key`) with a
//! certificate from a test CA the test makes: Chromium (told to accept that
//! certificate's key) opens the `https://` origin, signs in, registers over
//! `wss://` and calls the demo carrier with audio both ways; mid-call the
//! certificate files are replaced and new connections get the new one while
//! the call goes on; the port speaks no plain HTTP or `ws://`; a foreign
//! origin's `wss://` upgrade is refused; responses carry HSTS and the
//! session cookie is `Secure`; plain HTTP on `--http-redirect` is sent to
//! HTTPS. And a carrier
//! calling in over SIP TLS (`--sip-tls`): SIPp (Debian's has no TLS) behind
//! socat's TLS client reaches the agent, who answers and talks.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use e2e::pki::TestPki;
use e2e::sipp::{Sipp, SippMedia, SippOptions};
use e2e::socat::Socat;
use e2e::{Browser, Gateway, GatewayOptions, calls, http, incoming};
use rustls::pki_types::ServerName;
use shared::api::{CallDirection, HangupBy};
use tokio_tungstenite::tungstenite;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const DID: &str = "+14155550188";

async fn tls_gateway(dir: &Path, sip_tls: bool, args: Vec<String>) -> Result<(Gateway, TestPki)> {
    let pki = TestPki::new(dir, "gateway")?;
    let gateway = Gateway::start_with(GatewayOptions {
        tls: Some(pki.clone()),
        sip_tls,
        args,
        ..GatewayOptions::default()
    })
    .await?;
    gateway.require_client()?;
    Ok((gateway, pki))
}

/// A WebSocket upgrade to `/ws` over TLS with `origin`; the HTTP status the
/// gateway answered (101 when the socket opened) and the body.
async fn wss_upgrade(gateway: &Gateway, pki: &TestPki, origin: &str) -> Result<(u16, String)> {
    let mut request = gateway.ws_url().into_client_request()?;
    request.headers_mut().insert("origin", origin.parse()?);
    request
        .headers_mut()
        .insert("sec-websocket-protocol", "sip".parse()?);
    let tcp = tokio::net::TcpStream::connect(gateway.http).await?;
    let tls = http::tls_connector(&pki.ca_der)?
        .connect(ServerName::try_from("127.0.0.1")?, tcp)
        .await
        .context("TLS to the gateway's HTTP port")?;
    match tokio_tungstenite::client_async(request, tls).await {
        Ok((_socket, response)) => Ok((response.status().as_u16(), String::new())),
        Err(tungstenite::Error::Http(response)) => {
            let body = String::from_utf8_lossy(response.body().as_deref().unwrap_or_default())
                .into_owned();
            Ok((response.status().as_u16(), body))
        }
        Err(e) => bail!("the wss:// upgrade failed below HTTP: {e}"),
    }
}

#[tokio::test]
async fn browser_over_https_registers_over_wss_and_calls_with_audio() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let redirect = format!("127.0.0.1:{}", e2e::free_tcp_port()?);
    let args = vec!["--http-redirect".to_owned(), redirect.clone()];
    let (mut gateway, pki) = tls_gateway(dir.path(), false, args).await?;
    ensure!(gateway.url("/").starts_with("https://"));

    // Plain HTTP on --http-redirect sends the browser to HTTPS: 308 to the
    // same host and path on the HTTPS port.
    let moved = http::get(&format!("http://{redirect}/phone?x=1"), &[]).await?;
    let location = moved
        .headers
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    ensure!(
        moved.status == 308
            && location == format!("https://127.0.0.1:{}/phone?x=1", gateway.http.port()),
        "plain HTTP: {} → {location:?}",
        moved.status
    );

    // HTTPS answers, with HSTS; the session cookie is Secure.
    let health = gateway.get("/healthz").await?;
    ensure!(health.status == 200, "GET /healthz: {}", health.status);
    let hsts = health
        .headers
        .get("strict-transport-security")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    ensure!(hsts.starts_with("max-age="), "HSTS header: {hsts:?}");
    let signed_in = gateway.post_session("demo", &gateway.demo_password).await?;
    ensure!(signed_in.status == 200, "sign-in: {}", signed_in.status);
    let cookie = signed_in.set_cookie_headers().join(" | ");
    ensure!(cookie.contains("; Secure"), "session cookie: {cookie}");

    // The port speaks only TLS: plain HTTP and ws:// get no answer.
    let plain = http::get(&format!("http://{}/healthz", gateway.http), &[]).await;
    ensure!(plain.is_err(), "plain HTTP was answered: {plain:?}");
    let tcp = tokio::net::TcpStream::connect(gateway.http).await?;
    let ws = tokio_tungstenite::client_async(format!("ws://{}/ws", gateway.http), tcp).await;
    ensure!(ws.is_err(), "a plain ws:// upgrade was answered");

    // Over TLS, a foreign page's upgrade is refused, the gateway's own
    // page's is let in.
    let (status, body) = wss_upgrade(&gateway, &pki, "https://evil.example").await?;
    ensure!(
        status == 403 && body.contains("origin_not_allowed"),
        "foreign origin: {status} {body}"
    );
    let own = format!("https://{}", gateway.http);
    let (status, body) = wss_upgrade(&gateway, &pki, &own).await?;
    ensure!(status == 101, "own origin: {status} {body}");

    let browser = Browser::start_trusting(&[&pki.spki_sha256]).await?;
    let result = async {
        // Registered: the phone's socket from the https:// page is wss://
        // (the port speaks nothing else, and a browser refuses ws:// from
        // a secure page).
        calls::sign_in_agent(&browser, &gateway).await?;
        let page = browser.client()?.current_url().await?;
        ensure!(page.scheme() == "https", "the page is {page}");
        calls::dial(&browser, "(415) 555-2671").await?;
        let stats = calls::connected_with_audio(&browser).await?;
        ensure!(stats.packets_sent > 0, "the browser sent no RTP: {stats:?}");

        // Mid-call the certificate is renewed (a new key from a new CA,
        // written over the files, the key first): new connections get it
        // within the reload interval; the call's WebSocket and media go on.
        let renewed_dir = dir.path().join("renewed");
        std::fs::create_dir_all(&renewed_dir)?;
        let renewed = TestPki::new(&renewed_dir, "gateway")?;
        std::fs::copy(&renewed.key_file, &pki.key_file)?;
        std::fs::copy(&renewed.cert_file, &pki.cert_file)?;
        let authority = gateway.http.to_string();
        http::trust(&authority, renewed.ca_der.clone());
        e2e::eventually(
            "the renewed certificate served",
            Duration::from_secs(10),
            || async {
                Ok(gateway
                    .get("/healthz")
                    .await
                    .ok()
                    .filter(|r| r.status == 200))
            },
        )
        .await?;
        http::trust(&authority, pki.ca_der.clone());
        ensure!(
            gateway.get("/healthz").await.is_err(),
            "the old certificate is still served"
        );
        http::trust(&authority, renewed.ca_der.clone());
        ensure!(
            gateway.log().contains("TLS certificate reloaded"),
            "no reload logged"
        );
        let before = calls::audio_stats(&browser).await?;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let after = calls::audio_stats(&browser).await?;
        ensure!(
            after.packets_received > before.packets_received + 50
                && browser.count(incoming::CONNECTED).await? == 1,
            "the call did not go on after the reload: {before:?} → {after:?}"
        );
        calls::hang_up(&browser).await?;
        let record = calls::demo_last_record(&gateway).await?;
        ensure!(
            record.final_code == 200
                && record.packets_to_carrier > 50
                && record.packets_from_carrier > 50,
            "RTP both ways in the record: {record:?}"
        );
        gateway.check_alive()
    }
    .await;
    browser.finish(result).await
}

#[tokio::test]
async fn carrier_calls_in_over_sip_tls_and_reaches_the_agent() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (mut gateway, pki) = tls_gateway(dir.path(), true, Vec::new()).await?;
    let sip_tls = gateway.sip_tls.context("the ready line names no sip_tls")?;
    // The carrier's own address does not matter: it only calls us.
    let unused = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    let carrier = calls::add_carrier(&gateway, "TLS inbound", unused, |c| {
        c.inbound_sources = vec!["127.0.0.1".to_owned()];
    })
    .await?;
    calls::add_did(&gateway, DID, "TLS line", "demo", Some(carrier.id)).await?;

    let browser = Browser::start_trusting(&[&pki.spki_sha256]).await?;
    let result = async {
        calls::sign_in_agent(&browser, &gateway).await?;
        // socat's TLS client: its one connection goes on over TLS to the
        // gateway, checking its certificate against the test CA.
        let tls = Socat::start(
            dir.path(),
            |port| format!("TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr"),
            &format!(
                "OPENSSL:{sip_tls},cafile={},verify=1,commonname=localhost",
                pki.ca_file.display()
            ),
        )
        .await?;
        let target = std::net::SocketAddr::from(([127, 0, 0, 1], tls.port));
        let mut sipp = Sipp::start(SippOptions {
            media: SippMedia::Probe,
            caller: "+14155550123".to_owned(),
            tcp: true,
            ..SippOptions::caller("uac-wait-bye.xml", target, DID)
        })
        .await?;
        browser
            .wait_for(incoming::RINGING, Duration::from_secs(15))
            .await?;
        incoming::answer(&browser).await?;
        calls::connected_with_audio(&browser).await?;
        calls::carrier_hears(&sipp, 50).await?;
        calls::hang_up(&browser).await?;
        sipp.wait(Duration::from_secs(15)).await?.ensure_success()?;
        // Our BYE came over the TLS connection and names the TLS listener.
        let bye = sipp.received_request("BYE").context("SIPp got no BYE")?;
        let via = format!("SIP/2.0/TLS 127.0.0.1:{}", sip_tls.port());
        ensure!(bye.contains(&via), "the BYE has no {via}:\n{bye}");
        let record = calls::demo_last_record(&gateway).await?;
        ensure!(
            record.direction == CallDirection::Inbound
                && record.dialled == DID
                && record.hangup_by == HangupBy::Agent
                && record.packets_to_carrier > 50
                && record.packets_from_carrier > 50,
            "{record:?}"
        );
        gateway.check_alive()
    }
    .await;
    browser.finish(result).await
}
