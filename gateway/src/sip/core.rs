//! The SIP core: every message the transports receive comes here as bytes
//! plus where it came from; what must be sent comes out of
//! [`SipCore::poll_transmit`].
//!
//! ```text
//!  bytes ─► shared::sip::inbound ─┬─ Drop ────────────► (debug log)
//!                                 ├─ Reject(resp) ────► transmit resp
//!                                 ├─ Response ────────► trunks (OPTIONS, REGISTER), else b2bua
//!                                 └─ Request ─► method ─┬─ REGISTER (WS) ─► registrar
//!                                                       ├─ OPTIONS ──────► 200
//!                                                       ├─ ACK ──────────► absorbed
//!                                                       ├─ in-dialog ────► 481
//!                                                       └─ other ────────► 405 / 501
//! ```
//!
//! UDP responses go back to the datagram's source address and port (as with
//! `rport`, RFC 3581), never to a host named in Via: a forged Via cannot make
//! the gateway send to a third party.

use shared::ids::{AccountId, CallId};
use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};

use ipnet::IpNet;

use rsip::prelude::*;
use shared::sip::digest;
use shared::sip::response::response_to;
use shared::sip::{Inbound, Limits, Transport, inbound};
use web_time::Instant;

use super::b2bua::{
    AgentInfo, B2bua, B2buaConfig, B2buaEvent, ForkTarget, MediaCounts, MediaPort, Route,
};
use super::dids::{Did, DidTable};
use super::registrar::{Credential, Registrar, RegistrarConfig, RegistrarEvent};
use super::rfc3263::{CarrierTargets, call_plan};
use super::trunks::{TrunkConfig, TrunkEvent, TrunkMonitor, TrunkStatus};
use super::{ConnId, Now};
use crate::guard::{Ban, Guard, GuardConfig, GuardEvent};

/// How long a carrier may use a nonce we challenged its INVITE with.
const NONCE_TTL: std::time::Duration = std::time::Duration::from_secs(300);

/// Methods this gateway implements, for `Allow` headers: the one list
/// (validation's 501, OPTIONS, and every INVITE and 200 of a call).
pub use shared::sip::validate::ALLOW;

/// Where a message came from.
#[derive(Debug, Clone, Copy)]
pub struct Source {
    pub transport: Transport,
    pub peer: SocketAddr,
    /// The connection, for stream transports (WS, WSS, TCP, TLS).
    pub conn: Option<ConnId>,
}

