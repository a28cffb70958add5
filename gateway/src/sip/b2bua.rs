//! The back-to-back user agent, sans-IO: a router of calls.
//!
//! Each call is a machine of its own ([`outbound::OutboundCall`],
//! [`inbound::InboundCall`]) that owns its two legs (each its own SIP
//! dialog), its client transactions, its timers and its record. The router
//! only finds the call a message belongs to (by Call-ID: every leg has its
//! own, and a call tells the router when it binds or drops one), hands it
//! the input with an [`call::Env`] (settings, the media port, the random
//! generator, channel counts of the other calls), and drains what the call
//! queued: transmits and [`call::CallOutput`]s, and drops the call once its
//! record is out and its last client transaction has ended. It owns
//! nothing else.
//!
//! Where to look:
//! - a new outbound call, the carrier's answers, failover: [`outbound`];
//!   BYE/CANCEL/re-INVITE inside it and how it ends: `outbound::requests`;
//! - a new inbound call and its ring steps: [`inbound`]; the tabs' answers:
//!   `inbound::forks`; requests inside it: `inbound::requests`;
//! - the order carriers are tried in: [`route::plan`]; caller ID:
//!   [`caller_id`]; call records: [`record`]; the media interface: [`port`];
//!   client transactions: [`txs`]; what every call shares: [`call`].
//!
//! Invariants:
//! - Every call ends in exactly one [`CallRecord`], also when it failed
//!   before reaching a carrier, and once its media has reported its counts
//!   (or `media_grace` passed).
//! - Media is reached only through [`MediaPort`], whose methods never block.
//! - A retransmitted carrier request is answered with the same response,
//!   also after its call is gone (kept 32 s, the life of a UDP server
//!   transaction).

pub mod blocks;
pub mod call;
pub mod caller_id;
pub mod inbound;
pub mod outbound;
pub mod port;
pub mod record;
pub mod route;
pub mod txs;
pub mod velocity;
pub mod watch;

use shared::ids::{AccountId, CallId, CarrierId};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use rand::SeedableRng;
use rand::rngs::StdRng;
use shared::api::{CallRecord, HangupBy, LiveCall};
use shared::sip::Transport;
use shared::sip::response::response_to;
use shared::sip::transaction::{Timers, TransactionKey};
use web_time::Instant;

use self::call::{CallOutput, Env};
use self::inbound::{Admission, InboundCall};
use self::outbound::OutboundCall;
use super::core::{Destination, Transmit};
use super::dids::DidTable;
use super::{ConnId, Now, msg};

pub use self::caller_id::format_number;
pub use self::inbound::{ForkTarget, RingStep, dialled_number};
pub use self::port::{InboundSetup, MediaCounts, MediaFailure, MediaPort, MediaSetup, SilentLeg};
pub use self::route::{AgentInfo, Route};

#[derive(Debug, Clone)]
pub struct B2buaConfig {
    /// Where carriers reach us (Via, Contact, From, Call-ID).
    pub local: super::Local,
    /// Our SIP domain (agents' AORs).
    pub domain: String,
    pub timers: Timers,
    /// A carrier that rings longer than this is cancelled (408 to the agent).
    pub max_ringing: Duration,
    /// How long a finished call waits for its media counts.
    pub media_grace: Duration,
    /// Country (ISO 3166 alpha-2) for numbers carriers send without one.
    pub default_country: String,
    /// A carrier that has not answered at all (not even 100) after this
    /// long is given up for the next one, when there is a next one.
    pub failover_timeout: Duration,
    /// How long an answered call keeps its carrier leg after the agent's
    /// connection drops, waiting for the phone to come back on a new one
    /// (zero: the call ends at once).
    pub reconnect_grace: Duration,
    /// Calls an agent may start a minute (`None`: no limit).
    pub velocity: Option<velocity::VelocityLimit>,
    /// What the fraud watch starts from (destinations called before,
    /// business hours, the usual call rate by hour).
    pub watch: watch::WatchConfig,
}

impl B2buaConfig {
    pub fn new(advertised: std::net::IpAddr, sip_udp_port: u16, domain: impl Into<String>) -> Self {
        B2buaConfig {
            local: super::Local::new(advertised, sip_udp_port),
            domain: domain.into(),
            timers: Timers::default(),
            max_ringing: Duration::from_secs(180),
            media_grace: Duration::from_secs(2),
            default_country: "US".to_owned(),
            failover_timeout: Duration::from_secs(4),
            reconnect_grace: Duration::from_secs(30),
            velocity: None,
            watch: watch::WatchConfig::default(),
        }
    }
}

