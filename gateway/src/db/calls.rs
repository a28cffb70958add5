//! Carriers, agents' caller IDs and call records.

use shared::api::{
    CallDirection, CallRecord, Carrier, CarrierInput, HangupBy, InboundNumberFrom, NumberFormat,
    SipTransport, SrtpMode,
};
use sqlx::Row;

use super::{Db, DbError};

/// A carrier with its secret, for the SIP core (never for the API).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CarrierRecord {
    pub carrier: Carrier,
    pub secret: Option<String>,
}

const CARRIER_COLUMNS: &str = "id, name, host, port, transport, username, secret, from_user, \
     from_domain, caller_id, codecs, priority, number_format, tech_prefix, is_demo, enabled, \
     inbound_sources, inbound_number_from, realm, weight, max_channels, register, \
     register_expiry_s, qualify, qualify_interval_s, tls_ca, srtp";

fn transport_str(t: SipTransport) -> &'static str {
    match t {
        SipTransport::Udp => "udp",
        SipTransport::Tcp => "tcp",
        SipTransport::Tls => "tls",
    }
}

fn parse_transport(s: &str) -> SipTransport {
    match s {
        "tcp" => SipTransport::Tcp,
        "tls" => SipTransport::Tls,
        // The schema's CHECK constraint allows nothing else.
        _ => SipTransport::Udp,
    }
}

fn format_str(f: NumberFormat) -> &'static str {
    match f {
        NumberFormat::E164 => "e164",
        NumberFormat::E164WithoutPlus => "e164_without_plus",
        NumberFormat::National => "national",
    }
}

fn parse_format(s: &str) -> NumberFormat {
    match s {
        "e164_without_plus" => NumberFormat::E164WithoutPlus,
        "national" => NumberFormat::National,
        _ => NumberFormat::E164,
    }
}

fn number_from_str(n: InboundNumberFrom) -> &'static str {
    match n {
        InboundNumberFrom::RequestUri => "request_uri",
        InboundNumberFrom::To => "to",
        InboundNumberFrom::Diversion => "diversion",
    }
}

fn parse_number_from(s: &str) -> InboundNumberFrom {
    match s {
        "to" => InboundNumberFrom::To,
        "diversion" => InboundNumberFrom::Diversion,
        // The schema's CHECK constraint allows nothing else.
        _ => InboundNumberFrom::RequestUri,
    }
}

/// The comma-separated column, as a list.
fn split_list(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
        .collect()
}

fn carrier_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<CarrierRecord, sqlx::Error> {
    let secret: Option<String> = row.try_get("secret")?;
    let codecs: String = row.try_get("codecs")?;
    let inbound_sources: String = row.try_get("inbound_sources")?;
    let port: i64 = row.try_get("port")?;
    let max_channels: Option<i64> = row.try_get("max_channels")?;
    let register_expiry: i64 = row.try_get("register_expiry_s")?;
    let qualify_interval: i64 = row.try_get("qualify_interval_s")?;
    Ok(CarrierRecord {
        carrier: Carrier {
            id: row.try_get("id")?,
            name: row.try_get("name")?,
            host: row.try_get("host")?,
            // The schema's CHECK constraint keeps it in 1..=65535.
            port: u16::try_from(port).unwrap_or(5060),
            transport: parse_transport(row.try_get::<&str, _>("transport")?),
            username: row.try_get("username")?,
            has_secret: secret.as_deref().is_some_and(|s| !s.is_empty()),
            from_user: row.try_get("from_user")?,
            from_domain: row.try_get("from_domain")?,
            caller_id: row.try_get("caller_id")?,
            codecs: split_list(&codecs),
            priority: row.try_get("priority")?,
            number_format: parse_format(row.try_get::<&str, _>("number_format")?),
            tech_prefix: row.try_get("tech_prefix")?,
            is_demo: row.try_get("is_demo")?,
            enabled: row.try_get("enabled")?,
            inbound_sources: split_list(&inbound_sources),
            inbound_number_from: parse_number_from(row.try_get::<&str, _>("inbound_number_from")?),
            realm: row.try_get("realm")?,
            weight: row.try_get("weight")?,
            max_channels: max_channels.and_then(|m| u32::try_from(m).ok()),
            register: row.try_get("register")?,
            // The schema's CHECK constraints keep both in range.
            register_expiry_s: u32::try_from(register_expiry).unwrap_or(3600),
            qualify: row.try_get("qualify")?,
            qualify_interval_s: u32::try_from(qualify_interval).unwrap_or(30),
            tls_ca: row.try_get("tls_ca")?,
            // The schema's CHECK constraint allows nothing else.
            srtp: SrtpMode::parse(row.try_get::<&str, _>("srtp")?).unwrap_or_default(),
        },
        secret,
    })
}

