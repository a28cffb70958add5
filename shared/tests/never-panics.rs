//! Input from the network never panics us: every prefix of every RFC 4475
//! message, and every message with single bytes replaced, goes through the
//! whole message layer. Deterministic and quick; it is a mutation test; the
//! coverage-guided fuzzer (`fuzz/`, `scripts/fuzz.sh`) runs the same body,
//! `shared::fuzz::sip_message`.
#![allow(clippy::unwrap_used)]

use shared::sip::Transport;

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
    shared::fuzz::sip_message_on(bytes, transports);
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
