//! An agent opens the gateway in Chromium, signs in, and the phone registers
//! over SIP WebSocket; a wrong password is refused on the sign-in page. The
//! page is served under its Content-Security-Policy, so this also shows
//! that the wasm client, its API calls and its WebSocket work under it.

use std::time::Duration;

use anyhow::{Result, ensure};
use e2e::{Browser, Gateway};

const REGISTERED: &str = r#"#registration-state[data-state="registered"]"#;

/// The first page load fetches and compiles the wasm client.
const PAGE_LOAD: Duration = Duration::from_secs(30);

#[tokio::test]
async fn demo_agent_signs_in_and_the_phone_registers() -> Result<()> {
    let mut gateway = Gateway::start().await?;
    gateway.require_client()?;
    let page = e2e::http::get(&gateway.url("/"), &[]).await?;
    let csp = page
        .headers
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    ensure!(
        csp.contains("'wasm-unsafe-eval' 'sha256-") && !csp.contains("unsafe-inline"),
        "the app page's policy is not the strict one: {csp:?}"
    );
    let browser = Browser::start().await?;
    let result = async {
        browser.goto(&gateway.url("/")).await?;
        browser.wait_for("input#username", PAGE_LOAD).await?;
        browser.fill("input#username", "demo").await?;
        browser
            .fill("input#password", &gateway.demo_password)
            .await?;
        browser.click("button#sign-in").await?;

        let state = browser
            .wait_for(REGISTERED, Duration::from_secs(15))
            .await?;
        let text = state.text().await?;
        ensure!(
            text.contains("Registered"),
            "#registration-state is registered but reads {text:?}"
        );
        let agent = browser
            .wait_for_text("#agent-name", Duration::from_secs(5))
            .await?;
        ensure!(
            agent.contains("Demo Agent"),
            "#agent-name reads {agent:?}, not the demo agent's display name"
        );
        ensure!(
            browser.count("button#sign-out").await? == 1,
            "the phone has no sign-out button"
        );
        gateway.check_alive()
    }
    .await;
    browser.finish(result).await
}

#[tokio::test]
async fn wrong_password_shows_an_error_and_no_phone() -> Result<()> {
    let mut gateway = Gateway::start().await?;
    gateway.require_client()?;
    let browser = Browser::start().await?;
    let result = async {
        browser.goto(&gateway.url("/")).await?;
        browser.wait_for("input#username", PAGE_LOAD).await?;
        browser.fill("input#username", "demo").await?;
        browser
            .fill(
                "input#password",
                &format!("{}-wrong", gateway.demo_password),
            )
            .await?;
        browser.click("button#sign-in").await?;

        let error = browser
            .wait_for_text("#sign-in-error", Duration::from_secs(10))
            .await?;
        ensure!(!error.trim().is_empty(), "the sign-in error is empty");
        // Give a wrongly started phone a moment to show up.
        tokio::time::sleep(Duration::from_millis(500)).await;
        ensure!(
            browser.count("#registration-state").await? == 0,
            "a phone (#registration-state) appeared after a refused sign-in"
        );
        ensure!(
            browser.count("input#password").await? == 1,
            "the sign-in form went away after a refused sign-in"
        );
        gateway.check_alive()
    }
    .await;
    browser.finish(result).await
}
