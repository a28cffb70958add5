//! DIDs (our numbers, and where their calls ring) and ring groups.

use shared::api::{Did, DidRoute, RingGroup, RingStrategy};
use sqlx::Row;

use super::{Db, DbError, UpdateOutcome};

/// Where a DID rings, as stored (targets by id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoredTarget {
    /// An account id.
    Agent(i64),
    /// A ring group id.
    Group(i64),
    /// A SIP status, 400..=699.
    Reject(u16),
}

/// A validated DID, ready to be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDid {
    /// E.164, with `+`.
    pub number: String,
    pub label: String,
    pub carrier_id: Option<i64>,
    pub target: StoredTarget,
    pub enabled: bool,
}

/// A DID with its agent's account id, for the SIP core.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DidRecord {
    pub did: Did,
    pub account_id: Option<i64>,
}

const DID_SELECT: &str = "SELECT d.id, d.number, d.label, d.carrier_id, d.route, d.account_id, \
     a.username, d.group_id, g.name AS group_name, d.reject_code, d.enabled, d.created_at \
     FROM dids d LEFT JOIN accounts a ON a.id = d.account_id \
     LEFT JOIN ring_groups g ON g.id = d.group_id";

fn did_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<DidRecord, sqlx::Error> {
    let route = match row.try_get::<&str, _>("route")? {
        "group" => DidRoute::Group,
        "reject" => DidRoute::Reject,
        // The schema's CHECK constraint allows nothing else.
        _ => DidRoute::Agent,
    };
    let reject_code: Option<i64> = row.try_get("reject_code")?;
    Ok(DidRecord {
        did: Did {
            id: row.try_get("id")?,
            number: row.try_get("number")?,
            label: row.try_get("label")?,
            carrier_id: row.try_get("carrier_id")?,
            route,
            agent: row.try_get("username")?,
            group_id: row.try_get("group_id")?,
            group: row.try_get("group_name")?,
            // The schema's CHECK constraint keeps it in 400..=699.
            reject_code: reject_code.and_then(|c| u16::try_from(c).ok()),
            enabled: row.try_get("enabled")?,
            created_at: row.try_get("created_at")?,
        },
        account_id: row.try_get("account_id")?,
    })
}

type Query<'q> = sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>>;

/// Binds what INSERT and UPDATE write, in this order: number, label,
/// carrier_id, route, account_id, group_id, reject_code.
fn bind_did<'q>(query: Query<'q>, did: &'q NewDid) -> Query<'q> {
    let (route, account_id, group_id, reject_code) = match did.target {
        StoredTarget::Agent(id) => ("agent", Some(id), None, None),
        StoredTarget::Group(id) => ("group", None, Some(id), None),
        StoredTarget::Reject(code) => ("reject", None, None, Some(i64::from(code))),
    };
    query
        .bind(&did.number)
        .bind(&did.label)
        .bind(did.carrier_id)
        .bind(route)
        .bind(account_id)
        .bind(group_id)
        .bind(reject_code)
}

const INSERT_DID: &str = "INSERT INTO dids (number, label, carrier_id, route, account_id, \
     group_id, reject_code, enabled, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)";

/// DIDs ordered by number, after `after` (the last number of the previous
/// page).
pub async fn dids_page(db: &Db, after: Option<&str>, limit: i64) -> Result<Vec<Did>, DbError> {
    let rows = sqlx::query(&format!(
        "{DID_SELECT} WHERE d.number > ? ORDER BY d.number LIMIT ?"
    ))
    .bind(after.unwrap_or(""))
    .bind(limit)
    .fetch_all(db)
    .await?;
    rows.iter()
        .map(|r| did_from_row(r).map(|d| d.did))
        .collect::<Result<_, _>>()
        .map_err(DbError::from)
}

/// The enabled DIDs, for the SIP core.
pub async fn enabled_dids(db: &Db) -> Result<Vec<DidRecord>, DbError> {
    let rows = sqlx::query(&format!(
        "{DID_SELECT} WHERE d.enabled = 1 ORDER BY d.number"
    ))
    .fetch_all(db)
    .await?;
    rows.iter()
        .map(did_from_row)
        .collect::<Result<_, _>>()
        .map_err(DbError::from)
}

pub async fn did(db: &Db, id: i64) -> Result<Option<Did>, DbError> {
    let row = sqlx::query(&format!("{DID_SELECT} WHERE d.id = ?"))
        .bind(id)
        .fetch_optional(db)
        .await?;
    Ok(row.as_ref().map(did_from_row).transpose()?.map(|d| d.did))
}

