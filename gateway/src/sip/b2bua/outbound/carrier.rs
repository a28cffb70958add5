//! An outbound call's carrier leg: our INVITE (with digest retry), the
//! carrier's answers (provisional, early media, 2xx from one fork or
//! several, failures), ACK and BYE for 2xx dialogs, and failover to the
//! next carrier.

use rsip::prelude::*;
use shared::api::HangupBy;
use shared::e164::E164;
use shared::sip::dialog::{self, Dialog};
use shared::sip::digest::{self, Challenge};
use shared::sip::response::response_to;
use shared::sip::transaction::{TransactionKey, TxEvent};
use shared::sip::validate::ALLOW;

use super::{
    CarrierLeg, OutboundCall, Phase, Purpose, browser_contact, carrier_contact, carrier_via,
};
use crate::sip::b2bua::call::{CallOutput, Env};
use crate::sip::b2bua::caller_id::format_number;
use crate::sip::b2bua::port::MediaFailure;
use crate::sip::b2bua::route::{self, Route};
use crate::sip::b2bua::{reason_of, record};
use crate::sip::core::Destination;
use crate::sip::{Now, carrier_dest, host_port, msg};

impl OutboundCall {
    // ---------------------------------------------------------------
    // The carrier leg
    // ---------------------------------------------------------------

    /// Builds our INVITE (a new transaction) for the current carrier.
    pub(super) fn send_carrier_invite(
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

    pub(super) fn on_tx_events(
        &mut self,
        now: Now,
        events: Vec<(Purpose, TxEvent)>,
        env: &mut Env,
    ) {
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
                (Purpose::ReInvite, TxEvent::Response(r))
                    if (200..300).contains(&r.status_code.code()) =>
                {
                    self.ack_carrier(&r, env);
                }
                (Purpose::ReInvite | Purpose::Bye | Purpose::Cancel, TxEvent::Timeout)
                | (Purpose::ReInvite | Purpose::Bye | Purpose::Cancel, TxEvent::TransportError) => {
                    tracing::debug!(
                        call = self.id.0,
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
    pub(super) fn fail_over(&mut self, now: Now, env: &mut Env) -> bool {
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
                    tracing::debug!(call = self.id.0, carrier = %candidate.name, reason = %f.reason,
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
pub(super) fn new_carrier_leg(
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
