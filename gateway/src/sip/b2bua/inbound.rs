//! Inbound calls: a carrier's INVITE to one of our DIDs rings the agent's
//! browser tabs (or a ring group's), the first tab to answer wins.
//!
//! ```text
//!   carrier (UDP/TCP)              B2BUA                       browser tabs (WS)
//!   INVITE (RTP offer) ──►  carrier? (core) DID? targets?
//!   ◄── 100 Trying          media.start_inbound (RTP answer, WebRTC offer)
//!                           INVITE (WebRTC offer) ──────────────► tab 1, tab 2 …
//!   ◄── 180 Ringing                              ◄────────────── 180
//!                                                ◄────────────── 200 (tab 1)
//!                           ACK ────────────────────────────────► tab 1
//!                           CANCEL (Reason: call completed elsewhere) ► tab 2
//!   ◄── 200 (RTP answer)    media.browser_answer
//!   ACK ──►
//!   BYE ──► 200             BYE ─────────────────────────────────► tab 1
//!                  (or the agent's BYE, mirrored to the carrier)
//! ```
//!
//! States (`InPhase`): `Ringing ──2xx from a tab──► Answered ──BYE──► Ended`;
//! `Ringing ──caller CANCEL / nobody answers / ring timeout──► Ended`.
//!
//! The carrier leg is a UAS dialog: its INVITE is answered here, its
//! retransmissions get the last response again, our 2xx is retransmitted
//! over UDP until the ACK (RFC 3261 §13.3.1.4). Each tab is a UAC dialog of
//! its own over a reliable transport (no retransmissions; the ring timer and
//! the connection's life bound it). Requests we send the carrier inside the
//! dialog go back where its INVITE came from (the address the carrier was
//! recognised by), never to an address read from its messages.

use std::collections::VecDeque;
use std::time::Duration;

use rsip::prelude::*;
use shared::api::{CallDirection, CallRecord, HangupBy, SipTransport};
use shared::e164;
use shared::sip::Transport;
use shared::sip::response::response_to;
use shared::sip::transaction::TransactionKey;
use web_time::Instant;

use super::super::ConnId;
use super::super::Now;
use super::super::core::Destination;
use super::super::dids::{Did, DidTable, DidTarget, NumberSource, RingStrategy};
use super::{B2bua, MediaCounts, Purpose, Route, apply_counts, is_reliable};
use crate::sip::msg;

/// A browser tab that can ring: one registration binding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForkTarget {
    pub conn: ConnId,
    /// The binding's Contact URI (the Request-URI of our INVITE).
    pub contact: String,
    pub account_id: i64,
    pub username: String,
}

/// Who rings together, and for how long (`None`: until the ring timer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RingStep {
    pub targets: Vec<ForkTarget>,
    pub timeout: Option<Duration>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InPhase {
    Ringing,
    Answered,
    Ended,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ForkState {
    /// INVITE sent, nothing back yet.
    Calling,
    /// 1xx received.
    Ringing,
    Answered,
    /// Final non-2xx, cancelled, or its connection is gone.
    Done,
}

struct Fork {
    target: ForkTarget,
    call_id: String,
    branch: String,
    /// Our From, with our tag.
    local: String,
    /// The tab's To once it answered (with its tag).
    remote: String,
    remote_target: String,
    /// The INVITE as sent (CANCEL and ACK for non-2xx copy it).
    invite: String,
    state: ForkState,
    /// Cancelled before any provisional: send CANCEL once one arrives.
    cancel_pending: Option<&'static str>,
    next_cseq: u32,
}

/// Our 2xx to the carrier, resent over UDP until the ACK.
struct OkRetransmit {
    bytes: Vec<u8>,
    next: Instant,
    interval: Duration,
    give_up: Instant,
}

pub(super) struct InboundCall {
    phase: InPhase,
    /// Where the carrier's INVITE came from: responses and our requests go here.
    reply: Destination,
    /// Its source address: later requests of the call must come from there.
    pub(super) peer_ip: std::net::IpAddr,
    /// Its transport (Via of our requests).
    transport: Transport,
    invite: rsip::Request,
    /// Our To tag toward the carrier.
    tag: String,
    last_response: Vec<u8>,
    carrier_answer: String,
    sdp_version: u64,
    carrier_call_id: String,
    /// Our From in requests to the carrier (its To, with our tag).
    local: String,
    /// Its From (our To in requests).
    remote: String,
    remote_target: String,
    route_set: Vec<String>,
    next_cseq: u32,
    ok: Option<OkRetransmit>,
    browser_offer: String,
    caller: String,
    caller_name: Option<String>,
    did: String,
    did_label: String,
    steps: VecDeque<RingStep>,
    step_deadline: Option<Instant>,
    forks: Vec<Fork>,
    winner: Option<usize>,
    /// The best final status heard from the tabs so far.
    declined: Option<u16>,
    fallback_code: Option<u16>,
    ring_deadline: Option<Instant>,
    flush_deadline: Option<Instant>,
    media: bool,
    pending_reinvite: Option<rsip::Request>,
    /// The agent put the call on hold (for the live view).
    held: bool,
    pub(super) record: CallRecord,
}

/// The number the carrier says was dialled, as E.164.
pub fn dialled_number(
    request: &rsip::Request,
    from: NumberSource,
    country: &str,
) -> Option<String> {
    let raw = match from {
        NumberSource::RequestUri => msg::uri_user(&request.uri.to_string()),
        NumberSource::To => {
            msg::header(&request.headers, "To").and_then(|to| msg::uri_user(&msg::uri_of(&to)))
        }
        NumberSource::Diversion => msg::header(&request.headers, "Diversion")
            .and_then(|d| msg::uri_user(&msg::uri_of(&d)))
            .or_else(|| msg::uri_user(&request.uri.to_string())),
    }?;
    let country = e164::country(country).unwrap_or(&e164::COUNTRIES[0]);
    e164::normalize(&raw, country).ok().map(|n| n.to_string())
}

/// Keeps printable characters that cannot break a header (no quotes,
/// backslashes, angle brackets or control characters), at most `max`.
fn clean(text: &str, max: usize) -> String {
    text.chars()
        .filter(|c| !c.is_control() && !matches!(c, '"' | '\\' | '<' | '>'))
        .take(max)
        .collect::<String>()
        .trim()
        .to_owned()
}

/// A user part safe to write into a URI.
fn clean_user(user: &str) -> String {
    let kept: String = user
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '*' | '#' | '.' | '-' | '_'))
        .take(32)
        .collect();
    if kept.is_empty() {
        "anonymous".to_owned()
    } else {
        kept
    }
}