impl Source {
    fn reply_to(&self) -> Destination {
        match self.conn {
            Some(conn) => Destination::Conn(conn),
            None => Destination::Udp(self.peer),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destination {
    Udp(SocketAddr),
    Conn(ConnId),
    /// A carrier over TCP: the shell's connection to that address, opened
    /// when there is none.
    Tcp(SocketAddr),
    /// The same over TLS (the shell knows each address's server name and
    /// trusted CAs from the routes).
    Tls(SocketAddr),
}

/// Bytes to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    pub to: Destination,
    pub bytes: Vec<u8>,
}

/// What the core tells the shell about, beyond transmits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CoreEvent {
    Registrar(RegistrarEvent),
    Call(B2buaEvent),
    /// A message was refused or dropped: counted for the ban list.
    Refused {
        peer: SocketAddr,
        code: Option<u16>,
        reason: String,
    },
    /// What the carrier page shows about a carrier (qualify, registration)
    /// changed.
    Trunk(TrunkStatus),
    /// A source was banned or its ban ended.
    Guard(GuardEvent),
}

pub struct CoreConfig {
    pub registrar: RegistrarConfig,
    pub b2bua: B2buaConfig,
    pub limits: Limits,
    pub guard: GuardConfig,
}

pub struct SipCore {
    registrar: Registrar,
    b2bua: B2bua,
    /// Qualify (OPTIONS) and registration toward carriers.
    trunks: TrunkMonitor,
    /// Signed-in agents by account id.
    agents: std::collections::HashMap<AccountId, AgentInfo>,
    /// Enabled carriers, in the order calls try them.
    routes: Vec<Route>,
    /// Every address of the carriers whose host is a name (RFC 3263);
    /// a new call tries them all, carrier by carrier (`rfc3263::call_plan`).
    targets: CarrierTargets,
    /// Draws the weighted orders of carriers and SRV targets for each call.
    rng: rand::rngs::StdRng,
    /// Our numbers and where they ring.
    dids: DidTable,
    /// Nonces of the challenges sent to carriers' INVITEs, by issue time.
    inbound_nonces: std::collections::HashMap<String, Instant>,
    /// The realm of those challenges (our SIP domain).
    realm: String,
    limits: Limits,
    /// Bans sources that fail to authenticate, flood or scan.
    guard: Guard,
    transmits: VecDeque<Transmit>,
    events: VecDeque<CoreEvent>,
    /// Shutting down: calls in progress go on, new ones get 503.
    draining: bool,
}

/// Challenges to carriers' INVITEs kept at most (a flood of unauthenticated
/// INVITEs must not grow memory); the oldest goes first.
const MAX_INBOUND_NONCES: usize = 4096;

impl SipCore {
    pub fn new(config: CoreConfig, media: Box<dyn MediaPort>, seed: [u8; 32]) -> Self {
        let mut b2bua_seed = seed;
        b2bua_seed[0] ^= 0x5a;
        let realm = config.b2bua.domain.clone();
        let mut trunks_seed = seed;
        trunks_seed[0] ^= 0xa5;
        let mut plan_seed = seed;
        plan_seed[0] ^= 0x3c;
        let trunks = TrunkMonitor::new(
            TrunkConfig {
                local: config.b2bua.local,
                timers: config.b2bua.timers,
            },
            trunks_seed,
        );
        SipCore {
            registrar: Registrar::new(config.registrar, seed),
            trunks,
            b2bua: B2bua::new(config.b2bua, media, b2bua_seed),
            agents: std::collections::HashMap::new(),
            routes: Vec::new(),
            targets: CarrierTargets::new(),
            rng: rand::SeedableRng::from_seed(plan_seed),
            dids: DidTable::default(),
            inbound_nonces: std::collections::HashMap::new(),
            realm,
            limits: config.limits,
            guard: Guard::new(config.guard),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            draining: false,
        }
    }

    pub fn registrar(&self) -> &Registrar {
        &self.registrar
    }

    pub fn add_credential(&mut self, credential: Credential) {
        self.registrar.add_credential(credential);
    }

    pub fn remove_credential(&mut self, id: i64) {
        self.registrar.remove_credential(id);
    }

    /// An agent signed in (or their caller IDs changed).
    pub fn set_agent(&mut self, agent: AgentInfo) {
        self.agents.insert(agent.account_id, agent);
    }

    /// The carriers changed (carriers whose host has a single address).
    pub fn set_routes(&mut self, now: Now, routes: Vec<Route>) {
        self.set_carriers(now, routes, CarrierTargets::new());
    }

    /// The carriers changed, with every address their host names resolved
    /// to (the SRV targets, in `rfc3263` terms); a carrier missing from
    /// `targets` has only its `Route::addr`.
    pub fn set_carriers(&mut self, now: Now, routes: Vec<Route>, targets: CarrierTargets) {
        self.trunks.set_routes(now, &routes);
        // Carriers' addresses are never banned: a busy trunk is not a flood.
        let target_ips = targets
            .values()
            .flatten()
            .flat_map(|t| t.addrs.iter().map(|a| IpNet::from(a.ip())));
        let trusted = routes
            .iter()
            .flat_map(|r| {
                r.inbound
                    .sources
                    .iter()
                    .copied()
                    .chain([IpNet::from(r.addr.ip())])
            })
            .chain(target_ips)
            .collect();
        self.guard.set_trusted(trusted);
        self.routes = routes;
        self.targets = targets;
        self.drain();
    }

