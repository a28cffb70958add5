//! Hold and resume from the phone send re-INVITEs, and the far end's audio
//! stops and comes back; a gateway shutdown drains calls in progress (new
//! ones get 503) and hangs up what is left after the grace, and
//! still writes its record; a gateway killed mid-call records that call at
//! its next start.

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use e2e::{Browser, Gateway, GatewayOptions, calls};
use shared::api::HangupBy;

#[tokio::test]
async fn hold_stops_the_far_end_audio_and_resume_brings_it_back() -> Result<()> {
    let mut gateway = Gateway::start().await?;
    gateway.require_client()?;
    let browser = Browser::start().await?;
    let result = async {
        calls::sign_in_agent(&browser, &gateway).await?;
        calls::dial(&browser, "4155552671").await?;
        browser
            .wait_for(
                r#"#call-state[data-state="connected"]"#,
                Duration::from_secs(20),
            )
            .await?;
        calls::wait_for_audio(&browser, 100, Duration::from_secs(15)).await?;

        browser.click("button#hold").await?;
        browser
            .wait_for(r#"#call-state[data-state="held"]"#, Duration::from_secs(10))
            .await?;
        // Let packets in flight arrive, then count.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let before = calls::audio_stats(&browser).await?.packets_received;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let during = calls::audio_stats(&browser).await?.packets_received;
        ensure!(
            during - before < 10,
            "audio kept coming while on hold: {before} → {during} packets in 2 s"
        );

        browser.click("button#hold").await?;
        browser
            .wait_for(
                r#"#call-state[data-state="connected"]"#,
                Duration::from_secs(10),
            )
            .await?;
        calls::wait_for_audio(&browser, during + 50, Duration::from_secs(10)).await?;
        browser.click("button#hangup").await?;
        browser
            .wait_for(
                r#"#call-state[data-state="ended"]"#,
                Duration::from_secs(10),
            )
            .await?;
        gateway.check_alive()
    }
    .await;
    browser.finish(result).await
}

#[tokio::test]
async fn shutdown_hangs_up_calls_and_writes_their_records() -> Result<()> {
    let mut gateway = Gateway::start_with(GatewayOptions {
        args: vec!["--shutdown-grace".to_owned(), "1".to_owned()],
        ..GatewayOptions::default()
    })
    .await?;
    gateway.require_client()?;
    let browser = Browser::start().await?;
    let result = async {
        calls::sign_in_agent(&browser, &gateway).await?;
        calls::dial(&browser, "4155552671").await?;
        browser
            .wait_for(
                r#"#call-state[data-state="connected"]"#,
                Duration::from_secs(20),
            )
            .await?;
        calls::wait_for_audio(&browser, 50, Duration::from_secs(15)).await?;
        let status = gateway.stop()?;
        ensure!(status.success(), "the gateway exited with {status}");
        browser
            .wait_for(
                r#"#call-state[data-state="ended"]"#,
                Duration::from_secs(10),
            )
            .await?;
        gateway.restart().await?;
        let record = calls::demo_last_record(&gateway).await?;
        ensure!(record.hangup_by == HangupBy::Gateway, "{record:?}");
        ensure!(
            record.answered_at.is_some() && record.packets_from_carrier > 0,
            "{record:?}"
        );
        Ok(())
    }
    .await;
    browser.finish(result).await
}

#[tokio::test]
async fn shutdown_drains_calls_in_progress_and_refuses_new_ones() -> Result<()> {
    let mut gateway = Gateway::start_with(GatewayOptions {
        args: vec!["--shutdown-grace".to_owned(), "30".to_owned()],
        ..GatewayOptions::default()
    })
    .await?;
    gateway.require_client()?;
    let browser = Browser::start().await?;
    let result = async {
        calls::sign_in_agent(&browser, &gateway).await?;
        calls::dial(&browser, "4155552671").await?;
        calls::connected_with_audio(&browser).await?;

        gateway.begin_stop()?;
        e2e::eventually("the drain logged", Duration::from_secs(5), || async {
            Ok(gateway.log().contains("draining calls").then_some(()))
        })
        .await?;
        // A carrier's new call is refused so that it tries elsewhere.
        let peer = e2e::sip::UdpPeer::bind(gateway.sip_udp).await?;
        let sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n\
                   t=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";
        let refused = peer
            .final_response(&peer.carrier_invite("+14155550150", sdp)?)
            .await?;
        ensure!(
            refused.status == 503
                && refused.reason.contains("shutting down")
                && refused.header("Retry-After").is_some(),
            "a new call while draining: {}",
            refused.text
        );
        // The call in progress goes on.
        let before = calls::audio_stats(&browser).await?;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let after = calls::audio_stats(&browser).await?;
        ensure!(
            after.packets_received > before.packets_received + 50
                && browser
                    .count(r#"#call-state[data-state="connected"]"#)
                    .await?
                    == 1,
            "the call stopped while draining: {before:?} → {after:?}"
        );
        ensure!(
            gateway.wait_stopped(Duration::ZERO).is_none(),
            "the gateway left while a call was up"
        );
        // Its end lets the gateway go, long before the 30 s grace.
        calls::hang_up(&browser).await?;
        let status = gateway
            .wait_stopped(Duration::from_secs(10))
            .context("the gateway exits once its last call is over")?;
        ensure!(status.success(), "the gateway exited with {status}");
        gateway.restart().await?;
        let record = calls::demo_last_record(&gateway).await?;
        ensure!(
            record.hangup_by == HangupBy::Agent && record.final_code == 200,
            "{record:?}"
        );
        Ok(())
    }
    .await;
    browser.finish(result).await
}

#[tokio::test]
async fn a_killed_gateway_still_records_the_call_that_was_up() -> Result<()> {
    let mut gateway = Gateway::start().await?;
    gateway.require_client()?;
    let browser = Browser::start().await?;
    let result = async {
        calls::sign_in_agent(&browser, &gateway).await?;
        calls::dial(&browser, "4155552671").await?;
        calls::connected_with_audio(&browser).await?;
        tokio::time::sleep(Duration::from_secs(1)).await;
        // No shutdown at all: SIGKILL, as a crash or a power cut.
        gateway.kill_now()?;
        gateway.restart().await?;
        let record = calls::demo_last_record(&gateway).await?;
        ensure!(
            record
                .final_reason
                .contains("gateway stopped during the call")
                && record.hangup_by == HangupBy::Gateway
                && record.answered_at.is_some()
                && record.final_code == 200
                && record.dialled.ends_with("4155552671"),
            "{record:?}"
        );
        let log = gateway.log();
        ensure!(
            log.contains("calls up when the gateway last stopped abruptly, now recorded: 1"),
            "the restart says so"
        );
        Ok(())
    }
    .await;
    browser.finish(result).await
}
