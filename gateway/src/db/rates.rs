//! Carriers' rate tables (`carrier_rates`) and the cost they put on calls.

use shared::rates::Rate;
use sqlx::Row;

use super::{Db, DbError};

/// Replaces carrier `carrier_id`'s whole rate table in one transaction.
/// `false` when there is no such carrier.
pub async fn replace_carrier_rates(
    db: &Db,
    carrier_id: i64,
    rates: &[Rate],
) -> Result<bool, DbError> {
    let mut tx = db.begin().await?;
    let exists = sqlx::query("SELECT 1 FROM carriers WHERE id = ?")
        .bind(carrier_id)
        .fetch_optional(&mut *tx)
        .await?
        .is_some();
    if !exists {
        return Ok(false);
    }
    sqlx::query("DELETE FROM carrier_rates WHERE carrier_id = ?")
        .bind(carrier_id)
        .execute(&mut *tx)
        .await?;
    for r in rates {
        sqlx::query(
            "INSERT INTO carrier_rates (carrier_id, prefix, price_per_minute, description)
             VALUES (?, ?, ?, ?)",
        )
        .bind(carrier_id)
        .bind(&r.prefix)
        .bind(r.price_per_minute)
        .bind(&r.description)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(true)
}

/// Carrier `carrier_id`'s rates, by prefix.
pub async fn carrier_rates(db: &Db, carrier_id: i64) -> Result<Vec<Rate>, DbError> {
    let rows = sqlx::query(
        "SELECT prefix, price_per_minute, description FROM carrier_rates
         WHERE carrier_id = ? ORDER BY prefix",
    )
    .bind(carrier_id)
    .fetch_all(db)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(Rate {
                prefix: row.try_get("prefix")?,
                price_per_minute: row.try_get("price_per_minute")?,
                description: row.try_get("description")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(DbError::from)
}

/// The price per minute of the longest prefix of `number` (E.164, `+`
/// optional) in carrier `carrier_id`'s table.
pub async fn rate_for(db: &Db, carrier_id: i64, number: &str) -> Result<Option<i64>, DbError> {
    let digits = number.strip_prefix('+').unwrap_or(number);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(None);
    }
    let price = sqlx::query_scalar::<_, i64>(
        "SELECT price_per_minute FROM carrier_rates
         WHERE carrier_id = ? AND prefix = substr(?, 1, length(prefix))
         ORDER BY length(prefix) DESC LIMIT 1",
    )
    .bind(carrier_id)
    .bind(digits)
    .fetch_optional(db)
    .await?;
    Ok(price)
}
