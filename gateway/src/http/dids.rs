//! `/api/v1/dids`: our numbers and where their calls ring (admins change
//! them, supervisors read them), with a CSV import for many at once. Every
//! change is pushed to the SIP core (`crate::dids::reload`) and written to
//! the audit log.

use std::collections::HashMap;

use axum::Json;
use axum::body::Body;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use shared::api::{Did, DidImportRejection, DidImportReport, DidInput, DidRoute, Page, Role};

use super::csv;
use super::params::{ListQuery, bad_cursor, page, path_id};
use super::resource::{self, Resource};
use super::roles::{Admin, Reader};
use super::{AppError, AppState, audit};
use crate::db::{self, NewDid, StoredTarget};

/// The largest CSV file `POST /api/v1/dids/import` takes.
pub const MAX_IMPORT_BYTES: usize = 1024 * 1024;
/// The most rows one import takes.
pub const MAX_IMPORT_ROWS: usize = 10_000;
const MAX_LABEL_CHARS: usize = 64;

pub(super) fn bad(field: &str, message: impl Into<String>) -> AppError {
    AppError::BadRequest {
        code: "invalid_field",
        message: message.into(),
        field: Some(field.to_owned()),
    }
}

/// At most `max` characters of something a user wrote, for an error message.
pub(super) fn shorten(s: &str, max: usize) -> String {
    let mut out: String = s.chars().take(max).collect();
    if s.chars().count() > max {
        out.push('…');
    }
    out
}

/// What DIDs and ring groups may point at, loaded once per request (and
/// once per import, not once per row).
pub(super) struct Targets {
    /// By lower-case username (usernames are case-insensitive).
    accounts: HashMap<String, db::Account>,
    /// Ring group names by id, and ids by lower-case name.
    groups: HashMap<i64, String>,
    group_names: HashMap<String, i64>,
    carriers: HashMap<i64, String>,
    carrier_names: HashMap<String, i64>,
}

impl Targets {
    pub(super) async fn load(db: &db::Db) -> Result<Self, AppError> {
        let accounts = db::accounts(db)
            .await?
            .into_iter()
            .map(|a| (a.username.to_ascii_lowercase(), a))
            .collect();
        let groups: HashMap<i64, String> = db::ring_groups(db)
            .await?
            .into_iter()
            .map(|g| (g.id, g.name))
            .collect();
        let group_names = groups
            .iter()
            .map(|(id, name)| (name.to_ascii_lowercase(), *id))
            .collect();
        let carriers: HashMap<i64, String> = db::carriers(db)
            .await?
            .into_iter()
            .map(|c| (c.carrier.id, c.carrier.name))
            .collect();
        let carrier_names = carriers
            .iter()
            .map(|(id, name)| (name.to_ascii_lowercase(), *id))
            .collect();
        Ok(Targets {
            accounts,
            groups,
            group_names,
            carriers,
            carrier_names,
        })
    }

    /// An enabled account that has a phone (agents, and admins who take
    /// calls; supervisors have none).
    pub(super) fn phone_account(&self, field: &str, username: &str) -> Result<i64, AppError> {
        let username = username.trim();
        match self.accounts.get(&username.to_ascii_lowercase()) {
            None => Err(bad(
                field,
                format!("There is no agent called `{}`.", shorten(username, 64)),
            )),
            Some(a) if !a.enabled => Err(bad(
                field,
                format!("The account `{}` is disabled.", a.username),
            )),
            Some(a) if a.role == Role::Supervisor => Err(bad(
                field,
                format!(
                    "`{}` is a supervisor: supervisors have no phone to ring.",
                    a.username
                ),
            )),
            Some(a) => Ok(a.id),
        }
    }
}

const REJECT_CODES_HINT: &str =
    "480 Temporarily Unavailable, 486 Busy Here, 404 Not Found or 603 Decline";

