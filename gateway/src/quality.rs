//! Per-carrier quality over time, sans-IO: what one call record adds to a
//! carrier's hour and day ([`Bucket`]: sums and fixed histograms, so
//! buckets merge and percentiles need no list of calls), the figures a
//! bucket comes to (ASR, NER, ACD, PDD percentiles, loss, jitter, MOS),
//! and whether a carrier's last hour crosses its alert threshold.
//!
//! ```text
//!  call record ──► record_figures() ──► Bucket::add (hour row, day row)
//!  Bucket rows ──► merge over a range ──► Figures ──► API / Quality page
//!  last hour's Bucket + QualityThreshold ──► breach() ──► alert text
//! ```
//!
//! The rows are written by `db::record_carrier_quality` as each record is
//! stored; nothing here reads the clock or the database.

use serde::{Deserialize, Serialize};
use shared::api::{CallOutcome, CallRecord, QualityThreshold};

/// Upper edges of the PDD histogram, ms (the last bin is open).
pub const PDD_EDGES_MS: [f64; 12] = [
    100.0, 200.0, 300.0, 500.0, 750.0, 1000.0, 1500.0, 2000.0, 3000.0, 5000.0, 8000.0, 15000.0,
];
/// Upper edges of the loss histogram, % (the last bin is open).
pub const LOSS_EDGES: [f64; 10] = [0.0, 0.5, 1.0, 2.0, 3.0, 5.0, 7.5, 10.0, 15.0, 20.0];
/// Upper edges (exclusive) of the MOS histogram (the last bin is open).
pub const MOS_EDGES: [f64; 5] = [2.5, 3.1, 3.6, 4.0, 4.3];
/// The page's loss bands (0, ≤1, ≤3, ≤5, ≤10, >10 %) as ranges of
/// [`LOSS_EDGES`] bins.
const LOSS_BANDS: [std::ops::Range<usize>; 6] = [0..1, 1..3, 3..5, 5..6, 6..8, 8..11];

/// One carrier's sums over a bucket of time.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Bucket {
    pub calls: i64,
    pub answered: i64,
    /// Answered, busy or not answered: the network delivered the call.
    pub delivered: i64,
    pub talk_s: i64,
    pub pdd_calls: i64,
    pub pdd_sum_ms: f64,
    pub pdd_bins: Vec<i64>,
    /// The extremes, so that a percentile read inside a bin never lies
    /// outside what was seen (one call of 12 ms is not "p50 50 ms").
    #[serde(default)]
    pub pdd_range: Option<(f64, f64)>,
    /// Calls with media figures on the carrier leg.
    pub media_calls: i64,
    pub loss_sum: f64,
    pub loss_bins: Vec<i64>,
    #[serde(default)]
    pub loss_range: Option<(f64, f64)>,
    pub jitter_sum_ms: f64,
    pub mos_sum: f64,
    pub mos_bins: Vec<i64>,
}

/// A record's contribution: outcome, PDD and the carrier leg's figures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RecordFigures {
    pub answered: bool,
    pub delivered: bool,
    pub talk_s: i64,
    pub pdd_ms: Option<f64>,
    pub media: Option<MediaFigures>,
}

/// The carrier leg of one call: the worse direction's loss and jitter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MediaFigures {
    pub loss_percent: f64,
    pub jitter_ms: f64,
    pub mos: f64,
}

/// The carrier leg's figures of a record, if it had media.
pub fn media_figures(record: &CallRecord) -> Option<MediaFigures> {
    let leg = record.quality.as_ref()?.carrier?;
    let far = leg.far_end.unwrap_or_default();
    Some(MediaFigures {
        loss_percent: leg.received.loss_percent().max(far.loss_percent()),
        jitter_ms: leg.received.jitter_us.max(far.jitter_us) as f64 / 1000.0,
        mos: leg.mos_x100 as f64 / 100.0,
    })
}