/// The display name of a name-addr (`"Alice" <sip:…>` → `Alice`).
fn display_name(value: &str) -> Option<String> {
    let before = value.split('<').next()?.trim();
    let name = before.trim_matches('"').trim();
    (!name.is_empty() && value.contains('<')).then(|| clean(name, 64))
}

fn standard_reason(code: u16) -> &'static str {
    shared::sip::response::reason_phrase(code)
}

impl B2bua {
    // ---------------------------------------------------------------
    // A new INVITE from a carrier
    // ---------------------------------------------------------------

    /// A dialog-creating INVITE from `route` (the core recognised the
    /// carrier). `bindings` lists an agent's ringing targets by username.
    #[allow(clippy::too_many_arguments)]
    pub fn handle_inbound_invite(
        &mut self,
        now: Now,
        peer: std::net::SocketAddr,
        reply: Destination,
        transport: Transport,
        request: rsip::Request,
        route: &Route,
        dids: &DidTable,
        bindings: &dyn Fn(&str) -> Vec<ForkTarget>,
    ) {
        let tag = self.token(12);
        let call_id = msg::header(&request.headers, "Call-ID").unwrap_or_default();
        let caller_from = msg::header(&request.headers, "From").unwrap_or_default();
        let caller_raw = msg::uri_user(&msg::uri_of(&caller_from)).unwrap_or_default();
        let country = self.config.default_country.clone();
        let caller = e164::country(&country)
            .and_then(|c| e164::normalize(&caller_raw, c).ok())
            .map_or_else(|| clean_user(&caller_raw), |n| n.to_string());
        let caller_name = display_name(&caller_from).or_else(|| {
            msg::header(&request.headers, "P-Asserted-Identity").and_then(|p| display_name(&p))
        });
        let number = dialled_number(&request, route.inbound.number_from, &country);
        let mut record = CallRecord {
            id: format!("{}-{}", now.unix_ms, self.token(8)),
            direction: CallDirection::Inbound,
            account_id: None,
            agent: None,
            caller_id: Some(caller.clone()),
            dialled: number.clone().unwrap_or_else(|| {
                clean_user(&msg::uri_user(&request.uri.to_string()).unwrap_or_default())
            }),
            carrier_id: Some(route.id),
            carrier: Some(route.name.clone()),
            invite_at: now.unix_ms,
            ringing_at: None,
            answered_at: None,
            ended_at: now.unix_ms,
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
        let refuse = |this: &mut Self, mut record: CallRecord, code: u16, reason: &str| {
            let r = response_to(&request, code, reason, Some(&tag));
            this.send_to(reply, r.to_string().into_bytes());
            record.final_code = code;
            record.final_reason = reason.to_owned();
            this.events
                .push(super::B2buaEvent::Record(Box::new(record)));
        };
        if !self.has_capacity(route) {
            let mut r = response_to(
                &request,
                503,
                "Service Unavailable (this trunk's channels are all in use)",
                Some(&tag),
            );
            r.headers
                .push(rsip::Header::Other("Retry-After".into(), "5".into()));
            self.send_to(reply, r.to_string().into_bytes());
            record.final_code = 503;
            record.final_reason = "Service Unavailable (channel limit)".to_owned();
            self.events
                .push(super::B2buaEvent::Record(Box::new(record)));
            return;
        }
        if self.by_call_id.contains_key(&call_id) {
            let r = response_to(
                &request,
                482,
                "Loop Detected (Call-ID already in use)",
                Some(&tag),
            );
            self.send_to(reply, r.to_string().into_bytes());
            return;
        }
        let Some(did) = number.as_deref().and_then(|n| dids.lookup(n)) else {
            refuse(self, record, 404, "Not Found (no such number here)");
            return;
        };
        if did.carrier_id.is_some_and(|c| c != route.id) {
            refuse(
                self,
                record,
                404,
                "Not Found (no such number on this trunk)",
            );
            return;
        }
        let Did {
            number: did_number,
            label,
            target,
            ..
        } = did.clone();
        let (steps, fallback_code) = match &target {
            DidTarget::Reject { code } => {
                let code = if (400..700).contains(code) {
                    *code
                } else {
                    403
                };
                refuse(self, record, code, standard_reason(code));
                return;
            }
            DidTarget::Agent {
                account_id,
                username,
            } => {
                record.account_id = Some(*account_id);
                record.agent = Some(username.clone());
                (
                    vec![RingStep {
                        targets: bindings(username),
                        timeout: None,
                    }],
                    None,
                )
            }
            DidTarget::Group {
                strategy,
                members,
                member_timeout,
                fallback_code,
                ..
            } => {
                let steps = match strategy {
                    RingStrategy::All => vec![RingStep {
                        targets: members.iter().flat_map(|m| bindings(m)).collect(),
                        timeout: None,
                    }],
                    RingStrategy::InOrder => members
                        .iter()
                        .map(|m| RingStep {
                            targets: bindings(m),
                            timeout: Some(*member_timeout),
                        })
                        .filter(|s| !s.targets.is_empty())
                        .collect(),
                };
                (steps, *fallback_code)
            }
        };
        let steps: VecDeque<RingStep> = steps
            .into_iter()
            .filter(|s| !s.targets.is_empty())
            .collect();
        if steps.is_empty() {
            let code = fallback_code.unwrap_or(480);
            let reason = if code == 480 {
                "Temporarily Unavailable (no agent is online)".to_owned()
            } else {
                standard_reason(code).to_owned()
            };
            record.hangup_by = HangupBy::Gateway;
            refuse(self, record, code, &reason);
            return;
        }
        let Some(offer) = msg::sdp_body(&request.headers, &request.body) else {
            refuse(
                self,
                record,
                488,
                "Not Acceptable Here (an SDP offer is required in the INVITE)",
            );
            return;
        };
        let id = self.next_call;
        self.next_call += 1;
        let setup = match self
            .media
            .start_inbound(id, &offer, &route.codecs, route.srtp_required)
        {
            Ok(s) => s,
            Err(f) => {
                refuse(self, record, f.code, &f.reason);
                return;
            }
        };
        let trying = response_to(&request, 100, "Trying", None);
        self.send_to(reply, trying.to_string().into_bytes());

        let to = msg::header(&request.headers, "To").unwrap_or_default();
        let remote_target = msg::header(&request.headers, "Contact")
            .map(|c| msg::uri_of(&c))
            .unwrap_or_else(|| msg::uri_of(&caller_from));
        let route_set: Vec<String> = msg::header_values(&request.headers, "Record-Route")
            .iter()
            .flat_map(|v| msg::split_list(v))
            .collect();
        record.ringing_at = Some(now.unix_ms);
        let call = InboundCall {
            phase: InPhase::Ringing,
            reply,
            peer_ip: peer.ip(),
            transport,
            tag: tag.clone(),
            last_response: Vec::new(),
            carrier_answer: setup.carrier_answer,
            sdp_version: 1,
            carrier_call_id: call_id.clone(),
            local: format!("{to};tag={tag}"),
            remote: caller_from,
            remote_target,
            route_set,
            next_cseq: 1,
            ok: None,
            browser_offer: setup.browser_offer,
            caller,
            caller_name,
            did: did_number,
            did_label: clean(&label, 64),
            steps,
            step_deadline: None,
            forks: Vec::new(),
            winner: None,
            declined: None,
            fallback_code,
            ring_deadline: Some(now.instant + self.config.max_ringing),
            flush_deadline: None,
            media: true,
            pending_reinvite: None,
            held: false,
            invite: request,
            record,
        };
        self.by_call_id.insert(call_id, id);
        self.inbound.insert(id, call);
        self.next_ring_step(now, id);
        if let Some(call) = self.inbound.get_mut(&id)
            && call.phase == InPhase::Ringing
        {
            let ringing = response_to(&call.invite, 180, "Ringing", Some(&call.tag));
            let bytes = ringing.to_string().into_bytes();
            call.last_response = bytes.clone();
            let reply = call.reply;
            self.send_to(reply, bytes);
        }
    }

    /// Rings the next step's tabs; none left → the call fails.
    fn next_ring_step(&mut self, now: Now, id: u64) {
        let domain = self.config.domain.clone();
        let contact = self.browser_contact();
        loop {
            let Some(call) = self.inbound.get_mut(&id) else {
                return;
            };
            let Some(step) = call.steps.pop_front() else {
                let code = match call.declined {
                    Some(486) => 486,
                    Some(603) => 603,
                    _ => call.fallback_code.unwrap_or(480),
                };
                let reason = match code {
                    480 => "Temporarily Unavailable (nobody answered)".to_owned(),
                    486 => "Busy Here (the agent declined)".to_owned(),
                    603 => "Decline (the agent declined)".to_owned(),
                    c => standard_reason(c).to_owned(),
                };
                self.inbound_fail(now, id, code, &reason, HangupBy::Gateway);
                return;
            };
            call.step_deadline = step.timeout.map(|t| now.instant + t);
            let mut sent = 0;
            for target in step.targets {
                let branch = self.token(16);
                let fork_tag = self.token(12);
                let fork_call_id = format!("{}@{domain}", self.token(20));
                let Some(call) = self.inbound.get_mut(&id) else {
                    return;
                };
                let name = call
                    .caller_name
                    .as_ref()
                    .map(|n| format!("\"{n}\" "))
                    .unwrap_or_default();
                let local = format!(
                    "{name}<sip:{}@{domain}>;tag={fork_tag}",
                    clean_user(&call.caller)
                );
                let to = format!("<sip:{}@{domain}>", clean_user(&target.username));
                let label = if call.did_label.is_empty() {
                    String::new()
                } else {
                    format!("X-Dialer-DID-Label: {}\r\n", call.did_label)
                };
                let invite = format!(
                    "INVITE {uri} SIP/2.0\r\n\
                     Via: SIP/2.0/WSS {domain};branch=z9hG4bK{branch}\r\n\
                     Max-Forwards: 70\r\n\
                     From: {local}\r\n\
                     To: {to}\r\n\
                     Call-ID: {fork_call_id}\r\n\
                     CSeq: 1 INVITE\r\n\
                     Contact: {contact}\r\n\
                     Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO\r\n\
                     X-Dialer-DID: {did}\r\n\
                     {label}\
                     Content-Type: application/sdp\r\n\
                     Content-Length: {len}\r\n\r\n{sdp}",
                    uri = target.contact,
                    did = call.did,
                    len = call.browser_offer.len(),
                    sdp = call.browser_offer,
                );
                let conn = target.conn;
                call.forks.push(Fork {
                    target,
                    call_id: fork_call_id.clone(),
                    branch,
                    local,
                    remote: to,
                    remote_target: String::new(),
                    invite: invite.clone(),
                    state: ForkState::Calling,
                    cancel_pending: None,
                    next_cseq: 2,
                });
                self.by_call_id.insert(fork_call_id, id);
                self.send_browser(conn, invite.into_bytes());
                sent += 1;
            }
            if sent > 0 {
                return;
            }
        }
    }

    /// Ends a call that was never answered: the final status to the
    /// carrier, CANCEL to every ringing tab.
    fn inbound_fail(&mut self, now: Now, id: u64, code: u16, reason: &str, by: HangupBy) {
        self.cancel_forks(id, None);
        let Some(call) = self.inbound.get_mut(&id) else {
            return;
        };
        if call.phase != InPhase::Ringing {
            return;
        }
        let r = response_to(&call.invite, code, reason, Some(&call.tag));
        let bytes = r.to_string().into_bytes();
        call.last_response = bytes.clone();
        call.record.final_code = code;
        call.record.final_reason = reason.to_owned();
        call.record.hangup_by = by;
        let reply = call.reply;
        self.send_to(reply, bytes);
        self.inbound_end(now, id);
    }

    /// CANCELs every tab still ringing (`reason`: a Reason header value).
    fn cancel_forks(&mut self, id: u64, reason: Option<&'static str>) {
        let Some(call) = self.inbound.get_mut(&id) else {
            return;
        };
        let mut out = Vec::new();
        for fork in call.forks.iter_mut() {
            match fork.state {
                ForkState::Ringing => {
                    out.push((fork.target.conn, cancel_text(fork, reason)));
                    fork.state = ForkState::Done;
                }
                ForkState::Calling => {
                    fork.cancel_pending = Some(reason.unwrap_or(""));
                    fork.state = ForkState::Done;
                }
                ForkState::Answered | ForkState::Done => {}
            }
        }
        for (conn, text) in out {
            self.send_browser(conn, text.into_bytes());
        }
    }

    // ---------------------------------------------------------------
    // The tabs' answers
    // ---------------------------------------------------------------

    /// A response over a browser connection. Returns false when it belongs
    /// to no inbound call.
    pub fn handle_browser_response(
        &mut self,
        now: Now,
        conn: ConnId,
        response: &rsip::Response,
    ) -> bool {
        let call_id = msg::header(&response.headers, "Call-ID").unwrap_or_default();
        let Some(id) = self.by_call_id.get(&call_id).copied() else {
            return false;
        };
        let Some(call) = self.inbound.get_mut(&id) else {
            return false;
        };
        let Some(index) = call
            .forks
            .iter()
            .position(|f| f.call_id == call_id && f.target.conn == conn)
        else {
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
        let fork = &mut call.forks[index];
        match code {
            100..=199 => {
                if let Some(reason) = fork.cancel_pending.take() {
                    let reason = (!reason.is_empty()).then_some(reason);
                    let text = cancel_text(fork, reason);
                    self.send_browser(conn, text.into_bytes());
                } else if fork.state == ForkState::Calling {
                    fork.state = ForkState::Ringing;
                }
            }
            200..=299 => {
                fork.remote = msg::header(&response.headers, "To").unwrap_or_default();
                fork.remote_target = msg::header(&response.headers, "Contact")
                    .map(|c| msg::uri_of(&c))
                    .unwrap_or_else(|| fork.target.contact.clone());
                let ack = fork_request(fork, "ACK", 1, &format!("z9hG4bK{}ack", fork.branch), "");
                self.send_browser(conn, ack.into_bytes());
                let Some(call) = self.inbound.get_mut(&id) else {
                    return true;
                };
                if call.phase != InPhase::Ringing || call.winner.is_some() {
                    // A second tab answered too late: hang it up.
                    let fork = &mut call.forks[index];
                    fork.state = ForkState::Done;
                    let cseq = fork.next_cseq;
                    fork.next_cseq += 1;
                    let branch = format!("z9hG4bK{}bye", fork.branch);
                    let bye = fork_request(
                        fork,
                        "BYE",
                        cseq,
                        &branch,
                        "Reason: SIP;cause=200;text=\"Call completed elsewhere\"\r\n",
                    );
                    self.send_browser(conn, bye.into_bytes());
                    return true;
                }
                self.inbound_answered(now, id, index, response);
            }
            _ => {
                // ACK for a non-2xx final: same branch as the INVITE.
                let to = msg::header(&response.headers, "To").unwrap_or_default();
                let ack = non_2xx_ack(fork, &to);
                fork.state = ForkState::Done;
                fork.cancel_pending = None;
                self.send_browser(conn, ack.into_bytes());
                if let Some(call) = self.inbound.get_mut(&id) {
                    if matches!(code, 486 | 600 | 603) {
                        call.declined = Some(match code {
                            603 => 603,
                            _ => 486,
                        });
                    }
                    self.after_fork_done(now, id);
                }
            }
        }
        true
    }

    /// A tab stopped ringing: when none of the step rings, the next step.
    fn after_fork_done(&mut self, now: Now, id: u64) {
        let Some(call) = self.inbound.get(&id) else {
            return;
        };
        let ringing = call
            .forks
            .iter()
            .any(|f| matches!(f.state, ForkState::Calling | ForkState::Ringing));
        if call.phase == InPhase::Ringing && call.winner.is_none() && !ringing {
            self.next_ring_step(now, id);
        }
    }

    fn inbound_answered(&mut self, now: Now, id: u64, index: usize, response: &rsip::Response) {
        let sdp = msg::sdp_body(&response.headers, &response.body).unwrap_or_default();
        if let Err(f) = self.media.browser_answer(id, &sdp) {
            // This tab's answer is unusable: hang it up, keep the others ringing.
            if let Some(call) = self.inbound.get_mut(&id) {
                let fork = &mut call.forks[index];
                fork.state = ForkState::Done;
                let branch = format!("z9hG4bK{}bye", fork.branch);
                let bye = fork_request(fork, "BYE", 2, &branch, "");
                let conn = fork.target.conn;
                call.record.final_reason = f.reason;
                self.send_browser(conn, bye.into_bytes());
            }
            self.after_fork_done(now, id);
            return;
        }
        let Some(call) = self.inbound.get_mut(&id) else {
            return;
        };
        call.winner = Some(index);
        call.phase = InPhase::Answered;
        call.ring_deadline = None;
        call.step_deadline = None;
        let fork = &mut call.forks[index];
        fork.state = ForkState::Answered;
        call.record.account_id = Some(fork.target.account_id);
        call.record.agent = Some(fork.target.username.clone());
        call.record.answered_at = Some(now.unix_ms);
        call.record.final_code = 200;
        call.record.final_reason = "OK".to_owned();
        self.cancel_forks(id, Some("SIP;cause=200;text=\"Call completed elsewhere\""));
        let contact = self.inbound_contact(id);
        let Some(call) = self.inbound.get_mut(&id) else {
            return;
        };
        let mut ok = response_to(&call.invite, 200, "OK", Some(&call.tag));
        for rr in msg::header_values(&call.invite.headers, "Record-Route") {
            ok.headers
                .push(rsip::Header::Other("Record-Route".into(), rr));
        }
        ok.headers.push(rsip::headers::Contact::new(contact).into());
        msg::set_body(&mut ok, "application/sdp", &call.carrier_answer);
        let bytes = ok.to_string().into_bytes();
        call.last_response = bytes.clone();
        if !is_reliable(call.reply) {
            let t1 = self.config.timers.t1;
            call.ok = Some(OkRetransmit {
                bytes: bytes.clone(),
                next: now.instant + t1,
                interval: t1,
                give_up: now.instant + t1 * 64,
            });
        }
        let reply = call.reply;
        self.send_to(reply, bytes);
    }

    fn inbound_contact(&self, id: u64) -> String {
        let ours = self.inbound.get(&id).map(|c| self.toward_inbound(c));
        let ours = ours.unwrap_or_else(|| {
            let main = self.config.local.advertised;
            self.config.local.toward(main, SipTransport::Udp)
        });
        format!("<sip:gw@{}{}>", ours.host_port(), ours.contact_param)
    }

    /// What we name toward the carrier of an inbound call: in its family,
    /// for the transport it came over.
    fn toward_inbound(&self, call: &InboundCall) -> super::super::Toward {
        let transport = match call.transport {
            Transport::Tcp => SipTransport::Tcp,
            _ => SipTransport::Udp,
        };
        self.config.local.toward(call.peer_ip, transport)
    }

    // ---------------------------------------------------------------
    // Requests inside an inbound call
    // ---------------------------------------------------------------

    /// A request from a tab that belongs to an inbound call.
    pub(super) fn inbound_browser_request(
        &mut self,
        now: Now,
        id: u64,
        conn: ConnId,
        request: &rsip::Request,
    ) -> bool {
        let call_id = msg::header(&request.headers, "Call-ID").unwrap_or_default();
        let Some(call) = self.inbound.get(&id) else {
            return false;
        };
        let Some(index) = call
            .forks
            .iter()
            .position(|f| f.call_id == call_id && f.target.conn == conn)
        else {
            return false;
        };
        let is_winner = call.winner == Some(index) && call.phase == InPhase::Answered;
        let fork_tag = msg::tag(&call.forks[index].local).unwrap_or_default();
        let reply = |this: &mut Self, code: u16, reason: &str| {
            let r = response_to(request, code, reason, Some(&fork_tag));
            this.send_browser(conn, r.to_string().into_bytes());
        };
        match request.method() {
            rsip::Method::Ack => {}
            rsip::Method::Bye => {
                reply(self, 200, "OK");
                if is_winner {
                    if let Some(call) = self.inbound.get_mut(&id) {
                        call.record.hangup_by = HangupBy::Agent;
                        call.record.final_reason = "Hung up by the agent".to_owned();
                    }
                    self.send_carrier_in_dialog(now, id, "BYE", "");
                    self.inbound_end(now, id);
                }
            }
            rsip::Method::Invite if is_winner => {
                let Some(sdp) = msg::sdp_body(&request.headers, &request.body) else {
                    reply(self, 488, "Not Acceptable Here (an SDP offer is required)");
                    return true;
                };
                let held = msg::sdp_direction(&sdp) != "sendrecv";
                if let Some(call) = self.inbound.get_mut(&id) {
                    call.pending_reinvite = Some(request.clone());
                    call.held = held;
                }
                self.media.browser_reoffer(id, &sdp);
                self.media.set_hold(id, held);
            }
            rsip::Method::Info | rsip::Method::Options => reply(self, 200, "OK"),
            _ => reply(self, 481, "Call/Transaction Does Not Exist"),
        }
        true
    }

    /// The media's answer to a re-INVITE of an inbound call's tab.
    pub(super) fn inbound_media_answer(&mut self, id: u64, result: Result<String, String>) {
        let contact = self.browser_contact();
        let Some(call) = self.inbound.get_mut(&id) else {
            return;
        };
        let Some(request) = call.pending_reinvite.take() else {
            return;
        };
        let Some(fork) = call.winner.and_then(|w| call.forks.get(w)) else {
            return;
        };
        let tag = msg::tag(&fork.local).unwrap_or_default();
        let r = match result {
            Ok(sdp) => {
                let mut r = response_to(&request, 200, "OK", Some(&tag));
                r.headers.push(rsip::headers::Contact::new(contact).into());
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
        let conn = fork.target.conn;
        self.send_browser(conn, r.to_string().into_bytes());
    }

    /// A request from the carrier in an inbound call (ACK, CANCEL, BYE,
    /// re-INVITE, a retransmitted INVITE).
    pub(super) fn inbound_carrier_request(
        &mut self,
        now: Now,
        id: u64,
        reply: Destination,
        request: &rsip::Request,
    ) {
        let Some(call) = self.inbound.get(&id) else {
            return;
        };
        let has_to_tag = msg::header(&request.headers, "To")
            .and_then(|t| msg::tag(&t))
            .is_some();
        let tag = call.tag.clone();
        let phase = call.phase;
        let respond = |this: &mut Self, code: u16, reason: &str, body: Option<&str>| {
            let mut r = response_to(request, code, reason, Some(&tag));
            if let Some(body) = body {
                let contact = this.inbound_contact(id);
                r.headers.push(rsip::headers::Contact::new(contact).into());
                msg::set_body(&mut r, "application/sdp", body);
            }
            this.send_to(reply, r.to_string().into_bytes());
        };
        match request.method() {
            rsip::Method::Ack => {
                if let Some(call) = self.inbound.get_mut(&id) {
                    call.ok = None;
                }
            }
            rsip::Method::Invite if !has_to_tag => {
                // A retransmission: the last response again.
                let bytes = call.last_response.clone();
                if !bytes.is_empty() {
                    self.send_to(reply, bytes);
                }
            }
            rsip::Method::Cancel => {
                respond(self, 200, "OK", None);
                let ringing = self
                    .inbound
                    .get(&id)
                    .is_some_and(|c| c.phase == InPhase::Ringing);
                if ringing {
                    self.inbound_fail(
                        now,
                        id,
                        487,
                        "Request Terminated (the caller hung up)",
                        HangupBy::Remote,
                    );
                }
            }
            rsip::Method::Bye => {
                respond(self, 200, "OK", None);
                if let Some(call) = self.inbound.get_mut(&id) {
                    call.record.hangup_by = HangupBy::Remote;
                    call.record.final_reason = "Hung up by the caller".to_owned();
                }
                if phase == InPhase::Answered {
                    self.bye_winner(id, "");
                    self.inbound_end(now, id);
                } else {
                    self.inbound_fail(
                        now,
                        id,
                        487,
                        "Request Terminated (the caller hung up)",
                        HangupBy::Remote,
                    );
                }
            }
            rsip::Method::Invite => {
                // The carrier holds or resumes (an SRTP leg follows a new key).
                let offer = msg::sdp_body(&request.headers, &request.body);
                if let Some(sdp) = &offer {
                    self.media.carrier_reoffer(id, sdp);
                }
                let direction = offer
                    .map(|s| msg::answer_direction(msg::sdp_direction(&s)))
                    .unwrap_or("sendrecv");
                let Some(call) = self.inbound.get_mut(&id) else {
                    return;
                };
                call.sdp_version += 1;
                let sdp =
                    msg::sdp_with_direction(&call.carrier_answer, direction, call.sdp_version);
                self.media.set_hold(id, direction != "sendrecv");
                respond(self, 200, "OK", Some(&sdp));
            }
            rsip::Method::Options | rsip::Method::Info => respond(self, 200, "OK", None),
            _ => respond(self, 501, "Not Implemented", None),
        }
    }

    /// BYE (or another request) to the carrier in an answered inbound call.
    fn send_carrier_in_dialog(&mut self, now: Now, id: u64, method: &str, extra: &str) {
        let branch = self.token(16);
        let Some(ours) = self.inbound.get(&id).map(|c| self.toward_inbound(c)) else {
            return;
        };
        let Some(call) = self.inbound.get_mut(&id) else {
            return;
        };
        let cseq = call.next_cseq;
        call.next_cseq += 1;
        let via = format!("SIP/2.0/{} {}", ours.proto, ours.host_port());
        let mut text = format!(
            "{method} {target} SIP/2.0\r\nVia: {via};branch=z9hG4bK{branch};rport\r\nMax-Forwards: 70\r\n",
            target = call.remote_target,
        );
        for r in &call.route_set {
            text.push_str(&format!("Route: {r}\r\n"));
        }
        text.push_str(&format!(
            "From: {}\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: {cseq} {method}\r\n{extra}Content-Length: 0\r\n\r\n",
            call.local, call.remote, call.carrier_call_id
        ));
        let dest = call.reply;
        let Ok(request) = rsip::Request::try_from(text.as_bytes()) else {
            return;
        };
        let Ok(key) = TransactionKey::for_sent_request(&request) else {
            return;
        };
        self.start_tx(now, id, Purpose::Bye, key, request, dest);
    }

    /// BYE to the tab that answered.
    fn bye_winner(&mut self, id: u64, extra: &str) {
        let Some(call) = self.inbound.get_mut(&id) else {
            return;
        };
        let Some(fork) = call.winner.and_then(|w| call.forks.get_mut(w)) else {
            return;
        };
        let cseq = fork.next_cseq;
        fork.next_cseq += 1;
        let branch = format!("z9hG4bK{}bye{cseq}", fork.branch);
        let bye = fork_request(fork, "BYE", cseq, &branch, extra);
        let conn = fork.target.conn;
        self.send_browser(conn, bye.into_bytes());
    }

    /// Signalling is over: stop the media and wait for its counts.
    fn inbound_end(&mut self, now: Now, id: u64) {
        let Some(call) = self.inbound.get_mut(&id) else {
            return;
        };
        if call.phase == InPhase::Ended {
            return;
        }
        call.phase = InPhase::Ended;
        call.ring_deadline = None;
        call.step_deadline = None;
        call.ok = None;
        call.record.ended_at = now.unix_ms;
        if let Some(answered) = call.record.answered_at {
            call.record.duration_s = (call.record.ended_at - answered).max(0) / 1000;
        }
        if call.media {
            call.flush_deadline = Some(now.instant + self.config.media_grace);
            self.media.stop(id);
        } else {
            self.inbound_finish(id);
        }
    }

    fn inbound_finish(&mut self, id: u64) {
        let Some(call) = self.inbound.remove(&id) else {
            return;
        };
        self.by_call_id.remove(&call.carrier_call_id);
        for fork in &call.forks {
            self.by_call_id.remove(&fork.call_id);
        }
        self.events
            .push(super::B2buaEvent::Record(Box::new(call.record)));
    }

    // ---------------------------------------------------------------
    // Media, connections, time
    // ---------------------------------------------------------------

    pub(super) fn inbound_media_stopped(
        &mut self,
        now: Now,
        id: u64,
        counts: MediaCounts,
        failure: Option<String>,
    ) {
        let Some(call) = self.inbound.get_mut(&id) else {
            return;
        };
        call.media = false;
        apply_counts(&mut call.record, counts);
        match call.phase {
            InPhase::Ended => self.inbound_finish(id),
            InPhase::Answered => {
                call.record.hangup_by = HangupBy::Gateway;
                call.record.final_reason =
                    format!("Media failure ({})", failure.unwrap_or_default());
                self.bye_winner(id, "");
                self.send_carrier_in_dialog(now, id, "BYE", "");
                self.inbound_end(now, id);
                self.inbound_finish(id);
            }
            InPhase::Ringing => {
                let reason = format!(
                    "Server Internal Error (media failure: {})",
                    failure.unwrap_or_default()
                );
                self.inbound_fail(now, id, 500, &reason, HangupBy::Gateway);
                self.inbound_finish(id);
            }
        }
    }

    pub(super) fn inbound_no_media(&mut self, now: Now, id: u64, silent_for: Duration) {
        let Some(call) = self.inbound.get_mut(&id) else {
            return;
        };
        if call.phase != InPhase::Answered {
            return;
        }
        let reason = format!("No media for {} s", silent_for.as_secs());
        call.record.hangup_by = HangupBy::Gateway;
        call.record.final_reason = reason.clone();
        let extra = format!("Reason: SIP;cause=200;text=\"{reason}\"\r\n");
        self.bye_winner(id, &extra);
        self.send_carrier_in_dialog(now, id, "BYE", &extra);
        self.inbound_end(now, id);
    }

    /// A browser connection closed: its tabs stop ringing, its answered
    /// call hangs up.
    pub(super) fn inbound_connection_closed(&mut self, now: Now, conn: ConnId) {
        let ids: Vec<u64> = self.inbound.keys().copied().collect();
        for id in ids {
            let Some(call) = self.inbound.get_mut(&id) else {
                continue;
            };
            let winner_lost = call
                .winner
                .and_then(|w| call.forks.get(w))
                .is_some_and(|f| f.target.conn == conn);
            if winner_lost && call.phase == InPhase::Answered {
                call.record.hangup_by = HangupBy::Agent;
                call.record.final_reason = "The agent's connection was lost".to_owned();
                self.send_carrier_in_dialog(now, id, "BYE", "");
                self.inbound_end(now, id);
                continue;
            }
            let mut changed = false;
            for fork in call.forks.iter_mut() {
                if fork.target.conn == conn
                    && matches!(fork.state, ForkState::Calling | ForkState::Ringing)
                {
                    fork.state = ForkState::Done;
                    changed = true;
                }
            }
            if changed {
                self.after_fork_done(now, id);
            }
        }
    }

    pub(super) fn inbound_hang_up_all(&mut self, now: Now) {
        let ids: Vec<u64> = self.inbound.keys().copied().collect();
        for id in ids {
            let Some(call) = self.inbound.get_mut(&id) else {
                continue;
            };
            match call.phase {
                InPhase::Answered => {
                    call.record.hangup_by = HangupBy::Gateway;
                    call.record.final_reason = "The gateway is shutting down".to_owned();
                    self.bye_winner(id, "");
                    self.send_carrier_in_dialog(now, id, "BYE", "");
                    self.inbound_end(now, id);
                }
                InPhase::Ringing => self.inbound_fail(
                    now,
                    id,
                    503,
                    "Service Unavailable (the gateway is shutting down)",
                    HangupBy::Gateway,
                ),
                InPhase::Ended => {}
            }
        }
    }

    pub(super) fn inbound_timeout(&mut self, now: Now) {
        let ids: Vec<u64> = self.inbound.keys().copied().collect();
        for id in ids {
            let Some(call) = self.inbound.get_mut(&id) else {
                continue;
            };
            if let Some(ok) = &mut call.ok
                && ok.next <= now.instant
            {
                if now.instant >= ok.give_up {
                    // No ACK for our 2xx (RFC 3261 §13.3.1.4): hang up.
                    call.ok = None;
                    call.record.hangup_by = HangupBy::Gateway;
                    call.record.final_reason = "The carrier never acknowledged the answer".into();
                    self.bye_winner(id, "");
                    self.send_carrier_in_dialog(now, id, "BYE", "");
                    self.inbound_end(now, id);
                    continue;
                }
                let bytes = ok.bytes.clone();
                ok.interval = (ok.interval * 2).min(self.config.timers.t2);
                ok.next = now.instant + ok.interval;
                let reply = call.reply;
                self.send_to(reply, bytes);
                continue;
            }
            if call.ring_deadline.is_some_and(|d| d <= now.instant) {
                self.inbound_fail(
                    now,
                    id,
                    480,
                    "Temporarily Unavailable (nobody answered)",
                    HangupBy::Gateway,
                );
                continue;
            }
            if call.step_deadline.is_some_and(|d| d <= now.instant) {
                call.step_deadline = None;
                self.cancel_forks(id, None);
                self.after_fork_done(now, id);
                continue;
            }
            if call.flush_deadline.is_some_and(|d| d <= now.instant) {
                self.inbound_finish(id);
            }
        }
    }

    pub(super) fn inbound_poll_timeout(&self) -> Option<Instant> {
        self.inbound
            .values()
            .flat_map(|c| {
                [
                    c.ok.as_ref().map(|o| o.next),
                    c.ring_deadline,
                    c.step_deadline,
                    c.flush_deadline,
                ]
            })
            .flatten()
            .min()
    }
}

impl B2bua {
    /// Inbound calls in progress, for the live view.
    pub(super) fn inbound_live_calls(&self) -> impl Iterator<Item = shared::api::LiveCall> + '_ {
        self.inbound
            .values()
            .filter(|c| c.phase != InPhase::Ended)
            .map(|c| {
                let state = match (c.phase, c.held) {
                    (InPhase::Answered, true) => shared::api::LiveCallState::Held,
                    (InPhase::Answered, false) => shared::api::LiveCallState::Connected,
                    _ => shared::api::LiveCallState::Ringing,
                };
                super::live_call(&c.record, state)
            })
    }

    /// Inbound calls an agent answered that are not over.
    pub(super) fn inbound_answered_by(&self, account_id: i64) -> usize {
        self.inbound
            .values()
            .filter(|c| c.phase == InPhase::Answered && c.record.account_id == Some(account_id))
            .count()
    }

    /// Inbound calls not yet ended on carrier `id`.
    pub(super) fn inbound_channels(&self, carrier_id: i64) -> usize {
        self.inbound
            .values()
            .filter(|c| c.phase != InPhase::Ended && c.record.carrier_id == Some(carrier_id))
            .count()
    }
}

impl InboundCall {
    pub(super) fn is_carrier_call_id(&self, call_id: &str) -> bool {
        self.carrier_call_id == call_id
    }
}

/// A request in a tab's dialog (ACK for 2xx, BYE).
fn fork_request(fork: &Fork, method: &str, cseq: u32, branch: &str, extra: &str) -> String {
    let target = if fork.remote_target.is_empty() {
        &fork.target.contact
    } else {
        &fork.remote_target
    };
    // The INVITE's own Via host (our domain), with a new branch.
    let host = fork
        .invite
        .lines()
        .find_map(|l| l.strip_prefix("Via: SIP/2.0/WSS "))
        .and_then(|v| v.split(';').next())
        .unwrap_or("gateway.invalid");
    format!(
        "{method} {target} SIP/2.0\r\n\
         Via: SIP/2.0/WSS {host};branch={branch}\r\n\
         Max-Forwards: 70\r\n\
         From: {local}\r\n\
         To: {remote}\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: {cseq} {method}\r\n\
         {extra}Content-Length: 0\r\n\r\n",
        local = fork.local,
        remote = fork.remote,
        call_id = fork.call_id,
    )
}

/// CANCEL for a tab's INVITE (RFC 3261 §9.1: same Request-URI, Call-ID,
/// From, To, CSeq number and Via branch).
fn cancel_text(fork: &Fork, reason: Option<&str>) -> String {
    let reason = reason
        .map(|r| format!("Reason: {r}\r\n"))
        .unwrap_or_default();
    copy_invite_as(fork, "CANCEL", None, &reason)
}

/// ACK for a non-2xx final answer: the INVITE's branch, the answer's To.
fn non_2xx_ack(fork: &Fork, to: &str) -> String {
    copy_invite_as(fork, "ACK", Some(to), "")
}

fn copy_invite_as(fork: &Fork, method: &str, to: Option<&str>, extra: &str) -> String {
    let mut out = String::new();
    let mut lines = fork.invite.split("\r\n");
    if let Some(first) = lines.next() {
        out.push_str(&first.replacen("INVITE", method, 1));
        out.push_str("\r\n");
    }
    for line in lines {
        if line.is_empty() {
            break;
        }
        let lower = line.to_ascii_lowercase();
        if lower.starts_with("via:")
            || lower.starts_with("from:")
            || lower.starts_with("call-id:")
            || lower.starts_with("max-forwards:")
        {
            out.push_str(line);
            out.push_str("\r\n");
        } else if lower.starts_with("to:") {
            match to {
                Some(to) => out.push_str(&format!("To: {to}\r\n")),
                None => {
                    out.push_str(line);
                    out.push_str("\r\n");
                }
            }
        } else if lower.starts_with("cseq:") {
            out.push_str(&format!("CSeq: 1 {method}\r\n"));
        }
    }
    out.push_str(extra);
    out.push_str("Content-Length: 0\r\n\r\n");
    out
}
