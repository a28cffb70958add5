use std::time::Duration;

use super::*;

const OFFER: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=ice-lite\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0 8 101\r\nc=IN IP4 127.0.0.1\r\n";
const ANSWER: &str =
    "v=0\r\no=- 2 2 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0 101\r\n";

fn identity() -> CallerIdentity {
    CallerIdentity {
        aor: "sip:agent@gw.test".to_owned(),
        display_name: "Agent".to_owned(),
        username: "agent".to_owned(),
        password: "pw".to_owned(),
        instance_id: "urn:uuid:00000000-0000-4000-8000-000000000001".to_owned(),
        contact_user: "c0ntact".to_owned(),
        via_host: "abc.invalid".to_owned(),
        user_agent: None,
    }
}

fn counter() -> impl FnMut() -> u64 {
    let mut n = 0;
    move || {
        n += 1;
        n
    }
}

fn invite_text(extra: &str, body: &str) -> String {
    format!(
        "INVITE sip:c0ntact@abc.invalid;transport=ws SIP/2.0\r\n\
         Via: SIP/2.0/WSS gw.test;branch=z9hG4bKinv1\r\n\
         Max-Forwards: 70\r\n\
         From: \"Ann Caller\" <sip:+15551230000@gw.test>;tag=gwtag\r\n\
         To: <sip:agent@gw.test>\r\n\
         Call-ID: in-1\r\n\
         CSeq: 7 INVITE\r\n\
         Contact: <sip:gw@gw.test;transport=ws>\r\n\
         X-Dialer-DID: +15550100100\r\n\
         X-Dialer-DID-Label: Sales line\r\n\
         {extra}\
         Content-Type: application/sdp\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

fn request(text: &str) -> rsip::Request {
    rsip::Request::try_from(text).unwrap()
}

fn new_call(now: Instant) -> IncomingCall {
    IncomingCall::new(
        now,
        identity(),
        request(&invite_text("", OFFER)),
        counter(),
        Timers::default(),
    )
    .unwrap()
}

fn sent(call: &mut IncomingCall) -> Vec<String> {
    std::iter::from_fn(|| call.poll_transmit())
        .map(|m| m.to_string())
        .collect()
}

fn events(call: &mut IncomingCall) -> Vec<CallEvent> {
    std::iter::from_fn(|| call.poll_event()).collect()
}

fn status(message: &str) -> &str {
    message.split(' ').nth(1).unwrap_or_default()
}

fn our_tag(call: &IncomingCall) -> String {
    call.local_tag.clone()
}

fn in_dialog(
    call: &IncomingCall,
    method: &str,
    seq: u32,
    branch: &str,
    extra: &str,
) -> rsip::Request {
    request(&format!(
        "{method} sip:c0ntact@abc.invalid;transport=ws SIP/2.0\r\n\
         Via: SIP/2.0/WSS gw.test;branch={branch}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:+15551230000@gw.test>;tag=gwtag\r\n\
         To: <sip:agent@gw.test>;tag={}\r\n\
         Call-ID: in-1\r\n\
         CSeq: {seq} {method}\r\n\
         {extra}Content-Length: 0\r\n\r\n",
        our_tag(call)
    ))
}

fn cancel(reason: Option<&str>) -> rsip::Request {
    let reason = reason
        .map(|r| format!("Reason: {r}\r\n"))
        .unwrap_or_default();
    request(&format!(
        "CANCEL sip:c0ntact@abc.invalid;transport=ws SIP/2.0\r\n\
         Via: SIP/2.0/WSS gw.test;branch=z9hG4bKinv1\r\n\
         Max-Forwards: 70\r\n\
         From: \"Ann Caller\" <sip:+15551230000@gw.test>;tag=gwtag\r\n\
         To: <sip:agent@gw.test>\r\n\
         Call-ID: in-1\r\n\
         CSeq: 7 CANCEL\r\n\
         {reason}Content-Length: 0\r\n\r\n"
    ))
}

#[test]
fn ringing_at_once_with_a_tag_and_the_caller_and_did_read() {
    let now = Instant::now();
    let mut call = new_call(now);
    let out = sent(&mut call);
    assert_eq!(out.len(), 1);
    assert!(out[0].starts_with("SIP/2.0 180 Ringing"), "{}", out[0]);
    assert!(out[0].contains(&format!("tag={}", our_tag(&call))));
    assert_eq!(call.state(), CallState::Ringing);
    let info = call.info();
    assert_eq!(info.caller, "+15551230000");
    assert_eq!(info.caller_name.as_deref(), Some("Ann Caller"));
    assert_eq!(info.did.as_deref(), Some("+15550100100"));
    assert_eq!(info.did_label.as_deref(), Some("Sales line"));
    assert_eq!(call.offer(), OFFER);
    assert_eq!(
        call.poll_timeout(),
        None,
        "nothing to wait for while ringing"
    );
}

#[test]
fn invite_retransmissions_are_absorbed() {
    let now = Instant::now();
    let mut call = new_call(now);
    sent(&mut call);
    call.handle_request(now, request(&invite_text("", OFFER)));
    let out = sent(&mut call);
    assert_eq!(out.len(), 1);
    assert!(out[0].starts_with("SIP/2.0 180"), "the 180 again: {out:?}");
    assert!(events(&mut call).is_empty());
}

#[test]
fn an_invite_without_an_offer_is_refused() {
    let text = invite_text("", "").replace("Content-Type: application/sdp\r\n", "");
    let refused = IncomingCall::new(
        Instant::now(),
        identity(),
        request(&text),
        counter(),
        Timers::default(),
    )
    .unwrap_err();
    assert_eq!(refused.status_code.code(), 488);
}

#[test]
fn answer_sends_200_retransmitted_until_the_ack() {
    let t0 = Instant::now();
    let mut call = new_call(t0);
    sent(&mut call);
    call.answer(t0, ANSWER.to_owned()).unwrap();
    let out = sent(&mut call);
    assert_eq!(out.len(), 1);
    assert!(out[0].starts_with("SIP/2.0 200 OK"), "{}", out[0]);
    assert!(out[0].contains("Contact: <sip:c0ntact@abc.invalid;transport=ws>"));
    assert!(out[0].ends_with(ANSWER));
    assert_eq!(call.state(), CallState::Connected);
    assert!(events(&mut call).is_empty(), "Answered waits for the ACK");
    // T1, then 2·T1, 4·T1, capped at T2.
    let mut at = t0;
    for interval in [500, 1000, 2000, 4000, 4000] {
        at += Duration::from_millis(interval);
        assert_eq!(call.poll_timeout(), Some(at));
        call.handle_timeout(at);
        let out = sent(&mut call);
        assert_eq!(out.len(), 1, "at +{interval}");
        assert!(out[0].starts_with("SIP/2.0 200 OK"));
    }
    // A retransmitted INVITE is absorbed.
    call.handle_request(at, request(&invite_text("", OFFER)));
    assert!(sent(&mut call).is_empty());
    let ack = in_dialog(&call, "ACK", 7, "z9hG4bKack1", "");
    call.handle_request(at, ack);
    assert_eq!(events(&mut call), [CallEvent::Answered]);
    assert_eq!(call.poll_timeout(), None);
    assert!(sent(&mut call).is_empty());
}

#[test]
fn no_ack_in_64_t1_means_bye() {
    let t0 = Instant::now();
    let mut call = new_call(t0);
    call.answer(t0, ANSWER.to_owned()).unwrap();
    sent(&mut call);
    let mut now = t0;
    while let Some(at) = call.poll_timeout() {
        if at > t0 + Duration::from_secs(40) {
            break;
        }
        now = at;
        call.handle_timeout(now);
        if call.state() == CallState::Ended {
            break;
        }
    }
    assert_eq!(now, t0 + Duration::from_secs(32));
    let out = sent(&mut call);
    let bye = out.last().unwrap();
    assert!(bye.starts_with("BYE sip:gw@gw.test;transport="), "{bye}");
    assert!(bye.contains("From: <sip:agent@gw.test>;tag="));
    assert!(bye.contains("To: \"Ann Caller\" <sip:+15551230000@gw.test>;tag=gwtag"));
    assert!(matches!(
        events(&mut call).as_slice(),
        [CallEvent::Ended(EndCause::Broken { code: 408, .. })]
    ));
}

#[test]
fn decline_is_486_and_its_ack_ends_the_transaction() {
    let now = Instant::now();
    let mut call = new_call(now);
    sent(&mut call);
    call.decline(now);
    let out = sent(&mut call);
    assert_eq!(out.len(), 1);
    assert_eq!(status(&out[0]), "486");
    assert_eq!(events(&mut call), [CallEvent::Ended(EndCause::Local)]);
    assert!(!call.is_terminated());
    let mut ack = in_dialog(&call, "ACK", 7, "z9hG4bKinv1", "");
    ack.uri = rsip::Uri::try_from("sip:c0ntact@abc.invalid;transport=ws").unwrap();
    call.handle_request(now, ack);
    assert!(call.is_terminated());
}

#[test]
fn cancel_by_the_caller_is_a_missed_call() {
    let now = Instant::now();
    let mut call = new_call(now);
    sent(&mut call);
    call.handle_request(now, cancel(None));
    let out = sent(&mut call);
    assert_eq!(out.len(), 2);
    assert!(out[0].starts_with("SIP/2.0 200 OK") && out[0].contains("CSeq: 7 CANCEL"));
    assert_eq!(status(&out[1]), "487");
    assert!(out[1].contains("CSeq: 7 INVITE"));
    assert_eq!(
        events(&mut call),
        [CallEvent::Ended(EndCause::Cancelled {
            answered_elsewhere: false
        })]
    );
    assert!(call.answer(now, ANSWER.to_owned()).is_err());
}

#[test]
fn cancel_with_reason_200_is_answered_elsewhere() {
    let now = Instant::now();
    let mut call = new_call(now);
    call.handle_request(
        now,
        cancel(Some("SIP;cause=200;text=\"Call completed elsewhere\"")),
    );
    assert_eq!(
        events(&mut call),
        [CallEvent::Ended(EndCause::Cancelled {
            answered_elsewhere: true
        })]
    );
    let mut other = new_call(now);
    other.handle_request(now, cancel(Some("Q.850;cause=16")));
    assert_eq!(
        events(&mut other),
        [CallEvent::Ended(EndCause::Cancelled {
            answered_elsewhere: false
        })]
    );
}

#[test]
fn cancel_after_the_answer_changes_nothing() {
    let now = Instant::now();
    let mut call = new_call(now);
    call.answer(now, ANSWER.to_owned()).unwrap();
    sent(&mut call);
    call.handle_request(now, cancel(None));
    let out = sent(&mut call);
    assert_eq!(out.len(), 1);
    assert!(out[0].contains("CSeq: 7 CANCEL"));
    assert_eq!(call.state(), CallState::Connected);
}

#[test]
fn bye_from_the_gateway_and_our_hangup() {
    let now = Instant::now();
    let mut call = new_call(now);
    call.answer(now, ANSWER.to_owned()).unwrap();
    call.handle_request(now, in_dialog(&call, "ACK", 7, "z9hG4bKa", ""));
    sent(&mut call);
    events(&mut call);
    call.handle_request(now, in_dialog(&call, "BYE", 8, "z9hG4bKb", ""));
    let out = sent(&mut call);
    assert_eq!(status(&out[0]), "200");
    assert_eq!(events(&mut call), [CallEvent::Ended(EndCause::Remote)]);

    let mut call = new_call(now);
    call.answer(now, ANSWER.to_owned()).unwrap();
    call.handle_request(now, in_dialog(&call, "ACK", 7, "z9hG4bKa", ""));
    sent(&mut call);
    events(&mut call);
    call.hangup(now);
    let out = sent(&mut call);
    assert!(
        out[0].starts_with("BYE sip:gw@gw.test;transport="),
        "{}",
        out[0]
    );
    assert!(out[0].contains("CSeq: 1 BYE"));
    assert_eq!(events(&mut call), [CallEvent::Ended(EndCause::Local)]);
}

#[test]
fn hold_both_ways() {
    let now = Instant::now();
    let mut call = new_call(now);
    call.answer(now, ANSWER.to_owned()).unwrap();
    assert_eq!(
        call.reoffer(now, Reoffer::Hold, "v=0\r\n".to_owned()),
        Err(CallError::Busy),
        "not before the ACK"
    );
    call.handle_request(now, in_dialog(&call, "ACK", 7, "z9hG4bKa", ""));
    sent(&mut call);
    events(&mut call);
    // The gateway's re-INVITE with an offer.
    let mut reinvite = in_dialog(
        &call,
        "INVITE",
        8,
        "z9hG4bKre",
        "Content-Type: application/sdp\r\n",
    );
    reinvite.body = OFFER.as_bytes().to_vec();
    call.handle_request(now, reinvite);
    assert_eq!(
        events(&mut call),
        [CallEvent::RemoteOffer {
            sdp: OFFER.to_owned()
        }]
    );
    call.accept_offer(now, ANSWER.to_owned()).unwrap();
    let out = sent(&mut call);
    assert!(out[0].starts_with("SIP/2.0 200") && out[0].contains("CSeq: 8 INVITE"));
    call.handle_request(now, in_dialog(&call, "ACK", 8, "z9hG4bKa2", ""));
    // Our hold.
    call.reoffer(now, Reoffer::Hold, "v=0\r\na=sendonly\r\n".to_owned())
        .unwrap();
    let out = sent(&mut call);
    assert!(
        out[0].starts_with("INVITE sip:gw@gw.test;transport="),
        "{}",
        out[0]
    );
    assert!(out[0].contains(&format!(";tag={}", our_tag(&call))));
}

#[test]
fn bad_input_never_panics() {
    let now = Instant::now();
    let text = invite_text("", OFFER).replace(";tag=gwtag", "");
    assert!(
        IncomingCall::new(
            now,
            identity(),
            request(&text),
            counter(),
            Timers::default()
        )
        .is_err()
    );
    let mut call = new_call(now);
    assert!(call.answer(now, "  ".to_owned()).is_err());
    call.handle_request(now, in_dialog(&call, "BYE", 8, "z9hG4bKx", ""));
    assert_eq!(status(&sent(&mut call)[1]), "481");
    assert_eq!(call.state(), CallState::Ringing);
}
