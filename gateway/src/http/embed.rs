//! The phone embedded in a CRM (`crate::embed` holds the token format).
//!
//! - `POST /api/v1/embed/tokens` (admins, usually a CRM backend's API
//!   token): mints a short-lived token for one agent.
//! - `POST /api/v1/embed/session` (public, the token is the credential):
//!   the iframe trades the token for a session and a SIP credential, as
//!   sign-in gives. No cookie: inside a cross-site iframe a cookie is a
//!   third-party cookie, which browsers block or need `SameSite=None;
//!   Secure` for. The session token (`dls_…`) stays in the iframe's memory
//!   and goes as `Authorization: Bearer` (`session::signed_in`).
//! - `GET /api/v1/embed/config` (public): the allowed origins, which the
//!   iframe checks `postMessage` senders against.
//! - `GET|PUT /api/v1/embed/settings` (admins): allowed origins, webhook.
//! - `GET /embed`: the phone's page with `frame-ancestors` set to the
//!   allowed origins; `GET /widget.js`, `GET /widget.d.ts`: the custom
//!   element the host page loads.

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rand::RngCore;
use serde::Serialize;
use shared::api::{
    ApiError, EmbedConfig, EmbedSession, EmbedSessionRequest, EmbedSettings, EmbedSettingsInput,
    EmbedToken, EmbedTokenRequest, Role,
};
use shared::ids::AccountId;
use sqlx::Row;

use super::dids::{bad, shorten};
use super::roles::Admin;
use super::session::{EMBED_SESSION_PREFIX, session_info};
use super::{AppError, AppState, audit};
use crate::auth;
use crate::db::{self, Db, DbError};
use crate::embed::{self, Claims, Origin, TokenError};

/// The embedded phone's session lives as long as a web session.
const SESSION_SECS: i64 = 12 * 3600;
const MAX_ORIGINS: usize = 32;
const MAX_URL_CHARS: usize = 512;

/// Refusals with their own codes, in the API's JSON error shape.
pub enum EmbedError {
    App(AppError),
    Token(TokenError),
    OriginNotAllowed,
}

impl From<AppError> for EmbedError {
    fn from(e: AppError) -> Self {
        EmbedError::App(e)
    }
}

impl From<DbError> for EmbedError {
    fn from(e: DbError) -> Self {
        EmbedError::App(e.into())
    }
}

impl IntoResponse for EmbedError {
    fn into_response(self) -> Response {
        let (status, code, message) = match self {
            EmbedError::App(e) => return e.into_response(),
            EmbedError::Token(TokenError::Expired) => (
                StatusCode::UNAUTHORIZED,
                "token_expired",
                "The embed token has expired; ask the CRM for a new one.",
            ),
            EmbedError::Token(TokenError::Invalid) => (
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                "This is not a valid embed token.",
            ),
            EmbedError::OriginNotAllowed => (
                StatusCode::FORBIDDEN,
                "origin_not_allowed",
                "The phone may not be embedded in this site.",
            ),
        };
        let body = ApiError {
            code: code.to_owned(),
            message: message.to_owned(),
            field: None,
        };
        (status, Json(body)).into_response()
    }
}

/// The origins allowed to embed the phone, which may also open `/ws`
/// (`super::sip_websocket`).
pub(super) async fn allowed_origins(db: &Db) -> Result<Vec<Origin>, DbError> {
    Ok(stored(db).await?.allowed_origins)
}

/// The settings row, with the signing key (created on first use).
struct Stored {
    allowed_origins: Vec<Origin>,
    webhook_url: Option<String>,
    webhook_secret: Option<String>,
    signing_key: Vec<u8>,
}

