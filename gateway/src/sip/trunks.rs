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

use shared::ids::CarrierId;
use std::collections::BTreeMap;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use serde::Serialize;
use shared::sip::transaction::{ClientNonInvite, Timers, TransactionKey, TxEvent};
use web_time::Instant;

use super::b2bua::Route;
use super::core::{Destination, Transmit};
use super::{Now, carrier_dest, host_port, is_reliable};

mod register;
use register::Register;

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
    pub carrier_id: CarrierId,
    /// `None`: qualify is off for this carrier.
    pub qualify: Option<QualifyStatus>,
    /// `None`: the carrier does not want registration.
    pub registration: Option<RegistrationStatus>,
    /// How the carrier's host name resolved (`None`: an IP address). The
    /// monitor knows nothing of DNS and always leaves this `None`;
    /// `crate::trunk_status::TrunkStatuses` fills it in from `crate::dns`.
    pub dns: Option<crate::trunk_status::DnsStatus>,
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
    carriers: BTreeMap<CarrierId, Carrier>,
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
        let gone: Vec<CarrierId> = self
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
                        dns: None,
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
        let ids: Vec<CarrierId> = self.carriers.keys().copied().collect();
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
        let ids: Vec<CarrierId> = self
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
    pub fn is_up(&self, carrier_id: CarrierId) -> bool {
        self.carriers
            .get(&carrier_id)
            .and_then(|c| c.qualify.as_ref())
            .is_none_or(|q| q.state != QualifyState::Down)
    }

    /// What is shown about a carrier now (`None`: not a known carrier).
    pub fn status(&self, carrier_id: CarrierId) -> Option<TrunkStatus> {
        self.carriers.get(&carrier_id).map(|c| c.status(carrier_id))
    }

    /// Queues a status event if what is shown about `id` changed.
    fn report(&mut self, id: CarrierId) {
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
    fn status(&self, carrier_id: CarrierId) -> TrunkStatus {
        TrunkStatus {
            carrier_id,
            qualify: self.qualify.as_ref().map(|q| QualifyStatus {
                state: q.state,
                rtt_ms: q.rtt_ms,
                last_change_ms: q.last_change_ms,
                last_error: q.last_error.clone(),
            }),
            dns: None,
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
mod tests;