/// Every carrier, in the order calls try them (priority, then age).
pub async fn carriers(db: &Db) -> Result<Vec<CarrierRecord>, DbError> {
    let rows = sqlx::query(&format!(
        "SELECT {CARRIER_COLUMNS} FROM carriers ORDER BY priority, id"
    ))
    .fetch_all(db)
    .await?;
    Ok(rows
        .iter()
        .map(carrier_from_row)
        .collect::<Result<_, _>>()?)
}

pub async fn carrier(db: &Db, id: i64) -> Result<Option<CarrierRecord>, DbError> {
    let row = sqlx::query(&format!(
        "SELECT {CARRIER_COLUMNS} FROM carriers WHERE id = ?"
    ))
    .bind(id)
    .fetch_optional(db)
    .await?;
    Ok(row.as_ref().map(carrier_from_row).transpose()?)
}

type Query<'q> = sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>>;

/// Binds the settings both INSERT and UPDATE write, in their column order:
/// name, host, port, transport, username, secret, from_user, from_domain,
/// caller_id, codecs, priority, number_format, tech_prefix, inbound_sources,
/// inbound_number_from, realm, weight, max_channels, register,
/// register_expiry_s, qualify, qualify_interval_s, tls_ca, srtp.
fn bind_settings<'q>(query: Query<'q>, input: &'q CarrierInput) -> Query<'q> {
    query
        .bind(&input.name)
        .bind(&input.host)
        .bind(i64::from(input.port))
        .bind(transport_str(input.transport))
        .bind(&input.username)
        .bind(&input.secret)
        .bind(&input.from_user)
        .bind(&input.from_domain)
        .bind(&input.caller_id)
        .bind(input.codecs.join(","))
        .bind(input.priority)
        .bind(format_str(input.number_format))
        .bind(&input.tech_prefix)
        .bind(input.inbound_sources.join(","))
        .bind(number_from_str(input.inbound_number_from))
        .bind(&input.realm)
        .bind(input.weight)
        .bind(input.max_channels.map(i64::from))
        .bind(input.register)
        .bind(i64::from(input.register_expiry_s))
        .bind(input.qualify)
        .bind(i64::from(input.qualify_interval_s))
        .bind(&input.tls_ca)
        .bind(input.srtp.as_str())
}

