//! The caller's side of one call: the INVITE dialog of a user agent client
//! (RFC 3261 §12–§15, offer/answer per RFC 3264 and RFC 6337), as the
//! browser phone places calls over a WebSocket (RFC 7118). Sans-IO, like
//! [`super::register`]: time comes in as `now`, messages come in through
//! `handle_*`, and out come [`Call::poll_transmit`] (one SIP message per
//! WebSocket frame), [`Call::poll_event`] (what the page and the media layer
//! must hear) and [`Call::poll_timeout`].
//!
//! The SDP is opaque here: the offer comes from the browser's
//! `RTCPeerConnection`, the answer goes back to it. This module only decides
//! *when* an SDP is an answer to apply (once per offer), an offer to answer,
//! or noise to ignore.
//!
//! ```text
//!            new(): INVITE (SDP offer)
//!                 │
//!                 ▼      1xx (100 too) ─ CANCEL now allowed
//!             Calling ────────────────┐
//!              │  │  180/183 (To tag) │    401/407 (once): INVITE again
//!              │  │                   ▼    with credentials, CSeq + 1
//!              │  └──────────────► Ringing ── SDP in 18x: RemoteAnswer
//!              │                      │        (early media), used once
//!              │ 2xx: ACK             │ 2xx: ACK (re-ACK every retransmission)
//!              ▼                      ▼
//!            Connected ◄────────────────── re-INVITE (hold / resume) out;
//!              │   ▲                       re-INVITE in: RemoteOffer,
//!              │   └── 2xx: ACK ──────┘     accept_offer()/reject_offer()
//!              │
//!              ├─ hangup(): BYE ──────────────────────────┐
//!              ├─ BYE in: 200 ────────────────────────────┤
//!   Calling/Ringing: hangup() → CANCEL (after a 1xx);     ▼
//!   3xx–6xx, no answer (timer B), transport lost ──────► Ended
//!                                 (the event is reported once; the
//!                                  machine lives on until its last
//!                                  transaction is over: is_terminated())
//! ```
//!
//! Transactions are [`super::transaction`]'s machines on a reliable
//! transport: nothing is retransmitted, the ACK for a 300–699 response is
//! sent by the INVITE client transaction, and the ACK for a 2xx is this
//! module's (a request of the dialog, with a branch of its own, §13.2.2.4),
//! resent for every retransmission of the 2xx. Our own 2xx to a re-INVITE
//! from the far end is retransmitted (T1 doubling to T2) until its ACK comes,
//! whatever the transport (§13.3.1.4), and the dialog ends if none comes in
//! 64·T1.
//!
//! Deliberately absent: forking (the gateway is a B2BUA, so there is one
//! early dialog at most; a 2xx with another To tag simply replaces it),
//! PRACK/100rel, UPDATE, session timers, incoming calls.

use std::collections::VecDeque;
use std::time::Duration;

use rsip::headers::UntypedHeader;
use rsip::prelude::*;
use web_time::Instant;

use super::register::{RegistrationConfig, Rng};
use super::response::response_to;
use super::transaction::{
    ClientInvite, ClientInviteState, ClientNonInvite, ServerInvite, Timers, TransactionKey,
    TxEvent, cancel_for,
};
use super::uac::{
    DigestAuth, is_header_text, is_plain_token, quoted_display_name, standard_reason,
};
use crate::e164::E164;

/// The methods this phone answers inside a call (the `Allow` header).
pub const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS";

/// Who the phone is: everything a call borrows from the registration, so
/// that the gateway sees the same AOR, Contact and instance on both.
#[derive(Clone, PartialEq, Eq)]
pub struct CallerIdentity {
    /// Address of record, `sip:user@domain`: the From of every call, and its
    /// domain the domain of every Request-URI.
    pub aor: String,
    /// Display name put in From.
    pub display_name: String,
    /// Digest username and password, for a challenged INVITE or BYE.
    pub username: String,
    pub password: String,
    /// RFC 5626 `+sip.instance` (without angle brackets), as registered.
    pub instance_id: String,
    /// User part of the Contact URI, as registered.
    pub contact_user: String,
    /// Host in Via and Contact (a random name under `.invalid`), as registered.
    pub via_host: String,
    /// `User-Agent` header, if any.
    pub user_agent: Option<String>,
}

impl std::fmt::Debug for CallerIdentity {
    // By hand: the password stays out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallerIdentity")
            .field("aor", &self.aor)
            .field("contact_user", &self.contact_user)
            .field("via_host", &self.via_host)
            .finish_non_exhaustive()
    }
}

impl From<&RegistrationConfig> for CallerIdentity {
    fn from(config: &RegistrationConfig) -> Self {
        CallerIdentity {
            aor: config.aor.clone(),
            display_name: config.display_name.clone(),
            username: config.username.clone(),
            password: config.password.clone(),
            instance_id: config.instance_id.clone(),
            contact_user: config.contact_user.clone(),
            via_host: config.via_host.clone(),
            user_agent: config.user_agent.clone(),
        }
    }
}

/// What to call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRequest {
    /// The number called; the Request-URI is `sip:<it>@<domain>;user=phone`.
    pub target: E164,
    /// Which number the call presents.
    pub presenting: Presenting,
    /// The SDP offer from the browser (`RTCPeerConnection.localDescription`).
    pub offer: String,
}

/// Which number a call presents, as the agent chose it. The gateway checks
/// the choice against what the agent may present.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Presenting {
    /// The gateway chooses (local presence, the agent's default, the
    /// carrier's): the INVITE says nothing.
    #[default]
    Automatic,
    /// This number, sent as `P-Preferred-Identity`.
    Number(E164),
    /// A number from this campaign's pool, sent as [`CAMPAIGN_HEADER`]: the
    /// gateway presents the campaign's number local to the callee, else the
    /// campaign's first.
    Campaign(i64),
}

/// The INVITE header that names the campaign a call is made for.
pub const CAMPAIGN_HEADER: &str = "X-Dialer-Campaign";

/// A call that cannot be placed, or an action its state does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CallError {
    #[error("address of record {0:?} is not a sip: URI with a user and a host")]
    BadAor(String),
    #[error("{0} must not be empty")]
    Empty(&'static str),
    #[error("{0} contains characters that cannot go into a SIP header")]
    BadCharacters(&'static str),
    #[error("the call is not connected")]
    NotConnected,
    #[error("an offer/answer exchange is already in progress")]
    Busy,
    #[error("no offer from the far end is waiting for an answer")]
    NoOfferPending,
}

/// Where the call is, as the page shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallState {
    /// The INVITE is out; nothing but `100 Trying` came back.
    Calling,
    /// The far end is alerting (180, or 183 with or without early media).
    Ringing,
    /// Answered: the 2xx was acknowledged.
    Connected,
    /// Over (see [`EndCause`]); transactions may still be finishing.
    Ended,
}

