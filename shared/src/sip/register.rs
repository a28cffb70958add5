//! The client side of registration (RFC 3261 §10.2), as the browser phone
//! does it: over a WebSocket (RFC 7118), one flow per tab identified by
//! `+sip.instance` and `reg-id` (RFC 5626), digest answers (RFC 8760), refresh
//! before expiry and un-REGISTER on sign-out. Sans-IO: time comes in as `now`,
//! requests go out of [`Registration::poll_transmit`], and the next deadline
//! out of [`Registration::poll_timeout`].
//!
//! ```text
//!            start()
//!   Idle ───────────────► Registering ──── 2xx ─────────────────► Registered
//!    ▲                     │  ▲    │                                 │  ▲
//!    │ transport_lost()    │  │    │ 401/407: answer once per         │  │ 2xx
//!    │ (from any state)    │  └────┘ challenge; 423: retry with       │  │
//!    │                     │         Min-Expires                      │  │
//!    │                     │                         refresh timer ─► Refreshing
//!    │                     ▼                         (½ granted)        │
//!    │                   Failed ◄── 3xx–6xx, 401 again (not stale), ────┘
//!    │                              no answer in 32 s (408)
//!    │
//!    │  unregister() (any state with a binding, or on its way to one)
//!    └──────────────── Unregistering ─── 2xx ───► Unregistered
//!                          │
//!                          └── failure / 32 s ──► Failed
//! ```
//!
//! One request is in flight at a time. Over a WebSocket messages arrive in
//! order, so a new request (say an un-REGISTER while a refresh is pending)
//! simply supersedes the old one: the late answer to the old branch is ignored
//! and the registrar sees the higher CSeq last. Nothing is retransmitted here:
//! over a reliable transport there is nothing to do (RFC 3261 §17.1.2.2, timer
//! E is not used); only timer F (64·T1 = 32 s) applies.
//!
//! The gateway registers to carriers with the same machine, over UDP or TCP
//! from an address of its own ([`RegistrationTransport`]): then Via and
//! Contact name that address and port, and Contact has no `+sip.instance` or
//! `reg-id` when no instance id is set. Over UDP the caller wraps each
//! REGISTER in a `transaction::ClientNonInvite`, which retransmits it; this
//! machine stays the transaction user, with its own 32 s timeout.
//!
//! The last challenge is kept and answered pre-emptively in the next request
//! (with the next nonce-count), which saves a round trip while the nonce is
//! fresh; a registrar that no longer likes it says `stale=true` or challenges
//! afresh, and either is answered.

use std::collections::VecDeque;
use std::time::Duration;

use rsip::prelude::*;
use web_time::Instant;

use super::digest::{self, Challenge};
use super::uac::{algorithm_rank, quoted_display_name, standard_reason};

/// Timer F for a reliable transport: 64·T1.
pub const TRANSACTION_TIMEOUT: Duration = Duration::from_secs(32);

/// Expiry asked for when the configuration does not say otherwise.
pub const DEFAULT_EXPIRES: u32 = 600;

/// How many 423 answers in a row are followed before giving up.
const MAX_INTERVAL_RETRIES: u8 = 2;

/// How many challenges in a row are answered (a fresh one, then `stale`
/// ones) before giving up on a registrar that never accepts.
const MAX_AUTH_ROUNDS: u8 = 3;

/// Randomness for branches, tags, Call-ID and cnonce, supplied by the shell
/// so that the state machine stays deterministic in tests. Any
/// `FnMut() -> u64` is one.
pub trait Rng {
    fn next_u64(&mut self) -> u64;
}

impl<F: FnMut() -> u64> Rng for F {
    fn next_u64(&mut self) -> u64 {
        self()
    }
}

/// How the REGISTERs travel, which decides Via and Contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RegistrationTransport {
    /// SIP over a secure WebSocket (RFC 7118), as the browser phone does:
    /// `Via: SIP/2.0/WSS {via_host}`, Contact `;transport=ws`, and
    /// `+sip.instance`/`reg-id` (RFC 5626).
    #[default]
    WebSocket,
    /// UDP from `{via_host}:{port}`: `Via: SIP/2.0/UDP host:port;rport`,
    /// Contact `<sip:user@host:port>`.
    Udp { port: u16 },
    /// TCP, with Contact `;transport=tcp`.
    Tcp { port: u16 },
    /// TLS, with Contact `;transport=tls`.
    Tls { port: u16 },
}

