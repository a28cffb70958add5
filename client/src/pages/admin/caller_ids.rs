use shared::api::{Agent, CallerIds, Campaign, Did, Role};
use wasm_bindgen_futures::spawn_local;
use yew::prelude::*;

use super::{Crud, Editable, use_choices, use_crud};
use crate::api::admin;
use crate::components::admin::{AdminPage, Field, FormButtons, Kind, ListFooter};
use crate::hooks::{go_to, use_paged};
use crate::route::Route;
use crate::state::admin::caller_ids::CallerIdEditor;
use crate::state::admin::forms::Values;
use crate::state::admin::forms::{campaign_input, campaign_values};
use crate::state::admin::{Form, FormFailure};

#[derive(Properties, PartialEq)]
pub struct CallerIdsProps {
    pub can_edit: bool,
    /// The agent whose caller IDs are shown (`#/caller-ids/7`).
    pub agent: Option<i64>,
}

/// Caller ID: per agent the numbers they may present and the default
/// (`select#caller-id-agent`, `form#caller-id-form` with
/// `input[name=allowed][value=+1…]` and `input[name=default][value=…]`),
/// and campaigns (`table#campaigns`, `form#campaign-form`).
#[function_component]
pub fn CallerIdsPage(props: &CallerIdsProps) -> Html {
    let (agents, agents_error) = use_choices::<Agent>("/api/v1/agents", 0);
    let phones: Vec<&Agent> = agents
        .iter()
        .filter(|a| a.role != Role::Supervisor)
        .collect();
    let on_pick = Callback::from(|e: Event| {
        let value = e
            .target_dyn_into::<web_sys::HtmlSelectElement>()
            .map(|s| s.value())
            .unwrap_or_default();
        go_to(Route::CallerIds(value.parse().ok()));
    });
    html! {
        <AdminPage page="caller-ids" title="Caller ID" intro="The number the person called sees. Each agent may present some of our DIDs — a business number, a local number, or a campaign's number — and has one default. Without any, the carrier's caller ID is used.">
            <div class="admin-grid">
                <section class="card admin-card" aria-labelledby="caller-id-title">
                    <h2 id="caller-id-title" class="card-title">{ "Caller IDs of an agent" }</h2>
                    <div class="field">
                        <label>
                            <span class="field-label">{ "Agent" }</span>
                            <select id="caller-id-agent" name="agent" onchange={on_pick}>
                                <option value="" selected={props.agent.is_none()}>{ "Pick an agent…" }</option>
                                { for phones.iter().map(|a| html! {
                                    <option value={a.id.to_string()} data-username={a.username.clone()} selected={props.agent == Some(a.id)}>
                                        { format!("{} ({})", a.display_name, a.username) }
                                    </option>
                                }) }
                            </select>
                        </label>
                    </div>
                    if let Some(error) = agents_error {
                        <p class="form-error" role="alert">{ error }</p>
                    }
                    if let Some(id) = props.agent {
                        <AgentCallerIds key={id} agent={id} can_edit={props.can_edit} />
                    } else {
                        <p class="muted">{ "Pick an agent to see and change the numbers they may present." }</p>
                    }
                </section>
                <Campaigns can_edit={props.can_edit} />
            </div>
        </AdminPage>
    }
}

#[derive(Properties, PartialEq)]
struct AgentCallerIdsProps {
    agent: i64,
    can_edit: bool,
}

