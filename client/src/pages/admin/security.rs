use shared::api::{Alert, BanEntry, BanInput};
use wasm_bindgen_futures::spawn_local;
use yew::prelude::*;

use super::time_ms;
use crate::api::admin;
use crate::components::admin::{AdminPage, Field};
use crate::route::Route;
use crate::state::admin::security::{
    Bans, BansAction, ago_text, ban_input, ban_values, banner_alert, kind_text, reason_text,
    remaining_text,
};
use crate::state::admin::{Form, FormAction};

const COLLECTION: &str = "/api/v1/security/bans";
/// The gateway's alerts, newest first (at most 100).
pub const ALERTS: &str = "/api/v1/security/alerts";
/// How often the list is reloaded while the page is open.
const RELOAD_MS: u32 = 5_000;

/// Banned sources (admins): `table#bans` (`tr[data-ip]`, each with
/// `button.unban`), reloaded every 5 s; `form#ban-form` bans an address by
/// hand; `#bans-empty` when nothing is banned. Above them the alerts,
/// reloaded with the bans: `table#alerts` (`tr[data-alert-id][data-kind]`)
/// or `#alerts-empty`.
#[function_component]
pub fn SecurityPage() -> Html {
    let bans = use_reducer(Bans::default);
    // None until the first answer; a failure keeps its message.
    let alerts = use_state(|| None::<Result<Vec<Alert>, String>>);
    let form = use_reducer(|| Form::new(ban_values()));
    // Bumped by the timer, the Refresh button, a ban and an unban. The
    // timer keeps the first render's handle; a yew 0.23 handle reads the
    // current value, so each tick still counts on from the latest.
    let generation = use_state(|| 0u32);
    let reload = {
        let generation = generation.clone();
        Callback::from(move |()| generation.set(generation.wrapping_add(1)))
    };
    {
        let reload = reload.clone();
        use_effect_with((), move |()| {
            let timer = gloo_timers::callback::Interval::new(RELOAD_MS, move || reload.emit(()));
            move || drop(timer)
        });
    }
    {
        let alerts = alerts.clone();
        use_effect_with(*generation, move |_| {
            spawn_local(async move {
                alerts.set(Some(
                    admin::get::<Vec<Alert>>(ALERTS)
                        .await
                        .map_err(|failure| failure.message),
                ));
            });
        });
    }
    {
        let bans = bans.clone();
        use_effect_with(*generation, move |generation| {
            let seq = *generation;
            bans.dispatch(BansAction::Requested(seq));
            spawn_local(async move {
                bans.dispatch(match admin::get::<Vec<BanEntry>>(COLLECTION).await {
                    Ok(items) => BansAction::Loaded { seq, items },
                    Err(failure) => BansAction::Failed {
                        seq,
                        message: failure.message,
                    },
                });
            });
        });
    }
    let onsubmit = {
        let form = form.clone();
        let reload = reload.clone();
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            ban(&form, reload.clone());
        })
    };
    let unban = {
        let bans = bans.clone();
        let reload = reload.clone();
        Callback::from(move |ip: String| {
            let sure = web_sys::window()
                .and_then(|w| {
                    w.confirm_with_message(&format!(
                        "Unban {ip}? It may send again at once; it is banned again if it misbehaves again."
                    ))
                    .ok()
                })
                .unwrap_or(false);
            if sure {
                lift(&bans, ip, reload.clone());
            }
        })
    };
    let on_refresh = reload.reform(|_: MouseEvent| ());
    // Unix seconds; f64 milliseconds hold every date of the next 280 000 years.
    #[allow(clippy::cast_possible_truncation)]
    let now = (js_sys::Date::now() / 1000.0) as i64;

    html! {
        <AdminPage page="security" title="Security" intro="What the gateway watches and refuses: alerts, the fraud limits on calls and spend, and banned sources (SIP from them gets no answer and the web pages answer them 429; each repeat ban lasts twice as long).">
            <div class="admin-column">
                <section class="card admin-card" aria-labelledby="alerts-title">
                    <h2 id="alerts-title" class="card-title">{ "Alerts" }</h2>
                    { alerts_list(alerts.as_ref(), now) }
                </section>
                <super::security_limits::LimitsCard />
                <section class="card admin-card" aria-labelledby="ban-form-title">
                    <h2 id="ban-form-title" class="card-title">{ "Ban an address" }</h2>
                    <form id="ban-form" class="admin-form" {onsubmit} novalidate=true>
                        <div class="ban-form-row">
                            <Field form={form.clone()} name="ip" label="Address" placeholder="e.g. 198.51.100.20 or 2001:db8::1"
                                help="IPv4 or IPv6. Allowlisted networks and carriers' addresses are never banned." />
                            <Field form={form.clone()} name="detail" label="Note"
                                help="Why, in a few words; shown in the list and kept in the audit log." />
                            <div class="form-buttons">
                                <button type="submit" class="button button-danger" disabled={form.busy}>
                                    { if form.busy { "Banning…" } else { "Ban" } }
                                </button>
                            </div>
                        </div>
                        if let Some(error) = form.general_error() {
                            <p class="form-error" role="alert">{ error.to_owned() }</p>
                        }
                        if let Some(done) = &form.done {
                            <p class="form-done" role="status">{ done.clone() }</p>
                        }
                    </form>
                </section>
                <section class="card admin-card" aria-labelledby="bans-title">
                    <div class="card-head">
                        <h2 id="bans-title" class="card-title">{ format!("Banned addresses: {}", bans.items.len()) }</h2>
                        <button type="button" id="bans-refresh" class="button button-quiet" onclick={on_refresh}>{ "Refresh" }</button>
                    </div>
                    if let Some(error) = &bans.error {
                        <p class="form-error list-error" role="alert">{ error.clone() }</p>
                    }
                    if !bans.items.is_empty() {
                        <table id="bans" class="admin-table">
                            <thead><tr><th>{ "Address" }</th><th>{ "Reason" }</th><th>{ "Detail" }</th><th>{ "Since" }</th><th>{ "Until" }</th><th>{ "Times banned" }</th><th>{ "Refused" }</th><th></th></tr></thead>
                            <tbody>
                                { for bans.items.iter().map(|b| row(b, now, bans.is_unbanning(&b.ip), &unban)) }
                            </tbody>
                        </table>
                    } else if bans.loaded {
                        <p id="bans-empty" class="muted empty-list">{ "No banned addresses. Sources are banned after too many failed authentications, a flood, or a scanner's User-Agent (see the settings above)." }</p>
                    } else if bans.error.is_none() {
                        <p class="muted" aria-live="polite">{ "Loading…" }</p>
                    }
                </section>
            </div>
        </AdminPage>
    }
}