/// Why a call ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndCause {
    /// This side hung up: BYE, or CANCEL before an answer.
    Local,
    /// The far end hung up (a BYE arrived).
    Remote,
    /// The INVITE got a final 300–699 response (after at most one digest
    /// retry): the far end, the gateway or the carrier refused the call.
    /// `reason` is the phrase as received.
    Refused { code: u16, reason: String },
    /// No response to the INVITE at all (timer B, 64·T1).
    NoResponse,
    /// The connection to the gateway closed during the call.
    TransportLost,
    /// The dialog broke after the answer: a 408/481 to a re-INVITE, a 2xx
    /// without an SDP answer, or no ACK for our 2xx.
    Broken { code: u16, reason: String },
    /// An incoming call ([`super::incoming`]) was CANCELled before we
    /// answered: answered in another tab (`Reason: SIP;cause=200`), or the
    /// caller gave up (a missed call).
    Cancelled { answered_elsewhere: bool },
}

/// Why a re-INVITE was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reoffer {
    /// `a=sendonly`: put the far end on hold.
    Hold,
    /// `a=sendrecv`: take it off hold.
    Resume,
    /// The same direction with new ICE credentials: the phone came back on
    /// a new connection after [`Call::link_lost`] and restarts ICE.
    Restart,
}

/// What the shell is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallEvent {
    /// The first 180 or 183: the far end is alerting (play ringback unless
    /// a [`CallEvent::RemoteAnswer`] with `early` brings early media).
    Ringing,
    /// The SDP answer to the offer in flight: apply it as the remote
    /// description (type `answer`). Reported once per offer; the same SDP
    /// again (a 183 then a 200 with the same body) is not reported. `early`
    /// when it came in a provisional response (early media).
    RemoteAnswer { sdp: String, early: bool },
    /// The 2xx to the INVITE arrived and was acknowledged.
    Answered,
    /// A hold or resume re-INVITE was accepted (its answer, if any, came
    /// just before as [`CallEvent::RemoteAnswer`]).
    HoldChanged { held: bool },
    /// The ICE-restart re-INVITE ([`Reoffer::Restart`]) was accepted: the
    /// call is back (its answer came just before as
    /// [`CallEvent::RemoteAnswer`]).
    Restarted,
    /// A re-INVITE of ours was refused or failed: the local offer is void
    /// (roll the peer connection back). The call goes on unless an
    /// [`CallEvent::Ended`] follows.
    OfferRejected {
        reoffer: Reoffer,
        code: u16,
        reason: String,
    },
    /// The far end sent a re-INVITE with an SDP offer: answer it with
    /// [`Call::accept_offer`] (the browser's answer) or [`Call::reject_offer`].
    RemoteOffer { sdp: String },
    /// The call is over. Reported once.
    Ended(EndCause),
}

/// The INVITE client transaction in flight (the first INVITE, its
/// authorised retry, or a re-INVITE).
struct InviteTx {
    tx: ClientInvite,
    key: Option<TransactionKey>,
    cseq: u32,
    /// `None` for the INVITE that sets the call up.
    reoffer: Option<Reoffer>,
    /// It carries credentials: another challenge means they were refused.
    authorized: bool,
    /// A provisional response came: a CANCEL may be sent (§9.1).
    provisional: bool,
    cancelled: bool,
}

/// A BYE or CANCEL in flight.
struct NonInviteTx {
    tx: ClientNonInvite,
    key: Option<TransactionKey>,
    authorized: bool,
}

/// A re-INVITE from the far end.
struct Incoming {
    tx: ServerInvite,
    cseq: u32,
    /// Our 2xx, retransmitted until the ACK comes.
    ok: Option<Retransmission>,
}

struct Retransmission {
    response: rsip::Response,
    at: Instant,
    interval: Duration,
    give_up: Instant,
}

/// One outgoing call. See the module documentation.
pub struct Call {
    identity: CallerIdentity,
    rng: Box<dyn Rng>,
    timers: Timers,
    target_uri: rsip::Uri,
    to_value: String,
    from_value: String,
    /// The header (name, value) that says what the INVITE presents.
    presenting: Option<(&'static str, String)>,
    call_id: String,
    local_tag: String,
    cseq: u32,
    remote_tag: Option<String>,
    remote_target: Option<rsip::Uri>,
    /// Route set, in the order of the Route headers to send.
    route_set: Vec<String>,
    remote_cseq: Option<u32>,
    state: CallState,
    held: bool,
    /// The hangup came before any provisional response: CANCEL on the first
    /// 1xx, BYE on a 2xx.
    hangup_pending: bool,
    /// The SDP offer in flight and the answer already applied to it.
    offer: Option<String>,
    applied_answer: Option<String>,
    /// The SDP the far end last accepted from us (offer or answer), for an
    /// offerless re-INVITE.
    local_sdp: String,
    invites: Vec<InviteTx>,
    others: Vec<NonInviteTx>,
    incoming: Option<Incoming>,
    /// The ACK for the 2xx of each INVITE, by CSeq, resent for every
    /// retransmission of that 2xx.
    acks: Vec<(u32, rsip::Request)>,
    auth: Option<DigestAuth>,
    ended: bool,
    transmits: VecDeque<rsip::SipMessage>,
    events: VecDeque<CallEvent>,
}

impl std::fmt::Debug for Call {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Call")
            .field("call_id", &self.call_id)
            .field("state", &self.state)
            .field("held", &self.held)
            .field("cseq", &self.cseq)
            .finish_non_exhaustive()
    }
}

impl Call {
    /// Places a call: the INVITE is ready in [`Call::poll_transmit`] at once.
    pub fn new(
        now: Instant,
        identity: CallerIdentity,
        request: CallRequest,
        rng: impl Rng + 'static,
    ) -> Result<Call, CallError> {
        Self::with_timers(now, identity, request, rng, Timers::default())
    }

    /// As [`Call::new`], with other RFC 3261 timer values.
    pub fn with_timers(
        now: Instant,
        identity: CallerIdentity,
        request: CallRequest,
        rng: impl Rng + 'static,
        timers: Timers,
    ) -> Result<Call, CallError> {
        let domain = aor_domain(&identity.aor)?;
        check_identity(&identity)?;
        if request.offer.trim().is_empty() {
            return Err(CallError::Empty("SDP offer"));
        }
        let target_text = format!("sip:{}@{domain};user=phone", request.target);
        let target_uri = rsip::Uri::try_from(target_text.as_str())
            .map_err(|_| CallError::BadAor(identity.aor.clone()))?;
        let mut rng: Box<dyn Rng> = Box::new(rng);
        let call_id = format!("{:016x}{:016x}", rng.next_u64(), rng.next_u64());
        let local_tag = format!("{:016x}", rng.next_u64());
        let from_value = format!(
            "{}<{}>;tag={local_tag}",
            quoted_display_name(&identity.display_name),
            identity.aor
        );
        let mut call = Call {
            to_value: format!("<{target_text}>"),
            from_value,
            presenting: match request.presenting {
                Presenting::Automatic => None,
                Presenting::Number(n) => Some((
                    "P-Preferred-Identity",
                    format!("<sip:{n}@{}>", domain_without_params(&domain)),
                )),
                Presenting::Campaign(id) => Some((CAMPAIGN_HEADER, id.to_string())),
            },
            target_uri,
            identity,
            rng,
            timers,
            call_id,
            local_tag,
            cseq: 0,
            remote_tag: None,
            remote_target: None,
            route_set: Vec::new(),
            remote_cseq: None,
            state: CallState::Calling,
            held: false,
            hangup_pending: false,
            offer: Some(request.offer.clone()),
            applied_answer: None,
            local_sdp: request.offer.clone(),
            invites: Vec::new(),
            others: Vec::new(),
            incoming: None,
            acks: Vec::new(),
            auth: None,
            ended: false,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        };
        call.send_invite(now, None, request.offer, false);
        Ok(call)
    }