/// A step in a call's life that integrations hear about (webhooks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    Started,
    Answered,
    Ended,
}

/// What the B2BUA tells the shell, besides transmits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum B2buaEvent {
    /// A call ended: store its record.
    Record(Box<CallRecord>),
    /// A call's record so far (started, answered): kept until its `Record`
    /// so that a gateway killed mid-call still records the call.
    Snapshot(Box<CallRecord>),
    /// A call was placed toward a carrier (for logs and live views).
    Placed {
        call: CallId,
        agent: String,
        carrier: String,
    },
    /// A call started, was answered or ended (emitted by the call itself,
    /// so none is missed however short the call). `Ended` comes just
    /// before the call's `Record`; `call.id` is the record's id.
    Progress { kind: Progress, call: LiveCall },
    /// Something an admin should look at (an agent over the velocity limit).
    Alert {
        kind: &'static str,
        agent: Option<String>,
        message: String,
    },
}

enum Call {
    Out(Box<OutboundCall>),
    In(Box<InboundCall>),
}

impl Call {
    fn live_call(&self) -> Option<LiveCall> {
        match self {
            Call::Out(c) => c.live_call(),
            Call::In(c) => c.live_call(),
        }
    }
    fn agent_of_live_call(&self) -> Option<AccountId> {
        match self {
            Call::Out(c) => c.agent_of_live_call(),
            Call::In(c) => c.agent_of_live_call(),
        }
    }
    fn carrier_in_use(&self) -> Option<CarrierId> {
        match self {
            Call::Out(c) => c.carrier_in_use(),
            Call::In(c) => c.carrier_in_use(),
        }
    }
    fn poll_timeout(&self) -> Option<Instant> {
        match self {
            Call::Out(c) => c.poll_timeout(),
            Call::In(c) => c.poll_timeout(),
        }
    }
    fn is_done(&self) -> bool {
        match self {
            Call::Out(c) => c.is_done(),
            Call::In(c) => c.is_done(),
        }
    }
    fn is_finished(&self) -> bool {
        match self {
            Call::Out(c) => c.is_finished(),
            Call::In(c) => c.is_finished(),
        }
    }
    fn poll_transmit(&mut self) -> Option<call::Outgoing> {
        match self {
            Call::Out(c) => c.poll_transmit(),
            Call::In(c) => c.poll_transmit(),
        }
    }
    fn poll_event(&mut self) -> Option<CallOutput> {
        match self {
            Call::Out(c) => c.poll_event(),
            Call::In(c) => c.poll_event(),
        }
    }
}

pub struct B2bua {
    config: B2buaConfig,
    media: Box<dyn MediaPort>,
    calls: HashMap<CallId, Call>,
    /// Call-IDs of every leg → call.
    by_call_id: HashMap<String, CallId>,
    /// Responses to carrier requests, kept to answer UDP retransmissions.
    recent: HashMap<TransactionKey, (Vec<u8>, Instant)>,
    next_call: CallId,
    rng: StdRng,
    /// The time of the latest input that came with one (when answers to
    /// carrier requests stop being kept).
    clock: Option<Instant>,
    transmits: Vec<Transmit>,
    events: Vec<B2buaEvent>,
    /// Calls each agent started in the last minute.
    velocity: velocity::Velocity,
    /// New destinations, night calls, spikes.
    watch: watch::Watch,
    /// Agents, campaigns (or everyone) over a daily limit, until midnight.
    blocks: blocks::Blocks,
}

/// How long a response to a carrier request answers its retransmissions
/// (64·T1, Timer J).
const RECENT_FOR: Duration = Duration::from_secs(32);

impl B2bua {
    pub fn new(config: B2buaConfig, media: Box<dyn MediaPort>, seed: [u8; 32]) -> Self {
        B2bua {
            velocity: velocity::Velocity::new(config.velocity),
            watch: watch::Watch::new(config.watch.clone()),
            blocks: blocks::Blocks::default(),
            config,
            media,
            calls: HashMap::new(),
            by_call_id: HashMap::new(),
            recent: HashMap::new(),
            next_call: CallId(1),
            rng: StdRng::from_seed(seed),
            clock: None,
            transmits: Vec::new(),
            events: Vec::new(),
        }
    }

