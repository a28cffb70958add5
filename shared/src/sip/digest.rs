//! HTTP digest authentication for SIP (RFC 3261 §22, RFC 7616 algorithms as
//! RFC 8760 brings them to SIP: MD5, MD5-sess, SHA-256, SHA-256-sess; qop=auth).
//!
//! Written by hand: rsip's helper writes `SHA256` instead of `SHA-256`, hashes
//! `-sess` like the plain variants and cannot parse `algorithm=SHA-256`; the
//! `digest_auth` crate is client-only. Server-side verification has no crate.

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    Md5,
    Md5Sess,
    Sha256,
    Sha256Sess,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestError {
    #[error("not a Digest header")]
    NotDigest,
    #[error("malformed digest parameter list: {0}")]
    Malformed(String),
    #[error("missing digest parameter {0}")]
    Missing(&'static str),
    #[error("unsupported digest algorithm {0}")]
    UnsupportedAlgorithm(String),
}

/// A `WWW-Authenticate` / `Proxy-Authenticate` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub realm: String,
    pub nonce: String,
    pub opaque: Option<String>,
    pub algorithm: Algorithm,
    /// qop options offered (`auth`, `auth-int`); empty for RFC 2069 style.
    pub qop: Vec<String>,
    pub stale: bool,
}

/// An `Authorization` / `Proxy-Authorization` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub realm: String,
    pub nonce: String,
    pub uri: String,
    /// Lower-case hex digest.
    pub response: String,
    pub algorithm: Algorithm,
    pub cnonce: Option<String>,
    /// nonce-count as a number (sent as 8 hex digits).
    pub nc: Option<u32>,
    pub qop: Option<String>,
    pub opaque: Option<String>,
}
