//! The phone's user agent, sans-IO: one WebSocket link to the gateway and the
//! [`Registration`] that runs over it. The shell ([`super::shell`]) opens and
//! closes sockets, passes frames and the time in, and sets one timer at
//! [`Ua::poll_timeout`]; everything it must do comes out of
//! [`Ua::poll_command`], and what the page shows out of [`Ua::poll_event`].
//!
//! Calls ride on the same link: [`Ua::place_call`] starts a
//! [`shared::sip::call::Call`], frames are routed to it by Call-ID, and what
//! it reports comes out as [`UaEvent::Call`]. An INVITE from the gateway
//! starts a [`shared::sip::incoming::IncomingCall`] and is announced as
//! [`UaEvent::Incoming`]; the shell answers it with [`Ua::answer`] or
//! [`Ua::decline`], and from then on it is "the call" like an outbound one.
//! One call at a time, either way: an INVITE while busy gets 486 Busy Here.
//! An ended call that still finishes its CANCEL, BYE or final response is
//! kept until it is done.
//!
//! ```text
//!             start()                 open                  2xx
//!   Down ─────────────► Connecting ─────────► Open ─ REGISTER ─────► (Registered)
//!    ▲                   │    ▲                 │  │
//!    │                   │    │ retry time      │  └─ 403/404/… ─► Close, Failed (stays down;
//!    │   closed /        ▼    │                 │                   retry() starts over)
//!    │   10 s without ─► Waiting (backoff       │
//!    │   open            1 s → 30 s, jitter) ◄──┴─ closed, or 408/5xx from the registrar
//!    │
//!    └── sign_out(): un-REGISTER if registered, wait ≤ 2 s for its answer, Close
//! ```

use std::collections::VecDeque;
use std::time::Duration;

use rsip::headers::UntypedHeader;
use shared::sip::call::{
    Call, CallError, CallEvent, CallRequest, CallState, CallerIdentity, Reoffer,
};
use shared::sip::incoming::{IncomingCall, IncomingInfo};
use shared::sip::register::{
    Registration, RegistrationConfig, RegistrationEvent, RegistrationState, Rng, status_line_reason,
};
use shared::sip::transaction::Timers;
use shared::sip::{Inbound, Limits, Transport, inbound};
use web_time::Instant;

use super::backoff::Backoff;

/// How long a WebSocket may stay "connecting" before it is given up.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long sign-out waits for the un-REGISTER's answer.
pub const SIGN_OUT_WAIT: Duration = Duration::from_secs(2);
/// How long an answered call waits for the link to come back before the
/// phone gives it up (the gateway's `--reconnect-grace` default).
pub const RESUME_WAIT: Duration = Duration::from_secs(30);
/// The first reconnect while a call waits: at once, not after the backoff.
const RESUME_FIRST_TRY: Duration = Duration::from_millis(200);
/// Messages of a waiting call kept for the next link (a BYE, an ACK).
const HELD_BACK_MAX: usize = 16;

/// What the registration badge shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PhoneStatus {
    Connecting,
    Registered,
    Failed {
        reason: String,
    },
    /// The link dropped; the next attempt is at `at`.
    Reconnecting {
        at: Instant,
    },
    /// Signed out: the binding was removed.
    SignedOut,
    /// The account has no phone (no SIP credential came with the session).
    NoPhone,
}

impl PhoneStatus {
    /// The `data-state` attribute of `#registration-state`.
    pub fn data_state(&self) -> &'static str {
        match self {
            PhoneStatus::Connecting => "connecting",
            PhoneStatus::Registered => "registered",
            PhoneStatus::Failed { .. } => "failed",
            PhoneStatus::Reconnecting { .. } => "reconnecting",
            PhoneStatus::SignedOut | PhoneStatus::NoPhone => "unregistered",
        }
    }

    /// The text of `#registration-state` at `now`.
    pub fn label(&self, now: Instant) -> String {
        match self {
            PhoneStatus::Connecting => "Connecting…".to_owned(),
            PhoneStatus::Registered => "Registered".to_owned(),
            PhoneStatus::Failed { reason } => format!("Registration failed: {reason}"),
            PhoneStatus::Reconnecting { at } => {
                let left = at.saturating_duration_since(now).as_millis();
                let secs = left.div_ceil(1000).max(1);
                format!("Reconnecting in {secs} s…")
            }
            PhoneStatus::SignedOut => "Signed out".to_owned(),
            PhoneStatus::NoPhone => "No phone on this account".to_owned(),
        }
    }
}

