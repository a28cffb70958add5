//! Input from the network never panics us: every prefix of every RFC 4475
//! message, and every message with single bytes replaced, goes through the
//! whole message layer. Deterministic and quick; it is a mutation test, not
//! a coverage-guided fuzzer (there are no fuzz targets yet).
#![allow(clippy::unwrap_used)]

use shared::sip::normalize::{Frame, frame_stream, split};
use shared::sip::{Inbound, Limits, Transport, inbound};

/// Bytes that matter to the grammar, plus one that is not UTF-8.
const REPLACEMENTS: &[u8] = b"\0\r\n \t:;,\"<>@%\\=/?0\xff";

fn corpus() -> Vec<(String, Vec<u8>)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/rfc4475");
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_name() != "MANIFEST.tsv")
        .map(|e| {
            (
                e.file_name().into_string().unwrap(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

/// Runs one input through everything and checks what comes out is sane.
fn exercise(bytes: &[u8]) {
    exercise_on(bytes, &[Transport::Udp, Transport::Tcp]);
}

fn exercise_on(bytes: &[u8], transports: &[Transport]) {
    // `inbound` runs `split` first, so that is covered too.
    for &transport in transports {
        match inbound(bytes, transport, Limits::default()) {
            Inbound::Reject { response, code, .. } => {
                assert!(response.starts_with(format!("SIP/2.0 {code} ").as_bytes()));
                // What we send back is itself a clean message.
                assert!(
                    split(&response, Transport::Tcp).is_ok(),
                    "{}",
                    String::from_utf8_lossy(&response)
                );
            }
            Inbound::Request { request, .. } => {
                // What we accepted, rsip writes back in a form we accept.
                let again = inbound(request.to_string().as_bytes(), transport, Limits::default());
                assert!(
                    matches!(again, Inbound::Request { .. }),
                    "{request}\n{again:?}"
                );
            }
            Inbound::Response(_) | Inbound::Drop { .. } => {}
        }
    }
    match frame_stream(bytes) {
        Frame::Complete { len } | Frame::KeepAlive { len } => {
            assert!(len > 0 && len <= bytes.len());
        }
        Frame::Incomplete | Frame::Invalid(_) => {}
    }
}

#[test]
fn every_prefix() {
    for (_, bytes) in corpus() {
        for end in 0..=bytes.len() {
            exercise(&bytes[..end]);
        }
    }
}

#[test]
fn every_byte_replaced() {
    for (_, bytes) in corpus() {
        let mut mutated = bytes.clone();
        for i in 0..bytes.len() {
            // One replacement per position, rotating through the set: quick,
            // and across the corpus every kind of byte meets every
            // replacement. Framing rules differ by transport, not
            // tokenising, so the prefixes test covers TCP.
            mutated[i] = REPLACEMENTS[i % REPLACEMENTS.len()];
            exercise_on(&mutated, &[Transport::Udp]);
            mutated[i] = bytes[i];
        }
    }
}

#[test]
fn hostile_shapes() {
    let cases: &[&[u8]] = &[
        b"",
        b"\r\n",
        b"SIP/2.0",
        b"SIP/2.0 ",
        b"SIP/2.0 99999999999999999999 x\r\n\r\n",
        b"INVITE",
        b"INVITE sip:a@b SIP/2.0",
        b"INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h\r\n",
        b"INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nl: 18446744073709551616\r\n\r\n",
        b"INVITE sip:a@b SIP/2.0\r\nVia:\r\nFrom:\r\nTo:\r\nCall-ID:\r\nCSeq:\r\n\r\n",
        b"INVITE sip:a@b SIP/2.0\r\nVia: \"\r\nFrom: <\r\nTo: \"<\r\nCall-ID: \xc3\r\n\r\n",
        b"\xef\xbb\xbfINVITE sip:a@b SIP/2.0\r\n\r\n",
        "INVITE sip:é@ü SIP/2.0\r\nVia: SIP/2.0/UDP ü\r\nFrom: \"é\" <sip:é@b>\r\n\r\n".as_bytes(),
    ];
    for case in cases {
        exercise(case);
    }
    exercise(&[b'\n'; 20_000]);
    exercise(&[b':'; 20_000]);
    let mut many_vias = b"OPTIONS sip:a@b SIP/2.0\r\nVia: ".to_vec();
    many_vias.extend(std::iter::repeat_n(b"SIP/2.0/UDP h,".as_slice(), 1000).flatten());
    many_vias.extend_from_slice(b"\r\n\r\n");
    exercise(&many_vias);
}
