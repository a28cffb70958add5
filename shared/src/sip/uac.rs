//! What a user agent client needs whatever request it sends: answering a
//! 401/407 digest challenge (the strongest one offered, with counted
//! nonce-counts), quoting a display name, telling configuration values that
//! can go into a header from those that cannot, and the reason phrase of a
//! response rsip dropped it from.
//!
//! [`super::call`] uses these; [`super::register`] has its own private
//! copies from before this module existed, and can switch to it.

use rsip::headers::UntypedHeader;

use super::digest::{self, Algorithm, Challenge};
use super::response::reason_phrase;

/// A challenge being answered: the header kind it asks for and the
/// nonce-count used with its nonce so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestAuth {
    challenge: Challenge,
    /// 407 (`Proxy-Authorization`) rather than 401 (`Authorization`).
    proxy: bool,
    nc: u32,
}

impl DigestAuth {
    /// The challenge of a 401 (`WWW-Authenticate`) or 407
    /// (`Proxy-Authenticate`) this client answers: SHA-256 before MD5, plain
    /// before `-sess`. `None` when there is none it can answer.
    pub fn from_response(response: &rsip::Response) -> Option<DigestAuth> {
        let proxy = response.status_code.code() == 407;
        let challenge = response
            .headers
            .iter()
            .filter_map(|h| match h {
                rsip::Header::WwwAuthenticate(c) if !proxy => Some(c.value()),
                rsip::Header::ProxyAuthenticate(c) if proxy => Some(c.value()),
                _ => None,
            })
            .filter_map(|v| Challenge::parse(v).ok())
            .max_by_key(|c| algorithm_rank(c.algorithm))?;
        Some(DigestAuth {
            challenge,
            proxy,
            nc: 0,
        })
    }

    pub fn challenge(&self) -> &Challenge {
        &self.challenge
    }

    /// The `Authorization` (or `Proxy-Authorization`) header for a request
    /// `method uri`, with the next nonce-count. `cnonce` should be fresh.
    pub fn header(
        &mut self,
        method: &str,
        uri: &str,
        username: &str,
        password: &str,
        cnonce: &str,
    ) -> rsip::Header {
        self.nc = self.nc.wrapping_add(1).max(1);
        let value = digest::answer(
            &self.challenge,
            method,
            uri,
            username,
            password,
            cnonce,
            self.nc,
        )
        .to_header_value();
        if self.proxy {
            rsip::headers::ProxyAuthorization::new(value).into()
        } else {
            rsip::headers::Authorization::new(value).into()
        }
    }
}

/// Preference among challenges: SHA-256 over MD5 (RFC 8760 lets a client's
/// policy choose), plain over `-sess`.
pub fn algorithm_rank(algorithm: Algorithm) -> u8 {
    match algorithm {
        Algorithm::Sha256 => 4,
        Algorithm::Sha256Sess => 3,
        Algorithm::Md5 => 2,
        Algorithm::Md5Sess => 1,
    }
}

/// `"Name" ` with quotes and backslashes escaped (RFC 3261 §25.1
/// quoted-string), or nothing for an empty name.
pub fn quoted_display_name(name: &str) -> String {
    if name.is_empty() {
        return String::new();
    }
    let mut out = String::with_capacity(name.len() + 3);
    out.push('"');
    for c in name.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push_str("\" ");
    out
}

/// Whether `value` can stand unquoted in a URI or header parameter as
/// this client writes them (instance ids, contact users, `.invalid` hosts).
pub fn is_plain_token(value: &str) -> bool {
    !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._~:".contains(c))
}

/// Whether `value` can go into a quoted string or free text: no line
/// breaks or other control characters.
pub fn is_header_text(value: &str) -> bool {
    !value.chars().any(char::is_control)
}

/// The RFC's phrase for a response whose own phrase rsip dropped.
pub fn standard_reason(status: &rsip::StatusCode) -> String {
    match (reason_phrase(status.code()), status) {
        ("", rsip::StatusCode::Other(_, reason)) if !reason.is_empty() => reason.clone(),
        ("", _) => "Error".to_owned(),
        (phrase, _) => phrase.to_owned(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn display_names_are_quoted() {
        assert_eq!(quoted_display_name(""), "");
        assert_eq!(quoted_display_name("Ann \"A\" B"), "\"Ann \\\"A\\\" B\" ");
    }

    #[test]
    fn tokens_and_text() {
        assert!(is_plain_token("urn:uuid:0a-1b"));
        assert!(!is_plain_token(""));
        assert!(!is_plain_token("a b"));
        assert!(is_header_text("Ada \"A\" L"));
        assert!(!is_header_text("x\r\nVia: y"));
    }

    #[test]
    fn the_strongest_challenge_is_answered_with_counted_nonces() {
        let text = "SIP/2.0 407 Proxy Authentication Required\r\n\
            Via: SIP/2.0/WSS x.invalid;branch=z9hG4bK1\r\n\
            From: <sip:a@b>;tag=1\r\nTo: <sip:c@b>;tag=2\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n\
            Proxy-Authenticate: Digest realm=\"b\", nonce=\"n1\", algorithm=MD5, qop=\"auth\"\r\n\
            Proxy-Authenticate: Digest realm=\"b\", nonce=\"n2\", algorithm=SHA-256, qop=\"auth\"\r\n\
            Content-Length: 0\r\n\r\n";
        let response = rsip::Response::try_from(text).unwrap();
        let mut auth = DigestAuth::from_response(&response).unwrap();
        assert_eq!(auth.challenge().algorithm, Algorithm::Sha256);
        let first = auth.header("INVITE", "sip:c@b", "a", "pw", "cn1");
        assert!(matches!(first, rsip::Header::ProxyAuthorization(_)));
        assert!(first.to_string().contains("nc=00000001"), "{first}");
        let second = auth.header("BYE", "sip:c@b", "a", "pw", "cn2");
        assert!(second.to_string().contains("nc=00000002"), "{second}");
    }
}
