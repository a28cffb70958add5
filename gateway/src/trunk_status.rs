//! The last [`TrunkStatus`] of every carrier, as the SIP driver saw it: the
//! driver writes (`transport`), the HTTP layer reads (the carrier page).
//! Beside it, how each carrier's host name resolved ([`DnsStatus`]), written
//! by every carrier reload (`crate::carriers::push`): a carrier whose name
//! does not resolve is shown as down with the reason, not left out.
//! A `std::sync::RwLock`: writes are rare (a status change), reads short,
//! and nobody holds it across an `.await`.

use shared::ids::CarrierId;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use serde::Serialize;

use crate::sip::trunks::TrunkStatus;

/// How a carrier's host name resolved (RFC 3263, `crate::dns`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DnsStatus {
    #[serde(skip)]
    pub carrier_id: CarrierId,
    pub state: DnsState,
    /// The records used: `SRV _sip._udp.carrier.example (via NAPTR)` or
    /// `A/AAAA carrier.example`; empty when it failed.
    pub via: String,
    /// Each address, in SRV priority order, with its target's name,
    /// priority and weight.
    pub targets: Vec<String>,
    /// When the name is looked up again (Unix ms): its TTL, or a retry.
    pub next_lookup_ms: i64,
    /// Why the last lookup failed.
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DnsState {
    Resolved,
    /// The last lookup failed; the previous answer's addresses are used.
    Stale,
    /// No address: calls skip the carrier and the page shows it down.
    Failed,
}

/// Cheap to clone (an `Arc`), so it can sit in axum state.
#[derive(Debug, Clone, Default)]
pub struct TrunkStatuses {
    inner: Arc<RwLock<Maps>>,
}

#[derive(Debug, Default)]
struct Maps {
    /// As the SIP core reported them (`dns` always `None`).
    trunks: HashMap<CarrierId, TrunkStatus>,
    dns: HashMap<CarrierId, DnsStatus>,
}

impl TrunkStatuses {
    pub fn new() -> Self {
        Self::default()
    }

    /// The status of one carrier; `None` when nothing is watched there
    /// (qualify and registration both off and an IP address for a host, or
    /// an unknown carrier).
    pub fn get(&self, carrier_id: CarrierId) -> Option<TrunkStatus> {
        let maps = self.read();
        merged(&maps, carrier_id)
    }

    /// Every carrier's status, by carrier id.
    pub fn all(&self) -> Vec<TrunkStatus> {
        let maps = self.read();
        let mut ids: Vec<CarrierId> = maps.trunks.keys().chain(maps.dns.keys()).copied().collect();
        ids.sort();
        ids.dedup();
        ids.into_iter().filter_map(|id| merged(&maps, id)).collect()
    }

    /// Stores a new status from the SIP core; one with nothing watched
    /// removes the carrier. Returns the status it replaced (without DNS).
    pub fn set(&self, mut status: TrunkStatus) -> Option<TrunkStatus> {
        status.dns = None;
        let mut maps = self.write();
        if status.qualify.is_none() && status.registration.is_none() {
            maps.trunks.remove(&status.carrier_id)
        } else {
            maps.trunks.insert(status.carrier_id, status)
        }
    }

    /// Replaces every carrier's DNS state (carriers not listed have an IP
    /// address for a host, or are gone).
    pub fn set_dns(&self, statuses: Vec<DnsStatus>) {
        self.write().dns = statuses.into_iter().map(|s| (s.carrier_id, s)).collect();
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Maps> {
        // As `read`: each write replaces whole entries.
        self.inner
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Maps> {
        // A writer that panicked left a whole map behind (each write is one
        // insert or remove): still worth reading.
        self.inner
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The core's status with the DNS state beside it.
fn merged(maps: &Maps, carrier_id: CarrierId) -> Option<TrunkStatus> {
    let dns = maps.dns.get(&carrier_id).cloned();
    match maps.trunks.get(&carrier_id) {
        Some(trunk) => Some(TrunkStatus {
            dns,
            ..trunk.clone()
        }),
        None => dns.map(|dns| TrunkStatus {
            carrier_id,
            qualify: None,
            registration: None,
            dns: Some(dns),
        }),
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
            dns: None,
        };
        assert_eq!(statuses.set(up.clone()), None);
        assert_eq!(shared.get(CarrierId(7)), Some(up.clone()));
        assert_eq!(shared.all(), vec![up.clone()]);
        let off = TrunkStatus {
            carrier_id: CarrierId(7),
            qualify: None,
            registration: None,
            dns: None,
        };
        assert_eq!(statuses.set(off), Some(up));
        assert_eq!(shared.get(CarrierId(7)), None);
        assert!(shared.all().is_empty());
    }

    #[test]
    fn a_name_that_does_not_resolve_is_listed_with_its_reason() {
        let statuses = TrunkStatuses::new();
        let failed = DnsStatus {
            carrier_id: CarrierId(3),
            state: DnsState::Failed,
            via: String::new(),
            targets: Vec::new(),
            next_lookup_ms: 30_000,
            last_error: Some("sip.gone.test: no such host (NXDOMAIN)".into()),
        };
        statuses.set_dns(vec![failed.clone()]);
        let all = statuses.all();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].carrier_id, CarrierId(3));
        assert_eq!(all[0].dns, Some(failed.clone()));
        let json = serde_json::to_value(&all[0]).expect("serializes");
        assert_eq!(json["dns"]["state"], "failed");
        assert_eq!(
            json["dns"]["last_error"],
            "sip.gone.test: no such host (NXDOMAIN)"
        );
        // The core's own status keeps the DNS state beside it.
        let watched = TrunkStatus {
            carrier_id: CarrierId(3),
            qualify: None,
            registration: Some(crate::sip::trunks::RegistrationStatus {
                state: crate::sip::trunks::TrunkRegistrationState::Failed,
                expires_at_ms: None,
                last_error: None,
            }),
            dns: None,
        };
        statuses.set(watched);
        assert_eq!(statuses.get(CarrierId(3)).and_then(|s| s.dns), Some(failed));
        statuses.set_dns(Vec::new());
        assert_eq!(statuses.get(CarrierId(3)).and_then(|s| s.dns), None);
    }
}
