//! Carrier trunks kept alive, sans-IO: OPTIONS "qualify" probes with up/down
//! hysteresis, and REGISTER to the carriers that want it. [`TrunkMonitor`]
//! is owned by [`super::core::SipCore`]; every request goes to the carrier's
//! configured address over its transport (the B2BUA's rule), never to an
//! address read from a message.
//!
//! Qualify, one machine per carrier with `Route::qualify` set. An OPTIONS
//! goes out every interval; ANY response (a 404 or 503 too) means the carrier
//! is alive; no response within `min(interval, 5 s)` is a miss. One lost
//! packet changes nothing:
//!
//! ```text
//!                 1st answer                       2 misses in a row
//!   +---------+ ------------------> +------+ --------------------> +--------+
//!   | Unknown |                     |  Up  |                       |  Down  |
//!   +---------+ ------------------------------------------------> +--------+
//!                 2 misses in a row  ^   |  <--------------------      |
//!                                    |   |    2 answers in a row       |
//!                                    +---+                             |
//!                          answer / 1 miss (counted)       miss: stays Down
//! ```
//!
//! A Down carrier is skipped by new outbound calls ([`TrunkMonitor::is_up`])
//! and keeps being probed, so it is used again by itself once it answers.
//!
//! Registration, one machine per carrier with `Route::register` set: a
//! `shared::sip::register::Registration` over UDP or TCP (digest MD5 or
//! SHA-256, refresh at half the granted expiry), each REGISTER in a
//! `ClientNonInvite` transaction (retransmitted over UDP). Around it:
//!
//! ```text
//!              start                 2xx                  refresh (½ expiry)
//!   (new) ----------> Registering ---------> Registered ----------------+
//!                        |  ^  401/407:         |  ^                     |
//!                        |  |  digest answer    |  +---- 2xx ------------+
//!                        |  +-----              |
//!                        | 3xx-6xx, no answer,  | refresh refused / no answer
//!                        v transport error      v
//!                      Failed <-----------------+
//!                        |  retry after 30 s, 60 s, 120 s ... at most 10 min
//!                        +------------------------------> Registering
//!
//!   Off: registration is asked for, but the carrier lacks a username and
//!   secret (or they cannot go into a REGISTER); nothing is sent.
//! ```
//!
//! Routes that change keep the state of what stays the same: a new qualify
//! interval keeps up/down, new credentials or a new address start over, a
//! removed carrier stops both machines. A registration that is given up
//! while registered (carrier removed or disabled, registration turned off,
//! new account) first withdraws its binding: an un-REGISTER (`Expires: 0`,
//! digest as before) that is sent, retransmitted and then forgotten, so the
//! carrier stops sending calls to us at once rather than at expiry.

use std::collections::BTreeMap;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use serde::Serialize;
use shared::api::SipTransport;
use shared::sip::register::{
    Registration, RegistrationConfig, RegistrationEvent, RegistrationState, RegistrationTransport,
};
use shared::sip::transaction::{ClientNonInvite, Timers, TransactionKey, TxEvent};
use shared::sip::uac::is_plain_token;
use web_time::Instant;

use super::b2bua::Route;
use super::core::{Destination, Transmit};
use super::{Now, carrier_dest, host_port, is_reliable};

/// The longest a probe waits for its answer (less when the interval is shorter).
pub const MAX_PROBE_WAIT: Duration = Duration::from_secs(5);

/// Misses in a row that make a carrier Down, and answers in a row that bring
/// a Down carrier back Up.
pub const HYSTERESIS: u8 = 2;

/// The first retry after a failed registration; each further one waits
/// twice as long, up to [`RETRY_MAX`].
pub const RETRY_FIRST: Duration = Duration::from_secs(30);
pub const RETRY_MAX: Duration = Duration::from_secs(600);

/// Where we are, as carriers see us.
#[derive(Debug, Clone)]
pub struct TrunkConfig {
    pub local: super::Local,
    pub timers: Timers,
}