/// What the shell must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Open a new WebSocket (subprotocol `sip`) and report
    /// [`Ua::handle_open`] / [`Ua::handle_closed`] for it.
    Connect,
    /// Send one text frame on the open WebSocket.
    Send(String),
    /// Close the WebSocket and report nothing more about it.
    Close,
}

/// What the page is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UaEvent {
    Status(PhoneStatus),
    /// Sign-out finished on the SIP side (un-REGISTER answered, refused,
    /// timed out, or not needed); the web session can go now.
    SignedOut,
    /// News of the current call.
    Call(CallEvent),
    /// An INVITE from the gateway is ringing this phone: show it, then
    /// [`Ua::answer`] (with the browser's answer to `offer`) or
    /// [`Ua::decline`]. Its end comes as [`UaEvent::Call`] too.
    Incoming {
        info: IncomingInfo,
        offer: String,
    },
    /// The link dropped during an answered call: the call waits (the
    /// customer stays on the line at the gateway) while the phone
    /// reconnects. Show "reconnecting".
    CallWaiting,
    /// Registered again with the call still up: make an ICE-restart offer
    /// and hand it to [`Ua::restart_call`].
    CallResume,
}

/// The current call: one we placed or one we were offered.
enum PhoneCall {
    Out(Box<Call>),
    In(Box<IncomingCall>),
}

impl PhoneCall {
    fn call_id(&self) -> &str {
        match self {
            PhoneCall::Out(c) => c.call_id(),
            PhoneCall::In(c) => c.call_id(),
        }
    }
    fn state(&self) -> CallState {
        match self {
            PhoneCall::Out(c) => c.state(),
            PhoneCall::In(c) => c.state(),
        }
    }
    fn is_terminated(&self) -> bool {
        match self {
            PhoneCall::Out(c) => c.is_terminated(),
            PhoneCall::In(c) => c.is_terminated(),
        }
    }
    fn hangup(&mut self, now: Instant) {
        match self {
            PhoneCall::Out(c) => c.hangup(now),
            PhoneCall::In(c) => c.hangup(now),
        }
    }
    fn reoffer(&mut self, now: Instant, reoffer: Reoffer, offer: String) -> Result<(), CallError> {
        match self {
            PhoneCall::Out(c) => c.reoffer(now, reoffer, offer),
            PhoneCall::In(c) => c.reoffer(now, reoffer, offer),
        }
    }
    fn accept_offer(&mut self, now: Instant, answer: String) -> Result<(), CallError> {
        match self {
            PhoneCall::Out(c) => c.accept_offer(now, answer),
            PhoneCall::In(c) => c.accept_offer(now, answer),
        }
    }
    fn reject_offer(&mut self, now: Instant) -> Result<(), CallError> {
        match self {
            PhoneCall::Out(c) => c.reject_offer(now),
            PhoneCall::In(c) => c.reject_offer(now),
        }
    }
    fn transport_lost(&mut self) {
        match self {
            PhoneCall::Out(c) => c.transport_lost(),
            PhoneCall::In(c) => c.transport_lost(),
        }
    }
    fn link_lost(&mut self) -> bool {
        match self {
            PhoneCall::Out(c) => c.link_lost(),
            PhoneCall::In(c) => c.link_lost(),
        }
    }
    fn handle_response(&mut self, now: Instant, response: rsip::Response, reason: Option<&str>) {
        match self {
            PhoneCall::Out(c) => c.handle_response(now, response, reason),
            PhoneCall::In(c) => c.handle_response(now, response, reason),
        }
    }
    fn handle_request(&mut self, now: Instant, request: rsip::Request) {
        match self {
            PhoneCall::Out(c) => c.handle_request(now, request),
            PhoneCall::In(c) => c.handle_request(now, request),
        }
    }
    fn handle_timeout(&mut self, now: Instant) {
        match self {
            PhoneCall::Out(c) => c.handle_timeout(now),
            PhoneCall::In(c) => c.handle_timeout(now),
        }
    }
    fn poll_timeout(&self) -> Option<Instant> {
        match self {
            PhoneCall::Out(c) => c.poll_timeout(),
            PhoneCall::In(c) => c.poll_timeout(),
        }
    }
    fn poll_transmit(&mut self) -> Option<rsip::SipMessage> {
        match self {
            PhoneCall::Out(c) => c.poll_transmit(),
            PhoneCall::In(c) => c.poll_transmit(),
        }
    }
    fn poll_event(&mut self) -> Option<CallEvent> {
        match self {
            PhoneCall::Out(c) => c.poll_event(),
            PhoneCall::In(c) => c.poll_event(),
        }
    }
}

