//! `/api/v1/calls`: call records, newest first, filtered by time, agent,
//! carrier, DID, direction and outcome; `/api/v1/calls.csv` exports the
//! same selection as CSV. Agents see their own calls, admins and
//! supervisors everyone's.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use shared::api::{CallDirection, CallOutcome, CallRecord, Page, Role};

use super::params::{ListQuery, bad_cursor, page};
use super::roles::SignedIn;
use super::{AppError, AppState};
use crate::db::{self, CallFilter};

/// The most rows one CSV export holds (narrow the filters for more).
pub const MAX_CSV_ROWS: i64 = 100_000;

/// The query of both endpoints; every value arrives as text so that an
/// error can name its field.
#[derive(Debug, Default, Deserialize)]
pub struct CallsQuery {
    pub limit: Option<String>,
    pub cursor: Option<String>,
    /// Unix ms, inclusive.
    pub from: Option<String>,
    /// Unix ms, exclusive.
    pub to: Option<String>,
    pub agent: Option<String>,
    pub carrier_id: Option<String>,
    pub did: Option<String>,
    pub direction: Option<String>,
    pub outcome: Option<String>,
}

fn bad(field: &str, message: impl Into<String>) -> AppError {
    AppError::BadRequest {
        code: "invalid_field",
        message: message.into(),
        field: Some(field.to_owned()),
    }
}

/// A value that is present and not blank (forms send empty fields).
fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

fn number(field: &str, v: &Option<String>) -> Result<Option<i64>, AppError> {
    given(v)
        .map(|s| {
            s.parse::<i64>()
                .map_err(|_| bad(field, format!("{field} must be a whole number.")))
        })
        .transpose()
}

impl CallsQuery {
    fn from_request(query: Result<Query<CallsQuery>, QueryRejection>) -> Result<Self, AppError> {
        query.map(|Query(q)| q).map_err(|r| AppError::BadRequest {
            code: "invalid_field",
            message: r.body_text(),
            field: None,
        })
    }

    fn filter(&self, account: &db::Account) -> Result<CallFilter, AppError> {
        let from = number("from", &self.from)?;
        let to = number("to", &self.to)?;
        let direction = match given(&self.direction) {
            None => None,
            Some("outbound") => Some(CallDirection::Outbound),
            Some("inbound") => Some(CallDirection::Inbound),
            Some(_) => return Err(bad("direction", "direction is outbound or inbound.")),
        };
        let outcome = match given(&self.outcome) {
            None => None,
            Some(o) => Some(CallOutcome::parse(o).ok_or_else(|| {
                bad(
                    "outcome",
                    "outcome is answered, missed, failed, busy or no_answer.",
                )
            })?),
        };
        // A `+` in a query string reads as a space: `+1415…` and ` 1415…`
        // and `1415…` all mean the same DID.
        let did = given(&self.did)
            .map(|d| {
                let digits = d.trim_start_matches('+');
                if !digits.is_empty()
                    && digits.len() <= 15
                    && digits.bytes().all(|b| b.is_ascii_digit())
                {
                    Ok(format!("+{digits}"))
                } else {
                    Err(bad("did", "did is an E.164 number, like +14155550100."))
                }
            })
            .transpose()?;
        Ok(CallFilter {
            account_id: (account.role == Role::Agent).then_some(account.id),
            from,
            to,
            agent: given(&self.agent).map(str::to_owned),
            carrier_id: number("carrier_id", &self.carrier_id)?,
            did,
            direction,
            outcome,
        })
    }
}

pub async fn list(
    State(state): State<AppState>,
    SignedIn(account): SignedIn,
    query: Result<Query<CallsQuery>, QueryRejection>,
) -> Result<Json<Page<CallRecord>>, AppError> {
    let query = CallsQuery::from_request(query)?;
    let filter = query.filter(&account)?;
    let list = ListQuery {
        limit: number("limit", &query.limit)?,
        cursor: query.cursor.clone(),
    };
    let limit = list.limit()?;
    // The cursor is the (`invite_at`, `id`) of the previous page's last record.
    let before = match &list.cursor {
        None => None,
        Some(c) => Some(
            c.split_once('.')
                .and_then(|(at, id)| Some((at.parse::<i64>().ok()?, id.to_owned())))
                .ok_or_else(bad_cursor)?,
        ),
    };
    let items = db::call_records(&state.db, &filter, before, limit).await?;
    Ok(Json(page(items, limit, |r| {
        format!("{}.{}", r.invite_at, r.id)
    })))
}

/// The CSV columns, in order.
const CSV_HEADER: [&str; 28] = [
    "id",
    "direction",
    "outcome",
    "agent",
    "caller_id",
    "dialled",
    "carrier_id",
    "carrier",
    "invite_at",
    "ringing_at",
    "answered_at",
    "ended_at",
    "duration_s",
    "final_code",
    "final_reason",
    "hangup_by",
    "bytes_to_carrier",
    "estimated_cost",
    // The carrier leg (shared::api::CallQuality), then the browser leg's MOS.
    "pdd_ms",
    "carrier_rx_packets",
    "carrier_rx_lost",
    "carrier_rx_jitter_ms",
    "carrier_far_end_lost",
    "carrier_far_end_jitter_ms",
    "carrier_rtt_ms",
    "carrier_r_factor",
    "carrier_mos",
    "browser_mos",
];

