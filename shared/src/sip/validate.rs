//! Request checks of RFC 3261 §8.2 (and the RFC 4475 torture cases), each
//! mapped to the status code and reason phrase the peer is told.
//!
//! The checks run in the order RFC 3261 §8.2 gives, so that a message with
//! several faults gets the answer the RFC expects:
//!
//! 1. 505 — the SIP version is not 2.0 (nothing else can be trusted then);
//! 2. 400 — syntax: mandatory headers missing or repeated, malformed Via,
//!    From, To, Contact, Route, Record-Route, CSeq, Max-Forwards, a
//!    Request-URI in angle brackets (§8.2 "well-formed");
//! 3. 501 — a method we do not know at all (§8.2.1); 405 for known methods
//!    we do not handle is the dialog layer's business;
//! 4. 400 — CSeq method differs from the request method;
//! 5. 416 — Request-URI scheme is not `sip`/`sips` (§8.2.2.1);
//! 6. 420 — `Require` names an extension we lack (§8.2.2.3);
//! 7. 483 — `Max-Forwards: 0`, except on REGISTER and OPTIONS (answered
//!    here, never passed on) and ACK (never answered; dropping it would
//!    break the dialog it confirms).
//!
//! Most checks need only the [`RawMessage`], so [`validate_raw`] runs
//! *before* rsip parses: rsip 0.4 cannot parse every valid Request-URI (RFC
//! 4475 `intmeth`) or any unknown method, and the peer must still get 416 or
//! 501 rather than a 400. [`validate_request`] adds the checks that need the
//! parsed request: the headers the layers above read with `.typed()` must
//! parse, so that a message we accept cannot fail later.

use rsip::headers::ToTypedHeader as _;
use rsip::prelude::HeadersExt as _;

use super::normalize::RawMessage;

/// Methods the gateway implements, for every `Allow` header it sends (a
/// 501, OPTIONS, INVITEs and their 200s): UPDATE is not among them, an
/// UPDATE inside a call is answered 501.
pub const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, INFO";

/// `Require` option tags we support (RFC 5626 outbound: the browser phone
/// registers over a flow).
pub const SUPPORTED: &[&str] = &["outbound"];

/// A refusal: the status code and phrase to answer with, and extra headers
/// the RFC asks for (`Unsupported` with 420, `Allow` with 501).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub code: u16,
    pub reason: String,
    pub extra_headers: Vec<(String, String)>,
}

impl Rejection {
    fn new(code: u16, reason: impl Into<String>) -> Rejection {
        Rejection {
            code,
            reason: reason.into(),
            extra_headers: Vec::new(),
        }
    }

    /// `400 Bad Request (…)`.
    pub fn bad_request(detail: impl std::fmt::Display) -> Rejection {
        Rejection::new(400, format!("Bad Request ({detail})"))
    }

    fn with_header(mut self, name: &str, value: impl Into<String>) -> Rejection {
        self.extra_headers.push((name.to_owned(), value.into()));
        self
    }
}

/// Every check of this module, for a request that rsip parsed.
/// `unknown_method` is the real method token when the caller parsed the
/// request with a stand-in method (rsip's `Method` cannot represent unknown
/// ones); with `None` the method is `req`'s. [`super::inbound`] itself runs
/// [`validate_raw`] before rsip and [`validate_parsed`] after it instead.
pub fn validate_request(
    raw: &RawMessage,
    req: &rsip::Request,
    unknown_method: Option<&str>,
) -> Result<(), Rejection> {
    let method = unknown_method.map_or_else(|| req.method.to_string(), str::to_owned);
    check_raw(raw, &method)?;
    validate_parsed(req)
}

/// The checks that need only the split message; see the module docs for
/// their order. `raw` must be a request.
pub fn validate_raw(raw: &RawMessage) -> Result<(), Rejection> {
    let method = raw.start_line.split(' ').next().unwrap_or_default();
    check_raw(raw, method)
}

