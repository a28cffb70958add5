//! The B2BUA on a fake clock, with a recording media port: one test per
//! behaviour of an outbound call.
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};

use shared::api::CallerIdChoice;

use super::*;

/// What the B2BUA asked of the media side.
#[derive(Default)]
struct MediaLog {
    started: Vec<(u64, Vec<String>)>,
    answers: Vec<(u64, String)>,
    reoffers: Vec<(u64, String)>,
    holds: Vec<(u64, bool)>,
    stopped: Vec<u64>,
    fail_start: Option<MediaFailure>,
}

struct FakeMedia(Arc<Mutex<MediaLog>>);

impl MediaPort for FakeMedia {
    fn start_outbound(
        &mut self,
        call: u64,
        _offer: &str,
        codecs: &[String],
        _srtp_required: bool,
        _carrier_ip: std::net::IpAddr,
    ) -> Result<MediaSetup, MediaFailure> {
        let mut log = self.0.lock().unwrap();
        if let Some(f) = log.fail_start.clone() {
            return Err(f);
        }
        log.started.push((call, codecs.to_vec()));
        Ok(MediaSetup {
            browser_answer: "v=0\r\no=- 9 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 30000 UDP/TLS/RTP/SAVPF 0\r\na=ice-lite\r\n".to_owned(),
            carrier_offer: "v=0\r\no=- 7 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 30002 RTP/AVP 0 8 101\r\na=sendrecv\r\n".to_owned(),
        })
    }
    fn start_inbound(
        &mut self,
        call: u64,
        _offer: &str,
        codecs: &[String],
        _srtp_required: bool,
    ) -> Result<InboundSetup, MediaFailure> {
        let mut log = self.0.lock().unwrap();
        if let Some(f) = log.fail_start.clone() {
            return Err(f);
        }
        log.started.push((call, codecs.to_vec()));
        Ok(InboundSetup {
            browser_offer: BROWSER_OFFER.to_owned(),
            carrier_answer: "v=0\r\no=- 8 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 30004 RTP/AVP 0 101\r\na=sendrecv\r\n".to_owned(),
        })
    }
    fn carrier_offer(
        &mut self,
        call: u64,
        codecs: &[String],
        _srtp_required: bool,
        _carrier_ip: std::net::IpAddr,
    ) -> Result<String, MediaFailure> {
        let _ = call;
        Ok(format!(
            "v=0\r\no=- 7 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 30002 RTP/AVP 0 8 101\r\na=x-carrier-codecs:{}\r\na=sendrecv\r\n",
            codecs.join(",")
        ))
    }
    fn browser_answer(&mut self, call: u64, sdp: &str) -> Result<(), MediaFailure> {
        self.0.lock().unwrap().answers.push((call, sdp.to_owned()));
        Ok(())
    }
    fn carrier_answer(&mut self, call: u64, sdp: &str) -> Result<(), MediaFailure> {
        self.0.lock().unwrap().answers.push((call, sdp.to_owned()));
        if sdp.contains("m=audio 4000 RTP/AVP 18") {
            return Err(MediaFailure {
                code: 488,
                reason: "Not Acceptable Here (no common codec)".to_owned(),
            });
        }
        Ok(())
    }
    fn browser_reoffer(&mut self, call: u64, sdp: &str) {
        self.0.lock().unwrap().reoffers.push((call, sdp.to_owned()));
    }
    fn set_hold(&mut self, call: u64, held: bool) {
        self.0.lock().unwrap().holds.push((call, held));
    }
    fn stop(&mut self, call: u64) {
        self.0.lock().unwrap().stopped.push(call);
    }
}

const CARRIER: &str = "127.0.0.1:5099";
const BROWSER_OFFER: &str = "v=0\r\no=- 5 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 30006 UDP/TLS/RTP/SAVPF 0 8 101\r\na=ice-lite\r\n";
const CONN: ConnId = ConnId(7);
const CARRIER_SDP: &str = "v=0\r\no=c 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0 101\r\na=sendrecv\r\n";

