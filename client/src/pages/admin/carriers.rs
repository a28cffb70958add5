use shared::api::{Carrier, ChannelUsage};
use wasm_bindgen_futures::spawn_local;
use yew::prelude::*;

use super::{AdminProps, Editable, use_crud};
use crate::api::admin;
use crate::components::admin::{AdminPage, Field, FormButtons, Kind, ListFooter};
use crate::hooks::use_paged;
use crate::state::admin::forms::Values;
use crate::state::admin::forms::{carrier_input, carrier_values};
use crate::state::admin::presets::{preset_summary, preset_values};
use crate::state::admin::status::{trunk_state, trunk_status_text};
use crate::state::admin::{Form, FormAction, FormFailure};

const COLLECTION: &str = "/api/v1/carriers";
/// How often the list's status column is refreshed.
const STATUS_POLL_MS: u32 = 2000;

fn choices(pairs: &[(&'static str, &'static str)]) -> Kind {
    Kind::Select(
        pairs
            .iter()
            .map(|(v, t)| (AttrValue::from(*v), AttrValue::from(*t)))
            .collect(),
    )
}

impl Editable for Carrier {
    type Input = shared::api::CarrierInput;
    const COLLECTION: &'static str = COLLECTION;
    fn values(item: Option<&Self>) -> Values {
        carrier_values(item)
    }
    fn id(&self) -> i64 {
        self.id
    }
    fn input(form: &Form) -> Result<Self::Input, FormFailure> {
        carrier_input(form)
    }
}

