//! Inbound call media over real loopback sockets: the gateway offers WebRTC
//! to ringing tabs (str0m peers playing the browser), answers a plain UDP
//! "carrier", and relays both ways once the answering tab's SDP arrives.

use std::time::Duration;

use str0m::media::Direction as Str0mDirection;
use tokio::net::UdpSocket;

use super::peer::{self, Peer};
use super::plain_carrier;
use super::*;
use crate::media::rtp::{self, Datagram};

/// The carrier's telephone-event PT (differs from the browser's 101, so
/// remapping shows).
const CARRIER_TE: u8 = 96;
/// Every RTP packet here carries 160 bytes of G.711 (20 ms).
const FRAME: usize = 160;

fn inbound_engine(ports: RangeInclusive<u16>, no_media: Duration) -> Arc<MediaEngine> {
    let mut config = MediaConfig::new("127.0.0.1".parse().expect("ip"), ports);
    config.bind_ip = "127.0.0.1".parse().expect("ip");
    config.no_media_timeout = no_media;
    MediaEngine::new(config).expect("engine")
}

/// A carrier's INVITE offer: PCMU, PCMA and telephone-event.
fn carrier_offer(port: u16) -> String {
    format!(
        "v=0\r\no=carrier 9 9 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP 0 8 {CARRIER_TE}\r\na=rtpmap:0 PCMU/8000\r\n\
         a=rtpmap:8 PCMA/8000\r\na=rtpmap:{CARRIER_TE} telephone-event/8000\r\n\
         a=fmtp:{CARRIER_TE} 0-15\r\na=ptime:20\r\na=sendrecv\r\n"
    )
}

fn carrier_rtp(pt: u8, seq: u16, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    rtp::write_header(&mut out, false, pt, seq, u32::from(seq) * 160, 0x0cab);
    rtp::write_payload(&mut out, payload, None);
    out
}

/// Payload types of the RTP waiting on the carrier socket.
fn drain_carrier(socket: &UdpSocket) -> Vec<u8> {
    let mut buf = [0u8; 2048];
    let mut pts = Vec::new();
    while let Ok((n, _)) = socket.try_recv_from(&mut buf) {
        if let Datagram::Rtp(p) = rtp::parse(&buf[..n]) {
            assert_eq!(p.payload.len(), if p.pt == 0 { FRAME } else { 4 });
            pts.push(p.pt);
        }
    }
    pts
}

async fn next_event(events: &mut mpsc::UnboundedReceiver<MediaEvent>) -> MediaEvent {
    tokio::time::timeout(Duration::from_secs(5), events.recv())
        .await
        .expect("a media event within 5 s")
        .expect("events channel open")
}

