//! Outbound calls, one test per behaviour: answer, hang-up, busy,
//! CANCEL, digest, timeouts, TCP, refusals, caller ID, early media, hold,
//! lost connections, media reports.
#![allow(clippy::unwrap_used)]

use super::*;
use shared::ids::CallId;

use crate::sip::b2bua::blocks::{Reach, Scope};

#[test]
fn answered_call_relays_ringing_answer_and_acks_both_ways() {
    let mut h = Harness::new();
    h.invite("(415) 555-2671", "");
    let browser = h.browser_sent();
    assert_eq!(status(&browser[0]), "SIP/2.0 100 Trying");
    assert_eq!(
        h.media.lock().unwrap().started,
        vec![(CallId(1), vec!["PCMU".to_owned(), "PCMA".to_owned()])]
    );

    let invite = h.carrier_request("INVITE");
    assert!(
        invite.starts_with("INVITE sip:+14155552671@127.0.0.1:5099 SIP/2.0"),
        "{invite}"
    );
    // The agent's default caller ID, in From and P-Asserted-Identity.
    assert!(
        header_line(&invite, "From")
            .unwrap()
            .contains("sip:+14155550100@"),
        "{invite}"
    );
    assert!(
        header_line(&invite, "P-Asserted-Identity")
            .unwrap()
            .contains("+14155550100")
    );
    assert!(
        invite.contains("m=audio 30002 RTP/AVP 0 8 101"),
        "the media's carrier offer"
    );
    assert!(
        !invite.contains("browser-call-1"),
        "legs keep their own Call-IDs"
    );

    h.carrier_responds(&invite, 180, "Ringing", "", "");
    let browser = h.browser_sent();
    assert_eq!(status(&browser[0]), "SIP/2.0 180 Ringing");
    let to = header_line(&browser[0], "To").unwrap().to_owned();
    assert!(to.contains("tag="));

    h.carrier_responds(
        &invite,
        200,
        "OK",
        "Contact: <sip:callee@127.0.0.1:5099>\r\n",
        CARRIER_SDP,
    );
    let sent = h.sent();
    let ack = sent
        .iter()
        .find(|(_, t)| t.starts_with("ACK "))
        .expect("ACK to the carrier");
    assert!(
        ack.1.starts_with("ACK sip:callee@127.0.0.1:5099 SIP/2.0"),
        "ACK goes to the Contact: {}",
        ack.1
    );
    assert_eq!(ack.0, Destination::Udp(CARRIER.parse().unwrap()));
    assert!(header_line(&ack.1, "CSeq").unwrap().ends_with("1 ACK"));
    let ok = sent
        .iter()
        .find(|(d, t)| *d == Destination::Conn(CONN) && t.starts_with("SIP/2.0 200"))
        .expect("200 to the browser");
    assert_eq!(
        header_line(&ok.1, "To").unwrap(),
        to,
        "one dialog toward the browser"
    );
    assert!(ok.1.contains("a=ice-lite"), "the WebRTC answer");
    assert_eq!(h.media.lock().unwrap().answers.len(), 1);
}

#[test]
fn agent_hangs_up_then_bye_goes_to_the_carrier_and_one_record_is_written() {
    let (mut h, _) = answered_call();
    h.sent();
    h.advance(65_000);
    h.browser_request(
        "BYE sip:gw@gw.test SIP/2.0\r\nVia: SIP/2.0/WSS abc.invalid;branch=z9hG4bKbye1\r\nMax-Forwards: 70\r\n\
         From: <sip:demo@gw.test>;tag=btag\r\nTo: <sip:4155552671@gw.test>;tag=x\r\nCall-ID: browser-call-1\r\n\
         CSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n",
    );
    let sent = h.sent();
    assert!(
        sent.iter()
            .any(|(d, t)| *d == Destination::Conn(CONN) && t.starts_with("SIP/2.0 200"))
    );
    let bye = sent
        .iter()
        .find(|(_, t)| t.starts_with("BYE "))
        .expect("BYE to the carrier");
    assert!(header_line(&bye.1, "CSeq").unwrap().ends_with("2 BYE"));
    assert!(header_line(&bye.1, "To").unwrap().contains("tag=carrier"));
    assert_eq!(h.media.lock().unwrap().stopped, vec![CallId(1)]);
    assert!(
        h.records().is_empty(),
        "the record waits for the media counts"
    );
    h.media_stops(MediaCounts {
        packets_to_carrier: 3000,
        bytes_to_carrier: 516_000,
        packets_from_carrier: 2990,
        bytes_from_carrier: 514_280,
    });
    let records = h.records();
    assert_eq!(records.len(), 1);
    let r = &records[0];
    assert_eq!(r.dialled, "+14155552671");
    assert_eq!(r.caller_id.as_deref(), Some("+14155550100"));
    assert_eq!(r.carrier.as_deref(), Some("Trunk A"));
    assert_eq!(r.final_code, 200);
    assert_eq!(r.hangup_by, HangupBy::Agent);
    assert_eq!(r.duration_s, 65);
    assert_eq!(r.packets_from_carrier, 2990);
    assert!(r.ringing_at.is_some() && r.answered_at.is_some());
    assert_eq!(h.b2bua.call_count(), 0);
}