async fn stored(db: &Db) -> Result<Stored, DbError> {
    let mut key = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut key);
    sqlx::query("INSERT OR IGNORE INTO embed_settings (id, signing_key) VALUES (1, ?)")
        .bind(embed::hex(&key))
        .execute(db)
        .await?;
    let row = sqlx::query(
        "SELECT allowed_origins, webhook_url, webhook_secret, signing_key
         FROM embed_settings WHERE id = 1",
    )
    .fetch_one(db)
    .await?;
    let origins: String = row.try_get("allowed_origins")?;
    let origins: Vec<String> = serde_json::from_str(&origins)
        .map_err(|e| DbError::Other(format!("embed_settings.allowed_origins: {e}")))?;
    let key: String = row.try_get("signing_key")?;
    Ok(Stored {
        allowed_origins: origins.iter().filter_map(|o| Origin::parse(o)).collect(),
        webhook_url: row.try_get("webhook_url")?,
        webhook_secret: row.try_get("webhook_secret")?,
        signing_key: key.into_bytes(),
    })
}

fn settings_view(s: &Stored) -> EmbedSettings {
    EmbedSettings {
        allowed_origins: s
            .allowed_origins
            .iter()
            .map(|o| o.as_str().to_owned())
            .collect(),
        webhook_url: s.webhook_url.clone(),
        has_webhook_secret: s.webhook_secret.is_some(),
    }
}

pub async fn mint(
    State(state): State<AppState>,
    Admin(actor): Admin,
    body: Result<Json<EmbedTokenRequest>, JsonRejection>,
) -> Result<Response, AppError> {
    let Json(request) = body?;
    let ttl = request.ttl_s.unwrap_or(embed::DEFAULT_TTL_S);
    if !(embed::MIN_TTL_S..=embed::MAX_TTL_S).contains(&ttl) {
        return Err(bad(
            "ttl_s",
            format!(
                "A token lives {} to {} seconds.",
                embed::MIN_TTL_S,
                embed::MAX_TTL_S
            ),
        ));
    }
    let agent = match db::account_by_username(&state.db, request.agent.trim()).await? {
        // Agents only: the iframe's bearer session acts as the account, and an
        // admin's would open the administration to the host page's scripts.
        Some(a) if a.enabled && a.role == Role::Agent => a,
        Some(_) => {
            return Err(bad(
                "agent",
                "Embed tokens are for enabled agent accounts.".to_owned(),
            ));
        }
        None => {
            return Err(bad(
                "agent",
                format!(
                    "There is no account called `{}`.",
                    shorten(&request.agent, 64)
                ),
            ));
        }
    };
    let key = stored(&state.db).await?.signing_key;
    let now = crate::transport::now().unix;
    let claims = Claims {
        account_id: AccountId(agent.id),
        expires_at: now + i64::from(ttl),
    };
    let mut nonce = [0u8; 8];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let token = embed::sign(&key, claims, &embed::hex(&nonce));
    #[derive(Serialize)]
    struct Minted<'a> {
        agent: &'a str,
        expires_at: i64,
    }
    audit::record(
        &state,
        &actor,
        "create",
        "embed_token",
        agent.id,
        None,
        Some(&Minted {
            agent: &agent.username,
            expires_at: claims.expires_at,
        }),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(EmbedToken {
            token,
            expires_at: claims.expires_at,
        }),
    )
        .into_response())
}

pub async fn session(
    State(state): State<AppState>,
    body: Result<Json<EmbedSessionRequest>, JsonRejection>,
) -> Result<Json<EmbedSession>, EmbedError> {
    let Json(request) = body.map_err(AppError::from)?;
    let settings = stored(&state.db).await?;
    let now = crate::transport::now().unix;
    let claims =
        embed::verify(&settings.signing_key, &request.token, now).map_err(EmbedError::Token)?;
    let origin = Origin::parse(&request.origin).ok_or(EmbedError::OriginNotAllowed)?;
    if !settings.allowed_origins.contains(&origin) {
        return Err(EmbedError::OriginNotAllowed);
    }
    let account = db::account_by_id(&state.db, claims.account_id.0)
        .await?
        .filter(|a| a.enabled && a.role == Role::Agent)
        .ok_or(EmbedError::Token(TokenError::Invalid))?;
    let token = format!("{EMBED_SESSION_PREFIX}{}", auth::random_token());
    let token_hash = auth::token_hash(&token);
    let expires_at = now + SESSION_SECS;
    db::insert_session(&state.db, &token_hash, account.id, now, expires_at).await?;
    let session = session_info(&state, &account, &token_hash, expires_at).await?;
    Ok(Json(EmbedSession {
        session,
        session_token: token,
    }))
}

