use web_sys::HtmlSelectElement;
use yew::prelude::*;

use crate::state::call::{CallCommand, Device, Devices, MicProblem};

#[derive(Properties, PartialEq)]
pub struct MicErrorProps {
    pub problem: Option<MicProblem>,
}

/// `#mic-error`: why the microphone cannot be used and how to fix it;
/// absent while there is nothing to say.
#[function_component]
pub fn MicError(props: &MicErrorProps) -> Html {
    match &props.problem {
        Some(problem) => html! {
            <div id="mic-error" class="mic-error" role="alert">
                <p class="mic-error-title">{ "Microphone unavailable" }</p>
                <p>{ problem.explanation() }</p>
            </div>
        },
        None => Html::default(),
    }
}

#[derive(Properties, PartialEq)]
pub struct AudioSettingsProps {
    pub devices: Devices,
    pub on_command: Callback<CallCommand>,
}

/// `select#mic-select` and `select#speaker-select`. The speaker can only be
/// chosen where the browser supports it; elsewhere the select says so.
#[function_component]
pub fn AudioSettings(props: &AudioSettingsProps) -> Html {
    let devices = &props.devices;
    let on_mic = props.on_command.reform(|event: Event| {
        CallCommand::SelectMic(
            event
                .target_dyn_into::<HtmlSelectElement>()
                .map(|s| s.value())
                .unwrap_or_default(),
        )
    });
    let on_speaker = props.on_command.reform(|event: Event| {
        CallCommand::SelectSpeaker(
            event
                .target_dyn_into::<HtmlSelectElement>()
                .map(|s| s.value())
                .unwrap_or_default(),
        )
    });
    html! {
        <div class="audio-settings">
            <div class="field">
                <label for="mic-select">{ "Microphone" }</label>
                <select id="mic-select" onchange={on_mic}>
                    { options(&devices.mics, &devices.mic) }
                </select>
            </div>
            <div class="field">
                <label for="speaker-select">{ "Speaker" }</label>
                <select
                    id="speaker-select"
                    onchange={on_speaker}
                    disabled={!devices.can_choose_speaker}
                    title={(!devices.can_choose_speaker).then_some("This browser plays calls on the system's default output")}
                >
                    { options(&devices.speakers, &devices.speaker) }
                </select>
            </div>
        </div>
    }
}

fn options(list: &[Device], chosen: &str) -> Html {
    html! {
        <>
            <option value="" selected={chosen.is_empty()}>{ "System default" }</option>
            { for list.iter().map(|device| html! {
                <option value={device.id.clone()} selected={device.id == chosen}>
                    { device.label.clone() }
                </option>
            }) }
        </>
    }
}
