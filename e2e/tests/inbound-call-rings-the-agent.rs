//! Inbound calls: SIPp plays a carrier calling one of our DIDs; the agent's
//! phone in Chromium rings with the caller and the DID, answers, and talks
//! (RTP counted on both sides); hang-up from either side; every tab of the
//! agent rings and the first answer stops the others; refusals (unknown
//! DID 404, unknown address 403, nobody online 480 with a missed call).

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use e2e::sip::UdpPeer;
use e2e::sipp::{Sipp, SippMedia, SippOptions};
use e2e::{Browser, Gateway, calls};
use shared::api::{CallDirection, HangupBy};

const CONNECTED: &str = r#"#call-state[data-state="connected"]"#;
const ENDED: &str = r#"#call-state[data-state="ended"]"#;
const RINGING: &str = r#"#incoming-call[data-state="ringing"]"#;
const DID: &str = "+14155550177";

/// A SIPp carrier allowed to send calls from 127.0.0.1, and a DID of the
/// demo agent on it.
async fn carrier_and_did(gateway: &Gateway) -> Result<()> {
    // The carrier's own SIP address does not matter here: it only calls us.
    let unused = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    let carrier = calls::add_carrier(gateway, "SIPp inbound", unused, |c| {
        c.inbound_sources = vec!["127.0.0.1".to_owned()];
    })
    .await?;
    calls::add_did(gateway, DID, "Sales line", "demo", Some(carrier.id)).await?;
    Ok(())
}

fn caller(gateway: &Gateway, scenario: &str, pause_ms: u64) -> SippOptions {
    SippOptions {
        media: SippMedia::Probe,
        caller: "+14155550123".to_owned(),
        args: vec!["-d".to_owned(), pause_ms.to_string()],
        ..SippOptions::caller(scenario, gateway.sip_udp, DID)
    }
}

