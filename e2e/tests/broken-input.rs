//! Broken input never breaks the gateway: every RFC 4475 torture message
//! and a set of extra broken ones (garbage, truncated, NUL bytes, missing
//! headers, oversized) are sent over UDP and over WebSocket, each answered
//! as RFC 3261/4475 ask (400, 416, 420, 501, 505, 513) or dropped where
//! nothing can be answered; at the end the gateway still answers `/healthz`
//! and OPTIONS on every transport, and its log shows no panic.
//!
//! The corpus lives in `shared/tests/data/rfc4475` with `MANIFEST.tsv`. Each
//! message's top Via is pointed back at the test's own loopback address
//! first: no packet may leave loopback.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use e2e::Gateway;
use e2e::sip::{
    OptionsRequest, SipResponse, StreamEvent, TcpPeer, UdpPeer, WsPeer, point_top_via_at,
    top_via_branch,
};

/// What the gateway must do with a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// A response with exactly this status.
    Status(u16),
    /// Accepted by the message layer: answered (by whatever the SIP core
    /// decides for that method), but not with a parse-level refusal.
    Accepted,
    /// No answer at all (not a request, or nothing to address an answer to).
    NoAnswer,
}
use Expect::*;

/// Statuses that mean "the message itself is broken".
const PARSE_REFUSALS: &[u16] = &[400, 416, 420, 505, 513];

/// Every corpus message, with the outcome on a message-framed transport
/// (UDP, WebSocket). Where `MANIFEST.tsv` allows several, the choice is the
/// one `shared/tests/rfc4475.rs` pins for the message layer.
const CORPUS: &[(&str, Expect)] = &[
    // 3.1.1 Valid messages.
    ("wsinv", Accepted),
    ("intmeth", Status(501)),
    ("esc01", Accepted),
    ("escnull", Accepted),
    ("esc02", Status(501)),
    ("lwsdisp", Status(200)),
    ("longreq", Accepted),
    ("dblreq", Accepted),
    ("semiuri", Status(200)),
    ("transports", Status(200)),
    ("mpart01", Accepted),
    ("unreason", NoAnswer),
    ("noreason", NoAnswer),
    // 3.1.2 Invalid messages.
    ("badinv01", Status(400)),
    ("clerr", Status(400)),
    ("ncl", Status(400)),
    ("scalar02", Status(400)),
    ("scalarlg", NoAnswer),
    ("quotbal", Status(400)),
    ("ltgtruri", Status(400)),
    ("lwsruri", Status(400)),
    ("lwsstart", Accepted),
    ("trws", Status(200)),
    ("escruri", Status(400)),
    ("baddate", Accepted),
    ("regbadct", Status(400)),
    ("badaspec", Status(400)),
    ("baddn", Status(400)),
    ("badvers", Status(505)),
    ("mismatch01", Status(400)),
    ("mismatch02", Status(501)),
    ("bigcode", NoAnswer),
    // 3.2 Transaction layer.
    ("badbranch", Status(200)),
    // 3.3 Application layer.
    ("insuf", Status(400)),
    ("unkscm", Status(416)),
    ("novelsc", Status(416)),
    ("unksm2", Status(400)),
    ("bext01", Status(420)),
    ("invut", Accepted),
    ("regaut01", Accepted),
    ("multi01", Status(400)),
    ("mcl01", Status(400)),
    ("bcast", NoAnswer),
    ("zeromf", Status(200)),
    ("cparam01", Accepted),
    ("cparam02", Accepted),
    ("regescrt", Accepted),
    ("sdp01", Accepted),
    // 3.4 Backward compatibility.
    ("inv2543", Accepted),
];

/// How long to wait for an answer that must come, and for one that must not.
const ANSWER: Duration = Duration::from_secs(3);
const SILENCE: Duration = Duration::from_millis(400);

fn corpus_dir() -> PathBuf {
    e2e::workspace_root().join("shared/tests/data/rfc4475")
}

fn corpus(name: &str) -> Result<Vec<u8>> {
    let path = corpus_dir().join(name);
    std::fs::read(&path).with_context(|| format!("reading {}", path.display()))
}

/// One extra broken message, built for a peer at `local`.
struct Extra {
    name: &'static str,
    expect: Expect,
    build: fn(SocketAddr, SocketAddr) -> Vec<u8>,
}

fn options(local: SocketAddr, gateway: SocketAddr) -> OptionsRequest {
    OptionsRequest::new("UDP", local.to_string(), gateway.to_string())
}

