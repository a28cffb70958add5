use std::time::Duration;

use shared::api::{CallDirection, Carrier, ChannelUsage, LiveCallState};
use wasm_bindgen_futures::spawn_local;
use yew::prelude::*;

use super::calls::duration;
use super::use_choices;
use crate::api::admin;
use crate::components::admin::AdminPage;
use crate::hooks::{LiveStatus, use_live, use_ticker};

/// Live calls (`table#live-calls`, updated by the server as they change)
/// and each carrier's channels (`table#carrier-channels`).
#[function_component]
pub fn LivePage() -> Html {
    let (calls, status) = use_live();
    use_ticker(Some(Duration::from_secs(1)));
    let now = js_sys::Date::now();
    let (status_text, status_class) = match &status {
        LiveStatus::Connecting => ("Connecting…".to_owned(), "status status-connecting"),
        LiveStatus::Live => ("Live".to_owned(), "status status-registered"),
        LiveStatus::Reconnecting => ("Reconnecting…".to_owned(), "status status-reconnecting"),
        LiveStatus::Failed(message) => (message.clone(), "status status-failed"),
    };
    let state_name = |s: LiveCallState| match s {
        LiveCallState::Ringing => "ringing",
        LiveCallState::Connected => "connected",
        LiveCallState::Held => "on hold",
        LiveCallState::Reconnecting => "agent reconnecting",
    };
    html! {
        <AdminPage page="live" title="Live" intro="Calls in progress, as they change, and how many channels each carrier is using.">
            <section class="card admin-card" aria-labelledby="live-title">
                <div class="card-head">
                    <h2 id="live-title" class="card-title">{ format!("Calls now: {}", calls.len()) }</h2>
                    <span id="live-status" class={status_class} data-state={match status { LiveStatus::Live => "live", LiveStatus::Failed(_) => "failed", _ => "connecting" }}>
                        <span class="status-dot"></span><span class="status-text">{ status_text }</span>
                    </span>
                </div>
                <table id="live-calls" class="admin-table">
                    <thead><tr><th>{ "Agent" }</th><th>{ "Direction" }</th><th>{ "Caller ID" }</th><th>{ "Dialled" }</th><th>{ "Carrier" }</th><th>{ "State" }</th><th>{ "For" }</th></tr></thead>
                    <tbody>
                        { for calls.iter().map(|c| {
                            // Whole seconds since the state began; the clock of
                            // this browser may be a little off.
                            #[allow(clippy::cast_possible_truncation)]
                            let seconds = ((now - c.since_ms as f64) / 1000.0).max(0.0) as i64;
                            html! {
                                <tr data-id={c.id.clone()} data-state={state_name(c.state)}>
                                    <td>{ c.agent.clone().unwrap_or_default() }</td>
                                    <td>{ match c.direction { CallDirection::Outbound => "out", CallDirection::Inbound => "in" } }</td>
                                    <td class="mono">{ c.caller_id.clone().unwrap_or_default() }</td>
                                    <td class="mono">{ &c.dialled }</td>
                                    <td>{ c.carrier.clone().unwrap_or_default() }</td>
                                    <td>{ state_name(c.state) }</td>
                                    <td>{ duration(seconds) }</td>
                                </tr>
                            }
                        }) }
                    </tbody>
                </table>
                if calls.is_empty() {
                    <p class="muted empty-list">{ "No calls right now." }</p>
                }
            </section>
            <Channels generation={calls.len()} />
        </AdminPage>
    }
}

#[derive(Properties, PartialEq)]
struct ChannelsProps {
    /// Reloads when the number of live calls changes.
    generation: usize,
}

#[function_component]
fn Channels(props: &ChannelsProps) -> Html {
    let (carriers, error) = use_choices::<Carrier>("/api/v1/carriers", 0);
    let usage = use_state(Vec::<(i64, Result<ChannelUsage, String>)>::new);
    {
        let usage = usage.clone();
        use_effect_with(
            (carriers.clone(), props.generation),
            move |(carriers, _)| {
                let ids: Vec<i64> = carriers.iter().map(|c| c.id).collect();
                spawn_local(async move {
                    let mut all = Vec::with_capacity(ids.len());
                    for id in ids {
                        let result =
                            admin::get::<ChannelUsage>(&format!("/api/v1/carriers/{id}/channels"))
                                .await
                                .map_err(|f| f.message);
                        all.push((id, result));
                    }
                    usage.set(all);
                });
            },
        );
    }
    html! {
        <section class="card admin-card" aria-labelledby="channels-title">
            <h2 id="channels-title" class="card-title">{ "Channels per carrier" }</h2>
            <p class="muted">{ "Recommended: each carrier's own busiest moment in the last 7 days × 1.2 — what its max channels should cover." }</p>
            if let Some(error) = error {
                <p class="form-error" role="alert">{ error }</p>
            }
            <table id="carrier-channels" class="admin-table">
                <thead><tr><th>{ "Carrier" }</th><th>{ "In use" }</th><th>{ "Limit" }</th><th>{ "7-day peak" }</th><th>{ "Recommended" }</th></tr></thead>
                <tbody>
                    { for carriers.iter().map(|c| {
                        let row = usage.iter().find(|(id, _)| *id == c.id).map(|(_, u)| u);
                        html! {
                            <tr data-id={c.id.to_string()}>
                                <td>{ &c.name }</td>
                                { match row {
                                    None => html! { <td colspan="4" class="muted">{ "…" }</td> },
                                    Some(Err(message)) => html! { <td colspan="4" class="muted">{ message.clone() }</td> },
                                    Some(Ok(u)) => html! {
                                        <>
                                            <td>{ u.in_use }</td>
                                            <td>{ u.max_channels.map_or_else(|| "none".to_owned(), |m| m.to_string()) }</td>
                                            <td>{ u.peak_7d }</td>
                                            if u.below_recommended() {
                                                <td class="channels-short">{ format!("{} ⚠ above the limit", u.recommended) }</td>
                                            } else {
                                                <td>{ u.recommended }</td>
                                            }
                                        </>
                                    },
                                } }
                            </tr>
                        }
                    }) }
                </tbody>
            </table>
        </section>
    }
}
