//! The B2BUA on a fake clock, with a recording media port: one test per
//! behaviour of an outbound call.
#![allow(clippy::unwrap_used)]

use shared::ids::{AccountId, CallId, CarrierId};
use std::sync::{Arc, Mutex};

use shared::api::{
    CallDirection, CallerIdChoice, DialingProfile, LiveCallState, NumberFormat, SipTransport,
};
use shared::sip::digest;

use super::*;

/// What the B2BUA asked of the media side.
#[derive(Default)]
struct MediaLog {
    started: Vec<(CallId, Vec<String>)>,
    answers: Vec<(CallId, String)>,
    reoffers: Vec<(CallId, String)>,
    holds: Vec<(CallId, bool)>,
    stopped: Vec<CallId>,
    fail_start: Option<MediaFailure>,
}

struct FakeMedia(Arc<Mutex<MediaLog>>);

impl MediaPort for FakeMedia {
    fn start_outbound(
        &mut self,
        call: CallId,
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
        call: CallId,
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
        call: CallId,
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
    fn browser_answer(&mut self, call: CallId, sdp: &str) -> Result<(), MediaFailure> {
        self.0.lock().unwrap().answers.push((call, sdp.to_owned()));
        Ok(())
    }
    fn carrier_answer(&mut self, call: CallId, sdp: &str) -> Result<(), MediaFailure> {
        self.0.lock().unwrap().answers.push((call, sdp.to_owned()));
        if sdp.contains("m=audio 4000 RTP/AVP 18") {
            return Err(MediaFailure {
                code: 488,
                reason: "Not Acceptable Here (no common codec)".to_owned(),
            });
        }
        Ok(())
    }
    fn browser_reoffer(&mut self, call: CallId, sdp: &str) {
        self.0.lock().unwrap().reoffers.push((call, sdp.to_owned()));
    }
    fn set_hold(&mut self, call: CallId, held: bool) {
        self.0.lock().unwrap().holds.push((call, held));
    }
    fn stop(&mut self, call: CallId) {
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
        id: CarrierId(3),
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
                account_id: AccountId(1),
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
                    campaigns: Vec::new(),
                    prefix_list: None,
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
        self.invite_as(number, extra, "browser-call-1");
    }

    /// [`Self::invite`] with a Call-ID of its own.
    fn invite_as(&mut self, number: &str, extra: &str, call_id: &str) {
        let sdp = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0 8 126\r\n";
        let text = format!(
            "INVITE sip:{number}@gw.test;user=phone SIP/2.0\r\n\
             Via: SIP/2.0/WSS abc.invalid;branch=z9hG4bKbrowser1\r\n\
             Max-Forwards: 70\r\n\
             From: \"Demo Agent\" <sip:demo@gw.test>;tag=btag\r\n\
             To: <sip:{number}@gw.test>\r\n\
             Call-ID: {call_id}\r\n\
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
        let account = Some(self.agent.account_id);
        assert!(
            self.b2bua
                .handle_browser_request(now, CONN, account, &request)
        );
    }

    /// A request from the agent's phone on another connection `conn`,
    /// signed in as `account`; whether a call took it.
    fn browser_request_on(&mut self, conn: ConnId, account: Option<AccountId>, text: &str) -> bool {
        let request = rsip::Request::try_from(text.as_bytes()).unwrap();
        let now = self.now();
        self.b2bua
            .handle_browser_request(now, conn, account, &request)
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
                B2buaEvent::Placed { .. }
                | B2buaEvent::Progress { .. }
                | B2buaEvent::Snapshot(_)
                | B2buaEvent::Alert { .. } => None,
            })
            .collect()
    }

    fn media_stops(&mut self, counts: MediaCounts) {
        let now = self.now();
        self.b2bua.media_stopped(now, CallId(1), counts, None);
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

mod failover;
mod inbound;
mod lossy;
mod outbound;
