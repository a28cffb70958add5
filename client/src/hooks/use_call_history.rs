use std::rc::Rc;

use shared::api::CallRecord;
use wasm_bindgen_futures::spawn_local;
use yew::prelude::*;

use crate::api;

/// How many calls the phone page lists.
const HISTORY_LEN: u32 = 20;

/// The agent's latest calls (`GET /api/v1/calls`), loaded on mount and
/// again whenever `generation` changes (one more per ended call). The
/// gateway writes a record once the call's media task reports, a moment
/// after the call ends, so each reload also looks again 2 s later.
#[hook]
pub fn use_call_history(generation: u32) -> (Option<Rc<Vec<CallRecord>>>, Option<String>) {
    let records = use_state(|| None::<Rc<Vec<CallRecord>>>);
    let error = use_state(|| None::<String>);
    {
        let records = records.clone();
        let error = error.clone();
        use_effect_with(generation, move |generation| {
            let again = *generation > 0;
            spawn_local(async move {
                for attempt in 0..if again { 2 } else { 1 } {
                    if attempt > 0 {
                        crate::phone::media::sleep(2000).await;
                    }
                    match api::recent_calls(HISTORY_LEN).await {
                        Ok(list) => {
                            records.set(Some(Rc::new(list)));
                            error.set(None);
                        }
                        Err(failure) => error.set(Some(failure.message)),
                    }
                }
            });
        });
    }
    ((*records).clone(), (*error).clone())
}
