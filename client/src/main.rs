//! The browser app: the agent's phone, in Yew (client-side rendering).
//!
//! - [`state`]: what is shown, as a pure reducer (`Action` → `AppState`);
//!   `state::call` is the call panel's model (states, end reasons, number
//!   reading), tested natively.
//! - [`app`]: the root component; [`pages`]: sign-in, phone; [`components`]:
//!   presentational pieces (dialer, call status, audio settings…); [`hooks`]:
//!   `use_phone` (runs the phone) and `use_ticker`.
//! - [`phone`]: the SIP user agent, a sans-IO core (`phone::ua` over
//!   `shared::sip::register` and `shared::sip::call`) and its browser shell
//!   (`phone::shell`), with thin web-sys layers for media (`phone::media`,
//!   `phone::ringback`, `phone::devices`).
//! - [`api`]: the REST calls.
//!
//! Architecture invariant: only `phone::shell` (WebSocket), `phone::media`
//! (WebRTC) and `api` (fetch) touch the network; components never hold the
//! phone: they render state and send `CallCommand`s up.

mod api;
mod app;
mod components;
mod embed;
mod hooks;
mod pages;
mod phone;
mod state;

fn main() {
    // `/embed`: the compact phone framed by a host page (`embed`).
    let path = web_sys::window().and_then(|w| w.location().pathname().ok());
    if path.as_deref() == Some(embed::PATH) {
        yew::Renderer::<embed::EmbedApp>::new().render();
        return;
    }
    yew::Renderer::<app::App>::new().render();
}
