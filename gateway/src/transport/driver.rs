//! The SIP driver task: the one owner of [`SipCore`]. Each turn of its loop
//! takes one input (a message, a connection event, a setting, a media
//! report) or the core's timer, then hands out what the core produced:
//! transmits through the connection [`table`](super::table) to sockets and
//! connections, the live calls to the live view, events to the logs, the
//! trunk statuses and the database.
//!
//! It is started and supervised by [`super::start_core`]: a panic here ends
//! the task, and the gateway binary exits (see `SipHandle::core_stopped`).

use shared::ids::CarrierId;
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::{debug, info, warn};

use super::table::{Action, ConnTable};
use super::{CoreInput, SipHandle, UdpSockets, media_port, now, tcp, tls};
use crate::db::Db;
use crate::guard::GuardEvent;
use crate::limits::Reached;
use crate::sip::b2bua::blocks::Scope;
use crate::sip::b2bua::velocity::VelocityLimit;
use crate::sip::b2bua::{B2buaEvent, Route};
use crate::sip::core::{CoreEvent, SipCore};
use crate::sip::trunks::{QualifyStatus, RegistrationStatus, TrunkStatus};

/// Debug builds only: when this environment variable is set, the driver
/// panics with its value on the first SIP message it receives, so that a
/// test can watch the process exit (`tests/core-panic-exits.rs`). Release
/// builds do not read it.
#[cfg(debug_assertions)]
pub const TEST_PANIC_ENV: &str = "GATEWAY_TEST_CORE_PANIC";

/// How often running bans' counts are republished.
const BAN_REFRESH: std::time::Duration = std::time::Duration::from_secs(1);

pub(super) struct Driver {
    core: SipCore,
    table: ConnTable<mpsc::Sender<Vec<u8>>>,
    udp: UdpSockets,
    handle: SipHandle,
    db: Db,
    log_sip: bool,
    /// The fraud limits in force (`crate::limits`), counted after each
    /// stored record; `home` is the country whose calls are national.
    limits: shared::api::FraudLimits,
    home: String,
    /// Limits that alerted today (one alert a scope and kind a day), and
    /// that day's start (Unix ms).
    alerted: HashSet<(Scope, &'static str)>,
    alerted_day: i64,
    /// Carrier names by id, for log lines about their status.
    carrier_names: HashMap<CarrierId, String>,
    /// The live calls as last published.
    published: Vec<shared::api::LiveCall>,
    /// When the bans were last published.
    bans_published: Instant,
    /// Call records being written; shutdown waits for them.
    writes: Vec<JoinHandle<()>>,
    shutdown: Option<Shutdown>,
    #[cfg(debug_assertions)]
    test_panic: Option<String>,
}

/// A shutdown in progress: calls are being hung up until none is left or
/// the deadline passes.
struct Shutdown {
    deadline: Instant,
    done: oneshot::Sender<()>,
}

impl Driver {
    pub(super) fn new(
        core: SipCore,
        udp: UdpSockets,
        db: Db,
        log_sip: bool,
        home: String,
        handle: SipHandle,
    ) -> Self {
        Driver {
            core,
            table: ConnTable::new(udp.ipv6.is_some()),
            udp,
            handle,
            db,
            log_sip,
            limits: shared::api::FraudLimits::default(),
            home,
            alerted: HashSet::new(),
            alerted_day: 0,
            carrier_names: HashMap::new(),
            published: Vec::new(),
            bans_published: Instant::now(),
            writes: Vec::new(),
            shutdown: None,
            #[cfg(debug_assertions)]
            test_panic: std::env::var(TEST_PANIC_ENV).ok(),
        }
    }

    /// Runs until every [`SipHandle`] is gone.
    pub(super) async fn run(mut self, mut inputs: mpsc::Receiver<CoreInput>) {
        loop {
            let wake = self.next_wake();
            tokio::select! {
                input = inputs.recv() => match input {
                    Some(input) => self.handle_input(input),
                    None => break,
                },
                () = sleep_until(wake) => self.core.handle_timeout(now()),
            }
            self.send_transmits().await;
            self.publish_live_calls();
            self.handle_events();
            self.republish_bans();
            self.finish_shutdown().await;
        }
    }

