use shared::api::{BanEntry, BanInput};
use wasm_bindgen_futures::spawn_local;
use yew::prelude::*;

use super::time_ms;
use crate::api::admin;
use crate::components::admin::{AdminPage, Field};
use crate::state::admin::security::{
    Bans, BansAction, ban_input, ban_values, reason_text, remaining_text,
};
use crate::state::admin::{Form, FormAction};

const COLLECTION: &str = "/api/v1/security/bans";
/// How often the list is reloaded while the page is open.
const RELOAD_MS: u32 = 5_000;

/// Banned sources (admins): `table#bans` (`tr[data-ip]`, each with
/// `button.unban`), reloaded every 5 s; `form#ban-form` bans an address by
/// hand; `#bans-empty` when nothing is banned.
#[function_component]
pub fn SecurityPage() -> Html {
    let bans = use_reducer(Bans::default);
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
        <AdminPage page="security" title="Security" intro="Sources the gateway refuses: SIP from them gets no answer and the web pages answer them 429. A ban lasts 15 minutes unless the gateway is set otherwise, and twice as long each time the same source is banned again.">
            <div class="admin-column">
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
                        <p id="bans-empty" class="muted empty-list">{ "No banned addresses. Sources are banned after 10 failed authentications in a minute (unless the gateway is set otherwise), a flood, or a scanner's User-Agent." }</p>
                    } else if bans.error.is_none() {
                        <p class="muted" aria-live="polite">{ "Loading…" }</p>
                    }
                </section>
            </div>
        </AdminPage>
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
