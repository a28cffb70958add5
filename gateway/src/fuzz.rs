//! Fuzz-target bodies for the gateway's own readers of bytes from strangers:
//! carrier SDP, the carrier leg's RTP, RTCP, SRTP and SRTCP, and the header
//! readers the B2BUA applies to a request that `shared` accepted. One
//! function per target, so the cargo-fuzz crate (`fuzz/`, nightly, outside
//! the workspace) and the stable regression test over the checked-in corpus
//! (`mod tests` below) run the very same code. `shared::fuzz` holds the SIP
//! message, digest and phone-number bodies.
//!
//! Each body panics only when one of our invariants breaks (an `assert!`
//! says which). Not API: hidden from the docs, nothing in the product
//! calls it.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use crate::media::relay::{BrowserPts, Relay};
use crate::media::rtcp::Rtcp;
use crate::media::rtp::{self, Datagram, Rewriter};
use crate::media::sdp;
use crate::media::srtp::{SrtcpContext, SrtpContext, SrtpKey, SrtpSuite};
use crate::media::{CarrierLeg, Codec, Crypto, Direction};
use crate::sip::msg;
use shared::fuzz::records;

/// A 30-byte key and salt (`inline:` base64), fixed so runs are repeatable.
const KEY_PARAMS: &str = "inline:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd";

/// A carrier's SDP (an offer on an inbound call, an answer on an outbound
/// one, a re-INVITE's offer), and the direction rewriting done on hold.
pub fn carrier_sdp(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let direction = msg::sdp_direction(text);
    let _ = msg::sdp_with_direction(text, msg::answer_direction(direction), 7);
    let Ok(description) = sdp::parse(text) else {
        return;
    };
    assert!(description.payload_types.len() <= 64, "{description:?}");
    let _ = sdp::answer_offer(&[Codec::Pcmu, Codec::Pcma], &description);
    let _ = sdp::answer_offer(&[Codec::Pcma], &description);
    let _ = sdp::answer_crypto(&description, true);
    for leg in [plain_leg(), srtp_leg()] {
        let _ = sdp::reoffered_key(&leg, &description);
        if let Ok(negotiated) = sdp::negotiate(&leg, &description) {
            // Only what we offered comes back.
            assert!(
                negotiated
                    .codecs
                    .iter()
                    .all(|(c, _)| leg.codecs.contains(c)),
                "{negotiated:?}"
            );
        }
    }
}

fn plain_leg() -> CarrierLeg {
    CarrierLeg {
        address: SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)), 40000),
        codecs: vec![Codec::Pcmu, Codec::Pcma],
        telephone_event_pt: Some(101),
        session_id: 1,
        crypto: None,
    }
}

fn srtp_leg() -> CarrierLeg {
    CarrierLeg {
        crypto: Some(Crypto {
            tag: 1,
            key: key(SrtpSuite::AesCm128HmacSha1_80),
        }),
        ..plain_leg()
    }
}

fn key(suite: SrtpSuite) -> SrtpKey {
    // KEY_PARAMS is 30 bytes of base64, the length from_key_params wants.
    #[allow(clippy::expect_used)]
    SrtpKey::from_key_params(suite, KEY_PARAMS).expect("a valid key")
}

/// What a call's carrier sockets receive, in order: RTP (with RTCP muxed
/// on it) into the relay, RTCP into the leg's reports, from the SDP's
/// address or another one, as the clock moves. Input: datagrams as
/// [`shared::fuzz::records`], whose control byte picks the port (bit 0),
/// the browser leg's readiness (bit 1), the source (bit 2) and how far the
/// clock moves (the rest, in 20 ms).
pub fn carrier_media(data: &[u8]) {
    let start = Instant::now();
    let mut now = start;
    let answer = "v=0\r\nc=IN IP4 192.0.2.9\r\nm=audio 4000 RTP/AVP 8 0 101\r\n\
                  a=rtpmap:101 telephone-event/8000\r\n";
    #[allow(clippy::expect_used)] // A constant answer to a constant offer.
    let negotiated = sdp::parse(answer)
        .ok()
        .and_then(|d| sdp::negotiate(&plain_leg(), &d).ok())
        .expect("the fixed answer negotiates");
    let browser = BrowserPts {
        pcmu: Some(0),
        pcma: None,
        telephone_event: Some(126),
    };
    let mut relay = Relay::new(
        now,
        browser,
        Direction::SendRecv,
        Duration::from_secs(60),
        Rewriter::new(1, 100, 1000),
        Rewriter::new(2, 200, 2000),
    );
    relay.carrier_answered(now, negotiated);
    let mut rtcp = Rtcp::new(now, relay.carrier_ssrc());
    let sources = [
        SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 9)), 4000),
        SocketAddr::new(IpAddr::V4(Ipv4Addr::new(198, 51, 100, 7)), 5000),
    ];
    let mut report = Vec::new();
    for record in records(data) {
        now += Duration::from_millis(u64::from(record.control >> 3) * 20);
        let source = sources[usize::from((record.control >> 2) & 1)];
        let ntp = crate::media::rtcp::ntp_of(now - start + Duration::from_secs(1_700_000_000));
        if record.control & 1 == 0 {
            check_rtp(record.bytes);
            if let Some((to, payload)) =
                relay.carrier_datagram(now, source, record.bytes, record.control & 2 == 0)
            {
                let mut out = Vec::new();
                rtp::write_header(&mut out, to.header.marker, to.pt, 0, to.header.ts, 1);
                rtp::write_payload(&mut out, payload, to.convert);
                assert_eq!(out.len(), 12 + payload.len());
            }
            if let Datagram::Rtp(p) = rtp::parse(record.bytes) {
                rtcp.received(now, p.ssrc, p.seq, p.ts);
            }
        } else {
            rtcp.handle(now, ntp, record.bytes);
        }
        if rtcp.poll_timeout().is_some_and(|t| t <= now) {
            report.clear();
            let _ = rtcp.poll_report(now, ntp, &mut report);
        }
        let _ = relay.poll_no_media(now);
    }
    let _ = rtcp.leg_quality();
}

