//! The alerts bus: each alert, once stored, goes to its subscribers (the
//! webhook sends it as `alert.raised`). Like [`crate::call_events`], it is
//! a bounded `tokio::sync::broadcast`: publishing never blocks the SIP
//! driver, and a consumer that falls behind is told how many it lost.

use shared::api::Alert;
use tokio::sync::broadcast;

const CAPACITY: usize = 256;

#[derive(Debug, Clone)]
pub struct Alerts {
    tx: broadcast::Sender<Alert>,
}

impl Default for Alerts {
    fn default() -> Self {
        Alerts {
            tx: broadcast::channel(CAPACITY).0,
        }
    }
}

impl Alerts {
    pub fn publish(&self, alert: Alert) {
        // No subscriber (no webhook task yet) is not an error.
        let _ = self.tx.send(alert);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Alert> {
        self.tx.subscribe()
    }
}