/// What the phone registers as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationConfig {
    /// Address of record, `sip:user@domain`; the Request-URI is `sip:domain`.
    pub aor: String,
    /// Display name put in From and To.
    pub display_name: String,
    /// Digest username.
    pub username: String,
    /// Digest password.
    pub password: String,
    /// `urn:uuid:…` naming this tab (RFC 5626 `+sip.instance`), without the
    /// angle brackets. Required over a WebSocket; elsewhere it may be empty,
    /// and Contact then carries no `+sip.instance` and no `reg-id`.
    pub instance_id: String,
    /// RFC 5626 `reg-id`; 1 for the one flow a tab has.
    pub reg_id: u32,
    /// Expiry asked for, in seconds.
    pub expires: u32,
    /// User part of the Contact URI (random per page load).
    pub contact_user: String,
    /// Host put in Via and Contact: a random name under `.invalid`
    /// (RFC 7118 §5: a browser has no reachable address of its own), or a
    /// server's advertised address over UDP and TCP.
    pub via_host: String,
    /// `User-Agent` header, if any.
    pub user_agent: Option<String>,
    /// WebSocket (the default), UDP or TCP.
    pub transport: RegistrationTransport,
}

impl Default for RegistrationConfig {
    fn default() -> Self {
        RegistrationConfig {
            aor: String::new(),
            display_name: String::new(),
            username: String::new(),
            password: String::new(),
            instance_id: String::new(),
            reg_id: 1,
            expires: DEFAULT_EXPIRES,
            contact_user: String::new(),
            via_host: String::new(),
            user_agent: None,
            transport: RegistrationTransport::WebSocket,
        }
    }
}

/// A configuration that cannot register.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("address of record {0:?} is not a sip: URI with a user and a host")]
    BadAor(String),
    #[error("{0} must not be empty")]
    Empty(&'static str),
    #[error("{0} contains characters that cannot go into a SIP header")]
    BadCharacters(&'static str),
}

/// Where a registration is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistrationState {
    /// Not started, or the transport was lost.
    Idle,
    /// The first REGISTER (or its digest answer) is in flight.
    Registering,
    /// A binding exists; the refresh timer runs.
    Registered,
    /// A binding exists and its refresh is in flight.
    Refreshing,
    /// The un-REGISTER is in flight.
    Unregistering,
    /// The binding was removed.
    Unregistered,
    /// The registrar refused, or did not answer.
    Failed,
}

/// What the shell is told about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistrationEvent {
    /// A REGISTER succeeded (first time or refresh); `expires` is what the
    /// registrar granted, in seconds.
    Registered { expires: u32 },
    /// A REGISTER or un-REGISTER failed. `code` is the SIP status (408 when no
    /// answer came); `reason` is the reason phrase.
    Failed { code: u16, reason: String },
    /// The un-REGISTER succeeded (or there was nothing to remove).
    Unregistered,
}

/// The client registration state machine. See the module documentation.
pub struct Registration {
    config: RegistrationConfig,
    /// `sip:domain` (or `sips:domain`), also the digest `uri`.
    request_uri: rsip::Uri,
    request_uri_text: String,
    rng: Box<dyn Rng + Send>,
    call_id: String,
    from_tag: String,
    cseq: u32,
    state: RegistrationState,
    /// Expiry currently asked for (raised by 423).
    expires: u32,
    interval_retries: u8,
    pending: Option<Pending>,
    auth: Option<AuthState>,
    refresh_at: Option<Instant>,
    transmits: VecDeque<rsip::Request>,
    events: VecDeque<RegistrationEvent>,
}

impl std::fmt::Debug for Registration {
    // By hand: the configuration holds the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registration")
            .field("aor", &self.config.aor)
            .field("call_id", &self.call_id)
            .field("cseq", &self.cseq)
            .field("state", &self.state)
            .field("expires", &self.expires)
            .field("refresh_at", &self.refresh_at)
            .finish_non_exhaustive()
    }
}