/// What a record adds to its carrier's buckets.
pub fn record_figures(record: &CallRecord) -> RecordFigures {
    let outcome = record.outcome();
    // INVITE to the first 18x, or to the answer when none came first.
    let pdd_ms = record
        .ringing_at
        .or(record.answered_at)
        .map(|at| (at - record.invite_at).max(0) as f64);
    RecordFigures {
        answered: outcome == CallOutcome::Answered,
        delivered: matches!(
            outcome,
            CallOutcome::Answered | CallOutcome::Busy | CallOutcome::NoAnswer
        ),
        talk_s: if record.answered_at.is_some() {
            record.duration_s.max(0)
        } else {
            0
        },
        pdd_ms,
        media: media_figures(record),
    }
}

/// A failed attempt on a carrier the call then left (failover): a call it
/// did not complete, delivered only if the callee was busy or did not answer.
pub fn attempt_figures(code: u16) -> RecordFigures {
    RecordFigures {
        answered: false,
        delivered: matches!(code, 486 | 600 | 408 | 480 | 487),
        talk_s: 0,
        pdd_ms: None,
        media: None,
    }
}

fn bin(edges: &[f64], value: f64, inclusive: bool) -> usize {
    edges
        .iter()
        .position(|e| if inclusive { value <= *e } else { value < *e })
        .unwrap_or(edges.len())
}

fn bump(bins: &mut Vec<i64>, len: usize, i: usize) {
    bins.resize(len.max(bins.len()), 0);
    bins[i] += 1;
}

fn add_bins(into: &mut Vec<i64>, from: &[i64]) {
    into.resize(into.len().max(from.len()), 0);
    for (a, b) in into.iter_mut().zip(from) {
        *a += b;
    }
}

fn widen(a: Option<(f64, f64)>, b: Option<(f64, f64)>) -> Option<(f64, f64)> {
    match (a, b) {
        (Some((lo, hi)), Some((l, h))) => Some((lo.min(l), hi.max(h))),
        (x, None) | (None, x) => x,
    }
}

fn clamp(v: Option<f64>, range: Option<(f64, f64)>) -> Option<f64> {
    match (v, range) {
        (Some(v), Some((lo, hi))) => Some(v.clamp(lo, hi)),
        (v, _) => v,
    }
}

/// The value at quantile `q` of a histogram with upper `edges`, read
/// linearly inside its bin (the open last bin reads as its lower edge).
fn quantile(bins: &[i64], edges: &[f64], q: f64) -> Option<f64> {
    let total: i64 = bins.iter().sum();
    if total == 0 {
        return None;
    }
    let rank = q * total as f64;
    let mut seen = 0.0;
    for (i, n) in bins.iter().enumerate() {
        let n = *n as f64;
        if n > 0.0 && seen + n >= rank {
            let low = if i == 0 { 0.0 } else { edges[i - 1] };
            let Some(high) = edges.get(i) else {
                return Some(low);
            };
            return Some(low + (high - low) * ((rank - seen) / n).clamp(0.0, 1.0));
        }
        seen += n;
    }
    edges.last().copied()
}

/// What a bucket (or a merged range) comes to.
#[derive(Debug, Clone, PartialEq)]
pub struct Figures {
    pub calls: i64,
    pub answered: i64,
    pub asr: f64,
    pub ner: f64,
    pub acd_s: f64,
    pub minutes: f64,
    pub pdd_p50_ms: Option<i64>,
    pub pdd_p95_ms: Option<i64>,
    pub media_calls: i64,
    pub loss_avg: Option<f64>,
    pub loss_p95: Option<f64>,
    pub jitter_avg_ms: Option<f64>,
    pub mos_avg: Option<f64>,
    /// Calls per loss band (0, ≤1, ≤3, ≤5, ≤10, >10 %).
    pub loss_histogram: Vec<i64>,
    /// Calls per MOS band (<2.5, <3.1, <3.6, <4.0, <4.3, ≥4.3).
    pub mos_histogram: Vec<i64>,
}