    /// The DIDs changed.
    pub fn set_dids(&mut self, dids: Vec<Did>) {
        self.dids = DidTable::new(dids);
    }

    /// The calls in progress, for the live view.
    pub fn live_calls(&self) -> Vec<shared::api::LiveCall> {
        self.b2bua.live_calls()
    }

    pub fn call_count(&self) -> usize {
        self.b2bua.call_count()
    }

    pub fn connection_closed(&mut self, now: Now, conn: ConnId) {
        self.registrar.connection_closed(conn);
        self.b2bua.connection_closed(now, conn);
        self.drain();
    }

    /// Nothing can be sent to `dest` (a TCP connection to a carrier could
    /// not be made): the transactions waiting on it fail now.
    pub fn transport_failed(&mut self, now: Now, dest: Destination, reason: &str) {
        self.trunks.transport_failed(now, dest, reason);
        self.b2bua.transport_failed(now, dest, reason);
        self.drain();
    }

    /// Hangs up every call (graceful shutdown).
    /// Shutting down: every call is hung up and every carrier registration
    /// withdrawn (calls to us stop at once, not at the binding's expiry).
    /// Shutdown begins: calls in progress go on (until [`Self::hang_up_all`]),
    /// new ones are refused with 503.
    pub fn start_draining(&mut self) {
        self.draining = true;
    }

    pub fn hang_up_all(&mut self, now: Now) {
        self.b2bua.hang_up_all(now);
        self.trunks.set_routes(now, &[]);
        self.drain();
    }

    pub fn media_browser_answer(&mut self, call: CallId, result: Result<String, String>) {
        self.b2bua.media_browser_answer(call, result);
        self.drain();
    }

    pub fn media_no_media(
        &mut self,
        now: Now,
        call: CallId,
        silent_for: std::time::Duration,
        leg: super::b2bua::SilentLeg,
    ) {
        self.b2bua.media_no_media(now, call, silent_for, leg);
        self.drain();
    }

    pub fn media_stopped(
        &mut self,
        now: Now,
        call: CallId,
        counts: MediaCounts,
        failure: Option<String>,
    ) {
        self.b2bua.media_stopped(now, call, counts, failure);
        self.drain();
    }

    /// [`Self::media_stopped`], and the call's media quality onto the
    /// record it ends with: `B2bua::media_stopped` only ever finishes that
    /// one call, so a record among the events it queued is this call's.
    /// (A record already out, after `media_grace`, goes without.)
    pub fn media_stopped_with_quality(
        &mut self,
        now: Now,
        call: CallId,
        counts: MediaCounts,
        failure: Option<String>,
        quality: shared::api::CallQuality,
    ) {
        let from = self.events.len();
        self.media_stopped(now, call, counts, failure);
        if quality == shared::api::CallQuality::default() {
            return;
        }
        for event in self.events.iter_mut().skip(from) {
            if let CoreEvent::Call(B2buaEvent::Record(record)) = event {
                record.quality = Some(quality);
            }
        }
    }

    /// A daily limit that blocks was reached (`B2bua::block`).
    pub fn block(
        &mut self,
        now: &Now,
        scope: crate::sip::b2bua::blocks::Scope,
        reach: crate::sip::b2bua::blocks::Reach,
        until_ms: i64,
        reason: String,
    ) {
        self.b2bua.block(now, scope, reach, until_ms, reason);
    }

    /// New fraud limits (`B2bua::set_limits`).
    pub fn set_limits(&mut self, velocity: Option<crate::sip::b2bua::velocity::VelocityLimit>) {
        self.b2bua.set_limits(velocity);
    }

    /// Bans read back from storage at start.
    pub fn restore_bans(&mut self, now: Now, bans: Vec<Ban>) {
        self.guard.restore(now, bans);
    }

