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
mod hooks;
mod pages;
mod phone;
mod route;
mod state;

fn main() {
    yew::Renderer::<app::App>::new().render();
}
