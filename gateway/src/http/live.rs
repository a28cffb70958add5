//! `GET /api/v1/live`: the calls in progress as Server-Sent Events (admins
//! and supervisors). Each event (`event: calls`) carries the whole list as
//! JSON, first at once and then after every change; a keep-alive comment
//! every 15 s keeps proxies from closing the stream.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;

use super::roles::Reader;
use super::{AppError, AppState};

pub async fn stream(
    State(state): State<AppState>,
    _: Reader,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, AppError> {
    let rx = state.live.subscribe();
    let events = futures_util::stream::unfold((rx, true), |(mut rx, first)| async move {
        // The first event is the list as it is; later ones follow changes.
        // The stream ends when the registry is gone (shutdown).
        if !first && rx.changed().await.is_err() {
            return None;
        }
        let calls = rx.borrow_and_update().clone();
        // A list of plain structs always serialises.
        let data = serde_json::to_string(&calls).unwrap_or_else(|_| "[]".to_owned());
        Some((Ok(Event::default().event("calls").data(data)), (rx, false)))
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
