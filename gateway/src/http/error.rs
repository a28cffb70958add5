//! API errors: each maps to an HTTP status and an [`shared::api::ApiError`]
//! JSON body. Internal failures are logged and reported without detail.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use shared::api::ApiError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("wrong username or password")]
    InvalidCredentials,
    #[error("account locked")]
    Locked { minutes: i64 },
    #[error("source banned")]
    Banned,
    #[error("not signed in")]
    Unauthorized,
    #[error("not found")]
    NotFound,
    #[error("forbidden")]
    Forbidden,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("{what} not found")]
    Missing { what: &'static str },
    #[error("{message}")]
    Conflict {
        code: &'static str,
        message: String,
        field: Option<String>,
    },
    #[error("{message}")]
    BadRequest {
        code: &'static str,
        message: String,
        field: Option<String>,
    },
    #[error("{message}")]
    TooLarge { message: String },
    #[error("{message}")]
    UnsupportedMediaType { message: String },
    #[error("internal: {0}")]
    Internal(String),
}

impl From<crate::db::DbError> for AppError {
    fn from(e: crate::db::DbError) -> Self {
        AppError::Internal(e.to_string())
    }
}

impl From<axum::extract::rejection::JsonRejection> for AppError {
    fn from(rejection: axum::extract::rejection::JsonRejection) -> Self {
        AppError::BadRequest {
            code: "invalid_body",
            message: rejection.body_text(),
            field: None,
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let retry_after = match &self {
            AppError::Locked { minutes } => Some(minutes.saturating_mul(60)),
            _ => None,
        };
        let (status, code, message, field) = match self {
            AppError::InvalidCredentials => (
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
                "Wrong username or password.".to_owned(),
                None,
            ),
            AppError::Locked { minutes } => (
                StatusCode::TOO_MANY_REQUESTS,
                "account_locked",
                format!(
                    "Too many failed sign-ins. Try again in {minutes} minute{}.",
                    if minutes == 1 { "" } else { "s" }
                ),
                None,
            ),
            AppError::Banned => (
                StatusCode::TOO_MANY_REQUESTS,
                "source_banned",
                "This address is banned for repeated failed sign-ins or abuse; ask an admin."
                    .to_owned(),
                None,
            ),
            AppError::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                "not_signed_in",
                "Sign in first.".to_owned(),
                None,
            ),
            AppError::NotFound => (
                StatusCode::NOT_FOUND,
                "not_found",
                "No such API endpoint.".to_owned(),
                None,
            ),
            AppError::Forbidden => (
                StatusCode::FORBIDDEN,
                "forbidden",
                "Your role may not do this.".to_owned(),
                None,
            ),
            AppError::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "This endpoint does not take that method.".to_owned(),
                None,
            ),
            AppError::Missing { what } => (
                StatusCode::NOT_FOUND,
                "not_found",
                format!("No such {what}."),
                None,
            ),
            AppError::Conflict {
                code,
                message,
                field,
            } => (StatusCode::CONFLICT, code, message, field),
            AppError::BadRequest {
                code,
                message,
                field,
            } => (StatusCode::BAD_REQUEST, code, message, field),
            AppError::TooLarge { message } => {
                (StatusCode::PAYLOAD_TOO_LARGE, "too_large", message, None)
            }
            AppError::UnsupportedMediaType { message } => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                message,
                None,
            ),
            AppError::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "Something went wrong on the server; it has been logged.".to_owned(),
                    None,
                )
            }
        };
        let body = ApiError {
            code: code.to_owned(),
            message,
            field,
        };
        let mut response = (status, Json(body)).into_response();
        if let Some(secs) = retry_after {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        response
    }
}
