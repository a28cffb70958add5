//! The back-to-back user agent for outbound calls, sans-IO.
//!
//! A call has two legs, each its own SIP dialog: the browser leg (the agent's
//! INVITE over WebSocket, WebRTC SDP; we are its UAS) and the carrier leg
//! (our INVITE over UDP with a plain RTP SDP; we are its UAC). Nothing is
//! copied blindly from one leg to the other: Call-IDs, tags, CSeqs, Vias and
//! bodies are each leg's own; only the meaning (ringing, answered, hung up,
//! the final status) crosses over.
//!
//! ```text
//!   browser (WS)                 B2BUA                      carrier (UDP)
//!   INVITE (WebRTC offer) ──►  agent? number? caller ID?
//!   ◄── 100 Trying             media.start_outbound ──► (str0m answer, RTP socket)
//!                              INVITE (RTP offer) ─────────────────────────►
//!                              ◄──────────────────────────── 100 / 180 / 183
//!   ◄── 180 / 183 (answer SDP)                              (401/407 → INVITE
//!                              ◄──────────────────────────── 200 (SDP)   with digest)
//!   ◄── 200 (WebRTC answer)    ACK ────────────────────────────────────────►
//!   ACK ──►
//!   BYE ──► 200                BYE ────────────────────────────────────────►
//!                     (or the carrier's BYE, mirrored to the browser)
//! ```
//!
//! States of a call (`Phase`):
//!
//! ```text
//!  Trying ──1xx──► Early ──2xx──► Answered ──BYE (either side)──► Ended
//!    │               │                                          ▲
//!    └──── 3xx-6xx, timeout, CANCEL, connection lost ───────────┘
//! ```
//!
//! Invariants:
//! - Requests to a carrier go to that carrier's configured address only,
//!   never to an address read from a message (Contact, Record-Route and Via
//!   shape the request, not where it is sent).
//! - The browser gets exactly one final response to its INVITE, and one
//!   dialog (one To tag), whatever the carrier forks into.
//! - Every call ends in exactly one [`CallRecord`], also when it failed
//!   before reaching a carrier, and once its media has reported its counts.
//! - Media is reached only through [`MediaPort`], whose methods never block:
//!   each call's media runs on a task of its own.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rsip::prelude::*;
use shared::api::{
    CallAttempt, CallDirection, CallRecord, DialingProfile, HangupBy, LiveCall, LiveCallState,
    NumberFormat, SipTransport,
};
use shared::e164::{self, Country, E164};
use shared::sip::digest::{self, Challenge};
use shared::sip::response::response_to;
use shared::sip::transaction::{
    ClientInvite, ClientNonInvite, Timers, TransactionKey, TxEvent, cancel_for,
};
use web_time::Instant;

use super::ConnId;
use super::Now;
use super::core::{Destination, Transmit};
use super::dids::InboundPolicy;
use super::msg;
use super::{carrier_dest, host_port, is_reliable};

mod inbound;
pub use inbound::{ForkTarget, RingStep, dialled_number};

/// A carrier, as calls need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub id: i64,
    pub name: String,
    /// Where its SIP goes (resolved by the shell).
    pub addr: SocketAddr,
    /// UDP or TCP (TLS comes with the carrier-trunk issue).
    pub transport: SipTransport,
    /// The host written in Request-URIs and To.
    pub host: String,
    pub username: Option<String>,
    pub secret: Option<String>,
    pub from_user: Option<String>,
    pub from_domain: Option<String>,
    pub caller_id: Option<String>,
    pub codecs: Vec<String>,
    pub number_format: NumberFormat,
    pub tech_prefix: String,
    /// Who may send us calls on this carrier's behalf.
    pub inbound: InboundPolicy,
    /// Lower is tried first.
    pub priority: i64,
    /// Share of calls among carriers of the same priority.
    pub weight: u32,
    /// Concurrent calls (inbound and outbound) it takes; `None`: no limit.
    pub max_channels: Option<u32>,
    /// OPTIONS every this often; down after repeated silence (`None`: off).
    pub qualify: Option<Duration>,
    /// REGISTER with this expiry (seconds) when the carrier wants it.
    pub register: Option<u32>,
    /// The digest realm, when the carrier names one in advance.
    pub realm: Option<String>,
    /// TLS: the only CA its certificate may chain to (PEM); `None`: the
    /// usual public roots.
    pub tls_ca: Option<String>,
    /// Media only as SRTP (SDES); plain RTP refused.
    pub srtp_required: bool,
}

/// A signed-in agent, as calls need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentInfo {
    pub account_id: i64,
    pub username: String,
    pub display_name: String,
    pub dialing: DialingProfile,
    /// Calls (inbound and outbound) the agent may have at once.
    pub max_calls: u32,
}

/// What the media side says back when it cannot do what was asked: the
/// status the browser gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaFailure {
    pub code: u16,
    pub reason: String,
}

/// The two SDPs a new outbound call's media produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaSetup {
    /// The answer to the browser's WebRTC offer.
    pub browser_answer: String,
    /// Our plain RTP offer to the carrier.
    pub carrier_offer: String,
}

/// The two SDPs a new inbound call's media produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundSetup {
    /// Our WebRTC offer, sent to every ringing browser tab (only the tab
    /// that answers ever uses it: the others are cancelled first).
    pub browser_offer: String,
    /// Our plain RTP answer to the carrier's offer (sent with the 200).
    pub carrier_answer: String,
}

/// Media counts at the end of a call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MediaCounts {
    pub packets_to_carrier: u64,
    pub bytes_to_carrier: u64,
    pub packets_from_carrier: u64,
    pub bytes_from_carrier: u64,
}

/// The media engine as the B2BUA sees it. Every method returns at once:
/// the work happens on each call's own task, and what it has to say later
/// comes back through [`B2bua::media_browser_answer`],
/// [`B2bua::media_no_media`] and [`B2bua::media_stopped`].
pub trait MediaPort: Send {
    /// `srtp_required`: the carrier leg is SRTP (SDES) only; `carrier_ip`:
    /// where the carrier is (our media socket is of its IP family).
    fn start_outbound(
        &mut self,
        call: u64,
        browser_offer: &str,
        codecs: &[String],
        srtp_required: bool,
        carrier_ip: IpAddr,
    ) -> Result<MediaSetup, MediaFailure>;
    /// Failover: the carrier offer for the next carrier (its codec order,
    /// its SRTP setting), on the same media.
    fn carrier_offer(
        &mut self,
        call: u64,
        codecs: &[String],
        srtp_required: bool,
        carrier_ip: IpAddr,
    ) -> Result<String, MediaFailure>;
    /// An inbound call: the carrier's offer in, our answer to it and a
    /// WebRTC offer for the browsers out.
    fn start_inbound(
        &mut self,
        call: u64,
        carrier_offer: &str,
        codecs: &[String],
        srtp_required: bool,
    ) -> Result<InboundSetup, MediaFailure>;
    /// The answering browser's answer to [`InboundSetup::browser_offer`].
    fn browser_answer(&mut self, call: u64, sdp: &str) -> Result<(), MediaFailure>;
    /// The carrier's SDP (from a 183 or the 200).
    fn carrier_answer(&mut self, call: u64, sdp: &str) -> Result<(), MediaFailure>;
    /// A browser re-INVITE's offer (hold, resume).
    fn browser_reoffer(&mut self, call: u64, sdp: &str);
    /// A carrier re-INVITE's offer: an SRTP leg follows a new key in it.
    fn carrier_reoffer(&mut self, _call: u64, _sdp: &str) {}
    fn set_hold(&mut self, call: u64, held: bool);
    /// Ends the call's media; [`B2bua::media_stopped`] follows.
    fn stop(&mut self, call: u64);
}

#[derive(Debug, Clone)]
pub struct B2buaConfig {
    /// Where carriers reach us (Via, Contact, From, Call-ID).
    pub local: super::Local,
    /// Our SIP domain (agents' AORs).
    pub domain: String,
    pub timers: Timers,
    /// A carrier that rings longer than this is cancelled (408 to the agent).
    pub max_ringing: Duration,
    /// Countries (ISO 3166 alpha-2) agents may call; empty: any.
    pub dial_countries: Vec<String>,
    /// How long a finished call waits for its media counts.
    pub media_grace: Duration,
    /// Country (ISO 3166 alpha-2) for numbers carriers send without one.
    pub default_country: String,
    /// A carrier that has not answered at all (not even 100) after this
    /// long is given up for the next one, when there is a next one.
    pub failover_timeout: Duration,
}

impl B2buaConfig {
    pub fn new(advertised: IpAddr, sip_udp_port: u16, domain: impl Into<String>) -> Self {
        B2buaConfig {
            local: super::Local::new(advertised, sip_udp_port),
            domain: domain.into(),
            timers: Timers::default(),
            max_ringing: Duration::from_secs(180),
            dial_countries: Vec::new(),
            media_grace: Duration::from_secs(2),
            default_country: "US".to_owned(),
            failover_timeout: Duration::from_secs(4),
        }
    }
}

