use std::rc::Rc;

use shared::api::SessionInfo;
use yew::prelude::*;

use crate::components::{AgentBadge, Brand, RegistrationStatus};
use crate::phone::PhoneStatus;

#[derive(Properties, PartialEq)]
pub struct PhonePageProps {
    pub session: Rc<SessionInfo>,
    pub status: PhoneStatus,
    pub signing_out: bool,
    pub on_sign_out: Callback<()>,
    pub on_retry: Callback<()>,
}

/// The agent's workspace: a top bar (registration state, who is signed in,
/// sign-out), the phone panel (where the dial pad goes) and the call list.
#[function_component]
pub fn PhonePage(props: &PhonePageProps) -> Html {
    let account = &props.session.account;
    let on_sign_out = props.on_sign_out.reform(|_: MouseEvent| ());
    let on_retry = props.on_retry.reform(|_: MouseEvent| ());

    let (headline, detail) = describe(&props.status);
    let retry = matches!(props.status, PhoneStatus::Failed { .. }) && !props.signing_out;

    html! {
        <div class="shell">
            <header class="topbar">
                <Brand />
                <div class="topbar-end">
                    <RegistrationStatus status={props.status.clone()} />
                    <AgentBadge
                        name={account.display_name.clone()}
                        username={account.username.clone()}
                    />
                    <button
                        id="sign-out"
                        type="button"
                        class="button button-quiet"
                        onclick={on_sign_out}
                        disabled={props.signing_out}
                    >
                        { if props.signing_out { "Signing out…" } else { "Sign out" } }
                    </button>
                </div>
            </header>

            <main class="workspace">
                <section class="card phone-panel" aria-labelledby="phone-title">
                    <h2 id="phone-title" class="card-title">{ "Phone" }</h2>
                    <div class={classes!("phone-state", format!("phone-state-{}", props.status.data_state()))}>
                        <p class="phone-headline">{ headline }</p>
                        <p class="muted">{ detail }</p>
                        if retry {
                            <button id="retry-registration" type="button" class="button button-primary" onclick={on_retry}>
                                { "Try again" }
                            </button>
                        }
                    </div>
                </section>

                <section class="card calls-panel" aria-labelledby="calls-title">
                    <h2 id="calls-title" class="card-title">{ "Calls" }</h2>
                    <p class="empty">{ "No calls yet." }</p>
                </section>
            </main>
        </div>
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
