//! The calls in progress, for `GET /api/v1/live` and channel counts.
//!
//! One `watch` channel holds the whole list: the SIP driver publishes (a
//! call rang, was answered, held, ended), every viewer gets the latest
//! snapshot. A viewer that falls behind skips intermediate snapshots
//! instead of queueing them, which is what a live view wants; a `watch`
//! also never blocks the publisher, so the SIP driver cannot be slowed by a
//! slow browser.

use std::sync::Arc;

use shared::api::LiveCall;
use tokio::sync::watch;

/// The live-call registry; cheap to clone (one shared channel).
#[derive(Clone)]
pub struct LiveCalls {
    tx: Arc<watch::Sender<Vec<LiveCall>>>,
}

impl Default for LiveCalls {
    fn default() -> Self {
        LiveCalls::new()
    }
}

impl LiveCalls {
    pub fn new() -> Self {
        let (tx, _) = watch::channel(Vec::new());
        LiveCalls { tx: Arc::new(tx) }
    }

    /// Replaces the whole list.
    pub fn publish(&self, calls: Vec<LiveCall>) {
        self.tx.send_replace(calls);
    }

    /// Adds a call, or replaces the one with the same id.
    pub fn upsert(&self, call: LiveCall) {
        self.tx
            .send_modify(|calls| match calls.iter_mut().find(|c| c.id == call.id) {
                Some(existing) => *existing = call,
                None => calls.push(call),
            });
    }

    /// Removes a call that ended.
    pub fn remove(&self, id: &str) {
        self.tx.send_if_modified(|calls| {
            let before = calls.len();
            calls.retain(|c| c.id != id);
            calls.len() != before
        });
    }

    /// The calls now.
    pub fn snapshot(&self) -> Vec<LiveCall> {
        self.tx.borrow().clone()
    }

    /// A receiver that sees the current list and every later change.
    pub fn subscribe(&self) -> watch::Receiver<Vec<LiveCall>> {
        self.tx.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use shared::api::{CallDirection, LiveCallState};

    use super::*;

    fn call(id: &str, state: LiveCallState) -> LiveCall {
        LiveCall {
            id: id.to_owned(),
            direction: CallDirection::Outbound,
            agent: Some("demo".to_owned()),
            caller_id: None,
            dialled: "+14155550100".to_owned(),
            carrier_id: Some(shared::ids::CarrierId(1)),
            carrier: Some("Trunk".to_owned()),
            state,
            since_ms: 0,
        }
    }

    #[test]
    fn upsert_replaces_by_id_and_remove_drops() {
        let live = LiveCalls::new();
        let mut rx = live.subscribe();
        live.upsert(call("a", LiveCallState::Ringing));
        live.upsert(call("b", LiveCallState::Ringing));
        live.upsert(call("a", LiveCallState::Connected));
        assert!(rx.has_changed().unwrap_or(false));
        let now = rx.borrow_and_update().clone();
        assert_eq!(now.len(), 2);
        assert_eq!(now[0].state, LiveCallState::Connected);
        live.remove("zzz");
        assert!(!rx.has_changed().unwrap_or(true));
        live.remove("a");
        assert_eq!(live.snapshot(), vec![call("b", LiveCallState::Ringing)]);
    }
}