#[test]
fn carrier_bye_hangs_up_the_browser() {
    let (mut h, invite) = answered_call();
    h.sent();
    let call_id = header_line(&invite, "Call-ID")
        .unwrap()
        .split_once(':')
        .unwrap()
        .1
        .trim()
        .to_owned();
    let from = header_line(&invite, "From")
        .unwrap()
        .split_once(':')
        .unwrap()
        .1
        .trim()
        .to_owned();
    let bye = format!(
        "BYE sip:gw@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5099;branch=z9hG4bKcbye\r\nMax-Forwards: 70\r\n\
         From: <sip:x@127.0.0.1>;tag=carrier\r\nTo: {from}\r\nCall-ID: {call_id}\r\nCSeq: 5 BYE\r\nContent-Length: 0\r\n\r\n"
    );
    let now = h.now();
    assert!(h.b2bua.handle_carrier_request(
        now,
        CARRIER.parse().unwrap(),
        Destination::Udp(CARRIER.parse().unwrap()),
        &rsip::Request::try_from(bye.as_bytes()).unwrap()
    ));
    let sent = h.sent();
    assert!(
        sent.iter()
            .any(|(d, t)| *d == Destination::Udp(CARRIER.parse().unwrap())
                && t.starts_with("SIP/2.0 200"))
    );
    let to_browser = sent
        .iter()
        .find(|(d, _)| *d == Destination::Conn(CONN))
        .expect("BYE to the browser");
    assert!(
        to_browser
            .1
            .starts_with("BYE sip:x@abc.invalid;transport=ws SIP/2.0"),
        "{}",
        to_browser.1
    );
    assert!(
        header_line(&to_browser.1, "To")
            .unwrap()
            .contains("tag=btag")
    );
    // A retransmitted BYE gets the same 200 again.
    let now = h.now();
    assert!(h.b2bua.handle_carrier_request(
        now,
        CARRIER.parse().unwrap(),
        Destination::Udp(CARRIER.parse().unwrap()),
        &rsip::Request::try_from(bye.as_bytes()).unwrap()
    ));
    h.media_stops(MediaCounts::default());
    let records = h.records();
    assert_eq!(records[0].hangup_by, HangupBy::Remote);
}

#[test]
fn busy_carrier_is_reported_to_the_browser_and_recorded() {
    let mut h2 = Harness::new();
    h2.invite("+442079460000", "");
    let invite = h2.carrier_request("INVITE");
    h2.carrier_responds(&invite, 486, "Busy Here", "", "");
    let sent = h2.sent();
    assert!(sent.iter().any(|(d, t)| *d == Destination::Udp(CARRIER.parse().unwrap()) && t.starts_with("ACK ")), "the transaction ACKs the 486");
    let to_browser: Vec<_> = sent
        .iter()
        .filter(|(d, _)| *d == Destination::Conn(CONN))
        .collect();
    assert_eq!(
        status(&to_browser.last().unwrap().1),
        "SIP/2.0 486 Busy Here"
    );
    h2.media_stops(MediaCounts::default());
    let r = &h2.records()[0];
    assert_eq!((r.final_code, r.hangup_by), (486, HangupBy::Remote));
    assert_eq!(r.final_reason, "Busy Here");
}

