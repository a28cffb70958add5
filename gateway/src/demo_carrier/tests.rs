//! The demo carrier's SIP side on a fake clock: no sockets, no waiting.
//! (`gateway/tests/demo-carrier-*.rs` run the real thing on loopback.)

use std::net::SocketAddr;
use std::time::Duration;

use shared::sip::transaction::{Instant, Timers};

use super::uas::{MAX_CALL_DURATION, Uas, UasConfig, UasEvent};

const GATEWAY: &str = "127.0.0.1:5060";
const OFFER: &str = "v=0\r\no=gw 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
    m=audio 40000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\n";

struct Harness {
    uas: Uas,
    now: Instant,
    gateway: SocketAddr,
}

impl Harness {
    fn new() -> Self {
        Harness {
            uas: Uas::new(UasConfig {
                local: "127.0.0.1:5070".parse().expect("address"),
                answer_delay: Duration::from_secs(1),
                timers: Timers::default(),
                seed: 1,
            }),
            now: Instant::now(),
            gateway: GATEWAY.parse().expect("address"),
        }
    }

    fn send(&mut self, message: &str) {
        let now = self.now;
        self.uas
            .handle_datagram(now, self.gateway, message.as_bytes());
    }

    /// Everything sent so far, as text.
    fn sent(&mut self) -> Vec<String> {
        std::iter::from_fn(|| self.uas.poll_transmit())
            .map(|t| {
                assert_eq!(t.to, self.gateway, "everything goes back to the gateway");
                String::from_utf8(t.bytes).expect("SIP is text")
            })
            .collect()
    }

    fn events(&mut self) -> Vec<UasEvent> {
        std::iter::from_fn(|| self.uas.poll_event()).collect()
    }

    /// Advances the fake clock to `at`, firing every deadline on the way.
    fn run_until(&mut self, at: Instant) {
        while let Some(next) = self.uas.poll_timeout().filter(|t| *t <= at) {
            self.now = self.now.max(next);
            let now = self.now;
            self.uas.handle_timeout(now);
        }
        self.now = at;
    }

    fn advance(&mut self, by: Duration) {
        let at = self.now + by;
        self.run_until(at);
    }

    /// INVITE → 100, 180; then the answer: the 200's text.
    fn answered_call(&mut self, call_id: &str) -> String {
        self.send(&invite("+15550100", call_id, OFFER));
        assert_eq!(codes(&self.sent()), [100, 180]);
        self.advance(Duration::from_millis(999));
        self.answered_call_after_ringing()
    }

    /// After an INVITE sent by the test: the 200's text.
    fn answered_call_after_ringing(&mut self) -> String {
        self.advance(Duration::from_millis(1));
        let events = self.events();
        let Some(UasEvent::AnswerDue(call)) = events.first() else {
            panic!("no AnswerDue: {events:?}");
        };
        let now = self.now;
        assert!(
            self.uas
                .accept(now, *call, "127.0.0.1:6000".parse().expect("address"))
        );
        let sent = self.sent();
        assert_eq!(codes(&sent), [200]);
        sent[0].clone()
    }
}

