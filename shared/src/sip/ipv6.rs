//! IPv6 address literals through rsip 0.4.
//!
//! rsip 0.4 (the design card's SIP model, unmaintained since 2022) splits a
//! host at its first `:`, so `sip:+15551234567@[2001:db8::1]:5060` and
//! `Via: SIP/2.0/UDP [2001:db8::1]:5060` do not parse, and a URI built with
//! an IPv6 host does not print. No maintained crate fixes it without
//! replacing rsip, so the edge does it:
//!
//! - bytes in: [`alias_in`] rewrites every bracketed IPv6 literal in the
//!   start line and header values into a colon-free *alias* of the same
//!   text, `[2001-db8--1]` (`:` → `-`), which rsip reads as a host name and
//!   prints back unchanged;
//! - bytes out: [`restore`] turns every alias in the header section back
//!   into the literal, so peers only ever see RFC 5118 literals.
//!
//! The alias keeps the literal's exact text (no canonical form), so
//! in → out is byte-exact: Via, Record-Route and digest `uri=` values come
//! back as the peer wrote them. Digest hashes are taken over [`restore_str`]
//! of the `uri` (what is on the wire). An alias is never a valid host name
//! (`[` is not allowed in one) nor a literal (no `:`), so the two cannot be
//! mistaken for each other. Between the edges, code that needs the address
//! reads it with [`parse_host`] and writes one with [`host_text`].
//!
//! Architecture invariant: the body (SDP) is never touched; SDP writes IPv6
//! addresses without brackets (`c=IN IP6 2001:db8::1`) and has its own parser.

use std::borrow::Cow;
use std::net::{IpAddr, Ipv6Addr};

/// Longest bracketed text looked at (an IPv6 literal with an embedded IPv4
/// address is at most 45 characters).
const MAX_LITERAL: usize = 47;

/// The host as written in our SIP messages between the edges: an IPv4
/// address as is, an IPv6 address as its bracketed alias.
pub fn host_text(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{}]", v6.to_string().replace(':', "-")),
    }
}

/// The IP address a host names, in any of its forms: `192.0.2.1`,
/// `2001:db8::1`, `[2001:db8::1]` or the alias `[2001-db8--1]`. `None` for a
/// host name.
pub fn parse_host(host: &str) -> Option<IpAddr> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Some(ip);
    }
    let inner = host.strip_prefix('[')?.strip_suffix(']')?;
    inner
        .replace('-', ":")
        .parse::<Ipv6Addr>()
        .ok()
        .map(IpAddr::V6)
}

/// `text` with every bracketed IPv6 literal replaced by its alias.
pub fn alias_in(text: &str) -> Cow<'_, str> {
    rewrite(text, b':', b'-')
}

/// `text` with every alias replaced by the literal it stands for.
pub fn restore_str(text: &str) -> Cow<'_, str> {
    rewrite(text, b'-', b':')
}

/// A whole message on its way out: aliases in the start line and headers
/// become literals again; the body is left alone.
pub fn restore(message: &[u8]) -> Cow<'_, [u8]> {
    let head_end = message
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(message.len());
    let Ok(head) = std::str::from_utf8(&message[..head_end]) else {
        return Cow::Borrowed(message);
    };
    match restore_str(head) {
        Cow::Borrowed(_) => Cow::Borrowed(message),
        Cow::Owned(head) => {
            let mut out = head.into_bytes();
            out.extend_from_slice(&message[head_end..]);
            Cow::Owned(out)
        }
    }
}

