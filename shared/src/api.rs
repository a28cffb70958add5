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
