//! What a load step measured, and the table the harness prints.

use std::fmt::Write as _;
use std::time::Duration;

use super::CallOutcome;

/// CPU time and memory of a target's processes at one moment.
#[derive(Debug, Clone, Copy, Default)]
pub struct Usage {
    /// utime + stime of all of them, in seconds.
    pub cpu_s: f64,
    pub rss_bytes: u64,
}

/// Reads `/proc/PID/stat` (utime, stime) and `/proc/PID/status` (VmRSS)
/// of each process; one that is gone counts nothing.
pub fn usage(pids: &[u32]) -> Usage {
    let ticks = rustix::param::clock_ticks_per_second() as f64;
    let mut total = Usage::default();
    for pid in pids {
        if let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            && let Some((_, rest)) = stat.rsplit_once(')')
        {
            // After the command name: state is field 3, utime 14, stime 15.
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let field = |n: usize| {
                fields
                    .get(n - 3)
                    .and_then(|v| v.parse::<u64>().ok())
                    .unwrap_or(0)
            };
            total.cpu_s += (field(14) + field(15)) as f64 / ticks;
        }
        if let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
            total.rss_bytes += status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|kb| kb.parse::<u64>().ok())
                .map_or(0, |kb| kb * 1024);
        }
    }
    total
}

/// One step of one target.
#[derive(Debug, Clone)]
pub struct StepReport {
    pub target: &'static str,
    pub calls: usize,
    pub failed: usize,
    /// The first few failures' reasons.
    pub failures: Vec<String>,
    pub setup_ms: Percentiles,
    pub added_ms: Percentiles,
    /// Packets not echoed back, percent of those sent.
    pub loss_pct: f64,
    pub jitter_ms: f64,
    /// The target's CPU over the window, percent of one core.
    pub cpu_pct: f64,
    /// Target CPU per call per second of call, milliseconds.
    pub cpu_ms_per_call_s: f64,
    pub rss_mb: f64,
    /// Memory the calls added over the idle target, KB per call.
    pub rss_kb_per_call: f64,
    pub sent: u64,
    pub received: u64,
    /// The harness's own CPU over the window (phones and carrier), percent
    /// of one core: near the machine's cores, the harness is the limit.
    pub harness_cpu_pct: f64,
}

/// p50 and p99 in milliseconds (NaN without samples).
#[derive(Debug, Clone, Copy)]
pub struct Percentiles {
    pub p50: f64,
    pub p99: f64,
}

impl Percentiles {
    fn of(mut ms: Vec<f64>) -> Percentiles {
        if ms.is_empty() {
            return Percentiles {
                p50: f64::NAN,
                p99: f64::NAN,
            };
        }
        ms.sort_by(f64::total_cmp);
        let at = |p: f64| ms[((ms.len() - 1) as f64 * p).round() as usize];
        Percentiles {
            p50: at(0.50),
            p99: at(0.99),
        }
    }
}

impl StepReport {
    pub fn new(
        target: &'static str,
        calls: usize,
        outcomes: &[CallOutcome],
        before: Usage,
        after: Usage,
        window: Duration,
        idle_rss: u64,
    ) -> StepReport {
        let failures: Vec<String> = outcomes.iter().filter_map(|o| o.failed.clone()).collect();
        let sent: u64 = outcomes.iter().map(|o| o.sent).sum();
        let received: u64 = outcomes.iter().map(|o| o.received).sum();
        let setup = outcomes
            .iter()
            .filter_map(|o| o.setup)
            .map(|d| d.as_secs_f64() * 1000.0)
            .collect();
        let added = outcomes
            .iter()
            .flat_map(|o| o.added_us.iter())
            .map(|&us| f64::from(us) / 1000.0)
            .collect();
        let connected: Vec<&CallOutcome> = outcomes.iter().filter(|o| o.received > 0).collect();
        let jitter_ms = if connected.is_empty() {
            f64::NAN
        } else {
            connected.iter().map(|o| o.jitter_us).sum::<f64>() / connected.len() as f64 / 1000.0
        };
        let cpu_s = (after.cpu_s - before.cpu_s).max(0.0);
        let secs = window.as_secs_f64().max(1e-3);
        StepReport {
            target,
            calls,
            failed: failures.len(),
            failures: failures.into_iter().take(5).collect(),
            setup_ms: Percentiles::of(setup),
            added_ms: Percentiles::of(added),
            loss_pct: if sent == 0 {
                f64::NAN
            } else {
                100.0 * sent.saturating_sub(received) as f64 / sent as f64
            },
            jitter_ms,
            cpu_pct: 100.0 * cpu_s / secs,
            cpu_ms_per_call_s: 1000.0 * cpu_s / secs / calls.max(1) as f64,
            rss_mb: after.rss_bytes as f64 / 1_048_576.0,
            rss_kb_per_call: after.rss_bytes.saturating_sub(idle_rss) as f64
                / 1024.0
                / calls.max(1) as f64,
            sent,
            received,
            harness_cpu_pct: f64::NAN,
        }
    }
}

/// The table: one row per target and step, then the ratios us/anchor for
/// the steps both ran.
pub fn table(reports: &[StepReport]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<8} {:>6} {:>6} {:>9} {:>9} {:>9} {:>9} {:>7} {:>7} {:>7} {:>10} {:>8} {:>8} {:>8}",
        "target",
        "calls",
        "failed",
        "setup50",
        "setup99",
        "added50",
        "added99",
        "loss%",
        "jitter",
        "cpu%",
        "cpu ms/cs",
        "rss MB",
        "KB/call",
        "harness%"
    );
    for r in reports {
        let _ = writeln!(
            out,
            "{:<8} {:>6} {:>6} {:>7.1}ms {:>7.1}ms {:>7.2}ms {:>7.2}ms {:>7.3} {:>5.2}ms {:>7.1} {:>10.3} {:>8.1} {:>8.1} {:>8.1}",
            r.target,
            r.calls,
            r.failed,
            r.setup_ms.p50,
            r.setup_ms.p99,
            r.added_ms.p50,
            r.added_ms.p99,
            r.loss_pct,
            r.jitter_ms,
            r.cpu_pct,
            r.cpu_ms_per_call_s,
            r.rss_mb,
            r.rss_kb_per_call,
            r.harness_cpu_pct
        );
    }
    let ours: Vec<&StepReport> = reports.iter().filter(|r| r.target == "gateway").collect();
    let mut header = false;
    for us in ours {
        let Some(them) = reports
            .iter()
            .find(|r| r.target != "gateway" && r.calls == us.calls)
        else {
            continue;
        };
        if !header {
            let _ = writeln!(
                out,
                "\nratios gateway/{} (below 1: the gateway is ahead)\n{:>6} {:>10} {:>10} {:>10} {:>10}",
                them.target, "calls", "cpu/call", "added99", "setup99", "rss"
            );
            header = true;
        }
        let _ = writeln!(
            out,
            "{:>6} {:>10.2} {:>10.2} {:>10.2} {:>10.2}",
            us.calls,
            us.cpu_ms_per_call_s / them.cpu_ms_per_call_s,
            us.added_ms.p99 / them.added_ms.p99,
            us.setup_ms.p99 / them.setup_ms.p99,
            us.rss_mb / them.rss_mb
        );
    }
    for r in reports.iter().filter(|r| !r.failures.is_empty()) {
        let _ = writeln!(out, "\n{} at {} calls, failures:", r.target, r.calls);
        for f in &r.failures {
            let _ = writeln!(out, "  {f}");
        }
    }
    out
}
