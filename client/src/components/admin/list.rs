use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct ListFooterProps {
    pub loading: bool,
    pub error: Option<String>,
    pub has_more: bool,
    /// Nothing listed and nothing loading.
    pub empty: bool,
    /// What an empty list means, in words.
    pub empty_text: AttrValue,
    pub on_more: Callback<()>,
}

/// Under a list: why it is empty, the error of the last load, "Loading…",
/// or the "More" button (`button.list-more`) when another page exists.
#[function_component]
pub fn ListFooter(props: &ListFooterProps) -> Html {
    let on_more = props.on_more.reform(|_: MouseEvent| ());
    html! {
        <div class="list-footer">
            if let Some(error) = &props.error {
                <p class="form-error list-error" role="alert">{ error.clone() }</p>
            }
            if props.loading {
                <p class="muted" aria-live="polite">{ "Loading…" }</p>
            } else if props.empty && props.error.is_none() {
                <p class="muted empty-list">{ props.empty_text.clone() }</p>
            }
            if props.has_more && !props.loading {
                <button type="button" class="button button-quiet list-more" onclick={on_more}>{ "More" }</button>
            }
        </div>
    }
}

#[derive(Properties, PartialEq)]
pub struct FormButtonsProps {
    pub busy: bool,
    /// Editing an existing item: "Save" and "Cancel" (and "Delete" when
    /// `on_delete` is given) instead of "Create".
    pub editing: bool,
    pub on_cancel: Callback<()>,
    #[prop_or_default]
    pub on_delete: Option<Callback<()>>,
    /// A failure no field shows.
    pub error: Option<String>,
    /// What the last save did.
    pub done: Option<String>,
}

/// The end of an admin form: the general error, the result of the last
/// save (`.form-done`), and the buttons (`button[type=submit]`).
#[function_component]
pub fn FormButtons(props: &FormButtonsProps) -> Html {
    let on_cancel = props.on_cancel.reform(|_: MouseEvent| ());
    let on_delete = props.on_delete.clone().map(|d| {
        Callback::from(move |_: MouseEvent| {
            let sure = web_sys::window()
                .and_then(|w| {
                    w.confirm_with_message("Delete it? This cannot be undone.")
                        .ok()
                })
                .unwrap_or(false);
            if sure {
                d.emit(());
            }
        })
    });
    html! {
        <>
            if let Some(error) = &props.error {
                <p class="form-error" role="alert">{ error.clone() }</p>
            }
            if let Some(done) = &props.done {
                <p class="form-done" role="status">{ done.clone() }</p>
            }
            <div class="form-buttons">
                <button type="submit" class="button button-primary" disabled={props.busy}>
                    { match (props.busy, props.editing) {
                        (true, _) => "Saving…",
                        (false, true) => "Save",
                        (false, false) => "Create",
                    } }
                </button>
                if props.editing {
                    <button type="button" class="button button-quiet form-cancel" onclick={on_cancel}>{ "Cancel" }</button>
                    if let Some(on_delete) = on_delete {
                        <button type="button" class="button button-danger-quiet form-delete" onclick={on_delete} disabled={props.busy}>{ "Delete" }</button>
                    }
                }
            </div>
        </>
    }
}
