//! 401/407 to the INVITE: the transaction ACKs it, the phone sends the
//! INVITE again (CSeq + 1, same Call-ID and From tag, same offer) with a
//! digest answer to the strongest challenge. A second challenge ends the
//! call: the credential was refused.
#![allow(clippy::unwrap_used)]

mod call_harness;

use call_harness::{ANSWER, OFFER, Phone};
use shared::sip::call::{CallEvent, EndCause};
use shared::sip::digest::Algorithm;

#[test]
fn proxy_challenge_then_answered_call() {
    let (mut phone, invite) = Phone::dial();
    phone.receive(&invite.challenge(407));
    let sent = phone.all_sent();
    assert_eq!(sent.len(), 2, "{sent:#?}");
    let (ack, retry) = (&sent[0], &sent[1]);
    assert_eq!(ack.method(), "ACK");
    assert_eq!(ack.branch(), invite.branch(), "the transaction's ACK");
    assert_eq!(ack.header("CSeq"), "1 ACK");

    assert_eq!(retry.method(), "INVITE");
    assert_eq!(retry.header("CSeq"), "2 INVITE");
    assert_ne!(retry.branch(), invite.branch());
    assert_eq!(retry.header("Call-ID"), invite.header("Call-ID"));
    assert_eq!(retry.header("From"), invite.header("From"));
    assert_eq!(retry.header("To"), invite.header("To"));
    assert_eq!(retry.body(), OFFER);
    assert!(retry.digest_is_right("Proxy-Authorization"));
    let creds = retry.credentials("Proxy-Authorization").unwrap();
    assert_eq!(creds.algorithm, Algorithm::Sha256);
    assert_eq!(creds.username, "demo");
    assert!(phone.events().is_empty());

    phone.receive(&retry.reply("180 Ringing", &[], None));
    phone.receive(&retry.ok(ANSWER));
    let ack = phone.sent();
    assert_eq!(ack.header("CSeq"), "2 ACK");
    assert_eq!(
        ack.header("Proxy-Authorization"),
        retry.header("Proxy-Authorization"),
        "RFC 3261 §13.2.2.4: the ACK carries the INVITE's credentials"
    );
    assert_eq!(phone.events().last(), Some(&CallEvent::Answered));
}

#[test]
fn www_challenge_twice_ends_the_call() {
    let (mut phone, invite) = Phone::dial();
    phone.receive(&invite.challenge(401));
    let retry = phone.all_sent().pop().unwrap();
    assert!(retry.digest_is_right("Authorization"));
    phone.receive(&retry.challenge(401));
    let sent = phone.all_sent();
    assert_eq!(sent.len(), 1, "only the ACK: no third INVITE");
    assert_eq!(sent[0].method(), "ACK");
    assert_eq!(
        phone.events(),
        [CallEvent::Ended(EndCause::Refused {
            code: 401,
            reason: "Unauthorized".to_owned()
        })]
    );
    assert!(phone.call.is_terminated());
}

#[test]
fn a_challenge_without_digest_is_a_refusal() {
    let (mut phone, invite) = Phone::dial();
    phone.receive(&invite.reply(
        "401 Unauthorized",
        &["WWW-Authenticate: Basic realm=\"x\""],
        None,
    ));
    assert_eq!(phone.all_sent().len(), 1);
    assert!(matches!(
        phone.events().as_slice(),
        [CallEvent::Ended(EndCause::Refused { code: 401, .. })]
    ));
}
