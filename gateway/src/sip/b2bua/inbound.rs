//! An inbound call, as a sans-IO machine: a carrier's INVITE to one of our
//! DIDs rings the agent's browser tabs (or a ring group's); the first tab
//! to answer wins. The tabs' answers are in [`forks`], requests inside the
//! call and the ways it ends in [`requests`].
//!
//! ```text
//!   carrier (UDP/TCP)              call                        browser tabs (WS)
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

mod forks;
mod requests;

use shared::ids::{AccountId, CallId, CarrierId};
use std::collections::VecDeque;
use std::time::Duration;

use shared::api::{CallDirection, HangupBy, LiveCall, LiveCallState, SipTransport};
use shared::e164;
use shared::sip::Transport;
use shared::sip::dialog::{self, Dialog, ViaSpec};
use shared::sip::response::response_to;
use shared::sip::validate::ALLOW;
use web_time::Instant;

use super::call::{CallOutput, Env, Life, Out};
use super::outbound::{browser_contact, browser_via};
use super::record;
use super::route::Route;
use super::txs::Txs;
use crate::sip::core::Destination;
use crate::sip::dids::{Did, DidTable, DidTarget, NumberSource, RingStrategy};
use crate::sip::{ConnId, Now, Toward, msg};

/// A browser tab that can ring: one registration binding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForkTarget {
    pub conn: ConnId,
    /// The binding's Contact URI (the Request-URI of our INVITE).
    pub contact: String,
    pub account_id: AccountId,
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

/// One ringing tab: a UAC dialog of ours over its WebSocket.
struct Fork {
    target: ForkTarget,
    /// Our From (with our tag), its To (with its tag once it answered),
    /// its Contact as the target.
    dialog: Dialog,
    branch: String,
    /// The INVITE as sent (CANCEL and the ACK of a non-2xx are made from it).
    invite: rsip::Request,
    state: ForkState,
    /// Cancelled before any provisional: send CANCEL (with this Reason,
    /// if not empty) once one arrives.
    cancel_pending: Option<&'static str>,
}

/// Our 2xx to the carrier, resent over UDP until the ACK.
struct OkRetransmit {
    bytes: Vec<u8>,
    next: Instant,
    interval: Duration,
    give_up: Instant,
}

/// Requests to the carrier in an inbound call (only BYE).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    Bye,
}

/// What the router knows about a new inbound call before it exists.
pub struct Admission {
    /// The carrier has a free channel.
    pub capacity: bool,
    /// No call uses the INVITE's Call-ID yet.
    pub call_id_free: bool,
}

