//! What the administered collections (carriers, DIDs, ring groups,
//! campaigns) share around their database call: an item loaded by id or a
//! 404 naming it, and the steps of a change — the write, a 404 or 409 when
//! it finds nothing or a name in use, the SIP core told (`then`), and the
//! audit entry with the item as the API shows it before and after.
//!
//! Each collection keeps its own validation and database queries; `then`
//! is a future made by the caller and awaited only once the write has
//! succeeded (futures do nothing until awaited).

use std::future::Future;

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::params::path_id;
use super::roles::Reader;
use super::{AppError, AppState, audit};
use crate::db::{Account, Db, DbError, UpdateOutcome};

/// An item of an administered collection, as the API returns it.
pub trait Resource: Serialize + Send + Sized + 'static {
    /// Its name in the audit log, e.g. `ring_group`.
    const ENTITY: &'static str;
    /// What a 404 calls it, e.g. `ring group` ("No such ring group.").
    const WHAT: &'static str;

    /// The stored item, `None` when there is no such id.
    fn fetch(db: &Db, id: i64) -> impl Future<Output = Result<Option<Self>, DbError>> + Send;
}

/// The item `id`, or 404 naming the kind.
pub async fn load<R: Resource>(state: &AppState, id: i64) -> Result<R, AppError> {
    R::fetch(&state.db, id)
        .await?
        .ok_or(AppError::Missing { what: R::WHAT })
}

/// `GET /{collection}/{id}` (admins and supervisors).
pub async fn get_one<R: Resource>(
    State(state): State<AppState>,
    _: Reader,
    path: Result<Path<i64>, PathRejection>,
) -> Result<Json<R>, AppError> {
    let id = path_id(path)?;
    Ok(Json(load::<R>(&state, id).await?))
}

/// Saves a new item: `insert` gives its id, or `None` when `taken` says
/// why not (a name or number in use, 409). Answers 201 with the item.
pub async fn create<R: Resource, E>(
    state: &AppState,
    actor: &Account,
    insert: impl Future<Output = Result<Option<i64>, DbError>>,
    taken: impl FnOnce() -> AppError,
    then: impl Future<Output = Result<(), E>>,
) -> Result<Response, AppError>
where
    AppError: From<E>,
{
    let Some(id) = insert.await? else {
        return Err(taken());
    };
    then.await?;
    let new = load::<R>(state, id).await?;
    audit::record(state, actor, "create", R::ENTITY, id, None, Some(&new)).await?;
    Ok((StatusCode::CREATED, Json(new)).into_response())
}

/// Replaces item `id` with `update` (404 when there is none, `taken` on a
/// name in use). Answers the item as stored.
pub async fn update<R: Resource, E>(
    state: &AppState,
    actor: &Account,
    id: i64,
    update: impl Future<Output = Result<UpdateOutcome, DbError>>,
    taken: impl FnOnce() -> AppError,
    then: impl Future<Output = Result<(), E>>,
) -> Result<Json<R>, AppError>
where
    AppError: From<E>,
{
    let old = load::<R>(state, id).await?;
    match update.await? {
        UpdateOutcome::Updated => {}
        UpdateOutcome::NotFound => return Err(AppError::Missing { what: R::WHAT }),
        UpdateOutcome::NameTaken => return Err(taken()),
    }
    then.await?;
    let new = load::<R>(state, id).await?;
    audit::record(
        state,
        actor,
        "update",
        R::ENTITY,
        id,
        Some(&old),
        Some(&new),
    )
    .await?;
    Ok(Json(new))
}

/// Deletes item `id` with `delete` (which answers whether a row went).
/// Answers 204.
pub async fn delete<R: Resource, E>(
    state: &AppState,
    actor: &Account,
    id: i64,
    delete: impl Future<Output = Result<bool, DbError>>,
    then: impl Future<Output = Result<(), E>>,
) -> Result<StatusCode, AppError>
where
    AppError: From<E>,
{
    let old = load::<R>(state, id).await?;
    if !delete.await? {
        return Err(AppError::Missing { what: R::WHAT });
    }
    then.await?;
    audit::record(state, actor, "delete", R::ENTITY, id, Some(&old), None).await?;
    Ok(StatusCode::NO_CONTENT)
}