/// The alerts as a table, "No alerts.", the reason they could not be read,
/// or "Loading…" before the first answer.
fn alerts_list(alerts: Option<&Result<Vec<Alert>, String>>, now: i64) -> Html {
    match alerts {
        None => html! { <p class="muted" aria-live="polite">{ "Loading…" }</p> },
        Some(Err(message)) => html! {
            <p class="form-error list-error" role="alert">{ format!("Could not read the alerts: {message}") }</p>
        },
        Some(Ok(items)) if items.is_empty() => html! {
            <p id="alerts-empty" class="muted empty-list">{ "No alerts." }</p>
        },
        Some(Ok(items)) => html! {
            <table id="alerts" class="admin-table">
                <thead><tr><th>{ "When" }</th><th>{ "Kind" }</th><th>{ "Agent" }</th><th>{ "What happened" }</th></tr></thead>
                <tbody>
                    { for items.iter().map(|a| html! {
                        <tr data-alert-id={a.id.to_string()} data-kind={a.kind.clone()}>
                            <td class="mono">
                                { time_ms(a.at.saturating_mul(1000)) }
                                <br />
                                <span class="muted alert-ago">{ ago_text(a.at, now) }</span>
                            </td>
                            <td>{ kind_text(&a.kind) }</td>
                            <td class="mono">{ a.agent.clone().unwrap_or_else(|| "—".to_owned()) }</td>
                            <td class="alert-message">{ &a.message }</td>
                        </tr>
                    }) }
                </tbody>
            </table>
        },
    }
}

