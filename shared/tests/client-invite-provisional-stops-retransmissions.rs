//! A provisional response moves an INVITE client transaction to Proceeding:
//! no more retransmissions (§17.1.1.2) and no timer B, which runs in
//! Calling only; the TU decides how long to wait (and may CANCEL, after
//! which a final response is awaited 64·T1 at most, §9.1).
#![allow(clippy::unwrap_used)]

mod tx_support;

use shared::sip::transaction::{ClientInvite, ClientInviteState, Timers, TxEvent};
use tx_support::{Sim, invite, ms, response};

#[test]
fn ringing_stops_timer_a_and_timer_b() {
    let request = invite("z9hG4bKring");
    let mut sim = Sim::new(ClientInvite::new(
        ms(0),
        request.clone(),
        false,
        Timers::default(),
    ));
    sim.run_until(600);
    assert_eq!(sim.sent_times(), [0, 500]);

    let ringing = response(&request, 180, "b1");
    sim.input(|tx, now| tx.handle_response(now, ringing.clone()));
    assert_eq!(sim.tx.state(), ClientInviteState::Proceeding);
    assert_eq!(
        sim.take_events(),
        [(600, TxEvent::Response(ringing.clone()))]
    );
    assert_eq!(sim.tx.poll_timeout(), None);

    sim.run_until(120_000);
    sim.nothing_sent();
    assert!(sim.take_events().is_empty(), "no timeout while ringing");

    // Every provisional goes up.
    sim.input(|tx, now| tx.handle_response(now, ringing.clone()));
    assert_eq!(sim.take_events().len(), 1);
}

#[test]
fn no_final_response_after_cancel_gives_up_after_64_t1() {
    let request = invite("z9hG4bKcancelwait");
    let mut sim = Sim::new(ClientInvite::new(
        ms(0),
        request.clone(),
        true,
        Timers::default(),
    ));
    sim.input(|tx, now| tx.handle_response(now, response(&request, 180, "b1")));
    sim.take_events();
    sim.run_until(10_000);
    sim.input(|tx, now| tx.handle_cancel_sent(now));
    sim.run_until(41_999);
    assert!(sim.take_events().is_empty());
    sim.run_until(42_000);
    assert_eq!(
        sim.take_events(),
        [(42_000, TxEvent::Timeout), (42_000, TxEvent::Terminated)]
    );
}

#[test]
fn a_final_response_after_cancel_clears_the_deadline() {
    let request = invite("z9hG4bKcancelled");
    let mut sim = Sim::new(ClientInvite::new(
        ms(0),
        request.clone(),
        true,
        Timers::default(),
    ));
    sim.input(|tx, now| tx.handle_response(now, response(&request, 180, "b1")));
    sim.input(|tx, now| tx.handle_cancel_sent(now));
    sim.run_until(1_000);
    let terminated = response(&request, 487, "b1");
    sim.input(|tx, now| tx.handle_response(now, terminated.clone()));
    let events = sim.take_events();
    assert!(events.contains(&(1_000, TxEvent::Response(terminated))));
    assert!(!events.iter().any(|(_, e)| *e == TxEvent::Timeout));
}
