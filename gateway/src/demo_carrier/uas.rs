//! The demo carrier's SIP side, sans-IO: one [`Uas`] holds every call and
//! transaction; datagrams and time come in, datagrams, events for the media
//! side and the next deadline go out.
//!
//! Transactions are `shared::sip::transaction`'s (retransmitted requests
//! get the same response, a 486 is resent until its ACK, our BYE is resent
//! until answered); the dialog work (RFC 3261 §13.3.1.4: resend the 2xx
//! until the ACK) is done here. A call:
//!
//! ```text
//!        INVITE (no To tag) ─► special number? ── 486/404/480/503 ─► (gone)
//!                │ 100 Trying, 180 Ringing (To tag, Contact)
//!                ▼
//!          +-----------+  CANCEL: 200, 487 to the INVITE ─────────► (gone)
//!          |  Ringing  |  BYE: 200, 487 to the INVITE ────────────► (gone)
//!          +-----------+  10 min (the "408" number rings until then): 480
//!    answer_delay │ (never for "408")
//!                 ▼ AnswerDue: the shell binds an RTP socket, then accept()
//!          +-----------+
//!          | Answering |  (reject() if no socket: 503)
//!          +-----------+
//!      accept()   │ 200 OK with the SDP answer; media starts
//!                 ▼
//!          +-----------+  no ACK: resend the 200 at T1, 2·T1, … ≤ T2;
//!          | Answered  |  after 64·T1 give up: BYE ─────────────────► (gone)
//!          +-----------+
//!            ACK  │
//!                 ▼
//!          +-----------+  re-INVITE: 200 with a new answer (hold: sendonly
//!          | Confirmed |  → recvonly, media stops sending), ACK as above
//!          +-----------+  BYE: 200 ───────────────────────────────► (gone)
//!                         10 min after the INVITE: BYE ──────────────► (gone)
//! ```
//!
//! Every request of a dialog, ours included, goes to (and is expected from)
//! the address the INVITE came from: a carrier only ever talks to the
//! gateway that called it. Out of dialog: OPTIONS → 200; a request naming
//! a dialog we do not have → 481; ACK without a match is absorbed; other
//! methods → 405 with Allow.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use rsip::headers::UntypedHeader as _;
use rsip::prelude::*;
use rsip::{Header, Method};
use shared::sip::response::{has_tag, reason_phrase, response_to};
use shared::sip::transaction::{
    ClientNonInvite, Instant, ServerInvite, ServerInviteState, ServerNonInvite, Timers,
    TransactionKey, TxEvent, trying_for,
};
use shared::sip::{Inbound, Limits, Transport, inbound};
use tracing::debug;

use super::media::MediaParams;
use super::sdp::{Offer, SdpError};

/// A call (ringing or answered) ends by itself after this long.
pub const MAX_CALL_DURATION: Duration = Duration::from_secs(10 * 60);
/// More calls at once get 503: a demo does not need more, and a flood of
/// INVITEs must not grow memory without bound.
const MAX_CALLS: usize = 64;
/// Likewise for server transactions (each lingers up to 64·T1).
const MAX_TRANSACTIONS: usize = 4096;
/// A call that rings this long gets its 180 again (RFC 3261 §13.3.1.1:
/// every minute after the first three, so that proxies keep the
/// transaction; every minute from the start keeps it simple).
const RINGING_REFRESH: Duration = Duration::from_secs(60);
/// Methods we implement, for `Allow`.
pub const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO";
/// Our user part in Contact.
const CONTACT_USER: &str = "demo-carrier";

/// A call, as the shell knows it.
pub type CallId = u64;

/// Bytes to send on the carrier's SIP socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    pub to: SocketAddr,
    pub bytes: Vec<u8>,
}

/// What the shell must do for the media side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UasEvent {
    /// Time to answer: bind an RTP socket, then [`Uas::accept`] (or
    /// [`Uas::reject`] if that failed).
    AnswerDue(CallId),
    /// The call's media must follow these (sent after each answer).
    Media { call: CallId, params: MediaParams },
    /// The call is over: stop its media.
    Ended(CallId),
}

