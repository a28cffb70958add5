use yew::prelude::*;

use crate::state::admin::{Form, FormAction};

/// The control of a [`Field`].
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    Text,
    Number,
    /// Written, never shown: `type=password`, empty unless typed into.
    /// `placeholder` says what an empty one means ("unchanged").
    Secret {
        placeholder: AttrValue,
    },
    Check,
    /// `(value, text)` pairs.
    Select(Vec<(AttrValue, AttrValue)>),
    /// A text area, one item per line.
    Lines,
}

#[derive(Properties, PartialEq)]
pub struct FieldProps {
    pub form: UseReducerHandle<Form>,
    /// The JSON field name: the control's `name`, and `data-field` of its
    /// error.
    pub name: AttrValue,
    pub label: AttrValue,
    /// A sentence or two in plain words, under the control.
    pub help: AttrValue,
    #[prop_or(Kind::Text)]
    pub kind: Kind,
    #[prop_or_default]
    pub placeholder: Option<AttrValue>,
    /// A `datalist` id for suggestions.
    #[prop_or_default]
    pub list: Option<AttrValue>,
    #[prop_or_default]
    pub readonly: bool,
}

/// One form field: label, control, help text and — when the last save
/// failed on it — the gateway's message in `.field-error[data-field=…]`.
#[function_component]
pub fn Field(props: &FieldProps) -> Html {
    let form = &props.form;
    let name = props.name.to_string();
    let value = form.value(&name).to_owned();
    let error = form.error(&name).map(str::to_owned);
    let set = {
        let form = form.clone();
        let name = name.clone();
        Callback::from(move |value: String| form.dispatch(FormAction::Set(name.clone(), value)))
    };
    let invalid = error.is_some().then_some("true");
    let disabled = props.readonly || form.busy;
    let control = match &props.kind {
        Kind::Text | Kind::Number | Kind::Secret { .. } => {
            let (kind, placeholder, autocomplete) = match &props.kind {
                Kind::Number => ("text", props.placeholder.clone(), "off"),
                Kind::Secret { placeholder } => {
                    ("password", Some(placeholder.clone()), "new-password")
                }
                _ => ("text", props.placeholder.clone(), "off"),
            };
            let inputmode = matches!(props.kind, Kind::Number).then_some("numeric");
            let oninput = set.reform(|e: InputEvent| input_value(&e));
            html! {
                <input
                    type={kind}
                    name={props.name.clone()}
                    {value}
                    {placeholder}
                    {inputmode}
                    list={props.list.clone()}
                    {autocomplete}
                    spellcheck="false"
                    aria-invalid={invalid}
                    {disabled}
                    {oninput}
                />
            }
        }
        Kind::Check => {
            let onchange = set.reform(|e: Event| {
                let checked = e
                    .target_dyn_into::<web_sys::HtmlInputElement>()
                    .is_some_and(|i| i.checked());
                checked.to_string()
            });
            html! {
                <input type="checkbox" name={props.name.clone()} checked={value == "true"} {disabled} {onchange} aria-invalid={invalid} />
            }
        }
        Kind::Select(options) => {
            let onchange = set.reform(|e: Event| {
                e.target_dyn_into::<web_sys::HtmlSelectElement>()
                    .map(|s| s.value())
                    .unwrap_or_default()
            });
            html! {
                <select name={props.name.clone()} {disabled} {onchange} aria-invalid={invalid}>
                    { for options.iter().map(|(v, text)| html! {
                        <option value={v.clone()} selected={*v == value}>{ text.clone() }</option>
                    }) }
                </select>
            }
        }
        Kind::Lines => {
            let oninput = set.reform(|e: InputEvent| {
                e.target_dyn_into::<web_sys::HtmlTextAreaElement>()
                    .map(|t| t.value())
                    .unwrap_or_default()
            });
            html! {
                <textarea name={props.name.clone()} rows="3" {value} placeholder={props.placeholder.clone()} spellcheck="false" {disabled} {oninput} aria-invalid={invalid} />
            }
        }
    };
    let check = matches!(props.kind, Kind::Check);
    html! {
        <div class={classes!("field", check.then_some("field-check"), error.is_some().then_some("has-error"))} data-field={props.name.clone()}>
            <label>
                if check {
                    { control }
                    <span class="field-label">{ props.label.clone() }</span>
                } else {
                    <span class="field-label">{ props.label.clone() }</span>
                    { control }
                }
            </label>
            <p class="field-help">{ props.help.clone() }</p>
            if let Some(error) = error {
                <p class="field-error" data-field={props.name.clone()} role="alert">{ error }</p>
            }
        </div>
    }
}

fn input_value(e: &InputEvent) -> String {
    e.target_dyn_into::<web_sys::HtmlInputElement>()
        .map(|i| i.value())
        .unwrap_or_default()
}