    /// The dialog of an incoming call we answer (the UAS side, §12.1.1):
    /// `invite` is the far end's INVITE, `tx` its server transaction (still
    /// Proceeding), `local_tag` the tag already sent in our 180. The 200 with
    /// `answer` is sent at once and retransmitted until the ACK (§13.3.1.4),
    /// like our 200 to a re-INVITE; no ACK in 64·T1 → BYE and
    /// [`EndCause::Broken`]. The call starts Connected; [`Call::awaiting_ack`]
    /// says when the ACK came.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn answer_incoming(
        now: Instant,
        identity: CallerIdentity,
        invite: &rsip::Request,
        tx: ServerInvite,
        local_tag: String,
        answer: String,
        rng: Box<dyn Rng>,
        timers: Timers,
    ) -> Option<Call> {
        let from = invite.from_header().ok()?;
        let remote_tag = header_param(from.value(), "tag")?.to_owned();
        let remote_uri = from.typed().ok()?.uri;
        let to_value = strip_tag(from.value());
        let from_value = format!(
            "{};tag={local_tag}",
            strip_tag(invite.to_header().ok()?.value())
        );
        let seq = invite.cseq_header().ok()?.typed().ok()?.seq;
        // §12.1.1: the UAS keeps the Record-Route values in their order.
        let route_set = invite
            .headers
            .iter()
            .filter_map(|h| match h {
                rsip::Header::RecordRoute(rr) => Some(rr.value().trim().to_owned()),
                _ => None,
            })
            .collect();
        let mut call = Call {
            identity,
            rng,
            timers,
            target_uri: remote_uri,
            to_value,
            from_value,
            presenting: None,
            call_id: invite.call_id_header().ok()?.value().trim().to_owned(),
            local_tag,
            cseq: 0,
            remote_tag: Some(remote_tag),
            remote_target: contact_uri(invite),
            route_set,
            remote_cseq: Some(seq),
            state: CallState::Connected,
            held: false,
            hangup_pending: false,
            offer: None,
            applied_answer: None,
            local_sdp: answer.clone(),
            invites: Vec::new(),
            others: Vec::new(),
            incoming: Some(Incoming {
                tx,
                cseq: seq,
                ok: None,
            }),
            acks: Vec::new(),
            auth: None,
            ended: false,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        };
        call.send_ok_to_reinvite(now, invite, answer);
        Some(call)
    }

    /// Our 2xx to an INVITE from the far end still waits for its ACK.
    pub(crate) fn awaiting_ack(&self) -> bool {
        self.incoming.as_ref().is_some_and(|i| i.ok.is_some())
    }

    pub fn call_id(&self) -> &str {
        &self.call_id
    }

    pub fn state(&self) -> CallState {
        self.state
    }

    /// Whether the far end is on hold (a hold re-INVITE was accepted).
    pub fn is_held(&self) -> bool {
        self.held
    }

    /// Over, and nothing left to send or wait for: drop it.
    pub fn is_terminated(&self) -> bool {
        // An INVITE transaction in Accepted only waits for retransmissions
        // of a 2xx that was ACKed already: nothing to wait for once over.
        self.ended
            && self
                .invites
                .iter()
                .all(|i| i.tx.state() == ClientInviteState::Accepted)
            && self.others.is_empty()
            && self.incoming.is_none()
            && self.transmits.is_empty()
    }

    /// Hangs up: CANCEL while calling or ringing (deferred until a
    /// provisional response came, §9.1), BYE once connected.
    /// [`CallEvent::Ended`] with [`EndCause::Local`] is reported at once.
    pub fn hangup(&mut self, now: Instant) {
        if self.ended {
            return;
        }
        match self.state {
            CallState::Calling | CallState::Ringing => {
                let cancellable = self
                    .invites
                    .iter()
                    .rposition(|i| i.reoffer.is_none() && !i.tx.is_terminated());
                match cancellable {
                    Some(index) if self.invites[index].provisional => self.cancel(now, index),
                    _ => self.hangup_pending = true,
                }
            }
            CallState::Connected => {
                self.refuse_pending_reinvite(now);
                self.send_bye(now, false);
            }
            CallState::Ended => {}
        }
        self.end(EndCause::Local);
    }

    /// Puts the far end on hold (`offer` from the browser with
    /// `a=sendonly`) or takes it off hold (`a=sendrecv`): a re-INVITE.
    pub fn reoffer(
        &mut self,
        now: Instant,
        reoffer: Reoffer,
        offer: String,
    ) -> Result<(), CallError> {
        if self.ended || self.state != CallState::Connected {
            return Err(CallError::NotConnected);
        }
        if self.offer.is_some() || self.incoming.is_some() {
            return Err(CallError::Busy);
        }
        if offer.trim().is_empty() {
            return Err(CallError::Empty("SDP offer"));
        }
        self.offer = Some(offer.clone());
        self.applied_answer = None;
        self.send_invite(now, Some(reoffer), offer, false);
        Ok(())
    }

    /// The browser's answer to the far end's [`CallEvent::RemoteOffer`]:
    /// sent in a 200, retransmitted until acknowledged.
    pub fn accept_offer(&mut self, now: Instant, answer: String) -> Result<(), CallError> {
        let Some(incoming) = self.incoming.as_ref().filter(|_| !self.ended) else {
            return Err(CallError::NoOfferPending);
        };
        if incoming.ok.is_some() {
            return Err(CallError::NoOfferPending);
        }
        let request = incoming.tx.request().clone();
        self.local_sdp = answer.clone();
        self.send_ok_to_reinvite(now, &request, answer);
        Ok(())
    }

    /// The browser could not answer the far end's offer: 488.
    pub fn reject_offer(&mut self, now: Instant) -> Result<(), CallError> {
        if self.ended {
            return Err(CallError::NoOfferPending);
        }
        let Some(incoming) = &mut self.incoming else {
            return Err(CallError::NoOfferPending);
        };
        if incoming.ok.is_some() {
            return Err(CallError::NoOfferPending);
        }
        let mut response = response_to(
            incoming.tx.request(),
            488,
            "Not Acceptable Here",
            Some(&self.local_tag),
        );
        response.headers.push(rsip::Header::Other(
            "Warning".into(),
            "399 browser \"media refused the offer\"".into(),
        ));
        // Refused only for a response the state does not allow; none here.
        let _ = incoming.tx.send_response(now, response);
        self.drain_incoming(now);
        Ok(())
    }

    /// The WebSocket closed: the gateway drops the call with it.
    /// The WebSocket closed, but the gateway keeps an answered call for a
    /// while: an answered call stays up (returns `true`) with nothing in
    /// flight — a re-INVITE of ours is reported refused (503), one of the
    /// far end's forgotten — and goes on with a [`Reoffer::Restart`] from the
    /// next connection. A call not answered yet ends as in
    /// [`Call::transport_lost`] (returns `false`).
    pub fn link_lost(&mut self) -> bool {
        if self.ended || self.state != CallState::Connected || self.awaiting_ack() {
            self.transport_lost();
            return false;
        }
        for invite in self.invites.drain(..) {
            if let Some(reoffer) = invite.reoffer {
                self.events.push_back(CallEvent::OfferRejected {
                    reoffer,
                    code: 503,
                    reason: "Service Unavailable (the connection dropped)".to_owned(),
                });
            }
        }
        self.offer = None;
        self.others.clear();
        self.incoming = None;
        self.transmits.clear();
        true
    }

    pub fn transport_lost(&mut self) {
        self.invites.clear();
        self.others.clear();
        self.incoming = None;
        self.transmits.clear();
        self.end(EndCause::TransportLost);
    }

    /// A response whose Call-ID is this call's. `reason` is the phrase of
    /// the status line as received ([`super::register::status_line_reason`]):
    /// rsip drops it for well-known codes.
    pub fn handle_response(
        &mut self,
        now: Instant,
        response: rsip::Response,
        reason: Option<&str>,
    ) {
        let Ok(key) = TransactionKey::for_response(&response) else {
            return;
        };
        let reason = reason
            .map(str::to_owned)
            .unwrap_or_else(|| standard_reason(&response.status_code));
        if let Some(index) = self
            .invites
            .iter()
            .position(|i| i.key.as_ref() == Some(&key))
        {
            self.invites[index].tx.handle_response(now, response);
            self.drain_invite(now, index, &reason);
        } else if let Some(index) = self
            .others
            .iter()
            .position(|o| o.key.as_ref() == Some(&key))
        {
            self.others[index].tx.handle_response(now, response);
            self.drain_other(now, index);
        } else if response.status_code.code() / 100 == 2 {
            // A 2xx retransmitted after its transaction ended (or from
            // another fork): it still needs its ACK (§13.2.2.4).
            if let Some(seq) = cseq_of_invite(&response)
                && let Some((_, ack)) = self.acks.iter().find(|(s, _)| *s == seq)
            {
                self.transmits.push_back(ack.clone().into());
            }
        }
    }

    /// A request whose Call-ID is this call's: in-dialog requests from the
    /// gateway (BYE, re-INVITE, ACK for our 2xx, OPTIONS…).
    pub fn handle_request(&mut self, now: Instant, request: rsip::Request) {
        let method = request.method;
        let DialogIds {
            from_tag,
            to_tag,
            seq,
        } = DialogIds::of(&request);

        if method == rsip::Method::Ack {
            self.handle_ack(now, &request, seq);
            return;
        }
        let ours = to_tag.as_deref() == Some(self.local_tag.as_str())
            && self.remote_tag.is_some()
            && from_tag == self.remote_tag;
        if !ours {
            self.respond(&request, 481, "Call/Transaction Does Not Exist");
            return;
        }
        let Some(seq) = seq else {
            self.respond(&request, 400, "Bad Request (malformed CSeq)");
            return;
        };
        // §12.2.2: a lower CSeq than the last one is out of order.
        if method != rsip::Method::Cancel && self.remote_cseq.is_some_and(|last| seq <= last) {
            // A retransmitted re-INVITE belongs to its server transaction.
            if method == rsip::Method::Invite
                && let Some(incoming) = &mut self.incoming
                && incoming.cseq == seq
            {
                incoming.tx.handle_request(now, request);
                self.drain_incoming(now);
                return;
            }
            self.respond(&request, 500, "Server Internal Error (CSeq out of order)");
            return;
        }
        if method != rsip::Method::Cancel {
            self.remote_cseq = Some(seq);
        }
        match method {
            rsip::Method::Bye => {
                self.respond(&request, 200, "OK");
                self.incoming = None;
                self.end(EndCause::Remote);
            }
            rsip::Method::Invite => self.handle_reinvite(now, request, seq),
            rsip::Method::Options => {
                let mut response = response_to(&request, 200, "OK", Some(&self.local_tag));
                response
                    .headers
                    .push(rsip::headers::Allow::new(ALLOW).into());
                response
                    .headers
                    .push(rsip::headers::Accept::new("application/sdp").into());
                self.transmits.push_back(response.into());
            }
            // Nothing of ours to cancel: the INVITE transactions here are
            // the far end's re-INVITEs, answered at once.
            rsip::Method::Cancel => self.respond(&request, 481, "Call/Transaction Does Not Exist"),
            _ => {
                let mut response =
                    response_to(&request, 405, "Method Not Allowed", Some(&self.local_tag));
                response
                    .headers
                    .push(rsip::headers::Allow::new(ALLOW).into());
                self.transmits.push_back(response.into());
            }
        }
    }

    /// Fires the timers due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        for index in (0..self.invites.len()).rev() {
            if self.invites[index]
                .tx
                .poll_timeout()
                .is_some_and(|at| at <= now)
            {
                self.invites[index].tx.handle_timeout(now);
                self.drain_invite(now, index, "Request Timeout");
            }
        }
        for index in (0..self.others.len()).rev() {
            if self.others[index]
                .tx
                .poll_timeout()
                .is_some_and(|at| at <= now)
            {
                self.others[index].tx.handle_timeout(now);
                self.drain_other(now, index);
            }
        }
        if let Some(incoming) = &mut self.incoming {
            if incoming.tx.poll_timeout().is_some_and(|at| at <= now) {
                incoming.tx.handle_timeout(now);
            }
            let mut give_up = false;
            if let Some(ok) = &mut incoming.ok {
                if ok.give_up <= now {
                    give_up = true;
                } else if ok.at <= now {
                    // §13.3.1.4: T1, doubling up to T2, until the ACK.
                    self.transmits.push_back(ok.response.clone().into());
                    ok.interval = (ok.interval * 2).min(self.timers.t2);
                    ok.at = now + ok.interval;
                }
            }
            if give_up {
                self.incoming = None;
                if !self.ended {
                    self.send_bye(now, false);
                    self.end(EndCause::Broken {
                        code: 408,
                        reason: "Request Timeout (no ACK for our 200)".to_owned(),
                    });
                }
            } else {
                self.drain_incoming(now);
            }
        }
    }

    /// The next moment [`Call::handle_timeout`] has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let invites = self.invites.iter().filter_map(|i| i.tx.poll_timeout());
        let others = self.others.iter().filter_map(|o| o.tx.poll_timeout());
        let incoming = self.incoming.iter().flat_map(|i| {
            [
                i.tx.poll_timeout(),
                i.ok.as_ref().map(|ok| ok.at.min(ok.give_up)),
            ]
            .into_iter()
            .flatten()
        });
        invites.chain(others).chain(incoming).min()
    }

    /// The next message to send, as one WebSocket text frame
    /// (`to_string()`).
    pub fn poll_transmit(&mut self) -> Option<rsip::SipMessage> {
        self.transmits.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<CallEvent> {
        self.events.pop_front()
    }

    // ---- INVITE transactions -------------------------------------------

    fn send_invite(
        &mut self,
        now: Instant,
        reoffer: Option<Reoffer>,
        sdp: String,
        authorized: bool,
    ) {
        let cseq = self.next_cseq();
        let uri = self.request_uri(reoffer.is_some());
        let to = self.to_for(reoffer.is_some());
        let mut request = self.build(rsip::Method::Invite, uri, to, cseq, reoffer.is_some());
        request.headers.push(self.contact().into());
        if reoffer.is_none()
            && let Some((name, value)) = &self.presenting
        {
            request
                .headers
                .push(rsip::Header::Other((*name).into(), value.clone()));
        }
        request
            .headers
            .push(rsip::headers::Allow::new(ALLOW).into());
        if authorized && let Some(header) = self.authorization("INVITE", &request.uri.to_string()) {
            request.headers.push(header);
        }
        self.finish(&mut request, Some(sdp));
        let key = TransactionKey::for_sent_request(&request).ok();
        let mut tx = ClientInvite::new(now, request, true, self.timers);
        while let Some(message) = tx.poll_transmit() {
            self.transmits.push_back(message);
        }
        self.invites.push(InviteTx {
            tx,
            key,
            cseq,
            reoffer,
            authorized,
            provisional: false,
            cancelled: false,
        });
    }

    fn cancel(&mut self, now: Instant, index: usize) {
        let invite = &mut self.invites[index];
        if invite.cancelled {
            return;
        }
        invite.cancelled = true;
        invite.tx.handle_cancel_sent(now);
        // The INVITE was built here with every header a CANCEL copies.
        let Ok(cancel) = cancel_for(invite.tx.request()) else {
            return;
        };
        self.start_non_invite(now, cancel, false);
    }

    fn drain_invite(&mut self, now: Instant, index: usize, reason: &str) {
        let mut events = Vec::new();
        {
            let invite = &mut self.invites[index];
            while let Some(message) = invite.tx.poll_transmit() {
                self.transmits.push_back(message);
            }
            while let Some(event) = invite.tx.poll_event() {
                events.push(event);
            }
        }
        let mut terminated = false;
        for event in events {
            match event {
                TxEvent::Response(response) => {
                    self.on_invite_response(now, index, response, reason)
                }
                TxEvent::Timeout | TxEvent::TransportError => {
                    self.on_invite_timeout(now, index);
                }
                TxEvent::Terminated => terminated = true,
                TxEvent::Request(_) => {}
            }
        }
        if terminated && index < self.invites.len() {
            self.invites.remove(index);
        }
    }

    fn on_invite_response(
        &mut self,
        now: Instant,
        index: usize,
        response: rsip::Response,
        reason: &str,
    ) {
        let code = response.status_code.code();
        let reoffer = self.invites[index].reoffer;
        match code {
            100..=199 => {
                self.invites[index].provisional = true;
                if reoffer.is_some() {
                    return;
                }
                if self.hangup_pending {
                    self.hangup_pending = false;
                    self.cancel(now, index);
                    return;
                }
                if code == 100 || self.ended {
                    return;
                }
                if let Some(tag) = to_tag(&response) {
                    self.remote_tag = Some(tag);
                    self.learn_route(&response);
                }
                if self.state == CallState::Calling {
                    self.state = CallState::Ringing;
                    self.events.push_back(CallEvent::Ringing);
                }
                if let Some(sdp) = sdp_body(&response) {
                    self.take_answer(sdp, true);
                }
            }
            200..=299 => self.on_invite_success(now, index, &response),
            _ => self.on_invite_failure(now, index, &response, code, reason),
        }
    }

    fn on_invite_success(&mut self, now: Instant, index: usize, response: &rsip::Response) {
        let cseq = self.invites[index].cseq;
        let reoffer = self.invites[index].reoffer;
        // A retransmission (or a second 2xx) of an INVITE already answered:
        // ACK again, nothing else.
        if let Some((_, ack)) = self.acks.iter().find(|(s, _)| *s == cseq) {
            self.transmits.push_back(ack.clone().into());
            return;
        }
        if reoffer.is_none() {
            if let Some(tag) = to_tag(response) {
                self.remote_tag = Some(tag);
            }
            self.learn_route(response);
        } else if let Some(target) = contact_uri(response) {
            // §12.2.1.2: a 2xx to a re-INVITE may update the remote target.
            self.remote_target = Some(target);
        }
        let ack = self.ack_for(index);
        self.transmits.push_back(ack.clone().into());
        self.acks.push((cseq, ack));

        let answer = sdp_body(response);
        match reoffer {
            None => {
                if let Some(sdp) = answer {
                    self.take_answer(sdp, false);
                }
                let answered = self.applied_answer.is_some();
                self.offer = None;
                if self.ended {
                    // Our CANCEL crossed the 2xx: the call exists, end it.
                    self.send_bye(now, false);
                } else if !answered {
                    self.send_bye(now, false);
                    self.end(EndCause::Broken {
                        code: 488,
                        reason: "Not Acceptable Here (no SDP answer)".to_owned(),
                    });
                } else {
                    self.state = CallState::Connected;
                    self.events.push_back(CallEvent::Answered);
                }
            }
            Some(reoffer) => {
                self.offer = None;
                if self.ended {
                    return;
                }
                match answer {
                    Some(sdp) => {
                        self.applied_answer = Some(sdp.clone());
                        if let Some(offer) = self
                            .invites
                            .get(index)
                            .and_then(|i| body_text(i.tx.request()))
                        {
                            self.local_sdp = offer;
                        }
                        self.events
                            .push_back(CallEvent::RemoteAnswer { sdp, early: false });
                        if reoffer == Reoffer::Restart {
                            self.events.push_back(CallEvent::Restarted);
                        } else {
                            self.held = reoffer == Reoffer::Hold;
                            self.events
                                .push_back(CallEvent::HoldChanged { held: self.held });
                        }
                    }
                    None => self.events.push_back(CallEvent::OfferRejected {
                        reoffer,
                        code: 488,
                        reason: "Not Acceptable Here (no SDP answer)".to_owned(),
                    }),
                }
            }
        }
    }

    fn on_invite_failure(
        &mut self,
        now: Instant,
        index: usize,
        response: &rsip::Response,
        code: u16,
        reason: &str,
    ) {
        let invite = &self.invites[index];
        let reoffer = invite.reoffer;
        let may_retry = matches!(code, 401 | 407) && !invite.authorized && !invite.cancelled;
        let sdp = body_text(invite.tx.request()).unwrap_or_default();
        if may_retry && !self.ended && self.take_challenge(response) {
            // The retry is a new INVITE of the same call: its own provisional
            // responses decide when a CANCEL may go.
            self.send_invite(now, reoffer, sdp, true);
            return;
        }
        match reoffer {
            None => {
                self.offer = None;
                if !self.ended {
                    self.end(EndCause::Refused {
                        code,
                        reason: reason.to_owned(),
                    });
                }
            }
            Some(reoffer) => {
                self.offer = None;
                if self.ended {
                    return;
                }
                self.events.push_back(CallEvent::OfferRejected {
                    reoffer,
                    code,
                    reason: reason.to_owned(),
                });
                // §14.1: the dialog is gone.
                if matches!(code, 408 | 481) {
                    self.send_bye(now, false);
                    self.end(EndCause::Broken {
                        code,
                        reason: reason.to_owned(),
                    });
                }
            }
        }
    }

    fn on_invite_timeout(&mut self, now: Instant, index: usize) {
        let reoffer = self.invites[index].reoffer;
        self.offer = None;
        if self.ended {
            return;
        }
        match reoffer {
            None => self.end(EndCause::NoResponse),
            Some(reoffer) => {
                self.events.push_back(CallEvent::OfferRejected {
                    reoffer,
                    code: 408,
                    reason: "Request Timeout".to_owned(),
                });
                self.send_bye(now, false);
                self.end(EndCause::Broken {
                    code: 408,
                    reason: "Request Timeout (no answer to a re-INVITE)".to_owned(),
                });
            }
        }
    }

    /// An SDP answer to the offer in flight: reported the first time only.
    fn take_answer(&mut self, sdp: String, early: bool) {
        if self.offer.is_none() {
            return;
        }
        // Once only: later copies are the same SDP (a 183 then the 200,
        // RFC 3261 §13.2.1 wants them identical), and a different one could
        // not be taken by a peer connection in the stable state anyway.
        if self.applied_answer.is_none() {
            self.applied_answer = Some(sdp.clone());
            self.events
                .push_back(CallEvent::RemoteAnswer { sdp, early });
        }
    }

    /// The ACK for the 2xx to the INVITE at `index` (§13.2.2.4): a request
    /// of the dialog with the INVITE's CSeq number and credentials.
    fn ack_for(&mut self, index: usize) -> rsip::Request {
        let cseq = self.invites[index].cseq;
        let uri = self.request_uri(true);
        let to = self.to_for(true);
        let mut ack = self.build(rsip::Method::Ack, uri, to, cseq, true);
        for header in self.invites[index].tx.request().headers.iter() {
            if matches!(
                header,
                rsip::Header::Authorization(_) | rsip::Header::ProxyAuthorization(_)
            ) {
                ack.headers.push(header.clone());
            }
        }
        self.finish(&mut ack, None);
        ack
    }

    // ---- BYE and CANCEL ------------------------------------------------

    fn send_bye(&mut self, now: Instant, authorized: bool) {
        let cseq = self.next_cseq();
        let uri = self.request_uri(true);
        let to = self.to_for(true);
        let mut bye = self.build(rsip::Method::Bye, uri, to, cseq, true);
        if authorized && let Some(header) = self.authorization("BYE", &bye.uri.to_string()) {
            bye.headers.push(header);
        }
        self.finish(&mut bye, None);
        self.start_non_invite(now, bye, authorized);
    }

    fn start_non_invite(&mut self, now: Instant, request: rsip::Request, authorized: bool) {
        let key = TransactionKey::for_sent_request(&request).ok();
        let mut tx = ClientNonInvite::new(now, request, true, self.timers);
        while let Some(message) = tx.poll_transmit() {
            self.transmits.push_back(message);
        }
        self.others.push(NonInviteTx {
            tx,
            key,
            authorized,
        });
    }

    fn drain_other(&mut self, now: Instant, index: usize) {
        let mut events = Vec::new();
        {
            let other = &mut self.others[index];
            while let Some(message) = other.tx.poll_transmit() {
                self.transmits.push_back(message);
            }
            while let Some(event) = other.tx.poll_event() {
                events.push(event);
            }
        }
        let mut retry = false;
        let mut terminated = false;
        for event in events {
            match event {
                TxEvent::Response(response) => {
                    let code = response.status_code.code();
                    let other = &self.others[index];
                    if other.tx.request().method == rsip::Method::Bye
                        && matches!(code, 401 | 407)
                        && !other.authorized
                    {
                        retry = self.take_challenge(&response);
                    }
                }
                TxEvent::Terminated => terminated = true,
                TxEvent::Timeout | TxEvent::TransportError | TxEvent::Request(_) => {}
            }
        }
        if terminated {
            self.others.remove(index);
        }
        if retry {
            self.send_bye(now, true);
        }
    }

    // ---- Requests from the far end --------------------------------------

    fn handle_ack(&mut self, now: Instant, request: &rsip::Request, seq: Option<u32>) {
        let Some(incoming) = &mut self.incoming else {
            return;
        };
        if seq != Some(incoming.cseq) {
            return;
        }
        if incoming.ok.is_some() {
            // The ACK for our 2xx ends the re-INVITE (§13.3.1.4). An SDP in
            // it answers an offer we made in the 2xx to an offerless
            // re-INVITE; that offer repeated our current session, so the
            // answer can only repeat the current one and is not applied.
            self.incoming = None;
        } else {
            // The ACK for a non-2xx answer belongs to the transaction.
            incoming.tx.handle_request(now, request.clone());
            self.drain_incoming(now);
        }
    }

    fn handle_reinvite(&mut self, now: Instant, request: rsip::Request, seq: u32) {
        if self.ended || self.state != CallState::Connected {
            self.respond(&request, 481, "Call/Transaction Does Not Exist");
            return;
        }
        // §14.2: one offer/answer exchange at a time.
        if self.offer.is_some() {
            self.respond(&request, 491, "Request Pending");
            return;
        }
        if self.incoming.is_some() {
            let mut response = response_to(
                &request,
                500,
                "Server Internal Error (re-INVITE in progress)",
                Some(&self.local_tag),
            );
            response
                .headers
                .push(rsip::Header::Other("Retry-After".into(), "2".into()));
            self.transmits.push_back(response.into());
            return;
        }
        if let Some(target) = contact_uri(&request) {
            self.remote_target = Some(target);
        }
        let tx = ServerInvite::new(now, request.clone(), true, self.timers);
        self.incoming = Some(Incoming {
            tx,
            cseq: seq,
            ok: None,
        });
        match sdp_body(&request) {
            Some(sdp) => self.events.push_back(CallEvent::RemoteOffer { sdp }),
            // Offerless (a session refresh): offer the session as it is.
            None => {
                let sdp = self.local_sdp.clone();
                self.send_ok_to_reinvite(now, &request, sdp);
            }
        }
    }

    fn send_ok_to_reinvite(&mut self, now: Instant, request: &rsip::Request, sdp: String) {
        let mut response = response_to(request, 200, "OK", Some(&self.local_tag));
        response
            .headers
            .retain(|h| !matches!(h, rsip::Header::ContentLength(_)));
        response.headers.push(self.contact().into());
        response
            .headers
            .push(rsip::headers::Allow::new(ALLOW).into());
        response
            .headers
            .push(rsip::headers::ContentType::new("application/sdp").into());
        response
            .headers
            .push(rsip::headers::ContentLength::new(sdp.len().to_string()).into());
        response.body = sdp.into_bytes();
        let Some(incoming) = &mut self.incoming else {
            return;
        };
        // A 2xx is always allowed in Proceeding, the only state this
        // transaction can be in before we answer.
        let _ = incoming.tx.send_response(now, response.clone());
        incoming.ok = Some(Retransmission {
            response,
            at: now + self.timers.t1,
            interval: self.timers.t1,
            give_up: now + self.timers.t1 * 64,
        });
        self.drain_incoming(now);
    }

    fn drain_incoming(&mut self, _now: Instant) {
        let Some(incoming) = &mut self.incoming else {
            return;
        };
        while let Some(message) = incoming.tx.poll_transmit() {
            self.transmits.push_back(message);
        }
        let mut terminated = false;
        while let Some(event) = incoming.tx.poll_event() {
            terminated |= event == TxEvent::Terminated;
        }
        // A 2xx answer outlives its transaction (timer L) until the ACK.
        if terminated && incoming.ok.is_none() {
            self.incoming = None;
        }
    }

    /// A re-INVITE from the far end still waiting for the browser's answer
    /// when we hang up: 487, so that its transaction ends cleanly.
    fn refuse_pending_reinvite(&mut self, now: Instant) {
        let Some(incoming) = &mut self.incoming else {
            return;
        };
        if incoming.ok.is_none() {
            let response = response_to(
                incoming.tx.request(),
                487,
                "Request Terminated",
                Some(&self.local_tag),
            );
            // A final response is allowed in Proceeding, where it waits.
            let _ = incoming.tx.send_response(now, response);
            self.drain_incoming(now);
        }
    }

    fn respond(&mut self, request: &rsip::Request, code: u16, reason: &str) {
        let response = response_to(request, code, reason, Some(&self.local_tag));
        self.transmits.push_back(response.into());
    }

    // ---- Building requests ---------------------------------------------

    fn end(&mut self, cause: EndCause) {
        if self.ended {
            return;
        }
        self.ended = true;
        self.state = CallState::Ended;
        self.events.push_back(CallEvent::Ended(cause));
    }

    fn next_cseq(&mut self) -> u32 {
        self.cseq = self.cseq.wrapping_add(1).max(1);
        self.cseq
    }

    fn token(&mut self) -> String {
        format!("{:016x}", self.rng.next_u64())
    }

    /// The Request-URI: the number called, or inside the dialog the remote
    /// target (the far end's Contact).
    fn request_uri(&self, in_dialog: bool) -> rsip::Uri {
        match (&self.remote_target, in_dialog) {
            (Some(target), true) => target.clone(),
            _ => self.target_uri.clone(),
        }
    }

    fn to_for(&self, in_dialog: bool) -> String {
        match (&self.remote_tag, in_dialog) {
            (Some(tag), true) => format!("{};tag={tag}", self.to_value),
            _ => self.to_value.clone(),
        }
    }

    /// A request with Via, Max-Forwards, Route (in the dialog), To, From,
    /// Call-ID and CSeq.
    fn build(
        &mut self,
        method: rsip::Method,
        uri: rsip::Uri,
        to: String,
        cseq: u32,
        in_dialog: bool,
    ) -> rsip::Request {
        use rsip::headers::*;
        let branch = format!("z9hG4bK{}", self.token());
        let mut headers = rsip::Headers::default();
        headers.push(
            Via::new(format!(
                "SIP/2.0/WSS {};branch={branch}",
                self.identity.via_host
            ))
            .into(),
        );
        headers.push(MaxForwards::new("70").into());
        if in_dialog {
            for route in &self.route_set {
                headers.push(Route::new(route.clone()).into());
            }
        }
        headers.push(To::new(to).into());
        headers.push(From::new(self.from_value.clone()).into());
        headers.push(CallId::new(self.call_id.clone()).into());
        headers.push(CSeq::new(format!("{cseq} {method}")).into());
        rsip::Request {
            method,
            uri,
            version: rsip::Version::V2,
            headers,
            body: Vec::new(),
        }
    }

    /// User-Agent, the body and its Content-Type and Content-Length.
    fn finish(&self, request: &mut rsip::Request, sdp: Option<String>) {
        if let Some(ua) = &self.identity.user_agent {
            request
                .headers
                .push(rsip::headers::UserAgent::new(ua.clone()).into());
        }
        match sdp {
            Some(sdp) => {
                request
                    .headers
                    .push(rsip::headers::ContentType::new("application/sdp").into());
                request
                    .headers
                    .push(rsip::headers::ContentLength::new(sdp.len().to_string()).into());
                request.body = sdp.into_bytes();
            }
            None => request
                .headers
                .push(rsip::headers::ContentLength::new("0").into()),
        }
    }

    fn contact(&self) -> rsip::headers::Contact {
        contact_of(&self.identity)
    }

    /// Remote tag, remote target and route set from a response that
    /// creates (or confirms) the dialog (§12.1.2).
    fn learn_route(&mut self, response: &rsip::Response) {
        if let Some(target) = contact_uri(response) {
            self.remote_target = Some(target);
        }
        let record_route: Vec<String> = response
            .headers
            .iter()
            .filter_map(|h| match h {
                rsip::Header::RecordRoute(rr) => Some(rr.value().trim().to_owned()),
                _ => None,
            })
            .collect();
        if !record_route.is_empty() {
            self.route_set = record_route.into_iter().rev().collect();
        }
    }

    /// Keeps the digest challenge of a 401/407 to answer; `false` if it has
    /// none this phone can answer.
    fn take_challenge(&mut self, response: &rsip::Response) -> bool {
        self.auth = DigestAuth::from_response(response);
        self.auth.is_some()
    }

    fn authorization(&mut self, method: &str, uri: &str) -> Option<rsip::Header> {
        let cnonce = self.token();
        let identity = &self.identity;
        let auth = self.auth.as_mut()?;
        Some(auth.header(method, uri, &identity.username, &identity.password, &cnonce))
    }
}

