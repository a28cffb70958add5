use serde_json::Value;
use shared::api::{Agent, Campaign, Role};
use shared::policy::{DestinationPolicy, DialingPolicyDefaults, PrefixList};
use wasm_bindgen_futures::spawn_local;
use yew::prelude::*;

use super::{AdminProps, use_choices};
use crate::api::admin;
use crate::components::admin::{AdminPage, Field, FormButtons, Kind};
use crate::state::admin::policy::{
    policy_input, policy_values, prefix_lines, prefix_list_input, summary,
};
use crate::state::admin::{Form, FormAction, FormFailure};

const DEFAULTS: &str = "/api/v1/dialing-policy";
const PREFIXES: &str = "/api/v1/dialing-policy/prefixes";

/// Whose policy a form edits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owner {
    Role,
    /// May have none ("has its role's"), and lose it.
    Agent,
    /// May have none ("adds no limit"), and lose it.
    Campaign,
}

/// Dialing policy (destination policy): who may call where. The default of
/// each role (`form#role-policy-form`, the role picked in
/// `select#policy-role`) and an agent's own in its place
/// (`form#agent-policy-form`, the agent picked in `select#policy-agent`),
/// a campaign's on top (`form#campaign-policy-form`,
/// `select#policy-campaign`), and the high-risk prefix list
/// (`form#prefix-list-form`). Supervisors see them without saving.
#[function_component]
pub fn DialingPolicyPage(props: &AdminProps) -> Html {
    let role = use_state(|| Role::Agent);
    let agent = use_state(|| None::<i64>);
    let campaign = use_state(|| None::<i64>);
    let defaults = use_state(|| None::<DialingPolicyDefaults>);
    let generation = use_state(|| 0u32);
    let (agents, agents_error) = use_choices::<Agent>("/api/v1/agents", *generation);
    let (campaigns, campaigns_error) = use_choices::<Campaign>("/api/v1/campaigns", *generation);
    {
        let defaults = defaults.clone();
        use_effect_with(*generation, move |_| {
            spawn_local(async move {
                if let Ok(d) = admin::get::<DialingPolicyDefaults>(DEFAULTS).await {
                    defaults.set(Some(d));
                }
            });
        });
    }
    let changed = {
        let generation = generation.clone();
        Callback::from(move |()| generation.set(generation.wrapping_add(1)))
    };
    let on_role = {
        let role = role.clone();
        Callback::from(move |e: Event| {
            let value = e
                .target_unchecked_into::<web_sys::HtmlSelectElement>()
                .value();
            role.set(match value.as_str() {
                "admin" => Role::Admin,
                "supervisor" => Role::Supervisor,
                _ => Role::Agent,
            });
        })
    };
    let on_agent = {
        let agent = agent.clone();
        Callback::from(move |e: Event| {
            let value = e
                .target_unchecked_into::<web_sys::HtmlSelectElement>()
                .value();
            agent.set(value.parse().ok());
        })
    };
    let on_campaign = {
        let campaign = campaign.clone();
        Callback::from(move |e: Event| {
            let value = e
                .target_unchecked_into::<web_sys::HtmlSelectElement>()
                .value();
            campaign.set(value.parse().ok());
        })
    };
    let role_name = |r: Role| match r {
        Role::Admin => "admin",
        Role::Supervisor => "supervisor",
        Role::Agent => "agent",
    };
    let limit = defaults
        .as_ref()
        .filter(|d| !d.dial_countries.is_empty())
        .map(|d| d.dial_countries.join(", "));
    let role_summary = |r: Role| {
        defaults
            .as_ref()
            .and_then(|d| d.roles.iter().find(|p| p.role == r))
            .map(|p| summary(&p.policy))
            .unwrap_or_default()
    };
    let role_path = format!("{DEFAULTS}/roles/{}", role_name(*role));
    let phone_agents: Vec<&Agent> = agents
        .iter()
        .filter(|a| a.enabled || Some(a.id) == *agent)
        .collect();
    html! {
        <AdminPage page="dialing-policy" title="Dialing policy"
            intro="Who may call where. The gateway refuses a call the policy does not allow before any carrier sees it (403, with the reason), and the dial pad says so before dialing.">
            if let Some(limit) = limit {
                <p id="dial-countries-limit" class="card admin-card muted">
                    { format!("This gateway was started with --dial-countries {limit}: no policy can allow calls elsewhere.") }
                </p>
            }
            <div class="policy-grid">
                <section class="card admin-card" aria-labelledby="role-policy-title">
                    <h2 id="role-policy-title" class="card-title">{ "Default for a role" }</h2>
                    <label class="field">
                        <span class="field-label">{ "Role" }</span>
                        <select id="policy-role" name="role" onchange={on_role}>
                            { for [Role::Agent, Role::Supervisor, Role::Admin].into_iter().map(|r| html! {
                                <option value={role_name(r)} selected={r == *role}>
                                    { format!("{} — {}", match r { Role::Agent => "Agents", Role::Supervisor => "Supervisors", Role::Admin => "Admins" }, role_summary(r)) }
                                </option>
                            }) }
                        </select>
                        <span class="field-help">{ "Applies to every account of the role that has no policy of its own." }</span>
                    </label>
                    <PolicyForm key={role_name(*role)} path={role_path} form_id="role-policy-form"
                        can_edit={props.can_edit} owner={Owner::Role} on_change={changed.clone()} />
                </section>
                <section class="card admin-card" aria-labelledby="agent-policy-title">
                    <h2 id="agent-policy-title" class="card-title">{ "One agent's own" }</h2>
                    <label class="field">
                        <span class="field-label">{ "Agent" }</span>
                        <select id="policy-agent" name="agent" onchange={on_agent}>
                            <option value="" selected={agent.is_none()}>{ "Pick an agent…" }</option>
                            { for phone_agents.iter().map(|a| html! {
                                <option value={a.id.to_string()} selected={Some(a.id) == *agent}>
                                    { format!("{} ({})", a.display_name, a.username) }
                                </option>
                            }) }
                        </select>
                        <span class="field-help">{ "An agent's own policy replaces its role's; a campaign's policy applies on top of either." }</span>
                    </label>
                    if let Some(error) = agents_error {
                        <p class="form-error" role="alert">{ error }</p>
                    }
                    if let Some(id) = *agent {
                        <PolicyForm key={id.to_string()} path={format!("/api/v1/agents/{id}/dialing-policy")}
                            form_id="agent-policy-form" can_edit={props.can_edit} owner={Owner::Agent} on_change={changed.clone()} />
                    }
                </section>
                <section class="card admin-card" aria-labelledby="campaign-policy-title">
                    <h2 id="campaign-policy-title" class="card-title">{ "A campaign's" }</h2>
                    <label class="field">
                        <span class="field-label">{ "Campaign" }</span>
                        <select id="policy-campaign" name="campaign" onchange={on_campaign}>
                            <option value="" selected={campaign.is_none()}>{ "Pick a campaign…" }</option>
                            { for campaigns.iter().map(|c| html! {
                                <option value={c.id.to_string()} selected={Some(c.id) == *campaign}>{ c.name.clone() }</option>
                            }) }
                        </select>
                        <span class="field-help">{ "Checked for every agent of the campaign, on top of their own or their role's: a call must pass both." }</span>
                    </label>
                    if let Some(error) = campaigns_error {
                        <p class="form-error" role="alert">{ error }</p>
                    }
                    if let Some(id) = *campaign {
                        <PolicyForm key={id.to_string()} path={format!("/api/v1/campaigns/{id}/dialing-policy")}
                            form_id="campaign-policy-form" can_edit={props.can_edit} owner={Owner::Campaign} on_change={changed.clone()} />
                    }
                </section>
                <PrefixListCard can_edit={props.can_edit} on_change={changed.clone()} />
            </div>
        </AdminPage>
    }
}

