use std::collections::BTreeMap;

use shared::api::{CallDirection, CallRecord, Carrier};
use yew::prelude::*;

use super::{time_ms, use_choices};
use crate::components::admin::{AdminPage, Field, Kind, ListFooter};
use crate::hooks::use_paged;
use crate::state::admin::query::CallFilters;
use crate::state::admin::{Form, FormAction, FormFailure};

const FIELDS: [&str; 7] = [
    "from",
    "to",
    "agent",
    "carrier_id",
    "did",
    "direction",
    "outcome",
];

/// Call records: `form#calls-filter` (inputs named like the API's query),
/// `table#calls`, and `a#calls-csv` (the same selection as a CSV file).
#[function_component]
pub fn CallsPage() -> Html {
    let filters = use_state(CallFilters::default);
    let form = use_reducer(|| {
        Form::new(
            FIELDS
                .iter()
                .map(|f| ((*f).to_owned(), String::new()))
                .collect::<BTreeMap<_, _>>(),
        )
    });
    let calls = use_paged::<CallRecord>(filters.apply("/api/v1/calls"), 0);
    let (carriers, _) = use_choices::<Carrier>("/api/v1/carriers", 0);

    let onsubmit = {
        let form = form.clone();
        let filters = filters.clone();
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            match read_filters(&form) {
                Ok(next) => {
                    form.dispatch(FormAction::Load {
                        values: form.values.clone(),
                        editing: None,
                    });
                    filters.set(next);
                }
                Err(failure) => form.dispatch(FormAction::Failed(failure)),
            }
        })
    };
    let on_clear = {
        let form = form.clone();
        let filters = filters.clone();
        Callback::from(move |_: MouseEvent| {
            form.dispatch(FormAction::Load {
                values: FIELDS
                    .iter()
                    .map(|f| ((*f).to_owned(), String::new()))
                    .collect(),
                editing: None,
            });
            filters.set(CallFilters::default());
        })
    };
    let mut carrier_choices = vec![(AttrValue::from(""), AttrValue::from("Any"))];
    carrier_choices.extend(carriers.iter().map(|c| {
        (
            AttrValue::from(c.id.to_string()),
            AttrValue::from(c.name.clone()),
        )
    }));
    let list = &calls.list;
    let csv = filters.apply("/api/v1/calls.csv");

    html! {
        <AdminPage page="calls" title="Calls" intro="Every call attempt, newest first: who, which number, which carrier, and how it ended. Filter them, and download the same selection as a CSV file.">
            <section class="card admin-card" aria-label="Filters">
                <form id="calls-filter" class="admin-form filter-form" {onsubmit} novalidate=true>
                    <Field form={form.clone()} name="from" label="From" help="Calls that started at or after this time." placeholder="2025-01-31 09:00" />
                    <Field form={form.clone()} name="to" label="To" help="…and before this time." placeholder="2025-01-31 18:00" />
                    <Field form={form.clone()} name="agent" label="Agent" help="A username." />
                    <Field form={form.clone()} name="carrier_id" label="Carrier" help="The carrier that carried it." kind={Kind::Select(carrier_choices)} />
                    <Field form={form.clone()} name="did" label="DID" help="Our number involved, like +14155550100." />
                    <Field form={form.clone()} name="direction" label="Direction" help="Calls placed or received."
                        kind={Kind::Select(vec![("".into(), "Both".into()), ("outbound".into(), "Outbound".into()), ("inbound".into(), "Inbound".into())])} />
                    <Field form={form.clone()} name="outcome" label="Outcome" help="How it ended."
                        kind={Kind::Select(vec![("".into(), "Any".into()), ("answered".into(), "Answered".into()), ("missed".into(), "Missed (inbound)".into()),
                            ("busy".into(), "Busy".into()), ("no_answer".into(), "No answer".into()), ("failed".into(), "Failed".into())])} />
                    <div class="form-buttons filter-buttons">
                        <button type="submit" class="button button-primary">{ "Apply" }</button>
                        <button type="button" class="button button-quiet" onclick={on_clear}>{ "Clear" }</button>
                        <a id="calls-csv" class="button button-quiet" href={csv} download="calls.csv">{ "Download CSV" }</a>
                    </div>
                    if let Some(error) = form.general_error() {
                        <p class="form-error" role="alert">{ error.to_owned() }</p>
                    }
                </form>
            </section>
            <section class="card admin-card" aria-label="Call records">
                <table id="calls" class="admin-table">
                    <thead><tr>
                        <th>{ "Started" }</th><th>{ "Direction" }</th><th>{ "Agent" }</th><th>{ "Caller ID" }</th><th>{ "Dialled" }</th>
                        <th>{ "Carrier" }</th><th>{ "Outcome" }</th><th>{ "Duration" }</th><th>{ "Cost" }</th><th>{ "Final answer" }</th>
                    </tr></thead>
                    <tbody>
                        { for list.items.iter().map(|r| html! {
                            <tr data-id={r.id.clone()} data-outcome={r.outcome().as_str()}>
                                <td>{ time_ms(r.invite_at) }</td>
                                <td>{ match r.direction { CallDirection::Outbound => "out", CallDirection::Inbound => "in" } }</td>
                                <td>{ r.agent.clone().unwrap_or_default() }</td>
                                <td class="mono">{ r.caller_id.clone().unwrap_or_default() }</td>
                                <td class="mono">{ &r.dialled }</td>
                                <td>{ r.carrier.clone().unwrap_or_default() }</td>
                                <td>{ r.outcome().as_str().replace('_', " ") }</td>
                                <td>{ duration(r.duration_s) }</td>
                                <td class="mono call-cost" data-cost={r.estimated_cost.map(|c| c.to_string())}>{ r.estimated_cost.map(shared::rates::format_price).unwrap_or_default() }</td>
                                <td>{ format!("{} {}", r.final_code, r.final_reason) }</td>
                            </tr>
                        }) }
                    </tbody>
                </table>
                <ListFooter loading={list.loading} error={list.error.clone()} has_more={list.next_cursor.is_some()}
                    empty={list.items.is_empty()} empty_text="No calls match." on_more={calls.more.clone()} />
            </section>
        </AdminPage>
    }
}

/// `m:ss`, or `h:mm:ss` from an hour.
pub fn duration(seconds: i64) -> String {
    let s = seconds.max(0);
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

fn read_filters(form: &Form) -> Result<CallFilters, FormFailure> {
    let time = |field: &str| -> Result<Option<i64>, FormFailure> {
        let text = form.value(field).trim();
        if text.is_empty() {
            return Ok(None);
        }
        // "2025-01-31 09:00" or "2025-01-31T09:00", read in local time.
        let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_str(&text.replace(' ', "T")));
        let ms = date.get_time();
        if ms.is_nan() {
            Err(FormFailure::field(
                field,
                "Write a date and time like 2025-01-31 09:00.",
            ))
        } else {
            // Milliseconds since 1970 fit an i64 for any date a browser parses.
            #[allow(clippy::cast_possible_truncation)]
            Ok(Some(ms as i64))
        }
    };
    Ok(CallFilters {
        from: time("from")?,
        to: time("to")?,
        agent: form.value("agent").trim().to_owned(),
        carrier_id: form.value("carrier_id").to_owned(),
        did: form.value("did").trim().to_owned(),
        direction: form.value("direction").to_owned(),
        outcome: form.value("outcome").to_owned(),
    })
}