/// Inserts a carrier (already validated); `None` when the name is taken.
pub async fn insert_carrier(
    db: &Db,
    input: &CarrierInput,
    is_demo: bool,
    now: i64,
) -> Result<Option<i64>, DbError> {
    let result = bind_settings(
        sqlx::query(
            "INSERT INTO carriers (name, host, port, transport, username, secret, from_user,
             from_domain, caller_id, codecs, priority, number_format, tech_prefix,
             inbound_sources, inbound_number_from, realm, weight, max_channels, register,
             register_expiry_s, qualify, qualify_interval_s, tls_ca, srtp, is_demo, enabled,
             created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        ),
        input,
    )
    .bind(is_demo)
    .bind(input.enabled)
    .bind(now)
    .execute(db)
    .await;
    match result {
        Ok(r) => Ok(Some(r.last_insert_rowid())),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Ok(None),
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateOutcome {
    Updated,
    NotFound,
    NameTaken,
}

/// Replaces a carrier's settings; the stored secret is kept when `secret`
/// is `None`.
pub async fn update_carrier(
    db: &Db,
    id: i64,
    input: &CarrierInput,
) -> Result<UpdateOutcome, DbError> {
    let result = bind_settings(
        sqlx::query(
            "UPDATE carriers SET name = ?, host = ?, port = ?, transport = ?, username = ?,
             secret = COALESCE(?, secret), from_user = ?, from_domain = ?, caller_id = ?,
             codecs = ?, priority = ?, number_format = ?, tech_prefix = ?,
             inbound_sources = ?, inbound_number_from = ?, realm = ?, weight = ?,
             max_channels = ?, register = ?, register_expiry_s = ?, qualify = ?,
             qualify_interval_s = ?, tls_ca = ?, srtp = ?, enabled = ?
         WHERE id = ?",
        ),
        input,
    )
    .bind(input.enabled)
    .bind(id)
    .execute(db)
    .await;
    match result {
        Ok(r) if r.rows_affected() == 0 => Ok(UpdateOutcome::NotFound),
        Ok(_) => Ok(UpdateOutcome::Updated),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Ok(UpdateOutcome::NameTaken),
        Err(e) => Err(e.into()),
    }
}

/// Deletes a carrier; false when there was none.
pub async fn delete_carrier(db: &Db, id: i64) -> Result<bool, DbError> {
    let r = sqlx::query("DELETE FROM carriers WHERE id = ?")
        .bind(id)
        .execute(db)
        .await?;
    Ok(r.rows_affected() > 0)
}

/// Lets an agent present `number` (E.164), optionally as the default.
pub async fn add_caller_id(
    db: &Db,
    account_id: i64,
    number: &str,
    label: &str,
    is_default: bool,
) -> Result<(), DbError> {
    let mut tx = db.begin().await?;
    if is_default {
        sqlx::query("UPDATE agent_caller_ids SET is_default = 0 WHERE account_id = ?")
            .bind(account_id)
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query(
        "INSERT INTO agent_caller_ids (account_id, number, label, is_default) VALUES (?, ?, ?, ?)
         ON CONFLICT (account_id, number) DO UPDATE SET label = excluded.label,
             is_default = excluded.is_default",
    )
    .bind(account_id)
    .bind(number)
    .bind(label)
    .bind(is_default)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

fn direction_str(d: CallDirection) -> &'static str {
    match d {
        CallDirection::Outbound => "outbound",
        CallDirection::Inbound => "inbound",
    }
}

fn hangup_str(h: HangupBy) -> &'static str {
    match h {
        HangupBy::Agent => "agent",
        HangupBy::Remote => "remote",
        HangupBy::Gateway => "gateway",
    }
}

/// Stores a record. Its `estimated_cost`, when not set already, comes from
/// the carrier's rate table here: outbound calls on a carrier with a rate
/// for the dialled number cost that rate × the answered duration (per
/// second, rounded up; 0 when unanswered). Returns the cost stored.
pub async fn insert_call_record(db: &Db, r: &CallRecord) -> Result<Option<i64>, DbError> {
    let estimated_cost = match (r.estimated_cost, r.direction, r.carrier_id) {
        (Some(c), _, _) => Some(c),
        (None, CallDirection::Outbound, Some(carrier)) => {
            super::rate_for(db, carrier.0, &r.dialled)
                .await?
                .map(|price| {
                    let answered_s = if r.answered_at.is_some() {
                        r.duration_s
                    } else {
                        0
                    };
                    shared::rates::cost(price, answered_s)
                })
        }
        _ => None,
    };
    let media = crate::quality::media_figures(r);
    sqlx::query(
        "INSERT INTO call_records (id, direction, account_id, agent, caller_id, dialled,
             carrier_id, carrier, invite_at, ringing_at, answered_at, ended_at, duration_s,
             final_code, final_reason, hangup_by, packets_to_carrier, bytes_to_carrier,
             packets_from_carrier, bytes_from_carrier, attempts, estimated_cost, campaign_id,
             destination_country, quality, carrier_mos, carrier_loss, carrier_jitter_ms)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,
                 ?, ?, ?, ?)",
    )
    .bind(&r.id)
    .bind(direction_str(r.direction))
    .bind(r.account_id)
    .bind(&r.agent)
    .bind(&r.caller_id)
    .bind(&r.dialled)
    .bind(r.carrier_id)
    .bind(&r.carrier)
    .bind(r.invite_at)
    .bind(r.ringing_at)
    .bind(r.answered_at)
    .bind(r.ended_at)
    .bind(r.duration_s)
    .bind(i64::from(r.final_code))
    .bind(&r.final_reason)
    .bind(hangup_str(r.hangup_by))
    .bind(r.packets_to_carrier)
    .bind(r.bytes_to_carrier)
    .bind(r.packets_from_carrier)
    .bind(r.bytes_from_carrier)
    .bind(serde_json::to_string(&r.attempts).unwrap_or_else(|_| "[]".to_owned()))
    .bind(estimated_cost)
    .bind(r.campaign_id)
    .bind(&r.destination_country)
    .bind(
        r.quality
            .as_ref()
            .and_then(|q| serde_json::to_string(q).ok()),
    )
    .bind(media.map(|m| m.mos))
    .bind(media.map(|m| m.loss_percent))
    .bind(media.map(|m| m.jitter_ms))
    .execute(db)
    .await?;
    Ok(estimated_cost)
}

