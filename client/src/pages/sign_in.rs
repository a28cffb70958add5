use shared::api::SignInRequest;
use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::components::Brand;

#[derive(Properties, PartialEq)]
pub struct SignInPageProps {
    /// A sign-in is in flight: the button is disabled (so Enter does not
    /// submit twice).
    pub busy: bool,
    pub error: Option<AttrValue>,
    pub on_submit: Callback<SignInRequest>,
}

/// The sign-in form: `input#username`, `input#password`, `button#sign-in`,
/// and `#sign-in-error` only while there is an error to show. Empty fields
/// are reported there too (no `required`: the browser's own bubble would
/// bypass that element).
#[function_component]
pub fn SignInPage(props: &SignInPageProps) -> Html {
    let username = use_node_ref();
    let password = use_node_ref();

    let onsubmit = {
        let username = username.clone();
        let password = password.clone();
        let on_submit = props.on_submit.clone();
        let busy = props.busy;
        Callback::from(move |event: SubmitEvent| {
            event.prevent_default();
            if busy {
                return;
            }
            let value = |node: &NodeRef| {
                node.cast::<HtmlInputElement>()
                    .map(|input| input.value())
                    .unwrap_or_default()
            };
            on_submit.emit(SignInRequest {
                username: value(&username).trim().to_owned(),
                password: value(&password),
            });
        })
    };

    let error_id = props.error.as_ref().map(|_| "sign-in-error");
    html! {
        <main class="centered">
            <form class="card sign-in" {onsubmit} aria-labelledby="sign-in-title" aria-busy={props.busy.to_string()}>
                <Brand />
                <h1 id="sign-in-title">{ "Sign in" }</h1>
                <p class="muted">{ "Use your agent account to start taking calls." }</p>

                <div class="field">
                    <label for="username">{ "Username" }</label>
                    <input
                        id="username"
                        name="username"
                        type="text"
                        ref={username}
                        autocomplete="username"
                        autocapitalize="none"
                        spellcheck="false"
                        autofocus=true
                        aria-required="true"
                        aria-describedby={error_id}
                    />
                </div>
                <div class="field">
                    <label for="password">{ "Password" }</label>
                    <input
                        id="password"
                        name="password"
                        type="password"
                        ref={password}
                        autocomplete="current-password"
                        aria-required="true"
                        aria-describedby={error_id}
                    />
                </div>

                if let Some(error) = &props.error {
                    <p id="sign-in-error" class="form-error" role="alert">{ error.clone() }</p>
                }

                <button id="sign-in" type="submit" class="button button-primary" disabled={props.busy}>
                    { if props.busy { "Signing in…" } else { "Sign in" } }
                </button>
            </form>
        </main>
    }
}
