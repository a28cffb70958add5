//! `/api/v1/carriers`: the SIP trunks calls go out through (admins change
//! them, supervisors read them), and each one's channel usage. The secret is
//! write-only: no response and no audit entry ever carries it.

use axum::Json;
use axum::body::Body;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use shared::api::{Carrier, CarrierInput, ChannelUsage, Page, SipTransport};
use shared::ids::CarrierId;

use super::audit;
use super::params::{ListQuery, bad_cursor, page, path_id};
use super::resource::{self, Resource};
use super::roles::{Admin, Reader};
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
    // An IP address is stored the canonical way (IPv6 without brackets).
    if let Some(ip) = shared::sip::ipv6::parse_host(&input.host) {
        input.host = ip.to_string();
    } else if input.host.contains([':', '[', ']']) {
        return Err(bad(
            "host",
            "An IPv6 address is written like 2001:db8::10 or [2001:db8::10] (no port here).",
        ));
    }
    if !is_host(&input.host) {
        return Err(bad(
            "host",
            "The host must be a host name or an IP address, like sip.example.com.",
        ));
    }
    if input.port == 0 {
        return Err(bad("port", "The port must be between 1 and 65535."));
    }
    input.tls_ca = input
        .tls_ca
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty());
    if let Some(pem) = &input.tls_ca {
        if input.transport != SipTransport::Tls {
            return Err(bad(
                "tls_ca",
                "A pinned CA is for TLS carriers only: set the transport to TLS or clear it.",
            ));
        }
        let target = crate::transport::tls::TlsTarget {
            server_name: "carrier.invalid".to_owned(),
            ca_pem: Some(pem.clone()),
        };
        if pem.len() > 64 * 1024 {
            return Err(bad("tls_ca", "The CA is at most 64 KiB of PEM."));
        }
        if let Err(why) = crate::transport::tls::connector(&target) {
            return Err(bad("tls_ca", format!("The CA is not usable: {why}.")));
        }
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
    if let Some(user) = &input.username
        && (user.chars().count() > 128 || user.chars().any(|c| c.is_control() || c == ' '))
    {
        return Err(bad(
            "username",
            "The username is up to 128 characters, without spaces.",
        ));
    }
    input.realm = empty_to_none(input.realm);
    if let Some(realm) = &input.realm
        && (realm.chars().count() > 128
            || !realm
                .chars()
                .all(|c| c.is_ascii_graphic() && c != '"' && c != '\\'))
    {
        return Err(bad(
            "realm",
            "The realm is up to 128 printable characters, without quotes or backslashes.",
        ));
    }
    if !(1..=1000).contains(&input.weight) {
        return Err(bad(
            "weight",
            "The weight must be between 1 and 1000 (a larger share of calls among carriers of the same priority).",
        ));
    }
    if input
        .max_channels
        .is_some_and(|m| !(1..=100_000).contains(&m))
    {
        return Err(bad(
            "max_channels",
            "Max channels must be between 1 and 100000, or null for no limit.",
        ));
    }
    if !(60..=86_400).contains(&input.register_expiry_s) {
        return Err(bad(
            "register_expiry_s",
            "The registration expiry must be between 60 and 86400 seconds.",
        ));
    }
    if !(1..=3600).contains(&input.qualify_interval_s) {
        return Err(bad(
            "qualify_interval_s",
            "The qualify interval must be between 1 and 3600 seconds.",
        ));
    }
    if input.register && input.username.is_none() {
        return Err(bad(
            "username",
            "Registering with the carrier needs the username it gave you.",
        ));
    }
    Ok(input)
}

