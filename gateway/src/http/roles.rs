//! Who may call a handler, as extractors: a handler that takes
//! [`Admin`] answers only admins, [`Reader`] admins and supervisors,
//! [`SignedIn`] any signed-in account. The account is resolved the way
//! [`session::signed_in`] does (session cookie, `dlr_` API token or the
//! embedded phone's `dls_` session); a request without one is refused with
//! 401 `not_signed_in`, one whose role may not call the handler with 403
//! `forbidden`.
//!
//! Handlers take the extractor as their first argument after `State`, and
//! every other argument they take cannot reject (`Result<Path<_>, _>`,
//! `Result<Json<_>, _>`), so the role is checked before anything in the
//! request is looked at, as it was when each handler called a check first.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use shared::api::Role;

use super::session;
use super::{AppError, AppState};
use crate::db::Account;

/// Any signed-in account, whatever its role. Handlers that take it decide
/// per role what the account sees (agents see their own calls only).
pub struct SignedIn(pub Account);

/// An account that may read the administration: admins and supervisors
/// (supervisors read only).
pub struct Reader(
    #[expect(
        dead_code,
        reason = "no read-only handler names its reader yet; the account is here for the first that must"
    )]
    pub Account,
);

/// An admin: the only role that changes anything.
pub struct Admin(pub Account);

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        session::signed_in(state, &parts.headers)
            .await
            .map(SignedIn)
    }
}

impl FromRequestParts<AppState> for Reader {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let account = session::signed_in(state, &parts.headers).await?;
        match account.role {
            Role::Admin | Role::Supervisor => Ok(Reader(account)),
            Role::Agent => Err(AppError::Forbidden),
        }
    }
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let account = session::signed_in(state, &parts.headers).await?;
        match account.role {
            Role::Admin => Ok(Admin(account)),
            Role::Supervisor | Role::Agent => Err(AppError::Forbidden),
        }
    }
}
