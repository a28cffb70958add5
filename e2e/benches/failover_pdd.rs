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

use std::time::Duration;

use anyhow::Result;
use e2e::gateway::GatewayOptions;
use e2e::sipp::{Sipp, SippOptions};
use e2e::ws_phone::Phone;
use e2e::{Gateway, calls, http};

const FAILOVER_MS: u64 = 300;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

async fn measure(gateway: &Gateway, calls: u32) -> Result<Vec<Duration>> {
    let mut phone = Phone::register(gateway, "demo", &gateway.demo_password).await?;
    let mut out = Vec::new();
    for _ in 0..calls {
        out.push(phone.call("+14155552671").await?);
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
