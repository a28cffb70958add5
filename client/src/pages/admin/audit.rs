use shared::api::AuditEntry;
use yew::prelude::*;

use super::time_ms;
use crate::components::admin::{AdminPage, ListFooter};
use crate::hooks::use_paged;
use crate::state::admin::query::with_params;

const ENTITIES: [(&str, &str); 8] = [
    ("", "Everything"),
    ("carrier", "Carriers"),
    ("did", "DIDs"),
    ("ring_group", "Ring groups"),
    ("agent", "Agents"),
    ("caller_ids", "Caller IDs"),
    ("campaign", "Campaigns"),
    ("api_token", "API tokens"),
];

/// The audit log (admins): `table#audit`, newest first, filtered by
/// `select[name=entity]`; each row shows the entity before and after.
#[function_component]
pub fn AuditPage() -> Html {
    let entity = use_state(String::new);
    let entries = use_paged::<AuditEntry>(with_params("/api/v1/audit", &[("entity", &entity)]), 0);
    let onchange = {
        let entity = entity.clone();
        Callback::from(move |e: Event| {
            if let Some(select) = e.target_dyn_into::<web_sys::HtmlSelectElement>() {
                entity.set(select.value());
            }
        })
    };
    let list = &entries.list;
    html! {
        <AdminPage page="audit" title="Audit log" intro="Every change made through these pages or the API: who, when, and what the item looked like before and after. Secrets are never recorded.">
            <section class="card admin-card" aria-label="Audit log">
                <div class="field inline-field">
                    <label>
                        <span class="field-label">{ "Show" }</span>
                        <select name="entity" {onchange}>
                            { for ENTITIES.iter().map(|(v, t)| html! { <option value={*v} selected={*entity == *v}>{ *t }</option> }) }
                        </select>
                    </label>
                </div>
                <table id="audit" class="admin-table">
                    <thead><tr><th>{ "When" }</th><th>{ "Who" }</th><th>{ "Did" }</th><th>{ "What" }</th><th>{ "Details" }</th></tr></thead>
                    <tbody>
                        { for list.items.iter().map(|e| html! {
                            <tr data-id={e.id.to_string()} data-entity={e.entity.clone()} data-action={e.action.clone()}>
                                <td>{ time_ms(e.at) }</td>
                                <td>{ &e.actor }</td>
                                <td>{ e.action.replace('_', " ") }</td>
                                <td>{ format!("{} {}", e.entity.replace('_', " "), e.entity_id.clone().unwrap_or_default()) }</td>
                                <td>
                                    if e.old_json.is_some() || e.new_json.is_some() {
                                        <details>
                                            <summary>{ "Before / after" }</summary>
                                            <div class="audit-diff">
                                                <pre>{ pretty(e.old_json.as_deref()) }</pre>
                                                <pre>{ pretty(e.new_json.as_deref()) }</pre>
                                            </div>
                                        </details>
                                    }
                                </td>
                            </tr>
                        }) }
                    </tbody>
                </table>
                <ListFooter loading={list.loading} error={list.error.clone()} has_more={list.next_cursor.is_some()}
                    empty={list.items.is_empty()} empty_text="Nothing has been changed yet." on_more={entries.more.clone()} />
            </section>
        </AdminPage>
    }
}

/// JSON text indented for reading; `—` for none.
fn pretty(json: Option<&str>) -> String {
    match json {
        None => "—".to_owned(),
        Some(text) => serde_json::from_str::<serde_json::Value>(text)
            .ok()
            .and_then(|v| serde_json::to_string_pretty(&v).ok())
            .unwrap_or_else(|| text.to_owned()),
    }
}
