//! INVITE server transaction, 300–699 over UDP: timer G retransmits the
//! final response at T1, 2·T1… capped at T2 until the ACK arrives; a
//! retransmitted INVITE gets it at once; the ACK moves it to Confirmed,
//! which absorbs further ACKs until timer I (T4) ends it.
#![allow(clippy::unwrap_used)]

mod tx_support;

use shared::sip::transaction::{ServerInvite, ServerInviteState, Timers, TxEvent, ack_for_non_2xx};
use tx_support::{Sim, as_response, invite, ms, response};

#[test]
fn busy_retransmitted_until_ack_then_confirmed_for_t4() {
    let request = invite("z9hG4bKsrv");
    let mut sim = Sim::new(ServerInvite::new(
        ms(0),
        request.clone(),
        false,
        Timers::default(),
    ));
    sim.input(|tx, now| {
        tx.send_response(now, response(&request, 180, "uas"))
            .unwrap()
    });
    sim.run_until(1_000);
    let busy = response(&request, 486, "uas");
    sim.input(|tx, now| tx.send_response(now, busy.clone()).unwrap());
    assert_eq!(sim.tx.state(), ServerInviteState::Completed);

    sim.run_until(13_000);
    let sent = sim.take_sent();
    let times: Vec<u64> = sent.iter().map(|(at, _)| *at).collect();
    assert_eq!(times, [0, 1_000, 1_500, 2_500, 4_500, 8_500, 12_500]);
    for (_, message) in &sent[1..] {
        assert_eq!(as_response(message), &busy);
    }

    // The INVITE again: the final response again, at once.
    sim.input(|tx, now| tx.handle_request(now, request.clone()));
    assert_eq!(sim.take_sent().len(), 1);

    let ack = ack_for_non_2xx(&request, &busy).unwrap();
    sim.input(|tx, now| tx.handle_request(now, ack.clone()));
    assert_eq!(sim.tx.state(), ServerInviteState::Confirmed);
    assert!(
        sim.take_events().is_empty(),
        "the ACK of a non-2xx is not the TU's"
    );

    sim.input(|tx, now| tx.handle_request(now, ack.clone()));
    sim.input(|tx, now| tx.handle_request(now, request.clone()));
    sim.run_until(17_999);
    sim.nothing_sent();
    assert_eq!(sim.tx.state(), ServerInviteState::Confirmed);
    sim.run_until(18_000);
    assert_eq!(sim.take_events(), [(18_000, TxEvent::Terminated)]);
}

#[test]
fn provisional_answers_invite_retransmissions_in_proceeding() {
    let request = invite("z9hG4bKsrv2");
    let mut sim = Sim::new(ServerInvite::new(
        ms(0),
        request.clone(),
        false,
        Timers::default(),
    ));
    let ringing = response(&request, 180, "uas");
    sim.input(|tx, now| tx.send_response(now, ringing.clone()).unwrap());
    sim.take_sent();
    sim.run_until(500);
    sim.input(|tx, now| tx.handle_request(now, request.clone()));
    let sent = sim.take_sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(as_response(&sent[0].1), &ringing);
}

#[test]
fn reliable_transport_no_timer_g_and_timer_i_zero() {
    let request = invite("z9hG4bKsrvtcp");
    let mut sim = Sim::new(ServerInvite::new(
        ms(0),
        request.clone(),
        true,
        Timers::default(),
    ));
    let busy = response(&request, 486, "uas");
    sim.input(|tx, now| tx.send_response(now, busy.clone()).unwrap());
    sim.run_until(20_000);
    assert_eq!(
        sim.sent_times(),
        [0],
        "no retransmission over a reliable transport"
    );
    let ack = ack_for_non_2xx(&request, &busy).unwrap();
    sim.input(|tx, now| tx.handle_request(now, ack));
    assert_eq!(sim.take_events(), [(20_000, TxEvent::Terminated)]);
    assert!(sim.tx.is_terminated());
}

#[test]
fn nothing_but_a_2xx_after_a_final_response() {
    let request = invite("z9hG4bKsrv3");
    let mut tx = ServerInvite::new(ms(0), request.clone(), false, Timers::default());
    tx.send_response(ms(0), response(&request, 404, "uas"))
        .unwrap();
    let refused = tx
        .send_response(ms(1), response(&request, 200, "uas"))
        .unwrap_err();
    assert_eq!(refused.code, 200);
    assert_eq!(refused.state, "Completed");
    assert!(
        tx.send_response(ms(1), response(&request, 180, "uas"))
            .is_err()
    );
}