/// What the number dialled asks for; see the module documentation of
/// [`crate::demo_carrier`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Answer,
    Reject(u16),
    RingForever,
}

impl Outcome {
    /// From the Request-URI's user part: only its digits count, and only
    /// their last three.
    pub fn for_user(user: &str) -> Outcome {
        let digits: String = user.chars().filter(char::is_ascii_digit).collect();
        let last3 = digits.get(digits.len().saturating_sub(3)..).unwrap_or("");
        match last3 {
            "486" => Outcome::Reject(486),
            "404" => Outcome::Reject(404),
            "480" => Outcome::Reject(480),
            "503" => Outcome::Reject(503),
            "408" => Outcome::RingForever,
            _ => Outcome::Answer,
        }
    }
}

#[derive(Debug, Clone)]
pub struct UasConfig {
    /// Our SIP address: Via of our requests, Contact.
    pub local: SocketAddr,
    /// How long calls ring before the 200.
    pub answer_delay: Duration,
    pub timers: Timers,
    /// Seeds tags, branches and SDP session ids (fixed in tests).
    pub seed: u64,
}

#[derive(Debug)]
pub struct Uas {
    config: UasConfig,
    rng: StdRng,
    next_call: CallId,
    calls: HashMap<CallId, Call>,
    by_call_id: HashMap<String, CallId>,
    server: HashMap<TransactionKey, ServerTx>,
    client: HashMap<TransactionKey, ClientTx>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<UasEvent>,
}

#[derive(Debug)]
struct ServerTx {
    tx: ServerKind,
    peer: SocketAddr,
}

#[derive(Debug)]
enum ServerKind {
    Invite(ServerInvite),
    NonInvite(ServerNonInvite),
}

#[derive(Debug)]
struct ClientTx {
    tx: ClientNonInvite,
    peer: SocketAddr,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Ringing { answer_at: Option<Instant> },
    Answering,
    Answered,
    Confirmed,
}

#[derive(Debug)]
struct Call {
    call_id: String,
    local_tag: String,
    peer: SocketAddr,
    /// The INVITE that created the call (its headers build our BYE).
    invite: rsip::Request,
    invite_key: TransactionKey,
    phase: Phase,
    offer: Offer,
    local_rtp: Option<SocketAddr>,
    session_id: u64,
    session_version: u64,
    /// A 2xx (to the INVITE or a re-INVITE) not acknowledged yet.
    pending_2xx: Option<Pending2xx>,
    /// While ringing: when to send the 180 again.
    next_ringing: Instant,
    ends_at: Instant,
    local_cseq: u32,
}

#[derive(Debug)]
struct Pending2xx {
    bytes: Vec<u8>,
    cseq: u32,
    next: Instant,
    interval: Duration,
    give_up: Instant,
}

/// A final response refusing an INVITE.
#[derive(Debug)]
struct Refusal {
    code: u16,
    reason: String,
    extra: Vec<Header>,
}

impl Refusal {
    fn new(code: u16, reason: &str) -> Self {
        Refusal {
            code,
            reason: reason.to_owned(),
            extra: Vec::new(),
        }
    }

    /// 488 with a Warning saying what was wrong with the offer (RFC 3261
    /// §20.43, code 305 "Incompatible media format").
    fn not_acceptable(e: &SdpError) -> Self {
        let mut refusal = Refusal::new(488, "Not Acceptable Here");
        refusal.extra.push(Header::Other(
            "Warning".into(),
            format!("305 {CONTACT_USER} \"{e}\""),
        ));
        refusal
    }
}

