//! `/api/v1/quality`: per-carrier quality over time (the hour and day rows
//! `db::record_carrier_quality` keeps as records are stored), the worst
//! calls, channel sizing, and each carrier's alert threshold.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use shared::api::{
    CarrierQuality, CarrierQualitySummary, QualityBucket, QualityReport, QualityThreshold,
};
use shared::ids::CarrierId;
use std::collections::BTreeMap;

use super::carriers::{peak_concurrency, recommended_channels};
use super::params::path_id;
use super::roles::{Admin, Reader};
use super::{AppError, AppState};
use crate::db;
use crate::quality::{Bucket, Figures};

/// The longest range one request may cover (a year of days).
const MAX_RANGE_S: i64 = 366 * 86_400;
/// Worst calls listed.
const WORST_CALLS: i64 = 20;

/// `from`/`to` in Unix seconds (default: the last 24 hours), `bucket`
/// `hour` (default) or `day`; all as text so an error names its field.
#[derive(Debug, Default, Deserialize)]
pub struct QualityQuery {
    pub from: Option<String>,
    pub to: Option<String>,
    pub bucket: Option<String>,
}

fn bad(field: &str, message: impl Into<String>) -> AppError {
    AppError::BadRequest {
        code: "invalid_field",
        message: message.into(),
        field: Some(field.to_owned()),
    }
}

fn seconds(field: &str, v: &Option<String>) -> Result<Option<i64>, AppError> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<i64>()
                .map_err(|_| bad(field, format!("{field} must be Unix seconds.")))
        })
        .transpose()
}

fn row(carrier_id: CarrierId, carrier: &str, start: i64, f: &Figures) -> CarrierQuality {
    CarrierQuality {
        carrier_id,
        carrier: carrier.to_owned(),
        bucket_start: start,
        calls: f.calls,
        answered: f.answered,
        asr: f.asr,
        ner: f.ner,
        acd_s: f.acd_s,
        minutes: f.minutes,
        pdd_p50_ms: f.pdd_p50_ms,
        pdd_p95_ms: f.pdd_p95_ms,
        loss_avg: f.loss_avg,
        loss_p95: f.loss_p95,
        jitter_avg_ms: f.jitter_avg_ms,
        mos_avg: f.mos_avg,
        media_calls: f.media_calls,
    }
}

