//! BYE either way. From the gateway: 200 and "the other side hung up".
//! From the phone: a request of the dialog with the next CSeq, answered
//! once with credentials if the gateway challenges it.
#![allow(clippy::unwrap_used)]

mod call_harness;

use call_harness::{GATEWAY_CONTACT, Phone, from_gateway};
use shared::sip::call::{CallEvent, CallState, EndCause};

#[test]
fn bye_from_the_gateway_is_answered_and_ends_the_call() {
    let (mut phone, invite, _) = Phone::connected();
    phone.receive(&from_gateway(&invite, "BYE", 1, None));
    let ok = phone.sent();
    assert_eq!(ok.start_line(), "SIP/2.0 200 OK");
    assert_eq!(ok.header("CSeq"), "1 BYE");
    assert_eq!(ok.header("To"), invite.header("From"));
    assert_eq!(phone.events(), [CallEvent::Ended(EndCause::Remote)]);
    assert_eq!(phone.call.state(), CallState::Ended);
    assert!(phone.call.is_terminated());

    // A retransmission of it: answered again, told once.
    phone.receive(&from_gateway(&invite, "BYE", 1, None));
    assert_eq!(phone.all_sent().len(), 1);
    assert!(phone.events().is_empty());
}

#[test]
fn a_request_for_another_dialog_gets_481() {
    let (mut phone, invite, _) = Phone::connected();
    let other = from_gateway(&invite, "BYE", 1, None).replace(";tag=gw1", ";tag=other");
    phone.receive(&other);
    assert!(phone.sent().start_line().starts_with("SIP/2.0 481 "));
    assert!(phone.events().is_empty());
    assert_eq!(phone.call.state(), CallState::Connected);
}

#[test]
fn hangup_sends_bye_in_the_dialog() {
    let (mut phone, invite, _) = Phone::connected();
    phone.call.hangup(phone.now);
    let bye = phone.sent();
    assert!(
        bye.start_line()
            .eq_ignore_ascii_case(&format!("BYE {GATEWAY_CONTACT} SIP/2.0"))
    );
    assert_eq!(bye.header("CSeq"), "2 BYE");
    assert_eq!(bye.header("From"), invite.header("From"));
    assert_eq!(bye.header("To"), format!("{};tag=gw1", invite.header("To")));
    assert_eq!(bye.header("Call-ID"), invite.header("Call-ID"));
    assert_eq!(phone.events(), [CallEvent::Ended(EndCause::Local)]);
    assert!(!phone.call.is_terminated(), "the BYE is in flight");

    phone.receive(&bye.challenge(401));
    let again = phone.sent();
    assert_eq!(again.method(), "BYE");
    assert_eq!(again.header("CSeq"), "3 BYE");
    assert!(again.digest_is_right("Authorization"));
    phone.receive(&again.challenge(401));
    phone.nothing_sent();
    assert!(phone.call.is_terminated());
}

#[test]
fn options_in_the_dialog_is_answered() {
    let (mut phone, invite, _) = Phone::connected();
    phone.receive(&from_gateway(&invite, "OPTIONS", 1, None));
    let ok = phone.sent();
    assert_eq!(ok.start_line(), "SIP/2.0 200 OK");
    assert!(ok.header("Allow").contains("INVITE"));
    phone.receive(&from_gateway(&invite, "INFO", 2, None));
    assert!(phone.sent().start_line().starts_with("SIP/2.0 405 "));
    phone.receive(&from_gateway(&invite, "OPTIONS", 1, None));
    assert!(
        phone.sent().start_line().starts_with("SIP/2.0 500 "),
        "CSeq went back"
    );
}

#[test]
fn transport_lost_ends_the_call_at_once() {
    let (mut phone, _, _) = Phone::connected();
    phone.call.transport_lost();
    assert_eq!(phone.events(), [CallEvent::Ended(EndCause::TransportLost)]);
    phone.nothing_sent();
    assert!(phone.call.is_terminated());
}
