//! Every RFC 4475 torture message through [`inbound`], with the outcome we
//! chose where `MANIFEST.tsv` allows several.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::path::PathBuf;

use shared::sip::{Inbound, Limits, Transport, inbound};

/// What [`inbound`] must do with a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// A validated request with this method.
    Request(&'static str),
    /// A parsed response with this status code.
    Response(u16),
    /// A stateless rejection with this status code.
    Reject(u16),
    /// Nothing to answer.
    Drop,
}
use Expect::*;

/// Name, outcome over UDP, and why (where the manifest allows more).
const CASES: &[(&str, Expect, &str)] = &[
    // 3.1.1 Valid messages.
    ("wsinv", Request("INVITE"), ""),
    (
        "intmeth",
        Reject(501),
        "unknown method, refused before rsip sees it",
    ),
    ("esc01", Request("INVITE"), ""),
    ("escnull", Request("REGISTER"), ""),
    ("esc02", Reject(501), "RE%47IST%45R is not REGISTER"),
    ("lwsdisp", Request("OPTIONS"), ""),
    ("longreq", Request("INVITE"), ""),
    ("dblreq", Request("REGISTER"), "trailing INVITE ignored"),
    (
        "semiuri",
        Request("OPTIONS"),
        "user part with ';' re-attached",
    ),
    ("transports", Request("OPTIONS"), ""),
    ("mpart01", Request("MESSAGE"), ""),
    ("unreason", Response(200), ""),
    ("noreason", Response(100), ""),
    // 3.1.2 Invalid messages.
    ("badinv01", Reject(400), ""),
    ("clerr", Reject(400), ""),
    ("ncl", Reject(400), ""),
    ("scalar02", Reject(400), ""),
    ("scalarlg", Drop, ""),
    ("quotbal", Reject(400), ""),
    ("ltgtruri", Reject(400), ""),
    ("lwsruri", Reject(400), ""),
    ("lwsstart", Request("INVITE"), "tolerated; extra SP removed"),
    ("trws", Request("OPTIONS"), "tolerated; trailing SP removed"),
    (
        "escruri",
        Reject(400),
        "headers in a Request-URI are refused",
    ),
    ("baddate", Request("INVITE"), "Date is not used"),
    ("regbadct", Reject(400), ""),
    ("badaspec", Reject(400), ""),
    ("baddn", Reject(400), ""),
    ("badvers", Reject(505), ""),
    ("mismatch01", Reject(400), ""),
    (
        "mismatch02",
        Reject(501),
        "501 checked before the CSeq match",
    ),
    ("bigcode", Drop, ""),
    // 3.2 Transaction-layer semantics: RFC 2543 matching is the
    // transaction layer's business.
    (
        "badbranch",
        Request("OPTIONS"),
        "bare z9hG4bK matched as RFC 2543",
    ),
    // 3.3 Application-layer semantics.
    (
        "insuf",
        Reject(400),
        "answered though Call-ID, From, To are missing",
    ),
    ("unkscm", Reject(416), ""),
    ("novelsc", Reject(416), ""),
    ("unksm2", Reject(400), "a REGISTER's To must be a SIP URI"),
    ("bext01", Reject(420), ""),
    (
        "invut",
        Request("INVITE"),
        "415 is the call layer's decision",
    ),
    ("regaut01", Request("REGISTER"), "the registrar challenges"),
    ("multi01", Reject(400), ""),
    ("mcl01", Reject(400), ""),
    (
        "bcast",
        Drop,
        "a response with two Vias was not meant for a UA",
    ),
    (
        "zeromf",
        Request("OPTIONS"),
        "OPTIONS with Max-Forwards 0 is ours",
    ),
    ("cparam01", Request("REGISTER"), ""),
    ("cparam02", Request("REGISTER"), ""),
    ("regescrt", Request("REGISTER"), ""),
    (
        "sdp01",
        Request("INVITE"),
        "406 is the call layer's decision",
    ),
    // 3.4 Backward compatibility.
    ("inv2543", Request("INVITE"), ""),
];