/// The REGISTER in flight.
struct Pending {
    purpose: Purpose,
    branch: String,
    cseq: u32,
    deadline: Instant,
    /// How many challenges in a row led to this request. Above zero, it
    /// answers a challenge received on the request before it, and a new,
    /// non-stale challenge means the credentials are wrong.
    auth_rounds: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    Register,
    Refresh,
    Unregister,
}

struct AuthState {
    challenge: Challenge,
    /// 407 (`Proxy-Authorization`) rather than 401 (`Authorization`).
    proxy: bool,
    /// Last nonce-count used with this challenge's nonce.
    nc: u32,
}

impl Registration {
    /// A registration for `config`, with randomness from `rng`. Draws the
    /// Call-ID and From tag, which last as long as this value.
    pub fn new(
        config: RegistrationConfig,
        rng: impl Rng + Send + 'static,
    ) -> Result<Self, ConfigError> {
        let request_uri = registrar_uri(&config.aor)?;
        // These go into headers unquoted: plain tokens only.
        let over_ws = config.transport == RegistrationTransport::WebSocket;
        for (name, value) in [
            ("instance id", &config.instance_id),
            ("contact user", &config.contact_user),
            ("via host", &config.via_host),
        ] {
            if value.is_empty() && name == "instance id" && !over_ws {
                continue;
            }
            if value.is_empty() {
                return Err(ConfigError::Empty(name));
            }
            // An IP address, IPv6 in any of its forms.
            if name == "via host" && super::ipv6::parse_host(value).is_some() {
                continue;
            }
            if !value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-._~:".contains(c))
            {
                return Err(ConfigError::BadCharacters(name));
            }
        }
        if config.username.is_empty() {
            return Err(ConfigError::Empty("username"));
        }
        // These are quoted (or free text): anything but line breaks and
        // other control characters.
        for (name, value) in [
            ("username", config.username.as_str()),
            ("display name", config.display_name.as_str()),
            ("user agent", config.user_agent.as_deref().unwrap_or("")),
        ] {
            if value.chars().any(char::is_control) {
                return Err(ConfigError::BadCharacters(name));
            }
        }
        let mut rng: Box<dyn Rng + Send> = Box::new(rng);
        let call_id = format!("{:016x}{:016x}", rng.next_u64(), rng.next_u64());
        let from_tag = format!("{:016x}", rng.next_u64());
        Ok(Registration {
            request_uri_text: request_uri.to_string(),
            request_uri,
            expires: config.expires,
            config,
            rng,
            call_id,
            from_tag,
            cseq: 0,
            state: RegistrationState::Idle,
            interval_retries: 0,
            pending: None,
            auth: None,
            refresh_at: None,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        })
    }

    pub fn state(&self) -> RegistrationState {
        self.state
    }

    /// The Call-ID every REGISTER of this registration carries.
    pub fn call_id(&self) -> &str {
        &self.call_id
    }

    /// Sends a REGISTER (again, after a reconnect). Whatever was in flight is
    /// abandoned.
    pub fn start(&mut self, now: Instant) {
        self.interval_retries = 0;
        self.refresh_at = None;
        self.state = RegistrationState::Registering;
        self.send(now, Purpose::Register, 0);
    }

    /// Sends an un-REGISTER (`Expires: 0`) for this tab's binding. With no
    /// binding and none on its way, reports [`RegistrationEvent::Unregistered`]
    /// at once.
    pub fn unregister(&mut self, now: Instant) {
        self.refresh_at = None;
        match self.state {
            RegistrationState::Idle | RegistrationState::Unregistered => {
                self.pending = None;
                self.state = RegistrationState::Unregistered;
                self.events.push_back(RegistrationEvent::Unregistered);
            }
            RegistrationState::Unregistering => {}
            RegistrationState::Registering
            | RegistrationState::Registered
            | RegistrationState::Refreshing
            | RegistrationState::Failed => {
                self.state = RegistrationState::Unregistering;
                self.send(now, Purpose::Unregister, 0);
            }
        }
    }

    /// The connection carrying the registration closed: the registrar drops
    /// the binding with it (RFC 5626 flows), so nothing is pending any more.
    /// Call [`Registration::start`] once a new connection is up.
    pub fn transport_lost(&mut self) {
        self.pending = None;
        self.refresh_at = None;
        if self.state == RegistrationState::Unregistering {
            self.state = RegistrationState::Unregistered;
            self.events.push_back(RegistrationEvent::Unregistered);
        } else if self.state != RegistrationState::Unregistered {
            self.state = RegistrationState::Idle;
        }
    }