/// Whether rsip (and so this crate) knows `method`. Methods are
/// case-sensitive (RFC 3261 §7.1) though rsip's parser is not: `invite` is
/// an unknown method, not INVITE.
pub fn is_known_method(method: &str) -> bool {
    rsip::Method::all().iter().any(|m| m.to_string() == method)
}

/// A control character (other than horizontal tab) where the grammar allows
/// none: NUL, a CR or LF left inside a value, DEL. Inside a quoted string a
/// backslash may escape any of them but CR and LF (RFC 3261 `quoted-pair`).
fn has_control(text: &str) -> bool {
    let (mut quoted, mut escaped) = (false, false);
    for b in text.bytes() {
        if escaped {
            escaped = false;
            if b == b'\r' || b == b'\n' {
                return true;
            }
            continue;
        }
        match b {
            b'\\' if quoted => escaped = true,
            b'"' => quoted = !quoted,
            b'\t' => {}
            0..=0x1f | 0x7f => return true,
            _ => {}
        }
    }
    false
}

fn check_raw(raw: &RawMessage, method: &str) -> Result<(), Rejection> {
    if has_control(&raw.start_line) {
        return Err(Rejection::bad_request(
            "control character in the request line",
        ));
    }
    if let Some((name, _)) = raw
        .headers
        .iter()
        .find(|(name, value)| has_control(name) || has_control(value))
    {
        return Err(Rejection::bad_request(format_args!(
            "control character in {name}"
        )));
    }
    let mut parts = raw.start_line.split(' ');
    let (Some(_), Some(uri), Some(version)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(Rejection::bad_request("malformed request line"));
    };
    if !version.eq_ignore_ascii_case("SIP/2.0") {
        return Err(Rejection::new(
            505,
            format!("Version Not Supported ({version})"),
        ));
    }

    check_mandatory(raw)?;
    check_request_uri(uri)?;
    for via in raw.headers_named("Via") {
        check_via(via).map_err(|e| Rejection::bad_request(format_args!("Via: {e}")))?;
    }
    for name in ["From", "To"] {
        for value in raw.headers_named(name) {
            check_address(value, false)
                .map_err(|e| Rejection::bad_request(format_args!("{name}: {e}")))?;
        }
    }
    for value in raw.headers_named("Contact") {
        if value == "*" {
            if method != "REGISTER" {
                return Err(Rejection::bad_request("Contact: * outside REGISTER"));
            }
            continue;
        }
        check_address(value, false)
            .map_err(|e| Rejection::bad_request(format_args!("Contact: {e}")))?;
    }
    for name in ["Route", "Record-Route"] {
        for value in raw.headers_named(name) {
            check_address(value, true)
                .map_err(|e| Rejection::bad_request(format_args!("{name}: {e}")))?;
        }
    }
    let cseq_method =
        check_cseq(raw.header("CSeq").unwrap_or_default()).map_err(Rejection::bad_request)?;
    let max_forwards = match raw.header("Max-Forwards") {
        None => None,
        Some(v) => Some(parse_digits(v).ok_or_else(|| {
            Rejection::bad_request(format_args!("bad Max-Forwards {:?}", excerpt(v)))
        })?),
    };
    if method == "REGISTER"
        && let Some(to) = raw.header("To")
        && !is_sip_scheme(address_uri(to).and_then(uri_scheme).unwrap_or_default())
    {
        return Err(Rejection::bad_request("To of a REGISTER must be a SIP URI"));
    }

    if !is_known_method(method) {
        return Err(
            Rejection::new(501, format!("Not Implemented ({method})")).with_header("Allow", ALLOW)
        );
    }
    if cseq_method != method {
        return Err(Rejection::bad_request(format_args!(
            "CSeq method {cseq_method} does not match {method}"
        )));
    }
    let scheme = uri_scheme(uri).unwrap_or_default();
    if !is_sip_scheme(scheme) {
        return Err(Rejection::new(
            416,
            format!("Unsupported URI Scheme ({scheme})"),
        ));
    }
    // RFC 3261 §8.2.2.3: never refuse ACK or CANCEL for an extension.
    if method != "ACK" && method != "CANCEL" {
        let unsupported: Vec<&str> = raw
            .headers_named("Require")
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|o| !o.is_empty())
            .filter(|o| !SUPPORTED.iter().any(|s| s.eq_ignore_ascii_case(o)))
            .collect();
        if !unsupported.is_empty() {
            return Err(Rejection::new(420, "Bad Extension")
                .with_header("Unsupported", unsupported.join(", ")));
        }
    }
    if max_forwards == Some(0) && !matches!(method, "REGISTER" | "OPTIONS" | "ACK") {
        return Err(Rejection::new(483, "Too Many Hops"));
    }
    Ok(())
}