fn replace(message: Vec<u8>, from: &str, to: &str) -> Vec<u8> {
    String::from_utf8_lossy(&message)
        .replacen(from, to, 1)
        .into_bytes()
}

fn cut_before(message: Vec<u8>, marker: &str, keep: usize) -> Vec<u8> {
    let at = message
        .windows(marker.len())
        .position(|w| w == marker.as_bytes())
        .map_or(message.len(), |i| (i + keep).min(message.len()));
    message[..at].to_vec()
}

/// Deterministic noise (xorshift), so a failure can be reproduced.
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn filler(local: SocketAddr, gateway: SocketAddr, total: usize) -> Vec<u8> {
    let mut request = options(local, gateway);
    let base = request.to_bytes().len() + "X-Filler: \r\n".len();
    request.extra_headers.push(format!(
        "X-Filler: {}",
        "a".repeat(total.saturating_sub(base))
    ));
    request.to_bytes()
}

const EXTRAS: &[Extra] = &[
    Extra {
        name: "garbage (a TLS ClientHello)",
        expect: NoAnswer,
        build: |_, _| {
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\xde\xad\xbe\xef garbage".to_vec()
        },
    },
    Extra {
        name: "random bytes",
        expect: NoAnswer,
        build: |_, _| noise(0x5eed, 1500),
    },
    Extra {
        name: "only NUL bytes",
        expect: NoAnswer,
        build: |_, _| vec![0; 64],
    },
    Extra {
        name: "blank lines (a keep-alive)",
        expect: NoAnswer,
        build: |_, _| b"\r\n\r\n".to_vec(),
    },
    Extra {
        name: "a start line and nothing else",
        expect: NoAnswer,
        build: |_, gw| format!("OPTIONS sip:{gw} SIP/2.0\r\n\r\n").into_bytes(),
    },
    Extra {
        name: "truncated after From",
        expect: Status(400),
        build: |l, gw| cut_before(options(l, gw).to_bytes(), "To: ", 0),
    },
    Extra {
        name: "truncated inside CSeq",
        expect: Status(400),
        build: |l, gw| cut_before(options(l, gw).to_bytes(), "CSeq: ", 9),
    },
    Extra {
        name: "NUL in the Request-URI",
        expect: Status(400),
        build: |l, gw| replace(options(l, gw).to_bytes(), "OPTIONS sip:", "OPTIONS sip:\0"),
    },
    Extra {
        name: "NUL in Call-ID",
        expect: Status(400),
        build: |l, gw| replace(options(l, gw).to_bytes(), "Call-ID: e2e", "Call-ID: e\0e2e"),
    },
    Extra {
        name: "NUL in a header value",
        expect: Status(400),
        build: |l, gw| {
            let mut request = options(l, gw);
            request.extra_headers.push("Subject: a\0b".to_owned());
            request.to_bytes()
        },
    },
    Extra {
        name: "no Via",
        expect: NoAnswer,
        build: |l, gw| options(l, gw).without(&["Via"]),
    },
    Extra {
        name: "no Call-ID",
        expect: Status(400),
        build: |l, gw| options(l, gw).without(&["Call-ID"]),
    },
    Extra {
        name: "no CSeq",
        expect: Status(400),
        build: |l, gw| options(l, gw).without(&["CSeq"]),
    },
    Extra {
        name: "no From",
        expect: Status(400),
        build: |l, gw| options(l, gw).without(&["From"]),
    },
    Extra {
        name: "no To",
        expect: Status(400),
        build: |l, gw| options(l, gw).without(&["To"]),
    },
    Extra {
        name: "no Max-Forwards (RFC 2543 style, tolerated)",
        expect: Status(200),
        build: |l, gw| options(l, gw).without(&["Max-Forwards"]),
    },
    Extra {
        name: "unknown method",
        expect: Status(501),
        build: |l, gw| {
            let request = options(l, gw).to_bytes();
            let request = replace(request, "OPTIONS sip:", "FROBNICATE sip:");
            replace(request, " OPTIONS\r\n", " FROBNICATE\r\n")
        },
    },
    Extra {
        name: "SIP/3.0",
        expect: Status(505),
        build: |l, gw| replace(options(l, gw).to_bytes(), " SIP/2.0\r\n", " SIP/3.0\r\n"),
    },
    Extra {
        name: "Content-Length beyond the message",
        expect: Status(400),
        build: |l, gw| {
            replace(
                options(l, gw).to_bytes(),
                "Content-Length: 0",
                "Content-Length: 50",
            )
        },
    },
    Extra {
        name: "negative Content-Length",
        expect: Status(400),
        build: |l, gw| {
            replace(
                options(l, gw).to_bytes(),
                "Content-Length: 0",
                "Content-Length: -1",
            )
        },
    },
    Extra {
        name: "CSeq without a number",
        expect: Status(400),
        build: |l, gw| replace(options(l, gw).to_bytes(), "CSeq: 1 ", "CSeq: x "),
    },
    Extra {
        name: "a stray response",
        expect: NoAnswer,
        build: |l, _| {
            format!(
                "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP {l};branch=z9hG4bK-stray\r\n\
                 From: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:b@127.0.0.1>;tag=2\r\n\
                 Call-ID: stray\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
            )
            .into_bytes()
        },
    },
    Extra {
        name: "20 KB request (over the 16 KiB limit)",
        expect: Status(513),
        build: |l, gw| filler(l, gw, 20 * 1024),
    },
];

