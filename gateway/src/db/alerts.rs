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
