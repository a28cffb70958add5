use std::rc::Rc;

use shared::api::SessionInfo;
use yew::prelude::*;

use crate::components::{AudioSettings, CallHistory, CallStatus, Dialer, IncomingCall, MicError};
use crate::hooks::use_call_history;
use crate::phone::PhoneStatus;
use crate::phone::media::REMOTE_AUDIO_ID;
use crate::state::call::{CallCommand, CallPhase, CallView};

#[derive(Properties, PartialEq)]
pub struct PhonePageProps {
    pub session: Rc<SessionInfo>,
    pub status: PhoneStatus,
    pub signing_out: bool,
    pub call: Rc<CallView>,
    /// Another page is shown: the phone stays (its audio element too), out
    /// of sight.
    pub hidden: bool,
    pub on_retry: Callback<()>,
    pub on_command: Callback<CallCommand>,
}

/// The agent's workspace: the phone panel (call state, dialer, audio
/// devices) and the call list, under the top bar (`components::TopBar`).
/// The panel fits a ~360 px CRM side panel on its own.
#[function_component]
pub fn PhonePage(props: &PhonePageProps) -> Html {
    let on_retry = props.on_retry.reform(|_: MouseEvent| ());

    let (headline, detail) = describe(&props.status);
    let retry = matches!(props.status, PhoneStatus::Failed { .. }) && !props.signing_out;
    let ready = props.status == PhoneStatus::Registered && !props.signing_out;
    // Once registered the dialer says it all; otherwise explain first.
    let show_state = !ready && !props.call.in_call();
    let (records, history_error) = use_call_history(props.call.ended_count);

    html! {
            <main class="workspace" hidden={props.hidden}>
                <section class="card phone-panel" aria-labelledby="phone-title">
                    <h2 id="phone-title" class="card-title">{ "Phone" }</h2>
                    if show_state {
                        <div class={classes!("phone-state", format!("phone-state-{}", props.status.data_state()))}>
                            <p class="phone-headline">{ headline }</p>
                            <p class="muted">{ detail }</p>
                            if retry {
                                <button id="retry-registration" type="button" class="button button-primary" onclick={on_retry}>
                                    { "Try again" }
                                </button>
                            }
                        </div>
                    }
                    if let CallPhase::Incoming(incoming) = &props.call.phase {
                        <IncomingCall
                            call={incoming.clone()}
                            ringtone_blocked={props.call.ringtone_blocked}
                            on_command={props.on_command.clone()}
                        />
                    }
                    <MicError problem={props.call.mic_problem.clone()} />
                    <CallStatus call={props.call.clone()} on_command={props.on_command.clone()} />
                    <Dialer
                        profile={props.session.dialing.clone()}
                        call={props.call.clone()}
                        {ready}
                        on_command={props.on_command.clone()}
                    />
                    <AudioSettings devices={props.call.devices.clone()} on_command={props.on_command.clone()} />
                    // The far end's audio; the phone attaches the call's
                    // remote stream to it.
                    <audio id={REMOTE_AUDIO_ID} autoplay=true class="visually-hidden"></audio>
                </section>

                <section class="card calls-panel" aria-labelledby="calls-title">
                    <h2 id="calls-title" class="card-title">{ "Calls" }</h2>
                    <CallHistory {records} missed={props.call.missed.clone()} error={history_error} />
                </section>
            </main>
    }
}

/// A headline and a sentence about the phone, for the phone panel.
fn describe(status: &PhoneStatus) -> (&'static str, &'static str) {
    match status {
        PhoneStatus::Connecting => ("Connecting your phone", "This takes a moment."),
        PhoneStatus::Registered => (
            "Ready",
            "Your phone is connected. Keep this tab open to stay reachable.",
        ),
        PhoneStatus::Failed { .. } => (
            "Your phone is not connected",
            "Try again. If it keeps failing, sign out and sign in again.",
        ),
        PhoneStatus::Reconnecting { .. } => (
            "Connection lost",
            "Reconnecting automatically. Calls cannot reach you until then.",
        ),
        PhoneStatus::SignedOut => ("Signed out", "Your phone is disconnected."),
        PhoneStatus::NoPhone => (
            "No phone on this account",
            "This account does not take calls.",
        ),
    }
}
