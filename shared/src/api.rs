//! JSON types of the gateway's REST API (`/api/v1`).
//!
//! Both the gateway (serialising) and the client (deserialising) use these, so
//! a field renamed on one side is a compile error on the other.

use crate::ids::{AccountId, CarrierId};
use serde::{Deserialize, Serialize};

/// Body of `POST /api/v1/session` (web sign-in).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignInRequest {
    pub username: String,
    pub password: String,
}

/// Role of a signed-in account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Supervisor,
    Agent,
}

/// Answer to `POST /api/v1/session` and `GET /api/v1/session`.
///
/// The web session itself travels in an httpOnly cookie; this body carries
/// what the page needs to show and the short-lived SIP credential its phone
/// registers with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    pub account: AccountInfo,
    /// Present for accounts that have a phone (agents, and admins who take calls).
    pub sip: Option<SipCredential>,
    /// What this account's phone may dial with.
    #[serde(default)]
    pub dialing: DialingProfile,
}

/// What the phone needs to place calls: how to read typed numbers and which
/// caller IDs the agent may present.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DialingProfile {
    /// ISO 3166 alpha-2 code for numbers typed without a country code, e.g. `US`.
    pub default_country: String,
    /// The caller IDs (E.164, with `+`) this agent may present, in the order
    /// to offer them. The phone sends the chosen one in `P-Preferred-Identity`.
    pub caller_ids: Vec<CallerIdChoice>,
    /// The one used when the agent picks none; `None` means the carrier's.
    pub default_caller_id: Option<String>,
    /// Local presence: when the agent picks none, present the allowed
    /// number in the callee's country and area code, if there is one.
    #[serde(default)]
    pub local_presence: bool,
    /// The destination policies that apply to this agent (global, role,
    /// agent, campaign), every one of which must allow a number
    /// ([`crate::policy::check_all`]). The phone checks them as the agent
    /// types, to say before dialing why a number is not allowed: a warning
    /// for the agent, not the enforcement (a modified page can skip it).
    /// Empty (and absent from older gateways' answers): the phone shows
    /// nothing.
    #[serde(default)]
    pub destination_policies: Vec<crate::policy::DestinationPolicy>,
    /// The high-risk and premium prefix list an admin edited, which then
    /// replaces the shipped one for [`DialingProfile::check`]; `None` (and
    /// absent from the JSON): the shipped list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix_list: Option<crate::destination::PrefixTable>,
    /// The agent's campaigns, each a pool of caller IDs the agent may
    /// choose as a whole: the gateway then presents the pool's number local
    /// to the callee, else its first.
    #[serde(default)]
    pub campaigns: Vec<CampaignChoice>,
}

/// A campaign the phone offers as a caller-ID choice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignChoice {
    pub id: i64,
    pub name: String,
    /// Its numbers the agent may present (enabled DIDs), E.164 with `+`.
    pub numbers: Vec<String>,
}

impl DialingProfile {
    /// Whether `number` may be called: every destination policy, with the
    /// prefix list in force. The gateway enforces this before a carrier
    /// sees the call; the phone warns with it.
    pub fn check(&self, number: &crate::e164::E164) -> Result<(), crate::policy::Refusal> {
        match &self.prefix_list {
            Some(table) => crate::policy::check_all_with(&self.destination_policies, number, table),
            None => crate::policy::check_all(&self.destination_policies, number),
        }
    }
}

impl Default for DialingProfile {
    fn default() -> Self {
        DialingProfile {
            default_country: "US".to_owned(),
            caller_ids: Vec::new(),
            default_caller_id: None,
            local_presence: false,
            destination_policies: Vec::new(),
            campaigns: Vec::new(),
            prefix_list: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallerIdChoice {
    /// E.164 with `+`, e.g. `+15551230000`.
    pub number: String,
    /// What the agent sees next to it, e.g. `Sales line`.
    pub label: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountInfo {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub role: Role,
}

/// A SIP digest credential issued at sign-in, valid until `expires_at` and only
/// for this account's address of record. It is not the web password: a page
/// holds it in memory, and signing out revokes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SipCredential {
    /// Digest username (RFC 8760 `username`).
    pub username: String,
    /// Digest password; random, shown to this page only.
    pub password: String,
    /// Digest realm the gateway challenges with.
    pub realm: String,
    /// The agent's address of record, e.g. `sip:demo@gateway.invalid`.
    pub aor: String,
    /// Display name to put in From.
    pub display_name: String,
    /// Seconds since the Unix epoch after which the gateway refuses it.
    pub expires_at: i64,
    /// The STUN/TURN servers the phone's peer connection uses.
    #[serde(default)]
    pub ice: IceConfig,
}

/// How the browser reaches the gateway's media: the TURN (and STUN)
/// servers, with credentials that expire with the SIP credential (the
/// TURN REST scheme: username `<expiry>:<user>`, password the base64
/// HMAC-SHA1 of it under the secret shared with the TURN server).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct IceConfig {
    pub servers: Vec<IceServer>,
    /// Only relayed candidates (`iceTransportPolicy: "relay"`): every call
    /// goes through the TURN server (agents behind networks that block
    /// UDP to the gateway, or that must not show their address).
    #[serde(default)]
    pub relay_only: bool,
}

/// One `RTCIceServer`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IceServer {
    /// `turn:host:3478?transport=udp`, `turns:host:5349`, `stun:host`.
    pub urls: Vec<String>,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub credential: Option<String>,
}

/// Every API error has this body, with an HTTP 4xx/5xx status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    /// Stable machine-readable code, e.g. `invalid_credentials`.
    pub code: String,
    /// A sentence a person can read.
    pub message: String,
    /// The request field at fault, when one is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// Body of `GET /healthz`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// `ok`, or `degraded` while call records cannot be written (calls go
    /// on; the records wait in memory).
    pub status: String,
    pub version: String,
    /// Call records not yet in the database.
    #[serde(default)]
    pub records_waiting: u64,
    /// Why the database refuses them, while it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_problem: Option<String>,
}

