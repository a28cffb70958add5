//! The INVITE client transaction (RFC 3261 §17.1.1, as RFC 6026
//! corrects it).
//!
//! ```text
//!                               | new(): INVITE sent
//!                               V
//!                        +-------------+  Timer A (UDP only): INVITE
//!                        |   Calling   |<--+ resent, interval doubled
//!                        |             |---+ (no T2 cap for INVITE)
//!                        +-------------+
//!                 1xx: to TU  |      \
//!                             V       \ 2xx: to TU
//!    1xx: to TU        +-------------+ \
//!    +---------------->| Proceeding  |  \
//!    +-----------------|             |   \
//!                      +-------------+    \
//!    300-699 (from Calling    |    \ 2xx:  \
//!    too): ACK sent, to TU    |     \ to TU V
//!                             V      +--> +-------------+  2xx: to TU
//!    300-699:          +-------------+    |  Accepted   |<--+ (RFC 6026)
//!    ACK resent    +-->|  Completed  |    |             |---+
//!                  +---|             |    +-------------+
//!                      +-------------+           |
//!                    Timer D  |                  | Timer M
//!                             V                  V
//!                      +--------------------------------+
//!                      |           Terminated           |
//!                      +--------------------------------+
//!        also entered on: Timer B in Calling (Timeout to TU); the §9.1
//!        CANCEL deadline in Calling or Proceeding (Timeout to TU); a
//!        transport error in Calling, Proceeding or Completed
//!        (TransportError to TU)
//! ```
//!
//! The 2xx is passed up and never acknowledged here: its ACK is a request
//! of the dialog (§13.2.2.4), with a branch of its own, which the TU sends
//! for the first 2xx and again for every retransmission that this
//! transaction passes up while Accepted.

use super::build::ack_for_non_2xx;
use super::{Class, Instant, Outbox, Retransmit, Timers, TxEvent, class, due, earliest};

/// Where an INVITE client transaction is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientInviteState {
    /// The INVITE was sent; no response yet.
    Calling,
    /// A provisional response arrived.
    Proceeding,
    /// A 300–699 response arrived and was acknowledged; absorbing its
    /// retransmissions (timer D).
    Completed,
    /// A 2xx arrived; passing further 2xx up to the TU (timer M, RFC 6026).
    Accepted,
    /// Done; drain and drop.
    Terminated,
}

/// An INVITE client transaction. See the module documentation.
#[derive(Debug)]
pub struct ClientInvite {
    request: rsip::Request,
    reliable: bool,
    timers: Timers,
    state: ClientInviteState,
    /// Timer A; only on unreliable transports, only in Calling.
    timer_a: Option<Retransmit>,
    /// Timer B; only in Calling.
    timer_b: Option<Instant>,
    /// Timer D in Completed, timer M in Accepted.
    linger: Option<Instant>,
    /// RFC 3261 §9.1: once the TU has sent a CANCEL, a final response is
    /// awaited for 64·T1 at most.
    cancel_deadline: Option<Instant>,
    /// The ACK sent for the non-2xx final response, resent for each of its
    /// retransmissions.
    ack: Option<rsip::Request>,
    out: Outbox,
}

impl ClientInvite {
    /// Start the transaction: the INVITE is ready in
    /// [`poll_transmit`](ClientInvite::poll_transmit) at once. `reliable`
    /// is the transport's [`is_reliable`](crate::sip::Transport::is_reliable):
    /// over a reliable transport nothing is retransmitted.
    pub fn new(now: Instant, request: rsip::Request, reliable: bool, timers: Timers) -> Self {
        debug_assert_eq!(request.method, rsip::Method::Invite);
        let mut out = Outbox::default();
        out.send(request.clone());
        ClientInvite {
            timer_a: (!reliable).then(|| Retransmit::start(now, timers.t1)),
            timer_b: Some(now + timers.transaction_timeout()),
            linger: None,
            cancel_deadline: None,
            ack: None,
            state: ClientInviteState::Calling,
            request,
            reliable,
            timers,
            out,
        }
    }

    /// The INVITE this transaction sends.
    pub fn request(&self) -> &rsip::Request {
        &self.request
    }

    pub fn state(&self) -> ClientInviteState {
        self.state
    }

    pub fn is_terminated(&self) -> bool {
        self.state == ClientInviteState::Terminated
    }

