//! The load harness: many agent phones making real WebRTC calls through a
//! target to a carrier that echoes RTP, in steps of concurrency, measuring
//! the target's own CPU and memory and what the calls saw.
//!
//! ```text
//!  phones (WS SIP + str0m ICE/DTLS-SRTP) ──► target ──► echo carrier (UDP SIP, RTP echo)
//!        ◄──────────── echoed audio: round trip − carrier time ◄─┘
//! ```
//!
//! Targets: our gateway (the binary under test, started by the harness),
//! or the anchor, Kamailio (websocket) + rtpengine in userspace (see
//! `bench/anchor/`). Both get the same phones, carrier and steps. Every
//! address is loopback; runs are bounded by the steps given.
//!
//! `cargo run --release -p e2e --bin loadgen -- --help` says how to run it;
//! `scripts/bench-side-by-side.sh` runs both targets and prints the table.

pub mod anchor;
pub mod echo;
pub mod phone;
pub mod report;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use tokio::sync::Semaphore;

use crate::{Gateway, GatewayOptions, http};
pub use phone::{CallOutcome, Credential, Phone};
pub use report::{StepReport, Usage};

/// The agents' password on the gateway target.
const AGENT_PASSWORD: &str = "load-Kettle-Violet-42";

/// How a run goes.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Concurrent calls, one step each, in order.
    pub steps: Vec<usize>,
    /// Call setups a second while a step ramps up.
    pub rate: f64,
    /// How long all of a step's calls are up together (the measured window).
    pub hold: Duration,
    /// Address of the phones' and the carrier's sockets.
    pub ip: IpAddr,
}

impl Plan {
    /// The most phones a step needs.
    pub fn phones(&self) -> usize {
        self.steps.iter().copied().max().unwrap_or(0)
    }
}

/// A target under load: where phones connect, and its processes.
pub struct Running {
    pub name: &'static str,
    pub ws_url: String,
    pub domain: String,
    /// Per phone: the SIP user and its credential, if it needs one.
    pub agents: Vec<(String, Option<Credential>)>,
    /// The processes whose CPU and memory count as the target's.
    pub pids: Box<dyn Fn() -> Vec<u32> + Send + Sync>,
    /// Keeps the target's processes alive while the run needs them.
    _keep: Box<dyn Send>,
}

/// Starts our gateway (the binary [`crate::gateway::binary`] finds) with
/// `agents` agents and the carrier at `carrier`.
pub async fn start_gateway(carrier: std::net::SocketAddr, agents: usize) -> Result<Running> {
    let options = GatewayOptions {
        quiet: true,
        args: [
            "--demo-carrier",
            "false",
            "--rtp-ports",
            "20000-39999",
            // One source (the harness on 127.0.0.1) sends everything.
            "--sip-rate",
            "100000",
            "--ban-allow",
            "127.0.0.0/8",
            "--agent-calls-per-minute",
            "0",
        ]
        .map(str::to_owned)
        .to_vec(),
        ..GatewayOptions::default()
    };
    let gateway = Gateway::start_with(options).await?;
    let admin = gateway
        .sign_in("admin", &gateway.admin_password)
        .await?
        .cookie;
    let carrier_body = serde_json::json!({
        "name": "echo carrier", "host": carrier.ip().to_string(), "port": carrier.port(),
        "qualify": false,
    });
    let created = http::post_json(
        &gateway.url("/api/v1/carriers"),
        serde_json::to_vec(&carrier_body)?,
        &[("cookie", admin.as_str())],
    )
    .await?;
    if created.status != 201 {
        bail!(
            "creating the carrier: {} {}",
            created.status,
            created.text()
        );
    }
    // Agents are made and signed in as an admin and agents would, a few at
    // a time (each is an argon2 hash on the gateway).
    let gateway = Arc::new(gateway);
    let gate = Arc::new(Semaphore::new(4));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..agents {
        let (gateway, gate, admin) = (gateway.clone(), gate.clone(), admin.clone());
        tasks.spawn(async move {
            let _permit = gate.acquire().await?;
            let username = format!("load{i}");
            let body = serde_json::json!({
                "username": username, "display_name": format!("Load {i}"),
                "role": "agent", "password": AGENT_PASSWORD, "max_calls": 4,
            });
            let made = http::post_json(
                &gateway.url("/api/v1/agents"),
                serde_json::to_vec(&body)?,
                &[("cookie", admin.as_str())],
            )
            .await?;
            if made.status != 201 {
                bail!("creating {username}: {} {}", made.status, made.text());
            }
            let session = gateway.sign_in(&username, AGENT_PASSWORD).await?;
            let sip = session
                .info
                .sip
                .context("an agent without a SIP credential")?;
            let (user, domain) = sip
                .aor
                .strip_prefix("sip:")
                .and_then(|a| a.split_once('@'))
                .context("the AOR")?;
            let (user, domain) = (user.to_owned(), domain.to_owned());
            let credential = Credential {
                username: sip.username,
                password: sip.password,
            };
            anyhow::Ok((i, user, domain, credential))
        });
    }
    let mut agents_made = vec![None; agents];
    let mut domain = None;
    while let Some(done) = tasks.join_next().await {
        let (i, user, host, credential) = done??;
        domain.get_or_insert(host);
        agents_made[i] = Some((user, Some(credential)));
    }
    let agents_made: Vec<_> = agents_made.into_iter().flatten().collect();
    let domain = domain.context("no agent, so no SIP domain")?;
    let pid = gateway.pid().context("the gateway is not running")?;
    Ok(Running {
        name: "gateway",
        ws_url: gateway.ws_url(),
        domain,
        agents: agents_made,
        pids: Box::new(move || vec![pid]),
        _keep: Box::new(gateway),
    })
}

