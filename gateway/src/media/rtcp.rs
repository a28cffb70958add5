//! The carrier leg's RTCP (RFC 3550 §6), sans-IO: what we count about the
//! RTP the carrier sends us, the sender and receiver reports we send it,
//! and what its reports say about ours (loss, jitter, round trip).
//!
//! ```text
//!  carrier RTP ──received()──► ReceiveStats (loss, jitter)
//!  our RTP ─────sent()───────► packet/octet counts, last timestamp
//!  carrier RTCP ─handle()────► its SR: LSR + arrival (for our DLSR)
//!                              its report block about our SSRC: lost,
//!                              jitter, RTT = A − LSR − DLSR (§6.4.1)
//!  poll_report(now, ntp) ────► SR (we sent since the last) or RR,
//!                              + SDES CNAME (§6.1: every compound has one)
//! ```
//!
//! The first report goes 2.5 s after the first packet either way, then one
//! every 5 s (§6.2's minimum for a two-party session; not randomised: one
//! sender per call, nothing to desynchronise from).

use std::time::{Duration, Instant};

use shared::api::{LegQuality, StreamQuality};
use shared::quality::{ReceiveStats, emodel};

const FIRST_REPORT: Duration = Duration::from_millis(2500);
const REPORT_INTERVAL: Duration = Duration::from_secs(5);
const PT_SR: u8 = 200;
const PT_RR: u8 = 201;
const PT_SDES: u8 = 202;
/// G.711's RTP clock.
const CLOCK_RATE: u32 = 8000;

/// A report block about one of our streams, as the far end sent it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportBlock {
    pub ssrc: u32,
    pub fraction_lost: u8,
    pub cumulative_lost: i32,
    pub extended_max: u32,
    pub jitter: u32,
    pub lsr: u32,
    pub dlsr: u32,
}

/// One leg's RTCP state.
#[derive(Debug)]
pub struct Rtcp {
    /// Our SSRC toward the carrier (the relay's rewriter's).
    ssrc: u32,
    cname: String,
    pub received: ReceiveStats,
    /// When the leg's clock starts (arrival times are taken from here).
    epoch: Instant,
    sent_packets: u32,
    sent_octets: u32,
    /// The RTP timestamp of our newest packet and when it went.
    last_sent: Option<(u32, Instant)>,
    sent_since_report: bool,
    /// The middle 32 bits of the carrier's last SR and when it came.
    last_sr: Option<(u32, Instant)>,
    /// The carrier's latest report about our stream.
    pub far_end: Option<ReportBlock>,
    /// Round-trip times measured, newest last (bounded).
    rtts: Vec<Duration>,
    next_report: Option<Instant>,
    /// Reports received and sent (for the record and tests).
    pub reports_received: u32,
    pub reports_sent: u32,
}

impl Rtcp {
    pub fn new(now: Instant, ssrc: u32) -> Rtcp {
        Rtcp {
            ssrc,
            cname: format!("gw-{ssrc:08x}"),
            received: ReceiveStats::new(CLOCK_RATE),
            epoch: now,
            sent_packets: 0,
            sent_octets: 0,
            last_sent: None,
            sent_since_report: false,
            last_sr: None,
            far_end: None,
            rtts: Vec::new(),
            next_report: None,
            reports_received: 0,
            reports_sent: 0,
        }
    }

    fn started(&mut self, now: Instant) {
        if self.next_report.is_none() {
            self.next_report = Some(now + FIRST_REPORT);
        }
    }

    /// An RTP packet from the carrier (plain, after SRTP), well formed.
    pub fn received(&mut self, now: Instant, ssrc: u32, seq: u16, ts: u32) {
        let arrival_us = now.saturating_duration_since(self.epoch).as_micros() as u64;
        self.received.packet(ssrc, seq, ts, arrival_us);
        self.started(now);
    }

    /// An RTP packet we sent the carrier: the datagram before SRTP (our
    /// header is 12 bytes: no CSRC, no extension).
    pub fn sent(&mut self, now: Instant, packet: &[u8]) {
        let Some(ts) = packet.get(4..8) else { return };
        let ts = u32::from_be_bytes([ts[0], ts[1], ts[2], ts[3]]);
        self.sent_packets = self.sent_packets.wrapping_add(1);
        self.sent_octets = self
            .sent_octets
            .wrapping_add(packet.len().saturating_sub(12) as u32);
        self.last_sent = Some((ts, now));
        self.sent_since_report = true;
        self.started(now);
    }

