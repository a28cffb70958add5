//! The phone embedded in other sites (a CRM's side panel): embed tokens and
//! allowed origins, without I/O. `http::embed` serves them.
//!
//! An embed token signs one agent in for a short while. It is
//! `dle_<account>.<expires>.<nonce>.<mac>`, the MAC an HMAC-SHA256 over the
//! rest with a key of 32 random bytes that never leaves the gateway's
//! database. Not a JWT: the only reader is the gateway itself, so a fixed
//! format with one algorithm leaves nothing to negotiate (no `alg: none`),
//! and `hmac` + `sha2` are already in the dependency tree.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use shared::ids::AccountId;

/// What every embed token starts with.
pub const TOKEN_PREFIX: &str = "dle_";
/// Shortest and longest lifetimes a token may be asked for (seconds).
pub const MIN_TTL_S: u32 = 1;
pub const MAX_TTL_S: u32 = 3600;
pub const DEFAULT_TTL_S: u32 = 300;

type HmacSha256 = Hmac<Sha256>;

/// What a valid token says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claims {
    pub account_id: AccountId,
    /// Unix seconds.
    pub expires_at: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("not an embed token, or not one of this gateway")]
    Invalid,
    #[error("the embed token has expired")]
    Expired,
}

/// A token for `claims`; `nonce` makes two tokens of the same second differ.
pub fn sign(key: &[u8], claims: Claims, nonce: &str) -> String {
    let body = format!("{}.{}.{nonce}", claims.account_id, claims.expires_at);
    format!("{TOKEN_PREFIX}{body}.{}", hex(&mac(key, &body)))
}

/// The claims of `token` if `key` signed it and it is still valid at `now`.
pub fn verify(key: &[u8], token: &str, now: i64) -> Result<Claims, TokenError> {
    let rest = token
        .trim()
        .strip_prefix(TOKEN_PREFIX)
        .ok_or(TokenError::Invalid)?;
    let (body, tag) = rest.rsplit_once('.').ok_or(TokenError::Invalid)?;
    let tag = unhex(tag).ok_or(TokenError::Invalid)?;
    let mut check = HmacSha256::new_from_slice(key).map_err(|_| TokenError::Invalid)?;
    check.update(body.as_bytes());
    // Constant-time comparison.
    check.verify_slice(&tag).map_err(|_| TokenError::Invalid)?;
    let mut parts = body.split('.');
    let account_id = parts.next().and_then(|p| p.parse::<i64>().ok());
    let expires_at = parts.next().and_then(|p| p.parse::<i64>().ok());
    let (Some(account_id), Some(expires_at)) = (account_id, expires_at) else {
        return Err(TokenError::Invalid);
    };
    if expires_at <= now {
        return Err(TokenError::Expired);
    }
    Ok(Claims {
        account_id: AccountId(account_id),
        expires_at,
    })
}

/// HMAC-SHA256 of `data` under `key`, as the webhook signature uses it too.
pub fn mac(key: &[u8], data: &str) -> Vec<u8> {
    // HMAC takes keys of any length, so `new_from_slice` cannot fail here.
    let mut m = match HmacSha256::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => return Vec::new(),
    };
    m.update(data.as_bytes());
    m.finalize().into_bytes().to_vec()
}

/// A web origin as browsers write it: `scheme://host[:port]`, lower case,
/// nothing after. Parse, don't validate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin(String);

impl Origin {
    pub fn parse(text: &str) -> Option<Origin> {
        let text = text.trim().trim_end_matches('/').to_ascii_lowercase();
        let (scheme, rest) = text.split_once("://")?;
        if !matches!(scheme, "http" | "https") || rest.is_empty() {
            return None;
        }
        let host_ok = rest
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
        host_ok.then_some(Origin(text))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The `Content-Security-Policy` of the embedded phone's page: only the
/// gateway itself and the allowed origins may frame it.
pub fn frame_ancestors(allowed: &[Origin]) -> String {
    let mut csp = String::from("frame-ancestors 'self'");
    for origin in allowed {
        csp.push(' ');
        csp.push_str(origin.as_str());
    }
    csp
}

pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";
    const CLAIMS: Claims = Claims {
        account_id: AccountId(7),
        expires_at: 1000,
    };

    #[test]
    fn a_signed_token_verifies_until_it_expires() {
        let token = sign(KEY, CLAIMS, "ab12");
        assert!(token.starts_with("dle_7.1000.ab12."));
        assert_eq!(verify(KEY, &token, 999), Ok(CLAIMS));
        assert_eq!(verify(KEY, &token, 1000), Err(TokenError::Expired));
    }

    #[test]
    fn a_changed_token_or_another_key_is_refused() {
        let token = sign(KEY, CLAIMS, "ab12");
        let forged = token.replacen("dle_7.", "dle_8.", 1);
        assert_eq!(verify(KEY, &forged, 0), Err(TokenError::Invalid));
        assert_eq!(verify(b"another key", &token, 0), Err(TokenError::Invalid));
        for junk in [
            "",
            "dle_",
            "dle_1.2.3.zz",
            "dlr_abc",
            "dle_..",
            "dle_1.2.3.4é",
        ] {
            assert_eq!(verify(KEY, junk, 0), Err(TokenError::Invalid), "{junk}");
        }
    }

    #[test]
    fn origins_are_read_as_browsers_write_them() {
        let o = |t| Origin::parse(t).map(|o| o.0);
        assert_eq!(
            o("https://CRM.example.com/"),
            Some("https://crm.example.com".into())
        );
        assert_eq!(
            o("http://127.0.0.1:8080"),
            Some("http://127.0.0.1:8080".into())
        );
        assert_eq!(o("https://crm.example.com/path"), None);
        assert_eq!(o("ftp://x"), None);
        assert_eq!(o("*"), None);
        assert_eq!(o("https://"), None);
        assert_eq!(o("https://a b"), None);
        let allowed = [Origin("http://127.0.0.1:9".into())];
        assert_eq!(
            frame_ancestors(&allowed),
            "frame-ancestors 'self' http://127.0.0.1:9"
        );
    }
}
