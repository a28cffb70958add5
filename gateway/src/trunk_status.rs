//! The last [`TrunkStatus`] of every carrier, as the SIP driver saw it: the
//! driver writes (`transport`), the HTTP layer reads (the carrier page).
//! A `std::sync::RwLock`: writes are rare (a status change), reads short,
//! and nobody holds it across an `.await`.

use shared::ids::CarrierId;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use crate::sip::trunks::TrunkStatus;

/// Cheap to clone (an `Arc`), so it can sit in axum state.
#[derive(Debug, Clone, Default)]
pub struct TrunkStatuses {
    inner: Arc<RwLock<HashMap<CarrierId, TrunkStatus>>>,
}

impl TrunkStatuses {
    pub fn new() -> Self {
        Self::default()
    }

    /// The status of one carrier; `None` when nothing is watched there
    /// (qualify and registration both off, or an unknown carrier).
    pub fn get(&self, carrier_id: CarrierId) -> Option<TrunkStatus> {
        self.read().get(&carrier_id).cloned()
    }

    /// Every carrier's status, by carrier id.
    pub fn all(&self) -> Vec<TrunkStatus> {
        let mut all: Vec<TrunkStatus> = self.read().values().cloned().collect();
        all.sort_by_key(|s| s.carrier_id);
        all
    }

    /// Stores a new status; one with nothing watched removes the carrier.
    /// Returns the status it replaced.
    pub fn set(&self, status: TrunkStatus) -> Option<TrunkStatus> {
        let mut map = self
            .inner
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if status.qualify.is_none() && status.registration.is_none() {
            map.remove(&status.carrier_id)
        } else {
            map.insert(status.carrier_id, status)
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<CarrierId, TrunkStatus>> {
        // A writer that panicked left a whole map behind (each write is one
        // insert or remove): still worth reading.
        self.inner
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::trunks::{QualifyState, QualifyStatus};

    #[test]
    fn statuses_are_stored_replaced_and_removed() {
        let statuses = TrunkStatuses::new();
        let shared = statuses.clone();
        let up = TrunkStatus {
            carrier_id: CarrierId(7),
            qualify: Some(QualifyStatus {
                state: QualifyState::Up,
                rtt_ms: Some(3),
                last_change_ms: Some(1),
                last_error: None,
            }),
            registration: None,
        };
        assert_eq!(statuses.set(up.clone()), None);
        assert_eq!(shared.get(CarrierId(7)), Some(up.clone()));
        assert_eq!(shared.all(), vec![up.clone()]);
        let off = TrunkStatus {
            carrier_id: CarrierId(7),
            qualify: None,
            registration: None,
        };
        assert_eq!(statuses.set(off), Some(up));
        assert_eq!(shared.get(CarrierId(7)), None);
        assert!(shared.all().is_empty());
    }
}
