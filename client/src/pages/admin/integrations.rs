use shared::api::{ApiToken, ApiTokenCreated, EmbedSettings};
use wasm_bindgen_futures::spawn_local;
use yew::prelude::*;

use super::time_ms;
use crate::api::admin;
use crate::components::admin::{AdminPage, Field, FormButtons, Kind, ListFooter};
use crate::hooks::use_paged;
use crate::state::admin::forms::{api_token_input, api_token_values, embed_input, embed_values};
use crate::state::admin::{Form, FormAction};

const SETTINGS: &str = "/api/v1/embed/settings";
const TOKENS: &str = "/api/v1/tokens";

/// Integrations (admins): the CRM widget's allowed origins and webhook
/// (`form#embed-settings-form`), the snippet to paste (`#widget-snippet`),
/// and API tokens (`table#api-tokens`, `form#api-token-form`; a new token
/// is shown once in `#new-token`).
#[function_component]
pub fn IntegrationsPage() -> Html {
    html! {
        <AdminPage page="integrations" title="Integrations" intro="Put the phone inside your CRM, receive call events, and let your systems use the API.">
            <div class="admin-grid">
                <ApiTokensCard />
                <EmbedSettingsCard />
            </div>
        </AdminPage>
    }
}

#[function_component]
fn EmbedSettingsCard() -> Html {
    let form = use_reducer(|| Form::new(embed_values(&EmbedSettings::default())));
    let has_secret = use_state(|| false);
    let loaded = use_state(|| 0u32);
    {
        let form = form.clone();
        let has_secret = has_secret.clone();
        use_effect_with(*loaded, move |_| {
            spawn_local(async move {
                match admin::get::<EmbedSettings>(SETTINGS).await {
                    Ok(settings) => {
                        has_secret.set(settings.has_webhook_secret);
                        form.dispatch(FormAction::Load {
                            values: embed_values(&settings),
                            editing: None,
                        });
                    }
                    Err(failure) => form.dispatch(FormAction::Failed(failure.into())),
                }
            });
        });
    }
    let onsubmit = {
        let form = form.clone();
        let has_secret = has_secret.clone();
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            if form.busy {
                return;
            }
            let input = embed_input(&form);
            form.dispatch(FormAction::Submitted);
            let form = form.clone();
            let has_secret = has_secret.clone();
            spawn_local(async move {
                match admin::send::<_, EmbedSettings>("PUT", SETTINGS, &input).await {
                    Ok(saved) => {
                        has_secret.set(saved.has_webhook_secret);
                        form.dispatch(FormAction::Saved {
                            values: embed_values(&saved),
                            editing: None,
                            message: "Saved.".to_owned(),
                        });
                    }
                    Err(failure) => form.dispatch(FormAction::Failed(failure.into())),
                }
            });
        })
    };
    let reload = {
        let loaded = loaded.clone();
        Callback::from(move |()| loaded.set(loaded.wrapping_add(1)))
    };
    let origin = web_sys::window()
        .and_then(|w| w.location().origin().ok())
        .unwrap_or_default();
    let snippet = format!(
        "<script src=\"{origin}/widget.js\"></script>\n\
         <dialer-phone gateway=\"{origin}\" token=\"EMBED_TOKEN\" click-to-call></dialer-phone>"
    );
    let secret_placeholder = if *has_secret {
        "set; leave empty to keep it"
    } else {
        "none set"
    };
    html! {
        <section class="card admin-card admin-form-card" aria-labelledby="embed-title">
            <h2 id="embed-title" class="card-title">{ "CRM widget" }</h2>
            <form id="embed-settings-form" class="admin-form" {onsubmit} novalidate=true>
                <Field form={form.clone()} name="allowed_origins" label="Allowed origins" kind={Kind::Lines}
                    placeholder="https://crm.example.com"
                    help="The CRM pages that may embed the phone, one origin per line (scheme, host and port, no path). Other pages get a refusal." />
                <Field form={form.clone()} name="webhook_url" label="Webhook URL" placeholder="https://crm.example.com/dialer-events"
                    help="Where call events (started, answered, ended with the call record) are posted. Empty: none are sent." />
                <Field form={form.clone()} name="webhook_secret" label="Webhook secret"
                    kind={Kind::Secret { placeholder: secret_placeholder.into() }}
                    help="Signs each event so your CRM can check it came from here and is fresh: X-Dialer-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of \"t.body\">; refuse a t more than 5 minutes from your clock. Never shown again." />
                if *has_secret {
                    <Field form={form.clone()} name="remove_webhook_secret" label="Remove the webhook secret" kind={Kind::Check}
                        help="Events are then sent unsigned." />
                }
                <FormButtons busy={form.busy} editing=true on_cancel={reload}
                    error={form.general_error().map(str::to_owned)} done={form.done.clone()} />
            </form>
            <h3 class="card-subtitle">{ "Paste into the CRM page" }</h3>
            <pre id="widget-snippet" class="snippet">{ snippet }</pre>
            <p class="muted">{ "Your CRM's backend mints EMBED_TOKEN for the signed-in agent with an API token: POST /api/v1/embed/tokens {\"agent\": \"USERNAME\"}. Types for the element's JS API: /widget.d.ts." }</p>
        </section>
    }
}