/// What the carrier page shows about one carrier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrunkStatus {
    pub carrier_id: i64,
    /// `None`: qualify is off for this carrier.
    pub qualify: Option<QualifyStatus>,
    /// `None`: the carrier does not want registration.
    pub registration: Option<RegistrationStatus>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum QualifyState {
    /// No answer yet, and not yet two misses.
    Unknown,
    Up,
    Down,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QualifyStatus {
    pub state: QualifyState,
    /// Round-trip time of the last answered OPTIONS (first send to answer).
    pub rtt_ms: Option<u64>,
    /// When `state` last changed (Unix ms).
    pub last_change_ms: Option<i64>,
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TrunkRegistrationState {
    Registering,
    Registered,
    Failed,
    /// Asked for, but impossible with the carrier's settings (`last_error`
    /// says why).
    Off,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RegistrationStatus {
    pub state: TrunkRegistrationState,
    /// When the binding expires unless refreshed (Unix ms).
    pub expires_at_ms: Option<i64>,
    pub last_error: Option<String>,
}

/// What the monitor tells the shell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrunkEvent {
    /// Something shown about this carrier changed. A status with neither
    /// `qualify` nor `registration` means nothing is watched any more (the
    /// carrier is gone, or both were turned off).
    Status(TrunkStatus),
}

/// Qualify and registration for every carrier. See the module documentation.
pub struct TrunkMonitor {
    config: TrunkConfig,
    carriers: BTreeMap<i64, Carrier>,
    rng: StdRng,
    transmits: Vec<Transmit>,
    events: Vec<TrunkEvent>,
    /// Registrations being withdrawn (un-REGISTER in flight), with where
    /// they go.
    leaving: Vec<(Destination, Register)>,
}

/// One carrier's machines. No `Debug`: the route holds the secret.
struct Carrier {
    route: Route,
    qualify: Option<Qualify>,
    register: Option<Register>,
    reported: Option<TrunkStatus>,
}

struct Qualify {
    interval: Duration,
    /// Each OPTIONS has a Call-ID of its own (as a carrier expects of
    /// out-of-dialog requests), all starting with this: how late answers
    /// are recognised as ours.
    call_id_prefix: String,
    from_tag: String,
    cseq: u32,
    next_send: Instant,
    probe: Option<Probe>,
    state: QualifyState,
    answers: u8,
    misses: u8,
    rtt_ms: Option<u64>,
    last_change_ms: Option<i64>,
    last_error: Option<String>,
}

/// The OPTIONS in flight.
struct Probe {
    key: TransactionKey,
    tx: ClientNonInvite,
    sent_at: Instant,
    deadline: Instant,
}

struct Register {
    /// `None` when the settings cannot register (state Off).
    reg: Option<Registration>,
    tx: Option<(TransactionKey, ClientNonInvite)>,
    failures: u32,
    retry_at: Option<Instant>,
    state: TrunkRegistrationState,
    expires_at_ms: Option<i64>,
    last_error: Option<String>,
}

impl TrunkMonitor {
    pub fn new(config: TrunkConfig, seed: [u8; 32]) -> Self {
        TrunkMonitor {
            config,
            carriers: BTreeMap::new(),
            rng: StdRng::from_seed(seed),
            transmits: Vec::new(),
            events: Vec::new(),
            leaving: Vec::new(),
        }
    }

    /// A registration no longer wanted: a registered one withdraws its
    /// binding first (see the module docs); any other is dropped.
    fn withdraw(&mut self, now: Now, dest: Destination, mut register: Register) {
        if register.state != TrunkRegistrationState::Registered {
            return;
        }
        register.unregister(now, dest, &self.config.timers, &mut self.transmits);
        if !register.withdrawn() {
            self.leaving.push((dest, register));
        }
    }

    /// The carriers changed: machines start for new carriers and settings,
    /// stop for removed ones, and keep their state where nothing they use
    /// changed.
    pub fn set_routes(&mut self, now: Now, routes: &[Route]) {
        let gone: Vec<i64> = self
            .carriers
            .keys()
            .copied()
            .filter(|id| !routes.iter().any(|r| r.id == *id))
            .collect();
        for id in gone {
            if let Some(carrier) = self.carriers.remove(&id) {
                if carrier.reported.is_some() {
                    self.events.push(TrunkEvent::Status(TrunkStatus {
                        carrier_id: id,
                        qualify: None,
                        registration: None,
                    }));
                }
                if let Some(register) = carrier.register {
                    self.withdraw(now, carrier_dest(&carrier.route), register);
                }
            }
        }
        for route in routes {
            let mut carrier = match self.carriers.remove(&route.id) {
                Some(mut old) => {
                    let same_target = old.route.addr == route.addr
                        && old.route.transport == route.transport
                        && old.route.host == route.host;
                    old.qualify = match (old.qualify.take(), route.qualify) {
                        (Some(mut q), Some(interval)) if same_target => {
                            if q.interval != interval {
                                q.interval = interval;
                                q.next_send = q.next_send.min(now.instant + interval);
                            }
                            Some(q)
                        }
                        _ => None,
                    };
                    let same_account = same_target
                        && old.route.username == route.username
                        && old.route.secret == route.secret
                        && old.route.register == route.register;
                    if (!same_account || route.register.is_none())
                        && let Some(register) = old.register.take()
                    {
                        let dest = carrier_dest(&old.route);
                        self.withdraw(now, dest, register);
                    }
                    old.route = route.clone();
                    old
                }
                None => Carrier {
                    route: route.clone(),
                    qualify: None,
                    register: None,
                    reported: None,
                },
            };
            if carrier.qualify.is_none()
                && let Some(interval) = route.qualify
            {
                carrier.qualify = Some(Qualify::new(now, interval, &mut self.rng));
            }
            if carrier.register.is_none()
                && let Some(expires) = route.register
            {
                let mut register = Register::new(route, expires, &self.config, &mut self.rng);
                let dest = carrier_dest(route);
                register.start(now, dest, &self.config.timers, &mut self.transmits);
                carrier.register = Some(register);
            }
            self.carriers.insert(route.id, carrier);
            self.report(route.id);
        }
        // Probes due now (new carriers) go out at once.
        self.handle_timeout(now);
    }

    /// A response that arrived over UDP or TCP. True when it belongs to one
    /// of our OPTIONS or REGISTERs (also a late or stray one, which is then
    /// absorbed); false leaves it to the B2BUA.
    pub fn handle_response(&mut self, now: Now, response: &rsip::Response) -> bool {
        let Ok(key) = TransactionKey::for_response(response) else {
            return false;
        };
        let call_id = super::msg::header(&response.headers, "Call-ID").unwrap_or_default();
        let call_id = call_id.trim();
        let mut found = None;
        for (id, carrier) in &mut self.carriers {
            let dest = carrier_dest(&carrier.route);
            if let Some(q) = &mut carrier.qualify
                && call_id.starts_with(&q.call_id_prefix)
            {
                q.handle_response(now, &key, response, dest, &mut self.transmits);
                found = Some(*id);
                break;
            }
            if let Some(r) = &mut carrier.register
                && r.reg.as_ref().is_some_and(|reg| reg.call_id() == call_id)
            {
                r.handle_response(
                    now,
                    &key,
                    response,
                    dest,
                    &self.config.timers,
                    &mut self.transmits,
                );
                found = Some(*id);
                break;
            }
        }
        if let Some(id) = found {
            self.report(id);
            return true;
        }
        let timers = self.config.timers;
        let Some((dest, r)) = self
            .leaving
            .iter_mut()
            .find(|(_, r)| r.reg.as_ref().is_some_and(|reg| reg.call_id() == call_id))
        else {
            return false;
        };
        r.handle_response(now, &key, response, *dest, &timers, &mut self.transmits);
        self.leaving.retain(|(_, r)| !r.withdrawn());
        true
    }

    /// Fires every timer that is due: probes to send, probes unanswered,
    /// retransmissions, refreshes, retries.
    pub fn handle_timeout(&mut self, now: Now) {
        let ids: Vec<i64> = self.carriers.keys().copied().collect();
        for id in ids {
            let Some(carrier) = self.carriers.get_mut(&id) else {
                continue;
            };
            let dest = carrier_dest(&carrier.route);
            if let Some(q) = &mut carrier.qualify {
                q.handle_timeout(
                    now,
                    &carrier.route,
                    &self.config,
                    &mut self.rng,
                    &mut self.transmits,
                );
            }
            if let Some(r) = &mut carrier.register {
                r.handle_timeout(now, dest, &self.config.timers, &mut self.transmits);
            }
            self.report(id);
        }
        let timers = self.config.timers;
        for (dest, r) in &mut self.leaving {
            r.handle_timeout_leaving(now, *dest, &timers, &mut self.transmits);
        }
        self.leaving.retain(|(_, r)| !r.withdrawn());
    }

    /// Nothing can be sent to `dest` (a TCP connection could not be made):
    /// the probe in flight there is a miss, the REGISTER a failure.
    pub fn transport_failed(&mut self, now: Now, dest: Destination, reason: &str) {
        let ids: Vec<i64> = self
            .carriers
            .iter()
            .filter(|(_, c)| carrier_dest(&c.route) == dest)
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            let Some(carrier) = self.carriers.get_mut(&id) else {
                continue;
            };
            if let Some(q) = &mut carrier.qualify
                && let Some(mut probe) = q.probe.take()
            {
                probe.tx.handle_transport_error(now.instant);
                q.miss(now, format!("cannot reach the carrier: {reason}"));
            }
            if let Some(r) = &mut carrier.register
                && let Some((_, tx)) = &mut r.tx
            {
                tx.handle_transport_error(now.instant);
                r.pump(now, dest, &self.config.timers, &mut self.transmits);
            }
            self.report(id);
        }
    }

    /// The next moment [`TrunkMonitor::handle_timeout`] has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.carriers
            .values()
            .flat_map(|c| {
                [
                    c.qualify.as_ref().and_then(Qualify::poll_timeout),
                    c.register.as_ref().and_then(Register::poll_timeout),
                ]
            })
            .chain(self.leaving.iter().map(|(_, r)| r.poll_timeout()))
            .flatten()
            .min()
    }

    pub fn drain_transmits(&mut self) -> std::vec::Drain<'_, Transmit> {
        self.transmits.drain(..)
    }

    pub fn drain_events(&mut self) -> std::vec::Drain<'_, TrunkEvent> {
        self.events.drain(..)
    }

    /// Whether new calls may use this carrier: false only while its qualify
    /// says Down (qualify off, Unknown and Up are all usable).
    pub fn is_up(&self, carrier_id: i64) -> bool {
        self.carriers
            .get(&carrier_id)
            .and_then(|c| c.qualify.as_ref())
            .is_none_or(|q| q.state != QualifyState::Down)
    }

    /// What is shown about a carrier now (`None`: not a known carrier).
    pub fn status(&self, carrier_id: i64) -> Option<TrunkStatus> {
        self.carriers.get(&carrier_id).map(|c| c.status(carrier_id))
    }

    /// Queues a status event if what is shown about `id` changed.
    fn report(&mut self, id: i64) {
        let Some(carrier) = self.carriers.get_mut(&id) else {
            return;
        };
        let status = carrier.status(id);
        let nothing_watched = status.qualify.is_none() && status.registration.is_none();
        let unchanged = match &carrier.reported {
            Some(old) => *old == status,
            None => nothing_watched,
        };
        if unchanged {
            return;
        }
        carrier.reported = Some(status.clone());
        self.events.push(TrunkEvent::Status(status));
    }
}