/// Checks a DID against what exists; `number` is already E.164.
fn validate(input: DidInput, number: String, targets: &Targets) -> Result<NewDid, AppError> {
    let label = input.label.trim().to_owned();
    if label.chars().count() > MAX_LABEL_CHARS {
        return Err(bad(
            "label",
            format!("The label is at most {MAX_LABEL_CHARS} characters."),
        ));
    }
    if let Some(id) = input.carrier_id
        && !targets.carriers.contains_key(&id)
    {
        return Err(bad("carrier_id", format!("There is no carrier {id}.")));
    }
    // Only the field of the chosen route may be set, so that a form sending
    // a stale value never looks like it took effect.
    let not_for = |field: &str, set: bool| {
        if set {
            Err(bad(
                field,
                format!("`{field}` does not go with this route; leave it out."),
            ))
        } else {
            Ok(())
        }
    };
    // An empty username is no username (forms send "").
    let agent = input
        .agent
        .as_deref()
        .map(str::trim)
        .filter(|a| !a.is_empty());
    let target = match input.route {
        DidRoute::Agent => {
            not_for("group_id", input.group_id.is_some())?;
            not_for("reject_code", input.reject_code.is_some())?;
            let Some(agent) = agent else {
                return Err(bad("agent", "Name the agent (username) this number rings."));
            };
            StoredTarget::Agent(targets.phone_account("agent", agent)?)
        }
        DidRoute::Group => {
            not_for("agent", agent.is_some())?;
            not_for("reject_code", input.reject_code.is_some())?;
            let Some(id) = input.group_id else {
                return Err(bad("group_id", "Name the ring group this number rings."));
            };
            if !targets.groups.contains_key(&id) {
                return Err(bad("group_id", format!("There is no ring group {id}.")));
            }
            StoredTarget::Group(id)
        }
        DidRoute::Reject => {
            not_for("agent", agent.is_some())?;
            not_for("group_id", input.group_id.is_some())?;
            match input.reject_code {
                Some(code) if (400..=699).contains(&code) => StoredTarget::Reject(code),
                Some(code) => {
                    return Err(bad(
                        "reject_code",
                        format!(
                            "{code} is not a SIP failure status: use 400 to 699, e.g. {REJECT_CODES_HINT}."
                        ),
                    ));
                }
                None => {
                    return Err(bad(
                        "reject_code",
                        format!("Give the status to refuse calls with, e.g. {REJECT_CODES_HINT}."),
                    ));
                }
            }
        }
    };
    Ok(NewDid {
        number,
        label,
        carrier_id: input.carrier_id,
        target,
        enabled: input.enabled,
    })
}

/// The number in E.164, read in the gateway's default country. A number
/// already stored as a DID is taken as it is, even if the numbering table
/// would refuse it now (the demo DID, or a plan that changed).
async fn number(state: &AppState, raw: &str) -> Result<String, AppError> {
    let country =
        shared::e164::country(&state.config.default_country).unwrap_or(&shared::e164::COUNTRIES[0]);
    match shared::e164::normalize(raw, country) {
        Ok(n) => Ok(n.into()),
        Err(e) => {
            let trimmed = raw.trim();
            if trimmed.starts_with('+') && db::did_number_exists(&state.db, trimmed).await? {
                Ok(trimmed.to_owned())
            } else {
                Err(bad(
                    "number",
                    format!("`{}` is not a phone number: {e}.", shorten(trimmed, 64)),
                ))
            }
        }
    }
}

fn number_taken(number: &str) -> AppError {
    AppError::Conflict {
        code: "duplicate_number",
        message: format!("{number} is a DID already."),
        field: Some("number".to_owned()),
    }
}

