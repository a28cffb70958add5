//! The relay's decisions, sans-IO: which packets cross between the legs,
//! with which payload type, SSRC, sequence number and timestamp; where
//! carrier-bound packets go (symmetric RTP latching); when the call has
//! been silent too long. [`super::call`] feeds it packets and the clock.
//!
//! ```text
//!  browser PT ──► map ──► carrier PT       (PCMU 0 / PCMA 8 kept; telephone-event
//!  carrier PT ──► map ──► browser PT        remapped, e.g. 126 ⇄ 101; others dropped)
//!
//!  carrier source latching:
//!     no answer yet ──answer──► unlatched ──first RTP with a known PT──► latched(src)
//!          ▲                       ▲                                        │
//!          │                       └────────── a new answer ────────────────┤
//!          │                                                                │
//!          └ (packets dropped)        latched(src') if src silent ≥ RELATCH_AFTER
//! ```

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::rtp::{self, Datagram, Rewriter, Rewritten};
use super::sdp::Negotiated;
use super::{Codec, Direction, MediaStats};
use crate::sip::b2bua::SilentLeg;

/// A carrier source that stayed silent this long may be replaced by another
/// one sending valid RTP (media server switch, NAT rebinding).
pub const RELATCH_AFTER: Duration = Duration::from_millis(500);

/// The payload types negotiated with the browser (by str0m).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BrowserPts {
    pub pcmu: Option<u8>,
    pub pcma: Option<u8>,
    pub telephone_event: Option<u8>,
}

impl BrowserPts {
    pub fn of(&self, codec: Codec) -> Option<u8> {
        match codec {
            Codec::Pcmu => self.pcmu,
            Codec::Pcma => self.pcma,
        }
    }

    pub fn codecs(&self) -> impl Iterator<Item = Codec> + '_ {
        [Codec::Pcmu, Codec::Pcma]
            .into_iter()
            .filter(|c| self.of(*c).is_some())
    }

    fn codec_of(&self, pt: u8) -> Option<Codec> {
        self.codecs().find(|c| self.of(*c) == Some(pt))
    }
}

/// One packet for the browser leg (str0m writes header and SRTP).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ToBrowser {
    pub pt: u8,
    pub header: Rewritten,
    /// Convert the payload's G.711 law (carrier and browser disagree).
    pub convert: Option<&'static [u8; 256]>,
}

pub struct Relay {
    browser: BrowserPts,
    carrier: Option<Negotiated>,
    /// Our direction toward the browser (str0m's answer).
    browser_direction: Direction,
    /// Our direction toward the carrier (what our SDP to the carrier says).
    carrier_direction: Direction,
    latched: Option<(SocketAddr, Instant)>,
    to_carrier: Rewriter,
    to_browser: Rewriter,
    last_event_to_carrier: Option<u32>,
    last_event_to_browser: Option<u32>,
    no_media_timeout: Duration,
    /// When each leg last sent RTP (or the silence timer last restarted).
    last_from_browser: Instant,
    last_from_carrier: Instant,
    no_media_reported: bool,
    pub stats: MediaStats,
}

impl Relay {
    pub fn new(
        now: Instant,
        browser: BrowserPts,
        browser_direction: Direction,
        no_media_timeout: Duration,
        to_carrier: Rewriter,
        to_browser: Rewriter,
    ) -> Relay {
        Relay {
            browser,
            carrier: None,
            browser_direction,
            carrier_direction: browser_direction.reverse(),
            latched: None,
            to_carrier,
            to_browser,
            last_event_to_carrier: None,
            last_event_to_browser: None,
            no_media_timeout,
            last_from_browser: now,
            last_from_carrier: now,
            no_media_reported: false,
            stats: MediaStats::default(),
        }
    }

    /// The carrier answered (again): new address, codecs, PTs; latch anew.
    pub fn carrier_answered(&mut self, now: Instant, answer: Negotiated) {
        let was_held = self.on_hold();
        self.carrier = Some(answer);
        self.latched = None;
        self.resumed_if(now, was_held);
    }

    pub fn set_browser(&mut self, now: Instant, pts: BrowserPts, direction: Direction) {
        let was_held = self.on_hold();
        self.browser = pts;
        self.browser_direction = direction;
        self.resumed_if(now, was_held);
    }

    pub fn set_carrier_direction(&mut self, now: Instant, direction: Direction) {
        let was_held = self.on_hold();
        self.carrier_direction = direction;
        self.resumed_if(now, was_held);
    }