#[test]
fn cancel_while_ringing_cancels_the_carrier() {
    let mut h = Harness::new();
    h.invite("4155552671", "");
    let invite = h.carrier_request("INVITE");
    h.carrier_responds(&invite, 180, "Ringing", "", "");
    h.sent();
    h.browser_request(
        "CANCEL sip:4155552671@gw.test;user=phone SIP/2.0\r\nVia: SIP/2.0/WSS abc.invalid;branch=z9hG4bKbrowser1\r\nMax-Forwards: 70\r\n\
         From: \"Demo Agent\" <sip:demo@gw.test>;tag=btag\r\nTo: <sip:4155552671@gw.test>\r\nCall-ID: browser-call-1\r\n\
         CSeq: 1 CANCEL\r\nContent-Length: 0\r\n\r\n",
    );
    let sent = h.sent();
    let to_browser: Vec<&str> = sent
        .iter()
        .filter(|(d, _)| *d == Destination::Conn(CONN))
        .map(|(_, t)| status(t))
        .collect();
    assert_eq!(
        to_browser,
        vec!["SIP/2.0 200 OK", "SIP/2.0 487 Request Terminated"]
    );
    let cancel = sent
        .iter()
        .find(|(_, t)| t.starts_with("CANCEL "))
        .expect("CANCEL to the carrier");
    assert_eq!(
        header_line(&cancel.1, "Via"),
        header_line(&invite, "Via"),
        "same branch as the INVITE"
    );
    h.carrier_responds(&invite, 487, "Request Terminated", "", "");
    h.media_stops(MediaCounts::default());
    let r = &h.records()[0];
    assert_eq!((r.final_code, r.hangup_by), (487, HangupBy::Agent));
}

#[test]
fn carrier_digest_challenge_is_answered_with_its_credentials() {
    let mut h = Harness::new();
    h.routes[0].username = Some("trunkuser".to_owned());
    h.routes[0].secret = Some("trunksecret".to_owned());
    h.invite("4155552671", "");
    let invite = h.carrier_request("INVITE");
    h.carrier_responds(
        &invite,
        407,
        "Proxy Authentication Required",
        "Proxy-Authenticate: Digest realm=\"carrier\", nonce=\"abc\", qop=\"auth\", algorithm=SHA-256\r\n",
        "",
    );
    let sent = h.sent();
    let again = sent
        .iter()
        .filter(|(_, t)| t.starts_with("INVITE "))
        .map(|(_, t)| t.clone())
        .next_back()
        .expect("INVITE again");
    assert!(header_line(&again, "CSeq").unwrap().ends_with("2 INVITE"));
    let auth = header_line(&again, "Proxy-Authorization").expect("credentials");
    assert!(
        auth.contains("username=\"trunkuser\"") && auth.contains("algorithm=SHA-256"),
        "{auth}"
    );
    assert!(!auth.contains("trunksecret"));
    // The answer checks out against the secret.
    let creds = digest::Credentials::parse(auth.split_once(':').unwrap().1.trim()).unwrap();
    let ha1 = digest::ha1(
        digest::Algorithm::Sha256,
        "trunkuser",
        "carrier",
        "trunksecret",
    );
    assert!(digest::verify(&creds, "INVITE", &ha1));
    // A second challenge is not answered again.
    h.carrier_responds(
        &again,
        407,
        "Proxy Authentication Required",
        "Proxy-Authenticate: Digest realm=\"carrier\", nonce=\"def\"\r\n",
        "",
    );
    let to_browser = h.browser_sent();
    assert!(status(to_browser.last().unwrap()).starts_with("SIP/2.0 403"));
}

#[test]
fn silent_carrier_times_out_after_64_t1() {
    let mut h = Harness::new();
    h.invite("4155552671", "");
    h.sent();
    let mut retransmissions = 0;
    for _ in 0..160 {
        h.advance(250);
        retransmissions += h
            .sent()
            .iter()
            .filter(|(_, t)| t.starts_with("INVITE "))
            .count();
    }
    assert_eq!(
        retransmissions, 6,
        "timer A: 0.5, 1.5, 3.5, 7.5, 15.5, 31.5 s"
    );
    h.media_stops(MediaCounts::default());
    let r = &h.records()[0];
    assert_eq!(r.final_code, 408);
}

#[test]
fn tcp_carrier_gets_a_tcp_via_and_no_retransmissions() {
    let mut h = Harness::new();
    h.routes[0].transport = SipTransport::Tcp;
    h.invite("4155552671", "");
    let sent = h.sent();
    let (dest, invite) = sent
        .iter()
        .find(|(_, t)| t.starts_with("INVITE "))
        .expect("an INVITE to the carrier");
    assert_eq!(*dest, Destination::Tcp(CARRIER.parse().unwrap()));
    assert!(
        header_line(invite, "Via")
            .unwrap()
            .contains("SIP/2.0/TCP 127.0.0.1;"),
        "{invite}"
    );
    assert!(
        header_line(invite, "Contact")
            .unwrap()
            .contains(";transport=tcp>"),
        "{invite}"
    );
    // Reliable transport: timer A is off (RFC 3261 §17.1.1.2).
    for _ in 0..20 {
        h.advance(500);
        assert!(!h.sent().iter().any(|(_, t)| t.starts_with("INVITE ")));
    }
    // The connection cannot be made: the call fails now, not at timer B.
    let now = h.now();
    h.b2bua
        .transport_failed(now, Destination::Tcp(CARRIER.parse().unwrap()), "refused");
    let to_browser = h.browser_sent();
    assert!(
        to_browser
            .iter()
            .any(|t| status(t).starts_with("SIP/2.0 503")),
        "{to_browser:?}"
    );
    h.media_stops(MediaCounts::default());
    assert_eq!(h.records()[0].final_code, 503);
}

