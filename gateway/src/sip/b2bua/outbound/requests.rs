//! An outbound call's requests inside the call (from the browser and from
//! the carrier), what the media says back, and the ways the call ends.

use std::time::Duration;

use rsip::prelude::*;
use shared::api::HangupBy;
use shared::ids::AccountId;
use shared::sip::dialog;
use shared::sip::response::response_to;
use shared::sip::transaction::{TransactionKey, cancel_for};

use super::{
    OutboundCall, Phase, Purpose, browser_contact, browser_via, carrier_contact, carrier_via,
};
use crate::sip::b2bua::call::Env;
use crate::sip::b2bua::port::{MediaCounts, SilentLeg};
use crate::sip::b2bua::record;
use crate::sip::core::Destination;
use crate::sip::{ConnId, Now, carrier_dest, msg};

impl OutboundCall {
    // ---------------------------------------------------------------
    // Requests inside the call
    // ---------------------------------------------------------------

    /// A request from the browser in this call: ACK, CANCEL, BYE,
    /// re-INVITE, INFO, OPTIONS. Returns false when it is not this call's
    /// (another connection, or the carrier leg's Call-ID).
    pub fn handle_browser_request(
        &mut self,
        now: Now,
        conn: ConnId,
        account: Option<AccountId>,
        request: &rsip::Request,
        env: &mut Env,
    ) -> bool {
        let call_id = msg::header(&request.headers, "Call-ID").unwrap_or_default();
        if self.browser.dialog.call_id != call_id {
            return false;
        }
        if self.browser.conn != conn && !self.reattach(conn, account) {
            return false;
        }
        let to = Destination::Conn(conn);
        let tag = self.browser.tag.clone();
        let reply = |call: &mut Self, code: u16, reason: &str| {
            let r = response_to(request, code, reason, Some(&tag));
            call.out.send_msg(to, r);
        };
        match request.method() {
            rsip::Method::Ack => {}
            rsip::Method::Cancel => {
                if TransactionKey::for_cancel_target(request).ok() != self.browser.key {
                    reply(self, 481, "Call/Transaction Does Not Exist");
                    return true;
                }
                reply(self, 200, "OK");
                if self.browser.final_sent {
                    return true;
                }
                record::set_final(
                    &mut self.life.record,
                    487,
                    "Request Terminated (cancelled by the agent)",
                    HangupBy::Agent,
                );
                self.send_cancel(now, env);
                self.fail_call(now, 487, "Request Terminated", HangupBy::Agent, env);
            }
            rsip::Method::Bye => {
                reply(self, 200, "OK");
                match self.phase {
                    Phase::Answered => {
                        self.life.record.hangup_by = HangupBy::Agent;
                        self.life.record.final_reason = "Hung up by the agent".to_owned();
                        self.carrier_dialog_request(now, rsip::Method::Bye, None, None, env);
                        self.end(now, env);
                    }
                    Phase::Trying | Phase::Early => {
                        self.life.record.hangup_by = HangupBy::Agent;
                        self.send_cancel(now, env);
                        self.fail_call(now, 487, "Request Terminated", HangupBy::Agent, env);
                    }
                    Phase::Ended => {}
                }
            }
            rsip::Method::Invite => {
                if self.phase != Phase::Answered || self.browser.pending_reinvite.is_some() {
                    reply(self, 491, "Request Pending");
                    return true;
                }
                let Some(sdp) = msg::sdp_body(&request.headers, &request.body) else {
                    reply(self, 488, "Not Acceptable Here (re-INVITE without SDP)");
                    return true;
                };
                let direction = msg::sdp_direction(&sdp);
                self.browser.pending_reinvite = Some(request.clone());
                env.media.browser_reoffer(self.id, &sdp);
                let held = direction != "sendrecv";
                if held == self.held {
                    // Not a hold or a resume (an ICE restart after the
                    // phone reconnected): the browser leg's business only.
                    return true;
                }
                // Mirror the hold (or resume) to the carrier.
                self.held = held;
                self.carrier.sdp_version += 1;
                env.media.set_hold(self.id, self.held);
                let offer = msg::sdp_with_direction(
                    &self.carrier.offer_sdp,
                    direction,
                    self.carrier.sdp_version,
                );
                let contact = carrier_contact(env, &self.carrier.route);
                self.carrier_dialog_request(
                    now,
                    rsip::Method::Invite,
                    Some(("Contact", contact)),
                    Some(offer),
                    env,
                );
            }
            rsip::Method::Info | rsip::Method::Options => reply(self, 200, "OK"),
            _ => reply(self, 501, "Not Implemented"),
        }
        true
    }

