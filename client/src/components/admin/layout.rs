use shared::api::Role;
use yew::prelude::*;

use crate::route::{Route, has_admin_nav};

#[derive(Properties, PartialEq)]
pub struct AdminNavProps {
    pub role: Role,
    pub current: Route,
}

/// The top navigation of admins and supervisors: `nav.admin-nav a[data-page]`,
/// the current page marked `aria-current="page"`. The pages set up once
/// are in a "Settings" menu (`details.nav-group`), marked current when
/// one of them is; following a link closes it. Agents get none.
#[function_component]
pub fn AdminNav(props: &AdminNavProps) -> Html {
    let open = use_state(|| false);
    if !has_admin_nav(props.role) {
        return html! {};
    }
    let link = |route: &Route| {
        let current = route.same_page(props.current);
        let onclick = {
            let open = open.clone();
            Callback::from(move |_: MouseEvent| open.set(false))
        };
        html! {
            <a
                href={route.href()}
                data-page={route.slug()}
                aria-current={current.then_some("page")}
                {onclick}
            >{ route.title() }</a>
        }
    };
    let settings: Vec<&Route> = Route::SETTINGS
        .iter()
        .filter(|r| r.allowed(props.role))
        .collect();
    let in_settings = settings.iter().any(|r| r.same_page(props.current));
    let ontoggle = {
        let open = open.clone();
        Callback::from(move |e: Event| {
            let now_open = e
                .target_dyn_into::<web_sys::HtmlDetailsElement>()
                .is_some_and(|d| d.open());
            open.set(now_open);
        })
    };
    html! {
        <nav class="admin-nav" aria-label="Pages">
            { for Route::TOP.iter().filter(|r| r.allowed(props.role)).map(link) }
            if !settings.is_empty() {
                <details class="nav-group" open={*open} {ontoggle}>
                    <summary data-current={in_settings.then_some("true")}>{ "Settings" }</summary>
                    <div class="nav-menu">
                        { for settings.into_iter().map(link) }
                    </div>
                </details>
            }
        </nav>
    }
}

#[derive(Properties, PartialEq)]
pub struct AdminPageProps {
    /// `data-page` of the page's `main`.
    pub page: AttrValue,
    pub title: AttrValue,
    /// What the page is for, in a sentence or two.
    pub intro: AttrValue,
    #[prop_or_default]
    pub children: Html,
}

/// The frame of an admin page: `main.admin-page[data-page]`, a title and
/// an introduction.
#[function_component]
pub fn AdminPage(props: &AdminPageProps) -> Html {
    html! {
        <main class="admin-page" data-page={props.page.clone()}>
            <header class="admin-header">
                <h1>{ props.title.clone() }</h1>
                <p class="muted">{ props.intro.clone() }</p>
            </header>
            { props.children.clone() }
        </main>
    }
}

/// Shown instead of a page the account's role may not open.
#[function_component]
pub fn NotAllowed() -> Html {
    html! {
        <main class="admin-page" data-page="not-allowed">
            <section id="not-allowed" class="card admin-card">
                <h1>{ "Not allowed" }</h1>
                <p class="muted">{ "Your account may not open this page. Ask an admin if you need it." }</p>
                <a class="button button-primary" href="#/phone">{ "Back to the phone" }</a>
            </section>
        </main>
    }
}
