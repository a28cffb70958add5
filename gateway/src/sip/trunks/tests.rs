//! Qualify and registration on a fake clock, against a scripted carrier.
#![allow(clippy::unwrap_used)]

use shared::sip::digest::{self, Algorithm, Challenge, Credentials};

use shared::api::SipTransport;

use super::*;

const CARRIER: &str = "127.0.0.1:5099";

fn route(qualify: Option<u64>, register: Option<u32>) -> Route {
    Route {
        id: CarrierId(7),
        name: "Trunk".to_owned(),
        addr: CARRIER.parse().unwrap(),
        transport: SipTransport::Udp,
        host: "carrier.test".to_owned(),
        username: Some("trunkuser".to_owned()),
        secret: Some("s3cret".to_owned()),
        from_user: None,
        from_domain: None,
        caller_id: None,
        codecs: vec!["PCMU".to_owned()],
        number_format: shared::api::NumberFormat::E164,
        tech_prefix: String::new(),
        inbound: crate::sip::dids::InboundPolicy {
            sources: Vec::new(),
            number_from: Default::default(),
        },
        priority: 1,
        weight: 1,
        max_channels: None,
        qualify: qualify.map(Duration::from_secs),
        register,
        realm: None,
        tls_ca: None,
        srtp_required: false,
    }
}

/// A monitor on simulated time.
struct Harness {
    monitor: TrunkMonitor,
    origin: Instant,
    elapsed: Duration,
}

impl Harness {
    fn new() -> Self {
        Harness {
            monitor: TrunkMonitor::new(
                TrunkConfig {
                    local: crate::sip::Local {
                        tcp_port: 5071,
                        ..crate::sip::Local::new("192.0.2.1".parse().unwrap(), 5070)
                    },
                    timers: Timers::default(),
                },
                [3; 32],
            ),
            // The only clock read: the origin of simulated time.
            origin: Instant::now(),
            elapsed: Duration::ZERO,
        }
    }

    fn now(&self) -> Now {
        let ms = i64::try_from(self.elapsed.as_millis()).unwrap();
        Now {
            instant: self.origin + self.elapsed,
            unix: 1_700_000_000 + ms / 1000,
            unix_ms: 1_700_000_000_000 + ms,
        }
    }

    fn set(&mut self, routes: &[Route]) {
        let now = self.now();
        self.monitor.set_routes(now, routes);
    }

    /// Moves time to `secs` after the origin, firing every timer due on
    /// the way, in order.
    fn run_until(&mut self, secs: f64) {
        let end = Duration::from_secs_f64(secs);
        while let Some(at) = self.monitor.poll_timeout() {
            let at = at.saturating_duration_since(self.origin);
            if at > end {
                break;
            }
            self.elapsed = self.elapsed.max(at);
            let now = self.now();
            self.monitor.handle_timeout(now);
        }
        self.elapsed = end;
    }

    /// Everything sent since last asked, as text; all to the carrier.
    fn sent(&mut self) -> Vec<String> {
        self.monitor
            .drain_transmits()
            .map(|t| {
                assert_eq!(t.to, Destination::Udp(CARRIER.parse().unwrap()));
                String::from_utf8(t.bytes).unwrap()
            })
            .collect()
    }

    fn sent_one(&mut self) -> String {
        let mut sent = self.sent();
        assert_eq!(sent.len(), 1, "{sent:#?}");
        sent.remove(0)
    }

    fn answer(&mut self, request: &str, code: u16, extra: &str) -> bool {
        let response = response_to(request, code, extra);
        let now = self.now();
        self.monitor.handle_response(now, &response)
    }

    fn statuses(&mut self) -> Vec<TrunkStatus> {
        self.monitor
            .drain_events()
            .map(|TrunkEvent::Status(s)| s)
            .collect()
    }

    fn qualify(&self) -> QualifyStatus {
        self.monitor.status(CarrierId(7)).unwrap().qualify.unwrap()
    }

    fn registration(&self) -> RegistrationStatus {
        self.monitor
            .status(CarrierId(7))
            .unwrap()
            .registration
            .unwrap()
    }
}

fn header<'a>(message: &'a str, name: &str) -> Option<&'a str> {
    message.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// The carrier's response: the request's Via, From, To (with a tag),
