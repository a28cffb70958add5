//! Turns the DIDs and ring groups in the database into the routing table the
//! SIP core looks inbound calls up in (`sip::dids`). Run at start and after
//! every change to DIDs, ring groups or carriers through the API.
//!
//! Enabled DIDs only. A DID routed to an agent keeps ringing that agent even
//! when the account is disabled: the core answers 480 when nobody is
//! registered, as for an agent who is away. A DID whose agent or group was
//! deleted is refused with 480 rather than left out, so that the carrier
//! hears "temporarily unavailable" and not "no such number".

use shared::ids::{AccountId, CarrierId};
use std::collections::HashMap;
use std::time::Duration;

use shared::api::{DidRoute, RingStrategy};

use crate::db::{self, Db, DbError};
use crate::http::AppState;
use crate::sip::dids::{self as core_dids, Did, DidTarget};
use crate::transport::CoreInput;

/// What a DID whose agent or group is gone answers.
const TARGET_GONE: u16 = 480;

/// The enabled DIDs as the SIP core needs them.
pub async fn dids(db: &Db) -> Result<Vec<Did>, DbError> {
    let records = db::enabled_dids(db).await?;
    let groups: HashMap<i64, shared::api::RingGroup> =
        if records.iter().any(|r| r.did.route == DidRoute::Group) {
            db::ring_groups(db)
                .await?
                .into_iter()
                .map(|g| (g.id, g))
                .collect()
        } else {
            HashMap::new()
        };
    let gone = DidTarget::Reject { code: TARGET_GONE };
    Ok(records
        .into_iter()
        .map(|record| {
            let d = record.did;
            let target = match d.route {
                DidRoute::Agent => match (record.account_id, d.agent) {
                    (Some(account_id), Some(username)) => DidTarget::Agent {
                        account_id: AccountId(account_id),
                        username,
                    },
                    _ => gone.clone(),
                },
                DidRoute::Group => match d.group_id.and_then(|id| groups.get(&id)) {
                    Some(g) => DidTarget::Group {
                        name: g.name.clone(),
                        strategy: match g.strategy {
                            RingStrategy::All => core_dids::RingStrategy::All,
                            RingStrategy::InOrder => core_dids::RingStrategy::InOrder,
                        },
                        members: g.members.clone(),
                        member_timeout: Duration::from_secs(u64::from(g.member_timeout_s)),
                        fallback_code: g.fallback_code,
                    },
                    None => gone.clone(),
                },
                DidRoute::Reject => DidTarget::Reject {
                    // The API and the schema never store a reject route
                    // without its code.
                    code: d.reject_code.unwrap_or(TARGET_GONE),
                },
            };
            Did {
                number: d.number,
                label: d.label,
                carrier_id: d.carrier_id.map(CarrierId),
                target,
            }
        })
        .collect())
}

