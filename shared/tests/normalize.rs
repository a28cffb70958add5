//! The normalising front end: what a peer may send, and the canonical form
//! that comes out. Data-driven: each case is an input and the expected
//! rendering of the result (see `render`).
#![allow(clippy::unwrap_used)]

use shared::sip::Transport;
use shared::sip::normalize::{
    Frame, MAX_FRAME_BYTES, NormalizeError, RawMessage, frame_stream, split,
};

/// `input` uses `\n` line ends and `|` for "end of line here, keep the
/// whitespace before it"; it is sent with CRLF line ends unless it already
/// contains `\r`.
fn check(transport: Transport, input: &str, expect: &str) {
    let bytes = if input.contains('\r') {
        input.replace('|', "").into_bytes()
    } else {
        input.replace('|', "").replace('\n', "\r\n").into_bytes()
    };
    let actual = render(split(&bytes, transport));
    assert_eq!(
        actual.trim(),
        expect.trim(),
        "\n--- actual ---\n{actual}\n--- expected ---\n{expect}\n"
    );
}

fn render(result: Result<RawMessage, NormalizeError>) -> String {
    match result {
        Ok(msg) => {
            let mut out = format!("{}\n", msg.start_line);
            for (name, value) in &msg.headers {
                out.push_str(&format!("{name}: {value}\n"));
            }
            out.push_str(&format!("body: {:?}\n", String::from_utf8_lossy(&msg.body)));
            out
        }
        Err(NormalizeError::NoStartLine { reason }) => format!("drop: {reason}"),
        Err(NormalizeError::Malformed { reason, partial }) => {
            format!("error: {reason} (after {} headers)", partial.headers.len())
        }
    }
}

#[test]
fn folded_lines_are_unfolded() {
    check(
        Transport::Udp,
        "OPTIONS sip:a@b SIP/2.0
Subject: one
  two
\tthree
X-Empty:
 later
l: 0

",
        r#"
OPTIONS sip:a@b SIP/2.0
Subject: one two three
X-Empty: later
Content-Length: 0
body: ""
"#,
    );
}

#[test]
fn compact_names_are_expanded_and_names_canonicalised() {
    check(
        Transport::Udp,
        "MESSAGE sip:a@b SIP/2.0
v: SIP/2.0/UDP h;branch=z9hG4bK1
f: <sip:x@y>;tag=1
t: <sip:a@b>
i: abc
m: <sip:x@h>
c: text/plain
e: gzip
k: path
s: hi
o: presence
u: dialog
r: <sip:z@w>
b: <sip:q@w>
x: 1800
a: *;audio
j: *;video
d: proxy
y: sig
CALL-ID: dup
cseq: 1 MESSAGE
www-authenticate: Digest realm=x
X-Own-Header: kept as sent
l: 2

hi",
        r#"
MESSAGE sip:a@b SIP/2.0
Via: SIP/2.0/UDP h;branch=z9hG4bK1
From: <sip:x@y>;tag=1
To: <sip:a@b>
Call-ID: abc
Contact: <sip:x@h>
Content-Type: text/plain
Content-Encoding: gzip
Supported: path
Subject: hi
Event: presence
Allow-Events: dialog
Refer-To: <sip:z@w>
Referred-By: <sip:q@w>
Session-Expires: 1800
Accept-Contact: *;audio
Reject-Contact: *;video
Request-Disposition: proxy
Identity: sig
Call-ID: dup
CSeq: 1 MESSAGE
WWW-Authenticate: Digest realm=x
X-Own-Header: kept as sent
Content-Length: 2
body: "hi"
"#,
    );
}

#[test]
fn list_headers_get_one_line_per_value() {
    check(
        Transport::Udp,
        r#"INVITE sip:a@b SIP/2.0
Via: SIP/2.0/UDP a;branch=1 , SIP/2.0/TCP b;branch=2,SIP/2.0/UDP c;received="x,y"
Contact: "Doe, John" <sip:j@h;p=a,b>;expires=60, <sip:k@h>
Contact: *
Route: <sip:p1;lr>,<sip:p2;lr>
Record-Route: <sip:r1;lr>,,<sip:r2;lr>
Accept: a/b, c/d
l: 0

"#,
        r#"
INVITE sip:a@b SIP/2.0
Via: SIP/2.0/UDP a;branch=1
Via: SIP/2.0/TCP b;branch=2
Via: SIP/2.0/UDP c;received="x,y"
Contact: "Doe, John" <sip:j@h;p=a,b>;expires=60
Contact: <sip:k@h>
Contact: *
Route: <sip:p1;lr>
Route: <sip:p2;lr>
Record-Route: <sip:r1;lr>
Record-Route: <sip:r2;lr>
Accept: a/b, c/d
Content-Length: 0
body: ""
"#,
    );
}

