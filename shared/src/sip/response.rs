//! Building responses: from a parsed request ([`response_to`]), or
//! statelessly from a [`RawMessage`] that rsip could not parse
//! ([`stateless_response`]).
//!
//! RFC 3261 §8.2.6.2: a response copies every Via (in order), From, Call-ID
//! and CSeq of the request, and its To — adding a tag unless the response is
//! a 100 or the To already has one. Nothing else of the request is echoed.
//!
//! Reason phrases are ours to choose (RFC 3261 §21 only recommends them), so
//! a refusal says what was wrong, e.g. `400 Bad Request (missing Call-ID
//! header)`: a person reading a trace at the peer sees the cause at once.
//! rsip's `StatusCode` prints the names of known codes as Rust identifiers
//! (`486 BusyHere`), so responses built here carry
//! `StatusCode::Other(code, phrase)`: compare codes with `.code()`.

use md5::{Digest as _, Md5};
use rsip::Header;
use rsip::headers::UntypedHeader as _;

use super::normalize::RawMessage;

/// The RFC's phrase for `code` (RFC 3261 §21 and the extensions that add
/// codes); `""` for a code it does not know.
pub fn reason_phrase(code: u16) -> &'static str {
    match code {
        100 => "Trying",
        180 => "Ringing",
        181 => "Call Is Being Forwarded",
        182 => "Queued",
        183 => "Session Progress",
        199 => "Early Dialog Terminated",
        200 => "OK",
        202 => "Accepted",
        204 => "No Notification",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Moved Temporarily",
        305 => "Use Proxy",
        380 => "Alternative Service",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        410 => "Gone",
        412 => "Conditional Request Failed",
        413 => "Request Entity Too Large",
        414 => "Request-URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Unsupported URI Scheme",
        417 => "Unknown Resource-Priority",
        420 => "Bad Extension",
        421 => "Extension Required",
        422 => "Session Interval Too Small",
        423 => "Interval Too Brief",
        424 => "Bad Location Information",
        428 => "Use Identity Header",
        429 => "Provide Referrer Identity",
        433 => "Anonymity Disallowed",
        436 => "Bad Identity-Info",
        437 => "Unsupported Certificate",
        438 => "Invalid Identity Header",
        439 => "First Hop Lacks Outbound Support",
        440 => "Max-Breadth Exceeded",
        469 => "Bad Info Package",
        470 => "Consent Needed",
        480 => "Temporarily Unavailable",
        481 => "Call/Transaction Does Not Exist",
        482 => "Loop Detected",
        483 => "Too Many Hops",
        484 => "Address Incomplete",
        485 => "Ambiguous",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        489 => "Bad Event",
        491 => "Request Pending",
        493 => "Undecipherable",
        494 => "Security Agreement Required",
        500 => "Server Internal Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Server Time-out",
        505 => "Version Not Supported",
        513 => "Message Too Large",
        580 => "Precondition Failure",
        600 => "Busy Everywhere",
        603 => "Decline",
        604 => "Does Not Exist Anywhere",
        606 => "Not Acceptable",
        607 => "Unwanted",
        608 => "Rejected",
        _ => "",
    }
}

/// A response to `req` with the headers RFC 3261 §8.2.6.2 requires and
/// `Content-Length: 0`; add others (Contact, Allow, a body) afterwards.
/// `to_tag` is added to To when `code > 100` and the To has no tag yet (the
/// caller owns tag generation: a dialog must reuse its tag).
pub fn response_to(
    req: &rsip::Request,
    code: u16,
    reason: &str,
    to_tag: Option<&str>,
) -> rsip::Response {
    let mut headers = rsip::Headers::default();
    for header in req.headers.iter() {
        match header {
            Header::Via(_) | Header::From(_) | Header::CallId(_) | Header::CSeq(_) => {
                headers.push(header.clone());
            }
            Header::To(to) => {
                let value = match to_tag {
                    Some(tag) if code > 100 && !has_tag(to.value()) => {
                        format!("{};tag={tag}", to.value())
                    }
                    _ => to.value().to_owned(),
                };
                headers.push(rsip::headers::To::new(value).into());
            }
            _ => {}
        }
    }
    headers.push(rsip::headers::ContentLength::default().into());
    rsip::Response {
        status_code: rsip::StatusCode::Other(code, sanitize_reason(code, reason)),
        version: rsip::Version::V2,
        headers,
        body: Vec::new(),
    }
}