    /// A response arrived. Responses that do not belong to the request in
    /// flight (another branch, CSeq or Call-ID) are ignored. The reason phrase
    /// reported on failure is the standard one for the code; use
    /// [`Registration::handle_response_with_reason`] to keep the peer's.
    pub fn handle_response(&mut self, now: Instant, response: rsip::Response) {
        self.handle_response_with_reason(now, response, None);
    }

    /// As [`Registration::handle_response`], with the reason phrase as
    /// received (rsip drops it for well-known codes); see [`status_line_reason`].
    pub fn handle_response_with_reason(
        &mut self,
        now: Instant,
        response: rsip::Response,
        reason: Option<&str>,
    ) {
        let Some(pending) = &self.pending else {
            return;
        };
        if !self.belongs_to(&response, pending) {
            return;
        }
        let code = response.status_code.code();
        let reason = reason
            .map(str::to_owned)
            .unwrap_or_else(|| standard_reason(&response.status_code));
        if code < 200 {
            return;
        }
        let Some(pending) = self.pending.take() else {
            return;
        };
        match code {
            200..=299 => self.on_success(now, &pending, &response),
            401 | 407 => self.on_challenge(now, &pending, &response, code, reason),
            423 => self.on_interval_too_brief(now, &pending, &response, reason),
            _ => self.fail(code, reason),
        }
    }

