//! The ringing tabs of an inbound call: their answers, the winner, and
//! CANCEL for the others.

use rsip::prelude::*;
use shared::sip::dialog;
use shared::sip::response::response_to;
use shared::sip::transaction::{ack_for_non_2xx, cancel_for};

use super::{Fork, ForkState, InPhase, InboundCall, OkRetransmit};
use crate::sip::b2bua::call::Env;
use crate::sip::b2bua::outbound::browser_via;
use crate::sip::core::Destination;
use crate::sip::{ConnId, Now, is_reliable, msg};

/// The Reason of a CANCEL or BYE sent to a tab that lost the race.
const ANSWERED_ELSEWHERE: &str = "SIP;cause=200;text=\"Call completed elsewhere\"";

impl InboundCall {
    /// A response over a browser connection. Returns false when it belongs
    /// to none of this call's tabs.
    pub fn handle_browser_response(
        &mut self,
        now: Now,
        conn: ConnId,
        response: &rsip::Response,
        env: &mut Env,
    ) -> bool {
        let Some(index) = self.fork_of(&response.headers, conn) else {
            return false;
        };
        let is_invite = response
            .cseq_header()
            .ok()
            .and_then(|c| c.method().ok())
            .is_some_and(|m| m == rsip::Method::Invite);
        let cseq = msg::cseq_number(&response.headers).unwrap_or(1);
        if !is_invite || cseq != 1 {
            // Answers to our BYE, CANCEL or in-dialog requests: nothing waits.
            return true;
        }
        let code = response.status_code.code();
        let to = Destination::Conn(conn);
        let domain = env.config.domain.clone();
        let fork = &mut self.forks[index];
        match code {
            100..=199 => {
                if let Some(reason) = fork.cancel_pending.take() {
                    let reason = (!reason.is_empty()).then_some(reason);
                    if let Some(cancel) = cancel_of(fork, reason) {
                        self.out.send_msg(to, cancel);
                    }
                } else if fork.state == ForkState::Calling {
                    fork.state = ForkState::Ringing;
                }
            }
            200..=299 => {
                fork.dialog.learn_from_response(response);
                fork.dialog.route_set.clear();
                let mut ack = fork.dialog.request(
                    rsip::Method::Ack,
                    1,
                    &browser_via(&domain),
                    &format!("{}ack", fork.branch),
                );
                dialog::finish(&mut ack, None);
                self.out.send_msg(to, ack);
                if self.phase != InPhase::Ringing || self.winner.is_some() {
                    // A second tab answered too late: hang it up.
                    self.bye_fork(index, Some(ANSWERED_ELSEWHERE), &domain);
                    return true;
                }
                self.answered(now, index, response, env);
            }
            _ => {
                // ACK for a non-2xx final: same branch as the INVITE.
                match ack_for_non_2xx(&fork.invite, response) {
                    Ok(ack) => self.out.send_msg(to, ack),
                    Err(e) => {
                        tracing::debug!(call = self.id.0, error = %e, "no ACK for a tab's answer")
                    }
                }
                let fork = &mut self.forks[index];
                fork.state = ForkState::Done;
                fork.cancel_pending = None;
                if matches!(code, 486 | 600 | 603) {
                    self.declined = Some(if code == 603 { 603 } else { 486 });
                }
                self.after_fork_done(now, env);
            }
        }
        true
    }

    /// BYE to one tab (`reason`: a Reason header value).
    pub(super) fn bye_fork(&mut self, index: usize, reason: Option<&str>, domain: &str) {
        let Some(fork) = self.forks.get_mut(index) else {
            return;
        };
        fork.state = ForkState::Done;
        let cseq = fork.dialog.cseq + 1;
        let branch = format!("{}bye{cseq}", fork.branch);
        let mut bye = fork
            .dialog
            .next_request(rsip::Method::Bye, &browser_via(domain), &branch);
        if let Some(reason) = reason {
            dialog::push_header(&mut bye, "Reason", reason);
        }
        dialog::finish(&mut bye, None);
        self.out.send_msg(Destination::Conn(fork.target.conn), bye);
    }

