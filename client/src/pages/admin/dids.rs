use shared::api::{Agent, Carrier, Did, DidImportReport, DidRoute, RingGroup, Role};
use wasm_bindgen_futures::{JsFuture, spawn_local};
use yew::prelude::*;

use super::{AdminProps, Crud, Editable, use_choices, use_crud};
use crate::api::admin;
use crate::components::admin::{AdminPage, Field, FormButtons, Kind, ListFooter};
use crate::hooks::use_paged;
use crate::state::admin::forms::Values;
use crate::state::admin::forms::{did_input, did_values};
use crate::state::admin::{Form, FormFailure};

const COLLECTION: &str = "/api/v1/dids";

impl Editable for Did {
    type Input = shared::api::DidInput;
    const COLLECTION: &'static str = COLLECTION;
    fn values(item: Option<&Self>) -> Values {
        did_values(item)
    }
    fn id(&self) -> i64 {
        self.id
    }
    fn input(form: &Form) -> Result<Self::Input, FormFailure> {
        did_input(form)
    }
}

/// DIDs: `table#dids`, `form#did-form`, and the CSV import
/// (`textarea#did-csv`, `button#did-import`, `#did-import-report`).
#[function_component]
pub fn DidsPage(props: &AdminProps) -> Html {
    let Crud {
        form,
        generation,
        reload,
        edit,
        fresh,
        onsubmit,
        on_delete,
    } = use_crud::<Did>();
    let dids = use_paged::<Did>(COLLECTION.to_owned(), generation);
    let (carriers, _) = use_choices::<Carrier>("/api/v1/carriers", 0);
    let (groups, _) = use_choices::<RingGroup>("/api/v1/ring-groups", 0);
    let (agents, _) = use_choices::<Agent>("/api/v1/agents", 0);

    let carrier_name = |id: Option<i64>| -> String {
        match id {
            None => "any".to_owned(),
            Some(id) => carriers
                .iter()
                .find(|c| c.id == id)
                .map_or_else(|| format!("#{id}"), |c| c.name.clone()),
        }
    };
    let mut carrier_choices = vec![(AttrValue::from(""), AttrValue::from("Any carrier"))];
    carrier_choices.extend(carriers.iter().map(|c| {
        (
            AttrValue::from(c.id.to_string()),
            AttrValue::from(c.name.clone()),
        )
    }));
    let mut group_choices = vec![(AttrValue::from(""), AttrValue::from("Pick a ring group"))];
    group_choices.extend(groups.iter().map(|g| {
        (
            AttrValue::from(g.id.to_string()),
            AttrValue::from(g.name.clone()),
        )
    }));
    let route = form.value("route").to_owned();
    let ro = !props.can_edit;
    let list = &dids.list;

    html! {
        <AdminPage page="dids" title="DIDs" intro="Our phone numbers (DIDs) and where their calls ring: an agent, a ring group, or a refusal. A DID can also be an agent's caller ID.">
            <div class="admin-grid">
                <div class="admin-column">
                    <section class="card admin-card" aria-label="DIDs">
                        <table id="dids" class="admin-table">
                            <thead><tr>
                                <th>{ "Number" }</th><th>{ "Label" }</th><th>{ "Rings" }</th><th>{ "Carrier" }</th><th>{ "Enabled" }</th><th></th>
                            </tr></thead>
                            <tbody>
                                { for list.items.iter().map(|d| {
                                    let onclick = { let edit = edit.clone(); let d = d.clone(); Callback::from(move |_: MouseEvent| edit.emit(d.clone())) };
                                    html! {
                                        <tr data-id={d.id.to_string()} data-number={d.number.clone()} aria-selected={(form.editing == Some(d.id)).to_string()}>
                                            <td class="mono">{ &d.number }</td>
                                            <td>{ &d.label }</td>
                                            <td>{ route_text(d) }</td>
                                            <td>{ carrier_name(d.carrier_id) }</td>
                                            <td>{ super::yes_no(d.enabled) }</td>
                                            <td><button type="button" class="button button-quiet row-edit" {onclick}>{ if props.can_edit { "Edit" } else { "View" } }</button></td>
                                        </tr>
                                    }
                                }) }
                            </tbody>
                        </table>
                        <ListFooter loading={list.loading} error={list.error.clone()} has_more={list.next_cursor.is_some()}
                            empty={list.items.is_empty()} empty_text="No DIDs yet: add one with the form, or import a CSV file." on_more={dids.more.clone()} />
                    </section>
                    if props.can_edit {
                        <DidImport on_done={reload.clone()} />
                    }
                </div>

                <section class="card admin-card admin-form-card" aria-labelledby="did-form-title">
                    <h2 id="did-form-title" class="card-title">{ if form.editing.is_some() { format!("DID {}", form.value("number")) } else { "New DID".to_owned() } }</h2>
                    <form id="did-form" class="admin-form" {onsubmit} novalidate=true data-editing={form.editing.map(|id| id.to_string())}>
                        <Field form={form.clone()} name="number" label="Number" readonly={ro}
                            help="The phone number in E.164, like +14155550188. A number without a country code is read in the gateway's default country." />
                        <Field form={form.clone()} name="label" label="Label" readonly={ro}
                            help="A name the agent sees when the number rings, e.g. \"Sales line\"." />
                        <Field form={form.clone()} name="carrier_id" label="Carrier" readonly={ro} kind={Kind::Select(carrier_choices)}
                            help="Only calls from this carrier reach the number. \"Any carrier\" takes it from whichever carrier delivers it." />
                        <Field form={form.clone()} name="route" label="Route" readonly={ro}
                            kind={Kind::Select(vec![("agent".into(), "An agent".into()), ("group".into(), "A ring group".into()), ("reject".into(), "Refuse the call".into())])}
                            help="Where calls to this number go." />
                        if route == "agent" {
                            <Field form={form.clone()} name="agent" label="Agent" readonly={ro} list="did-agents"
                                help="The agent's username. Every tab the agent is signed in with rings." />
                            <datalist id="did-agents">
                                { for agents.iter().filter(|a| a.role != Role::Supervisor).map(|a| html! {
                                    <option value={a.username.clone()}>{ &a.display_name }</option>
                                }) }
                            </datalist>
                        } else if route == "group" {
                            <Field form={form.clone()} name="group_id" label="Ring group" readonly={ro} kind={Kind::Select(group_choices)}
                                help="The group whose members ring (make groups on the Ring groups page)." />
                        } else {
                            <Field form={form.clone()} name="reject_code" label="Answer with" readonly={ro}
                                kind={Kind::Select(vec![("480".into(), "480 Temporarily Unavailable".into()), ("486".into(), "486 Busy Here".into()), ("404".into(), "404 Not Found".into()), ("603".into(), "603 Decline".into())])}
                                help="What the caller's carrier is told." />
                        }
                        <Field form={form.clone()} name="enabled" label="Enabled" readonly={ro} kind={Kind::Check}
                            help="A disabled number is not answered and cannot be a caller ID." />
                        if props.can_edit {
                            <FormButtons busy={form.busy} editing={form.editing.is_some()} on_cancel={fresh}
                                on_delete={Some(on_delete)} error={form.general_error().map(str::to_owned)} done={form.done.clone()} />
                        } else {
                            <p class="muted">{ "Only admins change DIDs." }</p>
                        }
                    </form>
                </section>
            </div>
        </AdminPage>
    }
}