    /// A response matched to this transaction (by
    /// [`TransactionKey::for_response`](super::TransactionKey::for_response)).
    ///
    /// A 300–699 response whose To header is missing is ignored: it could
    /// not be acknowledged, and [`inbound`](crate::sip::inbound()) lets no
    /// such response through anyway.
    pub fn handle_response(&mut self, now: Instant, response: rsip::Response) {
        use ClientInviteState::*;
        match (self.state, class(response.status_code.code())) {
            (Calling | Proceeding, Class::Provisional) => {
                // The server has the INVITE: stop retransmitting, and stop
                // timer B, which RFC 3261 runs in Calling only. From here
                // on only a final response, or the TU's CANCEL, ends this.
                self.state = Proceeding;
                self.timer_a = None;
                self.timer_b = None;
                self.out.tell(TxEvent::Response(response));
            }
            (Calling | Proceeding, Class::Success) => {
                self.stop_waiting();
                self.state = Accepted;
                self.linger = Some(now + self.timers.transaction_timeout());
                self.out.tell(TxEvent::Response(response));
            }
            (Calling | Proceeding, Class::Failure) => {
                let Ok(ack) = ack_for_non_2xx(&self.request, &response) else {
                    return;
                };
                self.stop_waiting();
                self.state = Completed;
                self.out.send(ack.clone());
                self.ack = Some(ack);
                self.out.tell(TxEvent::Response(response));
                let timer_d = self.timers.d(self.reliable);
                if timer_d.is_zero() {
                    self.terminate();
                } else {
                    self.linger = Some(now + timer_d);
                }
            }
            (Completed, Class::Failure) => {
                // A retransmission: our ACK was lost. Not for the TU.
                if let Some(ack) = &self.ack {
                    self.out.send(ack.clone());
                }
            }
            (Accepted, Class::Success) => {
                // A retransmission, or another fork's 2xx: the TU ACKs each.
                self.out.tell(TxEvent::Response(response));
            }
            _ => {}
        }
    }

    /// The TU has sent a CANCEL for this INVITE. RFC 3261 §9.1: if no final
    /// response arrives within 64·T1, the transaction is given up
    /// ([`TxEvent::Timeout`]), as the far end may never answer.
    pub fn handle_cancel_sent(&mut self, now: Instant) {
        if matches!(
            self.state,
            ClientInviteState::Calling | ClientInviteState::Proceeding
        ) && self.cancel_deadline.is_none()
        {
            self.cancel_deadline = Some(now + self.timers.transaction_timeout());
        }
    }

    /// The shell could not send a message of this transaction (RFC 3261
    /// §17.1.4, §18.4): the TU hears [`TxEvent::TransportError`] and the
    /// transaction ends. In Accepted nothing of ours is in flight, so it is
    /// ignored there.
    pub fn handle_transport_error(&mut self, _now: Instant) {
        use ClientInviteState::*;
        if matches!(self.state, Calling | Proceeding | Completed) {
            self.out.tell(TxEvent::TransportError);
            self.terminate();
        }
    }

    /// Fire the timers that are due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        use ClientInviteState::*;
        // Timers that end the transaction go first: a shell that woke late
        // must not retransmit into a transaction that has timed out.
        if (self.state == Calling && due(self.timer_b, now))
            || (matches!(self.state, Calling | Proceeding) && due(self.cancel_deadline, now))
        {
            self.out.tell(TxEvent::Timeout);
            self.terminate();
            return;
        }
        if matches!(self.state, Completed | Accepted) && due(self.linger, now) {
            self.terminate();
            return;
        }
        if let Some(timer_a) = &mut self.timer_a
            && self.state == Calling
            && timer_a.at <= now
        {
            // §17.1.1.2: intervals double without limit (T1, 2·T1, 4·T1…),
            // unlike timer E; timer B ends it after 7 transmissions.
            timer_a.rearm(now, timer_a.interval * 2);
            self.out.send(self.request.clone());
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

    /// When [`handle_timeout`](ClientInvite::handle_timeout) must be called
    /// next; `None` once terminated.
    pub fn poll_timeout(&self) -> Option<Instant> {
        earliest([
            self.timer_a.map(|t| t.at),
            self.timer_b,
            self.linger,
            self.cancel_deadline,
        ])
    }

    /// A final response arrived: no more retransmissions or timeouts.
    fn stop_waiting(&mut self) {
        self.timer_a = None;
        self.timer_b = None;
        self.cancel_deadline = None;
    }

    fn terminate(&mut self) {
        self.stop_waiting();
        self.linger = None;
        self.state = ClientInviteState::Terminated;
        self.out.tell(TxEvent::Terminated);
    }
}
