//! RFC 3261 §17 transactions, with the RFC 6026 corrections, sans-IO.
//!
//! Four state machines, one per kind of transaction:
//!
//! | machine               | RFC 3261 | created by                           |
//! |-----------------------|----------|--------------------------------------|
//! | [`ClientInvite`]      | §17.1.1  | the TU sending an INVITE             |
//! | [`ClientNonInvite`]   | §17.1.2  | the TU sending any other request     |
//! | [`ServerInvite`]      | §17.2.1  | an INVITE arriving                   |
//! | [`ServerNonInvite`]   | §17.2.2  | any other request arriving (not ACK) |
//!
//! Each has the shape every protocol machine in this workspace has: input
//! comes in through `handle_*(now, …)`, and out of `poll_transmit()` (a
//! message to send on the transaction's own transport, to its own peer: the
//! shell knows where), `poll_event()` (what the transaction user, the TU,
//! must hear) and `poll_timeout()` (when to call `handle_timeout` next).
//! Nothing here reads the clock or touches a socket; `now` is whatever the
//! shell (or a test) says it is. After every `handle_*` call the shell drains
//! `poll_transmit` and `poll_event`, then sleeps until `poll_timeout`. A
//! transaction that reports [`TxEvent::Terminated`] can be dropped once
//! drained: the last thing it says may be a message still to send (a final
//! response over a reliable transport terminates at once, timers J and K
//! being zero there).
//!
//! Matching an incoming message to its transaction is [`TransactionKey`]'s
//! job (§17.1.3 and §17.2.3); the table of live transactions belongs to the
//! shell (the gateway's call driver), not to this module.
//!
//! Where RFC 6026 and RFC 3261 differ, RFC 6026 wins: a 2xx to an INVITE
//! moves both sides into an *Accepted* state (timers L and M, 64·T1) instead
//! of destroying the transaction. Without it a retransmitted INVITE arriving
//! after the 2xx would look like a new request, and a retransmitted 2xx would
//! match nothing on the client side, so the ACK for it would never be
//! resent.
//!
//! Timers, as RFC 3261 Table 4 has them (reliable transports never
//! retransmit, and D, I, J, K are zero there):
//!
//! | timer | value (unreliable)       | meaning                                   |
//! |-------|--------------------------|-------------------------------------------|
//! | A     | T1, doubling             | INVITE retransmission                     |
//! | B     | 64·T1                    | INVITE transaction timeout                |
//! | D     | max(32 s, 64·T1)         | wait for response retransmissions         |
//! | E     | T1, doubling up to T2    | non-INVITE retransmission                 |
//! | F     | 64·T1                    | non-INVITE transaction timeout            |
//! | G     | T1, doubling up to T2    | INVITE final response retransmission      |
//! | H     | 64·T1                    | wait for ACK                              |
//! | I     | T4                       | absorb ACK retransmissions                |
//! | J     | 64·T1                    | absorb non-INVITE request retransmissions |
//! | K     | T4                       | absorb non-INVITE response retransmissions|
//! | L     | 64·T1                    | RFC 6026: absorb INVITE retransmissions   |
//! | M     | 64·T1                    | RFC 6026: pass 2xx retransmissions up     |

use std::collections::VecDeque;
use std::time::Duration;

pub use web_time::Instant;

mod build;
mod client_invite;
mod client_non_invite;
mod key;
mod server_invite;
mod server_non_invite;

pub use build::{BuildError, ack_for_non_2xx, cancel_for, trying_for};
pub use client_invite::{ClientInvite, ClientInviteState};
pub use client_non_invite::{ClientNonInvite, ClientNonInviteState};
pub use key::{KeyError, TransactionKey};
pub use server_invite::{ServerInvite, ServerInviteState, TRYING_DELAY};
pub use server_non_invite::{ServerNonInvite, ServerNonInviteState};

/// The RFC 3261 timer base values (§17.1.1.1, Table 4).
///
/// Every other timer derives from these three, so a shell that knows its
/// round-trip times better (RFC 3261 allows a larger T1 on high-latency
/// paths) changes them here and the whole schedule follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timers {
    /// Estimated round-trip time; the first retransmission interval.
    pub t1: Duration,
    /// The longest retransmission interval for non-INVITE requests and
    /// INVITE responses.
    pub t2: Duration,
    /// How long a message may stay in the network.
    pub t4: Duration,
}

impl Default for Timers {
    fn default() -> Self {
        Timers {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
        }
    }
}

impl Timers {
    /// 64·T1: timers B, F, H, J (unreliable), L and M.
    fn transaction_timeout(&self) -> Duration {
        self.t1 * 64
    }

