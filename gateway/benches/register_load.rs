//! Load benchmark of the release gateway binary over real loopback sockets.
//! Prints: WebSocket registrations per second with latency percentiles, the
//! gateway's resident memory per registered tab, and SIP OPTIONS over UDP per
//! second with latency percentiles.
//!
//! Run: `cargo bench -p gateway --bench register_load`
//! (sizes: BENCH_AGENTS, BENCH_TABS_PER_AGENT, BENCH_OPTIONS).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use shared::sip::digest::{self, Challenge};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const DOMAIN: &str = "bench.test";
const PASSWORD: &str = "bench-password";

struct Gateway {
    child: Child,
    http: SocketAddr,
    udp: SocketAddr,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn start_gateway(dir: &std::path::Path) -> Gateway {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gateway"))
        .args(["--http-listen", "127.0.0.1:0", "--sip-udp", "127.0.0.1:0"])
        .args(["--sip-tcp", "127.0.0.1:0", "--sip-domain", DOMAIN])
        .arg("--data-dir")
        .arg(dir)
        .args(["--log-level", "warn"])
        .env("GATEWAY_DEMO_PASSWORD", PASSWORD)
        .env("GATEWAY_ADMIN_PASSWORD", PASSWORD)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start gateway");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("ready line");
    let field = |key: &str| -> SocketAddr {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(key))
            .expect("address in ready line")
            .parse()
            .expect("socket address")
    };
    Gateway {
        http: field("http="),
        udp: field("sip_udp="),
        child,
    }
}

fn rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|kb| kb.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

async fn sign_in(http: SocketAddr, user: &str) -> shared::api::SipCredential {
    let body = format!(r#"{{"username":"{user}","password":"{PASSWORD}"}}"#);
    let mut s = TcpStream::connect(http).await.unwrap();
    let req = format!(
        "POST /api/v1/session HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).await.unwrap();
    let json = resp.split_once("\r\n\r\n").expect("body").1;
    let info: shared::api::SessionInfo = serde_json::from_str(json).expect("session json");
    info.sip.expect("agent has SIP credential")
}

fn register(user: &str, tab: usize, cseq: u32, auth: Option<&str>) -> String {
    let auth = auth.map_or(String::new(), |a| format!("Authorization: {a}\r\n"));
    format!(
        "REGISTER sip:{DOMAIN} SIP/2.0\r\n\
         Via: SIP/2.0/WSS t{tab}.invalid;branch=z9hG4bK{user}x{tab}x{cseq}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:{user}@{DOMAIN}>;tag=b{tab}\r\n\
         To: <sip:{user}@{DOMAIN}>\r\n\
         Call-ID: {user}-{tab}\r\n\
         CSeq: {cseq} REGISTER\r\n\
         Contact: <sip:{user}@t{tab}.invalid;transport=ws>;+sip.instance=\"<urn:uuid:{tab}>\";reg-id=1\r\n\
         {auth}Content-Length: 0\r\n\r\n"
    )
}

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

async fn next_text(ws: &mut Ws) -> String {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => return t.to_string(),
            Some(Ok(_)) => continue,
            other => panic!("WebSocket ended: {other:?}"),
        }
    }
}

/// Opens a tab and registers it; returns the socket (kept open) and the
/// time from the first REGISTER to the 200.
async fn register_tab(
    http: SocketAddr,
    cred: &shared::api::SipCredential,
    tab: usize,
) -> (Ws, Duration) {
    let mut request = format!("ws://{http}/ws").into_client_request().unwrap();
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", "sip".parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let start = Instant::now();
    ws.send(Message::Text(register(&cred.username, tab, 1, None).into()))
        .await
        .unwrap();
    let challenge = next_text(&mut ws).await;
    let header = challenge
        .lines()
        .find_map(|l| l.strip_prefix("WWW-Authenticate:"))
        .expect("challenge");
    let challenge = Challenge::parse(header.trim()).expect("parse challenge");
    let auth = digest::answer(
        &challenge,
        "REGISTER",
        &format!("sip:{DOMAIN}"),
        &cred.username,
        &cred.password,
        "bench",
        1,
    )
    .to_header_value();
    ws.send(Message::Text(
        register(&cred.username, tab, 2, Some(&auth)).into(),
    ))
    .await
    .unwrap();
    let ok = next_text(&mut ws).await;
    assert!(ok.starts_with("SIP/2.0 200"), "{ok}");
    (ws, start.elapsed())
}

fn percentiles(mut samples: Vec<Duration>) -> String {
    samples.sort();
    let at = |p: f64| {
        let i = ((samples.len() as f64 - 1.0) * p).round() as usize;
        samples[i].as_secs_f64() * 1000.0
    };
    format!(
        "p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        at(0.50),
        at(0.95),
        at(0.99),
        at(1.0)
    )
}

async fn create_agents(dir: &std::path::Path, agents: usize) {
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.join("gateway.db").to_string_lossy()
    );
    let db = gateway::db::open(&url).await.expect("open db");
    let hash = gateway::auth::hash_password(PASSWORD).unwrap();
    for i in 0..agents {
        gateway::db::insert_account(
            &db,
            &format!("agent{i}"),
            &format!("Agent {i}"),
            shared::api::Role::Agent,
            &hash,
            0,
        )
        .await
        .expect("insert agent");
    }
    db.close().await;
}

#[tokio::main]
async fn main() {
    let agents = env_usize("BENCH_AGENTS", 100);
    let tabs = env_usize("BENCH_TABS_PER_AGENT", 5);
    let options = env_usize("BENCH_OPTIONS", 20_000);
    let dir = std::env::temp_dir().join(format!("gw-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    create_agents(&dir, agents).await;
    let gw = start_gateway(&dir);
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
