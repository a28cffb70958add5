//! Messages the transaction layer builds itself: the ACK for a non-2xx final
//! response (§17.1.1.3), CANCEL (§9.1) and 100 Trying (§8.2.6.1).
//!
//! They copy header fields from the request as rsip holds them (untyped),
//! never re-print them from a typed form: §9.1 asks for From, To and
//! Call-ID "identical" to the request's, and a server matches them as such.

use rsip::headers::{ContentLength, UntypedHeader};
use rsip::prelude::*;
use rsip::{Header, Method};

/// A message the transaction layer cannot build from what it was given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    #[error("the request is a {0}, not an INVITE")]
    NotInvite(Method),
    /// The transaction layer acknowledges only 300–699; the ACK for a 2xx
    /// belongs to the dialog (§13.2.2.4): new branch, route set, Contact.
    #[error("{0} is not a 300-699 response; its ACK is not the transaction layer's")]
    NotNon2xxFinal(u16),
    #[error("missing {0} header")]
    MissingHeader(&'static str),
    #[error("malformed {0} header")]
    MalformedHeader(&'static str),
}

/// The ACK for a 300–699 response to `invite` (RFC 3261 §17.1.1.3).
///
/// Same Request-URI, Call-ID, From and CSeq number as the INVITE, the To of
/// the response (it carries the tag the server chose), only the INVITE's top
/// Via (same branch: the ACK is part of the INVITE transaction, and that is
/// how the server matches it) and its Route header fields. No body.
/// [`ClientInvite`](super::ClientInvite) sends it by itself; this is public
/// for a TU that needs the same message (say, a stateless test peer).
pub fn ack_for_non_2xx(
    invite: &rsip::Request,
    response: &rsip::Response,
) -> Result<rsip::Request, BuildError> {
    let code = response.status_code.code();
    if !(300..=699).contains(&code) {
        return Err(BuildError::NotNon2xxFinal(code));
    }
    let to = response
        .to_header()
        .map_err(|_| BuildError::MissingHeader("To"))?
        .clone();
    derived_request(invite, Method::Ack, to)
}

/// The CANCEL for a request (normally an INVITE) we sent (RFC 3261 §9.1).
///
/// Request-URI, Call-ID, To, From and the CSeq number are the request's;
/// the one Via is the request's top Via, branch included, which is how the
/// server finds the transaction to cancel; Route header fields are kept so
/// that the CANCEL takes the same path. The TU sends it on a
/// [`ClientNonInvite`](super::ClientNonInvite) of its own, and (§9.1) only
/// once a provisional response has arrived.
pub fn cancel_for(request: &rsip::Request) -> Result<rsip::Request, BuildError> {
    let to = request
        .to_header()
        .map_err(|_| BuildError::MissingHeader("To"))?
        .clone();
    derived_request(request, Method::Cancel, to)
}

/// A 100 Trying for `request` (RFC 3261 §8.2.6.1): the request's Via
/// header fields, From, To (no tag needed: a 100 creates no dialog),
/// Call-ID, CSeq and Timestamp, and no body.
///
/// Infallible: headers the request lacks are simply absent, and a request
/// that lacks them was refused before a transaction was made for it.
/// [`ServerInvite`](super::ServerInvite) sends one by itself when the TU is
/// slow; a TU that knows it will be slow can send this at once.
pub fn trying_for(request: &rsip::Request) -> rsip::Response {
    let mut headers = rsip::Headers::default();
    for header in request.headers.iter() {
        if matches!(
            header,
            Header::Via(_)
                | Header::From(_)
                | Header::To(_)
                | Header::CallId(_)
                | Header::CSeq(_)
                | Header::Timestamp(_)
        ) {
            headers.push(header.clone());
        }
    }
    headers.push(Header::ContentLength(ContentLength::new("0")));
    rsip::Response {
        status_code: rsip::StatusCode::Trying,
        version: request.version.clone(),
        headers,
        body: Vec::new(),
    }
}

/// ACK and CANCEL share everything but the method and where To comes from.
fn derived_request(
    original: &rsip::Request,
    method: Method,
    to: rsip::headers::To,
) -> Result<rsip::Request, BuildError> {
    if method == Method::Ack && original.method != Method::Invite {
        return Err(BuildError::NotInvite(original.method));
    }
    let via = original
        .via_header()
        .map_err(|_| BuildError::MissingHeader("Via"))?
        .clone();
    let from = original
        .from_header()
        .map_err(|_| BuildError::MissingHeader("From"))?
        .clone();
    let call_id = original
        .call_id_header()
        .map_err(|_| BuildError::MissingHeader("Call-ID"))?
        .clone();
    let seq = original
        .cseq_header()
        .map_err(|_| BuildError::MissingHeader("CSeq"))?
        .typed()
        .map_err(|_| BuildError::MalformedHeader("CSeq"))?
        .seq;
    let max_forwards = original.max_forwards_header().cloned().unwrap_or_default();

    let mut headers = rsip::Headers::default();
    headers.push(Header::Via(via));
    headers.push(Header::MaxForwards(max_forwards));
    for header in original.headers.iter() {
        if let Header::Route(_) = header {
            headers.push(header.clone());
        }
    }
    headers.push(Header::From(from));
    headers.push(Header::To(to));
    headers.push(Header::CallId(call_id));
    headers.push(rsip::typed::CSeq { seq, method }.into());
    headers.push(Header::ContentLength(ContentLength::new("0")));
    Ok(rsip::Request {
        method,
        uri: original.uri.clone(),
        version: original.version.clone(),
        headers,
        body: Vec::new(),
    })
}
