//! The Security page's fraud limits: today's counts, the limits an admin
//! may change (`PUT /api/v1/security/limits`), and the guard's settings the
//! gateway was started with.

use shared::api::{FraudLimits, SecuritySettings};
use shared::rates::format_money;
use wasm_bindgen_futures::spawn_local;
use yew::prelude::*;

use crate::api::admin;
use crate::components::admin::{Field, Kind};
use crate::state::admin::security::{guard_lines, limits_input, limits_values};
use crate::state::admin::{Form, FormAction};

const SETTINGS: &str = "/api/v1/security/settings";
const LIMITS: &str = "/api/v1/security/limits";

fn actions(alert_words: &'static str) -> Kind {
    Kind::Select(vec![
        ("block".into(), "Refuse calls and alert".into()),
        ("alert".into(), alert_words.into()),
    ])
}

/// `section#limits`: today's counts (`#limits-today`, each limit reached a
/// `li.limit-reached`), `form#limits-form` and the guard's settings
/// (`dl#guard-settings`). A save shows the counts anew: a raised cap lifts
/// its block at once.
#[function_component]
pub fn LimitsCard() -> Html {
    let settings = use_state(|| None::<Result<SecuritySettings, String>>);
    let form = use_reducer(|| Form::new(limits_values(&FraudLimits::default())));
    {
        let settings = settings.clone();
        let form = form.clone();
        use_effect_with((), move |()| {
            spawn_local(async move {
                match admin::get::<SecuritySettings>(SETTINGS).await {
                    Ok(loaded) => {
                        form.dispatch(FormAction::Load {
                            values: limits_values(&loaded.limits),
                            editing: None,
                        });
                        settings.set(Some(Ok(loaded)));
                    }
                    Err(failure) => settings.set(Some(Err(failure.message))),
                }
            });
        });
    }
    let onsubmit = {
        let form = form.clone();
        let settings = settings.clone();
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            save(&form, &settings);
        })
    };
    let loaded = match &*settings {
        None => {
            return html! {
                <section id="limits" class="card admin-card"><p class="muted" aria-live="polite">{ "Loading…" }</p></section>
            };
        }
        Some(Err(message)) => {
            return html! {
                <section id="limits" class="card admin-card">
                    <p class="form-error list-error" role="alert">{ format!("Could not read the limits: {message}") }</p>
                </section>
            };
        }
        Some(Ok(s)) => s,
    };
    let today = &loaded.today;
    html! {
        <section id="limits" class="card admin-card" aria-labelledby="limits-title">
            <h2 id="limits-title" class="card-title">{ "Fraud limits" }</h2>
            <div id="limits-today" class="limits-today">
                <p>
                    { "Today (UTC): calls estimated at " }
                    <strong class="mono">{ format_money(today.gateway_spend) }</strong>
                    { ", " }
                    <strong class="mono">{ today.gateway_international_s / 60 }</strong>
                    { format!(" min to other countries than {}.", loaded.home_country) }
                </p>
                if today.reached.is_empty() {
                    <p class="muted">{ "No daily limit reached." }</p>
                } else {
                    <ul class="limits-reached">
                        { for today.reached.iter().map(|r| html! { <li class="limit-reached">{ r }</li> }) }
                    </ul>
                }
            </div>
            <form id="limits-form" class="admin-form" {onsubmit} novalidate=true>
                <fieldset class="limits-group">
                    <legend>{ "Calls a minute" }</legend>
                    <Field form={form.clone()} name="agent_calls_per_minute" label="Per agent" kind={Kind::Number}
                        help="Calls one agent may start a minute; 0 for no limit." />
                    <Field form={form.clone()} name="gateway_calls_per_minute" label="All agents" kind={Kind::Number}
                        help="Calls everyone together may start a minute; 0 for no limit." />
                    <Field form={form.clone()} name="velocity_action" label="Over it" kind={actions("Alert only")}
                        help="Refused calls get 403 with the reason on the agent's phone." />
                </fieldset>
                <fieldset class="limits-group">
                    <legend>{ "Daily spend (estimated from the carriers' rate tables)" }</legend>
                    <Field form={form.clone()} name="agent_daily_spend" label="Per agent" placeholder="no cap"
                        help="In the carriers' currency, e.g. 50 or 12.5; empty for no cap." />
                    <Field form={form.clone()} name="campaign_daily_spend" label="Per campaign" placeholder="no cap"
                        help="The calls presenting one campaign's numbers." />
                    <Field form={form.clone()} name="gateway_daily_spend" label="All calls" placeholder="no cap"
                        help="Everything, all carriers together." />
                    <Field form={form.clone()} name="spend_action" label="Past a cap" kind={actions("Alert only")}
                        help="Refused until midnight UTC, or an alert and the calls go on." />
                </fieldset>
                <fieldset class="limits-group">
                    <legend>{ "International minutes a day" }</legend>
                    <Field form={form.clone()} name="agent_international_minutes" label="Per agent" placeholder="no limit"
                        help={format!("Minutes talking to other countries than {}.", loaded.home_country)} />
                    <Field form={form.clone()} name="gateway_international_minutes" label="All agents" placeholder="no limit"
                        help="Everyone together." />
                    <Field form={form.clone()} name="international_action" label="Past a limit" kind={actions("Alert only")}
                        help="Refusing stops international calls only; national ones still go." />
                </fieldset>
                <div class="form-buttons">
                    <button type="submit" class="button button-primary" disabled={form.busy}>
                        { if form.busy { "Saving…" } else { "Save limits" } }
                    </button>
                </div>
                if let Some(error) = form.general_error() {
                    <p class="form-error" role="alert">{ error.to_owned() }</p>
                }
                if let Some(done) = &form.done {
                    <p class="form-done" role="status">{ done.clone() }</p>
                }
            </form>
            <h3 class="card-subtitle">{ "Bans and other settings (from the gateway's start-up flags)" }</h3>
            <dl id="guard-settings" class="settings-list">
                { for guard_lines(loaded).into_iter().map(|(what, value)| html! {
                    <>
                        <dt>{ what }</dt>
                        <dd>{ value }</dd>
                    </>
                }) }
            </dl>
        </section>
    }
}

/// Sends the limits; on success the form and the counts show what the
/// gateway now holds.
fn save(
    form: &UseReducerHandle<Form>,
    settings: &UseStateHandle<Option<Result<SecuritySettings, String>>>,
) {
    if form.busy {
        return;
    }
    let input = match limits_input(form) {
        Ok(input) => input,
        Err(failure) => {
            form.dispatch(FormAction::Failed(failure));
            return;
        }
    };
    form.dispatch(FormAction::Submitted);
    let form = form.clone();
    let settings = settings.clone();
    spawn_local(async move {
        match admin::send::<FraudLimits, SecuritySettings>("PUT", LIMITS, &input).await {
            Ok(saved) => {
                form.dispatch(FormAction::Saved {
                    values: limits_values(&saved.limits),
                    editing: None,
                    message: "Saved. The limits apply to the next call.".to_owned(),
                });
                settings.set(Some(Ok(saved)));
            }
            Err(failure) => form.dispatch(FormAction::Failed(failure.into())),
        }
    });
}
