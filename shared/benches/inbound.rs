//! Prints how fast the message layer takes in typical and hostile messages:
//! messages per second and nanoseconds per message, per kind.
//! Run: `cargo bench -p shared --bench inbound`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use shared::sip::{Limits, Transport, inbound};

const REGISTER: &str = "REGISTER sip:gw.example SIP/2.0\r\n\
Via: SIP/2.0/WSS df7jal23ls0d.invalid;branch=z9hG4bKnashds7\r\n\
Max-Forwards: 70\r\n\
To: \"Demo Agent\" <sip:demo@gw.example>\r\n\
From: \"Demo Agent\" <sip:demo@gw.example>;tag=a73kszlfl\r\n\
Call-ID: 1j9FpLxk3uxtm8tn@df7jal23ls0d.invalid\r\n\
CSeq: 2 REGISTER\r\n\
Contact: <sip:kjh29asd@df7jal23ls0d.invalid;transport=ws>;+sip.instance=\"<urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6>\";reg-id=1;expires=600\r\n\
Authorization: Digest username=\"demo\", realm=\"gw.example\", nonce=\"ea9c8e88df84f1cec4341ae6cbe5a359\", uri=\"sip:gw.example\", response=\"dfe56131d1958046689d83306477ecc\", algorithm=MD5, cnonce=\"0a4f113b\", qop=auth, nc=00000001\r\n\
Allow: INVITE,ACK,CANCEL,BYE,OPTIONS\r\n\
Supported: path,gruu,outbound\r\n\
User-Agent: Browser Phone\r\n\
Content-Length: 0\r\n\r\n";

const COMPACT_FOLDED: &str = "OPTIONS sip:gw.example SIP/2.0\r\n\
v: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1, SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bK2\r\n\
f: <sip:probe@carrier.example>\r\n ;tag=99\r\n\
t: <sip:gw.example>\r\n\
i: opt-1@carrier.example\r\n\
CSeq: 7 OPTIONS\r\n\
Max-Forwards: 70\r\n\
l: 0\r\n\r\n";

/// A carrier's INVITE over IPv6: every host a literal, aliased for rsip.
const INVITE_V6: &str = "INVITE sip:+14155550150@[2001:db8::10]:5060 SIP/2.0\r\n\
Via: SIP/2.0/UDP [2001:db8::5]:5060;branch=z9hG4bK776asdhds;rport\r\n\
Max-Forwards: 70\r\n\
To: <sip:+14155550150@[2001:db8::10]>\r\n\
From: \"Alice\" <sip:+14155550123@[2001:db8::5]>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@[2001:db8::5]\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:carrier@[2001:db8::5]:5060>\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 91\r\n\r\n\
v=0\r\no=- 1 1 IN IP6 2001:db8::5\r\ns=-\r\nc=IN IP6 2001:db8::5\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";

/// The same INVITE over IPv4, for comparison.
fn invite_v4() -> String {
    INVITE_V6
        .replace("[2001:db8::10]", "192.0.2.10")
        .replace("[2001:db8::5]", "192.0.2.5")
        .replace("IP6 2001:db8::5", "IP4 192.0.2.5")
        .replace("Content-Length: 91", "Content-Length: 87")
}

fn measure(name: &str, message: &[u8], transport: Transport) {
    let limits = Limits::default();
    // Warm up, then run for about a second.
    for _ in 0..1000 {
        black_box(inbound(black_box(message), transport, limits));
    }
    let mut count = 0u64;
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(1) {
        for _ in 0..1000 {
            black_box(inbound(black_box(message), transport, limits));
        }
        count += 1000;
    }
    let elapsed = start.elapsed();
    println!(
        "{name:<28} {:>10.0} msg/s {:>8.0} ns/msg ({} bytes)",
        count as f64 / elapsed.as_secs_f64(),
        elapsed.as_nanos() as f64 / count as f64,
        message.len()
    );
}

fn main() {
    measure("REGISTER over WS", REGISTER.as_bytes(), Transport::Ws);
    measure(
        "OPTIONS compact+folded UDP",
        COMPACT_FOLDED.as_bytes(),
        Transport::Udp,
    );
    for invite in [invite_v4(), INVITE_V6.to_owned()] {
        let parsed = inbound(invite.as_bytes(), Transport::Udp, Limits::default());
        assert!(
            matches!(parsed, shared::sip::Inbound::Request { .. }),
            "the bench INVITE must parse: {parsed:?}"
        );
    }
    measure(
        "carrier INVITE, IPv4",
        invite_v4().as_bytes(),
        Transport::Udp,
    );
    measure("carrier INVITE, IPv6", INVITE_V6.as_bytes(), Transport::Udp);
    measure(
        "garbage (dropped)",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
        Transport::Udp,
    );
    let big = vec![b'A'; 70_000];
    measure("70 KB junk (refused)", &big, Transport::Udp);
}
