//! The callee's side of one call: an INVITE from the gateway to this phone
//! (the UAS of RFC 3261 §13.3 and §12.1.1, offer/answer per RFC 3264 with
//! the offer in the INVITE). Sans-IO like [`super::call`]: `now` and
//! messages in, [`IncomingCall::poll_transmit`], [`IncomingCall::poll_event`]
//! and [`IncomingCall::poll_timeout`] out.
//!
//! ```text
//!        new(): INVITE with an SDP offer → 180 Ringing (our To tag)
//!                 │
//!                 ▼   INVITE again (same CSeq): 180 resent
//!              Ringing ─────────────────────────────────────────────┐
//!               │   │                                               │
//!               │   │ decline(): 486 Busy Here                      │ CANCEL: 200 (CANCEL)
//!               │   │ (hangup() before answer is the same)          │ + 487 (INVITE);
//!               │   ▼                                               │ Reason cause=200 →
//!               │  Done ◄───────────────────────────────────────────┘ answered elsewhere,
//!               │   (the server transaction waits for the ACK          else missed
//!               │    of its 486/487, then is dropped)
//!               │
//!               │ answer(sdp): 200 OK (SDP, Contact), resent T1, 2·T1 … ≤ T2
//!               ▼              until the ACK (§13.3.1.4)
//!            Answered ── the dialog is a [`Call`] from here on: hold and
//!               │        resume re-INVITEs both ways, BYE in/out, OPTIONS.
//!               │        ACK → [`CallEvent::Answered`]; no ACK in 64·T1 →
//!               │        BYE, Ended(Broken 408). CANCEL now: 200, no effect.
//!               ▼
//!             Ended (hangup(): BYE; BYE in: 200)
//! ```
//!
//! Decline answers **486 Busy Here**, not 603 Decline: the gateway rings
//! every tab of the agent (and may ring other agents), and 486 says "not
//! at this phone" so the gateway stays free to go on with the other
//! branches. A 6xx would, by §16.7, end every branch of a forking proxy —
//! a decision one tab should not take for the agent's other tabs.
//!
//! An INVITE without an offer is refused (488): the gateway always offers,
//! and answering in the ACK would need a browser offer made while ringing.

use std::collections::VecDeque;

use rsip::headers::UntypedHeader;
use rsip::prelude::*;
use web_time::Instant;

use super::call::{
    ALLOW, Call, CallError, CallEvent, CallState, CallerIdentity, DialogIds, EndCause, Reoffer,
    contact_of, header_param, sdp_body,
};
use super::register::Rng;
use super::response::response_to;
use super::transaction::{ServerInvite, Timers, TxEvent};

/// Who is calling and which number they dialled, as the page shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomingInfo {
    pub call_id: String,
    /// The user part of the From URI (the caller's number), or the whole
    /// URI when it has none.
    pub caller: String,
    /// The display name of From, when the carrier sent one.
    pub caller_name: Option<String>,
    /// `X-Dialer-DID`: the number dialled.
    pub did: Option<String>,
    /// `X-Dialer-DID-Label`: its label ("Sales line").
    pub did_label: Option<String>,
}

enum Phase {
    Ringing(ServerInvite),
    /// Declined or cancelled; the transaction lives until its ACK.
    Done(Option<ServerInvite>),
    Answered(Box<Call>),
}

/// One incoming call. See the module documentation.
pub struct IncomingCall {
    info: IncomingInfo,
    identity: CallerIdentity,
    rng: Option<Box<dyn Rng>>,
    timers: Timers,
    local_tag: String,
    remote_tag: String,
    invite_seq: u32,
    offer: String,
    phase: Phase,
    /// The ACK for our 200 came ([`CallEvent::Answered`] was reported).
    confirmed: bool,
    ended: bool,
    transmits: VecDeque<rsip::SipMessage>,
    events: VecDeque<CallEvent>,
}

impl std::fmt::Debug for IncomingCall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IncomingCall")
            .field("call_id", &self.info.call_id)
            .field("state", &self.state())
            .finish_non_exhaustive()
    }
}