fn route_text(d: &Did) -> String {
    match d.route {
        DidRoute::Agent => match &d.agent {
            Some(agent) => format!("agent {agent}"),
            None => "agent (deleted: 480)".to_owned(),
        },
        DidRoute::Group => match &d.group {
            Some(group) => format!("group {group}"),
            None => "group (deleted: 480)".to_owned(),
        },
        DidRoute::Reject => format!("refused {}", d.reject_code.unwrap_or(480)),
    }
}

#[derive(Properties, PartialEq)]
struct DidImportProps {
    on_done: Callback<()>,
}

/// Many DIDs at once from CSV text (typed, pasted or read from a file),
/// with the gateway's per-row report.
#[function_component]
fn DidImport(props: &DidImportProps) -> Html {
    let text = use_state(String::new);
    let busy = use_state(|| false);
    let report = use_state(|| None::<Result<DidImportReport, String>>);

    let oninput = {
        let text = text.clone();
        Callback::from(move |e: InputEvent| {
            if let Some(area) = e.target_dyn_into::<web_sys::HtmlTextAreaElement>() {
                text.set(area.value());
            }
        })
    };
    let onfile = {
        let text = text.clone();
        let report = report.clone();
        Callback::from(move |e: Event| {
            let Some(file) = e
                .target_dyn_into::<web_sys::HtmlInputElement>()
                .and_then(|i| i.files())
                .and_then(|files| files.get(0))
            else {
                return;
            };
            let text = text.clone();
            let report = report.clone();
            spawn_local(async move {
                match JsFuture::from(file.text()).await {
                    Ok(value) => text.set(value.as_string().unwrap_or_default()),
                    Err(_) => report.set(Some(Err("The file could not be read.".to_owned()))),
                }
            });
        })
    };
    let onclick = {
        let text = text.clone();
        let busy = busy.clone();
        let report = report.clone();
        let on_done = props.on_done.clone();
        Callback::from(move |_: MouseEvent| {
            if *busy {
                return;
            }
            if text.trim().is_empty() {
                report.set(Some(Err(
                    "Paste or type the rows first, or choose a file.".to_owned()
                )));
                return;
            }
            busy.set(true);
            let csv = (*text).clone();
            let busy = busy.clone();
            let report = report.clone();
            let on_done = on_done.clone();
            spawn_local(async move {
                let result = admin::import_dids(&csv).await.map_err(|f| f.message);
                if result.as_ref().is_ok_and(|r| r.created + r.updated > 0) {
                    on_done.emit(());
                }
                report.set(Some(result));
                busy.set(false);
            });
        })
    };
    html! {
        <section class="card admin-card" aria-labelledby="did-import-title">
            <h2 id="did-import-title" class="card-title">{ "Import from CSV" }</h2>
            <p class="muted">{ "One DID per row: number,label,route,target,carrier. The route is agent (target: a username), group (target: a ring group's name) or reject (target: a SIP status such as 480); the carrier (a name or id) may be left empty for any. A header row is allowed. Numbers that exist already are updated." }</p>
            <div class="field">
                <label>
                    <span class="field-label">{ "Rows" }</span>
                    <textarea id="did-csv" rows="5" spellcheck="false" value={(*text).clone()} {oninput}
                        placeholder="number,label,route,target,carrier\n+14155550100,Sales line,agent,demo,\n+14155550101,Support,group,Support team,Acme" />
                </label>
            </div>
            <div class="form-buttons">
                <label class="button button-quiet file-button">
                    { "Choose a file…" }
                    <input id="did-csv-file" type="file" accept=".csv,text/csv" class="visually-hidden" onchange={onfile} />
                </label>
                <button id="did-import" type="button" class="button button-primary" disabled={*busy} {onclick}>
                    { if *busy { "Importing…" } else { "Import" } }
                </button>
            </div>
            if let Some(result) = &*report {
                <div id="did-import-report" class="import-report" role="status">
                    { match result {
                        Err(message) => html! { <p class="form-error">{ message.clone() }</p> },
                        Ok(r) => html! {
                            <>
                                <p>
                                    <strong data-count="created">{ r.created }</strong>{ " created, " }
                                    <strong data-count="updated">{ r.updated }</strong>{ " updated, " }
                                    <strong data-count="rejected">{ r.rejected.len() }</strong>{ " rejected." }
                                </p>
                                if !r.rejected.is_empty() {
                                    <table class="admin-table import-rejected">
                                        <thead><tr><th>{ "Line" }</th><th>{ "Number" }</th><th>{ "Column" }</th><th>{ "Problem" }</th></tr></thead>
                                        <tbody>
                                            { for r.rejected.iter().map(|row| html! {
                                                <tr data-line={row.line.to_string()}>
                                                    <td>{ row.line }</td>
                                                    <td class="mono">{ &row.number }</td>
                                                    <td>{ row.field.clone().unwrap_or_default() }</td>
                                                    <td>{ &row.error }</td>
                                                </tr>
                                            }) }
                                        </tbody>
                                    </table>
                                }
                            </>
                        },
                    } }
                </div>
            }
        </section>
    }
}
