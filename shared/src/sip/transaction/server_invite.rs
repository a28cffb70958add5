//! The INVITE server transaction (RFC 3261 §17.2.1, as RFC 6026
//! corrects it).
//!
//! ```text
//!                              | new(): INVITE received (the TU has it)
//!                              V
//!   INVITE: last 1xx   +-------------+  1xx from TU: sent;
//!   resent         +-->| Proceeding  |<--+ 200 ms without any: a
//!                  +---|             |---+ 100 Trying of our own
//!                      +-------------+
//!        300-699 from TU:   |      \
//!        sent               |       \ 2xx from TU: sent
//!                           V        V
//!   INVITE, Timer G: +-----------+  +-------------+  INVITE: absorbed;
//!   final resent +-->| Completed |  |  Accepted   |<--+ ACK: to TU;
//!   (G: UDP only,+---|           |  |  (RFC 6026) |---+ 2xx from TU: sent
//!   doubling to T2)  +-----------+  +-------------+
//!                      ACK  |                 |
//!                           V                 |
//!   ACK, INVITE:     +-----------+            |
//!   absorbed     +-->| Confirmed |            |
//!                +---|           |            |
//!                    +-----------+            |
//!          Timer I (T4 on UDP,|               | Timer L (64·T1)
//!          zero if reliable)  V               V
//!                    +----------------------------+
//!                    |         Terminated         |
//!                    +----------------------------+
//!        also entered from Completed on timer H (64·T1 without an ACK:
//!        Timeout to TU). A transport error is reported to the TU
//!        (TransportError) and changes no state, as in RFC 6026's figure:
//!        the client's retransmissions, timer H or timer L end the
//!        transaction anyway.
//! ```
//!
//! The transaction never retransmits a 2xx on its own: that is the TU's job
//! (§13.3.1.4), because only the TU knows when the ACK, a request of the
//! dialog, has arrived. The TU passes each retransmission through
//! [`ServerInvite::send_response`] while Accepted.

use std::time::Duration;

use super::key::{has_magic_cookie, to_tag};
use super::{
    Class, Instant, Outbox, ResponseRefused, Retransmit, Timers, TxEvent, build, class, due,
    earliest,
};

/// How long the TU may take before the transaction sends a 100 Trying of
/// its own (RFC 3261 §17.2.1): long enough for a TU that answers at once
/// to make it unnecessary, short enough to stop the client's timer A
/// retransmissions (first one at T1 = 500 ms) early.
pub const TRYING_DELAY: Duration = Duration::from_millis(200);

/// Where an INVITE server transaction is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerInviteState {
    /// The INVITE was received; at most provisional responses were sent.
    Proceeding,
    /// A 300–699 response was sent; waiting for the ACK (timers G and H).
    Completed,
    /// The ACK for the 300–699 response arrived; absorbing its
    /// retransmissions (timer I).
    Confirmed,
    /// A 2xx was sent; absorbing INVITE retransmissions and passing ACKs
    /// up (timer L, RFC 6026).
    Accepted,
    /// Done; drain and drop.
    Terminated,
}

impl ServerInviteState {
    fn name(self) -> &'static str {
        match self {
            ServerInviteState::Proceeding => "Proceeding",
            ServerInviteState::Completed => "Completed",
            ServerInviteState::Confirmed => "Confirmed",
            ServerInviteState::Accepted => "Accepted",
            ServerInviteState::Terminated => "Terminated",
        }
    }
}

/// An INVITE server transaction. See the module documentation.
#[derive(Debug)]
pub struct ServerInvite {
    request: rsip::Request,
    reliable: bool,
    timers: Timers,
    state: ServerInviteState,
    /// When to send our own 100 Trying, until the TU sends any response.
    trying_at: Option<Instant>,
    /// Resent when the INVITE is retransmitted in Proceeding.
    last_provisional: Option<rsip::Response>,
    /// The final response: resent in Completed; its To tag checks an
    /// RFC 2543 ACK.
    final_response: Option<rsip::Response>,
    /// Timer G; only on unreliable transports, only in Completed.
    timer_g: Option<Retransmit>,
    /// Timer H; only in Completed.
    timer_h: Option<Instant>,
    /// Timer I in Confirmed, timer L in Accepted.
    linger: Option<Instant>,
    /// The INVITE came from an RFC 2543 element: the transaction key left
    /// out the To tag, so an ACK must be checked against the response's.
    rfc2543: bool,
    out: Outbox,
}

impl ServerInvite {
    /// Create the transaction for an INVITE that matched none (by
    /// [`TransactionKey::for_request`](super::TransactionKey::for_request)).
    /// The TU handles the INVITE itself; the transaction sends a 100 Trying
    /// after [`TRYING_DELAY`] unless the TU responds first.
    pub fn new(now: Instant, request: rsip::Request, reliable: bool, timers: Timers) -> Self {
        debug_assert_eq!(request.method, rsip::Method::Invite);
        ServerInvite {
            rfc2543: !has_magic_cookie(&request),
            trying_at: Some(now + TRYING_DELAY),
            last_provisional: None,
            final_response: None,
            timer_g: None,
            timer_h: None,
            linger: None,
            state: ServerInviteState::Proceeding,
            request,
            reliable,
            timers,
            out: Outbox::default(),
        }
    }

    /// The INVITE that created this transaction.
    pub fn request(&self) -> &rsip::Request {
        &self.request
    }

