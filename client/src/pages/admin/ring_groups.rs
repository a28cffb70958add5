use shared::api::{Agent, RingGroup, RingStrategy, Role};
use yew::prelude::*;

use super::{AdminProps, Crud, Editable, use_choices, use_crud};
use crate::components::admin::{AdminPage, Field, FormButtons, Kind, ListFooter};
use crate::hooks::use_paged;
use crate::state::admin::forms::Values;
use crate::state::admin::forms::{ring_group_input, ring_group_values};
use crate::state::admin::{Form, FormFailure};

const COLLECTION: &str = "/api/v1/ring-groups";

impl Editable for RingGroup {
    type Input = shared::api::RingGroupInput;
    const COLLECTION: &'static str = COLLECTION;
    fn values(item: Option<&Self>) -> Values {
        ring_group_values(item)
    }
    fn id(&self) -> i64 {
        self.id
    }
    fn input(form: &Form) -> Result<Self::Input, FormFailure> {
        ring_group_input(form)
    }
}

/// Ring groups: `table#ring-groups`, `form#ring-group-form`.
#[function_component]
pub fn RingGroupsPage(props: &AdminProps) -> Html {
    let Crud {
        form,
        generation,
        edit,
        fresh,
        onsubmit,
        on_delete,
        ..
    } = use_crud::<RingGroup>();
    let groups = use_paged::<RingGroup>(COLLECTION.to_owned(), generation);
    let (agents, _) = use_choices::<Agent>("/api/v1/agents", 0);
    let ro = !props.can_edit;
    let list = &groups.list;
    let phones: Vec<String> = agents
        .iter()
        .filter(|a| a.role != Role::Supervisor && a.enabled)
        .map(|a| a.username.clone())
        .collect();

    html! {
        <AdminPage page="ring-groups" title="Ring groups" intro="Agents a DID rings together, or one after the other. Point a DID at a group on the DIDs page.">
            <div class="admin-grid">
                <section class="card admin-card" aria-label="Ring groups">
                    <table id="ring-groups" class="admin-table">
                        <thead><tr><th>{ "Name" }</th><th>{ "Rings" }</th><th>{ "Members" }</th><th>{ "Nobody answers" }</th><th></th></tr></thead>
                        <tbody>
                            { for list.items.iter().map(|g| {
                                let onclick = { let edit = edit.clone(); let g = g.clone(); Callback::from(move |_: MouseEvent| edit.emit(g.clone())) };
                                html! {
                                    <tr data-id={g.id.to_string()} aria-selected={(form.editing == Some(g.id)).to_string()}>
                                        <td>{ &g.name }</td>
                                        <td>{ match g.strategy {
                                            RingStrategy::All => format!("all at once, {} s", g.member_timeout_s),
                                            RingStrategy::InOrder => format!("in order, {} s each", g.member_timeout_s),
                                        } }</td>
                                        <td>{ if g.members.is_empty() { "none".to_owned() } else { g.members.join(", ") } }</td>
                                        <td>{ g.fallback_code.unwrap_or(480) }</td>
                                        <td><button type="button" class="button button-quiet row-edit" {onclick}>{ if props.can_edit { "Edit" } else { "View" } }</button></td>
                                    </tr>
                                }
                            }) }
                        </tbody>
                    </table>
                    <ListFooter loading={list.loading} error={list.error.clone()} has_more={list.next_cursor.is_some()}
                        empty={list.items.is_empty()} empty_text="No ring groups yet." on_more={groups.more.clone()} />
                </section>
                <section class="card admin-card admin-form-card" aria-labelledby="ring-group-form-title">
                    <h2 id="ring-group-form-title" class="card-title">{ if form.editing.is_some() { format!("Group {}", form.value("name")) } else { "New ring group".to_owned() } }</h2>
                    <form id="ring-group-form" class="admin-form" {onsubmit} novalidate=true data-editing={form.editing.map(|id| id.to_string())}>
                        <Field form={form.clone()} name="name" label="Name" readonly={ro} help="What you call the group, e.g. \"Sales team\"." />
                        <Field form={form.clone()} name="strategy" label="How it rings" readonly={ro}
                            kind={Kind::Select(vec![("all".into(), "Everyone at once".into()), ("in_order".into(), "One after the other".into())])}
                            help="At once: the first to answer takes the call. In order: each member rings in turn, in the order listed below." />
                        <Field form={form.clone()} name="member_timeout_s" label="Ring time (seconds)" readonly={ro} kind={Kind::Number}
                            help="How long each member rings (in order), or everyone rings (at once): 5 to 300." />
                        <Field form={form.clone()} name="fallback_code" label="When nobody answers" readonly={ro} kind={Kind::Number} placeholder="480"
                            help="The SIP status the caller gets: empty for 480 Temporarily Unavailable, or e.g. 486 Busy Here." />
                        <Field form={form.clone()} name="members" label="Members" readonly={ro} kind={Kind::Lines}
                            placeholder={AttrValue::from(phones.join("\n"))}
                            help="Agents' usernames, one per line, in ringing order." />
                        if props.can_edit {
                            <FormButtons busy={form.busy} editing={form.editing.is_some()} on_cancel={fresh}
                                on_delete={Some(on_delete)} error={form.general_error().map(str::to_owned)} done={form.done.clone()} />
                        } else {
                            <p class="muted">{ "Only admins change ring groups." }</p>
                        }
                    </form>
                </section>
            </div>
        </AdminPage>
    }
}