/// How a carrier wants the dialled number written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum NumberFormat {
    /// `+14155552671`
    #[default]
    E164,
    /// `14155552671`
    E164WithoutPlus,
    /// As dialled inside the number's country: `4155552671` in the US,
    /// `02079460000` in the UK.
    National,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SipTransport {
    #[default]
    Udp,
    Tcp,
    Tls,
}

/// Body of `POST /api/v1/carriers`: a SIP trunk to send calls to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CarrierInput {
    pub name: String,
    /// Host name or IP address of the carrier's SIP server.
    pub host: String,
    #[serde(default = "default_sip_port")]
    pub port: u16,
    #[serde(default)]
    pub transport: SipTransport,
    /// Digest username, when the carrier challenges.
    #[serde(default)]
    pub username: Option<String>,
    /// Digest secret: write-only, never returned.
    #[serde(default)]
    pub secret: Option<String>,
    /// User part of From instead of the caller ID (Asterisk's `fromuser`).
    #[serde(default)]
    pub from_user: Option<String>,
    /// Host part of From instead of our address (Asterisk's `fromdomain`).
    #[serde(default)]
    pub from_domain: Option<String>,
    /// Caller ID (E.164) when the agent has none.
    #[serde(default)]
    pub caller_id: Option<String>,
    /// Codec names in preference order: `PCMU`, `PCMA`.
    #[serde(default = "default_codecs")]
    pub codecs: Vec<String>,
    /// Lower is tried first.
    #[serde(default = "default_priority")]
    pub priority: i64,
    #[serde(default)]
    pub number_format: NumberFormat,
    /// Digits put before the number, e.g. `1010`.
    #[serde(default)]
    pub tech_prefix: String,
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Addresses allowed to send us calls for our DIDs: IPs (`192.0.2.10`,
    /// `2001:db8::1`) or CIDR ranges (`192.0.2.0/24`). Empty: the carrier
    /// sends us no calls.
    #[serde(default)]
    pub inbound_sources: Vec<String>,
    /// Where the carrier puts the number that was dialled.
    #[serde(default)]
    pub inbound_number_from: InboundNumberFrom,
    /// Digest realm to answer with; `None`: the one the carrier challenges with.
    #[serde(default)]
    pub realm: Option<String>,
    /// Share of calls among carriers of the same priority (1..=1000).
    #[serde(default = "default_weight")]
    pub weight: i64,
    /// Most calls at once (1..=100000); `None`: no limit.
    #[serde(default)]
    pub max_channels: Option<u32>,
    /// Register with the carrier (needs `username` and a secret).
    #[serde(default)]
    pub register: bool,
    /// Registration expiry asked for, 60..=86400 seconds.
    #[serde(default = "default_register_expiry")]
    pub register_expiry_s: u32,
    /// Send OPTIONS to see whether the carrier is up.
    #[serde(default = "default_true")]
    pub qualify: bool,
    /// Seconds between OPTIONS, 1..=3600.
    #[serde(default = "default_qualify_interval")]
    pub qualify_interval_s: u32,
    /// TLS only: the CA (PEM) the carrier's certificate must chain to;
    /// `None`: the usual public roots.
    #[serde(default)]
    pub tls_ca: Option<String>,
    /// Media encryption (SRTP with SDES keys) toward the carrier.
    #[serde(default)]
    pub srtp: SrtpMode,
}

/// SRTP (RFC 3711, keys in SDP per RFC 4568) toward a carrier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SrtpMode {
    /// We offer plain RTP; when the carrier offers SRTP (an inbound call
    /// with `RTP/SAVP` and `a=crypto`), we answer with SRTP.
    #[default]
    Optional,
    /// We offer only SRTP and refuse plain RTP (488 to an inbound offer; an
    /// outbound call whose answer is plain RTP fails).
    Required,
}

