//! A fake clock, a deterministic random source and a scripted gateway for
//! the `call-*.rs` tests of `shared::sip::call`. Everything the gateway
//! "sends" is text that goes through `shared::sip::inbound`, as a WebSocket
//! frame would in the browser.
#![allow(clippy::unwrap_used, dead_code)]

use std::time::Duration;

use shared::e164::E164;
use shared::sip::call::{Call, CallEvent, CallRequest, CallerIdentity, Presenting};
use shared::sip::digest::{self, Algorithm, Challenge, Credentials};
use shared::sip::register::status_line_reason;
use shared::sip::{Inbound, Limits, Transport, inbound};
use web_time::Instant;

pub const PASSWORD: &str = "s3cret";
pub const REALM: &str = "gw.test";
pub const INSTANCE: &str = "urn:uuid:6f1c2a3b-0000-4000-8000-00000000abcd";
/// The gateway's Contact in its answers: the remote target.
pub const GATEWAY_CONTACT: &str = "sip:b2bua-7@10.0.0.5:8080;transport=ws";
pub const OFFER: &str = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111 0 8 126\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=sendrecv\r\n";
pub const ANSWER: &str = "v=0\r\no=- 1 1 IN IP4 10.0.0.5\r\ns=-\r\nt=0 0\r\na=ice-lite\r\nm=audio 40000 UDP/TLS/RTP/SAVPF 0 126\r\nc=IN IP4 10.0.0.5\r\na=mid:0\r\na=sendrecv\r\n";

pub fn identity() -> CallerIdentity {
    CallerIdentity {
        aor: "sip:demo@gw.test".to_owned(),
        display_name: "Demo \"D\" Agent".to_owned(),
        username: "demo".to_owned(),
        password: PASSWORD.to_owned(),
        instance_id: INSTANCE.to_owned(),
        contact_user: "k7q2mx".to_owned(),
        via_host: "p4t8zw.invalid".to_owned(),
        user_agent: Some("dialer-test/1".to_owned()),
    }
}

pub fn number(text: &str) -> E164 {
    text.parse().unwrap()
}

pub fn request(caller_id: Option<&str>) -> CallRequest {
    CallRequest {
        target: number("+14155552671"),
        presenting: caller_id.map_or(Presenting::Automatic, |n| Presenting::Number(number(n))),
        offer: OFFER.to_owned(),
    }
}

/// One call under test on simulated time.
pub struct Phone {
    pub call: Call,
    pub now: Instant,
}

impl Phone {
    /// Dials +1 415 555 2671 presenting `+12125550100`; returns the INVITE.
    pub fn dial() -> (Phone, Sent) {
        Self::dial_with(identity(), request(Some("+12125550100")))
    }

    pub fn dial_with(identity: CallerIdentity, request: CallRequest) -> (Phone, Sent) {
        let mut n = 0u64;
        let rng = move || {
            n += 1;
            n.wrapping_mul(0x9e37_79b9_7f4a_7c15)
        };
        // The only clock read: the origin of simulated time.
        let now = Instant::now();
        let mut phone = Phone {
            call: Call::new(now, identity, request, rng).unwrap(),
            now,
        };
        let invite = phone.sent();
        (phone, invite)
    }

    /// Dialled, ringing (180) and answered (200 with [`ANSWER`]); returns
    /// the INVITE and the 200 as the gateway sent it.
    pub fn connected() -> (Phone, Sent, String) {
        let (mut phone, invite) = Phone::dial();
        phone.receive(&invite.reply("180 Ringing", &[], None));
        let ok = invite.ok(ANSWER);
        phone.receive(&ok);
        let ack = phone.sent();
        assert_eq!(ack.method(), "ACK");
        assert_eq!(
            phone.events(),
            [
                CallEvent::Ringing,
                CallEvent::RemoteAnswer {
                    sdp: ANSWER.to_owned(),
                    early: false
                },
                CallEvent::Answered
            ]
        );
        (phone, invite, ok)
    }

    /// The one message queued now.
    pub fn sent(&mut self) -> Sent {
        let mut all = self.all_sent();
        assert_eq!(all.len(), 1, "expected one message, got {all:#?}");
        all.remove(0)
    }

    pub fn all_sent(&mut self) -> Vec<Sent> {
        std::iter::from_fn(|| self.call.poll_transmit())
            .map(|m| Sent::new(m.to_string()))
            .collect()
    }

    pub fn nothing_sent(&mut self) {
        let all = self.all_sent();
        assert!(all.is_empty(), "unexpected: {all:#?}");
    }

    pub fn events(&mut self) -> Vec<CallEvent> {
        std::iter::from_fn(|| self.call.poll_event()).collect()
    }

    /// A frame from the gateway, through `inbound` as in the browser.
    pub fn receive(&mut self, text: &str) {
        match inbound(text.as_bytes(), Transport::Wss, Limits::default()) {
            Inbound::Response(response) => {
                self.call
                    .handle_response(self.now, response, status_line_reason(text));
            }
            Inbound::Request { request, .. } => self.call.handle_request(self.now, request),
            other => panic!("the test sent something inbound refuses: {other:?}\n{text}"),
        }
    }

    /// Moves simulated time on by `ms` and fires whatever is due.
    pub fn advance(&mut self, ms: u64) {
        self.now += Duration::from_millis(ms);
        self.call.handle_timeout(self.now);
    }

    /// Moves simulated time to the next deadline and fires it.
    pub fn advance_to_timeout(&mut self) -> Duration {
        let at = self.call.poll_timeout().expect("a timer is set");
        let waited = at.saturating_duration_since(self.now);
        self.now = self.now.max(at);
        self.call.handle_timeout(self.now);
        waited
    }
}