impl Uas {
    pub fn new(config: UasConfig) -> Self {
        Uas {
            rng: StdRng::seed_from_u64(config.seed),
            config,
            next_call: 1,
            calls: HashMap::new(),
            by_call_id: HashMap::new(),
            server: HashMap::new(),
            client: HashMap::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// One datagram from `from`.
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddr, bytes: &[u8]) {
        match inbound(bytes, Transport::Udp, Limits::default()) {
            Inbound::Request { request, .. } => self.handle_request(now, from, request),
            Inbound::Response(response) => self.handle_response(now, response),
            Inbound::Reject { response, code, .. } => {
                debug!(%from, code, "demo carrier: refused a request");
                self.transmits.push_back(Transmit {
                    to: from,
                    bytes: response,
                });
            }
            Inbound::Drop { reason } => debug!(%from, reason, "demo carrier: dropped a message"),
        }
    }

    /// The RTP socket for `call` is bound at `local_rtp`: send the 200.
    /// False if the call is gone meanwhile (then drop the socket).
    pub fn accept(&mut self, now: Instant, call: CallId, local_rtp: SocketAddr) -> bool {
        let local = self.config.local;
        let t1 = self.config.timers.t1;
        let Some(c) = self.calls.get_mut(&call) else {
            return false;
        };
        if c.phase != Phase::Answering {
            return false;
        }
        c.local_rtp = Some(local_rtp);
        let body = c.offer.answer(local_rtp, c.session_id, c.session_version);
        let ok = dialog_response(&c.invite, 200, &c.local_tag, local, Some(body));
        c.pending_2xx = Some(Pending2xx {
            bytes: ok.to_string().into_bytes(),
            cseq: cseq(&c.invite).unwrap_or_default(),
            next: now + t1,
            interval: t1,
            give_up: now + t1 * 64,
        });
        c.phase = Phase::Answered;
        let params = media_params(&c.offer);
        let key = c.invite_key.clone();
        self.events.push_back(UasEvent::Media { call, params });
        self.respond_in(now, &key, ok);
        true
    }

    /// No media for `call` (the RTP socket could not be bound): the INVITE
    /// gets `code`.
    pub fn reject(&mut self, now: Instant, call: CallId, code: u16) {
        self.end_unanswered(now, call, code);
    }

    /// Fire every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        let due: Vec<TransactionKey> = self
            .server
            .iter()
            .filter(|(_, s)| s.poll_timeout().is_some_and(|t| t <= now))
            .map(|(k, _)| k.clone())
            .collect();
        for key in due {
            if let Some(s) = self.server.get_mut(&key) {
                match &mut s.tx {
                    ServerKind::Invite(tx) => tx.handle_timeout(now),
                    ServerKind::NonInvite(tx) => tx.handle_timeout(now),
                }
            }
            self.drain_server(now, &key);
        }
        let due: Vec<TransactionKey> = self
            .client
            .iter()
            .filter(|(_, c)| c.tx.poll_timeout().is_some_and(|t| t <= now))
            .map(|(k, _)| k.clone())
            .collect();
        for key in due {
            if let Some(c) = self.client.get_mut(&key) {
                c.tx.handle_timeout(now);
            }
            self.drain_client(&key);
        }
        let calls: Vec<CallId> = self.calls.keys().copied().collect();
        for call in calls {
            self.call_timeout(now, call);
        }
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<UasEvent> {
        self.events.pop_front()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        let servers = self.server.values().filter_map(ServerTx::poll_timeout);
        let clients = self.client.values().filter_map(|c| c.tx.poll_timeout());
        let calls = self.calls.values().flat_map(|c| {
            let (answer, ringing) = match c.phase {
                Phase::Ringing { answer_at } => (answer_at, Some(c.next_ringing)),
                _ => (None, None),
            };
            let pending = c.pending_2xx.as_ref();
            [
                answer,
                ringing,
                Some(c.ends_at),
                pending.map(|p| p.next),
                pending.map(|p| p.give_up),
            ]
            .into_iter()
            .flatten()
        });
        servers.chain(clients).chain(calls).min()
    }

    /// How many calls exist (ringing or answered).
    pub fn call_count(&self) -> usize {
        self.calls.len()
    }

    fn handle_request(&mut self, now: Instant, from: SocketAddr, request: rsip::Request) {
        let Ok(key) = TransactionKey::for_request(&request) else {
            return;
        };
        if let Some(s) = self.server.get_mut(&key) {
            match &mut s.tx {
                ServerKind::Invite(tx) => tx.handle_request(now, request),
                ServerKind::NonInvite(tx) => tx.handle_request(now, request),
            }
            self.drain_server(now, &key);
            return;
        }
        match request.method {
            Method::Ack => self.dialog_ack(&request),
            Method::Invite => match to_tag(&request) {
                None => self.invite(now, from, key, request),
                Some(tag) => self.reinvite(now, from, key, request, &tag),
            },
            Method::Cancel => self.cancel(now, from, key, request),
            Method::Bye => self.bye(now, from, key, request),
            Method::Options => {
                let mut ok = response_to(&request, 200, "OK", Some(&self.new_tag()));
                ok.headers.push(rsip::headers::Allow::new(ALLOW).into());
                ok.headers
                    .push(rsip::headers::Accept::new("application/sdp").into());
                self.respond_new(now, from, key, &request, ok);
            }
            _ => {
                let response = match to_tag(&request) {
                    Some(tag) if self.find_call(&request, &tag).is_some() => {
                        // INFO (DTMF relay, say): fine, and ignored.
                        response_to(&request, 200, "OK", None)
                    }
                    Some(_) => response_to(&request, 481, "Call/Transaction Does Not Exist", None),
                    None => {
                        let mut r =
                            response_to(&request, 405, "Method Not Allowed", Some(&self.new_tag()));
                        r.headers.push(rsip::headers::Allow::new(ALLOW).into());
                        r
                    }
                };
                self.respond_new(now, from, key, &request, response);
            }
        }
    }

    /// A new INVITE: a new call, or a refusal.
    fn invite(&mut self, now: Instant, from: SocketAddr, key: TransactionKey, req: rsip::Request) {
        let tag = self.new_tag();
        if self.server.len() >= MAX_TRANSACTIONS || self.calls.len() >= MAX_CALLS {
            let mut busy = response_to(&req, 503, "Service Unavailable", Some(&tag));
            busy.headers
                .push(Header::Other("Retry-After".into(), "5".into()));
            self.send_stateless(from, busy);
            return;
        }
        let Some(call_id) = call_id(&req) else { return };
        self.server
            .insert(key.clone(), ServerTx::invite(now, &req, from, &self.config));
        let (outcome, offer) = match self.check_invite(&req, &call_id) {
            Ok(accepted) => accepted,
            Err(refusal) => {
                let mut r = response_to(&req, refusal.code, &refusal.reason, Some(&tag));
                r.headers.extend(refusal.extra);
                self.respond_in(now, &key, r);
                return;
            }
        };
        let answer_at = match outcome {
            Outcome::RingForever => None,
            _ => Some(now + self.config.answer_delay),
        };
        let call = self.next_call;
        self.next_call += 1;
        let ringing = dialog_response(&req, 180, &tag, self.config.local, None);
        self.respond_in(now, &key, trying_for(&req));
        self.respond_in(now, &key, ringing);
        debug!(call, %from, "demo carrier: ringing");
        let session_id = self.rng.next_u64() >> 1;
        self.by_call_id.insert(call_id.clone(), call);
        self.calls.insert(
            call,
            Call {
                call_id,
                local_tag: tag,
                peer: from,
                invite: req,
                invite_key: key,
                phase: Phase::Ringing { answer_at },
                offer,
                local_rtp: None,
                session_id,
                session_version: 1,
                pending_2xx: None,
                next_ringing: now + RINGING_REFRESH,
                ends_at: now + MAX_CALL_DURATION,
                local_cseq: 0,
            },
        );
    }

    /// Whether a new INVITE can ring: the number dialled, and an offer we
    /// can answer.
    fn check_invite(
        &self,
        req: &rsip::Request,
        call_id: &str,
    ) -> Result<(Outcome, Offer), Refusal> {
        if self.by_call_id.contains_key(call_id) {
            // Same Call-ID, another branch, no To tag: a loop or a fork.
            return Err(Refusal::new(482, "Loop Detected"));
        }
        let user = req.uri.auth.as_ref().map_or("", |a| a.user.as_str());
        let outcome = Outcome::for_user(user);
        if let Outcome::Reject(code) = outcome {
            return Err(Refusal::new(code, reason_phrase(code)));
        }
        if req.body.is_empty() {
            // A delayed offer (RFC 3261 §13.2.1) would be answered in the
            // ACK; the gateway always offers, so the demo does not do that.
            return Err(Refusal::new(488, "Not Acceptable Here (no SDP offer)"));
        }
        if !content_type_is_sdp(req) {
            let mut refusal = Refusal::new(415, "Unsupported Media Type");
            refusal
                .extra
                .push(rsip::headers::Accept::new("application/sdp").into());
            return Err(refusal);
        }
        match Offer::parse(&req.body) {
            Ok(offer) => Ok((outcome, offer)),
            Err(e) => Err(Refusal::not_acceptable(&e)),
        }
    }

    /// An INVITE inside a dialog: a new offer (hold, resume, a new address).
    fn reinvite(
        &mut self,
        now: Instant,
        from: SocketAddr,
        key: TransactionKey,
        req: rsip::Request,
        tag: &str,
    ) {
        if self.server.len() >= MAX_TRANSACTIONS {
            let busy = response_to(&req, 503, "Service Unavailable", None);
            self.send_stateless(from, busy);
            return;
        }
        self.server
            .insert(key.clone(), ServerTx::invite(now, &req, from, &self.config));
        let Some(call) = self.find_call(&req, tag) else {
            let r = response_to(&req, 481, "Call/Transaction Does Not Exist", None);
            self.respond_in(now, &key, r);
            return;
        };
        let (local, t1) = (self.config.local, self.config.timers.t1);
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        let response = match (c.phase, &c.pending_2xx, c.local_rtp) {
            (Phase::Confirmed, None, Some(local_rtp)) => {
                // No body: a session refresh; our SDP goes out as the offer
                // and the ACK's answer would not change anything we do.
                let offer = if req.body.is_empty() {
                    Ok(c.offer.clone())
                } else {
                    Offer::parse(&req.body)
                };
                match offer {
                    Ok(offer) => {
                        c.offer = offer;
                        c.session_version += 1;
                        let body = c.offer.answer(local_rtp, c.session_id, c.session_version);
                        let ok = dialog_response(&req, 200, tag, local, Some(body));
                        c.pending_2xx = Some(Pending2xx {
                            bytes: ok.to_string().into_bytes(),
                            cseq: cseq(&req).unwrap_or_default(),
                            next: now + t1,
                            interval: t1,
                            give_up: now + t1 * 64,
                        });
                        let params = media_params(&c.offer);
                        self.events.push_back(UasEvent::Media { call, params });
                        ok
                    }
                    Err(e) => {
                        let refusal = Refusal::not_acceptable(&e);
                        let mut r = response_to(&req, refusal.code, &refusal.reason, None);
                        r.headers.extend(refusal.extra);
                        r
                    }
                }
            }
            // An offer is already in progress (RFC 3261 §14.2).
            _ => response_to(&req, 491, "Request Pending", None),
        };
        self.respond_in(now, &key, response);
    }

    fn cancel(&mut self, now: Instant, from: SocketAddr, key: TransactionKey, req: rsip::Request) {
        let Ok(target) = TransactionKey::for_cancel_target(&req) else {
            return;
        };
        let proceeding = match self.server.get(&target).map(|s| &s.tx) {
            Some(ServerKind::Invite(tx)) => Some(tx.state() == ServerInviteState::Proceeding),
            _ => None,
        };
        let call = self
            .calls
            .iter()
            .find(|(_, c)| c.invite_key == target)
            .map(|(id, c)| (*id, c.local_tag.clone()));
        let tag = call.as_ref().map(|(_, t)| t.clone());
        let code = if proceeding.is_some() { 200 } else { 481 };
        let response = response_to(&req, code, reason_phrase(code), tag.as_deref());
        self.respond_new(now, from, key, &req, response);
        if proceeding == Some(true)
            && let Some((id, _)) = call
        {
            self.end_unanswered(now, id, 487);
        }
    }

    fn bye(&mut self, now: Instant, from: SocketAddr, key: TransactionKey, req: rsip::Request) {
        let call = to_tag(&req).and_then(|tag| self.find_call(&req, &tag));
        let Some(call) = call else {
            let r = response_to(&req, 481, "Call/Transaction Does Not Exist", None);
            self.respond_new(now, from, key, &req, r);
            return;
        };
        let ok = response_to(&req, 200, "OK", None);
        self.respond_new(now, from, key, &req, ok);
        let unanswered = self
            .calls
            .get(&call)
            .is_some_and(|c| matches!(c.phase, Phase::Ringing { .. } | Phase::Answering));
        if unanswered {
            self.end_unanswered(now, call, 487);
        } else {
            debug!(call, "demo carrier: the caller hung up");
            self.forget(call);
        }
    }

    /// An ACK that matched no transaction: the ACK for a 2xx.
    fn dialog_ack(&mut self, ack: &rsip::Request) {
        let Some(call) = to_tag(ack).and_then(|tag| self.find_call(ack, &tag)) else {
            return;
        };
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        if c.pending_2xx
            .as_ref()
            .is_some_and(|p| Some(p.cseq) == cseq(ack))
        {
            c.pending_2xx = None;
            if c.phase == Phase::Answered {
                c.phase = Phase::Confirmed;
                debug!(call, "demo carrier: call confirmed");
            }
        }
    }

    fn handle_response(&mut self, now: Instant, response: rsip::Response) {
        let Ok(key) = TransactionKey::for_response(&response) else {
            return;
        };
        if let Some(c) = self.client.get_mut(&key) {
            c.tx.handle_response(now, response);
            self.drain_client(&key);
        }
    }

    fn call_timeout(&mut self, now: Instant, call: CallId) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        if c.ends_at <= now {
            if matches!(c.phase, Phase::Ringing { .. } | Phase::Answering) {
                self.end_unanswered(now, call, 480);
            } else {
                debug!(call, "demo carrier: time limit, hanging up");
                self.hang_up(now, call);
            }
            return;
        }
        if let Phase::Ringing { answer_at } = c.phase {
            if answer_at.is_some_and(|at| at <= now) {
                c.phase = Phase::Answering;
                self.events.push_back(UasEvent::AnswerDue(call));
            } else if c.next_ringing <= now {
                c.next_ringing = now + RINGING_REFRESH;
                let ringing =
                    dialog_response(&c.invite, 180, &c.local_tag, self.config.local, None);
                let key = c.invite_key.clone();
                self.respond_in(now, &key, ringing);
                return;
            }
        }
        let t2 = self.config.timers.t2;
        let peer = c.peer;
        if let Some(p) = &mut c.pending_2xx {
            if p.give_up <= now {
                // RFC 3261 §13.3.1.4: the dialog is confirmed, but the
                // session SHOULD be terminated with a BYE.
                debug!(call, "demo carrier: no ACK for the 2xx, hanging up");
                self.hang_up(now, call);
            } else if p.next <= now {
                self.transmits.push_back(Transmit {
                    to: peer,
                    bytes: p.bytes.clone(),
                });
                p.interval = (p.interval * 2).min(t2);
                p.next = now + p.interval;
            }
        }
    }

