//! RTP on the carrier leg (RFC 3550 §5.1), sans-IO: header parsing that
//! never panics, header writing, and the per-direction [`Rewriter`] that
//! gives each direction our own SSRC and continuous sequence numbers and
//! timestamps, whatever the source does.

use std::time::{Duration, Instant};

/// A parsed RTP packet borrowed from a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpView<'a> {
    pub marker: bool,
    pub pt: u8,
    pub seq: u16,
    pub ts: u32,
    pub ssrc: u32,
    /// The payload without header, CSRCs, extension or padding.
    pub payload: &'a [u8],
}

/// What a datagram on the carrier's RTP port turned out to be.
#[derive(Debug, PartialEq, Eq)]
pub enum Datagram<'a> {
    Rtp(RtpView<'a>),
    /// RTCP multiplexed on the RTP port (payload type 200-204 with the marker bit).
    Rtcp,
    Invalid,
}

/// Parses one datagram. Checks the version, CSRC count, extension and
/// padding lengths against the datagram's size.
pub fn parse(buf: &[u8]) -> Datagram<'_> {
    if buf.len() < 12 || buf[0] >> 6 != 2 {
        return Datagram::Invalid;
    }
    if (200..=204).contains(&buf[1]) {
        return Datagram::Rtcp;
    }
    let padding = buf[0] & 0x20 != 0;
    let extension = buf[0] & 0x10 != 0;
    let csrc_count = usize::from(buf[0] & 0x0f);
    let mut start = 12 + 4 * csrc_count;
    if extension {
        let Some(ext) = buf.get(start..start + 4) else {
            return Datagram::Invalid;
        };
        start += 4 + 4 * usize::from(u16::from_be_bytes([ext[2], ext[3]]));
    }
    let mut end = buf.len();
    if padding {
        let pad = usize::from(buf[end - 1]);
        if pad == 0 || end < start + pad {
            return Datagram::Invalid;
        }
        end -= pad;
    }
    let Some(payload) = buf.get(start..end) else {
        return Datagram::Invalid;
    };
    Datagram::Rtp(RtpView {
        marker: buf[1] & 0x80 != 0,
        pt: buf[1] & 0x7f,
        seq: u16::from_be_bytes([buf[2], buf[3]]),
        ts: u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]),
        ssrc: u32::from_be_bytes([buf[8], buf[9], buf[10], buf[11]]),
        payload,
    })
}

/// Writes a 12-byte header (no CSRC, no extension) into `out` (cleared first).
/// The payload follows; see [`write_payload`].
pub fn write_header(out: &mut Vec<u8>, marker: bool, pt: u8, seq: u16, ts: u32, ssrc: u32) {
    out.clear();
    out.push(0x80);
    out.push(u8::from(marker) << 7 | (pt & 0x7f));
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(&ts.to_be_bytes());
    out.extend_from_slice(&ssrc.to_be_bytes());
}

/// Appends `payload` to `out`, converting G.711 law on the way if `convert` says so.
pub fn write_payload(out: &mut Vec<u8>, payload: &[u8], convert: Option<&[u8; 256]>) {
    match convert {
        None => out.extend_from_slice(payload),
        Some(table) => out.extend(payload.iter().map(|b| table[usize::from(*b)])),
    }
}

/// A jump of more sequence numbers than this within one SSRC is treated as
/// a new source (RFC 3550 A.1 uses 3000 as MAX_DROPOUT).
const MAX_DROPOUT: i64 = 3000;
/// 8 kHz: every codec on this path is G.711 or telephone-event/8000.
const CLOCK_PER_MS: u64 = 8;
/// The smallest step in RTP time when a new source starts (one 20 ms packet).
const MIN_REBASE_STEP: u32 = 160;

/// Rewrites one direction's SSRC, sequence numbers and timestamps.
///
/// Invariants: the output sequence number (extended, 64 bits) only moves by
/// the input's own steps while the source stays the same, and by exactly
/// one when the source changes (new SSRC or a jump beyond
/// `MAX_DROPOUT`); the output timestamp keeps the input's spacing and, on
/// a source change, advances by the wall-clock time since the last packet.
/// The output never starts above 2^15, so the SRTP rollover counter a fresh
/// receiver assumes (0) is right.
#[derive(Debug)]
pub struct Rewriter {
    pub ssrc: u32,
    first_seq: u64,
    first_ts: u32,
    last: Option<Last>,
    /// Treat the next packet as a new source (after a hold).
    resync: bool,
}

