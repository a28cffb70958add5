//! The user agent on simulated time, against a scripted registrar.

use std::time::Duration;

use shared::sip::digest::{Algorithm, Challenge};
use shared::sip::register::RegistrationConfig;
use web_time::Instant;

use super::*;

fn config() -> RegistrationConfig {
    RegistrationConfig {
        aor: "sip:demo@gw.test".to_owned(),
        display_name: "Demo Agent".to_owned(),
        username: "demo".to_owned(),
        password: "pw".to_owned(),
        instance_id: "urn:uuid:00000000-0000-4000-8000-000000000001".to_owned(),
        contact_user: "c0ntact".to_owned(),
        via_host: "v1a.invalid".to_owned(),
        ..RegistrationConfig::default()
    }
}

struct Tab {
    ua: Ua,
    now: Instant,
}

impl Tab {
    /// `jitter` is what every draw of the random source returns; 1/2 of the
    /// range gives the nominal backoff delays.
    fn new(jitter: u64) -> Tab {
        Tab {
            ua: Ua::new(config(), move || jitter).unwrap(),
            now: Instant::now(),
        }
    }

    fn commands(&mut self) -> Vec<Command> {
        std::iter::from_fn(|| self.ua.poll_command()).collect()
    }

    fn events(&mut self) -> Vec<UaEvent> {
        std::iter::from_fn(|| self.ua.poll_event()).collect()
    }

    /// The one frame sent just now.
    fn sent(&mut self) -> String {
        match self.commands().as_slice() {
            [Command::Send(text)] => text.clone(),
            other => panic!("expected one frame, got {other:?}"),
        }
    }

    fn advance_to_timeout(&mut self) -> Duration {
        let at = self.ua.poll_timeout().unwrap();
        let waited = at.saturating_duration_since(self.now);
        self.now = self.now.max(at);
        self.ua.handle_timeout(self.now);
        waited
    }

    fn receive(&mut self, text: &str) {
        self.ua.handle_frame(self.now, text);
    }

    /// Connected and registered, with all output consumed.
    fn registered() -> Tab {
        let mut tab = Tab::new(u64::MAX / 2);
        tab.ua.start(tab.now);
        assert_eq!(tab.commands(), [Command::Connect]);
        tab.ua.handle_open(tab.now);
        let register = tab.sent();
        tab.receive(&reply(&register, "401 Unauthorized", &[challenge()]));
        let answered = tab.sent();
        assert!(
            answered.contains("\r\nAuthorization: Digest "),
            "{answered}"
        );
        tab.receive(&reply(&answered, "200 OK", &[]));
        assert_eq!(
            tab.events(),
            [
                UaEvent::Status(PhoneStatus::Connecting),
                UaEvent::Status(PhoneStatus::Registered)
            ]
        );
        tab
    }
}

fn header<'a>(message: &'a str, name: &str) -> &'a str {
    message
        .lines()
        .find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim())
        })
        .unwrap_or_else(|| panic!("no {name} in {message}"))
}

/// The registrar's answer to `request`, status line `status`.
fn reply(request: &str, status: &str, extra: &[String]) -> String {
    let mut text = format!("SIP/2.0 {status}\r\n");
    for name in ["Via", "From", "Call-ID", "CSeq"] {
        text.push_str(&format!("{name}: {}\r\n", header(request, name)));
    }
    text.push_str(&format!("To: {};tag=gw1\r\n", header(request, "To")));
    for line in extra {
        text.push_str(line);
        text.push_str("\r\n");
    }
    text.push_str("Content-Length: 0\r\n\r\n");
    text
}

fn challenge() -> String {
    let c = Challenge {
        realm: "gw.test".to_owned(),
        nonce: "abc".to_owned(),
        opaque: None,
        algorithm: Algorithm::Md5,
        qop: vec!["auth".to_owned()],
        stale: false,
    };
    format!("WWW-Authenticate: {}", c.to_header_value())
}

