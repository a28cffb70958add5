//! IPv6 carriers on a dual-stack gateway (`--sip-udp6 [::1]:0`,
//! `--sip-tcp6 [::1]:0`): SIPp listens and calls on `::1`, over UDP or TCP;
//! the browser stays on IPv4. The gateway
//! writes RFC 5118 literals (`sip:+1…@[::1]:PORT`, `Via: SIP/2.0/UDP
//! [::1]:PORT`), offers `c=IN IP6 ::1` from a media socket on `::1`, and
//! relays audio both ways; a call from an IPv6 carrier rings the agent.

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use e2e::gateway::GatewayOptions;
use e2e::sipp::{Sipp, SippMedia, SippOptions};
use e2e::{Browser, Gateway, calls};
use shared::api::{CallDirection, HangupBy, SipTransport};

const CONNECTED: &str = r#"#call-state[data-state="connected"]"#;
const RINGING: &str = r#"#incoming-call[data-state="ringing"]"#;
const DID: &str = "+14155550166";

async fn dual_stack_gateway() -> Result<Gateway> {
    let args = ["--sip-udp6", "[::1]:0", "--sip-tcp6", "[::1]:0"];
    let gateway = Gateway::start_with(GatewayOptions {
        args: args.iter().map(|a| (*a).to_owned()).collect(),
        ..Default::default()
    })
    .await?;
    gateway.require_client()?;
    ensure!(
        gateway.sip_udp6.is_some_and(|a| a.is_ipv6()),
        "the gateway names no IPv6 SIP socket: {:?}",
        gateway.sip_udp6
    );
    Ok(gateway)
}

