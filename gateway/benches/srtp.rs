//! SRTP toward carriers (`media::srtp`, AES_CM_128_HMAC_SHA1_80): how many
//! G.711 packets (20 ms, 160 bytes of payload) one core protects and
//! unprotects per second, and the per-packet latency percentiles.
//!
//! `cargo bench -p gateway --bench srtp`

use std::time::Instant;

use gateway::media::SrtpSuite;
use gateway::media::srtp::{SrtpContext, SrtpKey};

const PACKETS: usize = 200_000;

fn packet(seq: u16) -> Vec<u8> {
    let mut p = vec![0x80, 0, 0, 0, 0, 0, 0, 0, 0x12, 0x34, 0x56, 0x78];
    p[2..4].copy_from_slice(&seq.to_be_bytes());
    p[4..8].copy_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    p.extend(std::iter::repeat_n(0xd5, 160));
    p
}

fn percentile(sorted: &[u128], p: f64) -> u128 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn main() {
    let key = SrtpKey::random(SrtpSuite::AesCm128HmacSha1_80);
    let mut tx = SrtpContext::new(&key);
    let mut rx = SrtpContext::new(&key);
    let plain: Vec<Vec<u8>> = (0..PACKETS).map(|i| packet(i as u16)).collect();

    let mut protected = Vec::with_capacity(PACKETS);
    let mut protect_ns = Vec::with_capacity(PACKETS);
    let started = Instant::now();
    for p in &plain {
        let mut p = p.clone();
        let t = Instant::now();
        tx.protect(&mut p).expect("well-formed RTP");
        protect_ns.push(t.elapsed().as_nanos());
        protected.push(p);
    }
    let protect_total = started.elapsed();

    let mut unprotect_ns = Vec::with_capacity(PACKETS);
    let started = Instant::now();
    let mut ok = 0usize;
    for p in &protected {
        let t = Instant::now();
        if rx.unprotect(p).is_ok() {
            ok += 1;
        }
        unprotect_ns.push(t.elapsed().as_nanos());
    }
    let unprotect_total = started.elapsed();
    assert_eq!(ok, PACKETS, "every packet authenticates");

    protect_ns.sort_unstable();
    unprotect_ns.sort_unstable();
    let rate = |d: std::time::Duration| PACKETS as f64 / d.as_secs_f64();
    println!("SRTP AES_CM_128_HMAC_SHA1_80, {PACKETS} G.711 packets (172 bytes → 182 bytes)");
    println!(
        "protect:   {:>10.0} packets/s  p50 {} ns  p99 {} ns  max {} ns",
        rate(protect_total),
        percentile(&protect_ns, 0.5),
        percentile(&protect_ns, 0.99),
        protect_ns.last().copied().unwrap_or(0)
    );
    println!(
        "unprotect: {:>10.0} packets/s  p50 {} ns  p99 {} ns  max {} ns",
        rate(unprotect_total),
        percentile(&unprotect_ns, 0.5),
        percentile(&unprotect_ns, 0.99),
        unprotect_ns.last().copied().unwrap_or(0)
    );
    // One call is 50 packets/s each way.
    let per_call = 50.0 * (1.0 / rate(protect_total) + 1.0 / rate(unprotect_total));
    println!(
        "one core: {:.0} SRTP calls' carrier legs at once (50 packets/s each way)",
        1.0 / per_call
    );
}
