//! Call load benchmark of the release gateway binary over loopback sockets:
//! agents' phones (WebSocket, a real WebRTC offer made by str0m) place
//! outbound calls to a UDP carrier in this process that answers at once.
//!
//! Prints:
//! - concurrent calls: BENCH_AGENTS calls set up at the same moment and held;
//!   the time until all are answered, setup latency percentiles and the
//!   gateway's resident memory per call held (SIP dialogs, both media
//!   sockets, the str0m `Rtc`, the call task);
//! - call rate: BENCH_CALLS calls, each INVITE → 200 → ACK → BYE → 200,
//!   placed back to back by every agent; calls per second and post-dial
//!   setup latency percentiles (INVITE sent → 200 received by the phone,
//!   the carrier leg's INVITE/200 included).
//!
//! Prints figures, asserts nothing about timing.
//! Run: `cargo bench -p gateway --bench call_load`
//! (sizes: BENCH_AGENTS, default 100; BENCH_CALLS, default 1000).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "load-support/mod.rs"]
mod load;
#[path = "../tests/media-support/mod.rs"]
mod media;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::SinkExt;
use load::{DOMAIN, Ws, create_agents, env_usize, next_text, percentiles, register_tab, rss_bytes};
use tokio::net::UdpSocket;
use tokio_tungstenite::tungstenite::Message;

/// A carrier that answers every INVITE with 200 at once (PCMU and
/// telephone-event), and every BYE or other request with 200.
async fn carrier() -> SocketAddr {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65_535];
        loop {
            let Ok((n, from)) = socket.recv_from(&mut buf).await else {
                continue;
            };
            let text = String::from_utf8_lossy(&buf[..n]).into_owned();
            let method = text.split(' ').next().unwrap_or("");
            if method == "ACK" || method.starts_with("SIP/") {
                continue;
            }
            let mut reply = String::from("SIP/2.0 200 OK\r\n");
            for line in text.lines() {
                let name = line.split(':').next().unwrap_or("").to_ascii_lowercase();
                if ["via", "from", "call-id", "cseq"].contains(&name.as_str()) {
                    reply.push_str(line);
                    reply.push_str("\r\n");
                }
                if name == "to" {
                    reply.push_str(line);
                    if method == "INVITE" && !line.contains(";tag=") {
                        reply.push_str(";tag=uas");
                    }
                    reply.push_str("\r\n");
                }
            }
            if method == "INVITE" {
                let sdp = "v=0\r\no=uas 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n\
                           t=0 0\r\nm=audio 40000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n\
                           a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=sendrecv\r\n";
                reply.push_str(&format!(
                    "Contact: <sip:uas@{addr}>\r\nContent-Type: application/sdp\r\n\
                     Content-Length: {}\r\n\r\n{sdp}",
                    sdp.len()
                ));
            } else {
                reply.push_str("Content-Length: 0\r\n\r\n");
            }
            let _ = socket.send_to(reply.as_bytes(), from).await;
        }
    });
    addr
}

/// One agent's phone: its WebSocket, its user name and tab number.
struct Phone {
    ws: Ws,
    user: String,
    tab: usize,
}

/// An answered call: what the ACK and BYE need.
struct Answered {
    call_id: String,
    from: String,
    to: String,
    target: String,
}

impl Phone {
    /// Sends an INVITE for call `n` and waits for its 200; ACKs it.
    /// Returns the call and the INVITE → 200 time.
    async fn call(&mut self, n: usize) -> (Answered, Duration) {
        let mut browser = media::Browser::new().await;
        let offer = browser.offer();
        let (user, tab) = (&self.user, self.tab);
        let number = format!("+1415555{:04}", n % 10_000);
        let call_id = format!("bench-{user}-{n}");
        let from = format!("<sip:{user}@{DOMAIN}>;tag=f{n}");
        let invite = format!(
            "INVITE sip:{number}@{DOMAIN} SIP/2.0\r\n\
             Via: SIP/2.0/WSS t{tab}.invalid;branch=z9hG4bKi{n}\r\n\
             Max-Forwards: 70\r\nFrom: {from}\r\nTo: <sip:{number}@{DOMAIN}>\r\n\
             Call-ID: {call_id}\r\nCSeq: 1 INVITE\r\n\
             Contact: <sip:{user}@t{tab}.invalid;transport=ws>\r\n\
             Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{offer}",
            offer.len()
        );
        let start = Instant::now();
        self.ws.send(Message::Text(invite.into())).await.unwrap();
        let ok = loop {
            let text = next_text(&mut self.ws).await;
            let code: u16 = text
                .split(' ')
                .nth(1)
                .and_then(|c| c.parse().ok())
                .unwrap_or(0);
            match code {
                100..=199 => continue,
                200 => break text,
                _ => panic!("call {n} failed: {}", text.lines().next().unwrap_or("")),
            }
        };
        let setup = start.elapsed();
        let header = |name: &str| {
            ok.lines()
                .find_map(|l| l.strip_prefix(name))
                .map(|v| v.trim().to_owned())
                .unwrap_or_default()
        };
        let to = header("To:");
        let contact = header("Contact:");
        let target = contact
            .trim_start_matches('<')
            .split('>')
            .next()
            .unwrap_or("")
            .to_owned();
        let call = Answered {
            call_id,
            from,
            to,
            target,
        };
        self.request(&call, "ACK", 1, n).await;
        (call, setup)
    }

