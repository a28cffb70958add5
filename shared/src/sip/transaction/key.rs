//! Matching messages to transactions (RFC 3261 §17.1.3 and §17.2.3).

use rsip::prelude::*;

/// The start of every branch an RFC 3261 element generates (§8.1.1.7). A
/// branch without it came from an RFC 2543 element, whose branches were not
/// unique, so they cannot identify a transaction on their own.
const MAGIC_COOKIE: &str = "z9hG4bK";

/// Identifies a transaction; equal keys mean the same transaction.
///
/// A server transaction is keyed by [`TransactionKey::for_request`] on the
/// request that created it, and every later request is looked up by the same
/// function. A client transaction is keyed by
/// [`TransactionKey::for_sent_request`] on the request it sent, and responses
/// are looked up by [`TransactionKey::for_response`]. Client and server keys
/// never compare equal, so one table could even hold both.
///
/// What goes into a key, and why:
///
/// - Server side, RFC 3261 peers (the top Via branch starts with
///   `z9hG4bK`): branch, sent-by of the top Via, and the method, with ACK
///   counted as INVITE so that the ACK for a non-2xx response finds its
///   INVITE transaction. CANCEL keeps its own method: it has the INVITE's
///   branch but is a transaction of its own (§9.2); use
///   [`TransactionKey::for_cancel_target`] to find the INVITE it cancels.
///   Sent-by is in the key because two clients may pick the same branch.
/// - Server side, RFC 2543 peers (no magic cookie): Request-URI, From tag,
///   Call-ID, CSeq number, the whole top Via, the method (ACK as INVITE) and,
///   for methods other than INVITE and ACK, the To tag. For INVITE and ACK
///   the To tag is left out of the key: the INVITE has none and its ACK
///   carries the tag of the response, so no single key could hold both.
///   [`ServerInvite`](super::ServerInvite) compares the ACK's To tag with
///   its response's instead, which is the rest of the §17.2.3 rule.
/// - Client side: the branch of the top Via (which we generated, so it is
///   unique) and the CSeq method, which tells the response to a CANCEL from
///   the response to the INVITE it cancels: both share the branch.
///
/// Header values are compared as rsip prints them (sent-by host in lower
/// case); a retransmission carries the same bytes, so the finer comparison
/// rules of RFC 3261 §19.1.4 and §20 would change nothing in practice.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TransactionKey(Inner);

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Inner {
    Server {
        branch: String,
        sent_by: String,
        method: &'static str,
    },
    Rfc2543 {
        request_uri: String,
        to_tag: Option<String>,
        from_tag: Option<String>,
        call_id: String,
        cseq: u32,
        top_via: String,
        method: &'static str,
    },
    Client {
        branch: String,
        method: &'static str,
    },
}

