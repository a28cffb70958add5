use std::rc::Rc;

use shared::api::DialingProfile;
use shared::e164::E164;
use wasm_bindgen::JsCast;
use web_sys::{ClipboardEvent, HtmlInputElement, HtmlSelectElement};
use yew::prelude::*;

use crate::state::call::{CallCommand, CallView, NotDialable, clean_number, read_dialable};
use crate::state::caller_id::{
    AUTOMATIC, CallerIdPicker, PickerAction, automatic_label, campaign_value, choice_label,
};

/// The keys of the pad: the tone, and the letters printed under it.
const KEYS: [(char, &str); 12] = [
    ('1', ""),
    ('2', "ABC"),
    ('3', "DEF"),
    ('4', "GHI"),
    ('5', "JKL"),
    ('6', "MNO"),
    ('7', "PQRS"),
    ('8', "TUV"),
    ('9', "WXYZ"),
    ('*', ""),
    ('0', ""),
    ('#', ""),
];

#[derive(Properties, PartialEq)]
pub struct DialerProps {
    pub profile: DialingProfile,
    pub call: Rc<CallView>,
    /// The phone is registered: calls can be placed.
    pub ready: bool,
    pub on_command: Callback<CallCommand>,
}

/// The number (`input#dial-number`, typed, pasted or keyed on the pad), its
/// E.164 reading (`#dial-normalized`; when a destination policy of the agent
/// refuses the number, the number and why, with `data-refusal` holding the
/// refusal's code, and the call button disabled), the caller ID
/// (`select#caller-id`, "Automatic" at first: see [`crate::state::caller_id`]),
/// the pad (`button[data-dtmf]`: digits before a call, tones during one)
/// and the call / hang-up button. Enter dials.
#[function_component]
pub fn Dialer(props: &DialerProps) -> Html {
    let number = use_state(String::new);
    let caller_id = use_reducer(|| CallerIdPicker::new(&props.profile));
    {
        let caller_id = caller_id.dispatcher();
        use_effect_with(props.profile.clone(), move |profile| {
            caller_id.dispatch(PickerAction::Profile(profile.clone()));
        });
    }
    let input = use_node_ref();

    let in_call = props.call.in_call();
    let reading = read_dialable(&number, &props.profile);
    let can_dial = props.ready && !in_call && reading.is_ok();

    let dial = {
        let on_command = props.on_command.clone();
        let reading = reading.clone();
        let presenting = caller_id.presenting();
        move || {
            if let (true, Ok(target)) = (can_dial, &reading) {
                on_command.emit(CallCommand::Dial(target.clone(), presenting.clone()));
            }
        }
    };

    // A key of the pad, pressed or typed: a tone in a call, else a digit.
    let key = {
        let number = number.clone();
        let on_command = props.on_command.clone();
        let input = input.clone();
        Callback::from(move |tone: char| {
            if in_call {
                on_command.emit(CallCommand::Dtmf(tone));
            } else {
                let mut next = (*number).clone();
                next.push(tone);
                number.set(next);
                if let Some(input) = input.cast::<HtmlInputElement>() {
                    let _ = input.focus();
                }
            }
        })
    };

    let oninput = {
        let number = number.clone();
        Callback::from(move |event: InputEvent| {
            if let Some(input) = event.target_dyn_into::<HtmlInputElement>() {
                number.set(input.value());
            }
        })
    };

    let onpaste = {
        let number = number.clone();
        Callback::from(move |event: Event| {
            if in_call {
                event.prevent_default();
                return;
            }
            let Some(text) = event
                .dyn_ref::<ClipboardEvent>()
                .and_then(ClipboardEvent::clipboard_data)
                .and_then(|data| data.get_data("text").ok())
            else {
                return;
            };
            let Some(input) = event.target_dyn_into::<HtmlInputElement>() else {
                return;
            };
            event.prevent_default();
            let value = input.value();
            let chars: Vec<char> = value.chars().collect();
            let at = |pos: Option<u32>| pos.map_or(chars.len(), |p| (p as usize).min(chars.len()));
            let start = at(input.selection_start().ok().flatten());
            let end = at(input.selection_end().ok().flatten()).max(start);
            let before: String = chars[..start].iter().collect();
            let after: String = chars[end..].iter().collect();
            number.set(format!("{before}{}{after}", clean_number(&text)));
        })
    };

    let onkeydown = {
        let dial = dial.clone();
        let key = key.clone();
        Callback::from(move |event: KeyboardEvent| {
            let pressed = event.key();
            if pressed == "Enter" {
                event.prevent_default();
                dial();
            } else if in_call && let Some(tone) = dtmf_key(&pressed) {
                // The number is read-only in a call: typed keys become tones.
                event.prevent_default();
                key.emit(tone);
            }
        })
    };

    let on_caller_id = {
        let caller_id = caller_id.dispatcher();
        Callback::from(move |event: Event| {
            if let Some(select) = event.target_dyn_into::<HtmlSelectElement>() {
                caller_id.dispatch(PickerAction::Choose(select.value()));
            }
        })
    };

    let on_backspace = {
        let number = number.clone();
        Callback::from(move |_: MouseEvent| {
            let mut next = (*number).clone();
            next.pop();
            number.set(next);
        })
    };

    // Keys typed while a pad button has the focus.
    let on_pad_key = {
        let key = key.clone();
        Callback::from(move |event: KeyboardEvent| {
            if let Some(tone) = dtmf_key(&event.key()) {
                event.prevent_default();
                key.emit(tone);
            }
        })
    };

    let on_call = {
        let dial = dial.clone();
        Callback::from(move |_: MouseEvent| dial())
    };
    let on_hangup = props.on_command.reform(|_: MouseEvent| CallCommand::Hangup);

    let (shown, valid) = match &reading {
        Ok(e164) => (e164.to_string(), true),
        Err(refused @ NotDialable::Refused(e164, _)) => {
            (format!("{e164} · {}", refused.message()), false)
        }
        Err(invalid) => (invalid.message(), false),
    };
    let refusal = match &reading {
        Err(NotDialable::Refused(_, refusal)) => Some(refusal.code.as_str()),
        _ => None,
    };
    let empty = number.trim().is_empty();
    let country = props.profile.default_country.to_uppercase();

    html! {
        <div class="dialer">
            <div class="dial-field">
                <label for="dial-number" class="visually-hidden">{ "Number to call" }</label>
                <div class="dial-entry">
                    <input
                        id="dial-number"
                        ref={input}
                        type="tel"
                        inputmode="tel"
                        autocomplete="off"
                        spellcheck="false"
                        placeholder="Number to call"
                        value={(*number).clone()}
                        readonly={in_call}
                        aria-describedby="dial-normalized dial-hint"
                        aria-invalid={(!valid && !empty).to_string()}
                        {oninput}
                        {onpaste}
                        {onkeydown}
                    />
                    if !empty && !in_call {
                        <button
                            type="button"
                            class="icon-button"
                            aria-label="Delete the last digit"
                            title="Delete the last digit"
                            onclick={on_backspace}
                        >
                            { "⌫" }
                        </button>
                    }
                </div>
                <p
                    id="dial-normalized"
                    class={classes!("dial-normalized", (!valid && !empty).then_some("invalid"))}
                    data-valid={valid.to_string()}
                    data-refusal={refusal}
                >
                    { shown }
                </p>
                <p id="dial-hint" class="visually-hidden">
                    { format!("Numbers without a country code are read as {country} numbers. Press Enter to call.") }
                </p>
            </div>

            <div class="field caller-id">
                <label for="caller-id">{ "Caller ID" }</label>
                { caller_id_select(&props.profile, &caller_id.value(), on_caller_id, in_call) }
            </div>

            <div class="keypad" role="group" aria-label={ if in_call { "Keypad tones" } else { "Dial pad" } } onkeydown={on_pad_key}>
                { for KEYS.iter().map(|(tone, letters)| {
                    let key = key.clone();
                    let tone = *tone;
                    html! {
                        <button
                            type="button"
                            class="key"
                            data-dtmf={tone.to_string()}
                            aria-label={key_label(tone)}
                            onclick={Callback::from(move |_: MouseEvent| key.emit(tone))}
                        >
                            <span class="key-digit" aria-hidden="true">{ tone }</span>
                            <span class="key-letters" aria-hidden="true">{ *letters }</span>
                        </button>
                    }
                }) }
            </div>
            if !props.call.dtmf.is_empty() {
                <p class="dtmf-sent" aria-label="Tones sent">{ props.call.dtmf.clone() }</p>
            }

            <div class="call-actions">
                if in_call {
                    // Keys: two different buttons, not one that changes colour.
                    <button key="hangup" id="hangup" type="button" class="button button-danger call-button" onclick={on_hangup}>
                        { "Hang up" }
                    </button>
                } else {
                    <button
                        key="call"
                        id="call"
                        type="button"
                        class="button button-call call-button"
                        disabled={!can_dial}
                        title={call_title(props.ready, &reading)}
                        onclick={on_call}
                    >
                        { "Call" }
                    </button>
                }
            </div>
        </div>
    }
}

