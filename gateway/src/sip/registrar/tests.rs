//! Registrar behaviour on a fake clock: challenges, digest verification,
//! nonce expiry and replay, bindings per tab, refresh, removal.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use rsip::prelude::*;
use shared::sip::digest::{self, Algorithm, Challenge};
use web_time::Instant;

use super::*;

const DOMAIN: &str = "gw.test";
const PASSWORD: &str = "s3cret-token";

struct Harness {
    registrar: Registrar,
    start: Instant,
    cseq: u32,
}

impl Harness {
    fn new() -> Self {
        let mut registrar = Registrar::new(RegistrarConfig::new(DOMAIN), [7; 32]);
        registrar.add_credential(credential(1, "alice", PASSWORD, 10_000));
        Harness {
            registrar,
            start: Instant::now(),
            cseq: 0,
        }
    }

    fn now(&self, after_secs: u64) -> Now {
        Now {
            instant: self.start + Duration::from_secs(after_secs),
            unix: 1_000 + i64::try_from(after_secs).unwrap(),
            unix_ms: (1_000 + i64::try_from(after_secs).unwrap()) * 1000,
        }
    }

    /// Sends a REGISTER with the given extra header lines.
    fn send(&mut self, at: u64, conn: u64, extra: &str) -> rsip::Response {
        self.cseq += 1;
        let text = format!(
            "REGISTER sip:{DOMAIN} SIP/2.0\r\n\
             Via: SIP/2.0/WSS abc.invalid;branch=z9hG4bK{cseq}\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:alice@{DOMAIN}>;tag=f1\r\n\
             To: <sip:alice@{DOMAIN}>\r\n\
             Call-ID: call-1\r\n\
             CSeq: {cseq} REGISTER\r\n\
             {extra}\
             Content-Length: 0\r\n\r\n",
            cseq = self.cseq
        );
        let request = rsip::Request::try_from(text.as_str()).unwrap();
        self.registrar
            .handle_register(self.now(at), &request, ConnId(conn))
    }

    /// Registers `contact` fully: challenge, then the digest answer.
    fn register(&mut self, at: u64, conn: u64, contact: &str) -> rsip::Response {
        let challenge = self.send(at, conn, &format!("Contact: {contact}\r\n"));
        assert_eq!(code(&challenge), 401);
        let auth = answer(&challenge, Algorithm::Md5, "alice", PASSWORD, 1);
        self.send(
            at,
            conn,
            &format!("Contact: {contact}\r\nAuthorization: {auth}\r\n"),
        )
    }
}

fn credential(id: i64, user: &str, password: &str, expires_at: i64) -> Credential {
    Credential {
        id,
        account_id: AccountId(id),
        username: user.to_owned(),
        ha1_md5: digest::ha1(Algorithm::Md5, user, DOMAIN, password),
        ha1_sha256: digest::ha1(Algorithm::Sha256, user, DOMAIN, password),
        expires_at,
    }
}

fn code(r: &rsip::Response) -> u16 {
    r.status_code().code()
}

fn challenges(r: &rsip::Response) -> Vec<Challenge> {
    r.headers
        .iter()
        .filter_map(|h| match h {
            rsip::Header::WwwAuthenticate(w) => Some(Challenge::parse(w.value()).unwrap()),
            _ => None,
        })
        .collect()
}

fn answer(r: &rsip::Response, alg: Algorithm, user: &str, password: &str, nc: u32) -> String {
    let challenge = challenges(r)
        .into_iter()
        .find(|c| c.algorithm == alg)
        .expect("challenge for the algorithm");
    digest::answer(
        &challenge,
        "REGISTER",
        &format!("sip:{DOMAIN}"),
        user,
        password,
        "cn0nce",
        nc,
    )
    .to_header_value()
}

fn contacts(r: &rsip::Response) -> Vec<String> {
    r.headers
        .iter()
        .filter_map(|h| match h {
            rsip::Header::Contact(c) => Some(c.value().to_owned()),
            _ => None,
        })
        .collect()
}

const TAB1: &str = "<sip:a1@x1.invalid;transport=ws>;+sip.instance=\"<urn:uuid:1111>\";reg-id=1";
const TAB2: &str = "<sip:a2@x2.invalid;transport=ws>;+sip.instance=\"<urn:uuid:2222>\";reg-id=1";

#[test]
fn unauthenticated_register_is_challenged_sha256_first_then_md5() {
    let mut h = Harness::new();
    let r = h.send(0, 1, &format!("Contact: {TAB1}\r\n"));
    assert_eq!(code(&r), 401);
    let algorithms: Vec<_> = challenges(&r).iter().map(|c| c.algorithm).collect();
    assert_eq!(algorithms, [Algorithm::Sha256, Algorithm::Md5]);
    assert!(challenges(&r).iter().all(|c| c.realm == DOMAIN && !c.stale));
    assert!(h.registrar.bindings("alice").is_empty());
}