/// Replaces `from` by `to` inside every `[…]` whose result is an IPv6
/// literal (`to == ':'`) or whose text is one (`from == ':'`).
fn rewrite(text: &str, from: u8, to: u8) -> Cow<'_, str> {
    if !text.contains('[') {
        return Cow::Borrowed(text);
    }
    let bytes = text.as_bytes();
    let mut out: Option<String> = None;
    let mut copied = 0;
    let mut i = 0;
    while let Some(open) = bytes[i..].iter().position(|&b| b == b'[').map(|p| p + i) {
        let window = &bytes[open + 1..bytes.len().min(open + 2 + MAX_LITERAL)];
        let Some(len) = window.iter().position(|&b| b == b']') else {
            i = open + 1;
            continue;
        };
        let inner = &bytes[open + 1..open + 1 + len];
        let candidate: Vec<u8> = inner
            .iter()
            .map(|&b| if b == from { to } else { b })
            .collect();
        let literal = if to == b':' { &candidate[..] } else { inner };
        let is_v6 = inner.contains(&from)
            && !inner.contains(&to)
            && inner
                .iter()
                .all(|b| b.is_ascii_hexdigit() || matches!(b, b':' | b'-' | b'.'))
            && std::str::from_utf8(literal).is_ok_and(|s| s.parse::<Ipv6Addr>().is_ok());
        if is_v6 {
            let o = out.get_or_insert_with(|| String::with_capacity(text.len()));
            o.push_str(&text[copied..=open]);
            // Hex digits, `:`, `-` and `.` only: ASCII.
            o.extend(candidate.iter().map(|&b| char::from(b)));
            copied = open + 1 + len;
        }
        i = open + 1 + len;
    }
    match out {
        None => Cow::Borrowed(text),
        Some(mut o) => {
            o.push_str(&text[copied..]);
            Cow::Owned(o)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsip::headers::ToTypedHeader;

    #[test]
    fn literals_become_aliases_and_back_byte_exact() {
        let line = "Via: SIP/2.0/UDP [2001:DB8::1]:5070;received=[::1];branch=z9hG4bK1, \
                    <sip:+15551234567@[::ffff:192.0.2.1]:5060;transport=udp>";
        let aliased = alias_in(line);
        assert_eq!(
            aliased,
            "Via: SIP/2.0/UDP [2001-DB8--1]:5070;received=[--1];branch=z9hG4bK1, \
             <sip:+15551234567@[--ffff-192.0.2.1]:5060;transport=udp>"
        );
        assert!(!aliased.contains("::"));
        assert_eq!(restore_str(&aliased), line);
    }

    #[test]
    fn other_brackets_and_text_are_left_alone() {
        for text in [
            "no brackets at all",
            "\"[a-b]\" <sip:x@example.com>",
            "[1-2]",
            "[dead-beef-zz]",
            "[",
            "]]][[[",
            "[::1",
            "[-]",
            "[fe80::1%eth0]",
            "x[2001:db8::1:2:3:4:5:6:7:8:9:10:11:12:13:14:15:16]",
        ] {
            assert_eq!(alias_in(text), text, "{text}");
            assert!(matches!(alias_in(text), Cow::Borrowed(_)));
        }
        assert_eq!(restore_str("[2001-db8-zz]"), "[2001-db8-zz]");
        assert_eq!(restore_str("a-b [c-d]"), "a-b [c-d]");
    }

    #[test]
    fn restore_touches_the_header_section_only() {
        let msg = b"INVITE sip:1@[2001-db8--5]:5060 SIP/2.0\r\nVia: SIP/2.0/UDP [--1]\r\n\r\n\
                    v=0\r\na=x:[--1]\r\n";
        let out = restore(msg);
        assert_eq!(
            &out[..],
            &b"INVITE sip:1@[2001:db8::5]:5060 SIP/2.0\r\nVia: SIP/2.0/UDP [::1]\r\n\r\n\
               v=0\r\na=x:[--1]\r\n"[..]
        );
        let plain = b"OPTIONS sip:a@192.0.2.1 SIP/2.0\r\n\r\n";
        assert!(matches!(restore(plain), Cow::Borrowed(_)));
    }

    #[test]
    fn hosts_in_every_form_name_the_address() {
        let v6: IpAddr = "2001:db8::1".parse().expect("literal");
        for host in ["2001:db8::1", "[2001:db8::1]", "[2001-db8--1]"] {
            assert_eq!(parse_host(host), Some(v6), "{host}");
        }
        assert_eq!(host_text(v6), "[2001-db8--1]");
        assert_eq!(parse_host("192.0.2.7"), Some(IpAddr::from([192, 0, 2, 7])));
        assert_eq!(host_text(IpAddr::from([192, 0, 2, 7])), "192.0.2.7");
        assert_eq!(parse_host("sip.example.com"), None);
        assert_eq!(parse_host("[sip.example.com]"), None);
    }

    #[test]
    fn rsip_parses_what_the_alias_makes_of_an_ipv6_request() {
        let wire = "INVITE sip:+15551234567@[2001:db8::5]:5070 SIP/2.0\r\n\
            Via: SIP/2.0/UDP [2001:db8::9]:5060;branch=z9hG4bKabc;rport\r\n\
            From: <sip:+15550001111@[2001:db8::9]>;tag=1\r\n\
            To: <sip:+15551234567@[2001:db8::5]:5070>\r\n\
            Call-ID: a@[2001:db8::9]\r\n\
            CSeq: 1 INVITE\r\n\
            Contact: <sip:gw@[2001:db8::9]:5060>\r\n\
            Max-Forwards: 70\r\n\
            Content-Length: 0\r\n\r\n";
        assert!(
            rsip::Request::try_from(wire).is_err(),
            "rsip 0.4 got fixed?"
        );
        let aliased = alias_in(wire);
        let request = rsip::Request::try_from(aliased.as_ref()).expect("parses");
        let host = request.uri.host_with_port.host.to_string();
        assert_eq!(parse_host(&host), "2001:db8::5".parse().ok());
        assert_eq!(
            request.uri.host_with_port.port.map(|p| *p.value()),
            Some(5070)
        );
        let via = rsip::prelude::HeadersExt::via_header(&request)
            .expect("via")
            .typed()
            .expect("typed via");
        assert_eq!(
            parse_host(&via.uri.host_with_port.host.to_string()),
            "2001:db8::9".parse().ok()
        );
        let out = request.to_string();
        assert_eq!(restore(out.as_bytes()), wire.as_bytes());
    }

    /// An OPTIONS with the given Request-URI, top Via and Contact, the way
    /// the RFC 5118 §4 torture messages vary them.
    fn options(uri: &str, via: &str, contact: &str) -> String {
        format!(
            "OPTIONS {uri} SIP/2.0\r\n\
             To: <sip:user@[2001:db8::10]>\r\n\
             From: <sip:caller@[2001:db8::9:1]>;tag=81x2\r\n\
             Via: {via}\r\n\
             Call-ID: SSG9559905523997077@hlau_4100\r\n\
             Max-Forwards: 70\r\n\
             Contact: {contact}\r\n\
             CSeq: 98176 OPTIONS\r\n\
             Content-Length: 0\r\n\r\n"
        )
    }

    /// RFC 5118 §4 (IPv6 torture tests), through the real entry point:
    /// what must parse parses, with the right host and port; what is
    /// invalid gets a 400, never a panic.
    #[test]
    fn rfc_5118_torture_cases() {
        use crate::sip::{Inbound, Limits, Transport, inbound};
        let via = "SIP/2.0/UDP [2001:db8::9:1];branch=z9hG4bKas3-111";
        let contact = "\"Caller\" <sip:caller@[2001:db8::9:1]>";
        let accepted = |msg: &str| match inbound(msg.as_bytes(), Transport::Udp, Limits::default())
        {
            Inbound::Request { request } => request,
            other => panic!("refused: {other:?}\n{msg}"),
        };
        let host_port = |r: &rsip::Request| {
            (
                parse_host(&r.uri.host_with_port.host.to_string()),
                r.uri.host_with_port.port.map(|p| *p.value()),
            )
        };
        let v6 = |s: &str| s.parse::<IpAddr>().ok();

        // §4.1 ipv6-good.
        let r = accepted(&options("sip:[2001:db8::10]", via, contact));
        assert_eq!(host_port(&r), (v6("2001:db8::10"), None));
        // §4.3 port-ambiguous: the whole bracket is the address.
        let r = accepted(&options("sip:[2001:db8::10:5070]", via, contact));
        assert_eq!(host_port(&r), (v6("2001:db8::10:5070"), None));
        // §4.4 port-unambiguous.
        let r = accepted(&options("sip:[2001:db8::10]:5070", via, contact));
        assert_eq!(host_port(&r), (v6("2001:db8::10"), Some(5070)));
        // §4.5 received with and without delimiters.
        for received in ["[2001:db8::9:255]", "2001:db8::9:255"] {
            let via = format!("{via};received={received}");
            accepted(&options("sip:[2001:db8::10]", &via, contact));
        }
        // §4.7 mult-ip-in-header: IPv4 and IPv6 Vias and Contacts.
        let mixed = options(
            "sip:user@[2001:db8::10]",
            "SIP/2.0/UDP [2001:db8::9:1]:6050;branch=z9hG4bKas3-111, \
             SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKjhja8781hjuaij65144",
            "\"Caller\" <sip:caller@[2001:db8::9:1]:6050>, <sip:caller@192.0.2.1>",
        );
        let r = accepted(&mixed);
        assert_eq!(r.to_string().matches("Via: ").count(), 2);
        // §4.9 ipv4-mapped-ipv6.
        let r = accepted(&options("sip:[::ffff:192.0.2.10]", via, contact));
        assert_eq!(host_port(&r), (v6("::ffff:192.0.2.10"), None));
        // §4.10 the RFC 3261 ABNF bug: the four-colon form is fine.
        let r = accepted(&options("sip:[2001:db8::192.0.2.1]", via, contact));
        assert_eq!(host_port(&r), (v6("2001:db8::c000:201"), None));

        // §4.2 ipv6-bad (no brackets) and §4.10 three colons: 400.
        for uri in ["sip:2001:db8::10", "sip:[2001:db8:::192.0.2.1]"] {
            match inbound(
                options(uri, via, contact).as_bytes(),
                Transport::Udp,
                Limits::default(),
            ) {
                Inbound::Reject {
                    code: 400,
                    response,
                    ..
                } => {
                    let text = String::from_utf8_lossy(&response);
                    assert!(text.contains("Via: SIP/2.0/UDP [2001:db8::9:1]"), "{text}");
                }
                other => panic!("{uri}: {other:?}"),
            }
        }
    }
}