/// The checks that need rsip's parse: the headers the layers above read
/// with `.typed()` (Via, From, To, CSeq) must parse, or the request is
/// refused here rather than failing there.
pub fn validate_parsed(req: &rsip::Request) -> Result<(), Rejection> {
    let typed_ok = req.via_header().is_ok_and(|v| v.typed().is_ok())
        && req.from_header().is_ok_and(|v| v.typed().is_ok())
        && req.to_header().is_ok_and(|v| v.typed().is_ok())
        && req.cseq_header().is_ok_and(|v| v.typed().is_ok());
    if typed_ok {
        Ok(())
    } else {
        Err(Rejection::bad_request("unparseable Via, From, To or CSeq"))
    }
}

/// What a UA needs of a response before matching it to a transaction:
/// exactly one Via (RFC 3261 §18.1.2: more means it was meant for someone
/// else), a status code 100–699, SIP/2.0, and a From, To, Call-ID and a
/// CSeq whose number fits 32 bits (RFC 4475 `scalarlg`). `Err` is a reason
/// for a log: responses are dropped, never answered.
pub fn validate_response(raw: &RawMessage) -> Result<(), String> {
    let mut parts = raw.start_line.splitn(3, ' ');
    let (version, code) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    if !version.eq_ignore_ascii_case("SIP/2.0") {
        return Err(format!("response version {}", excerpt(version)));
    }
    if code.len() != 3 || parse_digits(code).is_none_or(|c| !(100..=699).contains(&c)) {
        return Err(format!("response status code {}", excerpt(code)));
    }
    let vias: Vec<&str> = raw.headers_named("Via").collect();
    match vias.as_slice() {
        [via] => check_via(via)?,
        [] => return Err("response without Via".into()),
        _ => return Err("response with more than one Via".into()),
    }
    for name in ["From", "To", "Call-ID", "CSeq"] {
        if raw.headers_named(name).count() != 1 {
            return Err(format!("response without exactly one {name}"));
        }
    }
    check_cseq(raw.header("CSeq").unwrap_or_default())?;
    Ok(())
}

fn check_mandatory(raw: &RawMessage) -> Result<(), Rejection> {
    let count = |name: &str| raw.headers_named(name).count();
    let missing: Vec<&str> = ["Via", "From", "To", "Call-ID", "CSeq"]
        .into_iter()
        .filter(|n| count(n) == 0)
        .collect();
    if !missing.is_empty() {
        let s = if missing.len() > 1 { "s" } else { "" };
        return Err(Rejection::bad_request(format_args!(
            "missing {} header{s}",
            missing.join(", ")
        )));
    }
    for name in ["From", "To", "Call-ID", "CSeq", "Max-Forwards"] {
        if count(name) > 1 {
            return Err(Rejection::bad_request(format_args!(
                "multiple {name} headers"
            )));
        }
    }
    if raw
        .header("Call-ID")
        .is_some_and(|c| c.is_empty() || c.contains([' ', '\t']))
    {
        return Err(Rejection::bad_request("malformed Call-ID"));
    }
    Ok(())
}

