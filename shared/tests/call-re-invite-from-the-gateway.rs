//! A re-INVITE from the gateway: with an offer, the browser answers it (or
//! refuses: 488); without one, the phone offers the session as it stands.
//! Our 200 is retransmitted (T1 doubling to T2) until the ACK comes, and the
//! call is ended if it never does (RFC 3261 §13.3.1.4).
#![allow(clippy::unwrap_used)]

mod call_harness;

use call_harness::{OFFER, Phone, from_gateway};
use shared::sip::call::{CallError, CallEvent, EndCause};

const GW_OFFER: &str = "v=0\r\no=- 1 2 IN IP4 10.0.0.5\r\ns=-\r\nt=0 0\r\nm=audio 40000 UDP/TLS/RTP/SAVPF 0\r\na=sendonly\r\n";

#[test]
fn an_offer_is_answered_by_the_browser_and_the_200_retransmitted_until_acked() {
    let (mut phone, invite, _) = Phone::connected();
    phone.receive(&from_gateway(&invite, "INVITE", 5, Some(GW_OFFER)));
    assert_eq!(
        phone.events(),
        [CallEvent::RemoteOffer {
            sdp: GW_OFFER.to_owned()
        }]
    );
    phone.nothing_sent();

    let answer = OFFER.replace("a=sendrecv", "a=recvonly");
    phone.call.accept_offer(phone.now, answer.clone()).unwrap();
    let ok = phone.sent();
    assert_eq!(ok.start_line(), "SIP/2.0 200 OK");
    assert_eq!(ok.header("CSeq"), "5 INVITE");
    assert_eq!(ok.header("Content-Type"), "application/sdp");
    assert_eq!(ok.body(), answer);
    assert!(ok.header("Contact").contains("k7q2mx@p4t8zw.invalid"));
    assert_eq!(
        phone.call.accept_offer(phone.now, answer.clone()),
        Err(CallError::NoOfferPending)
    );

    let mut gaps = Vec::new();
    for _ in 0..4 {
        gaps.push(phone.advance_to_timeout().as_millis());
        assert_eq!(phone.sent().text, ok.text);
    }
    assert_eq!(gaps, [500, 1000, 2000, 4000]);

    phone.receive(&from_gateway(&invite, "ACK", 5, None));
    phone.nothing_sent();
    for _ in 0..3 {
        phone.advance(20_000);
        phone.nothing_sent();
    }
    assert!(phone.events().is_empty());
}

#[test]
fn no_ack_for_our_200_ends_the_call() {
    let (mut phone, invite, _) = Phone::connected();
    phone.receive(&from_gateway(&invite, "INVITE", 5, Some(GW_OFFER)));
    phone.events();
    phone
        .call
        .accept_offer(phone.now, OFFER.to_owned())
        .unwrap();
    phone.all_sent();
    let mut bye = None;
    for _ in 0..40 {
        phone.advance_to_timeout();
        if let Some(b) = phone.all_sent().into_iter().find(|s| s.method() == "BYE") {
            bye = Some(b);
            break;
        }
    }
    assert!(bye.is_some(), "BYE after 64·T1 without ACK");
    assert!(matches!(
        phone.events().as_slice(),
        [CallEvent::Ended(EndCause::Broken { code: 408, .. })]
    ));
}

#[test]
fn an_offer_the_browser_cannot_take_gets_488() {
    let (mut phone, invite, _) = Phone::connected();
    phone.receive(&from_gateway(&invite, "INVITE", 5, Some(GW_OFFER)));
    phone.events();
    phone.call.reject_offer(phone.now).unwrap();
    let refusal = phone.sent();
    assert!(refusal.start_line().starts_with("SIP/2.0 488 "));
    assert_eq!(refusal.header("To"), invite.header("From"));
    // Its ACK (the INVITE's branch) is absorbed.
    let ack = from_gateway(&invite, "ACK", 5, None).replace("z9hG4bKgwACK5", "z9hG4bKgwINVITE5");
    phone.receive(&ack);
    phone.nothing_sent();
    assert!(phone.events().is_empty());
}

#[test]
fn an_offerless_re_invite_gets_the_current_session() {
    let (mut phone, invite, _) = Phone::connected();
    phone.receive(&from_gateway(&invite, "INVITE", 5, None));
    let ok = phone.sent();
    assert_eq!(ok.start_line(), "SIP/2.0 200 OK");
    assert_eq!(ok.body(), OFFER);
    assert!(phone.events().is_empty());
    phone.receive(&from_gateway(&invite, "ACK", 5, Some(call_harness::ANSWER)));
    phone.advance(40_000);
    phone.nothing_sent();
    assert!(phone.events().is_empty());
}

#[test]
fn glare_gets_491() {
    let (mut phone, invite, _) = Phone::connected();
    phone
        .call
        .reoffer(
            phone.now,
            shared::sip::call::Reoffer::Hold,
            OFFER.replace("a=sendrecv", "a=sendonly"),
        )
        .unwrap();
    phone.sent();
    phone.receive(&from_gateway(&invite, "INVITE", 5, Some(GW_OFFER)));
    assert!(phone.sent().start_line().starts_with("SIP/2.0 491 "));
    assert!(phone.events().is_empty());
}

#[test]
fn hanging_up_while_the_browser_answers_refuses_the_offer() {
    let (mut phone, invite, _) = Phone::connected();
    phone.receive(&from_gateway(&invite, "INVITE", 5, Some(GW_OFFER)));
    phone.events();
    phone.call.hangup(phone.now);
    let sent = phone.all_sent();
    assert!(
        sent[0].start_line().starts_with("SIP/2.0 487 "),
        "{sent:#?}"
    );
    assert_eq!(sent[1].method(), "BYE");
    assert_eq!(phone.events(), [CallEvent::Ended(EndCause::Local)]);
    assert_eq!(
        phone.call.accept_offer(phone.now, OFFER.to_owned()),
        Err(CallError::NoOfferPending)
    );
    phone.nothing_sent();
}
