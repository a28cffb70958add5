use std::rc::Rc;

use shared::api::LiveCall;
use yew::prelude::*;

use crate::api::admin::{LiveEvent, LiveStream};

/// The state of the live stream, for a line above the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LiveStatus {
    Connecting,
    Live,
    /// The browser retries by itself.
    Reconnecting,
    /// Given up; the message says why.
    Failed(String),
}

/// The calls in progress, kept current by `api::admin::LiveStream` while
/// the component is mounted.
#[hook]
pub fn use_live() -> (Rc<Vec<LiveCall>>, LiveStatus) {
    let calls = use_state(|| Rc::new(Vec::<LiveCall>::new()));
    let status = use_state(|| LiveStatus::Connecting);
    {
        let calls = calls.clone();
        let status = status.clone();
        use_effect_with((), move |_| {
            let stream = LiveStream::open({
                let status = status.clone();
                move |event| {
                    match event {
                    LiveEvent::Calls(list) => {
                        calls.set(Rc::new(list));
                        status.set(LiveStatus::Live);
                    }
                    LiveEvent::Reconnecting => status.set(LiveStatus::Reconnecting),
                    LiveEvent::Closed => status.set(LiveStatus::Failed(
                        "Live calls stopped: the server refused the stream or cannot be reached. Reload the page to try again."
                            .to_owned(),
                    )),
                    LiveEvent::Unreadable => status.set(LiveStatus::Failed(
                        "The server sent live calls this page does not understand. Reload the page."
                            .to_owned(),
                    )),
                }
                }
            });
            let stream = match stream {
                Ok(stream) => Some(stream),
                Err(failure) => {
                    status.set(LiveStatus::Failed(failure.message));
                    None
                }
            };
            move || drop(stream)
        });
    }
    ((*calls).clone(), (*status).clone())
}
