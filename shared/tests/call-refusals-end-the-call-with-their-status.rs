//! A final 300–699 to the INVITE: the transaction ACKs it (the INVITE's
//! branch, the response's To tag) and the call ends with the code and the
//! reason phrase as the gateway wrote it.
#![allow(clippy::unwrap_used)]

mod call_harness;

use call_harness::Phone;
use shared::sip::call::{CallEvent, CallState, EndCause};

fn refused(status: &str) -> (Vec<String>, Vec<CallEvent>) {
    let (mut phone, invite) = Phone::dial();
    phone.receive(&invite.reply("100 Trying", &[], None));
    phone.receive(&invite.reply(status, &[], None));
    let sent = phone.all_sent();
    for ack in &sent {
        assert_eq!(ack.method(), "ACK");
        assert_eq!(ack.branch(), invite.branch());
        assert_eq!(ack.header("To"), format!("{};tag=gw1", invite.header("To")));
    }
    assert_eq!(phone.call.state(), CallState::Ended);
    assert!(phone.call.is_terminated());
    (sent.into_iter().map(|s| s.text).collect(), phone.events())
}

#[test]
fn each_final_status_is_acked_and_reported() {
    for (status, code, reason) in [
        ("486 Busy Here", 486, "Busy Here"),
        ("600 Busy Everywhere", 600, "Busy Everywhere"),
        ("408 Request Timeout", 408, "Request Timeout"),
        (
            "480 Temporarily Unavailable",
            480,
            "Temporarily Unavailable",
        ),
        ("603 Decline", 603, "Decline"),
        ("404 Not Found", 404, "Not Found"),
        ("484 Address Incomplete", 484, "Address Incomplete"),
        ("503 Service Unavailable", 503, "Service Unavailable"),
        ("488 Not Acceptable Here", 488, "Not Acceptable Here"),
        (
            "403 Forbidden (number barred)",
            403,
            "Forbidden (number barred)",
        ),
        ("302 Moved Temporarily", 302, "Moved Temporarily"),
        ("499 Something Odd", 499, "Something Odd"),
    ] {
        let (sent, events) = refused(status);
        assert_eq!(sent.len(), 1, "{status}: one ACK");
        assert_eq!(
            events,
            [CallEvent::Ended(EndCause::Refused {
                code,
                reason: reason.to_owned()
            })],
            "{status}"
        );
    }
}

#[test]
fn refusal_after_ringing() {
    let (mut phone, invite) = Phone::dial();
    phone.receive(&invite.reply("180 Ringing", &[], None));
    phone.receive(&invite.reply("486 Busy Here", &[], None));
    assert_eq!(phone.sent().method(), "ACK");
    assert_eq!(
        phone.events(),
        [
            CallEvent::Ringing,
            CallEvent::Ended(EndCause::Refused {
                code: 486,
                reason: "Busy Here".to_owned()
            })
        ]
    );
}

#[test]
fn no_response_at_all_times_out_after_64_t1() {
    let (mut phone, _) = Phone::dial();
    let waited = phone.advance_to_timeout();
    assert_eq!(waited.as_secs(), 32);
    assert_eq!(phone.events(), [CallEvent::Ended(EndCause::NoResponse)]);
    assert!(phone.call.is_terminated());
}

#[test]
fn a_provisional_response_stops_timer_b() {
    let (mut phone, invite) = Phone::dial();
    phone.receive(&invite.reply("100 Trying", &[], None));
    assert_eq!(phone.call.poll_timeout(), None, "ringing may last");
}
