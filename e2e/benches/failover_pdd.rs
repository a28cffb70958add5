//! Post-dial delay (INVITE from the phone → 180 Ringing back) through the
//! real gateway binary to SIPp carriers, with and without failover:
//!
//! - `direct`: one carrier that rings at once;
//! - `after 503`: the primary refuses (503), the secondary rings;
//! - `after silence`: the primary never answers, the secondary rings after
//!   `--failover-timeout-ms`.
//!
//! Prints p50/p95/max per case and what failover adds over `direct` (the
//! silence case minus the configured timer). Run with a release gateway:
//!
//! ```text
//! cargo build --release -p gateway
//! GATEWAY_BIN=$PWD/target/release/gateway cargo bench -p e2e --bench failover_pdd
//! ```
//!
//! `CALLS` (default 30) sets the calls per case. Plays the phone itself over
//! the SIP WebSocket (REGISTER with digest, INVITE with a WebRTC offer, ACK,
//! BYE); nothing here is a timed test.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use e2e::gateway::GatewayOptions;
use e2e::sip::{StreamEvent, WsPeer};
use e2e::sipp::{Sipp, SippOptions};
use e2e::{Gateway, calls, http};

const FAILOVER_MS: u64 = 300;

/// A WebRTC offer as Chromium writes it (trimmed to what str0m needs).
const OFFER: &str = "v=0\r\no=- 9055657906103917382 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
a=group:BUNDLE 0\r\na=msid-semantic: WMS s\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0 8 126\r\n\
c=IN IP4 0.0.0.0\r\na=rtcp:9 IN IP4 0.0.0.0\r\na=ice-ufrag:TFkN\r\n\
a=ice-pwd:ws3Z+34xNjTse4UHd7pxyC7I\r\na=ice-options:trickle\r\n\
a=fingerprint:sha-256 3D:2F:91:BE:B9:0F:0F:69:94:EE:72:AB:4E:98:56:91:03:E1:3E:6D:DE:D4:47:BB:EC:F7:82:B7:0A:58:56:3D\r\n\
a=setup:actpass\r\na=mid:0\r\na=sendrecv\r\na=msid:s t\r\na=rtcp-mux\r\n\
a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:126 telephone-event/8000\r\n\
a=ssrc:401344032 cname:bench\r\n";

struct Phone {
    ws: WsPeer,
    aor_user: String,
    host: String,
    seq: u32,
}

fn header<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    text.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