    /// The calls in progress, for the live view.
    pub fn live_calls(&self) -> Vec<LiveCall> {
        let mut ids: Vec<&CallId> = self.calls.keys().collect();
        ids.sort();
        ids.into_iter()
            .filter_map(|id| self.calls.get(id).and_then(Call::live_call))
            .collect()
    }

    /// Calls whose record is not out yet (a call whose record is out but
    /// whose last transactions still run does not count).
    pub fn call_count(&self) -> usize {
        self.calls.values().filter(|c| !c.is_done()).count()
    }

    /// Calls an agent is on (placed, or inbound and answered), not ended.
    /// `scope` reached a daily limit that blocks: its new calls (of
    /// `reach`) are refused with `reason` until `until_ms` (the next UTC
    /// midnight).
    pub fn block(
        &mut self,
        now: &Now,
        scope: blocks::Scope,
        reach: blocks::Reach,
        until_ms: i64,
        reason: String,
    ) {
        self.blocks
            .block(scope, reach, until_ms, reason, now.unix_ms);
    }

    /// The limits changed: every block is lifted (those still reached are
    /// set again as the records are counted anew), and the calls-a-minute
    /// limit is the new one.
    pub fn set_limits(&mut self, velocity: Option<velocity::VelocityLimit>) {
        self.blocks.clear();
        self.velocity.set_limit(velocity);
    }

    pub fn calls_of(&self, account_id: AccountId) -> usize {
        self.calls
            .values()
            .filter(|c| c.agent_of_live_call() == Some(account_id))
            .count()
    }

    /// Calls (inbound and outbound, not yet ended) on carrier `id`.
    pub fn channels_in_use(&self, carrier_id: CarrierId) -> usize {
        channels(&self.calls, carrier_id)
    }