impl Carrier {
    fn status(&self, carrier_id: i64) -> TrunkStatus {
        TrunkStatus {
            carrier_id,
            qualify: self.qualify.as_ref().map(|q| QualifyStatus {
                state: q.state,
                rtt_ms: q.rtt_ms,
                last_change_ms: q.last_change_ms,
                last_error: q.last_error.clone(),
            }),
            registration: self.register.as_ref().map(|r| RegistrationStatus {
                state: r.state,
                expires_at_ms: r.expires_at_ms,
                last_error: r.last_error.clone(),
            }),
        }
    }
}

impl Qualify {
    fn new(now: Now, interval: Duration, rng: &mut StdRng) -> Self {
        Qualify {
            interval,
            call_id_prefix: format!("q{}-", token(rng)),
            from_tag: token(rng),
            cseq: 0,
            next_send: now.instant,
            probe: None,
            state: QualifyState::Unknown,
            answers: 0,
            misses: 0,
            rtt_ms: None,
            last_change_ms: None,
            last_error: None,
        }
    }

    /// How long a probe waits for its answer.
    fn wait(&self) -> Duration {
        self.interval.min(MAX_PROBE_WAIT)
    }

    fn poll_timeout(&self) -> Option<Instant> {
        let probe = self.probe.as_ref().and_then(|p| {
            [Some(p.deadline), p.tx.poll_timeout()]
                .into_iter()
                .flatten()
                .min()
        });
        [probe, Some(self.next_send)].into_iter().flatten().min()
    }

    fn handle_timeout(
        &mut self,
        now: Now,
        route: &Route,
        config: &TrunkConfig,
        rng: &mut StdRng,
        out: &mut Vec<Transmit>,
    ) {
        let dest = carrier_dest(route);
        if let Some(probe) = &mut self.probe {
            if probe.deadline <= now.instant {
                self.probe = None;
                let wait = self.wait();
                self.miss(now, format!("no answer to OPTIONS within {wait:?}"));
            } else {
                probe.tx.handle_timeout(now.instant);
                self.drive(now, dest, out);
            }
        }
        if self.next_send <= now.instant {
            // A probe still unanswered when the next is due had its whole
            // wait (the shell woke a little before its deadline).
            if self.probe.take().is_some() {
                let wait = self.wait();
                self.miss(now, format!("no answer to OPTIONS within {wait:?}"));
            }
            // Woken late: the next probe is an interval from now, not a burst.
            let next = self.next_send + self.interval;
            self.next_send = if next > now.instant {
                next
            } else {
                now.instant + self.interval
            };
            self.send(now, route, config, rng, out);
        }
    }

    fn send(
        &mut self,
        now: Now,
        route: &Route,
        config: &TrunkConfig,
        rng: &mut StdRng,
        out: &mut Vec<Transmit>,
    ) {
        self.cseq = self.cseq.wrapping_add(1).max(1);
        let branch = format!("z9hG4bK{}", token(rng));
        let call_id = format!(
            "{}{}@{}",
            self.call_id_prefix,
            token(rng),
            config.local.toward_carrier(route).host
        );
        let request = options_request(route, config, &branch, &call_id, &self.from_tag, self.cseq);
        let Some((request, key)) = request.and_then(|r| {
            let key = TransactionKey::for_sent_request(&r).ok()?;
            Some((r, key))
        }) else {
            self.miss(
                now,
                "the carrier's host cannot go into a SIP URI".to_owned(),
            );
            return;
        };
        let dest = carrier_dest(route);
        let tx = ClientNonInvite::new(now.instant, request, is_reliable(dest), config.timers);
        self.probe = Some(Probe {
            key,
            tx,
            sent_at: now.instant,
            deadline: now.instant + self.wait(),
        });
        self.drive(now, dest, out);
    }

    fn handle_response(
        &mut self,
        now: Now,
        key: &TransactionKey,
        response: &rsip::Response,
        dest: Destination,
        out: &mut Vec<Transmit>,
    ) {
        // A late answer to an abandoned probe is absorbed, not counted.
        if let Some(probe) = &mut self.probe
            && probe.key == *key
        {
            probe.tx.handle_response(now.instant, response.clone());
            self.drive(now, dest, out);
        }
    }

