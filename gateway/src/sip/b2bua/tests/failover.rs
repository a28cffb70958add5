//! Failover across carriers, channel limits, local presence and the
//! agent's call limit.
#![allow(clippy::unwrap_used)]

use super::*;

const BACKUP: &str = "127.0.0.1:5098";

fn with_backup() -> Harness {
    let mut h = Harness::new();
    h.routes.push(Route {
        id: CarrierId(4),
        name: "Trunk B".to_owned(),
        addr: BACKUP.parse().unwrap(),
        priority: 2,
        ..route()
    });
    h
}

impl Harness {
    /// The last INVITE sent to `addr`.
    fn invite_to(&mut self, addr: &str) -> Option<String> {
        let to = Destination::Udp(addr.parse().unwrap());
        self.sent_to(to)
            .into_iter()
            .rfind(|t| t.starts_with("INVITE "))
    }
}

#[test]
fn primary_503_fails_over_to_the_backup_and_the_record_lists_both() {
    let mut h = with_backup();
    h.invite("4155552671", "");
    let first = h.invite_to(CARRIER).expect("INVITE to the primary");
    h.carrier_responds(&first, 503, "Service Unavailable", "", "");
    let second = h.invite_to(BACKUP).expect("INVITE to the backup");
    assert_ne!(
        header_line(&first, "Call-ID"),
        header_line(&second, "Call-ID")
    );
    let browser = h.browser_sent();
    assert!(
        !browser.iter().any(|t| status(t).starts_with("SIP/2.0 5")),
        "the agent hears only ringback: {browser:?}"
    );
    // The backup answers (responses are matched by its own transaction).
    let mut text = second.clone();
    text = text.replace(CARRIER, BACKUP);
    h.carrier_responds(
        &text,
        200,
        "OK",
        "Contact: <sip:b@127.0.0.1:5098>\r\n",
        CARRIER_SDP,
    );
    let browser = h.browser_sent();
    assert!(
        browser.iter().any(|t| status(t).starts_with("SIP/2.0 200")),
        "{browser:?}"
    );
    h.browser_request(&format!(
        "BYE sip:gw@gw.test SIP/2.0\r\nVia: SIP/2.0/WSS abc.invalid;branch=z9hG4bKbye1\r\nMax-Forwards: 70\r\n\
         From: \"Demo Agent\" <sip:demo@gw.test>;tag=btag\r\n{}\r\nCall-ID: browser-call-1\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n",
        browser
            .iter()
            .find(|t| status(t).starts_with("SIP/2.0 200"))
            .and_then(|t| header_line(t, "To"))
            .unwrap()
    ));
    h.media_stops(MediaCounts::default());
    let r = &h.records()[0];
    assert_eq!(r.carrier.as_deref(), Some("Trunk B"));
    let tried: Vec<(&str, u16)> = r
        .attempts
        .iter()
        .map(|a| (a.carrier.as_str(), a.code))
        .collect();
    assert_eq!(tried, vec![("Trunk A", 503), ("Trunk B", 200)]);
}

#[test]
fn primary_486_is_the_callees_answer_and_is_not_retried() {
    let mut h = with_backup();
    h.invite("4155552671", "");
    let first = h.invite_to(CARRIER).unwrap();
    h.carrier_responds(&first, 486, "Busy Here", "", "");
    assert!(
        h.invite_to(BACKUP).is_none(),
        "no second carrier for a busy callee"
    );
    let browser = h.browser_sent();
    assert!(
        browser.iter().any(|t| status(t).starts_with("SIP/2.0 486")),
        "{browser:?}"
    );
}

#[test]
fn silent_primary_is_given_up_after_the_failover_timeout() {
    let mut h = with_backup();
    h.invite("4155552671", "");
    assert!(h.invite_to(CARRIER).is_some());
    h.advance(3_900);
    assert!(h.invite_to(BACKUP).is_none(), "not before the timeout");
    h.advance(200);
    assert!(h.invite_to(BACKUP).is_some(), "the backup after 4 s");
}