/// `select#caller-id`: "Automatic" (`value="auto"`), the agent's campaigns
/// (`value="campaign:<id>"`), then exactly the profile's caller IDs (their
/// own and their campaigns').
fn caller_id_select(
    profile: &DialingProfile,
    selected: &str,
    onchange: Callback<Event>,
    in_call: bool,
) -> Html {
    html! {
        <select id="caller-id" {onchange} disabled={in_call || profile.caller_ids.is_empty()}>
            <option value={AUTOMATIC} selected={selected == AUTOMATIC}>
                { automatic_label(profile) }
            </option>
            if !profile.campaigns.is_empty() {
                <optgroup label="Campaigns (a local number from the campaign)">
                    { for profile.campaigns.iter().map(|c| {
                        let value = campaign_value(c.id);
                        let selected = value == selected;
                        html! {
                            <option {value} {selected}>
                                { format!("{} · {} numbers", c.name, c.numbers.len()) }
                            </option>
                        }
                    }) }
                </optgroup>
            }
            <optgroup label="Numbers">
                { for profile.caller_ids.iter().map(|choice| html! {
                    <option value={choice.number.clone()} selected={choice.number == selected}>
                        { choice_label(&choice.label, &choice.number) }
                    </option>
                }) }
            </optgroup>
        </select>
    }
}