    /// After a hold ends, silence so far does not count.
    fn resumed_if(&mut self, now: Instant, was_held: bool) {
        if was_held && !self.on_hold() {
            self.last_from_browser = now;
            self.last_from_carrier = now;
            self.no_media_reported = false;
            self.to_carrier.resync();
            self.to_browser.resync();
        }
    }

    /// Our SSRC toward the carrier.
    pub fn carrier_ssrc(&self) -> u32 {
        self.to_carrier.ssrc
    }

    /// Where the carrier's RTCP goes (RFC 3550 §11: the RTP port + 1 of
    /// where its RTP comes from, else of its SDP address); `None` before
    /// its answer.
    pub fn carrier_rtcp_destination(&self) -> Option<SocketAddr> {
        let carrier = self.carrier.as_ref()?;
        let mut rtp = self.latched.map_or(carrier.remote, |(addr, _)| addr);
        rtp.set_port(rtp.port().checked_add(1)?);
        Some(rtp)
    }

    /// Either leg is held (or not yet answered in both directions).
    pub fn on_hold(&self) -> bool {
        self.browser_direction != Direction::SendRecv
            || self.carrier_direction != Direction::SendRecv
            || self
                .carrier
                .as_ref()
                .is_some_and(|c| c.direction != Direction::SendRecv)
    }

    /// The leg silent the longest, and since when.
    fn quietest(&self) -> (Instant, SilentLeg) {
        if self.last_from_carrier <= self.last_from_browser {
            (self.last_from_carrier, SilentLeg::Carrier)
        } else {
            (self.last_from_browser, SilentLeg::Browser)
        }
    }

    /// When to wake up to report silence; `None` while held or once reported.
    pub fn no_media_deadline(&self) -> Option<Instant> {
        (!self.on_hold() && !self.no_media_reported)
            .then(|| self.quietest().0 + self.no_media_timeout)
    }

    /// `Some((silence, leg))` once, when a leg has been silent past the
    /// deadline.
    pub fn poll_no_media(&mut self, now: Instant) -> Option<(Duration, SilentLeg)> {
        let deadline = self.no_media_deadline()?;
        if now < deadline {
            return None;
        }
        self.no_media_reported = true;
        let (since, leg) = self.quietest();
        Some((now.saturating_duration_since(since), leg))
    }

    fn media_received(&mut self, now: Instant, from: SilentLeg) {
        match from {
            SilentLeg::Carrier => self.last_from_carrier = now,
            SilentLeg::Browser => self.last_from_browser = now,
        }
        self.no_media_reported = false;
    }

    /// A packet from the browser (decrypted by str0m). On `Some(dest)`, `out`
    /// holds the carrier-bound datagram.
    #[allow(clippy::too_many_arguments)]
    pub fn browser_packet(
        &mut self,
        now: Instant,
        pt: u8,
        ssrc: u32,
        seq: u16,
        ts: u32,
        marker: bool,
        payload: &[u8],
        out: &mut Vec<u8>,
    ) -> Option<SocketAddr> {
        self.media_received(now, SilentLeg::Browser);
        let carrier = self.carrier.as_ref()?;
        if !self.browser_direction.is_receiving()
            || !self.carrier_direction.is_sending()
            || !carrier.direction.is_receiving()
        {
            return None;
        }
        let (carrier_pt, convert, dtmf) = if Some(pt) == self.browser.telephone_event {
            (carrier.telephone_event_pt?, None, true)
        } else {
            let codec = self.browser.codec_of(pt)?;
            match carrier.pt_of(codec) {
                Some(cpt) => (cpt, None, false),
                None => {
                    let other = codec.other();
                    (carrier.pt_of(other)?, Some(law_table(codec)), false)
                }
            }
        };
        let dest = self.latched.map_or(carrier.remote, |(addr, _)| addr);
        let h = self.to_carrier.rewrite(now, ssrc, seq, ts, marker);
        if dtmf && self.last_event_to_carrier != Some(h.ts) {
            self.last_event_to_carrier = Some(h.ts);
            self.stats.dtmf_events_to_carrier += 1;
        }
        if convert.is_some() {
            self.stats.law_converted_packets += 1;
        }
        rtp::write_header(
            out,
            h.marker,
            carrier_pt,
            h.seq as u16,
            h.ts,
            self.to_carrier.ssrc,
        );
        rtp::write_payload(out, payload, convert);
        self.stats.browser_to_carrier_packets += 1;
        self.stats.browser_to_carrier_bytes += payload.len() as u64;
        Some(dest)
    }