/// What came back for one message.
#[derive(Debug)]
enum Answer {
    Response(SipResponse),
    Nothing,
    /// The stream was closed (WebSocket only).
    Closed(Option<String>),
}

/// Checks `answer` against `expect`; `branch` is the request's top-Via
/// branch, which a response must echo.
fn judge(expect: Expect, answer: &Answer, branch: Option<&str>) -> Result<(), String> {
    match (expect, answer) {
        (NoAnswer, Answer::Nothing) => Ok(()),
        (NoAnswer, Answer::Response(r)) => Err(format!("expected no answer, got {}", r.status)),
        (_, Answer::Nothing) => Err(format!("expected {expect:?}, got no answer")),
        (_, Answer::Closed(why)) => {
            Err(format!("expected {expect:?}, the gateway closed: {why:?}"))
        }
        (Status(code), Answer::Response(r)) if r.status != code => {
            Err(format!("expected {code}, got {} {}", r.status, r.reason))
        }
        (Accepted, Answer::Response(r)) if PARSE_REFUSALS.contains(&r.status) => Err(format!(
            "expected the message to be accepted, got {} {}",
            r.status, r.reason
        )),
        (_, Answer::Response(r)) => match branch {
            Some(branch)
                if !r
                    .header("Via")
                    .is_some_and(|via| via.contains(&format!("branch={branch}"))) =>
            {
                Err(format!(
                    "the {} does not echo the request's Via branch {branch}",
                    r.status
                ))
            }
            _ => Ok(()),
        },
    }
}

fn wait_for(expect: Expect) -> Duration {
    if expect == NoAnswer { SILENCE } else { ANSWER }
}

/// Sends one message from a fresh UDP socket (so that retransmissions of
/// earlier answers cannot be mistaken for this one's).
async fn over_udp(
    gateway: &Gateway,
    build: impl Fn(SocketAddr) -> Vec<u8>,
    expect: Expect,
) -> Result<Result<(), String>> {
    let peer = UdpPeer::bind(gateway.sip_udp).await?;
    let message = build(peer.local_addr()?);
    peer.send(&message).await?;
    let answer = match peer.recv(wait_for(expect)).await? {
        Some(bytes) => Answer::Response(SipResponse::parse(&bytes)?),
        None => Answer::Nothing,
    };
    Ok(judge(expect, &answer, top_via_branch(&message).as_deref()))
}

/// Sends one message in one frame on a fresh SIP WebSocket.
async fn over_ws(
    gateway: &Gateway,
    build: impl Fn(SocketAddr) -> Vec<u8>,
    expect: Expect,
) -> Result<Result<(), String>> {
    let mut peer = WsPeer::connect(&gateway.ws_url()).await?;
    let message = build(peer.local_addr());
    peer.send(&message).await?;
    let answer = match peer.recv(wait_for(expect)).await? {
        StreamEvent::Message(bytes) => Answer::Response(SipResponse::parse(&bytes)?),
        StreamEvent::Timeout => Answer::Nothing,
        StreamEvent::Closed(why) => Answer::Closed(why),
    };
    peer.close().await;
    Ok(judge(expect, &answer, top_via_branch(&message).as_deref()))
}

#[derive(Clone, Copy, Debug)]
enum Transport {
    Udp,
    Ws,
}

