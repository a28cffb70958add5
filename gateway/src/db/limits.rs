//! What the daily limits count (`crate::limits`): the stored call records'
//! estimated cost and international seconds since a moment, per agent, per
//! campaign or for all calls; and the limits an admin saved.

use shared::api::FraudLimits;
use sqlx::Row;

use super::{Db, DbError};

/// Who a total is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    Agent,
    Campaign,
    Gateway,
}

/// What a total adds up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    /// Estimated cost, 1/10000 of the carriers' currency.
    Spend,
    /// Seconds of calls to a country other than `home`.
    InternationalSeconds,
}

/// One total: `id` and `name` of the agent or campaign (`None`/empty for
/// the gateway).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Total {
    pub id: Option<i64>,
    pub name: String,
    pub amount: i64,
}

/// Totals since `since_ms` of at least `at_least`, per `group`; `only`
/// narrows an agent or campaign group to one id. `home`: the country whose
/// calls are not international.
pub async fn totals(
    db: &Db,
    group: Group,
    measure: Measure,
    since_ms: i64,
    only: Option<i64>,
    at_least: i64,
    home: &str,
) -> Result<Vec<Total>, DbError> {
    let amount = match measure {
        Measure::Spend => "COALESCE(SUM(c.estimated_cost), 0)",
        Measure::InternationalSeconds => "COALESCE(SUM(c.duration_s), 0)",
    };
    // Every query names ?1 to ?4 (SQLite wants each bound one used).
    let which = match measure {
        Measure::Spend => "?4 IS NOT NULL",
        Measure::InternationalSeconds => {
            "c.destination_country IS NOT NULL AND c.destination_country <> ?4"
        }
    };
    let (select, join, id, grouping) = match group {
        Group::Agent => (
            "c.account_id AS id, a.username AS name",
            "JOIN accounts a ON a.id = c.account_id",
            "c.account_id",
            "GROUP BY c.account_id",
        ),
        Group::Campaign => (
            "c.campaign_id AS id, k.name AS name",
            "JOIN campaigns k ON k.id = c.campaign_id",
            "c.campaign_id",
            "GROUP BY c.campaign_id",
        ),
        Group::Gateway => ("NULL AS id, '' AS name", "", "?2", ""),
    };
    let sql = format!(
        "SELECT id, name, amount FROM (
             SELECT {select}, {amount} AS amount FROM call_records c {join}
             WHERE c.invite_at >= ?1 AND {which} AND (?2 IS NULL OR {id} = ?2) {grouping}
         ) WHERE amount >= ?3"
    );
    let rows = sqlx::query(&sql)
        .bind(since_ms)
        .bind(only)
        .bind(at_least)
        .bind(home)
        .fetch_all(db)
        .await?;
    rows.iter()
        .map(|r| {
            Ok(Total {
                id: r.try_get("id")?,
                name: r.try_get::<Option<String>, _>("name")?.unwrap_or_default(),
                amount: r.try_get("amount")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(DbError::from)
}

const LIMITS_KEY: &str = "fraud_limits";

/// The limits an admin saved (`None`: never saved, the flags rule).
pub async fn saved_limits(db: &Db) -> Result<Option<FraudLimits>, DbError> {
    let value: Option<String> = sqlx::query_scalar("SELECT value FROM settings WHERE key = ?")
        .bind(LIMITS_KEY)
        .fetch_optional(db)
        .await?;
    // A value this version cannot read (written by a newer one) is
    // ignored rather than stopping the gateway: the flags rule then.
    Ok(value.and_then(|v| serde_json::from_str(&v).ok()))
}

pub async fn save_limits(db: &Db, limits: &FraudLimits) -> Result<(), DbError> {
    let value =
        serde_json::to_string(limits).map_err(|e| DbError::Sql(sqlx::Error::Encode(e.into())))?;
    sqlx::query(
        "INSERT INTO settings (key, value) VALUES (?, ?)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )
    .bind(LIMITS_KEY)
    .bind(value)
    .execute(db)
    .await?;
    Ok(())
}
