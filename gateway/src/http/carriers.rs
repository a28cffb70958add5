//! `/api/v1/carriers`: the SIP trunks calls go out through (admins only).
//! The secret is write-only: no response ever carries it.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use shared::api::{Carrier, CarrierInput, SipTransport};

use super::session::admin;
use super::{AppError, AppState};
use crate::db::{self, UpdateOutcome};

fn bad(field: &str, message: impl Into<String>) -> AppError {
    AppError::BadRequest {
        code: "invalid_field",
        message: message.into(),
        field: Some(field.to_owned()),
    }
}

fn is_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 253
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
}

/// Checks and normalises a carrier's settings.
pub fn validate(mut input: CarrierInput, default_country: &str) -> Result<CarrierInput, AppError> {
    input.name = input.name.trim().to_owned();
    if input.name.is_empty() || input.name.chars().count() > 64 {
        return Err(bad(
            "name",
            "Give the carrier a name of 1 to 64 characters.",
        ));
    }
    input.host = input.host.trim().to_owned();
    if !is_host(&input.host) {
        return Err(bad(
            "host",
            "The host must be a host name or an IP address, like sip.example.com.",
        ));
    }
    if input.port == 0 {
        return Err(bad("port", "The port must be between 1 and 65535."));
    }
    if input.transport == SipTransport::Tls {
        return Err(bad(
            "transport",
            "TLS carriers are not supported in this version yet; use UDP or TCP.",
        ));
    }
    if input.codecs.is_empty() {
        return Err(bad("codecs", "List at least one codec: PCMU or PCMA."));
    }
    let mut codecs: Vec<String> = Vec::with_capacity(input.codecs.len());
    for codec in &input.codecs {
        let upper = codec.trim().to_ascii_uppercase();
        if !matches!(upper.as_str(), "PCMU" | "PCMA") {
            return Err(bad(
                "codecs",
                format!("Unknown codec `{codec}`: the gateway relays PCMU and PCMA (G.711)."),
            ));
        }
        if codecs.contains(&upper) {
            return Err(bad("codecs", format!("`{upper}` is listed twice.")));
        }
        codecs.push(upper);
    }
    input.codecs = codecs;
    let empty_to_none =
        |v: Option<String>| v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    input.username = empty_to_none(input.username);
    input.from_user = empty_to_none(input.from_user);
    input.from_domain = empty_to_none(input.from_domain);
    input.caller_id = empty_to_none(input.caller_id);
    if input.secret.as_deref().is_some_and(|s| s.len() > 256) {
        return Err(bad("secret", "The secret is longer than 256 characters."));
    }
    if let Some(user) = &input.from_user
        && !user
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.!~*'()&=+$,;?/%".contains(c))
    {
        return Err(bad(
            "from_user",
            "fromuser may hold letters, digits and - _ . + only.",
        ));
    }
    if let Some(domain) = &input.from_domain
        && !is_host(domain)
    {
        return Err(bad(
            "from_domain",
            "fromdomain must be a host name or an IP address.",
        ));
    }
    if let Some(number) = &input.caller_id {
        let country = shared::e164::country(default_country).unwrap_or(&shared::e164::COUNTRIES[0]);
        match shared::e164::normalize(number, country) {
            Ok(n) => input.caller_id = Some(n.as_str().to_owned()),
            Err(e) => {
                return Err(bad(
                    "caller_id",
                    format!("`{number}` is not a phone number: {e}."),
                ));
            }
        }
    }
    if !(0..=1000).contains(&input.priority) {
        return Err(bad(
            "priority",
            "The priority must be between 0 and 1000 (lower goes first).",
        ));
    }
    if input.tech_prefix.len() > 10
        || !input
            .tech_prefix
            .chars()
            .all(|c| c.is_ascii_digit() || c == '*' || c == '#')
    {
        return Err(bad(
            "tech_prefix",
            "The tech prefix is up to 10 digits, * or #.",
        ));
    }
    input.inbound_sources = inbound_sources(&input.inbound_sources)?;
    Ok(input)
}