struct Harness {
    b2bua: B2bua,
    media: Arc<Mutex<MediaLog>>,
    start: Instant,
    now_ms: u64,
    agent: AgentInfo,
    routes: Vec<Route>,
    /// Sent but not yet looked at.
    buf: Vec<(Destination, String)>,
}

fn route() -> Route {
    Route {
        id: 3,
        name: "Trunk A".to_owned(),
        addr: CARRIER.parse().unwrap(),
        host: "127.0.0.1".to_owned(),
        username: None,
        secret: None,
        from_user: None,
        from_domain: None,
        caller_id: Some("+15550001111".to_owned()),
        codecs: vec!["PCMU".to_owned(), "PCMA".to_owned()],
        number_format: NumberFormat::E164,
        tech_prefix: String::new(),
        transport: SipTransport::Udp,
        inbound: Default::default(),
        priority: 1,
        weight: 1,
        max_channels: None,
        qualify: None,
        register: None,
        realm: None,
        tls_ca: None,
        srtp_required: false,
    }
}

impl Harness {
    fn new() -> Harness {
        let media = Arc::new(Mutex::new(MediaLog::default()));
        Harness {
            b2bua: B2bua::new(
                B2buaConfig::new("127.0.0.1".parse().unwrap(), 5060, "gw.test"),
                Box::new(FakeMedia(media.clone())),
                [3; 32],
            ),
            media,
            start: Instant::now(),
            now_ms: 0,
            agent: AgentInfo {
                account_id: 1,
                username: "demo".to_owned(),
                display_name: "Demo Agent".to_owned(),
                dialing: DialingProfile {
                    default_country: "US".to_owned(),
                    caller_ids: vec![CallerIdChoice {
                        number: "+14155550100".to_owned(),
                        label: "Sales".to_owned(),
                    }],
                    default_caller_id: Some("+14155550100".to_owned()),
                    local_presence: false,
                    destination_policies: Vec::new(),
                },
                max_calls: 5,
            },
            routes: vec![route()],
            buf: Vec::new(),
        }
    }

    fn pull(&mut self) {
        let new: Vec<_> = self
            .b2bua
            .drain_transmits()
            .map(|t| (t.to, String::from_utf8(t.bytes).unwrap()))
            .collect();
        self.buf.extend(new);
    }

    fn now(&self) -> Now {
        Now {
            instant: self.start + Duration::from_millis(self.now_ms),
            unix: 1_700_000_000 + i64::try_from(self.now_ms / 1000).unwrap(),
            unix_ms: 1_700_000_000_000 + i64::try_from(self.now_ms).unwrap(),
        }
    }

    fn advance(&mut self, ms: u64) {
        self.now_ms += ms;
        let now = self.now();
        self.b2bua.handle_timeout(now);
    }

    /// Everything sent since the last call, as (destination, text).
    fn sent(&mut self) -> Vec<(Destination, String)> {
        self.pull();
        std::mem::take(&mut self.buf)
    }

    /// What went to the browser since last looked at; the rest stays.
    fn browser_sent(&mut self) -> Vec<String> {
        self.pull();
        let (browser, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut self.buf)
            .into_iter()
            .partition(|(d, _)| *d == Destination::Conn(CONN));
        self.buf = rest;
        browser.into_iter().map(|(_, t)| t).collect()
    }

    fn invite(&mut self, number: &str, extra: &str) {
        let sdp = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0 8 126\r\n";
        let text = format!(
            "INVITE sip:{number}@gw.test;user=phone SIP/2.0\r\n\
             Via: SIP/2.0/WSS abc.invalid;branch=z9hG4bKbrowser1\r\n\
             Max-Forwards: 70\r\n\
             From: \"Demo Agent\" <sip:demo@gw.test>;tag=btag\r\n\
             To: <sip:{number}@gw.test>\r\n\
             Call-ID: browser-call-1\r\n\
             CSeq: 1 INVITE\r\n\
             Contact: <sip:x@abc.invalid;transport=ws>\r\n\
             {extra}\
             Content-Type: application/sdp\r\n\
             Content-Length: {}\r\n\r\n{sdp}",
            sdp.len()
        );
        let request = rsip::Request::try_from(text.as_bytes()).unwrap();
        let now = self.now();
        let agent = self.agent.clone();
        let routes = self.routes.clone();
        self.b2bua
            .handle_new_invite(now, CONN, request, Some(&agent), &routes);
    }

