//! The core's dispatch: what goes back, and where, for each kind of input.
#![allow(clippy::unwrap_used)]

use shared::ids::{CallId, CarrierId};
use std::net::SocketAddr;

use super::*;

/// Media is not part of these tests: every call's media setup fails.
struct NoMedia;

impl crate::sip::b2bua::MediaPort for NoMedia {
    fn start_outbound(
        &mut self,
        _call: CallId,
        _offer: &str,
        _codecs: &[String],
        _srtp_required: bool,
        _carrier_ip: std::net::IpAddr,
    ) -> Result<crate::sip::b2bua::MediaSetup, crate::sip::b2bua::MediaFailure> {
        Err(crate::sip::b2bua::MediaFailure {
            code: 503,
            reason: "Service Unavailable (no media in this test)".to_owned(),
        })
    }
    fn start_inbound(
        &mut self,
        _call: CallId,
        _offer: &str,
        _codecs: &[String],
        _srtp_required: bool,
    ) -> Result<crate::sip::b2bua::InboundSetup, crate::sip::b2bua::MediaFailure> {
        Err(crate::sip::b2bua::MediaFailure {
            code: 503,
            reason: "Service Unavailable (no media in this test)".to_owned(),
        })
    }
    fn carrier_offer(
        &mut self,
        _call: CallId,
        _codecs: &[String],
        _srtp_required: bool,
        _carrier_ip: std::net::IpAddr,
    ) -> Result<String, crate::sip::b2bua::MediaFailure> {
        Err(crate::sip::b2bua::MediaFailure {
            code: 503,
            reason: "Service Unavailable (no media in this test)".to_owned(),
        })
    }
    fn browser_answer(
        &mut self,
        _call: CallId,
        _sdp: &str,
    ) -> Result<(), crate::sip::b2bua::MediaFailure> {
        Ok(())
    }
    fn carrier_answer(
        &mut self,
        _call: CallId,
        _sdp: &str,
    ) -> Result<(), crate::sip::b2bua::MediaFailure> {
        Ok(())
    }
    fn browser_reoffer(&mut self, _call: CallId, _sdp: &str) {}
    fn set_hold(&mut self, _call: CallId, _held: bool) {}
    fn stop(&mut self, _call: CallId) {}
}

fn core() -> SipCore {
    SipCore::new(
        CoreConfig {
            registrar: RegistrarConfig::new("gw.test"),
            b2bua: crate::sip::b2bua::B2buaConfig::new(
                std::net::Ipv4Addr::LOCALHOST.into(),
                5060,
                "gw.test",
            ),
            limits: Limits::default(),
            guard: crate::guard::GuardConfig::default(),
        },
        Box::new(NoMedia),
        [1; 32],
    )
}

fn now() -> Now {
    Now {
        instant: Instant::now(),
        unix: 1_000,
        unix_ms: 1_000_000,
    }
}

fn udp_from(peer: &str) -> Source {
    Source {
        transport: Transport::Udp,
        peer: peer.parse::<SocketAddr>().unwrap(),
        conn: None,
    }
}

fn request(method: &str, via: &str) -> String {
    format!(
        "{method} sip:gw.test SIP/2.0\r\n\
         Via: SIP/2.0/UDP {via};branch=z9hG4bK77\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:carrier@example.net>;tag=a\r\n\
         To: <sip:gw.test>\r\n\
         Call-ID: x1\r\n\
         CSeq: 1 {method}\r\n\
         Content-Length: 0\r\n\r\n"
    )
}

/// Feeds one message; returns the single transmit it caused, as text.
fn exchange(core: &mut SipCore, source: Source, text: &str) -> Option<(Destination, String)> {
    core.handle_input(now(), source, text.as_bytes());
    let out = core
        .poll_transmit()
        .map(|t| (t.to, String::from_utf8(t.bytes).unwrap()));
    assert!(core.poll_transmit().is_none(), "one input, one answer");
    out
}

