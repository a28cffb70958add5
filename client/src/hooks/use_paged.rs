use serde::de::DeserializeOwned;
use shared::api::Page;
use wasm_bindgen_futures::spawn_local;
use yew::prelude::*;

use crate::api::admin;
use crate::state::admin::query::page_path;
use crate::state::admin::{Paged, PagedAction};

/// A paginated list and its "More".
pub struct PagedHandle<T: Clone + 'static> {
    pub list: UseReducerHandle<Paged<T>>,
    /// Loads the next page (nothing when there is none).
    pub more: Callback<()>,
}

/// The list at `path` (which may carry filters), a page at a time. Loaded
/// again from the first page whenever `path` or `generation` changes (a
/// page bumps `generation` after a save).
#[hook]
pub fn use_paged<T>(path: String, generation: u32) -> PagedHandle<T>
where
    T: DeserializeOwned + Clone + PartialEq + 'static,
{
    let list = use_reducer(Paged::<T>::default);
    {
        let dispatcher = list.dispatcher();
        use_effect_with((path.clone(), generation), move |(path, generation)| {
            fetch(
                dispatcher,
                format!("{generation}|{path}"),
                path.clone(),
                None,
            );
        });
    }
    let more = {
        let list = list.clone();
        Callback::from(move |()| {
            if let Some(cursor) = list.next_cursor.clone()
                && !list.loading
            {
                fetch(
                    list.dispatcher(),
                    list.key.clone(),
                    path.clone(),
                    Some(cursor),
                );
            }
        })
    };
    PagedHandle { list, more }
}

fn fetch<T>(
    dispatcher: UseReducerDispatcher<Paged<T>>,
    key: String,
    path: String,
    cursor: Option<String>,
) where
    T: DeserializeOwned + Clone + PartialEq + 'static,
{
    dispatcher.dispatch(PagedAction::Start { key: key.clone() });
    spawn_local(async move {
        let append = cursor.is_some();
        let action = match admin::get::<Page<T>>(&page_path(&path, cursor.as_deref())).await {
            Ok(page) => PagedAction::Loaded { key, page, append },
            Err(failure) => PagedAction::Failed {
                key,
                message: failure.message,
            },
        };
        dispatcher.dispatch(action);
    });
}