fn invite(user: &str, call_id: &str, sdp: &str) -> String {
    format!(
        "INVITE sip:{user}@127.0.0.1:5070 SIP/2.0\r\n\
         Via: SIP/2.0/UDP {GATEWAY};branch=z9hG4bK-{call_id}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:agent@gw.test>;tag=gw1\r\n\
         To: <sip:{user}@127.0.0.1:5070>\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: 1 INVITE\r\n\
         Contact: <sip:gw@{GATEWAY}>\r\n\
         Content-Type: application/sdp\r\n\
         Content-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    )
}

/// A request in the dialog `call_id` (To tag from `response`).
fn in_dialog(
    method: &str,
    cseq: u32,
    branch: &str,
    call_id: &str,
    response: &str,
    sdp: &str,
) -> String {
    let to = header(response, "To");
    let content_type = if sdp.is_empty() {
        String::new()
    } else {
        "Content-Type: application/sdp\r\n".to_owned()
    };
    format!(
        "{method} sip:demo-carrier@127.0.0.1:5070 SIP/2.0\r\n\
         Via: SIP/2.0/UDP {GATEWAY};branch=z9hG4bK-{branch}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:agent@gw.test>;tag=gw1\r\n\
         To: {to}\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: {cseq} {method}\r\n\
         {content_type}Content-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    )
}

fn header(message: &str, name: &str) -> String {
    message
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}: ")))
        .unwrap_or_else(|| panic!("no {name} in {message}"))
        .to_owned()
}

fn codes(messages: &[String]) -> Vec<u16> {
    messages
        .iter()
        .map(|m| {
            m.strip_prefix("SIP/2.0 ")
                .and_then(|rest| rest.get(..3))
                .and_then(|code| code.parse().ok())
                .unwrap_or(0)
        })
        .collect()
}

#[test]
fn a_call_rings_answers_and_ends_with_the_callers_bye() {
    let mut h = Harness::new();
    h.send(&invite("+15550100", "call-1", OFFER));
    let sent = h.sent();
    assert_eq!(codes(&sent), [100, 180]);
    assert!(header(&sent[1], "To").contains(";tag="), "{}", sent[1]);
    assert_eq!(
        header(&sent[1], "Contact"),
        "<sip:demo-carrier@127.0.0.1:5070>"
    );

    h.advance(Duration::from_millis(999));
    assert!(h.events().is_empty(), "still ringing");
    let ok = h.answered_call_after_ringing();
    assert!(ok.contains("m=audio 6000 RTP/AVP 0 101\r\n"), "{ok}");
    assert!(ok.contains("Content-Type: application/sdp\r\n"), "{ok}");
    let events = h.events();
    assert!(
        matches!(&events[..], [UasEvent::Media { params, .. }] if params.send
            && params.payload_type == 0 && params.telephone_event == Some(101)
            && params.remote == Some("127.0.0.1:40000".parse().expect("address"))),
        "{events:?}"
    );

    h.send(&in_dialog("ACK", 1, "ack1", "call-1", &ok, ""));
    h.advance(Duration::from_secs(10));
    assert!(h.sent().is_empty(), "no 200 retransmissions after the ACK");

    h.send(&in_dialog("BYE", 2, "bye1", "call-1", &ok, ""));
    assert_eq!(codes(&h.sent()), [200]);
    assert!(matches!(h.events()[..], [UasEvent::Ended(_)]));
    assert_eq!(h.uas.call_count(), 0);
    // A retransmitted BYE gets the same 200 from its transaction.
    h.send(&in_dialog("BYE", 2, "bye1", "call-1", &ok, ""));
    assert_eq!(codes(&h.sent()), [200]);
    // A BYE for the ended call is unknown.
    h.send(&in_dialog("BYE", 3, "bye2", "call-1", &ok, ""));
    assert_eq!(codes(&h.sent()), [481]);
}

#[test]
fn the_200_is_resent_until_64_t1_then_the_carrier_hangs_up() {
    let mut h = Harness::new();
    let ok = h.answered_call("call-noack");
    h.events();
    let answered = h.now;
    let mut resent_at = Vec::new();
    while h.now < answered + Duration::from_secs(40) {
        h.advance(Duration::from_millis(100));
        for message in h.sent() {
            resent_at.push((h.now - answered, message));
        }
    }
    let (resends, bye): (Vec<_>, Vec<_>) = resent_at
        .into_iter()
        .partition(|(_, m)| m.starts_with("SIP/2.0 200"));
    let times: Vec<u64> = resends
        .iter()
        .map(|(t, _)| t.as_millis() as u64 / 100)
        .collect();
    // T1 = 0.5 s, doubling, capped at T2 = 4 s, until 64·T1 = 32 s.
    assert_eq!(times, [5, 15, 35, 75, 115, 155, 195, 235, 275, 315]);
    assert!(
        resends.iter().all(|(_, m)| *m == ok),
        "the same bytes each time"
    );
    let Some((at, bye)) = bye.first() else {
        panic!("no BYE after 64·T1");
    };
    assert_eq!(at.as_millis() / 100, 320);
    assert!(
        bye.starts_with("BYE sip:gw@127.0.0.1:5060 SIP/2.0\r\n"),
        "{bye}"
    );
    assert_eq!(header(bye, "To"), "<sip:agent@gw.test>;tag=gw1");
    assert_eq!(header(bye, "From"), header(&ok, "To"));
    assert!(matches!(h.events()[..], [UasEvent::Ended(_)]));
}

#[test]
fn a_call_hangs_up_after_ten_minutes() {
    let mut h = Harness::new();
    let invited = h.now;
    let ok = h.answered_call("call-long");
    h.send(&in_dialog("ACK", 1, "ack1", "call-long", &ok, ""));
    h.events();
    h.run_until(invited + MAX_CALL_DURATION - Duration::from_millis(1));
    assert!(h.sent().is_empty());
    h.advance(Duration::from_millis(1));
    let sent = h.sent();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(sent[0].starts_with("BYE "), "{}", sent[0]);
    assert!(matches!(h.events()[..], [UasEvent::Ended(_)]));
    // Our BYE is resent until answered, then nothing more.
    h.advance(Duration::from_millis(600));
    let resent = h.sent();
    assert_eq!(resent.len(), 1, "{resent:?}");
    let bye = &resent[0];
    let response = format!(
        "SIP/2.0 200 OK\r\nVia: {}\r\nFrom: {}\r\nTo: {}\r\nCall-ID: call-long\r\n\
         CSeq: 1 BYE\r\nContent-Length: 0\r\n\r\n",
        header(bye, "Via"),
        header(bye, "From"),
        header(bye, "To"),
    );
    h.send(&response);
    h.advance(Duration::from_secs(40));
    assert!(h.sent().is_empty());
}

#[test]
fn special_numbers_fail_on_demand() {
    for (user, code) in [
        ("+1555000486", 486),
        ("404", 404),
        ("0480", 480),
        ("tel-503", 503),
    ] {
        let mut h = Harness::new();
        let call_id = format!("call-{user}");
        h.send(&invite(user, &call_id, OFFER));
        let sent = h.sent();
        assert_eq!(codes(&sent), [code], "{user}");
        assert!(header(&sent[0], "To").contains(";tag="));
        // Resent (timer G) until the ACK, which reuses the INVITE's branch.
        h.advance(Duration::from_millis(500));
        assert_eq!(codes(&h.sent()), [code]);
        let ack = format!(
            "ACK sip:{user}@127.0.0.1:5070 SIP/2.0\r\n\
             Via: SIP/2.0/UDP {GATEWAY};branch=z9hG4bK-{call_id}\r\nMax-Forwards: 70\r\n\
             From: <sip:agent@gw.test>;tag=gw1\r\nTo: {}\r\nCall-ID: {call_id}\r\n\
             CSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n",
            header(&sent[0], "To")
        );
        h.send(&ack);
        h.advance(Duration::from_secs(40));
        assert!(h.sent().is_empty(), "{user}: nothing after the ACK");
        assert!(h.events().is_empty());
    }
}

#[test]
fn number_408_rings_until_cancelled() {
    let mut h = Harness::new();
    h.send(&invite("5550408", "call-408", OFFER));
    assert_eq!(codes(&h.sent()), [100, 180]);
    h.advance(Duration::from_secs(120));
    assert!(h.events().is_empty(), "never answered");
    assert_eq!(codes(&h.sent()), [180, 180], "the 180 again every minute");
    let cancel = invite("5550408", "call-408", OFFER)
        .replacen("INVITE sip", "CANCEL sip", 1)
        .replace("CSeq: 1 INVITE", "CSeq: 1 CANCEL");
    let cancel = cancel
        .split("Content-Type")
        .next()
        .expect("header part")
        .to_owned()
        + "Content-Length: 0\r\n\r\n";
    h.send(&cancel);
    let sent = h.sent();
    assert_eq!(codes(&sent), [200, 487]);
    assert!(header(&sent[0], "CSeq").ends_with("CANCEL"));
    assert!(header(&sent[1], "CSeq").ends_with("INVITE"));
    assert!(matches!(h.events()[..], [UasEvent::Ended(_)]));
    // A second CANCEL is answered by the first one's transaction.
    h.send(&cancel);
    assert_eq!(codes(&h.sent()), [200]);
}

#[test]
fn hold_and_resume_by_re_invite() {
    let mut h = Harness::new();
    let ok = h.answered_call("call-hold");
    h.send(&in_dialog("ACK", 1, "ack1", "call-hold", &ok, ""));
    h.events();
    let held = format!("{OFFER}a=sendonly\r\n");
    h.send(&in_dialog("INVITE", 2, "re1", "call-hold", &ok, &held));
    let sent = h.sent();
    assert_eq!(codes(&sent), [200]);
    assert!(sent[0].contains("a=recvonly\r\n"), "{}", sent[0]);
    assert!(
        sent[0].contains(" 2 IN IP4 "),
        "session version grows: {}",
        sent[0]
    );
    let events = h.events();
    assert!(
        matches!(&events[..], [UasEvent::Media { params, .. }] if !params.send),
        "{events:?}"
    );
    // Another offer before the ACK: 491.
    h.send(&in_dialog("INVITE", 3, "re2", "call-hold", &ok, OFFER));
    assert_eq!(codes(&h.sent()), [491]);
    h.send(&in_dialog("ACK", 2, "ack2", "call-hold", &ok, ""));
    h.send(&in_dialog("INVITE", 4, "re3", "call-hold", &ok, OFFER));
    let sent = h.sent();
    assert_eq!(codes(&sent), [200]);
    assert!(sent[0].contains("a=sendrecv\r\n"));
    assert!(matches!(&h.events()[..], [UasEvent::Media { params, .. }] if params.send));
}

#[test]
fn unknown_dialogs_options_and_bad_offers() {
    let mut h = Harness::new();
    let fake = "SIP/2.0 200 OK\r\nTo: <sip:x@y>;tag=nope\r\n";
    h.send(&in_dialog("BYE", 2, "b1", "nosuch", fake, ""));
    assert_eq!(codes(&h.sent()), [481]);
    h.send(&in_dialog("INVITE", 2, "i1", "nosuch", fake, OFFER));
    assert_eq!(codes(&h.sent()), [481]);
    h.send(&in_dialog("ACK", 2, "a1", "nosuch", fake, ""));
    assert!(h.sent().is_empty(), "ACK absorbed");
    let options = in_dialog("OPTIONS", 1, "o1", "ping", "To: <sip:x@y>", "");
    h.send(&options);
    let sent = h.sent();
    assert_eq!(codes(&sent), [200]);
    assert!(sent[0].contains("Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO\r\n"));
    let register = in_dialog("REGISTER", 1, "r1", "reg", "To: <sip:x@y>", "");
    h.send(&register);
    assert_eq!(codes(&h.sent()), [405]);

    let opus =
        "v=0\r\nc=IN IP4 127.0.0.1\r\nm=audio 4000 RTP/AVP 111\r\na=rtpmap:111 opus/48000/2\r\n";
    h.send(&invite("5550100", "call-opus", opus));
    let sent = h.sent();
    assert_eq!(codes(&sent), [488]);
    assert!(
        header(&sent[0], "Warning").starts_with("305 "),
        "{}",
        sent[0]
    );
    h.send(&invite("5550100", "call-nosdp", ""));
    assert_eq!(codes(&h.sent()), [488]);
    assert_eq!(h.uas.call_count(), 0);
}

#[test]
fn hostile_input_never_panics() {
    let mut h = Harness::new();
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/tests/data/rfc4475");
    let entries = std::fs::read_dir(dir).expect("the RFC 4475 corpus is in shared/tests/data");
    let mut fed = 0;
    for entry in entries {
        let path = entry.expect("directory entry").path();
        let bytes = std::fs::read(&path).expect("readable corpus file");
        h.uas.handle_datagram(h.now, h.gateway, &bytes);
        // And every prefix of it, as a truncated datagram.
        for len in (0..bytes.len()).step_by(17) {
            h.uas.handle_datagram(h.now, h.gateway, &bytes[..len]);
        }
        fed += 1;
    }
    assert!(fed > 30, "only {fed} corpus files");
    let garbage: [&[u8]; 4] = [b"", b"\xff\xfe\x00", b"INVITE", b"SIP/2.0 200 OK\r\n\r\n"];
    for g in garbage {
        h.uas.handle_datagram(h.now, h.gateway, g);
    }
    h.advance(Duration::from_secs(700));
    // Whatever rang has been cleaned up by the ten-minute limit.
    assert_eq!(h.uas.call_count(), 0);
}
