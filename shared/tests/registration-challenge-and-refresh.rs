//! REGISTER → 401 (MD5 and SHA-256 challenges) → answered with SHA-256 →
//! 200 → refresh at half the granted expiry, pre-emptively authorised →
//! stale nonce answered again → 200.
#![allow(clippy::unwrap_used)]

mod registration_harness;

use std::time::Duration;

use registration_harness::{INSTANCE, PASSWORD, Phone};
use shared::sip::digest::Algorithm;
use shared::sip::register::{RegistrationEvent, RegistrationState};

#[test]
fn first_register_is_well_formed_for_websocket_and_outbound() {
    let mut phone = Phone::new();
    phone.reg.start(phone.now);
    let first = phone.sent();

    assert!(
        first.text.starts_with("REGISTER sip:gw.test SIP/2.0\r\n"),
        "{}",
        first.text
    );
    assert!(first.text.ends_with("\r\n\r\n"), "{}", first.text);
    let via = first.header("Via");
    assert!(
        via.starts_with("SIP/2.0/WSS p4t8zw.invalid;branch=z9hG4bK"),
        "{via}"
    );
    assert!(first.branch().len() > "z9hG4bK".len() + 8);
    assert_eq!(first.header("Max-Forwards"), "70");
    assert_eq!(
        first.header("To"),
        "\"Demo \\\"D\\\" Agent\" <sip:demo@gw.test>"
    );
    assert!(
        first
            .header("From")
            .starts_with("\"Demo \\\"D\\\" Agent\" <sip:demo@gw.test>;tag=")
    );
    assert_eq!(first.header("CSeq"), "1 REGISTER");
    assert_eq!(first.header("Call-ID"), phone.reg.call_id());
    assert_eq!(
        first.header("Contact"),
        format!(
            "<sip:k7q2mx@p4t8zw.invalid;transport=ws>;+sip.instance=\"<{INSTANCE}>\";reg-id=1;expires=600"
        )
    );
    assert_eq!(first.header("Expires"), "600");
    assert_eq!(first.header("Content-Length"), "0");
    assert!(first.credentials().is_none());
    assert_eq!(phone.reg.state(), RegistrationState::Registering);
    assert_eq!(
        phone.reg.poll_timeout(),
        Some(phone.now + Duration::from_secs(32))
    );
}

#[test]
fn challenge_is_answered_then_refreshed_at_half_expiry() {
    let mut phone = Phone::new();
    phone.reg.start(phone.now);
    let first = phone.sent();
    phone.answer(first.challenge("n1", false));
    assert!(phone.events().is_empty());

    let second = phone.sent();
    assert_eq!(second.cseq(), 2);
    assert_ne!(second.branch(), first.branch());
    assert_eq!(second.header("Call-ID"), first.header("Call-ID"));
    assert_eq!(second.header("From"), first.header("From"));
    let creds = second.credentials().unwrap();
    assert_eq!(
        creds.algorithm,
        Algorithm::Sha256,
        "SHA-256 is picked over MD5"
    );
    assert_eq!(creds.nonce, "n1-SHA-256");
    assert_eq!(creds.nc, Some(1));
    assert_eq!(creds.username, "demo");
    assert!(second.digest_is_right(PASSWORD));

    phone.advance(1);
    phone.answer(second.ok(600));
    assert_eq!(
        phone.events(),
        [RegistrationEvent::Registered { expires: 600 }]
    );
    assert_eq!(phone.reg.state(), RegistrationState::Registered);
    phone.nothing_sent();

    // Nothing happens until half the expiry has passed.
    assert_eq!(phone.advance_to_timeout(), Duration::from_secs(300));
    assert_eq!(phone.reg.state(), RegistrationState::Refreshing);
    let refresh = phone.sent();
    assert_eq!(refresh.cseq(), 3);
    assert_eq!(refresh.header("Call-ID"), first.header("Call-ID"));
    assert_eq!(refresh.header("From"), first.header("From"));
    let creds = refresh.credentials().unwrap();
    assert_eq!((creds.nonce.as_str(), creds.nc), ("n1-SHA-256", Some(2)));
    assert!(refresh.digest_is_right(PASSWORD));

    // The nonce has aged out: the registrar says stale, the phone answers.
    phone.answer(refresh.challenge("n2", true));
    let again = phone.sent();
    assert_eq!(again.cseq(), 4);
    let creds = again.credentials().unwrap();
    assert_eq!((creds.nonce.as_str(), creds.nc), ("n2-SHA-256", Some(1)));
    assert!(again.digest_is_right(PASSWORD));
    phone.answer(again.ok(120));
    assert_eq!(
        phone.events(),
        [RegistrationEvent::Registered { expires: 120 }]
    );
    assert_eq!(phone.reg.state(), RegistrationState::Registered);
    assert_eq!(phone.advance_to_timeout(), Duration::from_secs(60));
    assert_eq!(phone.sent().cseq(), 5);
}

#[test]
fn a_new_challenge_after_a_pre_emptive_answer_is_answered() {
    let mut phone = Phone::new();
    phone.reg.start(phone.now);
    let first = phone.sent();
    phone.answer(first.challenge("n1", false));
    let second = phone.sent();
    phone.answer(second.ok(600));
    phone.events();
    phone.advance_to_timeout();
    let refresh = phone.sent();
    // A registrar that forgot its nonces (restarted) challenges afresh; the
    // refresh carried only a cached answer, so this is not a refusal.
    phone.answer(refresh.challenge("n9", false));
    let answer = phone.sent();
    assert!(answer.digest_is_right(PASSWORD));
    phone.answer(answer.ok(600));
    assert_eq!(
        phone.events(),
        [RegistrationEvent::Registered { expires: 600 }]
    );
}

#[test]
fn granted_expiry_falls_back_to_the_expires_header() {
    let mut phone = Phone::new();
    phone.reg.start(phone.now);
    let first = phone.sent();
    phone.answer(first.reply(200, "OK", &["Expires: 90".to_owned()]));
    assert_eq!(
        phone.events(),
        [RegistrationEvent::Registered { expires: 90 }]
    );
    assert_eq!(phone.advance_to_timeout(), Duration::from_secs(45));
}

#[test]
fn proxy_challenge_is_answered_in_proxy_authorization() {
    let mut phone = Phone::new();
    phone.reg.start(phone.now);
    let first = phone.sent();
    phone.answer(first.reply(
        407,
        "Proxy Authentication Required",
        &["Proxy-Authenticate: Digest realm=\"gw.test\", nonce=\"p1\", qop=\"auth\"".to_owned()],
    ));
    let second = phone.sent();
    assert!(second.headers("Authorization").is_empty());
    let value = second.header("Proxy-Authorization");
    assert!(
        value.contains("nonce=\"p1\"") && value.contains("algorithm=MD5"),
        "{value}"
    );
}
