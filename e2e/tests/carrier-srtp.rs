//! SRTP toward carriers (SDES, RFC 4568): a carrier marked "SRTP required"
//! gets an `RTP/SAVP` offer with our key, and a call to baresip (its own
//! SRTP stack, mandatory encryption, echoing) carries the agent's audio
//! there and back; a call from baresip offering SRTP is answered with our
//! key and carries audio both ways too; plain RTP is refused both ways: a
//! carrier that answers plain RTP ends the call with a reason, and a plain
//! inbound offer gets 488.

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use e2e::baresip::{Baresip, MediaEnc};
use e2e::sip::UdpPeer;
use e2e::sipp::{Sipp, SippOptions};
use e2e::ws_phone::Phone;
use e2e::{Browser, Gateway, calls};
use shared::api::{CallDirection, HangupBy, SrtpMode};

const CONNECTED: &str = r#"#call-state[data-state="connected"]"#;
const ENDED: &str = r#"#call-state[data-state="ended"]"#;
const RINGING: &str = r#"#incoming-call[data-state="ringing"]"#;
const DID: &str = "+14155550177";

/// The gateway without the demo carrier: the carrier under test takes every call.
async fn gateway() -> Result<Gateway> {
    Gateway::start_with(e2e::gateway::GatewayOptions {
        args: vec!["--demo-carrier".to_owned(), "false".to_owned()],
        ..Default::default()
    })
    .await
}

#[tokio::test]
async fn srtp_call_to_baresip_carries_audio_both_ways() -> Result<()> {
    let mut gateway = gateway().await?;
    gateway.require_client()?;
    let baresip = Baresip::echo_carrier(MediaEnc::SrtpMandatory, "+14155552671").await?;
    calls::add_carrier(&gateway, "baresip SRTP", baresip.sip_addr, |c| {
        c.srtp = SrtpMode::Required;
    })
    .await?;
    let browser = Browser::start().await?;
    let result = async {
        calls::sign_in_agent(&browser, &gateway).await?;
        calls::dial(&browser, "+1 415 555 2671").await?;
        browser.wait_for(CONNECTED, Duration::from_secs(20)).await?;
        // baresip decrypts our beep, sends it back encrypted with its own
        // key, and we decrypt it: the browser hears itself.
        calls::wait_for_audio(&browser, 100, Duration::from_secs(20)).await?;
        calls::hang_up(&browser).await?;

        let trace = baresip.output();
        ensure!(
            trace.contains("RTP/SAVP")
                && trace.contains("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:"),
            "baresip did not get an SDES offer:\n{}",
            e2e::tail(&trace, 80)
        );
        let record = calls::demo_last_record(&gateway).await?;
        ensure!(
            record.final_code == 200 && record.hangup_by == HangupBy::Agent,
            "{record:?}"
        );
        ensure!(
            record.packets_to_carrier > 100 && record.packets_from_carrier > 100,
            "SRTP packets were not relayed both ways: {record:?}"
        );
        gateway.check_alive()
    }
    .await;
    browser.finish(result).await
}

