//! Simulated time and test messages for the transaction tests
//! (`shared::sip::transaction`). Time is an origin plus milliseconds; a
//! [`Sim`] steps one transaction from deadline to deadline and records what
//! it sent and said, and when.
#![allow(clippy::unwrap_used, dead_code)]

use std::sync::OnceLock;
use std::time::Duration;

use shared::sip::transaction::{
    ClientInvite, ClientNonInvite, Instant, ServerInvite, ServerNonInvite, TxEvent,
};

/// The origin of simulated time: the only clock read in these tests.
pub fn origin() -> Instant {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    *ORIGIN.get_or_init(Instant::now)
}

/// The instant `ms` milliseconds after the origin.
pub fn ms(ms: u64) -> Instant {
    origin() + Duration::from_millis(ms)
}

fn to_ms(at: Instant) -> u64 {
    u64::try_from(at.duration_since(origin()).as_millis()).unwrap()
}

/// What the four machines have in common, so that one driver steps them all.
pub trait Machine {
    fn handle_timeout(&mut self, now: Instant);
    fn poll_transmit(&mut self) -> Option<rsip::SipMessage>;
    fn poll_event(&mut self) -> Option<TxEvent>;
    fn poll_timeout(&self) -> Option<Instant>;
}

macro_rules! machine {
    ($($t:ty),*) => {$(
        impl Machine for $t {
            fn handle_timeout(&mut self, now: Instant) {
                <$t>::handle_timeout(self, now)
            }
            fn poll_transmit(&mut self) -> Option<rsip::SipMessage> {
                <$t>::poll_transmit(self)
            }
            fn poll_event(&mut self) -> Option<TxEvent> {
                <$t>::poll_event(self)
            }
            fn poll_timeout(&self) -> Option<Instant> {
                <$t>::poll_timeout(self)
            }
        }
    )*};
}

machine!(ClientInvite, ClientNonInvite, ServerInvite, ServerNonInvite);

/// One transaction on simulated time, with a log of its output stamped in
/// milliseconds since the origin.
pub struct Sim<M> {
    pub tx: M,
    pub now: Instant,
    sent: Vec<(u64, rsip::SipMessage)>,
    events: Vec<(u64, TxEvent)>,
}

impl<M: Machine> Sim<M> {
    /// Takes a machine created at `ms(0)` and records what it queued.
    pub fn new(tx: M) -> Self {
        let mut sim = Sim {
            tx,
            now: origin(),
            sent: Vec::new(),
            events: Vec::new(),
        };
        sim.drain();
        sim
    }

    /// Fires every deadline up to and including `ms(until)`, each at its
    /// exact instant, then leaves the clock at `ms(until)`.
    pub fn run_until(&mut self, until: u64) {
        let end = ms(until);
        let mut steps = 0;
        while let Some(at) = self.tx.poll_timeout().filter(|at| *at <= end) {
            assert!(at >= self.now, "a deadline in the past: {at:?}");
            self.now = at;
            self.tx.handle_timeout(at);
            self.drain();
            assert_ne!(
                self.tx.poll_timeout(),
                Some(at),
                "handle_timeout left the deadline it was called for in place"
            );
            steps += 1;
            assert!(steps < 10_000, "timers never settle");
        }
        self.now = self.now.max(end);
    }

    /// Feeds an input at the current simulated time.
    pub fn input(&mut self, f: impl FnOnce(&mut M, Instant)) {
        f(&mut self.tx, self.now);
        self.drain();
    }

    /// Everything sent so far (and forgets it).
    pub fn take_sent(&mut self) -> Vec<(u64, rsip::SipMessage)> {
        std::mem::take(&mut self.sent)
    }

    /// The times of everything sent so far (and forgets it).
    pub fn sent_times(&mut self) -> Vec<u64> {
        self.take_sent().into_iter().map(|(at, _)| at).collect()
    }

    /// Everything the TU was told so far (and forgets it).
    pub fn take_events(&mut self) -> Vec<(u64, TxEvent)> {
        std::mem::take(&mut self.events)
    }

    /// Asserts that nothing was sent since the last look.
    pub fn nothing_sent(&mut self) {
        let sent = self.take_sent();
        assert!(sent.is_empty(), "unexpected transmits: {sent:?}");
    }