/// Whether `number` (exactly as stored) is one of our DIDs.
pub async fn did_number_exists(db: &Db, number: &str) -> Result<bool, DbError> {
    let found: Option<i64> = sqlx::query_scalar("SELECT id FROM dids WHERE number = ?")
        .bind(number)
        .fetch_optional(db)
        .await?;
    Ok(found.is_some())
}

/// Inserts a DID (already validated); `None` when the number is taken.
pub async fn insert_did(db: &Db, did: &NewDid, now: i64) -> Result<Option<i64>, DbError> {
    let result = bind_did(sqlx::query(INSERT_DID), did)
        .bind(did.enabled)
        .bind(now)
        .execute(db)
        .await;
    match result {
        Ok(r) => Ok(Some(r.last_insert_rowid())),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Replaces a DID's settings; `NameTaken` when another DID has the number.
pub async fn update_did(db: &Db, id: i64, did: &NewDid) -> Result<UpdateOutcome, DbError> {
    let result = bind_did(
        sqlx::query(
            "UPDATE dids SET number = ?, label = ?, carrier_id = ?, route = ?, account_id = ?,
                 group_id = ?, reject_code = ?, enabled = ?
             WHERE id = ?",
        ),
        did,
    )
    .bind(did.enabled)
    .bind(id)
    .execute(db)
    .await;
    match result {
        Ok(r) if r.rows_affected() == 0 => Ok(UpdateOutcome::NotFound),
        Ok(_) => Ok(UpdateOutcome::Updated),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Ok(UpdateOutcome::NameTaken),
        Err(e) => Err(e.into()),
    }
}

/// Deletes a DID; false when there was none.
pub async fn delete_did(db: &Db, id: i64) -> Result<bool, DbError> {
    let r = sqlx::query("DELETE FROM dids WHERE id = ?")
        .bind(id)
        .execute(db)
        .await?;
    Ok(r.rows_affected() > 0)
}

/// Inserts or updates (by number) many DIDs in one transaction; an existing
/// DID keeps its `enabled` flag. Returns (created, updated).
pub async fn upsert_dids(db: &Db, dids: &[NewDid], now: i64) -> Result<(u32, u32), DbError> {
    let upsert = format!(
        "{INSERT_DID} ON CONFLICT (number) DO UPDATE SET label = excluded.label,
             carrier_id = excluded.carrier_id, route = excluded.route,
             account_id = excluded.account_id, group_id = excluded.group_id,
             reject_code = excluded.reject_code"
    );
    let mut tx = db.begin().await?;
    let (mut created, mut updated) = (0, 0);
    for did in dids {
        let existing: Option<i64> = sqlx::query_scalar("SELECT id FROM dids WHERE number = ?")
            .bind(&did.number)
            .fetch_optional(&mut *tx)
            .await?;
        bind_did(sqlx::query(&upsert), did)
            .bind(did.enabled)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        if existing.is_some() {
            updated += 1;
        } else {
            created += 1;
        }
    }
    tx.commit().await?;
    Ok((created, updated))
}

/// A validated ring group, ready to be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRingGroup {
    pub name: String,
    pub strategy: RingStrategy,
    pub member_timeout_s: u32,
    pub fallback_code: Option<u16>,
    /// Account ids, in ringing order.
    pub members: Vec<i64>,
}

fn strategy_str(s: RingStrategy) -> &'static str {
    match s {
        RingStrategy::All => "all",
        RingStrategy::InOrder => "in_order",
    }
}

