//! Prometheus metrics (`GET /metrics`, text exposition format 0.0.4).
//!
//! Two kinds of figures:
//! - **counted as things happen**, into one process-wide [`Counters`]: every
//!   call record (calls by direction, carrier and outcome; each carrier
//!   attempt by SIP status; setup latency; talk seconds; media packets and
//!   bytes), registrar bindings, trunk state changes, bans and alerts. The
//!   SIP driver hands each core event to [`core_event`] beside its log line,
//!   and a task counts the alerts bus ([`count_alerts`]): nothing is added
//!   inside the call machine.
//! - **read at scrape time** from what the gateway already keeps: calls in
//!   progress (`live`), each carrier's qualify/registration state
//!   (`trunk_status`), bans in force (`guard::BanList`) and the process
//!   (`/proc/self`: RSS, CPU, file descriptors, threads).
//!
//! The text is written here rather than through a metrics crate: the
//! format is a few lines per family, the figures are plain counters, and
//! this keeps the dependency tree as it was. A real Prometheus server
//! scrapes it in `e2e/tests/prometheus-metrics.rs`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::sync::{LazyLock, Mutex};

use shared::api::{CallRecord, LiveCallState};
use shared::ids::CarrierId;

use crate::guard::GuardEvent;
use crate::sip::b2bua::B2buaEvent;
use crate::sip::core::CoreEvent;
use crate::sip::registrar::RegistrarEvent;
use crate::sip::trunks::{QualifyState, TrunkRegistrationState, TrunkStatus};

/// Upper bounds (seconds) of the setup latency histogram: INVITE to the
/// first ringing or answer (post-dial delay).
const SETUP_BUCKETS: [f64; 11] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 30.0];

