//! RFC 6026: a 2xx to an INVITE moves the client transaction to Accepted
//! for 64·T1 (timer M) instead of destroying it, so that retransmitted 2xx
//! (and 2xx from other forks) still match a transaction and reach the TU,
//! which ACKs each. The transaction itself never ACKs a 2xx.
#![allow(clippy::unwrap_used)]

mod tx_support;

use shared::sip::transaction::{ClientInvite, ClientInviteState, Timers, TxEvent};
use tx_support::{Sim, invite, ms, response};

#[test]
fn every_2xx_reaches_the_tu_until_timer_m() {
    let request = invite("z9hG4bKok");
    let mut sim = Sim::new(ClientInvite::new(
        ms(0),
        request.clone(),
        false,
        Timers::default(),
    ));
    sim.take_sent();
    sim.run_until(1_000);
    sim.take_sent(); // the retransmission at 500 ms
    let ok = response(&request, 200, "fork1");
    sim.input(|tx, now| tx.handle_response(now, ok.clone()));
    assert_eq!(sim.tx.state(), ClientInviteState::Accepted);
    assert_eq!(sim.take_events(), [(1_000, TxEvent::Response(ok.clone()))]);
    sim.nothing_sent();

    sim.run_until(5_000);
    sim.nothing_sent();
    sim.input(|tx, now| tx.handle_response(now, ok.clone()));
    let other_fork = response(&request, 200, "fork2");
    sim.input(|tx, now| tx.handle_response(now, other_fork.clone()));
    assert_eq!(
        sim.take_events(),
        [
            (5_000, TxEvent::Response(ok.clone())),
            (5_000, TxEvent::Response(other_fork))
        ]
    );
    // Late provisional and non-2xx responses change nothing.
    sim.input(|tx, now| tx.handle_response(now, response(&request, 180, "fork3")));
    sim.input(|tx, now| tx.handle_response(now, response(&request, 500, "fork3")));
    assert!(sim.take_events().is_empty());
    sim.nothing_sent();

    sim.run_until(32_999);
    assert_eq!(sim.tx.state(), ClientInviteState::Accepted);
    sim.run_until(33_000);
    assert_eq!(sim.take_events(), [(33_000, TxEvent::Terminated)]);
}

#[test]
fn timer_m_is_64_t1_on_reliable_transports_too() {
    let request = invite("z9hG4bKoktcp");
    let mut sim = Sim::new(ClientInvite::new(
        ms(0),
        request.clone(),
        true,
        Timers::default(),
    ));
    sim.input(|tx, now| tx.handle_response(now, response(&request, 200, "b")));
    sim.take_events();
    sim.run_until(31_999);
    assert!(!sim.tx.is_terminated());
    sim.run_until(32_000);
    assert!(sim.tx.is_terminated());
}
