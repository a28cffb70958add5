use std::rc::Rc;

use shared::api::{CallDirection, CallRecord};
use yew::prelude::*;

use crate::state::call::MissedCall;

#[derive(Properties, PartialEq)]
pub struct CallHistoryProps {
    /// The agent's latest records, newest first; `None` while loading.
    pub records: Option<Rc<Vec<CallRecord>>>,
    /// Missed calls this tab saw, newest first; shown until their record
    /// arrives (a record newer than the miss, from the same caller).
    pub missed: Vec<MissedCall>,
    pub error: Option<String>,
}

/// `#call-history`: one `li` per call with `data-direction` (`inbound`,
/// `outbound`) and `data-missed` (`true` for an inbound call nobody
/// answered).
#[function_component]
pub fn CallHistory(props: &CallHistoryProps) -> Html {
    let records: &[CallRecord] = props.records.as_deref().map_or(&[], Vec::as_slice);
    let pending: Vec<&MissedCall> = props
        .missed
        .iter()
        .filter(|m| {
            !records.iter().any(|r| {
                r.direction == CallDirection::Inbound
                    && r.caller_id.as_deref() == Some(m.caller.as_str())
                    && r.ended_at + 5_000 >= m.at_ms
            })
        })
        .collect();
    let empty = records.is_empty() && pending.is_empty();
    html! {
        <>
            if let Some(error) = &props.error {
                <p class="call-notice" role="status">{ error.clone() }</p>
            }
            if empty && props.records.is_some() {
                <p class="empty">{ "No calls yet." }</p>
            }
            <ul id="call-history" class="call-history">
                { for pending.iter().map(|m| html! {
                    <li key={format!("missed-{}-{}", m.at_ms, m.caller)}
                        data-direction="inbound" data-missed="true" data-pending="true">
                        <span class="history-number">{ m.caller.clone() }</span>
                        <span class="history-detail">{ format!("Missed · {}", time_of(m.at_ms)) }</span>
                    </li>
                }) }
                { for records.iter().map(item) }
            </ul>
        </>
    }
}

fn item(record: &CallRecord) -> Html {
    let inbound = record.direction == CallDirection::Inbound;
    let missed = inbound && record.answered_at.is_none();
    let (direction, number) = if inbound {
        ("inbound", record.caller_id.clone().unwrap_or_default())
    } else {
        ("outbound", record.dialled.clone())
    };
    let what = match (inbound, missed) {
        (true, true) => "Missed".to_owned(),
        (true, false) => format!("In · {}", duration(record.duration_s)),
        (false, _) if record.answered_at.is_some() => {
            format!("Out · {}", duration(record.duration_s))
        }
        (false, _) => format!("Out · not answered ({})", record.final_code),
    };
    html! {
        <li key={record.id.clone()} data-direction={direction} data-missed={missed.to_string()}
            class={classes!(missed.then_some("history-missed"))}>
            <span class="history-number">{ number }</span>
            <span class="history-detail">{ format!("{what} · {}", time_of(record.invite_at)) }</span>
        </li>
    }
}

fn duration(secs: i64) -> String {
    format!("{}:{:02}", secs / 60, secs % 60)
}

/// Local time of day of a Unix-millisecond time.
fn time_of(ms: i64) -> String {
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms as f64));
    format!("{:02}:{:02}", date.get_hours(), date.get_minutes())
}
