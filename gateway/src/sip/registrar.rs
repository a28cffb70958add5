//! The registrar (RFC 3261 §10.3, RFC 5626 `+sip.instance`/`reg-id`,
//! RFC 7118 over WebSocket), sans-IO.
//!
//! ```text
//!   REGISTER ──► no Authorization ─────────────────────────► 401 + challenges
//!        │
//!        ├──► nonce unknown/expired, digest otherwise fine ─► 401 stale=true
//!        ├──► digest wrong / credential expired / not own ──► 403
//!        ├──► nc not above the last one seen (replay) ──────► 403
//!        └──► verified ─► Contact: *      ─► remove all bindings ─► 200
//!                      ─► expires 0       ─► remove binding      ─► 200
//!                      ─► expires < min   ───────────────────────► 423 Min-Expires
//!                      ─► otherwise       ─► add/refresh binding ─► 200 (all contacts)
//! ```
//!
//! Credentials are the short-lived ones issued at web sign-in; only their HA1
//! values are known here. A binding belongs to the connection it came over:
//! when that WebSocket closes the binding goes, so no stale tab rings. A
//! binding with `+sip.instance` and `reg-id` replaces the earlier binding of
//! the same instance and reg-id (a page refresh), whatever its Contact URI.
//!
//! Challenges are sent SHA-256 first, then MD5, as RFC 8760 asks. JsSIP (the
//! e2e test proves it) reads only the last `WWW-Authenticate` and knows only
//! MD5, so MD5 stays last; our own client picks SHA-256 from the list.

use shared::ids::AccountId;
use std::collections::HashMap;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use rsip::prelude::*;
use shared::sip::digest::{self, Algorithm, Challenge, Credentials};
use shared::sip::response::response_to;
use web_time::Instant;

use super::{ConnId, Now};

/// Challenges outstanding at most.
const MAX_NONCES: usize = 10_000;

/// Registrar settings.
#[derive(Debug, Clone)]
pub struct RegistrarConfig {
    /// Digest realm and the host part of every agent's address of record.
    pub domain: String,
    pub min_expires: u32,
    pub max_expires: u32,
    pub default_expires: u32,
    /// How long a nonce may be used before the client is told it is stale.
    pub nonce_ttl: Duration,
    /// Bindings one address of record may hold (browser tabs).
    pub max_bindings: usize,
}

impl RegistrarConfig {
    pub fn new(domain: impl Into<String>) -> Self {
        RegistrarConfig {
            domain: domain.into(),
            min_expires: 60,
            max_expires: 3600,
            default_expires: 600,
            nonce_ttl: Duration::from_secs(300),
            max_bindings: 10,
        }
    }
}

/// A SIP credential as the registrar knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    pub id: i64,
    pub account_id: AccountId,
    /// Digest username; equal to the account's username and AOR user part.
    pub username: String,
    pub ha1_md5: String,
    pub ha1_sha256: String,
    /// Unix seconds.
    pub expires_at: i64,
}

/// One registered contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    pub account_id: AccountId,
    /// The Contact URI, as sent.
    pub contact: String,
    pub instance: Option<String>,
    pub reg_id: Option<u32>,
    pub conn: ConnId,
    pub expires_at: Instant,
    call_id: String,
    cseq: u32,
}

/// What happened to bindings, for logs and (later) presence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistrarEvent {
    Registered {
        aor_user: String,
        contact: String,
    },
    Unregistered {
        aor_user: String,
        contact: String,
    },
    /// Verification failed: counted toward the ban list.
    AuthFailed {
        username: String,
        reason: String,
    },
}

struct NonceState {
    issued: Instant,
    /// Highest nonce-count accepted; 0 before first use.
    last_nc: u32,
}

pub struct Registrar {
    config: RegistrarConfig,
    credentials: HashMap<String, Vec<Credential>>,
    nonces: HashMap<String, NonceState>,
    /// Keyed by the lower-cased AOR user part.
    bindings: HashMap<String, Vec<Binding>>,
    rng: StdRng,
    events: std::collections::VecDeque<RegistrarEvent>,
}

impl Registrar {
    /// `seed` makes nonces and tags reproducible in tests; the shell passes
    /// OS randomness.
    pub fn new(config: RegistrarConfig, seed: [u8; 32]) -> Self {
        Registrar {
            config,
            credentials: HashMap::new(),
            nonces: HashMap::new(),
            bindings: HashMap::new(),
            rng: StdRng::from_seed(seed),
            events: Default::default(),
        }
    }