fn check_request_uri(uri: &str) -> Result<(), Rejection> {
    if uri.starts_with('<') {
        return Err(Rejection::bad_request("Request-URI in angle brackets"));
    }
    // RFC 3261 §19.1.1: header components are for building a request from
    // a URI and never belong in a Request-URI (RFC 4475 `escruri`).
    // The user part may contain `?` (RFC 3261 `user-unreserved`), so look
    // only after it.
    let after_user = uri.split_once('@').map_or(uri, |(_, host)| host);
    if after_user.contains('?') && uri_scheme(uri).is_some_and(is_sip_scheme) {
        return Err(Rejection::bad_request("headers in Request-URI"));
    }
    if uri_scheme(uri).is_none() {
        return Err(Rejection::bad_request(format_args!(
            "Request-URI without scheme {:?}",
            excerpt(uri)
        )));
    }
    Ok(())
}

/// `CSeq: 1*DIGIT LWS Method`, the number below 2^31 in new requests but
/// up to 2^32-1 accepted (RFC 3261 §8.1.1.5). Returns the method.
fn check_cseq(value: &str) -> Result<&str, String> {
    let bad = || format!("bad CSeq {:?}", excerpt(value));
    let (number, method) = value.split_once(' ').ok_or_else(bad)?;
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    // All digits, so `None` here means beyond u64: too large as well.
    if parse_digits(number).is_none_or(|n| n > u64::from(u32::MAX)) {
        return Err("CSeq number larger than 2^32-1".into());
    }
    if method.is_empty() || !method.chars().all(is_token_char) {
        return Err(bad());
    }
    Ok(method)
}

/// `1*DIGIT`; `None` when empty, not digits, or beyond u64.
fn parse_digits(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let s = s.trim_start_matches('0');
    if s.is_empty() {
        return Some(0);
    }
    s.parse().ok()
}

/// `SIP/2.0/transport sent-by *(;via-params)`, after normalisation (no LWS
/// around `/`, `;`, `=`, `:`).
fn check_via(value: &str) -> Result<(), String> {
    let (protocol, rest) = value
        .split_once(' ')
        .ok_or_else(|| format!("no sent-by in {:?}", excerpt(value)))?;
    let mut proto = protocol.split('/');
    match (proto.next(), proto.next(), proto.next(), proto.next()) {
        (Some(name), Some(version), Some(transport), None)
            if name.eq_ignore_ascii_case("SIP")
                && version == "2.0"
                && !transport.is_empty()
                && transport.chars().all(is_token_char) => {}
        _ => return Err(format!("bad sent-protocol {:?}", excerpt(protocol))),
    }
    let (sent_by, params) = rest.split_once(';').map_or((rest, ""), |(h, p)| (h, p));
    check_host_port(sent_by)?;
    if !params.is_empty() {
        check_params(params)?;
    }
    Ok(())
}

fn check_host_port(sent_by: &str) -> Result<(), String> {
    let bad = || format!("bad sent-by {:?}", excerpt(sent_by));
    let (host, port) = if let Some(v6) = sent_by.strip_prefix('[') {
        let (addr, after) = v6.split_once(']').ok_or_else(bad)?;
        if addr.is_empty()
            || !addr
                .chars()
                .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
        {
            return Err(bad());
        }
        ("v6", after.strip_prefix(':'))
    } else {
        match sent_by.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (sent_by, None),
        }
    };
    if host.is_empty()
        || !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
    {
        return Err(bad());
    }
    if let Some(port) = port
        && parse_digits(port).is_none_or(|p| p > 65535)
    {
        return Err(bad());
    }
    Ok(())
}