    /// A failed authentication seen elsewhere (a web sign-in): counted with
    /// the SIP ones.
    pub fn auth_failed(&mut self, now: Now, ip: IpAddr, what: &str) {
        self.guard.auth_failed(now, ip, what);
        self.drain();
    }

    /// An admin bans `ip`; `false` when it is allowlisted (or a carrier's).
    pub fn ban(&mut self, now: Now, ip: IpAddr, detail: String) -> bool {
        let banned = self.guard.ban_by_admin(now, ip, detail);
        self.drain();
        banned
    }

    /// An admin lifts a ban; `false` when there was none.
    pub fn unban(&mut self, ip: IpAddr) -> bool {
        let lifted = self.guard.unban(ip);
        self.drain();
        lifted
    }

    pub fn bans(&self) -> impl Iterator<Item = &Ban> {
        self.guard.bans()
    }

    pub fn handle_input(&mut self, now: Now, source: Source, bytes: &[u8]) {
        // A banned source gets nothing back, and is not even parsed.
        if !self.guard.admit(now, source.peer.ip()) {
            self.drain();
            return;
        }
        match inbound(bytes, source.transport, self.limits) {
            Inbound::Drop { reason } => {
                self.events.push_back(CoreEvent::Refused {
                    peer: source.peer,
                    code: None,
                    reason,
                });
            }
            Inbound::Reject {
                response,
                code,
                reason,
            } => {
                self.events.push_back(CoreEvent::Refused {
                    peer: source.peer,
                    code: Some(code),
                    reason,
                });
                self.transmits.push_back(Transmit {
                    to: source.reply_to(),
                    bytes: response,
                });
            }
            // Browsers only answer our BYEs, over a reliable transport:
            // nothing waits for those answers.
            Inbound::Response(response) => match (source.transport, source.conn) {
                (Transport::Ws | Transport::Wss, Some(conn)) => {
                    self.b2bua.handle_browser_response(now, conn, &response);
                }
                _ => {
                    if !self.trunks.handle_response(now, &response) {
                        self.b2bua.handle_carrier_response(now, response);
                    }
                }
            },
            Inbound::Request { request } => self.handle_request(now, source, request),
        }
        self.drain();
    }

    fn handle_request(&mut self, now: Now, source: Source, mut request: rsip::Request) {
        if let Some(agent) = super::msg::header(&request.headers, "User-Agent")
            && self.guard.user_agent(now, source.peer.ip(), &agent)
        {
            return;
        }
        // RFC 3261 §18.2.1 for every transport: over WebSocket the sent-by
        // is a made-up `.invalid` host, so `received` always shows up there.
        stamp_via(&mut request, source.peer);
        match (source.conn, source.transport) {
            (Some(conn), Transport::Ws | Transport::Wss) => {
                let is_new_invite = request.method() == &rsip::Method::Invite
                    && request
                        .to_header()
                        .ok()
                        .is_none_or(|t| super::msg::tag(t.value()).is_none());
                if is_new_invite && self.draining {
                    self.refuse_while_draining(source, &request);
                    return;
                }
                if is_new_invite {
                    let agent = self
                        .registrar
                        .account_on_conn(conn)
                        .and_then(|id| self.agents.get(&id));
                    // A carrier that stopped answering OPTIONS is skipped;
                    // when every carrier is down, all are tried anyway
                    // (qualify may be wrong, and a call that fails at a
                    // carrier says more than one refused here).
                    let up: Vec<Route>;
                    let routes = if self.routes.iter().all(|r| self.trunks.is_up(r.id)) {
                        &self.routes
                    } else {
                        up = self
                            .routes
                            .iter()
                            .filter(|r| self.trunks.is_up(r.id))
                            .cloned()
                            .collect();
                        if up.is_empty() { &self.routes } else { &up }
                    };
                    // Each carrier's every address in turn, so a target
                    // that answers 503 or stays silent fails over to the
                    // next target before the next carrier.
                    let plan = call_plan(routes, &self.targets, &mut self.rng);
                    self.b2bua
                        .handle_new_invite(now, conn, request, agent, &plan);
                    return;
                }
                let account = self.registrar.account_on_conn(conn);
                if self
                    .b2bua
                    .handle_browser_request(now, conn, account, &request)
                {
                    return;
                }
            }
            (None, _) | (Some(_), Transport::Tcp | Transport::Tls) => {
                if self
                    .b2bua
                    .handle_carrier_request(now, source.peer, source.reply_to(), &request)
                {
                    return;
                }
                let is_new_invite = request.method() == &rsip::Method::Invite
                    && request
                        .to_header()
                        .ok()
                        .is_none_or(|t| super::msg::tag(t.value()).is_none());
                if is_new_invite && self.draining {
                    self.refuse_while_draining(source, &request);
                    return;
                }
                if is_new_invite {
                    self.handle_carrier_invite(now, source, request);
                    return;
                }
            }
            _ => {}
        }
        let Some(response) = self.answer_out_of_dialog(now, source, &request) else {
            return;
        };
        // A stranger refused a registration or a call is counted like a
        // wrong password: scanning for extensions is guessing too.
        if response.status_code.code() == 403
            && matches!(
                request.method(),
                rsip::Method::Register | rsip::Method::Invite
            )
        {
            let what = super::msg::header(&request.headers, "To").unwrap_or_default();
            self.guard.auth_failed(now, source.peer.ip(), &what);
        }
        self.transmits.push_back(Transmit {
            to: source.reply_to(),
            bytes: response.to_string().into_bytes(),
        });
    }