/// What the B2BUA tells the shell, besides transmits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum B2buaEvent {
    /// A call ended: store its record.
    Record(Box<CallRecord>),
    /// A call was placed toward a carrier (for logs and live views).
    Placed {
        call: u64,
        agent: String,
        carrier: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Media is set up, our INVITE is out, nothing heard yet.
    Trying,
    /// The carrier sent a provisional response.
    Early,
    Answered,
    /// Signalling is over; waiting for the media counts.
    Ended,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    Invite,
    ReInvite,
    Cancel,
    Bye,
}

enum ClientTx {
    Invite(Box<ClientInvite>),
    NonInvite(Box<ClientNonInvite>),
}

struct TxEntry {
    call: u64,
    purpose: Purpose,
    tx: ClientTx,
    dest: Destination,
}

struct BrowserLeg {
    conn: ConnId,
    invite: rsip::Request,
    key: Option<TransactionKey>,
    call_id: String,
    /// Our tag in the browser's dialog.
    tag: String,
    /// The browser's From, with its tag (our To in requests we send).
    remote: String,
    /// The browser's To with our tag (our From in requests we send).
    local: String,
    contact: String,
    next_cseq: u32,
    final_sent: bool,
    /// A re-INVITE waiting for the media's answer.
    pending_reinvite: Option<rsip::Request>,
}

struct CarrierLeg {
    route: Route,
    call_id: String,
    from: String,
    to: String,
    uri: String,
    cseq: u32,
    invite: Option<rsip::Request>,
    invite_key: Option<TransactionKey>,
    to_tag: Option<String>,
    /// To of the answered dialog (with the carrier's tag).
    to_answered: Option<String>,
    remote_target: Option<String>,
    route_set: Vec<String>,
    auth_tried: bool,
    nc: u32,
    answer_sdp: Option<String>,
    provisional_seen: bool,
    cancel_pending: bool,
    cancel_sent: bool,
    offer_sdp: String,
    sdp_version: u64,
    /// P-Asserted-Identity value (the caller ID).
    pai: Option<String>,
}

struct Call {
    id: u64,
    phase: Phase,
    browser: BrowserLeg,
    carrier: CarrierLeg,
    /// The number and caller ID, for the next carrier's INVITE.
    number: E164,
    caller_id: Option<E164>,
    /// Carriers still to try if this one fails (failover), in order.
    fallback: Vec<Route>,
    /// When the current carrier's INVITE went out (Unix ms).
    attempt_at: i64,
    /// Give the current carrier up if it has said nothing by then (only
    /// while there is a fallback).
    response_deadline: Option<Instant>,
    /// The agent put the call on hold (for the live view).
    held: bool,
    media: bool,
    /// The WebRTC answer, sent with the 183 and the 200.
    browser_answer: String,
    record: CallRecord,
    ring_deadline: Option<Instant>,
    flush_deadline: Option<Instant>,
}

pub struct B2bua {
    config: B2buaConfig,
    media: Box<dyn MediaPort>,
    calls: HashMap<u64, Call>,
    /// Inbound calls (carrier → browser tabs); ids shared with `calls`.
    inbound: HashMap<u64, inbound::InboundCall>,
    /// Call-IDs of both legs → call.
    by_call_id: HashMap<String, u64>,
    txs: HashMap<TransactionKey, TxEntry>,
    /// Responses to carrier requests, kept to answer UDP retransmissions.
    recent: HashMap<TransactionKey, (Vec<u8>, Instant)>,
    next_call: u64,
    rng: StdRng,
    transmits: Vec<Transmit>,
    events: Vec<B2buaEvent>,
    /// Why the last connection to a carrier failed (for the 503's reason).
    transport_error: Option<String>,
}

fn unix_ms(now: &Now) -> i64 {
    now.unix_ms
}

impl B2bua {
    pub fn new(config: B2buaConfig, media: Box<dyn MediaPort>, seed: [u8; 32]) -> Self {
        B2bua {
            config,
            media,
            calls: HashMap::new(),
            inbound: HashMap::new(),
            by_call_id: HashMap::new(),
            txs: HashMap::new(),
            recent: HashMap::new(),
            next_call: 1,
            rng: StdRng::from_seed(seed),
            transmits: Vec::new(),
            events: Vec::new(),
            transport_error: None,
        }
    }

    /// The calls in progress, for the live view.
    pub fn live_calls(&self) -> Vec<LiveCall> {
        let outbound = self
            .calls
            .values()
            .filter(|c| c.phase != Phase::Ended)
            .map(|c| {
                let state = match (c.phase, c.held) {
                    (Phase::Answered, true) => LiveCallState::Held,
                    (Phase::Answered, false) => LiveCallState::Connected,
                    _ => LiveCallState::Ringing,
                };
                live_call(&c.record, state)
            });
        let mut calls: Vec<LiveCall> = outbound.chain(self.inbound_live_calls()).collect();
        calls.sort_by(|a, b| a.id.cmp(&b.id));
        calls
    }

    pub fn call_count(&self) -> usize {
        self.calls.len() + self.inbound.len()
    }

    /// The record of an attempt refused before it reached a carrier.
    fn record_refusal(
        &mut self,
        now: &Now,
        agent: &AgentInfo,
        dialled: &str,
        code: u16,
        reason: &str,
    ) {
        let record = CallRecord {
            id: format!("{}-{}", now.unix_ms, self.token(8)),
            direction: CallDirection::Outbound,
            account_id: Some(agent.account_id),
            agent: Some(agent.username.clone()),
            caller_id: None,
            dialled: dialled.to_owned(),
            carrier_id: None,
            carrier: None,
            invite_at: now.unix_ms,
            ringing_at: None,
            answered_at: None,
            ended_at: now.unix_ms,
            duration_s: 0,
            final_code: code,
            final_reason: reason.to_owned(),
            hangup_by: HangupBy::Gateway,
            packets_to_carrier: 0,
            bytes_to_carrier: 0,
            packets_from_carrier: 0,
            bytes_from_carrier: 0,
            attempts: Vec::new(),
        };
        self.events.push(B2buaEvent::Record(Box::new(record)));
    }