    /// Ends a call that has not been answered: `code` to its INVITE.
    fn end_unanswered(&mut self, now: Instant, call: CallId, code: u16) {
        let Some(c) = self.forget(call) else { return };
        let response = response_to(&c.invite, code, reason_phrase(code), Some(&c.local_tag));
        self.respond_in(now, &c.invite_key, response);
    }

    /// Ends an answered call from our side: BYE.
    fn hang_up(&mut self, now: Instant, call: CallId) {
        let branch = format!("z9hG4bK-dc-{:016x}", self.rng.next_u64());
        let Some(mut c) = self.forget(call) else {
            return;
        };
        c.local_cseq += 1;
        let Some(bye) = bye_for(&c, self.config.local, &branch) else {
            debug!(call, "demo carrier: cannot build a BYE from this INVITE");
            return;
        };
        let Ok(key) = TransactionKey::for_sent_request(&bye) else {
            return;
        };
        let tx = ClientNonInvite::new(now, bye, false, self.config.timers);
        self.client
            .insert(key.clone(), ClientTx { tx, peer: c.peer });
        self.drain_client(&key);
    }

    /// Removes a call and tells the shell to stop its media.
    fn forget(&mut self, call: CallId) -> Option<Call> {
        let c = self.calls.remove(&call)?;
        self.by_call_id.remove(&c.call_id);
        self.events.push_back(UasEvent::Ended(call));
        Some(c)
    }