/// Why a call could not be placed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlaceError {
    /// The WebSocket is not open (connecting, reconnecting, signed out).
    NotConnected,
    /// A call is already in progress.
    Busy,
    /// The call could not be built (a bad AOR or offer).
    Invalid(CallError),
}

impl std::fmt::Display for PlaceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PlaceError::NotConnected => {
                f.write_str("Your phone is not connected. Try again once it shows Registered.")
            }
            PlaceError::Busy => f.write_str("A call is already in progress."),
            PlaceError::Invalid(e) => write!(f, "The call could not be placed ({e})."),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    Down,
    Connecting { deadline: Instant },
    Open,
    Waiting { at: Instant },
}

/// Makes a random source for each new call.
type RngFactory = Box<dyn Fn() -> Box<dyn FnMut() -> u64>>;

pub struct Ua {
    registration: Registration,
    identity: CallerIdentity,
    call_rng: RngFactory,
    /// The current call, until it is over and done.
    call: Option<PhoneCall>,
    /// Ended calls still finishing a CANCEL or BYE; they report nothing more.
    finishing: Vec<PhoneCall>,
    rng: Box<dyn Rng>,
    backoff: Backoff,
    link: Link,
    /// A registrar refusal the phone cannot fix by itself (wrong or expired
    /// credential); it stays down until [`Ua::retry`].
    stopped: bool,
    /// The shell is preparing an outbound call (microphone, offer) that
    /// has no `Call` yet: an incoming INVITE is busy then too.
    dialing: bool,
    /// Deadline of a sign-out in progress.
    signing_out: Option<Instant>,
    signed_out: bool,
    /// An answered call outlived its link: it waits until then for the
    /// next registration, then resumes ([`UaEvent::CallResume`]).
    waiting_call: Option<Instant>,
    /// What the waiting call sent meanwhile, for the next link.
    held_back: VecDeque<String>,
    status: Option<PhoneStatus>,
    commands: VecDeque<Command>,
    events: VecDeque<UaEvent>,
}

impl Ua {
    /// A user agent that registers as `config`. `rng` draws tags, branches,
    /// cnonces and reconnect jitter.
    pub fn new<R>(config: RegistrationConfig, rng: R) -> Result<Self, String>
    where
        R: Rng + Clone + Send + 'static,
    {
        let identity = CallerIdentity::from(&config);
        let registration = Registration::new(config, rng.clone()).map_err(|e| e.to_string())?;
        let for_calls = rng.clone();
        let call_rng: RngFactory = Box::new(move || {
            let mut rng = for_calls.clone();
            Box::new(move || rng.next_u64())
        });
        Ok(Ua {
            registration,
            identity,
            call_rng,
            call: None,
            finishing: Vec::new(),
            rng: Box::new(rng),
            backoff: Backoff::default(),
            link: Link::Down,
            stopped: false,
            dialing: false,
            signing_out: None,
            signed_out: false,
            waiting_call: None,
            held_back: VecDeque::new(),
            status: None,
            commands: VecDeque::new(),
            events: VecDeque::new(),
        })
    }

    /// Connects and registers (once; later the `Ua` reconnects by itself).
    pub fn start(&mut self, now: Instant) {
        if self.signed_out || self.link != Link::Down || self.stopped {
            return;
        }
        self.connect(now);
    }

    /// After a refusal ([`PhoneStatus::Failed`]): try again from scratch.
    pub fn retry(&mut self, now: Instant) {
        if self.signed_out || self.signing_out.is_some() {
            return;
        }
        self.stopped = false;
        self.backoff.reset();
        match self.link {
            Link::Open => {
                self.set_status(PhoneStatus::Connecting);
                self.registration.start(now);
                self.drain(now);
            }
            Link::Connecting { .. } => {}
            Link::Down | Link::Waiting { .. } => self.connect(now),
        }
    }