#[tokio::test]
async fn an_srtp_call_from_baresip_is_answered_with_srtp_and_has_audio() -> Result<()> {
    let mut gateway = gateway().await?;
    gateway.require_client()?;
    // An ordinary carrier ("optional"): SRTP because the carrier asks for it.
    let unused = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    let carrier = calls::add_carrier(&gateway, "baresip inbound", unused, |c| {
        c.inbound_sources = vec!["127.0.0.1".to_owned()];
    })
    .await?;
    calls::add_did(&gateway, DID, "SRTP line", "demo", Some(carrier.id)).await?;
    let browser = Browser::start().await?;
    let result = async {
        calls::sign_in_agent(&browser, &gateway).await?;
        let baresip = Baresip::caller(
            MediaEnc::SrtpMandatory,
            "+14155550123",
            gateway.sip_udp,
            DID,
        )
        .await?;
        browser.wait_for(RINGING, Duration::from_secs(15)).await?;
        browser.click("button#answer").await?;
        browser.wait_for(CONNECTED, Duration::from_secs(15)).await?;
        // baresip's tone reaches the browser, and baresip decodes our audio.
        calls::wait_for_audio(&browser, 100, Duration::from_secs(20)).await?;
        e2e::eventually(
            "baresip decoding our SRTP",
            Duration::from_secs(10),
            || async { Ok((baresip.received_bitrate() > 0).then_some(())) },
        )
        .await?;
        calls::hang_up(&browser).await?;

        let trace = baresip.output();
        let ok = trace
            .split("SIP/2.0 200 OK")
            .find(|part| part.contains("CSeq:") && part.contains("INVITE"))
            .context("baresip got no 200 for its INVITE")?;
        ensure!(
            ok.contains("RTP/SAVP") && ok.contains("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:"),
            "our answer is not SRTP:\n{}",
            e2e::tail(&trace, 80)
        );
        let record = calls::demo_last_record(&gateway).await?;
        ensure!(
            record.direction == CallDirection::Inbound
                && record.packets_to_carrier > 100
                && record.packets_from_carrier > 100,
            "SRTP packets were not relayed both ways: {record:?}"
        );
        drop(baresip);
        gateway.check_alive()
    }
    .await;
    browser.finish(result).await
}

#[tokio::test]
async fn a_plain_rtp_answer_to_an_srtp_required_carrier_ends_the_call() -> Result<()> {
    let mut gateway = gateway().await?;
    gateway.require_client()?;
    // SIPp's scenario answers with plain RTP/AVP whatever it was offered.
    let sipp = Sipp::start(SippOptions::carrier("uas-answer-echo.xml")).await?;
    calls::add_carrier(&gateway, "SIPp plain", sipp.sip_addr, |c| {
        c.srtp = SrtpMode::Required;
    })
    .await?;
    let browser = Browser::start().await?;
    let result = async {
        calls::sign_in_agent(&browser, &gateway).await?;
        calls::dial(&browser, "+1 415 555 2671").await?;
        browser.wait_for(ENDED, Duration::from_secs(20)).await?;
        let invite = sipp
            .received_request("INVITE")
            .context("SIPp received no INVITE")?;
        ensure!(
            invite.contains("RTP/SAVP") && invite.contains("a=crypto:1 "),
            "the offer was not SRTP:\n{invite}"
        );
        let record = calls::demo_last_record(&gateway).await?;
        ensure!(
            record.answered_at.is_none() || record.duration_s == 0,
            "a plain-RTP call went through: {record:?}"
        );
        ensure!(
            record.final_reason.contains("requires SRTP"),
            "the record does not say why: {record:?}"
        );
        gateway.check_alive()
    }
    .await;
    browser.finish(result).await
}

#[tokio::test]
async fn a_plain_rtp_offer_from_an_srtp_required_carrier_gets_488() -> Result<()> {
    let mut gateway = gateway().await?;
    let unused = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    let carrier = calls::add_carrier(&gateway, "SRTP inbound", unused, |c| {
        c.inbound_sources = vec!["127.0.0.1".to_owned()];
        c.srtp = SrtpMode::Required;
    })
    .await?;
    calls::add_did(
        &gateway,
        "+14155550177",
        "SRTP line",
        "demo",
        Some(carrier.id),
    )
    .await?;
    // The agent is online, so the call would ring but for its media.
    let _phone = Phone::register(&gateway, "demo", &gateway.demo_password).await?;
    let peer = UdpPeer::bind(gateway.sip_udp).await?;
    let sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
               m=audio 40000 RTP/AVP 0\r\n";
    let response = peer.final_response(&peer.carrier_invite(DID, sdp)?).await?;
    ensure!(response.status == 488, "{}", response.text);
    ensure!(
        response.text.contains("requires SRTP"),
        "the 488 does not say why: {}",
        response.text
    );
    gateway.check_alive()
}