impl IncomingCall {
    /// Takes a new INVITE (no To tag, a Call-ID no call of ours has): 180
    /// Ringing is ready in [`IncomingCall::poll_transmit`] at once. `Err`
    /// holds the response refusing it (no SDP offer, no From tag, a broken
    /// CSeq) — send it and forget the INVITE.
    pub fn new(
        now: Instant,
        identity: CallerIdentity,
        invite: rsip::Request,
        rng: impl Rng + 'static,
        timers: Timers,
    ) -> Result<IncomingCall, Box<rsip::Response>> {
        let mut rng: Box<dyn Rng> = Box::new(rng);
        let local_tag = format!("{:016x}", rng.next_u64());
        let refuse = |code, reason| Box::new(response_to(&invite, code, reason, Some(&local_tag)));
        let Some(remote_tag) = invite
            .from_header()
            .ok()
            .and_then(|f| header_param(f.value(), "tag"))
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
        else {
            return Err(refuse(400, "Bad Request (no From tag)"));
        };
        let Some(invite_seq) = invite
            .cseq_header()
            .ok()
            .and_then(|c| c.typed().ok())
            .map(|c| c.seq)
        else {
            return Err(refuse(400, "Bad Request (malformed CSeq)"));
        };
        let Some(call_id) = invite
            .call_id_header()
            .ok()
            .map(|c| c.value().trim().to_owned())
        else {
            return Err(refuse(400, "Bad Request (no Call-ID)"));
        };
        let Some(offer) = sdp_body(&invite) else {
            return Err(refuse(488, "Not Acceptable Here (no SDP offer)"));
        };
        let info = IncomingInfo {
            call_id,
            caller: caller_of(&invite),
            caller_name: display_name_of(&invite),
            did: other_header(&invite, "X-Dialer-DID"),
            did_label: other_header(&invite, "X-Dialer-DID-Label"),
        };
        let mut tx = ServerInvite::new(now, invite.clone(), true, timers);
        let mut ringing = response_to(&invite, 180, "Ringing", Some(&local_tag));
        ringing.headers.push(contact_of(&identity).into());
        // A 1xx is always allowed in Proceeding, where a new one is.
        let _ = tx.send_response(now, ringing);
        let mut call = IncomingCall {
            info,
            identity,
            rng: Some(rng),
            timers,
            local_tag,
            remote_tag,
            invite_seq,
            offer,
            phase: Phase::Ringing(tx),
            confirmed: false,
            ended: false,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        };
        call.drain();
        Ok(call)
    }

    pub fn info(&self) -> &IncomingInfo {
        &self.info
    }

    /// The SDP offer of the INVITE: set it as the remote description, then
    /// [`IncomingCall::answer`] with the browser's answer.
    pub fn offer(&self) -> &str {
        &self.offer
    }

    pub fn call_id(&self) -> &str {
        &self.info.call_id
    }

    /// `Ringing` until answered, `Connected` from the answer, then `Ended`.
    pub fn state(&self) -> CallState {
        match &self.phase {
            _ if self.ended => CallState::Ended,
            Phase::Ringing(_) => CallState::Ringing,
            Phase::Done(_) => CallState::Ended,
            Phase::Answered(call) => call.state(),
        }
    }

    pub fn is_held(&self) -> bool {
        matches!(&self.phase, Phase::Answered(call) if call.is_held())
    }

    /// Over, and nothing left to send or wait for: drop it.
    pub fn is_terminated(&self) -> bool {
        self.transmits.is_empty()
            && match &self.phase {
                Phase::Ringing(_) => false,
                Phase::Done(tx) => tx.as_ref().is_none_or(ServerInvite::is_terminated),
                Phase::Answered(call) => call.is_terminated(),
            }
    }

