//! The phone embedded in another site (`/embed`, framed by the host page's
//! `<dialer-phone>` element from `gateway/static/widget.js`).
//!
//! It says hello to its parent, waits for `dialer:init` with an embed token
//! from an allowed origin, trades it for a session (`api`), and runs the same
//! phone as the full app (`use_phone`, the `AppState` reducer) in a compact
//! panel. Host commands and phone events cross as `postMessage` (`bridge`),
//! only ever to and from the origin that sent the token.

mod api;
mod bridge;

use std::cell::RefCell;
use std::rc::Rc;

use shared::api::EmbedSessionRequest;
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use wasm_bindgen_futures::spawn_local;
use yew::prelude::*;

use crate::components::{CallStatus, Dialer, IncomingCall, MicError, RegistrationStatus};
use crate::hooks::{PhoneHandle, use_phone};
use crate::phone::PhoneStatus;
use crate::phone::media::REMOTE_AUDIO_ID;
use crate::state::call::{CallCommand, CallPhase, CallView};
use crate::state::{Action, AppState};
use bridge::{HostEvent, HostMessage};

/// The path the gateway serves the embedded phone at.
pub const PATH: &str = "/embed";

/// What the embedded page knows about its host, shared with the message
/// listener (which outlives renders).
#[derive(Default)]
struct Host {
    /// Origins the gateway allows to embed the phone.
    allowed: Vec<String>,
    /// The origin that sent the token; every event goes there only.
    origin: Option<String>,
    /// The session's bearer token (memory only).
    bearer: Option<String>,
    /// The call as last rendered, for commands that depend on it.
    call: Rc<CallView>,
    default_country: String,
    /// The newest call record id when the current call started.
    record_before: Option<String>,
}

