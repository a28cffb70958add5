//! The guard's bans, kept across restarts.

use std::net::IpAddr;

use sqlx::Row;

use super::{Db, DbError};
use crate::guard::{Ban, BanReason};

/// Stores a ban (a second ban of the same source replaces the first).
pub async fn store_ban(db: &Db, ban: &Ban) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO bans (ip, reason, detail, since, until, times) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT(ip) DO UPDATE SET reason = excluded.reason, detail = excluded.detail,
           since = excluded.since, until = excluded.until, times = excluded.times",
    )
    .bind(ban.ip.to_string())
    .bind(ban.reason.as_str())
    .bind(&ban.detail)
    .bind(ban.since)
    .bind(ban.until)
    .bind(i64::from(ban.times))
    .execute(db)
    .await?;
    Ok(())
}

pub async fn delete_ban(db: &Db, ip: IpAddr) -> Result<(), DbError> {
    sqlx::query("DELETE FROM bans WHERE ip = ?")
        .bind(ip.to_string())
        .execute(db)
        .await?;
    Ok(())
}

/// The bans still running at `now_unix`; the ones over are deleted.
pub async fn load_bans(db: &Db, now_unix: i64) -> Result<Vec<Ban>, DbError> {
    sqlx::query("DELETE FROM bans WHERE until <= ?")
        .bind(now_unix)
        .execute(db)
        .await?;
    let rows = sqlx::query("SELECT ip, reason, detail, since, until, times FROM bans")
        .fetch_all(db)
        .await?;
    let mut bans = Vec::with_capacity(rows.len());
    for r in &rows {
        let ip: String = r.try_get("ip")?;
        let reason: String = r.try_get("reason")?;
        // A row this version cannot read is skipped, not fatal.
        let (Ok(ip), Some(reason)) = (ip.parse::<IpAddr>(), BanReason::parse(&reason)) else {
            continue;
        };
        bans.push(Ban {
            ip,
            reason,
            detail: r.try_get("detail")?,
            since: r.try_get("since")?,
            until: r.try_get("until")?,
            times: u32::try_from(r.try_get::<i64, _>("times")?).unwrap_or(1),
            refused: 0,
        });
    }
    Ok(bans)
}
