//! A send failure the shell reports: client transactions and the
//! non-INVITE server transaction end with TransportError (RFC 3261 §17);
//! the INVITE server transaction tells the TU but keeps its state, as in
//! RFC 6026's figure (its own timers end it).
#![allow(clippy::unwrap_used)]

mod tx_support;

use shared::sip::transaction::{
    ClientInvite, ClientNonInvite, ServerInvite, ServerInviteState, ServerNonInvite, Timers,
    TxEvent,
};
use tx_support::{Sim, invite, ms, request, response};

#[test]
fn client_invite_ends() {
    let mut sim = Sim::new(ClientInvite::new(
        ms(0),
        invite("z9hG4bKte1"),
        false,
        Timers::default(),
    ));
    sim.input(|tx, now| tx.handle_transport_error(now));
    assert_eq!(
        sim.take_events(),
        [(0, TxEvent::TransportError), (0, TxEvent::Terminated)]
    );
    assert_eq!(sim.tx.poll_timeout(), None);
}

#[test]
fn client_non_invite_ends() {
    let mut sim = Sim::new(ClientNonInvite::new(
        ms(0),
        request("MESSAGE", "z9hG4bKte2"),
        false,
        Timers::default(),
    ));
    sim.input(|tx, now| tx.handle_transport_error(now));
    assert_eq!(
        sim.take_events(),
        [(0, TxEvent::TransportError), (0, TxEvent::Terminated)]
    );
}

#[test]
fn server_non_invite_ends() {
    let options = request("OPTIONS", "z9hG4bKte3");
    let mut sim = Sim::new(ServerNonInvite::new(
        ms(0),
        options.clone(),
        false,
        Timers::default(),
    ));
    sim.input(|tx, now| tx.send_response(now, response(&options, 200, "o")).unwrap());
    sim.input(|tx, now| tx.handle_transport_error(now));
    assert_eq!(
        sim.take_events(),
        [(0, TxEvent::TransportError), (0, TxEvent::Terminated)]
    );
}

#[test]
fn server_invite_tells_the_tu_and_carries_on() {
    let request = invite("z9hG4bKte4");
    let mut sim = Sim::new(ServerInvite::new(
        ms(0),
        request.clone(),
        false,
        Timers::default(),
    ));
    sim.input(|tx, now| {
        tx.send_response(now, response(&request, 486, "uas"))
            .unwrap()
    });
    sim.input(|tx, now| tx.handle_transport_error(now));
    assert_eq!(sim.take_events(), [(0, TxEvent::TransportError)]);
    assert_eq!(sim.tx.state(), ServerInviteState::Completed);
    sim.run_until(32_000);
    assert!(sim.tx.is_terminated());
}
