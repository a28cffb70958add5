//! Non-INVITE client transaction over UDP with no answer: timer E doubles
//! from T1 up to T2 (RFC 3261 §17.1.2.2), eleven transmissions in all, and
//! timer F ends it at 64·T1 with a Timeout for the TU.
#![allow(clippy::unwrap_used)]

mod tx_support;

use shared::sip::transaction::{ClientNonInvite, ClientNonInviteState, Timers, TxEvent};
use tx_support::{Sim, ms, request};

#[test]
fn backoff_capped_at_t2_then_timeout_at_32_s() {
    let options = request("OPTIONS", "z9hG4bKopts");
    let mut sim = Sim::new(ClientNonInvite::new(
        ms(0),
        options,
        false,
        Timers::default(),
    ));
    assert_eq!(sim.tx.state(), ClientNonInviteState::Trying);
    sim.run_until(31_999);
    assert_eq!(
        sim.sent_times(),
        [
            0, 500, 1_500, 3_500, 7_500, 11_500, 15_500, 19_500, 23_500, 27_500, 31_500
        ]
    );
    sim.run_until(32_000);
    assert_eq!(
        sim.take_events(),
        [(32_000, TxEvent::Timeout), (32_000, TxEvent::Terminated)]
    );
    assert_eq!(sim.tx.poll_timeout(), None);
}

#[test]
fn reliable_transport_sends_once_and_still_times_out() {
    let bye = request("BYE", "z9hG4bKbyetcp");
    let mut sim = Sim::new(ClientNonInvite::new(ms(0), bye, true, Timers::default()));
    sim.run_until(31_999);
    assert_eq!(sim.sent_times(), [0]);
    sim.run_until(32_000);
    assert_eq!(sim.take_events()[0], (32_000, TxEvent::Timeout));
}