/// The SDP body of a message: a non-empty body whose Content-Type is
/// `application/sdp` (or absent, with a body that looks like SDP).
pub(crate) fn sdp_body(message: &impl MessageParts) -> Option<String> {
    let body = message.body_bytes();
    if body.iter().all(u8::is_ascii_whitespace) {
        return None;
    }
    let text = String::from_utf8_lossy(body).into_owned();
    let content_type = message.header_list().iter().find_map(|h| match h {
        rsip::Header::ContentType(c) => Some(c.value().to_owned()),
        _ => None,
    });
    let is_sdp = match content_type {
        Some(ct) => ct
            .split(';')
            .next()
            .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/sdp")),
        None => text.trim_start().starts_with("v="),
    };
    is_sdp.then_some(text)
}

fn body_text(request: &rsip::Request) -> Option<String> {
    (!request.body.is_empty()).then(|| String::from_utf8_lossy(&request.body).into_owned())
}

/// What [`sdp_body`] and [`contact_uri`] need of requests and responses.
pub(crate) trait MessageParts {
    fn body_bytes(&self) -> &[u8];
    fn header_list(&self) -> &rsip::Headers;
}

impl MessageParts for rsip::Request {
    fn body_bytes(&self) -> &[u8] {
        &self.body
    }
    fn header_list(&self) -> &rsip::Headers {
        &self.headers
    }
}

