use yew::prelude::*;

/// The product mark: a handset in a rounded square, and the name.
#[function_component]
pub fn Brand() -> Html {
    html! {
        <div class="brand">
            <svg class="brand-mark" viewBox="0 0 32 32" aria-hidden="true" focusable="false">
                <rect width="32" height="32" rx="8" />
                <path d="M11.6 8.5c.5-.5 1.3-.5 1.8 0l2 2.1c.5.5.5 1.3 0 1.8l-1.2 1.2a10.4 10.4 0 0 0 4.2 4.2l1.2-1.2c.5-.5 1.3-.5 1.8 0l2.1 2c.5.5.5 1.3 0 1.8l-1.3 1.3c-1 1-2.6 1.3-3.9.7a17.5 17.5 0 0 1-8.3-8.3c-.6-1.3-.3-2.9.7-3.9z" />
            </svg>
            <span class="brand-name">{ "Dialer" }</span>
        </div>
    }
}
