//! An inbound call's requests inside the call (from the answering tab and
//! from the carrier), what the media says back, timers, and the ways the
//! call ends.

use std::time::Duration;

use rsip::prelude::*;
use shared::api::HangupBy;
use shared::ids::AccountId;
use shared::sip::dialog;
use shared::sip::response::response_to;
use shared::sip::transaction::TxEvent;

use super::{ForkState, InPhase, InboundCall, Purpose};
use crate::sip::b2bua::call::Env;
use crate::sip::b2bua::outbound::browser_contact;
use crate::sip::b2bua::port::{MediaCounts, SilentLeg};
use crate::sip::core::Destination;
use crate::sip::{ConnId, Now, msg};

impl InboundCall {
    /// A request from a tab in this call. Returns false when it belongs to
    /// none of its tabs.
    pub fn handle_browser_request(
        &mut self,
        now: Now,
        conn: ConnId,
        account: Option<AccountId>,
        request: &rsip::Request,
        env: &mut Env,
    ) -> bool {
        let Some(index) = self
            .fork_of(&request.headers, conn)
            .or_else(|| self.reattach(&request.headers, conn, account))
        else {
            return false;
        };
        let is_winner = self.winner == Some(index) && self.phase == InPhase::Answered;
        let fork_tag = msg::tag(&self.forks[index].dialog.local).unwrap_or_default();
        let reply = |call: &mut Self, code: u16, reason: &str| {
            let r = response_to(request, code, reason, Some(&fork_tag));
            call.out.send_msg(Destination::Conn(conn), r);
        };
        match request.method() {
            rsip::Method::Ack => {}
            rsip::Method::Bye => {
                reply(self, 200, "OK");
                if is_winner {
                    self.life.record.hangup_by = HangupBy::Agent;
                    self.life.record.final_reason = "Hung up by the agent".to_owned();
                    self.bye_carrier(now, None, env);
                    self.end(now, env);
                }
            }
            rsip::Method::Invite if is_winner => {
                let Some(sdp) = msg::sdp_body(&request.headers, &request.body) else {
                    reply(self, 488, "Not Acceptable Here (an SDP offer is required)");
                    return true;
                };
                self.held = msg::sdp_direction(&sdp) != "sendrecv";
                self.pending_reinvite = Some(request.clone());
                env.media.browser_reoffer(self.id, &sdp);
                env.media.set_hold(self.id, self.held);
            }
            rsip::Method::Info | rsip::Method::Options => reply(self, 200, "OK"),
            _ => reply(self, 481, "Call/Transaction Does Not Exist"),
        }
        true
    }

    /// The media's answer to a re-INVITE of the answering tab.
    pub fn media_browser_answer(&mut self, result: Result<String, String>, env: &Env) {
        let Some(request) = self.pending_reinvite.take() else {
            return;
        };
        let Some(fork) = self.winner.and_then(|w| self.forks.get(w)) else {
            return;
        };
        let tag = msg::tag(&fork.dialog.local).unwrap_or_default();
        let r = match result {
            Ok(sdp) => {
                let mut r = response_to(&request, 200, "OK", Some(&tag));
                r.headers
                    .push(rsip::headers::Contact::new(browser_contact(&env.config.domain)).into());
                msg::set_body(&mut r, "application/sdp", &sdp);
                r
            }
            Err(e) => response_to(
                &request,
                488,
                &format!("Not Acceptable Here ({e})"),
                Some(&tag),
            ),
        };
        self.out.send_msg(Destination::Conn(fork.target.conn), r);
    }