    fn browser_request(&mut self, text: &str) {
        let request = rsip::Request::try_from(text.as_bytes()).unwrap();
        let now = self.now();
        assert!(self.b2bua.handle_browser_request(now, CONN, &request));
    }

    /// The last request sent to the carrier.
    fn carrier_request(&mut self, method: &str) -> String {
        self.pull();
        let (carrier, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut self.buf)
            .into_iter()
            .partition(|(d, _)| *d != Destination::Conn(CONN));
        self.buf = rest;
        carrier
            .into_iter()
            .filter(|(d, t)| {
                *d == Destination::Udp(CARRIER.parse().unwrap()) && t.starts_with(method)
            })
            .map(|(_, t)| t)
            .next_back()
            .unwrap_or_else(|| panic!("no {method} sent to the carrier"))
    }

    /// Answers `request` (a text we sent to the carrier) from the carrier.
    fn carrier_responds(
        &mut self,
        request: &str,
        code: u16,
        reason: &str,
        extra: &str,
        body: &str,
    ) {
        let mut text = format!("SIP/2.0 {code} {reason}\r\n");
        for line in request.lines() {
            let lower = line.to_ascii_lowercase();
            if lower.starts_with("via:")
                || lower.starts_with("from:")
                || lower.starts_with("call-id:")
                || lower.starts_with("cseq:")
            {
                text.push_str(line);
                text.push_str("\r\n");
            } else if lower.starts_with("to:") {
                text.push_str(line);
                if code > 100 {
                    text.push_str(";tag=carrier");
                }
                text.push_str("\r\n");
            }
        }
        text.push_str(extra);
        if body.is_empty() {
            text.push_str("Content-Length: 0\r\n\r\n");
        } else {
            text.push_str(&format!(
                "Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            ));
        }
        let response = rsip::Response::try_from(text.as_bytes()).unwrap();
        let now = self.now();
        self.b2bua.handle_carrier_response(now, response);
    }

    fn records(&mut self) -> Vec<CallRecord> {
        self.b2bua
            .drain_events()
            .filter_map(|e| match e {
                B2buaEvent::Record(r) => Some(*r),
                B2buaEvent::Placed { .. } => None,
            })
            .collect()
    }

    fn media_stops(&mut self, counts: MediaCounts) {
        let now = self.now();
        self.b2bua.media_stopped(now, 1, counts, None);
    }
}

fn status(text: &str) -> &str {
    text.lines().next().unwrap_or("")
}

fn header_line<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    text.lines().find(|l| {
        l.split_once(':')
            .is_some_and(|(n, _)| n.trim().eq_ignore_ascii_case(name))
    })
}

fn answered_call() -> (Harness, String) {
    let mut h = Harness::new();
    h.invite("4155552671", "");
    let live = h.b2bua.live_calls();
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].state, LiveCallState::Ringing);
    assert_eq!(live[0].dialled, "+14155552671");
    let browser = h.browser_sent();
    assert_eq!(status(&browser[0]), "SIP/2.0 100 Trying");
    let invite = h.carrier_request("INVITE");
    h.carrier_responds(&invite, 180, "Ringing", "", "");
    h.carrier_responds(
        &invite,
        200,
        "OK",
        "Contact: <sip:callee@127.0.0.1:5099>\r\n",
        CARRIER_SDP,
    );
    (h, invite)
}

