//! The phone embedded in a CRM: the demo CRM (`e2e/crm`, another site than
//! the gateway) mints a token through its own backend, embeds
//! `<dialer-phone>`, and a click on a contact's `tel:` link calls SIPp with
//! audio both ways; the page hears `connected` and `ended` with the call
//! record's id. An inbound call raises `incoming` with the caller. A site
//! that is not allowed, and an expired token, get clear `error` events.

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use e2e::embed::{self, Crm};
use e2e::sipp::{Sipp, SippMedia, SippOptions};
use e2e::{Browser, Gateway, calls, http};
use serde_json::json;
use shared::api::{CallRecord, Page};

const DID: &str = "+14155550177";

/// The gateway's records of `demo`, newest first (admin view).
async fn records(gateway: &Gateway) -> Result<Vec<CallRecord>> {
    let admin = gateway.sign_in("admin", &gateway.admin_password).await?;
    let response = http::get(
        &gateway.url("/api/v1/calls?limit=5"),
        &[("cookie", admin.cookie.as_str())],
    )
    .await?;
    let page: Page<CallRecord> = response.json()?;
    Ok(page.items)
}

/// A CRM allowed to embed the phone, opened in `browser`, its phone registered.
async fn open_crm(gateway: &Gateway, browser: &Browser) -> Result<Crm> {
    let token = embed::api_token(gateway).await?;
    let crm = Crm::start(gateway, &token).await?;
    embed::allow_origins(gateway, &[crm.origin()]).await?;
    browser.goto(&crm.url("/")).await?;
    embed::wait_event(browser, "ready", Duration::from_secs(30)).await?;
    embed::wait_event(browser, "registered", Duration::from_secs(20)).await?;
    Ok(crm)
}

#[tokio::test]
async fn a_tel_link_on_the_crm_page_calls_through_the_widget() -> Result<()> {
    let mut gateway = Gateway::start().await?;
    gateway.require_client()?;
    let mut sipp = Sipp::start(SippOptions {
        media: SippMedia::Probe,
        ..SippOptions::carrier("uas-answer-echo.xml")
    })
    .await?;
    calls::add_carrier(&gateway, "SIPp", sipp.sip_addr, |_| {}).await?;
    let browser = Browser::start().await?;
    let result = async {
        let crm = open_crm(&gateway, &browser).await?;
        embed::settings(
            &gateway,
            json!({"allowed_origins": [crm.origin()],
                   "webhook_url": format!("http://127.0.0.1:{}/webhook", crm.port),
                   "webhook_secret": embed::WEBHOOK_SECRET}),
        )
        .await?;
        browser.click("a#call-ada").await?;
        let connected = embed::wait_event(&browser, "connected", Duration::from_secs(20)).await?;
        ensure!(connected["number"] == "+442079460000", "{connected}");

        // Audio both ways: the browser (inside the iframe) hears the echo,
        // the carrier hears the browser.
        let client = browser.client()?;
        client
            .enter_frame(0)
            .await
            .context("entering the phone's iframe")?;
        let stats = calls::wait_for_audio(&browser, 50, Duration::from_secs(15)).await;
        client.enter_parent_frame().await?;
        let stats = stats?;
        ensure!(stats.packets_sent > 0, "{stats:?}");
        let probe = sipp.probe.as_ref().context("the carrier's RTP probe")?;
        e2e::eventually("PCMU at the carrier", Duration::from_secs(5), || async {
            Ok((probe.count(0) > 50).then_some(()))
        })
        .await?;

        browser.click("button#hangup").await?;
        let ended = embed::wait_event(&browser, "ended", Duration::from_secs(15)).await?;
        sipp.wait(Duration::from_secs(15)).await?.ensure_success()?;
        let record_id = ended["recordId"]
            .as_str()
            .with_context(|| format!("no record id in {ended}"))?
            .to_owned();
        let records = records(&gateway).await?;
        let record = records
            .iter()
            .find(|r| r.id == record_id)
            .with_context(|| format!("record {record_id} is not in {records:?}"))?;
        ensure!(record.dialled == "+442079460000", "{record:?}");
        ensure!(
            record.packets_to_carrier > 50 && record.packets_from_carrier > 50,
            "{record:?}"
        );
        ensure!(ended["duration"].is_u64(), "{ended}");

        // The CRM's webhook heard the call, signed: started, answered, ended
        // with the same record.
        let hooks = e2e::eventually(
            "call.ended at the webhook",
            Duration::from_secs(10),
            || async {
                let events = crm.webhook_events().await?;
                Ok(events
                    .iter()
                    .any(|e| e["event"] == "call.ended")
                    .then_some(events))
            },
        )
        .await?;
        for kind in ["call.started", "call.answered", "call.ended"] {
            ensure!(
                hooks.iter().any(|e| e["event"] == kind),
                "{kind} missing: {hooks:?}"
            );
        }
        ensure!(
            hooks
                .iter()
                .any(|e| e["event"] == "call.ended" && e["record"] == record_id.as_str()),
            "{hooks:?}"
        );
        gateway.check_alive()
    }
    .await;
    browser.finish(result).await
}

