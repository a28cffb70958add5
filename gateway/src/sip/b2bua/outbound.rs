//! An outbound call, as a sans-IO machine: the agent's INVITE over
//! WebSocket (we are its UAS) becomes our INVITE to a carrier (we are its
//! UAC), with failover across carriers. Requests inside the call and the
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

mod requests;

use rsip::prelude::*;
use shared::api::{CallDirection, CallRecord, HangupBy, LiveCall, LiveCallState};
use shared::e164::{self, E164};
use shared::sip::dialog::{self, Dialog, ViaSpec};
use shared::sip::digest::{self, Challenge};
use shared::sip::response::response_to;
use shared::sip::transaction::{TransactionKey, TxEvent};
use shared::sip::validate::ALLOW;
use web_time::Instant;

use super::call::{CallOutput, Env, Life, Out};
use super::caller_id::{choose_caller_id, format_number};
use super::port::MediaFailure;
use super::route::{self, AgentInfo, Route};
use super::txs::Txs;
use super::{reason_of, record};
use crate::sip::core::Destination;
use crate::sip::{ConnId, Now, carrier_dest, host_port, msg};

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
    ring_deadline: Option<Instant>,
    /// The agent put the call on hold (for the live view).
    held: bool,
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
        id: u64,
        now: Now,
        conn: ConnId,
        request: rsip::Request,
        agent: &AgentInfo,
        routes: &[Route],
        env: &mut Env,
    ) -> Result<OutboundCall, Refused> {
        let tag = env.token(12);
        let target_user = msg::uri_user(&request.uri.to_string()).unwrap_or_default();
        let record_id = format!("{}-{}", now.unix_ms, env.token(8));
        let mut rec = record::new(record_id, CallDirection::Outbound, &now);
        rec.account_id = Some(agent.account_id);
        rec.agent = Some(agent.username.clone());
        rec.dialled = target_user.clone();
        let refuse = |rec: CallRecord, code: u16, reason: &str| Refused {
            response: response_to(&request, code, reason, Some(&tag)),
            record: Some(record::refused(rec, &now, code, reason)),
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
        let dial_countries = &env.config.dial_countries;
        if !dial_countries.is_empty() {
            let allowed = number
                .country()
                .is_some_and(|c| dial_countries.iter().any(|d| d.eq_ignore_ascii_case(c.iso)));
            if !allowed {
                let reason = format!(
                    "Forbidden (calls to {} are not allowed from this dialer)",
                    number.country().map_or("that destination", |c| c.iso)
                );
                return Err(refuse(rec, 403, &reason));
            }
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
        let caller_id = choose_caller_id(&request, agent, &first, country, &number);
        rec.caller_id = caller_id.as_ref().map(|c| c.as_str().to_owned());
        rec.dialled = number.as_str().to_owned();
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
        let carrier = new_carrier_leg(first, &number, caller_id.as_ref(), setup.carrier_offer, env);
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

    /// The call as the live view shows it (`None` once it ended).
    pub fn live_call(&self) -> Option<LiveCall> {
        (self.phase != Phase::Ended).then(|| self.live())
    }

    fn live(&self) -> LiveCall {
        let state = match (self.phase, self.held) {
            (Phase::Answered, true) => LiveCallState::Held,
            (Phase::Answered, false) => LiveCallState::Connected,
            _ => LiveCallState::Ringing,
        };
        record::live(&self.life.record, state)
    }

    /// The agent whose call this is, while it is not over.
    pub fn agent_of_live_call(&self) -> Option<i64> {
        (self.phase != Phase::Ended)
            .then_some(self.life.record.account_id)
            .flatten()
    }

    /// The carrier this call holds a channel on, while it is not over.
    pub fn carrier_in_use(&self) -> Option<i64> {
        (self.phase != Phase::Ended).then_some(self.carrier.route.id)
    }

    pub fn is_done(&self) -> bool {
        self.life.done
    }

    /// A connection this call's browser leg runs on.
    pub fn browser_conn(&self) -> ConnId {
        self.browser.conn
    }

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
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Timers: client transactions, the carrier's silence (failover), the
    /// ring limit, the wait for media counts.
    pub fn handle_timeout(&mut self, now: Now, env: &mut Env) {
        let events = self.txs.handle_timeout(now.instant, &mut self.out);
        self.on_tx_events(now, events, env);
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

    // ---------------------------------------------------------------
    // The carrier leg
    // ---------------------------------------------------------------

    /// Builds our INVITE (a new transaction) for the current carrier.
    fn send_carrier_invite(
        &mut self,
        now: Now,
        authorization: Option<(&'static str, String)>,
        env: &mut Env,
    ) {
        let branch = env.token(16);
        let via = carrier_via(env, &self.carrier.route);
        let contact = carrier_contact(env, &self.carrier.route);
        let leg = &mut self.carrier;
        let mut invite = leg
            .dialog
            .request(rsip::Method::Invite, leg.dialog.cseq, &via, &branch);
        dialog::push_header(&mut invite, "Contact", contact);
        dialog::push_header(&mut invite, "Allow", ALLOW);
        dialog::push_header(&mut invite, "User-Agent", "dialer-gateway");
        if let Some(pai) = &leg.pai {
            dialog::push_header(&mut invite, "P-Asserted-Identity", pai.clone());
        }
        if let Some((name, value)) = authorization {
            dialog::push_header(&mut invite, name, value);
        }
        dialog::finish(&mut invite, Some(("application/sdp", &leg.offer_sdp)));
        leg.invite_key = TransactionKey::for_sent_request(&invite).ok();
        leg.invite = Some(invite.clone());
        let dest = carrier_dest(&leg.route);
        let events = self
            .txs
            .start(now.instant, Purpose::Invite, invite, dest, &mut self.out);
        self.on_tx_events(now, events, env);
    }

    /// A response from the carrier (UDP, TCP or TLS). Returns false when it
    /// belongs to none of this call's transactions or dialogs.
    pub fn handle_carrier_response(
        &mut self,
        now: Now,
        response: rsip::Response,
        env: &mut Env,
    ) -> bool {
        let call_id = msg::header(&response.headers, "Call-ID").unwrap_or_default();
        if call_id != self.carrier.dialog.call_id {
            return false;
        }
        let code = response.status_code.code();
        let is_invite =
            msg::header(&response.headers, "CSeq").is_some_and(|c| c.ends_with("INVITE"));
        let retransmitted_2xx = (200..300).contains(&code) && is_invite;
        match self
            .txs
            .handle_response(now.instant, response.clone(), &mut self.out)
        {
            Some(events) => {
                self.on_tx_events(now, events, env);
                true
            }
            None if retransmitted_2xx => {
                // A 2xx retransmission after the INVITE transaction ended:
                // ACK it again (it belongs to the dialog).
                self.ack_carrier(&response, env);
                true
            }
            None => false,
        }
    }

    fn on_tx_events(&mut self, now: Now, events: Vec<(Purpose, TxEvent)>, env: &mut Env) {
        for (purpose, event) in events {
            match (purpose, event) {
                (Purpose::Invite, TxEvent::Response(r)) => {
                    self.carrier_invite_response(now, r, env)
                }
                (Purpose::Invite, TxEvent::Timeout) => self.carrier_failed(
                    now,
                    408,
                    "Request Timeout (the carrier did not answer)",
                    env,
                ),
                (Purpose::Invite, TxEvent::TransportError) => {
                    let reason = match self.transport_error.take() {
                        Some(why) => {
                            format!("Service Unavailable (the carrier cannot be reached: {why})")
                        }
                        None => "Service Unavailable (the carrier cannot be reached)".to_owned(),
                    };
                    self.carrier_failed(now, 503, &reason, env);
                }
                (Purpose::ReInvite, TxEvent::Response(r)) => {
                    if (200..300).contains(&r.status_code.code()) {
                        self.ack_carrier(&r, env);
                    }
                }
                (Purpose::ReInvite | Purpose::Bye | Purpose::Cancel, TxEvent::Timeout)
                | (Purpose::ReInvite | Purpose::Bye | Purpose::Cancel, TxEvent::TransportError) => {
                    tracing::debug!(
                        call = self.id,
                        ?purpose,
                        "a request to the carrier got no answer"
                    );
                }
                _ => {}
            }
        }
    }

    fn carrier_invite_response(&mut self, now: Now, response: rsip::Response, env: &mut Env) {
        let code = response.status_code.code();
        self.response_deadline = None;
        match code {
            100 => {}
            101..=199 => {
                self.carrier.provisional_seen = true;
                if self.life.record.ringing_at.is_none() {
                    self.life.record.ringing_at = Some(now.unix_ms);
                }
                if self.phase == Phase::Trying {
                    self.phase = Phase::Early;
                }
                if self.carrier.cancel_pending {
                    self.send_cancel(now, env);
                    return;
                }
                match msg::sdp_body(&response.headers, &response.body) {
                    Some(sdp) if code == 183 => {
                        if let Err(f) = self.apply_carrier_sdp(&sdp, env) {
                            self.cancel_with(now, f.code, &f.reason, env);
                            return;
                        }
                        self.browser_provisional(183, "Session Progress", true, env);
                    }
                    _ => self.browser_provisional(180, "Ringing", false, env),
                }
            }
            200..=299 => self.carrier_answered(now, response, env),
            401 | 407 => {
                let route = &self.carrier.route;
                let can_retry = !self.carrier.auth_tried
                    && route.username.is_some()
                    && route.secret.is_some()
                    && !self.browser.final_sent;
                match self.answer_challenge(&response, code, env) {
                    Some(authorization) if can_retry => {
                        self.carrier.auth_tried = true;
                        self.carrier.dialog.cseq += 1;
                        self.send_carrier_invite(now, Some(authorization), env);
                    }
                    _ => self.carrier_failed(
                        now,
                        403,
                        "Forbidden (the carrier refused our credentials)",
                        env,
                    ),
                }
            }
            300..=399 => self.carrier_failed(
                now,
                480,
                &format!("Temporarily Unavailable (carrier redirect {code} not followed)"),
                env,
            ),
            _ => self.carrier_failed(now, code, &reason_of(&response), env),
        }
    }

    /// The Authorization (or Proxy-Authorization) answering a 401/407.
    fn answer_challenge(
        &mut self,
        response: &rsip::Response,
        code: u16,
        env: &mut Env,
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
        let cnonce = env.token(16);
        let leg = &mut self.carrier;
        let (user, secret) = (leg.route.username.clone()?, leg.route.secret.clone()?);
        leg.nc += 1;
        let creds = digest::answer(
            &challenge,
            "INVITE",
            &leg.uri.to_string(),
            &user,
            &secret,
            &cnonce,
            leg.nc,
        );
        Some((answer_name, creds.to_header_value()))
    }

    fn apply_carrier_sdp(&mut self, sdp: &str, env: &mut Env) -> Result<(), MediaFailure> {
        if self.carrier.answer_sdp.as_deref() == Some(sdp) {
            return Ok(());
        }
        self.carrier.answer_sdp = Some(sdp.to_owned());
        env.media.carrier_answer(self.id, sdp)
    }

    fn browser_provisional(&mut self, code: u16, reason: &str, with_answer: bool, env: &Env) {
        if self.browser.final_sent {
            return;
        }
        let mut r = response_to(&self.browser.invite, code, reason, Some(&self.browser.tag));
        r.headers
            .push(rsip::headers::Contact::new(browser_contact(&env.config.domain)).into());
        if with_answer {
            msg::set_body(&mut r, "application/sdp", &self.browser_answer);
        }
        self.out.send_msg(Destination::Conn(self.browser.conn), r);
    }

    fn carrier_answered(&mut self, now: Now, response: rsip::Response, env: &mut Env) {
        let to_tag = msg::header(&response.headers, "To").and_then(|to| msg::tag(&to));
        // A 2xx from a second fork, or after we gave up: ACK it and hang it up.
        let other_fork = self.carrier.answered && self.carrier.to_tag != to_tag;
        if self.phase == Phase::Ended
            || other_fork
            || self.browser.final_sent && self.phase != Phase::Answered
        {
            self.ack_carrier(&response, env);
            self.bye_2xx_dialog(&response, env);
            return;
        }
        if self.phase == Phase::Answered {
            // A retransmission of the same 2xx: ACK again.
            self.ack_carrier(&response, env);
            return;
        }
        self.phase = Phase::Answered;
        self.ring_deadline = None;
        self.response_deadline = None;
        let route = &self.carrier.route;
        record::attempt(
            &mut self.life.record,
            route.id,
            &route.name,
            200,
            "OK",
            self.attempt_at,
        );
        self.carrier.to_tag = to_tag;
        self.carrier.answered = true;
        self.carrier.dialog.learn_from_response(&response);
        let rec = &mut self.life.record;
        rec.answered_at = Some(now.unix_ms);
        if rec.ringing_at.is_none() {
            rec.ringing_at = rec.answered_at;
        }
        self.ack_carrier(&response, env);

        let sdp = msg::sdp_body(&response.headers, &response.body);
        if sdp.is_none() && self.carrier.answer_sdp.is_none() {
            self.hang_up_answered(
                now,
                502,
                "Bad Gateway (the carrier answered without SDP)",
                HangupBy::Gateway,
                env,
            );
            return;
        }
        if let Some(sdp) = sdp
            && let Err(f) = self.apply_carrier_sdp(&sdp, env)
        {
            self.hang_up_answered(now, f.code, &f.reason, HangupBy::Gateway, env);
            return;
        }
        // 200 to the browser, with the WebRTC answer.
        let mut ok = response_to(&self.browser.invite, 200, "OK", Some(&self.browser.tag));
        ok.headers
            .push(rsip::headers::Contact::new(browser_contact(&env.config.domain)).into());
        ok.headers.push(rsip::headers::Allow::new(ALLOW).into());
        msg::set_body(&mut ok, "application/sdp", &self.browser_answer);
        self.browser.final_sent = true;
        self.life.record.final_code = 200;
        self.life.record.final_reason = "OK".to_owned();
        self.out.send_msg(Destination::Conn(self.browser.conn), ok);
        let live = self.live();
        self.life.answered(&mut self.out, live);
    }

    /// The carrier dialog a `response` establishes (ours, or another
    /// fork's), as a request can be built in it.
    fn dialog_of(&self, response: &rsip::Response) -> Dialog {
        let mut d = self.carrier.dialog.clone();
        d.learn_from_response(response);
        d
    }

    /// The ACK for a carrier's 2xx (RFC 3261 §13.2.2.4): the INVITE's CSeq
    /// number, the dialog's route set, and a branch of its own that is the
    /// same for every retransmission of that 2xx (both tags and the CSeq).
    fn ack_carrier(&mut self, response: &rsip::Response, env: &Env) {
        let d = self.dialog_of(response);
        let ours = msg::tag(&self.carrier.dialog.local).unwrap_or_default();
        let theirs = msg::header(&response.headers, "To")
            .and_then(|to| msg::tag(&to))
            .unwrap_or_default();
        let cseq = msg::cseq_number(&response.headers).unwrap_or(self.carrier.dialog.cseq);
        let branch = format!("{ours}.{theirs}.ack{cseq}");
        let mut ack = d.request(
            rsip::Method::Ack,
            cseq,
            &carrier_via(env, &self.carrier.route),
            &branch,
        );
        dialog::finish(&mut ack, None);
        self.out.send_msg(carrier_dest(&self.carrier.route), ack);
    }

    /// BYE for a 2xx dialog we do not want (another fork, or too late).
    fn bye_2xx_dialog(&mut self, response: &rsip::Response, env: &mut Env) {
        let branch = env.token(16);
        let d = self.dialog_of(response);
        let mut bye = d.request(
            rsip::Method::Bye,
            self.carrier.dialog.cseq + 1,
            &carrier_via(env, &self.carrier.route),
            &branch,
        );
        dialog::finish(&mut bye, None);
        self.out.send_msg(carrier_dest(&self.carrier.route), bye);
    }

    /// The current carrier failed in a way another carrier may not (408,
    /// 5xx, unreachable): the next one that has a free channel gets the
    /// call. Returns false when there is none.
    fn fail_over(&mut self, now: Now, env: &mut Env) -> bool {
        let (next, offer) = loop {
            if self.fallback.is_empty() {
                return false;
            }
            let candidate = self.fallback.remove(0);
            if !route::has_capacity(&candidate, (env.channels)(candidate.id)) {
                continue;
            }
            // Its own offer: its codec order, its SRTP setting.
            match env.media.carrier_offer(
                self.id,
                &candidate.codecs,
                candidate.srtp_required,
                candidate.addr.ip(),
            ) {
                Ok(offer) => break (candidate, offer),
                Err(f) => {
                    tracing::debug!(call = self.id, carrier = %candidate.name, reason = %f.reason,
                        "failover skips a carrier the call's media cannot use");
                }
            }
        };
        // The old carrier's transactions are forgotten: a late answer from
        // it matches nothing.
        self.txs.clear();
        self.out
            .event(CallOutput::Unbind(self.carrier.dialog.call_id.clone()));
        let leg = new_carrier_leg(next, &self.number, self.caller_id.as_ref(), offer, env);
        self.out.event(CallOutput::Bind(leg.dialog.call_id.clone()));
        self.response_deadline =
            (!self.fallback.is_empty()).then(|| now.instant + env.config.failover_timeout);
        self.attempt_at = now.unix_ms;
        self.life.record.carrier_id = Some(leg.route.id);
        self.life.record.carrier = Some(leg.route.name.clone());
        self.out.event(CallOutput::Placed {
            agent: self.life.record.agent.clone().unwrap_or_default(),
            carrier: leg.route.name.clone(),
        });
        self.carrier = leg;
        self.send_carrier_invite(now, None, env);
        true
    }
}

/// A carrier leg for `route`: its own Call-ID and From tag, the number as
/// that carrier wants it, the caller ID as its P-Asserted-Identity.
fn new_carrier_leg(
    route: Route,
    number: &E164,
    caller_id: Option<&E164>,
    offer_sdp: String,
    env: &mut Env,
) -> CarrierLeg {
    let carrier_user = format_number(number, &route);
    let ours = env.config.local.toward_carrier(&route);
    let call_id = format!("{}@{}", env.token(20), ours.host);
    let from_user = route
        .from_user
        .clone()
        .or_else(|| caller_id.map(|c| format_number(c, &route)))
        .unwrap_or_else(|| "anonymous".to_owned());
    let from_host = route.from_domain.clone().unwrap_or(ours.host);
    let from = format!("<sip:{from_user}@{from_host}>;tag={}", env.token(12));
    let uri = dialog::sip_uri(
        Some(&carrier_user),
        &host_port(&route.host, route.addr.port()),
        None,
    );
    let pai = caller_id.map(|c| format!("<sip:{}@{from_host}>", format_number(c, &route)));
    CarrierLeg {
        dialog: Dialog {
            call_id,
            local: from,
            remote: format!("<{uri}>"),
            target: uri.clone(),
            route_set: Vec::new(),
            cseq: 1,
        },
        uri,
        route,
        invite: None,
        invite_key: None,
        to_tag: None,
        answered: false,
        auth_tried: false,
        nc: 0,
        answer_sdp: None,
        provisional_seen: false,
        cancel_pending: false,
        cancel_sent: false,
        offer_sdp,
        sdp_version: 1,
        pai,
    }
}