/// `GET /api/v1/calls/{id}`: one record (the Quality page's worst calls
/// link here). Agents read only their own; another's is "not found".
pub async fn one(
    State(state): State<AppState>,
    SignedIn(account): SignedIn,
    path: Result<axum::extract::Path<String>, axum::extract::rejection::PathRejection>,
) -> Result<Json<CallRecord>, AppError> {
    let axum::extract::Path(id) = path.map_err(|_| AppError::NotFound)?;
    let record = db::call_record(&state.db, &id)
        .await?
        .filter(|r| account.role != Role::Agent || r.account_id.map(|a| a.0) == Some(account.id))
        .ok_or(AppError::Missing {
            what: "call record",
        })?;
    Ok(Json(record))
}

/// The quality columns of a record (empty where it has no such figure).
fn quality_fields(r: &CallRecord) -> [String; 10] {
    let opt = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
    let ms = |us: i64| format!("{:.1}", us as f64 / 1000.0);
    let pdd = r.ringing_at.or(r.answered_at).map(|at| at - r.invite_at);
    let carrier = r.quality.and_then(|q| q.carrier);
    let browser = r.quality.and_then(|q| q.browser);
    let far = carrier.and_then(|c| c.far_end);
    let mos = |x100: i64| format!("{:.2}", x100 as f64 / 100.0);
    [
        opt(pdd),
        opt(carrier.map(|c| c.received.packets)),
        opt(carrier.map(|c| c.received.lost)),
        carrier
            .map(|c| ms(c.received.jitter_us))
            .unwrap_or_default(),
        opt(far.map(|f| f.lost)),
        far.map(|f| ms(f.jitter_us)).unwrap_or_default(),
        opt(carrier.and_then(|c| c.rtt_ms)),
        opt(carrier.map(|c| c.r_factor)),
        carrier.map(|c| mos(c.mos_x100)).unwrap_or_default(),
        browser.map(|b| mos(b.mos_x100)).unwrap_or_default(),
    ]
}

/// `GET /api/v1/calls.csv`: the filtered records (no paging; at most
/// [`MAX_CSV_ROWS`]), newest first, as an RFC 4180 file with a header row.
pub async fn csv(
    State(state): State<AppState>,
    SignedIn(account): SignedIn,
    query: Result<Query<CallsQuery>, QueryRejection>,
) -> Result<Response, AppError> {
    let query = CallsQuery::from_request(query)?;
    let filter = query.filter(&account)?;
    let records = db::call_records(&state.db, &filter, None, MAX_CSV_ROWS).await?;
    let mut out = String::with_capacity(64 + records.len() * 160);
    write_row(&mut out, CSV_HEADER.iter().map(|h| (*h).to_owned()));
    for r in &records {
        let opt = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
        write_row(
            &mut out,
            [
                r.id.clone(),
                match r.direction {
                    CallDirection::Outbound => "outbound",
                    CallDirection::Inbound => "inbound",
                }
                .to_owned(),
                r.outcome().as_str().to_owned(),
                r.agent.clone().unwrap_or_default(),
                r.caller_id.clone().unwrap_or_default(),
                r.dialled.clone(),
                opt(r.carrier_id.map(|c| c.0)),
                r.carrier.clone().unwrap_or_default(),
                r.invite_at.to_string(),
                opt(r.ringing_at),
                opt(r.answered_at),
                r.ended_at.to_string(),
                r.duration_s.to_string(),
                r.final_code.to_string(),
                r.final_reason.clone(),
                match r.hangup_by {
                    shared::api::HangupBy::Agent => "agent",
                    shared::api::HangupBy::Remote => "remote",
                    shared::api::HangupBy::Gateway => "gateway",
                }
                .to_owned(),
                r.bytes_to_carrier.to_string(),
                // A decimal in the carrier's currency (`0.0051`).
                r.estimated_cost
                    .map(shared::rates::format_price)
                    .unwrap_or_default(),
            ]
            .into_iter()
            .chain(quality_fields(r)),
        );
    }
    let mut response = out.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"calls.csv\""),
    );
    Ok(response)
}

/// One CSV line (CRLF, RFC 4180).
fn write_row(out: &mut String, fields: impl IntoIterator<Item = String>) {
    for (i, field) in fields.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&csv_field(&field));
    }
    out.push_str("\r\n");
}

/// A field quoted when it must be (comma, quote, line break), with quotes
/// doubled. A field a spreadsheet would run as a formula (`=`, `+`, `-`,
/// `@` first) gets a leading `'`, except numbers such as `+14155550100`.
pub fn csv_field(field: &str) -> String {
    let formula =
        field.starts_with(['=', '+', '-', '@']) && !field[1..].bytes().all(|b| b.is_ascii_digit());
    let field = if formula {
        format!("'{field}")
    } else {
        field.to_owned()
    };
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_escaped() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("two\nlines"), "\"two\nlines\"");
        assert_eq!(csv_field("+14155550100"), "+14155550100");
        assert_eq!(csv_field("=cmd()"), "'=cmd()");
        assert_eq!(csv_field(""), "");
    }
}