impl MessageParts for rsip::Response {
    fn body_bytes(&self) -> &[u8] {
        &self.body
    }
    fn header_list(&self) -> &rsip::Headers {
        &self.headers
    }
}

/// The URI of the first Contact header.
fn contact_uri(message: &impl MessageParts) -> Option<rsip::Uri> {
    let value = message.header_list().iter().find_map(|h| match h {
        rsip::Header::Contact(c) => Some(c.value().trim().to_owned()),
        _ => None,
    })?;
    let uri = match (value.find('<'), value.find('>')) {
        (Some(open), Some(close)) if open < close => &value[open + 1..close],
        _ => value.split(';').next().unwrap_or_default(),
    };
    rsip::Uri::try_from(uri.trim()).ok()
}

fn to_tag(response: &rsip::Response) -> Option<String> {
    let to = response.to_header().ok()?;
    header_param(to.value(), "tag").map(str::to_owned)
}

fn cseq_of_invite(response: &rsip::Response) -> Option<u32> {
    let cseq = response.cseq_header().ok()?.typed().ok()?;
    (cseq.method == rsip::Method::Invite).then_some(cseq.seq)
}

/// What places a request in a dialog and its order: the From and To tags
/// and the CSeq number (each `None` when absent or malformed).
pub(crate) struct DialogIds {
    pub from_tag: Option<String>,
    pub to_tag: Option<String>,
    pub seq: Option<u32>,
}