impl SrtpMode {
    pub fn as_str(self) -> &'static str {
        match self {
            SrtpMode::Optional => "optional",
            SrtpMode::Required => "required",
        }
    }

    pub fn parse(s: &str) -> Option<SrtpMode> {
        match s {
            "optional" => Some(SrtpMode::Optional),
            "required" => Some(SrtpMode::Required),
            _ => None,
        }
    }
}

/// Where a carrier puts the dialled number (the DID) in an inbound INVITE.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum InboundNumberFrom {
    /// The user part of the Request-URI (most carriers).
    #[default]
    RequestUri,
    /// The user part of the To header.
    To,
    /// The first Diversion header (forwarded calls), else the Request-URI.
    Diversion,
}

fn default_sip_port() -> u16 {
    5060
}
fn default_codecs() -> Vec<String> {
    vec!["PCMU".to_owned(), "PCMA".to_owned()]
}
fn default_priority() -> i64 {
    10
}
fn default_true() -> bool {
    true
}
fn default_weight() -> i64 {
    1
}
fn default_register_expiry() -> u32 {
    3600
}
fn default_qualify_interval() -> u32 {
    30
}

/// A carrier as the API returns it: everything but the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Carrier {
    pub id: i64,
    pub name: String,
    pub host: String,
    pub port: u16,
    pub transport: SipTransport,
    pub username: Option<String>,
    /// Whether a secret is stored (the secret itself is never returned).
    pub has_secret: bool,
    pub from_user: Option<String>,
    pub from_domain: Option<String>,
    pub caller_id: Option<String>,
    pub codecs: Vec<String>,
    pub priority: i64,
    pub number_format: NumberFormat,
    pub tech_prefix: String,
    /// The built-in demo carrier (answers every call with a tone and an echo).
    pub is_demo: bool,
    pub enabled: bool,
    #[serde(default)]
    pub inbound_sources: Vec<String>,
    #[serde(default)]
    pub inbound_number_from: InboundNumberFrom,
    #[serde(default)]
    pub realm: Option<String>,
    #[serde(default = "default_weight")]
    pub weight: i64,
    #[serde(default)]
    pub max_channels: Option<u32>,
    #[serde(default)]
    pub register: bool,
    #[serde(default = "default_register_expiry")]
    pub register_expiry_s: u32,
    #[serde(default = "default_true")]
    pub qualify: bool,
    #[serde(default = "default_qualify_interval")]
    pub qualify_interval_s: u32,
    #[serde(default)]
    pub tls_ca: Option<String>,
    #[serde(default)]
    pub srtp: SrtpMode,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallDirection {
    Outbound,
    Inbound,
}

/// Who ended a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HangupBy {
    /// The agent (hang-up button, cancel while ringing, tab closed).
    Agent,
    /// The far end (the carrier or the callee).
    Remote,
    /// The gateway (no media, shutdown, a failure of its own).
    Gateway,
}

/// One call attempt, as `GET /api/v1/calls` lists it. Times are Unix
/// milliseconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallRecord {
    pub id: String,
    pub direction: CallDirection,
    pub account_id: Option<AccountId>,
    pub agent: Option<String>,
    pub caller_id: Option<String>,
    pub dialled: String,
    pub carrier_id: Option<CarrierId>,
    pub carrier: Option<String>,
    pub invite_at: i64,
    pub ringing_at: Option<i64>,
    pub answered_at: Option<i64>,
    pub ended_at: i64,
    pub duration_s: i64,
    pub final_code: u16,
    pub final_reason: String,
    pub hangup_by: HangupBy,
    pub packets_to_carrier: i64,
    pub bytes_to_carrier: i64,
    pub packets_from_carrier: i64,
    pub bytes_from_carrier: i64,
    /// Every carrier the call was tried on, in order (failover); empty for
    /// attempts refused before any carrier and for inbound calls.
    #[serde(default)]
    pub attempts: Vec<CallAttempt>,
    /// Estimated cost from the carrier's rate table (`shared::rates`), in
    /// 1/10000 of the carrier's currency, billed per second and rounded
    /// up; `Some(0)` for an unanswered outbound call on a rated carrier;
    /// `None` when the carrier has no rate for the number, for inbound
    /// calls and for records written before rates existed.
    #[serde(default)]
    pub estimated_cost: Option<i64>,
    /// The campaign whose number the call presented (the one the agent
    /// chose, else the first of the agent's campaigns holding the caller
    /// ID); `None` for calls outside campaigns and inbound calls.
    #[serde(default)]
    pub campaign_id: Option<i64>,
    /// The dialled number's country (ISO 3166 alpha-2; the NANP read by
    /// area code), for outbound calls to a number that has one.
    #[serde(default)]
    pub destination_country: Option<String>,
    /// Media quality per leg (RTCP and the gateway's own counts); `None`
    /// for calls without media and records written before it was kept.
    #[serde(default)]
    pub quality: Option<CallQuality>,
}

