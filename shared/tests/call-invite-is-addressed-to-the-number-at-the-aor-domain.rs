//! The INVITE: `sip:<E.164>@<AOR domain>;user=phone`, From the agent's AOR
//! with display name and tag, the Contact and instance of the registration,
//! `P-Preferred-Identity` for a chosen caller ID, and the browser's SDP offer.
#![allow(clippy::unwrap_used)]

mod call_harness;

use call_harness::{INSTANCE, OFFER, Phone, identity, request};
use shared::sip::call::{Call, CallError, CallState};

#[test]
fn invite_carries_number_identity_contact_and_offer() {
    let (phone, invite) = Phone::dial();
    assert_eq!(
        invite.start_line(),
        "INVITE sip:+14155552671@gw.test;user=phone SIP/2.0"
    );
    assert!(
        invite
            .header("Via")
            .starts_with("SIP/2.0/WSS p4t8zw.invalid;branch=z9hG4bK")
    );
    assert!(invite.branch().len() > "z9hG4bK".len() + 8);
    assert_eq!(invite.header("Max-Forwards"), "70");
    assert_eq!(invite.header("To"), "<sip:+14155552671@gw.test;user=phone>");
    let from = invite.header("From");
    assert!(
        from.starts_with("\"Demo \\\"D\\\" Agent\" <sip:demo@gw.test>;tag="),
        "{from}"
    );
    assert!(from.len() > "…;tag=".len() + 40);
    assert_eq!(invite.header("Call-ID"), phone.call.call_id());
    assert_eq!(invite.header("CSeq"), "1 INVITE");
    assert_eq!(
        invite.header("Contact"),
        format!("<sip:k7q2mx@p4t8zw.invalid;transport=ws>;+sip.instance=\"<{INSTANCE}>\"")
    );
    assert_eq!(
        invite.header("P-Preferred-Identity"),
        "<sip:+12125550100@gw.test>"
    );
    assert_eq!(invite.header("Content-Type"), "application/sdp");
    assert_eq!(invite.header("Content-Length"), OFFER.len().to_string());
    assert_eq!(invite.header("User-Agent"), "dialer-test/1");
    assert!(invite.header("Allow").contains("BYE"));
    assert_eq!(invite.body(), OFFER);
    assert!(invite.headers("Authorization").is_empty());
    assert_eq!(phone.call.state(), CallState::Calling);
}

#[test]
fn without_a_caller_id_the_gateway_chooses() {
    let (_, invite) = Phone::dial_with(identity(), request(None));
    assert!(invite.headers("P-Preferred-Identity").is_empty());
    assert!(invite.headers("X-Dialer-Campaign").is_empty());
}

#[test]
fn a_campaign_choice_names_the_campaign_and_no_number() {
    let mut req = request(None);
    req.presenting = shared::sip::call::Presenting::Campaign(7);
    let (_, invite) = Phone::dial_with(identity(), req);
    assert_eq!(invite.header("X-Dialer-Campaign"), "7");
    assert!(invite.headers("P-Preferred-Identity").is_empty());
}

#[test]
fn the_aor_port_is_kept_in_the_request_uri() {
    let mut id = identity();
    id.aor = "sip:demo@gw.test:5070".to_owned();
    let (_, invite) = Phone::dial_with(id, request(Some("+442079460958")));
    assert_eq!(
        invite.start_line(),
        "INVITE sip:+14155552671@gw.test:5070;user=phone SIP/2.0"
    );
    assert_eq!(
        invite.header("P-Preferred-Identity"),
        "<sip:+442079460958@gw.test:5070>"
    );
}

#[test]
fn bad_identities_and_empty_offers_are_refused() {
    let now = web_time::Instant::now();
    let place = |id, req| Call::new(now, id, req, || 7u64).map(|_| ());
    let mut id = identity();
    id.aor = "sip:gw.test".to_owned();
    assert!(matches!(
        place(id, request(None)),
        Err(CallError::BadAor(_))
    ));
    let mut id = identity();
    id.via_host = "x.invalid\r\nX: y".to_owned();
    assert_eq!(
        place(id, request(None)),
        Err(CallError::BadCharacters("via host"))
    );
    let mut req = request(None);
    req.offer = " \r\n".to_owned();
    assert_eq!(place(identity(), req), Err(CallError::Empty("SDP offer")));
}
