//! Hanging up before the answer: CANCEL (the INVITE's branch, CSeq number
//! and To without tag), but only once a provisional response came (RFC 3261
//! §9.1); the 487 that follows is ACKed by the transaction. A 200 that
//! crosses the CANCEL is ACKed and the call ended with BYE.
#![allow(clippy::unwrap_used)]

mod call_harness;

use call_harness::{ANSWER, Phone};
use shared::sip::call::{CallEvent, CallState, EndCause};

#[test]
fn cancel_while_ringing() {
    let (mut phone, invite) = Phone::dial();
    phone.receive(&invite.reply("180 Ringing", &[], None));
    phone.events();
    phone.call.hangup(phone.now);
    let cancel = phone.sent();
    assert_eq!(
        cancel.start_line(),
        "CANCEL sip:+14155552671@gw.test;user=phone SIP/2.0"
    );
    assert_eq!(cancel.branch(), invite.branch());
    assert_eq!(cancel.header("CSeq"), "1 CANCEL");
    assert_eq!(cancel.header("To"), invite.header("To"));
    assert_eq!(cancel.header("From"), invite.header("From"));
    assert_eq!(cancel.header("Call-ID"), invite.header("Call-ID"));
    assert_eq!(phone.events(), [CallEvent::Ended(EndCause::Local)]);
    assert_eq!(phone.call.state(), CallState::Ended);
    assert!(!phone.call.is_terminated());

    phone.receive(&cancel.reply("200 OK", &[], None));
    phone.nothing_sent();
    phone.receive(&invite.reply("487 Request Terminated", &[], None));
    let ack = phone.sent();
    assert_eq!(ack.method(), "ACK");
    assert_eq!(ack.branch(), invite.branch());
    assert!(phone.events().is_empty(), "ended once");
    assert!(phone.call.is_terminated());

    phone.call.hangup(phone.now);
    phone.nothing_sent();
}

#[test]
fn cancel_waits_for_a_provisional_response() {
    let (mut phone, invite) = Phone::dial();
    phone.call.hangup(phone.now);
    phone.nothing_sent();
    assert_eq!(phone.events(), [CallEvent::Ended(EndCause::Local)]);
    phone.receive(&invite.reply("100 Trying", &[], None));
    assert_eq!(phone.sent().method(), "CANCEL");
    phone.receive(&invite.reply("180 Ringing", &[], None));
    phone.nothing_sent();
    assert!(phone.events().is_empty());
}

#[test]
fn a_200_crossing_the_cancel_is_acked_and_byed() {
    let (mut phone, invite) = Phone::dial();
    phone.receive(&invite.reply("183 Session Progress", &[], Some(ANSWER)));
    phone.events();
    phone.call.hangup(phone.now);
    let cancel = phone.sent();
    phone.receive(&invite.ok(ANSWER));
    let sent = phone.all_sent();
    let methods: Vec<&str> = sent.iter().map(|s| s.method()).collect();
    assert_eq!(methods, ["ACK", "BYE"]);
    assert_eq!(sent[1].header("CSeq"), "2 BYE");
    assert_eq!(
        sent[1].header("To"),
        format!("{};tag=gw1", invite.header("To"))
    );
    assert_eq!(phone.events(), [CallEvent::Ended(EndCause::Local)]);
    phone.receive(&cancel.reply("481 Call/Transaction Does Not Exist", &[], None));
    phone.receive(&sent[1].reply("200 OK", &[], None));
    phone.nothing_sent();
    assert!(phone.call.is_terminated());
}

#[test]
fn a_200_before_any_provisional_after_hangup_is_byed() {
    let (mut phone, invite) = Phone::dial();
    phone.call.hangup(phone.now);
    phone.receive(&invite.ok(ANSWER));
    let methods: Vec<String> = phone
        .all_sent()
        .iter()
        .map(|s| s.method().to_owned())
        .collect();
    assert_eq!(methods, ["ACK", "BYE"]);
}

#[test]
fn no_final_response_after_cancel_gives_up_after_64_t1() {
    let (mut phone, invite) = Phone::dial();
    phone.receive(&invite.reply("180 Ringing", &[], None));
    phone.call.hangup(phone.now);
    phone.all_sent();
    phone.advance(32_000);
    assert!(phone.call.is_terminated());
}