    /// When the next report is due (`None`: no media yet).
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.next_report
    }

    /// A compound RTCP packet from the carrier (plain). `ntp` is the wall
    /// clock now as a 64-bit NTP timestamp. Malformed input is ignored
    /// from the first bad length on.
    pub fn handle(&mut self, now: Instant, ntp: u64, data: &[u8]) {
        let mut rest = data;
        let mut any = false;
        while rest.len() >= 8 {
            let first = rest[0];
            if first >> 6 != 2 {
                break;
            }
            let count = usize::from(first & 0x1f);
            let pt = rest[1];
            let len = (usize::from(u16::from_be_bytes([rest[2], rest[3]])) + 1) * 4;
            let Some(packet) = rest.get(..len) else { break };
            rest = &rest[len..];
            // Our own report reflected back (an echoing test carrier such
            // as SIPp's -rtp_echo): not the carrier's view of anything.
            if packet.len() >= 8 && packet[4..8] == self.ssrc.to_be_bytes() {
                continue;
            }
            let blocks = match pt {
                PT_SR if packet.len() >= 28 => {
                    let mid = u32::from_be_bytes([packet[10], packet[11], packet[12], packet[13]]);
                    self.last_sr = Some((mid, now));
                    &packet[28..]
                }
                // A 4-byte RR (length 0) names no sender: skipped.
                PT_RR if packet.len() >= 8 => &packet[8..],
                _ => continue,
            };
            any = true;
            for block in blocks.chunks_exact(24).take(count) {
                let word = |i: usize| {
                    u32::from_be_bytes([block[i], block[i + 1], block[i + 2], block[i + 3]])
                };
                if word(0) != self.ssrc {
                    continue;
                }
                let lost24 = word(4) & 0x00ff_ffff;
                // 24-bit two's complement.
                let cumulative_lost = ((lost24 << 8) as i32) >> 8;
                let rb = ReportBlock {
                    ssrc: word(0),
                    fraction_lost: block[4],
                    cumulative_lost,
                    extended_max: word(8),
                    jitter: word(12),
                    lsr: word(16),
                    dlsr: word(20),
                };
                if rb.lsr != 0 {
                    // §6.4.1: A − LSR − DLSR in 1/65536 s.
                    let a = mid32(ntp);
                    let rtt = a.wrapping_sub(rb.lsr).wrapping_sub(rb.dlsr);
                    // A negative result (clock step, forged DLSR) wraps high.
                    if rtt < 0x8000_0000 {
                        if self.rtts.len() == 64 {
                            self.rtts.remove(0);
                        }
                        self.rtts
                            .push(Duration::from_micros(u64::from(rtt) * 1_000_000 / 65536));
                    }
                }
                self.far_end = Some(rb);
            }
        }
        if any {
            self.reports_received += 1;
        }
    }

    /// The newest round trip measured.
    pub fn rtt(&self) -> Option<Duration> {
        self.rtts.last().copied()
    }

    /// A report, if one is due: SR when we sent RTP since the last one,
    /// else RR; with a report block when we receive, and SDES CNAME.
    pub fn poll_report(&mut self, now: Instant, ntp: u64, out: &mut Vec<u8>) -> bool {
        match self.next_report {
            Some(due) if due <= now => {}
            _ => return false,
        }
        self.next_report = Some(now + REPORT_INTERVAL);
        out.clear();
        let block = self
            .received
            .ssrc()
            .map(|ssrc| self.report_block(now, ssrc));
        let count = u8::from(block.is_some());
        if self.sent_since_report {
            // SR: header, SSRC, sender info (20), blocks.
            let words = 6 + 6 * u16::from(count);
            out.extend_from_slice(&[0x80 | count, PT_SR]);
            out.extend_from_slice(&words.to_be_bytes());
            out.extend_from_slice(&self.ssrc.to_be_bytes());
            out.extend_from_slice(&ntp.to_be_bytes());
            // The RTP time of "now": the last packet's plus the time since.
            let rtp_now = self.last_sent.map_or(0, |(ts, at)| {
                let since = now.saturating_duration_since(at);
                ts.wrapping_add((since.as_micros() * u128::from(CLOCK_RATE) / 1_000_000) as u32)
            });
            out.extend_from_slice(&rtp_now.to_be_bytes());
            out.extend_from_slice(&self.sent_packets.to_be_bytes());
            out.extend_from_slice(&self.sent_octets.to_be_bytes());
        } else {
            let words = 1 + 6 * u16::from(count);
            out.extend_from_slice(&[0x80 | count, PT_RR]);
            out.extend_from_slice(&words.to_be_bytes());
            out.extend_from_slice(&self.ssrc.to_be_bytes());
        }
        if let Some(block) = block {
            out.extend_from_slice(&block);
        }
        self.sent_since_report = false;
        // SDES: one chunk, CNAME item, a zero item ending it, padded to 32 bits.
        let name = self.cname.as_bytes();
        let chunk_len = 4 + 2 + name.len() + 1;
        let padded = chunk_len.div_ceil(4) * 4;
        let words = (4 + padded) / 4 - 1;
        out.extend_from_slice(&[0x81, PT_SDES]);
        out.extend_from_slice(&(words as u16).to_be_bytes());
        out.extend_from_slice(&self.ssrc.to_be_bytes());
        out.extend_from_slice(&[1, name.len() as u8]);
        out.extend_from_slice(name);
        out.resize(out.len() + padded - (4 + 2 + name.len()), 0);
        self.reports_sent += 1;
        true
    }

    fn report_block(&mut self, now: Instant, ssrc: u32) -> [u8; 24] {
        let mut b = [0u8; 24];
        b[0..4].copy_from_slice(&ssrc.to_be_bytes());
        let lost = self.received.lost().min(0x7f_ffff) as u32;
        b[4..8].copy_from_slice(&lost.to_be_bytes());
        b[4] = self.received.take_fraction_lost();
        b[8..12].copy_from_slice(&self.received.extended_max().to_be_bytes());
        b[12..16].copy_from_slice(&self.received.jitter_units().to_be_bytes());
        if let Some((lsr, at)) = self.last_sr {
            b[16..20].copy_from_slice(&lsr.to_be_bytes());
            let delay = now.saturating_duration_since(at);
            let dlsr = (delay.as_micros() * 65536 / 1_000_000).min(u128::from(u32::MAX)) as u32;
            b[20..24].copy_from_slice(&dlsr.to_be_bytes());
        }
        b
    }

    /// The leg's figures for the call record: what we received, what the
    /// carrier says it received, the round trip and the E-model's verdict
    /// on the worse direction (G.711 with concealment).
    pub fn leg_quality(&self) -> Option<LegQuality> {
        if self.received.ssrc().is_none() && self.sent_packets == 0 {
            return None;
        }
        let received = StreamQuality {
            packets: self.received.received() as i64,
            lost: self.received.lost() as i64,
            jitter_us: (self.received.mean_jitter_ms() * 1000.0).round() as i64,
        };
        let far_end = self.far_end.map(|rb| StreamQuality {
            packets: i64::from(self.sent_packets),
            lost: i64::from(rb.cumulative_lost.max(0)),
            jitter_us: i64::from(rb.jitter) * 1_000_000 / i64::from(CLOCK_RATE),
        });
        let rtt = self.rtt();
        Some(leg(received, far_end, rtt))
    }
}