    /// Fires timers: the transaction timeout and the refresh.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(pending) = &self.pending
            && pending.deadline <= now
        {
            self.pending = None;
            self.fail(
                408,
                "Request Timeout (no answer from the registrar)".to_owned(),
            );
        }
        if let Some(at) = self.refresh_at
            && at <= now
            && self.pending.is_none()
            && self.state == RegistrationState::Registered
        {
            self.refresh_at = None;
            self.interval_retries = 0;
            self.state = RegistrationState::Refreshing;
            self.send(now, Purpose::Refresh, 0);
        }
    }

    /// The next moment [`Registration::handle_timeout`] has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.pending {
            Some(p) => Some(p.deadline),
            None => self.refresh_at,
        }
    }

    /// The next REGISTER to send, complete with `Content-Length: 0`; write it
    /// with `to_string()` as one WebSocket text frame.
    pub fn poll_transmit(&mut self) -> Option<rsip::Request> {
        self.transmits.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<RegistrationEvent> {
        self.events.pop_front()
    }

    fn belongs_to(&self, response: &rsip::Response, pending: &Pending) -> bool {
        let branch_ok = response
            .via_header()
            .ok()
            .and_then(|via| param(via.value(), "branch"))
            .is_some_and(|b| b == pending.branch);
        let call_id_ok = response
            .call_id_header()
            .is_ok_and(|c| c.value().trim() == self.call_id);
        let cseq_ok = response.cseq_header().is_ok_and(|c| {
            let mut parts = c.value().split_whitespace();
            parts.next().and_then(|n| n.parse::<u32>().ok()) == Some(pending.cseq)
                && parts
                    .next()
                    .is_some_and(|m| m.eq_ignore_ascii_case("REGISTER"))
        });
        branch_ok && call_id_ok && cseq_ok
    }

    fn on_success(&mut self, now: Instant, pending: &Pending, response: &rsip::Response) {
        self.interval_retries = 0;
        if pending.purpose == Purpose::Unregister {
            self.state = RegistrationState::Unregistered;
            self.events.push_back(RegistrationEvent::Unregistered);
            return;
        }
        let granted = self.granted_expires(response);
        if granted == 0 {
            self.fail(
                500,
                "Registrar kept no binding (expires=0 in its answer)".to_owned(),
            );
            return;
        }
        self.state = RegistrationState::Registered;
        self.refresh_at = Some(now + refresh_delay(granted));
        self.events
            .push_back(RegistrationEvent::Registered { expires: granted });
    }

    /// The expiry granted to our binding: its Contact's `expires` parameter
    /// in the 2xx, else the Expires header, else what was asked for.
    fn granted_expires(&self, response: &rsip::Response) -> u32 {
        let instance = format!("<{}>", self.config.instance_id);
        let contact_uri = self.contact_uri();
        let ours = response.headers.iter().find_map(|h| match h {
            rsip::Header::Contact(c) => {
                let (uri, params) = split_contact(c.value())?;
                let same_instance = !self.config.instance_id.is_empty()
                    && param(params, "+sip.instance")
                        .is_some_and(|v| v.trim_matches('"') == instance)
                    && param(params, "reg-id")
                        .and_then(|v| v.parse::<u32>().ok())
                        .is_none_or(|r| r == self.config.reg_id);
                if same_instance || uri.eq_ignore_ascii_case(&contact_uri) {
                    Some(param(params, "expires").and_then(|v| v.parse::<u32>().ok()))
                } else {
                    None
                }
            }
            _ => None,
        });
        ours.flatten()
            .or_else(|| {
                response
                    .expires_header()
                    .and_then(|e| e.value().trim().parse().ok())
            })
            .unwrap_or(self.expires)
    }

    fn on_challenge(
        &mut self,
        now: Instant,
        pending: &Pending,
        response: &rsip::Response,
        code: u16,
        reason: String,
    ) {
        let proxy = code == 407;
        let challenge = response
            .headers
            .iter()
            .filter_map(|h| match h {
                rsip::Header::WwwAuthenticate(c) if !proxy => Some(c.value()),
                rsip::Header::ProxyAuthenticate(c) if proxy => Some(c.value()),
                _ => None,
            })
            .filter_map(|v| Challenge::parse(v).ok())
            .max_by_key(|c| algorithm_rank(c.algorithm));
        let Some(challenge) = challenge else {
            self.fail(
                code,
                format!("{reason} (no digest challenge we can answer)"),
            );
            return;
        };
        if pending.auth_rounds > 0 && !challenge.stale {
            self.fail(code, format!("{reason} (credentials refused)"));
            return;
        }
        if pending.auth_rounds >= MAX_AUTH_ROUNDS {
            self.fail(code, format!("{reason} (challenged too many times)"));
            return;
        }
        self.auth = Some(AuthState {
            challenge,
            proxy,
            nc: 0,
        });
        self.send(now, pending.purpose, pending.auth_rounds + 1);
    }

    fn on_interval_too_brief(
        &mut self,
        now: Instant,
        pending: &Pending,
        response: &rsip::Response,
        reason: String,
    ) {
        let min = response.headers.iter().find_map(|h| match h {
            rsip::Header::MinExpires(m) => m.value().trim().parse::<u32>().ok(),
            _ => None,
        });
        match min {
            Some(min)
                if min > self.expires
                    && self.interval_retries < MAX_INTERVAL_RETRIES
                    && pending.purpose != Purpose::Unregister =>
            {
                self.interval_retries += 1;
                self.expires = min;
                self.send(now, pending.purpose, 0);
            }
            _ => self.fail(423, reason),
        }
    }

    fn fail(&mut self, code: u16, reason: String) {
        self.pending = None;
        self.refresh_at = None;
        self.state = RegistrationState::Failed;
        self.events
            .push_back(RegistrationEvent::Failed { code, reason });
    }

    fn contact_uri(&self) -> String {
        let user = &self.config.contact_user;
        match self.config.transport {
            RegistrationTransport::WebSocket => {
                format!("sip:{user}@{};transport=ws", self.config.via_host)
            }
            RegistrationTransport::Udp { port } => format!("sip:{user}@{}", self.sent_by(port)),
            RegistrationTransport::Tcp { port } => {
                format!("sip:{user}@{};transport=tcp", self.sent_by(port))
            }
            RegistrationTransport::Tls { port } => {
                format!("sip:{user}@{};transport=tls", self.sent_by(port))
            }
        }
    }

    /// `host:port`, an IPv6 address as its bracketed alias (the message is
    /// parsed by rsip on its way out; [`super::ipv6`]).
    fn sent_by(&self, port: u16) -> String {
        let host = &self.config.via_host;
        match super::ipv6::parse_host(host) {
            Some(ip) => format!("{}:{port}", super::ipv6::host_text(ip)),
            None => format!("{host}:{port}"),
        }
    }

    /// The top Via (without `Via: `) for a request with `branch`.
    fn via(&self, branch: &str) -> String {
        match self.config.transport {
            RegistrationTransport::WebSocket => {
                format!("SIP/2.0/WSS {};branch={branch}", self.config.via_host)
            }
            RegistrationTransport::Udp { port } => {
                format!("SIP/2.0/UDP {};branch={branch};rport", self.sent_by(port))
            }
            RegistrationTransport::Tcp { port } => {
                format!("SIP/2.0/TCP {};branch={branch};rport", self.sent_by(port))
            }
            RegistrationTransport::Tls { port } => {
                format!("SIP/2.0/TLS {};branch={branch};rport", self.sent_by(port))
            }
        }
    }

    /// The Contact value for a request asking for `expires`.
    fn contact(&self, expires: u32) -> String {
        if self.config.instance_id.is_empty() {
            format!("<{}>;expires={expires}", self.contact_uri())
        } else {
            format!(
                "<{}>;+sip.instance=\"<{}>\";reg-id={};expires={expires}",
                self.contact_uri(),
                self.config.instance_id,
                self.config.reg_id
            )
        }
    }

    fn token(&mut self) -> String {
        format!("{:016x}", self.rng.next_u64())
    }

    /// Builds and queues a REGISTER for `purpose`; it becomes the pending one.
    fn send(&mut self, now: Instant, purpose: Purpose, auth_rounds: u8) {
        use rsip::headers::*;

        self.cseq = self.cseq.wrapping_add(1).max(1);
        let branch = format!("z9hG4bK{}", self.token());
        let expires = match purpose {
            Purpose::Unregister => 0,
            Purpose::Register | Purpose::Refresh => self.expires,
        };
        let name_addr = format!(
            "{}<{}>",
            quoted_display_name(&self.config.display_name),
            self.config.aor
        );

        let mut headers = rsip::Headers::default();
        headers.push(Via::new(self.via(&branch)).into());
        headers.push(MaxForwards::new("70").into());
        headers.push(To::new(name_addr.clone()).into());
        headers.push(From::new(format!("{name_addr};tag={}", self.from_tag)).into());
        headers.push(CallId::new(self.call_id.clone()).into());
        headers.push(CSeq::new(format!("{} REGISTER", self.cseq)).into());
        headers.push(Contact::new(self.contact(expires)).into());
        headers.push(Expires::new(expires.to_string()).into());
        if self.config.transport == RegistrationTransport::WebSocket {
            headers.push(Supported::new("path, outbound").into());
        }
        if let Some(value) = self.authorization() {
            headers.push(value);
        }
        if let Some(ua) = &self.config.user_agent {
            headers.push(UserAgent::new(ua.clone()).into());
        }
        headers.push(ContentLength::new("0").into());

        self.transmits.push_back(rsip::Request {
            method: rsip::Method::Register,
            uri: self.request_uri.clone(),
            version: rsip::Version::V2,
            headers,
            body: Vec::new(),
        });
        self.pending = Some(Pending {
            purpose,
            branch,
            cseq: self.cseq,
            deadline: now + TRANSACTION_TIMEOUT,
            auth_rounds,
        });
    }

    /// The Authorization (or Proxy-Authorization) header answering the last
    /// challenge with the next nonce-count, if a challenge was ever received.
    fn authorization(&mut self) -> Option<rsip::Header> {
        let cnonce = self.token();
        let auth = self.auth.as_mut()?;
        auth.nc = auth.nc.wrapping_add(1).max(1);
        let value = digest::answer(
            &auth.challenge,
            "REGISTER",
            &self.request_uri_text,
            &self.config.username,
            &self.config.password,
            &cnonce,
            auth.nc,
        )
        .to_header_value();
        Some(if auth.proxy {
            rsip::headers::ProxyAuthorization::new(value).into()
        } else {
            rsip::headers::Authorization::new(value).into()
        })
    }
}

