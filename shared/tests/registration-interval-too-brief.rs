//! 423 Interval Too Brief: the phone asks again with the registrar's
//! Min-Expires, and gives up when there is nothing better to ask for.
#![allow(clippy::unwrap_used)]

mod registration_harness;

use std::time::Duration;

use registration_harness::{PASSWORD, Phone, config};
use shared::sip::register::{RegistrationConfig, RegistrationEvent, RegistrationState};

#[test]
fn retries_with_min_expires() {
    let mut phone = Phone::with_config(RegistrationConfig {
        expires: 30,
        ..config()
    });
    phone.reg.start(phone.now);
    let first = phone.sent();
    assert!(first.header("Contact").ends_with(";expires=30"));
    phone.answer(first.challenge("n1", false));
    let second = phone.sent();
    assert!(second.digest_is_right(PASSWORD));

    phone.answer(second.reply(423, "Interval Too Brief", &["Min-Expires: 60".to_owned()]));
    assert!(phone.events().is_empty());
    let third = phone.sent();
    assert_eq!(third.cseq(), 3);
    assert!(
        third.header("Contact").ends_with(";expires=60"),
        "{}",
        third.text
    );
    assert_eq!(third.header("Expires"), "60");
    let creds = third.credentials().unwrap();
    assert_eq!(creds.nc, Some(2));
    assert!(third.digest_is_right(PASSWORD));

    phone.answer(third.ok(60));
    assert_eq!(
        phone.events(),
        [RegistrationEvent::Registered { expires: 60 }]
    );
    assert_eq!(phone.advance_to_timeout(), Duration::from_secs(30));
    let refresh = phone.sent();
    assert!(
        refresh.header("Contact").ends_with(";expires=60"),
        "the raised expiry sticks"
    );
}

#[test]
fn fails_without_a_usable_min_expires() {
    for extra in [
        vec![],
        vec!["Min-Expires: 20".to_owned()],
        vec!["Min-Expires: soon".to_owned()],
    ] {
        let mut phone = Phone::with_config(RegistrationConfig {
            expires: 30,
            ..config()
        });
        phone.reg.start(phone.now);
        let first = phone.sent();
        phone.answer(first.reply(423, "Interval Too Brief", &extra));
        assert_eq!(
            phone.events(),
            [RegistrationEvent::Failed {
                code: 423,
                reason: "Interval Too Brief".to_owned()
            }],
            "{extra:?}"
        );
        assert_eq!(phone.reg.state(), RegistrationState::Failed);
        phone.nothing_sent();
        assert_eq!(phone.reg.poll_timeout(), None);
    }
}

#[test]
fn gives_up_on_a_registrar_that_keeps_raising_the_bar() {
    let mut phone = Phone::with_config(RegistrationConfig {
        expires: 30,
        ..config()
    });
    phone.reg.start(phone.now);
    let mut sent = phone.sent();
    for min in [60, 120] {
        phone.answer(sent.reply(423, "Interval Too Brief", &[format!("Min-Expires: {min}")]));
        sent = phone.sent();
    }
    phone.answer(sent.reply(423, "Interval Too Brief", &["Min-Expires: 240".to_owned()]));
    assert!(matches!(
        phone.events().as_slice(),
        [RegistrationEvent::Failed { code: 423, .. }]
    ));
    phone.nothing_sent();
}
