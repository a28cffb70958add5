//! The gateway's REST API (`/api/v1`), with the types from `shared::api`.
//! Requests go with `credentials: same-origin`, so the httpOnly session
//! cookie travels and page script never sees it. The admin pages' calls are
//! in [`admin`].

pub mod admin;

use shared::api::{ApiError, CallRecord, Page, SessionInfo, SignInRequest};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Request, RequestCredentials, RequestInit, Response};

/// Why a call did not give what was asked for, in words for the person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiFailure {
    /// HTTP status; `None` when no answer came.
    pub status: Option<u16>,
    pub message: String,
    /// The request field at fault ([`ApiError::field`]), shown next to it.
    pub field: Option<String>,
}

/// `GET /api/v1/session`: the session of this browser, `None` if signed out.
pub async fn current_session() -> Result<Option<SessionInfo>, ApiFailure> {
    let (status, body) = call("GET", "/api/v1/session", None).await?;
    match status {
        200 => decode(&body).map(Some),
        401 => Ok(None),
        _ => Err(failure(status, &body)),
    }
}

/// `POST /api/v1/session`.
pub async fn sign_in(request: &SignInRequest) -> Result<SessionInfo, ApiFailure> {
    let body = serde_json::to_string(request).map_err(|e| ApiFailure {
        status: None,
        message: format!("Could not send the form ({e})."),
        field: None,
    })?;
    let (status, body) = call("POST", "/api/v1/session", Some(&body)).await?;
    match status {
        200 => decode(&body),
        _ => Err(failure(status, &body)),
    }
}

/// `DELETE /api/v1/session`: ends the web session and revokes the SIP
/// credential issued with it.
pub async fn sign_out() -> Result<(), ApiFailure> {
    let (status, body) = call("DELETE", "/api/v1/session", None).await?;
    match status {
        200..=299 | 401 => Ok(()),
        _ => Err(failure(status, &body)),
    }
}

/// `GET /api/v1/calls`: this agent's latest calls, newest first.
pub async fn recent_calls(limit: u32) -> Result<Vec<CallRecord>, ApiFailure> {
    let (status, body) = call("GET", &format!("/api/v1/calls?limit={limit}"), None).await?;
    match status {
        200 => decode::<Page<CallRecord>>(&body).map(|page| page.items),
        _ => Err(failure(status, &body)),
    }
}

/// The person-readable failure for an error answer: the gateway's
/// [`ApiError::message`] when the body is one, else a sentence by status.
pub fn failure(status: u16, body: &str) -> ApiFailure {
    let (message, field) = match serde_json::from_str::<ApiError>(body) {
        Ok(error) if !error.message.trim().is_empty() => (error.message, error.field),
        _ => (
            match status {
                401 => "Wrong username or password.".to_owned(),
                403 => "Your role may not do this.".to_owned(),
                429 => "Too many attempts. Wait a few minutes and try again.".to_owned(),
                500..=599 => "The server had a problem. Try again in a moment.".to_owned(),
                _ => format!("The server refused the request (HTTP {status})."),
            },
            None,
        ),
    };
    ApiFailure {
        status: Some(status),
        message,
        field,
    }
}

fn decode<T: serde::de::DeserializeOwned>(body: &str) -> Result<T, ApiFailure> {
    serde_json::from_str(body).map_err(|_| ApiFailure {
        status: Some(200),
        message: "The server sent an answer this page does not understand. Reload the page."
            .to_owned(),
        field: None,
    })
}

fn unreachable_server() -> ApiFailure {
    ApiFailure {
        status: None,
        message: "Cannot reach the server. Check your connection and try again.".to_owned(),
        field: None,
    }
}

/// One `fetch` with an optional JSON body: the status and the body as text.
async fn call(method: &str, path: &str, json: Option<&str>) -> Result<(u16, String), ApiFailure> {
    call_with(method, path, json.map(|body| ("application/json", body))).await
}

/// One `fetch` with an optional body of the given content type.
async fn call_with(
    method: &str,
    path: &str,
    body: Option<(&str, &str)>,
) -> Result<(u16, String), ApiFailure> {
    let window = web_sys::window().ok_or_else(unreachable_server)?;
    let init = RequestInit::new();
    init.set_method(method);
    init.set_credentials(RequestCredentials::SameOrigin);
    if let Some((_, body)) = body {
        init.set_body(&JsValue::from_str(body));
    }
    let request = Request::new_with_str_and_init(path, &init).map_err(|_| unreachable_server())?;
    let headers = request.headers();
    let _ = headers.set("Accept", "application/json");
    if let Some((content_type, _)) = body {
        let _ = headers.set("Content-Type", content_type);
    }
    let response = JsFuture::from(window.fetch_with_request(&request))
        .await
        .map_err(|_| unreachable_server())?;
    let response: Response = response.dyn_into().map_err(|_| unreachable_server())?;
    let status = response.status();
    let text = match response.text() {
        Ok(promise) => JsFuture::from(promise)
            .await
            .ok()
            .and_then(|t| t.as_string())
            .unwrap_or_default(),
        Err(_) => String::new(),
    };
    Ok((status, text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gateways_message_is_shown() {
        let body = r#"{"code":"invalid_credentials","message":"Wrong username or password."}"#;
        assert_eq!(
            failure(401, body),
            ApiFailure {
                status: Some(401),
                message: "Wrong username or password.".to_owned(),
                field: None,
            }
        );
        let body = r#"{"code":"account_locked","message":"Too many failed sign-ins. Try again in 15 minutes."}"#;
        assert_eq!(
            failure(429, body).message,
            "Too many failed sign-ins. Try again in 15 minutes."
        );
    }

    #[test]
    fn the_field_at_fault_is_kept() {
        let body = r#"{"code":"invalid_field","message":"The port must be between 1 and 65535.","field":"port"}"#;
        let failure = failure(400, body);
        assert_eq!(failure.field.as_deref(), Some("port"));
        assert_eq!(failure.message, "The port must be between 1 and 65535.");
    }

    #[test]
    fn other_bodies_get_a_sentence_by_status() {
        assert_eq!(
            failure(502, "<html>Bad Gateway</html>").message,
            "The server had a problem. Try again in a moment."
        );
        assert_eq!(failure(401, "").message, "Wrong username or password.");
        assert_eq!(
            failure(418, r#"{"code":"x","message":"  "}"#).message,
            "The server refused the request (HTTP 418)."
        );
    }
}