/// What has been counted since the process started.
#[derive(Debug, Default)]
pub struct Counters {
    /// (direction, carrier, outcome) → calls.
    calls: BTreeMap<(String, String, &'static str), u64>,
    /// (carrier, SIP status) → attempts.
    attempts: BTreeMap<(String, u16), u64>,
    /// carrier → setup latency histogram.
    setup: BTreeMap<String, Histogram>,
    /// carrier → answered seconds.
    talk_seconds: BTreeMap<String, u64>,
    /// (carrier, direction) → (packets, bytes).
    media: BTreeMap<(String, &'static str), (u64, u64)>,
    /// The bindings now: (AOR user, contact).
    bindings: HashSet<(String, String)>,
    /// registrar event → count.
    registrar: BTreeMap<&'static str, u64>,
    /// Each carrier's last (qualify, registration) state, and its changes.
    trunk_last: HashMap<CarrierId, (Option<QualifyState>, Option<TrunkRegistrationState>)>,
    trunk_changes: BTreeMap<CarrierId, u64>,
    /// ban reason → bans begun.
    bans: BTreeMap<&'static str, u64>,
    /// alert kind → alerts.
    alerts: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Default)]
struct Histogram {
    /// Per bucket of `SETUP_BUCKETS`, not cumulative.
    buckets: [u64; SETUP_BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, value: f64) {
        if let Some(i) = SETUP_BUCKETS.iter().position(|b| value <= *b) {
            self.buckets[i] += 1;
        }
        self.count += 1;
        self.sum += value;
    }
}

static COUNTERS: LazyLock<Mutex<Counters>> = LazyLock::new(Default::default);

fn counters() -> std::sync::MutexGuard<'static, Counters> {
    // Every update is a few map increments: a panic between them leaves
    // figures worth reading.
    COUNTERS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Counts what one core event says (the SIP driver calls this for every
/// event, where it logs them).
pub fn core_event(event: &CoreEvent) {
    match event {
        CoreEvent::Call(B2buaEvent::Record(record)) => counters().record(record),
        CoreEvent::Registrar(e) => counters().registrar(e),
        CoreEvent::Trunk(status) => counters().trunk(status),
        CoreEvent::Guard(GuardEvent::Banned(ban)) => {
            *counters().bans.entry(ban.reason.as_str()).or_default() += 1;
        }
        _ => {}
    }
}

/// Counts every alert published on `alerts` until the bus closes.
pub async fn count_alerts(mut alerts: tokio::sync::broadcast::Receiver<shared::api::Alert>) {
    use tokio::sync::broadcast::error::RecvError;
    loop {
        match alerts.recv().await {
            Ok(alert) => *counters().alerts.entry(alert.kind).or_default() += 1,
            Err(RecvError::Lagged(lost)) => {
                tracing::warn!(lost, "metrics: alerts not counted (the bus ran ahead)");
            }
            Err(RecvError::Closed) => return,
        }
    }
}

impl Counters {
    fn record(&mut self, r: &CallRecord) {
        let carrier = r.carrier.clone().unwrap_or_else(|| "none".to_owned());
        let direction = match r.direction {
            shared::api::CallDirection::Outbound => "outbound",
            shared::api::CallDirection::Inbound => "inbound",
        };
        *self
            .calls
            .entry((direction.to_owned(), carrier.clone(), outcome(r)))
            .or_default() += 1;
        for attempt in &r.attempts {
            *self
                .attempts
                .entry((attempt.carrier.clone(), attempt.code))
                .or_default() += 1;
        }
        if let Some(first) = r.ringing_at.or(r.answered_at) {
            let seconds = (first - r.invite_at).max(0) as f64 / 1000.0;
            self.setup
                .entry(carrier.clone())
                .or_default()
                .observe(seconds);
        }
        *self.talk_seconds.entry(carrier.clone()).or_default() +=
            u64::try_from(r.duration_s).unwrap_or(0);
        for (way, packets, bytes) in [
            ("to_carrier", r.packets_to_carrier, r.bytes_to_carrier),
            ("from_carrier", r.packets_from_carrier, r.bytes_from_carrier),
        ] {
            let entry = self.media.entry((carrier.clone(), way)).or_default();
            entry.0 += u64::try_from(packets).unwrap_or(0);
            entry.1 += u64::try_from(bytes).unwrap_or(0);
        }
    }

    fn registrar(&mut self, event: &RegistrarEvent) {
        let name = match event {
            RegistrarEvent::Registered { aor_user, contact } => {
                self.bindings
                    .insert((aor_user.to_ascii_lowercase(), contact.clone()));
                "registered"
            }
            RegistrarEvent::Unregistered { aor_user, contact } => {
                self.bindings
                    .remove(&(aor_user.to_ascii_lowercase(), contact.clone()));
                "unregistered"
            }
            RegistrarEvent::AuthFailed { .. } => "auth_failed",
        };
        *self.registrar.entry(name).or_default() += 1;
    }

    fn trunk(&mut self, status: &TrunkStatus) {
        let now = (
            status.qualify.as_ref().map(|q| q.state),
            status.registration.as_ref().map(|r| r.state),
        );
        let before = self.trunk_last.insert(status.carrier_id, now);
        if before.is_some_and(|b| b != now) {
            *self.trunk_changes.entry(status.carrier_id).or_default() += 1;
        }
    }
}

/// The call's outcome as a label.
fn outcome(r: &CallRecord) -> &'static str {
    if r.answered_at.is_some() {
        return "answered";
    }
    match r.final_code {
        486 | 600 => "busy",
        408 | 480 => "no_answer",
        487 => "cancelled",
        _ => "failed",
    }
}

/// What is read at scrape time.
pub struct Snapshot<'a> {
    pub live: &'a [shared::api::LiveCall],
    pub trunks: &'a [TrunkStatus],
    /// Carrier names by id (trunk statuses carry ids only).
    pub carrier_names: &'a HashMap<CarrierId, String>,
    pub bans_in_force: usize,
    /// Call records waiting for the database (it refuses them).
    pub records_waiting: usize,
}

/// The whole exposition, with what this process has counted.
pub fn render(snapshot: &Snapshot<'_>) -> String {
    render_with(snapshot, &counters())
}

