//! A fake clock, a deterministic random source and a scripted registrar for
//! the `registration-*.rs` tests of `shared::sip::register`.
#![allow(clippy::unwrap_used, dead_code)]

use std::time::Duration;

use rsip::prelude::*;
use shared::sip::digest::{self, Algorithm, Challenge, Credentials};
use shared::sip::register::{Registration, RegistrationConfig, RegistrationEvent};
use web_time::Instant;

pub const PASSWORD: &str = "s3cret";
pub const REALM: &str = "gw.test";
pub const INSTANCE: &str = "urn:uuid:6f1c2a3b-0000-4000-8000-00000000abcd";

pub fn config() -> RegistrationConfig {
    RegistrationConfig {
        aor: "sip:demo@gw.test".to_owned(),
        display_name: "Demo \"D\" Agent".to_owned(),
        username: "demo".to_owned(),
        password: PASSWORD.to_owned(),
        instance_id: INSTANCE.to_owned(),
        contact_user: "k7q2mx".to_owned(),
        via_host: "p4t8zw.invalid".to_owned(),
        ..RegistrationConfig::default()
    }
}

/// A registration under test on simulated time.
pub struct Phone {
    pub reg: Registration,
    pub now: Instant,
}

impl Phone {
    pub fn new() -> Self {
        Self::with_config(config())
    }

    pub fn with_config(config: RegistrationConfig) -> Self {
        let mut n = 0u64;
        let rng = move || {
            n += 1;
            n.wrapping_mul(0x9e37_79b9_7f4a_7c15)
        };
        Phone {
            reg: Registration::new(config, rng).unwrap(),
            // The only clock read: the origin of simulated time.
            now: Instant::now(),
        }
    }

    /// Moves simulated time on and fires whatever timer is due.
    pub fn advance(&mut self, secs: u64) {
        self.now += Duration::from_secs(secs);
        self.reg.handle_timeout(self.now);
    }

    /// Moves simulated time to the next deadline and fires it.
    pub fn advance_to_timeout(&mut self) -> Duration {
        let at = self.reg.poll_timeout().expect("a timer is set");
        let waited = at.saturating_duration_since(self.now);
        self.now = self.now.max(at);
        self.reg.handle_timeout(self.now);
        waited
    }

    /// The one request queued now, as sent on the wire and parsed back.
    pub fn sent(&mut self) -> Sent {
        let request = self.reg.poll_transmit().expect("a REGISTER to send");
        assert!(self.reg.poll_transmit().is_none(), "one request at a time");
        let text = request.to_string();
        let parsed = rsip::Request::try_from(text.as_str()).unwrap();
        Sent {
            text,
            request: parsed,
        }
    }

    pub fn nothing_sent(&mut self) {
        assert_eq!(self.reg.poll_transmit().map(|r| r.to_string()), None);
    }

    pub fn events(&mut self) -> Vec<RegistrationEvent> {
        std::iter::from_fn(|| self.reg.poll_event()).collect()
    }

    pub fn answer(&mut self, response: rsip::Response) {
        self.reg.handle_response(self.now, response);
    }
}

/// A REGISTER as it went out.
pub struct Sent {
    pub text: String,
    pub request: rsip::Request,
}

impl Sent {
    /// Values of every header called `name`, in order.
    pub fn headers(&self, name: &str) -> Vec<String> {
        self.text
            .lines()
            .filter_map(|l| l.split_once(':'))
            .filter(|(n, _)| n.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_owned())
            .collect()
    }

    pub fn header(&self, name: &str) -> String {
        let mut values = self.headers(name);
        assert_eq!(values.len(), 1, "one {name} in\n{}", self.text);
        values.remove(0)
    }

    pub fn cseq(&self) -> u32 {
        self.request.cseq_header().unwrap().seq().unwrap()
    }

    pub fn branch(&self) -> String {
        let via = self.header("Via");
        via.split(';')
            .find_map(|p| p.strip_prefix("branch="))
            .unwrap()
            .to_owned()
    }

    pub fn credentials(&self) -> Option<Credentials> {
        let values = self.headers("Authorization");
        assert!(values.len() <= 1, "{}", self.text);
        values.first().map(|v| Credentials::parse(v).unwrap())
    }

    /// Checks the digest answer the way the gateway's registrar does.
    pub fn digest_is_right(&self, password: &str) -> bool {
        let Some(creds) = self.credentials() else {
            return false;
        };
        let base = digest::ha1(creds.algorithm, &creds.username, &creds.realm, password);
        creds.uri == "sip:gw.test" && digest::verify(&creds, "REGISTER", &base)
    }

    /// A response to this request with `extra` header lines.
    pub fn reply(&self, code: u16, reason: &str, extra: &[String]) -> rsip::Response {
        let mut text = format!("SIP/2.0 {code} {reason}\r\n");
        for name in ["Via", "From", "Call-ID", "CSeq"] {
            text.push_str(&format!("{name}: {}\r\n", self.header(name)));
        }
        text.push_str(&format!("To: {};tag=srv1\r\n", self.header("To")));
        for line in extra {
            text.push_str(line);
            text.push_str("\r\n");
        }
        text.push_str("Content-Length: 0\r\n\r\n");
        rsip::Response::try_from(text.as_str()).unwrap()
    }

    /// 401 with an MD5 and a SHA-256 challenge, as the gateway sends them.
    pub fn challenge(&self, nonce: &str, stale: bool) -> rsip::Response {
        let lines: Vec<String> = [Algorithm::Md5, Algorithm::Sha256]
            .into_iter()
            .map(|algorithm| {
                let c = Challenge {
                    realm: REALM.to_owned(),
                    nonce: format!("{nonce}-{algorithm}"),
                    opaque: None,
                    algorithm,
                    qop: vec!["auth".to_owned()],
                    stale,
                };
                format!("WWW-Authenticate: {}", c.to_header_value())
            })
            .collect();
        self.reply(401, "Unauthorized", &lines)
    }

    /// 200 listing this request's contact with `expires`, after another
    /// tab's binding.
    pub fn ok(&self, expires: u32) -> rsip::Response {
        let contact = self.header("Contact");
        let uri = contact.split('>').next().unwrap().trim_start_matches('<');
        self.reply(
            200,
            "OK",
            &[
                "Contact: <sip:other@x1.invalid;transport=ws>;expires=17;+sip.instance=\"<urn:uuid:other>\";reg-id=1".to_owned(),
                format!("Contact: <{uri}>;expires={expires};+sip.instance=\"<{INSTANCE}>\";reg-id=1"),
            ],
        )
    }
}
