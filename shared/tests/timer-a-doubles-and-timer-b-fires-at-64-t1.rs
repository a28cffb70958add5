//! INVITE client transaction over UDP with no answer: timer A retransmits
//! at T1, 2·T1, 4·T1… (no T2 cap for INVITE, RFC 3261 §17.1.1.2), and timer
//! B ends it at 64·T1 = 32 s with a Timeout for the TU.
#![allow(clippy::unwrap_used)]

mod tx_support;

use shared::sip::transaction::{ClientInvite, ClientInviteState, Timers, TxEvent};
use tx_support::{Sim, as_request, invite, ms};

#[test]
fn seven_transmissions_then_timeout_at_32_s() {
    let request = invite("z9hG4bKcalling1");
    let mut sim = Sim::new(ClientInvite::new(
        ms(0),
        request.clone(),
        false,
        Timers::default(),
    ));
    assert_eq!(sim.tx.state(), ClientInviteState::Calling);
    assert_eq!(sim.tx.poll_timeout(), Some(ms(500)));

    sim.run_until(31_999);
    let sent = sim.take_sent();
    let times: Vec<u64> = sent.iter().map(|(at, _)| *at).collect();
    assert_eq!(times, [0, 500, 1_500, 3_500, 7_500, 15_500, 31_500]);
    for (_, message) in &sent {
        assert_eq!(
            as_request(message),
            &request,
            "a retransmission is the same request"
        );
    }
    assert!(sim.take_events().is_empty());

    sim.run_until(32_000);
    assert_eq!(
        sim.take_events(),
        [(32_000, TxEvent::Timeout), (32_000, TxEvent::Terminated)]
    );
    assert!(sim.tx.is_terminated());
    assert_eq!(sim.tx.poll_timeout(), None);
    sim.run_until(100_000);
    sim.nothing_sent();
}

#[test]
fn timer_b_follows_t1() {
    let timers = Timers {
        t1: std::time::Duration::from_millis(100),
        ..Timers::default()
    };
    let mut sim = Sim::new(ClientInvite::new(ms(0), invite("z9hG4bKt1"), false, timers));
    sim.run_until(6_399);
    assert_eq!(sim.sent_times(), [0, 100, 300, 700, 1_500, 3_100, 6_300]);
    sim.run_until(6_400);
    assert_eq!(sim.take_events()[0], (6_400, TxEvent::Timeout));
}

#[test]
fn a_late_shell_gets_one_retransmission_not_a_burst() {
    let mut tx = ClientInvite::new(ms(0), invite("z9hG4bKlate"), false, Timers::default());
    assert!(tx.poll_transmit().is_some());
    // Woken 4 s late: timers at 0.5, 1.5 and 3.5 s were all missed.
    tx.handle_timeout(ms(4_000));
    assert!(tx.poll_transmit().is_some());
    assert!(tx.poll_transmit().is_none());
    assert!(tx.poll_timeout().unwrap() > ms(4_000));
}

#[test]
fn timer_b_wins_over_a_due_retransmission() {
    let mut tx = ClientInvite::new(ms(0), invite("z9hG4bKlate2"), false, Timers::default());
    assert!(tx.poll_transmit().is_some());
    tx.handle_timeout(ms(40_000));
    assert!(
        tx.poll_transmit().is_none(),
        "no retransmission after timing out"
    );
    assert_eq!(tx.poll_event(), Some(TxEvent::Timeout));
    assert_eq!(tx.poll_event(), Some(TxEvent::Terminated));
}
