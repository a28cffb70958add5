//! Load benchmark of the release gateway binary over real loopback sockets.
//! Prints: WebSocket registrations per second with latency percentiles, the
//! gateway's resident memory per registered tab, and SIP OPTIONS over UDP per
//! second with latency percentiles.
//!
//! Run: `cargo bench -p gateway --bench register_load`
//! (sizes: BENCH_AGENTS, BENCH_TABS_PER_AGENT, BENCH_OPTIONS).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "load-support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use support::{
    DOMAIN, create_agents, env_usize, percentiles, register_tab, rss_bytes, sign_in, start_gateway,
};
use tokio::net::UdpSocket;

#[tokio::main]
async fn main() {
    let agents = env_usize("BENCH_AGENTS", 100);
    let tabs = env_usize("BENCH_TABS_PER_AGENT", 5);
    let options = env_usize("BENCH_OPTIONS", 20_000);
    let dir = std::env::temp_dir().join(format!("gw-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    create_agents(&dir, agents).await;
    let gw = start_gateway(&dir, &[]);
    let pid = gw.child.id();

    let mut creds = Vec::new();
    for i in 0..agents {
        creds.push(sign_in(gw.http, &format!("agent{i}")).await);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let rss_before = rss_bytes(pid);

    // Registrations: every tab of every agent, 64 in flight at a time.
    let started = Instant::now();
    let mut sockets = Vec::new();
    let mut latencies = Vec::new();
    let jobs: Vec<(usize, usize)> = (0..agents)
        .flat_map(|a| (0..tabs).map(move |t| (a, t)))
        .collect();
    for chunk in jobs.chunks(64) {
        let mut set = tokio::task::JoinSet::new();
        for &(a, t) in chunk {
            let cred = creds[a].clone();
            let http = gw.http;
            set.spawn(async move { register_tab(http, &cred, t).await });
        }
        while let Some(done) = set.join_next().await {
            let (ws, latency) = done.expect("registration task");
            sockets.push(ws);
            latencies.push(latency);
        }
    }
    let elapsed = started.elapsed();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let rss_after = rss_bytes(pid);
    let registered = latencies.len();
    println!("gateway register_load benchmark (loopback, release build)");
    println!(
        "registrations: {registered} tabs ({agents} agents x {tabs}) in {:.2} s = {:.0} registrations/s (each: REGISTER, 401, REGISTER+digest, 200)",
        elapsed.as_secs_f64(),
        registered as f64 / elapsed.as_secs_f64()
    );
    println!("registration latency: {}", percentiles(latencies));
    println!(
        "gateway RSS: {:.1} MiB before, {:.1} MiB with {registered} registered tabs = {:.0} bytes per registered tab (binding + WebSocket)",
        rss_before as f64 / 1048576.0,
        rss_after as f64 / 1048576.0,
        (rss_after.saturating_sub(rss_before)) as f64 / registered.max(1) as f64
    );

    // OPTIONS over UDP: a window of 100 outstanding requests.
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let local = socket.local_addr().unwrap();
    let mut sent_at = std::collections::HashMap::new();
    let mut latencies = Vec::with_capacity(options);
    let mut next = 0usize;
    let mut buf = vec![0u8; 4096];
    let started = Instant::now();
    let mut lost = 0usize;
    while latencies.len() + lost < options {
        while next < options && sent_at.len() < 100 {
            let msg = format!(
                "OPTIONS sip:{DOMAIN} SIP/2.0\r\nVia: SIP/2.0/UDP {local};rport;branch=z9hG4bKo{next}\r\n\
                 Max-Forwards: 70\r\nFrom: <sip:bench@{local}>;tag=o\r\nTo: <sip:{DOMAIN}>\r\n\
                 Call-ID: o{next}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
            );
            socket.send_to(msg.as_bytes(), gw.udp).await.unwrap();
            sent_at.insert(format!("o{next}"), Instant::now());
            next += 1;
        }
        match tokio::time::timeout(Duration::from_secs(1), socket.recv(&mut buf)).await {
            Ok(Ok(n)) => {
                let text = String::from_utf8_lossy(&buf[..n]);
                let call_id = text
                    .lines()
                    .find_map(|l| l.strip_prefix("Call-ID: "))
                    .unwrap_or("")
                    .trim()
                    .to_owned();
                if let Some(t) = sent_at.remove(&call_id) {
                    latencies.push(t.elapsed());
                }
            }
            _ => {
                lost += sent_at.len();
                sent_at.clear();
            }
        }
    }
    let elapsed = started.elapsed();
    println!(
        "OPTIONS over UDP: {} answered, {lost} lost, {:.0} requests/s",
        latencies.len(),
        latencies.len() as f64 / elapsed.as_secs_f64()
    );
    println!("OPTIONS latency: {}", percentiles(latencies));
    drop(sockets);
    drop(gw);
    let _ = std::fs::remove_dir_all(&dir);
}