pub struct InboundCall {
    id: CallId,
    phase: InPhase,
    /// Where the carrier's INVITE came from: responses and our requests go here.
    reply: Destination,
    /// Its source address: later requests of the call must come from there.
    peer_ip: std::net::IpAddr,
    /// Its transport (Via of our requests).
    transport: Transport,
    invite: rsip::Request,
    /// Our To tag toward the carrier.
    tag: String,
    /// The carrier's dialog (requests we send it: BYE).
    dialog: Dialog,
    last_response: Vec<u8>,
    carrier_answer: String,
    sdp_version: u64,
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
    pending_reinvite: Option<rsip::Request>,
    /// The agent put the call on hold (for the live view).
    held: bool,
    /// The answering tab's connection dropped while the call was up: the
    /// carrier leg stays until then, waiting for the phone to come back.
    reconnect_deadline: Option<Instant>,
    life: Life,
    txs: Txs<Purpose>,
    out: Out,
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

/// A new inbound call refused before it rang: the answer to the carrier
/// and, when the attempt counts, its record.
pub struct Refused {
    pub response: rsip::Response,
    pub record: Option<shared::api::CallRecord>,
}

impl InboundCall {
    /// A dialog-creating INVITE from `route` (the core recognised the
    /// carrier). `bindings` lists an agent's ringing targets by username.
    #[allow(clippy::too_many_arguments)]
    pub fn start(
        id: CallId,
        now: Now,
        peer: std::net::SocketAddr,
        reply: Destination,
        transport: Transport,
        request: rsip::Request,
        route: &Route,
        admission: Admission,
        dids: &DidTable,
        bindings: &dyn Fn(&str) -> Vec<ForkTarget>,
        env: &mut Env,
    ) -> Result<InboundCall, Box<Refused>> {
        let tag = env.token(12);
        let call_id = msg::header(&request.headers, "Call-ID").unwrap_or_default();
        let caller_from = msg::header(&request.headers, "From").unwrap_or_default();
        let caller_raw = msg::uri_user(&msg::uri_of(&caller_from)).unwrap_or_default();
        let country = env.config.default_country.clone();
        let caller = e164::country(&country)
            .and_then(|c| e164::normalize(&caller_raw, c).ok())
            .map_or_else(|| clean_user(&caller_raw), |n| n.to_string());
        let caller_name = display_name(&caller_from).or_else(|| {
            msg::header(&request.headers, "P-Asserted-Identity").and_then(|p| display_name(&p))
        });
        let number = dialled_number(&request, route.inbound.number_from, &country);
        let record_id = format!("{}-{}", now.unix_ms, env.token(8));
        let mut rec = record::new(record_id, CallDirection::Inbound, &now);
        rec.caller_id = Some(caller.clone());
        rec.dialled = number.clone().unwrap_or_else(|| {
            clean_user(&msg::uri_user(&request.uri.to_string()).unwrap_or_default())
        });
        rec.carrier_id = Some(route.id);
        rec.carrier = Some(route.name.clone());
        let refuse = |rec: shared::api::CallRecord, code: u16, reason: &str| {
            Box::new(Refused {
                response: response_to(&request, code, reason, Some(&tag)),
                record: Some(record::refused(rec, &now, code, reason)),
            })
        };
        if !admission.capacity {
            let mut response = response_to(
                &request,
                503,
                "Service Unavailable (this trunk's channels are all in use)",
                Some(&tag),
            );
            response
                .headers
                .push(rsip::Header::Other("Retry-After".into(), "5".into()));
            let rec = record::refused(rec, &now, 503, "Service Unavailable (channel limit)");
            return Err(Box::new(Refused {
                response,
                record: Some(rec),
            }));
        }
        if !admission.call_id_free {
            return Err(Box::new(Refused {
                response: response_to(
                    &request,
                    482,
                    "Loop Detected (Call-ID already in use)",
                    Some(&tag),
                ),
                record: None,
            }));
        }
        let Some(did) = number.as_deref().and_then(|n| dids.lookup(n)) else {
            return Err(refuse(rec, 404, "Not Found (no such number here)"));
        };
        if did.carrier_id.is_some_and(|c| c != route.id) {
            return Err(refuse(rec, 404, "Not Found (no such number on this trunk)"));
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
                return Err(refuse(rec, code, standard_reason(code)));
            }
            DidTarget::Agent {
                account_id,
                username,
            } => {
                rec.account_id = Some(*account_id);
                rec.agent = Some(username.clone());
                let step = RingStep {
                    targets: bindings(username),
                    timeout: None,
                };
                (vec![step], None)
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
            return Err(refuse(rec, code, &reason));
        }
        let Some(offer) = msg::sdp_body(&request.headers, &request.body) else {
            return Err(refuse(
                rec,
                488,
                "Not Acceptable Here (an SDP offer is required in the INVITE)",
            ));
        };
        let setup = match env
            .media
            .start_inbound(id, &offer, &route.codecs, route.srtp_required)
        {
            Ok(s) => s,
            Err(f) => return Err(refuse(rec, f.code, &f.reason)),
        };
        let mut out = Out::default();
        out.send_msg(reply, response_to(&request, 100, "Trying", None));
        let to = msg::header(&request.headers, "To").unwrap_or_default();
        let target = msg::header(&request.headers, "Contact")
            .and_then(|c| dialog::contact_uri(&c))
            .or_else(|| dialog::contact_uri(&caller_from))
            .unwrap_or_else(|| dialog::sip_uri(None, &peer.ip().to_string(), Some(peer.port())));
        // RFC 3261 §12.1.1: the UAS keeps the Record-Route values in order.
        let route_set: Vec<String> = msg::header_values(&request.headers, "Record-Route")
            .iter()
            .flat_map(|v| msg::split_list(v))
            .collect();
        rec.ringing_at = Some(now.unix_ms);
        out.event(CallOutput::Bind(call_id.clone()));
        let mut life = Life::new(rec);
        life.media = true;
        let mut call = InboundCall {
            id,
            phase: InPhase::Ringing,
            reply,
            peer_ip: peer.ip(),
            transport,
            dialog: Dialog {
                call_id,
                local: format!("{to};tag={tag}"),
                remote: caller_from,
                target,
                route_set,
                cseq: 0,
            },
            tag,
            last_response: Vec::new(),
            carrier_answer: setup.carrier_answer,
            sdp_version: 1,
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
            ring_deadline: Some(now.instant + env.config.max_ringing),
            pending_reinvite: None,
            held: false,
            reconnect_deadline: None,
            invite: request,
            life,
            txs: Txs::new(env.config.timers),
            out,
        };
        let live = call.live();
        call.life.started(&mut call.out, live);
        call.next_ring_step(now, env);
        if call.phase == InPhase::Ringing {
            let ringing = response_to(&call.invite, 180, "Ringing", Some(&call.tag));
            let bytes = ringing.to_string().into_bytes();
            call.last_response = bytes.clone();
            call.out.send(call.reply, bytes);
        }
        Ok(call)
    }

