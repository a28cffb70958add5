//! The non-INVITE client transaction (RFC 3261 §17.1.2).
//!
//! ```text
//!                               | new(): request sent
//!                               V
//!                        +-------------+  Timer E (UDP only): request
//!                        |   Trying    |<--+ resent, interval doubled
//!                        |             |---+ up to T2
//!                        +-------------+
//!                 1xx: to TU  |      \
//!                             V       \ 200-699: to TU
//!    1xx: to TU        +-------------+ \
//!    +---------------->| Proceeding  |  \
//!    +-----------------|             |   \
//!    Timer E: request  +-------------+    \
//!    resent, interval T2      |           |
//!                             | 200-699:  |
//!                             | to TU     |
//!                             V           |
//!    response          +-------------+    |
//!    retransmissions:  |  Completed  |<---+
//!    absorbed      +-->|             |
//!                  +---|             |
//!                      +-------------+
//!                    Timer K  |  (T4 on UDP, zero on a reliable transport)
//!                             V
//!                      +-------------+
//!                      | Terminated  |
//!                      +-------------+
//!        also entered from Trying or Proceeding on timer F (Timeout to TU)
//!        or a transport error (TransportError to TU)
//! ```

use super::{Class, Instant, Outbox, Retransmit, Timers, TxEvent, class, due, earliest};

/// Where a non-INVITE client transaction is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientNonInviteState {
    /// The request was sent; no response yet.
    Trying,
    /// A provisional response arrived.
    Proceeding,
    /// A final response arrived; absorbing its retransmissions (timer K).
    Completed,
    /// Done; drain and drop.
    Terminated,
}

/// A non-INVITE client transaction (any method but INVITE and ACK; a
/// CANCEL too). See the module documentation.
#[derive(Debug)]
pub struct ClientNonInvite {
    request: rsip::Request,
    reliable: bool,
    timers: Timers,
    state: ClientNonInviteState,
    /// Timer E; only on unreliable transports, only before a final response.
    timer_e: Option<Retransmit>,
    /// Timer F.
    timer_f: Option<Instant>,
    /// Timer K.
    timer_k: Option<Instant>,
    out: Outbox,
}

impl ClientNonInvite {
    /// Start the transaction: the request is ready in
    /// [`poll_transmit`](ClientNonInvite::poll_transmit) at once.
    /// `reliable` is the transport's
    /// [`is_reliable`](crate::sip::Transport::is_reliable).
    pub fn new(now: Instant, request: rsip::Request, reliable: bool, timers: Timers) -> Self {
        debug_assert!(!matches!(
            request.method,
            rsip::Method::Invite | rsip::Method::Ack
        ));
        let mut out = Outbox::default();
        out.send(request.clone());
        ClientNonInvite {
            timer_e: (!reliable).then(|| Retransmit::start(now, timers.t1)),
            timer_f: Some(now + timers.transaction_timeout()),
            timer_k: None,
            state: ClientNonInviteState::Trying,
            request,
            reliable,
            timers,
            out,
        }
    }

    /// The request this transaction sends.
    pub fn request(&self) -> &rsip::Request {
        &self.request
    }

    pub fn state(&self) -> ClientNonInviteState {
        self.state
    }

    pub fn is_terminated(&self) -> bool {
        self.state == ClientNonInviteState::Terminated
    }

    /// A response matched to this transaction (by
    /// [`TransactionKey::for_response`](super::TransactionKey::for_response)).
    pub fn handle_response(&mut self, now: Instant, response: rsip::Response) {
        use ClientNonInviteState::*;
        match (self.state, class(response.status_code.code())) {
            (Trying | Proceeding, Class::Provisional) => {
                // Timer E keeps running: the provisional response tells us
                // the server is alive, not that it will answer the next
                // retransmission, so §17.1.2.2 keeps retransmitting (at T2
                // from the next firing on) until a final response comes.
                self.state = Proceeding;
                self.out.tell(TxEvent::Response(response));
            }
            (Trying | Proceeding, Class::Success | Class::Failure) => {
                self.timer_e = None;
                self.timer_f = None;
                self.state = Completed;
                self.out.tell(TxEvent::Response(response));
                let timer_k = self.timers.t4_or_zero(self.reliable);
                if timer_k.is_zero() {
                    self.terminate();
                } else {
                    self.timer_k = Some(now + timer_k);
                }
            }
            // Completed absorbs retransmissions of the final response.
            _ => {}
        }
    }

    /// The shell could not send the request: the TU hears
    /// [`TxEvent::TransportError`] and the transaction ends.
    pub fn handle_transport_error(&mut self, _now: Instant) {
        use ClientNonInviteState::*;
        if matches!(self.state, Trying | Proceeding) {
            self.out.tell(TxEvent::TransportError);
            self.terminate();
        }
    }

    /// Fire the timers that are due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        use ClientNonInviteState::*;
        match self.state {
            Trying | Proceeding if due(self.timer_f, now) => {
                self.out.tell(TxEvent::Timeout);
                self.terminate();
            }
            Trying | Proceeding => {
                if let Some(timer_e) = &mut self.timer_e
                    && timer_e.at <= now
                {
                    let next = if self.state == Trying {
                        self.timers.backoff_capped(timer_e.interval)
                    } else {
                        self.timers.t2
                    };
                    timer_e.rearm(now, next);
                    self.out.send(self.request.clone());
                }
            }
            Completed if due(self.timer_k, now) => self.terminate(),
            Completed | Terminated => {}
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

    /// When [`handle_timeout`](ClientNonInvite::handle_timeout) must be
    /// called next; `None` once terminated.
    pub fn poll_timeout(&self) -> Option<Instant> {
        earliest([self.timer_e.map(|t| t.at), self.timer_f, self.timer_k])
    }

    fn terminate(&mut self) {
        self.timer_e = None;
        self.timer_f = None;
        self.timer_k = None;
        self.state = ClientNonInviteState::Terminated;
        self.out.tell(TxEvent::Terminated);
    }
}