#[derive(Properties, PartialEq)]
struct PolicyFormProps {
    /// `GET`/`PUT`/`DELETE` here; the answer has the policy in `policy`.
    path: AttrValue,
    form_id: AttrValue,
    can_edit: bool,
    owner: Owner,
    /// After a save or removal.
    on_change: Callback<()>,
}

/// The policy in an answer (`RolePolicy` or `PolicyOverride`), `None` when
/// the agent has none of its own.
fn policy_of(answer: &Value) -> Result<Option<DestinationPolicy>, FormFailure> {
    serde_json::from_value(answer["policy"].clone()).map_err(|e| FormFailure {
        field: None,
        message: format!("The gateway's answer did not read: {e}"),
    })
}

#[function_component]
fn PolicyForm(props: &PolicyFormProps) -> Html {
    let form = use_reducer(|| Form::new(policy_values(&DestinationPolicy::default())));
    // Whether there is a stored policy (for an agent: one of its own).
    let stored = use_state(|| false);
    let loaded = use_state(|| 0u32);
    {
        let form = form.clone();
        let stored = stored.clone();
        let path = props.path.to_string();
        use_effect_with(*loaded, move |_| {
            spawn_local(async move {
                let got = admin::get::<Value>(&path)
                    .await
                    .map_err(FormFailure::from)
                    .and_then(|answer| {
                        let has = answer["stored"]
                            .as_bool()
                            .unwrap_or(!answer["policy"].is_null());
                        policy_of(&answer).map(|p| (has, p))
                    });
                match got {
                    Ok((has, policy)) => {
                        stored.set(has);
                        form.dispatch(FormAction::Load {
                            values: policy_values(&policy.unwrap_or_default()),
                            editing: None,
                        });
                    }
                    Err(failure) => form.dispatch(FormAction::Failed(failure)),
                }
            });
        });
    }
    let reload = {
        let loaded = loaded.clone();
        Callback::from(move |()| loaded.set(loaded.wrapping_add(1)))
    };
    let onsubmit = {
        let form = form.clone();
        let stored = stored.clone();
        let path = props.path.to_string();
        let on_change = props.on_change.clone();
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            if form.busy {
                return;
            }
            let input = policy_input(&form);
            form.dispatch(FormAction::Submitted);
            let form = form.clone();
            let stored = stored.clone();
            let path = path.clone();
            let on_change = on_change.clone();
            spawn_local(async move {
                let saved = admin::send::<_, Value>("PUT", &path, &input)
                    .await
                    .map_err(FormFailure::from)
                    .and_then(|answer| policy_of(&answer));
                match saved {
                    Ok(policy) => {
                        stored.set(true);
                        form.dispatch(FormAction::Saved {
                            values: policy_values(&policy.unwrap_or_default()),
                            editing: None,
                            message: "Saved. It applies to the next call.".to_owned(),
                        });
                        on_change.emit(());
                    }
                    Err(failure) => form.dispatch(FormAction::Failed(failure)),
                }
            });
        })
    };
    let removable = props.owner != Owner::Role && *stored && props.can_edit;
    let removed = match props.owner {
        Owner::Campaign => "Removed: the campaign adds no limit.",
        _ => "Removed: the agent has its role's policy again.",
    };
    let on_delete = removable.then(|| {
        let form = form.clone();
        let stored = stored.clone();
        let path = props.path.to_string();
        let on_change = props.on_change.clone();
        Callback::from(move |()| {
            form.dispatch(FormAction::Submitted);
            let form = form.clone();
            let stored = stored.clone();
            let path = path.clone();
            let on_change = on_change.clone();
            spawn_local(async move {
                match admin::delete(&path).await {
                    Ok(()) => {
                        stored.set(false);
                        form.dispatch(FormAction::Saved {
                            values: policy_values(&DestinationPolicy::default()),
                            editing: None,
                            message: removed.to_owned(),
                        });
                        on_change.emit(());
                    }
                    Err(failure) => form.dispatch(FormAction::Failed(failure.into())),
                }
            });
        })
    });
    let readonly = !props.can_edit;
    let state_line = match (props.owner, *stored) {
        (Owner::Agent, false) => {
            "No policy of its own: it has its role's. Saving gives it this one instead."
        }
        (Owner::Agent, true) => "Its own policy, in the place of its role's.",
        (Owner::Campaign, false) => "No policy: saving adds this one for its agents.",
        (Owner::Campaign, true) => "Checked for its agents on top of their own or their role's.",
        (Owner::Role, false) => {
            "Nothing saved yet: the safe default (any country, premium and high-risk blocked)."
        }
        (Owner::Role, true) => "Saved for this role.",
    };
    html! {
        <form id={props.form_id.clone()} class="admin-form" {onsubmit} novalidate=true data-stored={stored.to_string()}>
            <p class="muted policy-state">{ state_line }</p>
            <Field form={form.clone()} name="allowed_countries" label="Allowed countries" {readonly}
                placeholder="any country"
                help="ISO codes such as US, CA, GB, separated by commas. North America is read by area code: US does not include Canada or the Caribbean. Empty: any country." />
            <Field form={form.clone()} name="block_premium" label="Block premium-rate numbers" kind={Kind::Check} {readonly}
                help="NANP 900 and 976, and the premium ranges of the prefix list (+44 9 …)." />
            <Field form={form.clone()} name="block_high_risk" label="Block high-risk destinations" kind={Kind::Check} {readonly}
                help="Countries and networks named for toll fraud in the prefix list, and satellite phones." />
            <Field form={form.clone()} name="block_prefixes" label="Blocked prefixes" kind={Kind::Lines} {readonly}
                placeholder="+1 212 555"
                help="One per line, + and digits. Refused whatever the rules above say." />
            <Field form={form.clone()} name="allow_prefixes" label="Allowed prefixes" kind={Kind::Lines} {readonly}
                placeholder="+1 876"
                help="One per line. Allowed whatever the rules above say; the longest matching prefix wins, a block wins a tie." />
            if props.can_edit {
                <FormButtons busy={form.busy} editing=true on_cancel={reload} {on_delete}
                    error={form.general_error().map(str::to_owned)} done={form.done.clone()} />
            } else if let Some(error) = form.general_error() {
                <p class="form-error" role="alert">{ error.to_owned() }</p>
            }
        </form>
    }
}