/// One direction of a leg's RTP as its receiver counted it (RFC 3550
/// §6.4.1: sequence gaps and interarrival jitter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct StreamQuality {
    /// Packets received; for a far end's report, packets we sent it.
    pub packets: i64,
    /// Packets lost (sequence gaps; cumulative, as RTCP counts them).
    pub lost: i64,
    /// Interarrival jitter, microseconds: for what the gateway received,
    /// the RFC 3550 estimate's mean over the call; for a far end's report,
    /// the estimate in its last report.
    pub jitter_us: i64,
}

impl StreamQuality {
    /// Lost as a percentage of what was expected (received + lost).
    pub fn loss_percent(&self) -> f64 {
        let expected = self.packets.max(0) + self.lost.max(0);
        if expected == 0 {
            0.0
        } else {
            self.lost.max(0) as f64 * 100.0 / expected as f64
        }
    }
}

/// One leg of a call (toward the carrier, or toward the agent's browser).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct LegQuality {
    /// What the gateway received on this leg.
    pub received: StreamQuality,
    /// What the far end reported receiving from the gateway (its RTCP
    /// receiver report blocks); `None` if it sent none.
    pub far_end: Option<StreamQuality>,
    /// Round-trip time from RTCP (RFC 3550 §6.4.1 LSR/DLSR), ms.
    pub rtt_ms: Option<i64>,
    /// ITU-T G.107 R-factor (0–100) from the leg's worse direction.
    pub r_factor: i64,
    /// Estimated MOS × 100 (100–450) from that R-factor.
    pub mos_x100: i64,
}

/// A call's media quality, both legs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct CallQuality {
    pub carrier: Option<LegQuality>,
    pub browser: Option<LegQuality>,
}

/// One carrier tried for a call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallAttempt {
    pub carrier_id: Option<CarrierId>,
    pub carrier: String,
    /// The carrier's final status (200 when it answered; 408 when it was
    /// silent; 503 when it could not be reached).
    pub code: u16,
    pub reason: String,
    /// Unix milliseconds when the INVITE was sent.
    pub at: i64,
}

/// A page of a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; `None` on the last one.
    pub next_cursor: Option<String>,
}

/// Where calls to a DID ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DidRoute {
    /// One agent (every tab the agent is registered from); `agent` names them.
    Agent,
    /// A ring group; `group_id` names it.
    Group,
    /// Refused with `reject_code` (e.g. 480, 486, 404, 603).
    Reject,
}

/// Body of `POST /api/v1/dids` and `PUT /api/v1/dids/{id}`: one of our
/// numbers and where its calls ring. Only the field that belongs to `route`
/// may be set (`agent`, `group_id` or `reject_code`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DidInput {
    /// Normalised to E.164 (national numbers are read in the gateway's
    /// default country).
    pub number: String,
    #[serde(default)]
    pub label: String,
    /// Only this carrier may deliver calls to the number; `None`: any carrier.
    #[serde(default)]
    pub carrier_id: Option<i64>,
    pub route: DidRoute,
    /// The agent's username, for `route: "agent"`.
    #[serde(default)]
    pub agent: Option<String>,
    /// The ring group, for `route: "group"`.
    #[serde(default)]
    pub group_id: Option<i64>,
    /// A SIP status 400..=699, for `route: "reject"`.
    #[serde(default)]
    pub reject_code: Option<u16>,
    #[serde(default = "default_true")]
    pub enabled: bool,
}

/// A DID as the API returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Did {
    pub id: i64,
    /// E.164, with `+`.
    pub number: String,
    pub label: String,
    pub carrier_id: Option<i64>,
    pub route: DidRoute,
    /// The agent's username (route `agent`); `None` when the account was
    /// deleted, and calls are then refused with 480.
    pub agent: Option<String>,
    /// The ring group (route `group`); `None` when the group was deleted,
    /// and calls are then refused with 480.
    pub group_id: Option<i64>,
    /// The ring group's name, for display.
    pub group: Option<String>,
    pub reject_code: Option<u16>,
    pub enabled: bool,
    /// Seconds since the Unix epoch.
    pub created_at: i64,
}

/// How a ring group rings its members.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum RingStrategy {
    /// Every member at once; the first to answer takes the call.
    #[default]
    All,
    /// One member after the other, each for `member_timeout_s`.
    InOrder,
}

