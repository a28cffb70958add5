//! An outbound call, as a sans-IO machine: the agent's INVITE over
//! WebSocket (we are its UAS) becomes our INVITE to a carrier (we are its
//! UAC), with failover across carriers. The carrier leg (our INVITE, its
//! answers, failover) is in [`carrier`]; requests inside the call and the
//! ways it ends are in [`requests`].
//!
//! ```text
//!   browser (WS)                 call                       carrier (UDP/TCP/TLS)
//!   INVITE (WebRTC offer) ──►  number? caller ID? carriers?
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
//! States (`Phase`):
//!
//! ```text
//!  Trying ──1xx──► Early ──2xx──► Answered ──BYE (either side)──► Ended
//!    │               │                                          ▲
//!    └──── 3xx-6xx, timeout, CANCEL, connection lost ───────────┘
//! ```
//!
//! What happens when the carrier answers 408 or 5xx, cannot be reached, or
//! says nothing for `failover_timeout`: [`OutboundCall::carrier_failed`]
//! hands the call to the next carrier of its plan ([`super::route::plan`])
//! with a new carrier leg; 4xx and 6xx are the callee's answer and end it.
//!
//! Invariants:
//! - Requests to a carrier go to that carrier's configured address only,
//!   never to an address read from a message (Contact, Record-Route and Via
//!   shape the request, not where it is sent).
//! - The browser gets exactly one final response to its INVITE, and one
//!   dialog (one To tag), whatever the carrier forks into.
//! - Nothing is copied blindly from one leg to the other: Call-IDs, tags,
//!   CSeqs, Vias and bodies are each leg's own.

mod carrier;
mod requests;

use shared::api::{CallRecord, HangupBy, LiveCall, LiveCallState};
use shared::e164::{self, E164};
use shared::ids::{AccountId, CallId, CarrierId};
use shared::sip::dialog::{self, Dialog, ViaSpec};
use shared::sip::response::response_to;
use shared::sip::transaction::TransactionKey;
use web_time::Instant;

use super::blocks::Scope;
use super::call::{CallOutput, Env, Life, Out};
use super::caller_id::{campaign_of, choose_caller_id};
use super::record;
use super::route::{self, AgentInfo, Route};
use super::txs::Txs;
use crate::sip::core::Destination;
use crate::sip::{ConnId, Now, msg};

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

/// What a request to the carrier was for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    Invite,
    ReInvite,
    Cancel,
    Bye,
}

/// The browser's side: we are the UAS of its INVITE.
struct BrowserLeg {
    conn: ConnId,
    invite: rsip::Request,
    key: Option<TransactionKey>,
    /// Our tag in the browser's dialog.
    tag: String,
    /// Requests we send the browser (BYE).
    dialog: Dialog,
    final_sent: bool,
    /// A re-INVITE waiting for the media's answer.
    pending_reinvite: Option<rsip::Request>,
}

