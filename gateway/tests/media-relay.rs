//! Relaying between a WebRTC browser (a str0m `Rtc` with full ICE) and a
//! plain-RTP carrier (UDP sockets), over real sockets on 127.0.0.1.

#[path = "media-support/mod.rs"]
mod support;

use std::time::Duration;

use gateway::media::{CallId, Codec, MediaStats, StopReason};
use support::*;
use tokio::net::UdpSocket;

const CARRIER_SSRC: u32 = 0x00c0_ffee;
const SECOND_SSRC: u32 = 0x0000_beef;
/// The carrier answers telephone-event with its own number (we offered 101).
const CARRIER_TE: u8 = 96;

#[tokio::test]
async fn relays_both_ways_with_our_ssrc_continuous_sequence_remapped_dtmf_and_latching() {
    let engine = engine(32000..=32019, Duration::from_secs(30));
    let mut s = connected_call(&engine, CallId(1)).await;
    let gw = s.media.carrier_leg.address;
    let offer = &s.media.carrier_offer;
    assert!(
        offer.contains(&format!("m=audio {} RTP/AVP 0 8 101\r\n", gw.port())),
        "{offer}"
    );
    assert!(
        offer.contains("a=rtpmap:101 telephone-event/8000\r\n"),
        "{offer}"
    );
    assert!(s.media.browser_answer.contains("a=ice-lite"));
    assert_eq!(gw.port() % 2, 0, "RTP on an even port");

    // The carrier's SDP names socket A, but its RTP comes from socket B.
    let sdp_socket = UdpSocket::bind("127.0.0.1:0").await.expect("socket A");
    let rtp_socket = UdpSocket::bind("127.0.0.1:0").await.expect("socket B");
    let sdp_port = sdp_socket.local_addr().expect("addr").port();
    let answer = carrier_answer_sdp(sdp_port, "0", Some(CARRIER_TE), "sendrecv");
    assert_eq!(
        s.media.control.carrier_answer(&answer).expect("answer"),
        Codec::Pcmu
    );

    let (mut cseq, cts) = (1000u16, 50_000u32);
    rtp_socket
        .send_to(&rtp(0, cseq, cts, CARRIER_SSRC, true, &[0xee; 160]), gw)
        .await
        .expect("send");
    assert!(
        s.browser
            .pump_until(Duration::from_secs(2), |b| b.received.len() == 1)
            .await,
        "first carrier packet reaches the browser"
    );

    // 50 audio packets each way, interleaved, then one DTMF event each way
    // (three end packets with one timestamp, as RFC 4733 §2.5.1.4 sends them).
    let browser_ssrc = s.browser.ssrc();
    let mut bts = 8000u32;
    for i in 0..50u8 {
        s.browser.send_rtp(0, bts, i == 0, &[i; 160]);
        bts += 160;
        cseq += 1;
        let packet = rtp(
            0,
            cseq,
            cts + 160 * u32::from(cseq - 1000),
            CARRIER_SSRC,
            false,
            &[i; 160],
        );
        rtp_socket.send_to(&packet, gw).await.expect("send");
        s.browser.pump(Duration::from_millis(2)).await;
    }
    let event_ts = cts + 160 * 51;
    for _ in 0..3 {
        s.browser
            .send_rtp(BROWSER_TE, bts, false, &dtmf(5, true, 800));
        cseq += 1;
        // The carrier sends with the number of our offer (101), as RFC 3264 says.
        let packet = rtp(
            101,
            cseq,
            event_ts,
            CARRIER_SSRC,
            false,
            &dtmf(9, true, 800),
        );
        rtp_socket.send_to(&packet, gw).await.expect("send");
        s.browser.pump(Duration::from_millis(2)).await;
    }
    assert!(
        s.browser
            .pump_until(Duration::from_secs(2), |b| b.received.len() == 54)
            .await,
        "54 packets reach the browser, got {}",
        s.browser.received.len()
    );

    // The carrier moves to another source (new port, new SSRC, new numbering)
    // after more than 500 ms of silence: the gateway follows it.
    s.browser.pump(Duration::from_millis(600)).await;
    let moved = UdpSocket::bind("127.0.0.1:0").await.expect("socket C");
    for i in 0..10u16 {
        let packet = rtp(
            0,
            7 + i,
            900 + 160 * u32::from(i),
            SECOND_SSRC,
            i == 0,
            &[0x55; 160],
        );
        moved.send_to(&packet, gw).await.expect("send");
        s.browser.pump(Duration::from_millis(2)).await;
    }
    for i in 0..5u8 {
        s.browser
            .send_rtp(0, bts + 160 * (u32::from(i) + 1), false, &[0x77; 160]);
    }
    assert!(
        s.browser
            .pump_until(Duration::from_secs(2), |b| b.received.len() == 64)
            .await,
        "64 packets reach the browser, got {}",
        s.browser.received.len()
    );
    s.browser.pump(Duration::from_millis(50)).await;

    // What the carrier got: at B (latched), nothing at A, the last five at C.
    let at_b = drain_socket(&rtp_socket);
    let at_a = drain_socket(&sdp_socket);
    let at_c = drain_socket(&moved);
    assert!(
        at_a.is_empty(),
        "nothing goes to the SDP address once latched: {at_a:?}"
    );
    assert_eq!(at_b.len(), 53, "50 audio + 3 DTMF at the latched source");
    assert_eq!(
        at_c.len(),
        5,
        "after the move, packets follow the new source"
    );
    let to_carrier: Vec<Seen> = at_b.iter().chain(&at_c).cloned().collect();
    let our_ssrc = to_carrier[0].ssrc;
    assert!(to_carrier.iter().all(|p| p.ssrc == our_ssrc));
    assert_ne!(our_ssrc, browser_ssrc, "SSRC rewritten toward the carrier");
    assert_continuous(&to_carrier, "toward the carrier");
    for (i, p) in to_carrier[..50].iter().enumerate() {
        assert_eq!((p.pt, p.payload.as_slice()), (0, &[i as u8; 160][..]));
    }
    for (a, b) in to_carrier[..50].iter().zip(&to_carrier[1..50]) {
        assert_eq!(
            b.ts.wrapping_sub(a.ts),
            160,
            "timestamps keep their spacing"
        );
    }
    for p in &to_carrier[50..53] {
        assert_eq!(
            p.pt, CARRIER_TE,
            "telephone-event remapped 126 → {CARRIER_TE}"
        );
        assert_eq!(p.payload, dtmf(5, true, 800));
        assert_eq!(p.ts, to_carrier[50].ts);
    }

    // What the browser got.
    let got = &s.browser.received;
    let gw_ssrc = got[0].ssrc;
    assert!(
        got.iter().all(|p| p.ssrc == gw_ssrc),
        "one SSRC toward the browser"
    );
    assert!(![CARRIER_SSRC, SECOND_SSRC].contains(&gw_ssrc));
    assert_continuous(
        got,
        "toward the browser (across the carrier's source change)",
    );
    assert!(got[..51].iter().all(|p| p.pt == 0));
    for p in &got[51..54] {
        assert_eq!(p.pt, BROWSER_TE, "telephone-event remapped 101 → 126");
        assert_eq!(p.payload, dtmf(9, true, 800));
    }
    assert!(got[54].marker, "marker set where the source changed");
    assert_eq!(got[54].payload, [0x55; 160]);
    assert!(
        got[54].ts.wrapping_sub(got[53].ts) >= 600 * 8,
        "timestamp advanced by the silence"
    );

    s.media.control.stop();
    let (stats, reason) = stopped(&mut s.events, s.call).await;
    assert_eq!(reason, StopReason::Requested);
    assert_eq!(
        stats,
        MediaStats {
            browser_to_carrier_packets: 58,
            browser_to_carrier_bytes: 55 * 160 + 3 * 4,
            carrier_to_browser_packets: 64,
            carrier_to_browser_bytes: 61 * 160 + 3 * 4,
            dtmf_events_to_carrier: 1,
            dtmf_events_to_browser: 1,
            law_converted_packets: 0,
            srtp_rejected_packets: 0,
            quality: stats.quality.clone(),
            carrier_rtcp_sent: stats.carrier_rtcp_sent,
            carrier_rtcp_received: stats.carrier_rtcp_received,
        }
    );
    // The carrier leg's own count: every packet relayed, none missing
    // (its source change starts a new sequence, not a gap).
    let carrier = stats.quality.carrier.expect("carrier leg figures");
    assert_eq!((carrier.received.packets, carrier.received.lost), (64, 0));
    assert!(stats.quality.browser.is_some(), "browser leg figures");
}