/// Carriers: `table#carriers tbody tr[data-id]` and `form#carrier-form`
/// (inputs named after `CarrierInput`'s fields; the secret is write-only).
#[function_component]
pub fn CarriersPage(props: &AdminProps) -> Html {
    let crud = use_crud::<Carrier>();
    let carriers = use_paged::<Carrier>(COLLECTION.to_owned(), crud.generation);
    let form = crud.form.clone();
    let channels = use_state(|| None::<Result<ChannelUsage, String>>);
    let health = use_state(|| None::<Result<String, String>>);
    // Every carrier's trunk status, refreshed while the page is open.
    let statuses = use_state(std::collections::HashMap::<i64, serde_json::Value>::new);
    {
        let statuses = statuses.clone();
        use_effect_with((), move |()| {
            let fetch = move || {
                let statuses = statuses.clone();
                spawn_local(async move {
                    // A failed poll keeps the last known states.
                    if let Ok(list) =
                        admin::get::<serde_json::Value>(&format!("{COLLECTION}/status")).await
                    {
                        let map = list["items"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(|s| Some((s["carrier_id"].as_i64()?, s.clone())))
                            .collect();
                        statuses.set(map);
                    }
                });
            };
            fetch();
            let interval = gloo_timers::callback::Interval::new(STATUS_POLL_MS, fetch);
            move || drop(interval)
        });
    }

    // Each listed carrier's channel use, for its row: its own advice
    // against its own limit.
    let usages = use_state(std::collections::HashMap::<i64, ChannelUsage>::new);
    {
        let usages = usages.clone();
        let ids: Vec<i64> = carriers.list.items.iter().map(|c| c.id).collect();
        use_effect_with((ids, crud.generation), move |(ids, _)| {
            let ids = ids.clone();
            spawn_local(async move {
                let mut all = std::collections::HashMap::with_capacity(ids.len());
                for id in ids {
                    // A carrier whose figures fail to load shows its limit only.
                    if let Ok(usage) =
                        admin::get::<ChannelUsage>(&format!("{COLLECTION}/{id}/channels")).await
                    {
                        all.insert(id, usage);
                    }
                }
                usages.set(all);
            });
        });
    }

    // Editing also shows the carrier's channels and health.
    let edit = {
        let edit = crud.edit.clone();
        let channels = channels.clone();
        let health = health.clone();
        Callback::from(move |carrier: Carrier| {
            let id = carrier.id;
            edit.emit(carrier);
            let channels = channels.clone();
            let health = health.clone();
            channels.set(None);
            health.set(None);
            spawn_local(async move {
                let usage = admin::get::<ChannelUsage>(&format!("{COLLECTION}/{id}/channels"))
                    .await
                    .map_err(|f| f.message);
                channels.set(Some(usage));
                let status = admin::get::<serde_json::Value>(&format!("{COLLECTION}/{id}/status"))
                    .await
                    .map(|v| trunk_status_text(&v))
                    .map_err(|f| f.message);
                health.set(Some(status));
            });
        })
    };
    let fresh = {
        let fresh = crud.fresh.clone();
        let channels = channels.clone();
        let health = health.clone();
        Callback::from(move |()| {
            channels.set(None);
            health.set(None);
            fresh.emit(());
        })
    };
    let onsubmit = crud.onsubmit.clone();
    let on_delete = crud.on_delete.clone();

    let list = &carriers.list;
    let editing_name = form.editing.and(Some(form.value("name").to_owned()));
    let f = |name: &'static str, label: &'static str, help: &'static str| {
        html! { <Field form={form.clone()} name={name} label={label} help={help} readonly={!props.can_edit} /> }
    };
    let fk = |name: &'static str, label: &'static str, help: &'static str, kind: Kind| {
        html! { <Field form={form.clone()} name={name} label={label} help={help} kind={kind} readonly={!props.can_edit} /> }
    };
    let has_secret = form
        .editing
        .and_then(|id| list.items.iter().find(|c| c.id == id))
        .is_some_and(|c| c.has_secret);

    html! {
        <AdminPage page="carriers" title="Carriers" intro="The SIP trunks calls go out through and come in from. Calls try carriers by priority; the next one takes over when a call fails.">
            <div class="admin-grid">
                <section class="card admin-card" aria-label="Carriers">
                    <table id="carriers" class="admin-table">
                        <thead><tr>
                            <th>{ "Name" }</th><th>{ "Server" }</th><th>{ "Sign-in" }</th>
                            <th>{ "Priority / weight" }</th><th>{ "Channels" }</th><th>{ "Status" }</th><th>{ "Enabled" }</th><th></th>
                        </tr></thead>
                        <tbody>
                            { for list.items.iter().map(|c| {
                                let onclick = { let edit = edit.clone(); let c = c.clone(); Callback::from(move |_: MouseEvent| edit.emit(c.clone())) };
                                let selected = form.editing == Some(c.id);
                                let (state, state_text) = trunk_state(statuses.get(&c.id));
                                html! {
                                    <tr data-id={c.id.to_string()} aria-selected={selected.to_string()}>
                                        <td>{ &c.name }{ if c.is_demo { " (demo)" } else { "" } }</td>
                                        <td class="mono">{ format!("{}:{} {}", c.host, c.port, crate::state::admin::forms::enum_str(&c.transport).to_uppercase()) }</td>
                                        <td>{ sign_in_text(c) }</td>
                                        <td>{ format!("{} / {}", c.priority, c.weight) }</td>
                                        { channels_cell(c, usages.get(&c.id)) }
                                        <td class={classes!("trunk-state", format!("trunk-{state}"))} data-state={state}>{ state_text }</td>
                                        <td>{ super::yes_no(c.enabled) }</td>
                                        <td><button type="button" class="button button-quiet row-edit" {onclick}>{ if props.can_edit { "Edit" } else { "View" } }</button></td>
                                    </tr>
                                }
                            }) }
                        </tbody>
                    </table>
                    <ListFooter loading={list.loading} error={list.error.clone()} has_more={list.next_cursor.is_some()}
                        empty={list.items.is_empty()} empty_text="No carriers yet: add the first one with the form." on_more={carriers.more.clone()} />
                </section>

                <section class="card admin-card admin-form-card" aria-labelledby="carrier-form-title">
                    <h2 id="carrier-form-title" class="card-title">{
                        match &editing_name { Some(name) => format!("Carrier {name}"), None => "New carrier".to_owned() }
                    }</h2>
                    if let Some(status) = &*health {
                        <p id="carrier-status" class="field-note carrier-status">{ match status {
                            Ok(text) => text.clone(),
                            Err(message) => format!("Status not available: {message}"),
                        } }</p>
                    }
                    <form id="carrier-form" class="admin-form" {onsubmit} novalidate=true data-editing={form.editing.map(|id| id.to_string())}>
                        if props.can_edit {
                            <PresetPicker form={form.clone()} />
                        }
                        <fieldset>
                            <legend>{ "Where to send calls" }</legend>
                            { f("name", "Name", "What you call this trunk, e.g. \"Acme US\". Shown in call records.") }
                            { f("host", "Host", "host: the carrier's SIP server, a name like sip.carrier.com or an IP address (IPv4, or IPv6 like 2001:db8::10 when the gateway runs with --sip-udp6).") }
                            <div class="field-row">
                                { fk("port", "Port", "Usually 5060.", Kind::Number) }
                                { fk("transport", "Transport", "UDP for most trunks; TCP or TLS (encrypted, usually port 5061) when the carrier asks for it.",
                                    choices(&[("udp", "UDP"), ("tcp", "TCP"), ("tls", "TLS")])) }
                            </div>
                            if form.value("transport") == "tls" {
                                { fk("tls_ca", "TLS CA (PEM)", "Only if the carrier's certificate is signed by its own authority: paste that CA certificate (-----BEGIN CERTIFICATE-----…). Empty: the usual public authorities.", Kind::Lines) }
                            }
                        </fieldset>
                        <fieldset>
                            <legend>{ "Signing in to the carrier" }</legend>
                            <p class="muted fieldset-help">{ "A carrier recognises you either by your IP address (leave these empty) or by a username and secret it gave you." }</p>
                            { f("username", "Username", "username: the account name the carrier gave you.") }
                            { fk("secret", "Secret", if has_secret {
                                    "secret: the carrier's password. A secret is stored; it is never shown. Type a new one to replace it, or leave this empty to keep it."
                                } else {
                                    "secret: the carrier's password. Stored, and never shown again."
                                },
                                Kind::Secret { placeholder: if form.editing.is_some() { "unchanged".into() } else { "".into() } }) }
                            { f("realm", "Realm", "The digest realm to answer; leave empty to use the one the carrier challenges with.") }
                            { fk("register", "Register with the carrier", "Some carriers send calls only to a registered account (a register => line). Needs the username and secret.", Kind::Check) }
                            { fk("register_expiry_s", "Registration expiry (seconds)", "How long each registration lasts, 60 to 86400; it is renewed before it runs out.", Kind::Number) }
                        </fieldset>
                        <fieldset>
                            <legend>{ "How calls look to the carrier" }</legend>
                            { f("from_user", "fromuser", "The user part of From, when the carrier wants its account number there instead of the caller ID. Usually empty.") }
                            { f("from_domain", "fromdomain", "The host part of From, when the carrier wants its own domain there. Usually empty.") }
                            { f("caller_id", "Fallback caller ID", "The number shown to the person called when the agent has no caller ID of their own, like +14155550100.") }
                            { fk("codecs", "Codecs, in order", "allow=: audio codecs the carrier may use, best first, separated by commas: PCMU (G.711 µ-law, North America) and PCMA (G.711 A-law, elsewhere).", Kind::Text) }
                            { fk("number_format", "Number format", "How the carrier wants the dialled number written.",
                                choices(&[("e164", "+14155552671 (E.164)"), ("e164_without_plus", "14155552671 (without +)"), ("national", "4155552671 (national)")])) }
                            { f("tech_prefix", "Tech prefix", "Digits some carriers want before every number, e.g. 1010. Usually empty.") }
                            { fk("srtp", "Media encryption (SRTP)", "encryption=: Optional sends plain RTP and encrypts only when the carrier offers SRTP keys. Required encrypts every call (RTP/SAVP with SDES keys) and refuses calls without it; pair it with TLS so the keys are not sent in the clear.",
                                choices(&[("optional", "Optional (when the carrier offers it)"), ("required", "Required (SRTP only)")])) }
                        </fieldset>
                        <fieldset>
                            <legend>{ "Capacity and failover" }</legend>
                            { fk("max_channels", "Max channels", "The most calls at once this trunk takes; empty for no limit. Size it to this carrier's busiest moment × 1.2 (shown as recommended once it has carried calls).", Kind::Number) }
                            if let Some(usage) = &*channels {
                                <p class="field-note" id="carrier-channels">{ match usage {
                                    Ok(u) => format!("Now {} in use; limit {}; busiest in 7 days {}; recommended {}.{}",
                                        u.in_use, u.max_channels.map_or_else(|| "none".to_owned(), |m| m.to_string()), u.peak_7d, u.recommended,
                                        if u.below_recommended() { " The limit is below the recommendation: calls may be refused at busy times." } else { "" }),
                                    Err(message) => format!("Channel use not available: {message}"),
                                } }</p>
                            }
                            <div class="field-row">
                                { fk("priority", "Priority", "Lower is tried first (0 to 1000). If a call fails here, the next carrier takes over.", Kind::Number) }
                                { fk("weight", "Weight", "Among carriers of the same priority, calls are shared in proportion to weight (1 to 1000).", Kind::Number) }
                            </div>
                            { fk("qualify", "Qualify (OPTIONS)", "qualify=yes: send SIP OPTIONS now and then to check the carrier is up; one that stops answering is skipped.", Kind::Check) }
                            { fk("qualify_interval_s", "Qualify interval (seconds)", "Seconds between checks, 1 to 3600.", Kind::Number) }
                        </fieldset>
                        <fieldset>
                            <legend>{ "Calls from the carrier" }</legend>
                            { fk("inbound_sources", "Source addresses", "The carrier's addresses allowed to send calls to our DIDs, one per line: IPs or ranges like 192.0.2.0/24. Calls from them are taken without a password (insecure=port,invite). Leave empty if the carrier proves itself with the username and secret, or sends no calls.", Kind::Lines) }
                            { fk("inbound_number_from", "Dialled number is in", "Where the carrier puts the number that was called. Most use the Request-URI.",
                                choices(&[("request_uri", "Request-URI"), ("to", "To header"), ("diversion", "Diversion header (forwarded calls)")])) }
                        </fieldset>
                        { fk("enabled", "Enabled", "A disabled carrier gets no calls and its calls in are refused.", Kind::Check) }
                        if props.can_edit {
                            <FormButtons busy={form.busy} editing={form.editing.is_some()} on_cancel={fresh.clone()}
                                on_delete={Some(on_delete)} error={form.general_error().map(str::to_owned)} done={form.done.clone()} />
                        } else {
                            <p class="muted">{ "Only admins change carriers." }</p>
                        }
                    </form>
                    if props.can_edit {
                        if let Some(id) = form.editing {
                            <RatesImport carrier_id={id} />
                        }
                    }
                </section>
            </div>
        </AdminPage>
    }
}

