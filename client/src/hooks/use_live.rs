use std::rc::Rc;

use shared::api::LiveCall;
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::{Event, EventSource, MessageEvent};
use yew::prelude::*;

/// The state of the live stream, for a line above the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LiveStatus {
    Connecting,
    Live,
    /// The browser retries by itself.
    Reconnecting,
    /// Given up (refused, or the stream could not start); the message says why.
    Failed(String),
}

/// The calls in progress from `GET /api/v1/live` (Server-Sent Events:
/// each `calls` event carries the whole list). The browser's EventSource
/// reconnects by itself after a drop.
#[hook]
pub fn use_live() -> (Rc<Vec<LiveCall>>, LiveStatus) {
    let calls = use_state(|| Rc::new(Vec::<LiveCall>::new()));
    let status = use_state(|| LiveStatus::Connecting);
    {
        let calls = calls.clone();
        let status = status.clone();
        use_effect_with((), move |_| {
            let source = match EventSource::new("/api/v1/live") {
                Ok(source) => Some(source),
                Err(_) => {
                    status.set(LiveStatus::Failed(
                        "This browser cannot open the live stream.".to_owned(),
                    ));
                    None
                }
            };
            let on_calls = {
                let status = status.clone();
                Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
                    let data = event.data().as_string().unwrap_or_default();
                    match serde_json::from_str::<Vec<LiveCall>>(&data) {
                        Ok(list) => {
                            calls.set(Rc::new(list));
                            status.set(LiveStatus::Live);
                        }
                        Err(_) => status.set(LiveStatus::Failed(
                            "The server sent live calls this page does not understand. Reload the page."
                                .to_owned(),
                        )),
                    }
                })
            };
            let on_error = {
                let status = status.clone();
                let source = source.clone();
                Closure::<dyn FnMut(Event)>::new(move |_: Event| {
                    let closed = source
                        .as_ref()
                        .is_none_or(|s| s.ready_state() == EventSource::CLOSED);
                    status.set(if closed {
                        LiveStatus::Failed(
                            "Live calls stopped: the server refused the stream or cannot be reached. Reload the page to try again."
                                .to_owned(),
                        )
                    } else {
                        LiveStatus::Reconnecting
                    });
                })
            };
            if let Some(source) = &source {
                let _ = source
                    .add_event_listener_with_callback("calls", on_calls.as_ref().unchecked_ref());
                source.set_onerror(Some(on_error.as_ref().unchecked_ref()));
            }
            move || {
                if let Some(source) = source {
                    source.set_onerror(None);
                    let _ = source.remove_event_listener_with_callback(
                        "calls",
                        on_calls.as_ref().unchecked_ref(),
                    );
                    source.close();
                }
                drop(on_calls);
                drop(on_error);
            }
        });
    }
    ((*calls).clone(), (*status).clone())
}
