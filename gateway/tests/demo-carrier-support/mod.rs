//! A hand-rolled SIP UAC and RTP peer on 127.0.0.1 for the demo carrier's
//! tests (`tests/demo-carrier-*.rs` include it with `#[path]`). It reads
//! the carrier's bytes as text, independently of `shared::sip`: the tests
//! check the carrier's wire format, not our parser against itself.
#![allow(dead_code)] // each test file uses part of it

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use gateway::demo_carrier::{self, DemoCarrier, DemoCarrierConfig};
use tokio::net::UdpSocket;

/// Starts a carrier on 127.0.0.1, any port.
pub async fn carrier(answer_delay: Duration) -> DemoCarrier {
    demo_carrier::start(DemoCarrierConfig {
        answer_delay,
        ..DemoCarrierConfig::default()
    })
    .await
    .expect("the demo carrier starts on 127.0.0.1")
}

fn unique(prefix: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "{prefix}{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// One call from a UAC: its SIP socket, its RTP socket, and the dialog's
/// identifiers.
pub struct Uac {
    pub sip: UdpSocket,
    pub rtp: UdpSocket,
    pub carrier: SocketAddr,
    pub user: String,
    pub call_id: String,
    pub invite_branch: String,
    /// The To of the carrier's responses, tag included, once one came.
    pub remote_to: Option<String>,
}

impl Uac {
    pub async fn new(carrier: SocketAddr, user: &str) -> Uac {
        Uac {
            sip: UdpSocket::bind("127.0.0.1:0")
                .await
                .expect("bind a SIP socket"),
            rtp: UdpSocket::bind("127.0.0.1:0")
                .await
                .expect("bind an RTP socket"),
            carrier,
            user: user.to_owned(),
            call_id: unique("dc-test-call-"),
            invite_branch: unique("z9hG4bK-dc-test-"),
            remote_to: None,
        }
    }

    pub fn local_sip(&self) -> SocketAddr {
        self.sip
            .local_addr()
            .expect("a bound socket has an address")
    }

    pub fn local_rtp(&self) -> SocketAddr {
        self.rtp
            .local_addr()
            .expect("a bound socket has an address")
    }

    /// The offer the gateway makes to carriers: PCMU, PCMA, telephone-event.
    pub fn offer(&self) -> String {
        let rtp = self.local_rtp();
        format!(
            "v=0\r\no=gw 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
             m=audio {} RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n\
             a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\n\
             a=sendrecv\r\n",
            rtp.port()
        )
    }

    pub fn invite(&self) -> String {
        let sdp = self.offer();
        let (local, user, carrier) = (self.local_sip(), &self.user, self.carrier);
        format!(
            "INVITE sip:{user}@{carrier} SIP/2.0\r\n\
             Via: SIP/2.0/UDP {local};branch={};rport\r\n\
             Max-Forwards: 70\r\n\
             From: \"Agent\" <sip:agent@127.0.0.1>;tag=uac-tag\r\n\
             To: <sip:{user}@{carrier}>\r\n\
             Call-ID: {}\r\n\
             CSeq: 1 INVITE\r\n\
             Contact: <sip:gw@{local}>\r\n\
             Content-Type: application/sdp\r\n\
             Content-Length: {}\r\n\r\n{sdp}",
            self.invite_branch,
            self.call_id,
            sdp.len()
        )
    }

    /// A request of the INVITE's transaction (CANCEL, or the ACK for a
    /// non-2xx): same branch, CSeq 1.
    pub fn same_transaction(&self, method: &str) -> String {
        let to = match (method, &self.remote_to) {
            ("ACK", Some(to)) => to.clone(),
            _ => format!("<sip:{}@{}>", self.user, self.carrier),
        };
        let local = self.local_sip();
        format!(
            "{method} sip:{}@{} SIP/2.0\r\n\
             Via: SIP/2.0/UDP {local};branch={};rport\r\n\
             Max-Forwards: 70\r\n\
             From: \"Agent\" <sip:agent@127.0.0.1>;tag=uac-tag\r\n\
             To: {to}\r\n\
             Call-ID: {}\r\n\
             CSeq: 1 {method}\r\n\
             Content-Length: 0\r\n\r\n",
            self.user, self.carrier, self.invite_branch, self.call_id
        )
    }

    /// A request in the dialog (ACK for the 2xx, BYE): new branch, the
    /// carrier's To tag, sent to the carrier's Contact.
    pub fn in_dialog(&self, method: &str, cseq: u32) -> String {
        let to = self
            .remote_to
            .as_deref()
            .expect("a dialog: the carrier answered with a To tag");
        let local = self.local_sip();
        format!(
            "{method} sip:demo-carrier@{} SIP/2.0\r\n\
             Via: SIP/2.0/UDP {local};branch={};rport\r\n\
             Max-Forwards: 70\r\n\
             From: \"Agent\" <sip:agent@127.0.0.1>;tag=uac-tag\r\n\
             To: {to}\r\n\
             Call-ID: {}\r\n\
             CSeq: {cseq} {method}\r\n\
             Content-Length: 0\r\n\r\n",
            self.carrier,
            unique("z9hG4bK-dc-test-"),
            self.call_id
        )
    }

    pub async fn send(&self, message: &str) {
        self.sip
            .send_to(message.as_bytes(), self.carrier)
            .await
            .expect("send to the carrier");
    }

    /// The next SIP message, or `None` after `timeout`. Remembers the
    /// carrier's To (with its tag).
    pub async fn recv(&mut self, timeout: Duration) -> Option<String> {
        let mut buf = vec![0u8; 65_535];
        let (len, from) = tokio::time::timeout(timeout, self.sip.recv_from(&mut buf))
            .await
            .ok()?
            .expect("receive on the SIP socket");
        assert_eq!(
            from, self.carrier,
            "SIP comes from the carrier's SIP address"
        );
        let text = String::from_utf8(buf[..len].to_vec()).expect("SIP is text");
        if let Some(to) = header(&text, "To")
            && to.contains(";tag=")
            && text.starts_with("SIP/2.0 ")
            && header(&text, "CSeq").is_some_and(|c| c.ends_with("INVITE"))
        {
            self.remote_to = Some(to);
        }
        Some(text)
    }

    /// The next message, which must be a response with `code`.
    pub async fn expect(&mut self, code: u16) -> String {
        let message = self
            .recv(Duration::from_secs(5))
            .await
            .unwrap_or_else(|| panic!("no response within 5 s, expected {code}"));
        assert_eq!(
            status(&message),
            Some(code),
            "expected {code}, got:\n{message}"
        );
        message
    }
}

/// The status code of a response.
pub fn status(message: &str) -> Option<u16> {
    message.strip_prefix("SIP/2.0 ")?.get(..3)?.parse().ok()
}

/// The first value of a header (full names only: the carrier writes those).
pub fn header(message: &str, name: &str) -> Option<String> {
    let head = message.split("\r\n\r\n").next()?;
    head.lines().skip(1).find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().to_owned())
    })
}