/// Ring groups with `id > after`, by id, with their members.
pub async fn ring_groups_page(
    db: &Db,
    after: Option<i64>,
    limit: i64,
) -> Result<Vec<RingGroup>, DbError> {
    let after = after.unwrap_or(0);
    let rows = sqlx::query(
        "SELECT id, name, strategy, member_timeout_s, fallback_code, created_at
         FROM ring_groups WHERE id > ? ORDER BY id LIMIT ?",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(db)
    .await?;
    let mut groups = rows
        .iter()
        .map(group_from_row)
        .collect::<Result<Vec<_>, _>>()?;
    let members = sqlx::query(
        "SELECT m.group_id, a.username FROM ring_group_members m
         JOIN accounts a ON a.id = m.account_id
         WHERE m.group_id IN (SELECT id FROM ring_groups WHERE id > ? ORDER BY id LIMIT ?)
         ORDER BY m.group_id, m.position",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(db)
    .await?;
    for row in &members {
        let group_id: i64 = row.try_get("group_id")?;
        if let Some(group) = groups.iter_mut().find(|g| g.id == group_id) {
            group.members.push(row.try_get("username")?);
        }
    }
    Ok(groups)
}

/// Every ring group, by id.
pub async fn ring_groups(db: &Db) -> Result<Vec<RingGroup>, DbError> {
    ring_groups_page(db, None, i64::MAX).await
}

pub async fn ring_group(db: &Db, id: i64) -> Result<Option<RingGroup>, DbError> {
    let Some(row) = sqlx::query(
        "SELECT id, name, strategy, member_timeout_s, fallback_code, created_at
         FROM ring_groups WHERE id = ?",
    )
    .bind(id)
    .fetch_optional(db)
    .await?
    else {
        return Ok(None);
    };
    let mut group = group_from_row(&row)?;
    group.members = sqlx::query_scalar(
        "SELECT a.username FROM ring_group_members m JOIN accounts a ON a.id = m.account_id
         WHERE m.group_id = ? ORDER BY m.position",
    )
    .bind(id)
    .fetch_all(db)
    .await?;
    Ok(Some(group))
}

fn group_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<RingGroup, sqlx::Error> {
    let timeout: i64 = row.try_get("member_timeout_s")?;
    let fallback: Option<i64> = row.try_get("fallback_code")?;
    Ok(RingGroup {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        strategy: match row.try_get::<&str, _>("strategy")? {
            "in_order" => RingStrategy::InOrder,
            // The schema's CHECK constraint allows nothing else.
            _ => RingStrategy::All,
        },
        // The schema's CHECK constraints keep both in range.
        member_timeout_s: u32::try_from(timeout).unwrap_or(20),
        fallback_code: fallback.and_then(|c| u16::try_from(c).ok()),
        members: Vec::new(),
        created_at: row.try_get("created_at")?,
    })
}

async fn replace_members(
    tx: &mut sqlx::SqliteConnection,
    group_id: i64,
    members: &[i64],
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM ring_group_members WHERE group_id = ?")
        .bind(group_id)
        .execute(&mut *tx)
        .await?;
    for (position, account_id) in members.iter().enumerate() {
        sqlx::query(
            "INSERT INTO ring_group_members (group_id, account_id, position) VALUES (?, ?, ?)",
        )
        .bind(group_id)
        .bind(account_id)
        .bind(i64::try_from(position).unwrap_or(i64::MAX))
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

/// Inserts a ring group (already validated); `None` when the name is taken.
pub async fn insert_ring_group(
    db: &Db,
    group: &NewRingGroup,
    now: i64,
) -> Result<Option<i64>, DbError> {
    let mut tx = db.begin().await?;
    let result = sqlx::query(
        "INSERT INTO ring_groups (name, strategy, member_timeout_s, fallback_code, created_at)
         VALUES (?, ?, ?, ?, ?)",
    )
    .bind(&group.name)
    .bind(strategy_str(group.strategy))
    .bind(i64::from(group.member_timeout_s))
    .bind(group.fallback_code.map(i64::from))
    .bind(now)
    .execute(&mut *tx)
    .await;
    let id = match result {
        Ok(r) => r.last_insert_rowid(),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    replace_members(&mut tx, id, &group.members).await?;
    tx.commit().await?;
    Ok(Some(id))
}

/// Replaces a ring group's settings and members.
pub async fn update_ring_group(
    db: &Db,
    id: i64,
    group: &NewRingGroup,
) -> Result<UpdateOutcome, DbError> {
    let mut tx = db.begin().await?;
    let result = sqlx::query(
        "UPDATE ring_groups SET name = ?, strategy = ?, member_timeout_s = ?, fallback_code = ?
         WHERE id = ?",
    )
    .bind(&group.name)
    .bind(strategy_str(group.strategy))
    .bind(i64::from(group.member_timeout_s))
    .bind(group.fallback_code.map(i64::from))
    .bind(id)
    .execute(&mut *tx)
    .await;
    match result {
        Ok(r) if r.rows_affected() == 0 => return Ok(UpdateOutcome::NotFound),
        Ok(_) => {}
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            return Ok(UpdateOutcome::NameTaken);
        }
        Err(e) => return Err(e.into()),
    }
    replace_members(&mut tx, id, &group.members).await?;
    tx.commit().await?;
    Ok(UpdateOutcome::Updated)
}

/// Deletes a ring group (its DIDs are left without a target); false when
/// there was none.
pub async fn delete_ring_group(db: &Db, id: i64) -> Result<bool, DbError> {
    let r = sqlx::query("DELETE FROM ring_groups WHERE id = ?")
        .bind(id)
        .execute(db)
        .await?;
    Ok(r.rows_affected() > 0)
}