    /// Answers with the browser's SDP answer: 200 OK, retransmitted until
    /// the ACK. [`CallEvent::Answered`] follows the ACK.
    pub fn answer(&mut self, now: Instant, answer: String) -> Result<(), CallError> {
        if answer.trim().is_empty() {
            return Err(CallError::Empty("SDP answer"));
        }
        if !matches!(self.phase, Phase::Ringing(_)) || self.ended {
            return Err(CallError::NoOfferPending);
        }
        let Phase::Ringing(tx) = std::mem::replace(&mut self.phase, Phase::Done(None)) else {
            return Err(CallError::NoOfferPending);
        };
        let invite = tx.request().clone();
        let rng = self.rng.take().unwrap_or_else(|| Box::new(|| 0));
        match Call::answer_incoming(
            now,
            self.identity.clone(),
            &invite,
            tx,
            self.local_tag.clone(),
            answer,
            rng,
            self.timers,
        ) {
            Some(call) => self.phase = Phase::Answered(Box::new(call)),
            // `new` checked every header this reads; kept safe anyway.
            None => {
                let mut tx = ServerInvite::new(now, invite.clone(), true, self.timers);
                let response = response_to(&invite, 500, "Server Internal Error", None);
                let _ = tx.send_response(now, response);
                self.phase = Phase::Done(Some(tx));
                self.end(EndCause::Broken {
                    code: 500,
                    reason: "Server Internal Error".to_owned(),
                });
            }
        }
        self.drain();
        Ok(())
    }

    /// Declines while ringing: 486 Busy Here (see the module documentation).
    /// Does nothing in any other state.
    pub fn decline(&mut self, now: Instant) {
        if self.ended || !matches!(self.phase, Phase::Ringing(_)) {
            return;
        }
        self.finish_ringing(now, 486, "Busy Here");
        self.end(EndCause::Local);
        self.drain();
    }

    /// Declines while ringing, BYE once answered.
    pub fn hangup(&mut self, now: Instant) {
        match &mut self.phase {
            Phase::Ringing(_) => self.decline(now),
            Phase::Answered(call) => {
                call.hangup(now);
                self.drain();
            }
            Phase::Done(_) => {}
        }
    }

    /// Hold or resume: a re-INVITE, as for an outbound call.
    pub fn reoffer(
        &mut self,
        now: Instant,
        reoffer: Reoffer,
        offer: String,
    ) -> Result<(), CallError> {
        let Phase::Answered(call) = &mut self.phase else {
            return Err(CallError::NotConnected);
        };
        // A re-INVITE before the ACK would cross our 200 (§14.1).
        if call.awaiting_ack() {
            return Err(CallError::Busy);
        }
        let result = call.reoffer(now, reoffer, offer);
        self.drain();
        result
    }

    /// The browser's answer to a re-INVITE offer from the gateway.
    pub fn accept_offer(&mut self, now: Instant, answer: String) -> Result<(), CallError> {
        let Phase::Answered(call) = &mut self.phase else {
            return Err(CallError::NoOfferPending);
        };
        let result = call.accept_offer(now, answer);
        self.drain();
        result
    }

    /// The browser could not take a re-INVITE offer: 488.
    pub fn reject_offer(&mut self, now: Instant) -> Result<(), CallError> {
        let Phase::Answered(call) = &mut self.phase else {
            return Err(CallError::NoOfferPending);
        };
        let result = call.reject_offer(now);
        self.drain();
        result
    }

    /// The WebSocket closed while the gateway may keep the call: see
    /// [`Call::link_lost`]. `true` when the call stays up.
    pub fn link_lost(&mut self) -> bool {
        let kept = match &mut self.phase {
            Phase::Answered(call) => call.link_lost(),
            _ => false,
        };
        if !kept {
            self.transport_lost();
            return false;
        }
        self.drain();
        self.transmits.clear();
        true
    }

    /// The WebSocket closed: the gateway drops the call with it.
    pub fn transport_lost(&mut self) {
        if let Phase::Answered(call) = &mut self.phase {
            call.transport_lost();
        } else {
            self.phase = Phase::Done(None);
        }
        self.transmits.clear();
        self.end(EndCause::TransportLost);
        self.drain();
        self.transmits.clear();
    }

    /// A response with this call's Call-ID (to our BYE or re-INVITE).
    pub fn handle_response(
        &mut self,
        now: Instant,
        response: rsip::Response,
        reason: Option<&str>,
    ) {
        if let Phase::Answered(call) = &mut self.phase {
            call.handle_response(now, response, reason);
            self.drain();
        }
    }

