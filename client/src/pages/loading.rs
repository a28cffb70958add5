use yew::prelude::*;

use crate::components::Brand;

/// Shown while the page asks whether this browser is signed in.
#[function_component]
pub fn LoadingPage() -> Html {
    html! {
        <main class="centered" aria-busy="true">
            <Brand />
            <p class="muted">{ "Loading…" }</p>
        </main>
    }
}
