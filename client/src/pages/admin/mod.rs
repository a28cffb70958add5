//! The admin pages, one per resource of the REST API. Each lists its items
//! a page at a time ("More") and edits one in a form whose errors come back
//! from the gateway on the field they name. Supervisors see the lists
//! without the forms (the API lets only admins change things).

mod agents;
mod audit;
mod caller_ids;
mod calls;
mod carriers;
mod dialing_policy;
mod dids;
mod integrations;
mod live;
mod quality;
mod ring_groups;
mod security;
mod security_limits;

pub use agents::AgentsPage;
pub use audit::AuditPage;
pub use caller_ids::CallerIdsPage;
pub use calls::CallsPage;
pub use carriers::CarriersPage;
pub use dialing_policy::DialingPolicyPage;
pub use dids::DidsPage;
pub use integrations::IntegrationsPage;
pub use live::LivePage;
pub use quality::QualityPage;
pub use ring_groups::RingGroupsPage;
pub use security::{AlertBanner, SecurityPage};

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

/// An item an admin page lists and edits in its form.
trait Editable: Clone + PartialEq + DeserializeOwned + 'static {
    /// The body of `POST` / `PUT`.
    type Input: Serialize + 'static;
    /// `/api/v1/…`: the list, and with `/{id}` the item.
    const COLLECTION: &'static str;
    /// The form's values for this item, or for a new one.
    fn values(item: Option<&Self>) -> Values;
    fn id(&self) -> i64;
    /// The body to send, or the field a value does not parse in.
    fn input(form: &Form) -> Result<Self::Input, FormFailure>;
}

/// A list page's form: what it edits, and the callbacks of its buttons.
struct Crud<T> {
    form: UseReducerHandle<Form>,
    /// Bumped after every change, to load the list again.
    generation: u32,
    /// Loads the list again (after a change made elsewhere, e.g. an import).
    reload: Callback<()>,
    /// Loads `item` into the form.
    edit: Callback<T>,
    /// Empties the form for a new item.
    fresh: Callback<()>,
    /// Creates (POST) or saves (PUT); errors land on their fields.
    onsubmit: Callback<SubmitEvent>,
    /// Deletes the item the form edits.
    on_delete: Callback<()>,
}

#[hook]
fn use_crud<T: Editable>() -> Crud<T> {
    let generation = use_state(|| 0u32);
    let form = use_reducer(|| Form::new(T::values(None)));
    let reload = {
        let generation = generation.clone();
        Callback::from(move |()| generation.set(generation.wrapping_add(1)))
    };
    let edit = {
        let form = form.clone();
        Callback::from(move |item: T| {
            form.dispatch(FormAction::Load {
                values: T::values(Some(&item)),
                editing: Some(item.id()),
            });
        })
    };
    let fresh = {
        let form = form.clone();
        Callback::from(move |()| {
            form.dispatch(FormAction::Load {
                values: T::values(None),
                editing: None,
            });
        })
    };
    let onsubmit = {
        let form = form.clone();
        let reload = reload.clone();
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            save::<T>(&form, reload.clone());
        })
    };
    let on_delete = {
        let form = form.clone();
        let reload = reload.clone();
        Callback::from(move |()| remove::<T>(&form, reload.clone()))
    };
    Crud {
        form,
        generation: *generation,
        reload,
        edit,
        fresh,
        onsubmit,
        on_delete,
    }
}

/// Sends the form as a new item (POST) or over the one it edits (PUT). On
/// success the form shows the saved item and `saved` runs (to reload the
/// list); on failure the form shows the error on its field.
fn save<T: Editable>(form: &UseReducerHandle<Form>, saved: Callback<()>) {
    if form.busy {
        return;
    }
    let input = match T::input(form) {
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
            Some(id) => {
                admin::send::<_, T>("PUT", &format!("{}/{id}", T::COLLECTION), &input).await
            }
            None => admin::send::<_, T>("POST", T::COLLECTION, &input).await,
        };
        match result {
            Ok(item) => {
                form.dispatch(FormAction::Saved {
                    values: T::values(Some(&item)),
                    editing: Some(item.id()),
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
fn remove<T: Editable>(form: &UseReducerHandle<Form>, done: Callback<()>) {
    let Some(id) = form.editing else { return };
    form.dispatch(FormAction::Submitted);
    let form = form.clone();
    spawn_local(async move {
        match admin::delete(&format!("{}/{id}", T::COLLECTION)).await {
            Ok(()) => {
                form.dispatch(FormAction::Saved {
                    values: T::values(None),
                    editing: None,
                    message: "Deleted.".to_owned(),
                });
                done.emit(());
            }
            Err(failure) => form.dispatch(FormAction::Failed(failure.into())),
        }
    });
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
