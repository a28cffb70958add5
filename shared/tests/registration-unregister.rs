//! Sign-out: the un-REGISTER carries `Expires: 0` (and `expires=0` on the
//! Contact), the cached digest answer, and ends in `Unregistered`.
#![allow(clippy::unwrap_used)]

mod registration_harness;

use registration_harness::{PASSWORD, Phone};
use shared::sip::register::{RegistrationEvent, RegistrationState};

fn registered() -> Phone {
    let mut phone = Phone::new();
    phone.reg.start(phone.now);
    let first = phone.sent();
    phone.answer(first.challenge("n1", false));
    let second = phone.sent();
    phone.answer(second.ok(600));
    assert_eq!(
        phone.events(),
        [RegistrationEvent::Registered { expires: 600 }]
    );
    phone
}

#[test]
fn unregister_sends_expires_zero() {
    let mut phone = registered();
    phone.advance(10);
    phone.reg.unregister(phone.now);
    assert_eq!(phone.reg.state(), RegistrationState::Unregistering);
    let bye = phone.sent();
    assert_eq!(bye.cseq(), 3);
    assert_eq!(bye.header("Expires"), "0");
    assert!(
        bye.header("Contact").ends_with(";expires=0"),
        "{}",
        bye.text
    );
    assert!(bye.header("Contact").contains("+sip.instance="));
    assert!(bye.digest_is_right(PASSWORD));

    phone.answer(bye.reply(200, "OK", &[]));
    assert_eq!(phone.events(), [RegistrationEvent::Unregistered]);
    assert_eq!(phone.reg.state(), RegistrationState::Unregistered);
    assert_eq!(phone.reg.poll_timeout(), None, "no refresh after sign-out");
    phone.advance(3600);
    phone.nothing_sent();
}

#[test]
fn unregister_supersedes_a_pending_refresh() {
    let mut phone = registered();
    phone.advance_to_timeout();
    let refresh = phone.sent();
    phone.reg.unregister(phone.now);
    let bye = phone.sent();
    assert!(bye.cseq() > refresh.cseq());
    phone.answer(refresh.ok(600));
    assert!(
        phone.events().is_empty(),
        "the refresh's answer no longer counts"
    );
    phone.answer(bye.challenge("n5", true));
    let bye_again = phone.sent();
    assert_eq!(bye_again.header("Expires"), "0");
    assert!(bye_again.digest_is_right(PASSWORD));
    phone.answer(bye_again.reply(200, "OK", &[]));
    assert_eq!(phone.events(), [RegistrationEvent::Unregistered]);
}

#[test]
fn unregister_without_a_binding_reports_at_once() {
    let mut phone = Phone::new();
    phone.reg.unregister(phone.now);
    phone.nothing_sent();
    assert_eq!(phone.events(), [RegistrationEvent::Unregistered]);

    let mut phone = registered();
    phone.reg.transport_lost();
    assert_eq!(phone.reg.state(), RegistrationState::Idle);
    phone.reg.unregister(phone.now);
    phone.nothing_sent();
    assert_eq!(phone.events(), [RegistrationEvent::Unregistered]);
}

#[test]
fn losing_the_transport_while_unregistering_counts_as_done() {
    let mut phone = registered();
    phone.reg.unregister(phone.now);
    let _bye = phone.sent();
    phone.reg.transport_lost();
    assert_eq!(phone.events(), [RegistrationEvent::Unregistered]);
}

#[test]
fn unanswered_unregister_times_out() {
    let mut phone = registered();
    phone.reg.unregister(phone.now);
    let _bye = phone.sent();
    phone.advance(32);
    assert!(matches!(
        phone.events().as_slice(),
        [RegistrationEvent::Failed { code: 408, .. }]
    ));
}
