//! After a final response the non-INVITE client transaction waits T4
//! (timer K) on UDP, absorbing retransmissions of that response, so the TU
//! hears it once; on a reliable transport K is zero.
#![allow(clippy::unwrap_used)]

mod tx_support;

use shared::sip::transaction::{ClientNonInvite, ClientNonInviteState, Timers, TxEvent};
use tx_support::{Sim, ms, request, response};

#[test]
fn final_response_reaches_the_tu_once_then_t4() {
    let options = request("OPTIONS", "z9hG4bKk");
    let mut sim = Sim::new(ClientNonInvite::new(
        ms(0),
        options.clone(),
        false,
        Timers::default(),
    ));
    sim.take_sent();
    sim.run_until(100);
    let ok = response(&options, 200, "k");
    sim.input(|tx, now| tx.handle_response(now, ok.clone()));
    assert_eq!(sim.take_events(), [(100, TxEvent::Response(ok.clone()))]);
    assert_eq!(sim.tx.state(), ClientNonInviteState::Completed);

    sim.run_until(3_000);
    sim.input(|tx, now| tx.handle_response(now, ok.clone()));
    sim.input(|tx, now| tx.handle_response(now, response(&options, 100, "")));
    assert!(sim.take_events().is_empty(), "retransmissions are absorbed");
    sim.nothing_sent();

    sim.run_until(5_099);
    assert_eq!(sim.tx.state(), ClientNonInviteState::Completed);
    sim.run_until(5_100);
    assert_eq!(sim.take_events(), [(5_100, TxEvent::Terminated)]);
}

#[test]
fn timer_k_is_zero_on_a_reliable_transport() {
    let options = request("OPTIONS", "z9hG4bKktcp");
    let mut sim = Sim::new(ClientNonInvite::new(
        ms(0),
        options.clone(),
        true,
        Timers::default(),
    ));
    let not_found = response(&options, 404, "k");
    sim.input(|tx, now| tx.handle_response(now, not_found.clone()));
    assert_eq!(
        sim.take_events(),
        [(0, TxEvent::Response(not_found)), (0, TxEvent::Terminated)]
    );
    assert_eq!(sim.tx.poll_timeout(), None);
}
