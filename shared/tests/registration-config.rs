//! What a registration refuses to start with, and what it accepts.
#![allow(clippy::unwrap_used)]

mod registration_harness;

use registration_harness::{Phone, config};
use shared::sip::register::{Registration, RegistrationConfig};

#[test]
fn bad_configurations_are_refused() {
    for config in [
        RegistrationConfig {
            aor: "sip:gw.test".to_owned(),
            ..config()
        },
        RegistrationConfig {
            aor: "not a uri".to_owned(),
            ..config()
        },
        RegistrationConfig {
            via_host: String::new(),
            ..config()
        },
        RegistrationConfig {
            contact_user: "a b".to_owned(),
            ..config()
        },
        RegistrationConfig {
            display_name: "x\r\nVia: evil".to_owned(),
            ..config()
        },
    ] {
        assert!(
            Registration::new(config.clone(), || 7).is_err(),
            "{config:?}"
        );
    }
}

#[test]
fn usernames_with_punctuation_are_quoted_not_refused() {
    let mut phone = Phone::with_config(RegistrationConfig {
        username: "ann.lee@corp \"x\"".to_owned(),
        ..config()
    });
    phone.reg.start(phone.now);
    let first = phone.sent();
    phone.answer(first.challenge("n1", false));
    let second = phone.sent();
    assert_eq!(second.credentials().unwrap().username, "ann.lee@corp \"x\"");
}