fn render_with(snapshot: &Snapshot<'_>, c: &Counters) -> String {
    let mut out = Text::default();
    out.family("gateway_build_info", "gauge", "The gateway's version.");
    out.sample(
        "gateway_build_info",
        &[("version", env!("CARGO_PKG_VERSION"))],
        1.0,
    );

    // Calls in progress (every state, 0 included: `sum()` is the total).
    let mut by_state = [
        ("ringing", 0u64),
        ("connected", 0),
        ("held", 0),
        ("reconnecting", 0),
    ];
    let mut by_carrier: BTreeMap<String, u64> = BTreeMap::new();
    for call in snapshot.live {
        let i = match call.state {
            LiveCallState::Ringing => 0,
            LiveCallState::Connected => 1,
            LiveCallState::Held => 2,
            LiveCallState::Reconnecting => 3,
        };
        by_state[i].1 += 1;
        let carrier = call.carrier.clone().unwrap_or_else(|| "none".to_owned());
        *by_carrier.entry(carrier).or_default() += 1;
    }
    out.family(
        "gateway_active_calls",
        "gauge",
        "Calls in progress, by state.",
    );
    for (state, n) in by_state {
        out.sample("gateway_active_calls", &[("state", state)], n as f64);
    }
    out.family(
        "gateway_active_calls_by_carrier",
        "gauge",
        "Calls in progress, by carrier (`none`: not yet routed).",
    );
    for (carrier, n) in &by_carrier {
        out.sample(
            "gateway_active_calls_by_carrier",
            &[("carrier", carrier)],
            *n as f64,
        );
    }

    out.family(
        "gateway_calls_total",
        "counter",
        "Calls ended (one per call record), by direction, carrier and outcome.",
    );
    for ((direction, carrier, outcome), n) in &c.calls {
        out.sample(
            "gateway_calls_total",
            &[
                ("direction", direction),
                ("carrier", carrier),
                ("outcome", outcome),
            ],
            *n as f64,
        );
    }
    out.family(
        "gateway_carrier_attempts_total",
        "counter",
        "INVITEs sent to carriers (failover tries each), by carrier and final SIP status.",
    );
    for ((carrier, code), n) in &c.attempts {
        out.sample(
            "gateway_carrier_attempts_total",
            &[("carrier", carrier), ("code", &code.to_string())],
            *n as f64,
        );
    }
    out.family(
        "gateway_call_setup_seconds",
        "histogram",
        "From the INVITE to the first ringing or answer (post-dial delay), by carrier.",
    );
    for (carrier, h) in &c.setup {
        let mut cumulative = 0;
        for (bound, n) in SETUP_BUCKETS.iter().zip(h.buckets) {
            cumulative += n;
            out.sample(
                "gateway_call_setup_seconds_bucket",
                &[("carrier", carrier), ("le", &bound.to_string())],
                cumulative as f64,
            );
        }
        out.sample(
            "gateway_call_setup_seconds_bucket",
            &[("carrier", carrier), ("le", "+Inf")],
            h.count as f64,
        );
        out.sample(
            "gateway_call_setup_seconds_sum",
            &[("carrier", carrier)],
            h.sum,
        );
        out.sample(
            "gateway_call_setup_seconds_count",
            &[("carrier", carrier)],
            h.count as f64,
        );
    }
    out.family(
        "gateway_call_talk_seconds_total",
        "counter",
        "Answered seconds of ended calls, by carrier.",
    );
    for (carrier, s) in &c.talk_seconds {
        out.sample(
            "gateway_call_talk_seconds_total",
            &[("carrier", carrier)],
            *s as f64,
        );
    }
    out.family(
        "gateway_media_packets_total",
        "counter",
        "RTP packets of ended calls on the carrier leg, by carrier and direction.",
    );
    for ((carrier, way), (packets, _)) in &c.media {
        out.sample(
            "gateway_media_packets_total",
            &[("carrier", carrier), ("direction", way)],
            *packets as f64,
        );
    }
    out.family(
        "gateway_media_bytes_total",
        "counter",
        "RTP bytes of ended calls on the carrier leg, by carrier and direction.",
    );
    for ((carrier, way), (_, bytes)) in &c.media {
        out.sample(
            "gateway_media_bytes_total",
            &[("carrier", carrier), ("direction", way)],
            *bytes as f64,
        );
    }

    out.family(
        "gateway_registrations",
        "gauge",
        "Browser phones and SIP clients registered now (bindings).",
    );
    out.sample("gateway_registrations", &[], c.bindings.len() as f64);
    out.family(
        "gateway_registrar_events_total",
        "counter",
        "Registrar events: registered (refreshes too), unregistered, auth_failed.",
    );
    for (event, n) in &c.registrar {
        out.sample(
            "gateway_registrar_events_total",
            &[("event", event)],
            *n as f64,
        );
    }

    let name = |id: &CarrierId| {
        snapshot
            .carrier_names
            .get(id)
            .cloned()
            .unwrap_or_else(|| format!("#{}", id.0))
    };
    out.family(
        "gateway_trunk_up",
        "gauge",
        "Carrier qualify (OPTIONS) state: 1 up, 0 down; absent while unknown or off.",
    );
    for t in snapshot.trunks {
        let up = match t.qualify.as_ref().map(|q| q.state) {
            Some(QualifyState::Up) => 1.0,
            Some(QualifyState::Down) => 0.0,
            Some(QualifyState::Unknown) | None => continue,
        };
        out.sample("gateway_trunk_up", &[("carrier", &name(&t.carrier_id))], up);
    }
    out.family(
        "gateway_trunk_registered",
        "gauge",
        "Carrier registration: 1 registered, 0 registering, failed or impossible.",
    );
    for t in snapshot.trunks {
        let Some(r) = &t.registration else { continue };
        let registered = f64::from(u8::from(r.state == TrunkRegistrationState::Registered));
        out.sample(
            "gateway_trunk_registered",
            &[("carrier", &name(&t.carrier_id))],
            registered,
        );
    }
    out.family(
        "gateway_trunk_state_changes_total",
        "counter",
        "Changes of a carrier's qualify or registration state.",
    );
    for (id, n) in &c.trunk_changes {
        out.sample(
            "gateway_trunk_state_changes_total",
            &[("carrier", &name(id))],
            *n as f64,
        );
    }

    out.family(
        "gateway_call_records_waiting",
        "gauge",
        "Call records kept in memory because the database refuses them.",
    );
    out.sample(
        "gateway_call_records_waiting",
        &[],
        snapshot.records_waiting as f64,
    );
    out.family("gateway_bans", "gauge", "Source addresses banned now.");
    out.sample("gateway_bans", &[], snapshot.bans_in_force as f64);
    out.family("gateway_bans_total", "counter", "Bans begun, by reason.");
    for (reason, n) in &c.bans {
        out.sample("gateway_bans_total", &[("reason", reason)], *n as f64);
    }
    out.family(
        "gateway_alerts_total",
        "counter",
        "Alerts raised (stored and sent to the webhook), by kind.",
    );
    for (kind, n) in &c.alerts {
        out.sample("gateway_alerts_total", &[("kind", kind)], *n as f64);
    }
    process(&mut out);
    out.0
}