    /// Sends what the probe's transaction wants sent and acts on its events.
    fn drive(&mut self, now: Now, dest: Destination, out: &mut Vec<Transmit>) {
        let Some(probe) = &mut self.probe else {
            return;
        };
        while let Some(m) = probe.tx.poll_transmit() {
            out.push(Transmit {
                to: dest,
                bytes: m.to_string().into_bytes(),
            });
        }
        let mut answered = None;
        let mut failed = false;
        while let Some(event) = probe.tx.poll_event() {
            match event {
                // Any answer, even 404, 405 or 503, says the carrier is there.
                TxEvent::Response(_) => {
                    answered.get_or_insert(now.instant.saturating_duration_since(probe.sent_at));
                }
                TxEvent::Timeout | TxEvent::TransportError => failed = true,
                TxEvent::Terminated | TxEvent::Request(_) => {}
            }
        }
        if let Some(rtt) = answered {
            self.probe = None;
            self.answer(now, rtt);
        } else if failed {
            self.probe = None;
            self.miss(now, "cannot reach the carrier".to_owned());
        }
    }

    fn answer(&mut self, now: Now, rtt: Duration) {
        self.misses = 0;
        self.answers = self.answers.saturating_add(1);
        self.rtt_ms = Some(u64::try_from(rtt.as_millis()).unwrap_or(u64::MAX));
        let up = match self.state {
            QualifyState::Unknown => true,
            QualifyState::Down => self.answers >= HYSTERESIS,
            QualifyState::Up => false,
        };
        if up {
            self.state = QualifyState::Up;
            self.last_change_ms = Some(now.unix_ms);
        }
    }

    fn miss(&mut self, now: Now, error: String) {
        self.answers = 0;
        self.misses = self.misses.saturating_add(1);
        self.last_error = Some(error);
        if self.misses >= HYSTERESIS && self.state != QualifyState::Down {
            self.state = QualifyState::Down;
            self.last_change_ms = Some(now.unix_ms);
        }
    }
}

impl Register {
    fn new(route: &Route, expires: u32, config: &TrunkConfig, rng: &mut StdRng) -> Self {
        let mut register = Register {
            reg: None,
            tx: None,
            failures: 0,
            retry_at: None,
            state: TrunkRegistrationState::Off,
            expires_at_ms: None,
            last_error: None,
        };
        let (Some(username), Some(secret)) = (
            route.username.as_deref().filter(|u| !u.is_empty()),
            route.secret.as_deref().filter(|s| !s.is_empty()),
        ) else {
            register.last_error = Some("registration needs a username and a secret".to_owned());
            return register;
        };
        let ours = config.local.toward_carrier(route);
        let transport = match route.transport {
            SipTransport::Tcp => RegistrationTransport::Tcp { port: ours.port },
            SipTransport::Tls => RegistrationTransport::Tls { port: ours.port },
            SipTransport::Udp => RegistrationTransport::Udp { port: ours.port },
        };
        // host_port(_, 5060): the host alone (an IPv6 address as its alias).
        let host = host_port(&route.host, 5060);
        let reg_config = RegistrationConfig {
            aor: format!("sip:{username}@{host}"),
            display_name: String::new(),
            username: username.to_owned(),
            password: secret.to_owned(),
            instance_id: String::new(),
            reg_id: 1,
            expires,
            contact_user: if is_plain_token(username) {
                username.to_owned()
            } else {
                "gw".to_owned()
            },
            via_host: ours.host,
            user_agent: None,
            transport,
        };
        let mut reg_rng = StdRng::seed_from_u64(rng.next_u64());
        match Registration::new(reg_config, move || reg_rng.next_u64()) {
            Ok(reg) => register.reg = Some(reg),
            // The error names the setting, never the secret.
            Err(e) => register.last_error = Some(e.to_string()),
        }
        register
    }

    fn start(&mut self, now: Now, dest: Destination, timers: &Timers, out: &mut Vec<Transmit>) {
        let Some(reg) = &mut self.reg else {
            return;
        };
        self.retry_at = None;
        self.state = TrunkRegistrationState::Registering;
        reg.start(now.instant);
        self.pump(now, dest, timers, out);
    }

    /// Withdraws the binding: an un-REGISTER (no retries after it fails).
    fn unregister(
        &mut self,
        now: Now,
        dest: Destination,
        timers: &Timers,
        out: &mut Vec<Transmit>,
    ) {
        let Some(reg) = &mut self.reg else {
            return;
        };
        self.retry_at = None;
        reg.unregister(now.instant);
        self.pump(now, dest, timers, out);
        // A failure while withdrawing is not retried.
        self.retry_at = None;
    }

    /// Done withdrawing: the binding is gone, or the carrier did not take
    /// the un-REGISTER (it lapses at its expiry then).
    fn withdrawn(&self) -> bool {
        match &self.reg {
            None => true,
            Some(reg) => {
                matches!(
                    reg.state(),
                    RegistrationState::Unregistered | RegistrationState::Failed
                ) || self.state == TrunkRegistrationState::Failed
            }
        }
    }

    /// Timers of a registration being withdrawn: retransmissions and the
    /// transaction's end, never a retry or a refresh.
    fn handle_timeout_leaving(
        &mut self,
        now: Now,
        dest: Destination,
        timers: &Timers,
        out: &mut Vec<Transmit>,
    ) {
        if let Some((_, tx)) = &mut self.tx {
            tx.handle_timeout(now.instant);
        }
        if let Some(reg) = &mut self.reg {
            reg.handle_timeout(now.instant);
        }
        self.pump(now, dest, timers, out);
        self.retry_at = None;
    }

