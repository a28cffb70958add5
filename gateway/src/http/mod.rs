//! The HTTP side: the built web client at `/`, `GET /healthz`,
//! `GET /metrics` (Prometheus, behind a token), the REST API
//! under `/api/v1` (described by `/api/v1/openapi.json`) and the SIP
//! WebSocket at `/ws`.
//!
//! Roles: admins change everything; supervisors read everything except API
//! tokens and the audit log, and watch live calls; agents may use only
//! their session and their own call records (403 elsewhere); each handler
//! takes the extractor of the roles it serves (`roles`). Requests act as
//! the account of the session cookie, of an `Authorization: Bearer dlr_…`
//! API token or of the embedded phone's `dls_…` session. Every change is
//! written to the audit log (`resource` for the administered collections).

mod agents;
mod audit;
mod calls;
mod campaigns;
mod carriers;
mod client_files;
mod csv;
mod dids;
mod embed;
mod error;
mod live;
mod metrics;
mod openapi;
mod page;
mod params;
mod policy;
mod quality;
pub mod redirect;
mod resource;
mod ring_groups;
mod roles;
mod security;
mod session;
pub mod sign_in_limit;
mod tokens;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, delete, get, post, put};
use shared::api::{Campaign, Carrier, Did, RingGroup};
use tower_http::set_header::SetResponseHeaderLayer;

pub use agents::agent_info;
pub use error::AppError;
pub use metrics::listener_app as metrics_app;

use crate::config::Config;
use crate::db::Db;
use crate::transport::SipHandle;

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub sip: SipHandle,
    pub config: Arc<Config>,
    /// Where the built-in demo carrier listens, when it runs.
    pub demo_carrier: Option<SocketAddr>,
    /// The calls in progress (fed by the SIP side).
    pub live: crate::live::LiveCalls,
    /// Failed web sign-ins per source address and username.
    pub sign_in_limits: Arc<sign_in_limit::SignInLimits>,
    /// Carrier host names, resolved and cached (RFC 3263).
    pub dns: Arc<crate::dns::CarrierDns>,
}

/// Every route under `/api/v1`, with all its methods. The router is built
/// from this list, and a test checks that the OpenAPI document
/// (`openapi.rs`) describes exactly these paths and methods.
fn api_routes() -> Vec<(&'static str, MethodRouter<AppState>)> {
    vec![
        ("/openapi.json", get(openapi::serve)),
        (
            "/session",
            get(session::current)
                .post(session::sign_in)
                .delete(session::sign_out),
        ),
        ("/carriers", get(carriers::list).post(carriers::create)),
        (
            "/carriers/{id}",
            get(resource::get_one::<Carrier>)
                .put(carriers::update)
                .delete(carriers::delete),
        ),
        ("/carriers/{id}/channels", get(carriers::channels)),
        ("/carriers/{id}/status", get(carriers::status)),
        (
            "/carriers/{id}/rates",
            get(carriers::rates).put(carriers::put_rates),
        ),
        ("/carriers/status", get(carriers::statuses)),
        ("/calls", get(calls::list)),
        ("/calls.csv", get(calls::csv)),
        ("/calls/{id}", get(calls::one)),
        ("/live", get(live::stream)),
        ("/dids", get(dids::list).post(dids::create)),
        ("/dids/import", post(dids::import)),
        (
            "/dids/{id}",
            get(resource::get_one::<Did>)
                .put(dids::update)
                .delete(dids::delete),
        ),
        (
            "/ring-groups",
            get(ring_groups::list).post(ring_groups::create),
        ),
        (
            "/ring-groups/{id}",
            get(resource::get_one::<RingGroup>)
                .put(ring_groups::update)
                .delete(ring_groups::delete),
        ),
        ("/agents", get(agents::list).post(agents::create)),
        ("/agents/{id}", get(agents::get_one).put(agents::update)),
        ("/agents/{id}/password", post(agents::reset_password)),
        (
            "/agents/{id}/caller-ids",
            get(agents::caller_ids).put(agents::set_caller_ids),
        ),
        (
            "/agents/{id}/dialing-policy",
            get(policy::get_agent)
                .put(policy::put_agent)
                .delete(policy::delete_agent),
        ),
        ("/campaigns", get(campaigns::list).post(campaigns::create)),
        (
            "/campaigns/{id}",
            get(resource::get_one::<Campaign>)
                .put(campaigns::update)
                .delete(campaigns::delete),
        ),
        (
            "/campaigns/{id}/dialing-policy",
            get(policy::get_campaign)
                .put(policy::put_campaign)
                .delete(policy::delete_campaign),
        ),
        ("/dialing-policy", get(policy::defaults)),
        (
            "/dialing-policy/roles/{role}",
            get(policy::get_role)
                .put(policy::put_role)
                .delete(policy::delete_role),
        ),
        (
            "/dialing-policy/prefixes",
            get(policy::get_prefixes)
                .put(policy::put_prefixes)
                .delete(policy::delete_prefixes),
        ),
        ("/tokens", get(tokens::list).post(tokens::create)),
        ("/tokens/{id}", delete(tokens::revoke)),
        ("/audit", get(audit::list)),
        ("/embed/tokens", post(embed::mint)),
        ("/embed/session", post(embed::session)),
        ("/embed/config", get(embed::config)),
        (
            "/embed/settings",
            get(embed::get_settings).put(embed::put_settings),
        ),
        ("/security/bans", get(security::list).post(security::ban)),
        ("/security/bans/{ip}", delete(security::unban)),
        ("/security/alerts", get(security::alerts)),
        ("/security/settings", get(security::settings)),
        ("/security/limits", put(security::set_limits)),
        ("/quality/carriers", get(quality::carriers)),
        ("/quality/thresholds/{id}", put(quality::set_threshold)),
    ]
}