/// The reason phrase of a response's status line (`SIP/2.0 403 Forbidden
/// (wrong SIP credentials)` → `Forbidden (wrong SIP credentials)`), for
/// [`Registration::handle_response_with_reason`].
pub fn status_line_reason(raw: &str) -> Option<&str> {
    let line = raw.lines().next()?;
    let rest = line.strip_prefix("SIP/2.0 ")?;
    let (code, reason) = rest.split_once(' ')?;
    if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let reason = reason.trim();
    (!reason.is_empty()).then_some(reason)
}

/// When to refresh a binding granted for `granted` seconds: at half of it
/// (as JsSIP and SIP.js do, leaving room for a slow answer or a challenge
/// round), but never sooner than one second.
pub fn refresh_delay(granted: u32) -> Duration {
    Duration::from_millis(u64::from(granted) * 500).max(Duration::from_secs(1))
}

/// `sip:user@domain` → `sip:domain` (RFC 3261 §10.2: the Request-URI names
/// the domain of the registrar, without user part).
fn registrar_uri(aor: &str) -> Result<rsip::Uri, ConfigError> {
    let bad = || ConfigError::BadAor(aor.to_owned());
    let uri = rsip::Uri::try_from(aor).map_err(|_| bad())?;
    let scheme = match uri.scheme {
        Some(rsip::Scheme::Sip) => "sip",
        Some(rsip::Scheme::Sips) => "sips",
        _ => return Err(bad()),
    };
    if uri.user().is_none_or(str::is_empty) || aor.contains(['<', '>', '"', '\r', '\n']) {
        return Err(bad());
    }
    let text = format!("{scheme}:{}", uri.host_with_port);
    rsip::Uri::try_from(text.as_str()).map_err(|_| bad())
}