/// A carrier's answer to `request`: `SIP/2.0 {status}` with its Via, From,
/// To, Call-ID and CSeq.
fn answer_to(request: &str, status: &str) -> String {
    let mut answer = format!("SIP/2.0 {status}\r\n");
    for line in request.lines() {
        if ["Via:", "From:", "To:", "Call-ID:", "CSeq:"]
            .iter()
            .any(|h| line.starts_with(h))
        {
            answer.push_str(line);
            answer.push_str("\r\n");
        }
    }
    answer.push_str("Content-Length: 0\r\n\r\n");
    answer
}

fn status_line(text: &str) -> &str {
    text.lines().next().unwrap_or("")
}

#[test]
fn options_over_udp_is_answered_at_the_source_with_received_and_rport() {
    let mut c = core();
    let (to, text) = exchange(
        &mut c,
        udp_from("127.0.0.1:40000"),
        &request("OPTIONS", "192.0.2.9:5060;rport"),
    )
    .unwrap();
    assert_eq!(to, Destination::Udp("127.0.0.1:40000".parse().unwrap()));
    assert_eq!(status_line(&text), "SIP/2.0 200 OK");
    assert!(text.contains("rport=40000"), "{text}");
    assert!(text.contains("received=127.0.0.1"), "{text}");
    assert!(text.contains("Allow: "), "{text}");
}

#[test]
fn unknown_method_gets_501_with_allow() {
    let mut c = core();
    let (_, text) = exchange(
        &mut c,
        udp_from("127.0.0.1:40000"),
        &request("FROBNICATE", "127.0.0.1:40000"),
    )
    .unwrap();
    assert!(status_line(&text).starts_with("SIP/2.0 501 "), "{text}");
    assert!(text.contains("CSeq: 1 FROBNICATE"), "{text}");
    assert!(text.contains("Allow: "), "{text}");
}

#[test]
fn register_over_udp_is_refused() {
    let mut c = core();
    let (_, text) = exchange(
        &mut c,
        udp_from("127.0.0.1:40000"),
        &request("REGISTER", "127.0.0.1:40000"),
    )
    .unwrap();
    assert!(status_line(&text).starts_with("SIP/2.0 403 "), "{text}");
}

#[test]
fn in_dialog_requests_without_a_dialog_get_481() {
    let mut c = core();
    for method in ["BYE", "CANCEL", "INFO"] {
        let (_, text) = exchange(
            &mut c,
            udp_from("127.0.0.1:40000"),
            &request(method, "127.0.0.1:40000"),
        )
        .unwrap();
        assert!(status_line(&text).starts_with("SIP/2.0 481 "), "{text}");
    }
}

#[test]
fn ack_and_garbage_get_no_answer() {
    let mut c = core();
    assert!(
        exchange(
            &mut c,
            udp_from("127.0.0.1:40000"),
            &request("ACK", "127.0.0.1:40000")
        )
        .is_none()
    );
    assert!(exchange(&mut c, udp_from("127.0.0.1:40000"), "\u{1}\u{2}garbage").is_none());
    assert!(matches!(
        c.poll_event(),
        Some(CoreEvent::Refused { code: None, .. })
    ));
}

#[test]
fn malformed_request_gets_400_on_its_connection() {
    let mut c = core();
    let source = Source {
        transport: Transport::Ws,
        peer: "127.0.0.1:1".parse().unwrap(),
        conn: Some(ConnId(9)),
    };
    let broken = "OPTIONS sip:gw.test SIP/2.0\r\n\
        Via: SIP/2.0/WSS x.invalid;branch=z9hG4bK1\r\n\
        From: <sip:a@b>;tag=1\r\n\
        To: <sip:gw.test>\r\n\
        CSeq: 1 OPTIONS\r\n\
        Content-Length: 0\r\n\r\n";
    let (to, text) = exchange(&mut c, source, broken).unwrap();
    assert_eq!(to, Destination::Conn(ConnId(9)));
    assert!(status_line(&text).starts_with("SIP/2.0 400 "), "{text}");
}