fn status(text: &str) -> u16 {
    text.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

impl Phone {
    async fn register(gateway: &Gateway) -> Result<Phone> {
        let session = gateway.sign_in("demo", &gateway.demo_password).await?;
        let cred = session.info.sip.context("no SIP credential")?;
        let mut ws = WsPeer::connect(&gateway.ws_url()).await?;
        let aor_user = cred
            .aor
            .strip_prefix("sip:")
            .and_then(|a| a.split('@').next())
            .context("AOR")?
            .to_owned();
        let host = cred.aor.split('@').nth(1).context("AOR host")?.to_owned();
        let register = |auth: &str, cseq: u32| {
            format!(
                "REGISTER sip:{host} SIP/2.0\r\nVia: SIP/2.0/WSS bench.invalid;branch=z9hG4bKreg{cseq}\r\n\
                 Max-Forwards: 70\r\nFrom: <{aor}>;tag=benchreg\r\nTo: <{aor}>\r\nCall-ID: bench-reg\r\n\
                 CSeq: {cseq} REGISTER\r\nContact: <sip:bench@bench.invalid;transport=ws>;expires=600\r\n\
                 {auth}Content-Length: 0\r\n\r\n",
                aor = cred.aor
            )
        };
        let first = ws
            .exchange(register("", 1).as_bytes(), Duration::from_secs(5))
            .await?;
        let challenge = first
            .headers("WWW-Authenticate")
            .iter()
            .filter_map(|v| shared::sip::digest::Challenge::parse(v).ok())
            .find(|c| c.algorithm == shared::sip::digest::Algorithm::Sha256)
            .context("a SHA-256 challenge")?;
        let answer = shared::sip::digest::answer(
            &challenge,
            "REGISTER",
            &format!("sip:{host}"),
            &cred.username,
            &cred.password,
            "benchcnonce",
            1,
        );
        let auth = format!("Authorization: {}\r\n", answer.to_header_value());
        let ok = ws
            .exchange(register(&auth, 2).as_bytes(), Duration::from_secs(5))
            .await?;
        if ok.status != 200 {
            bail!("REGISTER answered {}: {}", ok.status, ok.text);
        }
        Ok(Phone {
            ws,
            aor_user,
            host,
            seq: 0,
        })
    }

    /// One call: INVITE, time to 180, then ACK the 200 and BYE.
    async fn call(&mut self) -> Result<Duration> {
        self.seq += 1;
        let call_id = format!("bench-{}-{}", std::process::id(), self.seq);
        let invite = format!(
            "INVITE sip:+14155552671@{host} SIP/2.0\r\nVia: SIP/2.0/WSS bench.invalid;branch=z9hG4bKinv{seq}\r\n\
             Max-Forwards: 70\r\nFrom: <sip:{user}@{host}>;tag=b{seq}\r\nTo: <sip:+14155552671@{host}>\r\n\
             Call-ID: {call_id}\r\nCSeq: 1 INVITE\r\nContact: <sip:bench@bench.invalid;transport=ws>\r\n\
             Content-Type: application/sdp\r\nContent-Length: {len}\r\n\r\n{OFFER}",
            host = self.host,
            user = self.aor_user,
            seq = self.seq,
            len = OFFER.len(),
        );
        let sent = Instant::now();
        self.ws.send(invite.as_bytes()).await?;
        let mut pdd = None;
        loop {
            let text = match self.ws.recv(Duration::from_secs(10)).await? {
                StreamEvent::Message(m) => String::from_utf8_lossy(&m).into_owned(),
                other => bail!("no answer to the INVITE: {other:?}"),
            };
            if !text.starts_with("SIP/2.0") || header(&text, "Call-ID") != Some(call_id.as_str()) {
                continue;
            }
            match status(&text) {
                180 | 183 if pdd.is_none() => pdd = Some(sent.elapsed()),
                200 => {
                    let to = header(&text, "To").unwrap_or_default().to_owned();
                    let from = format!("<sip:{}@{}>;tag=b{}", self.aor_user, self.host, self.seq);
                    for (method, cseq) in [("ACK", 1), ("BYE", 2)] {
                        let req = format!(
                            "{method} sip:gw@{host};transport=ws SIP/2.0\r\nVia: SIP/2.0/WSS bench.invalid;branch=z9hG4bK{method}{seq}\r\n\
                             Max-Forwards: 70\r\nFrom: {from}\r\nTo: {to}\r\nCall-ID: {call_id}\r\nCSeq: {cseq} {method}\r\n\
                             Content-Length: 0\r\n\r\n",
                            host = self.host,
                            seq = self.seq,
                        );
                        self.ws.send(req.as_bytes()).await?;
                    }
                    // The BYE's 200 (and anything else of this call).
                    let _ = self.ws.recv(Duration::from_millis(500)).await?;
                    return pdd.context("200 without a 180 first");
                }
                code if code >= 300 => bail!("the call failed: {text}"),
                _ => {}
            }
        }
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

async fn measure(gateway: &Gateway, calls: u32) -> Result<Vec<Duration>> {
    let mut phone = Phone::register(gateway).await?;
    let mut out = Vec::new();
    for _ in 0..calls {
        out.push(phone.call().await?);
    }
    out.sort();
    Ok(out)
}

fn report(name: &str, d: &[Duration]) -> Duration {
    let p50 = percentile(d, 0.5);
    println!(
        "{name:<16} calls {:>3}   p50 {:>7.1} ms   p95 {:>7.1} ms   max {:>7.1} ms",
        d.len(),
        p50.as_secs_f64() * 1e3,
        percentile(d, 0.95).as_secs_f64() * 1e3,
        d.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
    );
    p50
}

async fn remove_carriers(gateway: &Gateway, ids: &[i64]) -> Result<()> {
    let admin = gateway.sign_in("admin", &gateway.admin_password).await?;
    for id in ids {
        http::delete(
            &gateway.url(&format!("/api/v1/carriers/{id}")),
            &[("cookie", admin.cookie.as_str())],
        )
        .await?;
    }
    Ok(())
}

async fn run() -> Result<()> {
    let calls: u32 = std::env::var("CALLS")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(30);
    let gateway = Gateway::start_with(GatewayOptions {
        args: vec![
            "--failover-timeout-ms".to_owned(),
            FAILOVER_MS.to_string(),
            "--demo-carrier".to_owned(),
            "false".to_owned(),
        ],
        ..Default::default()
    })
    .await?;
    let many = |scenario: &str| SippOptions {
        calls,
        timeout: Duration::from_secs(600),
        ..SippOptions::carrier(scenario)
    };

    let ringing = Sipp::start(many("uas-answer-echo.xml")).await?;
    let only = calls::add_carrier(&gateway, "Direct", ringing.sip_addr, |_| {}).await?;
    let direct = measure(&gateway, calls).await?;
    remove_carriers(&gateway, &[only.id]).await?;
    drop(ringing);

    let refusing = Sipp::start(many("uas-unavailable.xml")).await?;
    let ringing = Sipp::start(many("uas-answer-echo.xml")).await?;
    let a = calls::add_carrier(&gateway, "Refusing", refusing.sip_addr, |_| {}).await?;
    let b = calls::add_carrier(&gateway, "Backup", ringing.sip_addr, |c| c.priority = 2).await?;
    let after_503 = measure(&gateway, calls).await?;
    remove_carriers(&gateway, &[a.id, b.id]).await?;
    drop((refusing, ringing));

    let silent = tokio::net::UdpSocket::bind("127.0.0.1:0").await?;
    let ringing = Sipp::start(many("uas-answer-echo.xml")).await?;
    calls::add_carrier(&gateway, "Silent", silent.local_addr()?, |_| {}).await?;
    calls::add_carrier(&gateway, "Backup", ringing.sip_addr, |c| c.priority = 2).await?;
    let after_silence = measure(&gateway, calls).await?;

    println!("post-dial delay (INVITE → 180), failover timer {FAILOVER_MS} ms:");
    let base = report("direct", &direct);
    let refused = report("after 503", &after_503);
    let silence = report("after silence", &after_silence);
    let timer = Duration::from_millis(FAILOVER_MS);
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "failover adds (p50, vs direct): after 503 {:+.1} ms; after silence {:+.1} ms beyond the {FAILOVER_MS} ms timer",
        ms(refused) - ms(base),
        ms(silence) - ms(base) - ms(timer),
    );
    Ok(())
}

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("failover_pdd: {e:#}");
        std::process::exit(1);
    }
}