    /// A request with this call's Call-ID: INVITE retransmissions, CANCEL,
    /// ACK, and once answered every in-dialog request.
    pub fn handle_request(&mut self, now: Instant, request: rsip::Request) {
        let DialogIds {
            from_tag,
            to_tag,
            seq,
        } = DialogIds::of(&request);
        let same_transaction =
            seq == Some(self.invite_seq) && from_tag.as_deref() == Some(self.remote_tag.as_str());
        match request.method {
            // §9.2: a CANCEL names the INVITE by its CSeq number and tags
            // (its To has no tag, like the INVITE's).
            rsip::Method::Cancel if same_transaction && to_tag.is_none() => {
                self.respond(&request, 200, "OK");
                if matches!(self.phase, Phase::Ringing(_)) {
                    self.finish_ringing(now, 487, "Request Terminated");
                    let answered_elsewhere = answered_elsewhere(&request);
                    self.end(EndCause::Cancelled { answered_elsewhere });
                }
                // Answered already: the 200 crossed the CANCEL, which has
                // no effect (§9.2); Done: nothing left to cancel.
            }
            // A retransmission of the INVITE.
            rsip::Method::Invite if same_transaction && to_tag.is_none() => match &mut self.phase {
                Phase::Ringing(tx) | Phase::Done(Some(tx)) => tx.handle_request(now, request),
                // Our 200 goes on its own schedule until the ACK.
                Phase::Answered(_) | Phase::Done(None) => {}
            },
            _ => match &mut self.phase {
                Phase::Answered(call) => call.handle_request(now, request),
                Phase::Done(Some(tx)) if request.method == rsip::Method::Ack => {
                    tx.handle_request(now, request);
                }
                Phase::Ringing(_) | Phase::Done(_) => {
                    if request.method == rsip::Method::Ack {
                        return;
                    }
                    if request.method == rsip::Method::Options {
                        let mut response = response_to(&request, 200, "OK", Some(&self.local_tag));
                        response
                            .headers
                            .push(rsip::headers::Allow::new(ALLOW).into());
                        self.transmits.push_back(response.into());
                    } else {
                        self.respond(&request, 481, "Call/Transaction Does Not Exist");
                    }
                }
            },
        }
        self.drain();
    }

    /// Fires the timers due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        match &mut self.phase {
            Phase::Ringing(tx) | Phase::Done(Some(tx)) => {
                if tx.poll_timeout().is_some_and(|at| at <= now) {
                    tx.handle_timeout(now);
                }
            }
            Phase::Answered(call) => {
                if call.poll_timeout().is_some_and(|at| at <= now) {
                    call.handle_timeout(now);
                }
            }
            Phase::Done(None) => {}
        }
        self.drain();
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.phase {
            Phase::Ringing(tx) | Phase::Done(Some(tx)) => tx.poll_timeout(),
            Phase::Answered(call) => call.poll_timeout(),
            Phase::Done(None) => None,
        }
    }

    /// The next message to send, as one WebSocket text frame.
    pub fn poll_transmit(&mut self) -> Option<rsip::SipMessage> {
        self.transmits.pop_front()
    }

    /// News for the shell: [`CallEvent::Answered`] (the ACK came),
    /// re-INVITE and hold news as for an outbound call, and
    /// [`CallEvent::Ended`] once (cancelled, declined, BYE, …).
    pub fn poll_event(&mut self) -> Option<CallEvent> {
        self.events.pop_front()
    }

    /// 486 or 487 to the INVITE while ringing; the transaction then waits
    /// for the ACK.
    fn finish_ringing(&mut self, now: Instant, code: u16, reason: &str) {
        let Phase::Ringing(tx) = &mut self.phase else {
            return;
        };
        let response = response_to(tx.request(), code, reason, Some(&self.local_tag));
        // A final response is allowed in Proceeding, the Ringing state.
        let _ = tx.send_response(now, response);
        if let Phase::Ringing(tx) = std::mem::replace(&mut self.phase, Phase::Done(None)) {
            self.phase = Phase::Done(Some(tx));
        }
    }

    fn drain(&mut self) {
        let mut call_events = Vec::new();
        match &mut self.phase {
            Phase::Ringing(tx) | Phase::Done(Some(tx)) => {
                while let Some(message) = tx.poll_transmit() {
                    self.transmits.push_back(message);
                }
                let mut terminated = false;
                while let Some(event) = tx.poll_event() {
                    terminated |= matches!(event, TxEvent::Terminated);
                }
                if terminated && matches!(self.phase, Phase::Done(_)) {
                    self.phase = Phase::Done(None);
                }
            }
            Phase::Answered(call) => {
                while let Some(message) = call.poll_transmit() {
                    self.transmits.push_back(message);
                }
                while let Some(event) = call.poll_event() {
                    call_events.push(event);
                }
                if !self.confirmed && !call.awaiting_ack() && call.state() == CallState::Connected {
                    self.confirmed = true;
                    self.events.push_back(CallEvent::Answered);
                }
            }
            Phase::Done(None) => {}
        }
        for event in call_events {
            match event {
                CallEvent::Ended(cause) => self.end(cause),
                other if !self.ended => self.events.push_back(other),
                _ => {}
            }
        }
    }

    fn respond(&mut self, request: &rsip::Request, code: u16, reason: &str) {
        let response = response_to(request, code, reason, Some(&self.local_tag));
        self.transmits.push_back(response.into());
    }

    fn end(&mut self, cause: EndCause) {
        if !self.ended {
            self.ended = true;
            self.events.push_back(CallEvent::Ended(cause));
        }
    }
}