    /// A request from the carrier in this call; answers go to `reply`.
    /// Returns false when it is not this call's (another Call-ID, or
    /// another source than the carrier's address).
    pub fn handle_carrier_request(
        &mut self,
        now: Now,
        peer: std::net::SocketAddr,
        reply: Destination,
        request: &rsip::Request,
        env: &mut Env,
    ) -> bool {
        let call_id = msg::header(&request.headers, "Call-ID").unwrap_or_default();
        if self.carrier.dialog.call_id != call_id || self.carrier.route.addr.ip() != peer.ip() {
            return false;
        }
        let key = TransactionKey::for_request(request).ok();
        let respond =
            |call: &mut Self, env: &Env, code: u16, reason: &str, body: Option<String>| {
                let mut r = response_to(request, code, reason, None);
                if let Some(body) = body {
                    let contact = carrier_contact(env, &call.carrier.route);
                    r.headers.push(rsip::headers::Contact::new(contact).into());
                    msg::set_body(&mut r, "application/sdp", &body);
                }
                call.out
                    .answer(reply, r.to_string().into_bytes(), key.clone());
            };
        match request.method() {
            rsip::Method::Ack => {}
            rsip::Method::Bye => {
                respond(self, env, 200, "OK", None);
                self.life.record.hangup_by = HangupBy::Remote;
                self.life.record.final_reason = "Hung up by the other side".to_owned();
                match self.phase {
                    Phase::Answered => {
                        self.bye_browser(None, env);
                        self.end(now, env);
                    }
                    Phase::Trying | Phase::Early => self.fail_call(
                        now,
                        487,
                        "Request Terminated (the carrier ended the call)",
                        HangupBy::Remote,
                        env,
                    ),
                    Phase::Ended => {}
                }
            }
            rsip::Method::Invite => {
                // The carrier holds or resumes: answer with our side of it.
                let offer = msg::sdp_body(&request.headers, &request.body);
                if let Some(sdp) = &offer {
                    env.media.carrier_reoffer(self.id, sdp);
                }
                let direction = offer
                    .map(|s| msg::answer_direction(msg::sdp_direction(&s)))
                    .unwrap_or("sendrecv");
                env.media.set_hold(self.id, direction != "sendrecv");
                self.carrier.sdp_version += 1;
                let sdp = msg::sdp_with_direction(
                    &self.carrier.offer_sdp,
                    direction,
                    self.carrier.sdp_version,
                );
                respond(self, env, 200, "OK", Some(sdp));
            }
            rsip::Method::Options | rsip::Method::Info => respond(self, env, 200, "OK", None),
            rsip::Method::Cancel => {
                respond(self, env, 481, "Call/Transaction Does Not Exist", None)
            }
            _ => respond(self, env, 501, "Not Implemented", None),
        }
        true
    }

    /// A request in the answered carrier dialog, as a new client
    /// transaction: BYE, or a re-INVITE with its SDP.
    fn carrier_dialog_request(
        &mut self,
        now: Now,
        method: rsip::Method,
        header: Option<(&str, String)>,
        sdp: Option<String>,
        env: &mut Env,
    ) {
        let branch = env.token(16);
        let via = carrier_via(env, &self.carrier.route);
        let mut request = self.carrier.dialog.next_request(method, &via, &branch);
        if let Some((name, value)) = header {
            dialog::push_header(&mut request, name, value);
        }
        dialog::finish(&mut request, sdp.as_deref().map(|s| ("application/sdp", s)));
        let purpose = if method == rsip::Method::Invite {
            Purpose::ReInvite
        } else {
            Purpose::Bye
        };
        let dest = carrier_dest(&self.carrier.route);
        let events = self
            .txs
            .start(now.instant, purpose, request, dest, &mut self.out);
        self.on_tx_events(now, events, env);
    }

    /// CANCEL for our INVITE, once a provisional response allows it
    /// (RFC 3261 §9.1); before that it waits.
    pub(super) fn send_cancel(&mut self, now: Now, env: &mut Env) {
        let leg = &mut self.carrier;
        if leg.cancel_sent {
            return;
        }
        if !leg.provisional_seen {
            leg.cancel_pending = true;
            return;
        }
        leg.cancel_sent = true;
        let Some(invite) = &leg.invite else {
            return;
        };
        // Our INVITE was built with every header a CANCEL copies.
        let Ok(cancel) = cancel_for(invite) else {
            tracing::warn!(call = self.id.0, "no CANCEL could be made from our INVITE");
            return;
        };
        if let Some(key) = leg.invite_key.clone() {
            self.txs.cancel_sent(now.instant, &key);
        }
        let dest = carrier_dest(&self.carrier.route);
        let events = self
            .txs
            .start(now.instant, Purpose::Cancel, cancel, dest, &mut self.out);
        self.on_tx_events(now, events, env);
    }