    /// The core's next timer, or the end of a shutdown's grace period.
    fn next_wake(&self) -> Option<Instant> {
        let timer = self.core.poll_timeout().map(Instant::from_std);
        let grace = self.shutdown.as_ref().map(|s| s.deadline);
        timer.into_iter().chain(grace).min()
    }

    fn handle_input(&mut self, input: CoreInput) {
        match input {
            CoreInput::Message { source, bytes } => {
                #[cfg(debug_assertions)]
                if let Some(message) = self.test_panic.take() {
                    panic!("{message}");
                }
                if self.log_sip {
                    info!(target: "sip", peer = %source.peer, transport = ?source.transport,
                        "received:\n{}", String::from_utf8_lossy(&bytes));
                }
                self.core.handle_input(now(), source, &bytes);
            }
            CoreInput::Connected { conn, tx } => self.table.connected(conn, tx),
            CoreInput::Closed { conn } => self.table.closed(conn),
            CoreInput::ConnectFailed { conn, addr, reason } => {
                warn!(%addr, %reason, "cannot connect to the carrier");
                self.table.connect_failed(conn, &reason);
            }
            CoreInput::CredentialIssued(c) => self.core.add_credential(c),
            CoreInput::CredentialRevoked(id) => self.core.remove_credential(id),
            CoreInput::Agent(agent) => self.core.set_agent(agent),
            CoreInput::Routes(routes, targets) => {
                self.carrier_names = routes.iter().map(|r| (r.id, r.name.clone())).collect();
                self.table.set_tls_targets(tls_targets(&routes, &targets));
                self.core.set_carriers(now(), routes, targets);
            }
            CoreInput::Dids(dids) => self.core.set_dids(dids),
            CoreInput::Media(event) => media_port::deliver(&mut self.core, now(), event),
            CoreInput::AuthFailed { ip, what } => self.core.auth_failed(now(), ip, &what),
            CoreInput::Limits { limits, reached } => {
                self.core.set_limits(VelocityLimit::from_limits(&limits));
                self.limits = limits;
                self.apply_reached(reached);
            }
            CoreInput::LimitsReached(reached) => self.apply_reached(reached),
            // Published before the answer, so the asker reads the new list.
            CoreInput::Ban { ip, detail, done } => {
                let banned = self.core.ban(now(), ip, detail);
                self.handle.bans().publish(self.core.bans());
                let _ = done.send(banned);
            }
            CoreInput::Unban { ip, done } => {
                let lifted = self.core.unban(ip);
                self.handle.bans().publish(self.core.bans());
                let _ = done.send(lifted);
            }
            CoreInput::Shutdown { grace, done } => {
                self.core.hang_up_all(now());
                self.shutdown = Some(Shutdown {
                    deadline: Instant::now() + grace,
                    done,
                });
            }
        }
    }

    /// Until neither has anything left: the table's actions, then the
    /// core's next transmit through the table. An action may tell the core
    /// about a failed transport, which can make more transmits.
    async fn send_transmits(&mut self) {
        loop {
            while let Some(action) = self.table.poll_action() {
                self.perform(action).await;
            }
            let Some(t) = self.core.poll_transmit() else {
                break;
            };
            if self.log_sip {
                info!(target: "sip", to = ?t.to, "sending:\n{}", String::from_utf8_lossy(&t.bytes));
            }
            let handle = &self.handle;
            self.table.transmit(t.to, t.bytes, || handle.new_conn_id());
        }
    }