/// Registration needs a secret: a new one, or the one stored.
fn check_secret(input: &CarrierInput, stored: bool) -> Result<(), AppError> {
    let given = input.secret.as_deref().is_some_and(|s| !s.is_empty());
    if input.register && !given && !stored {
        return Err(bad(
            "secret",
            "Registering with the carrier needs the secret it gave you.",
        ));
    }
    Ok(())
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

/// Carriers in the order calls try them (priority, then age), a page at a
/// time; the cursor is the last one's `priority.id`.
pub async fn list(
    State(state): State<AppState>,
    _: Reader,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<Page<Carrier>>, AppError> {
    let query = ListQuery::from_request(query)?;
    let limit = query.limit()?;
    let after = match &query.cursor {
        None => None,
        Some(c) => Some(
            c.split_once('.')
                .and_then(|(p, id)| Some((p.parse::<i64>().ok()?, id.parse::<i64>().ok()?)))
                .ok_or_else(bad_cursor)?,
        ),
    };
    // A gateway has a handful of carriers: sorting them here is cheaper
    // than a second query shape.
    let items: Vec<Carrier> = db::carriers(&state.db)
        .await?
        .into_iter()
        .map(|c| c.carrier)
        .filter(|c| after.is_none_or(|a| (c.priority, c.id) > a))
        .take(usize::try_from(limit).unwrap_or(usize::MAX))
        .collect();
    Ok(Json(page(items, limit, |c| {
        format!("{}.{}", c.priority, c.id)
    })))
}

impl Resource for Carrier {
    const ENTITY: &'static str = "carrier";
    const WHAT: &'static str = "carrier";

    async fn fetch(db: &db::Db, id: i64) -> Result<Option<Self>, db::DbError> {
        Ok(db::carrier(db, id).await?.map(|c| c.carrier))
    }
}

async fn load(state: &AppState, id: i64) -> Result<Carrier, AppError> {
    resource::load(state, id).await
}

pub async fn create(
    State(state): State<AppState>,
    Admin(actor): Admin,
    body: Result<Json<CarrierInput>, JsonRejection>,
) -> Result<Response, AppError> {
    let Json(input) = body?;
    let input = validate(input, &state.config.default_country)?;
    check_secret(&input, false)?;
    let now = crate::transport::now().unix;
    resource::create::<Carrier, _>(
        &state,
        &actor,
        db::insert_carrier(&state.db, &input, false, now),
        || name_taken(&input.name),
        reload(&state),
    )
    .await
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
    Admin(actor): Admin,
    path: Result<Path<i64>, PathRejection>,
    body: Result<Json<CarrierInput>, JsonRejection>,
) -> Result<Json<Carrier>, AppError> {
    let id = path_id(path)?;
    let Json(input) = body?;
    let input = validate(input, &state.config.default_country)?;
    let old = load(&state, id).await?;
    check_secret(&input, old.has_secret)?;
    match db::update_carrier(&state.db, id, &input).await? {
        UpdateOutcome::Updated => {}
        UpdateOutcome::NotFound => return Err(AppError::Missing { what: "carrier" }),
        UpdateOutcome::NameTaken => return Err(name_taken(&input.name)),
    }
    reload(&state).await?;
    let carrier = load(&state, id).await?;
    // `has_secret` alone would not show a secret replaced by another.
    let mut new = serde_json::to_value(&carrier)
        .map_err(|e| AppError::Internal(format!("carrier JSON: {e}")))?;
    if input.secret.as_deref().is_some_and(|s| !s.is_empty()) {
        new["secret_changed"] = serde_json::Value::Bool(true);
    }
    let old =
        serde_json::to_value(&old).map_err(|e| AppError::Internal(format!("carrier JSON: {e}")))?;
    audit::record(
        &state,
        &actor,
        "update",
        "carrier",
        id,
        Some(&old),
        Some(&new),
    )
    .await?;
    Ok(Json(carrier))
}

pub async fn delete(
    State(state): State<AppState>,
    Admin(actor): Admin,
    path: Result<Path<i64>, PathRejection>,
) -> Result<StatusCode, AppError> {
    let id = path_id(path)?;
    resource::delete::<Carrier, _>(
        &state,
        &actor,
        id,
        db::delete_carrier(&state.db, id),
        reload(&state),
    )
    .await
}

/// How far back `peak_7d` and `recommended` look.
const PEAK_WINDOW_MS: i64 = 7 * 24 * 3600 * 1000;

/// Every watched carrier's trunk status.
#[derive(Debug, serde::Serialize)]
pub struct TrunkStatusList {
    pub items: Vec<crate::sip::trunks::TrunkStatus>,
}

/// `GET /api/v1/carriers/status`: the qualify, registration and DNS state
/// of every carrier that has one (the carrier list polls it).
pub async fn statuses(
    State(state): State<AppState>,
    _: Reader,
) -> Result<Json<TrunkStatusList>, AppError> {
    Ok(Json(TrunkStatusList {
        items: state.sip.trunk_statuses().all(),
    }))
}

/// `GET /api/v1/carriers/{id}/status`: the trunk's qualify and
/// registration state as the SIP core last reported it (both `null` when
/// the carrier has neither, or the core has not looked at it yet), and how
/// its host name resolved (`dns`, `null` for an IP address).
pub async fn status(
    State(state): State<AppState>,
    _: Reader,
    path: Result<Path<i64>, PathRejection>,
) -> Result<Json<crate::sip::trunks::TrunkStatus>, AppError> {
    let id = path_id(path)?;
    load(&state, id).await?;
    let status =
        state
            .sip
            .trunk_statuses()
            .get(CarrierId(id))
            .unwrap_or(crate::sip::trunks::TrunkStatus {
                carrier_id: CarrierId(id),
                qualify: None,
                registration: None,
                dns: None,
            });
    Ok(Json(status))
}

/// `GET /api/v1/carriers/{id}/channels`: calls on the carrier now against
/// its limit, its busiest moment of the last 7 days, and the channels that
/// moment calls for (× 1.2, rounded up). Each carrier's figures come from
/// its own calls only.
pub async fn channels(
    State(state): State<AppState>,
    _: Reader,
    path: Result<Path<i64>, PathRejection>,
) -> Result<Json<ChannelUsage>, AppError> {
    let id = path_id(path)?;
    let carrier = load(&state, id).await?;
    let now = crate::transport::now().unix_ms;
    let spans =
        db::carrier_call_spans_since(&state.db, id, now.saturating_sub(PEAK_WINDOW_MS)).await?;
    // Each call is its own key: every call holds a channel.
    let peak_7d = peak_concurrency(spans.iter().enumerate().map(|(i, s)| (s.start, s.end, i)));
    let in_use = state
        .live
        .snapshot()
        .iter()
        .filter(|c| c.carrier_id == Some(CarrierId(id)))
        .count();
    Ok(Json(ChannelUsage {
        carrier_id: CarrierId(id),
        in_use: u32::try_from(in_use).unwrap_or(u32::MAX),
        max_channels: carrier.max_channels,
        peak_7d,
        recommended: recommended_channels(peak_7d),
    }))
}

/// ⌈peak × 1.2⌉, in integers: ⌈peak × 6 / 5⌉.
pub fn recommended_channels(peak: u32) -> u32 {
    let scaled = u64::from(peak) * 6;
    u32::try_from(scaled.div_ceil(5)).unwrap_or(u32::MAX)
}

/// The most keys active at once over half-open spans `[start, end)`: a
/// sweep over the sorted start and end events (an end sorts before a start
/// at the same instant, so back-to-back calls do not overlap). A key with
/// several overlapping spans (an agent on two calls) counts once.
pub fn peak_concurrency<K: std::hash::Hash + Eq + Copy>(
    spans: impl Iterator<Item = (i64, i64, K)>,
) -> u32 {
    let mut events: Vec<(i64, bool, K)> = Vec::new();
    for (start, end, key) in spans {
        if end > start {
            events.push((start, true, key));
            events.push((end, false, key));
        }
    }
    // false (end) sorts before true (start).
    events.sort_by_key(|&(at, is_start, _)| (at, is_start));
    let mut open: std::collections::HashMap<K, u32> = std::collections::HashMap::new();
    let (mut active, mut peak) = (0u32, 0u32);
    for (_, is_start, key) in events {
        let count = open.entry(key).or_insert(0);
        if is_start {
            if *count == 0 {
                active += 1;
                peak = peak.max(active);
            }
            *count += 1;
        } else {
            *count = count.saturating_sub(1);
            if *count == 0 {
                active = active.saturating_sub(1);
            }
        }
    }
    peak
}

/// Routes, and DIDs too: a deleted carrier's DIDs accept any carrier now.
async fn reload(state: &AppState) -> Result<(), AppError> {
    crate::carriers::reload(state).await?;
    crate::dids::reload(state).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peak(spans: &[(i64, i64, u32)]) -> u32 {
        peak_concurrency(spans.iter().copied())
    }

    #[test]
    fn the_sweep_counts_overlaps_not_touching_spans() {
        assert_eq!(peak(&[]), 0);
        assert_eq!(peak(&[(0, 10, 1)]), 1);
        // Back to back: never two at once.
        assert_eq!(peak(&[(0, 10, 1), (10, 20, 2), (20, 30, 3)]), 1);
        // Three overlap in [5, 6).
        assert_eq!(
            peak(&[(0, 10, 1), (5, 15, 2), (2, 6, 3), (6, 8, 4), (20, 30, 5)]),
            3
        );
        // Zero-length and reversed spans count for nothing.
        assert_eq!(peak(&[(5, 5, 1), (9, 3, 2)]), 0);
    }

    #[test]
    fn an_agent_on_two_calls_counts_once() {
        // Agent 7 has two overlapping calls, agent 8 one.
        assert_eq!(peak(&[(0, 10, 7), (5, 15, 7), (6, 9, 8)]), 2);
        // The key stays active until its last span ends.
        assert_eq!(peak(&[(0, 10, 7), (5, 15, 7), (12, 20, 8)]), 2);
    }

    #[test]
    fn recommended_is_twenty_percent_more_rounded_up() {
        assert_eq!(recommended_channels(0), 0);
        assert_eq!(recommended_channels(1), 2);
        assert_eq!(recommended_channels(5), 6);
        assert_eq!(recommended_channels(10), 12);
        assert_eq!(recommended_channels(11), 14);
    }
}

/// Largest rate file accepted (100 000 rows of about 80 bytes).
const MAX_RATES_BYTES: usize = 8 * 1024 * 1024;

/// `GET /api/v1/carriers/{id}/rates` answers this.
#[derive(Debug, serde::Serialize)]
pub struct RateList {
    /// By prefix; prices per minute in 1/10000 of the carrier's currency.
    pub items: Vec<shared::rates::Rate>,
}

/// `GET /api/v1/carriers/{id}/rates`: the carrier's rate table.
pub async fn rates(
    State(state): State<AppState>,
    _: Reader,
    path: Result<Path<i64>, PathRejection>,
) -> Result<Json<RateList>, AppError> {
    let id = path_id(path)?;
    load(&state, id).await?;
    Ok(Json(RateList {
        items: db::carrier_rates(&state.db, id).await?,
    }))
}

/// `PUT /api/v1/carriers/{id}/rates`: replaces the carrier's rate table
/// with a `text/csv` body of `prefix,price_per_minute[,description]`
/// lines. Nothing is saved when a line is bad: 400 names the first bad
/// lines with their numbers. Audited with the row counts before and after.
pub async fn put_rates(
    State(state): State<AppState>,
    Admin(actor): Admin,
    path: Result<Path<i64>, PathRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<RateList>, AppError> {
    let id = path_id(path)?;
    let too_large = || AppError::TooLarge {
        message: format!(
            "The file is larger than {} MiB or {} rows.",
            MAX_RATES_BYTES / (1024 * 1024),
            shared::rates::MAX_RATES
        ),
    };
    let text = super::csv::read_upload(&headers, body, "rates", MAX_RATES_BYTES, too_large).await?;
    let table = shared::rates::RateTable::parse_csv(&text).map_err(|e| match e {
        shared::rates::RatesCsvError::TooManyRows => too_large(),
        e => AppError::BadRequest {
            code: "invalid_csv",
            message: format!("No rates were saved: {e}."),
            field: None,
        },
    })?;
    load(&state, id).await?;
    let before = db::carrier_rates(&state.db, id).await?.len();
    let rates = table.into_rates();
    if !db::replace_carrier_rates(&state.db, id, &rates).await? {
        return Err(AppError::Missing { what: "carrier" });
    }
    audit::record(
        &state,
        &actor,
        "update",
        "carrier_rates",
        id,
        Some(&serde_json::json!({ "rows": before })),
        Some(&serde_json::json!({ "rows": rates.len() })),
    )
    .await?;
    Ok(Json(RateList { items: rates }))
}