impl DialogIds {
    pub(crate) fn of(request: &rsip::Request) -> DialogIds {
        let tag = |value: Option<&str>| {
            value
                .and_then(|v| header_param(v, "tag"))
                .map(str::to_owned)
        };
        DialogIds {
            from_tag: tag(request.from_header().ok().map(|f| f.value())),
            to_tag: tag(request.to_header().ok().map(|t| t.value())),
            seq: request
                .cseq_header()
                .ok()
                .and_then(|c| c.typed().ok())
                .map(|c| c.seq),
        }
    }
}

/// The Contact the registration uses, with the same instance.
pub(crate) fn contact_of(identity: &CallerIdentity) -> rsip::headers::Contact {
    rsip::headers::Contact::new(format!(
        "<sip:{}@{};transport=ws>;+sip.instance=\"<{}>\"",
        identity.contact_user, identity.via_host, identity.instance_id
    ))
}

/// A From/To value without its `tag` parameter.
fn strip_tag(value: &str) -> String {
    let (addr, params) = match value.rfind('>') {
        Some(gt) => value.split_at(gt + 1),
        None => value.split_once(';').map_or((value, ""), |(a, _)| (a, "")),
    };
    let mut out = addr.trim().to_owned();
    for param in params.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let name = param.split('=').next().unwrap_or_default().trim();
        if !name.eq_ignore_ascii_case("tag") {
            out.push(';');
            out.push_str(param);
        }
    }
    out
}