/// The carrier's side: we are the UAC of our INVITE.
struct CarrierLeg {
    route: Route,
    /// Before the answer: our From, the To without tag, the Request-URI;
    /// after it: the carrier's tag, Contact and route set.
    dialog: Dialog,
    /// The INVITE's Request-URI (digest `uri`).
    uri: rsip::Uri,
    invite: Option<rsip::Request>,
    invite_key: Option<TransactionKey>,
    /// The tag of the carrier's answered dialog.
    to_tag: Option<String>,
    answered: bool,
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

pub struct OutboundCall {
    id: CallId,
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
    ring_deadline: Option<Instant>,
    /// The agent put the call on hold (for the live view).
    held: bool,
    /// The agent's connection dropped while the call was up: the carrier
    /// leg stays until then, waiting for the phone to come back.
    reconnect_deadline: Option<Instant>,
    /// The WebRTC answer, sent with the 183 and the 200.
    browser_answer: String,
    /// Why the last connection to the carrier failed (the 503's reason).
    transport_error: Option<String>,
    life: Life,
    txs: Txs<Purpose>,
    out: Out,
}

/// A new call refused before it reached a carrier: the answer to the
/// browser and, when the attempt counts, its record.
pub struct Refused {
    pub response: rsip::Response,
    pub record: Option<CallRecord>,
}

/// The browser's Via toward it (requests we send over its WebSocket).
pub fn browser_via(domain: &str) -> ViaSpec {
    ViaSpec {
        proto: "WSS",
        sent_by: domain.to_owned(),
        rport: false,
    }
}

/// Our Contact toward browsers.
pub fn browser_contact(domain: &str) -> String {
    format!("<sip:gw@{domain};transport=ws>")
}

/// Our Via toward a carrier.
fn carrier_via(env: &Env, route: &Route) -> ViaSpec {
    let ours = env.config.local.toward_carrier(route);
    ViaSpec {
        proto: ours.proto,
        sent_by: ours.host_port(),
        rport: true,
    }
}

/// Our Contact toward a carrier.
fn carrier_contact(env: &Env, route: &Route) -> String {
    let ours = env.config.local.toward_carrier(route);
    format!("<sip:gw@{}{}>", ours.host_port(), ours.contact_param)
}

impl OutboundCall {
    /// A dialog-creating INVITE from an agent's browser: checks the
    /// number, picks caller ID and carriers, starts the media and sends the
    /// first carrier its INVITE. `routes` are the usable carriers.
    pub fn start(
        id: CallId,
        now: Now,
        conn: ConnId,
        request: rsip::Request,
        agent: &AgentInfo,
        routes: &[Route],
        env: &mut Env,
    ) -> Result<OutboundCall, Box<Refused>> {
        let tag = env.token(12);
        let target_user = msg::uri_user(&request.uri.to_string()).unwrap_or_default();
        let record_id = format!("{}-{}", now.unix_ms, env.token(8));
        let mut rec = record::outbound(record_id, agent, target_user.clone(), &now);
        let refuse = |rec: CallRecord, code: u16, reason: &str| {
            Box::new(Refused {
                response: response_to(&request, code, reason, Some(&tag)),
                record: Some(record::refused(rec, &now, code, reason)),
            })
        };
        let Some(offer) = msg::sdp_body(&request.headers, &request.body) else {
            return Err(refuse(
                rec,
                488,
                "Not Acceptable Here (an SDP offer is required in the INVITE)",
            ));
        };
        let country = e164::country(&agent.dialing.default_country).unwrap_or(&e164::COUNTRIES[0]);
        let number = match e164::normalize(&target_user, country) {
            Ok(n) => n,
            Err(e) => return Err(refuse(rec, 484, &format!("Address Incomplete ({e})"))),
        };
        // The agent's destination policies (the gateway's --dial-countries,
        // role or agent, campaigns) with the prefix list in force: premium,
        // high-risk and other countries refused before any carrier sees it.
        if let Err(refusal) = agent.dialing.check(&number) {
            let reason = format!("Forbidden ({})", refusal.reason);
            return Err(refuse(rec, 403, &reason));
        }
        let channels = env.channels;
        let mut plan = route::plan(routes, |r| route::has_capacity(r, channels(r.id)), env.rng);
        if plan.is_empty() {
            let reason = if routes.is_empty() {
                "Service Unavailable (no carrier is available)"
            } else {
                "Service Unavailable (every carrier is at its channel limit)"
            };
            return Err(refuse(rec, 503, reason));
        }
        let first = plan.remove(0);
        let caller_id = match choose_caller_id(&request, agent, &first, country, &number) {
            Ok(caller_id) => caller_id,
            Err(reason) => return Err(refuse(rec, 403, &reason)),
        };
        rec.caller_id = caller_id.as_ref().map(|c| c.as_str().to_owned());
        rec.dialled = number.as_str().to_owned();
        rec.destination_country = record::country_key(&number);
        rec.campaign_id = campaign_of(&request, agent, caller_id.as_ref());
        let international = rec
            .destination_country
            .as_deref()
            .is_some_and(|c| c != env.config.default_country);
        let scopes = [Scope::Gateway, Scope::Agent(agent.account_id)]
            .into_iter()
            .chain(rec.campaign_id.map(Scope::Campaign));
        let blocked = scopes
            .filter_map(|scope| env.blocks.refusal(scope, international, now.unix_ms))
            .next()
            .map(str::to_owned);
        if let Some(reason) = blocked {
            return Err(refuse(rec, 403, &reason));
        }
        rec.carrier_id = Some(first.id);
        rec.carrier = Some(first.name.clone());

        let setup = match env.media.start_outbound(
            id,
            &offer,
            &first.codecs,
            first.srtp_required,
            first.addr.ip(),
        ) {
            Ok(setup) => setup,
            Err(failure) => return Err(refuse(rec, failure.code, &failure.reason)),
        };
        let mut out = Out::default();
        out.send_msg(
            Destination::Conn(conn),
            response_to(&request, 100, "Trying", None),
        );

        let call_id = msg::header(&request.headers, "Call-ID").unwrap_or_default();
        let from = msg::header(&request.headers, "From").unwrap_or_default();
        let to = msg::header(&request.headers, "To").unwrap_or_default();
        let domain = &env.config.domain;
        let target = msg::header(&request.headers, "Contact")
            .and_then(|c| dialog::contact_uri(&c))
            .unwrap_or_else(|| dialog::sip_uri(Some("agent"), domain, None));
        let browser = BrowserLeg {
            conn,
            key: TransactionKey::for_request(&request).ok(),
            dialog: Dialog {
                call_id: call_id.clone(),
                local: format!("{to};tag={tag}"),
                remote: from,
                target,
                route_set: Vec::new(),
                cseq: 0,
            },
            invite: request,
            tag,
            final_sent: false,
            pending_reinvite: None,
        };
        let carrier =
            carrier::new_carrier_leg(first, &number, caller_id.as_ref(), setup.carrier_offer, env);
        out.event(CallOutput::Bind(call_id));
        out.event(CallOutput::Bind(carrier.dialog.call_id.clone()));
        out.event(CallOutput::Placed {
            agent: agent.username.clone(),
            carrier: carrier.route.name.clone(),
        });
        let response_deadline =
            (!plan.is_empty()).then(|| now.instant + env.config.failover_timeout);
        let mut life = Life::new(rec);
        life.media = true;
        let mut call = OutboundCall {
            id,
            phase: Phase::Trying,
            browser,
            carrier,
            number,
            caller_id,
            fallback: plan,
            attempt_at: now.unix_ms,
            response_deadline,
            ring_deadline: Some(now.instant + env.config.max_ringing),
            held: false,
            reconnect_deadline: None,
            browser_answer: setup.browser_answer,
            transport_error: None,
            life,
            txs: Txs::new(env.config.timers),
            out,
        };
        let live = call.live();
        call.life.started(&mut call.out, live);
        call.send_carrier_invite(now, None, env);
        Ok(call)
    }