    async fn perform(&mut self, action: Action<mpsc::Sender<Vec<u8>>>) {
        match action {
            Action::SendUdp { socket, to, bytes } => {
                if let Err(e) = self.udp.socket(socket).send_to(&bytes, to).await {
                    debug!(%to, "UDP send failed: {e}");
                }
            }
            // A full queue means the peer does not read: the table drops the
            // connection rather than let it stall every other one.
            Action::Write {
                conn,
                writer,
                bytes,
            } => {
                if writer.try_send(bytes).is_err() {
                    warn!(%conn, "connection not reading; closing it");
                    self.table.write_refused(conn);
                }
            }
            Action::Connect { conn, addr, tls } => {
                let (tx, rx) = mpsc::channel(tcp::QUEUE);
                let handle = self.handle.clone();
                match tls {
                    Some(target) => tokio::spawn(tls::connect(addr, target, conn, rx, handle)),
                    None => tokio::spawn(tcp::connect(addr, conn, rx, handle)),
                };
                self.table.connected(conn, tx);
            }
            Action::ConnectionClosed(conn) => self.core.connection_closed(now(), conn),
            Action::TransportFailed { dest, reason } => {
                self.core.transport_failed(now(), dest, &reason);
            }
            Action::Dropped { conn } => debug!(%conn, "connection gone; message dropped"),
        }
    }

    fn publish_live_calls(&mut self) {
        let live = self.core.live_calls();
        if live != self.published {
            self.handle.live_calls().publish(live.clone());
            self.published = live;
        }
    }

    fn handle_events(&mut self) {
        while let Some(event) = self.core.poll_event() {
            log_event(&event);
            match event {
                CoreEvent::Trunk(status) => self.set_trunk_status(status),
                CoreEvent::Guard(event) => self.guard_event(event),
                CoreEvent::Call(B2buaEvent::Alert {
                    kind,
                    agent,
                    message,
                }) => self.raise_alert(kind, agent, message),
                CoreEvent::Call(B2buaEvent::Record(record)) => self.store_record(record),
                CoreEvent::Call(B2buaEvent::Progress { kind, call }) => {
                    self.publish_progress(kind, call)
                }
                _ => {}
            }
        }
    }

    /// A call started, was answered or ended: onto the call-events bus
    /// (the webhook listens there). The live call's id is its record's.
    fn publish_progress(&self, kind: crate::sip::b2bua::Progress, call: shared::api::LiveCall) {
        use crate::call_events::{CallEvent, CallProgress};
        use crate::sip::b2bua::Progress;
        let kind = match kind {
            Progress::Started => CallProgress::Started,
            Progress::Answered => CallProgress::Answered,
            Progress::Ended => CallProgress::Ended,
        };
        let at_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        self.handle.call_events().publish(CallEvent {
            kind,
            at_ms,
            record_id: call.id.clone(),
            call,
        });
    }

    /// Stores an alert, then publishes it (the webhook sends `alert.raised`).
    fn raise_alert(&mut self, kind: &'static str, agent: Option<String>, message: String) {
        let db = self.db.clone();
        let alerts = self.handle.alerts();
        self.writes.retain(|w| !w.is_finished());
        self.writes.push(tokio::spawn(async move {
            store_alert(&db, &alerts, kind, agent.as_deref(), &message).await;
        }));
    }

    /// A ban began or ended: published for HTTP and the UDP receiver, and
    /// stored (in a task: the database must not hold up signalling).
    fn guard_event(&mut self, event: GuardEvent) {
        self.handle.bans().publish(self.core.bans());
        let db = self.db.clone();
        self.writes.retain(|w| !w.is_finished());
        self.writes.push(tokio::spawn(async move {
            let stored = match &event {
                GuardEvent::Banned(ban) => crate::db::store_ban(&db, ban).await,
                GuardEvent::Unbanned { ip, .. } => crate::db::delete_ban(&db, *ip).await,
            };
            if let Err(e) = stored {
                warn!("ban not stored: {e}");
            }
        }));
    }

    /// Daily limits reached: those that block are handed to the core until
    /// midnight UTC; each scope and kind alerts once a day.
    fn apply_reached(&mut self, reached: Vec<Reached>) {
        let now = now();
        let today = super::utc_day(now.unix_ms);
        if self.alerted_day != today.start {
            self.alerted.clear();
            self.alerted_day = today.start;
        }
        for r in reached {
            if let Some(reason) = r.refusal {
                self.core.block(&now, r.scope, r.reach, today.end, reason);
            }
            if self.alerted.insert((r.scope, r.kind)) {
                self.raise_alert(r.kind, r.agent, r.message);
            }
        }
    }

