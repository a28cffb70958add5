//! Each call's progress, as the call itself reports it: `Started`,
//! `Answered`, `Ended`, in order, one event each, published by the SIP
//! driver the moment the call machine changes phase. Consumers (today
//! `webhook`) subscribe to a `tokio::sync::broadcast` bus.
//!
//! Unlike the live view (`live`, a `watch` of snapshots that skips
//! intermediate states), nothing is coalesced here: a call that starts and
//! ends between two looks still yields three events. The bus is bounded: a
//! receiver more than [`CAPACITY`] events behind loses the oldest ones and
//! is told how many (`RecvError::Lagged`); a consumer must log that count,
//! never ignore it. Publishing never blocks and never fails, with or without
//! receivers, so a slow consumer cannot slow the SIP driver.

use shared::api::LiveCall;
use tokio::sync::broadcast;

/// Events a receiver may fall behind by before it loses any. A call makes
/// three events; 4096 is over 1300 calls' worth. The webhook consumer only
/// spawns a delivery task per event, so it drains the bus far faster than
/// calls can start (the call_load bench reached ≈435 calls/s, about 1300
/// events/s), and overflow would take a stall of seconds in its task.
pub const CAPACITY: usize = 4096;

/// Where a call is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallProgress {
    /// The call exists (outbound: the agent's INVITE was accepted for
    /// routing; inbound: the carrier's INVITE was accepted).
    Started,
    /// Someone answered (outbound: the carrier's 2xx; inbound: an agent).
    Answered,
    /// The call is over; its record (`record_id`) is written just after.
    Ended,
}

/// One step of one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallEvent {
    pub kind: CallProgress,
    /// Unix milliseconds when it happened.
    pub at_ms: i64,
    /// The call as the live view shows it at that moment.
    pub call: LiveCall,
    /// The id of the `CallRecord` this call writes when it ends.
    pub record_id: String,
}

/// The bus; cheap to clone (one shared channel).
#[derive(Debug, Clone)]
pub struct CallEvents {
    tx: broadcast::Sender<CallEvent>,
}

impl Default for CallEvents {
    fn default() -> Self {
        CallEvents::new(CAPACITY)
    }
}

impl CallEvents {
    /// A bus whose receivers may each be `capacity` events behind (at
    /// least 1).
    pub fn new(capacity: usize) -> Self {
        let (tx, _) = broadcast::channel(capacity.max(1));
        CallEvents { tx }
    }

    /// Sends `event` to every receiver subscribed now. Never blocks; with no
    /// receiver the event is dropped, which is what "nobody listens" means.
    pub fn publish(&self, event: CallEvent) {
        // `send` fails only when there is no receiver.
        let _ = self.tx.send(event);
    }

    /// A receiver of every event published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<CallEvent> {
        self.tx.subscribe()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use shared::api::{CallDirection, LiveCallState};
    use tokio::sync::broadcast::error::RecvError;

    use super::*;

    fn event(kind: CallProgress, id: &str) -> CallEvent {
        CallEvent {
            kind,
            at_ms: 1,
            call: LiveCall {
                id: id.to_owned(),
                direction: CallDirection::Outbound,
                agent: Some("demo".to_owned()),
                caller_id: None,
                dialled: "+14155550100".to_owned(),
                carrier_id: None,
                carrier: None,
                state: LiveCallState::Ringing,
                since_ms: 1,
            },
            record_id: id.to_owned(),
        }
    }

    #[tokio::test]
    async fn every_event_reaches_every_receiver_in_order() {
        let bus = CallEvents::new(16);
        // No receiver: dropped, no error, no block.
        bus.publish(event(CallProgress::Started, "lost"));
        let mut a = bus.subscribe();
        let mut b = bus.clone().subscribe();
        for kind in [
            CallProgress::Started,
            CallProgress::Answered,
            CallProgress::Ended,
        ] {
            bus.publish(event(kind, "x"));
        }
        for rx in [&mut a, &mut b] {
            for kind in [
                CallProgress::Started,
                CallProgress::Answered,
                CallProgress::Ended,
            ] {
                assert_eq!(rx.recv().await.unwrap(), event(kind, "x"));
            }
        }
    }

    #[tokio::test]
    async fn a_receiver_that_falls_behind_is_told_how_many_it_lost() {
        let bus = CallEvents::new(2);
        let mut rx = bus.subscribe();
        for i in 0..5 {
            bus.publish(event(CallProgress::Started, &i.to_string()));
        }
        assert!(matches!(rx.recv().await, Err(RecvError::Lagged(3))));
        assert_eq!(rx.recv().await.unwrap().call.id, "3");
    }
}