/// Body of `POST /api/v1/ring-groups` and `PUT /api/v1/ring-groups/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RingGroupInput {
    pub name: String,
    #[serde(default)]
    pub strategy: RingStrategy,
    /// How long each member rings (in order) or everyone rings (all):
    /// 5..=300 seconds.
    #[serde(default = "default_member_timeout")]
    pub member_timeout_s: u32,
    /// The SIP status (400..=699) when nobody answers; `None`: 480.
    #[serde(default)]
    pub fallback_code: Option<u16>,
    /// Agents' usernames, in ringing order.
    #[serde(default)]
    pub members: Vec<String>,
}

fn default_member_timeout() -> u32 {
    20
}

/// A ring group as the API returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RingGroup {
    pub id: i64,
    pub name: String,
    pub strategy: RingStrategy,
    pub member_timeout_s: u32,
    pub fallback_code: Option<u16>,
    /// Agents' usernames, in ringing order.
    pub members: Vec<String>,
    /// Seconds since the Unix epoch.
    pub created_at: i64,
}

/// Answer to `POST /api/v1/dids/import` (CSV): valid rows are saved even
/// when others are rejected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct DidImportReport {
    /// Rows whose number was new.
    pub created: u32,
    /// Rows whose number existed already (its settings were replaced).
    pub updated: u32,
    pub rejected: Vec<DidImportRejection>,
}

/// One CSV row that was not saved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DidImportRejection {
    /// Line of the file where the row starts (1-based, header included).
    pub line: u32,
    /// The number as written in the file.
    pub number: String,
    /// The column at fault, when one is: `number`, `label`, `route`,
    /// `target` or `carrier`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// A sentence a person can read.
    pub error: String,
}

/// How a call attempt ended, as `GET /api/v1/calls?outcome=` filters it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallOutcome {
    /// Someone answered (`answered_at` is set).
    Answered,
    /// An inbound call nobody answered.
    Missed,
    /// An outbound call refused busy (486, 600).
    Busy,
    /// An outbound call not answered in time, or cancelled while ringing
    /// (408, 480, 487).
    NoAnswer,
    /// Any other unanswered outbound attempt.
    Failed,
}

impl CallOutcome {
    pub const ALL: [CallOutcome; 5] = [
        CallOutcome::Answered,
        CallOutcome::Missed,
        CallOutcome::Busy,
        CallOutcome::NoAnswer,
        CallOutcome::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CallOutcome::Answered => "answered",
            CallOutcome::Missed => "missed",
            CallOutcome::Busy => "busy",
            CallOutcome::NoAnswer => "no_answer",
            CallOutcome::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<CallOutcome> {
        CallOutcome::ALL.into_iter().find(|o| o.as_str() == s)
    }
}

impl CallRecord {
    /// What became of the attempt.
    pub fn outcome(&self) -> CallOutcome {
        if self.answered_at.is_some() {
            CallOutcome::Answered
        } else if self.direction == CallDirection::Inbound {
            CallOutcome::Missed
        } else {
            match self.final_code {
                486 | 600 => CallOutcome::Busy,
                408 | 480 | 487 => CallOutcome::NoAnswer,
                _ => CallOutcome::Failed,
            }
        }
    }
}

/// An account (admin, supervisor or agent) as `/api/v1/agents` returns it:
/// never the password or its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Agent {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub enabled: bool,
    /// Most calls this agent may have at once.
    pub max_calls: u32,
    /// Present the owned DID nearest the callee (country and area code)
    /// when the agent picks no caller ID.
    pub local_presence: bool,
    /// Locked after repeated failed sign-ins until then (seconds since the
    /// Unix epoch); `None` when not locked.
    pub locked_until: Option<i64>,
    /// Seconds since the Unix epoch.
    pub created_at: i64,
}

/// Body of `POST /api/v1/agents`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewAgent {
    /// 1..=32 of `a-z 0-9 . _ -`, starting with a letter or digit;
    /// case-insensitive and stored in lower case.
    pub username: String,
    pub display_name: String,
    #[serde(default = "default_role")]
    pub role: Role,
    /// 8..=128 characters; only its argon2id hash is kept.
    pub password: String,
    #[serde(default = "default_true")]
    pub enabled: bool,
    #[serde(default = "default_max_calls")]
    pub max_calls: u32,
    #[serde(default)]
    pub local_presence: bool,
}

/// Body of `PUT /api/v1/agents/{id}`. Disabling an account signs it out
/// everywhere (web sessions, SIP credentials).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentUpdate {
    pub display_name: String,
    pub role: Role,
    #[serde(default = "default_true")]
    pub enabled: bool,
    #[serde(default = "default_max_calls")]
    pub max_calls: u32,
    #[serde(default)]
    pub local_presence: bool,
}

fn default_role() -> Role {
    Role::Agent
}
fn default_max_calls() -> u32 {
    1
}

/// Body of `POST /api/v1/agents/{id}/password` (an admin sets a new
/// password; the account's sessions end).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordReset {
    pub password: String,
}

