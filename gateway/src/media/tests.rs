//! Engine-level unit tests that need private hooks (panic injection).
//! Behaviour over real sockets is tested in `gateway/tests/media-*.rs`;
//! inbound calls in `tests/inbound_call.rs` here, with a peer of their own
//! (`tests/peer.rs`) that answers our offer.

use std::time::{Duration, Instant};

use str0m::format::{Codec as Str0mCodec, FormatParams};
use str0m::media::{Direction as Str0mDirection, Frequency, MediaKind};
use str0m::{Candidate, RtcConfig};

use super::*;

/// A browser's `Rtc` (full ICE, host candidate `local`): PCMU, PCMA and
/// telephone-event/8000 as PT 126, Chrome's own choice.
fn browser_rtc(local: SocketAddr) -> Rtc {
    let mut config = RtcConfig::new().set_rtp_mode(true).clear_codecs();
    config.codec_config().enable_pcmu(true, false);
    config.codec_config().enable_pcma(true, false);
    config.codec_config().add_config(
        126.into(),
        None,
        Str0mCodec::Tele,
        Frequency::EIGHT_KHZ,
        None,
        FormatParams::parse_line("0-16"),
    );
    let mut rtc = config.build(Instant::now());
    rtc.add_local_candidate(Candidate::host(local, "udp").expect("host candidate"));
    rtc
}

/// An offer as a browser would make it.
/// A plain-RTP carrier on loopback with these codecs.
fn plain_carrier(codecs: &[Codec]) -> CarrierTarget<'_> {
    CarrierTarget {
        codecs,
        srtp_required: false,
        ip: IpAddr::from([127, 0, 0, 1]),
    }
}

fn browser_offer() -> String {
    let mut rtc = browser_rtc("127.0.0.1:9".parse().expect("addr"));
    let mut change = rtc.sdp_api();
    change.add_media(MediaKind::Audio, Str0mDirection::SendRecv, None, None, None);
    let (offer, _pending) = change.apply().expect("an offer");
    offer.to_sdp_string()
}

fn engine(ports: RangeInclusive<u16>) -> Arc<MediaEngine> {
    let mut config = MediaConfig::new("127.0.0.1".parse().expect("ip"), ports);
    config.bind_ip = "127.0.0.1".parse().expect("ip");
    MediaEngine::new(config).expect("engine")
}

async fn stopped(events: &mut mpsc::UnboundedReceiver<MediaEvent>) -> (MediaStats, StopReason) {
    loop {
        let event = tokio::time::timeout(Duration::from_secs(5), events.recv())
            .await
            .expect("an event in time")
            .expect("channel open");
        if let MediaEvent::Stopped { stats, reason, .. } = event {
            return (stats, reason);
        }
    }
}

#[tokio::test]
async fn a_panic_ends_only_that_call_and_frees_its_ports() {
    // Room for exactly one call (two pairs).
    let engine = engine(31000..=31003);
    assert_eq!(engine.capacity(), 1);
    let offer = browser_offer();
    let (tx, mut events) = mpsc::unbounded_channel();
    let first = engine
        .start_outbound(CallId(1), &offer, plain_carrier(&[Codec::Pcmu]), tx.clone())
        .expect("first call");
    assert!(matches!(
        engine.start_outbound(CallId(2), &offer, plain_carrier(&[Codec::Pcmu]), tx.clone()),
        Err(MediaError::NoPorts)
    ));
    first.control.inject_panic();
    let (_, reason) = stopped(&mut events).await;
    assert_eq!(reason, StopReason::Panicked("injected by a test".into()));
    // The ports are back and the engine still works.
    let second = engine
        .start_outbound(CallId(3), &offer, plain_carrier(&[Codec::Pcmu]), tx)
        .expect("ports freed after the panic");
    assert!(matches!(
        first
            .control
            .carrier_answer("v=0\r\nc=IN IP4 127.0.0.1\r\nm=audio 4000 RTP/AVP 0\r\n"),
        Err(MediaError::Ended)
    ));
    second.control.stop();
    let (stats, reason) = stopped(&mut events).await;
    assert_eq!(reason, StopReason::Requested);
    assert_eq!(stats, MediaStats::default());
}

