//! Web sign-in, the session cookie, and the SIP credential issued with it.
//!
//! The cookie (`gw_session`) is httpOnly and SameSite=Strict, so page script
//! cannot read it and other sites cannot send it. The page gets, in the JSON
//! body, a SIP digest credential that lives as long as the session and is
//! revoked with it: the browser never holds a long-lived SIP password.

use std::net::SocketAddr;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use shared::api::{AccountInfo, Role, SessionInfo, SignInRequest, SipCredential};
use shared::sip::digest::{Algorithm, ha1};

use super::{AppError, AppState};
use crate::auth;
use crate::db::{self, Account, SipCredentialRecord};
use crate::sip::registrar::Credential;
use crate::transport::CoreInput;

const COOKIE: &str = "gw_session";
/// A working day and then some.
const SESSION_SECS: i64 = 12 * 3600;

/// `POST /api/v1/session`. An unknown username and a wrong password get
/// the same answer after the same work (the dummy hash is verified in
/// place of a real one); failures are counted per source address and
/// username (`sign_in_limit`), so a stranger cannot lock an agent out.
pub async fn sign_in(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Result<Json<SignInRequest>, JsonRejection>,
) -> Result<Response, AppError> {
    let Json(request) = body?;
    let username = request.username.trim();
    if username.is_empty() {
        return Err(AppError::BadRequest {
            code: "missing_field",
            message: "Enter your username.".to_owned(),
            field: Some("username".to_owned()),
        });
    }
    let now = crate::transport::now().unix;
    let source = peer.ip();
    // Before any lookup: the locked answer is the same for every username.
    // The attempt counts as a failure until it succeeds.
    if let Err(secs) = state.sign_in_limits.attempt(now, source, username) {
        return Err(AppError::Locked {
            minutes: (secs + 59) / 60,
        });
    }
    let account = db::account_by_username(&state.db, username).await?;
    let stored = account.as_ref().map_or_else(
        || auth::dummy_hash().to_owned(),
        |a| a.password_hash.clone(),
    );
    let password = request.password;
    let ok = auth::verify_password_in_turn(password, stored)
        .await
        .map_err(AppError::Internal)?;
    let account = match account {
        Some(a) if ok && a.enabled => a,
        _ => {
            // Counted toward the source's ban, with the SIP failures.
            let what = format!("web sign-in as {}", super::dids::shorten(username, 40));
            state
                .sip
                .send(CoreInput::AuthFailed { ip: source, what })
                .await;
            return Err(AppError::InvalidCredentials);
        }
    };
    state.sign_in_limits.succeeded(source, username);

    let token = auth::random_token();
    let token_hash = auth::token_hash(&token);
    db::insert_session(&state.db, &token_hash, account.id, now, now + SESSION_SECS).await?;
    let info = session_info(&state, &account, &token_hash, now + SESSION_SECS).await?;
    let cookie = format!(
        "{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={SESSION_SECS}{}",
        if state.config.secure_cookies {
            "; Secure"
        } else {
            ""
        }
    );
    let mut response = Json(info).into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie)
            .map_err(|e| AppError::Internal(format!("cookie header: {e}")))?,
    );
    Ok(response)
}

/// The account a request acts as: the one of its `Authorization: Bearer
/// dlr_…` API token, else the one signed in with its session cookie. A
/// request that carries an Authorization header is judged by it alone.
/// Bearer tokens are never sent by a browser on its own, so they need no
/// CSRF protection; the cookie has SameSite=Strict.
pub async fn signed_in(state: &AppState, headers: &HeaderMap) -> Result<Account, AppError> {
    let now = crate::transport::now().unix;
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.trim().split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .filter(|token| {
                token.starts_with(API_TOKEN_PREFIX) || token.starts_with(EMBED_SESSION_PREFIX)
            })
            .ok_or(AppError::Unauthorized)?;
        if token.starts_with(EMBED_SESSION_PREFIX) {
            // The embedded phone's session (`http::embed`): no cookie there.
            return db::session_account(&state.db, &auth::token_hash(token), now)
                .await?
                .ok_or(AppError::Unauthorized);
        }
        return db::api_token_account(&state.db, &auth::token_hash(token), now)
            .await?
            .ok_or(AppError::Unauthorized);
    }
    let token_hash = session_token_hash(headers).ok_or(AppError::Unauthorized)?;
    db::session_account(&state.db, &token_hash, now)
        .await?
        .ok_or(AppError::Unauthorized)
}

