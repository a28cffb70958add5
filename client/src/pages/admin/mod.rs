//! The admin pages, one per resource of the REST API. Each lists its items
//! a page at a time ("More") and edits one in a form whose errors come back
//! from the gateway on the field they name. Supervisors see the lists
//! without the forms (the API lets only admins change things).

mod agents;
mod audit;
mod caller_ids;
mod calls;
mod carriers;
mod dids;
mod live;
mod ring_groups;

pub use agents::AgentsPage;
pub use audit::AuditPage;
pub use caller_ids::CallerIdsPage;
pub use calls::CallsPage;
pub use carriers::CarriersPage;
pub use dids::DidsPage;
pub use live::LivePage;
pub use ring_groups::RingGroupsPage;

use serde::Serialize;
use serde::de::DeserializeOwned;
use wasm_bindgen_futures::spawn_local;
use yew::prelude::*;

use crate::api::admin;
use crate::state::admin::forms::Values;
use crate::state::admin::{Form, FormAction, FormFailure};

#[derive(Properties, PartialEq)]
pub struct AdminProps {
    /// Admins change things; supervisors only look.
    pub can_edit: bool,
}

/// Sends `input` as a new item of `collection` (POST) or over the one the
/// form edits (PUT). On success the form shows the saved item (`values`)
/// and `saved` runs (to reload the list); on failure the form shows the
/// error on its field.
fn save<I, T>(
    form: &UseReducerHandle<Form>,
    collection: &'static str,
    input: Result<I, FormFailure>,
    values: fn(&T) -> (Values, i64),
    saved: Callback<()>,
) where
    I: Serialize + 'static,
    T: DeserializeOwned + 'static,
{
    if form.busy {
        return;
    }
    let input = match input {
        Ok(input) => input,
        Err(failure) => {
            form.dispatch(FormAction::Failed(failure));
            return;
        }
    };
    form.dispatch(FormAction::Submitted);
    let editing = form.editing;
    let form = form.clone();
    spawn_local(async move {
        let result = match editing {
            Some(id) => admin::send::<_, T>("PUT", &format!("{collection}/{id}"), &input).await,
            None => admin::send::<_, T>("POST", collection, &input).await,
        };
        match result {
            Ok(item) => {
                let (values, id) = values(&item);
                form.dispatch(FormAction::Saved {
                    values,
                    editing: Some(id),
                    message: if editing.is_some() {
                        "Saved.".to_owned()
                    } else {
                        "Created.".to_owned()
                    },
                });
                saved.emit(());
            }
            Err(failure) => form.dispatch(FormAction::Failed(failure.into())),
        }
    });
}

/// Deletes the item the form edits; the form goes back to a new item.
fn remove(
    form: &UseReducerHandle<Form>,
    collection: &'static str,
    fresh: Values,
    done: Callback<()>,
) {
    let Some(id) = form.editing else { return };
    form.dispatch(FormAction::Submitted);
    let form = form.clone();
    spawn_local(async move {
        match admin::delete(&format!("{collection}/{id}")).await {
            Ok(()) => {
                form.dispatch(FormAction::Saved {
                    values: fresh,
                    editing: None,
                    message: "Deleted.".to_owned(),
                });
                done.emit(());
            }
            Err(failure) => form.dispatch(FormAction::Failed(failure.into())),
        }
    });
}

/// A counter a page bumps to reload its list after a change.
#[hook]
fn use_generation() -> (u32, Callback<()>) {
    let generation = use_state(|| 0u32);
    let bump = {
        let generation = generation.clone();
        Callback::from(move |()| generation.set(generation.wrapping_add(1)))
    };
    (*generation, bump)
}

/// A Unix time in milliseconds as local date and time.
fn time_ms(ms: i64) -> String {
    // f64 holds every millisecond timestamp of the next 280 000 years.
    #[allow(clippy::cast_precision_loss)]
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms as f64));
    let text: String = date
        .to_locale_string("en-GB", &wasm_bindgen::JsValue::UNDEFINED)
        .into();
    text
}

fn yes_no(value: bool) -> &'static str {
    if value { "Yes" } else { "No" }
}

/// Up to 500 items of the list at `path` (one page at the API's largest
/// size), for choices in a form: carriers, ring groups, agents, DIDs.
/// A failure leaves the list empty and says why.
#[hook]
fn use_choices<T>(path: &'static str, generation: u32) -> (std::rc::Rc<Vec<T>>, Option<String>)
where
    T: DeserializeOwned + 'static,
{
    let items = use_state(|| std::rc::Rc::new(Vec::<T>::new()));
    let error = use_state(|| None::<String>);
    {
        let items = items.clone();
        let error = error.clone();
        use_effect_with(generation, move |_| {
            spawn_local(async move {
                match admin::get::<shared::api::Page<T>>(&format!("{path}?limit=500")).await {
                    Ok(page) => {
                        items.set(std::rc::Rc::new(page.items));
                        error.set(None);
                    }
                    Err(failure) => error.set(Some(failure.message)),
                }
            });
        });
    }
    ((*items).clone(), (*error).clone())
}