    pub fn add_credential(&mut self, credential: Credential) {
        self.credentials
            .entry(credential.username.to_ascii_lowercase())
            .or_default()
            .push(credential);
    }

    /// Revokes a credential (sign-out) and drops the bindings made with it
    /// is not needed: bindings belong to connections, which the client closes.
    pub fn remove_credential(&mut self, id: i64) {
        for list in self.credentials.values_mut() {
            list.retain(|c| c.id != id);
        }
        self.credentials.retain(|_, list| !list.is_empty());
    }

    /// Every binding of one address of record (lower-cased user part).
    pub fn bindings(&self, aor_user: &str) -> &[Binding] {
        self.bindings
            .get(&aor_user.to_ascii_lowercase())
            .map_or(&[], Vec::as_slice)
    }

    pub fn poll_event(&mut self) -> Option<RegistrarEvent> {
        self.events.pop_front()
    }

    /// The next moment a binding or a nonce expires.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let bindings = self.bindings.values().flatten().map(|b| b.expires_at);
        let nonces = self
            .nonces
            .values()
            .map(|n| n.issued + self.config.nonce_ttl * 2);
        bindings.chain(nonces).min()
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        let events = &mut self.events;
        for (user, list) in self.bindings.iter_mut() {
            list.retain(|b| {
                let keep = b.expires_at > now;
                if !keep {
                    events.push_back(RegistrarEvent::Unregistered {
                        aor_user: user.clone(),
                        contact: b.contact.clone(),
                    });
                }
                keep
            });
        }
        self.bindings.retain(|_, list| !list.is_empty());
        // Stale nonces are still recognised for one more TTL so that the
        // client is told `stale=true` rather than `403`.
        let ttl = self.config.nonce_ttl * 2;
        self.nonces.retain(|_, n| n.issued + ttl > now);
    }

    /// The account whose binding lives on `conn`: a connection that
    /// registered is authenticated for the calls it places.
    pub fn account_on_conn(&self, conn: ConnId) -> Option<AccountId> {
        self.bindings
            .values()
            .flatten()
            .find(|b| b.conn == conn)
            .map(|b| b.account_id)
    }

    /// A connection closed: its bindings go.
    pub fn connection_closed(&mut self, conn: ConnId) {
        let events = &mut self.events;
        for (user, list) in self.bindings.iter_mut() {
            list.retain(|b| {
                let keep = b.conn != conn;
                if !keep {
                    events.push_back(RegistrarEvent::Unregistered {
                        aor_user: user.clone(),
                        contact: b.contact.clone(),
                    });
                }
                keep
            });
        }
        self.bindings.retain(|_, list| !list.is_empty());
    }

    /// Handles one REGISTER that arrived over `conn`; returns the response.
    pub fn handle_register(
        &mut self,
        now: Now,
        req: &rsip::Request,
        conn: ConnId,
    ) -> rsip::Response {
        let to_tag = self.new_tag();
        match self.process(now, req, conn) {
            Ok(reply) => {
                let mut response = response_to(req, 200, "OK", Some(&to_tag));
                for contact in reply {
                    response
                        .headers
                        .push(rsip::headers::Contact::new(contact).into());
                }
                response
            }
            Err(Refusal::Challenge { stale }) => {
                let mut response = response_to(req, 401, "Unauthorized", Some(&to_tag));
                for algorithm in [Algorithm::Sha256, Algorithm::Md5] {
                    let challenge = Challenge {
                        realm: self.config.domain.clone(),
                        nonce: self.new_nonce(now.instant),
                        opaque: None,
                        algorithm,
                        qop: vec!["auth".to_owned()],
                        stale,
                    };
                    response.headers.push(
                        rsip::headers::WwwAuthenticate::new(challenge.to_header_value()).into(),
                    );
                }
                response
            }
            Err(Refusal::IntervalTooBrief) => {
                let mut response = response_to(req, 423, "Interval Too Brief", Some(&to_tag));
                response.headers.push(
                    rsip::headers::MinExpires::new(self.config.min_expires.to_string()).into(),
                );
                response
            }
            Err(Refusal::Status(code, reason)) => response_to(req, code, &reason, Some(&to_tag)),
        }
    }

    fn process(
        &mut self,
        now: Now,
        req: &rsip::Request,
        conn: ConnId,
    ) -> Result<Vec<String>, Refusal> {
        // Read with our own helpers: rsip's typed To loses the user part of
        // an addr-spec without angle brackets (`To: sip:j.user@example.com`).
        let to_value = req
            .to_header()
            .map(|h| h.value().to_owned())
            .map_err(|_| Refusal::bad("Bad Request (unreadable To header)"))?;
        let to_uri = super::msg::uri_of(&to_value);
        let aor_user = super::msg::uri_user(&to_uri)
            .filter(|u| !u.is_empty())
            .ok_or_else(|| Refusal::bad("Bad Request (To has no user part)"))?;
        let to_host = super::msg::uri_host(&to_uri)
            .ok_or_else(|| Refusal::bad("Bad Request (To has no host)"))?;
        if !to_host.eq_ignore_ascii_case(&self.config.domain) {
            return Err(Refusal::Status(
                404,
                format!("Not Found (this registrar serves {})", self.config.domain),
            ));
        }

        let account_id = self.authenticate(now, req, &aor_user)?;
        let call_id = req
            .call_id_header()
            .map(|h| h.value().to_owned())
            .map_err(|_| Refusal::bad("Bad Request (missing Call-ID)"))?;
        let cseq = req
            .cseq_header()
            .and_then(|h| h.typed())
            .map(|c| c.seq)
            .map_err(|_| Refusal::bad("Bad Request (unreadable CSeq)"))?;
        let header_expires = match req.expires_header() {
            Some(h) => Some(
                h.value()
                    .trim()
                    .parse::<u32>()
                    .map_err(|_| Refusal::bad("Bad Request (unreadable Expires)"))?,
            ),
            None => None,
        };

        let contacts: Vec<ContactValue> = req
            .headers
            .iter()
            .filter_map(|h| match h {
                rsip::Header::Contact(c) => Some(c.value()),
                _ => None,
            })
            .map(parse_contact)
            .collect::<Result<_, _>>()
            .map_err(Refusal::bad)?;

        let key = aor_user.to_ascii_lowercase();
        if contacts.iter().any(|c| c.uri == "*") {
            if contacts.len() != 1 || header_expires != Some(0) {
                return Err(Refusal::bad(
                    "Bad Request (Contact: * needs Expires: 0 and no other Contact)",
                ));
            }
            for b in self.bindings.remove(&key).unwrap_or_default() {
                self.events.push_back(RegistrarEvent::Unregistered {
                    aor_user: key.clone(),
                    contact: b.contact,
                });
            }
            return Ok(Vec::new());
        }

        // Check every contact before changing anything: a request either
        // applies whole or not at all.
        let mut changes = Vec::with_capacity(contacts.len());
        for contact in contacts {
            let expires = contact
                .param("expires")
                .map(|v| {
                    v.parse::<u32>()
                        .map_err(|_| Refusal::bad("Bad Request (unreadable expires parameter)"))
                })
                .transpose()?
                .or(header_expires)
                .unwrap_or(self.config.default_expires);
            if expires != 0 && expires < self.config.min_expires {
                return Err(Refusal::IntervalTooBrief);
            }
            if rsip::Uri::try_from(contact.uri.as_str()).is_err() {
                return Err(Refusal::bad("Bad Request (unreadable Contact URI)"));
            }
            let instance = contact.param("+sip.instance").map(unquote);
            let reg_id = contact
                .param("reg-id")
                .map(|v| {
                    v.parse::<u32>()
                        .map_err(|_| Refusal::bad("Bad Request (unreadable reg-id)"))
                })
                .transpose()?;
            changes.push((
                contact.uri,
                instance,
                reg_id,
                expires.min(self.config.max_expires),
            ));
        }

        let list = self.bindings.entry(key.clone()).or_default();
        for (uri, instance, reg_id, expires) in &changes {
            let existing = list.iter().position(|b| match (&b.instance, instance) {
                (Some(a), Some(b_)) => a == b_ && b.reg_id == *reg_id,
                _ => b.contact == *uri,
            });
            if let Some(i) = existing {
                let b = &list[i];
                if b.call_id == call_id && cseq <= b.cseq {
                    return Err(Refusal::Status(
                        500,
                        "Server Internal Error (REGISTER out of order)".to_owned(),
                    ));
                }
            }
            if *expires == 0 {
                if let Some(i) = existing {
                    let gone = list.remove(i);
                    self.events.push_back(RegistrarEvent::Unregistered {
                        aor_user: key.clone(),
                        contact: gone.contact,
                    });
                }
                continue;
            }
            let binding = Binding {
                account_id,
                contact: uri.clone(),
                instance: instance.clone(),
                reg_id: *reg_id,
                conn,
                expires_at: now.instant + Duration::from_secs(u64::from(*expires)),
                call_id: call_id.clone(),
                cseq,
            };
            match existing {
                Some(i) => list[i] = binding,
                None => {
                    if list.len() >= self.config.max_bindings {
                        return Err(Refusal::Status(
                            403,
                            format!(
                                "Forbidden (at most {} phones per agent)",
                                self.config.max_bindings
                            ),
                        ));
                    }
                    list.push(binding);
                }
            }
            self.events.push_back(RegistrarEvent::Registered {
                aor_user: key.clone(),
                contact: uri.clone(),
            });
        }

        let list = self.bindings.get(&key).map_or(&[][..], Vec::as_slice);
        let current = list
            .iter()
            .map(|b| {
                let left = b
                    .expires_at
                    .saturating_duration_since(now.instant)
                    .as_secs();
                let mut value = format!("<{}>;expires={left}", b.contact);
                if let Some(instance) = &b.instance {
                    value.push_str(&format!(";+sip.instance=\"{instance}\""));
                }
                if let Some(reg_id) = b.reg_id {
                    value.push_str(&format!(";reg-id={reg_id}"));
                }
                value
            })
            .collect();
        if list.is_empty() {
            self.bindings.remove(&key);
        }
        Ok(current)
    }

    /// Verifies the request's digest answer; returns the account it proves.
    fn authenticate(
        &mut self,
        now: Now,
        req: &rsip::Request,
        aor_user: &str,
    ) -> Result<AccountId, Refusal> {
        let answer = req
            .headers
            .iter()
            .filter_map(|h| match h {
                rsip::Header::Authorization(a) => Some(a.value()),
                _ => None,
            })
            .map(Credentials::parse)
            .find(|c| match c {
                Ok(c) => c.realm == self.config.domain,
                Err(_) => true,
            });
        let creds = match answer {
            None => return Err(Refusal::Challenge { stale: false }),
            Some(Err(e)) => {
                return Err(Refusal::bad(format!("Bad Request (Authorization: {e})")));
            }
            Some(Ok(c)) => c,
        };
        if matches!(creds.algorithm, Algorithm::Md5Sess | Algorithm::Sha256Sess) {
            return Err(Refusal::Challenge { stale: false });
        }
        let method = req.method().to_string();
        let candidates = self
            .credentials
            .get(&creds.username.to_ascii_lowercase())
            .map_or(&[][..], Vec::as_slice);
        let matching = candidates.iter().find(|c| {
            let ha1 = match creds.algorithm {
                Algorithm::Sha256 => &c.ha1_sha256,
                _ => &c.ha1_md5,
            };
            digest::verify(&creds, &method, ha1)
        });
        let Some(credential) = matching else {
            self.events.push_back(RegistrarEvent::AuthFailed {
                username: creds.username.clone(),
                reason: "wrong credentials".to_owned(),
            });
            return Err(Refusal::Status(
                403,
                "Forbidden (wrong SIP credentials)".to_owned(),
            ));
        };
        // The digest is right; now the nonce must be ours and fresh.
        let ttl = self.config.nonce_ttl;
        let Some(nonce) = self.nonces.get_mut(&creds.nonce) else {
            return Err(Refusal::Challenge { stale: true });
        };
        if nonce.issued + ttl <= now.instant {
            return Err(Refusal::Challenge { stale: true });
        }
        let nc = match creds.qop {
            Some(_) => creds.nc.unwrap_or(0),
            // Without qop there is no nonce-count: a nonce is good once.
            None => 1,
        };
        if nc <= nonce.last_nc {
            self.events.push_back(RegistrarEvent::AuthFailed {
                username: creds.username.clone(),
                reason: "replayed nonce count".to_owned(),
            });
            return Err(Refusal::Status(
                403,
                "Forbidden (replayed nonce count)".to_owned(),
            ));
        }
        nonce.last_nc = nc;
        if credential.expires_at <= now.unix {
            return Err(Refusal::Status(
                403,
                "Forbidden (SIP credential expired: sign in again)".to_owned(),
            ));
        }
        if !credential.username.eq_ignore_ascii_case(aor_user) {
            return Err(Refusal::Status(
                403,
                "Forbidden (credential does not own this address)".to_owned(),
            ));
        }
        Ok(credential.account_id)
    }

    fn new_nonce(&mut self, now: Instant) -> String {
        // Bounded: past MAX_NONCES the oldest challenge is forgotten (its
        // answer then gets a stale challenge, and the phone retries).
        while self.nonces.len() >= MAX_NONCES {
            let Some(oldest) = self
                .nonces
                .iter()
                .min_by_key(|(_, n)| n.issued)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            self.nonces.remove(&oldest);
        }
        let mut bytes = [0u8; 16];
        self.rng.fill_bytes(&mut bytes);
        let nonce = hex(&bytes);
        self.nonces.insert(
            nonce.clone(),
            NonceState {
                issued: now,
                last_nc: 0,
            },
        );
        nonce
    }

    fn new_tag(&mut self) -> String {
        format!("{:016x}", self.rng.next_u64())
    }
}

