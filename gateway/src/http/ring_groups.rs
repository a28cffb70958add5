//! `/api/v1/ring-groups`: agents a DID rings together or one after the
//! other (admins change them, supervisors read them). Every change is pushed to the SIP core with the DIDs
//! (`crate::dids::reload`), since DIDs carry their group's members.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use shared::api::{Page, RingGroup, RingGroupInput};

use super::dids::{Targets, bad, shorten};
use super::params::{ListQuery, page, path_id};
use super::resource::{self, Resource};
use super::roles::{Admin, Reader};
use super::{AppError, AppState};
use crate::db::{self, NewRingGroup};

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
    _: Reader,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<Page<RingGroup>>, AppError> {
    let query = ListQuery::from_request(query)?;
    let limit = query.limit()?;
    // The cursor is the last id of the previous page.
    let after = query.id_cursor()?;
    let items = db::ring_groups_page(&state.db, after, limit).await?;
    Ok(Json(page(items, limit, |g| g.id.to_string())))
}

impl Resource for RingGroup {
    const ENTITY: &'static str = "ring_group";
    const WHAT: &'static str = "ring group";

    async fn fetch(db: &db::Db, id: i64) -> Result<Option<Self>, db::DbError> {
        db::ring_group(db, id).await
    }
}

pub async fn create(
    State(state): State<AppState>,
    Admin(actor): Admin,
    body: Result<Json<RingGroupInput>, JsonRejection>,
) -> Result<Response, AppError> {
    let Json(input) = body?;
    let group = validate(input, &Targets::load(&state.db).await?)?;
    let now = crate::transport::now().unix;
    resource::create::<RingGroup, _>(
        &state,
        &actor,
        db::insert_ring_group(&state.db, &group, now),
        || name_taken(&group.name),
        crate::dids::reload(&state),
    )
    .await
}

pub async fn update(
    State(state): State<AppState>,
    Admin(actor): Admin,
    path: Result<Path<i64>, PathRejection>,
    body: Result<Json<RingGroupInput>, JsonRejection>,
) -> Result<Json<RingGroup>, AppError> {
    let id = path_id(path)?;
    let Json(input) = body?;
    let group = validate(input, &Targets::load(&state.db).await?)?;
    resource::update(
        &state,
        &actor,
        id,
        db::update_ring_group(&state.db, id, &group),
        || name_taken(&group.name),
        crate::dids::reload(&state),
    )
    .await
}

/// Deletes a group; its DIDs stay, refused with 480 until they are pointed
/// elsewhere.
pub async fn delete(
    State(state): State<AppState>,
    Admin(actor): Admin,
    path: Result<Path<i64>, PathRejection>,
) -> Result<StatusCode, AppError> {
    let id = path_id(path)?;
    resource::delete::<RingGroup, _>(
        &state,
        &actor,
        id,
        db::delete_ring_group(&state.db, id),
        crate::dids::reload(&state),
    )
    .await
}
