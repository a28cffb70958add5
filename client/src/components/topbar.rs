use std::rc::Rc;

use shared::api::SessionInfo;
use yew::prelude::*;

use super::admin::AdminNav;
use super::{AgentBadge, Brand, RegistrationStatus};
use crate::phone::PhoneStatus;
use crate::route::Route;

#[derive(Properties, PartialEq)]
pub struct TopBarProps {
    pub session: Rc<SessionInfo>,
    pub status: PhoneStatus,
    pub signing_out: bool,
    pub route: Route,
    pub on_sign_out: Callback<()>,
}

/// The bar above every signed-in page: the brand, the pages (admins and
/// supervisors only), the phone's registration, who is signed in and
/// `button#sign-out`.
#[function_component]
pub fn TopBar(props: &TopBarProps) -> Html {
    let account = &props.session.account;
    let on_sign_out = props.on_sign_out.reform(|_: MouseEvent| ());
    html! {
        <header class="topbar">
            <div class="topbar-start">
                <Brand />
                <AdminNav role={account.role} current={props.route} />
            </div>
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
    }
}