    pub fn state(&self) -> ServerInviteState {
        self.state
    }

    pub fn is_terminated(&self) -> bool {
        self.state == ServerInviteState::Terminated
    }

    /// Send a response from the TU. 1xx keep the transaction in Proceeding;
    /// a 2xx moves it to Accepted, and further 2xx (the TU's
    /// retransmissions) are sent from there; 300–699 move it to Completed,
    /// where the transaction retransmits the response itself. Anything else
    /// is refused and not sent.
    pub fn send_response(
        &mut self,
        now: Instant,
        response: rsip::Response,
    ) -> Result<(), ResponseRefused> {
        use ServerInviteState::*;
        let code = response.status_code.code();
        match (self.state, class(code)) {
            (Proceeding, Class::Provisional) => {
                self.trying_at = None;
                self.out.send(response.clone());
                self.last_provisional = Some(response);
            }
            (Proceeding, Class::Success) => {
                self.trying_at = None;
                self.state = Accepted;
                self.linger = Some(now + self.timers.transaction_timeout());
                self.out.send(response.clone());
                self.final_response = Some(response);
            }
            (Accepted, Class::Success) => {
                self.out.send(response.clone());
                self.final_response = Some(response);
            }
            (Proceeding, Class::Failure) => {
                self.trying_at = None;
                self.state = Completed;
                self.timer_g = (!self.reliable).then(|| Retransmit::start(now, self.timers.t1));
                self.timer_h = Some(now + self.timers.transaction_timeout());
                self.out.send(response.clone());
                self.final_response = Some(response);
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

    /// A request matched to this transaction: a retransmission of the
    /// INVITE, or an ACK. Other methods are ignored.
    pub fn handle_request(&mut self, now: Instant, request: rsip::Request) {
        use ServerInviteState::*;
        match request.method {
            rsip::Method::Invite => match self.state {
                Proceeding => {
                    if let Some(provisional) = &self.last_provisional {
                        self.out.send(provisional.clone());
                    }
                }
                Completed => {
                    if let Some(response) = &self.final_response {
                        self.out.send(response.clone());
                    }
                }
                // Accepted: RFC 6026 absorbs them, the TU retransmits the
                // 2xx on its own schedule. Confirmed: the ACK came, so this
                // is a stale copy.
                Accepted | Confirmed | Terminated => {}
            },
            rsip::Method::Ack if self.ack_matches(&request) => match self.state {
                Completed => {
                    self.timer_g = None;
                    self.timer_h = None;
                    self.state = Confirmed;
                    let timer_i = self.timers.t4_or_zero(self.reliable);
                    if timer_i.is_zero() {
                        self.terminate();
                    } else {
                        self.linger = Some(now + timer_i);
                    }
                }
                Accepted => self.out.tell(TxEvent::Request(request)),
                // Confirmed absorbs retransmitted ACKs; an ACK in
                // Proceeding acknowledges nothing we sent.
                Proceeding | Confirmed | Terminated => {}
            },
            _ => {}
        }
    }

    /// The shell could not send a response of this transaction: the TU
    /// hears [`TxEvent::TransportError`]; the state does not change (see
    /// the module documentation).
    pub fn handle_transport_error(&mut self, _now: Instant) {
        if !self.is_terminated() {
            self.out.tell(TxEvent::TransportError);
        }
    }

    /// Fire the timers that are due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        use ServerInviteState::*;
        match self.state {
            Proceeding => {
                if due(self.trying_at, now) {
                    self.trying_at = None;
                    let trying = build::trying_for(&self.request);
                    self.out.send(trying.clone());
                    self.last_provisional = Some(trying);
                }
            }
            Completed if due(self.timer_h, now) => {
                // The ACK never came (§17.2.1).
                self.out.tell(TxEvent::Timeout);
                self.terminate();
            }
            Completed => {
                if let Some(timer_g) = &mut self.timer_g
                    && timer_g.at <= now
                {
                    timer_g.rearm(now, self.timers.backoff_capped(timer_g.interval));
                    if let Some(response) = &self.final_response {
                        self.out.send(response.clone());
                    }
                }
            }
            Confirmed | Accepted if due(self.linger, now) => self.terminate(),
            Confirmed | Accepted | Terminated => {}
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

    /// When [`handle_timeout`](ServerInvite::handle_timeout) must be called
    /// next; `None` once terminated.
    pub fn poll_timeout(&self) -> Option<Instant> {
        earliest([
            self.trying_at,
            self.timer_g.map(|t| t.at),
            self.timer_h,
            self.linger,
        ])
    }

    /// RFC 3261 §17.2.3: an ACK from an RFC 3261 element matched by branch
    /// already; one from an RFC 2543 element must also carry the To tag of
    /// the response it acknowledges.
    fn ack_matches(&self, ack: &rsip::Request) -> bool {
        if !self.rfc2543 {
            return true;
        }
        let Some(response) = &self.final_response else {
            return false;
        };
        matches!((to_tag(ack), to_tag(response)), (Ok(a), Ok(r)) if a == r)
    }

    fn terminate(&mut self) {
        self.trying_at = None;
        self.timer_g = None;
        self.timer_h = None;
        self.linger = None;
        self.state = ServerInviteState::Terminated;
        self.out.tell(TxEvent::Terminated);
    }
}
