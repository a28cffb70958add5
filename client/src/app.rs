//! The root component: owns the state, the phone and the session's API
//! calls, and shows one page: sign-in, or the top bar over the phone and
//! the admin page the URL's hash names (`route`). The phone stays mounted
//! (hidden) while another page is shown, so calls and audio go on.

use shared::api::{Role, SignInRequest};
use wasm_bindgen_futures::spawn_local;
use yew::prelude::*;

use crate::api;
use crate::components::TopBar;
use crate::components::admin::NotAllowed;
use crate::hooks::{go_to, use_phone, use_route};
use crate::pages::admin::{
    AgentsPage, AlertBanner, AuditPage, CallerIdsPage, CallsPage, CarriersPage, DialingPolicyPage,
    DidsPage, IntegrationsPage, LivePage, QualityPage, RingGroupsPage, SecurityPage,
};
use crate::pages::{LoadingPage, PhonePage, SignInPage};
use crate::route::Route;
use crate::state::call::{CallCommand, CallPhase};
use crate::state::{Action, AppState, check_sign_in};

#[function_component]
pub fn App() -> Html {
    let state = use_reducer(AppState::default);
    let route = use_route();

    // On load: is this browser signed in (httpOnly cookie)?
    {
        let dispatcher = state.dispatcher();
        use_effect_with((), move |_| {
            spawn_local(async move {
                let action = match api::current_session().await {
                    Ok(Some(session)) => Action::SessionStarted(Box::new(session)),
                    Ok(None) => Action::NoSession { error: None },
                    Err(failure) => Action::NoSession {
                        error: Some(failure.message),
                    },
                };
                dispatcher.dispatch(action);
            });
        });
    }

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

    let on_sign_in = {
        let dispatcher = state.dispatcher();
        Callback::from(move |request: SignInRequest| {
            if let Err(message) = check_sign_in(&request) {
                dispatcher.dispatch(Action::SignInFailed(message));
                return;
            }
            dispatcher.dispatch(Action::SignInSubmitted);
            let dispatcher = dispatcher.clone();
            spawn_local(async move {
                let action = match api::sign_in(&request).await {
                    Ok(session) => Action::SessionStarted(Box::new(session)),
                    Err(failure) => Action::SignInFailed(failure.message),
                };
                dispatcher.dispatch(action);
            });
        })
    };

    let on_sign_out = {
        let dispatcher = state.dispatcher();
        let phone = phone.clone();
        Callback::from(move |()| {
            dispatcher.dispatch(Action::SignOutRequested);
            let dispatcher = dispatcher.clone();
            // The binding first (while the credential still works), then the
            // web session, which revokes the credential.
            phone.sign_out(move || {
                spawn_local(async move {
                    // Signed out locally whatever the answer: the page forgets
                    // the credential, and the gateway's session expires anyway.
                    let _ = api::sign_out().await;
                    // The next person to sign in starts on the phone, not
                    // on the page this one left open.
                    go_to(Route::Phone);
                    dispatcher.dispatch(Action::SignedOut);
                });
            });
        })
    };

    let on_command = {
        let phone = phone.clone();
        Callback::from(move |command: CallCommand| match command {
            CallCommand::Dial(target, presenting) => phone.dial(target, presenting),
            CallCommand::Answer => phone.answer(),
            CallCommand::Decline => phone.decline(),
            CallCommand::Hangup => phone.hangup(),
            CallCommand::Mute(muted) => phone.set_muted(muted),
            CallCommand::ToggleHold => phone.toggle_hold(),
            CallCommand::Dtmf(tone) => phone.dtmf(tone),
            CallCommand::SelectMic(id) => phone.select_mic(id),
            CallCommand::SelectSpeaker(id) => phone.select_speaker(id),
        })
    };

    let on_retry = Callback::from(move |()| phone.retry());

    match &*state {
        AppState::Loading => html! { <LoadingPage /> },
        AppState::SignIn { busy, error } => html! {
            <SignInPage
                busy={*busy}
                error={error.clone().map(AttrValue::from)}
                on_submit={on_sign_in}
            />
        },
        AppState::Phone {
            session,
            status,
            signing_out,
            call,
        } => {
            let role = session.account.role;
            let can_edit = role == Role::Admin;
            let page = match route {
                Route::Phone => html! {},
                other if !other.allowed(role) => html! { <NotAllowed /> },
                Route::Carriers => html! { <CarriersPage {can_edit} /> },
                Route::Dids => html! { <DidsPage {can_edit} /> },
                Route::RingGroups => html! { <RingGroupsPage {can_edit} /> },
                Route::Agents => html! { <AgentsPage {can_edit} /> },
                Route::CallerIds(agent) => html! { <CallerIdsPage {can_edit} {agent} /> },
                Route::DialingPolicy => html! { <DialingPolicyPage {can_edit} /> },
                Route::Calls => html! { <CallsPage /> },
                Route::Live => html! { <LivePage /> },
                Route::Audit => html! { <AuditPage /> },
                Route::Integrations => html! { <IntegrationsPage /> },
                Route::Security => html! { <SecurityPage /> },
                Route::Quality => html! { <QualityPage {can_edit} /> },
            };
            let away = route != Route::Phone;
            // A call ringing while another page is shown.
            let ringing_away = away && matches!(call.phase, CallPhase::Incoming(_));
            html! {
                <div class="shell">
                    <TopBar
                        session={session.clone()}
                        status={status.clone()}
                        signing_out={*signing_out}
                        {route}
                        {on_sign_out}
                    />
                    if ringing_away {
                        <a id="call-waiting-banner" class="call-banner" href={Route::Phone.href()}>
                            { "A call is ringing — open the phone to answer." }
                        </a>
                    }
                    // Admins on the admin pages: a recent security alert.
                    if away && role == Role::Admin {
                        <AlertBanner />
                    }
                    <PhonePage
                        session={session.clone()}
                        status={status.clone()}
                        signing_out={*signing_out}
                        call={call.clone()}
                        hidden={away}
                        {on_retry}
                        {on_command}
                    />
                    { page }
                </div>
            }
        }
    }
}