    /// While bans run, their refusal counts are republished every second
    /// (the core counts what reaches it over TCP, TLS and WebSocket).
    fn republish_bans(&mut self) {
        if self.core.bans().next().is_none() || self.bans_published.elapsed() < BAN_REFRESH {
            return;
        }
        self.handle.bans().publish(self.core.bans());
        self.bans_published = Instant::now();
    }

    /// Keeps a carrier's status for the carrier page; logs a change.
    fn set_trunk_status(&self, status: TrunkStatus) {
        let name = self
            .carrier_names
            .get(&status.carrier_id)
            .map_or("(removed)", String::as_str);
        let before = self.handle.trunk_statuses().set(status.clone());
        log_trunk_status(name, before.as_ref(), &status);
    }

    /// Writes a call record in a task of its own (the database must not
    /// hold up signalling); shutdown waits for these writes.
    fn store_record(&mut self, record: Box<shared::api::CallRecord>) {
        let db = self.db.clone();
        let (limits, home) = (self.limits.clone(), self.home.clone());
        let handle = self.handle.clone();
        self.writes.retain(|w| !w.is_finished());
        self.writes.push(tokio::spawn(async move {
            let mut record = record;
            match crate::db::insert_call_record(&db, &record).await {
                Ok(cost) => record.estimated_cost = cost,
                Err(e) => return warn!(call = %record.id, "call record not stored: {e}"),
            }
            // The carrier's quality rows, then its threshold (alert once an hour).
            if let Err(e) = crate::db::record_carrier_quality(&db, &record).await {
                warn!(call = %record.id, "carrier quality not counted: {e}");
            }
            match crate::db::quality_alert(&db, &record, now().unix).await {
                Ok(Some(message)) => {
                    store_alert(&db, &handle.alerts(), "quality", None, &message).await;
                }
                Ok(None) => {}
                Err(e) => warn!("quality threshold not checked: {e}"),
            }
            let today = super::utc_day(now().unix_ms);
            match crate::limits::reached(&db, &limits, &home, today.start, Some(&record)).await {
                Ok(reached) if !reached.is_empty() => {
                    handle.send(CoreInput::LimitsReached(reached)).await;
                }
                Ok(_) => {}
                Err(e) => warn!("daily limits not counted: {e}"),
            }
        }));
    }

    /// A shutdown is over when no call is left or its grace period has
    /// passed: the records are written, then the caller hears of it.
    async fn finish_shutdown(&mut self) {
        let over = self
            .shutdown
            .as_ref()
            .is_some_and(|s| self.core.call_count() == 0 || Instant::now() >= s.deadline);
        if !over {
            return;
        }
        for write in self.writes.drain(..) {
            let _ = write.await;
        }
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.done.send(());
        }
    }
}

/// Every alert, whoever raised it: one `gateway alert:` log line, stored,
/// then published (the webhook sends `alert.raised`).
async fn store_alert(
    db: &Db,
    alerts: &crate::alerts::Alerts,
    kind: &str,
    agent: Option<&str>,
    message: &str,
) {
    warn!(
        kind,
        agent = agent.unwrap_or(""),
        "gateway alert: kind={kind} {message}"
    );
    match crate::db::insert_alert(db, now().unix, kind, agent, message).await {
        Ok(alert) => alerts.publish(alert),
        Err(e) => warn!("alert not stored: {e}"),
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// Server names and pinned CAs of the TLS carriers, by address.
/// Every address of every TLS carrier (each SRV target too), with the
/// carrier's host name: RFC 3263 §4 checks the certificate against the
/// name configured, not the target's.
fn tls_targets<'a>(
    routes: &'a [Route],
    targets: &'a crate::sip::rfc3263::CarrierTargets,
) -> impl Iterator<Item = (SocketAddr, tls::TlsTarget)> + 'a {
    routes
        .iter()
        .filter(|r| r.transport == shared::api::SipTransport::Tls)
        .flat_map(move |r| {
            let target = tls::TlsTarget {
                server_name: r.host.clone(),
                ca_pem: r.tls_ca.clone(),
            };
            let mut addrs = vec![r.addr];
            for t in targets.get(&r.id).into_iter().flatten() {
                addrs.extend(t.addrs.iter().copied().filter(|a| *a != r.addr));
            }
            addrs.into_iter().map(move |a| (a, target.clone()))
        })
}