async fn send(
    transport: Transport,
    gateway: &Gateway,
    build: impl Fn(SocketAddr) -> Vec<u8>,
    expect: Expect,
) -> Result<Result<(), String>> {
    match transport {
        Transport::Udp => over_udp(gateway, build, expect).await,
        Transport::Ws => over_ws(gateway, build, expect).await,
    }
}

async fn corpus_over(transport: Transport) -> Result<()> {
    let mut gateway = Gateway::start().await?;
    let mut failures = Vec::new();
    for (name, expect) in CORPUS {
        let original = corpus(name)?;
        let verdict = send(
            transport,
            &gateway,
            |local| point_top_via_at(&original, &local.to_string()),
            *expect,
        )
        .await
        .with_context(|| format!("{name} over {transport:?}"))?;
        if let Err(e) = verdict {
            failures.push(format!("{name}: {e}"));
        }
    }
    still_healthy(&mut gateway).await?;
    if !failures.is_empty() {
        bail!(
            "RFC 4475 over {transport:?}, {} of {} wrong:\n{}",
            failures.len(),
            CORPUS.len(),
            failures.join("\n")
        );
    }
    Ok(())
}

async fn extras_over(transport: Transport) -> Result<()> {
    let mut gateway = Gateway::start().await?;
    let gw = gateway.sip_udp;
    let mut failures = Vec::new();
    for extra in EXTRAS {
        let verdict = send(
            transport,
            &gateway,
            |local| (extra.build)(local, gw),
            extra.expect,
        )
        .await
        .with_context(|| format!("{} over {transport:?}", extra.name))?;
        if let Err(e) = verdict {
            failures.push(format!("{}: {e}", extra.name));
        }
    }
    still_healthy(&mut gateway).await?;
    if !failures.is_empty() {
        bail!(
            "broken input over {transport:?}, {} of {} wrong:\n{}",
            failures.len(),
            EXTRAS.len(),
            failures.join("\n")
        );
    }
    Ok(())
}

/// `/healthz`, and OPTIONS answered 200 over UDP, TCP and WebSocket; the
/// process is running and has not panicked.
async fn still_healthy(gateway: &mut Gateway) -> Result<()> {
    gateway.health().await.context("after the broken input")?;

    let udp = UdpPeer::bind(gateway.sip_udp).await?;
    let local = udp.local_addr()?;
    let request = OptionsRequest::new("UDP", local.to_string(), gateway.sip_udp.to_string());
    let Some(response) = udp.exchange(&request.to_bytes(), ANSWER).await? else {
        bail!("OPTIONS over UDP unanswered after the broken input");
    };
    ensure!(
        response.status == 200,
        "OPTIONS over UDP answered:\n{}",
        response.text
    );
    // RFC 3581 §4: the server fills in rport with the source port.
    ensure!(
        response
            .header("Via")
            .is_some_and(|via| via.contains(&format!("rport={}", local.port()))),
        "OPTIONS over UDP: Via without rport={}:\n{}",
        local.port(),
        response.text
    );

    let mut tcp = TcpPeer::connect(gateway.sip_tcp).await?;
    let request = OptionsRequest::new(
        "TCP",
        tcp.local_addr()?.to_string(),
        gateway.sip_tcp.to_string(),
    );
    tcp.send(&request.to_bytes()).await?;
    match tcp.recv(ANSWER).await? {
        StreamEvent::Message(bytes) => {
            let response = SipResponse::parse(&bytes)?;
            ensure!(
                response.status == 200,
                "OPTIONS over TCP answered:\n{}",
                response.text
            );
        }
        other => bail!("OPTIONS over TCP after the broken input: {other:?}"),
    }

    let mut ws = WsPeer::connect(&gateway.ws_url()).await?;
    let request = OptionsRequest::new("WS", "e2e.invalid", gateway.http.to_string());
    let response = ws.exchange(&request.to_bytes(), ANSWER).await?;
    ensure!(
        response.status == 200,
        "OPTIONS over WebSocket answered:\n{}",
        response.text
    );
    ws.close().await;

    gateway.check_alive()
}