/// `GET` / `PUT /api/v1/agents/{id}/caller-ids`: the numbers an agent may
/// present. Each must be one of our enabled DIDs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallerIds {
    /// Presented when the agent picks none; one of `allowed` or of the
    /// agent's campaigns' numbers. `None`: the carrier's.
    #[serde(default)]
    pub default: Option<String>,
    #[serde(default)]
    pub allowed: Vec<CallerIdChoice>,
    /// Numbers the agent may present through campaigns (read-only; ignored
    /// on `PUT`).
    #[serde(default)]
    pub from_campaigns: Vec<CallerIdChoice>,
}

/// A named set of caller IDs and the agents who dial for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Campaign {
    pub id: i64,
    pub name: String,
    /// E.164 numbers, each one of our DIDs.
    pub numbers: Vec<String>,
    /// Agents' usernames.
    pub agents: Vec<String>,
    /// Seconds since the Unix epoch.
    pub created_at: i64,
}

/// Body of `POST /api/v1/campaigns` and `PUT /api/v1/campaigns/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignInput {
    pub name: String,
    #[serde(default)]
    pub numbers: Vec<String>,
    #[serde(default)]
    pub agents: Vec<String>,
}

/// An API token as listed: never the token itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiToken {
    pub id: i64,
    pub name: String,
    /// The account the token acts as.
    pub account: String,
    /// Seconds since the Unix epoch.
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked: bool,
}

/// Body of `POST /api/v1/tokens`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiTokenInput {
    pub name: String,
    /// The account the token acts as (its role applies); `None`: the
    /// caller's own.
    #[serde(default)]
    pub account: Option<String>,
}

/// Answer to `POST /api/v1/tokens`: the only time the token is shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiTokenCreated {
    /// `dlr_…`; send as `Authorization: Bearer dlr_…`.
    pub token: String,
    pub api_token: ApiToken,
}

/// One change, as `GET /api/v1/audit` lists it (newest first).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: i64,
    /// Unix milliseconds.
    pub at: i64,
    /// Username of who made the change.
    pub actor: String,
    /// `create`, `update`, `delete`, `import`, `reset_password`, `revoke`.
    pub action: String,
    /// `carrier`, `did`, `ring_group`, `agent`, `caller_ids`, `campaign`,
    /// `api_token`.
    pub entity: String,
    pub entity_id: Option<String>,
    /// The entity before the change, as JSON text (secrets left out).
    pub old_json: Option<String>,
    /// The entity after the change, as JSON text (secrets left out).
    pub new_json: Option<String>,
}

/// Answer to `GET /api/v1/carriers/{id}/channels`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelUsage {
    pub carrier_id: CarrierId,
    /// Calls on this carrier now.
    pub in_use: u32,
    /// The carrier's limit; `None`: none.
    pub max_channels: Option<u32>,
    /// Most calls at once on this carrier in the last 7 days.
    pub peak_7d: u32,
    /// This carrier's `peak_7d` × 1.2, rounded up: the channels its own
    /// busiest moment calls for.
    pub recommended: u32,
}

impl ChannelUsage {
    /// The carrier's limit is below the recommendation (no limit never is).
    pub fn below_recommended(&self) -> bool {
        self.max_channels.is_some_and(|max| max < self.recommended)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LiveCallState {
    Ringing,
    Connected,
    Held,
    /// Answered, but the agent's phone lost its connection: the customer
    /// waits while the phone comes back (at most the reconnect grace).
    Reconnecting,
}

/// A call in progress, as `GET /api/v1/live` streams them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveCall {
    pub id: String,
    pub direction: CallDirection,
    pub agent: Option<String>,
    pub caller_id: Option<String>,
    pub dialled: String,
    pub carrier_id: Option<CarrierId>,
    pub carrier: Option<String>,
    pub state: LiveCallState,
    /// Unix milliseconds when it entered `state`.
    pub since_ms: i64,
}

/// `POST /api/v1/embed/tokens`: a short-lived token that signs one agent
/// into the embedded phone. Asked for by a CRM's backend with its API token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmbedTokenRequest {
    /// The agent's username.
    pub agent: String,
    /// Lifetime in seconds, 1 to 3600; 300 when absent.
    #[serde(default)]
    pub ttl_s: Option<u32>,
}

/// The answer to `POST /api/v1/embed/tokens`; the token is shown only here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmbedToken {
    pub token: String,
    /// Unix seconds.
    pub expires_at: i64,
}

/// `POST /api/v1/embed/session`: the embedded phone trades its token for a
/// session. `origin` is the host page's origin as the iframe saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmbedSessionRequest {
    pub token: String,
    pub origin: String,
}

/// The embedded phone's session: what sign-in gives, plus a bearer token
/// (`dls_…`) kept in the iframe's memory for the API calls it makes (a
/// cookie set inside a cross-site iframe is a third-party cookie).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmbedSession {
    pub session: SessionInfo,
    pub session_token: String,
}