#[tokio::test]
async fn agent_answers_talks_and_hangs_up() -> Result<()> {
    let mut gateway = Gateway::start().await?;
    gateway.require_client()?;
    carrier_and_did(&gateway).await?;
    let browser = Browser::start().await?;
    let result = async {
        calls::sign_in_agent(&browser, &gateway).await?;
        let mut sipp = Sipp::start(caller(&gateway, "uac-wait-bye.xml", 0)).await?;
        browser.wait_for(RINGING, Duration::from_secs(15)).await?;
        let who = browser
            .wait_for_text("#incoming-caller", Duration::from_secs(5))
            .await?;
        ensure!(
            who.contains("+1 415 555 0123") || who.contains("+14155550123"),
            "caller shown as {who:?}"
        );
        ensure!(who.contains("Alice Caller"), "caller name shown as {who:?}");
        let did = browser
            .wait_for_text("#incoming-did", Duration::from_secs(5))
            .await?;
        ensure!(did.contains("Sales line"), "DID shown as {did:?}");
        browser.click("button#answer").await?;
        browser.wait_for(CONNECTED, Duration::from_secs(15)).await?;
        calls::wait_for_audio(&browser, 50, Duration::from_secs(15)).await?;
        calls::carrier_hears(&sipp, 50).await?;
        calls::hang_up(&browser).await?;
        sipp.wait(Duration::from_secs(15)).await?.ensure_success()?;
        let record = calls::demo_last_record(&gateway).await?;
        ensure!(record.direction == CallDirection::Inbound, "{record:?}");
        ensure!(record.dialled == DID, "{record:?}");
        ensure!(
            record.caller_id.as_deref() == Some("+14155550123"),
            "{record:?}"
        );
        ensure!(record.agent.as_deref() == Some("demo"), "{record:?}");
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
async fn caller_hangs_up_after_talking() -> Result<()> {
    let mut gateway = Gateway::start().await?;
    gateway.require_client()?;
    carrier_and_did(&gateway).await?;
    let browser = Browser::start().await?;
    let result = async {
        calls::sign_in_agent(&browser, &gateway).await?;
        let mut sipp = Sipp::start(caller(&gateway, "uac-call.xml", 3000)).await?;
        browser.wait_for(RINGING, Duration::from_secs(15)).await?;
        browser.click("button#answer").await?;
        browser.wait_for(CONNECTED, Duration::from_secs(15)).await?;
        browser.wait_for(ENDED, Duration::from_secs(15)).await?;
        sipp.wait(Duration::from_secs(10)).await?.ensure_success()?;
        let record = calls::demo_last_record(&gateway).await?;
        ensure!(
            record.direction == CallDirection::Inbound && record.hangup_by == HangupBy::Remote,
            "{record:?}"
        );
        gateway.check_alive()
    }
    .await;
    browser.finish(result).await
}

#[tokio::test]
async fn two_tabs_ring_and_answering_one_stops_the_other() -> Result<()> {
    let mut gateway = Gateway::start().await?;
    gateway.require_client()?;
    carrier_and_did(&gateway).await?;
    let (first, second) = Browser::start_pair().await?;
    let result = async {
        calls::sign_in_agent(&first, &gateway).await?;
        calls::sign_in_agent(&second, &gateway).await?;
        let mut sipp = Sipp::start(caller(&gateway, "uac-call.xml", 2000)).await?;
        first.wait_for(RINGING, Duration::from_secs(15)).await?;
        second.wait_for(RINGING, Duration::from_secs(15)).await?;
        second.click("button#answer").await?;
        second.wait_for(CONNECTED, Duration::from_secs(15)).await?;
        e2e::eventually(
            "the first tab to stop ringing",
            Duration::from_secs(10),
            || async { Ok((first.count(RINGING).await? == 0).then_some(())) },
        )
        .await?;
        ensure!(
            first.count(CONNECTED).await? == 0,
            "the first tab must not be connected"
        );
        second.wait_for(ENDED, Duration::from_secs(15)).await?;
        sipp.wait(Duration::from_secs(10)).await?.ensure_success()?;
        gateway.check_alive()
    }
    .await;
    let result = second.finish(result).await;
    first.finish(result).await
}

/// A carrier's INVITE to `number` from `peer` (PCMU and telephone-event).
fn invite(peer: &UdpPeer, number: &str) -> Result<Vec<u8>> {
    let sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
               m=audio 40000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n";
    peer.carrier_invite(number, sdp)
}

/// The final answer to `request`, skipping provisional ones.
async fn final_status(peer: &UdpPeer, request: &[u8]) -> Result<u16> {
    Ok(peer.final_response(request).await?.status)
}

#[tokio::test]
async fn unknown_did_404_unknown_address_403_nobody_online_480() -> Result<()> {
    let mut gateway = Gateway::start().await?;
    carrier_and_did(&gateway).await?;
    let carrier = UdpPeer::bind(gateway.sip_udp).await?;
    let code = final_status(&carrier, &invite(&carrier, "+14155550999")?).await?;
    ensure!(code == 404, "unassigned DID answered {code}");

    let stranger = UdpPeer::bind_on(gateway.sip_udp, [127, 0, 0, 9].into()).await?;
    let code = final_status(&stranger, &invite(&stranger, DID)?).await?;
    ensure!(code == 403, "unknown address answered {code}");

    // Nobody is signed in: 480, and the agent has a missed call.
    let code = final_status(&carrier, &invite(&carrier, DID)?).await?;
    ensure!(code == 480, "nobody online answered {code}");
    let record = calls::demo_last_record(&gateway).await?;
    ensure!(
        record.direction == CallDirection::Inbound
            && record.final_code == 480
            && record.answered_at.is_none()
            && record.dialled == DID,
        "{record:?}"
    );
    gateway.check_alive()
}

#[tokio::test]
async fn carrier_without_listed_address_proves_itself_by_digest() -> Result<()> {
    // Without the demo carrier, whose own address (127.0.0.1) is listed.
    let mut gateway = Gateway::start_with(e2e::gateway::GatewayOptions {
        args: vec!["--demo-carrier".to_owned(), "false".to_owned()],
        ..Default::default()
    })
    .await?;
    let unused = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    let carrier = calls::add_carrier(&gateway, "Trunk with credentials", unused, |c| {
        c.username = Some("trunkuser".to_owned());
        c.secret = Some("trunk-secret-1".to_owned());
    })
    .await?;
    calls::add_did(&gateway, DID, "Sales line", "demo", Some(carrier.id)).await?;
    let peer = UdpPeer::bind(gateway.sip_udp).await?;
    let first = invite(&peer, DID)?;
    peer.send(&first).await?;
    let bytes = peer
        .recv(Duration::from_secs(5))
        .await?
        .context("no answer")?;
    let challenged = e2e::sip::SipResponse::parse(&bytes)?;
    ensure!(challenged.status == 407, "{}", challenged.text);
    let challenge = challenged
        .headers("Proxy-Authenticate")
        .iter()
        .filter_map(|v| shared::sip::digest::Challenge::parse(v).ok())
        .find(|c| c.algorithm == shared::sip::digest::Algorithm::Sha256)
        .context("a SHA-256 challenge")?;
    let with_password = |password: &str| -> Result<Vec<u8>> {
        let creds = shared::sip::digest::answer(
            &challenge,
            "INVITE",
            &format!("sip:{DID}@{}", gateway.sip_udp),
            "trunkuser",
            password,
            "e2ecnonce",
            1,
        );
        let text = String::from_utf8(invite(&peer, DID)?)?;
        Ok(text
            .replacen(
                "Max-Forwards: 70\r\n",
                &format!(
                    "Max-Forwards: 70\r\nProxy-Authorization: {}\r\n",
                    creds.to_header_value()
                ),
                1,
            )
            .into_bytes())
    };
    let code = final_status(&peer, &with_password("wrong")?).await?;
    ensure!(code == 403, "a wrong secret answered {code}");
    // Recognised: it reaches DID routing (nobody is online: 480).
    let code = final_status(&peer, &with_password("trunk-secret-1")?).await?;
    ensure!(code == 480, "the right secret answered {code}");
    gateway.check_alive()
}

/// Interop of our offer: JsSIP (a third-party SIP-over-WebSocket phone,
/// running in Chromium) registered as the agent rings, answers and talks.
#[tokio::test]
async fn jssip_registered_as_the_agent_answers_an_inbound_call() -> Result<()> {
    let mut gateway = Gateway::start().await?;
    carrier_and_did(&gateway).await?;
    let session = gateway.sign_in("demo", &gateway.demo_password).await?;
    let credential = session
        .info
        .sip
        .clone()
        .context("the demo agent's session came without a SIP credential")?;
    let browser = Browser::start().await?;
    let result = async {
        browser.goto(&gateway.url("/healthz")).await?;
        let phone =
            e2e::jssip::JsSip::start(browser.client()?, &gateway.ws_url(), &credential).await?;
        phone
            .wait_state("registered", Duration::from_secs(15))
            .await?;
        let mut sipp = Sipp::start(caller(&gateway, "uac-wait-bye.xml", 0)).await?;
        let ringing = phone.wait_state("ringing", Duration::from_secs(15)).await?;
        ensure!(
            ringing
                .caller
                .as_deref()
                .is_some_and(|c| c.contains("+14155550123")),
            "{ringing:?}"
        );
        ensure!(ringing.did.as_deref() == Some(DID), "{ringing:?}");
        phone.answer().await?;
        phone
            .wait_state("confirmed", Duration::from_secs(15))
            .await?;
        e2e::eventually(
            "audio from the carrier at JsSIP",
            Duration::from_secs(15),
            || async { Ok((phone.inbound_packets().await? > 50).then_some(())) },
        )
        .await?;
        let probe = sipp.probe.as_ref().context("the carrier's RTP probe")?;
        e2e::eventually(
            "JsSIP's audio at the carrier",
            Duration::from_secs(10),
            || async { Ok((probe.count(0) + probe.count(8) > 50).then_some(())) },
        )
        .await?;
        phone.hangup().await?;
        sipp.wait(Duration::from_secs(15)).await?.ensure_success()?;
        gateway.check_alive()
    }
    .await;
    browser.finish(result).await
}