    fn find_call(&self, req: &rsip::Request, local_tag: &str) -> Option<CallId> {
        let id = *self.by_call_id.get(&call_id(req)?)?;
        let c = self.calls.get(&id)?;
        (c.local_tag == local_tag).then_some(id)
    }

    /// Creates a non-INVITE server transaction for `req` and sends
    /// `response` on it (statelessly when the table is full).
    fn respond_new(
        &mut self,
        now: Instant,
        from: SocketAddr,
        key: TransactionKey,
        req: &rsip::Request,
        response: rsip::Response,
    ) {
        if self.server.len() >= MAX_TRANSACTIONS {
            self.send_stateless(from, response);
            return;
        }
        let tx = ServerNonInvite::new(now, req.clone(), false, self.config.timers);
        self.server.insert(
            key.clone(),
            ServerTx {
                tx: ServerKind::NonInvite(tx),
                peer: from,
            },
        );
        self.respond_in(now, &key, response);
    }

    /// Sends `response` on the existing server transaction `key`.
    fn respond_in(&mut self, now: Instant, key: &TransactionKey, response: rsip::Response) {
        let Some(s) = self.server.get_mut(key) else {
            return;
        };
        let sent = match &mut s.tx {
            ServerKind::Invite(tx) => tx.send_response(now, response),
            ServerKind::NonInvite(tx) => tx.send_response(now, response),
        };
        if let Err(e) = sent {
            debug!("demo carrier: {e}");
        }
        self.drain_server(now, key);
    }

