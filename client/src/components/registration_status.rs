use std::time::Duration;

use web_time::Instant;
use yew::prelude::*;

use crate::hooks::use_ticker;
use crate::phone::PhoneStatus;

#[derive(Properties, PartialEq)]
pub struct RegistrationStatusProps {
    pub status: PhoneStatus,
}

/// The registration badge, `#registration-state`: `data-state` for machines
/// (connecting, registered, failed, reconnecting, unregistered), the text for
/// people. A reconnect countdown re-renders it every quarter second.
///
/// The badge itself is not a live region (a countdown would be read out every
/// second); a visually hidden status line announces changes of state only.
#[function_component]
pub fn RegistrationStatus(props: &RegistrationStatusProps) -> Html {
    let counting = matches!(props.status, PhoneStatus::Reconnecting { .. });
    use_ticker(counting.then_some(Duration::from_millis(250)));
    let state = props.status.data_state();
    let announcement = match &props.status {
        PhoneStatus::Reconnecting { .. } => "Phone disconnected, reconnecting".to_owned(),
        other => other.label(Instant::now()),
    };
    html! {
        <>
            <div
                id="registration-state"
                class={classes!("status", format!("status-{state}"))}
                data-state={state}
            >
                <span class="status-dot" aria-hidden="true"></span>
                <span class="status-text">{ props.status.label(Instant::now()) }</span>
            </div>
            <span class="visually-hidden" role="status">{ announcement }</span>
        </>
    }
}