/// A header parameter of a From/To value: after the `>` of a name-addr,
/// after the first `;` of a bare addr-spec (RFC 3261 §20.10).
pub(crate) fn header_param<'a>(value: &'a str, name: &str) -> Option<&'a str> {
    let params = match value.rfind('>') {
        Some(gt) => value.get(gt + 1..).unwrap_or_default(),
        None => value.split_once(';').map_or("", |(_, p)| p),
    };
    params.split(';').find_map(|p| {
        let (n, v) = p.split_once('=').unwrap_or((p, ""));
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// `sip:user@domain` → `domain` (with port): the host part of every
/// Request-URI this phone dials.
fn aor_domain(aor: &str) -> Result<String, CallError> {
    let bad = || CallError::BadAor(aor.to_owned());
    if aor.contains(['<', '>', '"', '\r', '\n', ' ']) {
        return Err(bad());
    }
    let uri = rsip::Uri::try_from(aor).map_err(|_| bad())?;
    if !matches!(uri.scheme, Some(rsip::Scheme::Sip)) || uri.user().is_none_or(str::is_empty) {
        return Err(bad());
    }
    Ok(uri.host_with_port.to_string())
}

fn domain_without_params(domain: &str) -> &str {
    domain.split(';').next().unwrap_or(domain)
}

fn check_identity(identity: &CallerIdentity) -> Result<(), CallError> {
    for (name, value) in [
        ("instance id", &identity.instance_id),
        ("contact user", &identity.contact_user),
        ("via host", &identity.via_host),
    ] {
        if value.is_empty() {
            return Err(CallError::Empty(name));
        }
        if !is_plain_token(value) {
            return Err(CallError::BadCharacters(name));
        }
    }
    for (name, value) in [
        ("username", identity.username.as_str()),
        ("display name", identity.display_name.as_str()),
        ("user agent", identity.user_agent.as_deref().unwrap_or("")),
    ] {
        if !is_header_text(value) {
            return Err(CallError::BadCharacters(name));
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn header_params_come_after_the_uri() {
        assert_eq!(header_param("<sip:a@b;tag=x>;tag=y", "tag"), Some("y"));
        assert_eq!(header_param("sip:a@b;tag=z", "tag"), Some("z"));
        assert_eq!(header_param("<sip:a@b;tag=x>", "tag"), None);
    }

    #[test]
    fn the_domain_keeps_its_port() {
        assert_eq!(aor_domain("sip:demo@gw.test").unwrap(), "gw.test");
        assert_eq!(aor_domain("sip:demo@gw.test:5070").unwrap(), "gw.test:5070");
        assert!(aor_domain("sip:gw.test").is_err());
        assert!(aor_domain("tel:+15551234567").is_err());
    }
}
