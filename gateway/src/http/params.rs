//! What list and item endpoints share: the `limit` / `cursor` query of a
//! paginated list, and path ids, each refused with a JSON error naming it.

use axum::extract::Path;
use axum::extract::Query;
use axum::extract::rejection::{PathRejection, QueryRejection};
use serde::Deserialize;
use shared::api::Page;

use super::AppError;

/// The query of a paginated list (`?limit=50&cursor=…`).
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    /// 1..=500, default 50.
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 500;

impl ListQuery {
    pub fn from_request(query: Result<Query<ListQuery>, QueryRejection>) -> Result<Self, AppError> {
        match query {
            Ok(Query(q)) => Ok(q),
            Err(rejection) => Err(AppError::BadRequest {
                code: "invalid_field",
                message: rejection.body_text(),
                field: Some("limit".to_owned()),
            }),
        }
    }

    /// The cursor of a list paged by row id (the last or oldest id of the
    /// previous page), checked.
    pub fn id_cursor(&self) -> Result<Option<i64>, AppError> {
        self.cursor
            .as_deref()
            .map(|c| c.parse::<i64>().map_err(|_| bad_cursor()))
            .transpose()
    }

    /// The page size asked for, checked.
    pub fn limit(&self) -> Result<i64, AppError> {
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT);
        if (1..=MAX_LIMIT).contains(&limit) {
            Ok(limit)
        } else {
            Err(AppError::BadRequest {
                code: "invalid_field",
                message: format!("limit must be between 1 and {MAX_LIMIT}."),
                field: Some("limit".to_owned()),
            })
        }
    }
}

/// A page of `items` asked for with `limit`: a full page gets a cursor
/// (made from its last item), since more may follow.
pub fn page<T>(items: Vec<T>, limit: i64, cursor: impl Fn(&T) -> String) -> Page<T> {
    let next_cursor = if i64::try_from(items.len()).is_ok_and(|n| n == limit) {
        items.last().map(cursor)
    } else {
        None
    };
    Page { items, next_cursor }
}

/// A cursor that this API did not give out.
pub fn bad_cursor() -> AppError {
    AppError::BadRequest {
        code: "invalid_field",
        message: "cursor is not one this API gave out.".to_owned(),
        field: Some("cursor".to_owned()),
    }
}

/// The `{id}` of an item's path.
pub fn path_id(path: Result<Path<i64>, PathRejection>) -> Result<i64, AppError> {
    match path {
        Ok(Path(id)) => Ok(id),
        Err(_) => Err(AppError::BadRequest {
            code: "invalid_field",
            message: "The id in the path must be a number.".to_owned(),
            field: Some("id".to_owned()),
        }),
    }
}