#[derive(Properties, PartialEq)]
struct PrefixListProps {
    can_edit: bool,
    on_change: Callback<()>,
}

/// The high-risk and premium prefix list, one `prefix | class | note` a
/// line; "Back to the shipped list" drops the edit.
#[function_component]
fn PrefixListCard(props: &PrefixListProps) -> Html {
    let form = use_reducer(|| Form::new([("entries".to_owned(), String::new())].into()));
    let edited = use_state(|| false);
    let loaded = use_state(|| 0u32);
    let show = {
        let edited = edited.clone();
        move |form: &UseReducerHandle<Form>, list: PrefixList, message: Option<String>| {
            edited.set(list.edited);
            let values = [("entries".to_owned(), prefix_lines(&list.entries))].into();
            match message {
                Some(message) => form.dispatch(FormAction::Saved {
                    values,
                    editing: None,
                    message,
                }),
                None => form.dispatch(FormAction::Load {
                    values,
                    editing: None,
                }),
            }
        }
    };
    {
        let form = form.clone();
        let show = show.clone();
        use_effect_with(*loaded, move |_| {
            spawn_local(async move {
                match admin::get::<PrefixList>(PREFIXES).await {
                    Ok(list) => show(&form, list, None),
                    Err(failure) => form.dispatch(FormAction::Failed(failure.into())),
                }
            });
        });
    }
    let reload = {
        let loaded = loaded.clone();
        Callback::from(move |()| loaded.set(loaded.wrapping_add(1)))
    };
    let onsubmit = {
        let form = form.clone();
        let show = show.clone();
        let on_change = props.on_change.clone();
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            if form.busy {
                return;
            }
            let body = match prefix_list_input(form.value("entries")) {
                Ok(body) => body,
                Err(failure) => {
                    form.dispatch(FormAction::Failed(failure));
                    return;
                }
            };
            form.dispatch(FormAction::Submitted);
            let form = form.clone();
            let show = show.clone();
            let on_change = on_change.clone();
            spawn_local(async move {
                match admin::send::<_, PrefixList>("PUT", PREFIXES, &body).await {
                    Ok(list) => {
                        show(
                            &form,
                            list,
                            Some("Saved. It applies to the next call.".to_owned()),
                        );
                        on_change.emit(());
                    }
                    Err(failure) => form.dispatch(FormAction::Failed(failure.into())),
                }
            });
        })
    };
    let to_shipped = {
        let form = form.clone();
        let show = show.clone();
        let on_change = props.on_change.clone();
        Callback::from(move |_: MouseEvent| {
            let sure = web_sys::window()
                .and_then(|w| {
                    w.confirm_with_message(
                        "Drop your edits and use the list shipped with this version?",
                    )
                    .ok()
                })
                .unwrap_or(false);
            if !sure {
                return;
            }
            form.dispatch(FormAction::Submitted);
            let form = form.clone();
            let show = show.clone();
            let on_change = on_change.clone();
            spawn_local(async move {
                let back = async {
                    admin::delete(PREFIXES).await?;
                    admin::get::<PrefixList>(PREFIXES).await
                };
                match back.await {
                    Ok(list) => {
                        show(&form, list, Some("Back to the shipped list.".to_owned()));
                        on_change.emit(());
                    }
                    Err(failure) => form.dispatch(FormAction::Failed(failure.into())),
                }
            });
        })
    };
    let readonly = !props.can_edit;
    html! {
        <section class="card admin-card prefix-list-card" aria-labelledby="prefix-list-title">
            <h2 id="prefix-list-title" class="card-title">{ "High-risk and premium prefixes" }</h2>
            <form id="prefix-list-form" class="admin-form" {onsubmit} novalidate=true data-edited={edited.to_string()}>
                <p class="muted policy-state">{ if *edited { "Your edited list." } else { "The list shipped with this version." } }</p>
                <Field form={form.clone()} name="entries" label="Prefixes" kind={Kind::Lines} {readonly}
                    help="One a line: prefix | class | note. Classes: premium, high_risk and satellite (blocked where a policy blocks premium or high-risk), non_geographic, toll_free, special (always blocked). The longest matching prefix decides." />
                if props.can_edit {
                    <FormButtons busy={form.busy} editing=true on_cancel={reload}
                        error={form.general_error().map(str::to_owned)} done={form.done.clone()} />
                    if *edited {
                        <button type="button" id="prefix-list-shipped" class="button button-quiet" onclick={to_shipped} disabled={form.busy}>
                            { "Back to the shipped list" }
                        </button>
                    }
                } else if let Some(error) = form.general_error() {
                    <p class="form-error" role="alert">{ error.to_owned() }</p>
                }
            </form>
        </section>
    }
}