    /// A request from the carrier in this call (ACK, CANCEL, BYE,
    /// re-INVITE, a retransmitted INVITE). Returns false when it is not
    /// this call's (another source, another Call-ID).
    pub fn handle_carrier_request(
        &mut self,
        now: Now,
        peer: std::net::SocketAddr,
        reply: Destination,
        request: &rsip::Request,
        env: &mut Env,
    ) -> bool {
        let call_id = msg::header(&request.headers, "Call-ID").unwrap_or_default();
        if self.peer_ip != peer.ip() || self.dialog.call_id != call_id {
            return false;
        }
        let has_to_tag = msg::header(&request.headers, "To")
            .and_then(|t| msg::tag(&t))
            .is_some();
        let tag = self.tag.clone();
        let respond = |call: &mut Self, env: &Env, code: u16, reason: &str, body: Option<&str>| {
            let mut r = response_to(request, code, reason, Some(&tag));
            if let Some(body) = body {
                r.headers
                    .push(rsip::headers::Contact::new(call.carrier_contact(env)).into());
                msg::set_body(&mut r, "application/sdp", body);
            }
            call.out.send_msg(reply, r);
        };
        match request.method() {
            rsip::Method::Ack => self.ok = None,
            rsip::Method::Invite if !has_to_tag => {
                // A retransmission: the last response again.
                if !self.last_response.is_empty() {
                    self.out.send(reply, self.last_response.clone());
                }
            }
            rsip::Method::Cancel => {
                respond(self, env, 200, "OK", None);
                if self.phase == InPhase::Ringing {
                    self.fail(
                        now,
                        487,
                        "Request Terminated (the caller hung up)",
                        HangupBy::Remote,
                        env,
                    );
                }
            }
            rsip::Method::Bye => {
                respond(self, env, 200, "OK", None);
                self.life.record.hangup_by = HangupBy::Remote;
                self.life.record.final_reason = "Hung up by the caller".to_owned();
                if self.phase == InPhase::Answered {
                    self.bye_winner(None, env);
                    self.end(now, env);
                } else {
                    self.fail(
                        now,
                        487,
                        "Request Terminated (the caller hung up)",
                        HangupBy::Remote,
                        env,
                    );
                }
            }
            rsip::Method::Invite => {
                // The carrier holds or resumes (an SRTP leg follows a new key).
                let offer = msg::sdp_body(&request.headers, &request.body);
                if let Some(sdp) = &offer {
                    env.media.carrier_reoffer(self.id, sdp);
                }
                let direction = offer
                    .map(|s| msg::answer_direction(msg::sdp_direction(&s)))
                    .unwrap_or("sendrecv");
                self.sdp_version += 1;
                let sdp =
                    msg::sdp_with_direction(&self.carrier_answer, direction, self.sdp_version);
                env.media.set_hold(self.id, direction != "sendrecv");
                respond(self, env, 200, "OK", Some(&sdp));
            }
            rsip::Method::Options | rsip::Method::Info => respond(self, env, 200, "OK", None),
            _ => respond(self, env, 501, "Not Implemented", None),
        }
        true
    }

    /// A response from the carrier to our BYE. Returns false when it is
    /// none of this call's.
    pub fn handle_carrier_response(&mut self, now: Now, response: rsip::Response) -> bool {
        match self
            .txs
            .handle_response(now.instant, response, &mut self.out)
        {
            Some(events) => {
                self.log_tx_events(events);
                true
            }
            None => false,
        }
    }

    /// Nothing can reach `dest`.
    pub fn transport_failed(&mut self, now: Now, dest: Destination) {
        let events = self.txs.transport_failed(now.instant, dest, &mut self.out);
        self.log_tx_events(events);
    }

    fn log_tx_events(&self, events: Vec<(Purpose, TxEvent)>) {
        for (purpose, event) in events {
            if matches!(event, TxEvent::Timeout | TxEvent::TransportError) {
                tracing::debug!(
                    call = self.id.0,
                    ?purpose,
                    "the carrier did not answer our request"
                );
            }
        }
    }

    /// BYE to the carrier in the answered call (with a Reason header value).
    fn bye_carrier(&mut self, now: Now, reason: Option<&str>, env: &mut Env) {
        let branch = env.token(16);
        let via = self.carrier_via(env);
        let mut bye = self.dialog.next_request(rsip::Method::Bye, &via, &branch);
        if let Some(reason) = reason {
            dialog::push_header(&mut bye, "Reason", reason);
        }
        dialog::finish(&mut bye, None);
        let events = self
            .txs
            .start(now.instant, Purpose::Bye, bye, self.reply, &mut self.out);
        self.log_tx_events(events);
    }