#[derive(Debug, Clone, Copy)]
struct Last {
    in_ssrc: u32,
    in_seq: u16,
    in_ts: u32,
    out_seq: u64,
    out_ts: u32,
    at: Instant,
}

/// Output header fields for one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rewritten {
    /// Extended sequence number (the RTP header carries its low 16 bits).
    pub seq: u64,
    pub ts: u32,
    pub marker: bool,
}

impl Rewriter {
    /// `ssrc` is ours for this direction; `first_seq` is masked below 2^15
    /// (and kept above `MAX_DROPOUT` so reordering never goes below 0).
    pub fn new(ssrc: u32, first_seq: u16, first_ts: u32) -> Rewriter {
        Rewriter {
            ssrc,
            first_seq: u64::from(first_seq & 0x7fff).max(MAX_DROPOUT as u64 + 1),
            first_ts,
            last: None,
            resync: false,
        }
    }

    /// The next packet continues our numbering by one, whatever its own
    /// numbers say (packets dropped during a hold are not a loss).
    pub fn resync(&mut self) {
        self.resync = true;
    }

    pub fn rewrite(
        &mut self,
        now: Instant,
        in_ssrc: u32,
        in_seq: u16,
        in_ts: u32,
        marker: bool,
    ) -> Rewritten {
        if let Some(last) = &mut self.last
            && last.in_ssrc == in_ssrc
            && !self.resync
        {
            let step = i64::from(in_seq.wrapping_sub(last.in_seq) as i16);
            if step.abs() <= MAX_DROPOUT {
                let seq = last.out_seq.saturating_add_signed(step);
                let ts = last.out_ts.wrapping_add(in_ts.wrapping_sub(last.in_ts));
                if step > 0 {
                    *last = Last {
                        in_ssrc,
                        in_seq,
                        in_ts,
                        out_seq: seq,
                        out_ts: ts,
                        at: now,
                    };
                }
                return Rewritten { seq, ts, marker };
            }
        }
        // A new source (or the first packet): continue our own numbering.
        self.resync = false;
        let (seq, ts) = match self.last {
            None => (self.first_seq, self.first_ts),
            Some(last) => {
                let elapsed = now.saturating_duration_since(last.at);
                let samples = u32::try_from(millis(elapsed) * CLOCK_PER_MS)
                    .unwrap_or(u32::MAX)
                    .max(MIN_REBASE_STEP);
                (last.out_seq + 1, last.out_ts.wrapping_add(samples))
            }
        };
        self.last = Some(Last {
            in_ssrc,
            in_seq,
            in_ts,
            out_seq: seq,
            out_ts: ts,
            at: now,
        });
        // The receiver's jitter buffer should resynchronise here.
        Rewritten {
            seq,
            ts,
            marker: true,
        }
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX / CLOCK_PER_MS)
}

/// ITU-T G.711 μ-law → A-law, byte for byte (computed via 16-bit linear).
pub static ULAW_TO_ALAW: std::sync::LazyLock<[u8; 256]> =
    std::sync::LazyLock::new(|| std::array::from_fn(|u| linear_to_alaw(ulaw_to_linear(u as u8))));
/// ITU-T G.711 A-law → μ-law, byte for byte.
pub static ALAW_TO_ULAW: std::sync::LazyLock<[u8; 256]> =
    std::sync::LazyLock::new(|| std::array::from_fn(|a| linear_to_ulaw(alaw_to_linear(a as u8))));

fn ulaw_to_linear(u: u8) -> i16 {
    let u = !u;
    let mut t = (i32::from(u & 0x0f) << 3) + 0x84;
    t <<= (u & 0x70) >> 4;
    (if u & 0x80 != 0 { 0x84 - t } else { t - 0x84 }) as i16
}

fn alaw_to_linear(a: u8) -> i16 {
    let a = a ^ 0x55;
    let mut t = i32::from(a & 0x0f) << 4;
    let seg = (a & 0x70) >> 4;
    match seg {
        0 => t += 8,
        1 => t += 0x108,
        _ => {
            t += 0x108;
            t <<= seg - 1;
        }
    }
    (if a & 0x80 != 0 { t } else { -t }) as i16
}

