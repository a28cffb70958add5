//! Flood benchmark of the release gateway binary over loopback sockets: what
//! the gateway sustains while it bans a flood, and what the flood costs it.
//!
//! Phases, each BENCH_SECS long (default 3):
//! 1. baseline: a legitimate client (127.0.0.1) sends OPTIONS over UDP,
//!    32 in flight; answered requests per second;
//! 2. flood: the same client again, while a flooder on 127.0.0.10 sends
//!    OPTIONS as fast as one socket can (no scanner User-Agent: it is
//!    caught by the rate limit, `--sip-rate`); how many the flood sent,
//!    how many it got answered before the ban, the legitimate rate during
//!    the flood, and the gateway's CPU time over the phase (from
//!    /proc/<pid>/stat) per second and per flood datagram;
//! 3. spray: BENCH_SOURCES (default 2000) addresses in 127.1.0.0/16 each
//!    send one scanner REGISTER (`User-Agent: friendly-scanner`), banned
//!    on sight; bans made, the gateway's memory before and after.
//!
//! The competitor in the same run: Kamailio with pike and an htable of
//! banned sources (`benches/kamailio-pike.cfg`, the same 50/s per source,
//! 127.0.0.1 never counted), through phases 1 and 2 with the same clients,
//! when `kamailio` is installed (Debian's `kamailio`); its CPU is the sum
//! over its processes. It runs BENCH_KAMAILIO_CHILDREN (default 2) UDP
//! workers, as many as this machine's cores; our gateway uses the tokio
//! runtime's default (one worker per core).
//!
//! Prints figures, asserts nothing about timing.
//! Run: `cargo bench -p gateway --bench flood`
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "load-support/mod.rs"]
mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use support::{env_usize, rss_bytes, start_gateway};
use tokio::net::UdpSocket;

fn options(from: SocketAddr, n: u64, agent: &str) -> Vec<u8> {
    format!(
        "OPTIONS sip:bench.test SIP/2.0\r\n\
         Via: SIP/2.0/UDP {from};branch=z9hG4bK{n}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:bench@{from}>;tag={n}\r\n\
         To: <sip:bench.test>\r\n\
         Call-ID: {n}@bench\r\n\
         CSeq: 1 OPTIONS\r\n\
         User-Agent: {agent}\r\n\
         Content-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

/// Clock ticks (user + system) the process has used.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which is in parentheses).
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime are the 14th and 15th fields of the whole line.
    field(11) + field(12)
}

/// `pid` and its child processes (Kamailio forks its workers).
fn process_tree(pid: u32) -> Vec<u32> {
    let mut pids = vec![pid];
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(child) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            let stat = std::fs::read_to_string(format!("/proc/{child}/stat")).unwrap_or_default();
            let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
            // The parent is the 4th field of the whole line.
            if rest.split_whitespace().nth(1) == Some(&pid.to_string()) {
                pids.push(child);
            }
        }
    }
    pids
}

fn tree_ticks(pid: u32) -> u64 {
    process_tree(pid).into_iter().map(cpu_ticks).sum()
}

/// OPTIONS from 127.0.0.1 for `secs`, 32 in flight: answers per second.
async fn legit(gateway: SocketAddr, secs: f64) -> f64 {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let me = socket.local_addr().unwrap();
    let mut buf = vec![0u8; 65_535];
    let started = Instant::now();
    let mut n = 0u64;
    let mut answered = 0u64;
    for _ in 0..32 {
        n += 1;
        socket
            .send_to(&options(me, n, "bench"), gateway)
            .await
            .unwrap();
    }
    while started.elapsed().as_secs_f64() < secs {
        match tokio::time::timeout(Duration::from_millis(200), socket.recv_from(&mut buf)).await {
            Ok(Ok(_)) => {
                answered += 1;
                n += 1;
                socket
                    .send_to(&options(me, n, "bench"), gateway)
                    .await
                    .unwrap();
            }
            // A lost answer: put another request in flight.
            _ => {
                n += 1;
                socket
                    .send_to(&options(me, n, "bench"), gateway)
                    .await
                    .unwrap();
            }
        }
    }
    answered as f64 / started.elapsed().as_secs_f64()
}

