//! Fuzz-target bodies for everything in this crate that reads bytes from
//! strangers. One function per target, so the cargo-fuzz crate (`fuzz/`, on
//! nightly, outside the workspace) and the stable regression test over the
//! checked-in corpus (`tests/fuzz_corpus.rs`) run the very same code.
//!
//! Each body panics only when one of our invariants breaks (an `assert!`
//! below says which); every other outcome, refusals included, is fine.
//! Not API: hidden from the docs, and nothing in the product calls it.

use crate::e164::{self, E164};
use crate::sip::digest::{self, Challenge, Credentials};
use crate::sip::normalize::{Frame, frame_stream, split};
use crate::sip::response::response_to;
use crate::sip::transaction::TransactionKey;
use crate::sip::uac::DigestAuth;
use crate::sip::{Inbound, Limits, Transport, inbound};

/// One datagram or WebSocket frame (also tried as one TCP message): the
/// whole inbound pipeline (normalise, validate, rsip), then what the
/// gateway reads from what was accepted.
pub fn sip_message(data: &[u8]) {
    sip_message_on(data, &[Transport::Udp, Transport::Tcp, Transport::Ws]);
}

/// [`sip_message`] on the given transports only (the mutation test,
/// `tests/never-panics.rs`, leaves some out to stay quick).
pub fn sip_message_on(data: &[u8], transports: &[Transport]) {
    check_frame(data, frame_stream(data));
    for &transport in transports {
        match inbound(data, transport, Limits::default()) {
            Inbound::Reject { response, code, .. } => {
                assert!(response.starts_with(format!("SIP/2.0 {code} ").as_bytes()));
                // What we send back is itself a clean message.
                assert!(
                    split(&response, Transport::Tcp).is_ok(),
                    "{}",
                    String::from_utf8_lossy(&response)
                );
            }
            Inbound::Request { request } => {
                accepted_request(&request);
                // What we accepted, rsip writes back in a form we accept
                // (sent as the shell sends it: IPv6 aliases restored).
                let written = request.to_string();
                let wire = crate::sip::ipv6::restore(written.as_bytes());
                let again = inbound(&wire, transport, Limits::default());
                assert!(
                    matches!(again, Inbound::Request { .. }),
                    "{request}\n{again:?}"
                );
            }
            Inbound::Response(response) => {
                let _ = TransactionKey::for_response(&response);
                // A carrier's 401/407: the challenge we would answer.
                if let Some(mut auth) = DigestAuth::from_response(&response) {
                    let _ = auth.header("INVITE", "sip:x@y", "u", "p", "c");
                }
            }
            Inbound::Drop { .. } => {}
        }
    }
}

/// What the layers above `inbound` read from an accepted request.
fn accepted_request(request: &rsip::Request) {
    use rsip::headers::ToTypedHeader as _;
    use rsip::prelude::HeadersExt as _;
    let _ = TransactionKey::for_request(request);
    let _ = TransactionKey::for_cancel_target(request);
    let _ = request.contact_header().map(|c| c.typed());
    // A clean message as rsip writes it and, with its IPv6 aliases turned
    // back into literals, as the shell sends it. (Not through `inbound`:
    // a UA drops a response with more than one Via, and ours copies all.)
    let response = response_to(request, 486, "Busy Here", Some("t1")).to_string();
    assert!(
        rsip::Response::try_from(response.as_str()).is_ok(),
        "{response}"
    );
    let bytes = crate::sip::ipv6::restore(response.as_bytes());
    assert!(
        split(&bytes, Transport::Tcp).is_ok(),
        "{}",
        String::from_utf8_lossy(&bytes)
    );
}

/// A TCP/TLS byte stream as the gateway reads it: cut messages with
/// [`frame_stream`], run each through `inbound`, stop where the stream
/// cannot be framed.
pub fn sip_stream(data: &[u8]) {
    let mut rest = data;
    loop {
        let frame = frame_stream(rest);
        check_frame(rest, frame.clone());
        match frame {
            Frame::Complete { len } => {
                let _ = inbound(&rest[..len], Transport::Tcp, Limits::default());
                rest = &rest[len..];
            }
            Frame::KeepAlive { len } => rest = &rest[len..],
            Frame::Incomplete | Frame::Invalid(_) => return,
        }
    }
}

