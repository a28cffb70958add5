//! Outbound calls to a carrier over TCP: SIPp listens on TCP (`-t t1`), the
//! gateway opens the connection itself, sends the INVITE with a TCP Via and
//! a `transport=tcp` Contact, takes the carrier's BYE on that connection,
//! and fails at once (503, no 32 s wait) when nothing listens.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use e2e::sipp::{Sipp, SippMedia, SippOptions};
use e2e::{Browser, Gateway, calls};
use shared::api::{HangupBy, SipTransport};

const CONNECTED: &str = r#"#call-state[data-state="connected"]"#;
const ENDED: &str = r#"#call-state[data-state="ended"]"#;

#[tokio::test]
async fn call_over_tcp_has_audio_both_ways_and_agent_hangs_up() -> Result<()> {
    let mut gateway = Gateway::start().await?;
    gateway.require_client()?;
    let mut sipp = Sipp::start(SippOptions {
        media: SippMedia::Probe,
        tcp: true,
        ..SippOptions::carrier("uas-answer-echo.xml")
    })
    .await?;
    calls::add_carrier(&gateway, "SIPp TCP", sipp.sip_addr, |c| {
        c.transport = SipTransport::Tcp;
    })
    .await?;
    let browser = Browser::start().await?;
    let result = async {
        calls::sign_in_agent(&browser, &gateway).await?;
        calls::dial(&browser, "+1 415 555 2671").await?;
        calls::connected_with_audio(&browser).await?;
        calls::carrier_hears(&sipp, 50).await?;
        calls::hang_up(&browser).await?;
        sipp.wait(Duration::from_secs(15)).await?.ensure_success()?;

        let invite = sipp
            .received_request("INVITE")
            .context("SIPp received no INVITE")?;
        ensure!(
            invite.contains("Via: SIP/2.0/TCP "),
            "the INVITE's Via is not TCP:\n{invite}"
        );
        ensure!(
            invite.contains(";transport=tcp>"),
            "the INVITE's Contact does not ask for TCP:\n{invite}"
        );
        let bye = sipp
            .received_request("BYE")
            .context("SIPp received no BYE")?;
        ensure!(bye.contains("Via: SIP/2.0/TCP "), "BYE over TCP:\n{bye}");

        let record = calls::demo_last_record(&gateway).await?;
        ensure!(
            record.final_code == 200 && record.hangup_by == HangupBy::Agent,
            "{record:?}"
        );
        ensure!(record.carrier.as_deref() == Some("SIPp TCP"), "{record:?}");
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
async fn carrier_hangs_up_over_the_same_tcp_connection() -> Result<()> {
    let mut gateway = Gateway::start().await?;
    gateway.require_client()?;
    let mut sipp = Sipp::start(SippOptions {
        args: vec!["-d".to_owned(), "2000".to_owned()],
        tcp: true,
        ..SippOptions::carrier("uas-answer-then-bye.xml")
    })
    .await?;
    calls::add_carrier(&gateway, "SIPp TCP", sipp.sip_addr, |c| {
        c.transport = SipTransport::Tcp;
    })
    .await?;
    let browser = Browser::start().await?;
    let result = async {
        calls::sign_in_agent(&browser, &gateway).await?;
        calls::dial(&browser, "4155552671").await?;
        browser.wait_for(CONNECTED, Duration::from_secs(20)).await?;
        browser.wait_for(ENDED, Duration::from_secs(15)).await?;
        sipp.wait(Duration::from_secs(10)).await?.ensure_success()?;
        let record = calls::demo_last_record(&gateway).await?;
        ensure!(record.hangup_by == HangupBy::Remote, "{record:?}");
        gateway.check_alive()
    }
    .await;
    browser.finish(result).await
}

#[tokio::test]
async fn unreachable_tcp_carrier_fails_at_once_with_503() -> Result<()> {
    // Without the demo carrier, which would rightly take the failed-over call.
    let mut gateway = Gateway::start_with(e2e::gateway::GatewayOptions {
        args: vec!["--demo-carrier".to_owned(), "false".to_owned()],
        ..Default::default()
    })
    .await?;
    gateway.require_client()?;
    // A port nothing listens on: bound, then released.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    calls::add_carrier(&gateway, "Dead TCP", closed, |c| {
        c.transport = SipTransport::Tcp;
    })
    .await?;
    let browser = Browser::start().await?;
    let result = async {
        calls::sign_in_agent(&browser, &gateway).await?;
        let dialled = Instant::now();
        calls::dial(&browser, "4155552671").await?;
        browser.wait_for(ENDED, Duration::from_secs(10)).await?;
        let took = dialled.elapsed();
        ensure!(
            took < Duration::from_secs(8),
            "the failure took {took:?} (timer B would be 32 s)"
        );
        let reason = browser
            .wait_for_text("#call-end-reason", Duration::from_secs(5))
            .await?;
        ensure!(
            reason.to_lowercase().contains("unavailable"),
            "end reason: {reason:?}"
        );
        let record = calls::demo_last_record(&gateway).await?;
        ensure!(record.final_code == 503, "{record:?}");
        gateway.check_alive()
    }
    .await;
    browser.finish(result).await
}