    /// A datagram on the carrier's RTP port. On `Some`, the caller writes
    /// `payload` (`data` past the header) to the browser with these fields.
    /// `browser_ready`: the browser leg can carry media (ICE and DTLS done);
    /// before that, packets still latch and count as media but go nowhere.
    ///
    /// The carrier should send with the payload types of our offer (RFC 3264:
    /// each side receives with the numbers of its own SDP), but some echo
    /// their answer's; both are accepted.
    pub fn carrier_datagram<'a>(
        &mut self,
        now: Instant,
        source: SocketAddr,
        data: &'a [u8],
        browser_ready: bool,
    ) -> Option<(ToBrowser, &'a [u8])> {
        let Datagram::Rtp(packet) = rtp::parse(data) else {
            return None;
        };
        let carrier = self.carrier.as_ref()?;
        // Map first: only packets with a payload type we negotiated may latch.
        let is_event = carrier.telephone_event_pt.is_some()
            && (Some(packet.pt) == carrier.telephone_event_pt
                || Some(packet.pt) == carrier.offered_telephone_event_pt);
        let (pt, convert, dtmf) = if is_event {
            (self.browser.telephone_event, None, true)
        } else {
            let codec = carrier
                .codecs
                .iter()
                .find(|(c, cpt)| *cpt == packet.pt || c.payload_type() == packet.pt)
                .map(|(c, _)| *c)?;
            match self.browser.of(codec) {
                Some(bpt) => (Some(bpt), None, false),
                None => (
                    self.browser.of(codec.other()),
                    Some(law_table(codec)),
                    false,
                ),
            }
        };
        let carrier_sends = carrier.direction.is_sending();
        match self.latched {
            Some((addr, _)) if addr == source => {}
            Some((_, last)) if now.saturating_duration_since(last) < RELATCH_AFTER => return None,
            _ => tracing::debug!(%source, "carrier RTP source latched"),
        }
        self.latched = Some((source, now));
        self.media_received(now, SilentLeg::Carrier);
        let pt = pt?;
        if !browser_ready
            || !carrier_sends
            || !self.carrier_direction.is_receiving()
            || !self.browser_direction.is_sending()
        {
            return None;
        }
        let header =
            self.to_browser
                .rewrite(now, packet.ssrc, packet.seq, packet.ts, packet.marker);
        if dtmf && self.last_event_to_browser != Some(header.ts) {
            self.last_event_to_browser = Some(header.ts);
            self.stats.dtmf_events_to_browser += 1;
        }
        if convert.is_some() {
            self.stats.law_converted_packets += 1;
        }
        self.stats.carrier_to_browser_packets += 1;
        self.stats.carrier_to_browser_bytes += packet.payload.len() as u64;
        Some((
            ToBrowser {
                pt,
                header,
                convert,
            },
            packet.payload,
        ))
    }
}