    fn drain(&mut self) {
        let now = to_ms(self.now);
        while let Some(message) = self.tx.poll_transmit() {
            self.sent.push((now, message));
        }
        while let Some(event) = self.tx.poll_event() {
            self.events.push((now, event));
        }
    }
}

/// A message's start line and headers as they go on the wire, for
/// asserting on what was sent.
pub fn wire(message: &rsip::SipMessage) -> String {
    message.to_string()
}

pub fn parse_request(text: &str) -> rsip::Request {
    match rsip::SipMessage::try_from(text).unwrap() {
        rsip::SipMessage::Request(request) => request,
        rsip::SipMessage::Response(_) => panic!("not a request: {text}"),
    }
}

pub fn parse_response(text: &str) -> rsip::Response {
    match rsip::SipMessage::try_from(text).unwrap() {
        rsip::SipMessage::Response(response) => response,
        rsip::SipMessage::Request(_) => panic!("not a response: {text}"),
    }
}

/// An INVITE from alice through a proxy (one Route), top Via branch as
/// given.
pub fn invite(branch: &str) -> rsip::Request {
    request_with("INVITE", branch, "", 1)
}

/// A request of `method` in the same style as [`invite`].
pub fn request(method: &str, branch: &str) -> rsip::Request {
    request_with(method, branch, "", 1)
}

/// A request with a To tag (`""` for none) and CSeq number of choice.
pub fn request_with(method: &str, branch: &str, to_tag: &str, cseq: u32) -> rsip::Request {
    let to_tag = if to_tag.is_empty() {
        String::new()
    } else {
        format!(";tag={to_tag}")
    };
    let via_branch = if branch.is_empty() {
        String::new()
    } else {
        format!(";branch={branch}")
    };
    parse_request(&format!(
        "{method} sip:bob@biloxi.example.com SIP/2.0\r\n\
         Via: SIP/2.0/UDP pc33.atlanta.example.com:5060{via_branch}\r\n\
         Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKbehind\r\n\
         Max-Forwards: 70\r\n\
         Route: <sip:proxy.atlanta.example.com;lr>\r\n\
         From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
         To: Bob <sip:bob@biloxi.example.com>{to_tag}\r\n\
         Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n\
         CSeq: {cseq} {method}\r\n\
         Timestamp: 54\r\n\
         Contact: <sip:alice@pc33.atlanta.example.com>\r\n\
         Content-Length: 0\r\n\r\n"
    ))
}

/// A response to `request` with `code`, as the far end would send it: the
/// request's Via, From, Call-ID and CSeq, its To plus `to_tag` (if not
/// empty).
pub fn response(request: &rsip::Request, code: u16, to_tag: &str) -> rsip::Response {
    let mut text = format!("SIP/2.0 {code} Whatever\r\n");
    for header in request.headers.iter() {
        match header {
            rsip::Header::Via(_)
            | rsip::Header::From(_)
            | rsip::Header::CallId(_)
            | rsip::Header::CSeq(_) => text.push_str(&format!("{header}\r\n")),
            rsip::Header::To(_) if !to_tag.is_empty() => {
                text.push_str(&format!("{header};tag={to_tag}\r\n"))
            }
            rsip::Header::To(_) => text.push_str(&format!("{header}\r\n")),
            _ => {}
        }
    }
    text.push_str("Content-Length: 0\r\n\r\n");
    parse_response(&text)
}

/// The request in a transmit (panics on a response).
pub fn as_request(message: &rsip::SipMessage) -> &rsip::Request {
    match message {
        rsip::SipMessage::Request(request) => request,
        rsip::SipMessage::Response(response) => panic!("sent a response: {response}"),
    }
}

/// The response in a transmit (panics on a request).
pub fn as_response(message: &rsip::SipMessage) -> &rsip::Response {
    match message {
        rsip::SipMessage::Response(response) => response,
        rsip::SipMessage::Request(request) => panic!("sent a request: {request}"),
    }
}

/// The value of the first header named `name` (case-insensitive) in a
/// printed message.
pub fn header(message: &impl std::fmt::Display, name: &str) -> Option<String> {
    headers(message, name).into_iter().next()
}

/// All values of headers named `name`.
pub fn headers(message: &impl std::fmt::Display, name: &str) -> Vec<String> {
    let text = message.to_string();
    text.split("\r\n")
        .skip(1)
        .take_while(|line| !line.is_empty())
        .filter_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_owned())
        })
        .collect()
}