/// What `GET /api/v1/calls` (and its CSV twin) filter on; `None`: any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallFilter {
    /// Only this account's calls (agents see their own).
    pub account_id: Option<i64>,
    /// `invite_at` at or after (Unix ms).
    pub from: Option<i64>,
    /// `invite_at` before (Unix ms).
    pub to: Option<i64>,
    /// The agent's username (case-insensitive).
    pub agent: Option<String>,
    pub carrier_id: Option<i64>,
    /// A DID (E.164): dialled on inbound calls, presented on outbound ones.
    pub did: Option<String>,
    pub direction: Option<CallDirection>,
    pub outcome: Option<shared::api::CallOutcome>,
}

/// `CallRecord::outcome` in SQL.
const OUTCOME_SQL: &str = "CASE WHEN answered_at IS NOT NULL THEN 'answered' \
     WHEN direction = 'inbound' THEN 'missed' \
     WHEN final_code IN (486, 600) THEN 'busy' \
     WHEN final_code IN (408, 480, 487) THEN 'no_answer' ELSE 'failed' END";

/// Newest first. `before` is the (`invite_at`, `id`) of the last record of
/// the previous page.
pub async fn call_records(
    db: &Db,
    filter: &CallFilter,
    before: Option<(i64, String)>,
    limit: i64,
) -> Result<Vec<CallRecord>, DbError> {
    let (before_at, before_id) = before.unwrap_or((i64::MAX, "\u{10FFFF}".to_owned()));
    let rows = sqlx::query(&format!(
        "SELECT * FROM call_records
         WHERE (?1 IS NULL OR account_id = ?1)
           AND (?2 IS NULL OR invite_at >= ?2)
           AND (?3 IS NULL OR invite_at < ?3)
           AND (?4 IS NULL OR agent = ?4 COLLATE NOCASE)
           AND (?5 IS NULL OR carrier_id = ?5)
           AND (?6 IS NULL OR (direction = 'inbound' AND dialled = ?6)
                OR (direction = 'outbound' AND caller_id = ?6))
           AND (?7 IS NULL OR direction = ?7)
           AND (?8 IS NULL OR {OUTCOME_SQL} = ?8)
           AND (invite_at < ?9 OR (invite_at = ?9 AND id < ?10))
         ORDER BY invite_at DESC, id DESC LIMIT ?11"
    ))
    .bind(filter.account_id)
    .bind(filter.from)
    .bind(filter.to)
    .bind(&filter.agent)
    .bind(filter.carrier_id)
    .bind(&filter.did)
    .bind(filter.direction.map(direction_str))
    .bind(filter.outcome.map(|o| o.as_str()))
    .bind(before_at)
    .bind(&before_id)
    .bind(limit)
    .fetch_all(db)
    .await?;
    rows.iter()
        .map(record_from_row)
        .collect::<Result<_, sqlx::Error>>()
        .map_err(DbError::from)
}