fn carrier_route(sources: &[&str], credentials: Option<(&str, &str)>) -> Route {
    Route {
        id: CarrierId(9),
        name: "Trunk".to_owned(),
        addr: "127.0.0.1:5099".parse().unwrap(),
        transport: shared::api::SipTransport::Udp,
        host: "127.0.0.1".to_owned(),
        username: credentials.map(|(u, _)| u.to_owned()),
        secret: credentials.map(|(_, s)| s.to_owned()),
        from_user: None,
        from_domain: None,
        caller_id: None,
        codecs: vec!["PCMU".to_owned()],
        number_format: shared::api::NumberFormat::E164,
        tech_prefix: String::new(),
        inbound: crate::sip::dids::InboundPolicy {
            sources: sources.iter().map(|s| s.parse().unwrap()).collect(),
            number_from: Default::default(),
        },
        priority: 1,
        weight: 1,
        max_channels: None,
        qualify: None,
        register: None,
        realm: None,
        tls_ca: None,
        srtp_required: false,
    }
}

fn invite_to_did(extra: &str) -> String {
    format!(
        "INVITE sip:+14155550150@gw.test SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.7:5060;branch=z9hG4bKin1\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:+14155550123@carrier.test>;tag=c1\r\n\
         To: <sip:+14155550150@gw.test>\r\n\
         Call-ID: in-1\r\n\
         CSeq: 1 INVITE\r\n\
         {extra}\
         Content-Length: 0\r\n\r\n"
    )
}

#[test]
fn invite_from_an_unknown_address_gets_403_and_is_counted() {
    let mut c = core();
    c.set_routes(now(), vec![carrier_route(&["127.0.0.0/30"], None)]);
    let (_, text) = exchange(&mut c, udp_from("127.0.0.7:5060"), &invite_to_did("")).unwrap();
    assert!(status_line(&text).starts_with("SIP/2.0 403 "), "{text}");
    assert!(matches!(
        c.poll_event(),
        Some(CoreEvent::Refused {
            code: Some(403),
            ..
        })
    ));
    // From a listed address it reaches DID routing (no DIDs here: 404).
    let (_, text) = exchange(&mut c, udp_from("127.0.0.2:5060"), &invite_to_did("")).unwrap();
    assert!(status_line(&text).starts_with("SIP/2.0 404 "), "{text}");
}

#[test]
fn carrier_with_credentials_is_challenged_and_recognised_by_its_digest() {
    let mut c = core();
    c.set_routes(
        now(),
        vec![carrier_route(&[], Some(("trunkuser", "s3cret")))],
    );
    let peer = udp_from("127.0.0.7:5060");
    c.handle_input(now(), peer, invite_to_did("").as_bytes());
    let text = String::from_utf8(c.poll_transmit().unwrap().bytes).unwrap();
    assert!(status_line(&text).starts_with("SIP/2.0 407 "), "{text}");
    let challenge = text
        .lines()
        .filter_map(|l| l.strip_prefix("Proxy-Authenticate: "))
        .map(|v| shared::sip::digest::Challenge::parse(v).unwrap())
        .find(|ch| ch.algorithm == shared::sip::digest::Algorithm::Md5)
        .expect("an MD5 challenge");
    while c.poll_transmit().is_some() {}
    let answer = |password: &str| {
        shared::sip::digest::answer(
            &challenge,
            "INVITE",
            "sip:+14155550150@gw.test",
            "trunkuser",
            password,
            "0a1b2c3d",
            1,
        )
        .to_header_value()
    };
    let wrong = invite_to_did(&format!("Proxy-Authorization: {}\r\n", answer("nope")));
    let (_, text) = exchange(&mut c, peer, &wrong).unwrap();
    assert!(status_line(&text).starts_with("SIP/2.0 403 "), "{text}");
    let right = invite_to_did(&format!("Proxy-Authorization: {}\r\n", answer("s3cret")));
    let (_, text) = exchange(&mut c, peer, &right).unwrap();
    assert!(status_line(&text).starts_with("SIP/2.0 404 "), "{text}");
}