    pub fn drain_transmits(&mut self) -> std::vec::Drain<'_, Transmit> {
        self.transmits.drain(..)
    }

    pub fn drain_events(&mut self) -> std::vec::Drain<'_, B2buaEvent> {
        self.events.drain(..)
    }

    /// A random hex token (nonces, tags) from the B2BUA's generator.
    pub fn new_token(&mut self, len: usize) -> String {
        call::token(&mut self.rng, len)
    }

    // ---------------------------------------------------------------
    // New calls
    // ---------------------------------------------------------------

    /// A dialog-creating INVITE from a browser. `agent` is the agent the
    /// connection registered as (`None`: not registered), `routes` the
    /// enabled carriers.
    pub fn handle_new_invite(
        &mut self,
        now: Now,
        conn: ConnId,
        request: rsip::Request,
        agent: Option<&AgentInfo>,
        routes: &[Route],
    ) {
        let reject = |this: &mut Self, code: u16, reason: &str| {
            let tag = this.new_token(12);
            let r = response_to(&request, code, reason, Some(&tag));
            this.send(Destination::Conn(conn), r.to_string().into_bytes());
        };
        // Refused before any carrier, and recorded as the agent's call.
        let refuse_recorded = |this: &mut Self, agent: &AgentInfo, code: u16, reason: &str| {
            reject(this, code, reason);
            let target = msg::uri_user(&request.uri.to_string()).unwrap_or_default();
            let id = format!("{}-{}", now.unix_ms, this.new_token(8));
            let rec = record::outbound(id, agent, target, &now);
            let rec = record::refused(rec, &now, code, reason);
            this.events.push(B2buaEvent::Record(Box::new(rec)));
        };
        let Some(agent) = agent else {
            reject(
                self,
                403,
                "Forbidden (register this connection before calling)",
            );
            return;
        };
        let call_id = msg::header(&request.headers, "Call-ID").unwrap_or_default();
        if self.by_call_id.contains_key(&call_id) {
            // An INVITE retransmitted over a reliable transport, or a reused
            // Call-ID: the first one is being handled.
            reject(self, 482, "Loop Detected (Call-ID already in use)");
            return;
        }
        // Spend caps; a campaign's and international limits are checked
        // once the call's campaign and number are known.
        let blocked = [
            blocks::Scope::Gateway,
            blocks::Scope::Agent(agent.account_id),
        ]
        .into_iter()
        .find_map(|scope| self.blocks.refusal(scope, false, now.unix_ms))
        .map(str::to_owned);
        if let Some(reason) = blocked {
            refuse_recorded(self, agent, 403, &reason);
            return;
        }
        let verdict = self.velocity.check(&now, agent.account_id, &agent.username);
        if let Some(message) = verdict.alert {
            self.events.push(B2buaEvent::Alert {
                kind: "velocity",
                agent: Some(agent.username.clone()),
                message,
            });
        }
        if let Some(reason) = verdict.refuse {
            refuse_recorded(self, agent, 403, &reason);
            return;
        }
        if self.calls_of(agent.account_id) >= agent.max_calls as usize {
            let reason = format!(
                "Busy Here (you already have {} call(s), your limit)",
                agent.max_calls
            );
            refuse_recorded(self, agent, 486, &reason);
            return;
        }
        let id = self.next_id();
        let started =
            self.run(|env| OutboundCall::start(id, now, conn, request, agent, routes, env));
        match started {
            Ok(call) => {
                if let Some(number) = call.dialled() {
                    for (kind, message) in self.watch.call_placed(&now, &agent.username, &number) {
                        self.events.push(B2buaEvent::Alert {
                            kind,
                            agent: Some(agent.username.clone()),
                            message,
                        });
                    }
                }
                self.adopt(now, id, Call::Out(Box::new(call)));
            }
            Err(refused) => {
                self.send(
                    Destination::Conn(conn),
                    refused.response.to_string().into_bytes(),
                );
                if let Some(rec) = refused.record {
                    self.events.push(B2buaEvent::Record(Box::new(rec)));
                }
            }
        }
    }

    /// A dialog-creating INVITE from `route` (the core recognised the
    /// carrier). `bindings` lists an agent's ringing targets by username.
    #[allow(clippy::too_many_arguments)]
    pub fn handle_inbound_invite(
        &mut self,
        now: Now,
        peer: SocketAddr,
        reply: Destination,
        transport: Transport,
        request: rsip::Request,
        route: &Route,
        dids: &DidTable,
        bindings: &dyn Fn(&str) -> Vec<ForkTarget>,
    ) {
        let call_id = msg::header(&request.headers, "Call-ID").unwrap_or_default();
        let admission = Admission {
            capacity: route::has_capacity(route, self.channels_in_use(route.id)),
            call_id_free: !self.by_call_id.contains_key(&call_id),
        };
        let id = self.next_id();
        let started = self.run(|env| {
            InboundCall::start(
                id, now, peer, reply, transport, request, route, admission, dids, bindings, env,
            )
        });
        match started {
            Ok(call) => self.adopt(now, id, Call::In(Box::new(call))),
            Err(refused) => {
                self.send(reply, refused.response.to_string().into_bytes());
                if let Some(rec) = refused.record {
                    self.events.push(B2buaEvent::Record(Box::new(rec)));
                }
            }
        }
    }

    // ---------------------------------------------------------------
    // Messages of calls that exist
    // ---------------------------------------------------------------

    /// A response from a carrier (UDP, TCP or TLS). Returns false when it
    /// belongs to no call.
    pub fn handle_carrier_response(&mut self, now: Now, response: rsip::Response) -> bool {
        let Some(id) = self.call_of(&response.headers) else {
            return false;
        };
        self.with_call(Some(now), id, |call, env| match call {
            Call::Out(c) => c.handle_carrier_response(now, response, env),
            Call::In(c) => c.handle_carrier_response(now, response),
        })
        .unwrap_or(false)
    }

    /// A response over a browser connection (to an inbound call's INVITE
    /// or to our BYE/CANCEL). Returns false when it belongs to no call.
    pub fn handle_browser_response(
        &mut self,
        now: Now,
        conn: ConnId,
        response: &rsip::Response,
    ) -> bool {
        let Some(id) = self.call_of(&response.headers) else {
            return false;
        };
        self.with_call(Some(now), id, |call, env| match call {
            Call::Out(_) => false,
            Call::In(c) => c.handle_browser_response(now, conn, response, env),
        })
        .unwrap_or(false)
    }

    /// A request from a browser connection that belongs to a call (by
    /// Call-ID): ACK, BYE, CANCEL, re-INVITE, INFO. `account` is who
    /// registered on `conn`: an answered call's own agent may continue it
    /// from a new connection (the phone reconnected). Returns false when it
    /// belongs to none.
    pub fn handle_browser_request(
        &mut self,
        now: Now,
        conn: ConnId,
        account: Option<AccountId>,
        request: &rsip::Request,
    ) -> bool {
        let Some(id) = self.call_of(&request.headers) else {
            return false;
        };
        self.with_call(Some(now), id, |call, env| match call {
            Call::Out(c) => c.handle_browser_request(now, conn, account, request, env),
            Call::In(c) => c.handle_browser_request(now, conn, account, request, env),
        })
        .unwrap_or(false)
    }

    /// A request from a carrier (UDP, TCP or TLS); answers go to `reply`.
    /// Returns false when it belongs to no call.
    pub fn handle_carrier_request(
        &mut self,
        now: Now,
        peer: SocketAddr,
        reply: Destination,
        request: &rsip::Request,
    ) -> bool {
        if let Ok(key) = TransactionKey::for_request(request)
            && let Some((bytes, _)) = self.recent.get(&key)
        {
            let bytes = bytes.clone();
            self.send(reply, bytes);
            return true;
        }
        let Some(id) = self.call_of(&request.headers) else {
            return false;
        };
        self.with_call(Some(now), id, |call, env| match call {
            Call::Out(c) => c.handle_carrier_request(now, peer, reply, request, env),
            Call::In(c) => c.handle_carrier_request(now, peer, reply, request, env),
        })
        .unwrap_or(false)
    }

    // ---------------------------------------------------------------
    // Inputs from the shell: media, connections, time
    // ---------------------------------------------------------------

    /// The media's answer to a browser re-INVITE.
    pub fn media_browser_answer(&mut self, id: CallId, result: Result<String, String>) {
        let now = Now {
            instant: Instant::now(),
            unix: 0,
            unix_ms: 0,
        };
        // Answering a re-INVITE reads no clock: `now` is not looked at.
        self.with_call(Some(now), id, |call, env| match call {
            Call::Out(c) => c.media_browser_answer(result, env),
            Call::In(c) => c.media_browser_answer(result, env),
        });
    }

    /// No packets from `leg` for the configured time.
    pub fn media_no_media(&mut self, now: Now, id: CallId, silent_for: Duration, leg: SilentLeg) {
        self.with_call(Some(now), id, |call, env| match call {
            Call::Out(c) => c.media_no_media(now, silent_for, leg, env),
            Call::In(c) => c.media_no_media(now, silent_for, leg, env),
        });
    }

    /// The call's media ended (asked to, or by itself: an error or a panic).
    pub fn media_stopped(
        &mut self,
        now: Now,
        id: CallId,
        counts: MediaCounts,
        failure: Option<String>,
    ) {
        self.with_call(Some(now), id, |call, env| match call {
            Call::Out(c) => c.media_stopped(now, counts, failure, env),
            Call::In(c) => c.media_stopped(now, counts, failure, env),
        });
    }

    /// A browser connection closed: calls being set up on it end, answered
    /// ones wait `reconnect_grace` for the phone to come back.
    pub fn connection_closed(&mut self, now: Now, conn: ConnId) {
        for id in self.ids() {
            self.with_call(Some(now), id, |call, env| match call {
                Call::Out(c) => c.connection_closed(now, conn, env),
                Call::In(c) => c.connection_closed(now, conn, env),
            });
        }
    }

    /// Ends every call (shutdown).
    pub fn hang_up_all(&mut self, now: Now) {
        for id in self.ids() {
            self.with_call(Some(now), id, |call, env| match call {
                Call::Out(c) => {
                    c.abandon(now, "The gateway is shutting down", HangupBy::Gateway, env)
                }
                Call::In(c) => c.hang_up(now, env),
            });
        }
    }

    /// Nothing can reach `dest`: its client transactions end with a
    /// transport error (RFC 3261 §17.1.4), which fails a pending INVITE
    /// with 503.
    pub fn transport_failed(&mut self, now: Now, dest: Destination, reason: &str) {
        for id in self.ids() {
            self.with_call(Some(now), id, |call, env| match call {
                Call::Out(c) => c.transport_failed(now, dest, reason, env),
                Call::In(c) => c.transport_failed(now, dest),
            });
        }
    }

    pub fn handle_timeout(&mut self, now: Now) {
        let due: Vec<CallId> = self
            .calls
            .iter()
            .filter(|(_, c)| c.poll_timeout().is_some_and(|t| t <= now.instant))
            .map(|(id, _)| *id)
            .collect();
        for id in due {
            self.with_call(Some(now), id, |call, env| match call {
                Call::Out(c) => c.handle_timeout(now, env),
                Call::In(c) => c.handle_timeout(now, env),
            });
        }
        self.recent.retain(|_, (_, until)| *until > now.instant);
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        let calls = self.calls.values().filter_map(Call::poll_timeout);
        let recent = self.recent.values().map(|(_, t)| *t);
        calls.chain(recent).min()
    }

    // ---------------------------------------------------------------
    // Routing
    // ---------------------------------------------------------------

    fn next_id(&mut self) -> CallId {
        let id = self.next_call;
        self.next_call.0 += 1;
        id
    }

    fn ids(&self) -> Vec<CallId> {
        let mut ids: Vec<CallId> = self.calls.keys().copied().collect();
        ids.sort_unstable();
        ids
    }

    fn call_of(&self, headers: &rsip::Headers) -> Option<CallId> {
        let call_id = msg::header(headers, "Call-ID")?;
        self.by_call_id.get(&call_id).copied()
    }

    fn send(&mut self, to: Destination, bytes: Vec<u8>) {
        self.transmits.push(Transmit { to, bytes });
    }

    /// Runs `f` with the environment a call is handed; the channel counter
    /// counts the calls in the table (a call being handled is taken out
    /// first, so it counts only the others).
    fn run<R>(&mut self, f: impl FnOnce(&mut Env) -> R) -> R {
        let calls = &self.calls;
        let counter = |carrier: CarrierId| channels(calls, carrier);
        let mut env = Env {
            config: &self.config,
            media: self.media.as_mut(),
            rng: &mut self.rng,
            channels: &counter,
            blocks: &self.blocks,
        };
        f(&mut env)
    }

    /// A new call joins the table; what it queued is drained.
    fn adopt(&mut self, now: Now, id: CallId, call: Call) {
        self.clock = Some(now.instant);
        self.calls.insert(id, call);
        self.drain(id);
    }

    /// Hands call `id` one input. The call is taken out of the table while
    /// it runs, so that the channel counter sees only the others.
    fn with_call<R>(
        &mut self,
        now: Option<Now>,
        id: CallId,
        f: impl FnOnce(&mut Call, &mut Env) -> R,
    ) -> Option<R> {
        let mut call = self.calls.remove(&id)?;
        if let Some(now) = now {
            self.clock = Some(now.instant);
        }
        let result = self.run(|env| f(&mut call, env));
        self.calls.insert(id, call);
        self.drain(id);
        Some(result)
    }

    /// Takes what call `id` queued; forgets it once it is done.
    fn drain(&mut self, id: CallId) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        while let Some(out) = call.poll_transmit() {
            if let (Some(key), Some(at)) = (out.cache, self.clock) {
                self.recent
                    .insert(key, (out.transmit.bytes.clone(), at + RECENT_FOR));
            }
            self.transmits.push(out.transmit);
        }
        while let Some(event) = call.poll_event() {
            match event {
                CallOutput::Bind(call_id) => {
                    self.by_call_id.insert(call_id, id);
                }
                CallOutput::Unbind(call_id) => {
                    self.by_call_id.remove(&call_id);
                }
                CallOutput::Placed { agent, carrier } => self.events.push(B2buaEvent::Placed {
                    call: id,
                    agent,
                    carrier,
                }),
                CallOutput::Progress(kind, call) => {
                    self.events.push(B2buaEvent::Progress { kind, call })
                }
                CallOutput::Record(rec) => self.events.push(B2buaEvent::Record(rec)),
                CallOutput::Snapshot(rec) => self.events.push(B2buaEvent::Snapshot(rec)),
            }
        }
        if call.is_finished() {
            self.calls.remove(&id);
            self.by_call_id.retain(|_, c| *c != id);
        }
    }
}

/// Calls (not ended) holding a channel on carrier `carrier_id`.
fn channels(calls: &HashMap<CallId, Call>, carrier_id: CarrierId) -> usize {
    calls
        .values()
        .filter(|c| c.carrier_in_use() == Some(carrier_id))
        .count()
}

/// The reason phrase of a response. rsip keeps the phrase only for codes it
/// does not know; for the others the standard phrase stands in.
fn reason_of(response: &rsip::Response) -> String {
    match &response.status_code {
        rsip::StatusCode::Other(_, reason) if !reason.is_empty() => reason.clone(),
        code => shared::sip::response::reason_phrase(code.code()).to_owned(),
    }
}

#[cfg(test)]
mod tests;