    /// Rings the next step's tabs; none left → the call fails.
    fn next_ring_step(&mut self, now: Now, env: &mut Env) {
        let domain = env.config.domain.clone();
        loop {
            let Some(step) = self.steps.pop_front() else {
                let code = match self.declined {
                    Some(486) => 486,
                    Some(603) => 603,
                    _ => self.fallback_code.unwrap_or(480),
                };
                let reason = match code {
                    480 => "Temporarily Unavailable (nobody answered)".to_owned(),
                    486 => "Busy Here (the agent declined)".to_owned(),
                    603 => "Decline (the agent declined)".to_owned(),
                    c => standard_reason(c).to_owned(),
                };
                self.fail(now, code, &reason, HangupBy::Gateway, env);
                return;
            };
            self.step_deadline = step.timeout.map(|t| now.instant + t);
            let mut sent = 0;
            for target in step.targets {
                let Some(uri) = dialog::contact_uri(&target.contact) else {
                    tracing::warn!(call = self.id.0, agent = %target.username,
                        "a tab's registered Contact is not a URI; it is not rung");
                    continue;
                };
                let branch = env.token(16);
                let fork_tag = env.token(12);
                let fork_call_id = format!("{}@{domain}", env.token(20));
                let name = self
                    .caller_name
                    .as_ref()
                    .map(|n| format!("\"{n}\" "))
                    .unwrap_or_default();
                let fork_dialog = Dialog {
                    call_id: fork_call_id.clone(),
                    local: format!(
                        "{name}<sip:{}@{domain}>;tag={fork_tag}",
                        clean_user(&self.caller)
                    ),
                    remote: format!("<sip:{}@{domain}>", clean_user(&target.username)),
                    target: uri,
                    route_set: Vec::new(),
                    cseq: 1,
                };
                let mut invite =
                    fork_dialog.request(rsip::Method::Invite, 1, &browser_via(&domain), &branch);
                dialog::push_header(&mut invite, "Contact", browser_contact(&domain));
                dialog::push_header(&mut invite, "Allow", ALLOW);
                dialog::push_header(&mut invite, "X-Dialer-DID", self.did.clone());
                if !self.did_label.is_empty() {
                    dialog::push_header(&mut invite, "X-Dialer-DID-Label", self.did_label.clone());
                }
                dialog::finish(&mut invite, Some(("application/sdp", &self.browser_offer)));
                self.out.send_msg(Destination::Conn(target.conn), &invite);
                self.forks.push(Fork {
                    target,
                    dialog: fork_dialog,
                    branch,
                    invite,
                    state: ForkState::Calling,
                    cancel_pending: None,
                });
                self.out.event(CallOutput::Bind(fork_call_id));
                sent += 1;
            }
            if sent > 0 {
                return;
            }
        }
    }