#[test]
fn registers_over_a_new_websocket() {
    let mut tab = Tab::registered();
    assert_eq!(
        tab.ua.poll_timeout(),
        Some(tab.now + Duration::from_secs(300))
    );
    tab.advance_to_timeout();
    let refresh = tab.sent();
    assert!(refresh.starts_with("REGISTER sip:gw.test SIP/2.0\r\n"));
    assert_eq!(header(&refresh, "CSeq"), "3 REGISTER");
    tab.receive(&reply(&refresh, "200 OK", &[]));
    assert!(
        tab.events().is_empty(),
        "still registered: nothing new to show"
    );
}

#[test]
fn reconnects_with_backoff_and_registers_again() {
    let mut tab = Tab::registered();
    tab.ua.handle_closed(tab.now);
    let events = tab.events();
    let [UaEvent::Status(PhoneStatus::Reconnecting { at })] = events.as_slice() else {
        panic!("{events:?}");
    };
    let first_wait = at.saturating_duration_since(tab.now);
    assert!(
        (first_wait.as_secs_f64() - 1.0).abs() < 0.01,
        "{first_wait:?}"
    );
    assert!(
        tab.commands().is_empty(),
        "the shell already dropped the socket"
    );

    // The next attempts fail too: the wait doubles.
    let mut waits = vec![];
    for _ in 0..6 {
        waits.push(tab.advance_to_timeout().as_secs_f64().round() as u64);
        assert_eq!(tab.commands(), [Command::Connect]);
        tab.ua.handle_closed(tab.now);
    }
    assert_eq!(waits, [1, 2, 4, 8, 16, 30]);
    tab.events();

    // This one works: REGISTER again, same Call-ID, and the backoff resets.
    tab.advance_to_timeout();
    assert_eq!(tab.commands(), [Command::Connect]);
    tab.ua.handle_open(tab.now);
    let register = tab.sent();
    assert_eq!(header(&register, "CSeq"), "3 REGISTER");
    assert!(
        register.contains("\r\nAuthorization: Digest "),
        "cached answer"
    );
    tab.receive(&reply(&register, "200 OK", &[]));
    assert_eq!(
        tab.events(),
        [
            UaEvent::Status(PhoneStatus::Connecting),
            UaEvent::Status(PhoneStatus::Registered)
        ]
    );
    tab.ua.handle_closed(tab.now);
    tab.events();
    assert_eq!(tab.advance_to_timeout().as_secs_f64().round() as u64, 1);
}

#[test]
fn a_socket_that_never_opens_is_given_up_after_10_s() {
    let mut tab = Tab::new(u64::MAX / 2);
    tab.ua.start(tab.now);
    assert_eq!(tab.commands(), [Command::Connect]);
    assert_eq!(tab.advance_to_timeout(), CONNECT_TIMEOUT);
    assert_eq!(tab.commands(), [Command::Close]);
    assert!(matches!(
        tab.events().as_slice(),
        [
            UaEvent::Status(PhoneStatus::Connecting),
            UaEvent::Status(PhoneStatus::Reconnecting { .. })
        ]
    ));
    // A late open of the abandoned socket changes nothing.
    tab.ua.handle_open(tab.now);
    assert!(tab.commands().is_empty());
}

#[test]
fn refusal_stops_until_retry() {
    let mut tab = Tab::new(u64::MAX / 2);
    tab.ua.start(tab.now);
    tab.commands();
    tab.ua.handle_open(tab.now);
    let register = tab.sent();
    tab.receive(&reply(
        &register,
        "403 Forbidden (SIP credential expired: sign in again)",
        &[],
    ));
    assert_eq!(tab.commands(), [Command::Close]);
    let failed = PhoneStatus::Failed {
        reason: "Forbidden (SIP credential expired: sign in again)".to_owned(),
    };
    assert_eq!(tab.events().last(), Some(&UaEvent::Status(failed.clone())));
    assert_eq!(tab.ua.poll_timeout(), None, "no automatic retry");
    assert_eq!(
        failed.label(tab.now),
        "Registration failed: Forbidden (SIP credential expired: sign in again)"
    );

    tab.ua.retry(tab.now);
    assert_eq!(tab.commands(), [Command::Connect]);
    assert_eq!(tab.events(), [UaEvent::Status(PhoneStatus::Connecting)]);
}

