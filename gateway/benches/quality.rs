//! What the call-quality accounting costs per packet (RFC 3550 loss and
//! jitter on each leg's received stream, our send counts for the SR),
//! next to what the relay's own per-packet work costs, on the same G.711
//! packets; and the cost of building one RTCP report (one per call every
//! 5 s). Sans-IO loops only: no sockets, no SRTP, no str0m.
//!
//! `cargo bench -p gateway --bench quality`

use gateway::media::bench::relay_and_quality;

fn main() {
    let packets = 1_000_000;
    // Warm up, then take the best of five (the machine is shared).
    let _ = relay_and_quality(50_000);
    let runs: Vec<_> = (0..5).map(|_| relay_and_quality(packets)).collect();
    let best = |f: fn(&gateway::media::bench::PerPacket) -> f64| {
        runs.iter().map(f).fold(f64::INFINITY, f64::min)
    };
    let relay = best(|r| r.relay_ns);
    let quality = best(|r| r.quality_ns);
    let report = best(|r| r.report_ns);
    println!("quality accounting vs relay, {packets} G.711 packets each way, best of 5");
    println!("relay (parse, map, rewrite, write):  {relay:>7.1} ns/packet");
    println!(
        "quality accounting (RFC 3550 A.1/A.8): {quality:>5.1} ns/packet ({:.0} % of the relay)",
        100.0 * quality / relay
    );
    println!("one RTCP SR/RR + SDES compound:       {report:>7.1} ns (every 5 s per call)");
    // 50 packets/s each way per call.
    println!(
        "per call: {:.1} µs/s of CPU for the accounting, {:.1} µs/s for the relay",
        100.0 * quality / 1000.0,
        100.0 * relay / 1000.0
    );
}