/// The RTP header reader: a payload is always inside the datagram, after
/// the 12-byte header.
fn check_rtp(data: &[u8]) {
    if let Datagram::Rtp(p) = rtp::parse(data) {
        assert!(p.payload.len() + 12 <= data.len());
    }
}

/// An SRTP leg: every datagram through the carrier's SRTP (RTP port) or
/// SRTCP (RTCP port) context, as a stream; and each datagram that is RTP
/// protected and unprotected by a fresh pair of contexts, which must give
/// it back unchanged.
pub fn carrier_srtp(data: &[u8]) {
    let suite = if data.first().is_some_and(|b| b & 1 == 1) {
        SrtpSuite::AesCm128HmacSha1_32
    } else {
        SrtpSuite::AesCm128HmacSha1_80
    };
    let key = key(suite);
    let mut srtp = SrtpContext::new(&key);
    let mut srtcp = SrtcpContext::new(&key);
    let mut rtcp = Rtcp::new(Instant::now(), 7);
    for record in records(data.get(1..).unwrap_or_default()) {
        if record.control & 1 == 0 {
            if let Ok(plain) = srtp.unprotect(record.bytes) {
                check_rtp(plain);
            }
            if matches!(rtp::parse(record.bytes), Datagram::Rtp(_)) {
                let mut packet = record.bytes.to_vec();
                let mut sender = SrtpContext::new(&key);
                let mut receiver = SrtpContext::new(&key);
                if sender.protect(&mut packet).is_ok() {
                    assert_eq!(receiver.unprotect(&packet), Ok(record.bytes));
                }
            }
        } else {
            if let Ok(plain) = srtcp.unprotect(record.bytes) {
                rtcp.handle(Instant::now(), 0, &plain);
            }
            let mut packet = record.bytes.to_vec();
            let mut sender = SrtcpContext::new(&key);
            let mut receiver = SrtcpContext::new(&key);
            if sender.protect(&mut packet).is_ok() {
                assert_eq!(receiver.unprotect(&packet).as_deref(), Ok(record.bytes));
            }
        }
    }
}

/// A SIP message, as the B2BUA reads it once `shared` accepted it: header
/// values by name, tags, URIs and their users and hosts, CSeq, the body.
pub fn sip_headers(data: &[u8]) {
    use shared::sip::{Inbound, Limits, Transport, inbound};
    let (headers, body) = match inbound(data, Transport::Udp, Limits::default()) {
        Inbound::Request { request } => (request.headers, request.body),
        Inbound::Response(response) => (response.headers, response.body),
        Inbound::Reject { .. } | Inbound::Drop { .. } => return,
    };
    for name in [
        "From",
        "To",
        "Contact",
        "P-Asserted-Identity",
        "Remote-Party-ID",
        "Diversion",
        "Route",
        "Record-Route",
    ] {
        for value in msg::header_values(&headers, name) {
            for item in msg::split_list(&value) {
                let _ = msg::tag(&item);
                let _ = msg::param(&item, "expires");
                let uri = msg::uri_of(&item);
                let _ = msg::uri_user(&uri);
                let _ = msg::uri_host(&uri);
            }
        }
    }
    let _ = msg::cseq_number(&headers);
    if let Some(sdp) = msg::sdp_body(&headers, &body) {
        carrier_sdp(sdp.as_bytes());
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    //! The checked-in corpus (`fuzz/corpus/<target>/`: seeds and every
    //! input that once crashed a target) through the same bodies, on the
    //! stable toolchain, in every test run.

    use std::path::PathBuf;

    fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../fuzz/corpus")
            .join(target);
        let mut files: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .map(|p| {
                let bytes = std::fs::read(&p).unwrap();
                (p, bytes)
            })
            .collect();
        files.sort();
        assert!(!files.is_empty(), "no corpus in {}", dir.display());
        files
    }

    fn run(target: &str, body: fn(&[u8])) {
        for (path, bytes) in corpus(target) {
            let result = std::panic::catch_unwind(|| body(&bytes));
            assert!(result.is_ok(), "{} fails", path.display());
        }
    }

    #[test]
    fn carrier_sdp_corpus() {
        run("carrier_sdp", super::carrier_sdp);
    }

    #[test]
    fn carrier_media_corpus() {
        run("carrier_media", super::carrier_media);
    }

    #[test]
    fn carrier_srtp_corpus() {
        run("carrier_srtp", super::carrier_srtp);
    }

    #[test]
    fn sip_headers_corpus() {
        run("sip_headers", super::sip_headers);
    }
}