#[tokio::test]
async fn an_inbound_call_pops_the_caller_on_the_crm_page() -> Result<()> {
    let mut gateway = Gateway::start().await?;
    gateway.require_client()?;
    let unused = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    let carrier = calls::add_carrier(&gateway, "SIPp inbound", unused, |c| {
        c.inbound_sources = vec!["127.0.0.1".to_owned()];
    })
    .await?;
    calls::add_did(&gateway, DID, "Sales line", "demo", Some(carrier.id)).await?;
    let browser = Browser::start().await?;
    let result = async {
        let _crm = open_crm(&gateway, &browser).await?;
        let mut sipp = Sipp::start(SippOptions {
            media: SippMedia::Probe,
            caller: "+14155550123".to_owned(),
            args: vec!["-d".to_owned(), "0".to_owned()],
            ..SippOptions::caller("uac-wait-bye.xml", gateway.sip_udp, DID)
        })
        .await?;
        let incoming = embed::wait_event(&browser, "incoming", Duration::from_secs(15)).await?;
        ensure!(incoming["caller"] == "+14155550123", "{incoming}");
        ensure!(incoming["did"] == DID, "{incoming}");
        // The CRM answers and hangs up through the element's methods.
        browser.click("button#answer").await?;
        embed::wait_event(&browser, "connected", Duration::from_secs(15)).await?;
        browser.click("button#hangup").await?;
        let ended = embed::wait_event(&browser, "ended", Duration::from_secs(15)).await?;
        ensure!(ended["recordId"].is_string(), "{ended}");
        sipp.wait(Duration::from_secs(15)).await?.ensure_success()?;
        gateway.check_alive()
    }
    .await;
    browser.finish(result).await
}

#[tokio::test]
async fn a_site_not_allowed_and_an_expired_token_get_clear_errors() -> Result<()> {
    let mut gateway = Gateway::start().await?;
    gateway.require_client()?;
    let browser = Browser::start().await?;
    let result = async {
        let token = embed::api_token(&gateway).await?;
        let allowed = Crm::start(&gateway, &token).await?;
        let other = Crm::start(&gateway, &token).await?;
        embed::allow_origins(&gateway, &[allowed.origin()]).await?;
        // The browser enforces it too: only the allowed site may frame /embed.
        let page = gateway.get("/embed").await?;
        let csp = page
            .headers
            .get("content-security-policy")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        ensure!(
            csp.ends_with(&format!("; frame-ancestors 'self' {}", allowed.origin()))
                && csp.contains("script-src 'self' 'wasm-unsafe-eval' 'sha256-"),
            "CSP of /embed: {csp:?}"
        );

        browser.goto(&other.url("/")).await?;
        let error = embed::wait_event(&browser, "error", Duration::from_secs(20)).await?;
        ensure!(error["code"] == "origin_not_allowed", "{error}");
        tokio::time::sleep(Duration::from_secs(2)).await;
        let events = embed::events(&browser).await?;
        ensure!(
            !events
                .iter()
                .any(|e| e["name"] == "registered" || e["name"] == "ready"),
            "{events:?}"
        );
        ensure!(
            browser.count("dialer-phone iframe").await? == 0,
            "the phone was framed on a site that is not allowed"
        );

        // A token of 1 s, handed to the widget after 2.5 s.
        browser.goto(&allowed.url("/?ttl=1&delay=2500")).await?;
        let error = embed::wait_event(&browser, "error", Duration::from_secs(20)).await?;
        ensure!(error["code"] == "token_expired", "{error}");
        let events = embed::events(&browser).await?;
        ensure!(
            !events.iter().any(|e| e["name"] == "registered"),
            "{events:?}"
        );
        gateway.check_alive()
    }
    .await;
    browser.finish(result).await
}
