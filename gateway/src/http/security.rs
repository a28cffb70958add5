//! `/api/v1/security/alerts`: what an admin should look at (an agent over
//! the velocity limit), newest first; the same go out as `alert.raised`.
//!
//! `/api/v1/security/settings` and `/security/limits`: the fraud limits
//! (`crate::limits`), which an admin may change, with the guard's settings
//! and today's counts.
//!
//! `/api/v1/security/bans`: the sources the guard banned (failed
//! authentications over SIP or the web, floods, scanners), for the
//! Security page; admins may ban a source by hand or lift a ban. The
//! guard itself lives in the SIP core (`crate::guard`); these handlers ask
//! it through the driver and read the list it publishes.

use std::net::{IpAddr, SocketAddr};

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use shared::api::{Alert, BanEntry, BanInput, FraudLimits, SecuritySettings};

use super::roles::Admin;
use super::{AppError, AppState, audit};
use crate::guard::Ban;
use crate::transport::CoreInput;

fn entry(ban: Ban) -> BanEntry {
    BanEntry {
        ip: ban.ip.to_string(),
        reason: ban.reason.as_str().to_owned(),
        detail: ban.detail,
        since: ban.since,
        until: ban.until,
        times: ban.times,
        refused: ban.refused,
    }
}

fn parse_ip(text: &str) -> Result<IpAddr, AppError> {
    text.trim().parse().map_err(|_| AppError::BadRequest {
        code: "invalid_ip",
        message: format!(
            "`{}` is not an IPv4 or IPv6 address.",
            super::dids::shorten(text, 60)
        ),
        field: Some("ip".to_owned()),
    })
}

/// What is in force against abuse, and today's counts.
pub async fn settings(
    State(state): State<AppState>,
    _: Admin,
) -> Result<Json<SecuritySettings>, AppError> {
    let limits = crate::limits::load(&state.db, &state.config.limits).await?;
    let today = crate::transport::utc_day(crate::transport::now().unix_ms);
    let home = &state.config.default_country;
    let reached = crate::limits::reached(&state.db, &limits, home, today.start, None).await?;
    Ok(Json(
        settings_of(&state, limits, &reached, today.start).await?,
    ))
}

/// The settings, with the limits `reached` today (counted by the caller).
async fn settings_of(
    state: &AppState,
    limits: FraudLimits,
    reached: &[crate::limits::Reached],
    day_start_ms: i64,
) -> Result<SecuritySettings, AppError> {
    let config = &state.config;
    let home = &config.default_country;
    let usage = crate::limits::usage(&state.db, home, day_start_ms, reached).await?;
    let guard = &config.guard;
    Ok(SecuritySettings {
        limits,
        ban_after: guard.max_failures,
        ban_window_s: u32::try_from(guard.failure_window.as_secs()).unwrap_or(u32::MAX),
        ban_minutes: guard.ban_for.as_secs() / 60,
        ban_max_minutes: guard.max_ban.as_secs() / 60,
        sip_rate: guard.per_second,
        ban_allow: guard.allow.iter().map(ToString::to_string).collect(),
        dial_countries: config.dial_countries.clone(),
        home_country: home.clone(),
        business_hours: config.business_hours.map(|b| b.describe()),
        today: usage,
    })
}

/// An admin sets the fraud limits: saved (they win over the flags from
/// now on), handed to the SIP core, and counted anew for today, so that a
/// raised cap lifts its block at once and a lowered one blocks at once.
pub async fn set_limits(
    State(state): State<AppState>,
    Admin(actor): Admin,
    body: Result<Json<FraudLimits>, JsonRejection>,
) -> Result<Json<SecuritySettings>, AppError> {
    let Json(limits) = body?;
    crate::limits::check(&limits).map_err(|(field, message)| AppError::BadRequest {
        code: "invalid_limit",
        message,
        field: Some(field.to_owned()),
    })?;
    let before = crate::limits::load(&state.db, &state.config.limits).await?;
    crate::db::save_limits(&state.db, &limits).await?;
    let home = &state.config.default_country;
    let today = crate::transport::utc_day(crate::transport::now().unix_ms);
    let reached = crate::limits::reached(&state.db, &limits, home, today.start, None).await?;
    state
        .sip
        .send(CoreInput::Limits {
            limits: limits.clone(),
            reached: reached.clone(),
        })
        .await;
    audit::record(
        &state,
        &actor,
        "update",
        "fraud_limits",
        "limits",
        Some(&before),
        Some(&limits),
    )
    .await?;
    Ok(Json(
        settings_of(&state, limits, &reached, today.start).await?,
    ))
}

/// The newest alerts (at most 100), newest first.
pub async fn alerts(State(state): State<AppState>, _: Admin) -> Result<Json<Vec<Alert>>, AppError> {
    Ok(Json(crate::db::recent_alerts(&state.db, 100).await?))
}

pub async fn list(State(state): State<AppState>, _: Admin) -> Json<Vec<BanEntry>> {
    let now = crate::transport::now().unix;
    Json(state.sip.bans().list(now).into_iter().map(entry).collect())
}

pub async fn ban(
    State(state): State<AppState>,
    Admin(actor): Admin,
    body: Result<Json<BanInput>, JsonRejection>,
) -> Result<Response, AppError> {
    let Json(input) = body?;
    let ip = parse_ip(&input.ip)?;
    let detail: String = input.detail.trim().chars().take(200).collect();
    let (done, answer) = tokio::sync::oneshot::channel();
    state
        .sip
        .send(CoreInput::Ban {
            ip,
            detail: detail.clone(),
            done,
        })
        .await;
    if !answer.await.unwrap_or(false) {
        return Err(AppError::BadRequest {
            code: "allowlisted",
            message: format!(
                "{ip} is on the allowlist or is a carrier's address, and is never banned."
            ),
            field: Some("ip".to_owned()),
        });
    }
    audit::record(&state, &actor, "ban", "source", ip, None, Some(&detail)).await?;
    let now = crate::transport::now().unix;
    let listed = state.sip.bans().list(now).into_iter().find(|b| b.ip == ip);
    match listed {
        Some(ban) => Ok((StatusCode::CREATED, Json(entry(ban))).into_response()),
        None => Err(AppError::Internal(format!("the ban of {ip} is not listed"))),
    }
}

pub async fn unban(
    State(state): State<AppState>,
    Admin(actor): Admin,
    ip: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, AppError> {
    let Path(ip) = ip.map_err(|e| AppError::BadRequest {
        code: "invalid_ip",
        message: e.body_text(),
        field: None,
    })?;
    let ip = parse_ip(&ip)?;
    let (done, answer) = tokio::sync::oneshot::channel();
    state.sip.send(CoreInput::Unban { ip, done }).await;
    if !answer.await.unwrap_or(false) {
        return Err(AppError::NotFound);
    }
    audit::record::<String>(&state, &actor, "unban", "source", ip, None, None).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Every HTTP request from a banned source is answered 429 (JSON), before
/// routing. Requests without a peer address (tests' `oneshot`) pass.
pub async fn refuse_banned(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    if let Some(ip) = peer
        && state.sip.bans().refuses(ip, crate::transport::now().unix)
    {
        return AppError::Banned.into_response();
    }
    next.run(request).await
}