#[function_component]
fn AgentCallerIds(props: &AgentCallerIdsProps) -> Html {
    let editor = use_state(|| None::<Result<CallerIdEditor, String>>);
    let busy = use_state(|| false);
    let failure = use_state(|| None::<FormFailure>);
    let done = use_state(|| None::<String>);
    let (dids, dids_error) = use_choices::<Did>("/api/v1/dids", 0);
    let path = format!("/api/v1/agents/{}/caller-ids", props.agent);
    {
        let editor = editor.clone();
        let path = path.clone();
        use_effect_with(dids.clone(), move |dids| {
            let dids = dids.clone();
            spawn_local(async move {
                let result = admin::get::<CallerIds>(&path)
                    .await
                    .map(|ids| CallerIdEditor::new(&ids, &dids))
                    .map_err(|f| f.message);
                editor.set(Some(result));
            });
        });
    }
    let change = {
        let editor = editor.clone();
        let done = done.clone();
        move |f: Box<dyn Fn(&mut CallerIdEditor)>| {
            if let Some(Ok(current)) = &*editor {
                let mut next = current.clone();
                f(&mut next);
                editor.set(Some(Ok(next)));
                done.set(None);
            }
        }
    };
    let onsubmit = {
        let editor = editor.clone();
        let busy = busy.clone();
        let failure = failure.clone();
        let done = done.clone();
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let Some(Ok(current)) = &*editor else { return };
            if *busy {
                return;
            }
            busy.set(true);
            failure.set(None);
            done.set(None);
            let body = current.to_input();
            let (editor, busy, failure, done, path) = (
                editor.clone(),
                busy.clone(),
                failure.clone(),
                done.clone(),
                path.clone(),
            );
            spawn_local(async move {
                match admin::send::<_, CallerIds>("PUT", &path, &body).await {
                    Ok(saved) => {
                        let dids: Vec<Did> = Vec::new();
                        let mut next = CallerIdEditor::new(&saved, &dids);
                        // Keep the other DIDs listed as they were.
                        if let Some(Ok(old)) = &*editor {
                            for row in &old.rows {
                                if !next.rows.iter().any(|r| r.number == row.number) {
                                    let mut row = row.clone();
                                    row.allowed = false;
                                    next.rows.push(row);
                                }
                            }
                        }
                        editor.set(Some(Ok(next)));
                        done.set(Some(
                            "Saved. The agent's phone uses it from the next call.".to_owned(),
                        ));
                    }
                    Err(f) => failure.set(Some(f.into())),
                }
                busy.set(false);
            });
        })
    };

    let Some(loaded) = &*editor else {
        return html! { <p class="muted">{ "Loading…" }</p> };
    };
    let current = match loaded {
        Ok(current) => current,
        Err(message) => return html! { <p class="form-error" role="alert">{ message.clone() }</p> },
    };
    let error_for = |field: &str| {
        failure
            .as_ref()
            .filter(|f| f.field.as_deref() == Some(field))
            .map(|f| html! { <p class="field-error" data-field={field.to_owned()} role="alert">{ f.message.clone() }</p> })
    };
    let general = failure
        .as_ref()
        .filter(|f| !matches!(f.field.as_deref(), Some("allowed" | "default")))
        .map(|f| f.message.clone());
    let ro = !props.can_edit || *busy;
    let carrier_default = current.default.is_none();
    let on_carrier_default = {
        let change = change.clone();
        Callback::from(move |_: Event| change(Box::new(|e| e.set_default(None))))
    };

    html! {
        <form id="caller-id-form" class="admin-form" {onsubmit} novalidate=true data-agent={props.agent.to_string()}>
            if let Some(error) = dids_error {
                <p class="form-error" role="alert">{ format!("The DIDs could not be loaded: {error}") }</p>
            }
            <p class="field-help">{ "Tick the numbers this agent may choose on the phone, give each the name the agent sees, and pick the default: the one used when the agent chooses none. Only our enabled DIDs can be presented." }</p>
            <table class="admin-table caller-id-table">
                <thead><tr><th>{ "May use" }</th><th>{ "Number" }</th><th>{ "Name the agent sees" }</th><th>{ "Default" }</th></tr></thead>
                <tbody>
                    { for current.rows.iter().map(|row| {
                        let number = row.number.clone();
                        let on_allowed = {
                            let change = change.clone();
                            let number = number.clone();
                            Callback::from(move |e: Event| {
                                let on = e.target_dyn_into::<web_sys::HtmlInputElement>().is_some_and(|i| i.checked());
                                let number = number.clone();
                                change(Box::new(move |ed| ed.set_allowed(&number, on)));
                            })
                        };
                        let on_label = {
                            let change = change.clone();
                            let number = number.clone();
                            Callback::from(move |e: InputEvent| {
                                let label = e.target_dyn_into::<web_sys::HtmlInputElement>().map(|i| i.value()).unwrap_or_default();
                                let number = number.clone();
                                change(Box::new(move |ed| ed.set_label(&number, label.clone())));
                            })
                        };
                        let on_default = {
                            let change = change.clone();
                            let number = number.clone();
                            Callback::from(move |_: Event| {
                                let number = number.clone();
                                change(Box::new(move |ed| ed.set_default(Some(number.clone()))));
                            })
                        };
                        html! {
                            <tr data-number={number.clone()}>
                                <td>
                                    <input type="checkbox" name="allowed" value={number.clone()} checked={row.allowed} disabled={ro}
                                        onchange={on_allowed} aria-label={format!("{number} may be used")} />
                                    if row.via_campaign {
                                        <span class="tag">{ "campaign" }</span>
                                    }
                                </td>
                                <td class="mono">{ &number }</td>
                                <td><input type="text" name="label" data-number={number.clone()} value={row.label.clone()} disabled={ro} oninput={on_label} /></td>
                                <td>
                                    <input type="radio" name="default" value={number.clone()} checked={current.default.as_deref() == Some(number.as_str())}
                                        disabled={ro} onchange={on_default} aria-label={format!("{number} is the default")} />
                                </td>
                            </tr>
                        }
                    }) }
                    <tr data-number="">
                        <td colspan="3" class="muted">{ "The carrier's caller ID (no default of the agent's own)" }</td>
                        <td><input type="radio" name="default" value="" checked={carrier_default} disabled={ro} onchange={on_carrier_default} aria-label="No default: the carrier's caller ID" /></td>
                    </tr>
                </tbody>
            </table>
            if current.rows.is_empty() {
                <p class="muted">{ "We have no enabled DIDs yet: add some on the DIDs page first." }</p>
            }
            { error_for("allowed").unwrap_or_default() }
            { error_for("default").unwrap_or_default() }
            if let Some(message) = general {
                <p class="form-error" role="alert">{ message }</p>
            }
            if let Some(message) = &*done {
                <p id="caller-id-saved" class="form-done" role="status">{ message.clone() }</p>
            }
            if props.can_edit {
                <div class="form-buttons">
                    <button type="submit" class="button button-primary" disabled={*busy}>{ if *busy { "Saving…" } else { "Save" } }</button>
                </div>
            }
        </form>
    }
}

