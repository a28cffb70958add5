//! The load harness stays working: 100 agent phones (WebSocket SIP, str0m
//! WebRTC with full ICE and DTLS-SRTP) call through the gateway to the echo
//! carrier at once and hold their calls. Every call must connect with audio
//! both ways (each phone gets its own packets back through the carrier) and
//! none may fail. Nothing here is timed: speed is `loadgen`'s to measure
//! (`scripts/bench-side-by-side.sh`).

use std::time::Duration;

use anyhow::{Result, ensure};
use e2e::load::{self, Plan, echo::EchoCarrier, phone::loopback};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_webrtc_calls_connect_with_audio_both_ways() -> Result<()> {
    let plan = Plan {
        steps: vec![100],
        rate: 50.0,
        hold: Duration::from_secs(3),
        ip: loopback(),
    };
    let carrier = EchoCarrier::start(plan.ip).await?;
    let gateway = load::start_gateway(carrier.sip, plan.phones()).await?;
    let phones = load::register_phones(&gateway).await?;
    ensure!(phones.len() == 100, "{} phones registered", phones.len());
    let reports = load::run(&gateway, phones, &plan).await?;
    let step = &reports[0];
    println!("{}", load::report::table(&reports));
    ensure!(step.failed == 0, "failed calls: {:?}", step.failures);
    ensure!(step.calls == 100 && step.sent > 0, "{step:?}");
    // Audio both ways: the carrier echoed what reached it, and what it
    // echoed reached the phones (a few packets may be in flight at the end).
    let echoed = carrier
        .counters
        .echoed
        .load(std::sync::atomic::Ordering::Relaxed);
    ensure!(
        step.received * 100 >= step.sent * 95 && echoed >= step.received,
        "sent {}, echoed by the carrier {echoed}, back at the phones {}",
        step.sent,
        step.received
    );
    ensure!(
        carrier
            .counters
            .invites
            .load(std::sync::atomic::Ordering::Relaxed)
            == 100
            && carrier
                .counters
                .byes
                .load(std::sync::atomic::Ordering::Relaxed)
                == 100,
        "the carrier saw every call set up and hung up"
    );
    Ok(())
}
