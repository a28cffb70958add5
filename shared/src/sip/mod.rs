//! The SIP layer shared by gateway and client.
//!
//! Bytes from the network go through [`inbound`]: [`normalize`] turns whatever
//! a peer sent (folded lines, compact header names, several Via values on one
//! line, a Content-Length shorter than the datagram) into the canonical form
//! rsip 0.4 can parse, [`validate`] checks a request the way RFC 3261 §8.2 asks,
//! and the result is either a parsed message or the exact error response to
//! send back. rsip is the message model everywhere above this module.
//!
//! - [`normalize`]: raw bytes → [`normalize::RawMessage`] (start line, header
//!   lines with canonical names, body cut at Content-Length); stream framing.
//! - [`validate`]: RFC 3261 request checks → status code and reason phrase.
//! - [`response`]: building responses (from a parsed request, or statelessly
//!   from a [`normalize::RawMessage`] that rsip could not parse).
//! - [`digest`]: HTTP digest (RFC 2617/7616/8760: MD5, SHA-256, `-sess`,
//!   qop=auth) for both sides: challenge, verify, answer.
//! - [`transaction`]: RFC 3261 §17 client and server transactions, sans-IO.
//! - [`call`]: the caller's side of a call (INVITE dialog, CANCEL, BYE, hold
//!   re-INVITEs, early media), sans-IO, used by the browser phone.
//! - [`dialog`]: requests inside a dialog, built typed from its state
//!   (never formatted and parsed back), for the gateway's call legs.
//! - [`incoming`]: the callee's side of a call (INVITE from the gateway,
//!   180, answer with 200 until the ACK, decline 486, CANCEL), sans-IO.
//! - [`register`]: the client side of registration (REGISTER, digest retry,
//!   refresh, un-REGISTER), sans-IO, used by the browser phone.
//! - [`ipv6`]: IPv6 literals rewritten into hosts rsip 0.4 can parse on the
//!   way in, and back on the way out.
//! - [`uac`]: what any client request needs (digest answers, display names,
//!   header-safe values).

pub mod call;
pub mod dialog;
pub mod digest;
pub mod inbound;
pub mod incoming;
pub mod ipv6;
pub mod normalize;
pub mod register;
pub mod response;
pub mod transaction;
pub mod uac;
pub mod validate;

pub use inbound::{Inbound, Limits, inbound};

/// How a message reached us; decides framing and retransmission rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    Udp,
    Tcp,
    Tls,
    Ws,
    Wss,
}

impl Transport {
    /// Reliable transports carry no retransmissions (RFC 3261 §17: timers A,
    /// E, G are not used and timers D, I, J, K are zero).
    pub fn is_reliable(self) -> bool {
        !matches!(self, Transport::Udp)
    }

    /// The token used in a Via header (`SIP/2.0/WS`).
    pub fn via_token(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
            Transport::Tls => "TLS",
            Transport::Ws => "WS",
            Transport::Wss => "WSS",
        }
    }
}