/// Call-ID and CSeq.
fn response_to(request: &str, code: u16, extra: &str) -> rsip::Response {
    let mut text = format!("SIP/2.0 {code} Whatever\r\n");
    for name in ["Via", "From", "Call-ID", "CSeq"] {
        text.push_str(&format!("{name}: {}\r\n", header(request, name).unwrap()));
    }
    text.push_str(&format!(
        "To: {};tag=carrier\r\n",
        header(request, "To").unwrap()
    ));
    text.push_str(extra);
    text.push_str("Content-Length: 0\r\n\r\n");
    rsip::Response::try_from(text.as_str()).unwrap()
}

fn cseq(request: &str) -> u32 {
    header(request, "CSeq")
        .and_then(|c| c.split_whitespace().next())
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn options_go_out_every_interval_and_an_answer_brings_the_carrier_up() {
    let mut h = Harness::new();
    h.set(&[route(Some(10), None)]);
    let first = h.sent_one();
    assert!(
        first.starts_with("OPTIONS sip:carrier.test:5099 SIP/2.0\r\n"),
        "{first}"
    );
    let via = header(&first, "Via").unwrap();
    assert!(
        via.starts_with("SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bK"),
        "{via}"
    );
    assert!(via.ends_with(";rport"), "{via}");
    assert_eq!(header(&first, "Max-Forwards"), Some("70"));
    assert!(header(&first, "From").unwrap().contains(";tag="), "{first}");
    assert_eq!(header(&first, "To"), Some("<sip:carrier.test:5099>"));
    assert_eq!(header(&first, "CSeq"), Some("1 OPTIONS"));
    assert_eq!(h.qualify().state, QualifyState::Unknown);
    assert_eq!(h.statuses().len(), 1, "the first status: unknown");

    h.run_until(0.04);
    assert!(h.answer(&first, 200, ""));
    let q = h.qualify();
    assert_eq!(q.state, QualifyState::Up);
    assert_eq!(q.rtt_ms, Some(40));
    assert_eq!(q.last_change_ms, Some(1_700_000_000_040));
    assert!(h.monitor.is_up(CarrierId(7)));
    assert_eq!(h.statuses().len(), 1);

    // The next one, an interval after the first, a new Call-ID, the next CSeq.
    assert_eq!(
        h.monitor.poll_timeout(),
        Some(h.origin + Duration::from_secs(10))
    );
    h.run_until(9.9);
    assert!(h.sent().is_empty());
    h.run_until(10.0);
    let second = h.sent_one();
    assert_eq!(cseq(&second), 2);
    let call_ids = [&first, &second].map(|r| header(r, "Call-ID").unwrap());
    assert_ne!(call_ids[0], call_ids[1], "a Call-ID per OPTIONS");
    assert_eq!(call_ids[0].split('-').next(), call_ids[1].split('-').next());
    assert_ne!(header(&second, "Via"), header(&first, "Via"));
}

#[test]
fn one_lost_options_is_not_down_two_are_and_two_answers_bring_it_back() {
    let mut h = Harness::new();
    h.set(&[route(Some(10), None)]);
    let first = h.sent_one();
    h.answer(&first, 200, "");
    assert_eq!(h.qualify().state, QualifyState::Up);

    // Lost at 10 s: retransmitted over UDP (timer E), then a miss at 15 s.
    h.run_until(10.0);
    let lost = h.sent_one();
    h.run_until(14.9);
    let resent = h.sent();
    assert!(resent.len() >= 3, "timer E retransmits: {resent:#?}");
    assert!(resent.iter().all(|r| *r == lost));
    h.run_until(15.0);
    assert_eq!(h.qualify().state, QualifyState::Up, "one miss is not down");
    assert!(h.monitor.is_up(CarrierId(7)));
    let error = h.qualify().last_error.unwrap();
    assert!(error.contains("no answer"), "{error}");

    // A late answer to the abandoned probe is ours, but counts for nothing.
    assert!(h.answer(&lost, 200, ""));
    assert_eq!(h.qualify().state, QualifyState::Up);

    h.run_until(25.0);
    let q = h.qualify();
    assert_eq!(q.state, QualifyState::Down, "two misses in a row");
    assert_eq!(q.last_change_ms, Some(1_700_000_025_000));
    assert!(!h.monitor.is_up(CarrierId(7)));
    let down: Vec<TrunkStatus> = h.statuses();
    assert!(
        down.iter()
            .any(|s| s.qualify.as_ref().unwrap().state == QualifyState::Down),
        "{down:?}"
    );

    // Still probed while down; one answer is not enough.
    h.sent();
    h.run_until(30.0);
    let probe = h.sent_one();
    h.answer(&probe, 200, "");
    assert_eq!(h.qualify().state, QualifyState::Down);
    assert!(!h.monitor.is_up(CarrierId(7)));
    h.run_until(40.0);
    let probe = h.sent_one();
    h.answer(&probe, 200, "");
    assert_eq!(h.qualify().state, QualifyState::Up);
    assert!(h.monitor.is_up(CarrierId(7)));
}

#[test]
fn probes_sent_a_little_late_still_count_as_misses() {
    // The shell wakes a millisecond after each deadline it was given,
    // so each probe's own deadline lands after the next probe is due.
    let mut h = Harness::new();
    h.set(&[route(Some(1), None)]);
    let first = h.sent_one();
    h.answer(&first, 200, "");
    for _ in 0..3 {
        let at = h.monitor.poll_timeout().unwrap() + Duration::from_millis(1);
        h.elapsed = at.saturating_duration_since(h.origin);
        let now = h.now();
        h.monitor.handle_timeout(now);
    }
    h.sent();
    assert_eq!(h.qualify().state, QualifyState::Up);
    h.run_until(2.6);
    assert_eq!(h.qualify().state, QualifyState::Up, "one miss");
    h.run_until(3.1);
    assert_eq!(h.qualify().state, QualifyState::Down, "two misses");
}

#[test]
fn any_answer_even_404_or_503_means_alive() {
    for code in [404, 405, 503] {
        let mut h = Harness::new();
        h.set(&[route(Some(10), None)]);
        let first = h.sent_one();
        assert!(h.answer(&first, code, ""));
        assert_eq!(h.qualify().state, QualifyState::Up, "{code}");
    }
}

#[test]
fn a_silent_carrier_goes_from_unknown_to_down() {
    let mut h = Harness::new();
    h.set(&[route(Some(2), None)]);
    h.run_until(2.0);
    assert_eq!(h.qualify().state, QualifyState::Unknown);
    assert!(h.monitor.is_up(CarrierId(7)), "unknown is usable");
    h.run_until(4.0);
    assert_eq!(h.qualify().state, QualifyState::Down);
    assert!(!h.monitor.is_up(CarrierId(7)));
}

#[test]
fn responses_of_others_are_left_alone() {
    let mut h = Harness::new();
    h.set(&[route(Some(10), Some(60))]);
    let sent = h.sent();
    let stranger = sent[0]
        .replace(header(&sent[0], "Call-ID").unwrap(), "someone-else")
        .replace(header(&sent[1], "Call-ID").unwrap(), "someone-else");
    assert!(!h.answer(&stranger, 200, ""));
}

fn challenge(algorithm: Algorithm, nonce: &str) -> String {
    let challenge = Challenge {
        realm: "carrier.test".to_owned(),
        nonce: nonce.to_owned(),
        opaque: None,
        algorithm,
        qop: vec!["auth".to_owned()],
        stale: false,
    };
    format!("WWW-Authenticate: {}\r\n", challenge.to_header_value())
}

fn verify(request: &str) -> Credentials {
    let creds = Credentials::parse(header(request, "Authorization").unwrap()).unwrap();
    let ha1 = digest::ha1(creds.algorithm, "trunkuser", "carrier.test", "s3cret");
    assert!(digest::verify(&creds, "REGISTER", &ha1), "{request}");
    assert_eq!(creds.uri, "sip:carrier.test");
    creds
}

/// 401 with `challenges` → REGISTER with digest → 200 for 60 s →
/// refresh at 30 s.
fn register_with(challenges: &str, expected: Algorithm) {
    let mut h = Harness::new();
    h.set(&[route(None, Some(60))]);
    assert_eq!(h.registration().state, TrunkRegistrationState::Registering);
    let first = h.sent_one();
    assert!(
        first.starts_with("REGISTER sip:carrier.test SIP/2.0\r\n"),
        "{first}"
    );
    assert_eq!(header(&first, "To"), Some("<sip:trunkuser@carrier.test>"));
    assert_eq!(
        header(&first, "Contact"),
        Some("<sip:trunkuser@192.0.2.1:5070>;expires=60")
    );
    assert!(header(&first, "Authorization").is_none());

    assert!(h.answer(&first, 401, challenges));
    let second = h.sent_one();
    assert_eq!(cseq(&second), cseq(&first) + 1);
    assert_eq!(verify(&second).algorithm, expected);

    h.run_until(0.1);
    assert!(h.answer(
        &second,
        200,
        "Contact: <sip:trunkuser@192.0.2.1:5070>;expires=60\r\n"
    ));
    let r = h.registration();
    assert_eq!(r.state, TrunkRegistrationState::Registered);
    assert_eq!(r.expires_at_ms, Some(1_700_000_000_100 + 60_000));
    let shown = h.statuses();
    assert!(
        shown
            .iter()
            .any(|s| s.registration.as_ref().unwrap().state == TrunkRegistrationState::Registered)
    );

    // Refreshed at half the granted expiry, answering the kept challenge.
    h.run_until(30.0);
    assert!(h.sent().is_empty());
    h.run_until(30.1);
    let refresh = h.sent_one();
    assert_eq!(header(&refresh, "Call-ID"), header(&first, "Call-ID"));
    assert_eq!(verify(&refresh).nc, Some(2));
    assert!(h.answer(&refresh, 200, "Expires: 60\r\n"));
    let r = h.registration();
    assert_eq!(r.state, TrunkRegistrationState::Registered);
    assert_eq!(r.expires_at_ms, Some(1_700_000_030_100 + 60_000));
}

#[test]
fn register_answers_a_sha256_challenge_and_refreshes_at_half_expiry() {
    let both = format!(
        "{}{}",
        challenge(Algorithm::Sha256, "n-sha"),
        challenge(Algorithm::Md5, "n-md5")
    );
    register_with(&both, Algorithm::Sha256);
}

#[test]
fn register_answers_an_md5_challenge_and_refreshes_at_half_expiry() {
    register_with(&challenge(Algorithm::Md5, "n-md5"), Algorithm::Md5);
}

#[test]
fn register_is_retransmitted_over_udp() {
    let mut h = Harness::new();
    h.set(&[route(None, Some(60))]);
    let first = h.sent_one();
    h.run_until(0.5);
    assert_eq!(h.sent(), vec![first.clone()], "timer E at T1");
    h.run_until(1.5);
    assert_eq!(h.sent(), vec![first], "then 2·T1");
}

#[test]
fn a_failed_registration_is_retried_with_backoff() {
    let mut h = Harness::new();
    h.set(&[route(None, Some(60))]);
    let first = h.sent_one();
    h.answer(&first, 403, "");
    let r = h.registration();
    assert_eq!(r.state, TrunkRegistrationState::Failed);
    assert_eq!(r.last_error.as_deref(), Some("403 Forbidden"));
    h.run_until(29.9);
    assert!(h.sent().is_empty());
    h.run_until(30.0);
    let again = h.sent_one();
    assert_eq!(h.registration().state, TrunkRegistrationState::Registering);
    h.answer(&again, 503, "");
    h.run_until(89.9);
    assert!(h.sent().is_empty(), "60 s after the second failure");
    h.run_until(90.0);
    h.sent_one();
    // Silence fails too (the registration's timer F, 32 s).
    h.run_until(90.0 + 31.9);
    assert_eq!(
        h.sent().len(),
        10,
        "timer E: 0.5, 1.5, 3.5 s, then every 4 s"
    );
    h.run_until(90.0 + 32.0);
    let r = h.registration();
    assert_eq!(r.state, TrunkRegistrationState::Failed);
    assert!(r.last_error.unwrap().starts_with("408 "));
    assert_eq!(retry_delay(3), Duration::from_secs(120));
    assert_eq!(retry_delay(6), RETRY_MAX);
    assert_eq!(retry_delay(100), RETRY_MAX);
}

#[test]
fn registration_without_credentials_is_off_and_sends_nothing() {
    let mut h = Harness::new();
    let mut r = route(None, Some(60));
    r.secret = None;
    h.set(&[r]);
    assert!(h.sent().is_empty());
    let status = h.registration();
    assert_eq!(status.state, TrunkRegistrationState::Off);
    assert!(status.last_error.unwrap().contains("username and a secret"));
    assert_eq!(h.monitor.poll_timeout(), None);
}

#[test]
fn routes_that_stay_keep_their_state_and_removed_ones_stop() {
    let mut h = Harness::new();
    h.set(&[route(Some(10), Some(60))]);
    let sent = h.sent();
    assert_eq!(sent.len(), 2);
    let options = sent.iter().find(|s| s.starts_with("OPTIONS")).unwrap();
    h.answer(options, 200, "");
    assert_eq!(h.qualify().state, QualifyState::Up);

    // A new priority and a new interval: same machines, same state.
    let mut changed = route(Some(20), Some(60));
    changed.priority = 5;
    h.set(&[changed.clone()]);
    assert!(h.sent().is_empty(), "nothing restarted");
    assert_eq!(h.qualify().state, QualifyState::Up);
    assert_eq!(h.registration().state, TrunkRegistrationState::Registering);

    // New credentials: registration starts over.
    changed.secret = Some("n3w".to_owned());
    h.set(&[changed]);
    let sent = h.sent_one();
    assert!(sent.starts_with("REGISTER"), "{sent}");
    h.statuses();

    // Removed: both machines stop, and the shell hears it.
    h.set(&[]);
    assert_eq!(h.monitor.poll_timeout(), None);
    assert!(h.sent().is_empty());
    assert_eq!(
        h.statuses(),
        vec![TrunkStatus {
            carrier_id: CarrierId(7),
            qualify: None,
            registration: None,
            dns: None,
        }]
    );
    assert!(h.monitor.status(CarrierId(7)).is_none());
    assert!(h.monitor.is_up(CarrierId(7)));
    h.run_until(100.0);
    assert!(h.sent().is_empty());
}

#[test]
fn a_registered_carrier_that_is_removed_withdraws_its_binding() {
    let mut h = Harness::new();
    h.set(&[route(None, Some(60))]);
    let first = h.sent_one();
    assert!(h.answer(&first, 401, &challenge(Algorithm::Md5, "n1")));
    let second = h.sent_one();
    assert!(h.answer(&second, 200, "Expires: 60\r\n"));
    assert_eq!(h.registration().state, TrunkRegistrationState::Registered);

    // Removed: an un-REGISTER, answered with the kept challenge.
    h.set(&[]);
    let bye = h.sent_one();
    assert!(
        bye.starts_with("REGISTER sip:carrier.test SIP/2.0\r\n"),
        "{bye}"
    );
    assert_eq!(header(&bye, "Call-ID"), header(&first, "Call-ID"));
    assert!(
        header(&bye, "Expires") == Some("0")
            || header(&bye, "Contact").is_some_and(|c| c.ends_with("expires=0")),
        "{bye}"
    );
    verify(&bye);
    // Retransmitted over UDP until answered, then forgotten.
    h.run_until(0.6);
    assert_eq!(h.sent_one(), bye);
    assert!(h.answer(&bye, 200, ""));
    assert_eq!(h.monitor.poll_timeout(), None);
    h.run_until(100.0);
    assert!(h.sent().is_empty());

    // A registration still on its way is only dropped.
    h.set(&[route(None, Some(60))]);
    h.sent_one();
    h.set(&[]);
    assert!(h.sent().is_empty());
}

#[test]
fn a_withdrawal_the_carrier_never_answers_ends_after_timer_f() {
    let mut h = Harness::new();
    h.set(&[route(None, Some(60))]);
    let first = h.sent_one();
    assert!(h.answer(&first, 200, "Expires: 60\r\n"));
    h.set(&[route(None, None)]);
    assert!(h.sent_one().starts_with("REGISTER"));
    h.run_until(40.0);
    h.sent();
    assert!(h.monitor.leaving.is_empty(), "given up after timer F");
    h.run_until(1000.0);
    assert!(h.sent().is_empty());
}

#[test]
fn tcp_carriers_get_tcp_via_and_no_retransmissions() {
    let mut h = Harness::new();
    let mut r = route(Some(10), Some(60));
    r.transport = SipTransport::Tcp;
    h.set(&[r]);
    let sent: Vec<Transmit> = h.monitor.drain_transmits().collect();
    assert_eq!(sent.len(), 2);
    for t in &sent {
        assert_eq!(t.to, Destination::Tcp(CARRIER.parse().unwrap()));
        let text = String::from_utf8(t.bytes.clone()).unwrap();
        assert!(
            header(&text, "Via")
                .unwrap()
                .starts_with("SIP/2.0/TCP 192.0.2.1:5071;"),
            "{text}"
        );
        assert!(
            header(&text, "Contact")
                .unwrap()
                .contains(";transport=tcp>"),
            "{text}"
        );
    }
    h.run_until(4.0);
    assert!(h.monitor.drain_transmits().next().is_none());
    // The connection cannot be made: a miss, and a failed registration.
    let now = h.now();
    h.monitor
        .transport_failed(now, Destination::Tcp(CARRIER.parse().unwrap()), "refused");
    assert_eq!(
        h.qualify().last_error.as_deref(),
        Some("cannot reach the carrier: refused")
    );
    assert_eq!(h.registration().state, TrunkRegistrationState::Failed);
}
