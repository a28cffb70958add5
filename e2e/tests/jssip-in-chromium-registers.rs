//! JsSIP running inside headless Chromium (the harness the inbound-call
//! tests use for a third-party callee) registers with the credential the
//! gateway issues at sign-in.

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use e2e::jssip::JsSip;
use e2e::{Browser, Gateway};

#[tokio::test]
async fn jssip_in_chromium_registers_with_the_issued_credential() -> Result<()> {
    let mut gateway = Gateway::start().await?;
    let session = gateway.sign_in("demo", &gateway.demo_password).await?;
    let credential = session
        .info
        .sip
        .clone()
        .context("the demo agent's session came without a SIP credential")?;
    let browser = Browser::start().await?;
    let result = async {
        // Any page of the gateway's origin will do; this one needs no
        // built client.
        browser.goto(&gateway.url("/healthz")).await?;
        let phone = JsSip::start(browser.client()?, &gateway.ws_url(), &credential).await?;
        let state = phone
            .wait_state("registered", Duration::from_secs(15))
            .await?;
        ensure!(
            state.events.iter().any(|e| e == "connected"),
            "registered without a connection? {state:?}"
        );
        ensure!(
            phone.inbound_packets().await? == 0,
            "packets without a call"
        );
        gateway.check_alive()
    }
    .await;
    browser.finish(result).await
}
