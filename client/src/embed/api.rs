//! The REST calls of the embedded phone. No cookie inside a cross-site
//! iframe: the session token from `POST /api/v1/embed/session` goes as
//! `Authorization: Bearer` and lives only in this page's memory.

use shared::api::{ApiError, CallRecord, EmbedConfig, EmbedSession, EmbedSessionRequest, Page};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Request, RequestCredentials, RequestInit, Response};

/// A refusal as the host page hears it: the gateway's code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: String,
    pub message: String,
}

impl Refusal {
    fn unreachable() -> Refusal {
        Refusal {
            code: "unreachable".to_owned(),
            message: "Cannot reach the phone server.".to_owned(),
        }
    }

    fn from_answer(status: u16, body: &str) -> Refusal {
        match serde_json::from_str::<ApiError>(body) {
            Ok(e) => Refusal {
                code: e.code,
                message: e.message,
            },
            Err(_) => Refusal {
                code: "http_error".to_owned(),
                message: format!("The phone server answered HTTP {status}."),
            },
        }
    }
}

/// `GET /api/v1/embed/config`.
pub async fn config() -> Result<EmbedConfig, Refusal> {
    let (status, body) = call("GET", "/api/v1/embed/config", None, None).await?;
    decode(status, &body)
}

/// `POST /api/v1/embed/session`.
pub async fn session(request: &EmbedSessionRequest) -> Result<EmbedSession, Refusal> {
    let json = serde_json::to_string(request).map_err(|_| Refusal::unreachable())?;
    let (status, body) = call("POST", "/api/v1/embed/session", Some(&json), None).await?;
    decode(status, &body)
}

/// The id of this agent's newest call record, if any.
pub async fn newest_call_id(bearer: &str) -> Result<Option<String>, Refusal> {
    let (status, body) = call("GET", "/api/v1/calls?limit=1", None, Some(bearer)).await?;
    let page: Page<CallRecord> = decode(status, &body)?;
    Ok(page.items.into_iter().next().map(|r| r.id))
}

fn decode<T: serde::de::DeserializeOwned>(status: u16, body: &str) -> Result<T, Refusal> {
    if status != 200 {
        return Err(Refusal::from_answer(status, body));
    }
    serde_json::from_str(body).map_err(|_| Refusal::from_answer(status, body))
}

async fn call(
    method: &str,
    path: &str,
    json: Option<&str>,
    bearer: Option<&str>,
) -> Result<(u16, String), Refusal> {
    let window = web_sys::window().ok_or_else(Refusal::unreachable)?;
    let init = RequestInit::new();
    init.set_method(method);
    init.set_credentials(RequestCredentials::Omit);
    if let Some(json) = json {
        init.set_body(&JsValue::from_str(json));
    }
    let request =
        Request::new_with_str_and_init(path, &init).map_err(|_| Refusal::unreachable())?;
    let headers = request.headers();
    let _ = headers.set("Accept", "application/json");
    if json.is_some() {
        let _ = headers.set("Content-Type", "application/json");
    }
    if let Some(token) = bearer {
        let _ = headers.set("Authorization", &format!("Bearer {token}"));
    }
    let response = JsFuture::from(window.fetch_with_request(&request))
        .await
        .map_err(|_| Refusal::unreachable())?;
    let response: Response = response.dyn_into().map_err(|_| Refusal::unreachable())?;
    let text = match response.text() {
        Ok(promise) => JsFuture::from(promise)
            .await
            .ok()
            .and_then(|t| t.as_string())
            .unwrap_or_default(),
        Err(_) => String::new(),
    };
    Ok((response.status(), text))
}

/// Waits `ms` milliseconds.
pub async fn sleep(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        if let Some(window) = web_sys::window() {
            let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
        }
    });
    let _ = JsFuture::from(promise).await;
}
