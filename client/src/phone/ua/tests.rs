//! The user agent on simulated time, against a scripted registrar.

use std::time::Duration;

use shared::sip::call::{CallEvent, CallRequest, EndCause, Presenting};
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

    /// Draws from a counter shared by every clone of the source, as the
    /// browser's CSPRNG is: the registration and each call get different
    /// Call-IDs and tags.
    fn counting() -> Tab {
        let counter = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(1));
        let rng = move || {
            counter
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                .wrapping_mul(0x9e37_79b9_7f4a_7c15)
        };
        Tab {
            ua: Ua::new(config(), rng).unwrap(),
            now: Instant::now(),
        }
    }

    /// Connected and registered, with all output consumed.
    fn registered() -> Tab {
        Tab::registered_from(Tab::new(u64::MAX / 2))
    }

    fn registered_from(mut tab: Tab) -> Tab {
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

const OFFER: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=sendrecv\r\n";

fn call_request() -> CallRequest {
    CallRequest {
        target: "+14155552671".parse().unwrap(),
        presenting: Presenting::Automatic,
        offer: OFFER.to_owned(),
    }
}

/// Registered, then dialled: returns the INVITE.
fn dialled() -> (Tab, String) {
    let mut tab = Tab::registered_from(Tab::counting());
    tab.ua.place_call(tab.now, call_request()).unwrap();
    let invite = tab.sent();
    (tab, invite)
}

/// The gateway's answer to `invite`, with a Contact and maybe an SDP body.
fn answer(invite: &str, status: &str, sdp: Option<&str>) -> String {
    let mut text = format!("SIP/2.0 {status}\r\n");
    for name in ["Via", "From", "Call-ID", "CSeq"] {
        text.push_str(&format!("{name}: {}\r\n", header(invite, name)));
    }
    text.push_str(&format!("To: {};tag=gw1\r\n", header(invite, "To")));
    text.push_str("Contact: <sip:b2bua@gw.test;transport=ws>\r\n");
    match sdp {
        Some(sdp) => text.push_str(&format!(
            "Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
            sdp.len()
        )),
        None => text.push_str("Content-Length: 0\r\n\r\n"),
    }
    text
}

#[test]
fn automatic_caller_id_sends_no_preferred_identity_and_a_picked_one_is_sent() {
    // "Automatic" in the picker: the gateway chooses (local presence first).
    let (_, invite) = dialled();
    assert!(
        !invite.to_ascii_lowercase().contains("p-preferred-identity"),
        "{invite}"
    );
    let mut tab = Tab::registered_from(Tab::counting());
    let picked = CallRequest {
        presenting: Presenting::Number("+12125550100".parse().unwrap()),
        ..call_request()
    };
    tab.ua.place_call(tab.now, picked).unwrap();
    let invite = tab.sent();
    assert!(
        header(&invite, "P-Preferred-Identity").contains("+12125550100"),
        "{invite}"
    );
}

#[test]
fn a_call_uses_the_registration_contact_and_gets_its_own_responses() {
    let (mut tab, invite) = dialled();
    assert!(invite.starts_with("INVITE sip:+14155552671@gw.test;user=phone SIP/2.0\r\n"));
    assert_eq!(
        header(&invite, "Contact"),
        "<sip:c0ntact@v1a.invalid;transport=ws>;+sip.instance=\"<urn:uuid:00000000-0000-4000-8000-000000000001>\""
    );
    assert!(header(&invite, "From").starts_with("\"Demo Agent\" <sip:demo@gw.test>;tag="));
    assert!(tab.ua.in_call());
    assert_eq!(
        tab.ua.place_call(tab.now, call_request()),
        Err(PlaceError::Busy)
    );

    tab.receive(&answer(&invite, "180 Ringing", None));
    tab.receive(&answer(&invite, "200 OK", Some(OFFER)));
    let ack = tab.sent();
    assert!(ack.starts_with("ACK sip:b2bua@gw.test"), "{ack}");
    assert_eq!(
        tab.events(),
        [
            UaEvent::Call(CallEvent::Ringing),
            UaEvent::Call(CallEvent::RemoteAnswer {
                sdp: OFFER.to_owned(),
                early: false
            }),
            UaEvent::Call(CallEvent::Answered),
        ]
    );

    // The registration still gets its own answers: a refresh goes on.
    tab.now += Duration::from_secs(300);
    tab.ua.handle_timeout(tab.now);
    let refresh = tab.sent();
    assert!(refresh.starts_with("REGISTER "));
    tab.receive(&reply(&refresh, "200 OK", &[]));
    assert!(tab.events().is_empty());
    assert!(tab.ua.in_call());

    // The gateway hangs up.
    let to = header(&invite, "To");
    let from = header(&invite, "From");
    let call_id = header(&invite, "Call-ID");
    tab.receive(&format!(
        "BYE sip:c0ntact@v1a.invalid;transport=ws SIP/2.0\r\n\
         Via: SIP/2.0/WSS gw.test;branch=z9hG4bKbye1\r\n\
         Max-Forwards: 70\r\n\
         From: {to};tag=gw1\r\n\
         To: {from}\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: 1 BYE\r\n\
         Content-Length: 0\r\n\r\n"
    ));
    assert!(tab.sent().starts_with("SIP/2.0 200 OK\r\n"));
    assert_eq!(
        tab.events(),
        [UaEvent::Call(CallEvent::Ended(EndCause::Remote))]
    );
    assert!(!tab.ua.in_call());
    tab.ua.place_call(tab.now, call_request()).unwrap();
    let second = tab.sent();
    assert_ne!(header(&second, "Call-ID"), call_id);
}

#[test]
fn losing_the_websocket_while_ringing_ends_the_call_and_reconnects() {
    let (mut tab, invite) = dialled();
    tab.receive(&answer(&invite, "180 Ringing", None));
    tab.commands();
    tab.events();
    tab.ua.handle_closed(tab.now);
    let events = tab.events();
    assert!(
        matches!(
            events.as_slice(),
            [
                UaEvent::Status(PhoneStatus::Reconnecting { .. }),
                UaEvent::Call(CallEvent::Ended(EndCause::TransportLost))
            ]
        ),
        "{events:?}"
    );
    assert!(!tab.ua.in_call());
    assert_eq!(
        tab.ua.place_call(tab.now, call_request()),
        Err(PlaceError::NotConnected)
    );
}

/// Answered, then the WebSocket drops: the call waits.
fn waiting_call() -> (Tab, String) {
    let (mut tab, invite) = dialled();
    tab.receive(&answer(&invite, "200 OK", Some(OFFER)));
    tab.commands();
    tab.events();
    tab.ua.handle_closed(tab.now);
    let events = tab.events();
    assert!(
        matches!(
            events.as_slice(),
            [
                UaEvent::CallWaiting,
                UaEvent::Status(PhoneStatus::Reconnecting { .. })
            ]
        ),
        "{events:?}"
    );
    assert!(tab.ua.in_call() && tab.ua.call_waiting());
    (tab, invite)
}

/// The next connection opens and registers (answering a challenge if one
/// comes); returns the events after the registration.
fn reconnect(tab: &mut Tab) -> Vec<UaEvent> {
    assert!(
        tab.advance_to_timeout() <= Duration::from_millis(200),
        "at once"
    );
    assert_eq!(tab.commands(), [Command::Connect]);
    tab.ua.handle_open(tab.now);
    let mut register = tab.sent();
    if !register.contains("\r\nAuthorization: ") {
        tab.receive(&reply(&register, "401 Unauthorized", &[challenge()]));
        register = tab.sent();
    }
    tab.receive(&reply(&register, "200 OK", &[]));
    tab.events()
}

#[test]
fn an_answered_call_waits_for_the_link_and_resumes_with_an_ice_restart() {
    let (mut tab, invite) = waiting_call();
    assert_eq!(
        tab.ua.reoffer(tab.now, Reoffer::Hold, OFFER.to_owned()),
        Err(CallError::NotConnected),
        "no hold while the call waits"
    );
    let events = reconnect(&mut tab);
    assert_eq!(
        events,
        [
            UaEvent::Status(PhoneStatus::Connecting),
            UaEvent::Status(PhoneStatus::Registered),
            UaEvent::CallResume
        ]
    );
    assert!(!tab.ua.call_waiting());
    let restart = "v=0\r\na=ice-ufrag:new2\r\n";
    tab.ua.restart_call(tab.now, restart.to_owned()).unwrap();
    let reinvite = tab.sent();
    assert!(
        reinvite.starts_with("INVITE sip:b2bua@gw.test"),
        "{reinvite}"
    );
    assert_eq!(header(&reinvite, "Call-ID"), header(&invite, "Call-ID"));
    assert!(header(&reinvite, "To").ends_with(";tag=gw1"), "same dialog");
    assert!(reinvite.ends_with(restart));
    let answer_sdp = "v=0\r\na=ice-ufrag:gw2\r\n";
    tab.receive(&answer(&reinvite, "200 OK", Some(answer_sdp)));
    assert!(tab.sent().starts_with("ACK "));
    assert_eq!(
        tab.events(),
        [
            UaEvent::Call(CallEvent::RemoteAnswer {
                sdp: answer_sdp.to_owned(),
                early: false
            }),
            UaEvent::Call(CallEvent::Restarted)
        ]
    );
    assert!(tab.ua.in_call());
}

#[test]
fn a_call_the_gateway_no_longer_has_ends_when_the_restart_is_refused() {
    let (mut tab, _) = waiting_call();
    reconnect(&mut tab);
    tab.ua.restart_call(tab.now, OFFER.to_owned()).unwrap();
    let reinvite = tab.sent();
    tab.receive(&answer(
        &reinvite,
        "481 Call/Transaction Does Not Exist",
        None,
    ));
    let events = tab.events();
    assert!(
        events.iter().any(|e| matches!(
            e,
            UaEvent::Call(CallEvent::OfferRejected {
                reoffer: Reoffer::Restart,
                code: 481,
                ..
            })
        )),
        "{events:?}"
    );
    assert!(!tab.ua.in_call());
}

#[test]
fn hanging_up_while_waiting_sends_the_bye_on_the_next_link() {
    let (mut tab, invite) = waiting_call();
    tab.ua.hangup(tab.now);
    assert!(tab.commands().is_empty(), "no link: nothing goes out yet");
    let events = reconnect(&mut tab);
    assert!(!events.contains(&UaEvent::CallResume), "{events:?}");
    let bye = tab.sent();
    assert!(bye.starts_with("BYE sip:b2bua@gw.test"), "{bye}");
    assert_eq!(header(&bye, "Call-ID"), header(&invite, "Call-ID"));
}

#[test]
fn a_call_whose_link_stays_away_ends_after_the_wait() {
    let (mut tab, _) = waiting_call();
    tab.now += RESUME_WAIT;
    tab.ua.handle_timeout(tab.now);
    let events = tab.events();
    assert!(
        events.contains(&UaEvent::Call(CallEvent::Ended(EndCause::TransportLost))),
        "{events:?}"
    );
    assert!(!tab.ua.in_call() && !tab.ua.call_waiting());
}

#[test]
fn hanging_up_while_ringing_cancels_and_the_call_finishes_quietly() {
    let (mut tab, invite) = dialled();
    tab.receive(&answer(&invite, "180 Ringing", None));
    tab.events();
    tab.ua.hangup(tab.now);
    let cancel = tab.sent();
    assert!(cancel.starts_with("CANCEL "));
    assert_eq!(
        tab.events(),
        [UaEvent::Call(CallEvent::Ended(EndCause::Local))]
    );
    // A new call may start while the old one still waits for its 487.
    tab.ua.place_call(tab.now, call_request()).unwrap();
    let second = tab.sent();
    tab.receive(&answer(&invite, "487 Request Terminated", None));
    let ack = tab.sent();
    assert!(ack.starts_with("ACK sip:+14155552671@gw.test"), "{ack}");
    assert!(tab.events().is_empty(), "the old call says nothing more");
    tab.receive(&answer(&second, "180 Ringing", None));
    assert_eq!(tab.events(), [UaEvent::Call(CallEvent::Ringing)]);
}

#[test]
fn sign_out_during_a_call_sends_bye_then_unregisters() {
    let (mut tab, invite) = dialled();
    tab.receive(&answer(&invite, "200 OK", Some(OFFER)));
    tab.commands();
    tab.events();
    tab.ua.sign_out(tab.now);
    let sent: Vec<String> = tab
        .commands()
        .into_iter()
        .filter_map(|c| match c {
            Command::Send(text) => Some(text),
            _ => None,
        })
        .collect();
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert!(sent[0].starts_with("BYE "));
    assert!(sent[1].starts_with("REGISTER "));
    assert_eq!(header(&sent[1], "Expires"), "0");
    assert_eq!(
        tab.events(),
        [UaEvent::Call(CallEvent::Ended(EndCause::Local))]
    );
}

#[test]
fn no_call_without_a_link() {
    let mut tab = Tab::counting();
    assert_eq!(
        tab.ua.place_call(tab.now, call_request()),
        Err(PlaceError::NotConnected)
    );
    assert!(tab.commands().is_empty());
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

fn gateway_invite(call_id: &str) -> String {
    format!(
        "INVITE sip:c0ntact@v1a.invalid;transport=ws SIP/2.0\r\n\
         Via: SIP/2.0/WSS gw.test;branch=z9hG4bK{call_id}\r\n\
         Max-Forwards: 70\r\n\
         From: \"Ann\" <sip:+15551230000@gw.test>;tag=gwin\r\n\
         To: <sip:demo@gw.test>\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: 1 INVITE\r\n\
         Contact: <sip:b2bua@gw.test;transport=ws>\r\n\
         X-Dialer-DID: +15550100100\r\n\
         X-Dialer-DID-Label: Sales line\r\n\
         Content-Type: application/sdp\r\n\
         Content-Length: {}\r\n\r\n{OFFER}",
        OFFER.len()
    )
}

#[test]
fn an_incoming_invite_rings_and_is_answered() {
    let mut tab = Tab::registered_from(Tab::counting());
    tab.receive(&gateway_invite("in-1"));
    let ringing = tab.sent();
    assert!(ringing.starts_with("SIP/2.0 180 Ringing\r\n"), "{ringing}");
    let events = tab.events();
    let [UaEvent::Incoming { info, offer }] = events.as_slice() else {
        panic!("{events:?}");
    };
    assert_eq!(info.caller, "+15551230000");
    assert_eq!(info.did_label.as_deref(), Some("Sales line"));
    assert_eq!(offer, OFFER);
    assert!(tab.ua.in_call());

    // A second call while this one rings: busy.
    tab.receive(&gateway_invite("in-2"));
    let busy = tab.sent();
    assert!(busy.starts_with("SIP/2.0 486 Busy Here\r\n"), "{busy}");
    assert_eq!(header(&busy, "Call-ID"), "in-2");

    assert!(tab.ua.answer(tab.now, "nope", OFFER.to_owned()).is_err());
    tab.ua.answer(tab.now, "in-1", OFFER.to_owned()).unwrap();
    let ok = tab.sent();
    assert!(ok.starts_with("SIP/2.0 200 OK\r\n"), "{ok}");
    let tag = header(&ok, "To").rsplit("tag=").next().unwrap().to_owned();
    tab.receive(&format!(
        "ACK sip:c0ntact@v1a.invalid;transport=ws SIP/2.0\r\n\
         Via: SIP/2.0/WSS gw.test;branch=z9hG4bKack\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:+15551230000@gw.test>;tag=gwin\r\n\
         To: <sip:demo@gw.test>;tag={tag}\r\n\
         Call-ID: in-1\r\n\
         CSeq: 1 ACK\r\n\
         Content-Length: 0\r\n\r\n"
    ));
    assert_eq!(tab.events(), [UaEvent::Call(CallEvent::Answered)]);
    tab.ua.hangup(tab.now);
    assert!(tab.sent().starts_with("BYE sip:b2bua@gw.test"));
}

#[test]
fn an_incoming_call_cancelled_elsewhere_is_not_missed() {
    let mut tab = Tab::registered_from(Tab::counting());
    let invite = gateway_invite("in-3");
    tab.receive(&invite);
    tab.commands();
    tab.events();
    let cancel = invite
        .replacen("INVITE sip:", "CANCEL sip:", 1)
        .replace("CSeq: 1 INVITE", "CSeq: 1 CANCEL")
        .replace(
            "Content-Type: application/sdp\r\n",
            "Reason: SIP ;cause=200 ;text=\"Call completed elsewhere\"\r\n",
        );
    let cancel = format!(
        "{}Content-Length: 0\r\n\r\n",
        cancel.split("Content-Length").next().unwrap()
    );
    tab.receive(&cancel);
    let sent: Vec<String> = tab
        .commands()
        .into_iter()
        .filter_map(|c| match c {
            Command::Send(text) => Some(text),
            _ => None,
        })
        .collect();
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert!(sent[0].starts_with("SIP/2.0 200 OK") && sent[1].starts_with("SIP/2.0 487"));
    assert_eq!(
        tab.events(),
        [UaEvent::Call(CallEvent::Ended(EndCause::Cancelled {
            answered_elsewhere: true
        }))]
    );
    assert!(!tab.ua.in_call());
}

#[test]
fn an_incoming_invite_while_dialling_is_busy() {
    let mut tab = Tab::registered_from(Tab::counting());
    tab.ua.set_dialing(true);
    tab.receive(&gateway_invite("in-5"));
    assert!(tab.sent().starts_with("SIP/2.0 486 Busy Here\r\n"));
    assert!(tab.events().is_empty());
    tab.ua.set_dialing(false);
    tab.receive(&gateway_invite("in-6"));
    assert!(tab.sent().starts_with("SIP/2.0 180 Ringing\r\n"));
}
