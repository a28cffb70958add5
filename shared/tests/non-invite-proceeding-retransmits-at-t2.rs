//! A provisional response moves a non-INVITE client transaction to
//! Proceeding, where it keeps retransmitting, every T2 from the next firing
//! of timer E on (§17.1.2.2), until a final response or timer F.
#![allow(clippy::unwrap_used)]

mod tx_support;

use shared::sip::transaction::{ClientNonInvite, ClientNonInviteState, Timers, TxEvent};
use tx_support::{Sim, ms, request, response};

#[test]
fn provisional_then_retransmissions_every_t2() {
    let register = request("REGISTER", "z9hG4bKreg");
    let mut sim = Sim::new(ClientNonInvite::new(
        ms(0),
        register.clone(),
        false,
        Timers::default(),
    ));
    sim.run_until(700);
    assert_eq!(sim.sent_times(), [0, 500]);

    let trying = response(&register, 100, "");
    sim.input(|tx, now| tx.handle_response(now, trying.clone()));
    assert_eq!(sim.tx.state(), ClientNonInviteState::Proceeding);
    assert_eq!(sim.take_events(), [(700, TxEvent::Response(trying))]);

    // Timer E was armed for 1.5 s before the 100 came; from then on T2.
    sim.run_until(31_999);
    assert_eq!(
        sim.sent_times(),
        [1_500, 5_500, 9_500, 13_500, 17_500, 21_500, 25_500, 29_500]
    );
    sim.run_until(32_000);
    assert_eq!(sim.take_events()[0], (32_000, TxEvent::Timeout));
}

#[test]
fn final_response_in_proceeding_stops_everything_but_timer_k() {
    let register = request("REGISTER", "z9hG4bKreg2");
    let mut sim = Sim::new(ClientNonInvite::new(
        ms(0),
        register.clone(),
        false,
        Timers::default(),
    ));
    sim.input(|tx, now| tx.handle_response(now, response(&register, 100, "")));
    sim.run_until(2_000);
    let ok = response(&register, 200, "r");
    sim.input(|tx, now| tx.handle_response(now, ok.clone()));
    assert_eq!(sim.tx.state(), ClientNonInviteState::Completed);
    sim.take_sent();
    sim.take_events();
    sim.run_until(6_999);
    sim.nothing_sent();
    sim.run_until(7_000);
    assert_eq!(sim.take_events(), [(7_000, TxEvent::Terminated)]);
}