#[test]
fn refusals_before_the_carrier() {
    // Not registered.
    let mut h = Harness::new();
    let text = "INVITE sip:4155552671@gw.test SIP/2.0\r\nVia: SIP/2.0/WSS a.invalid;branch=z9hG4bKx\r\nMax-Forwards: 70\r\n\
                From: <sip:demo@gw.test>;tag=1\r\nTo: <sip:4155552671@gw.test>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
    let now = h.now();
    h.b2bua.handle_new_invite(
        now,
        CONN,
        rsip::Request::try_from(text.as_bytes()).unwrap(),
        None,
        &[],
    );
    assert!(status(&h.browser_sent()[0]).starts_with("SIP/2.0 403"));

    // A number that does not normalise.
    let mut h = Harness::new();
    h.invite("12", "");
    let out = h.browser_sent();
    assert!(
        status(&out[0]).starts_with("SIP/2.0 484 Address Incomplete"),
        "{}",
        out[0]
    );
    assert!(h.sent().is_empty(), "nothing reaches the carrier");

    // No carrier.
    let mut h = Harness::new();
    h.routes.clear();
    h.invite("4155552671", "");
    assert!(status(&h.browser_sent()[0]).starts_with("SIP/2.0 503"));

    // No media.
    let mut h = Harness::new();
    h.media.lock().unwrap().fail_start = Some(MediaFailure {
        code: 488,
        reason: "Not Acceptable Here (no common codec: the browser offered only Opus)".to_owned(),
    });
    h.invite("4155552671", "");
    let out = h.browser_sent();
    assert!(
        out.iter()
            .any(|t| status(t).starts_with("SIP/2.0 488 Not Acceptable Here (no common codec"))
    );
    let r = &h.records()[0];
    assert_eq!(r.final_code, 488);
}

#[test]
fn caller_id_picked_by_the_agent_is_used_only_when_allowed() {
    let mut h = Harness::new();
    h.agent.dialing.caller_ids.push(CallerIdChoice {
        number: "+14155550199".to_owned(),
        label: "Campaign".to_owned(),
    });
    h.invite(
        "4155552671",
        "P-Preferred-Identity: <sip:+14155550199@gw.test>\r\n",
    );
    let invite = h.carrier_request("INVITE");
    assert!(
        header_line(&invite, "P-Asserted-Identity")
            .unwrap()
            .contains("+14155550199")
    );
    assert!(header_line(&invite, "P-Preferred-Identity").is_none());

    let mut h = Harness::new();
    h.invite(
        "4155552671",
        "P-Preferred-Identity: <sip:+19995550000@gw.test>\r\n",
    );
    let invite = h.carrier_request("INVITE");
    assert!(
        header_line(&invite, "P-Asserted-Identity")
            .unwrap()
            .contains("+14155550100"),
        "falls back to the default"
    );

    // fromuser / fromdomain replace From, the caller ID stays in PAI.
    let mut h = Harness::new();
    h.routes[0].from_user = Some("acct42".to_owned());
    h.routes[0].from_domain = Some("trunk.example".to_owned());
    h.routes[0].number_format = NumberFormat::E164WithoutPlus;
    h.invite("4155552671", "");
    let invite = h.carrier_request("INVITE");
    assert!(invite.starts_with("INVITE sip:14155552671@"), "{invite}");
    assert!(
        header_line(&invite, "From")
            .unwrap()
            .contains("<sip:acct42@trunk.example>")
    );
    assert!(
        header_line(&invite, "P-Asserted-Identity")
            .unwrap()
            .contains("<sip:14155550100@trunk.example>")
    );
}

#[test]
fn early_media_sends_183_with_the_answer_once() {
    let mut h = Harness::new();
    h.invite("4155552671", "");
    let invite = h.carrier_request("INVITE");
    h.carrier_responds(&invite, 183, "Session Progress", "", CARRIER_SDP);
    let out = h.browser_sent();
    assert_eq!(status(&out[1]), "SIP/2.0 183 Session Progress");
    assert!(out[1].contains("a=ice-lite"));
    h.carrier_responds(&invite, 200, "OK", "", CARRIER_SDP);
    assert_eq!(
        h.media.lock().unwrap().answers.len(),
        1,
        "the same SDP is applied once"
    );
    assert!(
        h.browser_sent()
            .iter()
            .any(|t| status(t) == "SIP/2.0 200 OK")
    );
}

