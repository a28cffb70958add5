//! Call quality arithmetic, sans-IO: what a receiver of an RTP stream
//! measures (RFC 3550 §6.4.1 and Appendix A.1/A.3/A.8: packets, sequence
//! gaps, interarrival jitter) and what that means for a listener (the
//! ITU-T G.107 E-model: an R-factor and an estimated MOS).
//!
//! Time comes in as numbers (microseconds of an arbitrary monotonic clock),
//! never from a clock read here, so the gateway (per packet) and the
//! browser client (from `getStats`) use the same code.
//!
//! ```text
//!  packet(seq, rtp_ts, arrival_us) ─► ReceiveStats ─► received, lost, jitter
//!                                                       │
//!  one-way delay (RTT/2), loss %, jitter ───────────────┴─► emodel::mos ─► R, MOS
//! ```

/// A sequence number this far ahead of the highest seen is taken as a jump
/// (the source restarted), not as that many lost packets (RFC 3550 A.1's
/// MAX_DROPOUT).
const MAX_DROPOUT: u16 = 3000;
/// This far behind the highest seen is a late or duplicate packet
/// (MAX_MISORDER).
const MAX_MISORDER: u16 = 100;

/// One received RTP stream as RFC 3550 Appendix A.1 and A.8 count it.
///
/// `lost` is expected − received (A.3), so a duplicate can make it
/// negative for a while (kept at 0 here); `jitter` is the running
/// estimate J(i) = J(i−1) + (|D(i−1,i)| − J(i−1))/16 in RTP timestamp
/// units.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceiveStats {
    clock_rate: u32,
    ssrc: Option<u32>,
    base_seq: u32,
    max_seq: u16,
    /// Sequence number wraps, shifted by 16 (A.1's `cycles`).
    cycles: u32,
    received: u64,
    /// Relative transit time (arrival in RTP units − RTP timestamp) of the
    /// previous packet.
    transit: Option<i64>,
    jitter: f64,
    /// Sum and count of `jitter` after each update (the call's mean).
    jitter_sum: f64,
    jitter_samples: u64,
    expected_prior: u64,
    received_prior: u64,
}

impl ReceiveStats {
    /// A stream whose RTP clock runs at `clock_rate` Hz (8000 for G.711).
    pub fn new(clock_rate: u32) -> ReceiveStats {
        ReceiveStats {
            clock_rate: clock_rate.max(1),
            ssrc: None,
            base_seq: 0,
            max_seq: 0,
            cycles: 0,
            received: 0,
            transit: None,
            jitter: 0.0,
            jitter_sum: 0.0,
            jitter_samples: 0,
            expected_prior: 0,
            received_prior: 0,
        }
    }

    /// One packet of the stream arrived at `arrival_us`. A new SSRC starts
    /// the sequence and transit state anew (the counts carry on), as a
    /// carrier that switches media servers does not lose packets by it.
    pub fn packet(&mut self, ssrc: u32, seq: u16, rtp_ts: u32, arrival_us: u64) {
        if self.ssrc != Some(ssrc) {
            let carried = self.received;
            let expected = self.expected();
            self.ssrc = Some(ssrc);
            self.base_seq = u32::from(seq);
            self.max_seq = seq;
            self.cycles = 0;
            self.transit = None;
            // Keep what was counted for the old source: shift the base so
            // that expected() still includes it.
            self.received = carried;
            self.base_seq = self.base_seq.wrapping_sub(expected as u32);
            self.received += 1;
            self.jitter_update(rtp_ts, arrival_us);
            return;
        }
        let delta = seq.wrapping_sub(self.max_seq);
        if delta == 0 {
            // A duplicate of the newest: counted (A.1 counts it), no jitter.
            self.received += 1;
            return;
        }
        if delta < MAX_DROPOUT {
            if seq < self.max_seq {
                self.cycles = self.cycles.wrapping_add(1 << 16);
            }
            self.max_seq = seq;
        } else if delta <= u16::MAX - MAX_MISORDER {
            // A jump: the source restarted its numbering. Start from here,
            // keeping the counts (A.1 waits for two packets; a carrier
            // never sends a lone stray one in practice).
            let expected = self.expected();
            self.base_seq = u32::from(seq).wrapping_sub(expected as u32);
            self.cycles = 0;
            self.max_seq = seq;
            self.transit = None;
        }
        // else: late or duplicate; counted, it fills the gap it left.
        self.received += 1;
        self.jitter_update(rtp_ts, arrival_us);
    }