fn log_event(event: &CoreEvent) {
    match event {
        CoreEvent::Registrar(e) => info!(event = ?e, "registrar"),
        CoreEvent::Call(B2buaEvent::Placed {
            call,
            agent,
            carrier,
        }) => info!(call = call.0, %agent, %carrier, "call placed"),
        CoreEvent::Call(B2buaEvent::Record(r)) => info!(
            call = %r.id,
            code = r.final_code,
            reason = %r.final_reason,
            duration_s = r.duration_s,
            hangup_by = ?r.hangup_by,
            "call ended"
        ),
        CoreEvent::Refused { peer, code, reason } => {
            debug!(%peer, ?code, %reason, "SIP message refused");
        }
        CoreEvent::Guard(GuardEvent::Banned(ban)) => warn!(
            ip = %ban.ip,
            reason = ban.reason.as_str(),
            "gateway ban: source={} reason={} until={} times={} detail={:?}",
            ban.ip,
            ban.reason.as_str(),
            ban.until,
            ban.times,
            ban.detail
        ),
        CoreEvent::Guard(GuardEvent::Unbanned { ip, by_admin }) => {
            info!(%ip, by_admin, "gateway unban: source={ip} by_admin={by_admin}");
        }
        // Logged where they are stored (`store_alert`), with the daily limits'.
        CoreEvent::Trunk(_)
        | CoreEvent::Call(B2buaEvent::Alert { .. } | B2buaEvent::Progress { .. }) => {}
    }
}

/// A carrier's qualify or registration state changed: one stable info line
/// (`carrier status carrier=NAME qualify=up registration=registered`, the
/// fields in the message so that they read the same with or without
/// colours); round-trip times and the like at debug. No secrets: the status
/// holds none.
fn log_trunk_status(name: &str, before: Option<&TrunkStatus>, now: &TrunkStatus) {
    fn qualify(q: Option<&QualifyStatus>) -> &'static str {
        match q.map(|q| q.state) {
            None => "off",
            Some(crate::sip::trunks::QualifyState::Unknown) => "unknown",
            Some(crate::sip::trunks::QualifyState::Up) => "up",
            Some(crate::sip::trunks::QualifyState::Down) => "down",
        }
    }
    fn registration(r: Option<&RegistrationStatus>) -> &'static str {
        match r.map(|r| r.state) {
            None => "none",
            Some(crate::sip::trunks::TrunkRegistrationState::Registering) => "registering",
            Some(crate::sip::trunks::TrunkRegistrationState::Registered) => "registered",
            Some(crate::sip::trunks::TrunkRegistrationState::Failed) => "failed",
            Some(crate::sip::trunks::TrunkRegistrationState::Off) => "off",
        }
    }
    let q = qualify(now.qualify.as_ref());
    let r = registration(now.registration.as_ref());
    let changed = before.is_none_or(|b| {
        qualify(b.qualify.as_ref()) != q || registration(b.registration.as_ref()) != r
    });
    let error = [
        now.qualify.as_ref().and_then(|q| q.last_error.as_deref()),
        now.registration
            .as_ref()
            .and_then(|r| r.last_error.as_deref()),
    ];
    if changed {
        info!(
            carrier_id = now.carrier_id.0,
            qualify_error = error[0],
            registration_error = error[1],
            "carrier status carrier={name} qualify={q} registration={r}"
        );
    } else {
        debug!(
            carrier_id = now.carrier_id.0,
            rtt_ms = now.qualify.as_ref().and_then(|q| q.rtt_ms),
            "carrier status carrier={name} qualify={q} registration={r}"
        );
    }
}