/// Registers one phone per agent of `target`, a few at a time.
pub async fn register_phones(target: &Running) -> Result<Vec<Phone>> {
    let gate = Arc::new(Semaphore::new(16));
    let mut tasks = tokio::task::JoinSet::new();
    for (tab, (user, credential)) in target.agents.iter().enumerate() {
        let (gate, url, domain) = (gate.clone(), target.ws_url.clone(), target.domain.clone());
        let (user, credential) = (user.clone(), credential.clone());
        tasks.spawn(async move {
            let _permit = gate.acquire().await?;
            let phone = Phone::register(&url, &user, &domain, tab, credential.as_ref()).await?;
            anyhow::Ok((tab, phone))
        });
    }
    let mut phones: Vec<Option<Phone>> = (0..target.agents.len()).map(|_| None).collect();
    while let Some(done) = tasks.join_next().await {
        let (tab, phone) = done??;
        phones[tab] = Some(phone);
    }
    Ok(phones.into_iter().flatten().collect())
}

/// Runs every step of `plan` against `target` with `phones`; returns a
/// report per step. The phones come back for the next target's reuse only
/// if the caller wants them; they are consumed here.
pub async fn run(target: &Running, phones: Vec<Phone>, plan: &Plan) -> Result<Vec<StepReport>> {
    let mut phones = phones;
    let mut reports = Vec::new();
    let epoch = Instant::now();
    let idle = report::usage(&(target.pids)());
    for &calls in &plan.steps {
        if calls > phones.len() {
            bail!("step of {calls} calls with {} phones", phones.len());
        }
        let start = Instant::now() + Duration::from_millis(200);
        let ramp = Duration::from_secs_f64(calls as f64 / plan.rate);
        // Calls settle (ICE, DTLS, first packets) before the window opens.
        let window_from = start + ramp + Duration::from_secs(2);
        let hang_up_at = window_from + plan.hold;
        let mut tasks = tokio::task::JoinSet::new();
        for (i, mut phone) in phones.drain(..calls).enumerate() {
            let at = start + Duration::from_secs_f64(i as f64 / plan.rate);
            let ip = plan.ip;
            let number = format!("+1415555{:04}", i % 10_000);
            tasks.spawn(async move {
                tokio::time::sleep_until(at.into()).await;
                let outcome = phone.call(&number, ip, hang_up_at, epoch).await;
                (phone, outcome)
            });
        }
        tokio::time::sleep_until(window_from.into()).await;
        let me = [std::process::id()];
        let (before, harness_before) = (report::usage(&(target.pids)()), report::usage(&me));
        let from = Instant::now();
        tokio::time::sleep_until(hang_up_at.into()).await;
        let (after, harness_after) = (report::usage(&(target.pids)()), report::usage(&me));
        let window = from.elapsed();
        let mut outcomes = Vec::with_capacity(calls);
        let mut back = Vec::with_capacity(calls);
        while let Some(done) = tasks.join_next().await {
            let (phone, outcome) = done.context("a call task panicked")?;
            back.push(phone);
            outcomes.push(outcome);
        }
        back.append(&mut phones);
        phones = back;
        let mut step = StepReport::new(
            target.name,
            calls,
            &outcomes,
            before,
            after,
            window,
            idle.rss_bytes,
        );
        step.harness_cpu_pct =
            100.0 * (harness_after.cpu_s - harness_before.cpu_s) / window.as_secs_f64().max(1e-3);
        reports.push(step);
        // Let the target tidy up before the next step.
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    Ok(reports)
}