#[test]
fn qualify_options_go_to_the_carrier_and_their_answers_to_the_trunks() {
    let mut c = core();
    let mut route = carrier_route(&[], None);
    route.qualify = Some(std::time::Duration::from_secs(10));
    c.set_routes(now(), vec![route]);
    let options = c.poll_transmit().unwrap();
    assert_eq!(
        options.to,
        Destination::Udp("127.0.0.1:5099".parse().unwrap())
    );
    let options = String::from_utf8(options.bytes).unwrap();
    assert!(
        options.starts_with("OPTIONS sip:127.0.0.1:5099 "),
        "{options}"
    );
    assert!(c.poll_transmit().is_none());
    assert!(c.poll_timeout().is_some());
    let Some(CoreEvent::Trunk(status)) = c.poll_event() else {
        panic!("a trunk status first");
    };
    assert_eq!(
        status.qualify.map(|q| q.state),
        Some(crate::sip::trunks::QualifyState::Unknown)
    );

    // The carrier answers 404: alive all the same; nothing is sent back.
    let answer = answer_to(&options, "404 Not Found");
    assert!(exchange(&mut c, udp_from("127.0.0.1:5099"), &answer).is_none());
    let Some(CoreEvent::Trunk(status)) = c.poll_event() else {
        panic!("a trunk status");
    };
    assert_eq!(
        status.qualify.map(|q| q.state),
        Some(crate::sip::trunks::QualifyState::Up)
    );
}

/// A dual-stack core: IPv4 loopback, and 2001:db8::10 port 5062 toward
/// IPv6 carriers.
fn dual_stack_core() -> SipCore {
    let mut b2bua =
        crate::sip::b2bua::B2buaConfig::new(std::net::Ipv4Addr::LOCALHOST.into(), 5060, "gw.test");
    b2bua.local.ipv6 = Some(crate::sip::Ipv6Side {
        advertised: "2001:db8::10".parse().unwrap(),
        udp_port: 5062,
        tcp_port: None,
    });
    SipCore::new(
        CoreConfig {
            registrar: RegistrarConfig::new("gw.test"),
            b2bua,
            limits: Limits::default(),
            guard: crate::guard::GuardConfig::default(),
        },
        Box::new(NoMedia),
        [1; 32],
    )
}

#[test]
fn ipv6_carrier_is_qualified_from_our_ipv6_side_in_rfc_5118_literals() {
    let mut c = dual_stack_core();
    let mut route = carrier_route(&["2001:db8::/64"], None);
    route.addr = "[2001:db8::5]:5070".parse().unwrap();
    route.host = "2001:db8::5".to_owned();
    route.qualify = Some(std::time::Duration::from_secs(10));
    c.set_routes(now(), vec![route]);
    let options = c.poll_transmit().unwrap();
    assert_eq!(
        options.to,
        Destination::Udp("[2001:db8::5]:5070".parse().unwrap())
    );
    let options = String::from_utf8(options.bytes).unwrap();
    assert!(
        options.starts_with("OPTIONS sip:[2001:db8::5]:5070 SIP/2.0\r\n"),
        "{options}"
    );
    assert!(
        options.contains("Via: SIP/2.0/UDP [2001:db8::10]:5062;"),
        "{options}"
    );
    assert!(
        options.contains("Contact: <sip:gw@[2001:db8::10]:5062>"),
        "{options}"
    );
    assert!(!options.contains("2001-db8"), "no alias leaks: {options}");
    while c.poll_event().is_some() {}

    // Its answer (Via and all in literals) parses and marks it up... after
    // two answers; one is enough to see it was matched: no 481, nothing sent.
    let answer = answer_to(&options, "200 OK");
    let peer = udp_from("[2001:db8::5]:5070");
    assert!(exchange(&mut c, peer, &answer).is_none());
    let Some(CoreEvent::Trunk(status)) = c.poll_event() else {
        panic!("the answer reached the trunk monitor");
    };
    assert!(status.qualify.and_then(|q| q.rtt_ms).is_some());

    // A request from an IPv6 peer: answered at its source, received= and
    // rport stamped, the Via given back as it came.
    let (to, text) = exchange(
        &mut c,
        udp_from("[2001:db8::7]:40000"),
        &request("OPTIONS", "[2001:db8::7]:5060;rport"),
    )
    .unwrap();
    assert_eq!(to, Destination::Udp("[2001:db8::7]:40000".parse().unwrap()));
    assert_eq!(status_line(&text), "SIP/2.0 200 OK");
    assert!(
        text.contains("Via: SIP/2.0/UDP [2001:db8::7]:5060;rport=40000;branch=z9hG4bK77")
            || text.contains("Via: SIP/2.0/UDP [2001:db8::7]:5060;branch=z9hG4bK77;rport=40000"),
        "{text}"
    );
    assert!(text.contains("received=[2001:db8::7]"), "{text}");
}