    pub fn drain_transmits(&mut self) -> std::vec::Drain<'_, Transmit> {
        self.transmits.drain(..)
    }

    pub fn drain_events(&mut self) -> std::vec::Drain<'_, B2buaEvent> {
        self.events.drain(..)
    }

    /// A random hex token (nonces, tags) from the B2BUA's generator.
    pub fn new_token(&mut self, len: usize) -> String {
        self.token(len)
    }

    fn token(&mut self, len: usize) -> String {
        const HEX: &[u8] = b"0123456789abcdef";
        (0..len)
            .map(|_| char::from(HEX[self.rng.gen_range(0..HEX.len())]))
            .collect()
    }

    fn send_browser(&mut self, conn: ConnId, bytes: Vec<u8>) {
        self.transmits.push(Transmit {
            to: Destination::Conn(conn),
            bytes,
        });
    }

    fn send_to(&mut self, to: Destination, bytes: Vec<u8>) {
        self.transmits.push(Transmit { to, bytes });
    }

    /// Our Via sent-by, Contact and transport toward a carrier.
    fn carrier_via(&self, route: &Route, branch: &str) -> String {
        let ours = self.config.local.toward_carrier(route);
        format!(
            "Via: SIP/2.0/{} {};branch=z9hG4bK{branch};rport\r\n",
            ours.proto,
            ours.host_port()
        )
    }

    // ---------------------------------------------------------------
    // Browser leg: a new INVITE
    // ---------------------------------------------------------------

    /// A dialog-creating INVITE from a browser. `agent` is the agent the
    /// connection registered as (`None`: not registered), `routes` the
    /// enabled carriers in the order to try.
    pub fn handle_new_invite(
        &mut self,
        now: Now,
        conn: ConnId,
        request: rsip::Request,
        agent: Option<&AgentInfo>,
        routes: &[Route],
    ) {
        let tag = self.token(12);
        let reject = |this: &mut Self, code: u16, reason: &str| {
            let r = response_to(&request, code, reason, Some(&tag));
            this.send_browser(conn, r.to_string().into_bytes());
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
        let target_user = msg::uri_user(&request.uri.to_string()).unwrap_or_default();
        if self.calls_of(agent.account_id) >= agent.max_calls as usize {
            let reason = format!(
                "Busy Here (you already have {} call(s), your limit)",
                agent.max_calls
            );
            reject(self, 486, &reason);
            self.record_refusal(&now, agent, &target_user, 486, &reason);
            return;
        }
        let refuse = |this: &mut Self, code: u16, reason: &str| {
            reject(this, code, reason);
            this.record_refusal(&now, agent, &target_user, code, reason);
        };
        let Some(offer) = msg::sdp_body(&request.headers, &request.body) else {
            refuse(
                self,
                488,
                "Not Acceptable Here (an SDP offer is required in the INVITE)",
            );
            return;
        };
        let country = e164::country(&agent.dialing.default_country).unwrap_or(&e164::COUNTRIES[0]);
        let number = match e164::normalize(&target_user, country) {
            Ok(n) => n,
            Err(e) => {
                refuse(self, 484, &format!("Address Incomplete ({e})"));
                return;
            }
        };
        if !self.config.dial_countries.is_empty() {
            let allowed = number.country().is_some_and(|c| {
                self.config
                    .dial_countries
                    .iter()
                    .any(|d| d.eq_ignore_ascii_case(c.iso))
            });
            if !allowed {
                refuse(
                    self,
                    403,
                    &format!(
                        "Forbidden (calls to {} are not allowed from this dialer)",
                        number.country().map_or("that destination", |c| c.iso)
                    ),
                );
                return;
            }
        }
        let mut plan = self.plan_routes(routes);
        if plan.is_empty() {
            let reason = if routes.is_empty() {
                "Service Unavailable (no carrier is available)"
            } else {
                "Service Unavailable (every carrier is at its channel limit)"
            };
            refuse(self, 503, reason);
            return;
        }
        let route = plan.remove(0);
        let caller_id = choose_caller_id(&request, agent, &route, country, &number);

        // Headers of the browser's dialog.
        let from = msg::header(&request.headers, "From").unwrap_or_default();
        let to = msg::header(&request.headers, "To").unwrap_or_default();
        let contact = msg::header(&request.headers, "Contact")
            .map(|c| msg::uri_of(&c))
            .unwrap_or_default();
        let trying = response_to(&request, 100, "Trying", None);
        self.send_browser(conn, trying.to_string().into_bytes());

        let id = self.next_call;
        self.next_call += 1;
        let record = CallRecord {
            id: format!("{}-{}", now.unix_ms, self.token(8)),
            direction: CallDirection::Outbound,
            account_id: Some(agent.account_id),
            agent: Some(agent.username.clone()),
            caller_id: caller_id.as_ref().map(|c| c.as_str().to_owned()),
            dialled: number.as_str().to_owned(),
            carrier_id: Some(route.id),
            carrier: Some(route.name.clone()),
            invite_at: unix_ms(&now),
            ringing_at: None,
            answered_at: None,
            ended_at: 0,
            duration_s: 0,
            final_code: 0,
            final_reason: String::new(),
            hangup_by: HangupBy::Gateway,
            packets_to_carrier: 0,
            bytes_to_carrier: 0,
            packets_from_carrier: 0,
            bytes_from_carrier: 0,
            attempts: Vec::new(),
        };

        let setup = match self.media.start_outbound(
            id,
            &offer,
            &route.codecs,
            route.srtp_required,
            route.addr.ip(),
        ) {
            Ok(setup) => setup,
            Err(failure) => {
                reject(self, failure.code, &failure.reason);
                let mut record = record;
                record.ended_at = unix_ms(&now);
                record.final_code = failure.code;
                record.final_reason = failure.reason;
                self.events.push(B2buaEvent::Record(Box::new(record)));
                return;
            }
        };

        let (carrier, pai) = self.new_carrier_leg(
            route,
            &number,
            caller_id.as_ref(),
            setup.carrier_offer.clone(),
        );
        let c_call_id = carrier.call_id.clone();

        let browser = BrowserLeg {
            conn,
            key: TransactionKey::for_request(&request).ok(),
            invite: request,
            call_id: call_id.clone(),
            local: format!("{to};tag={tag}"),
            tag,
            remote: from,
            contact,
            next_cseq: 1,
            final_sent: false,
            pending_reinvite: None,
        };
        let response_deadline =
            (!plan.is_empty()).then(|| now.instant + self.config.failover_timeout);
        let call = Call {
            id,
            phase: Phase::Trying,
            browser,
            carrier,
            number,
            caller_id,
            fallback: plan,
            attempt_at: now.unix_ms,
            response_deadline,
            held: false,
            media: true,
            browser_answer: setup.browser_answer,
            record,
            ring_deadline: Some(now.instant + self.config.max_ringing),
            flush_deadline: None,
        };
        self.by_call_id.insert(call_id, id);
        self.by_call_id.insert(c_call_id, id);
        self.events.push(B2buaEvent::Placed {
            call: id,
            agent: agent.username.clone(),
            carrier: call.carrier.route.name.clone(),
        });
        self.calls.insert(id, call);
        self.send_carrier_invite(now, id, None, pai);
    }

    /// A carrier leg for `route` (its own Call-ID, From tag, number format)
    /// and the P-Asserted-Identity to send it.
    fn new_carrier_leg(
        &mut self,
        route: Route,
        number: &E164,
        caller_id: Option<&E164>,
        offer_sdp: String,
    ) -> (CarrierLeg, Option<String>) {
        let carrier_user = format_number(number, &route);
        let ours = self.config.local.toward_carrier(&route);
        let call_id = format!("{}@{}", self.token(20), ours.host);
        let from_user = route
            .from_user
            .clone()
            .or_else(|| caller_id.map(|c| format_number(c, &route)))
            .unwrap_or_else(|| "anonymous".to_owned());
        let from_host = route.from_domain.clone().unwrap_or(ours.host);
        let from = format!("<sip:{from_user}@{from_host}>;tag={}", self.token(12));
        let host_port = host_port(&route.host, route.addr.port());
        let uri = format!("sip:{carrier_user}@{host_port}");
        let to = format!("<{uri}>");
        let pai = caller_id.map(|c| format!("<sip:{}@{from_host}>", format_number(c, &route)));
        let leg = CarrierLeg {
            route,
            call_id,
            from,
            to,
            uri,
            cseq: 1,
            invite: None,
            invite_key: None,
            to_tag: None,
            to_answered: None,
            remote_target: None,
            route_set: Vec::new(),
            auth_tried: false,
            nc: 0,
            answer_sdp: None,
            provisional_seen: false,
            cancel_pending: false,
            cancel_sent: false,
            offer_sdp,
            sdp_version: 1,
            pai: None,
        };
        (leg, pai)
    }

    /// The order to try carriers in: by priority, and within a priority
    /// in a random order drawn by weight; carriers at their channel limit
    /// are left out.
    fn plan_routes(&mut self, routes: &[Route]) -> Vec<Route> {
        let mut sorted: Vec<Route> = routes
            .iter()
            .filter(|r| self.has_capacity(r))
            .cloned()
            .collect();
        sorted.sort_by_key(|r| r.priority);
        let mut plan = Vec::with_capacity(sorted.len());
        let mut rest = sorted.as_slice();
        while let Some(first) = rest.first() {
            let same = rest
                .iter()
                .take_while(|r| r.priority == first.priority)
                .count();
            let (group, tail) = rest.split_at(same);
            rest = tail;
            let mut group = group.to_vec();
            while !group.is_empty() {
                let total: u64 = group.iter().map(|r| u64::from(r.weight.max(1))).sum();
                let mut pick = self.rng.gen_range(0..total);
                let index = group
                    .iter()
                    .position(|r| {
                        let w = u64::from(r.weight.max(1));
                        if pick < w {
                            true
                        } else {
                            pick -= w;
                            false
                        }
                    })
                    .unwrap_or(0);
                plan.push(group.remove(index));
            }
        }
        plan
    }

    /// Calls an agent is on (placed, or inbound and answered), not ended.
    pub fn calls_of(&self, account_id: i64) -> usize {
        let outbound = self
            .calls
            .values()
            .filter(|c| c.phase != Phase::Ended && c.record.account_id == Some(account_id))
            .count();
        outbound + self.inbound_answered_by(account_id)
    }

    /// Calls (inbound and outbound, not yet ended) on carrier `id`.
    pub fn channels_in_use(&self, carrier_id: i64) -> usize {
        let outbound = self
            .calls
            .values()
            .filter(|c| c.phase != Phase::Ended && c.carrier.route.id == carrier_id)
            .count();
        outbound + self.inbound_channels(carrier_id)
    }

    fn has_capacity(&self, route: &Route) -> bool {
        route
            .max_channels
            .is_none_or(|max| self.channels_in_use(route.id) < max as usize)
    }

    /// The current carrier failed in a way another carrier may not (408,
    /// 5xx, unreachable): the next one that has a free channel gets the
    /// call. Returns false when there is none.
    fn fail_over(&mut self, now: Now, id: u64) -> bool {
        let Some(call) = self.calls.get_mut(&id) else {
            return false;
        };
        let mut fallback = std::mem::take(&mut call.fallback);
        let (next, offer) = loop {
            if fallback.is_empty() {
                return false;
            }
            let candidate = fallback.remove(0);
            if !self.has_capacity(&candidate) {
                continue;
            }
            // Its own offer: its codec order, its SRTP setting.
            match self.media.carrier_offer(
                id,
                &candidate.codecs,
                candidate.srtp_required,
                candidate.addr.ip(),
            ) {
                Ok(offer) => break (candidate, offer),
                Err(f) => {
                    tracing::debug!(call = id, carrier = %candidate.name, reason = %f.reason,
                        "failover skips a carrier the call's media cannot use");
                }
            }
        };
        let Some(call) = self.calls.get(&id) else {
            return false;
        };
        let number = call.number.clone();
        let caller_id = call.caller_id.clone();
        let old_call_id = call.carrier.call_id.clone();
        // The old carrier's transactions are forgotten: a late answer from
        // it matches nothing.
        self.txs.retain(|_, e| e.call != id);
        self.by_call_id.remove(&old_call_id);
        let name = next.name.clone();
        let carrier_id = next.id;
        let (leg, pai) = self.new_carrier_leg(next, &number, caller_id.as_ref(), offer);
        self.by_call_id.insert(leg.call_id.clone(), id);
        let deadline = (!fallback.is_empty()).then(|| now.instant + self.config.failover_timeout);
        let Some(call) = self.calls.get_mut(&id) else {
            return false;
        };
        call.carrier = leg;
        call.fallback = fallback;
        call.attempt_at = now.unix_ms;
        call.response_deadline = deadline;
        call.record.carrier_id = Some(carrier_id);
        call.record.carrier = Some(name.clone());
        let agent = call.record.agent.clone().unwrap_or_default();
        self.events.push(B2buaEvent::Placed {
            call: id,
            agent,
            carrier: name,
        });
        self.send_carrier_invite(now, id, None, pai);
        true
    }

    /// Builds and sends (a new transaction for) the INVITE to the carrier.
    fn send_carrier_invite(
        &mut self,
        now: Now,
        id: u64,
        authorization: Option<(&'static str, String)>,
        pai: Option<String>,
    ) {
        let branch = self.token(16);
        let Some(route) = self.calls.get(&id).map(|c| c.carrier.route.clone()) else {
            return;
        };
        let contact = self.carrier_contact(&route);
        let via = self.carrier_via(&route, &branch);
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if let Some(pai) = pai {
            call.carrier.pai = Some(pai);
        }
        let leg = &call.carrier;
        let mut text = format!(
            "INVITE {uri} SIP/2.0\r\n\
             {via}\
             Max-Forwards: 70\r\n\
             From: {from}\r\n\
             To: {to}\r\n\
             Call-ID: {call_id}\r\n\
             CSeq: {cseq} INVITE\r\n\
             Contact: {contact}\r\n\
             Allow: INVITE, ACK, CANCEL, BYE, OPTIONS\r\n\
             User-Agent: dialer-gateway\r\n",
            uri = leg.uri,
            from = leg.from,
            to = leg.to,
            call_id = leg.call_id,
            cseq = leg.cseq,
        );
        if let Some(pai) = &leg.pai {
            text.push_str(&format!("P-Asserted-Identity: {pai}\r\n"));
        }
        if let Some((name, value)) = authorization {
            text.push_str(&format!("{name}: {value}\r\n"));
        }
        text.push_str(&format!(
            "Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{}",
            leg.offer_sdp.len(),
            leg.offer_sdp
        ));
        let Ok(request) = rsip::Request::try_from(text.as_bytes()) else {
            self.fail_call(
                now,
                id,
                500,
                "Server Internal Error (could not build the carrier INVITE)",
                HangupBy::Gateway,
            );
            return;
        };
        let Ok(key) = TransactionKey::for_sent_request(&request) else {
            return;
        };
        let dest = carrier_dest(&call.carrier.route);
        call.carrier.invite = Some(request.clone());
        call.carrier.invite_key = Some(key.clone());
        self.start_tx(now, id, Purpose::Invite, key, request, dest);
    }

    /// Starts the client transaction `key` for `request` (an INVITE one for
    /// INVITE and re-INVITE, else non-INVITE) toward `dest` on call `id`,
    /// and sends its first message.
    fn start_tx(
        &mut self,
        now: Now,
        id: u64,
        purpose: Purpose,
        key: TransactionKey,
        request: rsip::Request,
        dest: Destination,
    ) {
        let reliable = is_reliable(dest);
        let timers = self.config.timers;
        let tx =
            match purpose {
                Purpose::Invite | Purpose::ReInvite => ClientTx::Invite(Box::new(
                    ClientInvite::new(now.instant, request, reliable, timers),
                )),
                Purpose::Cancel | Purpose::Bye => ClientTx::NonInvite(Box::new(
                    ClientNonInvite::new(now.instant, request, reliable, timers),
                )),
            };
        self.txs.insert(
            key.clone(),
            TxEntry {
                call: id,
                purpose,
                tx,
                dest,
            },
        );
        self.drive_tx(now, &key);
    }

    // ---------------------------------------------------------------
    // Client transactions toward the carrier
    // ---------------------------------------------------------------

    /// Drains a transaction's transmits and events, then acts on the events.
    fn drive_tx(&mut self, now: Now, key: &TransactionKey) {
        let mut out = Vec::new();
        let mut events = Vec::new();
        let (call, purpose, dest, terminated) = {
            let Some(entry) = self.txs.get_mut(key) else {
                return;
            };
            match &mut entry.tx {
                ClientTx::Invite(tx) => {
                    while let Some(m) = tx.poll_transmit() {
                        out.push(m);
                    }
                    while let Some(e) = tx.poll_event() {
                        events.push(e);
                    }
                }
                ClientTx::NonInvite(tx) => {
                    while let Some(m) = tx.poll_transmit() {
                        out.push(m);
                    }
                    while let Some(e) = tx.poll_event() {
                        events.push(e);
                    }
                }
            }
            let terminated = events.iter().any(|e| matches!(e, TxEvent::Terminated));
            (entry.call, entry.purpose, entry.dest, terminated)
        };
        for m in out {
            self.transmits.push(Transmit {
                to: dest,
                bytes: m.to_string().into_bytes(),
            });
        }
        if terminated {
            self.txs.remove(key);
        }
        for event in events {
            match (purpose, event) {
                (Purpose::Invite, TxEvent::Response(r)) => {
                    self.carrier_invite_response(now, call, r)
                }
                (Purpose::Invite, TxEvent::Timeout) => self.carrier_failed(
                    now,
                    call,
                    408,
                    "Request Timeout (the carrier did not answer)",
                ),
                (Purpose::Invite, TxEvent::TransportError) => {
                    let reason = match self.transport_error.take() {
                        Some(why) => {
                            format!("Service Unavailable (the carrier cannot be reached: {why})")
                        }
                        None => "Service Unavailable (the carrier cannot be reached)".to_owned(),
                    };
                    self.carrier_failed(now, call, 503, &reason);
                }
                (Purpose::ReInvite, TxEvent::Response(r)) => {
                    let code = r.status_code.code();
                    if (200..300).contains(&code) {
                        self.ack_carrier(call, &r);
                    }
                }
                _ => {}
            }
        }
    }

    /// Nothing can reach `dest`: its client transactions end with a
    /// transport error (RFC 3261 §17.1.4), which fails a pending INVITE
    /// with 503.
    pub fn transport_failed(&mut self, now: Now, dest: Destination, reason: &str) {
        self.transport_error = Some(reason.to_owned());
        let keys: Vec<TransactionKey> = self
            .txs
            .iter()
            .filter(|(_, e)| e.dest == dest)
            .map(|(k, _)| k.clone())
            .collect();
        for key in keys {
            if let Some(entry) = self.txs.get_mut(&key) {
                match &mut entry.tx {
                    ClientTx::Invite(tx) => tx.handle_transport_error(now.instant),
                    ClientTx::NonInvite(tx) => tx.handle_transport_error(now.instant),
                }
            }
            self.drive_tx(now, &key);
        }
    }

    /// A response that arrived from a carrier (UDP or TCP).
    pub fn handle_carrier_response(&mut self, now: Now, response: rsip::Response) -> bool {
        let Ok(key) = TransactionKey::for_response(&response) else {
            return false;
        };
        match self.txs.get_mut(&key) {
            Some(entry) => {
                match &mut entry.tx {
                    ClientTx::Invite(tx) => tx.handle_response(now.instant, response),
                    ClientTx::NonInvite(tx) => tx.handle_response(now.instant, response),
                }
                self.drive_tx(now, &key);
                true
            }
            None => {
                // A 2xx retransmission after the INVITE transaction ended:
                // ACK it again (it belongs to the dialog).
                let call_id = msg::header(&response.headers, "Call-ID").unwrap_or_default();
                let code = response.status_code.code();
                let is_invite =
                    msg::header(&response.headers, "CSeq").is_some_and(|c| c.ends_with("INVITE"));
                if let Some(id) = self.by_call_id.get(&call_id).copied()
                    && (200..300).contains(&code)
                    && is_invite
                    && self.calls.contains_key(&id)
                {
                    self.ack_carrier(id, &response);
                    return true;
                }
                false
            }
        }
    }

    fn carrier_invite_response(&mut self, now: Now, id: u64, response: rsip::Response) {
        let code = response.status_code.code();
        let reason = reason_of(&response);
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        call.response_deadline = None;
        match code {
            100 => {}
            101..=199 => {
                call.carrier.provisional_seen = true;
                if call.record.ringing_at.is_none() {
                    call.record.ringing_at = Some(unix_ms(&now));
                }
                if call.phase == Phase::Trying {
                    call.phase = Phase::Early;
                }
                if call.carrier.cancel_pending {
                    self.send_cancel(now, id);
                    return;
                }
                let sdp = msg::sdp_body(&response.headers, &response.body);
                match sdp {
                    Some(sdp) if code == 183 => {
                        if let Err(f) = self.apply_carrier_sdp(id, &sdp) {
                            self.cancel_with(now, id, f.code, &f.reason);
                            return;
                        }
                        self.browser_provisional(id, 183, "Session Progress", true);
                    }
                    _ => self.browser_provisional(id, 180, "Ringing", false),
                }
            }
            200..=299 => self.carrier_answered(now, id, response),
            401 | 407 => {
                let can_retry = !call.carrier.auth_tried
                    && call.carrier.route.username.is_some()
                    && call.carrier.route.secret.is_some()
                    && !call.browser.final_sent;
                if can_retry && let Some(authorization) = self.answer_challenge(id, &response, code)
                {
                    if let Some(call) = self.calls.get_mut(&id) {
                        call.carrier.auth_tried = true;
                        call.carrier.cseq += 1;
                    }
                    self.send_carrier_invite(now, id, Some(authorization), None);
                } else {
                    self.carrier_failed(
                        now,
                        id,
                        403,
                        "Forbidden (the carrier refused our credentials)",
                    );
                }
            }
            300..=399 => self.carrier_failed(
                now,
                id,
                480,
                &format!("Temporarily Unavailable (carrier redirect {code} not followed)"),
            ),
            _ => self.carrier_failed(now, id, code, &reason),
        }
    }

    fn answer_challenge(
        &mut self,
        id: u64,
        response: &rsip::Response,
        code: u16,
    ) -> Option<(&'static str, String)> {
        let (challenge_name, answer_name) = if code == 407 {
            ("Proxy-Authenticate", "Proxy-Authorization")
        } else {
            ("WWW-Authenticate", "Authorization")
        };
        // Prefer SHA-256 when the carrier offers both (RFC 8760 §2.4).
        let mut challenges: Vec<Challenge> = msg::header_values(&response.headers, challenge_name)
            .iter()
            .filter_map(|v| Challenge::parse(v).ok())
            .collect();
        challenges.sort_by_key(|c| match c.algorithm {
            digest::Algorithm::Sha256 | digest::Algorithm::Sha256Sess => 0,
            _ => 1,
        });
        let challenge = challenges.into_iter().next()?;
        let cnonce = self.token(16);
        let call = self.calls.get_mut(&id)?;
        let (user, secret) = (
            call.carrier.route.username.clone()?,
            call.carrier.route.secret.clone()?,
        );
        call.carrier.nc += 1;
        let creds = digest::answer(
            &challenge,
            "INVITE",
            &call.carrier.uri,
            &user,
            &secret,
            &cnonce,
            call.carrier.nc,
        );
        Some((answer_name, creds.to_header_value()))
    }

    fn apply_carrier_sdp(&mut self, id: u64, sdp: &str) -> Result<(), MediaFailure> {
        let Some(call) = self.calls.get_mut(&id) else {
            return Ok(());
        };
        if call.carrier.answer_sdp.as_deref() == Some(sdp) {
            return Ok(());
        }
        call.carrier.answer_sdp = Some(sdp.to_owned());
        self.media.carrier_answer(id, sdp)
    }

    fn browser_provisional(&mut self, id: u64, code: u16, reason: &str, with_answer: bool) {
        let contact = self.browser_contact();
        let Some(call) = self.calls.get(&id) else {
            return;
        };
        if call.browser.final_sent {
            return;
        }
        let mut r = response_to(&call.browser.invite, code, reason, Some(&call.browser.tag));
        r.headers.push(rsip::headers::Contact::new(contact).into());
        if with_answer {
            msg::set_body(&mut r, "application/sdp", &call.browser_answer);
        }
        let conn = call.browser.conn;
        self.send_browser(conn, r.to_string().into_bytes());
    }

    /// Our Contact toward carriers.
    fn carrier_contact(&self, route: &Route) -> String {
        let ours = self.config.local.toward_carrier(route);
        format!("<sip:gw@{}{}>", ours.host_port(), ours.contact_param)
    }

    fn browser_contact(&self) -> String {
        format!("<sip:gw@{};transport=ws>", self.config.domain)
    }

    fn carrier_answered(&mut self, now: Now, id: u64, response: rsip::Response) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let to = msg::header(&response.headers, "To").unwrap_or_default();
        let to_tag = msg::tag(&to);
        // A 2xx from a second fork, or after we gave up: ACK it and hang it up.
        let other_fork = call.carrier.to_answered.is_some() && call.carrier.to_tag != to_tag;
        if call.phase == Phase::Ended
            || other_fork
            || call.browser.final_sent && call.phase != Phase::Answered
        {
            self.ack_carrier(id, &response);
            let bye = self.bye_for_2xx_dialog(id, &response);
            if let (Some(bye), Some(call)) = (bye, self.calls.get(&id)) {
                let to = carrier_dest(&call.carrier.route);
                self.send_to(to, bye);
            }
            return;
        }
        if call.phase == Phase::Answered {
            // A retransmission of the same 2xx: ACK again.
            self.ack_carrier(id, &response);
            return;
        }
        call.phase = Phase::Answered;
        call.ring_deadline = None;
        call.response_deadline = None;
        call.record.attempts.push(CallAttempt {
            carrier_id: Some(call.carrier.route.id),
            carrier: call.carrier.route.name.clone(),
            code: 200,
            reason: "OK".to_owned(),
            at: call.attempt_at,
        });
        call.carrier.to_tag = to_tag;
        call.carrier.to_answered = Some(to.clone());
        call.carrier.remote_target =
            msg::header(&response.headers, "Contact").map(|c| msg::uri_of(&c));
        let mut route_set: Vec<String> = msg::header_values(&response.headers, "Record-Route")
            .iter()
            .flat_map(|v| msg::split_list(v))
            .collect();
        route_set.reverse();
        call.carrier.route_set = route_set;
        call.record.answered_at = Some(unix_ms(&now));
        if call.record.ringing_at.is_none() {
            call.record.ringing_at = call.record.answered_at;
        }
        self.ack_carrier(id, &response);

        let sdp = msg::sdp_body(&response.headers, &response.body);
        let have_sdp = sdp.is_some()
            || self
                .calls
                .get(&id)
                .is_some_and(|c| c.carrier.answer_sdp.is_some());
        if !have_sdp {
            self.hang_up_answered(
                now,
                id,
                502,
                "Bad Gateway (the carrier answered without SDP)",
                HangupBy::Gateway,
            );
            return;
        }
        if let Some(sdp) = sdp
            && let Err(f) = self.apply_carrier_sdp(id, &sdp)
        {
            self.hang_up_answered(now, id, f.code, &f.reason, HangupBy::Gateway);
            return;
        }
        // 200 to the browser, with the WebRTC answer.
        let contact = self.browser_contact();
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let answer = call.browser_answer.clone();
        let mut ok = response_to(&call.browser.invite, 200, "OK", Some(&call.browser.tag));
        ok.headers.push(rsip::headers::Contact::new(contact).into());
        ok.headers
            .push(rsip::headers::Allow::new("INVITE, ACK, CANCEL, BYE, OPTIONS").into());
        msg::set_body(&mut ok, "application/sdp", &answer);
        call.browser.final_sent = true;
        call.record.final_code = 200;
        call.record.final_reason = "OK".to_owned();
        let conn = call.browser.conn;
        self.send_browser(conn, ok.to_string().into_bytes());
    }

    /// The ACK for a 2xx (RFC 3261 §13.2.2.4): the INVITE's CSeq number, the
    /// dialog's route set, and a branch of its own that is the same for every
    /// retransmission of that 2xx (both tags and the CSeq number).
    fn ack_for_2xx(&self, call: &Call, response: &rsip::Response) -> Vec<u8> {
        let ours = msg::tag(&call.carrier.from).unwrap_or_default();
        let theirs = msg::header(&response.headers, "To")
            .and_then(|to| msg::tag(&to))
            .unwrap_or_default();
        let cseq = msg::cseq_number(&response.headers).unwrap_or(call.carrier.cseq);
        let branch = format!("{ours}.{theirs}.ack{cseq}");
        self.in_dialog_request(call, response, "ACK", &branch, None)
    }

    /// Sends the ACK for a carrier's 2xx to call `id`.
    fn ack_carrier(&mut self, id: u64, response: &rsip::Response) {
        if let Some(call) = self.calls.get(&id) {
            let bytes = self.ack_for_2xx(call, response);
            let to = carrier_dest(&call.carrier.route);
            self.send_to(to, bytes);
        }
    }

    fn bye_for_2xx_dialog(&mut self, id: u64, response: &rsip::Response) -> Option<Vec<u8>> {
        let branch = self.token(16);
        let call = self.calls.get(&id)?;
        Some(self.in_dialog_request(call, response, "BYE", &branch, Some(call.carrier.cseq + 1)))
    }

    /// A request in the carrier dialog that a `response` established.
    fn in_dialog_request(
        &self,
        call: &Call,
        response: &rsip::Response,
        method: &str,
        branch: &str,
        cseq: Option<u32>,
    ) -> Vec<u8> {
        let leg = &call.carrier;
        let to = msg::header(&response.headers, "To").unwrap_or_else(|| leg.to.clone());
        let target = msg::header(&response.headers, "Contact")
            .map(|c| msg::uri_of(&c))
            .unwrap_or_else(|| leg.uri.clone());
        let mut routes: Vec<String> = msg::header_values(&response.headers, "Record-Route")
            .iter()
            .flat_map(|v| msg::split_list(v))
            .collect();
        routes.reverse();
        let cseq_number = msg::cseq_number(&response.headers).unwrap_or(leg.cseq);
        let cseq = cseq.unwrap_or(cseq_number);
        self.request_text(leg, method, &target, &routes, &to, branch, cseq, "")
            .into_bytes()
    }

    #[allow(clippy::too_many_arguments)]
    fn request_text(
        &self,
        leg: &CarrierLeg,
        method: &str,
        target: &str,
        routes: &[String],
        to: &str,
        branch: &str,
        cseq: u32,
        extra: &str,
    ) -> String {
        let via = self.carrier_via(&leg.route, branch);
        let mut text = format!(
            "{method} {target} SIP/2.0\r\n\
             {via}\
             Max-Forwards: 70\r\n"
        );
        for r in routes {
            text.push_str(&format!("Route: {r}\r\n"));
        }
        text.push_str(&format!(
            "From: {}\r\nTo: {to}\r\nCall-ID: {}\r\nCSeq: {cseq} {method}\r\n{extra}",
            leg.from, leg.call_id
        ));
        if !extra.contains("Content-Length") {
            text.push_str("Content-Length: 0\r\n\r\n");
        }
        text
    }

    /// A request in the answered carrier dialog, as a new client transaction.
    fn carrier_dialog_request(&mut self, now: Now, id: u64, method: &str, extra: &str, body: &str) {
        let branch = self.token(16);
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        call.carrier.cseq += 1;
        let call = &self.calls[&id];
        let leg = &call.carrier;
        let target = leg.remote_target.clone().unwrap_or_else(|| leg.uri.clone());
        let to = leg.to_answered.clone().unwrap_or_else(|| leg.to.clone());
        let mut extra = extra.to_owned();
        if !body.is_empty() {
            extra.push_str(&format!(
                "Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            ));
        }
        let text = self.request_text(
            leg,
            method,
            &target,
            &leg.route_set,
            &to,
            &branch,
            leg.cseq,
            &extra,
        );
        let dest = carrier_dest(&leg.route);
        let Ok(request) = rsip::Request::try_from(text.as_bytes()) else {
            return;
        };
        let Ok(key) = TransactionKey::for_sent_request(&request) else {
            return;
        };
        let purpose = if method == "INVITE" {
            Purpose::ReInvite
        } else {
            Purpose::Bye
        };
        self.start_tx(now, id, purpose, key, request, dest);
    }

    fn send_cancel(&mut self, now: Now, id: u64) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if call.carrier.cancel_sent {
            return;
        }
        if !call.carrier.provisional_seen {
            // RFC 3261 §9.1: no CANCEL before a provisional response.
            call.carrier.cancel_pending = true;
            return;
        }
        call.carrier.cancel_sent = true;
        let Some(invite) = call.carrier.invite.clone() else {
            return;
        };
        let dest = carrier_dest(&call.carrier.route);
        let invite_key = call.carrier.invite_key.clone();
        let Ok(cancel) = cancel_for(&invite) else {
            return;
        };
        if let Some(k) = &invite_key
            && let Some(TxEntry {
                tx: ClientTx::Invite(tx),
                ..
            }) = self.txs.get_mut(k)
        {
            tx.handle_cancel_sent(now.instant);
        }
        let Ok(key) = TransactionKey::for_sent_request(&cancel) else {
            return;
        };
        self.start_tx(now, id, Purpose::Cancel, key, cancel, dest);
    }

    // ---------------------------------------------------------------
    // Ending calls
    // ---------------------------------------------------------------

    /// The carrier's INVITE failed (final ≥ 300, timeout, transport error).
    fn carrier_failed(&mut self, now: Now, id: u64, code: u16, reason: &str) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if call.phase == Phase::Ended || call.phase == Phase::Answered {
            return;
        }
        let cancelled = call.carrier.cancel_sent || call.carrier.cancel_pending;
        call.response_deadline = None;
        call.record.attempts.push(CallAttempt {
            carrier_id: Some(call.carrier.route.id),
            carrier: call.carrier.route.name.clone(),
            code,
            reason: reason.to_owned(),
            at: call.attempt_at,
        });
        // 408, 5xx and "unreachable" say nothing about the callee: another
        // carrier may do better. 4xx and 6xx are the callee's answer.
        let another_may_do_better = code == 408 || (500..600).contains(&code);
        if !cancelled
            && !call.browser.final_sent
            && another_may_do_better
            && self.fail_over(now, id)
        {
            return;
        }
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let reason = if call.record.attempts.len() > 1 {
            let tried: Vec<String> = call
                .record
                .attempts
                .iter()
                .map(|a| format!("{} {}", a.carrier, a.code))
                .collect();
            format!("{reason} [every carrier failed: {}]", tried.join(", "))
        } else {
            reason.to_owned()
        };
        let reason = reason.as_str();
        let hangup_by = if cancelled {
            // We cancelled: the agent (or the gateway) ended it; the record
            // keeps the reason given when cancelling.
            call.record.hangup_by
        } else {
            HangupBy::Remote
        };
        self.fail_call(now, id, code, reason, hangup_by);
    }

    /// Sends the final failure to the browser (unless sent) and ends the call.
    fn fail_call(&mut self, now: Now, id: u64, code: u16, reason: &str, hangup_by: HangupBy) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if !call.browser.final_sent {
            call.browser.final_sent = true;
            let r = response_to(&call.browser.invite, code, reason, Some(&call.browser.tag));
            let conn = call.browser.conn;
            if call.record.final_code == 0 {
                call.record.final_code = code;
                call.record.final_reason = reason.to_owned();
                call.record.hangup_by = hangup_by;
            }
            self.send_browser(conn, r.to_string().into_bytes());
        }
        self.end(now, id);
    }

    /// Cancels the carrier's INVITE and fails the browser's with `code`.
    fn cancel_with(&mut self, now: Now, id: u64, code: u16, reason: &str) {
        self.send_cancel(now, id);
        if let Some(call) = self.calls.get_mut(&id)
            && call.record.final_code == 0
        {
            call.record.hangup_by = HangupBy::Gateway;
        }
        self.fail_call(now, id, code, reason, HangupBy::Gateway);
    }

    /// BYE on both legs of an answered call.
    fn hang_up_answered(
        &mut self,
        now: Now,
        id: u64,
        code: u16,
        reason: &str,
        hangup_by: HangupBy,
    ) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if call.phase == Phase::Ended {
            return;
        }
        if call.record.final_code == 0 {
            call.record.final_code = code;
        }
        call.record.final_reason = reason.to_owned();
        call.record.hangup_by = hangup_by;
        let reason_header = format!(
            "Reason: SIP;cause={code};text=\"{}\"\r\n",
            reason.replace('"', "'")
        );
        let browser_final_sent = call.browser.final_sent;
        self.carrier_dialog_request(now, id, "BYE", &reason_header, "");
        if browser_final_sent {
            self.bye_browser(id, &reason_header);
        } else {
            self.fail_call(now, id, code, reason, hangup_by);
        }
        self.end(now, id);
    }

    fn bye_browser(&mut self, id: u64, extra: &str) {
        let branch = self.token(16);
        let domain = self.config.domain.clone();
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let leg = &mut call.browser;
        let cseq = leg.next_cseq;
        leg.next_cseq += 1;
        let text = format!(
            "BYE {contact} SIP/2.0\r\n\
             Via: SIP/2.0/WSS {domain};branch=z9hG4bK{branch}\r\n\
             Max-Forwards: 70\r\n\
             From: {local}\r\n\
             To: {remote}\r\n\
             Call-ID: {call_id}\r\n\
             CSeq: {cseq} BYE\r\n\
             {extra}Content-Length: 0\r\n\r\n",
            contact = if leg.contact.is_empty() {
                format!("sip:agent@{domain}")
            } else {
                leg.contact.clone()
            },
            local = leg.local,
            remote = leg.remote,
            call_id = leg.call_id,
        );
        let conn = leg.conn;
        self.send_browser(conn, text.into_bytes());
    }

    /// Signalling is over: stop the media and wait for its counts.
    fn end(&mut self, now: Now, id: u64) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if call.phase == Phase::Ended {
            return;
        }
        call.phase = Phase::Ended;
        call.ring_deadline = None;
        call.record.ended_at = unix_ms(&now);
        if let Some(answered) = call.record.answered_at {
            call.record.duration_s = (call.record.ended_at - answered).max(0) / 1000;
        }
        if call.record.final_code == 0 {
            call.record.final_code = 500;
            call.record.final_reason = "Server Internal Error".to_owned();
        }
        if call.media {
            call.flush_deadline = Some(now.instant + self.config.media_grace);
            self.media.stop(id);
        } else {
            self.finish(id);
        }
    }

    /// Emits the record and forgets the call.
    fn finish(&mut self, id: u64) {
        let Some(call) = self.calls.remove(&id) else {
            return;
        };
        self.by_call_id.remove(&call.browser.call_id);
        self.by_call_id.remove(&call.carrier.call_id);
        self.events.push(B2buaEvent::Record(Box::new(call.record)));
    }

    // ---------------------------------------------------------------
    // Requests inside a call
    // ---------------------------------------------------------------

    /// A request from a browser connection that belongs to a call (by
    /// Call-ID): ACK, BYE, CANCEL, re-INVITE, INFO. Returns false when it
    /// belongs to none.
    pub fn handle_browser_request(
        &mut self,
        now: Now,
        conn: ConnId,
        request: &rsip::Request,
    ) -> bool {
        let call_id = msg::header(&request.headers, "Call-ID").unwrap_or_default();
        let Some(id) = self.by_call_id.get(&call_id).copied() else {
            return false;
        };
        if self.inbound.contains_key(&id) {
            return self.inbound_browser_request(now, id, conn, request);
        }
        let Some(call) = self.calls.get(&id) else {
            return false;
        };
        if call.browser.conn != conn || call.browser.call_id != call_id {
            return false;
        }
        let phase = call.phase;
        let final_sent = call.browser.final_sent;
        let pending = call.browser.pending_reinvite.is_some();
        let invite_key = call.browser.key.clone();
        let reply = |this: &mut Self, req: &rsip::Request, code: u16, reason: &str| {
            let tag = this.calls.get(&id).map(|c| c.browser.tag.clone());
            let r = response_to(req, code, reason, tag.as_deref());
            this.send_browser(conn, r.to_string().into_bytes());
        };
        match request.method() {
            rsip::Method::Ack => {}
            rsip::Method::Cancel => {
                let matches = TransactionKey::for_cancel_target(request).ok() == invite_key;
                if !matches {
                    reply(self, request, 481, "Call/Transaction Does Not Exist");
                    return true;
                }
                reply(self, request, 200, "OK");
                if final_sent {
                    return true;
                }
                if let Some(call) = self.calls.get_mut(&id) {
                    call.record.hangup_by = HangupBy::Agent;
                    call.record.final_code = 487;
                    call.record.final_reason =
                        "Request Terminated (cancelled by the agent)".to_owned();
                }
                self.send_cancel(now, id);
                self.fail_call(now, id, 487, "Request Terminated", HangupBy::Agent);
            }
            rsip::Method::Bye => {
                reply(self, request, 200, "OK");
                match phase {
                    Phase::Answered => {
                        if let Some(call) = self.calls.get_mut(&id) {
                            call.record.hangup_by = HangupBy::Agent;
                            call.record.final_reason = "Hung up by the agent".to_owned();
                        }
                        self.carrier_dialog_request(now, id, "BYE", "", "");
                        self.end(now, id);
                    }
                    Phase::Trying | Phase::Early => {
                        if let Some(call) = self.calls.get_mut(&id) {
                            call.record.hangup_by = HangupBy::Agent;
                        }
                        self.send_cancel(now, id);
                        self.fail_call(now, id, 487, "Request Terminated", HangupBy::Agent);
                    }
                    Phase::Ended => {}
                }
            }
            rsip::Method::Invite => {
                if phase != Phase::Answered || pending {
                    reply(self, request, 491, "Request Pending");
                    return true;
                }
                let Some(sdp) = msg::sdp_body(&request.headers, &request.body) else {
                    reply(
                        self,
                        request,
                        488,
                        "Not Acceptable Here (re-INVITE without SDP)",
                    );
                    return true;
                };
                let direction = msg::sdp_direction(&sdp);
                if let Some(call) = self.calls.get_mut(&id) {
                    call.browser.pending_reinvite = Some(request.clone());
                    call.carrier.sdp_version += 1;
                }
                self.media.browser_reoffer(id, &sdp);
                // Mirror the hold (or resume) to the carrier.
                let held = direction != "sendrecv";
                if let Some(call) = self.calls.get_mut(&id) {
                    call.held = held;
                }
                self.media.set_hold(id, held);
                let (offer, contact) = match self.calls.get(&id) {
                    Some(c) => (
                        msg::sdp_with_direction(
                            &c.carrier.offer_sdp,
                            direction,
                            c.carrier.sdp_version,
                        ),
                        self.carrier_contact(&c.carrier.route),
                    ),
                    None => return true,
                };
                self.carrier_dialog_request(
                    now,
                    id,
                    "INVITE",
                    &format!("Contact: {contact}\r\n"),
                    &offer,
                );
            }
            rsip::Method::Info | rsip::Method::Options => reply(self, request, 200, "OK"),
            _ => reply(self, request, 501, "Not Implemented"),
        }
        true
    }

    /// A request from a carrier (UDP or TCP); answers go to `reply`.
    /// Returns false when it belongs to no call.
    pub fn handle_carrier_request(
        &mut self,
        now: Now,
        peer: SocketAddr,
        reply: Destination,
        request: &rsip::Request,
    ) -> bool {
        let call_id = msg::header(&request.headers, "Call-ID").unwrap_or_default();
        let key = TransactionKey::for_request(request).ok();
        if let Some(k) = &key
            && let Some((bytes, _)) = self.recent.get(k)
        {
            let bytes = bytes.clone();
            self.send_to(reply, bytes);
            return true;
        }
        let Some(id) = self.by_call_id.get(&call_id).copied() else {
            return false;
        };
        if let Some(call) = self.inbound.get(&id) {
            if call.peer_ip != peer.ip() || !call.is_carrier_call_id(&call_id) {
                return false;
            }
            self.inbound_carrier_request(now, id, reply, request);
            return true;
        }
        let Some(call) = self.calls.get(&id) else {
            return false;
        };
        if call.carrier.call_id != call_id || call.carrier.route.addr.ip() != peer.ip() {
            return false;
        }
        let phase = call.phase;
        let respond = |this: &mut Self, code: u16, reason: &str, body: Option<String>| {
            let mut r = response_to(request, code, reason, None);
            if let Some(body) = body {
                let contact = match this.calls.get(&id) {
                    Some(c) => this.carrier_contact(&c.carrier.route),
                    None => return,
                };
                r.headers.push(rsip::headers::Contact::new(contact).into());
                msg::set_body(&mut r, "application/sdp", &body);
            }
            let bytes = r.to_string().into_bytes();
            if let Some(k) = &key {
                this.recent.insert(
                    k.clone(),
                    (bytes.clone(), now.instant + Duration::from_secs(32)),
                );
            }
            this.send_to(reply, bytes);
        };
        match request.method() {
            rsip::Method::Ack => {}
            rsip::Method::Bye => {
                respond(self, 200, "OK", None);
                if let Some(call) = self.calls.get_mut(&id) {
                    call.record.hangup_by = HangupBy::Remote;
                    call.record.final_reason = "Hung up by the other side".to_owned();
                }
                match phase {
                    Phase::Answered => {
                        self.bye_browser(id, "");
                        self.end(now, id);
                    }
                    Phase::Trying | Phase::Early => {
                        self.fail_call(
                            now,
                            id,
                            487,
                            "Request Terminated (the carrier ended the call)",
                            HangupBy::Remote,
                        );
                    }
                    Phase::Ended => {}
                }
            }
            rsip::Method::Invite => {
                // The carrier holds or resumes: answer with our side of it.
                let offer = msg::sdp_body(&request.headers, &request.body);
                if let Some(sdp) = &offer {
                    self.media.carrier_reoffer(id, sdp);
                }
                let direction = offer
                    .map(|s| msg::answer_direction(msg::sdp_direction(&s)))
                    .unwrap_or("sendrecv");
                self.media.set_hold(id, direction != "sendrecv");
                let sdp = match self.calls.get_mut(&id) {
                    Some(c) => {
                        c.carrier.sdp_version += 1;
                        msg::sdp_with_direction(
                            &c.carrier.offer_sdp,
                            direction,
                            c.carrier.sdp_version,
                        )
                    }
                    None => return true,
                };
                respond(self, 200, "OK", Some(sdp));
            }
            rsip::Method::Options | rsip::Method::Info => respond(self, 200, "OK", None),
            rsip::Method::Cancel => respond(self, 481, "Call/Transaction Does Not Exist", None),
            _ => respond(self, 501, "Not Implemented", None),
        }
        true
    }

    // ---------------------------------------------------------------
    // Inputs from the shell: media, connections, time
    // ---------------------------------------------------------------

    /// The media's answer to a browser re-INVITE.
    pub fn media_browser_answer(&mut self, id: u64, result: Result<String, String>) {
        if self.inbound.contains_key(&id) {
            self.inbound_media_answer(id, result);
            return;
        }
        let contact = self.browser_contact();
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let Some(request) = call.browser.pending_reinvite.take() else {
            return;
        };
        let r = match result {
            Ok(sdp) => {
                let mut r = response_to(&request, 200, "OK", Some(&call.browser.tag));
                r.headers.push(rsip::headers::Contact::new(contact).into());
                msg::set_body(&mut r, "application/sdp", &sdp);
                r
            }
            Err(e) => response_to(
                &request,
                488,
                &format!("Not Acceptable Here ({e})"),
                Some(&call.browser.tag),
            ),
        };
        let conn = call.browser.conn;
        self.send_browser(conn, r.to_string().into_bytes());
    }

    /// No packets on either leg for the configured time.
    pub fn media_no_media(&mut self, now: Now, id: u64, silent_for: Duration) {
        if self.inbound.contains_key(&id) {
            self.inbound_no_media(now, id, silent_for);
            return;
        }
        let reason = format!("No media for {} s", silent_for.as_secs());
        let answered = self
            .calls
            .get(&id)
            .is_some_and(|c| c.phase == Phase::Answered);
        if answered {
            self.hang_up_answered(now, id, 200, &reason, HangupBy::Gateway);
        } else {
            self.cancel_with(now, id, 408, &format!("Request Timeout ({reason})"));
        }
    }

    /// The call's media ended (asked to, or by itself: an error or a panic).
    pub fn media_stopped(
        &mut self,
        now: Now,
        id: u64,
        counts: MediaCounts,
        failure: Option<String>,
    ) {
        if self.inbound.contains_key(&id) {
            self.inbound_media_stopped(now, id, counts, failure);
            return;
        }
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        call.media = false;
        apply_counts(&mut call.record, counts);
        match call.phase {
            Phase::Ended => self.finish(id),
            Phase::Answered => {
                let reason = format!("Media failure ({})", failure.unwrap_or_default());
                self.hang_up_answered(now, id, 200, &reason, HangupBy::Gateway);
                self.finish(id);
            }
            Phase::Trying | Phase::Early => {
                let reason = format!(
                    "Server Internal Error (media failure: {})",
                    failure.unwrap_or_default()
                );
                self.cancel_with(now, id, 500, &reason);
                self.finish(id);
            }
        }
    }

    /// A browser connection closed: its calls end.
    pub fn connection_closed(&mut self, now: Now, conn: ConnId) {
        let ids: Vec<u64> = self
            .calls
            .values()
            .filter(|c| c.browser.conn == conn && c.phase != Phase::Ended)
            .map(|c| c.id)
            .collect();
        for id in ids {
            self.abandon(now, id, "The agent's connection was lost", HangupBy::Agent);
        }
        self.inbound_connection_closed(now, conn);
    }

    /// Ends every call (shutdown).
    pub fn hang_up_all(&mut self, now: Now) {
        let ids: Vec<u64> = self
            .calls
            .values()
            .filter(|c| c.phase != Phase::Ended)
            .map(|c| c.id)
            .collect();
        for id in ids {
            self.abandon(now, id, "The gateway is shutting down", HangupBy::Gateway);
        }
        self.inbound_hang_up_all(now);
    }

    fn abandon(&mut self, now: Now, id: u64, reason: &str, by: HangupBy) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        match call.phase {
            Phase::Answered => {
                self.hang_up_answered(now, id, 200, reason, by);
            }
            Phase::Trying | Phase::Early => {
                call.record.hangup_by = by;
                call.record.final_code = 487;
                call.record.final_reason = format!("Request Terminated ({reason})");
                self.send_cancel(now, id);
                self.fail_call(now, id, 503, &format!("Service Unavailable ({reason})"), by);
            }
            Phase::Ended => {}
        }
    }

    pub fn handle_timeout(&mut self, now: Now) {
        let keys: Vec<TransactionKey> = self
            .txs
            .iter()
            .filter(|(_, e)| match &e.tx {
                ClientTx::Invite(tx) => tx.poll_timeout().is_some_and(|t| t <= now.instant),
                ClientTx::NonInvite(tx) => tx.poll_timeout().is_some_and(|t| t <= now.instant),
            })
            .map(|(k, _)| k.clone())
            .collect();
        for key in keys {
            if let Some(entry) = self.txs.get_mut(&key) {
                match &mut entry.tx {
                    ClientTx::Invite(tx) => tx.handle_timeout(now.instant),
                    ClientTx::NonInvite(tx) => tx.handle_timeout(now.instant),
                }
            }
            self.drive_tx(now, &key);
        }
        let silent: Vec<(u64, u64)> = self
            .calls
            .values()
            .filter(|c| c.response_deadline.is_some_and(|d| d <= now.instant))
            .map(|c| (c.id, self.config.failover_timeout.as_secs()))
            .collect();
        for (id, secs) in silent {
            // Nothing at all from this carrier: give it up (no CANCEL: it
            // sent no provisional, RFC 3261 §9.1) and try the next.
            self.carrier_failed(
                now,
                id,
                408,
                &format!("Request Timeout (the carrier said nothing in {secs} s)"),
            );
        }
        let ring_expired: Vec<u64> = self
            .calls
            .values()
            .filter(|c| c.ring_deadline.is_some_and(|d| d <= now.instant))
            .map(|c| c.id)
            .collect();
        for id in ring_expired {
            if let Some(call) = self.calls.get_mut(&id) {
                call.record.hangup_by = HangupBy::Gateway;
                call.record.final_code = 408;
                call.record.final_reason = "Request Timeout (no answer)".to_owned();
            }
            self.send_cancel(now, id);
            self.fail_call(
                now,
                id,
                408,
                "Request Timeout (no answer)",
                HangupBy::Gateway,
            );
        }
        let flush: Vec<u64> = self
            .calls
            .values()
            .filter(|c| c.flush_deadline.is_some_and(|d| d <= now.instant))
            .map(|c| c.id)
            .collect();
        for id in flush {
            self.finish(id);
        }
        self.inbound_timeout(now);
        self.recent.retain(|_, (_, until)| *until > now.instant);
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        let txs = self.txs.values().filter_map(|e| match &e.tx {
            ClientTx::Invite(tx) => tx.poll_timeout(),
            ClientTx::NonInvite(tx) => tx.poll_timeout(),
        });
        let calls = self
            .calls
            .values()
            .flat_map(|c| [c.ring_deadline, c.flush_deadline, c.response_deadline])
            .flatten();
        let recent = self.recent.values().map(|(_, t)| *t);
        txs.chain(calls)
            .chain(recent)
            .chain(self.inbound_poll_timeout())
            .min()
    }
}