#[tokio::test]
async fn garbage_datagrams_on_both_sockets_do_not_break_the_call() {
    let engine = engine(32020..=32039, Duration::from_secs(30));
    let mut s = connected_call(&engine, CallId(2)).await;
    let gw_carrier = s.media.carrier_leg.address;
    let gw_browser =
        std::net::SocketAddr::new(gw_carrier.ip(), candidate_port(&s.media.browser_answer));
    let carrier = UdpSocket::bind("127.0.0.1:0").await.expect("carrier");
    let port = carrier.local_addr().expect("addr").port();
    s.media
        .control
        .carrier_answer(&carrier_answer_sdp(port, "0 8", Some(101), "sendrecv"))
        .expect("answer");
    // Latch first, so that well-formed RTP from a stranger is refused.
    carrier
        .send_to(&rtp(0, 1, 160, CARRIER_SSRC, true, &[1; 160]), gw_carrier)
        .await
        .expect("send");

    let attacker = UdpSocket::bind("127.0.0.1:0").await.expect("attacker");
    let mut seed = 0x9e37_79b9_u32;
    let mut random = |len: usize| -> Vec<u8> {
        (0..len)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                seed as u8
            })
            .collect()
    };
    let mut garbage: Vec<Vec<u8>> = vec![
        vec![],
        vec![0],
        vec![0x80],
        vec![0x16, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff], // DTLS record, bad length
        [&[0, 1, 0, 8, 0x21, 0x12, 0xa4, 0x42][..], &random(12)].concat(), // STUN, no integrity
        [&[0x80, 200, 0, 6][..], &random(24)].concat(),                // RTCP-like
        [&[0x8f, 0][..], &random(10)].concat(),                        // 15 CSRCs, too short
        [&[0xb0, 0][..], &random(10)].concat(),                        // padding, extension cut
        rtp(0, 2, 320, 0xbad, false, &[0xff; 160]),                    // valid RTP, stranger
        rtp(13, 3, 480, CARRIER_SSRC, false, &[0]), // comfort noise: not negotiated
        random(1500),
        random(3000),
    ];
    for len in [1, 2, 11, 12, 13, 20, 100, 200] {
        garbage.push(random(len));
    }
    for g in &garbage {
        attacker.send_to(g, gw_browser).await.expect("send");
        attacker.send_to(g, gw_carrier).await.expect("send");
        attacker
            .send_to(
                g,
                std::net::SocketAddr::new(gw_carrier.ip(), gw_carrier.port() + 1),
            )
            .await
            .expect("send");
    }
    // Malformed datagrams from the carrier's own source, too.
    for g in &garbage[..8] {
        carrier.send_to(g, gw_carrier).await.expect("send");
    }
    s.browser.pump(Duration::from_millis(50)).await;

    for i in 0..20u16 {
        s.browser
            .send_rtp(8, 1000 + 160 * u32::from(i), false, &[0xd5; 160]);
        let packet = rtp(
            8,
            2 + i,
            320 + 160 * u32::from(i),
            CARRIER_SSRC,
            false,
            &[0xd5; 160],
        );
        carrier.send_to(&packet, gw_carrier).await.expect("send");
        s.browser.pump(Duration::from_millis(2)).await;
    }
    assert!(
        s.browser
            .pump_until(Duration::from_secs(2), |b| b.received.len() == 21)
            .await,
        "the carrier's 21 packets (and nothing else) reach the browser, got {}",
        s.browser.received.len()
    );
    s.browser.pump(Duration::from_millis(50)).await;
    assert_eq!(s.browser.received.len(), 21);
    assert_continuous(&s.browser.received, "toward the browser");
    let at_carrier = drain_socket(&carrier);
    assert_eq!(
        at_carrier.len(),
        20,
        "the browser's 20 packets reach the carrier"
    );
    assert!(at_carrier.iter().all(|p| p.pt == 8));
    let mut buf = [0u8; 2048];
    assert!(
        attacker.try_recv_from(&mut buf).is_err(),
        "nothing is sent to the stranger"
    );
    assert!(s.events.try_recv().is_err(), "the call is still up");

    s.media.control.stop();
    let (stats, reason) = stopped(&mut s.events, s.call).await;
    assert_eq!(reason, StopReason::Requested);
    assert_eq!(stats.browser_to_carrier_packets, 20);
    assert_eq!(stats.carrier_to_browser_packets, 21);
}