#[derive(Properties, PartialEq)]
struct PresetProps {
    form: UseReducerHandle<Form>,
}

/// `select#carrier-preset` (Twilio, Telnyx, Vonage, Bandwidth, other) and,
/// for a carrier with regions, `select#carrier-preset-region`: choosing
/// fills the form's fields from `shared::carrier_presets` (each still
/// editable), and `#carrier-preset-info` says how the carrier signs us in,
/// when the data was checked, what to verify, with a link to its page.
#[function_component]
fn PresetPicker(props: &PresetProps) -> Html {
    let presets = use_memo((), |()| shared::carrier_presets::shipped());
    let chosen = use_state(String::new);
    let region = use_state(|| 0usize);
    // Another carrier in the form (or the new one saved): nothing chosen.
    {
        let chosen = chosen.clone();
        let region = region.clone();
        use_effect_with(props.form.editing, move |_| {
            chosen.set(String::new());
            region.set(0);
        });
    }
    let presets = match &*presets {
        Ok(presets) => presets,
        Err(message) => {
            return html! { <p class="form-error" id="carrier-preset-error">{ format!("Carrier presets unavailable: {message}") }</p> };
        }
    };
    let apply = {
        let form = props.form.clone();
        move |preset: &shared::carrier_presets::CarrierPreset, region: usize| {
            for (name, value) in preset_values(preset, region) {
                form.dispatch(FormAction::Set(name.to_owned(), value));
            }
        }
    };
    let on_preset = {
        let chosen = chosen.clone();
        let region = region.clone();
        let presets = presets.clone();
        let apply = apply.clone();
        Callback::from(move |e: Event| {
            let id = e
                .target_dyn_into::<web_sys::HtmlSelectElement>()
                .map(|s| s.value())
                .unwrap_or_default();
            if let Some(preset) = presets.get(&id) {
                apply(preset, 0);
            }
            region.set(0);
            chosen.set(id);
        })
    };
    let current = presets.get(&chosen);
    let on_region = {
        let region = region.clone();
        let preset = current.cloned();
        Callback::from(move |e: Event| {
            let index = e
                .target_dyn_into::<web_sys::HtmlSelectElement>()
                .and_then(|s| s.value().parse::<usize>().ok())
                .unwrap_or(0);
            if let Some(preset) = &preset {
                apply(preset, index);
            }
            region.set(index);
        })
    };
    html! {
        <fieldset class="carrier-preset">
            <legend>{ "Carrier preset" }</legend>
            <div class="field" data-field="preset">
                <label>
                    <span class="field-label">{ "Carrier" }</span>
                    <select id="carrier-preset" onchange={on_preset}>
                        <option value="" selected={chosen.is_empty()}>{ "Choose to fill in what the carrier documents…" }</option>
                        { for presets.presets.iter().map(|p| html! {
                            <option value={p.id.clone()} selected={*chosen == p.id}>{ p.name.clone() }</option>
                        }) }
                    </select>
                </label>
                <p class="field-help">{ "Fills host, port, transport, registration, the carrier's signalling addresses, number format, where the dialled number is and codecs. Change any of them afterwards." }</p>
            </div>
            if let Some(preset) = current {
                if !preset.regions.is_empty() {
                    <div class="field" data-field="preset_region">
                        <label>
                            <span class="field-label">{ "Region" }</span>
                            <select id="carrier-preset-region" onchange={on_region}>
                                { for preset.regions.iter().enumerate().map(|(i, r)| html! {
                                    <option value={i.to_string()} selected={*region == i}>{ format!("{} — {}", r.name, r.host) }</option>
                                }) }
                            </select>
                        </label>
                    </div>
                }
                <div id="carrier-preset-info" class="field-note carrier-preset-info" data-preset={preset.id.clone()}>
                    { for preset_summary(presets, preset).into_iter().map(|line| html! { <p>{ line }</p> }) }
                    if !preset.notes.is_empty() {
                        <details id="carrier-preset-notes">
                            <summary>{ format!("What to set up at {} ({})", preset.name, preset.notes.len()) }</summary>
                            <ul>{ for preset.notes.iter().map(|n| html! { <li>{ n.clone() }</li> }) }</ul>
                        </details>
                    }
                    if !preset.url.is_empty() {
                        <p><a id="carrier-preset-link" href={preset.url.clone()} target="_blank" rel="noopener noreferrer">{ "The carrier's own documentation (opens in a new tab)" }</a></p>
                    }
                </div>
            }
        </fieldset>
    }
}

