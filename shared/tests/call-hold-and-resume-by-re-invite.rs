//! Hold and resume: a re-INVITE in the dialog with the browser's new offer
//! (`a=sendonly`, then `a=sendrecv`); its 200 is ACKed, its answer applied,
//! and the page told. 491 leaves the call as it was; 481 ends it.
#![allow(clippy::unwrap_used)]

mod call_harness;

use call_harness::{GATEWAY_CONTACT, OFFER, Phone};
use shared::sip::call::{CallError, CallEvent, EndCause, Reoffer};

fn offer(direction: &str) -> String {
    OFFER.replace("a=sendrecv", direction)
}

#[test]
fn hold_then_resume() {
    let (mut phone, invite, _) = Phone::connected();
    phone
        .call
        .reoffer(phone.now, Reoffer::Hold, offer("a=sendonly"))
        .unwrap();
    let hold = phone.sent();
    assert!(
        hold.start_line()
            .eq_ignore_ascii_case(&format!("INVITE {GATEWAY_CONTACT} SIP/2.0"))
    );
    assert_eq!(hold.header("CSeq"), "2 INVITE");
    assert_eq!(
        hold.header("To"),
        format!("{};tag=gw1", invite.header("To"))
    );
    assert!(hold.body().contains("a=sendonly"));
    assert!(hold.headers("P-Preferred-Identity").is_empty());
    assert_eq!(hold.header("Contact"), invite.header("Contact"));

    // One exchange at a time.
    assert_eq!(
        phone
            .call
            .reoffer(phone.now, Reoffer::Resume, offer("a=sendrecv")),
        Err(CallError::Busy)
    );

    let answer = "v=0\r\na=recvonly\r\n";
    phone.receive(&hold.ok(answer));
    let ack = phone.sent();
    assert_eq!(ack.header("CSeq"), "2 ACK");
    assert_eq!(
        phone.events(),
        [
            CallEvent::RemoteAnswer {
                sdp: answer.to_owned(),
                early: false
            },
            CallEvent::HoldChanged { held: true }
        ]
    );
    assert!(phone.call.is_held());

    phone
        .call
        .reoffer(phone.now, Reoffer::Resume, offer("a=sendrecv"))
        .unwrap();
    let resume = phone.sent();
    assert_eq!(resume.header("CSeq"), "3 INVITE");
    phone.receive(&resume.reply("100 Trying", &[], None));
    phone.receive(&resume.ok("v=0\r\na=sendrecv\r\n"));
    assert_eq!(phone.sent().header("CSeq"), "3 ACK");
    assert_eq!(
        phone.events().last(),
        Some(&CallEvent::HoldChanged { held: false })
    );
    assert!(!phone.call.is_held());
}

#[test]
fn request_pending_leaves_the_call_as_it_was() {
    let (mut phone, _, _) = Phone::connected();
    phone
        .call
        .reoffer(phone.now, Reoffer::Hold, offer("a=sendonly"))
        .unwrap();
    let hold = phone.sent();
    phone.receive(&hold.reply("491 Request Pending", &[], None));
    assert_eq!(phone.sent().method(), "ACK");
    assert_eq!(
        phone.events(),
        [CallEvent::OfferRejected {
            reoffer: Reoffer::Hold,
            code: 491,
            reason: "Request Pending".to_owned()
        }]
    );
    assert!(!phone.call.is_held());
    // And another try is allowed.
    phone
        .call
        .reoffer(phone.now, Reoffer::Hold, offer("a=sendonly"))
        .unwrap();
    assert_eq!(phone.sent().header("CSeq"), "3 INVITE");
}

#[test]
fn a_lost_dialog_ends_the_call() {
    let (mut phone, _, _) = Phone::connected();
    phone
        .call
        .reoffer(phone.now, Reoffer::Hold, offer("a=sendonly"))
        .unwrap();
    let hold = phone.sent();
    phone.receive(&hold.reply("481 Call/Transaction Does Not Exist", &[], None));
    let methods: Vec<String> = phone
        .all_sent()
        .iter()
        .map(|s| s.method().to_owned())
        .collect();
    assert_eq!(methods, ["ACK", "BYE"]);
    let events = phone.events();
    assert!(matches!(
        events.as_slice(),
        [
            CallEvent::OfferRejected { code: 481, .. },
            CallEvent::Ended(EndCause::Broken { code: 481, .. })
        ]
    ));
}

#[test]
fn hold_needs_a_connected_call() {
    let (mut phone, _) = Phone::dial();
    assert_eq!(
        phone
            .call
            .reoffer(phone.now, Reoffer::Hold, offer("a=sendonly")),
        Err(CallError::NotConnected)
    );
}
