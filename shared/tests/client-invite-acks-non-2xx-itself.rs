//! A 300–699 response to an INVITE is acknowledged by the client
//! transaction (RFC 3261 §17.1.1.3): the ACK has the INVITE's branch,
//! Request-URI, From, Call-ID, CSeq number and Route, and the To (with tag)
//! of the response. Retransmissions of the response get the ACK again and
//! do not reach the TU; timer D (32 s on UDP) ends the transaction.
#![allow(clippy::unwrap_used)]

mod tx_support;

use shared::sip::transaction::{
    BuildError, ClientInvite, ClientInviteState, Timers, TxEvent, ack_for_non_2xx,
};
use tx_support::{Sim, as_request, header, headers, invite, ms, response};

#[test]
fn busy_here_is_acked_with_the_invite_branch_and_the_response_to_tag() {
    let request = invite("z9hG4bKbusy");
    let mut sim = Sim::new(ClientInvite::new(
        ms(0),
        request.clone(),
        false,
        Timers::default(),
    ));
    sim.take_sent();
    sim.run_until(200);
    let busy = response(&request, 486, "bobtag");
    sim.input(|tx, now| tx.handle_response(now, busy.clone()));

    assert_eq!(sim.tx.state(), ClientInviteState::Completed);
    assert_eq!(sim.take_events(), [(200, TxEvent::Response(busy.clone()))]);
    let sent = sim.take_sent();
    assert_eq!(sent.len(), 1);
    let ack = as_request(&sent[0].1);
    assert_eq!(ack.method, rsip::Method::Ack);
    assert_eq!(ack.uri, request.uri);
    assert_eq!(
        headers(ack, "Via"),
        ["SIP/2.0/UDP pc33.atlanta.example.com:5060;branch=z9hG4bKbusy"],
        "one Via: the INVITE's top Via"
    );
    assert_eq!(header(ack, "To"), header(&busy, "To"));
    assert!(header(ack, "To").unwrap().ends_with(";tag=bobtag"));
    assert_eq!(header(ack, "From"), header(&request, "From"));
    assert_eq!(header(ack, "Call-ID"), header(&request, "Call-ID"));
    assert_eq!(header(ack, "CSeq").as_deref(), Some("1 ACK"));
    assert_eq!(headers(ack, "Route"), headers(&request, "Route"));
    assert_eq!(header(ack, "Max-Forwards").as_deref(), Some("70"));
    assert_eq!(header(ack, "Content-Length").as_deref(), Some("0"));
    assert!(header(ack, "Contact").is_none());
    assert!(ack.body.is_empty());

    // The server did not get the ACK and retransmits: ACK again, TU not told.
    sim.run_until(1_200);
    sim.input(|tx, now| tx.handle_response(now, busy.clone()));
    let again = sim.take_sent();
    assert_eq!(again.len(), 1);
    assert_eq!(as_request(&again[0].1), ack);
    assert!(sim.take_events().is_empty());

    // Timer D: 32 s after the response.
    sim.run_until(32_199);
    assert!(!sim.tx.is_terminated());
    sim.run_until(32_200);
    assert_eq!(sim.take_events(), [(32_200, TxEvent::Terminated)]);
}

#[test]
fn over_a_reliable_transport_timer_d_is_zero() {
    let request = invite("z9hG4bKbusytcp");
    let mut sim = Sim::new(ClientInvite::new(
        ms(0),
        request.clone(),
        true,
        Timers::default(),
    ));
    sim.take_sent();
    let busy = response(&request, 603, "bobtag");
    sim.input(|tx, now| tx.handle_response(now, busy.clone()));
    assert_eq!(sim.take_sent().len(), 1, "the ACK is still sent");
    assert_eq!(
        sim.take_events(),
        [(0, TxEvent::Response(busy)), (0, TxEvent::Terminated)]
    );
}

#[test]
fn ack_for_non_2xx_refuses_what_is_not_its_business() {
    let request = invite("z9hG4bKrefuse");
    assert_eq!(
        ack_for_non_2xx(&request, &response(&request, 200, "x")),
        Err(BuildError::NotNon2xxFinal(200))
    );
    assert_eq!(
        ack_for_non_2xx(&request, &response(&request, 180, "x")),
        Err(BuildError::NotNon2xxFinal(180))
    );
    let options = tx_support::request("OPTIONS", "z9hG4bKopt");
    assert_eq!(
        ack_for_non_2xx(&options, &response(&options, 404, "x")),
        Err(BuildError::NotInvite(rsip::Method::Options))
    );
}
