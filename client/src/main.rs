//! The browser app: the agent's phone and the admin pages, in Yew (client-side rendering).
//!
//! - [`state`]: what is shown, as a pure reducer (`Action` → `AppState`);
//!   `state::call` is the call panel's model (states, end reasons, number
//!   reading), tested natively.
//! - [`app`]: the root component; [`route`]: which page the URL's hash
//!   names (`#/carriers`) and who may open it; [`pages`]: sign-in, phone,
//!   and the admin pages (`pages::admin`); [`components`]: presentational
//!   pieces (dialer, call status, audio settings, the admin form field…);
//!   [`hooks`]: `use_phone` (runs the phone), `use_route`, `use_paged` (a
//!   list a page at a time), `use_live` and `use_ticker`.
//! - [`phone`]: the SIP user agent, a sans-IO core (`phone::ua` over
//!   `shared::sip::register` and `shared::sip::call`) and its browser shell
//!   (`phone::shell`), with thin web-sys layers for media (`phone::media`,
//!   `phone::ringback`, `phone::devices`).
//! - [`api`]: the REST calls; `api::admin` the admin pages' (and the live
//!   calls' Server-Sent Events).
//!
//! Architecture invariant: only `phone::shell` (WebSocket), `phone::media`
//! (WebRTC) and `api` (fetch, EventSource) touch the network; components
//! never hold the phone: they render state and send `CallCommand`s up.
//! The admin pages' logic (forms, lists, caller IDs, query strings) is pure
//! in `state::admin` and tested natively.

mod api;
mod app;
mod components;
mod embed;
mod hooks;
mod pages;
mod phone;
mod route;
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