/// The few whose outcome differs on a stream (RFC 3261 §18.3: TCP needs a
/// Content-Length; the rest of the corpus behaves as over UDP).
const TCP_CASES: &[(&str, Expect)] = &[
    ("inv2543", Reject(400)),
    ("baddn", Reject(400)),
    ("clerr", Reject(400)),
    ("ncl", Reject(400)),
];

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/rfc4475")
}

fn load(name: &str) -> Vec<u8> {
    std::fs::read(corpus_dir().join(name)).unwrap()
}

fn outcome(result: &Inbound) -> Expect {
    match result {
        Inbound::Request { request, .. } => {
            Request(Box::leak(request.method.to_string().into_boxed_str()))
        }
        Inbound::Response(r) => Response(r.status_code.code()),
        Inbound::Reject { code, .. } => Reject(*code),
        Inbound::Drop { .. } => Drop,
    }
}

fn describe(result: &Inbound) -> String {
    match result {
        Inbound::Reject { reason, .. } | Inbound::Drop { reason } => reason.clone(),
        _ => String::new(),
    }
}

#[test]
fn every_message_in_the_manifest_has_a_case_and_a_file() {
    let manifest = std::fs::read_to_string(corpus_dir().join("MANIFEST.tsv")).unwrap();
    let listed: BTreeSet<&str> = manifest
        .lines()
        .skip(1)
        .filter_map(|l| l.split('\t').next())
        .filter(|n| !n.is_empty())
        .collect();
    let cased: BTreeSet<&str> = CASES.iter().map(|(n, _, _)| *n).collect();
    assert_eq!(listed, cased);
    let files: BTreeSet<String> = std::fs::read_dir(corpus_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n != "MANIFEST.tsv")
        .collect();
    assert_eq!(
        files,
        cased.iter().map(|n| n.to_string()).collect::<BTreeSet<_>>()
    );
}

