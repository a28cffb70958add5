use std::collections::BTreeMap;

use shared::api::{Agent, PasswordReset, Role};
use wasm_bindgen_futures::spawn_local;
use yew::prelude::*;

use super::{AdminProps, Editable, use_crud};
use crate::api::admin;
use crate::components::admin::{AdminPage, Field, FormButtons, Kind, ListFooter};
use crate::hooks::use_paged;
use crate::route::Route;
use crate::state::admin::forms::{Values, agent_update, agent_values, new_agent};
use crate::state::admin::{Form, FormAction, FormFailure};

const COLLECTION: &str = "/api/v1/agents";

fn role_text(role: Role) -> &'static str {
    match role {
        Role::Admin => "admin",
        Role::Supervisor => "supervisor",
        Role::Agent => "agent",
    }
}

/// The Enabled column. A sign-in lock holds one address only (the gateway
/// counts failures per address), so the account itself still works.
fn enabled_text(a: &Agent) -> String {
    let enabled = super::yes_no(a.enabled);
    if a.locked_until.is_some() {
        format!("{enabled} (an address is locked out)")
    } else {
        enabled.to_owned()
    }
}

fn password_values() -> BTreeMap<String, String> {
    [("password".to_owned(), String::new())]
        .into_iter()
        .collect()
}

/// A new account or the settings of one; the password is set apart.
#[derive(serde::Serialize)]
#[serde(untagged)]
pub(super) enum AgentBody {
    New(shared::api::NewAgent),
    Update(shared::api::AgentUpdate),
}

impl Editable for Agent {
    type Input = AgentBody;
    const COLLECTION: &'static str = COLLECTION;
    fn values(item: Option<&Self>) -> Values {
        agent_values(item)
    }
    fn id(&self) -> i64 {
        self.id
    }
    fn input(form: &Form) -> Result<AgentBody, FormFailure> {
        if form.editing.is_some() {
            agent_update(form).map(AgentBody::Update)
        } else {
            new_agent(form).map(AgentBody::New)
        }
    }
}