/// Most carriers send from a handful of addresses; a long list is a mistake.
const MAX_INBOUND_SOURCES: usize = 100;

/// Each source an IP or a CIDR range, written the canonical way.
fn inbound_sources(sources: &[String]) -> Result<Vec<String>, AppError> {
    const FIELD: &str = "inbound_sources";
    if sources.len() > MAX_INBOUND_SOURCES {
        return Err(bad(
            FIELD,
            format!("List at most {MAX_INBOUND_SOURCES} addresses or ranges."),
        ));
    }
    let mut out: Vec<String> = Vec::with_capacity(sources.len());
    for source in sources {
        let trimmed = source.trim();
        if trimmed.is_empty() {
            continue;
        }
        let canonical = if trimmed.contains('/') {
            trimmed.parse::<ipnet::IpNet>().ok().map(|n| n.to_string())
        } else {
            trimmed
                .parse::<std::net::IpAddr>()
                .ok()
                .map(|a| a.to_string())
        };
        let Some(canonical) = canonical else {
            return Err(bad(
                FIELD,
                format!(
                    "`{}` is not an IP address or CIDR range (like 192.0.2.10 or 192.0.2.0/24).",
                    trimmed.chars().take(64).collect::<String>()
                ),
            ));
        };
        if out.contains(&canonical) {
            return Err(bad(FIELD, format!("`{canonical}` is listed twice.")));
        }
        out.push(canonical);
    }
    Ok(out)
}

pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Vec<Carrier>>, AppError> {
    admin(&state, &headers).await?;
    let carriers = db::carriers(&state.db).await?;
    Ok(Json(carriers.into_iter().map(|c| c.carrier).collect()))
}

pub async fn get_one(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<Json<Carrier>, AppError> {
    admin(&state, &headers).await?;
    db::carrier(&state.db, id)
        .await?
        .map(|c| Json(c.carrier))
        .ok_or(AppError::Missing { what: "carrier" })
}

pub async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<CarrierInput>, JsonRejection>,
) -> Result<Response, AppError> {
    admin(&state, &headers).await?;
    let Json(input) = body?;
    let input = validate(input, &state.config.default_country)?;
    let now = crate::transport::now().unix;
    let Some(id) = db::insert_carrier(&state.db, &input, false, now).await? else {
        return Err(name_taken(&input.name));
    };
    reload(&state).await?;
    let carrier = db::carrier(&state.db, id)
        .await?
        .ok_or(AppError::Missing { what: "carrier" })?;
    Ok((StatusCode::CREATED, Json(carrier.carrier)).into_response())
}

fn name_taken(name: &str) -> AppError {
    AppError::Conflict {
        code: "duplicate_name",
        message: format!("A carrier called `{name}` exists already."),
        field: Some("name".to_owned()),
    }
}

pub async fn update(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    body: Result<Json<CarrierInput>, JsonRejection>,
) -> Result<Json<Carrier>, AppError> {
    admin(&state, &headers).await?;
    let Json(input) = body?;
    let input = validate(input, &state.config.default_country)?;
    match db::update_carrier(&state.db, id, &input).await? {
        UpdateOutcome::Updated => {}
        UpdateOutcome::NotFound => return Err(AppError::Missing { what: "carrier" }),
        UpdateOutcome::NameTaken => return Err(name_taken(&input.name)),
    }
    reload(&state).await?;
    db::carrier(&state.db, id)
        .await?
        .map(|c| Json(c.carrier))
        .ok_or(AppError::Missing { what: "carrier" })
}

pub async fn delete(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<StatusCode, AppError> {
    admin(&state, &headers).await?;
    if !db::delete_carrier(&state.db, id).await? {
        return Err(AppError::Missing { what: "carrier" });
    }
    reload(&state).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Routes, and DIDs too: a deleted carrier's DIDs accept any carrier now.
async fn reload(state: &AppState) -> Result<(), AppError> {
    crate::carriers::reload(state).await?;
    crate::dids::reload(state).await?;
    Ok(())
}