fn call_title(ready: bool, reading: &Result<E164, NotDialable>) -> String {
    match (ready, reading) {
        (false, _) => "Your phone is not connected yet.".to_owned(),
        (true, Ok(number)) => format!("Call {number} (Enter)"),
        (true, Err(_)) => reading_message(reading),
    }
}

fn reading_message(reading: &Result<E164, NotDialable>) -> String {
    reading
        .as_ref()
        .err()
        .map(NotDialable::message)
        .unwrap_or_default()
}

fn key_label(tone: char) -> String {
    match tone {
        '*' => "Star".to_owned(),
        '#' => "Pound".to_owned(),
        digit => digit.to_string(),
    }
}

/// The tone a key stands for: 0–9, `*` and `#`.
pub fn dtmf_key(key: &str) -> Option<char> {
    let mut chars = key.chars();
    match (chars.next(), chars.next()) {
        (Some(c @ ('0'..='9' | '*' | '#')), None) => Some(c),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_pad_keys_are_tones() {
        assert_eq!(dtmf_key("5"), Some('5'));
        assert_eq!(dtmf_key("#"), Some('#'));
        assert_eq!(dtmf_key("*"), Some('*'));
        assert_eq!(dtmf_key("a"), None);
        assert_eq!(dtmf_key("F5"), None);
        assert_eq!(dtmf_key("Enter"), None);
    }
}
