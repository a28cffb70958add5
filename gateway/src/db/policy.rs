//! Destination policies (per role, per agent, per campaign) and the edited
//! high-risk prefix list. Policies are stored as the JSON of
//! `shared::policy::DestinationPolicy`, which the API validated before
//! writing; a row that no longer reads (a hand edit) is an error, never a
//! silently open policy.

use shared::api::Role;
use shared::destination::PrefixTable;
use shared::policy::DestinationPolicy;
use sqlx::Row;

use super::{Db, DbError, role_str};

/// Whose policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyOwner {
    /// The default for accounts of a role that have none of their own.
    Role(Role),
    /// An agent's own, in the place of its role's.
    Agent(i64),
    /// Applies, on top, to every agent of the campaign.
    Campaign(i64),
}

impl PolicyOwner {
    /// The key column and its value. Ids are bound as text: SQLite gives
    /// a value bound to an INTEGER column (or compared with one) integer
    /// affinity, so `'7'` is stored and matched as 7.
    fn column(self) -> (&'static str, String) {
        match self {
            PolicyOwner::Role(r) => ("role", role_str(r).to_owned()),
            PolicyOwner::Agent(id) => ("account_id", id.to_string()),
            PolicyOwner::Campaign(id) => ("campaign_id", id.to_string()),
        }
    }
}

fn read_policy(json: &str) -> Result<DestinationPolicy, DbError> {
    serde_json::from_str(json)
        .map_err(|e| DbError::Other(format!("a stored destination policy does not read: {e}")))
}

fn write_policy(policy: &DestinationPolicy) -> Result<String, DbError> {
    serde_json::to_string(policy)
        .map_err(|e| DbError::Other(format!("destination policy JSON: {e}")))
}

pub async fn destination_policy(
    db: &Db,
    owner: PolicyOwner,
) -> Result<Option<DestinationPolicy>, DbError> {
    let (column, key) = owner.column();
    let sql = format!("SELECT policy FROM destination_policies WHERE {column} = ?");
    let row: Option<String> = sqlx::query_scalar(&sql)
        .bind(key)
        .fetch_optional(db)
        .await?;
    row.as_deref().map(read_policy).transpose()
}

/// Stores `policy` for `owner`, replacing what it had. The agent or
/// campaign must exist (the caller checked; a foreign key refuses it
/// otherwise).
pub async fn set_destination_policy(
    db: &Db,
    owner: PolicyOwner,
    policy: &DestinationPolicy,
    now: i64,
) -> Result<(), DbError> {
    let (column, key) = owner.column();
    let sql = format!(
        "INSERT INTO destination_policies ({column}, policy, updated_at) VALUES (?, ?, ?)
         ON CONFLICT ({column}) DO UPDATE SET policy = excluded.policy,
         updated_at = excluded.updated_at"
    );
    sqlx::query(&sql)
        .bind(key)
        .bind(write_policy(policy)?)
        .bind(now)
        .execute(db)
        .await?;
    Ok(())
}

/// Removes `owner`'s policy; whether there was one.
pub async fn delete_destination_policy(db: &Db, owner: PolicyOwner) -> Result<bool, DbError> {
    let (column, key) = owner.column();
    let sql = format!("DELETE FROM destination_policies WHERE {column} = ?");
    let done = sqlx::query(&sql).bind(key).execute(db).await?;
    Ok(done.rows_affected() > 0)
}

/// The policies stored for an account, in the order they are checked: its
/// own or else its role's (else the default), then those of the campaigns
/// it dials for, by campaign id.
pub async fn account_policies(
    db: &Db,
    account_id: i64,
    role: Role,
) -> Result<Vec<DestinationPolicy>, DbError> {
    let own = match destination_policy(db, PolicyOwner::Agent(account_id)).await? {
        Some(p) => p,
        None => destination_policy(db, PolicyOwner::Role(role))
            .await?
            .unwrap_or_default(),
    };
    let rows = sqlx::query(
        "SELECT p.policy FROM campaign_agents a
         JOIN destination_policies p ON p.campaign_id = a.campaign_id
         WHERE a.account_id = ? ORDER BY a.campaign_id",
    )
    .bind(account_id)
    .fetch_all(db)
    .await?;
    let mut out = Vec::with_capacity(1 + rows.len());
    out.push(own);
    for row in rows {
        let json: String = row.try_get("policy")?;
        out.push(read_policy(&json)?);
    }
    Ok(out)
}

/// The edited prefix list, `None` when the shipped one is in force.
pub async fn prefix_list(db: &Db) -> Result<Option<PrefixTable>, DbError> {
    let json: Option<String> =
        sqlx::query_scalar("SELECT entries FROM high_risk_prefixes WHERE id = 1")
            .fetch_optional(db)
            .await?;
    json.map(|j| {
        serde_json::from_str(&j)
            .map_err(|e| DbError::Other(format!("the stored prefix list does not read: {e}")))
    })
    .transpose()
}

pub async fn set_prefix_list(db: &Db, table: &PrefixTable, now: i64) -> Result<(), DbError> {
    let json = serde_json::to_string(table)
        .map_err(|e| DbError::Other(format!("prefix list JSON: {e}")))?;
    sqlx::query(
        "INSERT INTO high_risk_prefixes (id, entries, updated_at) VALUES (1, ?, ?)
         ON CONFLICT (id) DO UPDATE SET entries = excluded.entries,
         updated_at = excluded.updated_at",
    )
    .bind(json)
    .bind(now)
    .execute(db)
    .await?;
    Ok(())
}

/// Back to the shipped list; whether an edited one was stored.
pub async fn delete_prefix_list(db: &Db) -> Result<bool, DbError> {
    let done = sqlx::query("DELETE FROM high_risk_prefixes WHERE id = 1")
        .execute(db)
        .await?;
    Ok(done.rows_affected() > 0)
}