#[test]
fn no_common_codec_in_the_carrier_answer_ends_both_legs_with_488() {
    let mut h = Harness::new();
    h.invite("4155552671", "");
    let invite = h.carrier_request("INVITE");
    let g729 = "v=0\r\no=c 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 18\r\n";
    h.carrier_responds(&invite, 200, "OK", "", g729);
    let sent = h.sent();
    assert!(sent.iter().any(|(_, t)| t.starts_with("ACK ")));
    assert!(
        sent.iter().any(|(_, t)| t.starts_with("BYE ")),
        "the answered carrier leg is hung up"
    );
    assert!(
        sent.iter()
            .any(|(d, t)| *d == Destination::Conn(CONN) && t.starts_with("SIP/2.0 488"))
    );
}

#[test]
fn hold_reinvite_goes_to_media_and_carrier() {
    let (mut h, _) = answered_call();
    h.sent();
    let sdp = "v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=sendonly\r\n";
    h.browser_request(&format!(
        "INVITE sip:gw@gw.test SIP/2.0\r\nVia: SIP/2.0/WSS abc.invalid;branch=z9hG4bKre1\r\nMax-Forwards: 70\r\n\
         From: <sip:demo@gw.test>;tag=btag\r\nTo: <sip:4155552671@gw.test>;tag=x\r\nCall-ID: browser-call-1\r\n\
         CSeq: 3 INVITE\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    ));
    assert_eq!(h.media.lock().unwrap().holds, vec![(CallId(1), true)]);
    let live = h.b2bua.live_calls();
    assert_eq!(live.len(), 1);
    assert_eq!(
        live[0].state,
        LiveCallState::Held,
        "the live view shows the hold"
    );
    let reinvite = h.carrier_request("INVITE");
    assert!(
        reinvite.contains("a=sendonly") && reinvite.contains("o=- 7 2 IN IP4"),
        "{reinvite}"
    );
    assert!(
        header_line(&reinvite, "To")
            .unwrap()
            .contains("tag=carrier")
    );
    h.b2bua
        .media_browser_answer(CallId(1), Ok("v=0\r\na=recvonly\r\n".to_owned()));
    let out = h.browser_sent();
    assert!(status(&out[0]) == "SIP/2.0 200 OK" && out[0].contains("a=recvonly"));
}

/// The re-INVITE a reconnected phone sends: same dialog, an ICE restart.
fn restart_reinvite(cseq: u32) -> String {
    let sdp = "v=0\r\no=- 1 3 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\n\
               a=ice-ufrag:new1\r\na=ice-pwd:newnewnewnewnewnewnewnew\r\na=sendrecv\r\n";
    format!(
        "INVITE sip:gw@gw.test SIP/2.0\r\nVia: SIP/2.0/WSS abc.invalid;branch=z9hG4bKrs{cseq}\r\nMax-Forwards: 70\r\n\
         From: <sip:demo@gw.test>;tag=btag\r\nTo: <sip:4155552671@gw.test>;tag=x\r\nCall-ID: browser-call-1\r\n\
         CSeq: {cseq} INVITE\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    )
}

#[test]
fn lost_connection_waits_for_the_phone_then_hangs_up_the_carrier() {
    let (mut h, _) = answered_call();
    h.sent();
    let now = h.now();
    h.b2bua.connection_closed(now, CONN);
    let carrier: Destination = Destination::Udp(CARRIER.parse().unwrap());
    assert!(
        !h.sent().iter().any(|(d, _)| *d == carrier),
        "the customer stays on the line"
    );
    assert_eq!(h.b2bua.live_calls()[0].state, LiveCallState::Reconnecting);
    h.advance(29_000);
    assert!(!h.sent().iter().any(|(d, _)| *d == carrier));
    h.advance(1_000);
    let sent = h.sent();
    let bye = sent
        .iter()
        .find(|(d, t)| *d == carrier && t.starts_with("BYE "))
        .expect("BYE to the carrier once the grace is over");
    assert!(bye.1.contains("did not come back in 30 s"), "{}", bye.1);
    h.media_stops(MediaCounts::default());
    let record = &h.records()[0];
    assert_eq!(record.hangup_by, HangupBy::Agent);
    assert_eq!(
        record.final_reason,
        "The agent's connection was lost and did not come back in 30 s"
    );
}

#[test]
fn the_phone_back_on_a_new_connection_resumes_the_call() {
    let (mut h, _) = answered_call();
    h.sent();
    let now = h.now();
    h.b2bua.connection_closed(now, CONN);
    h.advance(3_000);
    let new_conn = ConnId(77);
    let agent = Some(h.agent.account_id);
    assert!(h.browser_request_on(new_conn, agent, &restart_reinvite(4)));
    let reoffers = h.media.lock().unwrap().reoffers.clone();
    assert!(
        reoffers
            .last()
            .is_some_and(|(id, sdp)| *id == CallId(1) && sdp.contains("ice-ufrag:new1")),
        "the ICE restart goes to the media: {reoffers:?}"
    );
    assert!(h.media.lock().unwrap().holds.is_empty(), "not a hold");
    assert_eq!(h.b2bua.live_calls()[0].state, LiveCallState::Connected);
    h.b2bua
        .media_browser_answer(CallId(1), Ok("v=0\r\na=ice-ufrag:ours2\r\n".to_owned()));
    let sent = h.sent();
    assert!(
        sent.iter().any(|(d, t)| *d == Destination::Conn(new_conn)
            && t.starts_with("SIP/2.0 200 OK")
            && t.contains("ice-ufrag:ours2")),
        "the answer goes to the new connection: {sent:?}"
    );
    assert!(
        !sent.iter().any(|(_, t)| t.starts_with("INVITE ")),
        "the carrier hears nothing of it"
    );
    h.advance(40_000);
    assert!(!h.sent().iter().any(|(_, t)| t.starts_with("BYE ")));
    assert!(h.records().is_empty(), "the call goes on");
    // The agent hangs up from the new connection.
    let bye = "BYE sip:gw@gw.test SIP/2.0\r\nVia: SIP/2.0/WSS abc.invalid;branch=z9hG4bKby5\r\nMax-Forwards: 70\r\n\
               From: <sip:demo@gw.test>;tag=btag\r\nTo: <sip:4155552671@gw.test>;tag=x\r\nCall-ID: browser-call-1\r\n\
               CSeq: 5 BYE\r\nContent-Length: 0\r\n\r\n";
    assert!(h.browser_request_on(new_conn, agent, bye));
    let sent = h.sent();
    assert!(
        sent.iter()
            .any(|(d, t)| *d == Destination::Conn(new_conn) && t.starts_with("SIP/2.0 200"))
    );
    assert!(sent.iter().any(|(d, t)| *d == Destination::Udp(CARRIER.parse().unwrap()) && t.starts_with("BYE ")));
}

#[test]
fn another_account_cannot_take_over_a_call() {
    let (mut h, _) = answered_call();
    h.sent();
    let now = h.now();
    h.b2bua.connection_closed(now, CONN);
    let stranger = Some(AccountId(h.agent.account_id.0 + 100));
    assert!(!h.browser_request_on(ConnId(78), stranger, &restart_reinvite(4)));
    assert!(!h.browser_request_on(ConnId(79), None, &restart_reinvite(4)));
    assert!(h.media.lock().unwrap().reoffers.is_empty());
    assert_eq!(h.b2bua.live_calls()[0].state, LiveCallState::Reconnecting);
}

#[test]
fn a_call_not_yet_answered_ends_with_its_connection() {
    let mut h = Harness::new();
    h.invite("4155552671", "");
    let invite = h.carrier_request("INVITE");
    h.carrier_responds(&invite, 180, "Ringing", "", "");
    h.sent();
    let now = h.now();
    h.b2bua.connection_closed(now, CONN);
    let sent = h.sent();
    assert!(
        sent.iter().any(|(_, t)| t.starts_with("CANCEL ")),
        "{sent:?}"
    );
}

#[test]
fn record_is_written_even_when_media_never_reports() {
    let (mut h, _) = answered_call();
    let now = h.now();
    h.b2bua.hang_up_all(now);
    assert!(h.records().is_empty());
    h.advance(2_500);
    let records = h.records();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].hangup_by, HangupBy::Gateway);
}

#[test]
fn no_media_hangs_up_both_legs_with_a_reason() {
    let (mut h, _) = answered_call();
    h.sent();
    let now = h.now();
    h.b2bua
        .media_no_media(now, CallId(1), Duration::from_secs(30), SilentLeg::Carrier);
    let sent = h.sent();
    let bye = sent
        .iter()
        .find(|(d, t)| *d == Destination::Udp(CARRIER.parse().unwrap()) && t.starts_with("BYE "))
        .expect("BYE to the carrier");
    assert!(
        bye.1
            .contains("Reason: SIP;cause=200;text=\"No media from the carrier for 30 s\""),
        "{}",
        bye.1
    );
    assert!(
        sent.iter()
            .any(|(d, t)| *d == Destination::Conn(CONN) && t.starts_with("BYE "))
    );
    h.media_stops(MediaCounts::default());
    let r = &h.records()[0];
    assert_eq!(r.hangup_by, HangupBy::Gateway);
    assert_eq!(r.final_reason, "No media from the carrier for 30 s");
}

#[test]
fn destinations_outside_the_allowed_countries_are_refused_before_the_carrier() {
    // `--dial-countries US,CA` reaches the SIP core as the first of the
    // agent's destination policies (`http::policy::global_layer`).
    let mut h = Harness::new();
    h.agent.dialing.destination_policies = vec![shared::policy::DestinationPolicy {
        allowed_countries: vec!["US".to_owned(), "CA".to_owned()],
        block_premium: false,
        block_high_risk: false,
        ..Default::default()
    }];
    h.invite("+442079460000", "");
    let out = h.browser_sent();
    assert!(
        status(&out[0]).starts_with(
            "SIP/2.0 403 Forbidden (Calls to the United Kingdom (+44) are not allowed"
        ),
        "{}",
        out[0]
    );
    assert!(h.sent().is_empty(), "nothing reaches the carrier");
    let r = &h.records()[0];
    assert_eq!((r.final_code, r.carrier.as_deref()), (403, None));
    let agent = h.agent.clone();
    let mut h = Harness::new();
    h.agent = agent;
    h.invite("4155552671", "");
    let invite = h.carrier_request("INVITE");
    assert!(invite.starts_with("INVITE sip:+14155552671@"));
}

// -------------------------------------------------------------------
// Inbound calls: carrier → DID → the agent's tabs
// -------------------------------------------------------------------

#[test]
fn a_destination_policy_refuses_before_the_carrier_with_its_reason() {
    let mut h = Harness::new();
    h.agent.dialing.destination_policies = vec![shared::policy::DestinationPolicy {
        allowed_countries: vec!["US".to_owned()],
        ..Default::default()
    }];
    for (number, words) in [
        ("+18765550100", "Jamaica"),
        ("+19005550100", "premium"),
        ("+14165550100", "Canada"),
    ] {
        h.invite(number, "");
        let sent = h.sent();
        assert_eq!(
            sent.len(),
            1,
            "{number}: only the refusal, nothing to the carrier: {sent:?}"
        );
        assert_eq!(sent[0].0, Destination::Conn(CONN));
        let status = sent[0].1.lines().next().unwrap();
        assert!(
            status.starts_with("SIP/2.0 403 Forbidden ("),
            "{number}: {status}"
        );
        assert!(status.contains(words), "{number}: {status}");
        let records = h.records();
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].final_code, 403);
        assert_eq!(records[0].carrier, None);
    }
    // A US number goes to the carrier.
    h.invite("+12125550100", "");
    assert!(
        h.sent()
            .iter()
            .any(|(d, t)| *d == Destination::Udp(CARRIER.parse().unwrap())
                && t.starts_with("INVITE "))
    );
}

