//! A 183 with SDP is the answer (early media: the page plays the remote
//! track instead of a local ringback); the 200 that repeats it must not
//! apply it again.
#![allow(clippy::unwrap_used)]

mod call_harness;

use call_harness::{ANSWER, Phone};
use shared::sip::call::CallEvent;

#[test]
fn session_progress_with_sdp_then_the_same_sdp_in_the_200() {
    let (mut phone, invite) = Phone::dial();
    phone.receive(&invite.reply("183 Session Progress", &[], Some(ANSWER)));
    assert_eq!(
        phone.events(),
        [
            CallEvent::Ringing,
            CallEvent::RemoteAnswer {
                sdp: ANSWER.to_owned(),
                early: true
            }
        ]
    );
    phone.receive(&invite.reply("180 Ringing", &[], None));
    phone.receive(&invite.reply("183 Session Progress", &[], Some(ANSWER)));
    assert!(phone.events().is_empty());

    phone.receive(&invite.ok(ANSWER));
    assert_eq!(phone.sent().method(), "ACK");
    assert_eq!(phone.events(), [CallEvent::Answered]);
}

#[test]
fn a_200_without_sdp_after_early_media_is_fine() {
    let (mut phone, invite) = Phone::dial();
    phone.receive(&invite.reply("183 Session Progress", &[], Some(ANSWER)));
    phone.events();
    phone.receive(&invite.reply("200 OK", &[], None));
    assert_eq!(phone.sent().method(), "ACK");
    assert_eq!(phone.events(), [CallEvent::Answered]);
}

#[test]
fn a_183_without_sdp_is_plain_ringing() {
    let (mut phone, invite) = Phone::dial();
    phone.receive(&invite.reply("183 Session Progress", &[], None));
    assert_eq!(phone.events(), [CallEvent::Ringing]);
    phone.receive(&invite.ok(ANSWER));
    phone.sent();
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
}
