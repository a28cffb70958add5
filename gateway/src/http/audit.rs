//! The audit log: every change made through the API (who, what, when,
//! old → new), and `GET /api/v1/audit` to read it (admins only).
//!
//! Entries hold the entity as the API returns it, which carries no secret;
//! [`scrub`] removes secret-looking keys once more, so that a field added
//! later to some input type cannot leak into the log by accident.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use serde::{Deserialize, Serialize};
use shared::api::{AuditEntry, Page};

use super::params::{ListQuery, page};
use super::roles::Admin;
use super::{AppError, AppState};
use crate::db::{self, Account, NewAuditEntry};

/// Keys whose values never reach the log.
const SECRET_KEYS: [&str; 5] = ["secret", "password", "password_hash", "token", "token_hash"];

/// `value` without secret-looking keys, at any depth.
pub fn scrub(value: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(k, _)| !SECRET_KEYS.contains(&k.as_str()))
                .map(|(k, v)| (k, scrub(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(scrub).collect()),
        other => other,
    }
}

fn to_json<T: Serialize>(value: Option<&T>) -> Result<Option<String>, AppError> {
    value
        .map(|v| {
            serde_json::to_value(v)
                .map(|v| scrub(v).to_string())
                .map_err(|e| AppError::Internal(format!("audit JSON: {e}")))
        })
        .transpose()
}

/// Writes one audit row: `actor` did `action` to `entity` `id`.
pub async fn record<T: Serialize>(
    state: &AppState,
    actor: &Account,
    action: &str,
    entity: &str,
    id: impl ToString,
    old: Option<&T>,
    new: Option<&T>,
) -> Result<(), AppError> {
    let entry = NewAuditEntry {
        actor: &actor.username,
        action,
        entity,
        entity_id: Some(id.to_string()),
        old_json: to_json(old)?,
        new_json: to_json(new)?,
    };
    db::insert_audit(&state.db, crate::transport::now().unix_ms, &entry).await?;
    Ok(())
}

/// `GET /api/v1/audit?limit=&cursor=&entity=`.
#[derive(Debug, Default, Deserialize)]
pub struct AuditQuery {
    pub limit: Option<i64>,
    pub cursor: Option<String>,
    /// Only entries about this kind of entity, e.g. `carrier`.
    pub entity: Option<String>,
}

pub async fn list(
    State(state): State<AppState>,
    _: Admin,
    query: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<Json<Page<AuditEntry>>, AppError> {
    let Query(query) = query.map_err(|r| AppError::BadRequest {
        code: "invalid_field",
        message: r.body_text(),
        field: None,
    })?;
    let list = ListQuery {
        limit: query.limit,
        cursor: query.cursor,
    };
    let limit = list.limit()?;
    // The cursor is the id of the previous page's last (oldest) entry.
    let before = list.id_cursor()?;
    let entity = query
        .entity
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty());
    let items = db::audit_page(&state.db, before, entity, limit).await?;
    Ok(Json(page(items, limit, |e| e.id.to_string())))
}