#[test]
fn a_campaign_choice_presents_the_campaigns_local_number_else_its_first() {
    let campaign = shared::api::CampaignChoice {
        id: 7,
        name: "Spring".to_owned(),
        numbers: vec!["+13125550111".to_owned(), "+14155550123".to_owned()],
    };
    let pai = |callee: &str| {
        let mut h = Harness::new();
        h.agent.dialing.campaigns.push(campaign.clone());
        h.invite(callee, "X-Dialer-Campaign: 7\r\n");
        let invite = h.carrier_request("INVITE");
        assert!(
            header_line(&invite, "X-Dialer-Campaign").is_none(),
            "the campaign header stays inside: {invite}"
        );
        header_line(&invite, "P-Asserted-Identity")
            .unwrap()
            .to_owned()
    };
    assert!(pai("4155552671").contains("+14155550123"), "local to 415");
    assert!(
        pai("2125550100").contains("+13125550111"),
        "no 212 number: the first"
    );

    // A campaign the agent is not in: refused, and no carrier hears of it.
    let mut h = Harness::new();
    h.agent.dialing.campaigns.push(campaign);
    h.invite("4155552671", "X-Dialer-Campaign: 8\r\n");
    let out = h.browser_sent();
    assert!(
        status(out.last().unwrap()).starts_with("SIP/2.0 403 Forbidden (you are not in campaign 8"),
        "{out:?}"
    );
    assert!(h.sent().is_empty(), "nothing reaches the carrier");
    assert_eq!(h.records()[0].final_code, 403);
}