    fn jitter_update(&mut self, rtp_ts: u32, arrival_us: u64) {
        // Arrival in RTP units; wrapping i64 arithmetic keeps the
        // difference right across the 32-bit timestamp wrap.
        let arrival = (u128::from(arrival_us) * u128::from(self.clock_rate) / 1_000_000) as i64;
        let transit = arrival.wrapping_sub(i64::from(rtp_ts));
        if let Some(prev) = self.transit {
            let mut d = transit.wrapping_sub(prev);
            // Transit differences across a 2^32 timestamp wrap.
            d = i64::from(d as i32);
            self.jitter += ((d.unsigned_abs() as f64) - self.jitter) / 16.0;
            self.jitter_sum += self.jitter;
            self.jitter_samples += 1;
        }
        self.transit = Some(transit);
    }

    /// Packets received (duplicates included, as RFC 3550 counts them).
    pub fn received(&self) -> u64 {
        self.received
    }

    /// The extended highest sequence number received (A.1).
    pub fn extended_max(&self) -> u32 {
        self.cycles.wrapping_add(u32::from(self.max_seq))
    }

    /// Packets expected: highest − first + 1 (A.3), over all sources.
    pub fn expected(&self) -> u64 {
        if self.ssrc.is_none() {
            return 0;
        }
        u64::from(self.extended_max().wrapping_sub(self.base_seq)) + 1
    }

    /// Cumulative packets lost (never negative).
    pub fn lost(&self) -> u64 {
        self.expected().saturating_sub(self.received)
    }

    /// Lost as a percentage of expected.
    pub fn loss_percent(&self) -> f64 {
        let expected = self.expected();
        if expected == 0 {
            return 0.0;
        }
        self.lost() as f64 * 100.0 / expected as f64
    }

    /// The jitter estimate in RTP timestamp units (what an RTCP report
    /// block carries).
    pub fn jitter_units(&self) -> u32 {
        self.jitter as u32
    }

    /// The jitter estimate in milliseconds.
    pub fn jitter_ms(&self) -> f64 {
        self.jitter * 1000.0 / f64::from(self.clock_rate)
    }

    /// The mean of the jitter estimate over the stream so far, ms: what a
    /// whole call had (the estimate itself follows the last ~16 packets,
    /// so its value at hang-up is one moment's).
    pub fn mean_jitter_ms(&self) -> f64 {
        if self.jitter_samples == 0 {
            return 0.0;
        }
        self.jitter_sum / self.jitter_samples as f64 * 1000.0 / f64::from(self.clock_rate)
    }

    /// The SSRC being received, once a packet came.
    pub fn ssrc(&self) -> Option<u32> {
        self.ssrc
    }

    /// The fraction lost since the previous call, as the 8-bit fixed point
    /// number of a report block (A.3); moves the "prior" marks.
    pub fn take_fraction_lost(&mut self) -> u8 {
        let expected = self.expected();
        let expected_interval = expected.saturating_sub(self.expected_prior);
        let received_interval = self.received.saturating_sub(self.received_prior);
        self.expected_prior = expected;
        self.received_prior = self.received;
        let lost_interval = expected_interval.saturating_sub(received_interval);
        if expected_interval == 0 || lost_interval == 0 {
            0
        } else {
            ((lost_interval << 8) / expected_interval).min(255) as u8
        }
    }
}

/// The ITU-T G.107 E-model, reduced to what a relay can know: the codec's
/// equipment impairment (Ie) and packet-loss robustness (Bpl) from G.113
/// Appendix I, the one-way delay, the packet loss and the jitter (counted
/// as delay: a jitter buffer holds about twice the jitter).
pub mod emodel {
    /// G.107's default R for a connection with no impairment but the
    /// default noise, loudness and sidetone (Ro − Is with default values).
    pub const R_DEFAULT: f64 = 93.2;

    /// A codec's impairment figures (G.113 Appendix I).
    #[derive(Debug, Clone, Copy, PartialEq)]
    pub struct CodecImpairment {
        /// Equipment impairment factor Ie.
        pub ie: f64,
        /// Packet-loss robustness factor Bpl.
        pub bpl: f64,
        /// Delay the codec and its packetisation add, ms (one 20 ms frame
        /// for G.711 as browsers and carriers send it).
        pub frame_ms: f64,
    }

    /// G.711 with packet loss concealment (browsers conceal; so do the
    /// media servers carriers run): Ie 0, Bpl 25.1.
    pub const G711_PLC: CodecImpairment = CodecImpairment {
        ie: 0.0,
        bpl: 25.1,
        frame_ms: 20.0,
    };