#[test]
fn every_carrier_failing_gives_one_reason_naming_them() {
    let mut h = with_backup();
    h.invite("4155552671", "");
    let first = h.invite_to(CARRIER).unwrap();
    h.carrier_responds(&first, 503, "Service Unavailable", "", "");
    let second = h.invite_to(BACKUP).unwrap().replace(CARRIER, BACKUP);
    h.carrier_responds(&second, 500, "Server Internal Error", "", "");
    let browser = h.browser_sent();
    let fail = browser
        .iter()
        .find(|t| status(t).starts_with("SIP/2.0 500"))
        .expect("one final failure");
    assert!(
        fail.contains("Trunk A 503") && fail.contains("Trunk B 500"),
        "{fail}"
    );
}

#[test]
fn a_carrier_at_its_channel_limit_is_skipped() {
    let mut h = with_backup();
    h.routes[0].max_channels = Some(1);
    h.invite("4155552671", "");
    assert!(h.invite_to(CARRIER).is_some());
    assert_eq!(h.b2bua.channels_in_use(CarrierId(3)), 1);
    // A second agent call while the first still rings: the primary is full.
    let text = "INVITE sip:4155550000@gw.test SIP/2.0\r\nVia: SIP/2.0/WSS abc.invalid;branch=z9hG4bKbrowser2\r\n\
                Max-Forwards: 70\r\nFrom: <sip:demo@gw.test>;tag=b2\r\nTo: <sip:4155550000@gw.test>\r\n\
                Call-ID: browser-call-2\r\nCSeq: 1 INVITE\r\nContact: <sip:x@abc.invalid;transport=ws>\r\n\
                Content-Type: application/sdp\r\nContent-Length: 4\r\n\r\nv=0\n";
    let request = rsip::Request::try_from(text.as_bytes()).unwrap();
    let now = h.now();
    let agent = h.agent.clone();
    let routes = h.routes.clone();
    h.b2bua
        .handle_new_invite(now, CONN, request, Some(&agent), &routes);
    assert!(
        h.invite_to(BACKUP).is_some(),
        "the second call goes to the backup"
    );
}

#[test]
fn local_presence_presents_the_number_in_the_callees_area_code() {
    let mut h = Harness::new();
    h.agent.dialing.caller_ids.push(CallerIdChoice {
        number: "+12125550100".to_owned(),
        label: "New York".to_owned(),
    });
    h.agent.dialing.local_presence = true;
    h.invite("2125551234", "");
    let invite = h.carrier_request("INVITE");
    assert!(
        header_line(&invite, "From")
            .unwrap()
            .contains("+12125550100"),
        "{invite}"
    );
    // No local number for the callee: the default.
    let mut h = Harness::new();
    h.agent.dialing.local_presence = true;
    h.invite("3125551234", "");
    let invite = h.carrier_request("INVITE");
    assert!(
        header_line(&invite, "From")
            .unwrap()
            .contains("+14155550100"),
        "{invite}"
    );
}

#[test]
fn an_agent_at_their_call_limit_cannot_place_another_call() {
    let mut h = Harness::new();
    h.agent.max_calls = 1;
    h.invite("4155552671", "");
    assert_eq!(h.b2bua.calls_of(AccountId(1)), 1);
    h.browser_sent();
    let text = "INVITE sip:4155550000@gw.test SIP/2.0\r\nVia: SIP/2.0/WSS abc.invalid;branch=z9hG4bKbrowser9\r\n\
                Max-Forwards: 70\r\nFrom: <sip:demo@gw.test>;tag=b9\r\nTo: <sip:4155550000@gw.test>\r\n\
                Call-ID: browser-call-9\r\nCSeq: 1 INVITE\r\nContact: <sip:x@abc.invalid;transport=ws>\r\n\
                Content-Type: application/sdp\r\nContent-Length: 4\r\n\r\nv=0\n";
    let request = rsip::Request::try_from(text.as_bytes()).unwrap();
    let now = h.now();
    let agent = h.agent.clone();
    let routes = h.routes.clone();
    h.b2bua
        .handle_new_invite(now, CONN, request, Some(&agent), &routes);
    let out = h.browser_sent();
    assert!(status(&out[0]).starts_with("SIP/2.0 486"), "{out:?}");
}
