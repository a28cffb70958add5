//! Hold and resume: the browser re-offers sendonly (str0m answers
//! recvonly), the core holds the carrier leg; relaying stops in the held
//! direction, the silence timer is off, and resuming restores both.

#[path = "media-support/mod.rs"]
mod support;

use std::time::Duration;

use gateway::media::{CallId, MediaEvent, StopReason};
use str0m::media::Direction;
use support::*;
use tokio::net::UdpSocket;

const CARRIER_SSRC: u32 = 0x0102_0304;

async fn browser_answer(s: &mut Setup) -> String {
    match next_event(&mut s.events).await {
        MediaEvent::BrowserAnswer { call, result } => {
            assert_eq!(call, s.call);
            result.expect("the re-offer is answered")
        }
        other => panic!("expected BrowserAnswer, got {other:?}"),
    }
}

#[tokio::test]
async fn hold_stops_the_held_direction_and_resume_restores_it() {
    let engine = engine(32100..=32119, Duration::from_secs(1));
    let mut s = connected_call(&engine, CallId(10)).await;
    let gw = s.media.carrier_leg.address;
    let carrier = UdpSocket::bind("127.0.0.1:0").await.expect("carrier");
    let port = carrier.local_addr().expect("addr").port();
    s.media
        .control
        .carrier_answer(&carrier_answer_sdp(port, "0", Some(101), "sendrecv"))
        .expect("answer");
    let mut cseq = 0u16;
    let mut send_carrier = async |n: u16, carrier: &UdpSocket| {
        for _ in 0..n {
            cseq += 1;
            let packet = rtp(
                0,
                cseq,
                160 * u32::from(cseq),
                CARRIER_SSRC,
                false,
                &[9; 160],
            );
            carrier.send_to(&packet, gw).await.expect("send");
        }
    };
    send_carrier(5, &carrier).await;
    assert!(
        s.browser
            .pump_until(Duration::from_secs(2), |b| b.received.len() == 5)
            .await
    );

    // The browser holds: sendonly; we answer recvonly.
    let offer = s.browser.reoffer(Direction::SendOnly);
    s.media.control.browser_reoffer(&offer);
    let answer = browser_answer(&mut s).await;
    assert!(answer.contains("a=recvonly"), "{answer}");
    s.browser.accept_answer(&answer);
    assert_eq!(s.browser.direction(), Direction::SendOnly);

    // Carrier → browser stops; browser → carrier (e.g. music on hold) goes on.
    send_carrier(10, &carrier).await;
    for i in 0..10u32 {
        s.browser.send_rtp(0, 160 * i, false, &[1; 160]);
    }
    s.browser.pump(Duration::from_millis(200)).await;
    assert_eq!(
        s.browser.received.len(),
        5,
        "nothing reaches a held browser"
    );
    assert_eq!(drain_socket(&carrier).len(), 10);

    // The carrier leg is held too: nothing goes to the carrier either, and
    // 1.3 s of silence (timeout 1 s) raises no NoMedia while on hold.
    s.media.control.set_hold(true);
    s.browser.pump(Duration::from_millis(20)).await;
    for i in 10..15u32 {
        s.browser.send_rtp(0, 160 * i, false, &[1; 160]);
    }
    s.browser.pump(Duration::from_millis(1300)).await;
    assert!(
        drain_socket(&carrier).is_empty(),
        "nothing reaches a held carrier"
    );
    assert!(s.events.try_recv().is_err(), "no NoMedia while on hold");

    // Resume both legs.
    s.media.control.set_hold(false);
    let offer = s.browser.reoffer(Direction::SendRecv);
    s.media.control.browser_reoffer(&offer);
    let answer = browser_answer(&mut s).await;
    assert!(answer.contains("a=sendrecv"), "{answer}");
    s.browser.accept_answer(&answer);
    send_carrier(10, &carrier).await;
    s.browser.send_rtp(0, 160 * 20, false, &[1; 160]);
    assert!(
        s.browser
            .pump_until(Duration::from_secs(2), |b| b.received.len() == 15)
            .await,
        "relaying to the browser resumes"
    );
    s.browser.pump(Duration::from_millis(20)).await;
    assert_eq!(
        drain_socket(&carrier).len(),
        1,
        "relaying to the carrier resumes"
    );
    // The held packets are not a loss: numbering continues by one.
    assert_continuous(&s.browser.received, "toward the browser across the hold");
    assert!(s.browser.received[5].marker);

    s.media.control.stop();
    let (stats, reason) = stopped(&mut s.events, s.call).await;
    assert_eq!(reason, StopReason::Requested);
    assert_eq!(stats.carrier_to_browser_packets, 15);
    assert_eq!(stats.browser_to_carrier_packets, 11);
}