#[function_component]
pub fn EmbedApp() -> Html {
    let state = use_reducer(AppState::default);
    let problem = use_state(|| None::<String>);
    let host = use_mut_ref(Host::default);

    let phone = {
        let on_status = {
            let dispatcher = state.dispatcher();
            Callback::from(move |status| dispatcher.dispatch(Action::Phone(status)))
        };
        let on_call = {
            let dispatcher = state.dispatcher();
            Callback::from(move |update| dispatcher.dispatch(Action::Call(update)))
        };
        use_phone(state.sip_credential(), on_status, on_call)
    };

    let on_command = {
        let phone = phone.clone();
        Callback::from(move |command: CallCommand| run(&phone, command))
    };

    // Once: learn the allowed origins, listen to the host, say hello.
    {
        let host = host.clone();
        let dispatcher = state.dispatcher();
        let problem = problem.setter();
        let phone = phone.clone();
        use_effect_with((), move |_| {
            let listener = {
                let host = host.clone();
                let problem = problem.clone();
                Closure::<dyn FnMut(web_sys::MessageEvent)>::new(
                    move |event: web_sys::MessageEvent| {
                        on_message(&host, &dispatcher, &problem, &phone, &event);
                    },
                )
            };
            let window = web_sys::window();
            if let Some(window) = &window {
                let _ = window
                    .add_event_listener_with_callback("message", listener.as_ref().unchecked_ref());
            }
            spawn_local(async move {
                match api::config().await {
                    Ok(config) => {
                        host.borrow_mut().allowed = config.allowed_origins.clone();
                        if let Some(parent) = parent() {
                            let hello = js_value(&serde_json::json!({"type": "dialer:hello"}));
                            for origin in &config.allowed_origins {
                                let _ = parent.post_message(&hello, origin);
                            }
                        }
                    }
                    Err(refusal) => problem.set(Some(refusal.message)),
                }
            });
            move || {
                if let Some(window) = window {
                    let _ = window.remove_event_listener_with_callback(
                        "message",
                        listener.as_ref().unchecked_ref(),
                    );
                }
            }
        });
    }

    // Registration changes → `registered` / `error`.
    let status = match &*state {
        AppState::Phone { status, .. } => Some(status.clone()),
        _ => None,
    };
    {
        let host = host.clone();
        let before = use_mut_ref(|| PhoneStatus::Connecting);
        use_effect_with(status, move |status| {
            if let Some(status) = status {
                if let Some(event) = bridge::status_event(&before.borrow(), status) {
                    emit(&host.borrow(), &event);
                }
                *before.borrow_mut() = status.clone();
            }
        });
    }

    // Call changes → `incoming`, `ringing`, `connected`, `ended` (and
    // `reconnecting` below).
    let call = match &*state {
        AppState::Phone { call, .. } => call.clone(),
        _ => Rc::default(),
    };
    host.borrow_mut().call = call.clone();
    {
        let host = host.clone();
        let before = use_mut_ref(|| CallPhase::Idle);
        use_effect_with(call.phase.clone(), move |phase| {
            let previous = before.replace(phase.clone());
            if let Some(event) = bridge::phase_event(&previous, phase) {
                emit(&host.borrow(), &event);
            }
            if bridge::just_started(&previous, phase) {
                note_newest_record(host.clone());
            }
            if bridge::just_ended(&previous, phase) {
                report_end(host.clone(), phase.clone());
            }
        });
    }

    {
        let host = host.clone();
        let before = use_mut_ref(|| false);
        use_effect_with(call.reconnecting, move |reconnecting| {
            let previous = before.replace(*reconnecting);
            if let Some(event) = bridge::reconnecting_event(previous, *reconnecting) {
                emit(&host.borrow(), &event);
            }
        });
    }

    let body = match (&*state, &*problem) {
        (_, Some(message)) => html! {
            <p id="embed-error" class="embed-error" role="alert">{ message.clone() }</p>
        },
        (
            AppState::Phone {
                session,
                status,
                call,
                ..
            },
            None,
        ) => {
            host.borrow_mut().default_country = session.dialing.default_country.clone();
            let ready = *status == PhoneStatus::Registered;
            html! {
                <>
                    <div class="embed-top">
                        <RegistrationStatus status={status.clone()} />
                        <span class="muted">{ session.account.display_name.clone() }</span>
                    </div>
                    if let CallPhase::Incoming(incoming) = &call.phase {
                        <IncomingCall
                            call={incoming.clone()}
                            ringtone_blocked={call.ringtone_blocked}
                            on_command={on_command.clone()}
                        />
                    }
                    <MicError problem={call.mic_problem.clone()} />
                    <CallStatus call={call.clone()} on_command={on_command.clone()} />
                    <Dialer
                        profile={session.dialing.clone()}
                        call={call.clone()}
                        {ready}
                        on_command={on_command.clone()}
                    />
                    <audio id={REMOTE_AUDIO_ID} autoplay=true class="visually-hidden"></audio>
                </>
            }
        }
        _ => html! { <p id="embed-waiting" class="muted">{ "Connecting the phone…" }</p> },
    };
    html! {
        <main id="embedded-phone" class="embed card phone-panel">{ body }</main>
    }
}

fn run(phone: &PhoneHandle, command: CallCommand) {
    match command {
        CallCommand::Dial(target, presenting) => phone.dial(target, presenting),
        CallCommand::Answer => phone.answer(),
        CallCommand::Decline => phone.decline(),
        CallCommand::Hangup => phone.hangup(),
        CallCommand::Mute(muted) => phone.set_muted(muted),
        CallCommand::ToggleHold => phone.toggle_hold(),
        CallCommand::Dtmf(tone) => phone.dtmf(tone),
        CallCommand::SelectMic(id) => phone.select_mic(id),
        CallCommand::SelectSpeaker(id) => phone.select_speaker(id),
    }
}

