//! `/api/v1/ring-groups`: agents a DID rings together or one after the
//! other (admins change them, supervisors read them). Every change is pushed to the SIP core with the DIDs
//! (`crate::dids::reload`), since DIDs carry their group's members.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use shared::api::{Page, RingGroup, RingGroupInput};

use super::dids::{Targets, bad, shorten};
use super::params::{ListQuery, page, path_id};
use super::session::{admin, reader};
use super::{AppError, AppState, audit};
use crate::db::{self, NewRingGroup, UpdateOutcome};

const MAX_NAME_CHARS: usize = 64;
const MAX_MEMBERS: usize = 100;

fn validate(input: RingGroupInput, targets: &Targets) -> Result<NewRingGroup, AppError> {
    let name = input.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(bad(
            "name",
            format!("Give the group a name of 1 to {MAX_NAME_CHARS} characters."),
        ));
    }
    if !(5..=300).contains(&input.member_timeout_s) {
        return Err(bad(
            "member_timeout_s",
            "Ring each member for 5 to 300 seconds.",
        ));
    }
    if let Some(code) = input.fallback_code
        && !(400..=699).contains(&code)
    {
        return Err(bad(
            "fallback_code",
            format!(
                "{code} is not a SIP failure status: use 400 to 699 (480 Temporarily Unavailable when unset)."
            ),
        ));
    }
    if input.members.len() > MAX_MEMBERS {
        return Err(bad(
            "members",
            format!("A group has at most {MAX_MEMBERS} members."),
        ));
    }
    let mut members = Vec::with_capacity(input.members.len());
    for username in &input.members {
        let id = targets.phone_account("members", username)?;
        if members.contains(&id) {
            return Err(bad(
                "members",
                format!("`{}` is listed twice.", shorten(username.trim(), 64)),
            ));
        }
        members.push(id);
    }
    Ok(NewRingGroup {
        name,
        strategy: input.strategy,
        member_timeout_s: input.member_timeout_s,
        fallback_code: input.fallback_code,
        members,
    })
}

fn name_taken(name: &str) -> AppError {
    AppError::Conflict {
        code: "duplicate_name",
        message: format!("A ring group called `{name}` exists already."),
        field: Some("name".to_owned()),
    }
}

pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<Page<RingGroup>>, AppError> {
    reader(&state, &headers).await?;
    let query = ListQuery::from_request(query)?;
    let limit = query.limit()?;
    // The cursor is the last id of the previous page.
    let after = query.id_cursor()?;
    let items = db::ring_groups_page(&state.db, after, limit).await?;
    Ok(Json(page(items, limit, |g| g.id.to_string())))
}

pub async fn get_one(
    State(state): State<AppState>,
    headers: HeaderMap,
    path: Result<Path<i64>, PathRejection>,
) -> Result<Json<RingGroup>, AppError> {
    reader(&state, &headers).await?;
    let id = path_id(path)?;
    Ok(Json(load(&state, id).await?))
}

async fn load(state: &AppState, id: i64) -> Result<RingGroup, AppError> {
    db::ring_group(&state.db, id)
        .await?
        .ok_or(AppError::Missing { what: "ring group" })
}

pub async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<RingGroupInput>, JsonRejection>,
) -> Result<Response, AppError> {
    let actor = admin(&state, &headers).await?;
    let Json(input) = body?;
    let group = validate(input, &Targets::load(&state.db).await?)?;
    let now = crate::transport::now().unix;
    let Some(id) = db::insert_ring_group(&state.db, &group, now).await? else {
        return Err(name_taken(&group.name));
    };
    crate::dids::reload(&state).await?;
    let group = load(&state, id).await?;
    audit::record(
        &state,
        &actor,
        "create",
        "ring_group",
        id,
        None,
        Some(&group),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(group)).into_response())
}

pub async fn update(
    State(state): State<AppState>,
    headers: HeaderMap,
    path: Result<Path<i64>, PathRejection>,
    body: Result<Json<RingGroupInput>, JsonRejection>,
) -> Result<Json<RingGroup>, AppError> {
    let actor = admin(&state, &headers).await?;
    let id = path_id(path)?;
    let Json(input) = body?;
    let group = validate(input, &Targets::load(&state.db).await?)?;
    let old = load(&state, id).await?;
    match db::update_ring_group(&state.db, id, &group).await? {
        UpdateOutcome::Updated => {}
        UpdateOutcome::NotFound => return Err(AppError::Missing { what: "ring group" }),
        UpdateOutcome::NameTaken => return Err(name_taken(&group.name)),
    }
    crate::dids::reload(&state).await?;
    let new = load(&state, id).await?;
    audit::record(
        &state,
        &actor,
        "update",
        "ring_group",
        id,
        Some(&old),
        Some(&new),
    )
    .await?;
    Ok(Json(new))
}

/// Deletes a group; its DIDs stay, refused with 480 until they are pointed
/// elsewhere.
pub async fn delete(
    State(state): State<AppState>,
    headers: HeaderMap,
    path: Result<Path<i64>, PathRejection>,
) -> Result<StatusCode, AppError> {
    let actor = admin(&state, &headers).await?;
    let id = path_id(path)?;
    let old = load(&state, id).await?;
    if !db::delete_ring_group(&state.db, id).await? {
        return Err(AppError::Missing { what: "ring group" });
    }
    crate::dids::reload(&state).await?;
    audit::record(&state, &actor, "delete", "ring_group", id, Some(&old), None).await?;
    Ok(StatusCode::NO_CONTENT)
}
