//! Whatever the gateway sends, the call does not panic: messages that
//! `inbound` would refuse (no Via, no CSeq, no tags, a Contact that is not
//! a URI) are handed to the call directly, in every state.
#![allow(clippy::unwrap_used)]

mod call_harness;

use call_harness::{ANSWER, Phone, Sent, from_gateway};
use shared::sip::call::CallEvent;

/// Whatever was queued, unchecked: answers to broken requests may be
/// broken too (no From to copy), which is the gateway's problem to drop.
fn drain(phone: &mut Phone) {
    while phone.call.poll_transmit().is_some() {}
}

fn response(text: &str) -> Option<rsip::Response> {
    rsip::Response::try_from(text).ok()
}

fn request(text: &str) -> Option<rsip::Request> {
    rsip::Request::try_from(text).ok()
}

/// Odd variants of the gateway's answers to `sent`.
fn odd_responses(sent: &Sent) -> Vec<rsip::Response> {
    let good = sent.ok(ANSWER);
    let variants = [
        good.replace("Via:", "X-Via:"),
        good.replace("CSeq:", "X-CSeq:"),
        good.replace(";tag=gw1", ""),
        good.replace("Contact: <", "Contact: <<not a uri "),
        good.replace("Contact:", "X-Contact:"),
        good.replace("CSeq: 1 INVITE", "CSeq: banana"),
        good.replace("SIP/2.0 200 OK", "SIP/2.0 299 Odd"),
        good.replace("SIP/2.0 200 OK", "SIP/2.0 183 Early")
            .replace("application/sdp", "text/plain"),
        sent.reply(
            "407 Proxy Authentication Required",
            &["Proxy-Authenticate: Digest nonce=1"],
            None,
        ),
        sent.reply(
            "401 Unauthorized",
            &["WWW-Authenticate: Digest realm=\"x\", nonce=\"y\", algorithm=SHA-999"],
            None,
        ),
        sent.reply("699 Whatever", &[], None),
        sent.reply("101 Odd", &[], Some("v=0\r\n")),
    ];
    variants.iter().filter_map(|t| response(t)).collect()
}

#[test]
fn odd_responses_in_every_state() {
    for stage in 0..3 {
        let (mut phone, invite) = Phone::dial();
        if stage >= 1 {
            phone.receive(&invite.reply("180 Ringing", &[], None));
        }
        if stage >= 2 {
            phone.receive(&invite.ok(ANSWER));
        }
        for odd in odd_responses(&invite) {
            phone.call.handle_response(phone.now, odd, None);
            drain(&mut phone);
            phone.events();
            phone.advance(1_000);
        }
        phone.call.hangup(phone.now);
        drain(&mut phone);
        for _ in 0..100 {
            if phone.call.poll_timeout().is_none() {
                break;
            }
            phone.advance_to_timeout();
        }
    }
}

#[test]
fn odd_requests_in_a_call() {
    let (mut phone, invite, _) = Phone::connected();
    let bye = from_gateway(&invite, "BYE", 9, None);
    let reinvite = from_gateway(&invite, "INVITE", 10, Some(ANSWER));
    let variants = [
        bye.replace("From:", "X-From:"),
        bye.replace("To:", "X-To:"),
        bye.replace("CSeq: 9 BYE", "CSeq: x BYE"),
        bye.replace("Via:", "X-Via:"),
        reinvite.replace("Contact:", "X-Contact:"),
        reinvite.replace("Contact: <", "Contact: <garbage "),
        reinvite.replace("application/sdp", "application/json"),
        from_gateway(&invite, "ACK", 77, Some(ANSWER)),
        from_gateway(&invite, "CANCEL", 10, None),
        from_gateway(&invite, "UPDATE", 11, Some(ANSWER)),
        from_gateway(&invite, "NOTIFY", 12, None),
    ];
    for text in variants {
        if let Some(odd) = request(&text) {
            phone.call.handle_request(phone.now, odd);
        }
        drain(&mut phone);
        phone.advance(1_000);
    }
    // The BYE without Via (which `inbound` would have refused) ended it;
    // a proper one is still answered, and the end is told once.
    let mut events = phone.events();
    phone.receive(&from_gateway(&invite, "BYE", 50, None));
    assert!(phone.sent().start_line().starts_with("SIP/2.0 200 "));
    events.extend(phone.events());
    let ends = events
        .iter()
        .filter(|e| matches!(e, CallEvent::Ended(_)))
        .count();
    assert_eq!(ends, 1, "{events:?}");
}