    fn poll_timeout(&self) -> Option<Instant> {
        [
            self.reg.as_ref().and_then(Registration::poll_timeout),
            self.tx.as_ref().and_then(|(_, tx)| tx.poll_timeout()),
            self.retry_at,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn handle_timeout(
        &mut self,
        now: Now,
        dest: Destination,
        timers: &Timers,
        out: &mut Vec<Transmit>,
    ) {
        if self.retry_at.is_some_and(|at| at <= now.instant) {
            self.start(now, dest, timers, out);
            return;
        }
        if let Some((_, tx)) = &mut self.tx {
            tx.handle_timeout(now.instant);
        }
        if let Some(reg) = &mut self.reg {
            reg.handle_timeout(now.instant);
        }
        self.pump(now, dest, timers, out);
    }

    fn handle_response(
        &mut self,
        now: Now,
        key: &TransactionKey,
        response: &rsip::Response,
        dest: Destination,
        timers: &Timers,
        out: &mut Vec<Transmit>,
    ) {
        if let Some((tx_key, tx)) = &mut self.tx
            && tx_key == key
        {
            tx.handle_response(now.instant, response.clone());
            self.pump(now, dest, timers, out);
        }
    }

    /// Moves messages between the registration and its transaction until
    /// neither has anything more to say, then reads the registration's events.
    fn pump(&mut self, now: Now, dest: Destination, timers: &Timers, out: &mut Vec<Transmit>) {
        let Some(reg) = &mut self.reg else {
            return;
        };
        let mut lost = false;
        loop {
            // A new REGISTER supersedes the one in flight (one at a time).
            while let Some(request) = reg.poll_transmit() {
                self.tx = TransactionKey::for_sent_request(&request).ok().map(|key| {
                    let tx = ClientNonInvite::new(now.instant, request, is_reliable(dest), *timers);
                    (key, tx)
                });
            }
            let Some((_, tx)) = &mut self.tx else {
                break;
            };
            while let Some(m) = tx.poll_transmit() {
                out.push(Transmit {
                    to: dest,
                    bytes: m.to_string().into_bytes(),
                });
            }
            let mut responses = Vec::new();
            let mut terminated = false;
            while let Some(event) = tx.poll_event() {
                match event {
                    TxEvent::Response(r) => responses.push(r),
                    TxEvent::TransportError => lost = true,
                    TxEvent::Terminated => terminated = true,
                    // The registration's own timer F reports the silence.
                    TxEvent::Timeout | TxEvent::Request(_) => {}
                }
            }
            if terminated {
                self.tx = None;
            }
            if responses.is_empty() {
                break;
            }
            for r in responses {
                reg.handle_response(now.instant, r);
            }
        }
        if lost {
            reg.transport_lost();
            self.tx = None;
            self.fail(now, "cannot reach the carrier".to_owned());
        }
        while let Some(event) = self.reg.as_mut().and_then(Registration::poll_event) {
            match event {
                RegistrationEvent::Registered { expires } => {
                    self.state = TrunkRegistrationState::Registered;
                    self.failures = 0;
                    self.expires_at_ms = Some(now.unix_ms + i64::from(expires) * 1000);
                }
                RegistrationEvent::Failed { code, reason } => {
                    self.fail(now, format!("{code} {reason}"));
                }
                RegistrationEvent::Unregistered => {}
            }
        }
    }

    fn fail(&mut self, now: Now, error: String) {
        self.state = TrunkRegistrationState::Failed;
        self.expires_at_ms = None;
        self.last_error = Some(error);
        self.failures = self.failures.saturating_add(1);
        self.retry_at = Some(now.instant + retry_delay(self.failures));
    }
}

/// 30 s after the first failure, then twice as long each time, at most 10 min.
pub fn retry_delay(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(16);
    (RETRY_FIRST * 2u32.pow(doublings)).min(RETRY_MAX)
}

/// The qualify OPTIONS (RFC 3261 §11.1), `None` if the carrier's host
/// cannot go into a SIP URI.
fn options_request(
    route: &Route,
    config: &TrunkConfig,
    branch: &str,
    call_id: &str,
    from_tag: &str,
    cseq: u32,
) -> Option<rsip::Request> {
    use rsip::headers::*;

    let local = config.local.toward_carrier(route);
    let (proto, contact_param) = (local.proto, local.contact_param);
    let ours = local.host_port();
    let target = format!("sip:{}", host_port(&route.host, route.addr.port()));
    let uri = rsip::Uri::try_from(target.as_str()).ok()?;
    let mut headers = rsip::Headers::default();
    headers.push(Via::new(format!("SIP/2.0/{proto} {ours};branch={branch};rport")).into());
    headers.push(MaxForwards::new("70").into());
    let from_host = &local.host;
    headers.push(From::new(format!("<sip:gw@{from_host}>;tag={from_tag}")).into());
    headers.push(To::new(format!("<{target}>")).into());
    headers.push(CallId::new(call_id).into());
    headers.push(CSeq::new(format!("{cseq} OPTIONS")).into());
    headers.push(Contact::new(format!("<sip:gw@{ours}{contact_param}>")).into());
    headers.push(Accept::new("application/sdp").into());
    headers.push(ContentLength::new("0").into());
    Some(rsip::Request {
        method: rsip::Method::Options,
        uri,
        version: rsip::Version::V2,
        headers,
        body: Vec::new(),
    })
}

fn token(rng: &mut StdRng) -> String {
    format!("{:016x}", rng.next_u64())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    //! Qualify and registration on a fake clock, against a scripted carrier.

    use shared::sip::digest::{self, Algorithm, Challenge, Credentials};

    use super::*;

    const CARRIER: &str = "127.0.0.1:5099";

    fn route(qualify: Option<u64>, register: Option<u32>) -> Route {
        Route {
            id: 7,
            name: "Trunk".to_owned(),
            addr: CARRIER.parse().unwrap(),
            transport: SipTransport::Udp,
            host: "carrier.test".to_owned(),
            username: Some("trunkuser".to_owned()),
            secret: Some("s3cret".to_owned()),
            from_user: None,
            from_domain: None,
            caller_id: None,
            codecs: vec!["PCMU".to_owned()],
            number_format: shared::api::NumberFormat::E164,
            tech_prefix: String::new(),
            inbound: crate::sip::dids::InboundPolicy {
                sources: Vec::new(),
                number_from: Default::default(),
            },
            priority: 1,
            weight: 1,
            max_channels: None,
            qualify: qualify.map(Duration::from_secs),
            register,
            realm: None,
            tls_ca: None,
            srtp_required: false,
        }
    }

    /// A monitor on simulated time.
    struct Harness {
        monitor: TrunkMonitor,
        origin: Instant,
        elapsed: Duration,
    }

    impl Harness {
        fn new() -> Self {
            Harness {
                monitor: TrunkMonitor::new(
                    TrunkConfig {
                        local: crate::sip::Local {
                            tcp_port: 5071,
                            ..crate::sip::Local::new("192.0.2.1".parse().unwrap(), 5070)
                        },
                        timers: Timers::default(),
                    },
                    [3; 32],
                ),
                // The only clock read: the origin of simulated time.
                origin: Instant::now(),
                elapsed: Duration::ZERO,
            }
        }

        fn now(&self) -> Now {
            let ms = i64::try_from(self.elapsed.as_millis()).unwrap();
            Now {
                instant: self.origin + self.elapsed,
                unix: 1_700_000_000 + ms / 1000,
                unix_ms: 1_700_000_000_000 + ms,
            }
        }

        fn set(&mut self, routes: &[Route]) {
            let now = self.now();
            self.monitor.set_routes(now, routes);
        }

        /// Moves time to `secs` after the origin, firing every timer due on
        /// the way, in order.
        fn run_until(&mut self, secs: f64) {
            let end = Duration::from_secs_f64(secs);
            while let Some(at) = self.monitor.poll_timeout() {
                let at = at.saturating_duration_since(self.origin);
                if at > end {
                    break;
                }
                self.elapsed = self.elapsed.max(at);
                let now = self.now();
                self.monitor.handle_timeout(now);
            }
            self.elapsed = end;
        }

        /// Everything sent since last asked, as text; all to the carrier.
        fn sent(&mut self) -> Vec<String> {
            self.monitor
                .drain_transmits()
                .map(|t| {
                    assert_eq!(t.to, Destination::Udp(CARRIER.parse().unwrap()));
                    String::from_utf8(t.bytes).unwrap()
                })
                .collect()
        }

        fn sent_one(&mut self) -> String {
            let mut sent = self.sent();
            assert_eq!(sent.len(), 1, "{sent:#?}");
            sent.remove(0)
        }

        fn answer(&mut self, request: &str, code: u16, extra: &str) -> bool {
            let response = response_to(request, code, extra);
            let now = self.now();
            self.monitor.handle_response(now, &response)
        }

        fn statuses(&mut self) -> Vec<TrunkStatus> {
            self.monitor
                .drain_events()
                .map(|TrunkEvent::Status(s)| s)
                .collect()
        }

        fn qualify(&self) -> QualifyStatus {
            self.monitor.status(7).unwrap().qualify.unwrap()
        }

        fn registration(&self) -> RegistrationStatus {
            self.monitor.status(7).unwrap().registration.unwrap()
        }
    }

    fn header<'a>(message: &'a str, name: &str) -> Option<&'a str> {
        message.lines().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    /// The carrier's response: the request's Via, From, To (with a tag),
    /// Call-ID and CSeq.
    fn response_to(request: &str, code: u16, extra: &str) -> rsip::Response {
        let mut text = format!("SIP/2.0 {code} Whatever\r\n");
        for name in ["Via", "From", "Call-ID", "CSeq"] {
            text.push_str(&format!("{name}: {}\r\n", header(request, name).unwrap()));
        }
        text.push_str(&format!(
            "To: {};tag=carrier\r\n",
            header(request, "To").unwrap()
        ));
        text.push_str(extra);
        text.push_str("Content-Length: 0\r\n\r\n");
        rsip::Response::try_from(text.as_str()).unwrap()
    }

    fn cseq(request: &str) -> u32 {
        header(request, "CSeq")
            .and_then(|c| c.split_whitespace().next())
            .unwrap()
            .parse()
            .unwrap()
    }

    #[test]
    fn options_go_out_every_interval_and_an_answer_brings_the_carrier_up() {
        let mut h = Harness::new();
        h.set(&[route(Some(10), None)]);
        let first = h.sent_one();
        assert!(
            first.starts_with("OPTIONS sip:carrier.test:5099 SIP/2.0\r\n"),
            "{first}"
        );
        let via = header(&first, "Via").unwrap();
        assert!(
            via.starts_with("SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bK"),
            "{via}"
        );
        assert!(via.ends_with(";rport"), "{via}");
        assert_eq!(header(&first, "Max-Forwards"), Some("70"));
        assert!(header(&first, "From").unwrap().contains(";tag="), "{first}");
        assert_eq!(header(&first, "To"), Some("<sip:carrier.test:5099>"));
        assert_eq!(header(&first, "CSeq"), Some("1 OPTIONS"));
        assert_eq!(h.qualify().state, QualifyState::Unknown);
        assert_eq!(h.statuses().len(), 1, "the first status: unknown");

        h.run_until(0.04);
        assert!(h.answer(&first, 200, ""));
        let q = h.qualify();
        assert_eq!(q.state, QualifyState::Up);
        assert_eq!(q.rtt_ms, Some(40));
        assert_eq!(q.last_change_ms, Some(1_700_000_000_040));
        assert!(h.monitor.is_up(7));
        assert_eq!(h.statuses().len(), 1);

        // The next one, an interval after the first, a new Call-ID, the next CSeq.
        assert_eq!(
            h.monitor.poll_timeout(),
            Some(h.origin + Duration::from_secs(10))
        );
        h.run_until(9.9);
        assert!(h.sent().is_empty());
        h.run_until(10.0);
        let second = h.sent_one();
        assert_eq!(cseq(&second), 2);
        let call_ids = [&first, &second].map(|r| header(r, "Call-ID").unwrap());
        assert_ne!(call_ids[0], call_ids[1], "a Call-ID per OPTIONS");
        assert_eq!(call_ids[0].split('-').next(), call_ids[1].split('-').next());
        assert_ne!(header(&second, "Via"), header(&first, "Via"));
    }

    #[test]
    fn one_lost_options_is_not_down_two_are_and_two_answers_bring_it_back() {
        let mut h = Harness::new();
        h.set(&[route(Some(10), None)]);
        let first = h.sent_one();
        h.answer(&first, 200, "");
        assert_eq!(h.qualify().state, QualifyState::Up);

        // Lost at 10 s: retransmitted over UDP (timer E), then a miss at 15 s.
        h.run_until(10.0);
        let lost = h.sent_one();
        h.run_until(14.9);
        let resent = h.sent();
        assert!(resent.len() >= 3, "timer E retransmits: {resent:#?}");
        assert!(resent.iter().all(|r| *r == lost));
        h.run_until(15.0);
        assert_eq!(h.qualify().state, QualifyState::Up, "one miss is not down");
        assert!(h.monitor.is_up(7));
        let error = h.qualify().last_error.unwrap();
        assert!(error.contains("no answer"), "{error}");

        // A late answer to the abandoned probe is ours, but counts for nothing.
        assert!(h.answer(&lost, 200, ""));
        assert_eq!(h.qualify().state, QualifyState::Up);

        h.run_until(25.0);
        let q = h.qualify();
        assert_eq!(q.state, QualifyState::Down, "two misses in a row");
        assert_eq!(q.last_change_ms, Some(1_700_000_025_000));
        assert!(!h.monitor.is_up(7));
        let down: Vec<TrunkStatus> = h.statuses();
        assert!(
            down.iter()
                .any(|s| s.qualify.as_ref().unwrap().state == QualifyState::Down),
            "{down:?}"
        );

        // Still probed while down; one answer is not enough.
        h.sent();
        h.run_until(30.0);
        let probe = h.sent_one();
        h.answer(&probe, 200, "");
        assert_eq!(h.qualify().state, QualifyState::Down);
        assert!(!h.monitor.is_up(7));
        h.run_until(40.0);
        let probe = h.sent_one();
        h.answer(&probe, 200, "");
        assert_eq!(h.qualify().state, QualifyState::Up);
        assert!(h.monitor.is_up(7));
    }

    #[test]
    fn probes_sent_a_little_late_still_count_as_misses() {
        // The shell wakes a millisecond after each deadline it was given,
        // so each probe's own deadline lands after the next probe is due.
        let mut h = Harness::new();
        h.set(&[route(Some(1), None)]);
        let first = h.sent_one();
        h.answer(&first, 200, "");
        for _ in 0..3 {
            let at = h.monitor.poll_timeout().unwrap() + Duration::from_millis(1);
            h.elapsed = at.saturating_duration_since(h.origin);
            let now = h.now();
            h.monitor.handle_timeout(now);
        }
        h.sent();
        assert_eq!(h.qualify().state, QualifyState::Up);
        h.run_until(2.6);
        assert_eq!(h.qualify().state, QualifyState::Up, "one miss");
        h.run_until(3.1);
        assert_eq!(h.qualify().state, QualifyState::Down, "two misses");
    }

    #[test]
    fn any_answer_even_404_or_503_means_alive() {
        for code in [404, 405, 503] {
            let mut h = Harness::new();
            h.set(&[route(Some(10), None)]);
            let first = h.sent_one();
            assert!(h.answer(&first, code, ""));
            assert_eq!(h.qualify().state, QualifyState::Up, "{code}");
        }
    }

    #[test]
    fn a_silent_carrier_goes_from_unknown_to_down() {
        let mut h = Harness::new();
        h.set(&[route(Some(2), None)]);
        h.run_until(2.0);
        assert_eq!(h.qualify().state, QualifyState::Unknown);
        assert!(h.monitor.is_up(7), "unknown is usable");
        h.run_until(4.0);
        assert_eq!(h.qualify().state, QualifyState::Down);
        assert!(!h.monitor.is_up(7));
    }

    #[test]
    fn responses_of_others_are_left_alone() {
        let mut h = Harness::new();
        h.set(&[route(Some(10), Some(60))]);
        let sent = h.sent();
        let stranger = sent[0]
            .replace(header(&sent[0], "Call-ID").unwrap(), "someone-else")
            .replace(header(&sent[1], "Call-ID").unwrap(), "someone-else");
        assert!(!h.answer(&stranger, 200, ""));
    }

    fn challenge(algorithm: Algorithm, nonce: &str) -> String {
        let challenge = Challenge {
            realm: "carrier.test".to_owned(),
            nonce: nonce.to_owned(),
            opaque: None,
            algorithm,
            qop: vec!["auth".to_owned()],
            stale: false,
        };
        format!("WWW-Authenticate: {}\r\n", challenge.to_header_value())
    }

    fn verify(request: &str) -> Credentials {
        let creds = Credentials::parse(header(request, "Authorization").unwrap()).unwrap();
        let ha1 = digest::ha1(creds.algorithm, "trunkuser", "carrier.test", "s3cret");
        assert!(digest::verify(&creds, "REGISTER", &ha1), "{request}");
        assert_eq!(creds.uri, "sip:carrier.test");
        creds
    }

    /// 401 with `challenges` → REGISTER with digest → 200 for 60 s →
    /// refresh at 30 s.
    fn register_with(challenges: &str, expected: Algorithm) {
        let mut h = Harness::new();
        h.set(&[route(None, Some(60))]);
        assert_eq!(h.registration().state, TrunkRegistrationState::Registering);
        let first = h.sent_one();
        assert!(
            first.starts_with("REGISTER sip:carrier.test SIP/2.0\r\n"),
            "{first}"
        );
        assert_eq!(header(&first, "To"), Some("<sip:trunkuser@carrier.test>"));
        assert_eq!(
            header(&first, "Contact"),
            Some("<sip:trunkuser@192.0.2.1:5070>;expires=60")
        );
        assert!(header(&first, "Authorization").is_none());

        assert!(h.answer(&first, 401, challenges));
        let second = h.sent_one();
        assert_eq!(cseq(&second), cseq(&first) + 1);
        assert_eq!(verify(&second).algorithm, expected);

        h.run_until(0.1);
        assert!(h.answer(
            &second,
            200,
            "Contact: <sip:trunkuser@192.0.2.1:5070>;expires=60\r\n"
        ));
        let r = h.registration();
        assert_eq!(r.state, TrunkRegistrationState::Registered);
        assert_eq!(r.expires_at_ms, Some(1_700_000_000_100 + 60_000));
        let shown = h.statuses();
        assert!(
            shown
                .iter()
                .any(|s| s.registration.as_ref().unwrap().state
                    == TrunkRegistrationState::Registered)
        );

        // Refreshed at half the granted expiry, answering the kept challenge.
        h.run_until(30.0);
        assert!(h.sent().is_empty());
        h.run_until(30.1);
        let refresh = h.sent_one();
        assert_eq!(header(&refresh, "Call-ID"), header(&first, "Call-ID"));
        assert_eq!(verify(&refresh).nc, Some(2));
        assert!(h.answer(&refresh, 200, "Expires: 60\r\n"));
        let r = h.registration();
        assert_eq!(r.state, TrunkRegistrationState::Registered);
        assert_eq!(r.expires_at_ms, Some(1_700_000_030_100 + 60_000));
    }

    #[test]
    fn register_answers_a_sha256_challenge_and_refreshes_at_half_expiry() {
        let both = format!(
            "{}{}",
            challenge(Algorithm::Sha256, "n-sha"),
            challenge(Algorithm::Md5, "n-md5")
        );
        register_with(&both, Algorithm::Sha256);
    }

    #[test]
    fn register_answers_an_md5_challenge_and_refreshes_at_half_expiry() {
        register_with(&challenge(Algorithm::Md5, "n-md5"), Algorithm::Md5);
    }

    #[test]
    fn register_is_retransmitted_over_udp() {
        let mut h = Harness::new();
        h.set(&[route(None, Some(60))]);
        let first = h.sent_one();
        h.run_until(0.5);
        assert_eq!(h.sent(), vec![first.clone()], "timer E at T1");
        h.run_until(1.5);
        assert_eq!(h.sent(), vec![first], "then 2·T1");
    }

    #[test]
    fn a_failed_registration_is_retried_with_backoff() {
        let mut h = Harness::new();
        h.set(&[route(None, Some(60))]);
        let first = h.sent_one();
        h.answer(&first, 403, "");
        let r = h.registration();
        assert_eq!(r.state, TrunkRegistrationState::Failed);
        assert_eq!(r.last_error.as_deref(), Some("403 Forbidden"));
        h.run_until(29.9);
        assert!(h.sent().is_empty());
        h.run_until(30.0);
        let again = h.sent_one();
        assert_eq!(h.registration().state, TrunkRegistrationState::Registering);
        h.answer(&again, 503, "");
        h.run_until(89.9);
        assert!(h.sent().is_empty(), "60 s after the second failure");
        h.run_until(90.0);
        h.sent_one();
        // Silence fails too (the registration's timer F, 32 s).
        h.run_until(90.0 + 31.9);
        assert_eq!(
            h.sent().len(),
            10,
            "timer E: 0.5, 1.5, 3.5 s, then every 4 s"
        );
        h.run_until(90.0 + 32.0);
        let r = h.registration();
        assert_eq!(r.state, TrunkRegistrationState::Failed);
        assert!(r.last_error.unwrap().starts_with("408 "));
        assert_eq!(retry_delay(3), Duration::from_secs(120));
        assert_eq!(retry_delay(6), RETRY_MAX);
        assert_eq!(retry_delay(100), RETRY_MAX);
    }

    #[test]
    fn registration_without_credentials_is_off_and_sends_nothing() {
        let mut h = Harness::new();
        let mut r = route(None, Some(60));
        r.secret = None;
        h.set(&[r]);
        assert!(h.sent().is_empty());
        let status = h.registration();
        assert_eq!(status.state, TrunkRegistrationState::Off);
        assert!(status.last_error.unwrap().contains("username and a secret"));
        assert_eq!(h.monitor.poll_timeout(), None);
    }

    #[test]
    fn routes_that_stay_keep_their_state_and_removed_ones_stop() {
        let mut h = Harness::new();
        h.set(&[route(Some(10), Some(60))]);
        let sent = h.sent();
        assert_eq!(sent.len(), 2);
        let options = sent.iter().find(|s| s.starts_with("OPTIONS")).unwrap();
        h.answer(options, 200, "");
        assert_eq!(h.qualify().state, QualifyState::Up);

        // A new priority and a new interval: same machines, same state.
        let mut changed = route(Some(20), Some(60));
        changed.priority = 5;
        h.set(&[changed.clone()]);
        assert!(h.sent().is_empty(), "nothing restarted");
        assert_eq!(h.qualify().state, QualifyState::Up);
        assert_eq!(h.registration().state, TrunkRegistrationState::Registering);

        // New credentials: registration starts over.
        changed.secret = Some("n3w".to_owned());
        h.set(&[changed]);
        let sent = h.sent_one();
        assert!(sent.starts_with("REGISTER"), "{sent}");
        h.statuses();

        // Removed: both machines stop, and the shell hears it.
        h.set(&[]);
        assert_eq!(h.monitor.poll_timeout(), None);
        assert!(h.sent().is_empty());
        assert_eq!(
            h.statuses(),
            vec![TrunkStatus {
                carrier_id: 7,
                qualify: None,
                registration: None,
            }]
        );
        assert!(h.monitor.status(7).is_none());
        assert!(h.monitor.is_up(7));
        h.run_until(100.0);
        assert!(h.sent().is_empty());
    }

    #[test]
    fn a_registered_carrier_that_is_removed_withdraws_its_binding() {
        let mut h = Harness::new();
        h.set(&[route(None, Some(60))]);
        let first = h.sent_one();
        assert!(h.answer(&first, 401, &challenge(Algorithm::Md5, "n1")));
        let second = h.sent_one();
        assert!(h.answer(&second, 200, "Expires: 60\r\n"));
        assert_eq!(h.registration().state, TrunkRegistrationState::Registered);

        // Removed: an un-REGISTER, answered with the kept challenge.
        h.set(&[]);
        let bye = h.sent_one();
        assert!(
            bye.starts_with("REGISTER sip:carrier.test SIP/2.0\r\n"),
            "{bye}"
        );
        assert_eq!(header(&bye, "Call-ID"), header(&first, "Call-ID"));
        assert!(
            header(&bye, "Expires") == Some("0")
                || header(&bye, "Contact").is_some_and(|c| c.ends_with("expires=0")),
            "{bye}"
        );
        verify(&bye);
        // Retransmitted over UDP until answered, then forgotten.
        h.run_until(0.6);
        assert_eq!(h.sent_one(), bye);
        assert!(h.answer(&bye, 200, ""));
        assert_eq!(h.monitor.poll_timeout(), None);
        h.run_until(100.0);
        assert!(h.sent().is_empty());

        // A registration still on its way is only dropped.
        h.set(&[route(None, Some(60))]);
        h.sent_one();
        h.set(&[]);
        assert!(h.sent().is_empty());
    }

    #[test]
    fn a_withdrawal_the_carrier_never_answers_ends_after_timer_f() {
        let mut h = Harness::new();
        h.set(&[route(None, Some(60))]);
        let first = h.sent_one();
        assert!(h.answer(&first, 200, "Expires: 60\r\n"));
        h.set(&[route(None, None)]);
        assert!(h.sent_one().starts_with("REGISTER"));
        h.run_until(40.0);
        h.sent();
        assert!(h.monitor.leaving.is_empty(), "given up after timer F");
        h.run_until(1000.0);
        assert!(h.sent().is_empty());
    }

    #[test]
    fn tcp_carriers_get_tcp_via_and_no_retransmissions() {
        let mut h = Harness::new();
        let mut r = route(Some(10), Some(60));
        r.transport = SipTransport::Tcp;
        h.set(&[r]);
        let sent: Vec<Transmit> = h.monitor.drain_transmits().collect();
        assert_eq!(sent.len(), 2);
        for t in &sent {
            assert_eq!(t.to, Destination::Tcp(CARRIER.parse().unwrap()));
            let text = String::from_utf8(t.bytes.clone()).unwrap();
            assert!(
                header(&text, "Via")
                    .unwrap()
                    .starts_with("SIP/2.0/TCP 192.0.2.1:5071;"),
                "{text}"
            );
            assert!(
                header(&text, "Contact")
                    .unwrap()
                    .contains(";transport=tcp>"),
                "{text}"
            );
        }
        h.run_until(4.0);
        assert!(h.monitor.drain_transmits().next().is_none());
        // The connection cannot be made: a miss, and a failed registration.
        let now = h.now();
        h.monitor
            .transport_failed(now, Destination::Tcp(CARRIER.parse().unwrap()), "refused");
        assert_eq!(
            h.qualify().last_error.as_deref(),
            Some("cannot reach the carrier: refused")
        );
        assert_eq!(h.registration().state, TrunkRegistrationState::Failed);
    }
}