/// A leg's E-model figures from both directions' counts: the worse loss
/// and jitter, half the round trip as one-way delay (0 when unknown).
pub fn leg(
    received: StreamQuality,
    far_end: Option<StreamQuality>,
    rtt: Option<Duration>,
) -> LegQuality {
    let loss = far_end.map_or(received.loss_percent(), |f| {
        f.loss_percent().max(received.loss_percent())
    });
    let jitter_ms =
        far_end.map_or(received.jitter_us, |f| f.jitter_us.max(received.jitter_us)) as f64 / 1000.0;
    let one_way = rtt.map_or(0.0, |r| r.as_secs_f64() * 500.0);
    let e = emodel::estimate(emodel::G711_PLC, one_way, loss, jitter_ms);
    LegQuality {
        received,
        far_end,
        rtt_ms: rtt.map(|r| r.as_millis() as i64),
        r_factor: e.r.round() as i64,
        mos_x100: (e.mos * 100.0).round() as i64,
    }
}

/// The middle 32 bits of a 64-bit NTP timestamp (§4: LSR's format).
pub fn mid32(ntp: u64) -> u32 {
    (ntp >> 16) as u32
}

/// A wall-clock time (since the Unix epoch) as an NTP timestamp.
pub fn ntp_of(since_unix: Duration) -> u64 {
    const UNIX_TO_NTP: u64 = 2_208_988_800;
    let secs = since_unix.as_secs() + UNIX_TO_NTP;
    let frac = (u64::from(since_unix.subsec_nanos()) << 32) / 1_000_000_000;
    (secs << 32) | frac
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const OURS: u32 = 0x1111_2222;
    const THEIRS: u32 = 0x3333_4444;

    fn rr_about(ssrc: u32, lost: u32, jitter: u32, lsr: u32, dlsr: u32) -> Vec<u8> {
        let mut p = vec![0x81, PT_RR, 0, 7];
        p.extend_from_slice(&THEIRS.to_be_bytes());
        p.extend_from_slice(&ssrc.to_be_bytes());
        p.extend_from_slice(&(lost & 0xff_ffff).to_be_bytes());
        p[12] = 12; // fraction lost
        p.extend_from_slice(&5000u32.to_be_bytes());
        p.extend_from_slice(&jitter.to_be_bytes());
        p.extend_from_slice(&lsr.to_be_bytes());
        p.extend_from_slice(&dlsr.to_be_bytes());
        p
    }

    fn rtp(seq: u16, ts: u32) -> Vec<u8> {
        let mut p = vec![0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        p[2..4].copy_from_slice(&seq.to_be_bytes());
        p[4..8].copy_from_slice(&ts.to_be_bytes());
        p[8..12].copy_from_slice(&OURS.to_be_bytes());
        p.extend_from_slice(&[0xff; 160]);
        p
    }

    #[test]
    fn reports_start_after_media_and_are_well_formed() {
        let t0 = Instant::now();
        let ntp = ntp_of(Duration::from_secs(1_700_000_000));
        let mut r = Rtcp::new(t0, OURS);
        let mut out = Vec::new();
        assert!(!r.poll_report(t0 + Duration::from_secs(10), ntp, &mut out));
        for i in 0..100u16 {
            let at = t0 + Duration::from_millis(20 * u64::from(i));
            r.sent(at, &rtp(i, u32::from(i) * 160));
            if i % 10 != 3 {
                r.received(at, THEIRS, i, u32::from(i) * 160);
            }
        }
        assert_eq!(r.poll_timeout(), Some(t0 + FIRST_REPORT));
        let at = t0 + Duration::from_secs(3);
        assert!(r.poll_report(at, ntp, &mut out));
        // SR (7 words + 1 block of 6) then SDES.
        assert_eq!(&out[..4], &[0x81, PT_SR, 0, 12]);
        assert_eq!(&out[4..8], &OURS.to_be_bytes());
        assert_eq!(&out[8..16], &ntp.to_be_bytes());
        // RTP time: last ts 99·160 plus 1.02 s at 8 kHz.
        let rtp_now = u32::from_be_bytes(out[16..20].try_into().unwrap());
        assert_eq!(rtp_now, 99 * 160 + 8160);
        assert_eq!(&out[20..24], &100u32.to_be_bytes());
        assert_eq!(&out[24..28], &16000u32.to_be_bytes());
        // The block: their SSRC, 10 of 100 lost (fraction 25/256).
        assert_eq!(&out[28..32], &THEIRS.to_be_bytes());
        assert_eq!(out[32], 25);
        assert_eq!(&out[33..36], &[0, 0, 10]);
        assert_eq!(&out[36..40], &99u32.to_be_bytes());
        let sdes = &out[52..];
        assert_eq!(sdes[1], PT_SDES);
        assert_eq!(sdes.len() % 4, 0);
        assert_eq!(sdes.len(), (usize::from(sdes[3]) + 1) * 4);
        assert_eq!(&sdes[10..21], b"gw-11112222");
        assert_eq!(r.poll_timeout(), Some(at + REPORT_INTERVAL));
        // Nothing sent since: the next one is an RR.
        assert!(r.poll_report(at + REPORT_INTERVAL, ntp, &mut out));
        assert_eq!(&out[..2], &[0x81, PT_RR]);
        assert_eq!(&out[8..12], &THEIRS.to_be_bytes());
    }

    #[test]
    fn rtt_comes_from_lsr_and_dlsr() {
        let t0 = Instant::now();
        let mut r = Rtcp::new(t0, OURS);
        // We sent an SR at NTP T; the carrier held it 1 s (DLSR) and its
        // RR reaches us at T + 1.25 s: RTT 250 ms.
        let t = ntp_of(Duration::from_secs(1_700_000_000));
        let now = ntp_of(Duration::from_millis(1_700_000_001_250));
        r.handle(t0, now, &rr_about(OURS, 42, 400, mid32(t), 65536));
        let rtt = r.rtt().unwrap();
        assert!((rtt.as_secs_f64() - 0.25).abs() < 0.001, "{rtt:?}");
        let far = r.far_end.unwrap();
        assert_eq!(
            (far.cumulative_lost, far.jitter, far.fraction_lost),
            (42, 400, 12)
        );
        assert_eq!(r.reports_received, 1);
        // A block about someone else's SSRC is ignored; a negative RTT too.
        r.handle(t0, now, &rr_about(7, 1, 1, mid32(now) + 100, 0));
        assert_eq!(r.far_end.unwrap().cumulative_lost, 42);
        r.handle(t0, now, &rr_about(OURS, 1, 1, mid32(now) + 100, 0));
        assert_eq!(r.rtt(), Some(rtt));
    }

    #[test]
    fn their_sr_sets_our_lsr_and_dlsr() {
        let t0 = Instant::now();
        let mut r = Rtcp::new(t0, OURS);
        r.received(t0, THEIRS, 1, 160);
        let their_ntp = 0x0102_0304_0506_0708u64;
        let mut sr = vec![0x80, PT_SR, 0, 6];
        sr.extend_from_slice(&THEIRS.to_be_bytes());
        sr.extend_from_slice(&their_ntp.to_be_bytes());
        sr.extend_from_slice(&[0; 12]);
        r.handle(t0, 0, &sr);
        let mut out = Vec::new();
        assert!(r.poll_report(t0 + Duration::from_secs(3), 0, &mut out));
        assert_eq!(out[1], PT_RR);
        assert_eq!(&out[24..28], &0x0304_0506u32.to_be_bytes());
        // 3 s in 1/65536 s.
        assert_eq!(&out[28..32], &(3u32 * 65536).to_be_bytes());
    }

    #[test]
    fn our_own_reports_reflected_back_are_ignored() {
        let t0 = Instant::now();
        let mut r = Rtcp::new(t0, OURS);
        r.received(t0, OURS, 1, 160);
        r.sent(t0, &rtp(1, 160));
        let mut out = Vec::new();
        assert!(r.poll_report(t0 + Duration::from_secs(3), 1 << 40, &mut out));
        r.handle(t0 + Duration::from_secs(3), 1 << 40, &out);
        assert_eq!((r.reports_received, r.far_end, r.rtt()), (0, None, None));
    }

    #[test]
    fn garbage_is_ignored() {
        let t0 = Instant::now();
        let mut r = Rtcp::new(t0, OURS);
        r.handle(t0, 0, &[]);
        r.handle(t0, 0, &[0x80, PT_RR, 0xff, 0xff, 1, 2, 3, 4]);
        r.handle(t0, 0, &[0x00; 64]);
        let mut truncated = rr_about(OURS, 1, 1, 1, 1);
        truncated.truncate(20);
        r.handle(t0, 0, &truncated);
        // Length 0 (a 4-byte packet) followed by more: the fuzzer's find,
        // once a panic that ended the call.
        r.handle(t0, 0, &[0x80, PT_RR, 0, 0, 0x80, PT_RR, 0, 0]);
        assert_eq!((r.reports_received, r.far_end), (0, None));
    }

    #[test]
    fn leg_quality_takes_the_worse_direction() {
        let clean = StreamQuality {
            packets: 1000,
            lost: 0,
            jitter_us: 1000,
        };
        let lossy = StreamQuality {
            packets: 950,
            lost: 50,
            jitter_us: 10_000,
        };
        let a = leg(clean, Some(lossy), Some(Duration::from_millis(40)));
        let b = leg(lossy, Some(clean), Some(Duration::from_millis(40)));
        assert_eq!(a.mos_x100, b.mos_x100);
        assert_eq!(a.rtt_ms, Some(40));
        let c = leg(clean, None, None);
        assert!(c.mos_x100 > a.mos_x100);
        assert!((400..=441).contains(&c.mos_x100), "{c:?}");
    }
}