#[test]
fn an_agent_over_the_calls_a_minute_limit_is_refused_with_one_alert() {
    let mut h = Harness::new();
    h.b2bua.velocity = velocity::Velocity::new(Some(velocity::VelocityLimit {
        calls_per_minute: 2,
        gateway_calls_per_minute: None,
        block: true,
    }));
    for i in 0..4 {
        h.invite_as("4155552671", "", &format!("fast-{i}"));
    }
    let refused: Vec<String> = h
        .browser_sent()
        .into_iter()
        .filter(|m| status(m).starts_with("SIP/2.0 403"))
        .collect();
    assert_eq!(refused.len(), 2, "the 3rd and 4th: {refused:?}");
    assert!(
        status(&refused[0]).contains("over 2 calls a minute"),
        "{}",
        refused[0]
    );
    let events: Vec<B2buaEvent> = h.b2bua.drain_events().collect();
    let alerts = events
        .iter()
        .filter(|e| {
            matches!(
                e,
                B2buaEvent::Alert {
                    kind: "velocity",
                    ..
                }
            )
        })
        .count();
    assert_eq!(alerts, 1, "one alert a minute per agent");
    let refused_records = events
        .iter()
        .filter(|e| matches!(e, B2buaEvent::Record(r) if r.final_code == 403))
        .count();
    assert_eq!(refused_records, 2, "each refusal is recorded");
}