#[function_component]
fn ApiTokensCard() -> Html {
    let generation = use_state(|| 0u32);
    let tokens = use_paged::<ApiToken>(TOKENS.to_owned(), *generation);
    let form = use_reducer(|| Form::new(api_token_values()));
    let created = use_state(|| None::<ApiTokenCreated>);
    let reload = {
        let generation = generation.clone();
        Callback::from(move |()| generation.set(generation.wrapping_add(1)))
    };
    let onsubmit = {
        let form = form.clone();
        let created = created.clone();
        let reload = reload.clone();
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            if form.busy {
                return;
            }
            let input = api_token_input(&form);
            form.dispatch(FormAction::Submitted);
            let form = form.clone();
            let created = created.clone();
            let reload = reload.clone();
            spawn_local(async move {
                match admin::send::<_, ApiTokenCreated>("POST", TOKENS, &input).await {
                    Ok(token) => {
                        form.dispatch(FormAction::Saved {
                            values: api_token_values(),
                            editing: None,
                            message: format!("Created “{}”.", token.api_token.name),
                        });
                        created.set(Some(token));
                        reload.emit(());
                    }
                    Err(failure) => form.dispatch(FormAction::Failed(failure.into())),
                }
            });
        })
    };
    let revoke = {
        let form = form.clone();
        let reload = reload.clone();
        Callback::from(move |token: ApiToken| {
            let sure = web_sys::window()
                .and_then(|w| {
                    w.confirm_with_message(&format!(
                        "Revoke “{}”? Whatever uses it stops working at once.",
                        token.name
                    ))
                    .ok()
                })
                .unwrap_or(false);
            if !sure {
                return;
            }
            let form = form.clone();
            let reload = reload.clone();
            spawn_local(async move {
                match admin::delete(&format!("{TOKENS}/{}", token.id)).await {
                    Ok(()) => reload.emit(()),
                    Err(failure) => form.dispatch(FormAction::Failed(failure.into())),
                }
            });
        })
    };
    let fresh = {
        let form = form.clone();
        Callback::from(move |()| {
            form.dispatch(FormAction::Load {
                values: api_token_values(),
                editing: None,
            });
        })
    };
    let list = &tokens.list;
    html! {
        <section class="card admin-card" aria-labelledby="tokens-title">
            <h2 id="tokens-title" class="card-title">{ "API tokens" }</h2>
            <table id="api-tokens" class="admin-table">
                <thead><tr><th>{ "Name" }</th><th>{ "Acts as" }</th><th>{ "Created" }</th><th>{ "Last used" }</th><th></th></tr></thead>
                <tbody>
                    { for list.items.iter().map(|t| {
                        let onclick = { let revoke = revoke.clone(); let t = t.clone(); Callback::from(move |_: MouseEvent| revoke.emit(t.clone())) };
                        html! {
                            <tr data-id={t.id.to_string()} data-revoked={t.revoked.to_string()}>
                                <td>{ &t.name }</td>
                                <td>{ &t.account }</td>
                                <td>{ time_ms(t.created_at.saturating_mul(1000)) }</td>
                                <td>{ t.last_used_at.map_or_else(|| "never".to_owned(), |s| time_ms(s.saturating_mul(1000))) }</td>
                                <td>
                                    if t.revoked {
                                        <span class="muted">{ "revoked" }</span>
                                    } else {
                                        <button type="button" class="button button-quiet row-revoke" {onclick}>{ "Revoke" }</button>
                                    }
                                </td>
                            </tr>
                        }
                    }) }
                </tbody>
            </table>
            <ListFooter loading={list.loading} error={list.error.clone()} has_more={list.next_cursor.is_some()}
                empty={list.items.is_empty()} empty_text="No API tokens yet." on_more={tokens.more.clone()} />
            <h3 class="card-subtitle">{ "New token" }</h3>
            <form id="api-token-form" class="admin-form" {onsubmit} novalidate=true>
                <Field form={form.clone()} name="name" label="Name" placeholder="CRM backend"
                    help="What uses it, so you know what breaks when you revoke it." />
                <Field form={form.clone()} name="account" label="Acts as" placeholder="you"
                    help="The account whose role the token has (an admin's token can mint embed tokens and change settings). Empty: yours." />
                <FormButtons busy={form.busy} editing=false on_cancel={fresh}
                    error={form.general_error().map(str::to_owned)} done={form.done.clone()} />
            </form>
            if let Some(token) = &*created {
                <div class="new-token" role="status">
                    <p>{ "Copy it now: it is not shown again. Send it as " }<code>{ "Authorization: Bearer …" }</code>{ "." }</p>
                    <output id="new-token"><code>{ token.token.clone() }</code></output>
                </div>
            }
        </section>
    }
}
