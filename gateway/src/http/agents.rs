//! `/api/v1/agents`: accounts (admins change them, supervisors read them),
//! their passwords, and the caller IDs each may present.
//!
//! No response carries a password or its hash. Disabling an account or
//! setting its password ends its web sessions and revokes its SIP
//! credentials at once (`CoreInput::CredentialRevoked`), as signing out
//! does. A change to what an agent may present is pushed to the SIP core
//! (`CoreInput::Agent`) when the agent is signed in, so it applies to the
//! next call without signing in again.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use shared::api::{
    Agent, AgentUpdate, CallerIdChoice, CallerIds, NewAgent, Page, PasswordReset, Role,
};
use shared::ids::AccountId;

use super::dids::{bad, shorten};
use super::params::{ListQuery, page, path_id};
use super::roles::{Admin, Reader};
use super::{AppError, AppState, audit};
use crate::auth;
use crate::config::Config;
use crate::db::{self, Account, AccountSettings, Db, DbError, UpdateOutcome};
use crate::sip::b2bua::AgentInfo;
use crate::transport::CoreInput;

const MAX_USERNAME: usize = 32;
const MAX_DISPLAY_NAME: usize = 64;
const MAX_CALLS: u32 = 100;
const MAX_CALLER_IDS: usize = 200;
const MAX_LABEL: usize = 64;

/// What the SIP core knows of an agent: names and the dialing profile.
/// Sign-in, start-up and every change to caller IDs, campaigns or
/// destination policies build it here, so that all agree: the SIP core
/// enforces the same `destination_policies` the phone warns with.
pub async fn agent_info(db: &Db, account: &Account, config: &Config) -> Result<AgentInfo, DbError> {
    let mut dialing = db::dialing_profile(db, account.id, &config.default_country).await?;
    dialing.local_presence = account.local_presence;
    dialing.destination_policies = super::policy::global_layer(config)
        .into_iter()
        .chain(db::account_policies(db, account.id, account.role).await?)
        .collect();
    dialing.prefix_list = db::prefix_list(db).await?;
    Ok(AgentInfo {
        account_id: AccountId(account.id),
        username: account.username.clone(),
        display_name: account.display_name.clone(),
        dialing,
        max_calls: account.max_calls.max(1),
    })
}

/// Pushes fresh dialing profiles to the SIP core for those of `ids` who are
/// signed in (hold a SIP credential); the others get theirs at sign-in.
pub async fn push_profiles(state: &AppState, ids: &[i64]) -> Result<(), AppError> {
    let now = crate::transport::now().unix;
    for id in db::signed_in_accounts(&state.db, now).await? {
        if !ids.contains(&id) {
            continue;
        }
        if let Some(account) = db::account_by_id(&state.db, id).await? {
            let info = agent_info(&state.db, &account, &state.config).await?;
            state.sip.send(CoreInput::Agent(info)).await;
        }
    }
    Ok(())
}

/// After a change to the DIDs: every signed-in agent's profile (a number
/// removed or disabled may no longer be presented).
pub async fn push_all_profiles(state: &AppState) -> Result<(), AppError> {
    let now = crate::transport::now().unix;
    let ids = db::signed_in_accounts(&state.db, now).await?;
    push_profiles(state, &ids).await
}

/// `locked_until`: until when some source address is locked out of
/// signing in as this account (`sign_in_limit`); others may still sign in.
fn to_api(state: &AppState, a: &Account) -> Agent {
    let now = crate::transport::now().unix;
    Agent {
        id: a.id,
        username: a.username.clone(),
        display_name: a.display_name.clone(),
        role: a.role,
        enabled: a.enabled,
        max_calls: a.max_calls,
        local_presence: a.local_presence,
        locked_until: state.sign_in_limits.locked_until(now, &a.username),
        created_at: a.created_at,
    }
}

/// Usernames are the user part of the agent's SIP address, so only
/// characters that need no escaping there.
fn username(raw: &str) -> Result<String, AppError> {
    let u = raw.trim().to_ascii_lowercase();
    let ok = !u.is_empty()
        && u.len() <= MAX_USERNAME
        && u.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && u.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(u)
    } else {
        Err(bad(
            "username",
            format!(
                "A username is 1 to {MAX_USERNAME} of a-z, 0-9, '.', '_' and '-', starting with a letter or digit."
            ),
        ))
    }
}

/// The strength rules of `crate::password`, answered as 400
/// `weak_password` on the `password` field with the reason in words.
fn password(raw: &str, user_inputs: &[&str]) -> Result<(), AppError> {
    crate::password::check(raw, user_inputs).map_err(|weak| AppError::BadRequest {
        code: "weak_password",
        message: weak.0,
        field: Some("password".to_owned()),
    })
}

