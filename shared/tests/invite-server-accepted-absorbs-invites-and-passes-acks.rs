//! RFC 6026: after a 2xx the INVITE server transaction is Accepted for
//! 64·T1 (timer L): INVITE retransmissions are absorbed (not mistaken for
//! new requests), the TU's own 2xx retransmissions go out through it, the
//! ACK for the 2xx goes up to the TU, and it never retransmits on its own.
#![allow(clippy::unwrap_used)]

mod tx_support;

use shared::sip::transaction::{ServerInvite, ServerInviteState, Timers, TxEvent};
use tx_support::{Sim, as_response, invite, ms, request_with, response};

#[test]
fn accepted_until_timer_l() {
    let request = invite("z9hG4bKacc");
    let mut sim = Sim::new(ServerInvite::new(
        ms(0),
        request.clone(),
        false,
        Timers::default(),
    ));
    sim.run_until(100);
    let ok = response(&request, 200, "uas");
    sim.input(|tx, now| tx.send_response(now, ok.clone()).unwrap());
    assert_eq!(sim.tx.state(), ServerInviteState::Accepted);
    assert_eq!(sim.sent_times(), [100], "no 100 Trying after the 2xx");

    sim.run_until(600);
    sim.input(|tx, now| tx.handle_request(now, request.clone()));
    sim.nothing_sent();

    // The TU retransmits its 2xx (§13.3.1.4) through the transaction.
    sim.input(|tx, now| tx.send_response(now, ok.clone()).unwrap());
    let sent = sim.take_sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(as_response(&sent[0].1), &ok);
    // But never anything else.
    assert!(
        sim.tx
            .send_response(sim.now, response(&request, 486, "uas"))
            .is_err()
    );

    // The ACK for the 2xx: its own branch, and for the TU.
    let ack = request_with("ACK", "z9hG4bKackfor2xx", "uas", 1);
    sim.input(|tx, now| tx.handle_request(now, ack.clone()));
    assert_eq!(sim.take_events(), [(600, TxEvent::Request(ack))]);
    assert_eq!(sim.tx.state(), ServerInviteState::Accepted);

    sim.run_until(32_099);
    sim.nothing_sent();
    assert_eq!(sim.tx.state(), ServerInviteState::Accepted);
    sim.run_until(32_100);
    assert_eq!(sim.take_events(), [(32_100, TxEvent::Terminated)]);
}
