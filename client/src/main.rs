//! The browser app: the agent's phone, in Yew (client-side rendering).
//!
//! - [`state`]: what is shown, as a pure reducer (`Action` → `AppState`).
//! - [`app`]: the root component; [`pages`]: sign-in, phone; [`components`]:
//!   presentational pieces; [`hooks`]: `use_phone` (runs the phone) and
//!   `use_ticker`.
//! - [`phone`]: the SIP user agent, a sans-IO core (`phone::ua` over
//!   `shared::sip::register`) and its browser shell (`phone::shell`).
//! - [`api`]: the REST calls.
//!
//! Architecture invariant: only `phone::shell` (WebSocket) and `api` (fetch)
//! touch the network; components never hold the phone.

mod api;
mod app;
mod components;
mod hooks;
mod pages;
mod phone;
mod state;

fn main() {
    yew::Renderer::<app::App>::new().render();
}
