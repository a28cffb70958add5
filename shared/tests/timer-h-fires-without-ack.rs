//! An INVITE server transaction whose 300–699 response is never
//! acknowledged gives up at 64·T1 (timer H) and tells the TU.
#![allow(clippy::unwrap_used)]

mod tx_support;

use shared::sip::transaction::{ServerInvite, Timers, TxEvent};
use tx_support::{Sim, invite, ms, response};

#[test]
fn timeout_32_s_after_the_final_response() {
    let request = invite("z9hG4bKnoack");
    let mut sim = Sim::new(ServerInvite::new(
        ms(0),
        request.clone(),
        false,
        Timers::default(),
    ));
    sim.run_until(100);
    sim.input(|tx, now| {
        tx.send_response(now, response(&request, 503, "uas"))
            .unwrap()
    });
    sim.run_until(32_099);
    assert_eq!(
        sim.sent_times(),
        [
            100, 600, 1_600, 3_600, 7_600, 11_600, 15_600, 19_600, 23_600, 27_600, 31_600
        ]
    );
    assert!(sim.take_events().is_empty());
    sim.run_until(32_100);
    assert_eq!(
        sim.take_events(),
        [(32_100, TxEvent::Timeout), (32_100, TxEvent::Terminated)]
    );
    sim.nothing_sent();
}

#[test]
fn timer_h_runs_on_reliable_transports_too() {
    let request = invite("z9hG4bKnoacktcp");
    let mut sim = Sim::new(ServerInvite::new(
        ms(0),
        request.clone(),
        true,
        Timers::default(),
    ));
    sim.input(|tx, now| {
        tx.send_response(now, response(&request, 486, "uas"))
            .unwrap()
    });
    sim.run_until(32_000);
    assert_eq!(sim.sent_times(), [0]);
    assert_eq!(sim.take_events()[0], (32_000, TxEvent::Timeout));
}