    /// A new call while shutting down: 503 with Retry-After, so that a
    /// carrier tries its next gateway and a phone says why.
    fn refuse_while_draining(&mut self, source: Source, request: &rsip::Request) {
        let tag = self.b2bua.new_token(16);
        let mut response = response_to(
            request,
            503,
            "Service Unavailable (the gateway is shutting down)",
            Some(&tag),
        );
        response
            .headers
            .push(rsip::headers::RetryAfter::new("60").into());
        self.transmits.push_back(Transmit {
            to: source.reply_to(),
            bytes: response.to_string().into_bytes(),
        });
    }

    /// The answer to a request outside any dialog and call.
    fn answer_out_of_dialog(
        &mut self,
        now: Now,
        source: Source,
        request: &rsip::Request,
    ) -> Option<rsip::Response> {
        let tag = || Some("gw");
        let response = match request.method() {
            rsip::Method::Ack => return None,
            rsip::Method::Invite => response_to(
                request,
                403,
                "Forbidden (calls are placed from the agent phone)",
                tag(),
            ),
            rsip::Method::Options => {
                let mut r = response_to(request, 200, "OK", tag());
                r.headers.push(rsip::headers::Allow::new(ALLOW).into());
                r.headers
                    .push(rsip::headers::Accept::new("application/sdp").into());
                r.headers
                    .push(rsip::headers::Supported::new("outbound").into());
                r
            }
            rsip::Method::Register => match (source.transport, source.conn) {
                (Transport::Ws | Transport::Wss, Some(conn)) => {
                    self.registrar.handle_register(now, request, conn)
                }
                _ => response_to(
                    request,
                    403,
                    "Forbidden (agents register over WebSocket)",
                    tag(),
                ),
            },
            rsip::Method::Bye
            | rsip::Method::Cancel
            | rsip::Method::Info
            | rsip::Method::Update
            | rsip::Method::PRack
            | rsip::Method::Notify => {
                response_to(request, 481, "Call/Transaction Does Not Exist", tag())
            }
            other => {
                let mut r = response_to(
                    request,
                    405,
                    &format!("Method Not Allowed ({other})"),
                    tag(),
                );
                r.headers.push(rsip::headers::Allow::new(ALLOW).into());
                r
            }
        };
        Some(response)
    }