fn check_frame(buf: &[u8], frame: Frame) {
    match frame {
        Frame::Complete { len } | Frame::KeepAlive { len } => {
            assert!(
                len > 0 && len <= buf.len(),
                "frame of {len} in {}",
                buf.len()
            );
        }
        Frame::Incomplete | Frame::Invalid(_) => {}
    }
}

/// A `WWW-Authenticate` / `Proxy-Authenticate` value from a carrier and an
/// `Authorization` value from a browser. Our answer to any challenge we
/// parse must verify, and must read back as what we meant to send (the
/// carrier's realm, nonce and opaque are echoed in it, escaped).
pub fn digest(data: &[u8]) {
    let Ok(value) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(challenge) = Challenge::parse(value) {
        let creds = digest::answer(
            &challenge,
            "INVITE",
            "sip:+15551234567@carrier.example",
            "user",
            "secret",
            "cnonce",
            1,
        );
        let base = digest::ha1(challenge.algorithm, "user", &challenge.realm, "secret");
        assert!(digest::verify(&creds, "INVITE", &base), "{creds:?}");
        let written = creds.to_header_value();
        assert_eq!(
            Credentials::parse(&written).as_ref(),
            Ok(&creds),
            "{written}"
        );
        let again = challenge.to_header_value();
        assert_eq!(Challenge::parse(&again).as_ref(), Ok(&challenge), "{again}");
    }
    if let Ok(creds) = Credentials::parse(value) {
        let base = digest::ha1(creds.algorithm, &creds.username, &creds.realm, "secret");
        let _ = digest::verify(&creds, "REGISTER", &base);
        let _ = creds.to_header_value();
    }
}

/// A phone number as typed in the dialer, sent in an API request, a CSV
/// import or a SIP URI: normalised with several default countries; what is
/// accepted must be E.164, stable, and readable by the destination rules.
pub fn phone_number(data: &[u8]) {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    let _ = crate::destination::show_prefix(input);
    let _ = input.parse::<E164>();
    for iso in ["US", "GB", "DE", "AU", "FR", "JM"] {
        let Some(country) = e164::country(iso) else {
            continue;
        };
        let Ok(number) = e164::normalize(input, country) else {
            continue;
        };
        let digits = number.digits();
        assert!(number.as_str().starts_with('+'), "{number}");
        assert!(
            (e164::MIN_DIGITS..=e164::MAX_DIGITS).contains(&digits.len())
                && digits.bytes().all(|b| b.is_ascii_digit()),
            "{number}"
        );
        assert_eq!(number.as_str().parse::<E164>().as_ref(), Ok(&number));
        assert_eq!(
            e164::normalize(number.as_str(), country).as_ref(),
            Ok(&number)
        );
        let _ = number.country();
        let _ = crate::destination::classify(&number).place_name();
        let _ = crate::destination::show_prefix(digits);
    }
}

