//! Non-INVITE server transaction (§17.2.2): retransmissions of the request
//! are absorbed while the TU works (Trying), answered with the last
//! provisional in Proceeding and with the final response in Completed,
//! which lasts 64·T1 (timer J) on UDP and not at all on a reliable
//! transport. A second final response is refused.
#![allow(clippy::unwrap_used)]

mod tx_support;

use shared::sip::transaction::{ServerNonInvite, ServerNonInviteState, Timers, TxEvent};
use tx_support::{Sim, as_response, ms, request, response};

#[test]
fn last_response_for_every_retransmission_until_timer_j() {
    let register = request("REGISTER", "z9hG4bKsni");
    let mut sim = Sim::new(ServerNonInvite::new(
        ms(0),
        register.clone(),
        false,
        Timers::default(),
    ));
    assert_eq!(sim.tx.state(), ServerNonInviteState::Trying);
    assert_eq!(sim.tx.poll_timeout(), None);
    sim.run_until(500);
    sim.input(|tx, now| tx.handle_request(now, register.clone()));
    sim.nothing_sent();

    let trying = response(&register, 100, "");
    sim.input(|tx, now| tx.send_response(now, trying.clone()).unwrap());
    assert_eq!(sim.tx.state(), ServerNonInviteState::Proceeding);
    sim.run_until(1_500);
    sim.input(|tx, now| tx.handle_request(now, register.clone()));
    let sent = sim.take_sent();
    assert_eq!(sent.len(), 2);
    assert_eq!(as_response(&sent[1].1), &trying);

    sim.run_until(2_000);
    let ok = response(&register, 200, "reg");
    sim.input(|tx, now| tx.send_response(now, ok.clone()).unwrap());
    assert_eq!(sim.tx.state(), ServerNonInviteState::Completed);
    sim.run_until(3_500);
    sim.input(|tx, now| tx.handle_request(now, register.clone()));
    let sent = sim.take_sent();
    assert_eq!(sent.len(), 2);
    assert_eq!(as_response(&sent[1].1), &ok);

    let refused = sim
        .tx
        .send_response(sim.now, response(&register, 500, "reg"))
        .unwrap_err();
    assert_eq!(refused.state, "Completed");
    sim.nothing_sent();

    sim.run_until(33_999);
    assert_eq!(sim.tx.state(), ServerNonInviteState::Completed);
    sim.run_until(34_000);
    assert_eq!(sim.take_events(), [(34_000, TxEvent::Terminated)]);
}

#[test]
fn timer_j_is_zero_on_a_reliable_transport() {
    let options = request("OPTIONS", "z9hG4bKsnitcp");
    let mut sim = Sim::new(ServerNonInvite::new(
        ms(0),
        options.clone(),
        true,
        Timers::default(),
    ));
    sim.input(|tx, now| tx.send_response(now, response(&options, 200, "o")).unwrap());
    assert_eq!(sim.sent_times(), [0], "the response is still there to send");
    assert_eq!(sim.take_events(), [(0, TxEvent::Terminated)]);
    assert!(sim.tx.is_terminated());
}