#[test]
fn whitespace_is_tidied_where_the_grammar_allows_it() {
    check(
        Transport::Udp,
        "INVITE   sip:a@b   SIP/2.0   |
Via  :  SIP / 2.0 / UDP  host : 5060 ; branch = z9hG4bK1
From\t: \"A  B\"   <sip:a@b> ; tag = 9
To: sip:c@d ; tag=1
CSeq:   7
   INVITE
Max-Forwards:  70 |
Content-Length   : 0

",
        r#"
INVITE sip:a@b SIP/2.0
Via: SIP/2.0/UDP host:5060;branch=z9hG4bK1
From: "A  B" <sip:a@b>;tag=9
To: sip:c@d;tag=1
CSeq: 7 INVITE
Max-Forwards: 70
Content-Length: 0
body: ""
"#,
    );
}

#[test]
fn lf_only_line_ends_and_leading_keepalives() {
    check(
        Transport::Udp,
        "\r\n\r\n\nOPTIONS sip:a@b SIP/2.0\nCall-ID: x\r\nl: 3\n\nabc",
        r#"
OPTIONS sip:a@b SIP/2.0
Call-ID: x
Content-Length: 3
body: "abc"
"#,
    );
}

#[test]
fn content_length_cuts_the_body() {
    // Short Content-Length: the rest of the datagram is dropped (RFC 3261 §18.3).
    check(
        Transport::Udp,
        "OPTIONS sip:a@b SIP/2.0\nl: 2\n\nabcdef",
        "OPTIONS sip:a@b SIP/2.0\nContent-Length: 2\nbody: \"ab\"",
    );
    check(
        Transport::Udp,
        "OPTIONS sip:a@b SIP/2.0\nContent-Length: 9\n\nabc",
        "error: Content-Length larger than message (after 1 headers)",
    );
    // Missing: the rest of a datagram, but an error on a stream.
    check(
        Transport::Udp,
        "OPTIONS sip:a@b SIP/2.0\nCall-ID: x\n\nabc",
        "OPTIONS sip:a@b SIP/2.0\nCall-ID: x\nbody: \"abc\"",
    );
    check(
        Transport::Ws,
        "OPTIONS sip:a@b SIP/2.0\nCall-ID: x\n\nabc",
        "OPTIONS sip:a@b SIP/2.0\nCall-ID: x\nbody: \"abc\"",
    );
    check(
        Transport::Tcp,
        "OPTIONS sip:a@b SIP/2.0\nCall-ID: x\n\nabc",
        "error: missing Content-Length (required on TCP/TLS) (after 1 headers)",
    );
    for bad in ["-1", "1.5", "+3", "", "99999999999999999999", "0x10"] {
        check(
            Transport::Udp,
            &format!("OPTIONS sip:a@b SIP/2.0\nContent-Length: {bad}\n\n"),
            "error: bad Content-Length (after 1 headers)",
        );
    }
    check(
        Transport::Udp,
        "OPTIONS sip:a@b SIP/2.0\nContent-Length: 0\nl: 0\n\n",
        "error: multiple Content-Length headers (after 2 headers)",
    );
}

#[test]
fn binary_bodies_survive() {
    let mut bytes = b"MESSAGE sip:a@b SIP/2.0\r\nContent-Length: 4\r\n\r\n".to_vec();
    bytes.extend_from_slice(&[0, 0xff, b'\r', b'\n']);
    let msg = split(&bytes, Transport::Tcp).unwrap();
    assert_eq!(msg.body, [0, 0xff, b'\r', b'\n']);
    assert!(
        msg.to_bytes()
            .ends_with(b"Content-Length: 4\r\n\r\n\0\xff\r\n")
    );
}

#[test]
fn broken_messages_keep_what_could_be_read() {
    check(
        Transport::Udp,
        "INVITE sip:a@b SIP/2.0\nVia: SIP/2.0/UDP h\nno colon here\nCall-ID: x\n\n",
        "error: header line without colon: no colon here (after 2 headers)",
    );
    check(
        Transport::Udp,
        "INVITE sip:a@b SIP/2.0\n continued start line\nVia: SIP/2.0/UDP h\n\n",
        "error: continuation line before first header (after 1 headers)",
    );
    check(
        Transport::Udp,
        "INVITE sip:a@b; lr SIP/2.0\nVia: SIP/2.0/UDP h\n\n",
        "error: malformed request line (after 1 headers)",
    );
    check(
        Transport::Udp,
        "INVITE sip:a@b SIP/2.0\nBad Name: x\nVia: SIP/2.0/UDP h\n\n",
        "error: invalid header name Bad Name (after 1 headers)",
    );
    check(
        Transport::Udp,
        "INVITE sip:a@b SIP/2.0\nVia: SIP/2.0/UDP h\nX: a\rb\n\n",
        "error: bare CR in header line (after 1 headers)",
    );
    // Non-UTF-8: a header is refused, a start line is not even answered.
    let mut bytes = b"INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nX: \xff\r\n\r\n".to_vec();
    assert_eq!(
        render(split(&bytes, Transport::Udp)),
        "error: header line is not UTF-8 (after 1 headers)"
    );
    bytes[0] = 0xc0;
    assert_eq!(
        render(split(&bytes, Transport::Udp)),
        "drop: start line is not UTF-8"
    );
    assert_eq!(
        render(split(b"\r\n\r\n", Transport::Udp)),
        "drop: empty message"
    );
}