#[test]
fn the_table_covers_every_corpus_message() -> Result<()> {
    let manifest = std::fs::read_to_string(corpus_dir().join("MANIFEST.tsv"))
        .context("reading MANIFEST.tsv")?;
    let listed: BTreeSet<&str> = manifest
        .lines()
        .skip(1)
        .filter_map(|l| l.split('\t').next())
        .filter(|n| !n.is_empty())
        .collect();
    let tabled: BTreeSet<&str> = CORPUS.iter().map(|(n, _)| *n).collect();
    ensure!(
        listed == tabled,
        "MANIFEST.tsv and CORPUS differ: only in the manifest {:?}, only here {:?}",
        listed.difference(&tabled).collect::<Vec<_>>(),
        tabled.difference(&listed).collect::<Vec<_>>()
    );
    Ok(())
}

#[tokio::test]
async fn rfc4475_corpus_over_udp() -> Result<()> {
    corpus_over(Transport::Udp).await
}

#[tokio::test]
async fn rfc4475_corpus_over_websocket() -> Result<()> {
    corpus_over(Transport::Ws).await
}

#[tokio::test]
async fn extra_broken_input_over_udp() -> Result<()> {
    extras_over(Transport::Udp).await
}

#[tokio::test]
async fn extra_broken_input_over_websocket() -> Result<()> {
    extras_over(Transport::Ws).await
}

/// Larger than any datagram or frame the gateway takes, and a flood.
#[tokio::test]
async fn oversized_input_and_a_flood() -> Result<()> {
    let mut gateway = Gateway::start().await?;
    let gw = gateway.sip_udp;
    let mut failures = Vec::new();

    // Nearly the largest UDP datagram: a request, so it can be answered 513.
    let verdict = over_udp(&gateway, |l| filler(l, gw, 65_000), Status(513)).await?;
    if let Err(e) = verdict {
        failures.push(format!("65 000-byte datagram: {e}"));
    }

    // A 70 KB WebSocket message: beyond the frame limit, so the connection
    // may be closed; if it stays open, the answer must be 513.
    let mut ws = WsPeer::connect(&gateway.ws_url()).await?;
    let message = filler(ws.local_addr(), gw, 70 * 1024);
    match ws.send(&message).await {
        Err(_) => {} // closed while sending: refused
        Ok(()) => match ws.recv(ANSWER).await? {
            StreamEvent::Closed(_) => {}
            StreamEvent::Message(bytes) => {
                let response = SipResponse::parse(&bytes)?;
                if response.status != 513 {
                    failures.push(format!(
                        "70 KB WebSocket message: answered {} {}, not 513 or a close",
                        response.status, response.reason
                    ));
                }
            }
            StreamEvent::Timeout => {
                failures.push("70 KB WebSocket message: neither answered nor closed".to_owned())
            }
        },
    }

    // 70 KB on TCP: 513 or the connection closed.
    let mut tcp = TcpPeer::connect(gateway.sip_tcp).await?;
    let message = filler(tcp.local_addr()?, gateway.sip_tcp, 70 * 1024);
    if tcp.send(&message).await.is_ok() {
        match tcp.recv(ANSWER).await? {
            StreamEvent::Closed(_) => {}
            StreamEvent::Message(bytes) => {
                let response = SipResponse::parse(&bytes)?;
                if response.status != 513 {
                    failures.push(format!(
                        "70 KB on TCP: answered {} {}, not 513 or a close",
                        response.status, response.reason
                    ));
                }
            }
            StreamEvent::Timeout => {
                failures.push("70 KB on TCP: neither answered nor closed".to_owned())
            }
        }
    }

    // A flood of noise from one socket, then a real request from it.
    let flood = UdpPeer::bind(gateway.sip_udp).await?;
    for seed in 1..=500u64 {
        flood
            .send(&noise(seed, 200 + (seed as usize * 7) % 1200))
            .await?;
    }
    let request = OptionsRequest::new(
        "UDP",
        flood.local_addr()?.to_string(),
        gateway.sip_udp.to_string(),
    );
    // The flood may fill the socket's receive buffer, where the kernel drops
    // what does not fit: retransmit as a UA would (RFC 3261 Timer E).
    let mut answer = None;
    for _ in 0..8 {
        answer = flood
            .exchange(&request.to_bytes(), Duration::from_secs(1))
            .await?;
        if answer.is_some() {
            break;
        }
    }
    match answer {
        Some(response) if response.status == 200 => {}
        Some(response) => failures.push(format!(
            "OPTIONS after a flood of noise answered {}",
            response.status
        )),
        None => failures.push("OPTIONS after a flood of noise unanswered for 8 s".to_owned()),
    }

    still_healthy(&mut gateway).await?;
    ensure!(failures.is_empty(), "{}", failures.join("\n"));
    Ok(())
}