    /// G.711 without concealment: Ie 0, Bpl 4.3.
    pub const G711: CodecImpairment = CodecImpairment {
        ie: 0.0,
        bpl: 4.3,
        frame_ms: 20.0,
    };

    /// What a leg's figures come to.
    #[derive(Debug, Clone, Copy, PartialEq)]
    pub struct Estimate {
        pub r: f64,
        pub mos: f64,
    }

    /// R and MOS for `codec` with `one_way_delay_ms` of network delay,
    /// `loss_percent` random loss and `jitter_ms` interarrival jitter.
    ///
    /// Delay impairment Id uses the simplified form of G.107's for
    /// default echo settings (Cole and Rosenbluth): 0.024·d + 0.11·(d −
    /// 177.3) for d > 177.3 ms, where d is the mouth-to-ear delay: network
    /// delay, the codec frame and a jitter buffer of 2 × jitter. Loss
    /// enters as G.107 §3.6: Ie,eff = Ie + (95 − Ie)·Ppl/(Ppl/BurstR + Bpl)
    /// with random loss (BurstR = 1).
    pub fn estimate(
        codec: CodecImpairment,
        one_way_delay_ms: f64,
        loss_percent: f64,
        jitter_ms: f64,
    ) -> Estimate {
        let ppl = loss_percent.clamp(0.0, 100.0);
        let d = one_way_delay_ms.max(0.0) + codec.frame_ms + 2.0 * jitter_ms.max(0.0);
        let id = 0.024 * d + if d > 177.3 { 0.11 * (d - 177.3) } else { 0.0 };
        let ie_eff = codec.ie + (95.0 - codec.ie) * ppl / (ppl + codec.bpl);
        let r = (R_DEFAULT - id - ie_eff).clamp(0.0, 100.0);
        Estimate {
            r,
            mos: mos_of_r(r),
        }
    }

