//! Timing hooks for `benches/quality.rs` (hidden from the docs): the bench
//! is a separate crate and the relay's sans-IO parts are private, so the
//! loops that time them live here. Nothing in the gateway calls this.

use std::time::{Duration, Instant};

use super::relay::{BrowserPts, Relay};
use super::rtcp::Rtcp;
use super::rtp::{self, Rewriter};
use super::sdp::Negotiated;
use super::{Codec, Direction};

/// Per-packet cost of one direction's work, ns.
#[derive(Debug, Clone, Copy)]
pub struct PerPacket {
    /// The relay alone: parse, map, rewrite the header, write the datagram
    /// (both directions, averaged).
    pub relay_ns: f64,
    /// The quality accounting the relay now also does per packet:
    /// `Rtcp::received` (RFC 3550 sequence and jitter) for carrier
    /// packets, `Rtcp::sent` for ours, and the browser leg's own count.
    pub quality_ns: f64,
    /// Building one RTCP report (once per 5 s per call), ns.
    pub report_ns: f64,
}

/// Runs `packets` G.711 packets each way through a relay with and without
/// the quality accounting.
pub fn relay_and_quality(packets: u32) -> PerPacket {
    let t0 = Instant::now();
    let browser = BrowserPts {
        pcmu: Some(0),
        pcma: Some(8),
        telephone_event: Some(126),
    };
    let mut relay = Relay::new(
        t0,
        browser,
        Direction::SendRecv,
        Duration::from_secs(60),
        Rewriter::new(0xaaaa, 100, 0),
        Rewriter::new(0xbbbb, 200, 0),
    );
    relay.carrier_answered(
        t0,
        Negotiated {
            remote: "127.0.0.1:4000".parse().expect("a literal address"),
            codec: Codec::Pcmu,
            codecs: vec![(Codec::Pcmu, 0)],
            telephone_event_pt: Some(101),
            offered_telephone_event_pt: Some(101),
            direction: Direction::SendRecv,
            srtp: None,
        },
    );
    let source = "127.0.0.1:4000".parse().expect("a literal address");
    let payload = [0xd5u8; 160];
    let carrier: Vec<Vec<u8>> = (0..packets)
        .map(|i| {
            let mut p = Vec::with_capacity(172);
            rtp::write_header(&mut p, false, 0, i as u16, i * 160, 77);
            rtp::write_payload(&mut p, &payload, None);
            p
        })
        .collect();
    let mut out = Vec::with_capacity(256);
    let at = |i: u32| t0 + Duration::from_micros(u64::from(i) * 20_000);

    // The relay alone, both directions.
    let started = Instant::now();
    for (i, p) in carrier.iter().enumerate() {
        let i = i as u32;
        let now = at(i);
        std::hint::black_box(relay.browser_packet(
            now,
            0,
            9,
            i as u16,
            i * 160,
            false,
            &payload,
            &mut out,
        ));
        std::hint::black_box(relay.carrier_datagram(now, source, p, true));
    }
    let relay_ns = started.elapsed().as_nanos() as f64 / (2.0 * f64::from(packets));

    // The accounting alone, on the same packets.
    let mut rtcp = Rtcp::new(t0, 0xaaaa);
    let mut browser_rx = shared::quality::ReceiveStats::new(8000);
    let started = Instant::now();
    for (i, p) in carrier.iter().enumerate() {
        let i = i as u32;
        let now = at(i);
        browser_rx.packet(9, i as u16, i * 160, u64::from(i) * 20_000);
        rtcp.sent(now, p);
        rtcp.received(now, 77, i as u16, i * 160);
    }
    std::hint::black_box(&browser_rx);
    let quality_ns = started.elapsed().as_nanos() as f64 / (2.0 * f64::from(packets));

    let rounds = 10_000u32;
    let mut report = Vec::with_capacity(128);
    let end = at(packets);
    let started = Instant::now();
    for r in 0..rounds {
        // Each round is due: 5 s apart.
        let now = end + Duration::from_secs(5 * u64::from(r) + 5);
        std::hint::black_box(rtcp.poll_report(now, u64::from(r) << 32, &mut report));
    }
    let report_ns = started.elapsed().as_nanos() as f64 / f64::from(rounds);
    PerPacket {
        relay_ns,
        quality_ns,
        report_ns,
    }
}