/// Agents (every account): `table#agents`, `form#agent-form`, and
/// `form#agent-password-form` for a new password.
#[function_component]
pub fn AgentsPage(props: &AdminProps) -> Html {
    let crud = use_crud::<Agent>();
    let agents = use_paged::<Agent>(COLLECTION.to_owned(), crud.generation);
    let form = crud.form.clone();
    let password = use_reducer(|| Form::new(password_values()));

    let edit = {
        let edit = crud.edit.clone();
        let password = password.clone();
        Callback::from(move |a: Agent| {
            password.dispatch(FormAction::Load {
                values: password_values(),
                editing: Some(a.id),
            });
            edit.emit(a);
        })
    };
    let fresh = crud.fresh.clone();
    let onsubmit = crud.onsubmit.clone();
    let on_password = {
        let password = password.clone();
        let form = form.clone();
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let Some(id) = form.editing else { return };
            if password.busy {
                return;
            }
            let body = PasswordReset {
                password: password.value("password").to_owned(),
            };
            if body.password.is_empty() {
                password.dispatch(FormAction::Failed(FormFailure::field(
                    "password",
                    "Type the new password.",
                )));
                return;
            }
            password.dispatch(FormAction::Submitted);
            let password = password.clone();
            spawn_local(async move {
                match admin::send_only("POST", &format!("{COLLECTION}/{id}/password"), &body).await
                {
                    Ok(()) => password.dispatch(FormAction::Saved {
                        values: password_values(),
                        editing: Some(id),
                        message: "Password changed. The account was signed out everywhere."
                            .to_owned(),
                    }),
                    Err(failure) => password.dispatch(FormAction::Failed(failure.into())),
                }
            });
        })
    };
    let ro = !props.can_edit;
    let list = &agents.list;
    let editing = form.editing;
    let editing_agent = editing.and_then(|id| list.items.iter().find(|a| a.id == id));

    html! {
        <AdminPage page="agents" title="Agents" intro="Everyone who signs in: agents take and place calls, supervisors watch, admins change settings.">
            <div class="admin-grid">
                <section class="card admin-card" aria-label="Agents">
                    <table id="agents" class="admin-table">
                        <thead><tr><th>{ "Username" }</th><th>{ "Name" }</th><th>{ "Role" }</th><th>{ "Max calls" }</th><th>{ "Enabled" }</th><th></th></tr></thead>
                        <tbody>
                            { for list.items.iter().map(|a| {
                                let onclick = { let edit = edit.clone(); let a = a.clone(); Callback::from(move |_: MouseEvent| edit.emit(a.clone())) };
                                html! {
                                    <tr data-id={a.id.to_string()} data-username={a.username.clone()} aria-selected={(editing == Some(a.id)).to_string()}>
                                        <td class="mono">{ &a.username }</td>
                                        <td>{ &a.display_name }</td>
                                        <td>{ role_text(a.role) }</td>
                                        <td>{ a.max_calls }</td>
                                        <td>{ enabled_text(a) }</td>
                                        <td class="row-actions">
                                            <button type="button" class="button button-quiet row-edit" {onclick}>{ if props.can_edit { "Edit" } else { "View" } }</button>
                                            if a.role != Role::Supervisor {
                                                <a class="button button-quiet" href={Route::CallerIds(Some(a.id)).href()}>{ "Caller IDs" }</a>
                                            }
                                        </td>
                                    </tr>
                                }
                            }) }
                        </tbody>
                    </table>
                    <ListFooter loading={list.loading} error={list.error.clone()} has_more={list.next_cursor.is_some()}
                        empty={list.items.is_empty()} empty_text="No accounts." on_more={agents.more.clone()} />
                </section>
                <div class="admin-column">
                    <section class="card admin-card admin-form-card" aria-labelledby="agent-form-title">
                        <h2 id="agent-form-title" class="card-title">{ match editing_agent {
                            Some(a) => format!("Account {}", a.username),
                            None if editing.is_some() => "Account".to_owned(),
                            None => "New account".to_owned(),
                        } }</h2>
                        <form id="agent-form" class="admin-form" {onsubmit} novalidate=true data-editing={editing.map(|id| id.to_string())}>
                            if editing.is_none() {
                                <Field form={form.clone()} name="username" label="Username" readonly={ro}
                                    help="What they sign in with: 1 to 32 of a-z, 0-9, '.', '_' and '-'. It cannot be changed later." />
                            }
                            <Field form={form.clone()} name="display_name" label="Display name" readonly={ro}
                                help="The name shown to people they call inside the company and in call records." />
                            <Field form={form.clone()} name="role" label="Role" readonly={ro}
                                kind={Kind::Select(vec![("agent".into(), "Agent".into()), ("supervisor".into(), "Supervisor".into()), ("admin".into(), "Admin".into())])}
                                help="Agents use the phone; supervisors see calls and settings but change nothing; admins change everything (and can take calls)." />
                            if editing.is_none() {
                                <Field form={form.clone()} name="password" label="Password" readonly={ro} kind={Kind::Secret { placeholder: "".into() }}
                                    help="12 to 128 characters, and not a common or easily guessed password (the gateway says why it refuses one). Give it to the person; it is never shown again." />
                            }
                            <Field form={form.clone()} name="max_calls" label="Max calls at once" readonly={ro} kind={Kind::Number}
                                help="How many calls the agent may have at the same time (on hold included). Usually 1." />
                            <Field form={form.clone()} name="local_presence" label="Local presence" readonly={ro} kind={Kind::Check}
                                help="When the agent picks no caller ID, present our DID nearest the person called (same country and area code)." />
                            <Field form={form.clone()} name="enabled" label="Enabled" readonly={ro} kind={Kind::Check}
                                help="Disabling an account signs it out everywhere at once; it cannot sign in until enabled again." />
                            if props.can_edit {
                                <FormButtons busy={form.busy} editing={editing.is_some()} on_cancel={fresh}
                                    error={form.general_error().map(str::to_owned)} done={form.done.clone()} />
                            }
                        </form>
                    </section>
                    if props.can_edit && editing.is_some() {
                        <section class="card admin-card" aria-labelledby="agent-password-title">
                            <h2 id="agent-password-title" class="card-title">{ "Reset password" }</h2>
                            <form id="agent-password-form" class="admin-form" onsubmit={on_password} novalidate=true>
                                <Field form={password.clone()} name="password" label="New password" kind={Kind::Secret { placeholder: "".into() }}
                                    help="12 to 128 characters, and not a common or easily guessed password. The account is signed out everywhere and signs in again with this one." />
                                if let Some(error) = password.general_error() {
                                    <p class="form-error" role="alert">{ error.to_owned() }</p>
                                }
                                if let Some(done) = &password.done {
                                    <p class="form-done" role="status">{ done.clone() }</p>
                                }
                                <div class="form-buttons">
                                    <button type="submit" class="button button-primary" disabled={password.busy}>{ "Set password" }</button>
                                </div>
                            </form>
                        </section>
                    }
                </div>
            </div>
        </AdminPage>
    }
}