/// A peer's message sequence against the RFC 3261 §17 transactions: the
/// first message (a request) opens a server transaction, the others are
/// its retransmissions, ACKs and CANCELs, or responses to a client INVITE
/// and a client OPTIONS we sent; between them the TU answers and the clock
/// moves. Input: [`records`]. Whatever the peer sends, no timer fires
/// forever, and once the timers ran out every client transaction has ended
/// (a client INVITE in Proceeding waits for its TU, as RFC 3261 says).
pub fn sip_transactions(data: &[u8]) {
    use crate::sip::transaction::{
        ClientInvite, ClientInviteState, ClientNonInvite, Instant, ServerInvite, ServerNonInvite,
        Timers,
    };
    use std::time::Duration;

    enum Server {
        Invite(ServerInvite),
        NonInvite(ServerNonInvite),
    }
    let start = Instant::now();
    let mut now = start;
    let timers = Timers::default();
    let mut records = records(data);
    let mut server = match records
        .next()
        .map(|r| inbound(r.bytes, Transport::Udp, Limits::default()))
    {
        Some(Inbound::Request { request }) if request.method == rsip::Method::Invite => Some(
            Server::Invite(ServerInvite::new(now, request, false, timers)),
        ),
        Some(Inbound::Request { request }) => Some(Server::NonInvite(ServerNonInvite::new(
            now, request, false, timers,
        ))),
        _ => None,
    };
    let mut invite = ClientInvite::new(now, our_request("INVITE"), false, timers);
    let mut options = ClientNonInvite::new(now, our_request("OPTIONS"), false, timers);
    for record in records {
        now += Duration::from_millis(u64::from(record.control >> 2) * 100);
        let message = inbound(record.bytes, Transport::Udp, Limits::default());
        match (record.control & 3, message) {
            (_, Inbound::Request { request }) => match &mut server {
                Some(Server::Invite(tx)) => tx.handle_request(now, request),
                Some(Server::NonInvite(tx)) => tx.handle_request(now, request),
                None => {}
            },
            (0, Inbound::Response(response)) => invite.handle_response(now, response),
            (1, Inbound::Response(response)) => options.handle_response(now, response),
            // The TU answers the server transaction with the status code
            // the record's first bytes name.
            (_, _) => {
                let code = record
                    .bytes
                    .get(..2)
                    .map_or(100, |b| 100 + u16::from_be_bytes([b[0], b[1]]) % 600);
                match &mut server {
                    Some(Server::Invite(tx)) => {
                        let response = response_to(tx.request(), code, "x", Some("t"));
                        let _ = tx.send_response(now, response);
                    }
                    Some(Server::NonInvite(tx)) => {
                        let response = response_to(tx.request(), code, "x", Some("t"));
                        let _ = tx.send_response(now, response);
                    }
                    None => {}
                }
            }
        }
        if record.control & 3 == 3 {
            invite.handle_cancel_sent(now);
        }
        drive(now, &mut server, &mut invite, &mut options);
    }
    // Let every timer run out.
    for _ in 0..200 {
        now += Duration::from_secs(1);
        drive(now, &mut server, &mut invite, &mut options);
    }
    // A client INVITE that had a provisional response waits in Proceeding
    // for the final one as long as the TU lets it (RFC 3261 §17.1.1.2: no
    // timer there; the TU cancels). Every other state ends by a timer.
    assert!(
        invite.is_terminated() || invite.state() == ClientInviteState::Proceeding,
        "{:?}",
        invite.state()
    );
    assert!(options.is_terminated(), "{:?}", options.state());

    fn drive(
        now: Instant,
        server: &mut Option<Server>,
        invite: &mut ClientInvite,
        options: &mut ClientNonInvite,
    ) {
        macro_rules! step {
            ($tx:expr) => {{
                // Each timer that fired moves on (or goes): no machine
                // keeps asking for the same instant.
                let mut fired = 0;
                while $tx.poll_timeout().is_some_and(|t| t <= now) {
                    $tx.handle_timeout(now);
                    fired += 1;
                    assert!(fired < 100, "a timer that never moves on");
                }
                while $tx.poll_transmit().is_some() {}
                while $tx.poll_event().is_some() {}
            }};
        }
        match server {
            Some(Server::Invite(tx)) => step!(tx),
            Some(Server::NonInvite(tx)) => step!(tx),
            None => {}
        }
        step!(invite);
        step!(options);
    }
}

/// A request we send (the client transactions' own).
fn our_request(method: &str) -> rsip::Request {
    let text = format!(
        "{method} sip:+15551234567@192.0.2.9 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-ours\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:gw@192.0.2.1>;tag=ours\r\n\
         To: <sip:+15551234567@192.0.2.9>\r\n\
         Call-ID: ours@192.0.2.1\r\n\
         CSeq: 1 {method}\r\n\
         Content-Length: 0\r\n\r\n"
    );
    // A constant request in the canonical form rsip parses.
    #[allow(clippy::expect_used)]
    rsip::Request::try_from(text.as_str()).expect("our own request parses")
}

/// One record cut from a fuzzer's input: `[control, length (2 bytes, big
/// endian), bytes…]`, the last one cut short where the input ends.
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    pub control: u8,
    pub bytes: &'a [u8],
}

/// The records of a fuzzer's input (also for `gateway::fuzz`).
pub fn records(mut data: &[u8]) -> impl Iterator<Item = Record<'_>> {
    std::iter::from_fn(move || {
        let (&control, rest) = data.split_first()?;
        let (len, rest) = match rest {
            [hi, lo, rest @ ..] => (usize::from(u16::from_be_bytes([*hi, *lo])), rest),
            _ => (0, &[][..]),
        };
        let (bytes, rest) = rest.split_at(len.min(rest.len()));
        data = rest;
        Some(Record { control, bytes })
    })
}