/// Readable from any origin (CORS): `widget.js` on the host page asks
/// whether it may embed the phone before it frames it.
pub async fn config(State(state): State<AppState>) -> Result<Response, AppError> {
    let s = stored(&state.db).await?;
    let mut response = Json(EmbedConfig {
        allowed_origins: settings_view(&s).allowed_origins,
    })
    .into_response();
    response.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    Ok(response)
}

pub async fn get_settings(
    State(state): State<AppState>,
    _: Admin,
) -> Result<Json<EmbedSettings>, AppError> {
    Ok(Json(settings_view(&stored(&state.db).await?)))
}

pub async fn put_settings(
    State(state): State<AppState>,
    Admin(actor): Admin,
    body: Result<Json<EmbedSettingsInput>, JsonRejection>,
) -> Result<Json<EmbedSettings>, AppError> {
    let Json(input) = body?;
    if input.allowed_origins.len() > MAX_ORIGINS {
        return Err(bad(
            "allowed_origins",
            format!("At most {MAX_ORIGINS} origins."),
        ));
    }
    let mut origins = Vec::new();
    for text in &input.allowed_origins {
        let origin = Origin::parse(text).ok_or_else(|| {
            bad(
                "allowed_origins",
                format!(
                    "`{}` is not an origin like https://crm.example.com (no path).",
                    shorten(text, 64)
                ),
            )
        })?;
        if !origins.contains(&origin) {
            origins.push(origin);
        }
    }
    let webhook_url = input
        .webhook_url
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty());
    if let Some(url) = webhook_url
        && (url.chars().count() > MAX_URL_CHARS
            || !(url.starts_with("http://") || url.starts_with("https://")))
    {
        return Err(bad(
            "webhook_url",
            "The webhook URL is an http:// or https:// address.".to_owned(),
        ));
    }
    let old = stored(&state.db).await?;
    let secret = match input.webhook_secret.as_deref() {
        None => old.webhook_secret.clone(),
        Some("") => None,
        Some(s) if s.chars().count() > 256 => {
            return Err(bad("webhook_secret", "At most 256 characters.".to_owned()));
        }
        Some(s) => Some(s.to_owned()),
    };
    let origin_texts: Vec<&str> = origins.iter().map(Origin::as_str).collect();
    let origins_json = serde_json::to_string(&origin_texts)
        .map_err(|e| AppError::Internal(format!("origins JSON: {e}")))?;
    sqlx::query(
        "UPDATE embed_settings SET allowed_origins = ?, webhook_url = ?, webhook_secret = ?
         WHERE id = 1",
    )
    .bind(origins_json)
    .bind(webhook_url)
    .bind(secret)
    .execute(&state.db)
    .await
    .map_err(DbError::from)?;
    let new = stored(&state.db).await?;
    let (old, new) = (settings_view(&old), settings_view(&new));
    audit::record(
        &state,
        &actor,
        "update",
        "embed_settings",
        1,
        Some(&old),
        Some(&new),
    )
    .await?;
    Ok(Json(new))
}

/// `GET /embed`: the client's page, framable only by the allowed origins,
/// under the same Content-Security-Policy as the app (`super::page`).
pub async fn page(State(state): State<AppState>) -> Result<Response, AppError> {
    let s = stored(&state.db).await?;
    super::page::serve(&state, &embed::frame_ancestors(&s.allowed_origins)).await
}

/// `GET /widget.js`: the `<dialer-phone>` custom element.
pub async fn widget_js() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("../../static/widget.js"),
    )
        .into_response()
}

/// `GET /widget.d.ts`: its TypeScript definitions.
pub async fn widget_dts() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/typescript; charset=utf-8",
        )],
        include_str!("../../static/widget.d.ts"),
    )
        .into_response()
}
