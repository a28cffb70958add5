//! The load harness's command: real WebRTC calls through our gateway and
//! through the anchor (Kamailio + rtpengine), in steps, one table.
//!
//! ```text
//! cargo build --release -p gateway && cargo run --release -p e2e --bin loadgen -- \
//!     --target both --steps 50,100,200 --rate 50 --hold 10
//! ```
//! (`scripts/bench-side-by-side.sh` installs the anchor and runs this.)
//! The gateway binary is `$GATEWAY_BIN`, else `gateway` next to this one.

use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use e2e::load::{self, Plan, echo::EchoCarrier, phone::loopback, report};

const HELP: &str = "loadgen: WebRTC calls through a target to an RTP-echo carrier, in steps.

options:
  --target gateway|anchor|both   what to load (default both)
  --steps N,N,...                concurrent calls per step (default 50,100)
  --rate R                       call setups a second while a step ramps (default 50)
  --hold S                       seconds all calls of a step are up together (default 10)
  --workers W                    Kamailio children and rtpengine threads (default 2)
Every address is loopback; the run ends after the last step.";

struct Args {
    targets: Vec<&'static str>,
    plan: Plan,
    workers: usize,
}

fn parse() -> Result<Args> {
    let mut args = Args {
        targets: vec!["gateway", "anchor"],
        plan: Plan {
            steps: vec![50, 100],
            rate: 50.0,
            hold: Duration::from_secs(10),
            ip: loopback(),
        },
        workers: 2,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--help" || flag == "-h" {
            println!("{HELP}");
            std::process::exit(0);
        }
        let value = it.next().with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--target" => {
                args.targets = match value.as_str() {
                    "gateway" => vec!["gateway"],
                    "anchor" => vec!["anchor"],
                    "both" => vec!["gateway", "anchor"],
                    other => bail!("--target {other}: gateway, anchor or both"),
                }
            }
            "--steps" => {
                args.plan.steps = value
                    .split(',')
                    .map(|s| s.trim().parse::<usize>())
                    .collect::<Result<_, _>>()
                    .with_context(|| format!("--steps {value}"))?;
                if args.plan.steps.iter().any(|&s| s == 0 || s > 5000) {
                    bail!("--steps: each 1..=5000");
                }
            }
            "--rate" => {
                args.plan.rate = value.parse().with_context(|| format!("--rate {value}"))?;
                if !(0.1..=5000.0).contains(&args.plan.rate) {
                    bail!("--rate: 0.1..=5000");
                }
            }
            "--hold" => {
                let secs: u64 = value.parse().with_context(|| format!("--hold {value}"))?;
                if !(1..=600).contains(&secs) {
                    bail!("--hold: 1..=600 seconds");
                }
                args.plan.hold = Duration::from_secs(secs);
            }
            "--workers" => {
                args.workers = value
                    .parse()
                    .with_context(|| format!("--workers {value}"))?;
                if !(1..=64).contains(&args.workers) {
                    bail!("--workers: 1..=64");
                }
            }
            other => bail!("unknown option {other}\n\n{HELP}"),
        }
    }
    Ok(args)
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = parse()?;
    let plan = &args.plan;
    println!(
        "loadgen: steps {:?} calls, {} setups/s, {} s held, {} cores, targets {:?}",
        plan.steps,
        plan.rate,
        plan.hold.as_secs(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        args.targets
    );
    let mut reports = Vec::new();
    for target in &args.targets {
        let carrier = EchoCarrier::start(plan.ip).await?;
        let running = match *target {
            "gateway" => {
                println!("gateway binary: {}", e2e::gateway::binary()?.display());
                load::start_gateway(carrier.sip, plan.phones()).await?
            }
            _ => load::anchor::start(carrier.sip, plan.phones(), args.workers).await?,
        };
        let phones = load::register_phones(&running).await?;
        tokio::time::sleep(Duration::from_secs(1)).await;
        let idle = report::usage(&(running.pids)());
        println!(
            "{target}: {} phones registered and idle; its processes hold {:.1} MB",
            phones.len(),
            idle.rss_bytes as f64 / 1_048_576.0
        );
        let steps = load::run(&running, phones, plan).await?;
        let counters = &carrier.counters;
        println!(
            "{target}: the carrier saw {} calls set up, {} hung up, echoed {} packets",
            counters.invites.load(Ordering::Relaxed),
            counters.byes.load(Ordering::Relaxed),
            counters.echoed.load(Ordering::Relaxed)
        );
        for step in &steps {
            println!(
                "{target} {} calls: {} failed, {} packets sent, {} came back",
                step.calls, step.failed, step.sent, step.received
            );
        }
        reports.extend(steps);
        drop(running);
        drop(carrier);
    }
    println!("\n{}", report::table(&reports));
    println!(
        "cpu%: the target's processes (utime+stime from /proc) over the window, percent of one \
         core; cpu ms/cs: per call per second of call. added: round trip minus the echo \
         carrier's hold time. harness%: the harness's own CPU (phones, carrier). rtpengine \
         runs in userspace (--table=-1)."
    );
    Ok(())
}
