//! Outbound calls from Chromium through the gateway to SIPp playing the
//! carrier: audio both ways, DTMF as RFC 4733 events, the caller ID in From
//! and P-Asserted-Identity, hang-up from either side, carrier failures shown
//! to the agent and recorded, CANCEL while ringing, digest toward the carrier.

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use e2e::sipp::{Sipp, SippMedia, SippOptions};
use e2e::{Browser, Gateway, calls};
use shared::api::HangupBy;

const CONNECTED: &str = r#"#call-state[data-state="connected"]"#;
const ENDED: &str = r#"#call-state[data-state="ended"]"#;
const RINGING: &str = r#"#call-state[data-state="ringing"]"#;

#[tokio::test]
async fn call_connects_with_audio_both_ways_dtmf_and_caller_id() -> Result<()> {
    let mut gateway = Gateway::start().await?;
    gateway.require_client()?;
    let mut sipp = Sipp::start(SippOptions {
        media: SippMedia::Probe,
        ..SippOptions::carrier("uas-answer-echo.xml")
    })
    .await?;
    calls::add_carrier(&gateway, "SIPp", sipp.sip_addr, |c| {
        c.caller_id = Some("+14155550100".to_owned());
    })
    .await?;
    let browser = Browser::start().await?;
    let result = async {
        calls::sign_in_agent(&browser, &gateway).await?;
        calls::dial(&browser, "+44 20 7946 0000").await?;
        browser.wait_for(CONNECTED, Duration::from_secs(20)).await?;
        let stats = calls::wait_for_audio(&browser, 50, Duration::from_secs(15)).await?;
        ensure!(stats.packets_sent > 0, "{stats:?}");
        for key in ["1", "#"] {
            browser
                .click(&format!(r#"button[data-dtmf="{key}"]"#))
                .await?;
            tokio::time::sleep(Duration::from_millis(400)).await;
        }
        let probe = sipp.probe.as_ref().context("the carrier's RTP probe")?;
        let digits = e2e::eventually(
            "the DTMF digits at the carrier",
            Duration::from_secs(5),
            || async {
                let d = probe.digits(101);
                Ok((d.contains('1') && d.contains('#')).then_some(d))
            },
        )
        .await?;
        ensure!(digits == "1#", "the carrier heard DTMF {digits:?}");
        ensure!(
            probe.count(0) > 50,
            "PCMU packets at the carrier: {}",
            probe.count(0)
        );

        calls::hang_up(&browser).await?;
        let run = sipp.wait(Duration::from_secs(15)).await?;
        run.ensure_success()?;
        let from = run.logged("INVITE From:").unwrap_or_default();
        ensure!(
            from.contains("+14155550100"),
            "From at the carrier: {from:?}"
        );
        let pai = run
            .logged("INVITE P-Asserted-Identity:")
            .unwrap_or_default();
        ensure!(
            pai.contains("+14155550100"),
            "P-Asserted-Identity at the carrier: {pai:?}"
        );
        let uri = run.logged("INVITE Request-URI:").unwrap_or_default();
        ensure!(
            uri.contains("+442079460000"),
            "Request-URI at the carrier: {uri:?}"
        );

        let record = calls::demo_last_record(&gateway).await?;
        ensure!(
            record.final_code == 200 && record.hangup_by == HangupBy::Agent,
            "{record:?}"
        );
        ensure!(record.carrier.as_deref() == Some("SIPp"), "{record:?}");
        ensure!(
            record.caller_id.as_deref() == Some("+14155550100"),
            "{record:?}"
        );
        ensure!(
            record.packets_to_carrier > 50 && record.packets_from_carrier > 50,
            "{record:?}"
        );
        gateway.check_alive()
    }
    .await;
    browser.finish(result).await
}

#[tokio::test]
async fn carrier_hangs_up_and_the_agent_sees_it() -> Result<()> {
    let mut gateway = Gateway::start().await?;
    gateway.require_client()?;
    let mut sipp = Sipp::start(SippOptions {
        args: vec!["-d".to_owned(), "3000".to_owned()],
        ..SippOptions::carrier("uas-answer-then-bye.xml")
    })
    .await?;
    calls::add_carrier(&gateway, "SIPp", sipp.sip_addr, |_| {}).await?;
    let browser = Browser::start().await?;
    let result = async {
        calls::sign_in_agent(&browser, &gateway).await?;
        calls::dial(&browser, "4155552671").await?;
        browser.wait_for(CONNECTED, Duration::from_secs(20)).await?;
        browser.wait_for(ENDED, Duration::from_secs(15)).await?;
        let reason = browser
            .wait_for_text("#call-end-reason", Duration::from_secs(5))
            .await?;
        ensure!(
            reason.to_lowercase().contains("hung up"),
            "end reason: {reason:?}"
        );
        sipp.wait(Duration::from_secs(10)).await?.ensure_success()?;
        let record = calls::demo_last_record(&gateway).await?;
        ensure!(record.hangup_by == HangupBy::Remote, "{record:?}");
        gateway.check_alive()
    }
    .await;
    browser.finish(result).await
}

/// The carrier answers `scenario` with a failure: the phone shows a reason
/// containing `words`, the record has `code`.
async fn failure_is_shown(scenario: &str, code: u16, words: &str) -> Result<()> {
    // The only carrier: with the demo carrier behind it, a 503 would
    // (rightly) fail over to it.
    let mut gateway = Gateway::start_with(e2e::gateway::GatewayOptions {
        args: vec!["--demo-carrier".to_owned(), "false".to_owned()],
        ..Default::default()
    })
    .await?;
    gateway.require_client()?;
    let mut sipp = Sipp::carrier(scenario).await?;
    calls::add_carrier(&gateway, "SIPp", sipp.sip_addr, |_| {}).await?;
    let browser = Browser::start().await?;
    let result = async {
        calls::sign_in_agent(&browser, &gateway).await?;
        calls::dial(&browser, "4155552671").await?;
        browser.wait_for(ENDED, Duration::from_secs(15)).await?;
        let reason = browser
            .wait_for_text("#call-end-reason", Duration::from_secs(5))
            .await?;
        ensure!(
            reason.to_lowercase().contains(words),
            "end reason for {code}: {reason:?}"
        );
        sipp.wait(Duration::from_secs(10)).await?.ensure_success()?;
        let record = calls::demo_last_record(&gateway).await?;
        ensure!(
            record.final_code == code && record.hangup_by == HangupBy::Remote,
            "{record:?}"
        );
        gateway.check_alive()
    }
    .await;
    browser.finish(result).await
}

#[tokio::test]
async fn busy_carrier() -> Result<()> {
    failure_is_shown("uas-busy.xml", 486, "busy").await
}

#[tokio::test]
async fn number_not_found() -> Result<()> {
    failure_is_shown("uas-not-found.xml", 404, "not found").await
}

#[tokio::test]
async fn carrier_unavailable() -> Result<()> {
    failure_is_shown("uas-unavailable.xml", 503, "unavailable").await
}

#[tokio::test]
async fn hanging_up_while_ringing_cancels_at_the_carrier() -> Result<()> {
    let mut gateway = Gateway::start().await?;
    gateway.require_client()?;
    let mut sipp = Sipp::carrier("uas-no-answer.xml").await?;
    calls::add_carrier(&gateway, "SIPp", sipp.sip_addr, |_| {}).await?;
    let browser = Browser::start().await?;
    let result = async {
        calls::sign_in_agent(&browser, &gateway).await?;
        calls::dial(&browser, "4155552671").await?;
        browser.wait_for(RINGING, Duration::from_secs(15)).await?;
        calls::hang_up(&browser).await?;
        let run = sipp.wait(Duration::from_secs(15)).await?;
        run.ensure_success()?;
        ensure!(
            run.received_request("CANCEL").is_some(),
            "the carrier got no CANCEL"
        );
        let record = calls::demo_last_record(&gateway).await?;
        ensure!(
            record.final_code == 487 && record.hangup_by == HangupBy::Agent,
            "{record:?}"
        );
        gateway.check_alive()
    }
    .await;
    browser.finish(result).await
}

#[tokio::test]
async fn carrier_digest_challenge_gets_the_configured_credentials() -> Result<()> {
    let mut gateway = Gateway::start().await?;
    gateway.require_client()?;
    let mut sipp = Sipp::carrier("uas-digest.xml").await?;
    calls::add_carrier(&gateway, "SIPp", sipp.sip_addr, |c| {
        c.username = Some("carrieruser".to_owned());
        c.secret = Some("carriersecret".to_owned());
    })
    .await?;
    let browser = Browser::start().await?;
    let result = async {
        calls::sign_in_agent(&browser, &gateway).await?;
        calls::dial(&browser, "4155552671").await?;
        browser.wait_for(CONNECTED, Duration::from_secs(20)).await?;
        calls::hang_up(&browser).await?;
        let run = sipp.wait(Duration::from_secs(15)).await?;
        run.ensure_success()?;
        run.verify_proxy_authorization("carrieruser", "carriersecret")?;
        gateway.check_alive()
    }
    .await;
    browser.finish(result).await
}

#[tokio::test]
async fn a_carrier_that_vanishes_is_hung_up_by_the_media_timeout() -> Result<()> {
    let mut gateway = Gateway::start_with(e2e::gateway::GatewayOptions {
        args: vec!["--no-media-timeout".to_owned(), "5".to_owned()],
        ..Default::default()
    })
    .await?;
    gateway.require_client()?;
    let mut sipp = calls::echo_carrier(&gateway).await?;
    let browser = Browser::start().await?;
    let result = async {
        calls::sign_in_agent(&browser, &gateway).await?;
        calls::dial(&browser, "4155552671").await?;
        browser.wait_for(CONNECTED, Duration::from_secs(20)).await?;
        calls::wait_for_audio(&browser, 50, Duration::from_secs(15)).await?;
        // The carrier's media goes away without a BYE; the agent's phone
        // keeps sending.
        sipp.probe
            .as_ref()
            .context("the carrier's RTP probe")?
            .vanish();
        browser.wait_for(ENDED, Duration::from_secs(10)).await?;
        let run = sipp.wait(Duration::from_secs(10)).await?;
        run.ensure_success()?;
        let bye = run
            .received_request("BYE")
            .context("a BYE at the carrier")?;
        ensure!(
            bye.contains("No media from the carrier for 5 s"),
            "the BYE says why: {bye}"
        );
        let record = calls::demo_last_record(&gateway).await?;
        ensure!(
            record.hangup_by == HangupBy::Gateway
                && record.final_reason == "No media from the carrier for 5 s",
            "{record:?}"
        );
        gateway.check_alive()
    }
    .await;
    browser.finish(result).await
}