/// `param *(";" param)` with `param = token [ "=" (token / host /
/// quoted-string) ]`; an empty parameter (`;;`) is an error.
fn check_params(params: &str) -> Result<(), String> {
    for param in split_outside_quotes(params, ';') {
        let (name, value) = match param.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (param, None),
        };
        if name.is_empty() || !name.chars().all(is_token_char) {
            return Err(format!("bad parameter {:?}", excerpt(param)));
        }
        if let Some(value) = value {
            let ok = if let Some(inner) = value.strip_prefix('"') {
                quoted_end(inner).map(|end| end + 1) == Some(inner.len())
            } else {
                !value.is_empty()
                    && value
                        .chars()
                        .all(|c| is_token_char(c) || matches!(c, ':' | '[' | ']'))
            };
            if !ok {
                return Err(format!("bad parameter value {:?}", excerpt(param)));
            }
        }
    }
    Ok(())
}

/// `name-addr / addr-spec` followed by header parameters (From, To,
/// Contact); `Route`/`Record-Route` (`require_angle`) allow only name-addr.
fn check_address(value: &str, require_angle: bool) -> Result<(), String> {
    if value.is_empty() {
        return Err("empty".into());
    }
    let (uri, params) = match find_unquoted(value, '<')? {
        Some(lt) => {
            let display = value[..lt].trim_end();
            check_display_name(display)?;
            let rest = &value[lt + 1..];
            let gt = rest.find('>').ok_or("unterminated <")?;
            let uri = &rest[..gt];
            (uri, &rest[gt + 1..])
        }
        None if require_angle => return Err("URI not in angle brackets".into()),
        None => {
            // RFC 3261 §20: a URI with `,` `?` or `;` must be in angle
            // brackets, so a bare addr-spec's `;` starts header parameters.
            let uri = value.split(';').next().unwrap_or_default();
            if uri.contains(['?', ',', '"', '>']) {
                return Err(format!("{:?} must be in angle brackets", excerpt(uri)));
            }
            (uri, &value[uri.len()..])
        }
    };
    if uri.is_empty() || uri.contains(|c: char| c.is_whitespace()) {
        return Err(format!("whitespace in URI {:?}", excerpt(uri)));
    }
    if uri_scheme(uri).is_none() {
        return Err(format!("URI without scheme {:?}", excerpt(uri)));
    }
    match params.strip_prefix(';') {
        Some(params) => check_params(params),
        None if params.is_empty() => Ok(()),
        None => Err(format!("unexpected {:?} after URI", excerpt(params))),
    }
}

/// `[ token *(LWS token) / quoted-string ]` before `<`.
fn check_display_name(display: &str) -> Result<(), String> {
    if display.is_empty() {
        return Ok(());
    }
    if let Some(inner) = display.strip_prefix('"') {
        return match quoted_end(inner) {
            Some(end) if end + 1 == inner.len() => Ok(()),
            _ => Err(format!("bad display name {:?}", excerpt(display))),
        };
    }
    if display
        .split([' ', '\t'])
        .all(|t| t.is_empty() || t.chars().all(is_token_char))
    {
        Ok(())
    } else {
        Err(format!(
            "display name must be quoted: {:?}",
            excerpt(display)
        ))
    }
}

/// The URI inside a From/To value, if there is one.
fn address_uri(value: &str) -> Option<&str> {
    match find_unquoted(value, '<').ok()? {
        Some(lt) => value[lt + 1..].split('>').next(),
        None => value.split(';').next(),
    }
}