    /// BYE to the tab that answered.
    fn bye_winner(&mut self, reason: Option<&str>, env: &Env) {
        if let Some(index) = self.winner {
            let domain = env.config.domain.clone();
            self.bye_fork(index, reason, &domain);
        }
    }

    /// Hangs up both legs of the answered call for `reason`.
    fn hang_up_answered(&mut self, now: Now, reason: &str, by: HangupBy, env: &mut Env) {
        self.life.record.hangup_by = by;
        self.life.record.final_reason = reason.to_owned();
        let why = format!("SIP;cause=200;text=\"{}\"", reason.replace('"', "'"));
        self.bye_winner(Some(&why), env);
        self.bye_carrier(now, Some(&why), env);
        self.end(now, env);
    }

    /// Ends a call that was never answered: the final status to the
    /// carrier, CANCEL to every ringing tab.
    pub(super) fn fail(&mut self, now: Now, code: u16, reason: &str, by: HangupBy, env: &mut Env) {
        self.cancel_forks(None);
        if self.phase != InPhase::Ringing {
            return;
        }
        let r = response_to(&self.invite, code, reason, Some(&self.tag));
        let bytes = r.to_string().into_bytes();
        self.last_response = bytes.clone();
        let rec = &mut self.life.record;
        rec.final_code = code;
        rec.final_reason = reason.to_owned();
        rec.hangup_by = by;
        self.out.send(self.reply, bytes);
        self.end(now, env);
    }

    /// Signalling is over: stop the media and wait for its counts.
    fn end(&mut self, now: Now, env: &mut Env) {
        if self.phase == InPhase::Ended {
            return;
        }
        self.phase = InPhase::Ended;
        self.ring_deadline = None;
        self.step_deadline = None;
        self.ok = None;
        self.life.end(self.id, &now, env, &mut self.out);
    }

    // ---------------------------------------------------------------
    // Media, connections, time
    // ---------------------------------------------------------------

    pub fn media_stopped(
        &mut self,
        now: Now,
        counts: MediaCounts,
        failure: Option<String>,
        env: &mut Env,
    ) {
        self.life.media_reported(counts);
        match self.phase {
            InPhase::Ended => {}
            InPhase::Answered => {
                let reason = format!("Media failure ({})", failure.unwrap_or_default());
                self.life.record.hangup_by = HangupBy::Gateway;
                self.life.record.final_reason = reason;
                self.bye_winner(None, env);
                self.bye_carrier(now, None, env);
                self.end(now, env);
            }
            InPhase::Ringing => {
                let reason = format!(
                    "Server Internal Error (media failure: {})",
                    failure.unwrap_or_default()
                );
                self.fail(now, 500, &reason, HangupBy::Gateway, env);
            }
        }
        self.life.finish(&mut self.out);
    }

    pub fn media_no_media(
        &mut self,
        now: Now,
        silent_for: Duration,
        leg: SilentLeg,
        env: &mut Env,
    ) {
        if self.phase != InPhase::Answered {
            return;
        }
        let reason = format!(
            "No media {} for {} s",
            leg.from_words(),
            silent_for.as_secs()
        );
        self.hang_up_answered(now, &reason, HangupBy::Gateway, env);
    }

    /// The answering agent's phone came back on `conn` (signed in as
    /// `account`) with a request of this call: the winning tab moves
    /// there. Anyone else's connection, or a call not up, gets nothing.
    fn reattach(
        &mut self,
        headers: &rsip::Headers,
        conn: ConnId,
        account: Option<AccountId>,
    ) -> Option<usize> {
        let call_id = msg::header(headers, "Call-ID")?;
        let index = self.winner.filter(|_| self.phase == InPhase::Answered)?;
        let fork = self.forks.get_mut(index)?;
        if fork.dialog.call_id != call_id || account != Some(fork.target.account_id) {
            return None;
        }
        tracing::info!(
            call = self.id.0,
            waited = self.reconnect_deadline.is_some(),
            "the agent's phone is back on a new connection"
        );
        fork.target.conn = conn;
        self.reconnect_deadline = None;
        Some(index)
    }

