//! Destination policy (who may call where), `/api/v1/dialing-policy…`:
//! the default per role, an agent's own (in the place of its role's), a
//! campaign's (on top, for its agents), and the high-risk/premium prefix
//! list. Admins change them, supervisors read them; every change is
//! audited and pushed to the SIP core for the signed-in agents it touches
//! (`CoreInput::Agent`, via `agents::push_profiles`), so it applies to the
//! next call without a restart.
//!
//! The gateway's `--dial-countries` is not stored here: it is the first
//! layer of every agent's policies ([`global_layer`]), a limit the API
//! cannot lift.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use shared::api::Role;
use shared::destination::PrefixTable;
use shared::policy::{
    DestinationPolicy, DialingPolicyDefaults, PolicyOverride, Prefix, PrefixList, PrefixListInput,
    RolePolicy,
};

use super::agents::{push_all_profiles, push_profiles};
use super::dids::{bad, shorten};
use super::params::path_id;
use super::roles::{Admin, Reader};
use super::{AppError, AppState, audit};
use crate::config::Config;
use crate::db::{self, Account, PolicyOwner};

const ROLES: [Role; 3] = [Role::Agent, Role::Supervisor, Role::Admin];
const ENTITY: &str = "destination_policy";

/// `--dial-countries` as a policy: only the country limit (the premium and
/// high-risk rules are the role's or agent's to set, and an allow there
/// must be able to lift them).
pub fn global_layer(config: &Config) -> Option<DestinationPolicy> {
    (!config.dial_countries.is_empty()).then(|| DestinationPolicy {
        allowed_countries: config.dial_countries.clone(),
        block_premium: false,
        block_high_risk: false,
        ..DestinationPolicy::default()
    })
}

/// A policy as an admin writes it: prefixes as text, so that a malformed
/// one is named with its field; unknown fields refused (a typo must not
/// save an open policy).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyInput {
    #[serde(default)]
    allowed_countries: Vec<String>,
    #[serde(default = "yes")]
    block_premium: bool,
    #[serde(default = "yes")]
    block_high_risk: bool,
    #[serde(default)]
    allow_prefixes: Vec<String>,
    #[serde(default)]
    block_prefixes: Vec<String>,
}

fn yes() -> bool {
    true
}

fn prefixes(field: &str, raw: &[String]) -> Result<Vec<Prefix>, AppError> {
    if raw.len() > shared::policy::MAX_PREFIXES {
        return Err(bad(
            field,
            format!("At most {} prefixes.", shared::policy::MAX_PREFIXES),
        ));
    }
    raw.iter()
        .map(|p| {
            p.parse::<Prefix>().map_err(|e| {
                bad(
                    field,
                    format!(
                        "{} (a prefix is written like +1 876 or +44 9).",
                        shorten(&e.to_string(), 120)
                    ),
                )
            })
        })
        .collect()
}

/// Checks and normalises what an admin sent.
pub fn validate(input: PolicyInput) -> Result<DestinationPolicy, AppError> {
    if input.allowed_countries.len() > shared::policy::MAX_COUNTRIES {
        return Err(bad(
            "allowed_countries",
            format!("At most {} countries.", shared::policy::MAX_COUNTRIES),
        ));
    }
    let policy = DestinationPolicy {
        allow_prefixes: prefixes("allow_prefixes", &input.allow_prefixes)?,
        block_prefixes: prefixes("block_prefixes", &input.block_prefixes)?,
        allowed_countries: input.allowed_countries,
        block_premium: input.block_premium,
        block_high_risk: input.block_high_risk,
    }
    .normalized();
    policy.validate().map_err(|e| {
        let message = match &e {
            shared::policy::PolicyError::UnknownCountry(c) => format!(
                "`{}` is not a country code this dialer knows (use ISO codes such as US, CA, GB).",
                shorten(c, 16)
            ),
            other => format!("{other}."),
        };
        bad(e.field(), message)
    })?;
    Ok(policy)
}

fn role_of(path: Result<Path<String>, PathRejection>) -> Result<Role, AppError> {
    let Path(name) = path.map_err(|_| AppError::Missing { what: "role" })?;
    ROLES
        .into_iter()
        .find(|r| db::role_str(*r) == name)
        .ok_or(AppError::Missing { what: "role" })
}

async fn account(state: &AppState, id: i64) -> Result<Account, AppError> {
    db::account_by_id(&state.db, id)
        .await?
        .ok_or(AppError::Missing { what: "agent" })
}

async fn campaign_members(state: &AppState, id: i64) -> Result<Vec<i64>, AppError> {
    if db::campaign(&state.db, id).await?.is_none() {
        return Err(AppError::Missing { what: "campaign" });
    }
    Ok(db::campaign_account_ids(&state.db, id).await?)
}

fn audit_id(owner: PolicyOwner) -> String {
    match owner {
        PolicyOwner::Role(r) => format!("role:{}", db::role_str(r)),
        PolicyOwner::Agent(id) => format!("agent:{id}"),
        PolicyOwner::Campaign(id) => format!("campaign:{id}"),
    }
}