    fn send_stateless(&mut self, to: SocketAddr, response: rsip::Response) {
        self.transmits.push_back(Transmit {
            to,
            bytes: response.to_string().into_bytes(),
        });
    }

    fn drain_server(&mut self, _now: Instant, key: &TransactionKey) {
        let Some(s) = self.server.get_mut(key) else {
            return;
        };
        let mut acks = Vec::new();
        let mut terminated = false;
        loop {
            let (message, event) = match &mut s.tx {
                ServerKind::Invite(tx) => (tx.poll_transmit(), tx.poll_event()),
                ServerKind::NonInvite(tx) => (tx.poll_transmit(), tx.poll_event()),
            };
            if message.is_none() && event.is_none() {
                break;
            }
            if let Some(message) = message {
                self.transmits.push_back(Transmit {
                    to: s.peer,
                    bytes: message.to_string().into_bytes(),
                });
            }
            match event {
                // An ACK for our 2xx that reused the INVITE's branch.
                Some(TxEvent::Request(ack)) => acks.push(ack),
                Some(TxEvent::Terminated) => terminated = true,
                _ => {}
            }
        }
        if terminated {
            self.server.remove(key);
        }
        for ack in acks {
            self.dialog_ack(&ack);
        }
    }

    fn drain_client(&mut self, key: &TransactionKey) {
        let Some(c) = self.client.get_mut(key) else {
            return;
        };
        let mut terminated = false;
        while let Some(message) = c.tx.poll_transmit() {
            self.transmits.push_back(Transmit {
                to: c.peer,
                bytes: message.to_string().into_bytes(),
            });
        }
        while let Some(event) = c.tx.poll_event() {
            terminated |= matches!(event, TxEvent::Terminated);
        }
        if terminated {
            self.client.remove(key);
        }
    }