    /// A tab stopped ringing: when none of the step rings, the next step.
    pub(super) fn after_fork_done(&mut self, now: Now, env: &mut Env) {
        let ringing = self
            .forks
            .iter()
            .any(|f| matches!(f.state, ForkState::Calling | ForkState::Ringing));
        if self.phase == InPhase::Ringing && self.winner.is_none() && !ringing {
            self.next_ring_step(now, env);
        }
    }

    /// CANCELs every tab still ringing (`reason`: a Reason header value).
    pub(super) fn cancel_forks(&mut self, reason: Option<&'static str>) {
        for fork in self.forks.iter_mut() {
            match fork.state {
                ForkState::Ringing => {
                    if let Some(cancel) = cancel_of(fork, reason) {
                        self.out
                            .send_msg(Destination::Conn(fork.target.conn), cancel);
                    }
                    fork.state = ForkState::Done;
                }
                ForkState::Calling => {
                    fork.cancel_pending = Some(reason.unwrap_or(""));
                    fork.state = ForkState::Done;
                }
                ForkState::Answered | ForkState::Done => {}
            }
        }
    }

    /// Tab `index` answered first: it wins, the carrier gets our 200.
    fn answered(&mut self, now: Now, index: usize, response: &rsip::Response, env: &mut Env) {
        let sdp = msg::sdp_body(&response.headers, &response.body).unwrap_or_default();
        if let Err(f) = env.media.browser_answer(self.id, &sdp) {
            // This tab's answer is unusable: hang it up, keep the others ringing.
            self.life.record.final_reason = f.reason;
            let domain = env.config.domain.clone();
            self.bye_fork(index, None, &domain);
            self.after_fork_done(now, env);
            return;
        }
        self.winner = Some(index);
        self.phase = InPhase::Answered;
        self.ring_deadline = None;
        self.step_deadline = None;
        let fork = &mut self.forks[index];
        fork.state = ForkState::Answered;
        let rec = &mut self.life.record;
        rec.account_id = Some(fork.target.account_id);
        rec.agent = Some(fork.target.username.clone());
        rec.answered_at = Some(now.unix_ms);
        rec.final_code = 200;
        rec.final_reason = "OK".to_owned();
        self.cancel_forks(Some(ANSWERED_ELSEWHERE));
        let mut ok = response_to(&self.invite, 200, "OK", Some(&self.tag));
        for rr in msg::header_values(&self.invite.headers, "Record-Route") {
            ok.headers
                .push(rsip::Header::Other("Record-Route".into(), rr));
        }
        ok.headers
            .push(rsip::headers::Contact::new(self.carrier_contact(env)).into());
        msg::set_body(&mut ok, "application/sdp", &self.carrier_answer);
        let bytes = ok.to_string().into_bytes();
        self.last_response = bytes.clone();
        if !is_reliable(self.reply) {
            let t1 = env.config.timers.t1;
            self.ok = Some(OkRetransmit {
                bytes: bytes.clone(),
                next: now.instant + t1,
                interval: t1,
                give_up: now.instant + t1 * 64,
            });
        }
        self.out.send(self.reply, bytes);
        let live = self.live();
        self.life.answered(&mut self.out, live);
    }
}

/// CANCEL for a tab's INVITE (RFC 3261 §9.1: its Request-URI, Call-ID,
/// From, To, CSeq number and Via branch), with a Reason.
fn cancel_of(fork: &Fork, reason: Option<&str>) -> Option<rsip::Request> {
    let mut cancel = match cancel_for(&fork.invite) {
        Ok(c) => c,
        Err(e) => {
            // Our own INVITE always has what a CANCEL copies.
            tracing::warn!(error = %e, "no CANCEL could be made for a tab's INVITE");
            return None;
        }
    };
    if let Some(reason) = reason {
        // cancel_for ends with Content-Length; the Reason goes before it.
        let at = cancel.headers.iter().count().saturating_sub(1);
        let mut headers: Vec<rsip::Header> = cancel.headers.iter().cloned().collect();
        headers.insert(at, rsip::Header::Other("Reason".into(), reason.to_owned()));
        cancel.headers = headers.into();
    }
    Some(cancel)
}