/// A serialised response built from the header lines of a message rsip may
/// not have parsed: every Via, From, To (with a tag when `code > 100`),
/// Call-ID and CSeq that are present, then `extra`, then
/// `Content-Length: 0`.
///
/// The To tag is derived from the request (a hash of Call-ID, From, CSeq and
/// the top Via), so a retransmitted request gets a byte-identical response
/// without any state being kept (RFC 3261 §8.2.7 asks stateless UASs for
/// exactly that).
pub fn stateless_response(
    raw: &RawMessage,
    code: u16,
    reason: &str,
    extra: &[(String, String)],
) -> Vec<u8> {
    let mut out = format!("SIP/2.0 {code} {}\r\n", sanitize_reason(code, reason));
    let mut push = |name: &str, value: &str| {
        out.push_str(name);
        out.push_str(": ");
        out.push_str(value);
        out.push_str("\r\n");
    };
    for via in raw.headers_named("Via") {
        push("Via", via);
    }
    for name in ["From", "To", "Call-ID", "CSeq"] {
        let Some(value) = raw.header(name) else {
            continue;
        };
        if name == "To" && code > 100 && !has_tag(value) {
            push("To", &format!("{value};tag={}", stateless_tag(raw)));
        } else {
            push(name, value);
        }
    }
    for (name, value) in extra {
        push(name, value);
    }
    push("Content-Length", "0");
    out.push_str("\r\n");
    out.into_bytes()
}

/// A To tag that depends only on the request's transaction identity, so the
/// same request always gets the same tag.
fn stateless_tag(raw: &RawMessage) -> String {
    let mut hasher = Md5::new();
    for name in ["Call-ID", "From", "CSeq", "Via"] {
        hasher.update(raw.header(name).unwrap_or_default().as_bytes());
        hasher.update(b"\n");
    }
    hasher
        .finalize()
        .iter()
        .take(5)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Whether a From/To value carries a `tag` parameter. Only header
/// parameters count: those after the `>` of a name-addr, or after the first
/// `;` of a bare addr-spec (RFC 3261 §20.10).
pub fn has_tag(value: &str) -> bool {
    let params = match value.rfind('>') {
        Some(gt) => value.get(gt + 1..).unwrap_or_default(),
        None => value.split_once(';').map_or("", |(_, p)| p),
    };
    params.split(';').any(|p| {
        let name = p.split_once('=').map_or(p, |(n, _)| n);
        name.trim().eq_ignore_ascii_case("tag")
    })
}

/// A reason phrase is `*(reserved / unreserved / escaped / UTF8-NONASCII /
/// UTF8-CONT / SP / HTAB)`: control characters (a CR or LF would inject
/// header lines) are replaced, and an empty phrase becomes the RFC one.
fn sanitize_reason(code: u16, reason: &str) -> String {
    let cleaned: String = reason
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let cleaned = cleaned.trim();
    if cleaned.is_empty() {
        reason_phrase(code).to_owned()
    } else {
        cleaned.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_detection_ignores_uri_parameters() {
        assert!(has_tag("<sip:a@b>;tag=1"));
        assert!(has_tag("sip:a@b;TAG=1"));
        assert!(has_tag("\"x\" <sip:a@b> ; tag = 1"));
        assert!(!has_tag("<sip:a@b;tag=1>"));
        assert!(!has_tag("<sip:a@b>;tagx=1"));
        assert!(!has_tag("sip:a@b"));
    }

    #[test]
    fn reasons_cannot_inject_headers() {
        assert_eq!(sanitize_reason(400, "x\r\nVia: evil"), "x  Via: evil");
        assert_eq!(sanitize_reason(486, " "), "Busy Here");
    }
}