fn law_table(from: Codec) -> &'static [u8; 256] {
    match from {
        Codec::Pcmu => &rtp::ULAW_TO_ALAW,
        Codec::Pcma => &rtp::ALAW_TO_ULAW,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BROWSER_TE: u8 = 126;
    const CARRIER_TE: u8 = 101;

    fn relay(now: Instant) -> Relay {
        Relay::new(
            now,
            BrowserPts {
                pcmu: Some(0),
                pcma: Some(8),
                telephone_event: Some(BROWSER_TE),
            },
            Direction::SendRecv,
            Duration::from_secs(5),
            Rewriter::new(0xaaaa, 100, 0),
            Rewriter::new(0xbbbb, 200, 0),
        )
    }

    fn answer(codecs: Vec<(Codec, u8)>) -> Negotiated {
        Negotiated {
            remote: "192.0.2.1:4000".parse().expect("addr"),
            codec: codecs[0].0,
            codecs,
            telephone_event_pt: Some(CARRIER_TE),
            offered_telephone_event_pt: Some(CARRIER_TE),
            direction: Direction::SendRecv,
            srtp: None,
        }
    }

    fn carrier_packet(pt: u8, seq: u16, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        rtp::write_header(&mut out, false, pt, seq, u32::from(seq) * 160, 77);
        rtp::write_payload(&mut out, payload, None);
        out
    }

    #[test]
    fn nothing_crosses_before_the_carrier_answers() {
        let t = Instant::now();
        let mut r = relay(t);
        let mut out = Vec::new();
        assert_eq!(r.browser_packet(t, 0, 1, 1, 1, false, &[1], &mut out), None);
        let src = "192.0.2.9:5000".parse().expect("addr");
        assert!(
            r.carrier_datagram(t, src, &carrier_packet(0, 1, &[1]), true)
                .is_none()
        );
    }

    #[test]
    fn payload_types_are_remapped_and_dtmf_counted_once_per_event() {
        let t = Instant::now();
        let mut r = relay(t);
        r.carrier_answered(t, answer(vec![(Codec::Pcmu, 0)]));
        let mut out = Vec::new();
        let dest = r.browser_packet(t, 0, 9, 1, 160, false, &[0xff; 160], &mut out);
        assert_eq!(dest, Some("192.0.2.1:4000".parse().expect("addr")));
        let Datagram::Rtp(p) = rtp::parse(&out) else {
            panic!("RTP written");
        };
        assert_eq!(
            (p.pt, p.ssrc, p.seq, p.payload.len()),
            (0, 0xaaaa, 3001, 160)
        );
        // Three end packets of one event, same timestamp: one event.
        for seq in 2..5 {
            r.browser_packet(
                t,
                BROWSER_TE,
                9,
                seq,
                320,
                false,
                &[1, 0x80, 0, 160],
                &mut out,
            )
            .expect("DTMF relayed");
            let Datagram::Rtp(p) = rtp::parse(&out) else {
                panic!("RTP written");
            };
            assert_eq!(p.pt, CARRIER_TE);
        }
        assert_eq!(r.stats.dtmf_events_to_carrier, 1);
        // Unknown PT from the browser: dropped.
        assert_eq!(
            r.browser_packet(t, 13, 9, 6, 640, false, &[0], &mut out),
            None
        );
        // From the carrier: telephone-event 101 → 126.
        let src = "192.0.2.1:4002".parse().expect("addr");
        let dtmf = carrier_packet(CARRIER_TE, 7, &[5, 0x80, 0, 160]);
        let (to, payload) = r
            .carrier_datagram(t, src, &dtmf, true)
            .expect("DTMF to browser");
        assert_eq!((to.pt, payload.len()), (BROWSER_TE, 4));
        assert_eq!(r.stats.dtmf_events_to_browser, 1);
        assert_eq!(r.stats.browser_to_carrier_packets, 4);
    }

    #[test]
    fn latches_on_the_real_source_and_sends_there() {
        let t = Instant::now();
        let mut r = relay(t);
        r.carrier_answered(t, answer(vec![(Codec::Pcmu, 0)]));
        let real: SocketAddr = "192.0.2.1:6666".parse().expect("addr");
        let other: SocketAddr = "203.0.113.5:1".parse().expect("addr");
        // Garbage and unknown PTs do not latch.
        assert!(
            r.carrier_datagram(t, other, b"garbage datagram", true)
                .is_none()
        );
        assert!(
            r.carrier_datagram(t, other, &carrier_packet(18, 1, &[0]), true)
                .is_none()
        );
        assert!(
            r.carrier_datagram(t, real, &carrier_packet(0, 1, &[0]), true)
                .is_some()
        );
        let mut out = Vec::new();
        assert_eq!(
            r.browser_packet(t, 0, 1, 1, 0, false, &[0], &mut out),
            Some(real)
        );
        // Another source while the latched one is live: ignored.
        let soon = t + Duration::from_millis(100);
        assert!(
            r.carrier_datagram(soon, other, &carrier_packet(0, 2, &[0]), true)
                .is_none()
        );
        // After RELATCH_AFTER of silence it takes over; sequence stays continuous.
        let later = soon + RELATCH_AFTER;
        let packet = carrier_packet(0, 9000, &[0]);
        let (to, _) = r
            .carrier_datagram(later, other, &packet, true)
            .expect("re-latched");
        assert_eq!(to.header.seq, 3002);
        assert_eq!(
            r.browser_packet(later, 0, 1, 2, 160, false, &[0], &mut out),
            Some(other)
        );
    }

    #[test]
    fn hold_stops_the_held_direction_and_the_silence_timer() {
        let t = Instant::now();
        let mut r = relay(t);
        r.carrier_answered(t, answer(vec![(Codec::Pcmu, 0)]));
        assert_eq!(r.no_media_deadline(), Some(t + Duration::from_secs(5)));
        // Browser holds (sendonly): we answer recvonly; nothing to the browser.
        r.set_browser(t, r.browser, Direction::RecvOnly);
        assert_eq!(r.no_media_deadline(), None);
        let src = "192.0.2.1:4000".parse().expect("addr");
        assert!(
            r.carrier_datagram(t, src, &carrier_packet(0, 1, &[0]), true)
                .is_none()
        );
        let mut out = Vec::new();
        assert!(
            r.browser_packet(t, 0, 1, 1, 0, false, &[0], &mut out)
                .is_some()
        );
        // Resume: the timer restarts from now.
        let later = t + Duration::from_secs(60);
        r.set_browser(later, r.browser, Direction::SendRecv);
        assert_eq!(r.no_media_deadline(), Some(later + Duration::from_secs(5)));
        // We hold the carrier: nothing goes to it.
        r.set_carrier_direction(later, Direction::Inactive);
        assert!(
            r.browser_packet(later, 0, 1, 2, 160, false, &[0], &mut out)
                .is_none()
        );
        assert!(r.poll_no_media(later + Duration::from_secs(600)).is_none());
        r.set_carrier_direction(later, Direction::SendRecv);
        assert!(r.poll_no_media(later + Duration::from_secs(4)).is_none());
        assert_eq!(
            r.poll_no_media(later + Duration::from_secs(6)),
            Some((Duration::from_secs(6), SilentLeg::Carrier))
        );
        assert!(
            r.poll_no_media(later + Duration::from_secs(7)).is_none(),
            "reported once"
        );
    }

    #[test]
    fn a_carrier_gone_silent_is_reported_while_the_browser_still_talks() {
        let t = Instant::now();
        let mut r = relay(t);
        r.carrier_answered(t, answer(vec![(Codec::Pcmu, 0)]));
        let src = "192.0.2.1:4000".parse().expect("addr");
        r.carrier_datagram(t, src, &carrier_packet(0, 1, &[0]), true);
        let mut out = Vec::new();
        // The browser sends every 20 ms; the carrier never again.
        let mut now = t;
        let mut seq = 1;
        let report = loop {
            now += Duration::from_millis(20);
            seq += 1;
            r.browser_packet(now, 0, 1, seq, u32::from(seq) * 160, false, &[0], &mut out);
            if let Some(report) = r.poll_no_media(now) {
                break report;
            }
            assert!(now < t + Duration::from_secs(6), "never reported");
        };
        assert_eq!(report, (Duration::from_secs(5), SilentLeg::Carrier));
        assert_eq!(now, t + Duration::from_secs(5));
        // And the other way round: the browser stops, the carrier talks.
        let mut r = relay(t);
        r.carrier_answered(t, answer(vec![(Codec::Pcmu, 0)]));
        let mut now = t;
        let mut seq = 1;
        let report = loop {
            now += Duration::from_millis(20);
            seq += 1;
            r.carrier_datagram(now, src, &carrier_packet(0, seq, &[0]), true);
            if let Some(report) = r.poll_no_media(now) {
                break report;
            }
            assert!(now < t + Duration::from_secs(6), "never reported");
        };
        assert_eq!(report.1, SilentLeg::Browser);
    }

    #[test]
    fn law_is_converted_only_when_the_carrier_lacks_the_browser_codec() {
        let t = Instant::now();
        let mut r = relay(t);
        r.carrier_answered(t, answer(vec![(Codec::Pcma, 8)]));
        let mut out = Vec::new();
        r.browser_packet(t, 0, 1, 1, 0, false, &[0xff, 0x80], &mut out)
            .expect("converted");
        let Datagram::Rtp(p) = rtp::parse(&out) else {
            panic!("RTP written");
        };
        assert_eq!((p.pt, p.payload), (8, &[0xd5, rtp::ULAW_TO_ALAW[0x80]][..]));
        r.browser_packet(t, 8, 1, 2, 160, false, &[0xd5], &mut out)
            .expect("as is");
        let Datagram::Rtp(p) = rtp::parse(&out) else {
            panic!("RTP written");
        };
        assert_eq!((p.pt, p.payload), (8, &[0xd5][..]));
        assert_eq!(r.stats.law_converted_packets, 1);
    }
}