#[test]
fn ipv6_carrier_digest_over_a_literal_uri_verifies() {
    let mut c = dual_stack_core();
    let mut route = carrier_route(&[], Some(("trunkuser", "s3cret")));
    route.addr = "[2001:db8::5]:5060".parse().unwrap();
    route.host = "2001:db8::5".to_owned();
    c.set_routes(now(), vec![route]);
    let invite = |extra: &str| {
        format!(
            "INVITE sip:+14155550150@[2001:db8::10]:5062 SIP/2.0\r\n\
             Via: SIP/2.0/UDP [2001:db8::5];branch=z9hG4bKv6\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:+14155550123@[2001:db8::5]>;tag=c1\r\n\
             To: <sip:+14155550150@[2001:db8::10]:5062>\r\n\
             Call-ID: in-v6\r\n\
             CSeq: 1 INVITE\r\n\
             {extra}\
             Content-Length: 0\r\n\r\n"
        )
    };
    let peer = udp_from("[2001:db8::5]:5060");
    c.handle_input(now(), peer, invite("").as_bytes());
    let text = String::from_utf8(c.poll_transmit().unwrap().bytes).unwrap();
    assert!(status_line(&text).starts_with("SIP/2.0 407 "), "{text}");
    assert!(
        text.contains("Via: SIP/2.0/UDP [2001:db8::5];branch=z9hG4bKv6"),
        "{text}"
    );
    let challenge = text
        .lines()
        .filter_map(|l| l.strip_prefix("Proxy-Authenticate: "))
        .map(|v| shared::sip::digest::Challenge::parse(v).unwrap())
        .find(|ch| ch.algorithm == shared::sip::digest::Algorithm::Md5)
        .expect("an MD5 challenge");
    while c.poll_transmit().is_some() {}
    // The carrier hashes the URI as it wrote it, with the literal.
    let answer = shared::sip::digest::answer(
        &challenge,
        "INVITE",
        "sip:+14155550150@[2001:db8::10]:5062",
        "trunkuser",
        "s3cret",
        "0a1b2c3d",
        1,
    )
    .to_header_value();
    let right = invite(&format!("Proxy-Authorization: {answer}\r\n"));
    let (_, text) = exchange(&mut c, peer, &right).unwrap();
    // Recognised (no DIDs here: 404, not 403).
    assert!(status_line(&text).starts_with("SIP/2.0 404 "), "{text}");
}

#[test]
fn ipv6_carrier_registration_names_our_ipv6_side() {
    let mut c = dual_stack_core();
    let mut route = carrier_route(&[], Some(("trunkuser", "s3cret")));
    route.addr = "[2001:db8::5]:5070".parse().unwrap();
    route.host = "2001:db8::5".to_owned();
    route.register = Some(600);
    c.set_routes(now(), vec![route]);
    let register = c.poll_transmit().expect("a REGISTER");
    assert_eq!(
        register.to,
        Destination::Udp("[2001:db8::5]:5070".parse().unwrap())
    );
    let text = String::from_utf8(register.bytes).unwrap();
    assert!(
        text.starts_with("REGISTER sip:[2001:db8::5] SIP/2.0\r\n"),
        "{text}"
    );
    assert!(
        text.contains("Via: SIP/2.0/UDP [2001:db8::10]:5062;"),
        "{text}"
    );
    assert!(text.contains("@[2001:db8::10]:5062"), "Contact: {text}");
    assert!(text.contains("sip:trunkuser@[2001:db8::5]"), "AOR: {text}");
    assert!(!text.contains("2001-db8"), "no alias leaks: {text}");
}