/// A message whose headers cannot give a transaction key. Such a message
/// matches no transaction; [`inbound`](crate::sip::inbound()) refuses most of these
/// before they get here.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    #[error("missing {0} header")]
    MissingHeader(&'static str),
    #[error("malformed {0} header")]
    MalformedHeader(&'static str),
    /// Client side only: a response whose top Via has no branch cannot be
    /// ours, every request we send has one.
    #[error("top Via has no branch parameter")]
    MissingBranch,
}

impl TransactionKey {
    /// The server transaction a received request belongs to (§17.2.3); for
    /// a request that creates a transaction, the key to file it under.
    pub fn for_request(request: &rsip::Request) -> Result<TransactionKey, KeyError> {
        server_key(request, request.method)
    }

    /// The INVITE server transaction a received CANCEL asks to cancel
    /// (§9.2): the same matching as [`TransactionKey::for_request`] with the
    /// method taken as INVITE.
    pub fn for_cancel_target(cancel: &rsip::Request) -> Result<TransactionKey, KeyError> {
        server_key(cancel, rsip::Method::Invite)
    }

    /// The client transaction a request we send creates, to be found again
    /// by [`TransactionKey::for_response`].
    pub fn for_sent_request(request: &rsip::Request) -> Result<TransactionKey, KeyError> {
        let via = top_via(request)?;
        let branch = via.branch().ok_or(KeyError::MissingBranch)?;
        Ok(TransactionKey(Inner::Client {
            branch: branch.value().to_owned(),
            method: method_name(request.method),
        }))
    }

    /// The client transaction a received response belongs to (§17.1.3):
    /// the branch of its top Via and its CSeq method.
    pub fn for_response(response: &rsip::Response) -> Result<TransactionKey, KeyError> {
        let via = top_via(response)?;
        let branch = via.branch().ok_or(KeyError::MissingBranch)?;
        Ok(TransactionKey(Inner::Client {
            branch: branch.value().to_owned(),
            method: method_name(cseq(response)?.method),
        }))
    }
}

/// Whether a request comes from an RFC 3261 element: its top Via branch
/// starts with the magic cookie. A request without a usable Via counts as
/// not, which only means more checking.
pub(super) fn has_magic_cookie(request: &rsip::Request) -> bool {
    top_via(request)
        .ok()
        .and_then(|via| via.branch().map(|b| b.value().starts_with(MAGIC_COOKIE)))
        .unwrap_or(false)
}

fn server_key(request: &rsip::Request, method: rsip::Method) -> Result<TransactionKey, KeyError> {
    // ACK for a non-2xx response is part of the INVITE transaction (§17).
    let method = match method {
        rsip::Method::Ack => rsip::Method::Invite,
        other => other,
    };
    let via = top_via(request)?;
    if let Some(branch) = via.branch().filter(|b| b.value().starts_with(MAGIC_COOKIE)) {
        return Ok(TransactionKey(Inner::Server {
            branch: branch.value().to_owned(),
            sent_by: via
                .sent_by()
                .host_with_port
                .to_string()
                .to_ascii_lowercase(),
            method: method_name(method),
        }));
    }
    let from = request
        .from_header()
        .map_err(|_| KeyError::MissingHeader("From"))?
        .typed()
        .map_err(|_| KeyError::MalformedHeader("From"))?;
    let to_tag = if method == rsip::Method::Invite {
        None
    } else {
        to_tag(request)?
    };
    let call_id = request
        .call_id_header()
        .map_err(|_| KeyError::MissingHeader("Call-ID"))?;
    Ok(TransactionKey(Inner::Rfc2543 {
        request_uri: request.uri.to_string(),
        to_tag,
        from_tag: from.tag().map(|tag| tag.value().to_owned()),
        call_id: call_id.value().trim().to_owned(),
        cseq: cseq(request)?.seq,
        top_via: via.to_string(),
        method: method_name(method),
    }))
}

/// The To tag of a message, if any. Shared with the server INVITE machine,
/// which compares an RFC 2543 ACK's tag with its response's.
pub(super) fn to_tag(message: &impl HeadersExt) -> Result<Option<String>, KeyError> {
    let to = message
        .to_header()
        .map_err(|_| KeyError::MissingHeader("To"))?
        .typed()
        .map_err(|_| KeyError::MalformedHeader("To"))?;
    Ok(to.tag().map(|tag| tag.value().to_owned()))
}

fn top_via(message: &impl HeadersExt) -> Result<rsip::typed::Via, KeyError> {
    message
        .via_header()
        .map_err(|_| KeyError::MissingHeader("Via"))?
        .typed()
        .map_err(|_| KeyError::MalformedHeader("Via"))
}

fn cseq(message: &impl HeadersExt) -> Result<rsip::typed::CSeq, KeyError> {
    message
        .cseq_header()
        .map_err(|_| KeyError::MissingHeader("CSeq"))?
        .typed()
        .map_err(|_| KeyError::MalformedHeader("CSeq"))
}

/// rsip's `Method` does not implement `Hash`; its name does, and costs no
/// allocation.
fn method_name(method: rsip::Method) -> &'static str {
    use rsip::Method;
    match method {
        Method::Ack => "ACK",
        Method::Bye => "BYE",
        Method::Cancel => "CANCEL",
        Method::Info => "INFO",
        Method::Invite => "INVITE",
        Method::Message => "MESSAGE",
        Method::Notify => "NOTIFY",
        Method::Options => "OPTIONS",
        Method::PRack => "PRACK",
        Method::Publish => "PUBLISH",
        Method::Refer => "REFER",
        Method::Register => "REGISTER",
        Method::Subscribe => "SUBSCRIBE",
        Method::Update => "UPDATE",
    }
}