/// The media's answer to a browser re-offer (a NoMedia on the way is fine).
async fn reoffer_answer(events: &mut mpsc::UnboundedReceiver<MediaEvent>) -> String {
    loop {
        match next_event(events).await {
            MediaEvent::BrowserAnswer { result, .. } => return result.expect("re-offer answered"),
            MediaEvent::NoMedia { .. } => {}
            other => panic!("expected BrowserAnswer, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn inbound_call_rings_then_relays_both_ways_with_the_answering_tab() {
    let no_media = Duration::from_millis(400);
    let engine = inbound_engine(31100..=31103, no_media);
    let carrier = UdpSocket::bind("127.0.0.1:0").await.expect("carrier");
    let carrier_port = carrier.local_addr().expect("addr").port();
    let (tx, mut events) = mpsc::unbounded_channel();
    let call = CallId(41);
    let media = engine
        .start_inbound(
            call,
            &carrier_offer(carrier_port),
            &[Codec::Pcmu, Codec::Pcma],
            false,
            tx,
        )
        .expect("inbound media");

    // Our answer to the carrier: its first codec, its DTMF number, our socket.
    let gateway_rtp = media.carrier_leg.address;
    assert_eq!(gateway_rtp.ip().to_string(), "127.0.0.1");
    assert!(
        media.carrier_answer.contains(&format!(
            "c=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {} RTP/AVP 0 {CARRIER_TE}\r\n",
            gateway_rtp.port()
        )),
        "{}",
        media.carrier_answer
    );
    assert!(media.carrier_answer.ends_with("a=sendrecv\r\n"));
    // Our offer to the browsers: ICE-lite, DTLS either role, the carrier's
    // codec first, telephone-event, our one host candidate.
    let offer = &media.browser_offer;
    for needle in [
        "a=ice-lite",
        "a=setup:actpass",
        "a=fingerprint:sha-256",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:8 PCMA/8000",
        "a=rtpmap:101 telephone-event/8000",
        "a=sendrecv",
    ] {
        assert!(offer.contains(needle), "{needle} missing from {offer}");
    }
    let m_line = offer
        .lines()
        .find(|l| l.starts_with("m=audio"))
        .expect("m=audio");
    assert!(m_line.ends_with(" 0 8 101"), "{m_line}");
    assert_eq!(
        offer
            .lines()
            .filter(|l| l.starts_with("a=candidate"))
            .count(),
        1
    );
    assert!(!offer.contains("opus"), "{offer}");

    // Two tabs of the agent get the offer; both start ICE. Tab A never
    // answers (the agent picks up on tab B).
    let mut tab_a = Peer::new().await;
    let _unused_answer = tab_a.answer(offer);
    let tab_a = tokio::spawn(async move {
        tab_a.pump(Duration::from_secs(3)).await;
        tab_a.connected
    });
    // Early media from the carrier while ringing: latched, never relayed.
    for seq in 1..=5 {
        carrier
            .send_to(&carrier_rtp(0, seq, &[0x55; FRAME]), gateway_rtp)
            .await
            .expect("early media");
    }
    // Ringing outlasts the no-media timeout without any event.
    tokio::time::sleep(no_media * 2).await;
    assert!(events.try_recv().is_err(), "nothing happens while ringing");

    let mut tab_b = Peer::new().await;
    let answer = tab_b.answer(offer);
    assert!(peer::is_audio(&tab_b));
    // Garbage is refused and does not use up the call's one answer.
    assert!(matches!(
        media.control.browser_answer("v=0\r\nnot an answer"),
        Err(MediaError::BadAnswer(_))
    ));
    media.control.browser_answer(&answer).expect("answer taken");
    // Only one answer is ever applied.
    let err = media
        .control
        .browser_answer(&answer)
        .expect_err("second answer");
    assert!(err.to_string().contains("no offer"), "{err}");

    assert!(
        tab_b
            .pump_until(Duration::from_secs(5), |p| p.connected)
            .await,
        "the answering tab connects"
    );
    match next_event(&mut events).await {
        MediaEvent::Connected { call: c } => assert_eq!(c, call),
        other => panic!("expected Connected, got {other:?}"),
    }

    // 40 packets each way, plus one DTMF event each way.
    let rounds: u16 = 40;
    let mut to_carrier = Vec::new();
    for i in 0..rounds {
        tab_b.send_rtp(0, u32::from(i) * 160, &[0xaa; FRAME]);
        carrier
            .send_to(&carrier_rtp(0, 100 + i, &[0x77; FRAME]), gateway_rtp)
            .await
            .expect("carrier RTP");
        tab_b.pump(Duration::from_millis(5)).await;
        to_carrier.extend(drain_carrier(&carrier));
    }
    tab_b.send_rtp(101, 99_000, &[5, 0x80 | 10, 0, 160]);
    carrier
        .send_to(
            &carrier_rtp(CARRIER_TE, 200, &[7, 0x80 | 10, 0, 160]),
            gateway_rtp,
        )
        .await
        .expect("carrier DTMF");
    tab_b.pump(Duration::from_millis(200)).await;
    to_carrier.extend(drain_carrier(&carrier));

    let audio_to_carrier = to_carrier.iter().filter(|pt| **pt == 0).count();
    let dtmf_to_carrier = to_carrier.iter().filter(|pt| **pt == CARRIER_TE).count();
    assert_eq!(
        (audio_to_carrier, dtmf_to_carrier),
        (usize::from(rounds), 1),
        "{to_carrier:?}"
    );
    let to_browser: Vec<u8> = tab_b.received.iter().map(|(pt, _)| *pt).collect();
    assert_eq!(
        to_browser.iter().filter(|pt| **pt == 0).count(),
        usize::from(rounds),
        "{to_browser:?}"
    );
    assert_eq!(to_browser.iter().filter(|pt| **pt == 101).count(), 1);
    // The early media (0x55) never reached the browser.
    assert!(tab_b.received.iter().all(|(_, p)| p.first() != Some(&0x55)));

    // Hold from the answering tab works as on outbound calls.
    let hold = tab_b.reoffer(Str0mDirection::SendOnly);
    media.control.browser_reoffer(&hold);
    media.control.set_hold(true);
    let held_answer = reoffer_answer(&mut events).await;
    assert!(held_answer.contains("a=recvonly"), "{held_answer}");
    tab_b.accept_answer(&held_answer);
    assert_eq!(tab_b.direction(), Str0mDirection::SendOnly);
    // Resume; then silence: the no-media timer runs again.
    let resume = tab_b.reoffer(Str0mDirection::SendRecv);
    media.control.browser_reoffer(&resume);
    media.control.set_hold(false);
    let resumed = reoffer_answer(&mut events).await;
    tab_b.accept_answer(&resumed);
    let mut pumping = Box::pin(tab_b.pump(Duration::from_secs(3)));
    let silence = tokio::select! {
        event = next_event(&mut events) => event,
        () = &mut pumping => panic!("no NoMedia within 3 s"),
    };
    drop(pumping);
    assert!(
        matches!(silence, MediaEvent::NoMedia { call: c, .. } if c == call),
        "{silence:?}"
    );

    media.control.stop();
    let (stats, reason) = loop {
        if let MediaEvent::Stopped { stats, reason, .. } = next_event(&mut events).await {
            break (stats, reason);
        }
    };
    assert_eq!(reason, StopReason::Requested);
    assert_eq!(stats.browser_to_carrier_packets, u64::from(rounds) + 1);
    assert_eq!(stats.carrier_to_browser_packets, u64::from(rounds) + 1);
    assert_eq!(
        (stats.dtmf_events_to_carrier, stats.dtmf_events_to_browser),
        (1, 1)
    );
    assert!(
        !tab_a.await.expect("tab A task"),
        "the tab that did not answer never connects"
    );
}

#[tokio::test]
async fn an_answer_str0m_refuses_ends_the_call_with_an_error() {
    let engine = inbound_engine(31110..=31113, Duration::from_secs(30));
    let (tx, mut events) = mpsc::unbounded_channel();
    let media = engine
        .start_inbound(CallId(42), &carrier_offer(40000), &[Codec::Pcma], false, tx)
        .expect("inbound media");
    assert!(media.carrier_answer.contains("RTP/AVP 8 96\r\n"));
    assert!(
        media
            .browser_offer
            .lines()
            .any(|l| l.starts_with("m=audio") && l.ends_with(" 8 0 101")),
        "the carrier's codec first: {}",
        media.browser_offer
    );
    let mut tab = Peer::new().await;
    let answer = tab.answer(&media.browser_offer);
    // Parses, but without ICE credentials str0m cannot use it.
    let broken: String = answer
        .split_inclusive('\n')
        .filter(|l| !l.starts_with("a=ice-ufrag") && !l.starts_with("a=ice-pwd"))
        .collect();
    media.control.browser_answer(&broken).expect("parses");
    let reason = loop {
        if let MediaEvent::Stopped { reason, .. } = next_event(&mut events).await {
            break reason;
        }
    };
    let StopReason::Error(text) = reason else {
        panic!("expected an error, got {reason:?}");
    };
    assert!(text.contains("answer was refused"), "{text}");
}

#[tokio::test]
async fn unusable_offers_and_out_of_turn_sdp_are_refused() {
    let engine = inbound_engine(31120..=31123, Duration::from_secs(30));
    let (tx, mut events) = mpsc::unbounded_channel();
    let g729 = "v=0\r\nc=IN IP4 127.0.0.1\r\nm=audio 4000 RTP/AVP 18\r\n";
    assert!(matches!(
        engine.start_inbound(CallId(1), g729, &[Codec::Pcmu], false, tx.clone()),
        Err(MediaError::NoCommonCodec(_))
    ));
    assert!(matches!(
        engine.start_inbound(CallId(2), "garbage", &[Codec::Pcmu], false, tx.clone()),
        Err(MediaError::BadOffer(_))
    ));
    // The one call this range holds still fits.
    let media = engine
        .start_inbound(
            CallId(3),
            &carrier_offer(40000),
            &[Codec::Pcmu],
            false,
            tx.clone(),
        )
        .expect("a good offer");
    assert!(matches!(
        engine.start_outbound(
            CallId(4),
            &super::browser_offer(),
            plain_carrier(&[Codec::Pcmu]),
            tx.clone()
        ),
        Err(MediaError::NoPorts)
    ));
    // Ringing: a browser re-offer before the answer is refused, not applied.
    media.control.browser_reoffer(&super::browser_offer());
    match next_event(&mut events).await {
        MediaEvent::BrowserAnswer { result, .. } => {
            assert!(result.expect_err("refused").contains("not answered"));
        }
        other => panic!("expected BrowserAnswer, got {other:?}"),
    }
    media.control.stop();
    loop {
        if let MediaEvent::Stopped { reason, .. } = next_event(&mut events).await {
            assert_eq!(reason, StopReason::Requested);
            break;
        }
    }
    // The ports are back. An outbound call's control has no offer of ours
    // waiting, so a browser answer is refused there.
    let outbound = engine
        .start_outbound(
            CallId(5),
            &super::browser_offer(),
            plain_carrier(&[Codec::Pcmu]),
            tx,
        )
        .expect("ports freed");
    // (Any well-formed SDP will do: it is refused before str0m sees it.)
    let err = outbound
        .control
        .browser_answer(&super::browser_offer())
        .expect_err("not inbound");
    assert!(matches!(err, MediaError::BadAnswer(_)), "{err}");
}