fn bans(core: &mut SipCore) -> Vec<crate::guard::Ban> {
    std::iter::from_fn(|| core.poll_event())
        .filter_map(|e| match e {
            CoreEvent::Guard(crate::guard::GuardEvent::Banned(b)) => Some(b),
            _ => None,
        })
        .collect()
}

#[test]
fn a_scanner_gets_nothing_back_from_its_first_message_on() {
    let mut core = core();
    let scan = request("OPTIONS", "127.0.0.5:5060").replace(
        "Content-Length: 0",
        "User-Agent: friendly-scanner\r\nContent-Length: 0",
    );
    assert!(exchange(&mut core, udp_from("127.0.0.5:5060"), &scan).is_none());
    let banned = bans(&mut core);
    assert_eq!(banned.len(), 1);
    assert_eq!(banned[0].reason, crate::guard::BanReason::Scanner);
    // Its next message, scanner or not, is not even parsed.
    let plain = request("OPTIONS", "127.0.0.5:5060");
    assert!(exchange(&mut core, udp_from("127.0.0.5:5061"), &plain).is_none());
    assert!(exchange(&mut core, udp_from("127.0.0.5:5060"), "garbage\r\n\r\n").is_none());
    // Another source is answered.
    let (_, ok) = exchange(&mut core, udp_from("127.0.0.2:5060"), &plain).unwrap();
    assert!(ok.starts_with("SIP/2.0 200 OK"), "{ok}");
}

#[test]
fn ten_refused_registrations_ban_the_source_and_the_eleventh_gets_nothing() {
    let mut core = core();
    let register = request("REGISTER", "127.0.0.5:5060");
    for i in 0..10 {
        let (_, refused) = exchange(&mut core, udp_from("127.0.0.5:5060"), &register)
            .unwrap_or_else(|| panic!("refusal {i} is answered"));
        assert!(refused.starts_with("SIP/2.0 403"), "{refused}");
    }
    let banned = bans(&mut core);
    assert_eq!(banned.len(), 1, "banned at the tenth");
    assert_eq!(banned[0].reason, crate::guard::BanReason::AuthFailures);
    assert!(exchange(&mut core, udp_from("127.0.0.5:5060"), &register).is_none());
    // An admin lifts it: answered again.
    assert!(core.unban("127.0.0.5".parse().unwrap()));
    assert!(exchange(&mut core, udp_from("127.0.0.5:5060"), &register).is_some());
}

#[test]
fn a_carriers_address_is_never_banned() {
    let mut core = core();
    core.set_routes(now(), vec![carrier_route(&["127.0.0.7/32"], None)]);
    while core.poll_transmit().is_some() {}
    let scan = request("OPTIONS", "127.0.0.7:5060").replace(
        "Content-Length: 0",
        "User-Agent: sipvicious\r\nContent-Length: 0",
    );
    for _ in 0..300 {
        core.handle_input(now(), udp_from("127.0.0.7:5060"), scan.as_bytes());
        while core.poll_transmit().is_some() {}
    }
    assert!(bans(&mut core).is_empty());
    let plain = request("OPTIONS", "127.0.0.7:5060");
    assert!(exchange(&mut core, udp_from("127.0.0.7:5060"), &plain).is_some());
}

#[test]
fn every_srv_target_of_a_carrier_is_never_banned() {
    let mut core = core();
    let route = carrier_route(&["127.0.0.7/32"], None);
    let mut targets = crate::sip::rfc3263::CarrierTargets::new();
    targets.insert(
        route.id,
        vec![crate::sip::rfc3263::SrvTarget {
            name: "b.carrier.test".to_owned(),
            priority: 20,
            weight: 1,
            addrs: vec!["127.0.0.9:5070".parse().expect("address")],
        }],
    );
    core.set_carriers(now(), vec![route], targets);
    while core.poll_transmit().is_some() {}
    let scan = request("OPTIONS", "127.0.0.9:5070").replace(
        "Content-Length: 0",
        "User-Agent: sipvicious\r\nContent-Length: 0",
    );
    for _ in 0..300 {
        core.handle_input(now(), udp_from("127.0.0.9:5070"), scan.as_bytes());
        while core.poll_transmit().is_some() {}
    }
    assert!(bans(&mut core).is_empty());
}
