//! Per-carrier quality rows (hour and day buckets, `crate::quality::Bucket`
//! as JSON), updated as each call record is stored; the worst calls; the
//! carriers' alert thresholds.

use shared::api::{CallRecord, QualityBucket, QualityThreshold, WorstCall};
use shared::ids::CarrierId;
use sqlx::Row;

use super::{Db, DbError};
use crate::quality::{self, Bucket, RecordFigures};

/// One stored bucket row.
#[derive(Debug, Clone, PartialEq)]
pub struct BucketRow {
    pub carrier_id: CarrierId,
    pub carrier: String,
    pub bucket_start: i64,
    pub figures: Bucket,
}

/// Adds a just-stored record to its carrier's hour and day rows, and each
/// carrier it failed over from to theirs (a failed attempt). Each row is
/// read, added to and written back in one transaction.
pub async fn record_carrier_quality(db: &Db, record: &CallRecord) -> Result<(), DbError> {
    let at_s = record.invite_at.div_euclid(1000);
    let mut updates: Vec<(i64, String, RecordFigures)> = Vec::new();
    if let (Some(id), Some(name)) = (record.carrier_id, &record.carrier) {
        updates.push((id.0, name.clone(), quality::record_figures(record)));
    }
    for attempt in &record.attempts {
        let Some(id) = attempt.carrier_id else {
            continue;
        };
        // The final carrier's attempt is the record itself.
        if Some(id) == record.carrier_id {
            continue;
        }
        updates.push((
            id.0,
            attempt.carrier.clone(),
            quality::attempt_figures(attempt.code),
        ));
    }
    if updates.is_empty() {
        return Ok(());
    }
    let mut tx = db.begin().await?;
    for (carrier_id, carrier, figures) in updates {
        for bucket in [QualityBucket::Hour, QualityBucket::Day] {
            let start = quality::bucket_start(at_s, bucket.seconds());
            let old: Option<String> = sqlx::query_scalar(
                "SELECT figures FROM carrier_quality
                 WHERE carrier_id = ? AND bucket = ? AND bucket_start = ?",
            )
            .bind(carrier_id)
            .bind(bucket.as_str())
            .bind(start)
            .fetch_optional(&mut *tx)
            .await?;
            let mut row: Bucket = old
                .and_then(|json| serde_json::from_str(&json).ok())
                .unwrap_or_default();
            row.add(&figures);
            let json = serde_json::to_string(&row).map_err(|e| DbError::Other(e.to_string()))?;
            sqlx::query(
                "INSERT INTO carrier_quality (carrier_id, bucket, bucket_start, carrier, figures)
                 VALUES (?, ?, ?, ?, ?)
                 ON CONFLICT (carrier_id, bucket, bucket_start)
                 DO UPDATE SET figures = excluded.figures, carrier = excluded.carrier",
            )
            .bind(carrier_id)
            .bind(bucket.as_str())
            .bind(start)
            .bind(&carrier)
            .bind(json)
            .execute(&mut *tx)
            .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// The rows of `bucket` starting in [`from_s`, `to_s`), oldest first.
pub async fn carrier_quality_rows(
    db: &Db,
    bucket: QualityBucket,
    from_s: i64,
    to_s: i64,
) -> Result<Vec<BucketRow>, DbError> {
    let rows = sqlx::query(
        "SELECT carrier_id, carrier, bucket_start, figures FROM carrier_quality
         WHERE bucket = ? AND bucket_start >= ? AND bucket_start < ?
         ORDER BY bucket_start, carrier_id",
    )
    .bind(bucket.as_str())
    .bind(from_s)
    .bind(to_s)
    .fetch_all(db)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(BucketRow {
                carrier_id: CarrierId(r.try_get("carrier_id")?),
                carrier: r.try_get("carrier")?,
                bucket_start: r.try_get("bucket_start")?,
                figures: serde_json::from_str(r.try_get::<&str, _>("figures")?).unwrap_or_default(),
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(DbError::from)
}

/// The calls with the lowest carrier-leg MOS begun in [`from_ms`, `to_ms`).
pub async fn worst_calls(
    db: &Db,
    from_ms: i64,
    to_ms: i64,
    limit: i64,
) -> Result<Vec<WorstCall>, DbError> {
    let rows = sqlx::query(
        "SELECT id, carrier_id, carrier, dialled, invite_at, duration_s, carrier_mos,
                carrier_loss, carrier_jitter_ms
         FROM call_records
         WHERE carrier_mos IS NOT NULL AND invite_at >= ? AND invite_at < ?
         ORDER BY carrier_mos, invite_at DESC LIMIT ?",
    )
    .bind(from_ms)
    .bind(to_ms)
    .bind(limit)
    .fetch_all(db)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(WorstCall {
                record_id: r.try_get("id")?,
                carrier_id: r.try_get("carrier_id")?,
                carrier: r.try_get("carrier")?,
                dialled: r.try_get("dialled")?,
                invite_at: r.try_get("invite_at")?,
                duration_s: r.try_get("duration_s")?,
                mos: r.try_get("carrier_mos")?,
                loss_percent: r.try_get::<Option<f64>, _>("carrier_loss")?.unwrap_or(0.0),
                jitter_ms: r
                    .try_get::<Option<f64>, _>("carrier_jitter_ms")?
                    .unwrap_or(0.0),
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(DbError::from)
}

/// Every carrier's threshold that has one.
pub async fn quality_thresholds(db: &Db) -> Result<Vec<(CarrierId, QualityThreshold)>, DbError> {
    let rows =
        sqlx::query("SELECT carrier_id, min_mos, min_asr, min_calls FROM quality_thresholds")
            .fetch_all(db)
            .await?;
    rows.iter()
        .map(|r| {
            Ok((
                CarrierId(r.try_get("carrier_id")?),
                QualityThreshold {
                    min_mos: r.try_get("min_mos")?,
                    min_asr: r.try_get("min_asr")?,
                    min_calls: r.try_get("min_calls")?,
                },
            ))
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(DbError::from)
}

/// Sets a carrier's threshold (kept when the carrier row is not checked:
/// the caller checks the carrier exists).
pub async fn set_quality_threshold(
    db: &Db,
    carrier_id: i64,
    t: &QualityThreshold,
) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO quality_thresholds (carrier_id, min_mos, min_asr, min_calls)
         VALUES (?, ?, ?, ?)
         ON CONFLICT (carrier_id) DO UPDATE SET min_mos = excluded.min_mos,
             min_asr = excluded.min_asr, min_calls = excluded.min_calls",
    )
    .bind(carrier_id)
    .bind(t.min_mos)
    .bind(t.min_asr)
    .bind(t.min_calls)
    .execute(db)
    .await?;
    Ok(())
}

/// Marks `hour_s` as alerted for the carrier; `false` if it already was
/// (one alert per carrier and hour).
pub async fn claim_quality_alert(db: &Db, carrier_id: i64, hour_s: i64) -> Result<bool, DbError> {
    let done = sqlx::query(
        "UPDATE quality_thresholds SET alerted_hour = ?1
         WHERE carrier_id = ?2 AND (alerted_hour IS NULL OR alerted_hour <> ?1)",
    )
    .bind(hour_s)
    .bind(carrier_id)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// After a record of carrier `record.carrier_id` is stored: the alert text
/// if that carrier has a threshold its recent calls cross (the hour rows of
/// the current and the previous clock hour, so a full hour is always
/// judged), claimed so that each carrier alerts at most once an hour.
pub async fn quality_alert(
    db: &Db,
    record: &CallRecord,
    now_s: i64,
) -> Result<Option<String>, DbError> {
    let (Some(carrier_id), Some(name)) = (record.carrier_id, &record.carrier) else {
        return Ok(None);
    };
    let threshold = quality_thresholds(db)
        .await?
        .into_iter()
        .find(|(id, _)| *id == carrier_id);
    let Some((_, threshold)) = threshold else {
        return Ok(None);
    };
    let hour = quality::bucket_start(now_s, 3600);
    let mut recent = Bucket::default();
    for row in carrier_quality_rows(db, QualityBucket::Hour, hour - 3600, hour + 3600).await? {
        if row.carrier_id == carrier_id {
            recent.merge(&row.figures);
        }
    }
    let Some(why) = quality::breach(name, &threshold, &recent.figures()) else {
        return Ok(None);
    };
    Ok(claim_quality_alert(db, carrier_id.0, hour)
        .await?
        .then_some(why))
}
