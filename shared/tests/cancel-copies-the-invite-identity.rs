//! RFC 3261 §9.1: a CANCEL has the Request-URI, Call-ID, To, From and CSeq
//! number of the request it cancels, one Via equal to that request's top
//! Via (same branch) and its Route header fields.
#![allow(clippy::unwrap_used)]

mod tx_support;

use shared::sip::transaction::cancel_for;
use tx_support::{header, headers, invite};

#[test]
fn cancel_for_an_invite() {
    let invite = invite("z9hG4bKtocancel");
    let cancel = cancel_for(&invite).unwrap();
    assert_eq!(cancel.method, rsip::Method::Cancel);
    assert_eq!(cancel.uri, invite.uri);
    assert_eq!(
        headers(&cancel, "Via"),
        ["SIP/2.0/UDP pc33.atlanta.example.com:5060;branch=z9hG4bKtocancel"]
    );
    for name in ["From", "To", "Call-ID"] {
        assert_eq!(header(&cancel, name), header(&invite, name), "{name}");
    }
    assert_eq!(header(&cancel, "CSeq").as_deref(), Some("1 CANCEL"));
    assert_eq!(headers(&cancel, "Route"), headers(&invite, "Route"));
    assert!(header(&cancel, "Contact").is_none());
    assert!(cancel.body.is_empty());
}