#[derive(Properties, PartialEq)]
struct CampaignsProps {
    can_edit: bool,
}

const CAMPAIGNS: &str = "/api/v1/campaigns";

impl Editable for Campaign {
    type Input = shared::api::CampaignInput;
    const COLLECTION: &'static str = CAMPAIGNS;
    fn values(item: Option<&Self>) -> Values {
        campaign_values(item)
    }
    fn id(&self) -> i64 {
        self.id
    }
    fn input(form: &Form) -> Result<Self::Input, FormFailure> {
        Ok(campaign_input(form))
    }
}

/// Campaigns: named sets of caller IDs and the agents who may present them.
#[function_component]
fn Campaigns(props: &CampaignsProps) -> Html {
    let Crud {
        form,
        generation,
        edit,
        fresh,
        onsubmit,
        on_delete,
        ..
    } = use_crud::<Campaign>();
    let campaigns = use_paged::<Campaign>(CAMPAIGNS.to_owned(), generation);
    let ro = !props.can_edit;
    let list = &campaigns.list;
    html! {
        <section class="card admin-card admin-form-card" aria-labelledby="campaigns-title">
            <h2 id="campaigns-title" class="card-title">{ "Campaigns" }</h2>
            <p class="muted">{ "A campaign-specific number: every agent of a campaign may present its numbers, besides their own." }</p>
            <table id="campaigns" class="admin-table">
                <thead><tr><th>{ "Name" }</th><th>{ "Numbers" }</th><th>{ "Agents" }</th><th></th></tr></thead>
                <tbody>
                    { for list.items.iter().map(|c| {
                        let onclick = { let edit = edit.clone(); let c = c.clone(); Callback::from(move |_: MouseEvent| edit.emit(c.clone())) };
                        html! {
                            <tr data-id={c.id.to_string()} aria-selected={(form.editing == Some(c.id)).to_string()}>
                                <td>{ &c.name }</td>
                                <td class="mono">{ c.numbers.join(", ") }</td>
                                <td>{ c.agents.join(", ") }</td>
                                <td><button type="button" class="button button-quiet row-edit" {onclick}>{ if props.can_edit { "Edit" } else { "View" } }</button></td>
                            </tr>
                        }
                    }) }
                </tbody>
            </table>
            <ListFooter loading={list.loading} error={list.error.clone()} has_more={list.next_cursor.is_some()}
                empty={list.items.is_empty()} empty_text="No campaigns yet." on_more={campaigns.more.clone()} />
            if props.can_edit {
                <h3 class="subhead">{ if form.editing.is_some() { format!("Campaign {}", form.value("name")) } else { "New campaign".to_owned() } }</h3>
                <form id="campaign-form" class="admin-form" {onsubmit} novalidate=true data-editing={form.editing.map(|id| id.to_string())}>
                    <Field form={form.clone()} name="name" label="Name" readonly={ro} help="What you call the campaign, e.g. \"Spring renewals\"." />
                    <Field form={form.clone()} name="numbers" label="Numbers" readonly={ro} kind={Kind::Lines}
                        help="Our DIDs the campaign's agents may present, one per line, like +14155550100." />
                    <Field form={form.clone()} name="agents" label="Agents" readonly={ro} kind={Kind::Lines}
                        help="Usernames of the agents who dial for the campaign, one per line." />
                    <FormButtons busy={form.busy} editing={form.editing.is_some()} on_cancel={fresh}
                        on_delete={Some(on_delete)} error={form.general_error().map(str::to_owned)} done={form.done.clone()} />
                </form>
            }
        </section>
    }
}
