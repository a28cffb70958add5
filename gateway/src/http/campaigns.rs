//! `/api/v1/campaigns`: named sets of caller IDs (our DIDs) and the agents
//! who dial for them (admins change them, supervisors read them). An agent
//! may present the numbers of every campaign they are in, besides their
//! own; each change is pushed to the SIP core for the agents it touches.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use shared::api::{Campaign, CampaignInput, Page};

use super::agents::{owned_number, push_profiles};
use super::dids::{Targets, bad, shorten};
use super::params::{ListQuery, page, path_id};
use super::resource::{self, Resource};
use super::roles::{Admin, Reader};
use super::{AppError, AppState};
use crate::db::{self, NewCampaign};

const MAX_NAME_CHARS: usize = 64;
const MAX_NUMBERS: usize = 1000;
const MAX_AGENTS: usize = 1000;

async fn validate(state: &AppState, input: CampaignInput) -> Result<NewCampaign, AppError> {
    let name = input.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(bad(
            "name",
            format!("Give the campaign a name of 1 to {MAX_NAME_CHARS} characters."),
        ));
    }
    if input.numbers.len() > MAX_NUMBERS {
        return Err(bad(
            "numbers",
            format!("A campaign has at most {MAX_NUMBERS} numbers."),
        ));
    }
    if input.agents.len() > MAX_AGENTS {
        return Err(bad(
            "agents",
            format!("A campaign has at most {MAX_AGENTS} agents."),
        ));
    }
    let owned = db::enabled_did_labels(&state.db).await?;
    let mut numbers: Vec<String> = Vec::with_capacity(input.numbers.len());
    for raw in &input.numbers {
        let number = owned_number(state, &owned, "numbers", raw)?;
        if numbers.contains(&number) {
            return Err(bad("numbers", format!("{number} is listed twice.")));
        }
        numbers.push(number);
    }
    let targets = Targets::load(&state.db).await?;
    let mut account_ids = Vec::with_capacity(input.agents.len());
    for username in &input.agents {
        let id = targets.phone_account("agents", username)?;
        if account_ids.contains(&id) {
            return Err(bad(
                "agents",
                format!("`{}` is listed twice.", shorten(username.trim(), 64)),
            ));
        }
        account_ids.push(id);
    }
    Ok(NewCampaign {
        name,
        numbers,
        account_ids,
    })
}

fn name_taken(name: &str) -> AppError {
    AppError::Conflict {
        code: "duplicate_name",
        message: format!("A campaign called `{name}` exists already."),
        field: Some("name".to_owned()),
    }
}

impl Resource for Campaign {
    const ENTITY: &'static str = "campaign";
    const WHAT: &'static str = "campaign";

    async fn fetch(db: &db::Db, id: i64) -> Result<Option<Self>, db::DbError> {
        db::campaign(db, id).await
    }
}

pub async fn list(
    State(state): State<AppState>,
    _: Reader,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<Page<Campaign>>, AppError> {
    let query = ListQuery::from_request(query)?;
    let limit = query.limit()?;
    let after = query.id_cursor()?;
    let items = db::campaigns_page(&state.db, after, limit).await?;
    Ok(Json(page(items, limit, |c| c.id.to_string())))
}

pub async fn create(
    State(state): State<AppState>,
    Admin(actor): Admin,
    body: Result<Json<CampaignInput>, JsonRejection>,
) -> Result<Response, AppError> {
    let Json(input) = body?;
    let campaign = validate(&state, input).await?;
    let now = crate::transport::now().unix;
    resource::create::<Campaign, _>(
        &state,
        &actor,
        db::insert_campaign(&state.db, &campaign, now),
        || name_taken(&campaign.name),
        push_profiles(&state, &campaign.account_ids),
    )
    .await
}

pub async fn update(
    State(state): State<AppState>,
    Admin(actor): Admin,
    path: Result<Path<i64>, PathRejection>,
    body: Result<Json<CampaignInput>, JsonRejection>,
) -> Result<Json<Campaign>, AppError> {
    let id = path_id(path)?;
    let Json(input) = body?;
    let campaign = validate(&state, input).await?;
    // The agents who were in it and those who are now.
    let mut touched = db::campaign_account_ids(&state.db, id).await?;
    touched.extend(&campaign.account_ids);
    resource::update(
        &state,
        &actor,
        id,
        db::update_campaign(&state.db, id, &campaign),
        || name_taken(&campaign.name),
        push_profiles(&state, &touched),
    )
    .await
}

pub async fn delete(
    State(state): State<AppState>,
    Admin(actor): Admin,
    path: Result<Path<i64>, PathRejection>,
) -> Result<StatusCode, AppError> {
    let id = path_id(path)?;
    let touched = db::campaign_account_ids(&state.db, id).await?;
    resource::delete::<Campaign, _>(
        &state,
        &actor,
        id,
        db::delete_campaign(&state.db, id),
        push_profiles(&state, &touched),
    )
    .await
}