    async fn request(&mut self, call: &Answered, method: &str, cseq: u32, n: usize) {
        let tab = self.tab;
        let text = format!(
            "{method} {} SIP/2.0\r\nVia: SIP/2.0/WSS t{tab}.invalid;branch=z9hG4bK{method}{n}\r\n\
             Max-Forwards: 70\r\nFrom: {}\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: {cseq} {method}\r\n\
             Content-Length: 0\r\n\r\n",
            call.target, call.from, call.to, call.call_id
        );
        self.ws.send(Message::Text(text.into())).await.unwrap();
    }

    /// BYE and its 200.
    async fn hang_up(&mut self, call: &Answered, n: usize) {
        self.request(call, "BYE", 2, n).await;
        loop {
            let text = next_text(&mut self.ws).await;
            if text.starts_with("SIP/2.0 200") && text.contains(" BYE\r\n") {
                return;
            }
        }
    }
}

#[tokio::main]
async fn main() {
    let agents = env_usize("BENCH_AGENTS", 100);
    let calls = env_usize("BENCH_CALLS", 1000);
    let dir = std::env::temp_dir().join(format!("gw-call-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    create_agents(&dir, agents).await;
    let uas = carrier().await;
    {
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.join("gateway.db").to_string_lossy()
        );
        let db = gateway::db::open(&url).await.expect("open db");
        let input: shared::api::CarrierInput = serde_json::from_value(serde_json::json!({
            "name": "bench carrier", "host": "127.0.0.1", "port": uas.port(), "qualify": false
        }))
        .unwrap();
        gateway::db::insert_carrier(&db, &input, false, 0)
            .await
            .expect("carrier");
        db.close().await;
    }
    let gw = load::start_gateway(
        &dir,
        &["--demo-carrier", "false", "--rtp-ports", "20000-39999"],
    );
    let pid = gw.child.id();
    let mut phones = Vec::new();
    for i in 0..agents {
        let user = format!("agent{i}");
        let cred = load::sign_in(gw.http, &user).await;
        let (ws, _) = register_tab(gw.http, &cred, i).await;
        phones.push(Phone {
            ws,
            user: cred.username.clone(),
            tab: i,
        });
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rss_idle = rss_bytes(pid);
    println!("gateway call_load benchmark (loopback, release build, {agents} agents)");

    // Concurrent calls: every agent places one call at the same moment.
    let started = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for (i, mut phone) in phones.into_iter().enumerate() {
        set.spawn(async move {
            let (call, setup) = phone.call(i).await;
            (phone, call, setup, i)
        });
    }
    let mut held = Vec::new();
    let mut setups = Vec::new();
    while let Some(done) = set.join_next().await {
        let (phone, call, setup, i) = done.expect("call task");
        setups.push(setup);
        held.push((phone, call, i));
    }
    let all_up = started.elapsed();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rss_held = rss_bytes(pid);
    println!(
        "concurrent calls: {} set up at once, all answered in {:.0} ms",
        held.len(),
        all_up.as_secs_f64() * 1000.0
    );
    println!("  setup latency: {}", percentiles(setups));
    println!(
        "  gateway RSS: {:.1} MiB idle, {:.1} MiB with {} calls up = {:.0} KiB per call",
        rss_idle as f64 / 1_048_576.0,
        rss_held as f64 / 1_048_576.0,
        held.len(),
        rss_held.saturating_sub(rss_idle) as f64 / 1024.0 / held.len().max(1) as f64
    );
    let mut phones = Vec::new();
    for (mut phone, call, i) in held {
        phone.hang_up(&call, i).await;
        phones.push(phone);
    }

    // Call rate: every agent places calls back to back until BENCH_CALLS.
    let next = Arc::new(AtomicUsize::new(agents));
    let last = agents + calls;
    let started = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for mut phone in phones {
        let next = next.clone();
        set.spawn(async move {
            let mut setups = Vec::new();
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= last {
                    return setups;
                }
                let (call, setup) = phone.call(n).await;
                setups.push(setup);
                phone.hang_up(&call, n).await;
            }
        });
    }
    let mut setups = Vec::new();
    while let Some(done) = set.join_next().await {
        setups.extend(done.expect("call loop"));
    }
    let elapsed = started.elapsed();
    println!(
        "call rate: {} calls (INVITE, 100, 200, ACK, BYE, 200 on each leg) in {:.2} s = {:.0} calls/s",
        setups.len(),
        elapsed.as_secs_f64(),
        setups.len() as f64 / elapsed.as_secs_f64()
    );
    println!("  setup latency: {}", percentiles(setups));
    drop(gw);
    let _ = std::fs::remove_dir_all(&dir);
}