#[test]
fn status_lines() {
    check(
        Transport::Udp,
        "SIP/2.0 180 Ringing\nl: 0\n\n",
        "SIP/2.0 180 Ringing\nContent-Length: 0\nbody: \"\"",
    );
    check(
        Transport::Udp,
        "SIP/2.0 100\nl: 0\n\n",
        "SIP/2.0 100 \nContent-Length: 0\nbody: \"\"",
    );
}

#[test]
fn header_lookup_is_case_insensitive_and_knows_compact_forms() {
    let msg = split(
        b"OPTIONS sip:a@b SIP/2.0\r\nv: SIP/2.0/UDP a, SIP/2.0/UDP b\r\ni: x\r\n\r\n",
        Transport::Udp,
    )
    .unwrap();
    assert_eq!(msg.header("call-id"), Some("x"));
    assert_eq!(msg.header("i"), Some("x"));
    assert_eq!(
        msg.headers_named("VIA").collect::<Vec<_>>(),
        ["SIP/2.0/UDP a", "SIP/2.0/UDP b"]
    );
    assert_eq!(msg.header("To"), None);
}

#[test]
fn to_bytes_is_canonical_and_splits_to_itself() {
    let msg = split(
        b"OPTIONS sip:a@b SIP/2.0\nv: SIP/2.0/UDP a, SIP/2.0/UDP b\nl: 3\nX-A: 1\n\nabcd",
        Transport::Udp,
    )
    .unwrap();
    let bytes = msg.to_bytes();
    assert_eq!(
        String::from_utf8_lossy(&bytes),
        "OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP a\r\nVia: SIP/2.0/UDP b\r\nX-A: 1\r\nContent-Length: 3\r\n\r\nabc"
    );
    let again = split(&bytes, Transport::Tcp).unwrap();
    assert_eq!(again.to_bytes(), bytes);
}

fn frame(buf: &[u8]) -> Frame {
    frame_stream(buf)
}

#[test]
fn stream_framing() {
    let msg = b"OPTIONS sip:a@b SIP/2.0\r\nl: 3\r\nCall-ID: x\r\n\r\nabc";
    let len = msg.len();
    // Every prefix is incomplete, the whole is complete, extra bytes stay.
    for cut in 1..len {
        assert_eq!(frame(&msg[..cut]), Frame::Incomplete, "cut at {cut}");
    }
    assert_eq!(frame(msg), Frame::Complete { len });
    let mut two = msg.to_vec();
    two.extend_from_slice(b"OPTIONS sip");
    assert_eq!(frame(&two), Frame::Complete { len });

    // LF-only and case-insensitive Content-Length.
    assert_eq!(
        frame(b"OPTIONS sip:a@b SIP/2.0\ncontent-LENGTH :  2\n\nhi"),
        Frame::Complete { len: 47 }
    );

    // A folded Content-Length frames as split() reads it.
    let folded = b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length:\r\n 2\r\n\r\nhi!";
    assert_eq!(
        frame(folded),
        Frame::Complete {
            len: folded.len() - 1
        }
    );
    assert_eq!(
        split(&folded[..folded.len() - 1], Transport::Tcp)
            .unwrap()
            .body,
        b"hi"
    );

    // Keep-alives (RFC 5626): ping, pong, and a ping still arriving.
    assert_eq!(frame(b"\r\n\r\n"), Frame::KeepAlive { len: 4 });
    assert_eq!(frame(b"\r\n\r\nOPTIONS"), Frame::KeepAlive { len: 4 });
    assert_eq!(frame(b"\r\nOPTIONS"), Frame::KeepAlive { len: 2 });
    assert_eq!(frame(b"\r\n"), Frame::Incomplete);
    assert_eq!(frame(b"\r\n\r"), Frame::Incomplete);
    assert_eq!(frame(b"\n\n"), Frame::KeepAlive { len: 2 });
    assert_eq!(frame(b""), Frame::Incomplete);
}

#[test]
fn unframeable_streams_are_invalid() {
    let invalid = |buf: &[u8]| matches!(frame(buf), Frame::Invalid(_));
    assert!(invalid(b"OPTIONS sip:a@b SIP/2.0\r\nCall-ID: x\r\n\r\n"));
    assert!(invalid(b"OPTIONS sip:a@b SIP/2.0\r\nl: -999\r\n\r\n"));
    assert!(invalid(b"OPTIONS sip:a@b SIP/2.0\r\nl: 1\r\nl: 2\r\n\r\n"));
    assert!(invalid(b"OPTIONS sip:a@b SIP/2.0\r\nl: 9999999\r\n\r\n"));
    let endless = vec![b'A'; MAX_FRAME_BYTES + 1];
    assert!(invalid(&endless));
    // Just under the limit, still waiting for the end of the headers.
    assert_eq!(frame(&endless[..MAX_FRAME_BYTES]), Frame::Incomplete);
}