fn settings(
    display_name: &str,
    role: Role,
    enabled: bool,
    max_calls: u32,
    local_presence: bool,
) -> Result<AccountSettings, AppError> {
    let display_name = display_name.trim().to_owned();
    if display_name.is_empty()
        || display_name.chars().count() > MAX_DISPLAY_NAME
        || display_name.chars().any(char::is_control)
    {
        return Err(bad(
            "display_name",
            format!("The display name is 1 to {MAX_DISPLAY_NAME} characters."),
        ));
    }
    if !(1..=MAX_CALLS).contains(&max_calls) {
        return Err(bad(
            "max_calls",
            format!("Max calls must be between 1 and {MAX_CALLS}."),
        ));
    }
    Ok(AccountSettings {
        display_name,
        role,
        enabled,
        max_calls,
        local_presence,
    })
}

async fn hash(password: String) -> Result<String, AppError> {
    auth::hash_password_in_turn(password)
        .await
        .map_err(AppError::Internal)
}

/// Ends the account's sessions and revokes its SIP credentials.
async fn sign_out_everywhere(state: &AppState, account_id: i64) -> Result<(), AppError> {
    for id in db::end_account_sessions(&state.db, account_id).await? {
        state.sip.send(CoreInput::CredentialRevoked(id)).await;
    }
    Ok(())
}

async fn load(state: &AppState, id: i64) -> Result<Account, AppError> {
    db::account_by_id(&state.db, id)
        .await?
        .ok_or(AppError::Missing { what: "agent" })
}