    // ---------------------------------------------------------------
    // What the media says
    // ---------------------------------------------------------------

    /// The media's answer to a browser re-INVITE.
    pub fn media_browser_answer(&mut self, result: Result<String, String>, env: &Env) {
        let Some(request) = self.browser.pending_reinvite.take() else {
            return;
        };
        let tag = Some(self.browser.tag.as_str());
        let r = match result {
            Ok(sdp) => {
                let mut r = response_to(&request, 200, "OK", tag);
                r.headers
                    .push(rsip::headers::Contact::new(browser_contact(&env.config.domain)).into());
                msg::set_body(&mut r, "application/sdp", &sdp);
                r
            }
            Err(e) => response_to(&request, 488, &format!("Not Acceptable Here ({e})"), tag),
        };
        self.out.send_msg(Destination::Conn(self.browser.conn), r);
    }

    /// No packets on either leg for the configured time.
    pub fn media_no_media(
        &mut self,
        now: Now,
        silent_for: Duration,
        leg: SilentLeg,
        env: &mut Env,
    ) {
        let reason = format!(
            "No media {} for {} s",
            leg.from_words(),
            silent_for.as_secs()
        );
        if self.phase == Phase::Answered {
            self.hang_up_answered(now, 200, &reason, HangupBy::Gateway, env);
        } else {
            self.cancel_with(now, 408, &format!("Request Timeout ({reason})"), env);
        }
    }

    /// The call's media ended (asked to, or by itself: an error or a panic).
    pub fn media_stopped(
        &mut self,
        now: Now,
        counts: MediaCounts,
        failure: Option<String>,
        env: &mut Env,
    ) {
        self.life.media_reported(counts);
        match self.phase {
            Phase::Ended => {}
            Phase::Answered => {
                let reason = format!("Media failure ({})", failure.unwrap_or_default());
                self.hang_up_answered(now, 200, &reason, HangupBy::Gateway, env);
            }
            Phase::Trying | Phase::Early => {
                let reason = format!(
                    "Server Internal Error (media failure: {})",
                    failure.unwrap_or_default()
                );
                self.cancel_with(now, 500, &reason, env);
            }
        }
        self.life.finish(&mut self.out);
    }

    /// The agent's phone came back on `conn` (signed in as `account`):
    /// an answered call moves its browser leg there. Anyone else's
    /// connection, or a call not up, gets nothing.
    fn reattach(&mut self, conn: ConnId, account: Option<AccountId>) -> bool {
        let ours = account.is_some() && account == self.life.record.account_id;
        if !ours || self.phase != Phase::Answered {
            return false;
        }
        tracing::info!(
            call = self.id.0,
            waited = self.reconnect_deadline.is_some(),
            "the agent's phone is back on a new connection"
        );
        self.browser.conn = conn;
        self.reconnect_deadline = None;
        true
    }

    /// A browser connection closed. Ours, while the call is up: the
    /// carrier leg waits `reconnect_grace` for the phone to come back
    /// ([`Self::reattach`]); before the answer the call ends.
    pub fn connection_closed(&mut self, now: Now, conn: ConnId, env: &mut Env) {
        if self.browser.conn != conn || self.phase == Phase::Ended {
            return;
        }
        let grace = env.config.reconnect_grace;
        if self.phase == Phase::Answered && !grace.is_zero() {
            tracing::info!(
                call = self.id.0,
                grace_s = grace.as_secs(),
                "the agent's connection dropped mid-call; waiting for the phone"
            );
            self.reconnect_deadline = Some(now.instant + grace);
            return;
        }
        self.abandon(now, "The agent's connection was lost", HangupBy::Agent, env);
    }

    // ---------------------------------------------------------------
    // Ending
    // ---------------------------------------------------------------

    /// Ends a call that is not over for `reason` (the agent's connection
    /// lost, the gateway shutting down).
    pub fn abandon(&mut self, now: Now, reason: &str, by: HangupBy, env: &mut Env) {
        match self.phase {
            Phase::Answered => self.hang_up_answered(now, 200, reason, by, env),
            Phase::Trying | Phase::Early => {
                record::set_final(
                    &mut self.life.record,
                    487,
                    &format!("Request Terminated ({reason})"),
                    by,
                );
                self.send_cancel(now, env);
                self.fail_call(
                    now,
                    503,
                    &format!("Service Unavailable ({reason})"),
                    by,
                    env,
                );
            }
            Phase::Ended => {}
        }
    }

