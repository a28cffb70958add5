//! `calls_in_progress`: each call's record so far, so that a gateway killed
//! mid-call can still record it at its next start (`crate::records`).

use super::{Db, DbError};

/// Writes (or replaces) a call's record so far.
pub async fn upsert_in_progress(db: &Db, id: &str, record: &str, now: i64) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO calls_in_progress (id, record, seen_at) VALUES (?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET record = excluded.record, seen_at = excluded.seen_at",
    )
    .bind(id)
    .bind(record)
    .bind(now)
    .execute(db)
    .await?;
    Ok(())
}

/// The call's final record is stored: it is no longer in progress.
pub async fn delete_in_progress(db: &Db, id: &str) -> Result<(), DbError> {
    sqlx::query("DELETE FROM calls_in_progress WHERE id = ?")
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// The gateway is still running at `now` (the calls in progress too).
pub async fn touch_in_progress(db: &Db, now: i64) -> Result<(), DbError> {
    sqlx::query("UPDATE calls_in_progress SET seen_at = ?")
        .bind(now)
        .execute(db)
        .await?;
    Ok(())
}

/// At start: the calls a previous run left in progress whose final record
/// never came (record JSON, last seen), oldest first. Rows whose record was
/// stored after all are cleared.
pub async fn interrupted_calls(db: &Db) -> Result<Vec<(String, i64)>, DbError> {
    sqlx::query("DELETE FROM calls_in_progress WHERE id IN (SELECT id FROM call_records)")
        .execute(db)
        .await?;
    let rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT record, seen_at FROM calls_in_progress ORDER BY seen_at, id")
            .fetch_all(db)
            .await?;
    Ok(rows)
}