/// One record by its id (`None` until the driver has written it).
pub async fn call_record(db: &Db, id: &str) -> Result<Option<CallRecord>, DbError> {
    let row = sqlx::query("SELECT * FROM call_records WHERE id = ?")
        .bind(id)
        .fetch_optional(db)
        .await?;
    Ok(row.as_ref().map(record_from_row).transpose()?)
}

fn record_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<CallRecord, sqlx::Error> {
    let code: i64 = row.try_get("final_code")?;
    Ok(CallRecord {
        id: row.try_get("id")?,
        direction: if row.try_get::<&str, _>("direction")? == "inbound" {
            CallDirection::Inbound
        } else {
            CallDirection::Outbound
        },
        account_id: row.try_get("account_id")?,
        agent: row.try_get("agent")?,
        caller_id: row.try_get("caller_id")?,
        dialled: row.try_get("dialled")?,
        carrier_id: row.try_get("carrier_id")?,
        carrier: row.try_get("carrier")?,
        invite_at: row.try_get("invite_at")?,
        ringing_at: row.try_get("ringing_at")?,
        answered_at: row.try_get("answered_at")?,
        ended_at: row.try_get("ended_at")?,
        duration_s: row.try_get("duration_s")?,
        final_code: u16::try_from(code).unwrap_or(0),
        final_reason: row.try_get("final_reason")?,
        hangup_by: match row.try_get::<&str, _>("hangup_by")? {
            "agent" => HangupBy::Agent,
            "remote" => HangupBy::Remote,
            _ => HangupBy::Gateway,
        },
        packets_to_carrier: row.try_get("packets_to_carrier")?,
        bytes_to_carrier: row.try_get("bytes_to_carrier")?,
        packets_from_carrier: row.try_get("packets_from_carrier")?,
        bytes_from_carrier: row.try_get("bytes_from_carrier")?,
        attempts: serde_json::from_str(row.try_get::<&str, _>("attempts")?).unwrap_or_default(),
        estimated_cost: row.try_get("estimated_cost")?,
        campaign_id: row.try_get("campaign_id")?,
        destination_country: row.try_get("destination_country")?,
        quality: row
            .try_get::<Option<&str>, _>("quality")?
            .and_then(|json| serde_json::from_str(json).ok()),
    })
}

/// Where call events are posted (`webhook`), from the embedding settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookTarget {
    pub url: String,
    /// Signs each POST when set.
    pub secret: Option<String>,
}

/// The webhook, when one is set.
pub async fn webhook_target(db: &Db) -> Result<Option<WebhookTarget>, DbError> {
    let row = sqlx::query("SELECT webhook_url, webhook_secret FROM embed_settings WHERE id = 1")
        .fetch_optional(db)
        .await?;
    let Some(row) = row else { return Ok(None) };
    let url: Option<String> = row.try_get("webhook_url")?;
    let secret: Option<String> = row.try_get("webhook_secret")?;
    Ok(url.map(|url| WebhookTarget { url, secret }))
}
