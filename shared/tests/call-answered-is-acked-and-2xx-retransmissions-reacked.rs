//! 100, 180, then 200 with the SDP answer: the phone rings, applies the
//! answer, ACKs the 2xx as a request of the dialog (new branch, the
//! INVITE's CSeq number, sent to the gateway's Contact), and ACKs every
//! retransmission of the 2xx again without telling the page twice.
#![allow(clippy::unwrap_used)]

mod call_harness;

use call_harness::{ANSWER, GATEWAY_CONTACT, Phone};
use shared::sip::call::{CallEvent, CallState};

#[test]
fn ringing_then_answer_then_ack() {
    let (mut phone, invite) = Phone::dial();
    phone.receive(&invite.reply("100 Trying", &[], None));
    assert!(phone.events().is_empty());
    assert_eq!(phone.call.state(), CallState::Calling);

    phone.receive(&invite.reply("180 Ringing", &[], None));
    assert_eq!(phone.events(), [CallEvent::Ringing]);
    assert_eq!(phone.call.state(), CallState::Ringing);
    phone.nothing_sent();

    phone.receive(&invite.reply("180 Ringing", &[], None));
    assert!(phone.events().is_empty(), "ringing is told once");

    let ok = invite.ok(ANSWER);
    phone.receive(&ok);
    let ack = phone.sent();
    // rsip prints the transport parameter in upper case; URI comparison
    // ignores the case of parameter values (RFC 3261 §19.1.4).
    assert!(
        ack.start_line()
            .eq_ignore_ascii_case(&format!("ACK {GATEWAY_CONTACT} SIP/2.0"))
    );
    assert_ne!(ack.branch(), invite.branch());
    assert!(ack.branch().starts_with("z9hG4bK"));
    assert_eq!(ack.header("CSeq"), "1 ACK");
    assert_eq!(ack.header("To"), format!("{};tag=gw1", invite.header("To")));
    assert_eq!(ack.header("From"), invite.header("From"));
    assert_eq!(ack.header("Call-ID"), invite.header("Call-ID"));
    assert_eq!(ack.header("Content-Length"), "0");
    assert_eq!(
        phone.events(),
        [
            CallEvent::RemoteAnswer {
                sdp: ANSWER.to_owned(),
                early: false
            },
            CallEvent::Answered
        ]
    );
    assert_eq!(phone.call.state(), CallState::Connected);

    // The 2xx again (our ACK was lost somewhere): the same ACK again.
    phone.advance(500);
    phone.receive(&ok);
    assert_eq!(phone.sent().text, ack.text);
    assert!(phone.events().is_empty());

    // Even after the INVITE transaction has ended (timer M).
    phone.advance(40_000);
    phone.receive(&ok);
    assert_eq!(phone.sent().text, ack.text);
    assert!(phone.events().is_empty());
}

#[test]
fn a_record_route_becomes_the_route_set() {
    let (mut phone, invite) = Phone::dial();
    phone.receive(&invite.reply(
        "200 OK",
        &[
            "Record-Route: <sip:edge2.gw.test;lr>",
            "Record-Route: <sip:edge1.gw.test;lr>",
        ],
        Some(ANSWER),
    ));
    let ack = phone.sent();
    assert_eq!(
        ack.headers("Route"),
        ["<sip:edge1.gw.test;lr>", "<sip:edge2.gw.test;lr>"]
    );
    phone.events();
    phone.call.hangup(phone.now);
    let bye = phone.sent();
    assert!(
        bye.start_line()
            .eq_ignore_ascii_case(&format!("BYE {GATEWAY_CONTACT} SIP/2.0"))
    );
    assert_eq!(bye.headers("Route"), ack.headers("Route"));
}

#[test]
fn a_2xx_without_an_answer_ends_the_call() {
    let (mut phone, invite) = Phone::dial();
    phone.receive(&invite.reply("200 OK", &[], None));
    let sent = phone.all_sent();
    let methods: Vec<&str> = sent.iter().map(|s| s.method()).collect();
    assert_eq!(methods, ["ACK", "BYE"]);
    assert!(matches!(
        phone.events().as_slice(),
        [CallEvent::Ended(shared::sip::call::EndCause::Broken {
            code: 488,
            ..
        })]
    ));
}