/// `scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )`, then `:`.
fn uri_scheme(uri: &str) -> Option<&str> {
    let (scheme, _) = uri.split_once(':')?;
    let mut chars = scheme.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    (first_ok && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
        .then_some(scheme)
}

fn is_sip_scheme(scheme: &str) -> bool {
    scheme.eq_ignore_ascii_case("sip") || scheme.eq_ignore_ascii_case("sips")
}

/// Byte index of the first `c` outside quoted strings; an error when a
/// quoted string is not closed.
fn find_unquoted(s: &str, c: char) -> Result<Option<usize>, String> {
    let mut rest = s;
    let mut offset = 0;
    loop {
        let next = rest.find(['"', c]);
        match next {
            None => return Ok(None),
            Some(i) if rest[i..].starts_with(c) => return Ok(Some(offset + i)),
            Some(i) => {
                let inner = &rest[i + 1..];
                let end = quoted_end(inner).ok_or("unbalanced quotes")?;
                offset += i + 1 + end + 1;
                rest = &inner[end + 1..];
            }
        }
    }
}

/// In the text after an opening `"`, the byte index of the closing one,
/// honouring `\` escapes.
fn quoted_end(s: &str) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == '"' {
            return Some(i);
        }
    }
    None
}

/// Splits at `sep` outside quoted strings.
fn split_outside_quotes(s: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut in_quotes = false;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if in_quotes {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_quotes = false;
            }
        } else if c == '"' {
            in_quotes = true;
        } else if c == sep {
            parts.push(&s[start..i]);
            start = i + 1;
        }
    }
    parts.push(&s[start..]);
    parts
}

/// RFC 3261 §25.1 `token` characters.
fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-.!%*_+`'~".contains(c)
}

fn excerpt(s: &str) -> String {
    let mut out: String = s.chars().filter(|c| !c.is_control()).take(40).collect();
    if s.chars().count() > 40 {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        for ok in [
            "<sip:a@b>",
            "sip:a@b;tag=1",
            "\"J \\\"R\\\"\" <sip:a@b>;tag=x",
            "caller<sip:caller@example.com>;tag=323",
            "token1~` token2'+_ <sip:m@e>;p=\"ü\"",
            "<sip:a@b;lr>;+sip.instance=\"<urn:uuid:1>\";reg-id=1;expires=600",
            "sip:+19725552222@gw1.example.net;unknownparam",
            "isbn:2983792873",
        ] {
            assert_eq!(check_address(ok, false), Ok(()), "{ok}");
        }
        for bad in [
            "\"Mr. J. User <sip:j.user@example.com>",
            "Bell, Alexander <sip:a@b>;tag=43",
            "< sip:t.watson@example.org >",
            "\"Joe\" <sip:joe@example.org>;;;;",
            "sip:user@example.com?Route=%3Csip:sip.example.com%3E",
            "<sip:a@b",
            "",
            "<>",
            "<sip:a@b>x",
        ] {
            assert!(check_address(bad, false).is_err(), "{bad}");
        }
    }

    #[test]
    fn vias() {
        assert_eq!(
            check_via("SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1;rport"),
            Ok(())
        );
        assert_eq!(
            check_via("SIP/2.0/WSS [2001:db8::1]:443;received=[::1]"),
            Ok(())
        );
        assert!(check_via("SIP/2.0/UDP 192.0.2.15;;").is_err());
        assert!(check_via(";").is_err());
        assert!(check_via("SIP/2.0/UDP host:99999").is_err());
        assert!(check_via("SIP/2.0 host").is_err());
    }

    #[test]
    fn cseq() {
        assert_eq!(check_cseq("4294967295 INVITE"), Ok("INVITE"));
        assert_eq!(check_cseq("0009 INVITE"), Ok("INVITE"));
        assert_eq!(
            check_cseq("36893488147419103232 INVITE"),
            Err("CSeq number larger than 2^32-1".into())
        );
        assert!(check_cseq("4294967296 INVITE").is_err());
        assert!(check_cseq("INVITE").is_err());
        assert!(check_cseq("1 INVITE x").is_err());
    }

    #[test]
    fn known_methods_are_case_sensitive() {
        assert!(is_known_method("INVITE"));
        assert!(is_known_method("PRACK"));
        assert!(!is_known_method("invite"));
        assert!(!is_known_method("NEWMETHOD"));
    }
}