    // ---------------------------------------------------------------
    // What the router asks
    // ---------------------------------------------------------------

    fn live(&self) -> LiveCall {
        let state = match (self.phase, self.held) {
            (InPhase::Answered, _) if self.reconnect_deadline.is_some() => {
                LiveCallState::Reconnecting
            }
            (InPhase::Answered, true) => LiveCallState::Held,
            (InPhase::Answered, false) => LiveCallState::Connected,
            _ => LiveCallState::Ringing,
        };
        record::live(&self.life.record, state)
    }

    /// The call as the live view shows it (`None` once it ended).
    pub fn live_call(&self) -> Option<LiveCall> {
        (self.phase != InPhase::Ended).then(|| self.live())
    }

    /// The agent who answered, while the call is not over.
    pub fn agent_of_live_call(&self) -> Option<AccountId> {
        (self.phase == InPhase::Answered)
            .then_some(self.life.record.account_id)
            .flatten()
    }

    /// The carrier this call holds a channel on, while it is not over.
    pub fn carrier_in_use(&self) -> Option<CarrierId> {
        (self.phase != InPhase::Ended)
            .then_some(self.life.record.carrier_id)
            .flatten()
    }

    pub fn is_done(&self) -> bool {
        self.life.done
    }

    /// Done, and none of its client transactions still runs (a 487 to our
    /// CANCELled INVITE still gets its ACK, a BYE its retransmissions).
    pub fn is_finished(&self) -> bool {
        self.life.done && self.txs.is_empty()
    }

    pub fn poll_transmit(&mut self) -> Option<super::call::Outgoing> {
        self.out.poll_transmit()
    }

    pub fn poll_event(&mut self) -> Option<CallOutput> {
        self.out.poll_event()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.ok.as_ref().map(|o| o.next),
            self.ring_deadline,
            self.step_deadline,
            self.life.flush_deadline,
            self.txs.poll_timeout(),
            self.reconnect_deadline,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// The tab a message over `conn` belongs to, by its Call-ID.
    fn fork_of(&self, headers: &rsip::Headers, conn: ConnId) -> Option<usize> {
        let call_id = msg::header(headers, "Call-ID")?;
        self.forks
            .iter()
            .position(|f| f.dialog.call_id == call_id && f.target.conn == conn)
    }

    /// What we name toward the carrier: in its family, for the transport
    /// its INVITE came over.
    fn toward_carrier(&self, env: &Env) -> Toward {
        let transport = match self.transport {
            Transport::Tcp => SipTransport::Tcp,
            Transport::Tls => SipTransport::Tls,
            _ => SipTransport::Udp,
        };
        env.config.local.toward(self.peer_ip, transport)
    }

    fn carrier_via(&self, env: &Env) -> ViaSpec {
        let ours = self.toward_carrier(env);
        ViaSpec {
            proto: ours.proto,
            sent_by: ours.host_port(),
            rport: true,
        }
    }

    fn carrier_contact(&self, env: &Env) -> String {
        let ours = self.toward_carrier(env);
        format!("<sip:gw@{}{}>", ours.host_port(), ours.contact_param)
    }
}
