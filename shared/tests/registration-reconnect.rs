//! After the WebSocket drops, the same registration starts again on the new
//! connection: same Call-ID and From tag, higher CSeq, no refresh left over.
#![allow(clippy::unwrap_used)]

mod registration_harness;

use registration_harness::{PASSWORD, Phone};
use shared::sip::register::{RegistrationEvent, RegistrationState};

#[test]
fn re_register_after_reconnect_keeps_the_call_id() {
    let mut phone = Phone::new();
    phone.reg.start(phone.now);
    let first = phone.sent();
    phone.answer(first.challenge("n1", false));
    let second = phone.sent();
    phone.answer(second.ok(600));
    phone.events();

    phone.advance(40);
    phone.reg.transport_lost();
    assert_eq!(phone.reg.state(), RegistrationState::Idle);
    assert_eq!(phone.reg.poll_timeout(), None);
    assert!(phone.events().is_empty());

    phone.advance(2);
    phone.reg.start(phone.now);
    let again = phone.sent();
    assert_eq!(again.header("Call-ID"), first.header("Call-ID"));
    assert_eq!(again.header("From"), first.header("From"));
    assert_eq!(again.cseq(), 3);
    assert!(again.digest_is_right(PASSWORD), "cached answer, next nc");
    phone.answer(again.ok(600));
    assert_eq!(
        phone.events(),
        [RegistrationEvent::Registered { expires: 600 }]
    );
}

#[test]
fn a_pending_register_is_abandoned_when_the_transport_drops() {
    let mut phone = Phone::new();
    phone.reg.start(phone.now);
    let first = phone.sent();
    phone.reg.transport_lost();
    phone.answer(first.ok(600));
    assert!(phone.events().is_empty());
    phone.advance(60);
    assert!(
        phone.events().is_empty(),
        "no timeout for an abandoned request"
    );
}