/// The row's channels: the limit, and this carrier's own recommendation
/// (its busiest moment in 7 days × 1.2), marked when the limit is below it.
fn channels_cell(c: &Carrier, usage: Option<&ChannelUsage>) -> Html {
    let limit = c
        .max_channels
        .map_or_else(|| "no limit".to_owned(), |m| m.to_string());
    match usage {
        None => html! { <td class="channels-cell">{ limit }</td> },
        Some(u) if u.below_recommended() => html! {
            <td class="channels-cell channels-short" data-recommended={u.recommended.to_string()}
                title={format!("The limit is below the {} channels this carrier's busiest moment calls for.", u.recommended)}>
                { format!("{limit} (recommended {})", u.recommended) }
                <span class="channels-warning" role="img" aria-label="limit below the recommendation">{ " ⚠" }</span>
            </td>
        },
        Some(u) => html! {
            <td class="channels-cell" data-recommended={u.recommended.to_string()}>
                { format!("{limit} (recommended {})", u.recommended) }
            </td>
        },
    }
}

fn sign_in_text(c: &Carrier) -> String {
    let mut parts = Vec::new();
    if let Some(user) = &c.username {
        parts.push(if c.has_secret {
            format!("{user} + secret")
        } else {
            user.clone()
        });
    }
    if !c.inbound_sources.is_empty() {
        parts.push(format!("IP {}", c.inbound_sources.join(", ")));
    }
    if c.register {
        parts.push("registers".to_owned());
    }
    if parts.is_empty() {
        "by IP".to_owned()
    } else {
        parts.join("; ")
    }
}