/// Phases 1 and 2 against `target` (a process tree rooted at `pid`):
/// prints the figures, returns the baseline rate.
async fn baseline_and_flood(
    label: &str,
    target: SocketAddr,
    pid: u32,
    secs: f64,
    flooder_ip: &str,
) {
    let ticks_per_s = 100.0; // USER_HZ on Linux
    // 1. Baseline.
    let base = legit(target, secs).await;
    println!("{label} baseline: {base:.0} OPTIONS/s answered (127.0.0.1, 32 in flight)");

    // 2. A flood from one source, with the legitimate client alongside.
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let answered = Arc::new(AtomicU64::new(0));
    let flooder = UdpSocket::bind(format!("{flooder_ip}:0")).await.unwrap();
    let flooder = Arc::new(flooder);
    let me = flooder.local_addr().unwrap();
    let sender = {
        let (flooder, stop, sent) = (flooder.clone(), stop.clone(), sent.clone());
        tokio::spawn(async move {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                if flooder
                    .send_to(&options(me, n, "flood"), target)
                    .await
                    .is_ok()
                {
                    sent.fetch_add(1, Ordering::Relaxed);
                }
                if n.is_multiple_of(64) {
                    tokio::task::yield_now().await;
                }
            }
        })
    };
    let receiver = {
        let (flooder, stop, answered) = (flooder.clone(), stop.clone(), answered.clone());
        tokio::spawn(async move {
            let mut buf = vec![0u8; 65_535];
            while !stop.load(Ordering::Relaxed) {
                if let Ok(Ok(_)) =
                    tokio::time::timeout(Duration::from_millis(100), flooder.recv_from(&mut buf))
                        .await
                {
                    answered.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
    };
    let cpu_before = tree_ticks(pid);
    let started = Instant::now();
    let during = legit(target, secs).await;
    let wall = started.elapsed().as_secs_f64();
    let cpu = tree_ticks(pid).saturating_sub(cpu_before) as f64 / ticks_per_s;
    stop.store(true, Ordering::Relaxed);
    let _ = sender.await;
    let _ = receiver.await;
    let flood_sent = sent.load(Ordering::Relaxed);
    println!(
        "{label} flood: {flood_sent} OPTIONS from {flooder_ip} in {wall:.1} s ({:.0}/s); {} answered before the ban",
        flood_sent as f64 / wall,
        answered.load(Ordering::Relaxed)
    );
    println!(
        "{label} during the flood: {during:.0} OPTIONS/s answered to 127.0.0.1 ({:.0}% of baseline)",
        100.0 * during / base.max(1.0)
    );
    println!(
        "{label} CPU during the flood: {:.0}% of one core ({:.2} µs per flood datagram, legitimate traffic included)",
        100.0 * cpu / wall,
        1e6 * cpu / flood_sent.max(1) as f64
    );
}

/// Kamailio with pike on a free port of 127.0.0.1, if it is installed.
fn start_kamailio(dir: &std::path::Path) -> Option<(std::process::Child, SocketAddr)> {
    let children = env_usize("BENCH_KAMAILIO_CHILDREN", 2);
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .ok()?
        .port();
    let cfg = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/kamailio-pike.cfg");
    let child = std::process::Command::new("kamailio")
        .args(["-f", cfg, "-DD", "-E", "-l"])
        .arg(format!("udp:127.0.0.1:{port}"))
        .args(["-n", &children.to_string(), "-w"])
        .arg(dir)
        .arg("-P")
        .arg(dir.join("kamailio.pid"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .ok()?;
    Some((child, SocketAddr::from(([127, 0, 0, 1], port))))
}

#[tokio::main]
async fn main() {
    let secs = env_usize("BENCH_SECS", 3) as f64;
    let sources = env_usize("BENCH_SOURCES", 2000);
    let dir = std::env::temp_dir().join(format!("gw-bench-flood-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let gw = start_gateway(&dir, &[]);
    let pid = gw.child.id();
    tokio::time::sleep(Duration::from_millis(300)).await;
    baseline_and_flood("gateway", gw.udp, pid, secs, "127.0.0.10").await;

    // 3. A spray of scanner sources.
    let rss_before = rss_bytes(pid);
    let started = Instant::now();
    for i in 0..sources {
        let ip = format!("127.1.{}.{}", i / 250, 1 + i % 250);
        let Ok(socket) = UdpSocket::bind(format!("{ip}:0")).await else {
            continue;
        };
        let me = socket.local_addr().unwrap();
        let _ = socket
            .send_to(&options(me, i as u64, "friendly-scanner"), gw.udp)
            .await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    println!(
        "gateway spray: {sources} scanner sources in {:.1} s; gateway memory {:.1} MiB → {:.1} MiB ({:.0} bytes per ban)",
        started.elapsed().as_secs_f64(),
        rss_before as f64 / 1048576.0,
        rss_bytes(pid) as f64 / 1048576.0,
        (rss_bytes(pid).saturating_sub(rss_before)) as f64 / sources.max(1) as f64
    );
    drop(gw);

    // The competitor, same clients (another flooding address: a fresh
    // source for its pike).
    match start_kamailio(&dir) {
        Some((mut kamailio, addr)) => {
            tokio::time::sleep(Duration::from_millis(1000)).await;
            if let Ok(Some(status)) = kamailio.try_wait() {
                println!("kamailio exited at start ({status}): no comparison");
            } else {
                baseline_and_flood("kamailio+pike", addr, kamailio.id(), secs, "127.0.0.11").await;
                // SIGTERM, so that it stops its workers too.
                let _ = std::process::Command::new("kill")
                    .arg(kamailio.id().to_string())
                    .status();
                let _ = kamailio.wait();
            }
        }
        None => println!("kamailio is not installed (apt-get install kamailio): no comparison"),
    }
    let _ = std::fs::remove_dir_all(&dir);
}
