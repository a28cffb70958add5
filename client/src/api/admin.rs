//! The admin pages' REST calls: generic JSON reads and writes over the
//! `/api/v1` resources (carriers, DIDs, ring groups, agents, caller IDs,
//! campaigns, calls, audit), plus the DID CSV import. Paths are built by
//! the pages (`crate::state::admin::query`); every failure comes back as an
//! [`ApiFailure`] with the field at fault when the gateway names one.

use serde::Serialize;
use serde::de::DeserializeOwned;
use shared::api::DidImportReport;

use super::{ApiFailure, call, call_with, decode, failure};

/// `GET path`: one resource or one page of a list.
pub async fn get<T: DeserializeOwned>(path: &str) -> Result<T, ApiFailure> {
    let (status, body) = call("GET", path, None).await?;
    match status {
        200 => decode(&body),
        _ => Err(failure(status, &body)),
    }
}

/// `POST`/`PUT path` with a JSON body; the saved resource comes back.
pub async fn send<B: Serialize, T: DeserializeOwned>(
    method: &str,
    path: &str,
    body: &B,
) -> Result<T, ApiFailure> {
    let (status, body) = call(method, path, Some(&encode(body)?)).await?;
    match status {
        200 | 201 => decode(&body),
        _ => Err(failure(status, &body)),
    }
}

/// `POST`/`PUT path` with a JSON body, for answers without one (204).
pub async fn send_only<B: Serialize>(method: &str, path: &str, body: &B) -> Result<(), ApiFailure> {
    let (status, body) = call(method, path, Some(&encode(body)?)).await?;
    match status {
        200..=299 => Ok(()),
        _ => Err(failure(status, &body)),
    }
}

/// `DELETE path`.
pub async fn delete(path: &str) -> Result<(), ApiFailure> {
    let (status, body) = call("DELETE", path, None).await?;
    match status {
        200..=299 => Ok(()),
        _ => Err(failure(status, &body)),
    }
}

/// `POST /api/v1/dids/import` with the CSV text: the per-row report.
pub async fn import_dids(csv: &str) -> Result<DidImportReport, ApiFailure> {
    let (status, body) = call_with("POST", "/api/v1/dids/import", Some(("text/csv", csv))).await?;
    match status {
        200 => decode(&body),
        _ => Err(failure(status, &body)),
    }
}

fn encode<B: Serialize>(body: &B) -> Result<String, ApiFailure> {
    serde_json::to_string(body).map_err(|e| ApiFailure {
        status: None,
        message: format!("Could not send the form ({e})."),
        field: None,
    })
}
