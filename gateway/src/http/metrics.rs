//! `GET /metrics` for Prometheus (`crate::metrics` writes the text). On the
//! HTTP listener it takes `Authorization: Bearer <metrics_token>`; without
//! a configured token, or with a wrong one, it is 401 with a JSON body. On
//! the metrics listener of its own (`--metrics-listen`), whose address is
//! the protection, no token is asked for.

use std::collections::HashMap;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};

use super::{AppError, AppState};

/// `GET /metrics` on the HTTP listener.
pub async fn guarded(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some(token) = &state.config.metrics.token else {
        return refused(
            "metrics are not served here: set metrics_token (or metrics_listen for a listener \
             of their own)",
        );
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    // Compared as SHA-256 digests: the time taken says nothing about how
    // much of the token matched.
    let matches = given.is_some_and(|g| Sha256::digest(g) == Sha256::digest(token));
    if !matches {
        return refused("GET /metrics needs `Authorization: Bearer <metrics_token>`");
    }
    serve(&state).await
}

/// The router of the metrics listener: `/metrics` only, no token.
pub fn listener_app(state: AppState) -> Router {
    Router::new()
        .route(
            "/metrics",
            get(|State(state): State<AppState>| async move { serve(&state).await }),
        )
        .with_state(state)
}

async fn serve(state: &AppState) -> Response {
    let carrier_names: HashMap<_, _> = match crate::db::carriers(&state.db).await {
        Ok(carriers) => carriers
            .into_iter()
            .map(|c| (shared::ids::CarrierId(c.carrier.id), c.carrier.name))
            .collect(),
        Err(e) => return AppError::from(e).into_response(),
    };
    let now_unix = crate::transport::now().unix;
    let text = crate::metrics::render(&crate::metrics::Snapshot {
        live: &state.live.snapshot(),
        trunks: &state.sip.trunk_statuses().all(),
        carrier_names: &carrier_names,
        bans_in_force: state.sip.bans().list(now_unix).len(),
        records_waiting: state.sip.record_status().waiting(),
    });
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        text,
    )
        .into_response()
}

fn refused(message: &str) -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))],
        axum::Json(shared::api::ApiError {
            code: "metrics_unauthorized".to_owned(),
            message: message.to_owned(),
            field: None,
        }),
    )
        .into_response()
}