impl Bucket {
    pub fn add(&mut self, f: &RecordFigures) {
        self.calls += 1;
        self.answered += i64::from(f.answered);
        self.delivered += i64::from(f.delivered);
        self.talk_s += f.talk_s;
        if let Some(pdd) = f.pdd_ms {
            self.pdd_calls += 1;
            self.pdd_sum_ms += pdd;
            self.pdd_range = widen(self.pdd_range, Some((pdd, pdd)));
            bump(
                &mut self.pdd_bins,
                PDD_EDGES_MS.len() + 1,
                bin(&PDD_EDGES_MS, pdd, true),
            );
        }
        if let Some(m) = f.media {
            self.media_calls += 1;
            self.loss_sum += m.loss_percent;
            self.loss_range = widen(self.loss_range, Some((m.loss_percent, m.loss_percent)));
            self.jitter_sum_ms += m.jitter_ms;
            self.mos_sum += m.mos;
            bump(
                &mut self.loss_bins,
                LOSS_EDGES.len() + 1,
                bin(&LOSS_EDGES, m.loss_percent, true),
            );
            bump(
                &mut self.mos_bins,
                MOS_EDGES.len() + 1,
                bin(&MOS_EDGES, m.mos, false),
            );
        }
    }

    pub fn merge(&mut self, other: &Bucket) {
        self.calls += other.calls;
        self.answered += other.answered;
        self.delivered += other.delivered;
        self.talk_s += other.talk_s;
        self.pdd_calls += other.pdd_calls;
        self.pdd_sum_ms += other.pdd_sum_ms;
        add_bins(&mut self.pdd_bins, &other.pdd_bins);
        self.pdd_range = widen(self.pdd_range, other.pdd_range);
        self.media_calls += other.media_calls;
        self.loss_sum += other.loss_sum;
        add_bins(&mut self.loss_bins, &other.loss_bins);
        self.loss_range = widen(self.loss_range, other.loss_range);
        self.jitter_sum_ms += other.jitter_sum_ms;
        self.mos_sum += other.mos_sum;
        add_bins(&mut self.mos_bins, &other.mos_bins);
    }

    pub fn figures(&self) -> Figures {
        let pct = |n: i64| {
            if self.calls == 0 {
                0.0
            } else {
                n as f64 * 100.0 / self.calls as f64
            }
        };
        let media = |sum: f64| (self.media_calls > 0).then(|| sum / self.media_calls as f64);
        let mut loss_bins = self.loss_bins.clone();
        loss_bins.resize(LOSS_EDGES.len() + 1, 0);
        let mut mos_histogram = self.mos_bins.clone();
        mos_histogram.resize(MOS_EDGES.len() + 1, 0);
        Figures {
            calls: self.calls,
            answered: self.answered,
            asr: pct(self.answered),
            ner: pct(self.delivered),
            acd_s: if self.answered == 0 {
                0.0
            } else {
                self.talk_s as f64 / self.answered as f64
            },
            minutes: self.talk_s as f64 / 60.0,
            pdd_p50_ms: clamp(quantile(&self.pdd_bins, &PDD_EDGES_MS, 0.5), self.pdd_range)
                .map(|v| v.round() as i64),
            pdd_p95_ms: clamp(
                quantile(&self.pdd_bins, &PDD_EDGES_MS, 0.95),
                self.pdd_range,
            )
            .map(|v| v.round() as i64),
            media_calls: self.media_calls,
            loss_avg: media(self.loss_sum),
            loss_p95: clamp(
                quantile(&self.loss_bins, &LOSS_EDGES, 0.95),
                self.loss_range,
            ),
            jitter_avg_ms: media(self.jitter_sum_ms),
            mos_avg: media(self.mos_sum),
            loss_histogram: LOSS_BANDS
                .iter()
                .map(|r| loss_bins[r.clone()].iter().sum())
                .collect(),
            mos_histogram,
        }
    }
}