    /// The carrier's INVITE failed (final ≥ 300, timeout, transport error):
    /// fail over where another carrier may do better, else end the call.
    pub(super) fn carrier_failed(&mut self, now: Now, code: u16, reason: &str, env: &mut Env) {
        if matches!(self.phase, Phase::Ended | Phase::Answered) {
            return;
        }
        let cancelled = self.carrier.cancel_sent || self.carrier.cancel_pending;
        self.response_deadline = None;
        let route = &self.carrier.route;
        record::attempt(
            &mut self.life.record,
            route.id,
            &route.name,
            code,
            reason,
            self.attempt_at,
        );
        // 408, 5xx and "unreachable" say nothing about the callee: another
        // carrier may do better. 4xx and 6xx are the callee's answer.
        let another_may_do_better = code == 408 || (500..600).contains(&code);
        if !cancelled
            && !self.browser.final_sent
            && another_may_do_better
            && self.fail_over(now, env)
        {
            return;
        }
        let attempts = &self.life.record.attempts;
        let reason = if attempts.len() > 1 {
            let tried: Vec<String> = attempts
                .iter()
                .map(|a| format!("{} {}", a.carrier, a.code))
                .collect();
            format!("{reason} [every carrier failed: {}]", tried.join(", "))
        } else {
            reason.to_owned()
        };
        // When we cancelled, the agent (or the gateway) ended it; the
        // record keeps the reason given when cancelling.
        let hangup_by = if cancelled {
            self.life.record.hangup_by
        } else {
            HangupBy::Remote
        };
        self.fail_call(now, code, &reason, hangup_by, env);
    }

    /// Sends the final failure to the browser (unless sent) and ends.
    pub(super) fn fail_call(
        &mut self,
        now: Now,
        code: u16,
        reason: &str,
        hangup_by: HangupBy,
        env: &mut Env,
    ) {
        if !self.browser.final_sent {
            self.browser.final_sent = true;
            let r = response_to(&self.browser.invite, code, reason, Some(&self.browser.tag));
            record::set_final(&mut self.life.record, code, reason, hangup_by);
            self.out.send_msg(Destination::Conn(self.browser.conn), r);
        }
        self.end(now, env);
    }

    /// Cancels the carrier's INVITE and fails the browser's with `code`.
    pub(super) fn cancel_with(&mut self, now: Now, code: u16, reason: &str, env: &mut Env) {
        self.send_cancel(now, env);
        if self.life.record.final_code == 0 {
            self.life.record.hangup_by = HangupBy::Gateway;
        }
        self.fail_call(now, code, reason, HangupBy::Gateway, env);
    }

    /// BYE on both legs of an answered call.
    pub(super) fn hang_up_answered(
        &mut self,
        now: Now,
        code: u16,
        reason: &str,
        hangup_by: HangupBy,
        env: &mut Env,
    ) {
        if self.phase == Phase::Ended {
            return;
        }
        let rec = &mut self.life.record;
        if rec.final_code == 0 {
            rec.final_code = code;
        }
        rec.final_reason = reason.to_owned();
        rec.hangup_by = hangup_by;
        let why = format!("SIP;cause={code};text=\"{}\"", reason.replace('"', "'"));
        self.carrier_dialog_request(
            now,
            rsip::Method::Bye,
            Some(("Reason", why.clone())),
            None,
            env,
        );
        if self.browser.final_sent {
            self.bye_browser(Some(why), env);
        } else {
            self.fail_call(now, code, reason, hangup_by, env);
        }
        self.end(now, env);
    }

    /// BYE to the browser (with a Reason header value, if any).
    fn bye_browser(&mut self, reason: Option<String>, env: &mut Env) {
        let branch = env.token(16);
        let via = browser_via(&env.config.domain);
        let mut bye = self
            .browser
            .dialog
            .next_request(rsip::Method::Bye, &via, &branch);
        if let Some(reason) = reason {
            dialog::push_header(&mut bye, "Reason", reason);
        }
        dialog::finish(&mut bye, None);
        self.out.send_msg(Destination::Conn(self.browser.conn), bye);
    }

    /// Signalling is over: stop the media and wait for its counts.
    fn end(&mut self, now: Now, env: &mut Env) {
        if self.phase == Phase::Ended {
            return;
        }
        self.phase = Phase::Ended;
        self.ring_deadline = None;
        self.response_deadline = None;
        self.life.end(self.id, &now, env, &mut self.out);
    }
}
