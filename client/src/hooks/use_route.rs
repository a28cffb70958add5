use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use yew::prelude::*;

use crate::route::Route;

/// The page named by the URL's hash, following `hashchange` (links, the
/// back button, a typed URL).
#[hook]
pub fn use_route() -> Route {
    let route = use_state(current);
    {
        let route = route.clone();
        use_effect_with((), move |_| {
            let on_change = Closure::<dyn FnMut()>::new(move || route.set(current()));
            let window = web_sys::window();
            if let Some(window) = &window {
                // Without the listener the page still works from the URL it
                // was opened with; navigation then needs a reload.
                let _ = window.add_event_listener_with_callback(
                    "hashchange",
                    on_change.as_ref().unchecked_ref(),
                );
            }
            move || {
                if let Some(window) = window {
                    let _ = window.remove_event_listener_with_callback(
                        "hashchange",
                        on_change.as_ref().unchecked_ref(),
                    );
                }
                drop(on_change);
            }
        });
    }
    *route
}

fn current() -> Route {
    let hash = web_sys::window()
        .and_then(|w| w.location().hash().ok())
        .unwrap_or_default();
    Route::parse(&hash)
}

/// Shows `route`: sets the URL's hash (the `hashchange` listener of
/// [`use_route`] follows).
pub fn go_to(route: Route) {
    if let Some(window) = web_sys::window() {
        // Without a window there is no page to change.
        let _ = window.location().set_hash(&route.href());
    }
}