    /// The WebSocket asked for by the last [`Command::Connect`] is open.
    pub fn handle_open(&mut self, now: Instant) {
        if !matches!(self.link, Link::Connecting { .. }) {
            return;
        }
        self.link = Link::Open;
        self.registration.start(now);
        self.drain(now);
    }

    /// One text frame arrived.
    pub fn handle_frame(&mut self, now: Instant, text: &str) {
        if self.link != Link::Open {
            return;
        }
        match inbound(text.as_bytes(), Transport::Wss, Limits::default()) {
            Inbound::Response(response) => {
                let reason = status_line_reason(text);
                match self.call_for(call_id(&response.headers)) {
                    Some(call) => call.handle_response(now, response, reason),
                    None => self
                        .registration
                        .handle_response_with_reason(now, response, reason),
                }
            }
            Inbound::Request { request } => {
                if let Some(call) = self.call_for(call_id(&request.headers)) {
                    call.handle_request(now, request);
                    self.drain(now);
                    return;
                }
                if request.method == rsip::Method::Invite && !has_to_tag(&request) {
                    self.incoming_invite(now, request);
                    self.drain(now);
                    return;
                }
                let tag = format!("{:016x}", self.rng.next_u64());
                if let Some(answer) = answer_request(&request, &tag) {
                    self.commands.push_back(Command::Send(answer));
                }
            }
            Inbound::Reject { response, .. } => {
                self.commands.push_back(Command::Send(
                    String::from_utf8_lossy(&response).into_owned(),
                ));
            }
            Inbound::Drop { .. } => {}
        }
        self.drain(now);
    }

    /// The WebSocket closed (or failed to open).
    pub fn handle_closed(&mut self, now: Instant) {
        if matches!(self.link, Link::Down | Link::Waiting { .. }) {
            return;
        }
        self.link = Link::Down;
        self.registration.transport_lost();
        self.calls_lost(now, true);
        if self.signing_out.is_some() {
            self.finish_sign_out();
        } else if !self.stopped {
            self.schedule_reconnect(now);
        }
        self.drain(now);
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        match self.link {
            Link::Connecting { deadline } if deadline <= now => {
                self.commands.push_back(Command::Close);
                self.link = Link::Down;
                self.schedule_reconnect(now);
            }
            Link::Waiting { at } if at <= now => self.connect(now),
            Link::Open if self.waiting_call.is_some() => {
                // Registering again: only the registration runs; the call
                // resumes once it is done.
                self.registration.handle_timeout(now);
            }
            Link::Open => {
                self.registration.handle_timeout(now);
                for call in self.call.iter_mut().chain(self.finishing.iter_mut()) {
                    if call.poll_timeout().is_some_and(|at| at <= now) {
                        call.handle_timeout(now);
                    }
                }
            }
            _ => {}
        }
        if self.signing_out.is_some_and(|deadline| deadline <= now) {
            self.finish_sign_out();
        }
        if self.waiting_call.is_some_and(|deadline| deadline <= now) {
            // The link did not come back in time: the gateway has ended
            // the call too.
            self.waiting_call = None;
            self.held_back.clear();
            if let Some(call) = &mut self.call {
                call.transport_lost();
            }
        }
        self.drain(now);
    }

    /// Un-REGISTERs (waiting up to [`SIGN_OUT_WAIT`] for the answer), then
    /// closes; [`UaEvent::SignedOut`] says when it is done.
    pub fn sign_out(&mut self, now: Instant) {
        if self.signed_out || self.signing_out.is_some() {
            return;
        }
        // The call first: its BYE goes out before the un-REGISTER.
        self.hangup(now);
        let bound = matches!(
            self.registration.state(),
            RegistrationState::Registering
                | RegistrationState::Registered
                | RegistrationState::Refreshing
        );
        if self.link == Link::Open && bound {
            self.signing_out = Some(now + SIGN_OUT_WAIT);
            self.registration.unregister(now);
            self.drain(now);
        } else {
            self.finish_sign_out();
        }
    }