/// `Reason: SIP;cause=200;text="Call completed elsewhere"` (RFC 3326; its
/// use in CANCEL per RFC 3326 §2 and RFC 9410's wording): another phone of
/// the agent took the call, so it is not a missed call.
fn answered_elsewhere(cancel: &rsip::Request) -> bool {
    cancel.headers.iter().any(|h| match h {
        rsip::Header::Other(name, value) if name.trim().eq_ignore_ascii_case("Reason") => {
            value.split(',').any(|reason| {
                let mut parts = reason.split(';').map(str::trim);
                let protocol = parts.next().unwrap_or_default();
                protocol.eq_ignore_ascii_case("SIP")
                    && parts.any(|p| {
                        p.split_once('=').is_some_and(|(n, v)| {
                            n.trim().eq_ignore_ascii_case("cause") && v.trim() == "200"
                        })
                    })
            })
        }
        _ => false,
    })
}

/// The value of a header rsip does not know (`X-Dialer-DID`), trimmed, if
/// it is non-empty text.
fn other_header(request: &rsip::Request, wanted: &str) -> Option<String> {
    request.headers.iter().find_map(|h| match h {
        rsip::Header::Other(name, value)
            if name.trim().eq_ignore_ascii_case(wanted)
                && !value.trim().is_empty()
                && !value.chars().any(char::is_control) =>
        {
            Some(value.trim().to_owned())
        }
        _ => None,
    })
}

/// The caller's number: the user part of the From URI.
fn caller_of(invite: &rsip::Request) -> String {
    let Some(from) = invite.from_header().ok() else {
        return String::new();
    };
    let value = from.value();
    let uri = match (value.find('<'), value.rfind('>')) {
        (Some(open), Some(close)) if open < close => &value[open + 1..close],
        _ => value.split(';').next().unwrap_or_default(),
    };
    let without_scheme = uri
        .trim()
        .split_once(':')
        .map_or(uri.trim(), |(_, rest)| rest);
    match without_scheme.split_once('@') {
        Some((user, _)) => user.split(';').next().unwrap_or(user).to_owned(),
        None => without_scheme
            .split(';')
            .next()
            .unwrap_or_default()
            .to_owned(),
    }
}

/// The display name of From, unquoted, if any.
fn display_name_of(invite: &rsip::Request) -> Option<String> {
    let from = invite.from_header().ok()?;
    let value = from.value();
    let name = value.get(..value.find('<')?)?.trim();
    let name = name
        .strip_prefix('"')
        .and_then(|n| n.strip_suffix('"'))
        .map_or_else(
            || name.to_owned(),
            |n| n.replace("\\\"", "\"").replace("\\\\", "\\"),
        );
    (!name.is_empty() && !name.chars().any(char::is_control)).then_some(name)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