    fn new_tag(&mut self) -> String {
        format!("dc{:012x}", self.rng.next_u64() & 0xFFFF_FFFF_FFFF)
    }
}

impl ServerTx {
    fn invite(now: Instant, req: &rsip::Request, peer: SocketAddr, config: &UasConfig) -> Self {
        ServerTx {
            tx: ServerKind::Invite(ServerInvite::new(now, req.clone(), false, config.timers)),
            peer,
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        match &self.tx {
            ServerKind::Invite(tx) => tx.poll_timeout(),
            ServerKind::NonInvite(tx) => tx.poll_timeout(),
        }
    }
}

fn media_params(offer: &Offer) -> MediaParams {
    MediaParams {
        law: offer.law,
        payload_type: offer.payload_type,
        telephone_event: offer.telephone_event,
        remote: offer.remote,
        send: offer.we_send(),
    }
}

/// A response that creates or belongs to the dialog (RFC 3261 §12.1.1):
/// To tag, the request's Record-Route, our Contact; `body` is SDP.
fn dialog_response(
    req: &rsip::Request,
    code: u16,
    tag: &str,
    local: SocketAddr,
    body: Option<String>,
) -> rsip::Response {
    let mut r = response_to(req, code, reason_phrase(code), Some(tag));
    r.headers.retain(|h| !matches!(h, Header::ContentLength(_)));
    for h in req.headers.iter() {
        if matches!(h, Header::RecordRoute(_)) {
            r.headers.push(h.clone());
        }
    }
    r.headers
        .push(rsip::headers::Contact::new(format!("<sip:{CONTACT_USER}@{local}>")).into());
    if code >= 200 {
        r.headers.push(rsip::headers::Allow::new(ALLOW).into());
    }
    let body = body.map(String::into_bytes).unwrap_or_default();
    if !body.is_empty() {
        r.headers
            .push(rsip::headers::ContentType::new("application/sdp").into());
    }
    r.headers
        .push(rsip::headers::ContentLength::new(body.len().to_string()).into());
    r.body = body;
    r
}

/// Our BYE (RFC 3261 §15.1.1 and §12.2.1.1): to the caller's Contact,
/// through the route set the INVITE's Record-Route gave, From our To.
fn bye_for(c: &Call, local: SocketAddr, branch: &str) -> Option<rsip::Request> {
    let invite = &c.invite;
    let target = invite
        .contact_header()
        .ok()
        .and_then(|h| uri_of(h.value()))
        .unwrap_or_else(|| "sip:invalid".to_owned());
    let to = invite.from_header().ok()?.value().to_owned();
    let ours = invite.to_header().ok()?.value().to_owned();
    let from = if has_tag(&ours) {
        ours
    } else {
        format!("{ours};tag={}", c.local_tag)
    };
    let mut text = format!(
        "BYE {target} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch={branch};rport\r\n\
         Max-Forwards: 70\r\n"
    );
    for h in invite.headers.iter() {
        if let Header::RecordRoute(rr) = h {
            text.push_str(&format!("Route: {}\r\n", rr.value()));
        }
    }
    text.push_str(&format!(
        "From: {from}\r\nTo: {to}\r\nCall-ID: {}\r\nCSeq: {} BYE\r\nContent-Length: 0\r\n\r\n",
        c.call_id, c.local_cseq
    ));
    rsip::Request::try_from(text.into_bytes()).ok()
}

/// The URI of a name-addr (`"x" <sip:a@b;p>;q`) or addr-spec (`sip:a@b;q`).
fn uri_of(value: &str) -> Option<String> {
    let uri = match (value.find('<'), value.find('>')) {
        (Some(open), Some(close)) if open < close => value.get(open + 1..close)?,
        _ => value.split(';').next()?,
    };
    let uri = uri.trim();
    (!uri.is_empty() && !uri.contains(char::is_whitespace)).then(|| uri.to_owned())
}

fn call_id(req: &rsip::Request) -> Option<String> {
    Some(req.call_id_header().ok()?.value().to_owned())
}

fn cseq(req: &rsip::Request) -> Option<u32> {
    Some(req.cseq_header().ok()?.typed().ok()?.seq)
}

/// The To tag (header parameter, not a URI parameter).
fn to_tag(req: &rsip::Request) -> Option<String> {
    let value = req.to_header().ok()?.value();
    let params = match value.rfind('>') {
        Some(gt) => value.get(gt + 1..)?,
        None => value.split_once(';').map_or("", |(_, p)| p),
    };
    params.split(';').find_map(|p| {
        let (name, v) = p.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("tag")
            .then(|| v.trim().to_owned())
    })
}

fn content_type_is_sdp(req: &rsip::Request) -> bool {
    req.headers.iter().any(|h| match h {
        Header::ContentType(ct) => ct
            .value()
            .split(';')
            .next()
            .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/sdp")),
        _ => false,
    })
}
