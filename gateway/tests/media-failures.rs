//! Calls whose media cannot start or stops flowing: no common codec on
//! either leg, an unusable offer, silence on both legs.

#[path = "media-support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use gateway::media::{CallId, Codec, MediaError, MediaEvent, StopReason};
use gateway::sip::b2bua::SilentLeg;
use str0m::format::Codec as Str0mCodec;
use support::*;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

#[tokio::test]
async fn no_common_codec_with_the_browser_is_refused_and_frees_the_ports() {
    // Room for one call: a failure must give its ports back.
    let engine = engine(32200..=32203, Duration::from_secs(30));
    let (tx, _events) = mpsc::unbounded_channel();

    let mut pcmu_only = Browser::with_codecs(&[Str0mCodec::PCMU]).await;
    let err = engine
        .start_outbound(
            CallId(20),
            &pcmu_only.offer(),
            loopback_carrier(&[Codec::Pcma], false),
            tx.clone(),
        )
        .expect_err("PCMU browser, PCMA carrier");
    assert!(matches!(err, MediaError::NoCommonCodec(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        "no common codec: the browser offered none of the carrier's codecs (PCMA)"
    );

    let mut opus_only = Browser::with_codecs(&[Str0mCodec::Opus]).await;
    let err = engine
        .start_outbound(
            CallId(21),
            &opus_only.offer(),
            loopback_carrier(&[Codec::Pcmu, Codec::Pcma], false),
            tx.clone(),
        )
        .expect_err("Opus-only browser");
    assert!(matches!(err, MediaError::NoCommonCodec(_)), "{err}");

    let err = engine
        .start_outbound(
            CallId(22),
            "v=0\r\nthis is not SDP",
            loopback_carrier(&[Codec::Pcmu], false),
            tx.clone(),
        )
        .expect_err("garbage offer");
    assert!(matches!(err, MediaError::BadOffer(_)), "{err}");

    let err = engine
        .start_outbound(
            CallId(23),
            &Browser::new().await.offer(),
            loopback_carrier(&[], false),
            tx.clone(),
        )
        .expect_err("no carrier codec");
    assert!(matches!(err, MediaError::NoCommonCodec(_)), "{err}");

    // The ports are free again.
    let media = engine
        .start_outbound(
            CallId(24),
            &Browser::new().await.offer(),
            loopback_carrier(&[Codec::Pcmu], false),
            tx,
        )
        .expect("a good call after the failures");
    assert!(
        media.carrier_offer.contains("RTP/AVP 0 101\r\n"),
        "{}",
        media.carrier_offer
    );
    media.control.stop();
}

#[tokio::test]
async fn no_common_codec_with_the_carrier_is_refused_with_the_reason() {
    let engine = engine(32210..=32229, Duration::from_secs(30));
    let mut s = connected_call(&engine, CallId(30)).await;
    let err = s
        .media
        .control
        .carrier_answer(
            "v=0\r\nc=IN IP4 127.0.0.1\r\nm=audio 4000 RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\n",
        )
        .expect_err("G.729 only");
    assert!(matches!(err, MediaError::NoCommonCodec(_)));
    assert_eq!(
        err.to_string(),
        "no common codec: the carrier answered G729/8000 (18); we offered PCMU, PCMA"
    );
    let err = s
        .media
        .control
        .carrier_answer("v=0\r\nm=audio 4000 RTP/SAVP 0\r\n")
        .expect_err("SRTP");
    assert!(matches!(err, MediaError::BadAnswer(_)), "{err}");
    // A refused answer changes nothing: a good one still works.
    let carrier = UdpSocket::bind("127.0.0.1:0").await.expect("carrier");
    let port = carrier.local_addr().expect("addr").port();
    let codec = s
        .media
        .control
        .carrier_answer(&carrier_answer_sdp(port, "8", None, "sendrecv"))
        .expect("PCMA answer");
    assert_eq!(codec, Codec::Pcma);
    s.media.control.stop();
    assert_eq!(
        stopped(&mut s.events, s.call).await.1,
        StopReason::Requested
    );
}

#[tokio::test]
async fn no_media_fires_once_per_silence_when_both_legs_are_quiet() {
    let timeout = Duration::from_millis(300);
    let engine = engine(32230..=32249, timeout);
    let start = Instant::now();
    let mut s = connected_call(&engine, CallId(40)).await;
    let carrier = UdpSocket::bind("127.0.0.1:0").await.expect("carrier");
    let port = carrier.local_addr().expect("addr").port();
    s.media
        .control
        .carrier_answer(&carrier_answer_sdp(port, "0", Some(101), "sendrecv"))
        .expect("answer");

    // Nobody sends RTP (ICE keepalives and DTLS are not media).
    let silent_for = loop {
        s.browser.pump(Duration::from_millis(20)).await;
        match s.events.try_recv() {
            Ok(MediaEvent::NoMedia {
                call,
                silent_for,
                leg,
            }) => {
                assert_eq!(call, s.call);
                assert_eq!(leg, SilentLeg::Carrier, "both quiet: the carrier is named");
                break silent_for;
            }
            Ok(other) => panic!("unexpected {other:?}"),
            Err(_) => assert!(start.elapsed() < Duration::from_secs(3), "NoMedia in time"),
        }
    };
    assert!(silent_for >= timeout, "{silent_for:?}");
    // Reported once: nothing more while the silence goes on.
    s.browser.pump(Duration::from_millis(500)).await;
    assert!(s.events.try_recv().is_err(), "reported once per silence");

    // Media from the carrier re-arms the timer; the browser, silent all
    // along, is then reported on its own.
    let gw = s.media.carrier_leg.address;
    carrier
        .send_to(&rtp(0, 1, 160, 7, true, &[0xff; 160]), gw)
        .await
        .expect("send");
    let resumed = Instant::now();
    assert!(
        s.browser
            .pump_until(Duration::from_secs(1), |b| !b.received.is_empty())
            .await
    );
    let again = loop {
        s.browser.pump(Duration::from_millis(20)).await;
        if let Ok(event) = s.events.try_recv() {
            break event;
        }
        assert!(
            resumed.elapsed() < Duration::from_secs(2),
            "second NoMedia in time"
        );
    };
    assert!(
        matches!(
            again,
            MediaEvent::NoMedia {
                leg: SilentLeg::Browser,
                ..
            }
        ),
        "{again:?}"
    );

    s.media.control.stop();
    let (stats, reason) = stopped(&mut s.events, s.call).await;
    assert_eq!(reason, StopReason::Requested);
    assert_eq!(stats.carrier_to_browser_packets, 1);
}