/// What every API token starts with, so that one found in a log or a
/// repository is recognised for what it is.
pub const API_TOKEN_PREFIX: &str = "dlr_";

/// What the embedded phone's bearer session token starts with.
pub const EMBED_SESSION_PREFIX: &str = "dls_";

/// The signed-in account, with a fresh SIP credential (a reloaded page has
/// lost the previous one, which only ever lived in memory).
pub async fn current(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<SessionInfo>, AppError> {
    let now = crate::transport::now().unix;
    let token_hash = session_token_hash(&headers).ok_or(AppError::Unauthorized)?;
    let account = db::session_account(&state.db, &token_hash, now)
        .await?
        .ok_or(AppError::Unauthorized)?;
    let expires_at = now + SESSION_SECS;
    Ok(Json(
        session_info(&state, &account, &token_hash, expires_at).await?,
    ))
}

pub async fn sign_out(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    if let Some(token_hash) = session_token_hash(&headers) {
        for id in db::session_credential_ids(&state.db, &token_hash).await? {
            state.sip.send(CoreInput::CredentialRevoked(id)).await;
        }
        db::delete_session(&state.db, &token_hash).await?;
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("gw_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"),
    );
    Ok(response)
}

pub(super) async fn session_info(
    state: &AppState,
    account: &Account,
    token_hash: &str,
    expires_at: i64,
) -> Result<SessionInfo, AppError> {
    let sip = match account.role {
        Role::Agent | Role::Admin => {
            Some(issue_sip_credential(state, account, token_hash, expires_at).await?)
        }
        Role::Supervisor => None,
    };
    let agent = super::agents::agent_info(&state.db, account, &state.config).await?;
    let dialing = agent.dialing.clone();
    if sip.is_some() {
        state.sip.send(CoreInput::Agent(agent)).await;
    }
    Ok(SessionInfo {
        account: AccountInfo {
            id: account.id,
            username: account.username.clone(),
            display_name: account.display_name.clone(),
            role: account.role,
        },
        sip,
        dialing,
    })
}

async fn issue_sip_credential(
    state: &AppState,
    account: &Account,
    token_hash: &str,
    expires_at: i64,
) -> Result<SipCredential, AppError> {
    let realm = state.config.sip_domain.clone();
    let password = auth::random_token();
    let mut record = SipCredentialRecord {
        id: 0,
        account_id: account.id,
        session: token_hash.to_owned(),
        username: account.username.clone(),
        realm: realm.clone(),
        ha1_md5: ha1(Algorithm::Md5, &account.username, &realm, &password),
        ha1_sha256: ha1(Algorithm::Sha256, &account.username, &realm, &password),
        expires_at,
    };
    record.id = db::insert_sip_credential(&state.db, &record).await?;
    state
        .sip
        .send(CoreInput::CredentialIssued(Credential::from(record)))
        .await;
    Ok(SipCredential {
        username: account.username.clone(),
        password,
        aor: format!("sip:{}@{}", account.username, realm),
        realm,
        display_name: account.display_name.clone(),
        expires_at,
        ice: state.config.turn.ice_for(&account.username, expires_at),
    })
}

impl From<SipCredentialRecord> for Credential {
    fn from(r: SipCredentialRecord) -> Self {
        Credential {
            id: r.id,
            account_id: shared::ids::AccountId(r.account_id),
            username: r.username,
            ha1_md5: r.ha1_md5,
            ha1_sha256: r.ha1_sha256,
            expires_at: r.expires_at,
        }
    }
}

/// The SHA-256 of the session token in the request's cookie.
fn session_token_hash(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, token)| auth::token_hash(token))
}