#[test]
fn udp() {
    let mut failures = Vec::new();
    for (name, expect, _) in CASES {
        let result = inbound(&load(name), Transport::Udp, Limits::default());
        if outcome(&result) != *expect {
            failures.push(format!(
                "{name}: expected {expect:?}, got {:?} {}",
                outcome(&result),
                describe(&result)
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn tcp() {
    for (name, expect, _) in CASES {
        let expect = TCP_CASES
            .iter()
            .find(|(n, _)| n == name)
            .map_or(*expect, |(_, e)| *e);
        let result = inbound(&load(name), Transport::Tcp, Limits::default());
        assert_eq!(outcome(&result), expect, "{name}: {}", describe(&result));
    }
}

/// Each rejection is a well-formed response rsip parses, answering the
/// request's transaction, and the same bytes for a retransmission.
#[test]
fn rejections_are_proper_responses() {
    for (name, expect, _) in CASES {
        let Reject(code) = expect else { continue };
        let bytes = load(name);
        let Inbound::Reject { response, .. } = inbound(&bytes, Transport::Udp, Limits::default())
        else {
            unreachable!("checked by the udp test")
        };
        let again = inbound(&bytes, Transport::Udp, Limits::default());
        assert!(
            matches!(&again, Inbound::Reject { response: r, .. } if *r == response),
            "{name}: retransmission answered differently"
        );
        let text = String::from_utf8(response.clone()).unwrap();
        let parsed = match rsip::Response::try_from(response) {
            Ok(r) => r,
            Err(e) => panic!("{name}: {e}\n{text}"),
        };
        assert_eq!(parsed.status_code.code(), *code, "{name}");
        assert!(
            text.starts_with(&format!("SIP/2.0 {code} ")),
            "{name}\n{text}"
        );
        assert!(
            text.ends_with("Content-Length: 0\r\n\r\n"),
            "{name}\n{text}"
        );
        assert!(text.contains("\r\nVia: "), "{name}\n{text}");
        if text.contains("\r\nTo: ") {
            assert!(text.contains(";tag="), "{name}: To without tag\n{text}");
        }
    }
}

#[test]
fn specific_rejections_carry_what_the_rfc_asks_for() {
    let reject = |name: &str| match inbound(&load(name), Transport::Udp, Limits::default()) {
        Inbound::Reject {
            response, reason, ..
        } => (String::from_utf8(response).unwrap(), reason),
        other => panic!("{name}: {other:?}"),
    };

    let (text, _) = reject("bext01");
    assert!(
        text.contains("\r\nUnsupported: nothingSupportsThis, nothingSupportsThisEither\r\n"),
        "{text}"
    );
    assert!(!text.contains("noProxiesSupportThis"), "{text}");

    for name in ["intmeth", "esc02", "mismatch02"] {
        let (text, _) = reject(name);
        assert!(
            text.contains("\r\nAllow: INVITE, ACK, CANCEL, BYE"),
            "{text}"
        );
    }
    // The CSeq is echoed with the real method.
    let (text, reason) = reject("esc02");
    assert!(text.contains("\r\nCSeq: 29344 RE%47IST%45R\r\n"), "{text}");
    assert_eq!(reason, "Not Implemented (RE%47IST%45R)");

    let (text, reason) = reject("insuf");
    assert_eq!(reason, "Bad Request (missing From, To, Call-ID headers)");
    assert!(text.contains("\r\nCSeq: 193942 INVITE\r\n"), "{text}");

    let (_, reason) = reject("badvers");
    assert_eq!(reason, "Version Not Supported (SIP/7.0)");
    let (_, reason) = reject("clerr");
    assert_eq!(reason, "Bad Request (Content-Length larger than message)");
    let (_, reason) = reject("scalar02");
    assert_eq!(reason, "Bad Request (CSeq number larger than 2^32-1)");
    let (_, reason) = reject("unkscm");
    assert_eq!(reason, "Unsupported URI Scheme (nobodyKnowsThisScheme)");
}

#[test]
fn accepted_requests_keep_their_meaning() {
    let request = |name: &str| match inbound(&load(name), Transport::Udp, Limits::default()) {
        Inbound::Request { request, .. } => request,
        other => panic!("{name}: {other:?}"),
    };
    use rsip::prelude::*;

    // Folded, spaced, compact, multi-valued: all of it is there.
    let wsinv = request("wsinv");
    let vias: Vec<String> = wsinv
        .headers
        .iter()
        .filter_map(|h| match h {
            rsip::Header::Via(v) => Some(v.value().to_owned()),
            _ => None,
        })
        .collect();
    assert_eq!(
        vias,
        [
            "SIP/2.0/UDP 192.0.2.2;branch=390skdjuw",
            "SIP/2.0/TCP spindle.example.com;branch=z9hG4bK9ikj8",
            "SIP/2.0/UDP 192.168.255.111;branch=z9hG4bK30239",
        ]
    );
    assert_eq!(wsinv.cseq_header().unwrap().typed().unwrap().seq, 9);
    assert_eq!(wsinv.body.len(), 150);
    let to = wsinv.to_header().unwrap().typed().unwrap();
    assert_eq!(to.tag().map(|t| t.to_string()), Some("1918181833n".into()));

    // The user part keeps its ';' and escapes.
    assert_eq!(
        request("semiuri").uri.to_string(),
        "sip:user;par=u%40example.net@example.com"
    );
    // Binary body cut at Content-Length, NULs included.
    let mpart = request("mpart01");
    assert_eq!(mpart.body.len(), 553);
    assert!(mpart.body.contains(&0));
    // Only the first of two requests in one datagram.
    assert!(request("dblreq").body.is_empty());
    // The R-URI with its escapes, untouched.
    assert_eq!(
        request("esc01").uri.to_string(),
        "sip:sips%3Auser%40example.com@example.net"
    );
}

#[test]
fn oversized_requests_get_513_and_oversized_responses_are_dropped() {
    let limits = Limits {
        max_message_bytes: 500,
    };
    // longreq is 3515 bytes.
    match inbound(&load("longreq"), Transport::Udp, limits) {
        Inbound::Reject { code, response, .. } => {
            assert_eq!(code, 513);
            assert!(response.starts_with(b"SIP/2.0 513 Message Too Large\r\n"));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        inbound(&load("unreason"), Transport::Udp, limits),
        Inbound::Drop { .. }
    ));
}