#[test]
fn an_unanswered_register_means_a_new_connection() {
    let mut tab = Tab::new(u64::MAX / 2);
    tab.ua.start(tab.now);
    tab.commands();
    tab.ua.handle_open(tab.now);
    tab.sent();
    assert_eq!(tab.advance_to_timeout(), Duration::from_secs(32));
    assert_eq!(tab.commands(), [Command::Close]);
    assert!(matches!(
        tab.events().last(),
        Some(UaEvent::Status(PhoneStatus::Reconnecting { .. }))
    ));
}

#[test]
fn sign_out_unregisters_then_closes() {
    let mut tab = Tab::registered();
    tab.ua.sign_out(tab.now);
    let unregister = tab.sent();
    assert_eq!(header(&unregister, "Expires"), "0");
    assert!(tab.events().is_empty(), "waiting for the answer");
    tab.now += Duration::from_millis(300);
    tab.receive(&reply(&unregister, "200 OK", &[]));
    assert_eq!(tab.commands(), [Command::Close]);
    assert_eq!(
        tab.events(),
        [UaEvent::Status(PhoneStatus::SignedOut), UaEvent::SignedOut]
    );
    assert_eq!(tab.ua.poll_timeout(), None);
    tab.ua.handle_closed(tab.now);
    tab.ua.start(tab.now);
    assert!(tab.commands().is_empty(), "signed out for good");
}

#[test]
fn sign_out_waits_two_seconds_at_most() {
    let mut tab = Tab::registered();
    tab.ua.sign_out(tab.now);
    tab.sent();
    assert_eq!(tab.advance_to_timeout(), SIGN_OUT_WAIT);
    assert_eq!(tab.commands(), [Command::Close]);
    assert_eq!(
        tab.events(),
        [UaEvent::Status(PhoneStatus::SignedOut), UaEvent::SignedOut]
    );
}

#[test]
fn sign_out_while_disconnected_is_immediate() {
    let mut tab = Tab::registered();
    tab.ua.handle_closed(tab.now);
    tab.events();
    tab.ua.sign_out(tab.now);
    assert!(tab.commands().is_empty());
    assert_eq!(
        tab.events(),
        [UaEvent::Status(PhoneStatus::SignedOut), UaEvent::SignedOut]
    );
    assert_eq!(tab.ua.poll_timeout(), None, "no reconnect after sign-out");
}

#[test]
fn options_from_the_gateway_is_answered() {
    let mut tab = Tab::registered();
    tab.receive(
        "OPTIONS sip:c0ntact@v1a.invalid;transport=ws SIP/2.0\r\n\
         Via: SIP/2.0/WSS gw.test;branch=z9hG4bKping\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:gw.test>;tag=g1\r\n\
         To: <sip:c0ntact@v1a.invalid>\r\n\
         Call-ID: ping-1\r\n\
         CSeq: 9 OPTIONS\r\n\
         Content-Length: 0\r\n\r\n",
    );
    let answer = tab.sent();
    assert!(answer.starts_with("SIP/2.0 200 OK\r\n"), "{answer}");
    assert_eq!(header(&answer, "Call-ID"), "ping-1");
    assert!(header(&answer, "To").contains(";tag="), "{answer}");
}

#[test]
fn labels_count_whole_seconds_down() {
    let now = Instant::now();
    let status = PhoneStatus::Reconnecting {
        at: now + Duration::from_millis(4200),
    };
    assert_eq!(status.label(now), "Reconnecting in 5 s…");
    assert_eq!(
        status.label(now + Duration::from_millis(4100)),
        "Reconnecting in 1 s…"
    );
    assert_eq!(
        status.label(now + Duration::from_secs(9)),
        "Reconnecting in 1 s…"
    );
    assert_eq!(status.data_state(), "reconnecting");
    assert_eq!(PhoneStatus::Connecting.label(now), "Connecting…");
    assert_eq!(PhoneStatus::Registered.label(now), "Registered");
    assert_eq!(PhoneStatus::SignedOut.label(now), "Signed out");
    assert_eq!(PhoneStatus::SignedOut.data_state(), "unregistered");
}
