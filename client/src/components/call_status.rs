use std::rc::Rc;
use std::time::Duration;

use web_time::Instant;
use yew::prelude::*;

use crate::hooks::use_ticker;
use crate::state::call::{CallCommand, CallPhase, CallView, clock};

#[derive(Properties, PartialEq)]
pub struct CallStatusProps {
    pub call: Rc<CallView>,
    pub on_command: Callback<CallCommand>,
}

/// Where the call is: `#call-state` (`data-state` idle, calling, ringing,
/// connected, held or ended, and words), `#call-timer` while connected,
/// `#call-end-reason` once over; in a call, `button#mute` and `button#hold`
/// (both with `aria-pressed`).
#[function_component]
pub fn CallStatus(props: &CallStatusProps) -> Html {
    let call = &props.call;
    let connected = call.is_connected();
    use_ticker(connected.then_some(Duration::from_secs(1)));

    let state = call.data_state();
    let on_mute = {
        let muted = call.muted;
        props
            .on_command
            .reform(move |_: MouseEvent| CallCommand::Mute(!muted))
    };
    let on_hold = props
        .on_command
        .reform(|_: MouseEvent| CallCommand::ToggleHold);

    let detail = match &call.phase {
        CallPhase::Connected { since, .. } => html! {
            <span id="call-timer" class="call-timer" aria-label="Call time">
                { clock(Instant::now().saturating_duration_since(*since)) }
            </span>
        },
        CallPhase::Ringing { .. } if call.early_media => html! {
            <span class="call-detail">{ "Listening to the line" }</span>
        },
        CallPhase::Ended { reason, lasted, .. } => html! {
            <>
                <span id="call-end-reason" class="call-end-reason">{ reason.clone() }</span>
                if let Some(lasted) = lasted {
                    <span class="call-detail">{ format!("Lasted {}", clock(*lasted)) }</span>
                }
            </>
        },
        _ => Html::default(),
    };

    html! {
        <div class={classes!("call-status", format!("call-{state}"))}>
            <div class="call-line">
                <span class="call-dot" aria-hidden="true"></span>
                <span id="call-state" data-state={state} role="status">{ call.label() }</span>
            </div>
            <div class="call-info">
                { detail }
                // Poor-connection warnings from getStats (connection_quality.rs).
                if connected { <super::ConnectionQuality /> }
            </div>
            if call.has_controls() {
                <div class="call-controls">
                    <button
                        id="mute"
                        type="button"
                        class="button button-toggle"
                        aria-pressed={call.muted.to_string()}
                        onclick={on_mute}
                    >
                        { if call.muted { "Unmute" } else { "Mute" } }
                    </button>
                    <button
                        id="hold"
                        type="button"
                        class="button button-toggle"
                        aria-pressed={call.held.to_string()}
                        disabled={!connected || call.hold_pending || call.reconnecting}
                        onclick={on_hold}
                    >
                        { match (call.hold_pending, call.held) {
                            (true, true) => "Resuming…",
                            (true, false) => "Holding…",
                            (false, true) => "Resume",
                            (false, false) => "Hold",
                        } }
                    </button>
                </div>
            }
            if let Some(notice) = &call.notice {
                <p class="call-notice" role="status">{ notice.clone() }</p>
            }
        </div>
    }
}