/// `GET /api/v1/embed/config` (public): where the phone may be embedded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct EmbedConfig {
    pub allowed_origins: Vec<String>,
}

/// `GET /api/v1/embed/settings` (admins).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct EmbedSettings {
    /// Origins (`https://crm.example.com`) allowed to embed the phone.
    pub allowed_origins: Vec<String>,
    /// Where call events are posted.
    pub webhook_url: Option<String>,
    /// A webhook secret is set (it is never shown).
    pub has_webhook_secret: bool,
}

/// `PUT /api/v1/embed/settings`. `webhook_secret`: absent keeps the current
/// one, `""` removes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmbedSettingsInput {
    pub allowed_origins: Vec<String>,
    #[serde(default)]
    pub webhook_url: Option<String>,
    #[serde(default)]
    pub webhook_secret: Option<String>,
}

/// A banned source, as `GET /api/v1/security/bans` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BanEntry {
    /// The source address.
    pub ip: String,
    /// `auth_failures`, `flood`, `scanner` or `manual`.
    pub reason: String,
    /// What tipped it: the last username tried, the User-Agent, the admin's note.
    pub detail: String,
    /// Unix seconds.
    pub since: i64,
    pub until: i64,
    /// How many times this source has been banned (each ban doubles).
    pub times: u32,
    /// Messages and requests refused during this ban.
    pub refused: u64,
}

/// Body of `POST /api/v1/security/bans`: an admin bans a source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BanInput {
    /// An IPv4 or IPv6 address.
    pub ip: String,
    /// Why, in words (kept with the ban).
    #[serde(default)]
    pub detail: String,
}

/// Something an admin should look at, as `GET /api/v1/security/alerts`
/// lists it and the `alert.raised` webhook carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    pub id: i64,
    /// Unix seconds.
    pub at: i64,
    /// `velocity` (calls a minute), `spend_cap` (a day's estimated cost),
    /// `international_minutes`, `new_destination`, `night`, `spike`,
    /// `quality` (a carrier under its threshold over the last hour).
    pub kind: String,
    /// The agent concerned, if one is.
    pub agent: Option<String>,
    pub message: String,
}

/// What going over a limit does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum LimitAction {
    /// Refuse the calls over it (403 with the reason) and raise an alert.
    #[default]
    Block,
    /// Only raise the alert; calls go on.
    Alert,
}

/// The fraud limits, as `GET /api/v1/security/settings` shows them and
/// `PUT /api/v1/security/limits` sets them. Money is in 1/10000 of the
/// carriers' currency (as rate tables and `CallRecord::estimated_cost`);
/// days are UTC days. `None` (or 0 for the calls a minute): no limit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct FraudLimits {
    /// Calls one agent may start a minute.
    pub agent_calls_per_minute: u32,
    /// Calls all agents together may start a minute.
    pub gateway_calls_per_minute: u32,
    pub velocity_action: LimitAction,
    /// What one agent's calls may cost a day.
    pub agent_daily_spend: Option<i64>,
    /// What the calls presenting one campaign's numbers may cost a day.
    pub campaign_daily_spend: Option<i64>,
    /// What all calls together may cost a day.
    pub gateway_daily_spend: Option<i64>,
    pub spend_action: LimitAction,
    /// Minutes one agent may talk to other countries a day.
    pub agent_international_minutes: Option<u32>,
    /// Minutes all agents together may talk to other countries a day.
    pub gateway_international_minutes: Option<u32>,
    pub international_action: LimitAction,
}

/// What is in force against abuse: the limits an admin may change and the
/// settings the gateway was started with (read-only here), as
/// `GET /api/v1/security/settings` returns them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecuritySettings {
    pub limits: FraudLimits,
    /// Failed authentications within `ban_window_s` that ban a source.
    pub ban_after: u32,
    pub ban_window_s: u32,
    /// The first ban's length; each repeat doubles it, up to `ban_max_minutes`.
    pub ban_minutes: u64,
    pub ban_max_minutes: u64,
    /// SIP messages a second one unauthenticated source may send.
    pub sip_rate: u32,
    /// Networks never banned (CIDRs).
    pub ban_allow: Vec<String>,
    /// Countries any call may reach whatever the policies say (empty: any).
    pub dial_countries: Vec<String>,
    /// Where calls are not international (the gateway's default country).
    pub home_country: String,
    /// Calls outside these hours raise an alert (`None`: no night alerts).
    pub business_hours: Option<String>,
    /// What the limits have counted today (UTC).
    pub today: LimitUsage,
}

/// Today's counts the daily limits compare against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct LimitUsage {
    /// All calls' estimated cost today.
    pub gateway_spend: i64,
    /// Seconds of international calls today.
    pub gateway_international_s: i64,
    /// The daily limits reached today, in words (one line each, saying
    /// whether calls are refused or the limit only alerts).
    pub reached: Vec<String>,
}