#[test]
fn an_agent_over_the_daily_spend_cap_is_refused_until_midnight() {
    let mut h = Harness::new();
    let now = h.now();
    let reason = "Forbidden (your calls today reached the daily spend cap; an admin can raise it)";
    let agent = Scope::Agent(h.agent.account_id);
    h.b2bua.block(
        &now,
        agent,
        Reach::All,
        now.unix_ms + 1000,
        reason.to_owned(),
    );
    h.invite("4155552671", "");
    let out = h.browser_sent();
    assert_eq!(status(out.last().unwrap()), format!("SIP/2.0 403 {reason}"));
    assert!(h.sent().is_empty(), "nothing reaches the carrier");
    assert_eq!(
        h.records()[0].final_reason,
        reason,
        "the refusal is recorded"
    );
    // After midnight, calls go again.
    h.advance(2000);
    h.invite_as("4155552671", "", "after-midnight");
    assert!(!h.sent().is_empty(), "the carrier gets the INVITE");
}

#[test]
fn a_campaign_over_its_cap_refuses_only_calls_presenting_it() {
    let mut h = Harness::new();
    h.agent.dialing.campaigns.push(shared::api::CampaignChoice {
        id: 7,
        name: "Spring".to_owned(),
        numbers: vec!["+14155550123".to_owned()],
    });
    let now = h.now();
    let reason = "Forbidden (campaign Spring's calls today reached the daily spend cap)";
    h.b2bua.block(
        &now,
        Scope::Campaign(7),
        Reach::All,
        now.unix_ms + 60_000,
        reason.to_owned(),
    );
    h.invite("4155552671", "X-Dialer-Campaign: 7\r\n");
    let out = h.browser_sent();
    assert_eq!(status(out.last().unwrap()), format!("SIP/2.0 403 {reason}"));
    assert!(h.sent().is_empty(), "nothing reaches the carrier");
    let record = &h.records()[0];
    assert_eq!(record.campaign_id, Some(7));
    assert_eq!(record.destination_country.as_deref(), Some("US"));
    // Outside the campaign, the agent's calls go.
    h.invite_as("4155552671", "", "no-campaign");
    assert!(!h.sent().is_empty(), "the carrier gets the INVITE");
}

#[test]
fn an_international_minutes_block_leaves_national_calls_alone() {
    let mut h = Harness::new();
    let now = h.now();
    let reason = "Forbidden (your calls today reached the daily international minutes)";
    h.b2bua.block(
        &now,
        Scope::Gateway,
        Reach::International,
        now.unix_ms + 60_000,
        reason.to_owned(),
    );
    h.invite("+442079460000", "");
    let out = h.browser_sent();
    assert_eq!(status(out.last().unwrap()), format!("SIP/2.0 403 {reason}"));
    assert!(h.sent().is_empty(), "nothing reaches the carrier");
    assert_eq!(h.records()[0].destination_country.as_deref(), Some("GB"));
    h.invite_as("4155552671", "", "national");
    assert!(!h.sent().is_empty(), "a national call goes");

    // New limits lift every block (they are counted again).
    let mut h = Harness::new();
    h.b2bua.block(
        &now,
        Scope::Gateway,
        Reach::International,
        now.unix_ms + 60_000,
        reason.to_owned(),
    );
    h.b2bua.set_limits(None);
    h.invite("+442079460000", "");
    assert!(!h.sent().is_empty(), "the carrier gets the INVITE");
}
