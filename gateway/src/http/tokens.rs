//! `/api/v1/tokens`: API tokens for integrations (admins only). A token is
//! `dlr_` and 64 random hex digits, shown once in the answer to `POST`; the
//! database keeps its SHA-256 only. A request with `Authorization: Bearer
//! dlr_…` acts as the token's account, with that account's role
//! (`http::session::signed_in`). `DELETE` revokes: the row stays, marked.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use shared::api::{ApiToken, ApiTokenCreated, ApiTokenInput, Page};

use super::dids::{bad, shorten};
use super::params::{ListQuery, page, path_id};
use super::roles::Admin;
use super::session::API_TOKEN_PREFIX;
use super::{AppError, AppState, audit};
use crate::{auth, db};

const MAX_NAME_CHARS: usize = 64;

pub async fn list(
    State(state): State<AppState>,
    _: Admin,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<Page<ApiToken>>, AppError> {
    let query = ListQuery::from_request(query)?;
    let limit = query.limit()?;
    let after = query.id_cursor()?;
    let items = db::api_tokens_page(&state.db, after, limit).await?;
    Ok(Json(page(items, limit, |t| t.id.to_string())))
}

pub async fn create(
    State(state): State<AppState>,
    Admin(actor): Admin,
    body: Result<Json<ApiTokenInput>, JsonRejection>,
) -> Result<Response, AppError> {
    let Json(input) = body?;
    let name = input.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(bad(
            "name",
            format!("Give the token a name of 1 to {MAX_NAME_CHARS} characters."),
        ));
    }
    let account = match input
        .account
        .as_deref()
        .map(str::trim)
        .filter(|a| !a.is_empty())
    {
        None => actor.clone(),
        Some(username) => match db::account_by_username(&state.db, username).await? {
            Some(a) if a.enabled => a,
            Some(a) => {
                return Err(bad(
                    "account",
                    format!("The account `{}` is disabled.", a.username),
                ));
            }
            None => {
                return Err(bad(
                    "account",
                    format!("There is no account called `{}`.", shorten(username, 64)),
                ));
            }
        },
    };
    let token = format!("{API_TOKEN_PREFIX}{}", auth::random_token());
    let now = crate::transport::now().unix;
    let id =
        db::insert_api_token(&state.db, account.id, &name, &auth::token_hash(&token), now).await?;
    let api_token = db::api_token(&state.db, id)
        .await?
        .ok_or(AppError::Missing { what: "API token" })?;
    audit::record(
        &state,
        &actor,
        "create",
        "api_token",
        id,
        None,
        Some(&api_token),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(ApiTokenCreated { token, api_token }),
    )
        .into_response())
}

pub async fn revoke(
    State(state): State<AppState>,
    Admin(actor): Admin,
    path: Result<Path<i64>, PathRejection>,
) -> Result<StatusCode, AppError> {
    let id = path_id(path)?;
    let old = db::api_token(&state.db, id)
        .await?
        .ok_or(AppError::Missing { what: "API token" })?;
    db::revoke_api_token(&state.db, id).await?;
    let new = db::api_token(&state.db, id).await?;
    audit::record(
        &state,
        &actor,
        "revoke",
        "api_token",
        id,
        Some(&old),
        new.as_ref(),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
