//! The agent dials from Chromium (fake microphone) through the gateway to the
//! built-in demo carrier, a real SIP/RTP peer on loopback: the call connects,
//! audio comes back (the demo carrier echoes), hanging up writes one record.
//! A number ending in 486 makes the demo carrier answer busy, and the phone
//! says so.

use std::time::Duration;

use anyhow::{Result, ensure};
use e2e::{Browser, Gateway, calls};

#[tokio::test]
async fn demo_carrier_call_connects_echoes_audio_and_is_recorded() -> Result<()> {
    let mut gateway = Gateway::start().await?;
    gateway.require_client()?;
    let browser = Browser::start().await?;
    let result = async {
        // 0.0100 per minute to +1, 0.0200 to +1415: the longer prefix prices it.
        calls::set_demo_carrier_rates(&gateway, "prefix,price\n1,0.0100\n1415,0.0200,SF\n").await?;
        calls::sign_in_agent(&browser, &gateway).await?;
        calls::dial(&browser, "(415) 555-2671").await?;
        browser
            .wait_for(
                r#"#call-state[data-state="connected"]"#,
                Duration::from_secs(20),
            )
            .await?;
        // The prompt plays, then our fake microphone comes back.
        let stats = calls::wait_for_audio(&browser, 100, Duration::from_secs(15)).await?;
        ensure!(stats.packets_sent > 0, "the browser sent no RTP: {stats:?}");
        ensure!(
            stats.audio_level > 0.0,
            "the echoed audio is silent: {stats:?}"
        );
        browser.click("button#hangup").await?;
        browser
            .wait_for(
                r#"#call-state[data-state="ended"]"#,
                Duration::from_secs(10),
            )
            .await?;
        let record = calls::demo_last_record(&gateway).await?;
        ensure!(record.final_code == 200, "record: {record:?}");
        ensure!(record.dialled == "+14155552671", "record: {record:?}");
        ensure!(
            record.hangup_by == shared::api::HangupBy::Agent,
            "record: {record:?}"
        );
        ensure!(
            record.answered_at.is_some() && record.ringing_at.is_some(),
            "record: {record:?}"
        );
        ensure!(
            record.packets_to_carrier > 50 && record.packets_from_carrier > 50,
            "RTP both ways in the record: {record:?}"
        );
        // Per second at 200/10000 per minute, rounded up.
        ensure!(
            record.duration_s > 0
                && record.estimated_cost == Some((200 * record.duration_s + 59) / 60),
            "estimated cost: {record:?}"
        );
        gateway.check_alive()
    }
    .await;
    browser.finish(result).await
}

#[tokio::test]
async fn busy_number_shows_busy_and_is_recorded() -> Result<()> {
    let mut gateway = Gateway::start().await?;
    gateway.require_client()?;
    let browser = Browser::start().await?;
    let result = async {
        calls::sign_in_agent(&browser, &gateway).await?;
        calls::dial(&browser, "+1 415 555 0486").await?;
        browser
            .wait_for(
                r#"#call-state[data-state="ended"]"#,
                Duration::from_secs(15),
            )
            .await?;
        let reason = browser
            .wait_for_text("#call-end-reason", Duration::from_secs(5))
            .await?;
        ensure!(
            reason.to_lowercase().contains("busy"),
            "end reason: {reason:?}"
        );
        let record = calls::demo_last_record(&gateway).await?;
        ensure!(record.final_code == 486, "record: {record:?}");
        ensure!(record.answered_at.is_none(), "record: {record:?}");
        gateway.check_alive()
    }
    .await;
    browser.finish(result).await
}

/// `--dial-countries` is the first of every agent's destination policies:
/// the dial pad says before dialing that a number outside it is not
/// allowed, and why (the gateway's own 403 for a phone that dials anyway
/// is `destination-policy.rs`'s); `+1 416` is Canada, read by area code.
#[tokio::test]
async fn a_destination_the_agent_may_not_call_is_refused_with_a_reason() -> Result<()> {
    let mut gateway = e2e::Gateway::start_with(e2e::GatewayOptions {
        args: vec!["--dial-countries".to_owned(), "US,CA".to_owned()],
        ..e2e::GatewayOptions::default()
    })
    .await?;
    gateway.require_client()?;
    let browser = Browser::start().await?;
    let result = async {
        calls::sign_in_agent(&browser, &gateway).await?;
        browser
            .fill("input#dial-number", "+44 20 7946 0000")
            .await?;
        let said = browser
            .wait_for_text(
                r#"#dial-normalized[data-refusal="country_not_allowed"]"#,
                Duration::from_secs(5),
            )
            .await?;
        ensure!(
            said.contains("Calls to the United Kingdom (+44) are not allowed"),
            "the pad says {said:?}"
        );
        ensure!(
            browser.attr("button#call", "disabled").await?.is_some(),
            "Call stays enabled for a refused number"
        );
        browser.fill("input#dial-number", "+1 416 555 0100").await?;
        browser
            .wait_for(
                r#"#dial-normalized[data-valid="true"]"#,
                Duration::from_secs(5),
            )
            .await?;
        gateway.check_alive()
    }
    .await;
    browser.finish(result).await
}
