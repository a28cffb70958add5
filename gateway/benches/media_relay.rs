//! Media relay load: N concurrent calls, each a str0m "browser" (full ICE,
//! DTLS-SRTP) and a UDP "carrier", all on 127.0.0.1 in this process.
//!
//! Phase 1 (paced, like real calls): every leg sends one 160-byte G.711
//! packet per 20 ms for MEDIA_BENCH_SECS; prints relayed packets/s,
//! one-way latency percentiles per direction (send → receive, which includes
//! the test browser's own SRTP work) and CPU use.
//! Phase 2 (flood): carriers send as fast as the relay takes it for 2 s;
//! prints the relayed rate toward the browsers (SRTP encrypt in the gateway,
//! decrypt in the test browsers, all on the same cores).
//! Memory: VmRSS deltas while calls are set up and connected.
//!
//! Prints figures, asserts nothing about timing.
//! `MEDIA_BENCH_CALLS` (default 50), `MEDIA_BENCH_SECS` (default 5),
//! `MEDIA_BENCH_DIRECTION=inbound` to set calls up as inbound ones (the
//! carrier offers, the browser answers our offer); the relaying is the same.

#[path = "../tests/media-support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use gateway::media::{CallId, CarrierTarget, Codec, MediaControl, MediaEvent};
use str0m::change::SdpOffer;
use support::{Browser, carrier_answer_sdp, engine, rtp};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

const PACKET: Duration = Duration::from_millis(20);
const FLOOD: Duration = Duration::from_secs(2);