fn segment(value: i32, ends: &[i32; 8]) -> usize {
    ends.iter().position(|end| value <= *end).unwrap_or(8)
}

fn linear_to_alaw(pcm: i16) -> u8 {
    const ENDS: [i32; 8] = [0x1f, 0x3f, 0x7f, 0xff, 0x1ff, 0x3ff, 0x7ff, 0xfff];
    let mut pcm = i32::from(pcm) >> 3;
    let mask = if pcm >= 0 {
        0xd5
    } else {
        pcm = -pcm - 1;
        0x55
    };
    let seg = segment(pcm, &ENDS);
    if seg >= 8 {
        return 0x7f ^ mask;
    }
    let shift = if seg < 2 { 1 } else { seg };
    let aval = ((seg as i32) << 4) | ((pcm >> shift) & 0x0f);
    (aval as u8) ^ mask
}

fn linear_to_ulaw(pcm: i16) -> u8 {
    const ENDS: [i32; 8] = [0x3f, 0x7f, 0xff, 0x1ff, 0x3ff, 0x7ff, 0xfff, 0x1fff];
    const CLIP: i32 = 8159;
    let mut pcm = i32::from(pcm) >> 2;
    let mask = if pcm < 0 {
        pcm = -pcm;
        0x7f
    } else {
        0xff
    };
    pcm = pcm.min(CLIP) + (0x84 >> 2);
    let seg = segment(pcm, &ENDS);
    if seg >= 8 {
        return 0x7f ^ mask;
    }
    let uval = ((seg as i32) << 4) | ((pcm >> (seg + 1)) & 0x0f);
    (uval as u8) ^ mask
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(marker: bool, pt: u8, seq: u16, ts: u32, ssrc: u32, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        write_header(&mut out, marker, pt, seq, ts, ssrc);
        write_payload(&mut out, payload, None);
        out
    }

    #[test]
    fn parse_round_trips_written_packets() {
        let p = packet(true, 101, 65535, 0xdead_beef, 7, &[1, 2, 3, 4]);
        assert_eq!(
            parse(&p),
            Datagram::Rtp(RtpView {
                marker: true,
                pt: 101,
                seq: 65535,
                ts: 0xdead_beef,
                ssrc: 7,
                payload: &[1, 2, 3, 4],
            })
        );
    }

    #[test]
    fn parse_skips_csrcs_extension_and_padding() {
        let mut p = vec![0x80 | 0x20 | 0x10 | 0x01, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3];
        p.extend_from_slice(&[9, 9, 9, 9]); // CSRC
        p.extend_from_slice(&[0xbe, 0xde, 0, 1, 1, 2, 3, 4]); // extension, 1 word
        p.extend_from_slice(&[0xaa, 0xbb]); // payload
        p.extend_from_slice(&[0, 0, 3]); // padding of 3
        let Datagram::Rtp(v) = parse(&p) else {
            panic!("valid packet");
        };
        assert_eq!(v.payload, &[0xaa, 0xbb]);
    }

    #[test]
    fn parse_rejects_hostile_datagrams() {
        assert_eq!(parse(&[]), Datagram::Invalid);
        assert_eq!(parse(&[0x80; 11]), Datagram::Invalid);
        assert_eq!(parse(&[0x40; 12]), Datagram::Invalid); // version 1
        assert_eq!(
            parse(&[0x8f, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
            Datagram::Invalid
        ); // 15 CSRCs
        assert_eq!(
            parse(&[0x90, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
            Datagram::Invalid
        ); // ext cut
        let mut ext = vec![
            0x90, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xbe, 0xde, 0xff, 0xff,
        ];
        assert_eq!(parse(&ext), Datagram::Invalid);
        ext[14] = 0;
        ext[15] = 0;
        assert!(matches!(parse(&ext), Datagram::Rtp(v) if v.payload.is_empty()));
        let mut pad = packet(false, 0, 1, 1, 1, &[1, 2]);
        pad[0] |= 0x20;
        *pad.last_mut().expect("non-empty") = 200;
        assert_eq!(parse(&pad), Datagram::Invalid);
        *pad.last_mut().expect("non-empty") = 0;
        assert_eq!(parse(&pad), Datagram::Invalid);
        assert_eq!(
            parse(&[0x80, 200, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]),
            Datagram::Rtcp
        );
        // Every short byte pattern is handled without panicking.
        for first in 0..=255u8 {
            for len in 0..40 {
                let mut d = vec![first; len];
                if len > 3 {
                    d[len - 1] = len as u8;
                }
                let _ = parse(&d);
            }
        }
    }

    #[test]
    fn rewriter_keeps_spacing_and_continues_across_sources() {
        let t0 = Instant::now();
        let mut r = Rewriter::new(0x1234, 5000, 1_000);
        let a = r.rewrite(t0, 1, 65534, 90_000, false);
        assert_eq!((a.seq, a.ts, a.marker), (5000, 1_000, true));
        let b = r.rewrite(t0, 1, 65535, 90_160, false);
        assert_eq!((b.seq, b.ts, b.marker), (5001, 1_160, false));
        // Wrap of the input sequence, one loss.
        let c = r.rewrite(t0, 1, 1, 90_480, false);
        assert_eq!((c.seq, c.ts), (5003, 1_480));
        // Late packet: its own place, state unchanged.
        let late = r.rewrite(t0, 1, 0, 90_320, false);
        assert_eq!((late.seq, late.ts), (5002, 1_320));
        // New SSRC 100 ms later: next number, timestamp by wall clock.
        let d = r.rewrite(t0 + Duration::from_millis(100), 2, 17, 5, false);
        assert_eq!((d.seq, d.ts, d.marker), (5004, 1_480 + 800, true));
        let e = r.rewrite(t0 + Duration::from_millis(120), 2, 18, 165, false);
        assert_eq!((e.seq, e.ts, e.marker), (5005, 2_280 + 160, false));
        // A jump beyond MAX_DROPOUT within one SSRC is a new source too.
        let f = r.rewrite(t0 + Duration::from_millis(120), 2, 18 + 20_000, 0, false);
        assert_eq!((f.seq, f.ts), (5006, 2_440 + MIN_REBASE_STEP));
        // After a resync the same source continues by one.
        r.resync();
        let g = r.rewrite(t0 + Duration::from_millis(140), 2, 18 + 20_500, 0, false);
        assert_eq!((g.seq, g.ts, g.marker), (5007, 2_600 + 160, true));
        let h = r.rewrite(t0 + Duration::from_millis(160), 2, 18 + 20_501, 160, false);
        assert_eq!((h.seq, h.ts, h.marker), (5008, 2_760 + 160, false));
        // The first number is kept below 2^15 and above MAX_DROPOUT.
        assert_eq!(Rewriter::new(0, 0xffff, 0).first_seq, 0x7fff);
        assert_eq!(Rewriter::new(0, 3, 0).first_seq, 3001);
    }

    #[test]
    fn g711_tables_match_the_reference() {
        assert_eq!(ulaw_to_linear(0xff), 0);
        assert_eq!(ulaw_to_linear(0x00), -32124);
        assert_eq!(ulaw_to_linear(0x80), 32124);
        assert_eq!(alaw_to_linear(0xd5), 8);
        assert_eq!(alaw_to_linear(0x55), -8);
        assert_eq!(alaw_to_linear(0xaa), 32256);
        for a in 0..=255u8 {
            assert_eq!(linear_to_alaw(alaw_to_linear(a)), a, "A-law {a:#x}");
        }
        for u in 0..=255u8 {
            // μ-law has two zeros (0x7f, 0xff); both encode back to 0xff.
            let expected = if u == 0x7f { 0xff } else { u };
            assert_eq!(linear_to_ulaw(ulaw_to_linear(u)), expected, "μ-law {u:#x}");
        }
        // The smallest steps map to each other; loud stays loud with the same sign.
        assert_eq!(ALAW_TO_ULAW[0xd5], 0xfe);
        assert_eq!(ULAW_TO_ALAW[0xff], 0xd5);
        let loud = alaw_to_linear(ULAW_TO_ALAW[0x80]);
        assert!(loud > 30_000, "{loud}");
    }
}