pub fn body(message: &str) -> &str {
    message.split_once("\r\n\r\n").map_or("", |(_, b)| b)
}

/// Where the SDP in `message` wants RTP: its c= address and m=audio port.
pub fn sdp_audio_addr(message: &str) -> SocketAddr {
    let sdp = body(message);
    let ip = sdp
        .lines()
        .find_map(|l| l.strip_prefix("c=IN IP4 "))
        .expect("c= line");
    let port = sdp
        .lines()
        .find_map(|l| l.strip_prefix("m=audio "))
        .and_then(|rest| rest.split(' ').next())
        .expect("m=audio line");
    format!("{ip}:{port}")
        .parse()
        .expect("c= and m= make an address")
}

/// An RTP packet, parsed loosely (the tests' packets and the carrier's
/// have no CSRCs or extensions).
#[derive(Debug, Clone)]
pub struct Rtp {
    pub marker: bool,
    pub payload_type: u8,
    pub seq: u16,
    pub timestamp: u32,
    pub ssrc: u32,
    pub payload: Vec<u8>,
}

impl Rtp {
    pub fn parse(b: &[u8]) -> Rtp {
        assert!(
            b.len() >= 12 && b[0] == 0x80,
            "a plain RTP v2 header: {b:02x?}"
        );
        Rtp {
            marker: b[1] & 0x80 != 0,
            payload_type: b[1] & 0x7F,
            seq: u16::from_be_bytes([b[2], b[3]]),
            timestamp: u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
            ssrc: u32::from_be_bytes([b[8], b[9], b[10], b[11]]),
            payload: b[12..].to_vec(),
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut p = vec![0x80, (u8::from(self.marker) << 7) | self.payload_type];
        p.extend_from_slice(&self.seq.to_be_bytes());
        p.extend_from_slice(&self.timestamp.to_be_bytes());
        p.extend_from_slice(&self.ssrc.to_be_bytes());
        p.extend_from_slice(&self.payload);
        p
    }
}