/// Stores (or with `None` removes) `owner`'s policy, audits it and pushes
/// the profiles of `touched` (all signed-in agents when `None`). Answers
/// what was there before.
async fn change(
    state: &AppState,
    actor: &Account,
    owner: PolicyOwner,
    new: Option<&DestinationPolicy>,
    touched: Option<&[i64]>,
) -> Result<Option<DestinationPolicy>, AppError> {
    let old = db::destination_policy(&state.db, owner).await?;
    let now = crate::transport::now().unix;
    match new {
        Some(p) => db::set_destination_policy(&state.db, owner, p, now).await?,
        None => {
            if !db::delete_destination_policy(&state.db, owner).await? {
                return Ok(None);
            }
        }
    }
    match touched {
        Some(ids) => push_profiles(state, ids).await?,
        None => push_all_profiles(state).await?,
    }
    let action = if new.is_none() {
        "delete"
    } else if old.is_some() {
        "update"
    } else {
        "create"
    };
    audit::record(
        state,
        actor,
        action,
        ENTITY,
        audit_id(owner),
        old.as_ref(),
        new,
    )
    .await?;
    Ok(old)
}

// ------------------------------------------------------------ role defaults

async fn role_policy(state: &AppState, role: Role) -> Result<RolePolicy, AppError> {
    let stored = db::destination_policy(&state.db, PolicyOwner::Role(role)).await?;
    Ok(RolePolicy {
        role,
        stored: stored.is_some(),
        policy: stored.unwrap_or_default(),
    })
}

/// `GET /dialing-policy`.
pub async fn defaults(
    State(state): State<AppState>,
    _: Reader,
) -> Result<Json<DialingPolicyDefaults>, AppError> {
    let mut roles = Vec::with_capacity(ROLES.len());
    for role in ROLES {
        roles.push(role_policy(&state, role).await?);
    }
    Ok(Json(DialingPolicyDefaults {
        dial_countries: state.config.dial_countries.clone(),
        roles,
    }))
}