/// The whole HTTP application; tests drive it with `oneshot`.
pub fn app(state: AppState) -> Router {
    let api = api_routes()
        .into_iter()
        .fold(Router::new(), |router, (path, methods)| {
            router.route(path, methods)
        });
    let router = Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics::guarded))
        .route("/ws", get(sip_websocket))
        .route("/embed", get(embed::page))
        .route("/widget.js", get(embed::widget_js))
        .route("/widget.d.ts", get(embed::widget_dts))
        .nest(
            "/api/v1",
            api.fallback(api_not_found)
                .method_not_allowed_fallback(api_method_not_allowed),
        )
        .route("/", get(page::app))
        .route("/index.html", get(page::app))
        // The client's files; unknown paths get the app's page (with a 404
        // status) so that the client's routes survive a reload.
        .fallback_service(client_files::service(&state))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            security::refuse_banned,
        ));
    // Served over HTTPS ourselves: browsers are told to never use plain
    // HTTP for this host again (a year; browsers ignore it for IP
    // addresses). Behind a reverse proxy, the proxy sets it.
    let router = if state.config.tls.is_some() {
        router.layer(SetResponseHeaderLayer::overriding(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        ))
    } else {
        router
    };
    router.with_state(state)
}

/// Always 200 while the process serves: a database that refuses writes
/// makes it `degraded` (calls still work), not down.
async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    let records = state.sip.record_status();
    let problem = records.problem();
    axum::Json(shared::api::Health {
        status: if problem.is_some() { "degraded" } else { "ok" }.to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        records_waiting: records.waiting() as u64,
        database_problem: problem,
    })
}

async fn api_not_found() -> AppError {
    AppError::NotFound
}

async fn api_method_not_allowed() -> AppError {
    AppError::MethodNotAllowed
}

/// RFC 7118 §4: the client must ask for the `sip` subprotocol; an upgrade
/// without it is not a SIP connection and is refused.
///
/// A browser always says which page opens the socket (`Origin`), and a
/// page of any site may try: an upgrade from a page that is neither the
/// gateway's own nor an allowed embedding origin is refused with 403, so
/// another site cannot drive a SIP connection from its visitors' browsers
/// (cross-site WebSocket hijacking). SIP clients outside a browser (JsSIP
/// under node, SIPp, desk phones over WSS) send no `Origin` and are let in:
/// they authenticate with digest like everyone else.
async fn sip_websocket(
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
    headers: HeaderMap,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    State(state): State<AppState>,
) -> Response {
    match origin_allowed(&state, &headers).await {
        Ok(true) => {}
        Ok(false) => {
            tracing::debug!(%peer, "WebSocket upgrade from a foreign origin refused");
            return (
                axum::http::StatusCode::FORBIDDEN,
                axum::Json(shared::api::ApiError {
                    code: "origin_not_allowed".to_owned(),
                    message: "This page's origin may not open the gateway's SIP WebSocket."
                        .to_owned(),
                    field: None,
                }),
            )
                .into_response();
        }
        Err(e) => return e.into_response(),
    }
    let ws = match ws {
        Ok(ws) => ws,
        Err(rejection) => {
            return AppError::BadRequest {
                code: "not_a_websocket",
                message: format!("/ws takes a WebSocket upgrade: {rejection}"),
                field: None,
            }
            .into_response();
        }
    };
    let offers_sip = headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim() == "sip");
    if !offers_sip {
        return AppError::BadRequest {
            code: "sip_subprotocol_required",
            message: "the WebSocket must be opened with the `sip` subprotocol (RFC 7118)"
                .to_owned(),
            field: None,
        }
        .into_response();
    }
    // WSS: our own TLS, or a reverse proxy's that says so.
    let secure = state.config.tls.is_some()
        || headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("https"));
    let core = state.sip.clone();
    ws.protocols(["sip"])
        .max_message_size(crate::transport::ws::MAX_FRAME)
        .max_frame_size(crate::transport::ws::MAX_FRAME)
        .on_upgrade(move |socket| crate::transport::ws::serve(socket, peer, secure, core))
}

/// True when the request has no `Origin`, or one naming the gateway itself
/// (the `Host` the request came to, or `X-Forwarded-Host` from a reverse
/// proxy; a page cannot set either on a WebSocket), or one of the embed
/// settings' allowed origins (`GET|PUT /api/v1/embed/settings`).
async fn origin_allowed(state: &AppState, headers: &HeaderMap) -> Result<bool, AppError> {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Ok(true);
    };
    // `Origin: null` (sandboxed frames, files) and anything unreadable
    // names no page we know.
    let Some(origin) = origin.to_str().ok().and_then(crate::embed::Origin::parse) else {
        return Ok(false);
    };
    let own = [header::HOST.as_str(), "x-forwarded-host"]
        .into_iter()
        .filter_map(|name| headers.get(name))
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|host| same_authority(&origin, host));
    if own {
        return Ok(true);
    }
    Ok(embed::allowed_origins(&state.db).await?.contains(&origin))
}

/// Whether `origin`'s host and port are `host` (a `Host` header value),
/// a scheme's default port written or not.
fn same_authority(origin: &crate::embed::Origin, host: &str) -> bool {
    let Some((scheme, authority)) = origin.as_str().split_once("://") else {
        return false;
    };
    let default_port = if scheme == "https" { ":443" } else { ":80" };
    let strip = |a: &str| -> String {
        let a = a.trim().to_ascii_lowercase();
        a.strip_suffix(default_port).map(str::to_owned).unwrap_or(a)
    };
    !host.trim().is_empty() && strip(authority) == strip(host)
}

#[cfg(test)]
mod tests;