/// Reloads the DIDs into the running SIP core.
pub async fn reload(state: &AppState) -> Result<(), DbError> {
    let dids = dids(&state.db).await?;
    state.sip.send(CoreInput::Dids(dids)).await;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use shared::api::{CarrierInput, Role};

    use super::*;
    use crate::db::{NewDid, NewRingGroup, StoredTarget};

    async fn test_db() -> (Db, std::path::PathBuf) {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("gw-dids-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite://{}", dir.join("gateway.db").display());
        (db::open(&url).await.unwrap(), dir)
    }

    fn did(number: &str, target: StoredTarget) -> NewDid {
        NewDid {
            number: number.to_owned(),
            label: format!("line {number}"),
            carrier_id: None,
            target,
            enabled: true,
        }
    }

    #[tokio::test]
    async fn dids_resolve_agents_groups_and_rejections() {
        let (db, dir) = test_db().await;
        let alice = db::insert_account(&db, "alice", "Alice", Role::Agent, "x", 0)
            .await
            .unwrap();
        let bob = db::insert_account(&db, "bob", "Bob", Role::Agent, "x", 0)
            .await
            .unwrap();
        let carrier = CarrierInput {
            name: "Trunk".to_owned(),
            host: "192.0.2.1".to_owned(),
            port: 5060,
            transport: shared::api::SipTransport::Udp,
            username: None,
            secret: None,
            from_user: None,
            from_domain: None,
            caller_id: None,
            codecs: vec!["PCMU".to_owned()],
            priority: 10,
            number_format: shared::api::NumberFormat::E164,
            tech_prefix: String::new(),
            enabled: true,
            inbound_sources: vec!["192.0.2.0/24".to_owned()],
            inbound_number_from: shared::api::InboundNumberFrom::To,
            realm: None,
            weight: 1,
            max_channels: None,
            register: false,
            register_expiry_s: 3600,
            qualify: true,
            qualify_interval_s: 30,
            tls_ca: None,
            srtp: Default::default(),
        };
        let carrier_id = db::insert_carrier(&db, &carrier, false, 0)
            .await
            .unwrap()
            .unwrap();
        let group = db::insert_ring_group(
            &db,
            &NewRingGroup {
                name: "Sales".to_owned(),
                strategy: shared::api::RingStrategy::InOrder,
                member_timeout_s: 15,
                fallback_code: Some(486),
                members: vec![bob, alice],
            },
            0,
        )
        .await
        .unwrap()
        .unwrap();
        let gone_group = db::insert_ring_group(
            &db,
            &NewRingGroup {
                name: "Gone".to_owned(),
                strategy: shared::api::RingStrategy::All,
                member_timeout_s: 20,
                fallback_code: None,
                members: vec![],
            },
            0,
        )
        .await
        .unwrap()
        .unwrap();
        let mut agent = did("+14155550101", StoredTarget::Agent(alice));
        agent.carrier_id = Some(carrier_id);
        db::insert_did(&db, &agent, 0).await.unwrap().unwrap();
        db::insert_did(&db, &did("+14155550102", StoredTarget::Group(group)), 0)
            .await
            .unwrap()
            .unwrap();
        db::insert_did(&db, &did("+14155550103", StoredTarget::Reject(603)), 0)
            .await
            .unwrap()
            .unwrap();
        db::insert_did(
            &db,
            &did("+14155550104", StoredTarget::Group(gone_group)),
            0,
        )
        .await
        .unwrap()
        .unwrap();
        let mut disabled = did("+14155550105", StoredTarget::Agent(bob));
        disabled.enabled = false;
        db::insert_did(&db, &disabled, 0).await.unwrap().unwrap();
        assert!(db::delete_ring_group(&db, gone_group).await.unwrap());

        let got = dids(&db).await.unwrap();
        assert_eq!(
            got,
            vec![
                Did {
                    number: "+14155550101".to_owned(),
                    label: "line +14155550101".to_owned(),
                    carrier_id: Some(CarrierId(carrier_id)),
                    target: DidTarget::Agent {
                        account_id: AccountId(alice),
                        username: "alice".to_owned()
                    },
                },
                Did {
                    number: "+14155550102".to_owned(),
                    label: "line +14155550102".to_owned(),
                    carrier_id: None,
                    target: DidTarget::Group {
                        name: "Sales".to_owned(),
                        strategy: core_dids::RingStrategy::InOrder,
                        members: vec!["bob".to_owned(), "alice".to_owned()],
                        member_timeout: Duration::from_secs(15),
                        fallback_code: Some(486),
                    },
                },
                Did {
                    number: "+14155550103".to_owned(),
                    label: "line +14155550103".to_owned(),
                    carrier_id: None,
                    target: DidTarget::Reject { code: 603 },
                },
                // Its group was deleted.
                Did {
                    number: "+14155550104".to_owned(),
                    label: "line +14155550104".to_owned(),
                    carrier_id: None,
                    target: DidTarget::Reject { code: 480 },
                },
            ]
        );
        drop(db);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn first_start_seeds_the_demo_did() {
        let (db, dir) = test_db().await;
        let seeded = db::seed_if_empty(&db, &dir, 0).await.unwrap();
        assert!(seeded.is_some());
        let got = dids(&db).await.unwrap();
        let demo_carrier = db::carriers(&db)
            .await
            .unwrap()
            .into_iter()
            .find(|c| c.carrier.is_demo)
            .unwrap();
        let demo = db::account_by_username(&db, "demo").await.unwrap().unwrap();
        assert_eq!(
            got,
            vec![Did {
                number: db::DEMO_DID.to_owned(),
                label: "Demo line".to_owned(),
                carrier_id: Some(CarrierId(demo_carrier.carrier.id)),
                target: DidTarget::Agent {
                    account_id: AccountId(demo.id),
                    username: "demo".to_owned()
                },
            }]
        );
        // Only on a fresh database.
        assert!(db::seed_if_empty(&db, &dir, 0).await.unwrap().is_none());
        assert_eq!(dids(&db).await.unwrap().len(), 1);
        drop(db);
        let _ = std::fs::remove_dir_all(dir);
    }
}
