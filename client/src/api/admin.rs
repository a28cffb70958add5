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

/// `PUT /api/v1/carriers/{id}/rates` with the CSV text: how many rates the
/// carrier has now. A bad file fails with the bad lines in the message.
pub async fn put_rates(carrier_id: i64, csv: &str) -> Result<usize, ApiFailure> {
    let path = format!("/api/v1/carriers/{carrier_id}/rates");
    let (status, body) = call_with("PUT", &path, Some(("text/csv", csv))).await?;
    match status {
        200 => {
            decode::<serde_json::Value>(&body).map(|v| v["items"].as_array().map_or(0, Vec::len))
        }
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

/// What the live stream reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LiveEvent {
    /// The calls in progress now (the whole list, each time).
    Calls(Vec<shared::api::LiveCall>),
    /// The connection dropped; the browser is reconnecting by itself.
    Reconnecting,
    /// The stream ended for good (refused, or the server is gone).
    Closed,
    /// An event this page cannot read.
    Unreadable,
}

/// `GET /api/v1/live` as Server-Sent Events (`event: calls`, the whole
/// list as JSON). Open while the value lives; dropping it closes the
/// connection.
pub struct LiveStream {
    source: web_sys::EventSource,
    on_calls: wasm_bindgen::closure::Closure<dyn FnMut(web_sys::MessageEvent)>,
    _on_error: wasm_bindgen::closure::Closure<dyn FnMut(web_sys::Event)>,
}

impl LiveStream {
    pub fn open(on_event: impl Fn(LiveEvent) + 'static) -> Result<LiveStream, ApiFailure> {
        use wasm_bindgen::JsCast;
        use wasm_bindgen::closure::Closure;
        use web_sys::{Event, EventSource, MessageEvent};

        let source = EventSource::new("/api/v1/live").map_err(|_| ApiFailure {
            status: None,
            message: "This browser cannot open the live stream.".to_owned(),
            field: None,
        })?;
        let on_event = std::rc::Rc::new(on_event);
        let on_calls = {
            let on_event = on_event.clone();
            Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
                let data = event.data().as_string().unwrap_or_default();
                on_event(match serde_json::from_str(&data) {
                    Ok(calls) => LiveEvent::Calls(calls),
                    Err(_) => LiveEvent::Unreadable,
                });
            })
        };
        let on_error = {
            let source = source.clone();
            Closure::<dyn FnMut(Event)>::new(move |_: Event| {
                on_event(if source.ready_state() == EventSource::CLOSED {
                    LiveEvent::Closed
                } else {
                    LiveEvent::Reconnecting
                });
            })
        };
        // Without the listener no event would arrive: report it as closed.
        source
            .add_event_listener_with_callback("calls", on_calls.as_ref().unchecked_ref())
            .map_err(|_| ApiFailure {
                status: None,
                message: "The live stream could not be listened to.".to_owned(),
                field: None,
            })?;
        source.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        Ok(LiveStream {
            source,
            on_calls,
            _on_error: on_error,
        })
    }
}

impl Drop for LiveStream {
    fn drop(&mut self) {
        use wasm_bindgen::JsCast;
        self.source.set_onerror(None);
        let _ = self
            .source
            .remove_event_listener_with_callback("calls", self.on_calls.as_ref().unchecked_ref());
        self.source.close();
    }
}
