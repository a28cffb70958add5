//! RFC 3261 §17.2.1: an INVITE server transaction sends 100 Trying itself
//! when the TU has not responded within 200 ms, copying Via, From, To,
//! Call-ID, CSeq and Timestamp (§8.2.6.1); INVITE retransmissions then get
//! that 100. A TU that responds in time suppresses it.
#![allow(clippy::unwrap_used)]

mod tx_support;

use shared::sip::transaction::{ServerInvite, TRYING_DELAY, Timers, trying_for};
use tx_support::{Sim, as_response, header, headers, invite, ms, response};

#[test]
fn slow_tu_gets_a_100_trying_at_200_ms() {
    assert_eq!(TRYING_DELAY.as_millis(), 200);
    let request = invite("z9hG4bKslow");
    let mut sim = Sim::new(ServerInvite::new(
        ms(0),
        request.clone(),
        false,
        Timers::default(),
    ));
    sim.nothing_sent();
    assert_eq!(sim.tx.poll_timeout(), Some(ms(200)));
    sim.run_until(199);
    sim.nothing_sent();
    sim.run_until(200);
    let sent = sim.take_sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0, 200);
    let trying = as_response(&sent[0].1);
    assert_eq!(trying.status_code.code(), 100);
    assert_eq!(headers(trying, "Via"), headers(&request, "Via"));
    for name in ["From", "To", "Call-ID", "CSeq", "Timestamp"] {
        assert_eq!(header(trying, name), header(&request, name), "{name}");
    }
    assert!(header(trying, "Contact").is_none());
    assert!(header(trying, "Route").is_none());
    assert_eq!(trying, &trying_for(&request));
    assert_eq!(
        sim.tx.poll_timeout(),
        None,
        "nothing more to do until the TU acts"
    );

    sim.run_until(500);
    sim.input(|tx, now| tx.handle_request(now, request.clone()));
    let again = sim.take_sent();
    assert_eq!(again.len(), 1);
    assert_eq!(as_response(&again[0].1).status_code.code(), 100);
}

#[test]
fn prompt_tu_suppresses_it() {
    let request = invite("z9hG4bKprompt");
    let mut sim = Sim::new(ServerInvite::new(
        ms(0),
        request.clone(),
        true,
        Timers::default(),
    ));
    sim.run_until(150);
    sim.input(|tx, now| {
        tx.send_response(now, response(&request, 180, "uas"))
            .unwrap()
    });
    sim.run_until(10_000);
    assert_eq!(sim.sent_times(), [150]);
}