#[test]
fn md5_and_sha256_answers_register_the_contact() {
    for alg in [Algorithm::Md5, Algorithm::Sha256] {
        let mut h = Harness::new();
        let challenge = h.send(0, 1, &format!("Contact: {TAB1}\r\n"));
        let auth = answer(&challenge, alg, "alice", PASSWORD, 1);
        let ok = h.send(
            0,
            1,
            &format!("Contact: {TAB1}\r\nAuthorization: {auth}\r\n"),
        );
        assert_eq!(code(&ok), 200, "{alg:?}");
        let listed = contacts(&ok);
        assert_eq!(listed.len(), 1);
        assert!(listed[0].contains("expires=600"), "{}", listed[0]);
        assert_eq!(h.registrar.bindings("ALICE").len(), 1);
        assert!(matches!(
            h.registrar.poll_event(),
            Some(RegistrarEvent::Registered { .. })
        ));
    }
}

#[test]
fn wrong_password_is_forbidden_and_counted() {
    let mut h = Harness::new();
    let challenge = h.send(0, 1, &format!("Contact: {TAB1}\r\n"));
    let auth = answer(&challenge, Algorithm::Md5, "alice", "guess", 1);
    let r = h.send(
        0,
        1,
        &format!("Contact: {TAB1}\r\nAuthorization: {auth}\r\n"),
    );
    assert_eq!(code(&r), 403);
    assert!(matches!(
        h.registrar.poll_event(),
        Some(RegistrarEvent::AuthFailed { .. })
    ));
    assert!(h.registrar.bindings("alice").is_empty());
}

#[test]
fn replayed_nonce_count_is_forbidden() {
    let mut h = Harness::new();
    let challenge = h.send(0, 1, &format!("Contact: {TAB1}\r\n"));
    let auth = answer(&challenge, Algorithm::Md5, "alice", PASSWORD, 1);
    let first = h.send(
        0,
        1,
        &format!("Contact: {TAB1}\r\nAuthorization: {auth}\r\n"),
    );
    assert_eq!(code(&first), 200);
    let replay = h.send(
        1,
        1,
        &format!("Contact: {TAB1}\r\nAuthorization: {auth}\r\n"),
    );
    assert_eq!(code(&replay), 403);
    // The next nonce-count on the same nonce is fine (a refresh).
    let next = answer(&challenge, Algorithm::Md5, "alice", PASSWORD, 2);
    let refresh = h.send(
        2,
        1,
        &format!("Contact: {TAB1}\r\nAuthorization: {next}\r\n"),
    );
    assert_eq!(code(&refresh), 200);
}

#[test]
fn old_nonce_gets_a_stale_challenge() {
    let mut h = Harness::new();
    let challenge = h.send(0, 1, &format!("Contact: {TAB1}\r\n"));
    let auth = answer(&challenge, Algorithm::Md5, "alice", PASSWORD, 1);
    let r = h.send(
        301,
        1,
        &format!("Contact: {TAB1}\r\nAuthorization: {auth}\r\n"),
    );
    assert_eq!(code(&r), 401);
    assert!(challenges(&r).iter().all(|c| c.stale));
}

#[test]
fn unknown_nonce_gets_a_stale_challenge() {
    let mut h = Harness::new();
    let mut other = Harness::new();
    // A nonce from another registrar (e.g. before a restart).
    let challenge = other.send(0, 1, &format!("Contact: {TAB1}\r\n"));
    let mut forged = challenges(&challenge).remove(0);
    forged.nonce = "00112233".to_owned();
    let auth = digest::answer(
        &forged,
        "REGISTER",
        &format!("sip:{DOMAIN}"),
        "alice",
        PASSWORD,
        "c",
        1,
    )
    .to_header_value();
    let r = h.send(
        0,
        1,
        &format!("Contact: {TAB1}\r\nAuthorization: {auth}\r\n"),
    );
    assert_eq!(code(&r), 401);
    assert!(challenges(&r)[0].stale);
}

#[test]
fn too_short_expiry_gets_423_with_min_expires() {
    let mut h = Harness::new();
    let r = h.register(0, 1, &format!("{TAB1};expires=30"));
    assert_eq!(code(&r), 423);
    let min = r.headers.iter().find_map(|h| match h {
        rsip::Header::MinExpires(m) => Some(m.value().to_owned()),
        _ => None,
    });
    assert_eq!(min.as_deref(), Some("60"));
}

#[test]
fn long_expiry_is_capped() {
    let mut h = Harness::new();
    let r = h.register(0, 1, &format!("{TAB1};expires=86400"));
    assert_eq!(code(&r), 200);
    assert!(contacts(&r)[0].contains("expires=3600"));
}