pub async fn list(
    State(state): State<AppState>,
    _: Reader,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<Page<Agent>>, AppError> {
    let query = ListQuery::from_request(query)?;
    let limit = query.limit()?;
    let after = query.id_cursor()?;
    let items = db::accounts_page(&state.db, after, limit).await?;
    let items: Vec<Agent> = items.iter().map(|a| to_api(&state, a)).collect();
    Ok(Json(page(items, limit, |a| a.id.to_string())))
}

pub async fn get_one(
    State(state): State<AppState>,
    _: Reader,
    path: Result<Path<i64>, PathRejection>,
) -> Result<Json<Agent>, AppError> {
    let id = path_id(path)?;
    Ok(Json(to_api(&state, &load(&state, id).await?)))
}

pub async fn create(
    State(state): State<AppState>,
    Admin(actor): Admin,
    body: Result<Json<NewAgent>, JsonRejection>,
) -> Result<Response, AppError> {
    let Json(input) = body?;
    let name = username(&input.username)?;
    let settings = settings(
        &input.display_name,
        input.role,
        input.enabled,
        input.max_calls,
        input.local_presence,
    )?;
    password(&input.password, &[&name, &settings.display_name])?;
    let password_hash = hash(input.password).await?;
    let now = crate::transport::now().unix;
    let Some(id) = db::create_account(&state.db, &name, &settings, &password_hash, now).await?
    else {
        return Err(AppError::Conflict {
            code: "duplicate_name",
            message: format!("There is an account called `{name}` already."),
            field: Some("username".to_owned()),
        });
    };
    let agent = to_api(&state, &load(&state, id).await?);
    audit::record(&state, &actor, "create", "agent", id, None, Some(&agent)).await?;
    Ok((StatusCode::CREATED, Json(agent)).into_response())
}

pub async fn update(
    State(state): State<AppState>,
    Admin(actor): Admin,
    path: Result<Path<i64>, PathRejection>,
    body: Result<Json<AgentUpdate>, JsonRejection>,
) -> Result<Json<Agent>, AppError> {
    let id = path_id(path)?;
    let Json(input) = body?;
    let settings = settings(
        &input.display_name,
        input.role,
        input.enabled,
        input.max_calls,
        input.local_presence,
    )?;
    let old = load(&state, id).await?;
    // Somebody must be able to administer the gateway afterwards.
    let stays_admin = settings.role == Role::Admin && settings.enabled;
    if old.role == Role::Admin
        && old.enabled
        && !stays_admin
        && db::other_enabled_admins(&state.db, id).await? == 0
    {
        return Err(AppError::Conflict {
            code: "last_admin",
            message: "This is the only enabled admin: make another admin first.".to_owned(),
            field: Some(if settings.enabled { "role" } else { "enabled" }.to_owned()),
        });
    }
    if db::update_account(&state.db, id, &settings).await? == UpdateOutcome::NotFound {
        return Err(AppError::Missing { what: "agent" });
    }
    if old.enabled && !settings.enabled {
        sign_out_everywhere(&state, id).await?;
    }
    if old.role != settings.role && settings.role == Role::Supervisor {
        // Supervisors have no phone.
        sign_out_everywhere(&state, id).await?;
    }
    // DIDs and ring groups name agents; keep the core's table current.
    crate::dids::reload(&state).await?;
    push_profiles(&state, &[id]).await?;
    let new = to_api(&state, &load(&state, id).await?);
    let old = to_api(&state, &old);
    audit::record(
        &state,
        &actor,
        "update",
        "agent",
        id,
        Some(&old),
        Some(&new),
    )
    .await?;
    Ok(Json(new))
}

/// `POST /api/v1/agents/{id}/password`: an admin sets a new password. The
/// account's sessions end (it signs in again with the new one) and every
/// source's sign-in lock on it is lifted. Answers 204: nothing secret comes back.
pub async fn reset_password(
    State(state): State<AppState>,
    Admin(actor): Admin,
    path: Result<Path<i64>, PathRejection>,
    body: Result<Json<PasswordReset>, JsonRejection>,
) -> Result<StatusCode, AppError> {
    let id = path_id(path)?;
    let Json(input) = body?;
    let account = load(&state, id).await?;
    password(&input.password, &[&account.username, &account.display_name])?;
    let password_hash = hash(input.password).await?;
    if !db::set_password(&state.db, id, &password_hash).await? {
        return Err(AppError::Missing { what: "agent" });
    }
    sign_out_everywhere(&state, id).await?;
    state.sign_in_limits.forget_username(&account.username);
    audit::record::<()>(&state, &actor, "reset_password", "agent", id, None, None).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn caller_ids_of(state: &AppState, id: i64) -> Result<CallerIds, AppError> {
    let (default, allowed) = db::own_caller_ids(&state.db, id).await?;
    let from_campaigns = db::campaign_caller_ids(&state.db, id).await?;
    Ok(CallerIds {
        default,
        allowed,
        from_campaigns,
    })
}

pub async fn caller_ids(
    State(state): State<AppState>,
    _: Reader,
    path: Result<Path<i64>, PathRejection>,
) -> Result<Json<CallerIds>, AppError> {
    let id = path_id(path)?;
    load(&state, id).await?;
    Ok(Json(caller_ids_of(&state, id).await?))
}

/// An owned number: E.164 (read in the default country) and one of our
/// enabled DIDs; the error names `field` and the number.
pub(super) fn owned_number(
    state: &AppState,
    owned: &std::collections::HashMap<String, String>,
    field: &str,
    raw: &str,
) -> Result<String, AppError> {
    let country =
        shared::e164::country(&state.config.default_country).unwrap_or(&shared::e164::COUNTRIES[0]);
    let trimmed = raw.trim();
    // A stored DID is taken as written, even if the numbering table would
    // refuse it now (as `POST /api/v1/dids` does).
    let number = if owned.contains_key(trimmed) {
        trimmed.to_owned()
    } else {
        match shared::e164::normalize(trimmed, country) {
            Ok(n) => String::from(n),
            Err(e) => {
                return Err(bad(
                    field,
                    format!("`{}` is not a phone number: {e}.", shorten(trimmed, 32)),
                ));
            }
        }
    };
    if owned.contains_key(&number) {
        Ok(number)
    } else {
        Err(bad(
            field,
            format!(
                "{number} is not one of our enabled DIDs: only owned numbers may be presented."
            ),
        ))
    }
}

/// `PUT /api/v1/agents/{id}/caller-ids`: replaces the agent's own allowed
/// caller IDs and default (`from_campaigns` is ignored).
pub async fn set_caller_ids(
    State(state): State<AppState>,
    Admin(actor): Admin,
    path: Result<Path<i64>, PathRejection>,
    body: Result<Json<CallerIds>, JsonRejection>,
) -> Result<Json<CallerIds>, AppError> {
    let id = path_id(path)?;
    let Json(input) = body?;
    let agent = load(&state, id).await?;
    if agent.role == Role::Supervisor {
        return Err(bad(
            "allowed",
            format!(
                "`{}` is a supervisor: supervisors place no calls.",
                agent.username
            ),
        ));
    }
    if input.allowed.len() > MAX_CALLER_IDS {
        return Err(bad(
            "allowed",
            format!("An agent has at most {MAX_CALLER_IDS} caller IDs."),
        ));
    }
    let owned = db::enabled_did_labels(&state.db).await?;
    let mut allowed: Vec<CallerIdChoice> = Vec::with_capacity(input.allowed.len());
    for choice in &input.allowed {
        let number = owned_number(&state, &owned, "allowed", &choice.number)?;
        if allowed.iter().any(|c| c.number == number) {
            return Err(bad("allowed", format!("{number} is listed twice.")));
        }
        let label = choice.label.trim().to_owned();
        if label.chars().count() > MAX_LABEL {
            return Err(bad(
                "allowed",
                format!("The label of {number} is longer than {MAX_LABEL} characters."),
            ));
        }
        allowed.push(CallerIdChoice { number, label });
    }
    let campaign_numbers = db::campaign_caller_ids(&state.db, id).await?;
    let default = match input
        .default
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty())
    {
        None => None,
        Some(raw) => {
            let number = owned_number(&state, &owned, "default", raw)?;
            let allowed_here = allowed.iter().any(|c| c.number == number)
                || campaign_numbers.iter().any(|c| c.number == number);
            if !allowed_here {
                return Err(bad(
                    "default",
                    format!(
                        "{number} is neither in `allowed` nor a number of the agent's campaigns."
                    ),
                ));
            }
            Some(number)
        }
    };
    let old = caller_ids_of(&state, id).await?;
    db::replace_caller_ids(&state.db, id, default.as_deref(), &allowed).await?;
    push_profiles(&state, &[id]).await?;
    let new = caller_ids_of(&state, id).await?;
    audit::record(
        &state,
        &actor,
        "update",
        "caller_ids",
        id,
        Some(&old),
        Some(&new),
    )
    .await?;
    Ok(Json(new))
}