    /// G.107 Annex B: MOS (conversational quality, 1–4.5) from R.
    pub fn mos_of_r(r: f64) -> f64 {
        if r <= 0.0 {
            1.0
        } else if r >= 100.0 {
            4.5
        } else {
            1.0 + 0.035 * r + r * (r - 60.0) * (100.0 - r) * 7.0e-6
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::emodel::{self, G711_PLC};
    use super::*;

    /// Packets every 20 ms (160 RTP units at 8 kHz).
    fn feed(
        stats: &mut ReceiveStats,
        seqs: impl IntoIterator<Item = u16>,
        delay_us: impl Fn(u16) -> u64,
    ) {
        for seq in seqs {
            let n = u64::from(seq);
            stats.packet(7, seq, (n * 160) as u32, n * 20_000 + delay_us(seq));
        }
    }

    #[test]
    fn a_clean_stream_has_no_loss_and_no_jitter() {
        let mut s = ReceiveStats::new(8000);
        feed(&mut s, 0..500, |_| 0);
        assert_eq!((s.received(), s.expected(), s.lost()), (500, 500, 0));
        assert_eq!(s.jitter_units(), 0);
        assert_eq!(s.take_fraction_lost(), 0);
    }

    #[test]
    fn gaps_count_as_lost() {
        let mut s = ReceiveStats::new(8000);
        // Every 20th packet missing: 5 %.
        feed(&mut s, (0..1000).filter(|n| n % 20 != 7), |_| 0);
        assert_eq!(s.expected(), 1000);
        assert_eq!(s.lost(), 50);
        assert!((s.loss_percent() - 5.0).abs() < 1e-9);
        // 50/1000 in 1/256 units.
        assert_eq!(s.take_fraction_lost(), 12);
        // Nothing new lost since.
        feed(&mut s, 1000..1100, |_| 0);
        assert_eq!(s.take_fraction_lost(), 0);
    }

    #[test]
    fn the_sequence_wraps_without_losses() {
        let mut s = ReceiveStats::new(8000);
        feed(&mut s, (65_000..=u16::MAX).chain(0..1000), |_| 0);
        assert_eq!(s.lost(), 0);
        assert_eq!(s.expected(), 536 + 1000);
        assert_eq!(s.extended_max(), (1 << 16) + 999);
    }

    #[test]
    fn late_packets_fill_their_gap() {
        let mut s = ReceiveStats::new(8000);
        feed(&mut s, [0, 1, 2, 4, 5, 3, 6], |_| 0);
        assert_eq!(s.lost(), 0);
        assert_eq!(s.received(), 7);
    }

    #[test]
    fn alternating_delay_converges_to_its_size() {
        // Every other packet 10 ms late: |D| is 10 ms on every packet, so
        // J converges to 10 ms (80 units).
        let mut s = ReceiveStats::new(8000);
        feed(&mut s, 0..500, |seq| if seq % 2 == 1 { 10_000 } else { 0 });
        assert!((s.jitter_ms() - 10.0).abs() < 0.1, "{}", s.jitter_ms());
        assert!((79..=80).contains(&s.jitter_units()));
        // The mean lags by the estimate's start (it rises over ~16
        // packets from 0): 500 packets in, within 0.4 ms.
        assert!(
            (9.6..10.0).contains(&s.mean_jitter_ms()),
            "{}",
            s.mean_jitter_ms()
        );
    }

    #[test]
    fn a_constant_delay_is_not_jitter() {
        let mut s = ReceiveStats::new(8000);
        feed(&mut s, 0..200, |_| 150_000);
        assert_eq!(s.jitter_units(), 0);
    }

    #[test]
    fn a_new_source_keeps_the_counts() {
        let mut s = ReceiveStats::new(8000);
        feed(&mut s, 0..100, |_| 0);
        for seq in 5000..5100u16 {
            s.packet(9, seq, u32::from(seq) * 160, u64::from(seq) * 20_000);
        }
        assert_eq!(s.received(), 200);
        assert_eq!(s.lost(), 0);
        assert_eq!(s.ssrc(), Some(9));
    }

    #[test]
    fn a_jump_in_numbering_is_not_loss() {
        let mut s = ReceiveStats::new(8000);
        feed(&mut s, (0..100).chain(40_000..40_100), |_| 0);
        assert_eq!(s.lost(), 0);
        assert_eq!(s.expected(), 200);
    }

    #[test]
    fn emodel_mos_of_r_matches_g107_annex_b() {
        assert_eq!(emodel::mos_of_r(0.0), 1.0);
        assert_eq!(emodel::mos_of_r(100.0), 4.5);
        // R 93.2 → MOS 4.41 (the G.107 default connection).
        assert!((emodel::mos_of_r(93.2) - 4.41).abs() < 0.005);
        // R 50 → 2.58, R 70 → 3.60 (the usual "acceptable" line).
        assert!((emodel::mos_of_r(50.0) - 2.575).abs() < 0.005);
        assert!((emodel::mos_of_r(70.0) - 3.6).abs() < 0.01);
    }

    #[test]
    fn emodel_clean_g711_is_toll_quality() {
        let e = emodel::estimate(G711_PLC, 20.0, 0.0, 0.0);
        // d = 40 ms: Id 0.96, R 92.24.
        assert!((e.r - 92.24).abs() < 0.01, "{e:?}");
        assert!(e.mos > 4.3);
    }

    #[test]
    fn emodel_loss_and_delay_lower_the_score() {
        // 5 % random loss with PLC: Ie,eff = 95·5/30.1 = 15.78.
        let lossy = emodel::estimate(G711_PLC, 20.0, 5.0, 0.0);
        assert!((lossy.r - (92.24 - 15.78)).abs() < 0.01, "{lossy:?}");
        // Long delay: d = 300 + 20 → Id = 7.68 + 0.11·142.7 = 23.38.
        let slow = emodel::estimate(G711_PLC, 300.0, 0.0, 0.0);
        assert!((slow.r - (93.2 - 23.38)).abs() < 0.01, "{slow:?}");
        // Jitter counts twice as delay.
        let jittery = emodel::estimate(G711_PLC, 0.0, 0.0, 10.0);
        let delayed = emodel::estimate(G711_PLC, 20.0, 0.0, 0.0);
        assert!((jittery.r - delayed.r).abs() < 1e-9);
        // Monotonic in loss.
        let worse = emodel::estimate(G711_PLC, 20.0, 20.0, 0.0);
        assert!(worse.mos < lossy.mos && lossy.mos < 4.3);
        // Without concealment loss hurts more.
        let no_plc = emodel::estimate(emodel::G711, 20.0, 5.0, 0.0);
        assert!(no_plc.mos < lossy.mos);
    }

    #[test]
    fn emodel_bounds_hold_for_absurd_input() {
        let e = emodel::estimate(G711_PLC, 1e9, 500.0, -3.0);
        assert_eq!((e.r, e.mos), (0.0, 1.0));
        let e = emodel::estimate(G711_PLC, f64::NAN.max(0.0), 0.0, 0.0);
        assert!(e.mos > 4.0);
    }
}