#[test]
fn page_refresh_replaces_the_binding_of_the_same_instance() {
    let mut h = Harness::new();
    assert_eq!(code(&h.register(0, 1, TAB1)), 200);
    // Same instance and reg-id, new contact URI, new connection.
    let reloaded = "<sip:zz@new.invalid;transport=ws>;+sip.instance=\"<urn:uuid:1111>\";reg-id=1";
    assert_eq!(code(&h.register(5, 2, reloaded)), 200);
    let bindings = h.registrar.bindings("alice");
    assert_eq!(bindings.len(), 1);
    assert_eq!(bindings[0].contact, "sip:zz@new.invalid;transport=ws");
    assert_eq!(bindings[0].conn, ConnId(2));
    assert_eq!(bindings[0].instance.as_deref(), Some("<urn:uuid:1111>"));
}

#[test]
fn two_tabs_hold_two_bindings_and_closing_one_removes_only_its_own() {
    let mut h = Harness::new();
    assert_eq!(code(&h.register(0, 1, TAB1)), 200);
    let second = h.register(0, 2, TAB2);
    assert_eq!(code(&second), 200);
    assert_eq!(contacts(&second).len(), 2);
    h.registrar.connection_closed(ConnId(1));
    let left = h.registrar.bindings("alice");
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].conn, ConnId(2));
}

#[test]
fn expires_zero_and_star_remove_bindings() {
    let mut h = Harness::new();
    assert_eq!(code(&h.register(0, 1, TAB1)), 200);
    assert_eq!(code(&h.register(0, 2, TAB2)), 200);
    let gone = h.register(1, 1, &format!("{TAB1};expires=0"));
    assert_eq!(code(&gone), 200);
    assert_eq!(h.registrar.bindings("alice").len(), 1);

    let challenge = h.send(2, 2, "Contact: *\r\nExpires: 0\r\n");
    let auth = answer(&challenge, Algorithm::Md5, "alice", PASSWORD, 1);
    let all = h.send(
        2,
        2,
        &format!("Contact: *\r\nExpires: 0\r\nAuthorization: {auth}\r\n"),
    );
    assert_eq!(code(&all), 200);
    assert!(h.registrar.bindings("alice").is_empty());
}

#[test]
fn star_without_expires_zero_is_a_bad_request() {
    let mut h = Harness::new();
    let challenge = h.send(0, 1, "Contact: *\r\n");
    let auth = answer(&challenge, Algorithm::Md5, "alice", PASSWORD, 1);
    let r = h.send(0, 1, &format!("Contact: *\r\nAuthorization: {auth}\r\n"));
    assert_eq!(code(&r), 400);
}

#[test]
fn bindings_expire_on_the_clock() {
    let mut h = Harness::new();
    assert_eq!(code(&h.register(0, 1, &format!("{TAB1};expires=60"))), 200);
    let deadline = h.registrar.poll_timeout().unwrap();
    assert_eq!(deadline, h.start + Duration::from_secs(60));
    h.registrar
        .handle_timeout(h.start + Duration::from_secs(59));
    assert_eq!(h.registrar.bindings("alice").len(), 1);
    h.registrar
        .handle_timeout(h.start + Duration::from_secs(60));
    assert!(h.registrar.bindings("alice").is_empty());
}

#[test]
fn a_credential_cannot_register_another_users_address() {
    let mut h = Harness::new();
    h.registrar
        .add_credential(credential(2, "bob", "bobs-token", 10_000));
    let challenge = h.send(0, 1, &format!("Contact: {TAB1}\r\n"));
    // bob's correct credentials, alice's address (To).
    let auth = answer(&challenge, Algorithm::Md5, "bob", "bobs-token", 1);
    let r = h.send(
        0,
        1,
        &format!("Contact: {TAB1}\r\nAuthorization: {auth}\r\n"),
    );
    assert_eq!(code(&r), 403);
}

#[test]
fn expired_or_revoked_credentials_are_forbidden() {
    let mut h = Harness::new();
    h.registrar.remove_credential(1);
    h.registrar
        .add_credential(credential(3, "alice", PASSWORD, 1_000));
    let r = h.register(5, 1, TAB1);
    assert_eq!(code(&r), 403);
    h.registrar.remove_credential(3);
    let r = h.register(5, 1, TAB1);
    assert_eq!(code(&r), 403);
}

#[test]
fn other_domains_are_not_served() {
    let mut h = Harness::new();
    h.cseq += 1;
    let text = "REGISTER sip:elsewhere.test SIP/2.0\r\n\
        Via: SIP/2.0/WSS abc.invalid;branch=z9hG4bKx\r\n\
        From: <sip:alice@elsewhere.test>;tag=f\r\n\
        To: <sip:alice@elsewhere.test>\r\n\
        Call-ID: c\r\nCSeq: 1 REGISTER\r\nContent-Length: 0\r\n\r\n";
    let request = rsip::Request::try_from(text).unwrap();
    let r = h.registrar.handle_register(h.now(0), &request, ConnId(1));
    assert_eq!(code(&r), 404);
}
