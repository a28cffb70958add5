//! RFC 3261 §17.2.3, for requests without the magic cookie: an ACK matches
//! the INVITE server transaction only if its To tag is the one of the
//! response that transaction sent. (An RFC 3261 ACK is matched by branch.)
#![allow(clippy::unwrap_used)]

mod tx_support;

use shared::sip::transaction::{ServerInvite, ServerInviteState, Timers};
use tx_support::{Sim, invite, ms, request_with, response};

#[test]
fn ack_with_another_to_tag_is_not_ours() {
    let request = request_with("INVITE", "oldbranch", "", 3);
    let mut sim = Sim::new(ServerInvite::new(
        ms(0),
        request.clone(),
        false,
        Timers::default(),
    ));
    sim.input(|tx, now| {
        tx.send_response(now, response(&request, 404, "ours"))
            .unwrap()
    });

    sim.input(|tx, now| tx.handle_request(now, request_with("ACK", "oldbranch", "theirs", 3)));
    assert_eq!(sim.tx.state(), ServerInviteState::Completed);
    sim.input(|tx, now| tx.handle_request(now, request_with("ACK", "oldbranch", "", 3)));
    assert_eq!(sim.tx.state(), ServerInviteState::Completed);

    sim.input(|tx, now| tx.handle_request(now, request_with("ACK", "oldbranch", "ours", 3)));
    assert_eq!(sim.tx.state(), ServerInviteState::Confirmed);
}

#[test]
fn rfc3261_ack_is_matched_by_branch_alone() {
    let request = invite("z9hG4bKmodern");
    let mut sim = Sim::new(ServerInvite::new(
        ms(0),
        request.clone(),
        false,
        Timers::default(),
    ));
    sim.input(|tx, now| {
        tx.send_response(now, response(&request, 404, "ours"))
            .unwrap()
    });
    sim.input(|tx, now| tx.handle_request(now, request_with("ACK", "z9hG4bKmodern", "ours", 1)));
    assert_eq!(sim.tx.state(), ServerInviteState::Confirmed);
}