/// Why a carrier's last hour crosses its threshold, in words; `None`
/// when it does not (or has too few calls to judge).
pub fn breach(carrier: &str, threshold: &QualityThreshold, hour: &Figures) -> Option<String> {
    if hour.calls < threshold.min_calls.max(1) {
        return None;
    }
    let mut why = Vec::new();
    if let (Some(min), Some(mos)) = (threshold.min_mos, hour.mos_avg)
        && mos < min
    {
        why.push(format!("MOS {mos:.2} < {min:.2}"));
    }
    if let Some(min) = threshold.min_asr
        && hour.asr < min
    {
        why.push(format!("ASR {:.0} % < {min:.0} %", hour.asr));
    }
    (!why.is_empty()).then(|| {
        format!(
            "carrier {carrier}: {} over the last hour ({} calls)",
            why.join(", "),
            hour.calls
        )
    })
}

/// The start (Unix seconds) of the bucket of `bucket_s` holding `at_s`.
pub fn bucket_start(at_s: i64, bucket_s: i64) -> i64 {
    at_s.div_euclid(bucket_s) * bucket_s
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use shared::api::{CallDirection, CallQuality, HangupBy, LegQuality, StreamQuality};

    fn record(code: u16, answered_after_ms: Option<i64>, loss: i64, mos_x100: i64) -> CallRecord {
        CallRecord {
            id: "r".into(),
            direction: CallDirection::Outbound,
            account_id: None,
            agent: None,
            caller_id: None,
            dialled: "+15550100".into(),
            carrier_id: None,
            carrier: None,
            invite_at: 1_000_000,
            ringing_at: Some(1_000_400),
            answered_at: answered_after_ms.map(|ms| 1_000_000 + ms),
            ended_at: 1_060_000,
            duration_s: if answered_after_ms.is_some() { 60 } else { 0 },
            final_code: code,
            final_reason: String::new(),
            hangup_by: HangupBy::Agent,
            packets_to_carrier: 0,
            bytes_to_carrier: 0,
            packets_from_carrier: 0,
            bytes_from_carrier: 0,
            attempts: Vec::new(),
            estimated_cost: None,
            campaign_id: None,
            destination_country: None,
            quality: answered_after_ms.map(|_| CallQuality {
                carrier: Some(LegQuality {
                    received: StreamQuality {
                        packets: 1000 - loss,
                        lost: loss,
                        jitter_us: 4000,
                    },
                    far_end: Some(StreamQuality {
                        packets: 1000,
                        lost: 0,
                        jitter_us: 9000,
                    }),
                    rtt_ms: Some(40),
                    r_factor: 80,
                    mos_x100,
                }),
                browser: None,
            }),
        }
    }

    #[test]
    fn asr_ner_acd_and_media_figures() {
        let mut b = Bucket::default();
        b.add(&record_figures(&record(200, Some(2000), 50, 380)));
        b.add(&record_figures(&record(200, Some(1000), 10, 420)));
        b.add(&record_figures(&record(486, None, 0, 0)));
        b.add(&record_figures(&record(503, None, 0, 0)));
        let f = b.figures();
        assert_eq!((f.calls, f.answered, f.media_calls), (4, 2, 2));
        assert_eq!((f.asr, f.ner), (50.0, 75.0));
        assert_eq!((f.acd_s, f.minutes), (60.0, 2.0));
        // Loss: 5 % and 1 %; jitter: the worse direction (9 ms) both times.
        assert!((f.loss_avg.unwrap() - 3.0).abs() < 1e-9);
        assert!((f.jitter_avg_ms.unwrap() - 9.0).abs() < 1e-9);
        assert!((f.mos_avg.unwrap() - 4.0).abs() < 1e-9);
        // Every PDD is 400 ms (the 18x): bin 300–500.
        assert_eq!(f.pdd_p50_ms.map(|v| (300..=500).contains(&v)), Some(true));
        assert_eq!(f.loss_histogram, vec![0, 1, 0, 1, 0, 0]);
        assert_eq!(f.mos_histogram, vec![0, 0, 0, 1, 1, 0]);
    }

    #[test]
    fn merged_buckets_equal_one_bucket_of_everything() {
        let records = [
            record(200, Some(300), 0, 440),
            record(200, Some(3000), 200, 250),
            record(480, None, 0, 0),
        ];
        let mut all = Bucket::default();
        let mut parts = [Bucket::default(), Bucket::default()];
        for (i, r) in records.iter().enumerate() {
            all.add(&record_figures(r));
            parts[i % 2].add(&record_figures(r));
        }
        let mut merged = Bucket::default();
        merged.merge(&parts[0]);
        merged.merge(&parts[1]);
        assert_eq!(merged.figures(), all.figures());
        // A bucket survives its JSON row.
        let json = serde_json::to_string(&all).unwrap();
        assert_eq!(serde_json::from_str::<Bucket>(&json).unwrap(), all);
    }

    #[test]
    fn pdd_percentiles_read_the_histogram() {
        let mut b = Bucket::default();
        for ms in (0..100).map(|i| 100 + i * 10) {
            let mut r = record(200, Some(ms), 0, 440);
            r.ringing_at = None;
            b.add(&record_figures(&r));
        }
        let f = b.figures();
        // True p50 ≈ 595 ms, p95 ≈ 1045 ms; bins read within their width.
        let (p50, p95) = (f.pdd_p50_ms.unwrap(), f.pdd_p95_ms.unwrap());
        assert!((500..=750).contains(&p50), "{p50}");
        assert!((1000..=1500).contains(&p95), "{p95}");
        assert_eq!(Bucket::default().figures().pdd_p50_ms, None);
    }

    #[test]
    fn failed_attempts_count_against_the_carrier() {
        let mut b = Bucket::default();
        b.add(&attempt_figures(503));
        b.add(&attempt_figures(486));
        let f = b.figures();
        assert_eq!((f.calls, f.asr, f.ner), (2, 0.0, 50.0));
    }

    #[test]
    fn one_call_reads_as_itself() {
        let mut b = Bucket::default();
        let mut r = record(200, Some(12), 50, 380);
        r.ringing_at = None;
        b.add(&record_figures(&r));
        let f = b.figures();
        assert_eq!((f.pdd_p50_ms, f.pdd_p95_ms), (Some(12), Some(12)));
        assert_eq!(f.loss_p95, Some(5.0));
    }

    #[test]
    fn thresholds_judge_the_last_hour() {
        let th = QualityThreshold {
            min_mos: Some(3.6),
            min_asr: Some(30.0),
            min_calls: 2,
        };
        let mut b = Bucket::default();
        b.add(&record_figures(&record(200, Some(500), 200, 250)));
        assert_eq!(breach("P", &th, &b.figures()), None, "too few calls");
        b.add(&record_figures(&record(503, None, 0, 0)));
        b.add(&record_figures(&record(503, None, 0, 0)));
        b.add(&record_figures(&record(503, None, 0, 0)));
        let why = breach("P", &th, &b.figures()).unwrap();
        assert_eq!(
            why,
            "carrier P: MOS 2.50 < 3.60, ASR 25 % < 30 % over the last hour (4 calls)"
        );
        let good = QualityThreshold {
            min_mos: Some(2.0),
            min_asr: Some(20.0),
            min_calls: 1,
        };
        assert_eq!(breach("P", &good, &b.figures()), None);
    }

    #[test]
    fn buckets_start_on_the_hour_and_day() {
        assert_eq!(bucket_start(7200 + 59, 3600), 7200);
        assert_eq!(bucket_start(86_400 * 3 + 5, 86_400), 86_400 * 3);
    }
}
