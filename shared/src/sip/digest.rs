//! HTTP digest authentication for SIP (RFC 3261 §22, RFC 7616 algorithms as
//! RFC 8760 brings them to SIP: MD5, MD5-sess, SHA-256, SHA-256-sess; qop=auth).
//!
//! Written by hand: rsip's helper writes `SHA256` instead of `SHA-256`, hashes
//! `-sess` like the plain variants and cannot parse `algorithm=SHA-256`; the
//! `digest_auth` crate is client-only. Server-side verification has no crate.
//!
//! Both sides use this module: the browser phone answers the gateway's
//! challenge with [`answer`], the gateway checks it with [`verify`] against an
//! HA1 it stored (never the password itself, see [`ha1`]).
//!
//! `qop=auth-int` is deliberately not implemented: it needs the body, SIP
//! peers practically never require it, and hashing an empty body in its place
//! (as rsip does) produces answers that silently fail. A challenge offering
//! only `auth-int` is answered RFC 2069 style (no qop), and credentials that
//! claim `auth-int` never verify.

use std::fmt::Write as _;

use md5::Md5;
use sha2::{Digest as _, Sha256};

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

impl Algorithm {
    /// The token as RFC 7616 spells it in `algorithm=`.
    pub fn token(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Md5Sess => "MD5-sess",
            Algorithm::Sha256 => "SHA-256",
            Algorithm::Sha256Sess => "SHA-256-sess",
        }
    }

    /// Parses an `algorithm=` token, ignoring case. An absent parameter means
    /// MD5; callers handle that, this function only sees tokens.
    pub fn parse(s: &str) -> Result<Algorithm, DigestError> {
        const ALL: [Algorithm; 4] = [
            Algorithm::Md5,
            Algorithm::Md5Sess,
            Algorithm::Sha256,
            Algorithm::Sha256Sess,
        ];
        ALL.into_iter()
            .find(|a| a.token().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| DigestError::UnsupportedAlgorithm(s.to_owned()))
    }

    fn is_sess(self) -> bool {
        matches!(self, Algorithm::Md5Sess | Algorithm::Sha256Sess)
    }

    /// Lower-case hex of the algorithm's hash over `data`.
    fn hash(self, data: &[u8]) -> String {
        match self {
            Algorithm::Md5 | Algorithm::Md5Sess => hex(&Md5::digest(data)),
            Algorithm::Sha256 | Algorithm::Sha256Sess => hex(&Sha256::digest(data)),
        }
    }
}

impl std::fmt::Display for Algorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.token())
    }
}