#[test]
fn answered_call_relays_ringing_answer_and_acks_both_ways() {
    let mut h = Harness::new();
    h.invite("(415) 555-2671", "");
    let browser = h.browser_sent();
    assert_eq!(status(&browser[0]), "SIP/2.0 100 Trying");
    assert_eq!(
        h.media.lock().unwrap().started,
        vec![(1, vec!["PCMU".to_owned(), "PCMA".to_owned()])]
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
    assert_eq!(h.media.lock().unwrap().stopped, vec![1]);
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
    assert_eq!(h.media.lock().unwrap().holds, vec![(1, true)]);
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
        .media_browser_answer(1, Ok("v=0\r\na=recvonly\r\n".to_owned()));
    let out = h.browser_sent();
    assert!(status(&out[0]) == "SIP/2.0 200 OK" && out[0].contains("a=recvonly"));
}

#[test]
fn lost_connection_hangs_up_the_carrier() {
    let (mut h, _) = answered_call();
    h.sent();
    let now = h.now();
    h.b2bua.connection_closed(now, CONN);
    let sent = h.sent();
    assert!(sent.iter().any(|(d, t)| *d == Destination::Udp(CARRIER.parse().unwrap()) && t.starts_with("BYE ")));
    h.media_stops(MediaCounts::default());
    assert_eq!(h.records()[0].hangup_by, HangupBy::Agent);
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
    h.b2bua.media_no_media(now, 1, Duration::from_secs(30));
    let sent = h.sent();
    let bye = sent
        .iter()
        .find(|(d, t)| *d == Destination::Udp(CARRIER.parse().unwrap()) && t.starts_with("BYE "))
        .expect("BYE to the carrier");
    assert!(
        bye.1
            .contains("Reason: SIP;cause=200;text=\"No media for 30 s\""),
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
    assert_eq!(r.final_reason, "No media for 30 s");
}

#[test]
fn destinations_outside_the_allowed_countries_are_refused_before_the_carrier() {
    let mut h = Harness::new();
    h.b2bua.config.dial_countries = vec!["US".to_owned(), "CA".to_owned()];
    h.invite("+442079460000", "");
    let out = h.browser_sent();
    assert!(
        status(&out[0]).starts_with("SIP/2.0 403 Forbidden (calls to GB are not allowed"),
        "{}",
        out[0]
    );
    assert!(h.sent().is_empty(), "nothing reaches the carrier");
    let r = &h.records()[0];
    assert_eq!((r.final_code, r.carrier.as_deref()), (403, None));
    let mut h = Harness::new();
    h.b2bua.config.dial_countries = vec!["US".to_owned(), "CA".to_owned()];
    h.invite("4155552671", "");
    let invite = h.carrier_request("INVITE");
    assert!(invite.starts_with("INVITE sip:+14155552671@"));
}

// -------------------------------------------------------------------
// Inbound calls: carrier → DID → the agent's tabs
// -------------------------------------------------------------------

const TAB_1: ConnId = ConnId(21);
const TAB_2: ConnId = ConnId(22);

fn demo_dids() -> crate::sip::dids::DidTable {
    use crate::sip::dids::{Did, DidTable, DidTarget};
    DidTable::new(vec![
        Did {
            number: "+14155550150".to_owned(),
            label: "Sales line".to_owned(),
            carrier_id: None,
            target: DidTarget::Agent {
                account_id: 1,
                username: "demo".to_owned(),
            },
        },
        Did {
            number: "+14155550199".to_owned(),
            label: "Closed".to_owned(),
            carrier_id: None,
            target: DidTarget::Reject { code: 603 },
        },
    ])
}

fn tabs(online: bool) -> impl Fn(&str) -> Vec<ForkTarget> {
    move |user: &str| {
        if !online || user != "demo" {
            return Vec::new();
        }
        [TAB_1, TAB_2]
            .into_iter()
            .map(|conn| ForkTarget {
                conn,
                contact: format!("sip:tab{}@abc.invalid;transport=ws", conn.0),
                account_id: 1,
                username: "demo".to_owned(),
            })
            .collect()
    }
}

impl Harness {
    /// A carrier's INVITE to `did`, from the carrier's address.
    fn carrier_invite(&mut self, did: &str, online: bool) {
        let text = format!(
            "INVITE sip:{did}@127.0.0.1:5060 SIP/2.0\r\n\
             Via: SIP/2.0/UDP 127.0.0.1:5099;branch=z9hG4bKcarrier1\r\n\
             Max-Forwards: 70\r\n\
             From: \"Alice Caller\" <sip:+14155550123@127.0.0.1>;tag=ctag\r\n\
             To: <sip:{did}@127.0.0.1>\r\n\
             Call-ID: carrier-call-1\r\n\
             CSeq: 10 INVITE\r\n\
             Contact: <sip:carrier@127.0.0.1:5099>\r\n\
             Content-Type: application/sdp\r\n\
             Content-Length: {}\r\n\r\n{CARRIER_SDP}",
            CARRIER_SDP.len()
        );
        let request = rsip::Request::try_from(text.as_bytes()).unwrap();
        let now = self.now();
        let route = self.routes[0].clone();
        let dids = demo_dids();
        let bindings = tabs(online);
        self.b2bua.handle_inbound_invite(
            now,
            CARRIER.parse().unwrap(),
            Destination::Udp(CARRIER.parse().unwrap()),
            shared::sip::Transport::Udp,
            request,
            &route,
            &dids,
            &bindings,
        );
    }

    /// A request from the carrier inside the inbound call.
    fn carrier_sends(&mut self, method: &str, cseq: u32, with_tag: Option<&str>) {
        let to_tag = with_tag.map(|t| format!(";tag={t}")).unwrap_or_default();
        let text = format!(
            "{method} sip:gw@127.0.0.1 SIP/2.0\r\n\
             Via: SIP/2.0/UDP 127.0.0.1:5099;branch=z9hG4bKcarrier{cseq}\r\n\
             Max-Forwards: 70\r\n\
             From: \"Alice Caller\" <sip:+14155550123@127.0.0.1>;tag=ctag\r\n\
             To: <sip:+14155550150@127.0.0.1>{to_tag}\r\n\
             Call-ID: carrier-call-1\r\n\
             CSeq: {cseq} {method}\r\n\
             Content-Length: 0\r\n\r\n"
        );
        let request = rsip::Request::try_from(text.as_bytes()).unwrap();
        let now = self.now();
        assert!(self.b2bua.handle_carrier_request(
            now,
            CARRIER.parse().unwrap(),
            Destination::Udp(CARRIER.parse().unwrap()),
            &request
        ));
    }

    /// A tab answers `invite` (a text we sent it).
    fn tab_responds(&mut self, conn: ConnId, invite: &str, code: u16, body: &str) {
        let mut text = format!("SIP/2.0 {code} Whatever\r\n");
        for line in invite.lines() {
            let lower = line.to_ascii_lowercase();
            if ["via:", "from:", "call-id:", "cseq:"]
                .iter()
                .any(|h| lower.starts_with(h))
            {
                text.push_str(line);
                text.push_str("\r\n");
            } else if lower.starts_with("to:") {
                text.push_str(&format!("{line};tag=tab{}\r\n", conn.0));
            } else if line.is_empty() {
                break;
            }
        }
        if body.is_empty() {
            text.push_str("Content-Length: 0\r\n\r\n");
        } else {
            text.push_str(&format!(
                "Contact: <sip:tab@abc.invalid;transport=ws>\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            ));
        }
        let response = rsip::Response::try_from(text.as_bytes()).unwrap();
        let now = self.now();
        assert!(self.b2bua.handle_browser_response(now, conn, &response));
    }

    fn sent_to(&mut self, to: Destination) -> Vec<String> {
        self.pull();
        let (mine, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut self.buf)
            .into_iter()
            .partition(|(d, _)| *d == to);
        self.buf = rest;
        mine.into_iter().map(|(_, t)| t).collect()
    }
}

#[test]
fn inbound_call_rings_every_tab_and_the_first_answer_wins() {
    let mut h = Harness::new();
    let carrier = Destination::Udp(CARRIER.parse().unwrap());
    h.carrier_invite("+14155550150", true);
    let to_carrier = h.sent_to(carrier);
    assert!(
        status(&to_carrier[0]).starts_with("SIP/2.0 100"),
        "{to_carrier:?}"
    );
    assert!(
        status(&to_carrier[1]).starts_with("SIP/2.0 180"),
        "{to_carrier:?}"
    );
    let invite_1 = h.sent_to(Destination::Conn(TAB_1)).remove(0);
    let invite_2 = h.sent_to(Destination::Conn(TAB_2)).remove(0);
    for invite in [&invite_1, &invite_2] {
        assert!(invite.starts_with("INVITE sip:tab"), "{invite}");
        assert_eq!(
            header_line(invite, "X-Dialer-DID"),
            Some("X-Dialer-DID: +14155550150")
        );
        assert!(
            invite.contains("X-Dialer-DID-Label: Sales line"),
            "{invite}"
        );
        assert!(
            header_line(invite, "From")
                .unwrap()
                .contains("\"Alice Caller\" <sip:+14155550123@"),
            "{invite}"
        );
        assert!(invite.ends_with(BROWSER_OFFER), "{invite}");
    }
    assert_ne!(
        header_line(&invite_1, "Call-ID"),
        header_line(&invite_2, "Call-ID"),
        "each tab is its own dialog"
    );
    h.tab_responds(TAB_1, &invite_1, 180, "");
    h.tab_responds(TAB_2, &invite_2, 180, "");
    h.advance(2000);
    h.tab_responds(TAB_2, &invite_2, 200, "v=0\r\nanswer-from-tab-2\r\n");

    let to_tab_2 = h.sent_to(Destination::Conn(TAB_2));
    assert!(
        to_tab_2
            .iter()
            .any(|t| t.starts_with("ACK sip:tab@abc.invalid")),
        "{to_tab_2:?}"
    );
    let to_tab_1 = h.sent_to(Destination::Conn(TAB_1));
    let cancel = to_tab_1
        .iter()
        .find(|t| t.starts_with("CANCEL "))
        .expect("CANCEL to the other tab");
    assert!(cancel.contains("Call completed elsewhere"), "{cancel}");
    assert_eq!(header_line(cancel, "Via"), header_line(&invite_1, "Via"));
    let ok = h.sent_to(carrier);
    assert!(status(&ok[0]).starts_with("SIP/2.0 200"), "{ok:?}");
    assert!(ok[0].contains("m=audio 30004 RTP/AVP 0 101"), "{}", ok[0]);
    assert!(header_line(&ok[0], "Contact").is_some());
    assert_eq!(
        h.media.lock().unwrap().answers,
        vec![(1, "v=0\r\nanswer-from-tab-2\r\n".to_owned())]
    );
    // The other tab's 487 gets its ACK.
    h.tab_responds(TAB_1, &invite_1, 487, "");
    assert!(h.sent_to(Destination::Conn(TAB_1))[0].starts_with("ACK sip:tab21@"));

    // No ACK yet: the 200 is sent again (T1), until the ACK comes.
    h.advance(600);
    assert_eq!(h.sent_to(carrier).len(), 1, "200 retransmitted");
    let tag = header_line(&ok[0], "To")
        .unwrap()
        .split("tag=")
        .nth(1)
        .unwrap()
        .to_owned();
    h.carrier_sends("ACK", 10, Some(&tag));
    h.advance(5000);
    assert!(
        h.sent_to(carrier).is_empty(),
        "no more retransmissions after the ACK"
    );

    h.advance(10_000);
    h.carrier_sends("BYE", 11, Some(&tag));
    assert!(status(&h.sent_to(carrier)[0]).starts_with("SIP/2.0 200"));
    let bye = h.sent_to(Destination::Conn(TAB_2));
    assert!(bye[0].starts_with("BYE sip:tab@abc.invalid"), "{bye:?}");
    h.media_stops(MediaCounts {
        packets_to_carrier: 500,
        ..MediaCounts::default()
    });
    let r = &h.records()[0];
    assert_eq!(r.direction, CallDirection::Inbound);
    assert_eq!(r.dialled, "+14155550150");
    assert_eq!(r.caller_id.as_deref(), Some("+14155550123"));
    assert_eq!(r.agent.as_deref(), Some("demo"));
    assert_eq!(r.hangup_by, HangupBy::Remote);
    assert_eq!(r.final_code, 200);
    assert_eq!(r.duration_s, 15, "answered at 2 s, BYE at 17.6 s");
    assert!(r.answered_at.is_some());
    assert_eq!(h.b2bua.call_count(), 0);
}

#[test]
fn caller_hangs_up_while_ringing_cancels_every_tab_and_is_a_missed_call() {
    let mut h = Harness::new();
    let carrier = Destination::Udp(CARRIER.parse().unwrap());
    h.carrier_invite("+14155550150", true);
    let invite_1 = h.sent_to(Destination::Conn(TAB_1)).remove(0);
    let invite_2 = h.sent_to(Destination::Conn(TAB_2)).remove(0);
    h.tab_responds(TAB_1, &invite_1, 180, "");
    h.sent();
    h.carrier_sends("CANCEL", 10, None);
    let to_carrier = h.sent_to(carrier);
    assert!(
        to_carrier
            .iter()
            .any(|t| status(t).starts_with("SIP/2.0 200"))
    );
    assert!(
        to_carrier
            .iter()
            .any(|t| status(t).starts_with("SIP/2.0 487"))
    );
    let cancel = h.sent_to(Destination::Conn(TAB_1));
    assert!(cancel[0].starts_with("CANCEL "), "{cancel:?}");
    assert!(
        !cancel[0].contains("Reason:"),
        "the caller hung up: no Reason"
    );
    // Tab 2 had not even said 180: its CANCEL waits for one (RFC 3261 §9.1).
    assert!(h.sent_to(Destination::Conn(TAB_2)).is_empty());
    h.tab_responds(TAB_2, &invite_2, 180, "");
    assert!(h.sent_to(Destination::Conn(TAB_2))[0].starts_with("CANCEL "));
    h.media_stops(MediaCounts::default());
    let r = &h.records()[0];
    assert_eq!(r.final_code, 487);
    assert_eq!(r.hangup_by, HangupBy::Remote);
    assert!(r.answered_at.is_none(), "missed");
    assert_eq!(r.agent.as_deref(), Some("demo"));
}

#[test]
fn inbound_refusals_unknown_did_nobody_online_rejecting_did() {
    let mut h = Harness::new();
    let carrier = Destination::Udp(CARRIER.parse().unwrap());
    h.carrier_invite("+15559999999", true);
    assert!(status(&h.sent_to(carrier)[0]).starts_with("SIP/2.0 404"));
    h.carrier_invite("+14155550150", false);
    let sent = h.sent_to(carrier);
    assert!(status(&sent[0]).starts_with("SIP/2.0 480"), "{sent:?}");
    h.carrier_invite("+14155550199", true);
    assert!(status(&h.sent_to(carrier)[0]).starts_with("SIP/2.0 603"));
    let records = h.records();
    assert_eq!(records.len(), 3);
    assert_eq!(records[1].final_code, 480);
    assert_eq!(
        records[1].agent.as_deref(),
        Some("demo"),
        "a missed call for the agent"
    );
    assert!(
        h.media.lock().unwrap().started.is_empty(),
        "no media for refusals"
    );
}

#[test]
fn tabs_that_all_decline_give_the_carrier_busy() {
    let mut h = Harness::new();
    let carrier = Destination::Udp(CARRIER.parse().unwrap());
    h.carrier_invite("+14155550150", true);
    let invite_1 = h.sent_to(Destination::Conn(TAB_1)).remove(0);
    let invite_2 = h.sent_to(Destination::Conn(TAB_2)).remove(0);
    h.sent();
    h.tab_responds(TAB_1, &invite_1, 486, "");
    assert!(h.sent_to(carrier).is_empty(), "the other tab still rings");
    h.tab_responds(TAB_2, &invite_2, 486, "");
    let sent = h.sent_to(carrier);
    assert!(status(&sent[0]).starts_with("SIP/2.0 486"), "{sent:?}");
}

// -------------------------------------------------------------------
// Failover and channel limits
// -------------------------------------------------------------------

const BACKUP: &str = "127.0.0.1:5098";

fn with_backup() -> Harness {
    let mut h = Harness::new();
    h.routes.push(Route {
        id: 4,
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
    assert_eq!(h.b2bua.channels_in_use(3), 1);
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
    assert_eq!(h.b2bua.calls_of(1), 1);
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

#[test]
fn in_order_ring_group_rings_one_member_after_the_other() {
    use crate::sip::dids::{Did, DidTable, DidTarget, RingStrategy};
    let mut h = Harness::new();
    let carrier = Destination::Udp(CARRIER.parse().unwrap());
    let dids = DidTable::new(vec![Did {
        number: "+14155550160".to_owned(),
        label: "Support".to_owned(),
        carrier_id: None,
        target: DidTarget::Group {
            name: "Support".to_owned(),
            strategy: RingStrategy::InOrder,
            members: vec!["alice".to_owned(), "bob".to_owned()],
            member_timeout: Duration::from_secs(15),
            fallback_code: Some(486),
        },
    }]);
    let bindings = |user: &str| -> Vec<ForkTarget> {
        let conn = match user {
            "alice" => TAB_1,
            "bob" => TAB_2,
            _ => return Vec::new(),
        };
        vec![ForkTarget {
            conn,
            contact: format!("sip:{user}@abc.invalid;transport=ws"),
            account_id: i64::try_from(conn.0).unwrap(),
            username: user.to_owned(),
        }]
    };
    let text = format!(
        "INVITE sip:+14155550160@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5099;branch=z9hG4bKgroup1\r\n\
         Max-Forwards: 70\r\nFrom: <sip:+14155550123@127.0.0.1>;tag=g\r\nTo: <sip:+14155550160@127.0.0.1>\r\n\
         Call-ID: group-call-1\r\nCSeq: 1 INVITE\r\nContact: <sip:c@127.0.0.1:5099>\r\n\
         Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{CARRIER_SDP}",
        CARRIER_SDP.len()
    );
    let now = h.now();
    let route = h.routes[0].clone();
    h.b2bua.handle_inbound_invite(
        now,
        CARRIER.parse().unwrap(),
        carrier,
        shared::sip::Transport::Udp,
        rsip::Request::try_from(text.as_bytes()).unwrap(),
        &route,
        &dids,
        &bindings,
    );
    let to_alice = h.sent_to(Destination::Conn(TAB_1));
    assert!(to_alice[0].starts_with("INVITE sip:alice@"), "{to_alice:?}");
    assert!(
        h.sent_to(Destination::Conn(TAB_2)).is_empty(),
        "bob waits his turn"
    );
    h.tab_responds(TAB_1, &to_alice[0], 180, "");
    h.advance(15_000);
    let cancel = h.sent_to(Destination::Conn(TAB_1));
    assert!(
        cancel.iter().any(|t| t.starts_with("CANCEL ")),
        "{cancel:?}"
    );
    let to_bob = h.sent_to(Destination::Conn(TAB_2));
    assert!(to_bob[0].starts_with("INVITE sip:bob@"), "{to_bob:?}");
    // Bob does not answer either: the group's fallback status.
    h.tab_responds(TAB_2, &to_bob[0], 180, "");
    h.sent();
    h.advance(15_000);
    let out = h.sent_to(carrier);
    assert!(
        out.iter().any(|t| status(t).starts_with("SIP/2.0 486")),
        "{out:?}"
    );
}
