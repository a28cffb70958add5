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
    measure(
        "garbage (dropped)",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
        Transport::Udp,
    );
    let big = vec![b'A'; 70_000];
    measure("70 KB junk (refused)", &big, Transport::Udp);
}