    // ---------------------------------------------------------------
    // What the router asks
    // ---------------------------------------------------------------

    /// The number called, in E.164 (read from the agent's INVITE).
    pub fn dialled(&self) -> Option<E164> {
        self.life.record.dialled.parse().ok()
    }

    /// The call as the live view shows it (`None` once it ended).
    pub fn live_call(&self) -> Option<LiveCall> {
        (self.phase != Phase::Ended).then(|| self.live())
    }

    fn live(&self) -> LiveCall {
        let state = match (self.phase, self.held) {
            (Phase::Answered, _) if self.reconnect_deadline.is_some() => {
                LiveCallState::Reconnecting
            }
            (Phase::Answered, true) => LiveCallState::Held,
            (Phase::Answered, false) => LiveCallState::Connected,
            _ => LiveCallState::Ringing,
        };
        record::live(&self.life.record, state)
    }

    /// The agent whose call this is, while it is not over.
    pub fn agent_of_live_call(&self) -> Option<AccountId> {
        (self.phase != Phase::Ended)
            .then_some(self.life.record.account_id)
            .flatten()
    }

    /// The carrier this call holds a channel on, while it is not over.
    pub fn carrier_in_use(&self) -> Option<CarrierId> {
        (self.phase != Phase::Ended).then_some(self.carrier.route.id)
    }

    pub fn is_done(&self) -> bool {
        self.life.done
    }

    /// Done, and none of its client transactions still runs (a 487 to our
    /// CANCELled INVITE still gets its ACK, a BYE its retransmissions).
    pub fn is_finished(&self) -> bool {
        self.life.done && self.txs.is_empty()
    }

    /// A connection this call's browser leg runs on.
    pub fn poll_transmit(&mut self) -> Option<super::call::Outgoing> {
        self.out.poll_transmit()
    }

    pub fn poll_event(&mut self) -> Option<CallOutput> {
        self.out.poll_event()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.txs.poll_timeout(),
            self.ring_deadline,
            self.life.flush_deadline,
            self.response_deadline,
            self.reconnect_deadline,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Timers: client transactions, the carrier's silence (failover), the
    /// ring limit, the wait for a lost phone, the wait for media counts.
    pub fn handle_timeout(&mut self, now: Now, env: &mut Env) {
        let events = self.txs.handle_timeout(now.instant, &mut self.out);
        self.on_tx_events(now, events, env);
        if self.reconnect_deadline.is_some_and(|d| d <= now.instant) {
            self.reconnect_deadline = None;
            let secs = env.config.reconnect_grace.as_secs();
            let reason =
                format!("The agent's connection was lost and did not come back in {secs} s");
            self.hang_up_answered(now, 200, &reason, HangupBy::Agent, env);
        }
        if self.response_deadline.is_some_and(|d| d <= now.instant) {
            // Nothing at all from this carrier: give it up (no CANCEL: it
            // sent no provisional, RFC 3261 §9.1) and try the next.
            let secs = env.config.failover_timeout.as_secs();
            self.carrier_failed(
                now,
                408,
                &format!("Request Timeout (the carrier said nothing in {secs} s)"),
                env,
            );
        }
        if self.ring_deadline.is_some_and(|d| d <= now.instant) {
            self.ring_deadline = None;
            record::set_final(
                &mut self.life.record,
                408,
                "Request Timeout (no answer)",
                HangupBy::Gateway,
            );
            self.send_cancel(now, env);
            self.fail_call(
                now,
                408,
                "Request Timeout (no answer)",
                HangupBy::Gateway,
                env,
            );
        }
        if self.life.flush_deadline.is_some_and(|d| d <= now.instant) {
            self.life.finish(&mut self.out);
        }
    }

    /// Nothing can reach `dest`.
    pub fn transport_failed(&mut self, now: Now, dest: Destination, reason: &str, env: &mut Env) {
        self.transport_error = Some(reason.to_owned());
        let events = self.txs.transport_failed(now.instant, dest, &mut self.out);
        self.on_tx_events(now, events, env);
    }
}
