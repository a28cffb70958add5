//! JSON types of the gateway's REST API (`/api/v1`).
//!
//! Both the gateway (serialising) and the client (deserialising) use these, so
//! a field renamed on one side is a compile error on the other.

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
}

impl Default for DialingProfile {
    fn default() -> Self {
        DialingProfile {
            default_country: "US".to_owned(),
            caller_ids: Vec::new(),
            default_caller_id: None,
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
    pub status: String,
    pub version: String,
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
    pub account_id: Option<i64>,
    pub agent: Option<String>,
    pub caller_id: Option<String>,
    pub dialled: String,
    pub carrier_id: Option<i64>,
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
}

/// One carrier tried for a call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallAttempt {
    pub carrier_id: Option<i64>,
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
