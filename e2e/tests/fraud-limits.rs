//! The fraud limits, driven as an admin and an agent would: the admin opens
//! Security from the navigation's "Settings" menu, sets the per-agent
//! daily spend cap to 0.01 in the "Fraud limits" form and saves it; the
//! demo carrier is priced at 6 a minute (its rate table, over the API).
//! The demo agent's JsSIP phone calls the demo carrier, talks for a
//! second and hangs up: that call is estimated at 0.10, over the cap, so
//! the gateway raises a `spend_cap` alert and refuses the agent's next
//! call 403 with the reason, before any carrier. The Security page then
//! shows the limit reached and the alert (`admin-security-limits.png`).
//! A restart keeps the block (counted again from the stored records).

use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use e2e::jssip::JsSip;
use e2e::{Browser, Gateway, admin, calls, http};
use shared::api::{Alert, SecuritySettings};

const WAIT: Duration = Duration::from_secs(15);
const SPEND_ROW: &str = r#"table#alerts tbody tr[data-kind="spend_cap"]"#;
const REFUSAL: &str =
    "Forbidden (your calls today reached the daily spend cap; an admin can raise it)";

/// Waits for the gateway's `spend_cap` alert (raised once the call's
/// record is stored and counted; the block is in place by then).
async fn spend_alert(gateway: &Gateway, cookie: &str) -> Result<Alert> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let alerts: Vec<Alert> = http::get(
            &gateway.url("/api/v1/security/alerts"),
            &[("cookie", cookie)],
        )
        .await?
        .json()?;
        if let Some(alert) = alerts.into_iter().find(|a| a.kind == "spend_cap") {
            return Ok(alert);
        }
        if tokio::time::Instant::now() >= deadline {
            bail!("no spend_cap alert within {WAIT:?}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A call from `phone` that the gateway refuses with the spend cap.
async fn refused(phone: &JsSip) -> Result<()> {
    phone.call("+14155550100").await?;
    let state = phone.wait_state("failed", WAIT).await?;
    ensure!(state.status == Some(403), "{state:?}");
    ensure!(state.reason.as_deref() == Some(REFUSAL), "{state:?}");
    Ok(())
}

#[tokio::test]
async fn an_agent_over_the_daily_spend_cap_set_on_the_security_page_is_refused() -> Result<()> {
    let mut gateway = Gateway::start().await?;
    gateway.require_client()?;
    calls::set_demo_carrier_rates(&gateway, "prefix,price_per_minute\n1,6\n").await?;
    let api = gateway.sign_in("admin", &gateway.admin_password).await?;
    let demo = gateway.sign_in("demo", &gateway.demo_password).await?;
    let credential = demo.info.sip.clone().context("demo's SIP credential")?;
    let browser = Browser::start().await?;
    let result = async {
        admin::sign_in(&browser, &gateway, "admin", &gateway.admin_password).await?;
        admin::open(&browser, "security").await?;
        browser.wait_for("form#limits-form", WAIT).await?;
        browser
            .fill(
                r#"form#limits-form input[name="agent_daily_spend"]"#,
                "0.01",
            )
            .await?;
        browser
            .click(r#"form#limits-form button[type="submit"]"#)
            .await?;
        let done = browser
            .wait_for_text("form#limits-form .form-done", WAIT)
            .await?;
        ensure!(done.starts_with("Saved."), "{done:?}");
        let settings: SecuritySettings = http::get(
            &gateway.url("/api/v1/security/settings"),
            &[("cookie", api.cookie.as_str())],
        )
        .await?
        .json()?;
        ensure!(
            settings.limits.agent_daily_spend == Some(100),
            "{settings:?}"
        );

        // The agent's phone on a page of its own.
        browser.goto(&gateway.url("/healthz")).await?;
        let phone = JsSip::start(browser.client()?, &gateway.ws_url(), &credential).await?;
        phone.wait_state("registered", WAIT).await?;
        phone.call("+14155550100").await?;
        phone.wait_state("confirmed", WAIT).await?;
        tokio::time::sleep(Duration::from_millis(1200)).await;
        phone.hangup().await?;
        phone.wait_state("ended", WAIT).await?;
        let alert = spend_alert(&gateway, &api.cookie).await?;
        ensure!(alert.agent.as_deref() == Some("demo"), "{alert:?}");
        ensure!(
            alert
                .message
                .starts_with("demo's calls today are estimated at 0.")
                && alert
                    .message
                    .ends_with("the daily spend cap is 0.01; calls are refused until midnight UTC"),
            "{alert:?}"
        );
        refused(&phone).await?;

        // The page shows the limit reached and the alert.
        browser.goto(&gateway.url("/#/security")).await?;
        let reached = browser.wait_for_text("li.limit-reached", WAIT).await?;
        ensure!(reached.starts_with("demo's calls today"), "{reached:?}");
        let row = browser.wait_for_text(SPEND_ROW, WAIT).await?;
        ensure!(row.contains("Daily spend cap"), "{row:?}");
        admin::screenshot(&browser, "security-limits").await?;

        // A restart forgets nothing: the block is counted again.
        gateway.restart().await?;
        browser.goto(&gateway.url("/healthz")).await?;
        let phone = JsSip::start(browser.client()?, &gateway.ws_url(), &credential).await?;
        phone.wait_state("registered", WAIT).await?;
        refused(&phone).await?;
        gateway.check_alive()
    }
    .await;
    browser.finish(result).await
}