#[tokio::test]
async fn outbound_call_to_an_ipv6_carrier_has_audio_both_ways() -> Result<()> {
    let mut gateway = dual_stack_gateway().await?;
    let mut sipp = Sipp::start(SippOptions {
        media: SippMedia::Probe,
        ipv6: true,
        ..SippOptions::carrier("uas-answer-echo.xml")
    })
    .await?;
    // The host as an admin would type it, bracketed.
    calls::add_carrier(&gateway, "SIPp IPv6", sipp.sip_addr, |c| {
        c.host = "[::1]".to_owned();
    })
    .await?;
    let browser = Browser::start().await?;
    let result = async {
        calls::sign_in_agent(&browser, &gateway).await?;
        calls::dial(&browser, "+1 415 555 2671").await?;
        calls::connected_with_audio(&browser).await?;
        calls::carrier_hears(&sipp, 50).await?;
        let probe = sipp.probe.as_ref().context("probe")?;
        let from = probe.first_source().context("RTP")?;
        ensure!(from.is_ipv6(), "RTP reached the carrier from {from}");
        calls::hang_up(&browser).await?;
        sipp.wait(Duration::from_secs(15)).await?.ensure_success()?;

        let invite = sipp
            .received_request("INVITE")
            .context("SIPp received no INVITE")?;
        let port = sipp.sip_addr.port();
        let ours = gateway.sip_udp6.context("sip_udp6")?.port();
        for wanted in [
            format!("INVITE sip:+14155552671@[::1]:{port} SIP/2.0"),
            format!("Via: SIP/2.0/UDP [::1]:{ours};branch="),
            format!("Contact: <sip:gw@[::1]:{ours}>"),
            "c=IN IP6 ::1".to_owned(),
        ] {
            ensure!(invite.contains(&wanted), "no {wanted:?} in:\n{invite}");
        }
        ensure!(
            !invite.contains("2001-") && !invite.contains("[--1]"),
            "an internal alias leaked:\n{invite}"
        );
        let bye = sipp
            .received_request("BYE")
            .context("SIPp received no BYE")?;
        ensure!(bye.contains("Via: SIP/2.0/UDP [::1]:"), "BYE:\n{bye}");

        let record = calls::demo_last_record(&gateway).await?;
        ensure!(
            record.final_code == 200 && record.hangup_by == HangupBy::Agent,
            "{record:?}"
        );
        ensure!(record.carrier.as_deref() == Some("SIPp IPv6"), "{record:?}");
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
async fn outbound_call_to_an_ipv6_carrier_over_tcp_names_our_ipv6_tcp_socket() -> Result<()> {
    let mut gateway = dual_stack_gateway().await?;
    let tcp6 = gateway.sip_tcp6.context("sip_tcp6")?;
    let mut sipp = Sipp::start(SippOptions {
        media: SippMedia::Probe,
        ipv6: true,
        tcp: true,
        ..SippOptions::carrier("uas-answer-echo.xml")
    })
    .await?;
    calls::add_carrier(&gateway, "SIPp IPv6 TCP", sipp.sip_addr, |c| {
        c.transport = SipTransport::Tcp;
    })
    .await?;
    let browser = Browser::start().await?;
    let result = async {
        calls::sign_in_agent(&browser, &gateway).await?;
        calls::dial(&browser, "4155552671").await?;
        calls::connected_with_audio(&browser).await?;
        calls::carrier_hears(&sipp, 50).await?;
        calls::hang_up(&browser).await?;
        sipp.wait(Duration::from_secs(15)).await?.ensure_success()?;
        let invite = sipp
            .received_request("INVITE")
            .context("SIPp received no INVITE")?;
        let port = tcp6.port();
        for wanted in [
            format!("Via: SIP/2.0/TCP [::1]:{port};branch="),
            format!("Contact: <sip:gw@[::1]:{port};transport=tcp>"),
            "c=IN IP6 ::1".to_owned(),
        ] {
            ensure!(invite.contains(&wanted), "no {wanted:?} in:\n{invite}");
        }
        let record = calls::demo_last_record(&gateway).await?;
        ensure!(
            record.carrier.as_deref() == Some("SIPp IPv6 TCP") && record.final_code == 200,
            "{record:?}"
        );
        gateway.check_alive()
    }
    .await;
    browser.finish(result).await
}

#[tokio::test]
async fn call_from_an_ipv6_carrier_rings_the_agent_and_talks() -> Result<()> {
    let mut gateway = dual_stack_gateway().await?;
    let udp6 = gateway.sip_udp6.context("sip_udp6")?;
    // Recognised by its IPv6 source; its own address does not matter.
    let unused = std::net::TcpListener::bind("[::1]:0")?.local_addr()?;
    let carrier = calls::add_carrier(&gateway, "SIPp IPv6 inbound", unused, |c| {
        c.inbound_sources = vec!["::1/128".to_owned()];
    })
    .await?;
    calls::add_did(&gateway, DID, "IPv6 line", "demo", Some(carrier.id)).await?;
    let browser = Browser::start().await?;
    let result = async {
        calls::sign_in_agent(&browser, &gateway).await?;
        let mut sipp = Sipp::start(SippOptions {
            media: SippMedia::Probe,
            ipv6: true,
            caller: "+14155550123".to_owned(),
            args: vec!["-d".to_owned(), "0".to_owned()],
            ..SippOptions::caller("uac-wait-bye.xml", udp6, DID)
        })
        .await?;
        browser.wait_for(RINGING, Duration::from_secs(15)).await?;
        browser.click("button#answer").await?;
        browser.wait_for(CONNECTED, Duration::from_secs(15)).await?;
        calls::wait_for_audio(&browser, 50, Duration::from_secs(15)).await?;
        calls::carrier_hears(&sipp, 50).await?;
        calls::hang_up(&browser).await?;
        sipp.wait(Duration::from_secs(15)).await?.ensure_success()?;
        let messages = sipp.messages();
        ensure!(
            messages.contains("c=IN IP6 ::1"),
            "our answer has no IPv6 media address:\n{messages}"
        );
        let record = calls::demo_last_record(&gateway).await?;
        ensure!(record.direction == CallDirection::Inbound, "{record:?}");
        ensure!(record.dialled == DID, "{record:?}");
        ensure!(
            record.answered_at.is_some() && record.hangup_by == HangupBy::Agent,
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
async fn failover_from_an_ipv6_carrier_to_an_ipv4_one_moves_the_media() -> Result<()> {
    let mut gateway = dual_stack_gateway().await?;
    let mut primary = Sipp::start(SippOptions {
        ipv6: true,
        ..SippOptions::carrier("uas-unavailable.xml")
    })
    .await?;
    let mut secondary = Sipp::start(SippOptions {
        media: SippMedia::Probe,
        ..SippOptions::carrier("uas-answer-echo.xml")
    })
    .await?;
    calls::add_carrier(&gateway, "IPv6 primary", primary.sip_addr, |_| {}).await?;
    calls::add_carrier(&gateway, "IPv4 secondary", secondary.sip_addr, |c| {
        c.priority = 2;
    })
    .await?;
    let browser = Browser::start().await?;
    let result = async {
        calls::sign_in_agent(&browser, &gateway).await?;
        calls::dial(&browser, "4155552671").await?;
        calls::connected_with_audio(&browser).await?;
        calls::carrier_hears(&secondary, 50).await?;
        let probe = secondary.probe.as_ref().context("probe")?;
        let from = probe.first_source().context("RTP")?;
        ensure!(from.is_ipv4(), "RTP reached the IPv4 carrier from {from}");
        calls::hang_up(&browser).await?;
        primary
            .wait(Duration::from_secs(10))
            .await?
            .ensure_success()?;
        secondary
            .wait(Duration::from_secs(10))
            .await?
            .ensure_success()?;
        let first = primary
            .received_request("INVITE")
            .context("the IPv6 primary got no INVITE")?;
        ensure!(first.contains("c=IN IP6 ::1"), "{first}");
        let second = secondary
            .received_request("INVITE")
            .context("the IPv4 secondary got no INVITE")?;
        ensure!(
            second.contains("c=IN IP4 127.0.0.1") && second.contains("Via: SIP/2.0/UDP 127.0.0.1:"),
            "{second}"
        );
        let record = calls::demo_last_record(&gateway).await?;
        let tried: Vec<(&str, u16)> = record
            .attempts
            .iter()
            .map(|a| (a.carrier.as_str(), a.code))
            .collect();
        ensure!(
            tried == vec![("IPv6 primary", 503), ("IPv4 secondary", 200)],
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
