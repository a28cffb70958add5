//! Form values (text, by JSON field name) to and from the API's types.
//! Numbers that do not parse are caught here with a message on their
//! field; everything else is the gateway's to check, and its error comes
//! back on the field it names.

use std::collections::BTreeMap;
use std::str::FromStr;

use serde::Serialize;
use serde::de::DeserializeOwned;
use shared::api::{
    Agent, AgentUpdate, ApiTokenInput, Campaign, CampaignInput, Carrier, CarrierInput, Did,
    DidInput, DidRoute, EmbedSettings, EmbedSettingsInput, NewAgent, RingGroup, RingGroupInput,
    Role,
};

use super::{Form, FormFailure};

pub type Values = BTreeMap<String, String>;

fn values<const N: usize>(pairs: [(&str, String); N]) -> Values {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

/// A unit enum's JSON name (`udp`, `request_uri`…).
pub fn enum_str<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

pub(super) fn parse_enum<T: DeserializeOwned>(form: &Form, field: &str) -> Result<T, FormFailure> {
    serde_json::from_value(serde_json::Value::String(form.value(field).to_owned()))
        .map_err(|_| FormFailure::field(field, "Pick one of the choices."))
}

fn number<T: FromStr>(form: &Form, field: &str, hint: &str) -> Result<T, FormFailure> {
    form.value(field)
        .trim()
        .parse::<T>()
        .map_err(|_| FormFailure::field(field, hint))
}

pub(super) fn optional_number<T: FromStr>(
    form: &Form,
    field: &str,
    hint: &str,
) -> Result<Option<T>, FormFailure> {
    if form.value(field).trim().is_empty() {
        Ok(None)
    } else {
        number(form, field, hint).map(Some)
    }
}

fn optional_text(form: &Form, field: &str) -> Option<String> {
    let value = form.value(field).trim();
    (!value.is_empty()).then(|| value.to_owned())
}

fn bool_str(value: bool) -> String {
    value.to_string()
}

/// Items of a list typed one per line or separated by commas.
pub fn split_list(text: &str) -> Vec<String> {
    text.split(['\n', ','])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn opt(value: &Option<impl ToString>) -> String {
    value.as_ref().map(ToString::to_string).unwrap_or_default()
}

/// The carrier form: a new carrier's defaults, or `carrier`'s settings.
/// The secret is never filled in (the API never returns it).
pub fn carrier_values(carrier: Option<&Carrier>) -> Values {
    let Some(c) = carrier else {
        return values([
            ("name", String::new()),
            ("host", String::new()),
            ("port", "5060".to_owned()),
            ("transport", "udp".to_owned()),
            ("username", String::new()),
            ("secret", String::new()),
            ("realm", String::new()),
            ("register", bool_str(false)),
            ("register_expiry_s", "3600".to_owned()),
            ("from_user", String::new()),
            ("from_domain", String::new()),
            ("caller_id", String::new()),
            ("codecs", "PCMU, PCMA".to_owned()),
            ("max_channels", String::new()),
            ("priority", "10".to_owned()),
            ("weight", "1".to_owned()),
            ("qualify", bool_str(true)),
            ("qualify_interval_s", "30".to_owned()),
            ("inbound_sources", String::new()),
            ("inbound_number_from", "request_uri".to_owned()),
            ("number_format", "e164".to_owned()),
            ("tech_prefix", String::new()),
            ("enabled", bool_str(true)),
            ("tls_ca", String::new()),
            ("srtp", "optional".to_owned()),
        ]);
    };
    values([
        ("name", c.name.clone()),
        ("host", c.host.clone()),
        ("port", c.port.to_string()),
        ("transport", enum_str(&c.transport)),
        ("username", opt(&c.username)),
        ("secret", String::new()),
        ("realm", opt(&c.realm)),
        ("register", bool_str(c.register)),
        ("register_expiry_s", c.register_expiry_s.to_string()),
        ("from_user", opt(&c.from_user)),
        ("from_domain", opt(&c.from_domain)),
        ("caller_id", opt(&c.caller_id)),
        ("codecs", c.codecs.join(", ")),
        ("max_channels", opt(&c.max_channels)),
        ("priority", c.priority.to_string()),
        ("weight", c.weight.to_string()),
        ("qualify", bool_str(c.qualify)),
        ("qualify_interval_s", c.qualify_interval_s.to_string()),
        ("inbound_sources", c.inbound_sources.join("\n")),
        ("inbound_number_from", enum_str(&c.inbound_number_from)),
        ("number_format", enum_str(&c.number_format)),
        ("tech_prefix", c.tech_prefix.clone()),
        ("enabled", bool_str(c.enabled)),
        ("tls_ca", opt(&c.tls_ca)),
        ("srtp", enum_str(&c.srtp)),
    ])
}

/// The carrier to send. An empty secret is left out, which keeps the
/// stored one.
pub fn carrier_input(form: &Form) -> Result<CarrierInput, FormFailure> {
    let secret = form.value("secret");
    Ok(CarrierInput {
        name: form.value("name").trim().to_owned(),
        host: form.value("host").trim().to_owned(),
        port: number(
            form,
            "port",
            "The port is a number from 1 to 65535 (SIP's is 5060).",
        )?,
        transport: parse_enum(form, "transport")?,
        username: optional_text(form, "username"),
        secret: (!secret.is_empty()).then(|| secret.to_owned()),
        from_user: optional_text(form, "from_user"),
        from_domain: optional_text(form, "from_domain"),
        caller_id: optional_text(form, "caller_id"),
        codecs: split_list(&form.value("codecs").replace(' ', ",")),
        priority: number(
            form,
            "priority",
            "The priority is a whole number, 0 to 1000.",
        )?,
        number_format: parse_enum(form, "number_format")?,
        tech_prefix: form.value("tech_prefix").trim().to_owned(),
        enabled: form.checked("enabled"),
        inbound_sources: split_list(form.value("inbound_sources")),
        inbound_number_from: parse_enum(form, "inbound_number_from")?,
        srtp: parse_enum(form, "srtp")?,
        realm: optional_text(form, "realm"),
        weight: number(form, "weight", "The weight is a whole number, 1 to 1000.")?,
        max_channels: optional_number(
            form,
            "max_channels",
            "Max channels is a whole number, or empty for no limit.",
        )?,
        register: form.checked("register"),
        register_expiry_s: number(
            form,
            "register_expiry_s",
            "The expiry is a number of seconds, 60 to 86400.",
        )?,
        qualify: form.checked("qualify"),
        qualify_interval_s: number(
            form,
            "qualify_interval_s",
            "The interval is a number of seconds, 1 to 3600.",
        )?,
        // Only a TLS carrier has one (the gateway refuses it otherwise).
        tls_ca: if form.value("transport") == "tls" {
            optional_text(form, "tls_ca")
        } else {
            None
        },
    })
}

pub fn did_values(did: Option<&Did>) -> Values {
    let Some(d) = did else {
        return values([
            ("number", String::new()),
            ("label", String::new()),
            ("carrier_id", String::new()),
            ("route", "agent".to_owned()),
            ("agent", String::new()),
            ("group_id", String::new()),
            ("reject_code", "480".to_owned()),
            ("enabled", bool_str(true)),
        ]);
    };
    values([
        ("number", d.number.clone()),
        ("label", d.label.clone()),
        ("carrier_id", opt(&d.carrier_id)),
        ("route", enum_str(&d.route)),
        ("agent", opt(&d.agent)),
        ("group_id", opt(&d.group_id)),
        (
            "reject_code",
            d.reject_code
                .map_or_else(|| "480".to_owned(), |c| c.to_string()),
        ),
        ("enabled", bool_str(d.enabled)),
    ])
}

/// The DID to send: only the field of the chosen route is set.
pub fn did_input(form: &Form) -> Result<DidInput, FormFailure> {
    let route: DidRoute = parse_enum(form, "route")?;
    let mut input = DidInput {
        number: form.value("number").trim().to_owned(),
        label: form.value("label").trim().to_owned(),
        carrier_id: optional_number(form, "carrier_id", "Pick a carrier, or any.")?,
        route,
        agent: None,
        group_id: None,
        reject_code: None,
        enabled: form.checked("enabled"),
    };
    match route {
        DidRoute::Agent => input.agent = optional_text(form, "agent"),
        DidRoute::Group => {
            input.group_id = optional_number(form, "group_id", "Pick a ring group.")?;
        }
        DidRoute::Reject => {
            input.reject_code = Some(number(
                form,
                "reject_code",
                "The answer is a SIP status such as 480, 486, 404 or 603.",
            )?);
        }
    }
    Ok(input)
}

pub fn ring_group_values(group: Option<&RingGroup>) -> Values {
    let Some(g) = group else {
        return values([
            ("name", String::new()),
            ("strategy", "all".to_owned()),
            ("member_timeout_s", "20".to_owned()),
            ("fallback_code", String::new()),
            ("members", String::new()),
        ]);
    };
    values([
        ("name", g.name.clone()),
        ("strategy", enum_str(&g.strategy)),
        ("member_timeout_s", g.member_timeout_s.to_string()),
        ("fallback_code", opt(&g.fallback_code)),
        ("members", g.members.join("\n")),
    ])
}

pub fn ring_group_input(form: &Form) -> Result<RingGroupInput, FormFailure> {
    Ok(RingGroupInput {
        name: form.value("name").trim().to_owned(),
        strategy: parse_enum(form, "strategy")?,
        member_timeout_s: number(
            form,
            "member_timeout_s",
            "The ring time is a number of seconds, 5 to 300.",
        )?,
        fallback_code: optional_number(
            form,
            "fallback_code",
            "The answer is a SIP status 400 to 699, or empty for 480.",
        )?,
        members: split_list(form.value("members")),
    })
}

/// The CRM widget settings: allowed origins one per line; the webhook
/// secret is never shown (the API never returns it).
pub fn embed_values(settings: &EmbedSettings) -> Values {
    values([
        ("allowed_origins", settings.allowed_origins.join("\n")),
        (
            "webhook_url",
            settings.webhook_url.clone().unwrap_or_default(),
        ),
        ("webhook_secret", String::new()),
        ("remove_webhook_secret", bool_str(false)),
    ])
}

/// The settings to send: an empty secret keeps the stored one, "remove"
/// sends `""` (which clears it).
pub fn embed_input(form: &Form) -> EmbedSettingsInput {
    let secret = form.value("webhook_secret");
    let webhook_secret = if form.checked("remove_webhook_secret") {
        Some(String::new())
    } else {
        (!secret.is_empty()).then(|| secret.to_owned())
    };
    EmbedSettingsInput {
        allowed_origins: split_list(form.value("allowed_origins")),
        webhook_url: optional_text(form, "webhook_url"),
        webhook_secret,
    }
}

/// A new API token: its name, and the account it acts as (empty: yours).
pub fn api_token_values() -> Values {
    values([("name", String::new()), ("account", String::new())])
}

pub fn api_token_input(form: &Form) -> ApiTokenInput {
    ApiTokenInput {
        name: form.value("name").trim().to_owned(),
        account: optional_text(form, "account"),
    }
}

/// The agent form: a new account has a username and a password; an
/// existing one has neither (the username stays; the password has its own
/// reset form).
pub fn agent_values(agent: Option<&Agent>) -> Values {
    let Some(a) = agent else {
        return values([
            ("username", String::new()),
            ("display_name", String::new()),
            ("role", "agent".to_owned()),
            ("password", String::new()),
            ("enabled", bool_str(true)),
            ("max_calls", "1".to_owned()),
            ("local_presence", bool_str(false)),
        ]);
    };
    values([
        ("display_name", a.display_name.clone()),
        ("role", enum_str(&a.role)),
        ("enabled", bool_str(a.enabled)),
        ("max_calls", a.max_calls.to_string()),
        ("local_presence", bool_str(a.local_presence)),
    ])
}

fn max_calls(form: &Form) -> Result<u32, FormFailure> {
    number(form, "max_calls", "Max calls is a whole number, 1 or more.")
}

pub fn new_agent(form: &Form) -> Result<NewAgent, FormFailure> {
    Ok(NewAgent {
        username: form.value("username").trim().to_owned(),
        display_name: form.value("display_name").trim().to_owned(),
        role: parse_enum::<Role>(form, "role")?,
        password: form.value("password").to_owned(),
        enabled: form.checked("enabled"),
        max_calls: max_calls(form)?,
        local_presence: form.checked("local_presence"),
    })
}

pub fn agent_update(form: &Form) -> Result<AgentUpdate, FormFailure> {
    Ok(AgentUpdate {
        display_name: form.value("display_name").trim().to_owned(),
        role: parse_enum::<Role>(form, "role")?,
        enabled: form.checked("enabled"),
        max_calls: max_calls(form)?,
        local_presence: form.checked("local_presence"),
    })
}

pub fn campaign_values(campaign: Option<&Campaign>) -> Values {
    values([
        ("name", campaign.map(|c| c.name.clone()).unwrap_or_default()),
        (
            "numbers",
            campaign.map(|c| c.numbers.join("\n")).unwrap_or_default(),
        ),
        (
            "agents",
            campaign.map(|c| c.agents.join("\n")).unwrap_or_default(),
        ),
    ])
}

pub fn campaign_input(form: &Form) -> CampaignInput {
    CampaignInput {
        name: form.value("name").trim().to_owned(),
        numbers: split_list(form.value("numbers")),
        agents: split_list(form.value("agents")),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use shared::api::{InboundNumberFrom, NumberFormat, SipTransport};

    use super::*;

    fn carrier() -> Carrier {
        Carrier {
            id: 3,
            name: "SIPp".to_owned(),
            host: "127.0.0.1".to_owned(),
            port: 5070,
            transport: SipTransport::Tcp,
            username: Some("trunk".to_owned()),
            has_secret: true,
            from_user: None,
            from_domain: Some("example.com".to_owned()),
            caller_id: None,
            codecs: vec!["PCMA".to_owned(), "PCMU".to_owned()],
            priority: 1,
            number_format: NumberFormat::National,
            tech_prefix: String::new(),
            is_demo: false,
            enabled: true,
            inbound_sources: vec!["127.0.0.1".to_owned(), "192.0.2.0/24".to_owned()],
            inbound_number_from: InboundNumberFrom::To,
            realm: None,
            weight: 5,
            max_channels: Some(30),
            register: false,
            register_expiry_s: 3600,
            qualify: true,
            qualify_interval_s: 60,
            tls_ca: None,
            srtp: shared::api::SrtpMode::Required,
        }
    }

    #[test]
    fn embed_settings_keep_remove_or_replace_the_webhook_secret() {
        let settings = EmbedSettings {
            allowed_origins: vec!["https://crm.example.com".into(), "https://b.example".into()],
            webhook_url: Some("https://crm.example.com/hook".into()),
            has_webhook_secret: true,
        };
        let mut form = Form::new(embed_values(&settings));
        assert_eq!(form.value("webhook_secret"), "");
        let input = embed_input(&form);
        assert_eq!(input.allowed_origins, settings.allowed_origins);
        assert_eq!(input.webhook_url, settings.webhook_url);
        assert_eq!(input.webhook_secret, None, "empty keeps the stored secret");
        let mut set = |name: &str, value: &str| {
            form.values.insert(name.to_owned(), value.to_owned());
            form.clone()
        };
        assert_eq!(
            embed_input(&set("webhook_secret", "s3"))
                .webhook_secret
                .as_deref(),
            Some("s3")
        );
        let removed = set("remove_webhook_secret", "true");
        assert_eq!(embed_input(&removed).webhook_secret.as_deref(), Some(""));
        let mut token = Form::new(api_token_values());
        token.values.insert("account".to_owned(), " ".to_owned());
        assert_eq!(api_token_input(&token).account, None);
    }

    #[test]
    fn a_carrier_round_trips_through_the_form_without_its_secret() {
        let form = Form::new(carrier_values(Some(&carrier())));
        assert_eq!(form.value("secret"), "");
        assert_eq!(form.value("transport"), "tcp");
        assert_eq!(form.value("inbound_number_from"), "to");
        let input = carrier_input(&form).unwrap();
        assert_eq!(input.secret, None, "an empty secret keeps the stored one");
        assert_eq!(input.codecs, ["PCMA", "PCMU"]);
        assert_eq!(input.inbound_sources, ["127.0.0.1", "192.0.2.0/24"]);
        assert_eq!(input.max_channels, Some(30));
        assert_eq!(input.transport, SipTransport::Tcp);
        assert_eq!(input.number_format, NumberFormat::National);
        assert_eq!(input.from_domain.as_deref(), Some("example.com"));
        assert_eq!(input.from_user, None);
        assert_eq!((input.weight, input.port), (5, 5070));
        assert_eq!(input.srtp, shared::api::SrtpMode::Required);
    }

    #[test]
    fn a_new_carrier_has_working_defaults_and_a_typed_secret_is_sent() {
        let mut form = Form::new(carrier_values(None));
        form.values.insert("secret".into(), "s3cret".into());
        form.values.insert("max_channels".into(), " ".into());
        let input = carrier_input(&form).unwrap();
        assert_eq!(input.secret.as_deref(), Some("s3cret"));
        assert_eq!(input.max_channels, None);
        assert_eq!(input.port, 5060);
        assert!(input.qualify && input.enabled && !input.register);
    }

    #[test]
    fn numbers_that_do_not_parse_are_reported_on_their_field() {
        let mut form = Form::new(carrier_values(None));
        form.values.insert("port".into(), "70000".into());
        assert_eq!(
            carrier_input(&form).unwrap_err().field.as_deref(),
            Some("port")
        );
        let mut form = Form::new(carrier_values(None));
        form.values.insert("max_channels".into(), "ten".into());
        assert_eq!(
            carrier_input(&form).unwrap_err().field.as_deref(),
            Some("max_channels")
        );
    }

    #[test]
    fn a_did_sends_only_its_routes_field() {
        let mut form = Form::new(did_values(None));
        form.values.insert("number".into(), "+14155550188".into());
        form.values.insert("agent".into(), "demo".into());
        form.values.insert("group_id".into(), "4".into());
        let input = did_input(&form).unwrap();
        assert_eq!(input.route, DidRoute::Agent);
        assert_eq!(input.agent.as_deref(), Some("demo"));
        assert_eq!((input.group_id, input.reject_code), (None, None));
        assert_eq!(input.carrier_id, None);

        form.values.insert("route".into(), "reject".into());
        form.values.insert("carrier_id".into(), "2".into());
        let input = did_input(&form).unwrap();
        assert_eq!((input.agent, input.reject_code), (None, Some(480)));
        assert_eq!(input.carrier_id, Some(2));
    }

    #[test]
    fn lists_split_on_lines_and_commas() {
        assert_eq!(
            split_list("alice\n bob, carol ,,\n"),
            ["alice", "bob", "carol"]
        );
        let mut form = Form::new(ring_group_values(None));
        form.values.insert("name".into(), "Sales".into());
        form.values.insert("members".into(), "alice\nbob".into());
        let input = ring_group_input(&form).unwrap();
        assert_eq!(input.members, ["alice", "bob"]);
        assert_eq!(input.fallback_code, None);
    }

    #[test]
    fn agent_forms_for_new_and_existing_accounts() {
        let mut form = Form::new(agent_values(None));
        form.values.insert("username".into(), " Alice ".into());
        form.values.insert("password".into(), "long enough".into());
        let input = new_agent(&form).unwrap();
        assert_eq!(input.username, "Alice");
        assert_eq!(input.role, Role::Agent);
        let form = Form::new(agent_values(Some(&Agent {
            id: 2,
            username: "bob".into(),
            display_name: "Bob".into(),
            role: Role::Supervisor,
            enabled: false,
            max_calls: 2,
            local_presence: true,
            locked_until: None,
            created_at: 0,
        })));
        assert!(!form.values.contains_key("password"));
        let update = agent_update(&form).unwrap();
        assert_eq!(update.role, Role::Supervisor);
        assert!(!update.enabled && update.local_presence);
    }
}