/// The reason phrase of a response. rsip keeps the phrase only for codes it
/// does not know; for the others the standard phrase stands in.
/// The media's counts into a call's record.
fn apply_counts(record: &mut CallRecord, counts: MediaCounts) {
    let i = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    record.packets_to_carrier = i(counts.packets_to_carrier);
    record.bytes_to_carrier = i(counts.bytes_to_carrier);
    record.packets_from_carrier = i(counts.packets_from_carrier);
    record.bytes_from_carrier = i(counts.bytes_from_carrier);
}

/// A call's record as the live view shows it.
fn live_call(record: &CallRecord, state: LiveCallState) -> LiveCall {
    LiveCall {
        id: record.id.clone(),
        direction: record.direction,
        agent: record.agent.clone(),
        caller_id: record.caller_id.clone(),
        dialled: record.dialled.clone(),
        carrier_id: record.carrier_id,
        carrier: record.carrier.clone(),
        state,
        since_ms: record.answered_at.unwrap_or(record.invite_at),
    }
}

fn reason_of(response: &rsip::Response) -> String {
    match &response.status_code {
        rsip::StatusCode::Other(_, reason) if !reason.is_empty() => reason.clone(),
        code => shared::sip::response::reason_phrase(code.code()).to_owned(),
    }
}