/// A message the phone sent.
#[derive(Debug, Clone)]
pub struct Sent {
    pub text: String,
}

impl Sent {
    fn new(text: String) -> Sent {
        // Every message must be one the gateway can take.
        assert!(
            matches!(
                inbound(text.as_bytes(), Transport::Ws, Limits::default()),
                Inbound::Request { .. } | Inbound::Response(_)
            ),
            "the gateway would refuse:\n{text}"
        );
        Sent { text }
    }

    pub fn start_line(&self) -> &str {
        self.text.lines().next().unwrap()
    }

    pub fn method(&self) -> &str {
        self.start_line().split(' ').next().unwrap()
    }

    pub fn body(&self) -> &str {
        self.text.split_once("\r\n\r\n").unwrap().1
    }

    /// Values of every header called `name`, in order.
    pub fn headers(&self, name: &str) -> Vec<String> {
        self.text
            .split("\r\n\r\n")
            .next()
            .unwrap()
            .lines()
            .skip(1)
            .filter_map(|l| l.split_once(':'))
            .filter(|(n, _)| n.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_owned())
            .collect()
    }

    pub fn header(&self, name: &str) -> String {
        let mut values = self.headers(name);
        assert_eq!(values.len(), 1, "one {name} in\n{}", self.text);
        values.remove(0)
    }

    pub fn branch(&self) -> String {
        let via = self.header("Via");
        via.split(';')
            .find_map(|p| p.strip_prefix("branch="))
            .unwrap()
            .to_owned()
    }

    pub fn credentials(&self, header: &str) -> Option<Credentials> {
        let values = self.headers(header);
        assert!(values.len() <= 1, "{}", self.text);
        values.first().map(|v| Credentials::parse(v).unwrap())
    }

    /// Checks a digest answer the way the gateway does.
    pub fn digest_is_right(&self, header: &str) -> bool {
        let Some(creds) = self.credentials(header) else {
            return false;
        };
        let base = digest::ha1(creds.algorithm, &creds.username, &creds.realm, PASSWORD);
        let uri = self.start_line().split(' ').nth(1).unwrap();
        creds.uri == uri && digest::verify(&creds, self.method(), &base)
    }

    /// The gateway's response to this request: To tag `gw1` (unless a 100),
    /// Contact of the gateway on 18x/2xx, `extra` lines, and an SDP body.
    pub fn reply(&self, status: &str, extra: &[&str], sdp: Option<&str>) -> String {
        let code: u16 = status[..3].parse().unwrap();
        let mut text = format!("SIP/2.0 {status}\r\n");
        for via in self.headers("Via") {
            text.push_str(&format!("Via: {via}\r\n"));
        }
        for name in ["From", "Call-ID", "CSeq"] {
            text.push_str(&format!("{name}: {}\r\n", self.header(name)));
        }
        let to = self.header("To");
        if code == 100 || to.contains(";tag=") {
            text.push_str(&format!("To: {to}\r\n"));
        } else {
            text.push_str(&format!("To: {to};tag=gw1\r\n"));
        }
        if (101..300).contains(&code) && self.method() == "INVITE" {
            text.push_str(&format!("Contact: <{GATEWAY_CONTACT}>\r\n"));
        }
        for line in extra {
            text.push_str(line);
            text.push_str("\r\n");
        }
        match sdp {
            Some(sdp) => text.push_str(&format!(
                "Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
                sdp.len()
            )),
            None => text.push_str("Content-Length: 0\r\n\r\n"),
        }
        text
    }

    /// `200 OK` with `sdp`.
    pub fn ok(&self, sdp: &str) -> String {
        self.reply("200 OK", &[], Some(sdp))
    }

    /// `401`/`407` with an MD5 and a SHA-256 challenge.
    pub fn challenge(&self, code: u16) -> String {
        let (status, header) = match code {
            407 => ("407 Proxy Authentication Required", "Proxy-Authenticate"),
            _ => ("401 Unauthorized", "WWW-Authenticate"),
        };
        let lines: Vec<String> = [Algorithm::Md5, Algorithm::Sha256]
            .into_iter()
            .map(|algorithm| {
                let c = Challenge {
                    realm: REALM.to_owned(),
                    nonce: format!("n0nce-{algorithm}"),
                    opaque: None,
                    algorithm,
                    qop: vec!["auth".to_owned()],
                    stale: false,
                };
                format!("{header}: {}", c.to_header_value())
            })
            .collect();
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        self.reply(status, &lines, None)
    }
}

/// A request from the gateway inside the dialog of `invite` (answered with
/// To tag `gw1`): From is the phone's To with the gateway's tag, To the
/// phone's From.
pub fn from_gateway(invite: &Sent, method: &str, cseq: u32, sdp: Option<&str>) -> String {
    let to = invite.header("To");
    let mut text = format!("{method} sip:k7q2mx@p4t8zw.invalid;transport=ws SIP/2.0\r\n");
    text.push_str(&format!(
        "Via: SIP/2.0/WSS 10.0.0.5:8080;branch=z9hG4bKgw{method}{cseq}\r\n"
    ));
    text.push_str("Max-Forwards: 70\r\n");
    text.push_str(&format!("From: {to};tag=gw1\r\n"));
    text.push_str(&format!("To: {}\r\n", invite.header("From")));
    text.push_str(&format!("Call-ID: {}\r\n", invite.header("Call-ID")));
    text.push_str(&format!("CSeq: {cseq} {method}\r\n"));
    if method == "INVITE" {
        text.push_str(&format!("Contact: <{GATEWAY_CONTACT}>\r\n"));
    }
    match sdp {
        Some(sdp) => text.push_str(&format!(
            "Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
            sdp.len()
        )),
        None => text.push_str("Content-Length: 0\r\n\r\n"),
    }
    text
}
