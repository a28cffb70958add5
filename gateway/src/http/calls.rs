//! `/api/v1/calls`: call records, newest first. Agents see their own calls,
//! admins and supervisors everyone's.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use serde::Deserialize;
use shared::api::{CallRecord, Page, Role};

use super::session::signed_in;
use super::{AppError, AppState};
use crate::db;

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    /// 1..=500, default 50.
    limit: Option<i64>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<ListQuery>,
) -> Result<Json<Page<CallRecord>>, AppError> {
    let account = signed_in(&state, &headers).await?;
    let limit = query.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(AppError::BadRequest {
            code: "invalid_field",
            message: "limit must be between 1 and 500.".to_owned(),
            field: Some("limit".to_owned()),
        });
    }
    let before = match &query.cursor {
        None => None,
        Some(c) => {
            let parsed = c
                .split_once('.')
                .and_then(|(at, id)| Some((at.parse::<i64>().ok()?, id.to_owned())));
            match parsed {
                Some(p) => Some(p),
                None => {
                    return Err(AppError::BadRequest {
                        code: "invalid_field",
                        message: "cursor is not one this API gave out.".to_owned(),
                        field: Some("cursor".to_owned()),
                    });
                }
            }
        }
    };
    let only = (account.role == Role::Agent).then_some(account.id);
    let items = db::call_records(&state.db, only, before, limit).await?;
    let next_cursor = if items.len() as i64 == limit {
        items.last().map(|r| format!("{}.{}", r.invite_at, r.id))
    } else {
        None
    };
    Ok(Json(Page { items, next_cursor }))
}