/// `GET /api/v1/quality/carriers`: every carrier's rows over the range,
/// each carrier summed over it with its distributions, channel sizing
/// (peak × 1.2 against its limit) and threshold, and the worst calls.
pub async fn carriers(
    State(state): State<AppState>,
    _: Reader,
    query: Result<Query<QualityQuery>, QueryRejection>,
) -> Result<Json<QualityReport>, AppError> {
    let Query(q) = query.map_err(|r| AppError::BadRequest {
        code: "invalid_field",
        message: r.body_text(),
        field: None,
    })?;
    let bucket = match q.bucket.as_deref().map(str::trim) {
        None | Some("") => QualityBucket::Hour,
        Some(b) => QualityBucket::parse(b)
            .ok_or_else(|| bad("bucket", "bucket must be \"hour\" or \"day\"."))?,
    };
    let now = crate::transport::now().unix;
    let to = seconds("to", &q.to)?.unwrap_or(now + 1);
    let from = seconds("from", &q.from)?.unwrap_or(to - 86_400);
    if from >= to {
        return Err(bad("from", "from must be before to."));
    }
    if to - from > MAX_RANGE_S {
        return Err(bad("from", "The range may cover at most 366 days."));
    }
    // Rows whose bucket holds `from` count too.
    let first = crate::quality::bucket_start(from, bucket.seconds());
    let rows = db::carrier_quality_rows(&state.db, bucket, first, to).await?;
    let mut per_carrier: BTreeMap<i64, (String, Bucket)> = BTreeMap::new();
    let mut out_rows = Vec::with_capacity(rows.len());
    for r in &rows {
        out_rows.push(row(
            r.carrier_id,
            &r.carrier,
            r.bucket_start,
            &r.figures.figures(),
        ));
        let entry = per_carrier
            .entry(r.carrier_id.0)
            .or_insert_with(|| (r.carrier.clone(), Bucket::default()));
        entry.1.merge(&r.figures);
    }
    let thresholds = db::quality_thresholds(&state.db).await?;
    let carriers = db::carriers(&state.db).await?;
    // Every configured carrier is listed, with or without calls.
    for c in &carriers {
        per_carrier
            .entry(c.carrier.id)
            .or_insert_with(|| (c.carrier.name.clone(), Bucket::default()));
    }
    let mut summaries = Vec::with_capacity(per_carrier.len());
    for (id, (name, sums)) in per_carrier {
        let f = sums.figures();
        let spans = db::carrier_call_spans_since(&state.db, id, from * 1000).await?;
        let peak = peak_concurrency(
            spans
                .iter()
                .filter(|s| s.start < to * 1000)
                .enumerate()
                .map(|(i, s)| (s.start, s.end.min(to * 1000), i)),
        );
        let config = carriers.iter().find(|c| c.carrier.id == id);
        summaries.push(CarrierQualitySummary {
            carrier_id: CarrierId(id),
            carrier: config.map_or(name, |c| c.carrier.name.clone()),
            calls: f.calls,
            asr: f.asr,
            ner: f.ner,
            acd_s: f.acd_s,
            minutes: f.minutes,
            pdd_p50_ms: f.pdd_p50_ms,
            pdd_p95_ms: f.pdd_p95_ms,
            loss_avg: f.loss_avg,
            loss_p95: f.loss_p95,
            jitter_avg_ms: f.jitter_avg_ms,
            mos_avg: f.mos_avg,
            media_calls: f.media_calls,
            peak_concurrent: i64::from(peak),
            advised_channels: i64::from(recommended_channels(peak)),
            channel_limit: config.and_then(|c| c.carrier.max_channels).map(i64::from),
            loss_histogram: f.loss_histogram,
            mos_histogram: f.mos_histogram,
            threshold: thresholds
                .iter()
                .find(|(t, _)| t.0 == id)
                .map(|(_, t)| t.clone())
                .unwrap_or_default(),
        });
    }
    let worst_calls = db::worst_calls(&state.db, from * 1000, to * 1000, WORST_CALLS).await?;
    Ok(Json(QualityReport {
        bucket,
        from,
        to,
        rows: out_rows,
        worst_calls,
        carriers: summaries,
    }))
}

/// The body of `PUT /api/v1/quality/thresholds/{carrier_id}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThresholdInput {
    pub min_mos: Option<f64>,
    pub min_asr: Option<f64>,
    pub min_calls: Option<i64>,
}

/// `PUT /api/v1/quality/thresholds/{carrier_id}`: the carrier's alert
/// threshold over the last hour (MOS 1–4.5, ASR 0–100 %, at least
/// `min_calls` calls, 1–100000; default 5). `null`s turn a check off.
pub async fn set_threshold(
    State(state): State<AppState>,
    Admin(actor): Admin,
    path: Result<Path<i64>, PathRejection>,
    body: Result<Json<ThresholdInput>, JsonRejection>,
) -> Result<Json<QualityThreshold>, AppError> {
    let id = path_id(path)?;
    let Json(input) = body?;
    if let Some(m) = input.min_mos
        && !(1.0..=4.5).contains(&m)
    {
        return Err(bad("min_mos", "min_mos must be between 1 and 4.5."));
    }
    if let Some(a) = input.min_asr
        && !(0.0..=100.0).contains(&a)
    {
        return Err(bad("min_asr", "min_asr must be between 0 and 100."));
    }
    let min_calls = input.min_calls.unwrap_or(5);
    if !(1..=100_000).contains(&min_calls) {
        return Err(bad("min_calls", "min_calls must be between 1 and 100000."));
    }
    if db::carrier(&state.db, id).await?.is_none() {
        return Err(AppError::Missing { what: "carrier" });
    }
    let threshold = QualityThreshold {
        min_mos: input.min_mos,
        min_asr: input.min_asr,
        min_calls,
    };
    let old = db::quality_thresholds(&state.db)
        .await?
        .into_iter()
        .find(|(carrier, _)| carrier.0 == id)
        .map(|(_, t)| t);
    db::set_quality_threshold(&state.db, id, &threshold).await?;
    super::audit::record(
        &state,
        &actor,
        "update",
        "quality_threshold",
        id,
        old.as_ref(),
        Some(&threshold),
    )
    .await?;
    Ok(Json(threshold))
}