/// Splits a Contact value into its URI and the header parameters after it.
fn split_contact(value: &str) -> Option<(&str, &str)> {
    let value = value.trim();
    let open = value.find('<')?;
    let after = &value[open + 1..];
    let close = after.find('>')?;
    Some((after[..close].trim(), &after[close + 1..]))
}

/// The value of parameter `name` in `;a=1;b="x;y"` (or in a Via value,
/// whose parameters follow the sent-by). Quotes are kept; a parameter
/// without a value gives `""`.
fn param<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    let mut in_quotes = false;
    let mut pieces = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        match c {
            '"' => in_quotes = !in_quotes,
            ';' if !in_quotes => {
                if let Some(s) = start {
                    pieces.push(&text[s..i]);
                }
                start = Some(i + 1);
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        pieces.push(&text[s..]);
    }
    pieces.into_iter().find_map(|piece| {
        let (n, v) = piece.split_once('=').unwrap_or((piece, ""));
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// The RFC's phrase for a response whose own phrase rsip dropped.
#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn params_are_found_outside_quotes() {
        let text = ";+sip.instance=\"<urn:uuid:a;b>\";reg-id=1;expires=300";
        assert_eq!(param(text, "expires"), Some("300"));
        assert_eq!(param(text, "reg-id"), Some("1"));
        assert_eq!(param(text, "+sip.instance"), Some("\"<urn:uuid:a;b>\""));
        assert_eq!(param(text, "b>\""), None);
        assert_eq!(
            param("SIP/2.0/WSS x.invalid;branch=z9hG4bKabc;rport", "branch"),
            Some("z9hG4bKabc")
        );
        assert_eq!(param("SIP/2.0/WSS x.invalid;rport", "rport"), Some(""));
    }

    #[test]
    fn registrar_uri_drops_the_user() {
        assert_eq!(
            registrar_uri("sip:demo@gw.test").unwrap().to_string(),
            "sip:gw.test"
        );
        assert_eq!(
            registrar_uri("sip:demo@gw.test:5070").unwrap().to_string(),
            "sip:gw.test:5070"
        );
        assert!(registrar_uri("sip:gw.test").is_err());
        assert!(registrar_uri("mailto:demo@gw.test").is_err());
        assert!(registrar_uri("").is_err());
    }

    #[test]
    fn display_names_are_quoted() {
        assert_eq!(quoted_display_name(""), "");
        assert_eq!(quoted_display_name("Ann \"A\" B"), "\"Ann \\\"A\\\" B\" ");
    }

    #[test]
    fn reason_phrases_come_from_the_status_line() {
        assert_eq!(
            status_line_reason("SIP/2.0 403 Forbidden (wrong SIP credentials)\r\nVia: x\r\n"),
            Some("Forbidden (wrong SIP credentials)")
        );
        assert_eq!(status_line_reason("SIP/2.0 200 \r\n"), None);
        assert_eq!(status_line_reason("REGISTER sip:x SIP/2.0\r\n"), None);
    }

    fn server_config(transport: RegistrationTransport) -> RegistrationConfig {
        RegistrationConfig {
            aor: "sip:trunkuser@carrier.test".to_owned(),
            username: "trunkuser".to_owned(),
            password: "pw".to_owned(),
            contact_user: "trunkuser".to_owned(),
            via_host: "192.0.2.1".to_owned(),
            transport,
            ..RegistrationConfig::default()
        }
    }

    fn first_register(config: RegistrationConfig) -> String {
        let mut reg = Registration::new(config, || 7).unwrap();
        reg.start(Instant::now());
        reg.poll_transmit().unwrap().to_string()
    }

    #[test]
    fn over_udp_via_and_contact_name_our_address_without_instance() {
        let text = first_register(server_config(RegistrationTransport::Udp { port: 5070 }));
        assert!(
            text.starts_with("REGISTER sip:carrier.test SIP/2.0\r\n"),
            "{text}"
        );
        assert!(
            text.contains("Via: SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bK"),
            "{text}"
        );
        assert!(text.contains(";rport\r\n"), "{text}");
        assert!(
            text.contains("Contact: <sip:trunkuser@192.0.2.1:5070>;expires=600\r\n"),
            "{text}"
        );
        assert!(!text.contains("+sip.instance"), "{text}");
        assert!(!text.contains("reg-id"), "{text}");
        assert!(!text.contains("Supported:"), "{text}");
    }

    #[test]
    fn over_tcp_contact_asks_for_tcp_and_ipv6_is_bracketed() {
        let text = first_register(RegistrationConfig {
            via_host: "2001:db8::1".to_owned(),
            ..server_config(RegistrationTransport::Tcp { port: 5061 })
        });
        // Sent as the alias; on the wire the literal.
        assert!(text.contains("[2001-db8--1]:5061"), "{text}");
        let text = super::super::ipv6::restore_str(&text).into_owned();
        assert!(
            text.contains("Via: SIP/2.0/TCP [2001:db8::1]:5061;branch="),
            "{text}"
        );
        assert!(
            text.contains("Contact: <sip:trunkuser@[2001:db8::1]:5061;transport=tcp>;expires="),
            "{text}"
        );
    }

    #[test]
    fn an_instance_id_is_still_required_over_websocket() {
        let config = RegistrationConfig {
            instance_id: String::new(),
            ..server_config(RegistrationTransport::WebSocket)
        };
        assert_eq!(
            Registration::new(config, || 7).err(),
            Some(ConfigError::Empty("instance id"))
        );
    }

    #[test]
    fn the_granted_expiry_is_read_from_our_contact_over_udp() {
        let mut reg = Registration::new(
            server_config(RegistrationTransport::Udp { port: 5070 }),
            || 7,
        )
        .unwrap();
        let now = Instant::now();
        reg.start(now);
        let request = reg.poll_transmit().unwrap();
        let header = |name: &str| {
            request
                .headers
                .iter()
                .map(ToString::to_string)
                .find(|h| h.starts_with(name))
                .unwrap()
        };
        let ok = format!(
            "SIP/2.0 200 OK\r\n{}\r\n{}\r\n{};tag=r\r\n{}\r\n{}\r\n\
             Contact: <sip:other@192.0.2.9>;expires=3600\r\n\
             Contact: <sip:trunkuser@192.0.2.1:5070>;expires=4\r\n\
             Expires: 3600\r\nContent-Length: 0\r\n\r\n",
            header("Via:"),
            header("From:"),
            header("To:"),
            header("Call-ID:"),
            header("CSeq:"),
        );
        reg.handle_response(now, rsip::Response::try_from(ok.as_str()).unwrap());
        assert_eq!(
            reg.poll_event(),
            Some(RegistrationEvent::Registered { expires: 4 })
        );
        assert_eq!(reg.poll_timeout(), Some(now + Duration::from_secs(2)));
    }

    #[test]
    fn refresh_comes_at_half_the_expiry() {
        assert_eq!(refresh_delay(600), Duration::from_secs(300));
        assert_eq!(refresh_delay(61), Duration::from_millis(30_500));
        assert_eq!(refresh_delay(1), Duration::from_secs(1));
        assert_eq!(refresh_delay(0), Duration::from_secs(1));
    }
}