/// `process_*` as Prometheus's client libraries name them, from /proc.
/// Absent where /proc cannot be read (not Linux).
fn process(out: &mut Text) {
    if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse::<u64>().ok())
        };
        if let Some(kib) = field("VmRSS:") {
            out.family(
                "process_resident_memory_bytes",
                "gauge",
                "Resident memory size in bytes.",
            );
            out.sample("process_resident_memory_bytes", &[], (kib * 1024) as f64);
        }
        if let Some(threads) = field("Threads:") {
            out.family("process_threads", "gauge", "OS threads.");
            out.sample("process_threads", &[], threads as f64);
        }
    }
    // utime and stime, fields 14 and 15, in clock ticks: USER_HZ, which
    // Linux fixes at 100 for what it shows user space on the platforms we
    // build for. The command name (field 2) may hold spaces: count after
    // its closing parenthesis.
    if let Ok(stat) = std::fs::read_to_string("/proc/self/stat")
        && let Some((_, rest)) = stat.rsplit_once(')')
    {
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<u64>().ok());
        // `rest` starts at field 3 (state).
        if let (Some(user), Some(system)) = (ticks(11), ticks(12)) {
            out.family(
                "process_cpu_seconds_total",
                "counter",
                "User and system CPU time spent in seconds.",
            );
            out.sample(
                "process_cpu_seconds_total",
                &[],
                (user + system) as f64 / 100.0,
            );
        }
    }
    if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
        out.family(
            "process_open_fds",
            "gauge",
            "Number of open file descriptors.",
        );
        out.sample("process_open_fds", &[], fds.count() as f64);
    }
    if let Ok(limits) = std::fs::read_to_string("/proc/self/limits")
        && let Some(max) = limits
            .lines()
            .find(|l| l.starts_with("Max open files"))
            .and_then(|l| l.split_whitespace().nth(3))
            .and_then(|v| v.parse::<u64>().ok())
    {
        out.family(
            "process_max_fds",
            "gauge",
            "Maximum number of open file descriptors.",
        );
        out.sample("process_max_fds", &[], max as f64);
    }
}

/// The text format: `# HELP`/`# TYPE` per family, then its samples.
#[derive(Default)]
struct Text(String);

impl Text {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let help = help.replace('\\', "\\\\").replace('\n', "\\n");
        let _ = writeln!(self.0, "# HELP {name} {help}");
        let _ = writeln!(self.0, "# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.0.push_str(name);
        if !labels.is_empty() {
            self.0.push('{');
            for (i, (key, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.0.push(',');
                }
                let v = v
                    .replace('\\', "\\\\")
                    .replace('"', "\\\"")
                    .replace('\n', "\\n");
                let _ = write!(self.0, "{key}=\"{v}\"");
            }
            self.0.push('}');
        }
        // Integers print without a fraction; f64's Display never uses an
        // exponent, which the format allows anyway.
        let _ = writeln!(self.0, " {value}");
    }
}

#[cfg(test)]
mod tests;
