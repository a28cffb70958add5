//! Alerts for admins (the Security page, the `alert.raised` webhook).

use shared::api::Alert;
use sqlx::Row;

use super::{Db, DbError};

/// Alerts kept; older ones are deleted as new ones come.
const KEEP: i64 = 1000;

/// Stores an alert; returns it with its id.
pub async fn insert_alert(
    db: &Db,
    at: i64,
    kind: &str,
    agent: Option<&str>,
    message: &str,
) -> Result<Alert, DbError> {
    let id = sqlx::query("INSERT INTO alerts (at, kind, agent, message) VALUES (?, ?, ?, ?)")
        .bind(at)
        .bind(kind)
        .bind(agent)
        .bind(message)
        .execute(db)
        .await?
        .last_insert_rowid();
    sqlx::query("DELETE FROM alerts WHERE id <= ?")
        .bind(id - KEEP)
        .execute(db)
        .await?;
    Ok(Alert {
        id,
        at,
        kind: kind.to_owned(),
        agent: agent.map(str::to_owned),
        message: message.to_owned(),
    })
}

/// The newest `limit` alerts, newest first.
pub async fn recent_alerts(db: &Db, limit: i64) -> Result<Vec<Alert>, DbError> {
    let rows =
        sqlx::query("SELECT id, at, kind, agent, message FROM alerts ORDER BY id DESC LIMIT ?")
            .bind(limit)
            .fetch_all(db)
            .await?;
    rows.iter()
        .map(|r| {
            Ok(Alert {
                id: r.try_get("id")?,
                at: r.try_get("at")?,
                kind: r.try_get("kind")?,
                agent: r.try_get("agent")?,
                message: r.try_get("message")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(DbError::from)
}

/// Numbers answered outbound calls went to since `since_ms` (at most
/// `limit` distinct ones): the fraud watch's known destinations.
pub async fn answered_destinations(
    db: &Db,
    since_ms: i64,
    limit: i64,
) -> Result<Vec<String>, DbError> {
    let rows = sqlx::query(
        "SELECT DISTINCT dialled FROM call_records
         WHERE direction = 'outbound' AND answered_at IS NOT NULL AND invite_at >= ? LIMIT ?",
    )
    .bind(since_ms)
    .bind(limit)
    .fetch_all(db)
    .await?;
    rows.iter()
        .map(|r| r.try_get("dialled"))
        .collect::<Result<_, sqlx::Error>>()
        .map_err(DbError::from)
}

/// Outbound calls since `since_ms`, counted by local hour of the day
/// (UTC plus `offset_min`).
pub async fn outbound_calls_by_hour(
    db: &Db,
    since_ms: i64,
    offset_min: i64,
) -> Result<[i64; 24], DbError> {
    let rows = sqlx::query(
        "SELECT ((invite_at / 60000 + ?) % 1440 + 1440) % 1440 / 60 AS hour, COUNT(*) AS n
         FROM call_records WHERE direction = 'outbound' AND invite_at >= ? GROUP BY hour",
    )
    .bind(offset_min)
    .bind(since_ms)
    .fetch_all(db)
    .await?;
    let mut by_hour = [0i64; 24];
    for r in &rows {
        let hour: i64 = r.try_get("hour")?;
        let n: i64 = r.try_get("n")?;
        if let Some(slot) = usize::try_from(hour).ok().and_then(|h| by_hour.get_mut(h)) {
            *slot = n;
        }
    }
    Ok(by_hour)
}