    /// A browser connection closed: its tabs stop ringing; if it held the
    /// answered call, the carrier leg waits `reconnect_grace` for the
    /// phone to come back ([`Self::reattach`]).
    pub fn connection_closed(&mut self, now: Now, conn: ConnId, env: &mut Env) {
        let winner_lost = self
            .winner
            .and_then(|w| self.forks.get(w))
            .is_some_and(|f| f.target.conn == conn);
        let grace = env.config.reconnect_grace;
        if winner_lost && self.phase == InPhase::Answered && !grace.is_zero() {
            tracing::info!(
                call = self.id.0,
                grace_s = grace.as_secs(),
                "the agent's connection dropped mid-call; waiting for the phone"
            );
            self.reconnect_deadline = Some(now.instant + grace);
            return;
        }
        if winner_lost && self.phase == InPhase::Answered {
            self.life.record.hangup_by = HangupBy::Agent;
            self.life.record.final_reason = "The agent's connection was lost".to_owned();
            self.bye_carrier(now, None, env);
            self.end(now, env);
            return;
        }
        let mut changed = false;
        for fork in self.forks.iter_mut() {
            if fork.target.conn == conn
                && matches!(fork.state, ForkState::Calling | ForkState::Ringing)
            {
                fork.state = ForkState::Done;
                changed = true;
            }
        }
        if changed {
            self.after_fork_done(now, env);
        }
    }

    /// The gateway is shutting down.
    pub fn hang_up(&mut self, now: Now, env: &mut Env) {
        match self.phase {
            InPhase::Answered => {
                self.life.record.hangup_by = HangupBy::Gateway;
                self.life.record.final_reason = "The gateway is shutting down".to_owned();
                self.bye_winner(None, env);
                self.bye_carrier(now, None, env);
                self.end(now, env);
            }
            InPhase::Ringing => self.fail(
                now,
                503,
                "Service Unavailable (the gateway is shutting down)",
                HangupBy::Gateway,
                env,
            ),
            InPhase::Ended => {}
        }
    }

    /// Timers: our 2xx until the ACK, the ring limits, the media counts.
    pub fn handle_timeout(&mut self, now: Now, env: &mut Env) {
        let events = self.txs.handle_timeout(now.instant, &mut self.out);
        self.log_tx_events(events);
        if let Some(ok) = &mut self.ok
            && ok.next <= now.instant
        {
            if now.instant >= ok.give_up {
                // No ACK for our 2xx (RFC 3261 §13.3.1.4): hang up.
                self.ok = None;
                self.life.record.hangup_by = HangupBy::Gateway;
                self.life.record.final_reason = "The carrier never acknowledged the answer".into();
                self.bye_winner(None, env);
                self.bye_carrier(now, None, env);
                self.end(now, env);
                return;
            }
            let bytes = ok.bytes.clone();
            ok.interval = (ok.interval * 2).min(env.config.timers.t2);
            ok.next = now.instant + ok.interval;
            self.out.send(self.reply, bytes);
            return;
        }
        if self.ring_deadline.is_some_and(|d| d <= now.instant) {
            self.fail(
                now,
                480,
                "Temporarily Unavailable (nobody answered)",
                HangupBy::Gateway,
                env,
            );
            return;
        }
        if self.step_deadline.is_some_and(|d| d <= now.instant) {
            self.step_deadline = None;
            self.cancel_forks(None);
            self.after_fork_done(now, env);
            return;
        }
        if self.reconnect_deadline.is_some_and(|d| d <= now.instant) {
            self.reconnect_deadline = None;
            if self.phase == InPhase::Answered {
                let secs = env.config.reconnect_grace.as_secs();
                let reason =
                    format!("The agent's connection was lost and did not come back in {secs} s");
                self.hang_up_answered(now, &reason, HangupBy::Agent, env);
            }
        }
        if self.life.flush_deadline.is_some_and(|d| d <= now.instant) {
            self.life.finish(&mut self.out);
        }
    }
}