fn main() {
    let calls: usize = env_or("MEDIA_BENCH_CALLS", 50);
    let secs: u64 = env_or("MEDIA_BENCH_SECS", 5);
    let inbound = std::env::var("MEDIA_BENCH_DIRECTION").is_ok_and(|d| d == "inbound");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(run(calls, Duration::from_secs(secs), inbound));
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn run(calls: usize, paced: Duration, inbound: bool) {
    let start = if inbound {
        "start_inbound"
    } else {
        "start_outbound"
    };
    println!(
        "media_relay: {calls} {} calls, {} s paced + {} s flood, 2 worker threads",
        if inbound { "inbound" } else { "outbound" },
        paced.as_secs(),
        FLOOD.as_secs()
    );
    let engine = engine(40000..=40999, Duration::from_secs(120));
    assert!(
        calls <= engine.capacity(),
        "at most {} calls in 40000-40999",
        engine.capacity()
    );

    let mut browsers = Vec::with_capacity(calls);
    for _ in 0..calls {
        let mut b = Browser::new().await;
        let offer = (!inbound).then(|| b.offer());
        browsers.push((b, offer));
    }
    // Carriers: one socket each; PCMU + telephone-event 101 (their answer
    // on outbound calls, their offer on inbound ones).
    let mut carriers = Vec::with_capacity(calls);
    for _ in 0..calls {
        let socket = UdpSocket::bind("127.0.0.1:0")
            .await
            .expect("carrier socket");
        carriers.push(socket);
    }
    let rss_browsers = rss_kib();

    let (tx, mut events) = mpsc::unbounded_channel();
    // Each call's control and the gateway's carrier-leg address.
    let mut legs: Vec<(MediaControl, std::net::SocketAddr)> = Vec::with_capacity(calls);
    let mut setup = Duration::ZERO;
    for (i, ((b, offer), carrier)) in browsers.iter_mut().zip(&carriers).enumerate() {
        let port = carrier.local_addr().expect("addr").port();
        let carrier_sdp = carrier_answer_sdp(port, "0", Some(101), "sendrecv");
        let codecs = [Codec::Pcmu, Codec::Pcma];
        let t = Instant::now();
        match offer {
            None => {
                let media = engine
                    .start_inbound(CallId(i as u64), &carrier_sdp, &codecs, false, tx.clone())
                    .expect("start_inbound");
                setup += t.elapsed();
                let answer = answer_offer(b, &media.browser_offer);
                media
                    .control
                    .browser_answer(&answer)
                    .expect("browser answer");
                legs.push((media.control, media.carrier_leg.address));
            }
            Some(offer) => {
                let media = engine
                    .start_outbound(
                        CallId(i as u64),
                        offer,
                        CarrierTarget {
                            codecs: &codecs,
                            srtp_required: false,
                            ip: std::net::Ipv4Addr::LOCALHOST.into(),
                        },
                        tx.clone(),
                    )
                    .expect("start_outbound");
                setup += t.elapsed();
                b.accept_answer(&media.browser_answer);
                media
                    .control
                    .carrier_answer(&carrier_sdp)
                    .expect("carrier answer");
                legs.push((media.control, media.carrier_leg.address));
            }
        }
    }
    let rss_calls = rss_kib();

    // Connect every browser (ICE + DTLS), concurrently.
    let t = Instant::now();
    let mut connecting = Vec::with_capacity(calls);
    for (mut b, _) in browsers {
        connecting.push(tokio::spawn(async move {
            let ok = b.pump_until(Duration::from_secs(30), |b| b.connected).await;
            assert!(ok, "browser connected");
            b
        }));
    }
    let mut browsers = Vec::with_capacity(calls);
    for handle in connecting {
        browsers.push(handle.await.expect("browser task"));
    }
    let connect_time = t.elapsed();
    let rss_connected = rss_kib();

    // Phase 1 (paced) and phase 2 (flood).
    let base = Instant::now() + Duration::from_millis(200);
    let paced_end = base + paced;
    let flood_start = paced_end + Duration::from_millis(300);
    let flood_end = flood_start + FLOOD;
    let end = flood_end + Duration::from_millis(500);
    let cpu_start = cpu_ticks();
    let mut browser_tasks = Vec::with_capacity(calls);
    for (i, mut b) in browsers.into_iter().enumerate() {
        // Calls are not in phase: spread their 20 ms ticks.
        let phase = PACKET * i as u32 / calls as u32;
        browser_tasks.push(tokio::spawn(async move {
            tokio::time::sleep_until((base + phase).into()).await;
            let mut ts = 0u32;
            let mut sent = 0u64;
            b.pump_ticking(paced_end, PACKET, &mut |b| {
                ts = ts.wrapping_add(160);
                sent += 1;
                b.send_rtp(0, ts, false, &stamp(base));
            })
            .await;
            b.pump_until(end.saturating_duration_since(Instant::now()), |_| false)
                .await;
            let paced: Vec<u64> = b
                .received
                .iter()
                .filter(|p| p.at < paced_end)
                .filter_map(|p| latency(base, &p.payload, p.at))
                .collect();
            let flooded = b.received.iter().filter(|p| p.at >= flood_start).count() as u64;
            let before_flood = b.received.len() as u64 - flooded;
            (paced, flooded, sent, before_flood)
        }));
    }
    let mut carrier_tasks = Vec::with_capacity(calls);
    for (i, (socket, (_, gw))) in carriers.into_iter().zip(&legs).enumerate() {
        let gw = *gw;
        let phase = PACKET * i as u32 / calls as u32 + PACKET / 2;
        carrier_tasks.push(tokio::spawn(carrier(
            socket,
            gw,
            phase,
            base,
            paced_end,
            flood_start,
            flood_end,
            end,
        )));
    }
    let mut to_carrier_latency = Vec::new();
    let mut to_browser_latency = Vec::new();
    let mut flood_sent = 0u64;
    let mut flood_received = 0u64;
    let (mut browser_sent, mut browser_received) = (0u64, 0u64);
    let (mut carrier_sent, mut carrier_received) = (0u64, 0u64);
    for handle in browser_tasks {
        let (paced, flooded, sent, received) = handle.await.expect("browser task");
        to_browser_latency.extend(paced);
        flood_received += flooded;
        browser_sent += sent;
        browser_received += received;
    }
    let cpu_paced_and_flood = cpu_ticks().saturating_sub(cpu_start);
    for handle in carrier_tasks {
        let c = handle.await.expect("carrier task");
        to_carrier_latency.extend(c.latencies);
        flood_sent += c.flood_sent;
        carrier_sent += c.paced_sent;
        carrier_received += c.received_before_flood;
    }

    for (control, _) in &legs {
        control.stop();
    }
    let mut totals = gateway::media::MediaStats::default();
    let mut stopped = 0;
    while stopped < calls {
        if let Some(MediaEvent::Stopped { stats, .. }) = events.recv().await {
            stopped += 1;
            totals.browser_to_carrier_packets += stats.browser_to_carrier_packets;
            totals.carrier_to_browser_packets += stats.carrier_to_browser_packets;
        }
    }

    let expected = calls as f64 * paced.as_secs_f64() / PACKET.as_secs_f64();
    let paced_b2c = to_carrier_latency.len() as f64;
    let paced_c2b = to_browser_latency.len() as f64;
    let flood_relayed = flood_received as f64;
    println!(
        "setup: {start} mean {:.0} µs; all {calls} browsers connected in {} ms",
        setup.as_micros() as f64 / calls as f64,
        connect_time.as_millis()
    );
    println!(
        "paced: relayed {:.0} packets/s (browser→carrier {:.0}/{:.0}, carrier→browser {:.0}/{:.0} expected)",
        (paced_b2c + paced_c2b) / paced.as_secs_f64(),
        paced_b2c,
        expected,
        paced_c2b,
        expected
    );
    println!(
        "paced totals: browsers sent {browser_sent}, carriers received {carrier_received}; carriers sent {carrier_sent}, browsers received {browser_received}"
    );
    print_latency("browser→carrier", &mut to_carrier_latency);
    print_latency("carrier→browser", &mut to_browser_latency);
    let ticks_per_sec = 100.0; // USER_HZ on Linux
    let wall = (end - base).as_secs_f64();
    println!(
        "cpu: {:.0}% of one core over paced+flood ({:.1} s), whole process incl. test peers",
        cpu_paced_and_flood as f64 / ticks_per_sec / wall * 100.0,
        wall
    );
    println!(
        "flood: carriers sent {flood_sent}, browsers received {flood_relayed:.0} = {:.0} packets/s ({:.1}% of offered); gateway totals over the run: {} to carriers, {} to browsers",
        flood_relayed / FLOOD.as_secs_f64(),
        100.0 * flood_relayed / (flood_sent.max(1) as f64),
        totals.browser_to_carrier_packets,
        totals.carrier_to_browser_packets
    );
    let per_call = |a: u64, b: u64| (b.saturating_sub(a) * 1024) as f64 / calls as f64;
    println!(
        "memory (VmRSS deltas): gateway per call at {start} ≈ {:.0} KiB; per call after ICE+DTLS (gateway + in-process test browser) ≈ {:.0} KiB",
        per_call(rss_browsers, rss_calls) / 1024.0,
        per_call(rss_browsers, rss_connected) / 1024.0
    );
}

/// The test browser answers the gateway's offer (inbound calls), as a tab
/// does when the agent picks up.
fn answer_offer(b: &mut Browser, offer: &str) -> String {
    let offer = SdpOffer::from_sdp_string(offer).expect("the gateway's offer parses");
    let answer = b
        .rtc
        .sdp_api()
        .accept_offer(offer)
        .expect("the gateway's offer is acceptable");
    b.mid = answer.media_lines.first().map(|line| line.mid());
    answer.to_sdp_string()
}

#[allow(clippy::too_many_arguments)]
async fn carrier(
    socket: UdpSocket,
    gw: std::net::SocketAddr,
    phase: Duration,
    base: Instant,
    paced_end: Instant,
    flood_start: Instant,
    flood_end: Instant,
    end: Instant,
) -> CarrierResult {
    let mut latencies = Vec::new();
    let mut buf = [0u8; 2048];
    let mut seq = 0u16;
    let mut next = base + phase;
    let mut flood_sent = 0u64;
    let mut paced_sent = 0u64;
    let mut received_before_flood = 0u64;
    loop {
        let now = Instant::now();
        if now >= end {
            break;
        }
        if now >= flood_start && now < flood_end {
            // Flood: a burst, then let the others run.
            for _ in 0..8 {
                seq = seq.wrapping_add(1);
                let p = rtp(0, seq, u32::from(seq) * 160, 7, false, &stamp(base));
                if socket.try_send_to(&p, gw).is_ok() {
                    flood_sent += 1;
                }
            }
            tokio::task::yield_now().await;
            while let Ok((n, _)) = socket.try_recv_from(&mut buf) {
                record(&mut latencies, base, &buf[..n], paced_end);
            }
            continue;
        }
        let wake = if now < paced_end {
            next
        } else {
            end.min(flood_start.max(now))
        };
        tokio::select! {
            r = socket.recv_from(&mut buf) => {
                if let Ok((n, _)) = r {
                    received_before_flood += u64::from(Instant::now() < flood_start);
                    record(&mut latencies, base, &buf[..n], paced_end);
                }
            }
            () = tokio::time::sleep_until(wake.into()) => {
                if Instant::now() < paced_end && Instant::now() >= next {
                    seq = seq.wrapping_add(1);
                    let p = rtp(0, seq, u32::from(seq) * 160, 7, false, &stamp(base));
                    if socket.send_to(&p, gw).await.is_ok() {
                        paced_sent += 1;
                    }
                    next += PACKET;
                }
            }
        }
    }
    CarrierResult {
        latencies,
        flood_sent,
        paced_sent,
        received_before_flood,
    }
}

struct CarrierResult {
    latencies: Vec<u64>,
    flood_sent: u64,
    paced_sent: u64,
    received_before_flood: u64,
}

fn record(latencies: &mut Vec<u64>, base: Instant, datagram: &[u8], paced_end: Instant) {
    let now = Instant::now();
    if now < paced_end
        && let Some(l) = datagram.get(12..).and_then(|p| latency(base, p, now))
    {
        latencies.push(l);
    }
}

/// A 160-byte G.711 payload whose first 8 bytes are the send time (ns since `base`).
fn stamp(base: Instant) -> Vec<u8> {
    let mut payload = vec![0xffu8; 160];
    let ns = Instant::now().saturating_duration_since(base).as_nanos() as u64;
    payload[..8].copy_from_slice(&ns.to_be_bytes());
    payload
}

fn latency(base: Instant, payload: &[u8], at: Instant) -> Option<u64> {
    let sent = u64::from_be_bytes(payload.get(..8)?.try_into().ok()?);
    let received = at.saturating_duration_since(base).as_nanos() as u64;
    received.checked_sub(sent)
}

fn print_latency(what: &str, samples: &mut [u64]) {
    if samples.is_empty() {
        println!("latency {what}: no samples");
        return;
    }
    samples.sort_unstable();
    let pct = |p: f64| samples[((samples.len() - 1) as f64 * p) as usize] as f64 / 1000.0;
    println!(
        "latency {what}: p50 {:.0} µs, p99 {:.0} µs, max {:.0} µs ({} samples)",
        pct(0.5),
        pct(0.99),
        pct(1.0),
        samples.len()
    );
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// utime + stime of this process, in clock ticks.
fn cpu_ticks() -> u64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let rest = s.rsplit_once(')')?.1;
            let fields: Vec<&str> = rest.split_whitespace().collect();
            // After the command: state is field 3; utime 14 and stime 15 → indices 11, 12.
            Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
        })
        .unwrap_or(0)
}
