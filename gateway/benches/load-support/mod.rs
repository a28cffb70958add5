//! What the load benchmarks share: the release gateway binary on loopback,
//! agents created in its database, signed in and registered over WebSocket,
//! latency percentiles and the process's resident memory.
#![allow(dead_code)] // each benchmark uses a different part

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use shared::sip::digest::{self, Challenge};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

pub const DOMAIN: &str = "bench.test";
pub const PASSWORD: &str = "bench-Kettle-Violet-42";

/// The release gateway binary, killed when dropped.
pub struct Gateway {
    pub child: Child,
    pub http: SocketAddr,
    pub udp: SocketAddr,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Starts the gateway on loopback with `dir` as its data directory and
/// `extra` flags; returns once it printed its ready line.
pub fn start_gateway(dir: &std::path::Path, extra: &[&str]) -> Gateway {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gateway"))
        .args(["--http-listen", "127.0.0.1:0", "--sip-udp", "127.0.0.1:0"])
        .args(["--sip-tcp", "127.0.0.1:0", "--sip-domain", DOMAIN])
        .arg("--data-dir")
        .arg(dir)
        .args(["--log-level", "warn"])
        .args(extra)
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

pub fn rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|kb| kb.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

pub async fn sign_in(http: SocketAddr, user: &str) -> shared::api::SipCredential {
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

pub fn register(user: &str, tab: usize, cseq: u32, auth: Option<&str>) -> String {
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

pub type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

pub async fn next_text(ws: &mut Ws) -> String {
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
pub async fn register_tab(
    http: SocketAddr,
    cred: &shared::api::SipCredential,
    tab: usize,
) -> (Ws, Duration) {
    let mut request = format!("ws://{http}/ws").into_client_request().unwrap();
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", "sip".parse().unwrap());
    // Browsers send WebSocket frames without Nagle's delay.
    let (mut ws, _) = tokio_tungstenite::connect_async_with_config(request, None, true)
        .await
        .unwrap();
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

pub fn percentiles(mut samples: Vec<Duration>) -> String {
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

pub async fn create_agents(dir: &std::path::Path, agents: usize) {
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