    /// A new INVITE from outside: a call to one of our DIDs, accepted only
    /// from a carrier's listed source addresses.
    fn handle_carrier_invite(&mut self, now: Now, source: Source, request: rsip::Request) {
        let ip = source.peer.ip();
        let by_source = self.routes.iter().position(|r| r.inbound.allows(ip));
        let proxy_auth = super::msg::header(&request.headers, "Proxy-Authorization");
        let found = match (by_source, proxy_auth) {
            (Some(i), _) => Ok(i),
            (None, Some(value)) => self
                .carrier_by_digest(now, &value)
                .ok_or("Forbidden (wrong carrier credentials)"),
            (None, None)
                if self
                    .routes
                    .iter()
                    .any(|r| r.username.is_some() && r.secret.is_some()) =>
            {
                // Carriers with credentials may prove who they are instead.
                let mut r = response_to(&request, 407, "Proxy Authentication Required", Some("gw"));
                for algorithm in [digest::Algorithm::Sha256, digest::Algorithm::Md5] {
                    let nonce = self.b2bua.new_token(32);
                    self.remember_inbound_nonce(now, nonce.clone());
                    let challenge = digest::Challenge {
                        realm: self.realm.clone(),
                        nonce,
                        opaque: None,
                        algorithm,
                        qop: vec!["auth".to_owned()],
                        stale: false,
                    };
                    r.headers.push(
                        rsip::headers::ProxyAuthenticate::new(challenge.to_header_value()).into(),
                    );
                }
                self.transmits.push_back(Transmit {
                    to: source.reply_to(),
                    bytes: r.to_string().into_bytes(),
                });
                return;
            }
            (None, None) => Err("Forbidden (this address may not send calls here)"),
        };
        let route = match found {
            Ok(i) => &self.routes[i],
            Err(reason) => {
                self.guard.auth_failed(now, ip, reason);
                self.events.push_back(CoreEvent::Refused {
                    peer: source.peer,
                    code: Some(403),
                    reason: reason.to_owned(),
                });
                let r = response_to(&request, 403, reason, Some("gw"));
                self.transmits.push_back(Transmit {
                    to: source.reply_to(),
                    bytes: r.to_string().into_bytes(),
                });
                return;
            }
        };
        let registrar = &self.registrar;
        // An agent already at their call limit does not ring.
        let busy: std::collections::HashSet<AccountId> = self
            .agents
            .values()
            .filter(|a| self.b2bua.calls_of(a.account_id) >= a.max_calls as usize)
            .map(|a| a.account_id)
            .collect();
        let at_limit = |account_id: AccountId| busy.contains(&account_id);
        let bindings = |username: &str| -> Vec<ForkTarget> {
            registrar
                .bindings(username)
                .iter()
                .filter(|b| !at_limit(b.account_id))
                .map(|b| ForkTarget {
                    conn: b.conn,
                    contact: b.contact.clone(),
                    account_id: b.account_id,
                    username: username.to_owned(),
                })
                .collect()
        };
        self.b2bua.handle_inbound_invite(
            now,
            source.peer,
            source.reply_to(),
            source.transport,
            request,
            route,
            &self.dids,
            &bindings,
        );
    }

    /// Keeps a challenge's nonce, dropping expired ones and, past
    /// [`MAX_INBOUND_NONCES`], the oldest.
    fn remember_inbound_nonce(&mut self, now: Now, nonce: String) {
        self.inbound_nonces
            .retain(|_, issued| now.instant.saturating_duration_since(*issued) < NONCE_TTL);
        while self.inbound_nonces.len() >= MAX_INBOUND_NONCES {
            let Some(oldest) = self
                .inbound_nonces
                .iter()
                .min_by_key(|(_, issued)| **issued)
                .map(|(n, _)| n.clone())
            else {
                break;
            };
            self.inbound_nonces.remove(&oldest);
        }
        self.inbound_nonces.insert(nonce, now.instant);
    }