fn on_message(
    host: &Rc<RefCell<Host>>,
    dispatcher: &UseReducerDispatcher<AppState>,
    problem: &UseStateSetter<Option<String>>,
    phone: &PhoneHandle,
    event: &web_sys::MessageEvent,
) {
    let origin = event.origin();
    let data = js_sys::JSON::stringify(&event.data())
        .ok()
        .and_then(|s| s.as_string());
    let Some(message) = data.and_then(|d| serde_json::from_str::<HostMessage>(&d).ok()) else {
        return;
    };
    // Only the parent window speaks to us, and only from an allowed origin.
    let from_parent = match (event.source(), parent()) {
        (Some(source), Some(parent)) => {
            let parent: &wasm_bindgen::JsValue = parent.as_ref();
            AsRef::<wasm_bindgen::JsValue>::as_ref(&source) == parent
        }
        _ => false,
    };
    if !from_parent {
        return;
    }
    if !host.borrow().allowed.iter().any(|o| o == &origin) {
        problem.set(Some(format!(
            "This phone may not be embedded on {origin}. Ask your administrator to allow it."
        )));
        return;
    }
    match message {
        HostMessage::Init { token } => {
            {
                let mut h = host.borrow_mut();
                if h.origin.as_ref().is_some_and(|o| o != &origin) {
                    return;
                }
                h.origin = Some(origin.clone());
            }
            let host = host.clone();
            let dispatcher = dispatcher.clone();
            let problem = problem.clone();
            spawn_local(async move {
                let request = EmbedSessionRequest { token, origin };
                match api::session(&request).await {
                    Ok(session) => {
                        host.borrow_mut().bearer = Some(session.session_token);
                        dispatcher.dispatch(Action::SessionStarted(Box::new(session.session)));
                    }
                    Err(refusal) => {
                        emit(
                            &host.borrow(),
                            &HostEvent::error(&refusal.code, &refusal.message),
                        );
                        problem.set(Some(refusal.message));
                    }
                }
            });
        }
        HostMessage::Command { name, args } => {
            let (call, country, ours) = {
                let h = host.borrow();
                (
                    h.call.clone(),
                    h.default_country.clone(),
                    h.origin.as_deref() == Some(&origin),
                )
            };
            if !ours {
                return;
            }
            match bridge::commands(&name, &args, &call, &country) {
                Ok(commands) => commands.into_iter().for_each(|c| run(phone, c)),
                Err((code, message)) => emit(&host.borrow(), &HostEvent::error(code, &message)),
            }
        }
    }
}

/// Notes the newest record id, so the one the call writes can be told.
fn note_newest_record(host: Rc<RefCell<Host>>) {
    let Some(bearer) = host.borrow().bearer.clone() else {
        return;
    };
    spawn_local(async move {
        if let Ok(id) = api::newest_call_id(&bearer).await {
            host.borrow_mut().record_before = id;
        }
    });
}

/// Raises `ended` once the call's record is written (a few seconds at most).
fn report_end(host: Rc<RefCell<Host>>, phase: CallPhase) {
    let (bearer, before) = {
        let h = host.borrow();
        (h.bearer.clone(), h.record_before.clone())
    };
    spawn_local(async move {
        let mut record = None;
        if let Some(bearer) = bearer {
            for _ in 0..20 {
                if let Ok(Some(id)) = api::newest_call_id(&bearer).await
                    && Some(&id) != before.as_ref()
                {
                    record = Some(id);
                    break;
                }
                api::sleep(250).await;
            }
        }
        if let Some(event) = bridge::ended(&phase, record) {
            emit(&host.borrow(), &event);
        }
    });
}

/// Posts `event` to the host, if one has signed in.
fn emit(host: &Host, event: &HostEvent) {
    if let (Some(origin), Some(parent)) = (&host.origin, parent()) {
        let _ = parent.post_message(&js_value(&event.message()), origin);
    }
}

fn parent() -> Option<web_sys::Window> {
    web_sys::window()?.parent().ok().flatten()
}

fn js_value(value: &serde_json::Value) -> wasm_bindgen::JsValue {
    js_sys::JSON::parse(&value.to_string()).unwrap_or(wasm_bindgen::JsValue::NULL)
}
