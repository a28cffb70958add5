//! The one entry point for bytes from the network.
//!
//! The pipeline, and why in this order:
//!
//! 1. [`normalize::split`] first, even for oversized input: a 513 (or a
//!    400 for a broken message) needs the request's Via, From, To, Call-ID
//!    and CSeq, and only the normaliser can read them from a message rsip
//!    would refuse.
//! 2. Responses are checked for what a UA relies on (one Via, a status code
//!    of 100–699, a parseable CSeq, RFC 3261 §18.1.2 and RFC 4475
//!    `bigcode`/`scalarlg`) and dropped otherwise: a response is never
//!    answered.
//! 3. Requests go through [`validate::validate_raw`] *before* rsip, so that
//!    an unknown method gets 501 and an unknown URI scheme 416 even where
//!    rsip 0.4 could not have parsed them; then through rsip (from the
//!    canonical bytes), then [`validate::validate_parsed`].
//!    Just before rsip, IPv6 literals become aliases rsip can parse
//!    ([`super::ipv6`]); the shell turns them back on the way out.
//! 4. Every refusal is built statelessly from the split message, with a To
//!    tag derived from the request so that retransmissions get the same bytes.

use super::Transport;
use super::normalize::{self, RawMessage};
use super::response::stateless_response;
use super::validate::{self, Rejection};

/// Size limits applied before anything is parsed.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest message accepted, headers and body together. Larger requests
    /// get 513 Message Too Large (when a response can be built), else are dropped.
    pub max_message_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_bytes: 16 * 1024,
        }
    }
}

/// What to do with one message that arrived.
#[derive(Debug)]
pub enum Inbound {
    /// A request that passed validation. A method rsip cannot represent
    /// never gets here: it is refused with `Reject` 501 (with `Allow`) during
    /// validation, before rsip parses, because rsip cannot parse some valid
    /// requests with such methods at all (RFC 4475 `intmeth`).
    Request { request: rsip::Request },
    /// A response that parsed.
    Response(rsip::Response),
    /// A request we must refuse: send `response` (already serialised, e.g.
    /// `SIP/2.0 400 Bad Request (missing Call-ID header)`) back on the transport it
    /// came from. `code` and `reason` are for logs and counters.
    Reject {
        response: Vec<u8>,
        code: u16,
        reason: String,
    },
    /// Nothing can be answered (no start line, a broken response, a response
    /// code above 699): drop it. `reason` is for logs at debug level.
    Drop { reason: String },
}

/// Parse and validate one message. For datagrams and WebSocket frames `bytes`
/// is the whole datagram/frame; for TCP it is one message as cut by
/// [`super::normalize::frame_stream`].
pub fn inbound(bytes: &[u8], transport: Transport, limits: Limits) -> Inbound {
    let too_large = bytes.len() > limits.max_message_bytes;
    let raw = match normalize::split(bytes, transport) {
        Ok(raw) => raw,
        Err(err) => {
            return match err.partial() {
                Some(partial) if partial.is_request() => {
                    let rejection = if too_large {
                        message_too_large()
                    } else {
                        Rejection::bad_request(err.reason())
                    };
                    reject(partial, rejection)
                }
                _ => Inbound::Drop {
                    reason: err.reason().to_owned(),
                },
            };
        }
    };
    if !raw.is_request() {
        return inbound_response(&raw, too_large);
    }
    if too_large {
        return reject(&raw, message_too_large());
    }
    if let Err(rejection) = validate::validate_raw(&raw) {
        return reject(&raw, rejection);
    }
    // validate_raw refused unknown methods (501), so rsip, whose Method is a
    // closed enum, sees only methods it can represent.
    // rsip's error text quotes its own tokenizer internals; the peer gets a
    // plain phrase.
    // Refusals below are built from `raw`, as the peer wrote it.
    let aliased = with_ipv6_aliases(&raw);
    let Ok(request) = parse_request(aliased.as_ref().unwrap_or(&raw)) else {
        return reject(&raw, Rejection::bad_request("unparseable request"));
    };
    if let Err(rejection) = validate::validate_parsed(&request) {
        return reject(&raw, rejection);
    }
    Inbound::Request { request }
}

