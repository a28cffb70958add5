use yew::prelude::*;

use crate::state::call::{CallCommand, IncomingView};

#[derive(Properties, PartialEq)]
pub struct IncomingCallProps {
    pub call: IncomingView,
    /// The ringtone waits for a click (autoplay policy): say so.
    pub ringtone_blocked: bool,
    pub on_command: Callback<CallCommand>,
}

/// A call ringing this phone: `#incoming-call` (`data-state="ringing"`),
/// `#incoming-caller` (name and number), `#incoming-did` (the number
/// dialled and its label), `button#answer`, `button#decline`, and
/// `#ringtone-blocked` while the browser holds the ringtone back.
#[function_component]
pub fn IncomingCall(props: &IncomingCallProps) -> Html {
    let on_answer = props.on_command.reform(|_: MouseEvent| CallCommand::Answer);
    let on_decline = props
        .on_command
        .reform(|_: MouseEvent| CallCommand::Decline);
    let did = props.call.did_text();
    html! {
        <div id="incoming-call" class="incoming-call" data-state="ringing" role="alert"
            data-call-id={props.call.call_id.clone()}>
            <p class="incoming-title">{ "Incoming call" }</p>
            <p id="incoming-caller" class="incoming-caller">{ props.call.caller_text() }</p>
            if !did.is_empty() {
                <p class="muted">
                    { "To " }<span id="incoming-did">{ did }</span>
                </p>
            }
            <div class="incoming-actions">
                <button id="answer" type="button" class="button button-primary" onclick={on_answer}>
                    { "Answer" }
                </button>
                <button id="decline" type="button" class="button button-danger" onclick={on_decline}>
                    { "Decline" }
                </button>
            </div>
            if props.ringtone_blocked {
                <p id="ringtone-blocked" class="call-notice" role="status">
                    { "Click anywhere to enable the ringtone" }
                </p>
            }
        </div>
    }
}