pub async fn list(
    State(state): State<AppState>,
    _: Reader,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<Page<Did>>, AppError> {
    let query = ListQuery::from_request(query)?;
    let limit = query.limit()?;
    // The cursor is the last number of the previous page without its `+`
    // (a `+` in a query string reads as a space).
    let after = match &query.cursor {
        None => None,
        Some(c) if !c.is_empty() && c.len() <= 15 && c.bytes().all(|b| b.is_ascii_digit()) => {
            Some(format!("+{c}"))
        }
        Some(_) => return Err(bad_cursor()),
    };
    let items = db::dids_page(&state.db, after.as_deref(), limit).await?;
    Ok(Json(page(items, limit, |d| {
        d.number.trim_start_matches('+').to_owned()
    })))
}

impl Resource for Did {
    const ENTITY: &'static str = "did";
    const WHAT: &'static str = "DID";

    async fn fetch(db: &db::Db, id: i64) -> Result<Option<Self>, db::DbError> {
        db::did(db, id).await
    }
}

/// DIDs are what agents may present: after a change, the signed-in agents'
/// dialing profiles are pushed again, as the DIDs are.
async fn reload(state: &AppState) -> Result<(), AppError> {
    crate::dids::reload(state).await?;
    super::agents::push_all_profiles(state).await
}

pub async fn create(
    State(state): State<AppState>,
    Admin(actor): Admin,
    body: Result<Json<DidInput>, JsonRejection>,
) -> Result<Response, AppError> {
    let Json(input) = body?;
    let number = number(&state, &input.number).await?;
    let did = validate(input, number, &Targets::load(&state.db).await?)?;
    let now = crate::transport::now().unix;
    resource::create::<Did, _>(
        &state,
        &actor,
        db::insert_did(&state.db, &did, now),
        || number_taken(&did.number),
        reload(&state),
    )
    .await
}

pub async fn update(
    State(state): State<AppState>,
    Admin(actor): Admin,
    path: Result<Path<i64>, PathRejection>,
    body: Result<Json<DidInput>, JsonRejection>,
) -> Result<Json<Did>, AppError> {
    let id = path_id(path)?;
    let Json(input) = body?;
    let number = number(&state, &input.number).await?;
    let did = validate(input, number, &Targets::load(&state.db).await?)?;
    resource::update(
        &state,
        &actor,
        id,
        db::update_did(&state.db, id, &did),
        || number_taken(&did.number),
        reload(&state),
    )
    .await
}

pub async fn delete(
    State(state): State<AppState>,
    Admin(actor): Admin,
    path: Result<Path<i64>, PathRejection>,
) -> Result<StatusCode, AppError> {
    let id = path_id(path)?;
    resource::delete::<Did, _>(
        &state,
        &actor,
        id,
        db::delete_did(&state.db, id),
        reload(&state),
    )
    .await
}

/// `POST /api/v1/dids/import`: a CSV file (`text/csv`) with the columns
/// `number,label,route,target,carrier` (the header row is optional; `target`
/// is the agent's username, the ring group's name or the reject status;
/// `carrier` a carrier's name or id, or empty for any). Each row is checked
/// like `POST /api/v1/dids`; the valid ones are saved (an existing number is
/// updated and keeps its enabled flag) even when others are rejected.
pub async fn import(
    State(state): State<AppState>,
    Admin(actor): Admin,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<DidImportReport>, AppError> {
    let too_large = || AppError::TooLarge {
        message: format!(
            "The file is larger than {} KiB; split it into smaller files.",
            MAX_IMPORT_BYTES / 1024
        ),
    };
    let text = csv::read_upload(&headers, body, "DIDs", MAX_IMPORT_BYTES, too_large).await?;
    let records = csv::parse(&text, MAX_IMPORT_ROWS + 1).map_err(|e| match e {
        csv::CsvError::TooManyRows { .. } => AppError::TooLarge {
            message: format!(
                "The file has more than {MAX_IMPORT_ROWS} rows; split it into smaller files."
            ),
        },
        e => AppError::BadRequest {
            code: "invalid_csv",
            message: format!("The file is not valid CSV: {e}."),
            field: None,
        },
    })?;
    let has_header = records
        .first()
        .and_then(|r| r.fields.first())
        .is_some_and(|f| f.trim().eq_ignore_ascii_case("number"));
    let rows = &records[usize::from(has_header)..];
    if rows.len() > MAX_IMPORT_ROWS {
        return Err(AppError::TooLarge {
            message: format!(
                "The file has more than {MAX_IMPORT_ROWS} rows; split it into smaller files."
            ),
        });
    }

    let targets = Targets::load(&state.db).await?;
    let mut report = DidImportReport::default();
    let mut valid: Vec<NewDid> = Vec::with_capacity(rows.len());
    // Numbers seen in this file, and on which line.
    let mut seen: HashMap<String, u32> = HashMap::new();
    for row in rows {
        let raw_number = row.fields.first().map(|f| f.trim()).unwrap_or_default();
        let reject = |field: Option<&str>, error: String| DidImportRejection {
            line: row.line,
            number: shorten(raw_number, 32),
            field: field.map(str::to_owned),
            error,
        };
        match import_row(&state, &row.fields, &targets).await {
            Ok(did) => match seen.get(&did.number) {
                Some(first) => report.rejected.push(reject(
                    Some("number"),
                    format!("{} is on line {first} already.", did.number),
                )),
                None => {
                    seen.insert(did.number.clone(), row.line);
                    valid.push(did);
                }
            },
            Err(AppError::BadRequest { message, field, .. }) => {
                report.rejected.push(reject(field.as_deref(), message));
            }
            Err(other) => return Err(other),
        }
    }
    let now = crate::transport::now().unix;
    let (created, updated) = db::upsert_dids(&state.db, &valid, now).await?;
    report.created = created;
    report.updated = updated;
    if created + updated > 0 {
        reload(&state).await?;
        // One entry for the file: the numbers saved and the report.
        let numbers: Vec<&str> = valid.iter().map(|d| d.number.as_str()).collect();
        let new = serde_json::json!({"numbers": numbers, "report": &report});
        audit::record(&state, &actor, "import", "did", "csv", None, Some(&new)).await?;
    }
    Ok(Json(report))
}

/// One CSV row checked like `POST /api/v1/dids`; errors name CSV columns.
async fn import_row(
    state: &AppState,
    fields: &[String],
    targets: &Targets,
) -> Result<NewDid, AppError> {
    if !(3..=5).contains(&fields.len()) {
        return Err(AppError::BadRequest {
            code: "invalid_row",
            message: format!(
                "Expected the columns number,label,route,target,carrier; this row has {}.",
                fields.len()
            ),
            field: None,
        });
    }
    let column = |i: usize| fields.get(i).map(|f| f.trim()).unwrap_or_default();
    let (raw_number, label, route, target, carrier) =
        (column(0), column(1), column(2), column(3), column(4));
    let number = number(state, raw_number).await?;
    let mut input = DidInput {
        number: raw_number.to_owned(),
        label: label.to_owned(),
        carrier_id: None,
        route: DidRoute::Reject,
        agent: None,
        group_id: None,
        reject_code: None,
        enabled: true,
    };
    match route.to_ascii_lowercase().as_str() {
        "agent" => {
            input.route = DidRoute::Agent;
            input.agent = Some(target.to_owned());
        }
        "group" => {
            input.route = DidRoute::Group;
            let Some(id) = targets.group_names.get(&target.to_ascii_lowercase()) else {
                return Err(bad(
                    "target",
                    format!("There is no ring group called `{}`.", shorten(target, 64)),
                ));
            };
            input.group_id = Some(*id);
        }
        "reject" => {
            input.route = DidRoute::Reject;
            let Ok(code) = target.parse::<u16>() else {
                return Err(bad(
                    "target",
                    format!(
                        "For route reject, the target is a SIP status, e.g. {REJECT_CODES_HINT}."
                    ),
                ));
            };
            input.reject_code = Some(code);
        }
        _ => {
            return Err(bad(
                "route",
                format!(
                    "The route is agent, group or reject, not `{}`.",
                    shorten(route, 32)
                ),
            ));
        }
    }
    if !carrier.is_empty() {
        let id = match carrier.parse::<i64>() {
            Ok(id) if targets.carriers.contains_key(&id) => Some(id),
            Ok(_) => None,
            Err(_) => targets
                .carrier_names
                .get(&carrier.to_ascii_lowercase())
                .copied(),
        };
        let Some(id) = id else {
            return Err(bad(
                "carrier",
                format!("There is no carrier `{}`.", shorten(carrier, 64)),
            ));
        };
        input.carrier_id = Some(id);
    }
    validate(input, number, targets).map_err(|e| match e {
        AppError::BadRequest {
            code,
            message,
            field,
        } => AppError::BadRequest {
            code,
            message,
            // The JSON field names, as CSV columns.
            field: field.map(|f| {
                match f.as_str() {
                    "agent" | "group_id" | "reject_code" => "target",
                    "carrier_id" => "carrier",
                    other => other,
                }
                .to_owned()
            }),
        },
        other => other,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn shorten_marks_what_it_cut() {
        assert_eq!(shorten("abc", 5), "abc");
        assert_eq!(shorten("abcdef", 3), "abc…");
    }
}