/// rsip from the canonical bytes. rsip 0.4 ends a URI's user part at the
/// first `;`, which RFC 3261 allows inside it (RFC 4475 `semiuri`, and the
/// `sip:+15551234567;npdi@carrier` form of RFC 4694 number portability):
/// when the first parse fails, the request is parsed again with a stand-in
/// user and the real user part is put back into the parsed URI.
fn parse_request(raw: &RawMessage) -> Result<rsip::Request, rsip::Error> {
    let first = match rsip::Request::try_from(raw.to_bytes()) {
        Ok(request) => return Ok(request),
        Err(e) => e,
    };
    let mut parts = raw.start_line.split(' ');
    let (Some(method), Some(uri), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(first);
    };
    let Some((scheme, rest)) = uri.split_once(':') else {
        return Err(first);
    };
    let Some((userinfo, hostport)) = rest.split_once('@') else {
        return Err(first);
    };
    let mut stand_in = raw.clone();
    stand_in.start_line = format!("{method} {scheme}:user@{hostport} {version}");
    let Ok(mut request) = rsip::Request::try_from(stand_in.to_bytes()) else {
        return Err(first);
    };
    let (user, password) = match userinfo.split_once(':') {
        Some((user, password)) => (user, Some(password.to_owned())),
        None => (userinfo, None),
    };
    request.uri.auth = Some(rsip::Auth {
        user: user.to_owned(),
        password,
    });
    Ok(request)
}

/// What rsip gets: IPv6 literals in the start line and headers turned into
/// aliases it can parse ([`super::ipv6`]); `None` when there are none.
/// After validation, which checks the literals as the peer wrote them.
fn with_ipv6_aliases(raw: &RawMessage) -> Option<RawMessage> {
    use super::ipv6::alias_in;
    use std::borrow::Cow;
    let line = alias_in(&raw.start_line);
    let values: Vec<Cow<'_, str>> = raw.headers.iter().map(|(_, v)| alias_in(v)).collect();
    if matches!(line, Cow::Borrowed(_)) && values.iter().all(|v| matches!(v, Cow::Borrowed(_))) {
        return None;
    }
    Some(RawMessage {
        start_line: line.into_owned(),
        headers: raw
            .headers
            .iter()
            .zip(values)
            .map(|((name, _), value)| (name.clone(), value.into_owned()))
            .collect(),
        body: raw.body.clone(),
    })
}

fn inbound_response(raw: &RawMessage, too_large: bool) -> Inbound {
    let drop = |reason: String| Inbound::Drop { reason };
    if too_large {
        return drop("response larger than the limit".into());
    }
    if let Err(reason) = validate::validate_response(raw) {
        return drop(reason);
    }
    let bytes = with_ipv6_aliases(raw).as_ref().unwrap_or(raw).to_bytes();
    match rsip::Response::try_from(bytes) {
        Ok(response) => Inbound::Response(response),
        Err(e) => drop(format!("unparseable response: {}", short(&e.to_string()))),
    }
}

fn message_too_large() -> Rejection {
    Rejection {
        code: 513,
        reason: "Message Too Large".into(),
        extra_headers: Vec::new(),
    }
}

/// A stateless answer, when one can be sent: a response goes to the top Via,
/// so without a Via there is nobody to answer, and an ACK is never answered
/// (RFC 3261 §17.2.1).
fn reject(raw: &RawMessage, rejection: Rejection) -> Inbound {
    let method = raw.start_line.split(' ').next().unwrap_or_default();
    if raw.header("Via").is_none() || method == "ACK" {
        return Inbound::Drop {
            reason: format!("{} {} (not answerable)", rejection.code, rejection.reason),
        };
    }
    Inbound::Reject {
        response: stateless_response(
            raw,
            rejection.code,
            &rejection.reason,
            &rejection.extra_headers,
        ),
        code: rejection.code,
        reason: rejection.reason,
    }
}

/// rsip's errors quote the rest of the message; keep reason phrases short.
fn short(s: &str) -> String {
    let mut out: String = s.chars().filter(|c| !c.is_control()).take(60).collect();
    if s.chars().count() > 60 {
        out.push('…');
    }
    out
}
