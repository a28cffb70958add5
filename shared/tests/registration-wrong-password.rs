//! Wrong credentials end in `Failed`, whether the registrar says so with a
//! second challenge or with 403, and the phone does not try again by itself.
#![allow(clippy::unwrap_used)]

mod registration_harness;

use registration_harness::{Phone, config};
use shared::sip::register::{RegistrationConfig, RegistrationEvent, RegistrationState};

fn wrong_password() -> Phone {
    Phone::with_config(RegistrationConfig {
        password: "not-it".to_owned(),
        ..config()
    })
}

#[test]
fn second_challenge_after_an_answer_fails() {
    let mut phone = wrong_password();
    phone.reg.start(phone.now);
    let first = phone.sent();
    phone.answer(first.challenge("n1", false));
    let second = phone.sent();
    assert!(!second.digest_is_right(registration_harness::PASSWORD));
    phone.answer(second.challenge("n2", false));
    assert_eq!(
        phone.events(),
        [RegistrationEvent::Failed {
            code: 401,
            reason: "Unauthorized (credentials refused)".to_owned()
        }]
    );
    assert_eq!(phone.reg.state(), RegistrationState::Failed);
    phone.nothing_sent();
    assert_eq!(phone.reg.poll_timeout(), None);
}

#[test]
fn forbidden_keeps_the_registrars_reason() {
    let mut phone = wrong_password();
    phone.reg.start(phone.now);
    let first = phone.sent();
    phone.answer(first.challenge("n1", false));
    let second = phone.sent();
    let response = second.reply(403, "Forbidden (wrong SIP credentials)", &[]);
    let text = response.to_string();
    let reason = shared::sip::register::status_line_reason(&text);
    // rsip forgets the phrase of well-known codes; the raw status line keeps it.
    assert_eq!(reason, Some("Forbidden"));
    phone.reg.handle_response_with_reason(
        phone.now,
        response,
        Some("Forbidden (wrong SIP credentials)"),
    );
    assert_eq!(
        phone.events(),
        [RegistrationEvent::Failed {
            code: 403,
            reason: "Forbidden (wrong SIP credentials)".to_owned()
        }]
    );
    phone.nothing_sent();
}

#[test]
fn stale_challenges_are_answered_a_few_times_only() {
    let mut phone = Phone::new();
    phone.reg.start(phone.now);
    let mut sent = phone.sent();
    phone.answer(sent.challenge("n0", false));
    for i in 1..=2 {
        sent = phone.sent();
        phone.answer(sent.challenge(&format!("n{i}"), true));
    }
    sent = phone.sent();
    phone.answer(sent.challenge("n3", true));
    assert!(matches!(
        phone.events().as_slice(),
        [RegistrationEvent::Failed { code: 401, .. }]
    ));
    phone.nothing_sent();
}

#[test]
fn a_challenge_without_digest_fails() {
    let mut phone = Phone::new();
    phone.reg.start(phone.now);
    let first = phone.sent();
    phone.answer(first.reply(
        401,
        "Unauthorized",
        &["WWW-Authenticate: Basic realm=\"x\"".to_owned()],
    ));
    assert!(matches!(
        phone.events().as_slice(),
        [RegistrationEvent::Failed { code: 401, .. }]
    ));
}
