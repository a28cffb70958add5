//! No answer within 64·T1 = 32 s: `Failed { code: 408 }`, and a late answer
//! changes nothing.
#![allow(clippy::unwrap_used)]

mod registration_harness;

use registration_harness::Phone;
use rsip::headers::UntypedHeader;
use shared::sip::register::{RegistrationEvent, RegistrationState};

#[test]
fn first_register_times_out_after_32_s() {
    let mut phone = Phone::new();
    phone.reg.start(phone.now);
    let first = phone.sent();
    phone.advance(31);
    assert!(phone.events().is_empty());
    assert_eq!(phone.reg.state(), RegistrationState::Registering);
    phone.advance(1);
    assert!(matches!(
        phone.events().as_slice(),
        [RegistrationEvent::Failed { code: 408, .. }]
    ));
    assert_eq!(phone.reg.state(), RegistrationState::Failed);
    assert_eq!(phone.reg.poll_timeout(), None);
    phone.nothing_sent();

    phone.answer(first.ok(600));
    assert!(phone.events().is_empty(), "a late answer is ignored");
    assert_eq!(phone.reg.state(), RegistrationState::Failed);
}

#[test]
fn refresh_times_out() {
    let mut phone = Phone::new();
    phone.reg.start(phone.now);
    let first = phone.sent();
    phone.answer(first.ok(600));
    phone.events();
    phone.advance_to_timeout();
    let _refresh = phone.sent();
    phone.advance_to_timeout();
    assert!(matches!(
        phone.events().as_slice(),
        [RegistrationEvent::Failed { code: 408, .. }]
    ));
}

#[test]
fn provisional_and_stray_answers_are_ignored() {
    let mut phone = Phone::new();
    phone.reg.start(phone.now);
    let first = phone.sent();
    phone.answer(first.reply(100, "Trying", &[]));
    assert_eq!(phone.reg.state(), RegistrationState::Registering);

    // Same request, other branch / CSeq / Call-ID: not ours.
    let mut other_branch = first.ok(600);
    for h in other_branch.headers.iter_mut() {
        if let rsip::Header::Via(v) = h {
            *v = rsip::headers::Via::new("SIP/2.0/WSS p4t8zw.invalid;branch=z9hG4bKother");
        }
    }
    phone.answer(other_branch);
    let mut other_call = first.ok(600);
    for h in other_call.headers.iter_mut() {
        if let rsip::Header::CallId(c) = h {
            *c = rsip::headers::CallId::new("someone-else");
        }
    }
    phone.answer(other_call);
    let mut other_cseq = first.ok(600);
    for h in other_cseq.headers.iter_mut() {
        if let rsip::Header::CSeq(c) = h {
            *c = rsip::headers::CSeq::new("7 REGISTER");
        }
    }
    phone.answer(other_cseq);
    assert!(phone.events().is_empty());
    assert_eq!(phone.reg.state(), RegistrationState::Registering);

    phone.answer(first.ok(600));
    assert_eq!(
        phone.events(),
        [RegistrationEvent::Registered { expires: 600 }]
    );
}
