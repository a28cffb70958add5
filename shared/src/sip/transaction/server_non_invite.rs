//! The non-INVITE server transaction (RFC 3261 §17.2.2).
//!
//! ```text
//!                               | new(): request received (the TU has it)
//!                               V
//!    request           +-------------+
//!    retransmissions:  |   Trying    |
//!    absorbed      +-->|             |
//!                  +---|             |
//!                      +-------------+
//!         1xx from TU: sent   |      \
//!                             V       \ 200-699 from TU: sent
//!    request: last     +-------------+ \
//!    1xx resent;   +-->| Proceeding  |  \
//!    1xx from TU:  +---|             |   \
//!    sent              +-------------+    \
//!           200-699 from TU:  |           |
//!           sent              V           |
//!    request:          +-------------+    |
//!    final resent  +-->|  Completed  |<---+
//!                  +---|             |
//!                      +-------------+
//!                    Timer J  |  (64·T1 on UDP, zero on a reliable transport)
//!                             V
//!                      +-------------+
//!                      | Terminated  |
//!                      +-------------+
//!        also entered from Proceeding or Completed on a transport error
//!        (TransportError to TU)
//! ```
//!
//! Nothing is retransmitted on a timer: the client's timer E drives
//! retransmission, and each copy of the request gets the last response.

use super::{Class, Instant, Outbox, ResponseRefused, Timers, TxEvent, class, due, earliest};

/// Where a non-INVITE server transaction is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerNonInviteState {
    /// The request was received; no response was sent yet.
    Trying,
    /// A provisional response was sent.
    Proceeding,
    /// A final response was sent; answering retransmissions with it
    /// (timer J).
    Completed,
    /// Done; drain and drop.
    Terminated,
}

impl ServerNonInviteState {
    fn name(self) -> &'static str {
        match self {
            ServerNonInviteState::Trying => "Trying",
            ServerNonInviteState::Proceeding => "Proceeding",
            ServerNonInviteState::Completed => "Completed",
            ServerNonInviteState::Terminated => "Terminated",
        }
    }
}

/// A non-INVITE server transaction (any method but INVITE and ACK; ACK
/// never creates a transaction). See the module documentation.
#[derive(Debug)]
pub struct ServerNonInvite {
    request: rsip::Request,
    reliable: bool,
    timers: Timers,
    state: ServerNonInviteState,
    /// Resent for each retransmission of the request.
    last_response: Option<rsip::Response>,
    /// Timer J.
    timer_j: Option<Instant>,
    out: Outbox,
}

impl ServerNonInvite {
    /// Create the transaction for a request that matched none (by
    /// [`TransactionKey::for_request`](super::TransactionKey::for_request)).
    /// The TU handles the request itself.
    pub fn new(_now: Instant, request: rsip::Request, reliable: bool, timers: Timers) -> Self {
        debug_assert!(!matches!(
            request.method,
            rsip::Method::Invite | rsip::Method::Ack
        ));
        ServerNonInvite {
            request,
            reliable,
            timers,
            state: ServerNonInviteState::Trying,
            last_response: None,
            timer_j: None,
            out: Outbox::default(),
        }
    }

    /// The request that created this transaction.
    pub fn request(&self) -> &rsip::Request {
        &self.request
    }

    pub fn state(&self) -> ServerNonInviteState {
        self.state
    }

    pub fn is_terminated(&self) -> bool {
        self.state == ServerNonInviteState::Terminated
    }

    /// Send a response from the TU: 1xx before the final response, then one
    /// final response. Anything after the final response is refused and
    /// not sent (§17.2.2: "MUST be discarded").
    pub fn send_response(
        &mut self,
        now: Instant,
        response: rsip::Response,
    ) -> Result<(), ResponseRefused> {
        use ServerNonInviteState::*;
        let code = response.status_code.code();
        match (self.state, class(code)) {
            (Trying | Proceeding, Class::Provisional) => {
                self.state = Proceeding;
                self.out.send(response.clone());
                self.last_response = Some(response);
            }
            (Trying | Proceeding, Class::Success | Class::Failure) => {
                self.state = Completed;
                self.out.send(response.clone());
                self.last_response = Some(response);
                if self.reliable {
                    self.terminate();
                } else {
                    self.timer_j = Some(now + self.timers.transaction_timeout());
                }
            }
            _ => {
                return Err(ResponseRefused {
                    code,
                    state: self.state.name(),
                });
            }
        }
        Ok(())
    }

    /// A retransmission of the request: absorbed in Trying (the TU is
    /// working on it), answered with the last response afterwards.
    pub fn handle_request(&mut self, _now: Instant, _request: rsip::Request) {
        use ServerNonInviteState::*;
        if matches!(self.state, Proceeding | Completed)
            && let Some(response) = &self.last_response
        {
            self.out.send(response.clone());
        }
    }

    /// The shell could not send a response: the TU hears
    /// [`TxEvent::TransportError`] and the transaction ends.
    pub fn handle_transport_error(&mut self, _now: Instant) {
        use ServerNonInviteState::*;
        if matches!(self.state, Proceeding | Completed) {
            self.out.tell(TxEvent::TransportError);
            self.terminate();
        }
    }

    /// Fire the timers that are due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.state == ServerNonInviteState::Completed && due(self.timer_j, now) {
            self.terminate();
        }
    }

    /// The next message to send.
    pub fn poll_transmit(&mut self) -> Option<rsip::SipMessage> {
        self.out.transmits.pop_front()
    }

    /// The next event for the TU.
    pub fn poll_event(&mut self) -> Option<TxEvent> {
        self.out.events.pop_front()
    }

    /// When [`handle_timeout`](ServerNonInvite::handle_timeout) must be
    /// called next; `None` once terminated.
    pub fn poll_timeout(&self) -> Option<Instant> {
        earliest([self.timer_j])
    }

    fn terminate(&mut self) {
        self.timer_j = None;
        self.state = ServerNonInviteState::Terminated;
        self.out.tell(TxEvent::Terminated);
    }
}