    pub fn poll_command(&mut self) -> Option<Command> {
        self.commands.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<UaEvent> {
        self.events.pop_front()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        let link = match self.link {
            Link::Connecting { deadline } => Some(deadline),
            Link::Waiting { at } => Some(at),
            Link::Open => {
                let calls = self.call.iter().chain(&self.finishing);
                calls
                    .filter_map(PhoneCall::poll_timeout)
                    .chain(self.registration.poll_timeout())
                    .min()
            }
            Link::Down => None,
        };
        [link, self.signing_out, self.waiting_call]
            .into_iter()
            .flatten()
            .min()
    }

    /// The answered call is waiting for the link ([`UaEvent::CallWaiting`]).
    pub fn call_waiting(&self) -> bool {
        self.waiting_call.is_some()
    }

    /// Resumes the call after [`UaEvent::CallResume`] with the browser's
    /// ICE-restart `offer` (a re-INVITE in the same dialog).
    pub fn restart_call(&mut self, now: Instant, offer: String) -> Result<(), CallError> {
        self.reoffer(now, Reoffer::Restart, offer)
    }

    /// Calls `request.target` with the offer in `request`. Placed even while
    /// a registration refresh is in flight: the link is what counts.
    pub fn place_call(&mut self, now: Instant, request: CallRequest) -> Result<(), PlaceError> {
        if self.link != Link::Open || self.signing_out.is_some() || self.signed_out {
            return Err(PlaceError::NotConnected);
        }
        if self.in_call() {
            return Err(PlaceError::Busy);
        }
        let call = Call::new(now, self.identity.clone(), request, (self.call_rng)())
            .map_err(PlaceError::Invalid)?;
        if let Some(old) = self.call.replace(PhoneCall::Out(Box::new(call))) {
            self.finishing.push(old);
        }
        self.drain(now);
        Ok(())
    }

    /// A call is being set up or is up (not yet ended).
    pub fn in_call(&self) -> bool {
        self.call
            .as_ref()
            .is_some_and(|c| c.state() != CallState::Ended)
    }

    /// The shell started (`true`) or stopped preparing an outbound call.
    pub fn set_dialing(&mut self, dialing: bool) {
        self.dialing = dialing;
    }

    /// Answers the ringing incoming call with the browser's SDP `answer`.
    pub fn answer(&mut self, now: Instant, call_id: &str, answer: String) -> Result<(), CallError> {
        let result = match &mut self.call {
            Some(PhoneCall::In(call)) if call.call_id() == call_id => call.answer(now, answer),
            _ => Err(CallError::NoOfferPending),
        };
        self.drain(now);
        result
    }

    /// Declines the ringing incoming call (486 Busy Here).
    pub fn decline(&mut self, now: Instant, call_id: &str) {
        if let Some(PhoneCall::In(call)) = &mut self.call
            && call.call_id() == call_id
            && call.state() == CallState::Ringing
        {
            call.decline(now);
        }
        self.drain(now);
    }

    /// Hangs up the current call, if any (CANCEL or BYE).
    pub fn hangup(&mut self, now: Instant) {
        if let Some(call) = &mut self.call {
            call.hangup(now);
            self.drain(now);
        }
    }

    /// Hold or resume the current call with the browser's new `offer`.
    pub fn reoffer(
        &mut self,
        now: Instant,
        reoffer: Reoffer,
        offer: String,
    ) -> Result<(), CallError> {
        // While the call waits for the link only the restart may go.
        if self.waiting_call.is_some() || (reoffer == Reoffer::Restart && self.link != Link::Open) {
            return Err(CallError::NotConnected);
        }
        let call = self.call.as_mut().ok_or(CallError::NotConnected)?;
        let result = call.reoffer(now, reoffer, offer);
        self.drain(now);
        result
    }

    /// The browser's answer to the far end's re-INVITE offer.
    pub fn accept_offer(&mut self, now: Instant, answer: String) -> Result<(), CallError> {
        let call = self.call.as_mut().ok_or(CallError::NoOfferPending)?;
        let result = call.accept_offer(now, answer);
        self.drain(now);
        result
    }

    /// The browser could not take the far end's re-INVITE offer.
    pub fn reject_offer(&mut self, now: Instant) -> Result<(), CallError> {
        let call = self.call.as_mut().ok_or(CallError::NoOfferPending)?;
        let result = call.reject_offer(now);
        self.drain(now);
        result
    }

    /// A new INVITE from the gateway: ring, or 486 when a call is on (or
    /// being prepared: the shell asks with [`Ua::in_call`] before dialling,
    /// and a placed call is `in_call` from its first INVITE).
    fn incoming_invite(&mut self, now: Instant, request: rsip::Request) {
        if self.in_call() || self.dialing || self.signing_out.is_some() || self.signed_out {
            let tag = format!("{:016x}", self.rng.next_u64());
            let response =
                shared::sip::response::response_to(&request, 486, "Busy Here", Some(&tag));
            self.commands.push_back(Command::Send(response.to_string()));
            return;
        }
        match IncomingCall::new(
            now,
            self.identity.clone(),
            request,
            (self.call_rng)(),
            Timers::default(),
        ) {
            Ok(call) => {
                self.events.push_back(UaEvent::Incoming {
                    info: call.info().clone(),
                    offer: call.offer().to_owned(),
                });
                if let Some(old) = self.call.replace(PhoneCall::In(Box::new(call))) {
                    self.finishing.push(old);
                }
            }
            Err(response) => self.commands.push_back(Command::Send(response.to_string())),
        }
    }

    /// The call (current or finishing) with this Call-ID.
    fn call_for(&mut self, call_id: Option<&str>) -> Option<&mut PhoneCall> {
        let call_id = call_id?;
        self.call
            .iter_mut()
            .chain(self.finishing.iter_mut())
            .find(|c| c.call_id() == call_id)
    }

    /// The link is gone. An answered call waits for the next one when
    /// `keep` (see [`UaEvent::CallWaiting`]); any other call ends.
    fn calls_lost(&mut self, now: Instant, keep: bool) {
        if let Some(call) = &mut self.call {
            let kept = if keep && !self.signed_out && self.signing_out.is_none() {
                call.link_lost()
            } else {
                call.transport_lost();
                false
            };
            if kept && self.waiting_call.is_none() {
                self.waiting_call = Some(now + RESUME_WAIT);
                self.held_back.clear();
                self.events.push_back(UaEvent::CallWaiting);
            } else if !kept {
                self.waiting_call = None;
                self.held_back.clear();
            }
        }
        self.finishing.clear();
    }

    fn connect(&mut self, now: Instant) {
        self.link = Link::Connecting {
            deadline: now + CONNECT_TIMEOUT,
        };
        self.commands.push_back(Command::Connect);
        self.set_status(PhoneStatus::Connecting);
    }

    fn schedule_reconnect(&mut self, now: Instant) {
        let delay = if self.waiting_call.is_some() && self.status != Some(PhoneStatus::Connecting) {
            // A call waits: try at once (the backoff takes over if that
            // attempt fails too).
            RESUME_FIRST_TRY
        } else {
            self.backoff.next_delay(self.rng.next_u64())
        };
        let at = now + delay;
        self.link = Link::Waiting { at };
        self.set_status(PhoneStatus::Reconnecting { at });
    }

    /// Turns the registration's and the calls' output into commands and
    /// events.
    fn drain(&mut self, now: Instant) {
        while let Some(request) = self.registration.poll_transmit() {
            if self.link == Link::Open {
                self.commands.push_back(Command::Send(request.to_string()));
            }
        }

        while let Some(event) = self.registration.poll_event() {
            if self.signing_out.is_some() {
                // Whatever the answer, the un-REGISTER is over.
                if matches!(
                    event,
                    RegistrationEvent::Unregistered | RegistrationEvent::Failed { .. }
                ) {
                    self.finish_sign_out();
                }
                continue;
            }
            match event {
                RegistrationEvent::Registered { .. } => {
                    self.backoff.reset();
                    self.set_status(PhoneStatus::Registered);
                    if self.waiting_call.take().is_some() {
                        // Registered on the new link: what the call said
                        // meanwhile goes first, then it resumes (if it is
                        // still up).
                        for message in self.held_back.drain(..) {
                            self.commands.push_back(Command::Send(message));
                        }
                        if self.in_call() {
                            self.events.push_back(UaEvent::CallResume);
                        }
                    }
                }
                RegistrationEvent::Failed { code, .. } if is_transient(code) => {
                    // No answer or a registrar in trouble: a fresh connection
                    // (perhaps to a restarted gateway) is the cure.
                    self.close_link(now, true);
                    self.schedule_reconnect(now);
                }
                RegistrationEvent::Failed { reason, .. } => {
                    self.close_link(now, false);
                    self.stopped = true;
                    self.set_status(PhoneStatus::Failed { reason });
                }
                RegistrationEvent::Unregistered => {}
            }
        }
        // Last: the registration's news may have closed the link, ending
        // the call.
        for call in self.call.iter_mut().chain(self.finishing.iter_mut()) {
            while let Some(message) = call.poll_transmit() {
                if self.waiting_call.is_some() {
                    if self.held_back.len() < HELD_BACK_MAX {
                        self.held_back.push_back(message.to_string());
                    }
                } else if self.link == Link::Open {
                    self.commands.push_back(Command::Send(message.to_string()));
                }
            }
        }
        if let Some(call) = &mut self.call {
            while let Some(event) = call.poll_event() {
                self.events.push_back(UaEvent::Call(event));
            }
        }
        for call in &mut self.finishing {
            while call.poll_event().is_some() {}
        }
        self.finishing.retain(|c| !c.is_terminated());
        if self.call.as_ref().is_some_and(PhoneCall::is_terminated) {
            self.call = None;
        }
    }

    fn close_link(&mut self, now: Instant, keep_call: bool) {
        if matches!(self.link, Link::Open | Link::Connecting { .. }) {
            self.commands.push_back(Command::Close);
        }
        self.link = Link::Down;
        self.registration.transport_lost();
        // A refusal that stops the phone ends the call; a transient one
        // (the link is tried again) keeps an answered call waiting.
        self.calls_lost(now, keep_call);
        // transport_lost() may report an un-REGISTER as done; nothing waits for it here.
        while self.registration.poll_event().is_some() {}
    }

    fn finish_sign_out(&mut self) {
        if self.signed_out {
            return;
        }
        self.signing_out = None;
        self.signed_out = true;
        if matches!(self.link, Link::Open | Link::Connecting { .. }) {
            self.commands.push_back(Command::Close);
        }
        self.link = Link::Down;
        self.set_status(PhoneStatus::SignedOut);
        self.events.push_back(UaEvent::SignedOut);
    }

    fn set_status(&mut self, status: PhoneStatus) {
        if self.status.as_ref() != Some(&status) {
            self.status = Some(status.clone());
            self.events.push_back(UaEvent::Status(status));
        }
    }
}

/// The Call-ID of a message, for routing it to its call.
fn call_id(headers: &rsip::Headers) -> Option<&str> {
    headers.iter().find_map(|h| match h {
        rsip::Header::CallId(c) => Some(c.value().trim()),
        _ => None,
    })
}

/// A request inside a dialog carries a To tag; a new INVITE does not.
fn has_to_tag(request: &rsip::Request) -> bool {
    request.headers.iter().any(|h| match h {
        rsip::Header::To(to) => shared::sip::response::has_tag(to.value()),
        _ => false,
    })
}

/// Failures worth another try on a fresh connection, after the backoff.
fn is_transient(code: u16) -> bool {
    matches!(code, 408 | 480 | 500 | 502 | 503 | 504)
}

/// The answer to a request outside any call (new INVITEs are taken before):
/// OPTIONS is answered 200, ACK not at all, BYE and CANCEL 481, anything
/// else 405 (or 501 for a method rsip does not know).
/// Methods rsip cannot represent never get here: `inbound` answers them 501.
fn answer_request(request: &rsip::Request, tag: &str) -> Option<String> {
    use rsip::headers::UntypedHeader;
    use shared::sip::response::response_to;

    let (code, reason) = match request.method {
        rsip::Method::Ack => return None,
        rsip::Method::Options => (200, "OK"),
        // A call that is over (or never was ours).
        rsip::Method::Bye | rsip::Method::Cancel => (481, "Call/Transaction Does Not Exist"),
        _ => (405, "Method Not Allowed"),
    };
    let mut response = response_to(request, code, reason, Some(tag));
    response
        .headers
        .push(rsip::headers::Allow::new("OPTIONS").into());
    Some(response.to_string())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