enum Refusal {
    Challenge { stale: bool },
    IntervalTooBrief,
    Status(u16, String),
}

impl Refusal {
    fn bad(reason: impl Into<String>) -> Self {
        Refusal::Status(400, reason.into())
    }
}

/// A Contact value split into its URI and its header parameters.
struct ContactValue {
    uri: String,
    params: Vec<(String, Option<String>)>,
}

impl ContactValue {
    fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_deref().unwrap_or(""))
    }
}

/// Splits `"Name" <sip:u@h;transport=ws>;expires=60;+sip.instance="<urn:…>"`
/// into the URI and the contact parameters. Without angle brackets the
/// parameters after the URI belong to the header (RFC 3261 §20.10).
fn parse_contact(value: &str) -> Result<ContactValue, String> {
    let value = value.trim();
    if value == "*" {
        return Ok(ContactValue {
            uri: "*".to_owned(),
            params: Vec::new(),
        });
    }
    // Skip a quoted display name, which may itself contain '<'.
    let mut rest = value;
    if let Some(after_quote) = rest.strip_prefix('"') {
        let mut escaped = false;
        let end = after_quote
            .char_indices()
            .find(|&(_, c)| {
                let close = c == '"' && !escaped;
                escaped = c == '\\' && !escaped;
                close
            })
            .map(|(i, _)| i)
            .ok_or("Bad Request (unterminated display name in Contact)")?;
        rest = &after_quote[end + 1..];
    }
    let (uri, params) = match rest.find('<') {
        Some(open) => {
            let after = &rest[open + 1..];
            let close = after.find('>').ok_or("Bad Request (Contact lacks '>')")?;
            (&after[..close], &after[close + 1..])
        }
        None => match rest.find(';') {
            Some(semi) => (&rest[..semi], &rest[semi..]),
            None => (rest, ""),
        },
    };
    let uri = uri.trim();
    if uri.is_empty() {
        return Err("Bad Request (empty Contact URI)".to_owned());
    }
    Ok(ContactValue {
        uri: uri.to_owned(),
        params: split_params(params),
    })
}

/// `;a=1;b="x;y";c` → [(a, 1), (b, "x;y"), (c, None)], honouring quotes.
fn split_params(text: &str) -> Vec<(String, Option<String>)> {
    let mut params = Vec::new();
    let mut current = String::new();
    let mut in_quotes = false;
    let push = |item: &str, params: &mut Vec<(String, Option<String>)>| {
        let item = item.trim();
        if item.is_empty() {
            return;
        }
        match item.split_once('=') {
            Some((n, v)) => params.push((n.trim().to_owned(), Some(v.trim().to_owned()))),
            None => params.push((item.to_owned(), None)),
        }
    };
    for c in text.chars() {
        match c {
            '"' => {
                in_quotes = !in_quotes;
                current.push(c);
            }
            ';' if !in_quotes => {
                push(&current, &mut params);
                current.clear();
            }
            _ => current.push(c),
        }
    }
    push(&current, &mut params);
    params
}

fn unquote(v: &str) -> String {
    v.trim_matches('"').to_owned()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests;