    /// The carrier whose credentials answer one of our recent challenges.
    fn carrier_by_digest(&mut self, now: Now, value: &str) -> Option<usize> {
        let creds = digest::Credentials::parse(value).ok()?;
        self.inbound_nonces
            .retain(|_, issued| now.instant.saturating_duration_since(*issued) < NONCE_TTL);
        if !self.inbound_nonces.contains_key(&creds.nonce) || creds.realm != self.realm {
            return None;
        }
        self.routes.iter().position(|r| {
            r.username.as_deref() == Some(creds.username.as_str())
                && r.secret.as_deref().is_some_and(|secret| {
                    let ha1 = digest::ha1(creds.algorithm, &creds.username, &creds.realm, secret);
                    digest::verify(&creds, "INVITE", &ha1)
                })
        })
    }

    pub fn handle_timeout(&mut self, now: Now) {
        self.guard.handle_timeout(now);
        self.registrar.handle_timeout(now.instant);
        self.b2bua.handle_timeout(now);
        self.trunks.handle_timeout(now);
        self.drain();
    }

    /// The next message to send, with IPv6 hosts written as literals again
    /// (in here they are the aliases rsip can parse: `shared::sip::ipv6`).
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        let mut t = self.transmits.pop_front()?;
        if let std::borrow::Cow::Owned(bytes) = shared::sip::ipv6::restore(&t.bytes) {
            t.bytes = bytes;
        }
        Some(t)
    }

    pub fn poll_event(&mut self) -> Option<CoreEvent> {
        self.events.pop_front()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.registrar.poll_timeout(),
            self.b2bua.poll_timeout(),
            self.trunks.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn drain(&mut self) {
        while let Some(e) = self.guard.poll_event() {
            self.events.push_back(CoreEvent::Guard(e));
        }
        while let Some(e) = self.registrar.poll_event() {
            self.events.push_back(CoreEvent::Registrar(e));
        }
        self.transmits.extend(self.b2bua.drain_transmits());
        let events: Vec<B2buaEvent> = self.b2bua.drain_events().collect();
        self.events.extend(events.into_iter().map(CoreEvent::Call));
        self.transmits.extend(self.trunks.drain_transmits());
        let events: Vec<TrunkEvent> = self.trunks.drain_events().collect();
        self.events.extend(
            events
                .into_iter()
                .map(|TrunkEvent::Status(s)| CoreEvent::Trunk(s)),
        );
    }
}

/// RFC 3261 §18.2.1 and RFC 3581: note in the top Via where the request
/// really came from.
fn stamp_via(request: &mut rsip::Request, peer: SocketAddr) {
    let Some(via) = request.headers.iter_mut().find_map(|h| match h {
        rsip::Header::Via(v) => Some(v),
        _ => None,
    }) else {
        return;
    };
    let mut params: Vec<String> = via.value().split(';').map(str::to_owned).collect();
    let mut has_rport = false;
    for p in params.iter_mut().skip(1) {
        if p.trim().eq_ignore_ascii_case("rport") {
            *p = format!("rport={}", peer.port());
            has_rport = true;
        }
    }
    // The sent-by host (an IPv6 one is an alias here, without a colon).
    let sent_by_ip = params
        .first()
        .and_then(|first| first.split_whitespace().nth(1))
        .map(|sent_by| sent_by.rsplit_once(':').map_or(sent_by, |(h, _)| h))
        .and_then(shared::sip::ipv6::parse_host);
    if has_rport || sent_by_ip != Some(peer.ip()) {
        params.retain(|p| !p.trim().to_ascii_lowercase().starts_with("received="));
        // RFC 5118 §4.5: an IPv6 address bracketed.
        params.push(format!(
            "received={}",
            shared::sip::ipv6::host_text(peer.ip())
        ));
    }
    via.replace(params.join(";"));
}

#[cfg(test)]
mod tests;
