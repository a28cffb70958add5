//! TURN for browsers behind NATs and firewalls: the gateway hands each
//! phone the TURN/STUN servers with credentials in the TURN REST scheme
//! (draft-uberti-behave-turn-rest, what coturn's `use-auth-secret` /
//! `static-auth-secret` checks): username `<expiry>:<user>`, password the
//! base64 HMAC-SHA1 of that username under the shared secret. The TURN
//! server needs no database of users and the credentials stop working when
//! the session's SIP credential does.

use base64::Engine;
use hmac::{Hmac, Mac};
use shared::api::{IceConfig, IceServer};

/// The TURN settings (`--turn-urls`, `--turn-secret`, `--ice-relay-only`).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct TurnConfig {
    pub urls: Vec<String>,
    secret: Option<String>,
    pub relay_only: bool,
}

impl std::fmt::Debug for TurnConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The secret is never printed.
        f.debug_struct("TurnConfig")
            .field("urls", &self.urls)
            .field("secret", &self.secret.as_ref().map(|_| "(set)"))
            .field("relay_only", &self.relay_only)
            .finish()
    }
}

impl TurnConfig {
    /// Checks the settings; `Err((setting, message))` names the one at fault.
    pub fn parse(
        urls: &str,
        secret: Option<String>,
        relay_only: bool,
    ) -> Result<TurnConfig, (&'static str, String)> {
        let urls: Vec<String> = urls
            .split(',')
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(str::to_owned)
            .collect();
        for url in &urls {
            let scheme = url.split(':').next().unwrap_or_default();
            let rest = url.get(scheme.len() + 1..).unwrap_or_default();
            if !matches!(scheme, "turn" | "turns" | "stun" | "stuns") || rest.is_empty() {
                return Err((
                    "turn_urls",
                    format!(
                        "`{url}`: give turn:HOST[:PORT][?transport=udp|tcp], turns:… or stun:…"
                    ),
                ));
            }
        }
        let secret = secret.filter(|s| !s.is_empty());
        let has_turn = urls.iter().any(|u| u.starts_with("turn"));
        if has_turn && secret.is_none() {
            return Err((
                "turn_secret",
                "TURN servers need the secret shared with them (coturn's static-auth-secret)"
                    .to_owned(),
            ));
        }
        if secret.as_ref().is_some_and(|s| s.len() < 16) {
            return Err((
                "turn_secret",
                "use at least 16 characters (e.g. `openssl rand -hex 32`)".to_owned(),
            ));
        }
        if relay_only && !has_turn {
            return Err((
                "ice_relay_only",
                "relay-only media needs a TURN server in turn_urls".to_owned(),
            ));
        }
        Ok(TurnConfig {
            urls,
            secret,
            relay_only,
        })
    }

    /// What `user`'s phone gets, valid until `expires_at` (Unix seconds).
    pub fn ice_for(&self, user: &str, expires_at: i64) -> IceConfig {
        if self.urls.is_empty() {
            return IceConfig::default();
        }
        let (turn, stun): (Vec<String>, Vec<String>) = self
            .urls
            .iter()
            .cloned()
            .partition(|u| u.starts_with("turn"));
        let mut servers = Vec::new();
        if !stun.is_empty() {
            servers.push(IceServer {
                urls: stun,
                username: None,
                credential: None,
            });
        }
        if let (false, Some(secret)) = (turn.is_empty(), &self.secret) {
            let username = format!("{expires_at}:{user}");
            servers.push(IceServer {
                urls: turn,
                credential: Some(password(secret, &username)),
                username: Some(username),
            });
        }
        IceConfig {
            servers,
            relay_only: self.relay_only,
        }
    }
}

/// base64(HMAC-SHA1(secret, username)), as coturn computes it.
fn password(secret: &str, username: &str) -> String {
    // HMAC takes a key of any length, so `new_from_slice` cannot fail.
    let mut mac = <Hmac<sha1::Sha1> as Mac>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(username.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn credentials_follow_the_turn_rest_scheme() {
        let config = TurnConfig::parse(
            "stun:stun.example.com, turn:turn.example.com:3478?transport=udp,turns:turn.example.com:5349",
            Some("north-wind-secret-0123".to_owned()),
            true,
        )
        .unwrap();
        let ice = config.ice_for("demo", 1_800_000_000);
        assert!(ice.relay_only);
        assert_eq!(ice.servers[0].urls, ["stun:stun.example.com"]);
        assert_eq!(ice.servers[0].username, None);
        let turn = &ice.servers[1];
        assert_eq!(
            turn.urls,
            [
                "turn:turn.example.com:3478?transport=udp",
                "turns:turn.example.com:5349"
            ]
        );
        assert_eq!(turn.username.as_deref(), Some("1800000000:demo"));
        // `echo -n 1800000000:demo | openssl dgst -sha1 -hmac north-wind-secret-0123 -binary | base64`
        assert_eq!(
            turn.credential.as_deref(),
            Some("C/wY/lDQCFqsyLTvTAELJBBZ1Vw=")
        );
        assert!(
            !format!("{config:?}").contains("north-wind"),
            "no secret in Debug"
        );
    }

    #[test]
    fn bad_settings_name_the_setting() {
        let err = |urls: &str, secret: Option<&str>, relay: bool| {
            TurnConfig::parse(urls, secret.map(str::to_owned), relay)
                .expect_err("refused")
                .0
        };
        assert_eq!(err("http://x", None, false), "turn_urls");
        assert_eq!(err("turn:", Some("0123456789abcdef"), false), "turn_urls");
        assert_eq!(err("turn:t.example.com", None, false), "turn_secret");
        assert_eq!(
            err("turn:t.example.com", Some("short"), false),
            "turn_secret"
        );
        assert_eq!(err("stun:s.example.com", None, true), "ice_relay_only");
        assert_eq!(
            TurnConfig::parse("", None, false).unwrap().ice_for("a", 1),
            IceConfig::default()
        );
    }
}