/// `GET /dialing-policy/roles/{role}`.
pub async fn get_role(
    State(state): State<AppState>,
    _: Reader,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<RolePolicy>, AppError> {
    let role = role_of(path)?;
    Ok(Json(role_policy(&state, role).await?))
}

/// `PUT /dialing-policy/roles/{role}`.
pub async fn put_role(
    State(state): State<AppState>,
    Admin(actor): Admin,
    path: Result<Path<String>, PathRejection>,
    body: Result<Json<PolicyInput>, JsonRejection>,
) -> Result<Json<RolePolicy>, AppError> {
    let role = role_of(path)?;
    let Json(input) = body?;
    let policy = validate(input)?;
    change(&state, &actor, PolicyOwner::Role(role), Some(&policy), None).await?;
    Ok(Json(role_policy(&state, role).await?))
}

/// `DELETE /dialing-policy/roles/{role}`: back to the default policy.
pub async fn delete_role(
    State(state): State<AppState>,
    Admin(actor): Admin,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<RolePolicy>, AppError> {
    let role = role_of(path)?;
    change(&state, &actor, PolicyOwner::Role(role), None, None).await?;
    Ok(Json(role_policy(&state, role).await?))
}

// ------------------------------------------------------- agents, campaigns

/// `GET /agents/{id}/dialing-policy`.
pub async fn get_agent(
    State(state): State<AppState>,
    _: Reader,
    path: Result<Path<i64>, PathRejection>,
) -> Result<Json<PolicyOverride>, AppError> {
    let id = path_id(path)?;
    account(&state, id).await?;
    let policy = db::destination_policy(&state.db, PolicyOwner::Agent(id)).await?;
    Ok(Json(PolicyOverride { policy }))
}

/// `PUT /agents/{id}/dialing-policy`: the agent's own, in the place of its
/// role's.
pub async fn put_agent(
    State(state): State<AppState>,
    Admin(actor): Admin,
    path: Result<Path<i64>, PathRejection>,
    body: Result<Json<PolicyInput>, JsonRejection>,
) -> Result<Json<PolicyOverride>, AppError> {
    let id = path_id(path)?;
    account(&state, id).await?;
    let Json(input) = body?;
    let policy = validate(input)?;
    let owner = PolicyOwner::Agent(id);
    change(&state, &actor, owner, Some(&policy), Some(&[id])).await?;
    Ok(Json(PolicyOverride {
        policy: Some(policy),
    }))
}

/// `DELETE /agents/{id}/dialing-policy`: the agent has its role's again.
pub async fn delete_agent(
    State(state): State<AppState>,
    Admin(actor): Admin,
    path: Result<Path<i64>, PathRejection>,
) -> Result<StatusCode, AppError> {
    let id = path_id(path)?;
    account(&state, id).await?;
    change(&state, &actor, PolicyOwner::Agent(id), None, Some(&[id])).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /campaigns/{id}/dialing-policy`.
pub async fn get_campaign(
    State(state): State<AppState>,
    _: Reader,
    path: Result<Path<i64>, PathRejection>,
) -> Result<Json<PolicyOverride>, AppError> {
    let id = path_id(path)?;
    campaign_members(&state, id).await?;
    let policy = db::destination_policy(&state.db, PolicyOwner::Campaign(id)).await?;
    Ok(Json(PolicyOverride { policy }))
}

/// `PUT /campaigns/{id}/dialing-policy`: checked for every agent of the
/// campaign, on top of their own or their role's.
pub async fn put_campaign(
    State(state): State<AppState>,
    Admin(actor): Admin,
    path: Result<Path<i64>, PathRejection>,
    body: Result<Json<PolicyInput>, JsonRejection>,
) -> Result<Json<PolicyOverride>, AppError> {
    let id = path_id(path)?;
    let members = campaign_members(&state, id).await?;
    let Json(input) = body?;
    let policy = validate(input)?;
    let owner = PolicyOwner::Campaign(id);
    change(&state, &actor, owner, Some(&policy), Some(&members)).await?;
    Ok(Json(PolicyOverride {
        policy: Some(policy),
    }))
}

/// `DELETE /campaigns/{id}/dialing-policy`.
pub async fn delete_campaign(
    State(state): State<AppState>,
    Admin(actor): Admin,
    path: Result<Path<i64>, PathRejection>,
) -> Result<StatusCode, AppError> {
    let id = path_id(path)?;
    let members = campaign_members(&state, id).await?;
    let owner = PolicyOwner::Campaign(id);
    change(&state, &actor, owner, None, Some(&members)).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ------------------------------------------------------------ prefix list

async fn prefix_list(state: &AppState) -> Result<PrefixList, AppError> {
    Ok(match db::prefix_list(&state.db).await? {
        Some(entries) => PrefixList {
            edited: true,
            entries,
        },
        None => PrefixList {
            edited: false,
            entries: shared::destination::prefixes::shipped().clone(),
        },
    })
}

/// `GET /dialing-policy/prefixes`.
pub async fn get_prefixes(
    State(state): State<AppState>,
    _: Reader,
) -> Result<Json<PrefixList>, AppError> {
    Ok(Json(prefix_list(&state).await?))
}

/// `PUT /dialing-policy/prefixes`: the whole list, in the place of the
/// shipped one.
pub async fn put_prefixes(
    State(state): State<AppState>,
    Admin(actor): Admin,
    body: Result<Json<PrefixListInput>, JsonRejection>,
) -> Result<Json<PrefixList>, AppError> {
    let Json(PrefixListInput { entries }) = body.map_err(|rejection| {
        // Serde names the entry that does not read; say it on the field.
        bad("entries", rejection.body_text())
    })?;
    let old = prefix_list(&state).await?;
    db::set_prefix_list(&state.db, &entries, crate::transport::now().unix).await?;
    push_all_profiles(&state).await?;
    let new = prefix_list(&state).await?;
    audit_prefixes(&state, &actor, "update", &old, Some(&new)).await?;
    Ok(Json(new))
}

/// `DELETE /dialing-policy/prefixes`: back to the shipped list.
pub async fn delete_prefixes(
    State(state): State<AppState>,
    Admin(actor): Admin,
) -> Result<Json<PrefixList>, AppError> {
    let old = prefix_list(&state).await?;
    if db::delete_prefix_list(&state.db).await? {
        push_all_profiles(&state).await?;
        audit_prefixes(&state, &actor, "delete", &old, None).await?;
    }
    Ok(Json(prefix_list(&state).await?))
}

/// The list's audit entry; the shipped list is recorded as absent (it is
/// in the source), an edited one in full.
async fn audit_prefixes(
    state: &AppState,
    actor: &Account,
    action: &str,
    old: &PrefixList,
    new: Option<&PrefixList>,
) -> Result<(), AppError> {
    let edited = |l: &PrefixList| l.edited.then(|| l.entries.clone());
    let old: Option<PrefixTable> = edited(old);
    let new: Option<PrefixTable> = new.and_then(edited);
    audit::record(
        state,
        actor,
        action,
        "prefix_list",
        "high_risk",
        old.as_ref(),
        new.as_ref(),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dial_countries_are_a_country_limit_only() {
        let mut config = crate::config::Config::resolve(crate::config::Args::default())
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(global_layer(&config), None);
        config.dial_countries = vec!["US".to_owned()];
        let layer = global_layer(&config).unwrap_or_else(|| panic!("a layer"));
        assert_eq!(layer.allowed_countries, ["US"]);
        // Premium and high-risk are left to the role's or agent's policy,
        // where an allow can lift them.
        assert!(!layer.block_premium && !layer.block_high_risk);
        let number = |n: &str| {
            n.parse::<shared::e164::E164>()
                .unwrap_or_else(|e| panic!("{e}"))
        };
        assert!(layer.check(&number("+19005550100")).is_ok());
        assert!(layer.check(&number("+14165550100")).is_err());
    }
}