/// One ban: `tr[data-ip][data-reason]`.
fn row(b: &BanEntry, now: i64, unbanning: bool, unban: &Callback<String>) -> Html {
    let onclick = {
        let unban = unban.clone();
        let ip = b.ip.clone();
        Callback::from(move |_: MouseEvent| unban.emit(ip.clone()))
    };
    html! {
        <tr data-ip={b.ip.clone()} data-reason={b.reason.clone()}>
            <td class="mono">{ &b.ip }</td>
            <td>{ reason_text(&b.reason) }</td>
            <td class="ban-detail">{ if b.detail.is_empty() { "—".to_owned() } else { b.detail.clone() } }</td>
            <td class="mono">{ time_ms(b.since.saturating_mul(1000)) }</td>
            <td class="mono">
                { time_ms(b.until.saturating_mul(1000)) }
                <br />
                <span class="muted ban-remaining">{ remaining_text(b.until, now) }</span>
            </td>
            <td class="mono ban-times">{ b.times }</td>
            <td class="mono ban-refused">{ b.refused }</td>
            <td>
                <button type="button" class="button button-danger-quiet unban" disabled={unbanning} {onclick}>
                    { if unbanning { "Unbanning…" } else { "Unban" } }
                </button>
            </td>
        </tr>
    }
}

/// Sends the form as a ban; on success the form empties, says until when,
/// and the list reloads. The gateway's refusal lands on its field.
fn ban(form: &UseReducerHandle<Form>, saved: Callback<()>) {
    if form.busy {
        return;
    }
    let input = match ban_input(form) {
        Ok(input) => input,
        Err(failure) => {
            form.dispatch(FormAction::Failed(failure));
            return;
        }
    };
    form.dispatch(FormAction::Submitted);
    let form = form.clone();
    spawn_local(async move {
        match admin::send::<BanInput, BanEntry>("POST", COLLECTION, &input).await {
            Ok(entry) => {
                form.dispatch(FormAction::Saved {
                    values: ban_values(),
                    editing: None,
                    message: format!(
                        "Banned {} until {}.",
                        entry.ip,
                        time_ms(entry.until.saturating_mul(1000))
                    ),
                });
                saved.emit(());
            }
            Err(failure) => form.dispatch(FormAction::Failed(failure.into())),
        }
    });
}

/// Lifts the ban on `ip`, then reloads the list.
fn lift(bans: &UseReducerHandle<Bans>, ip: String, done: Callback<()>) {
    if bans.is_unbanning(&ip) {
        return;
    }
    bans.dispatch(BansAction::Unbanning(ip.clone()));
    let bans = bans.clone();
    spawn_local(async move {
        let path = format!(
            "{COLLECTION}/{}",
            String::from(js_sys::encode_uri_component(&ip))
        );
        match admin::delete(&path).await {
            Ok(()) => bans.dispatch(BansAction::Unbanned(ip)),
            Err(failure) => bans.dispatch(BansAction::UnbanFailed {
                ip,
                message: failure.message,
            }),
        }
        done.emit(());
    });
}

/// How often the banner asks for the alerts.
const BANNER_POLL_MS: u32 = 10_000;

/// `a#alert-banner` above the admin pages (the app renders it for admins
/// away from the phone): "⚠ <message> — see Security" while an alert is
/// less than an hour old ([`banner_alert`]), linking to the Security page.
/// Asks every 10 s while it is shown and stops when it goes; a failed read
/// shows no banner.
#[function_component]
pub fn AlertBanner() -> Html {
    let shown = use_state(|| None::<Alert>);
    {
        let shown = shown.clone();
        use_effect_with((), move |()| {
            let poll = move || {
                let shown = shown.clone();
                spawn_local(async move {
                    let alerts = admin::get::<Vec<Alert>>(ALERTS).await.unwrap_or_default();
                    // Unix seconds; see `SecurityPage`.
                    #[allow(clippy::cast_possible_truncation)]
                    let now = (js_sys::Date::now() / 1000.0) as i64;
                    shown.set(banner_alert(&alerts, now).cloned());
                });
            };
            poll();
            let timer = gloo_timers::callback::Interval::new(BANNER_POLL_MS, poll);
            move || drop(timer)
        });
    }
    match &*shown {
        Some(alert) => html! {
            <a id="alert-banner" class="alert-banner" href={Route::Security.href()} role="status">
                { format!("⚠ {} — see Security", alert.message) }
            </a>
        },
        None => html! {},
    }
}
