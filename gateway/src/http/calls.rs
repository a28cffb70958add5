//! `/api/v1/calls`: call records, newest first. Agents see their own calls,
//! admins and supervisors everyone's.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use shared::api::{CallRecord, Page, Role};

use super::params::{ListQuery, bad_cursor, page};
use super::session::signed_in;
use super::{AppError, AppState};
use crate::db;

pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<Page<CallRecord>>, AppError> {
    let account = signed_in(&state, &headers).await?;
    let query = ListQuery::from_request(query)?;
    let limit = query.limit()?;
    // The cursor is the (`invite_at`, `id`) of the previous page's last record.
    let before = match &query.cursor {
        None => None,
        Some(c) => Some(
            c.split_once('.')
                .and_then(|(at, id)| Some((at.parse::<i64>().ok()?, id.to_owned())))
                .ok_or_else(bad_cursor)?,
        ),
    };
    let only = (account.role == Role::Agent).then_some(account.id);
    let items = db::call_records(&state.db, only, before, limit).await?;
    Ok(Json(page(items, limit, |r| {
        format!("{}.{}", r.invite_at, r.id)
    })))
}