impl Challenge {
    /// Parses what follows `WWW-Authenticate:` / `Proxy-Authenticate:`.
    /// `realm` and `nonce` are required; unknown parameters are ignored.
    pub fn parse(value: &str) -> Result<Challenge, DigestError> {
        let params = Params::parse(value)?;
        let algorithm = match params.get("algorithm") {
            Some(a) => Algorithm::parse(a)?,
            None => Algorithm::Md5,
        };
        let qop = params
            .get("qop")
            .map(|q| {
                q.split(',')
                    .map(str::trim)
                    .filter(|o| !o.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        Ok(Challenge {
            realm: params.required("realm")?.to_owned(),
            nonce: params.required("nonce")?.to_owned(),
            opaque: params.get("opaque").map(str::to_owned),
            algorithm,
            qop,
            stale: params
                .get("stale")
                .is_some_and(|s| s.eq_ignore_ascii_case("true")),
        })
    }

    /// The header value, e.g. `Digest realm="gw", nonce="…", algorithm=MD5, qop="auth"`.
    pub fn to_header_value(&self) -> String {
        let mut out = String::from("Digest ");
        push_quoted(&mut out, "realm", &self.realm);
        push_quoted(&mut out, "nonce", &self.nonce);
        if let Some(opaque) = &self.opaque {
            push_quoted(&mut out, "opaque", opaque);
        }
        push_token(&mut out, "algorithm", self.algorithm.token());
        if !self.qop.is_empty() {
            push_quoted(&mut out, "qop", &self.qop.join(","));
        }
        if self.stale {
            push_token(&mut out, "stale", "TRUE");
        }
        out
    }

    fn offers(&self, qop: &str) -> bool {
        self.qop.iter().any(|o| o.eq_ignore_ascii_case(qop))
    }
}

impl Credentials {
    /// Parses what follows `Authorization:` / `Proxy-Authorization:`.
    /// `username`, `realm`, `nonce`, `uri` and `response` are required.
    pub fn parse(value: &str) -> Result<Credentials, DigestError> {
        let params = Params::parse(value)?;
        let algorithm = match params.get("algorithm") {
            Some(a) => Algorithm::parse(a)?,
            None => Algorithm::Md5,
        };
        let nc = match params.get("nc") {
            None => None,
            Some(nc) => Some(parse_nc(nc)?),
        };
        Ok(Credentials {
            username: params.required("username")?.to_owned(),
            realm: params.required("realm")?.to_owned(),
            nonce: params.required("nonce")?.to_owned(),
            uri: params.required("uri")?.to_owned(),
            response: params.required("response")?.to_ascii_lowercase(),
            algorithm,
            cnonce: params.get("cnonce").map(str::to_owned),
            nc,
            qop: params.get("qop").map(str::to_owned),
            opaque: params.get("opaque").map(str::to_owned),
        })
    }

    /// The header value; `nc` is written as 8 lower-case hex digits, `qop`
    /// and `algorithm` unquoted, as RFC 7616 §3.4 asks.
    pub fn to_header_value(&self) -> String {
        let mut out = String::from("Digest ");
        push_quoted(&mut out, "username", &self.username);
        push_quoted(&mut out, "realm", &self.realm);
        push_quoted(&mut out, "nonce", &self.nonce);
        push_quoted(&mut out, "uri", &self.uri);
        push_quoted(&mut out, "response", &self.response);
        push_token(&mut out, "algorithm", self.algorithm.token());
        if let Some(cnonce) = &self.cnonce {
            push_quoted(&mut out, "cnonce", cnonce);
        }
        if let Some(opaque) = &self.opaque {
            push_quoted(&mut out, "opaque", opaque);
        }
        if let Some(qop) = &self.qop {
            push_token(&mut out, "qop", qop);
        }
        if let Some(nc) = self.nc {
            push_token(&mut out, "nc", &format!("{nc:08x}"));
        }
        out
    }
}

/// `H(username:realm:password)` in lower-case hex — what a server stores
/// instead of the password. For the `-sess` variants this is still the base
/// value; the session part (`H(HA1:nonce:cnonce)`) is applied per response.
pub fn ha1(alg: Algorithm, username: &str, realm: &str, password: &str) -> String {
    alg.hash(format!("{username}:{realm}:{password}").as_bytes())
}

/// Answers `challenge` for a request `method uri`. Uses `qop=auth` when the
/// challenge offers it, else the RFC 2069 form without qop (also when only
/// `auth-int` is offered, see the module docs). `cnonce` should be fresh and
/// random per challenge; `nc` counts requests sent with the same nonce.
pub fn answer(
    challenge: &Challenge,
    method: &str,
    uri: &str,
    username: &str,
    password: &str,
    cnonce: &str,
    nc: u32,
) -> Credentials {
    let with_qop = challenge.offers("auth");
    let mut creds = Credentials {
        username: username.to_owned(),
        realm: challenge.realm.clone(),
        nonce: challenge.nonce.clone(),
        uri: uri.to_owned(),
        response: String::new(),
        algorithm: challenge.algorithm,
        // -sess hashes the cnonce into HA1, so it is sent even without qop.
        cnonce: (with_qop || challenge.algorithm.is_sess()).then(|| cnonce.to_owned()),
        nc: with_qop.then_some(nc),
        qop: with_qop.then(|| "auth".to_owned()),
        opaque: challenge.opaque.clone(),
    };
    let base = ha1(challenge.algorithm, username, &challenge.realm, password);
    creds.response = expected_response(&creds, method, &base);
    creds
}

/// The `response=` value that `creds` must carry for a request with `method`,
/// given the stored base HA1 (see [`ha1`]). Returns an empty string when the
/// credentials cannot be checked: `qop` other than `auth`, or `qop`/`-sess`
/// without the `cnonce`/`nc` they need.
pub fn expected_response(creds: &Credentials, method: &str, ha1: &str) -> String {
    let alg = creds.algorithm;
    let ha1 = if alg.is_sess() {
        let Some(cnonce) = &creds.cnonce else {
            return String::new();
        };
        alg.hash(format!("{ha1}:{}:{cnonce}", creds.nonce).as_bytes())
    } else {
        ha1.to_owned()
    };
    // The URI as it is on the wire: an IPv6 host is an alias in here.
    let uri = super::ipv6::restore_str(&creds.uri);
    let ha2 = alg.hash(format!("{method}:{uri}").as_bytes());
    match (&creds.qop, &creds.cnonce, creds.nc) {
        (None, _, _) => alg.hash(format!("{ha1}:{}:{ha2}", creds.nonce).as_bytes()),
        (Some(qop), Some(cnonce), Some(nc)) if qop.eq_ignore_ascii_case("auth") => {
            alg.hash(format!("{ha1}:{}:{nc:08x}:{cnonce}:auth:{ha2}", creds.nonce).as_bytes())
        }
        _ => String::new(),
    }
}

/// Checks `creds.response` in constant time against [`expected_response`].
/// Nonce freshness, realm and nonce-count replay are the caller's business.
pub fn verify(creds: &Credentials, method: &str, ha1: &str) -> bool {
    let expected = expected_response(creds, method, ha1);
    !expected.is_empty() && constant_time_eq(expected.as_bytes(), creds.response.as_bytes())
}

/// Compares without an early exit, so the time taken does not reveal how many
/// leading characters of a guessed response were right. Lengths are public
/// (fixed by the algorithm), so a length mismatch may return at once.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| {
        acc | (x.to_ascii_lowercase() ^ y.to_ascii_lowercase())
    });
    std::hint::black_box(diff) == 0
}

fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        // Writing to a String cannot fail.
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// `nc` is exactly 8 hex digits on the wire (RFC 7616 §3.4); peers that drop
/// leading zeros are tolerated.
fn parse_nc(s: &str) -> Result<u32, DigestError> {
    if s.is_empty() || s.len() > 8 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(DigestError::Malformed(format!("nc={s}")));
    }
    u32::from_str_radix(s, 16).map_err(|_| DigestError::Malformed(format!("nc={s}")))
}

fn push_sep(out: &mut String) {
    if !out.ends_with(' ') {
        out.push_str(", ");
    }
}

fn push_token(out: &mut String, name: &str, value: &str) {
    push_sep(out);
    out.push_str(name);
    out.push('=');
    out.push_str(value);
}

fn push_quoted(out: &mut String, name: &str, value: &str) {
    push_sep(out);
    out.push_str(name);
    out.push_str("=\"");
    for c in value.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
}

/// The `auth-param` list after the `Digest` scheme, names lower-cased,
/// quoted-strings unescaped.
struct Params(Vec<(String, String)>);

impl Params {
    fn parse(value: &str) -> Result<Params, DigestError> {
        let value = value.trim_start();
        let rest = match value.split_once(|c: char| c.is_ascii_whitespace()) {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("Digest") => rest,
            _ => return Err(DigestError::NotDigest),
        };
        let mut params: Vec<(String, String)> = Vec::new();
        let mut chars = rest.chars().peekable();
        loop {
            skip_lws_and_commas(&mut chars);
            if chars.peek().is_none() {
                break;
            }
            let mut name = String::new();
            while let Some(&c) = chars.peek() {
                if is_token_char(c) {
                    name.push(c.to_ascii_lowercase());
                    chars.next();
                } else {
                    break;
                }
            }
            if name.is_empty() {
                return Err(DigestError::Malformed(format!(
                    "expected a parameter name at {:?}",
                    chars.collect::<String>()
                )));
            }
            skip_lws(&mut chars);
            if chars.next() != Some('=') {
                return Err(DigestError::Malformed(format!("{name} has no value")));
            }
            skip_lws(&mut chars);
            let mut val = String::new();
            if chars.peek() == Some(&'"') {
                chars.next();
                loop {
                    match chars.next() {
                        None => {
                            return Err(DigestError::Malformed(format!(
                                "unterminated quoted string in {name}"
                            )));
                        }
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c) => val.push(c),
                            None => {
                                return Err(DigestError::Malformed(format!(
                                    "dangling escape in {name}"
                                )));
                            }
                        },
                        Some(c) => val.push(c),
                    }
                }
            } else {
                while let Some(&c) = chars.peek() {
                    if is_token_char(c) || c == '/' {
                        // '/' is not a token char, but unquoted base64 nonces
                        // and URIs from sloppy peers carry it; accept it.
                        val.push(c);
                        chars.next();
                    } else {
                        break;
                    }
                }
                if val.is_empty() {
                    return Err(DigestError::Malformed(format!("{name} has an empty value")));
                }
            }
            skip_lws(&mut chars);
            match chars.next() {
                None | Some(',') => {}
                Some(c) => {
                    return Err(DigestError::Malformed(format!(
                        "unexpected {c:?} after {name}"
                    )));
                }
            }
            if params.iter().any(|(n, _)| *n == name) {
                return Err(DigestError::Malformed(format!("{name} given twice")));
            }
            params.push((name, val));
        }
        Ok(Params(params))
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn required(&self, name: &'static str) -> Result<&str, DigestError> {
        self.get(name).ok_or(DigestError::Missing(name))
    }
}

type Chars<'a> = std::iter::Peekable<std::str::Chars<'a>>;

fn skip_lws(chars: &mut Chars<'_>) {
    while chars
        .peek()
        .is_some_and(|c| matches!(c, ' ' | '\t' | '\r' | '\n'))
    {
        chars.next();
    }
}

fn skip_lws_and_commas(chars: &mut Chars<'_>) {
    while chars
        .peek()
        .is_some_and(|c| matches!(c, ' ' | '\t' | '\r' | '\n' | ','))
    {
        chars.next();
    }
}

/// RFC 3261 §25.1 `token` characters.
fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-.!%*_+`'~".contains(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn algorithm_tokens_round_trip() {
        for alg in [
            Algorithm::Md5,
            Algorithm::Md5Sess,
            Algorithm::Sha256,
            Algorithm::Sha256Sess,
        ] {
            assert_eq!(Algorithm::parse(alg.token()), Ok(alg));
            assert_eq!(Algorithm::parse(&alg.token().to_lowercase()), Ok(alg));
        }
        assert!(matches!(
            Algorithm::parse("SHA256"),
            Err(DigestError::UnsupportedAlgorithm(_))
        ));
    }

    #[test]
    fn constant_time_eq_ignores_hex_case() {
        assert!(constant_time_eq(b"abcdef", b"ABCDEF"));
        assert!(!constant_time_eq(b"abcdef", b"abcdee"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }
}