    /// Timer D. RFC 3261 asks for "at least 32 seconds" on an unreliable
    /// transport: long enough to see every retransmission of the final
    /// response, which the server sends until its timer H (64·T1) fires.
    fn d(&self, reliable: bool) -> Duration {
        if reliable {
            Duration::ZERO
        } else {
            self.transaction_timeout().max(Duration::from_secs(32))
        }
    }

    /// Timers I and K: T4 on an unreliable transport, zero on a reliable one.
    fn t4_or_zero(&self, reliable: bool) -> Duration {
        if reliable { Duration::ZERO } else { self.t4 }
    }

    /// The next retransmission interval after `interval`, for the timers
    /// that stop doubling at T2 (E and G).
    fn backoff_capped(&self, interval: Duration) -> Duration {
        (interval * 2).min(self.t2)
    }
}

/// What a transaction tells its user (the TU: the gateway's call or
/// registrar logic, or the browser phone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxEvent {
    /// A response for the TU (client transactions): every provisional
    /// response, the final response, and, in a client INVITE's Accepted
    /// state, every further 2xx (retransmissions, or 2xx from other forks,
    /// each of which the TU must ACK itself).
    Response(rsip::Response),
    /// A request for the TU (server INVITE in the Accepted state): an ACK
    /// for the 2xx, which belongs to the dialog, not to this transaction.
    /// Only ACKs that match the INVITE's key get here: those of RFC 2543
    /// peers, and of peers that reuse the INVITE's branch. An RFC 3261 ACK
    /// for a 2xx has a branch of its own, matches no transaction, and goes
    /// from the shell straight to the dialog.
    Request(rsip::Request),
    /// Timer B or F fired (no final response: the TU acts as if a 408 came),
    /// timer H fired (the ACK for a non-2xx final response never came), or
    /// the RFC 3261 §9.1 deadline after a CANCEL passed without a final
    /// response.
    Timeout,
    /// The shell reported that a message of this transaction could not be
    /// sent ([`ClientInvite::handle_transport_error`] and its siblings).
    TransportError,
    /// The transaction has ended; once `poll_transmit` is drained the shell
    /// can drop it.
    Terminated,
}

/// A response the TU asked a server transaction to send that its state does
/// not allow (RFC 3261 §17.2: after a final response only a 2xx to an INVITE
/// may follow, and nothing at all once terminated). The response was not
/// sent; this is a bug in the TU, worth a log line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a {code} response cannot be sent by a server transaction in the {state} state")]
pub struct ResponseRefused {
    /// The status code of the refused response.
    pub code: u16,
    /// The state the transaction was in, for the log.
    pub state: &'static str,
}

/// The queues every machine keeps: messages to send and events for the TU.
#[derive(Debug, Default)]
struct Outbox {
    transmits: VecDeque<rsip::SipMessage>,
    events: VecDeque<TxEvent>,
}

impl Outbox {
    fn send(&mut self, message: impl Into<rsip::SipMessage>) {
        self.transmits.push_back(message.into());
    }

    fn tell(&mut self, event: TxEvent) {
        self.events.push_back(event);
    }
}

/// A retransmission timer (A, E or G): when it fires next and the interval
/// it was last armed with.
#[derive(Debug, Clone, Copy)]
struct Retransmit {
    at: Instant,
    interval: Duration,
}

impl Retransmit {
    fn start(now: Instant, interval: Duration) -> Self {
        Retransmit {
            at: now + interval,
            interval,
        }
    }

    /// Re-arm from `now` rather than from the missed deadline: a shell that
    /// woke late sends one retransmission, not a burst of them.
    fn rearm(&mut self, now: Instant, interval: Duration) {
        self.interval = interval;
        self.at = now + interval;
    }
}

/// Whether `deadline` is set and has passed.
fn due(deadline: Option<Instant>, now: Instant) -> bool {
    deadline.is_some_and(|at| at <= now)
}

/// The earliest of a set of optional deadlines.
fn earliest(deadlines: impl IntoIterator<Item = Option<Instant>>) -> Option<Instant> {
    deadlines.into_iter().flatten().min()
}

/// The status code class a transaction cares about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Provisional,
    Success,
    /// 300–699.
    Failure,
    /// Outside 100–699; [`inbound`](crate::sip::inbound()) drops such responses, so only a
    /// TU bug produces one.
    Invalid,
}

fn class(code: u16) -> Class {
    match code {
        100..=199 => Class::Provisional,
        200..=299 => Class::Success,
        300..=699 => Class::Failure,
        _ => Class::Invalid,
    }
}