/// One carrier's figures over one time bucket, as
/// `GET /api/v1/quality/carriers` lists them. Kept as rows, updated as
/// each call record is written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CarrierQuality {
    pub carrier_id: CarrierId,
    pub carrier: String,
    /// The bucket's start, Unix seconds (UTC hour or day).
    pub bucket_start: i64,
    /// Calls tried on the carrier (records whose carrier it was).
    pub calls: i64,
    /// Calls it answered.
    pub answered: i64,
    /// Answer-seizure ratio, % of calls answered.
    pub asr: f64,
    /// Network effectiveness ratio, % of calls answered, busy or not
    /// answered by the callee (the network delivered them).
    pub ner: f64,
    /// Average call duration of answered calls, seconds.
    pub acd_s: f64,
    /// Minutes of answered calls.
    pub minutes: f64,
    /// Post-dial delay (INVITE to first 18x/2xx), ms, median and 95th
    /// percentile; `None` when no call got that far.
    pub pdd_p50_ms: Option<i64>,
    pub pdd_p95_ms: Option<i64>,
    /// Loss on the carrier leg (both directions, the worse), %.
    pub loss_avg: Option<f64>,
    pub loss_p95: Option<f64>,
    /// Jitter on the carrier leg, ms.
    pub jitter_avg_ms: Option<f64>,
    /// Estimated MOS of the carrier leg.
    pub mos_avg: Option<f64>,
    /// Calls with media figures (the averages are over these).
    pub media_calls: i64,
}

/// Time bucket of the quality figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum QualityBucket {
    #[default]
    Hour,
    Day,
}

impl QualityBucket {
    pub fn seconds(self) -> i64 {
        match self {
            QualityBucket::Hour => 3600,
            QualityBucket::Day => 86_400,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            QualityBucket::Hour => "hour",
            QualityBucket::Day => "day",
        }
    }

    pub fn parse(s: &str) -> Option<QualityBucket> {
        match s {
            "hour" => Some(QualityBucket::Hour),
            "day" => Some(QualityBucket::Day),
            _ => None,
        }
    }
}

/// A carrier's alert thresholds (checked over the last hour).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct QualityThreshold {
    /// Alert when the hour's average MOS falls below this (`None`: no check).
    pub min_mos: Option<f64>,
    /// Alert when the hour's ASR (%) falls below this.
    pub min_asr: Option<f64>,
    /// Calls the hour must have before ASR or MOS is judged.
    #[serde(default = "default_min_calls")]
    pub min_calls: i64,
}

fn default_min_calls() -> i64 {
    5
}

/// A call of the worst-calls list (lowest MOS first).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorstCall {
    pub record_id: String,
    pub carrier_id: Option<CarrierId>,
    pub carrier: Option<String>,
    pub dialled: String,
    pub invite_at: i64,
    pub duration_s: i64,
    pub mos: f64,
    pub loss_percent: f64,
    pub jitter_ms: f64,
}

/// What the Quality page shows: per-carrier rows over the range, the
/// worst calls, each carrier's threshold and channel sizing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct QualityReport {
    pub bucket: QualityBucket,
    pub from: i64,
    pub to: i64,
    /// One row per carrier and bucket, oldest first.
    pub rows: Vec<CarrierQuality>,
    pub worst_calls: Vec<WorstCall>,
    pub carriers: Vec<CarrierQualitySummary>,
}

/// One carrier over the whole range, with its sizing advice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CarrierQualitySummary {
    pub carrier_id: CarrierId,
    pub carrier: String,
    pub calls: i64,
    pub asr: f64,
    pub ner: f64,
    pub acd_s: f64,
    pub minutes: f64,
    pub pdd_p50_ms: Option<i64>,
    pub pdd_p95_ms: Option<i64>,
    pub loss_avg: Option<f64>,
    pub loss_p95: Option<f64>,
    pub jitter_avg_ms: Option<f64>,
    pub mos_avg: Option<f64>,
    pub media_calls: i64,
    /// Most calls at once on the carrier during the range (its records'
    /// spans, as `GET /carriers/{id}/channels` counts them).
    pub peak_concurrent: i64,
    /// Channels to provision: peak × 1.2, rounded up.
    pub advised_channels: i64,
    /// The carrier's configured channel limit (`None`: unlimited).
    pub channel_limit: Option<i64>,
    /// The loss distribution of its calls: counts per band
    /// (0, ≤1, ≤3, ≤5, ≤10, >10 %).
    pub loss_histogram: Vec<i64>,
    /// The MOS distribution: counts per band
    /// (<2.5, <3.1, <3.6, <4.0, <4.3, ≥4.3).
    pub mos_histogram: Vec<i64>,
    pub threshold: QualityThreshold,
}
