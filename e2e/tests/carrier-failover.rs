//! Failover between two SIPp carriers: the primary answers 503 → the call
//! completes through the secondary and the record lists both attempts; a
//! silent primary is given up after the configured time; a busy callee
//! (486 from the primary) is not rung again through the secondary.

use std::time::{Duration, Instant};

use anyhow::{Result, ensure};
use e2e::gateway::GatewayOptions;
use e2e::sipp::{Sipp, SippOptions};
use e2e::ws_phone::Phone;
use e2e::{Browser, Gateway, calls};

const CONNECTED: &str = r#"#call-state[data-state="connected"]"#;
const ENDED: &str = r#"#call-state[data-state="ended"]"#;

async fn gateway() -> Result<Gateway> {
    let gateway = Gateway::start_with(GatewayOptions {
        args: vec!["--failover-timeout-ms".to_owned(), "1000".to_owned()],
        ..Default::default()
    })
    .await?;
    gateway.require_client()?;
    Ok(gateway)
}

#[tokio::test]
async fn primary_503_completes_through_the_secondary() -> Result<()> {
    let mut gateway = gateway().await?;
    let mut primary = Sipp::carrier("uas-unavailable.xml").await?;
    let mut secondary = Sipp::carrier("uas-answer-echo.xml").await?;
    calls::add_carrier(&gateway, "Primary", primary.sip_addr, |_| {}).await?;
    calls::add_carrier(&gateway, "Secondary", secondary.sip_addr, |c| {
        c.priority = 2
    })
    .await?;
    let browser = Browser::start().await?;
    let result = async {
        calls::sign_in_agent(&browser, &gateway).await?;
        calls::dial(&browser, "4155552671").await?;
        calls::connected_with_audio(&browser).await?;
        calls::hang_up(&browser).await?;
        primary
            .wait(Duration::from_secs(10))
            .await?
            .ensure_success()?;
        secondary
            .wait(Duration::from_secs(10))
            .await?
            .ensure_success()?;
        let record = calls::demo_last_record(&gateway).await?;
        let tried: Vec<(&str, u16)> = record
            .attempts
            .iter()
            .map(|a| (a.carrier.as_str(), a.code))
            .collect();
        ensure!(
            tried == vec![("Primary", 503), ("Secondary", 200)],
            "{record:?}"
        );
        ensure!(
            record.carrier.as_deref() == Some("Secondary") && record.final_code == 200,
            "{record:?}"
        );
        gateway.check_alive()
    }
    .await;
    browser.finish(result).await
}

#[tokio::test]
async fn silent_primary_is_given_up_after_the_configured_time() -> Result<()> {
    let mut gateway = gateway().await?;
    // A carrier that takes datagrams and never answers.
    let silent = tokio::net::UdpSocket::bind("127.0.0.1:0").await?;
    let mut secondary = Sipp::carrier("uas-answer-echo.xml").await?;
    calls::add_carrier(&gateway, "Silent", silent.local_addr()?, |_| {}).await?;
    calls::add_carrier(&gateway, "Secondary", secondary.sip_addr, |c| {
        c.priority = 2
    })
    .await?;
    let browser = Browser::start().await?;
    let result = async {
        calls::sign_in_agent(&browser, &gateway).await?;
        let dialled = Instant::now();
        calls::dial(&browser, "4155552671").await?;
        browser.wait_for(CONNECTED, Duration::from_secs(20)).await?;
        let took = dialled.elapsed();
        ensure!(
            took >= Duration::from_millis(1000),
            "connected after {took:?}: before the failover time?"
        );
        calls::hang_up(&browser).await?;
        secondary
            .wait(Duration::from_secs(10))
            .await?
            .ensure_success()?;
        let record = calls::demo_last_record(&gateway).await?;
        ensure!(
            record.attempts.len() == 2 && record.attempts[0].code == 408,
            "{record:?}"
        );
        gateway.check_alive()
    }
    .await;
    browser.finish(result).await
}

#[tokio::test]
async fn busy_callee_is_not_rung_again_through_the_secondary() -> Result<()> {
    let mut gateway = gateway().await?;
    let mut primary = Sipp::carrier("uas-busy.xml").await?;
    let secondary = Sipp::start(SippOptions {
        timeout: Duration::from_secs(30),
        ..SippOptions::carrier("uas-answer-echo.xml")
    })
    .await?;
    calls::add_carrier(&gateway, "Primary", primary.sip_addr, |_| {}).await?;
    calls::add_carrier(&gateway, "Secondary", secondary.sip_addr, |c| {
        c.priority = 2
    })
    .await?;
    let browser = Browser::start().await?;
    let result = async {
        calls::sign_in_agent(&browser, &gateway).await?;
        calls::dial(&browser, "4155552671").await?;
        browser.wait_for(ENDED, Duration::from_secs(10)).await?;
        let reason = browser
            .wait_for_text("#call-end-reason", Duration::from_secs(5))
            .await?;
        ensure!(
            reason.to_lowercase().contains("busy"),
            "end reason {reason:?}"
        );
        primary
            .wait(Duration::from_secs(10))
            .await?
            .ensure_success()?;
        tokio::time::sleep(Duration::from_millis(500)).await;
        ensure!(
            secondary.received_request("INVITE").is_none(),
            "the secondary was rung for a busy callee"
        );
        gateway.check_alive()
    }
    .await;
    browser.finish(result).await
}

#[tokio::test]
async fn a_carrier_at_its_channel_limit_is_skipped_for_the_next_call() -> Result<()> {
    let mut gateway = gateway().await?;
    let primary = Sipp::start(SippOptions {
        calls: 2,
        ..SippOptions::carrier("uas-answer-echo.xml")
    })
    .await?;
    let secondary = Sipp::carrier("uas-answer-echo.xml").await?;
    calls::add_carrier(&gateway, "Primary", primary.sip_addr, |c| {
        c.max_channels = Some(1);
    })
    .await?;
    calls::add_carrier(&gateway, "Secondary", secondary.sip_addr, |c| {
        c.priority = 2
    })
    .await?;
    // Two agents' phones (each agent may have one call at a time).
    let mut first = Phone::register(&gateway, "demo", &gateway.demo_password).await?;
    let mut second = Phone::register(&gateway, "admin", &gateway.admin_password).await?;
    let (_, up) = first.call_and_hold("+14155552671").await?;
    ensure!(
        primary.received_request("INVITE").is_some(),
        "the first call went to the primary"
    );
    let (_, also_up) = second.call_and_hold("+14155552672").await?;
    ensure!(
        secondary.received_request("INVITE").is_some(),
        "the second call did not go to the secondary"
    );
    second.hang_up(also_up).await?;
    first.hang_up(up).await?;
    gateway.check_alive()
}