#[derive(Properties, PartialEq)]
struct RatesProps {
    carrier_id: i64,
}

/// The carrier's rate table from CSV (`textarea#rates-csv`,
/// `button#rates-import`, `#rates-report`): replaces the whole table;
/// a bad file is refused with its bad lines listed.
#[function_component]
fn RatesImport(props: &RatesProps) -> Html {
    let text = use_state(String::new);
    let busy = use_state(|| false);
    let report = use_state(|| None::<Result<usize, String>>);
    {
        let report = report.clone();
        use_effect_with(props.carrier_id, move |_| report.set(None));
    }
    let oninput = {
        let text = text.clone();
        Callback::from(move |e: InputEvent| {
            if let Some(area) = e.target_dyn_into::<web_sys::HtmlTextAreaElement>() {
                text.set(area.value());
            }
        })
    };
    let onclick = {
        let text = text.clone();
        let busy = busy.clone();
        let report = report.clone();
        let id = props.carrier_id;
        Callback::from(move |_: MouseEvent| {
            if *busy {
                return;
            }
            busy.set(true);
            let csv = (*text).clone();
            let busy = busy.clone();
            let report = report.clone();
            spawn_local(async move {
                report.set(Some(
                    admin::put_rates(id, &csv).await.map_err(|f| f.message),
                ));
                busy.set(false);
            });
        })
    };
    html! {
        <div class="carrier-rates">
            <h3 class="card-title">{ "Rates" }</h3>
            <p class="muted">{ "One rate per row: prefix,price_per_minute,description, e.g. 4420,0.0050,London. The longest matching prefix prices each answered call, billed per second; the cost shows in call records. Importing replaces the whole table." }</p>
            <textarea id="rates-csv" rows="4" spellcheck="false" value={(*text).clone()} {oninput}
                placeholder="prefix,price_per_minute,description\n44,0.0100,UK\n4420,0.0050,London" />
            <div class="form-buttons">
                <button id="rates-import" type="button" class="button" disabled={*busy} {onclick}>
                    { if *busy { "Importing…" } else { "Import rates" } }
                </button>
            </div>
            if let Some(result) = &*report {
                <div id="rates-report" role="status">{ match result {
                    Ok(n) => html! { <p>{ format!("{n} rates saved.") }</p> },
                    Err(message) => html! { <p class="form-error">{ message.clone() }</p> },
                } }</div>
            }
        </div>
    }
}