/// The number as the carrier wants it written.
pub fn format_number(number: &E164, route: &Route) -> String {
    let body = match route.number_format {
        NumberFormat::E164 => number.as_str().to_owned(),
        NumberFormat::E164WithoutPlus => number.digits().to_owned(),
        NumberFormat::National => match number.country() {
            Some(c) => {
                let national = number
                    .digits()
                    .strip_prefix(c.calling_code)
                    .unwrap_or(number.digits());
                format!("{}{national}", national_trunk(c))
            }
            None => number.digits().to_owned(),
        },
    };
    format!("{}{body}", route.tech_prefix)
}

fn national_trunk(country: &Country) -> &'static str {
    // NANP numbers are dialled nationally without the leading 1 by most
    // carriers; elsewhere the trunk prefix (0) comes first.
    if country.calling_code == "1" {
        ""
    } else {
        country.trunk_prefix.unwrap_or("")
    }
}

/// The caller ID for a call: the one the agent picked (P-Preferred-Identity)
/// if the agent may present it, else the agent's default, else the
/// carrier's.
fn choose_caller_id(
    request: &rsip::Request,
    agent: &AgentInfo,
    route: &Route,
    country: &'static Country,
    callee: &E164,
) -> Option<E164> {
    let allowed = |n: &E164| {
        agent
            .dialing
            .caller_ids
            .iter()
            .any(|c| c.number == n.as_str())
    };
    let picked = msg::header(&request.headers, "P-Preferred-Identity")
        .and_then(|v| msg::uri_user(&msg::uri_of(&v)))
        .and_then(|u| e164::normalize(&u, country).ok())
        .filter(allowed);
    let local = || {
        agent
            .dialing
            .local_presence
            .then(|| {
                let numbers = agent.dialing.caller_ids.iter();
                local_presence(
                    callee,
                    numbers.filter_map(|c| c.number.parse::<E164>().ok()),
                )
            })
            .flatten()
    };
    picked
        .or_else(local)
        .or_else(|| {
            agent
                .dialing
                .default_caller_id
                .as_deref()
                .and_then(|d| e164::normalize(d, country).ok())
        })
        .or_else(|| {
            route
                .caller_id
                .as_deref()
                .and_then(|d| e164::normalize(d, country).ok())
        })
}

/// The number among `candidates` that is local to `callee`: the same
/// country and area (in the NANP the 3-digit area code; elsewhere the first
/// digit after the country code), the longest shared prefix winning.
fn local_presence(callee: &E164, candidates: impl Iterator<Item = E164>) -> Option<E164> {
    let country = callee.country()?;
    let area = if country.calling_code == "1" { 3 } else { 1 };
    let needed = country.calling_code.len() + area;
    let shared = |n: &E164| {
        n.digits()
            .chars()
            .zip(callee.digits().chars())
            .take_while(|(a, b)| a == b)
            .count()
    };
    candidates
        .filter(|n| shared(n) >= needed)
        .max_by_key(|n| shared(n))
}

#[cfg(test)]
mod tests;