/// Failover between an IPv4 and an IPv6 carrier: the offer names a socket
/// of the new carrier's family (bound anew, the old pair freed); without an
/// IPv6 side the IPv6 carrier is refused with a reason.
#[tokio::test]
async fn failover_to_the_other_ip_family_rebinds_the_carrier_socket() {
    let mut config = MediaConfig::new("127.0.0.1".parse().expect("ip"), 31030..=31037);
    config.bind_ip = "127.0.0.1".parse().expect("ip");
    config.ipv6 = Some(Ipv6Media {
        bind_ip: "::1".parse().expect("ip"),
        advertised_ip: "::1".parse().expect("ip"),
    });
    let dual = MediaEngine::new(config).expect("engine");
    let (tx, _events) = mpsc::unbounded_channel();
    let mut media = dual
        .start_outbound(
            CallId(1),
            &browser_offer(),
            plain_carrier(&[Codec::Pcmu]),
            tx,
        )
        .expect("call");
    assert!(media.carrier_offer.contains("c=IN IP4 127.0.0.1\r\n"));
    let v6 = CarrierTarget {
        ip: "2001:db8::5".parse().expect("ip"),
        ..plain_carrier(&[Codec::Pcmu])
    };
    let offer = media.control.retarget(&dual, v6).expect("IPv6 offer");
    assert!(offer.contains("c=IN IP6 ::1\r\n"), "{offer}");
    // Back to IPv4, three times over: the replaced pairs went back to the
    // pool (4 pairs: the browser's and at most one carrier pair in use).
    for _ in 0..3 {
        let offer = media
            .control
            .retarget(&dual, plain_carrier(&[Codec::Pcmu]))
            .expect("IPv4 offer");
        assert!(offer.contains("c=IN IP4 127.0.0.1\r\n"), "{offer}");
        tokio::time::sleep(Duration::from_millis(50)).await;
        media.control.retarget(&dual, v6).expect("IPv6 offer");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    media.control.stop();

    let v4_only = engine(31040..=31043);
    let (tx, _events) = mpsc::unbounded_channel();
    let err = v4_only
        .start_outbound(CallId(2), &browser_offer(), v6, tx)
        .expect_err("no IPv6 side");
    assert!(err.to_string().contains("has none"), "{err}");
}

#[tokio::test]
async fn dropping_every_control_ends_the_call() {
    let engine = engine(31010..=31013);
    let (tx, mut events) = mpsc::unbounded_channel();
    let media = engine
        .start_outbound(
            CallId(7),
            &browser_offer(),
            plain_carrier(&[Codec::Pcma]),
            tx,
        )
        .expect("call");
    assert!(media.carrier_offer.contains("m=audio 310"));
    drop(media);
    let (_, reason) = stopped(&mut events).await;
    assert_eq!(reason, StopReason::Requested);
}

#[test]
fn outside_a_runtime_start_outbound_says_so() {
    let engine = engine(31020..=31023);
    let (tx, _events) = mpsc::unbounded_channel();
    let err = engine
        .start_outbound(
            CallId(1),
            &browser_offer(),
            plain_carrier(&[Codec::Pcmu]),
            tx,
        )
        .expect_err("no runtime");
    assert!(err.to_string().contains("tokio runtime"), "{err}");
}

#[test]
fn settings_are_checked() {
    let bad = |f: fn(&mut MediaConfig)| {
        let mut c = MediaConfig::new("127.0.0.1".parse().expect("ip"), 20000..=20999);
        f(&mut c);
        MediaEngine::new(c).expect_err("invalid").to_string()
    };
    assert!(bad(|c| c.rtp_ports = 20000..=20002).contains("needs 2"));
    assert!(bad(|c| c.advertised_ip = "0.0.0.0".parse().expect("ip")).contains("0.0.0.0"));
    assert!(bad(|c| c.bind_ip = "::".parse().expect("ip")).contains("families"));
    assert!(bad(|c| c.no_media_timeout = Duration::ZERO).contains("no_media_timeout"));
}

#[test]
fn codec_names_parse_case_insensitively() {
    assert_eq!("pcmu".parse::<Codec>(), Ok(Codec::Pcmu));
    assert_eq!(" PCMA ".parse::<Codec>(), Ok(Codec::Pcma));
    assert_eq!("g711u".parse::<Codec>(), Ok(Codec::Pcmu));
    let err = "G729".parse::<Codec>().expect_err("unsupported");
    assert_eq!(
        err.to_string(),
        "unknown codec `G729` (supported: PCMU, PCMA)"
    );
    assert_eq!(Codec::Pcma.to_string(), "PCMA");
    assert_eq!(Direction::SendOnly.reverse(), Direction::RecvOnly);
    assert_eq!(
        Direction::from_attribute("inactive"),
        Some(Direction::Inactive)
    );
}

mod inbound_call;
mod peer;
