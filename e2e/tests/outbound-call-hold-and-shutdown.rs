//! Hold and resume from the phone send re-INVITEs, and the far end's audio
//! stops and comes back; a gateway shutdown hangs up a call in progress and
//! still writes its record.

use std::time::Duration;

use anyhow::{Result, ensure};
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
