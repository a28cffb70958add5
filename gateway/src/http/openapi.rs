//! `GET /api/v1/openapi.json`: the OpenAPI 3.0 document of the API.
//!
//! Written by hand as data (a table of operations and a table of schemas)
//! rather than generated with `utoipa`: the API types live in `shared`,
//! which the browser compiles to wasm, and deriving `ToSchema` there would
//! put utoipa and its proc macros into the client's build for a document
//! only the gateway serves. The price is keeping two descriptions in step;
//! the tests pay it: every route of the router must appear here with
//! exactly its methods (`openapi_covers_every_route`), and schemathesis
//! checks the document against the running gateway (`scripts/fuzz-api.sh`).

use axum::Json;
use serde_json::{Map, Value, json};

/// Who may call an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No sign-in needed.
    Public,
    /// Any signed-in account (agents see only their own data).
    SignedIn,
    /// Admins and supervisors.
    Reader,
    /// Admins only.
    Admin,
}

/// What an operation takes in its body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    None,
    /// JSON described by a schema in `components/schemas`.
    Json(&'static str),
    /// A CSV file (`text/csv`).
    Csv,
}

/// What a successful answer carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Json(u16, &'static str),
    /// `Page<T>`, named `Page<T>` in the schemas.
    Page(&'static str),
    Empty(u16),
    Csv,
    Events(&'static str),
}

pub struct Op {
    pub method: &'static str,
    pub path: &'static str,
    pub summary: &'static str,
    pub access: Access,
    pub query: &'static [(&'static str, &'static str, &'static str)],
    pub body: Body,
    pub answer: Answer,
}

/// `limit` and `cursor`, which every list takes.
const PAGED: &[(&str, &str, &str)] = &[
    ("limit", "integer", "Page size, 1..=500 (default 50)."),
    ("cursor", "string", "`next_cursor` of the previous page."),
];

const CALL_FILTERS: &[(&str, &str, &str)] = &[
    ("limit", "integer", "Page size, 1..=500 (default 50)."),
    ("cursor", "string", "`next_cursor` of the previous page."),
    (
        "from",
        "integer",
        "Calls that started at or after (Unix ms).",
    ),
    ("to", "integer", "Calls that started before (Unix ms)."),
    ("agent", "string", "The agent's username."),
    ("carrier_id", "integer", "The carrier."),
    (
        "did",
        "string",
        "A DID (E.164): dialled on inbound calls, presented on outbound ones.",
    ),
    ("direction", "string", "`outbound` or `inbound`."),
    (
        "outcome",
        "string",
        "`answered`, `missed`, `failed`, `busy` or `no_answer`.",
    ),
];

const CSV_FILTERS: &[(&str, &str, &str)] = &[
    (
        "from",
        "integer",
        "Calls that started at or after (Unix ms).",
    ),
    ("to", "integer", "Calls that started before (Unix ms)."),
    ("agent", "string", "The agent's username."),
    ("carrier_id", "integer", "The carrier."),
    ("did", "string", "A DID (E.164)."),
    ("direction", "string", "`outbound` or `inbound`."),
    (
        "outcome",
        "string",
        "`answered`, `missed`, `failed`, `busy` or `no_answer`.",
    ),
];

const AUDIT_QUERY: &[(&str, &str, &str)] = &[
    ("limit", "integer", "Page size, 1..=500 (default 50)."),
    ("cursor", "string", "`next_cursor` of the previous page."),
    (
        "entity",
        "string",
        "Only entries about this entity, e.g. `carrier`.",
    ),
];

const fn op(
    method: &'static str,
    path: &'static str,
    summary: &'static str,
    access: Access,
    body: Body,
    answer: Answer,
) -> Op {
    Op {
        method,
        path,
        summary,
        access,
        query: &[],
        body,
        answer,
    }
}

const fn list(path: &'static str, summary: &'static str, access: Access, item: &'static str) -> Op {
    Op {
        method: "get",
        path,
        summary,
        access,
        query: PAGED,
        body: Body::None,
        answer: Answer::Page(item),
    }
}

use Access::{Admin, Public, Reader, SignedIn};

/// Every operation of the API.
pub const OPERATIONS: &[Op] = &[
    op(
        "get",
        "/openapi.json",
        "This document.",
        Public,
        Body::None,
        Answer::Json(200, "OpenApi"),
    ),
    op(
        "get",
        "/session",
        "The signed-in account, with a fresh SIP credential.",
        SignedIn,
        Body::None,
        Answer::Json(200, "SessionInfo"),
    ),
    op(
        "post",
        "/session",
        "Sign in: sets the httpOnly, SameSite=Strict session cookie. An unknown username and a wrong password get the same 401. 5 failures in a row from one address for one username lock that address out of that username for 15 minutes (429, Retry-After); other addresses may still sign in.",
        Public,
        Body::Json("SignInRequest"),
        Answer::Json(200, "SessionInfo"),
    ),
    op(
        "delete",
        "/session",
        "Sign out: ends the session and revokes its SIP credential.",
        Public,
        Body::None,
        Answer::Empty(204),
    ),
    list(
        "/carriers",
        "Carriers, in the order calls try them.",
        Reader,
        "Carrier",
    ),
    op(
        "post",
        "/carriers",
        "Add a carrier. The secret is write-only.",
        Admin,
        Body::Json("CarrierInput"),
        Answer::Json(201, "Carrier"),
    ),
    op(
        "get",
        "/carriers/{id}",
        "One carrier.",
        Reader,
        Body::None,
        Answer::Json(200, "Carrier"),
    ),
    op(
        "put",
        "/carriers/{id}",
        "Replace a carrier's settings; a missing secret keeps the stored one.",
        Admin,
        Body::Json("CarrierInput"),
        Answer::Json(200, "Carrier"),
    ),
    op(
        "delete",
        "/carriers/{id}",
        "Delete a carrier.",
        Admin,
        Body::None,
        Answer::Empty(204),
    ),
    op(
        "get",
        "/carriers/{id}/channels",
        "Channels in use, this carrier's 7-day peak and its recommended max channels (that peak × 1.2, rounded up).",
        Reader,
        Body::None,
        Answer::Json(200, "ChannelUsage"),
    ),
    op(
        "get",
        "/carriers/{id}/status",
        "Qualify (OPTIONS) and registration state of the trunk, live.",
        Reader,
        Body::None,
        Answer::Json(200, "TrunkStatus"),
    ),
    op(
        "get",
        "/carriers/{id}/rates",
        "The carrier's rate table by prefix; prices per minute in 1/10000 of its currency.",
        Reader,
        Body::None,
        Answer::Json(200, "RateList"),
    ),
    op(
        "put",
        "/carriers/{id}/rates",
        "Replace the rate table from CSV: prefix,price_per_minute[,description] (header optional, price a decimal like 0.0123). Nothing is saved when a line is bad.",
        Admin,
        Body::Csv,
        Answer::Json(200, "RateList"),
    ),
    op(
        "get",
        "/carriers/status",
        "Qualify and registration state of every carrier that has one, live.",
        Reader,
        Body::None,
        Answer::Json(200, "TrunkStatusList"),
    ),
    Op {
        method: "get",
        path: "/calls",
        summary: "Call records, newest first (agents: their own).",
        access: SignedIn,
        query: CALL_FILTERS,
        body: Body::None,
        answer: Answer::Page("CallRecord"),
    },
    Op {
        method: "get",
        path: "/calls.csv",
        summary: "The same records as CSV, with a header row (at most 100000).",
        access: SignedIn,
        query: CSV_FILTERS,
        body: Body::None,
        answer: Answer::Csv,
    },
    op(
        "get",
        "/calls/{id}",
        "One call record by its id, with its media quality per leg (agents: their own calls only; 404 otherwise).",
        SignedIn,
        Body::None,
        Answer::Json(200, "CallRecord"),
    ),
    op(
        "get",
        "/live",
        "Calls in progress as Server-Sent Events: `event: calls`, data a JSON array of LiveCall, at once and after every change.",
        Reader,
        Body::None,
        Answer::Events("LiveCall"),
    ),
    list("/dids", "Our numbers, by number.", Reader, "Did"),
    op(
        "post",
        "/dids",
        "Add a DID.",
        Admin,
        Body::Json("DidInput"),
        Answer::Json(201, "Did"),
    ),
    op(
        "post",
        "/dids/import",
        "Import DIDs from CSV: number,label,route,target,carrier. Valid rows are saved even when others fail.",
        Admin,
        Body::Csv,
        Answer::Json(200, "DidImportReport"),
    ),
    op(
        "get",
        "/dids/{id}",
        "One DID.",
        Reader,
        Body::None,
        Answer::Json(200, "Did"),
    ),
    op(
        "put",
        "/dids/{id}",
        "Replace a DID.",
        Admin,
        Body::Json("DidInput"),
        Answer::Json(200, "Did"),
    ),
    op(
        "delete",
        "/dids/{id}",
        "Delete a DID.",
        Admin,
        Body::None,
        Answer::Empty(204),
    ),
    list("/ring-groups", "Ring groups, by id.", Reader, "RingGroup"),
    op(
        "post",
        "/ring-groups",
        "Add a ring group.",
        Admin,
        Body::Json("RingGroupInput"),
        Answer::Json(201, "RingGroup"),
    ),
    op(
        "get",
        "/ring-groups/{id}",
        "One ring group.",
        Reader,
        Body::None,
        Answer::Json(200, "RingGroup"),
    ),
    op(
        "put",
        "/ring-groups/{id}",
        "Replace a ring group.",
        Admin,
        Body::Json("RingGroupInput"),
        Answer::Json(200, "RingGroup"),
    ),
    op(
        "delete",
        "/ring-groups/{id}",
        "Delete a ring group; its DIDs answer 480 until changed.",
        Admin,
        Body::None,
        Answer::Empty(204),
    ),
    list("/agents", "Accounts, by id.", Reader, "Agent"),
    op(
        "post",
        "/agents",
        "Add an account.",
        Admin,
        Body::Json("NewAgent"),
        Answer::Json(201, "Agent"),
    ),
    op(
        "get",
        "/agents/{id}",
        "One account.",
        Reader,
        Body::None,
        Answer::Json(200, "Agent"),
    ),
    op(
        "put",
        "/agents/{id}",
        "Change an account; disabling it signs it out everywhere.",
        Admin,
        Body::Json("AgentUpdate"),
        Answer::Json(200, "Agent"),
    ),
    op(
        "post",
        "/agents/{id}/password",
        "Set a new password; the account's sessions end.",
        Admin,
        Body::Json("PasswordReset"),
        Answer::Empty(204),
    ),
    op(
        "get",
        "/agents/{id}/caller-ids",
        "The caller IDs the agent may present.",
        Reader,
        Body::None,
        Answer::Json(200, "CallerIds"),
    ),
    op(
        "put",
        "/agents/{id}/caller-ids",
        "Replace the agent's caller IDs; each must be an enabled DID.",
        Admin,
        Body::Json("CallerIds"),
        Answer::Json(200, "CallerIds"),
    ),
    op(
        "get",
        "/agents/{id}/dialing-policy",
        "The agent's own destination policy (`policy` null: it has its role's).",
        Reader,
        Body::None,
        Answer::Json(200, "PolicyOverride"),
    ),
    op(
        "put",
        "/agents/{id}/dialing-policy",
        "Give the agent a destination policy of its own, in the place of its role's; applies to its next call.",
        Admin,
        Body::Json("DestinationPolicy"),
        Answer::Json(200, "PolicyOverride"),
    ),
    op(
        "delete",
        "/agents/{id}/dialing-policy",
        "The agent has its role's destination policy again.",
        Admin,
        Body::None,
        Answer::Empty(204),
    ),
    list("/campaigns", "Campaigns, by id.", Reader, "Campaign"),
    op(
        "post",
        "/campaigns",
        "Add a campaign.",
        Admin,
        Body::Json("CampaignInput"),
        Answer::Json(201, "Campaign"),
    ),
    op(
        "get",
        "/campaigns/{id}",
        "One campaign.",
        Reader,
        Body::None,
        Answer::Json(200, "Campaign"),
    ),
    op(
        "put",
        "/campaigns/{id}",
        "Replace a campaign.",
        Admin,
        Body::Json("CampaignInput"),
        Answer::Json(200, "Campaign"),
    ),
    op(
        "delete",
        "/campaigns/{id}",
        "Delete a campaign.",
        Admin,
        Body::None,
        Answer::Empty(204),
    ),
    op(
        "get",
        "/campaigns/{id}/dialing-policy",
        "The campaign's destination policy (`policy` null: none).",
        Reader,
        Body::None,
        Answer::Json(200, "PolicyOverride"),
    ),
    op(
        "put",
        "/campaigns/{id}/dialing-policy",
        "Set the campaign's destination policy, checked for its agents on top of their own or their role's.",
        Admin,
        Body::Json("DestinationPolicy"),
        Answer::Json(200, "PolicyOverride"),
    ),
    op(
        "delete",
        "/campaigns/{id}/dialing-policy",
        "Remove the campaign's destination policy.",
        Admin,
        Body::None,
        Answer::Empty(204),
    ),
    op(
        "get",
        "/dialing-policy",
        "The destination policy of each role and the gateway's --dial-countries limit.",
        Reader,
        Body::None,
        Answer::Json(200, "DialingPolicyDefaults"),
    ),
    op(
        "get",
        "/dialing-policy/roles/{role}",
        "One role's destination policy.",
        Reader,
        Body::None,
        Answer::Json(200, "RolePolicy"),
    ),
    op(
        "put",
        "/dialing-policy/roles/{role}",
        "Set the destination policy of the role's accounts that have none of their own; applies to their next call.",
        Admin,
        Body::Json("DestinationPolicy"),
        Answer::Json(200, "RolePolicy"),
    ),
    op(
        "delete",
        "/dialing-policy/roles/{role}",
        "The role goes back to the default destination policy (premium and high-risk blocked, any country).",
        Admin,
        Body::None,
        Answer::Json(200, "RolePolicy"),
    ),
    op(
        "get",
        "/dialing-policy/prefixes",
        "The high-risk and premium prefix list in force (the shipped one unless edited).",
        Reader,
        Body::None,
        Answer::Json(200, "PrefixList"),
    ),
    op(
        "put",
        "/dialing-policy/prefixes",
        "Replace the high-risk and premium prefix list.",
        Admin,
        Body::Json("PrefixListInput"),
        Answer::Json(200, "PrefixList"),
    ),
    op(
        "delete",
        "/dialing-policy/prefixes",
        "Go back to the shipped prefix list.",
        Admin,
        Body::None,
        Answer::Json(200, "PrefixList"),
    ),
    list(
        "/tokens",
        "API tokens (never the tokens themselves).",
        Admin,
        "ApiToken",
    ),
    op(
        "post",
        "/tokens",
        "Create an API token; the answer is the only time it is shown.",
        Admin,
        Body::Json("ApiTokenInput"),
        Answer::Json(201, "ApiTokenCreated"),
    ),
    op(
        "delete",
        "/tokens/{id}",
        "Revoke an API token.",
        Admin,
        Body::None,
        Answer::Empty(204),
    ),
    op(
        "get",
        "/security/bans",
        "The banned sources (failed authentications over SIP or the web, floods, scanners, admins' bans), newest first.",
        Admin,
        Body::None,
        Answer::Json(200, "BanList"),
    ),
    op(
        "post",
        "/security/bans",
        "Ban a source by hand; 400 `allowlisted` for an allowlisted or carrier address.",
        Admin,
        Body::Json("BanInput"),
        Answer::Json(201, "BanEntry"),
    ),
    op(
        "get",
        "/security/alerts",
        "The newest alerts (at most 100: limits reached, new destinations, night calls, spikes), newest first; each also goes out as the `alert.raised` webhook.",
        Admin,
        Body::None,
        Answer::Json(200, "AlertList"),
    ),
    op(
        "get",
        "/security/settings",
        "The fraud limits in force, the guard's settings (from the gateway's flags) and today's counts.",
        Admin,
        Body::None,
        Answer::Json(200, "SecuritySettings"),
    ),
    op(
        "put",
        "/security/limits",
        "Set the fraud limits (calls a minute, daily spend caps per agent, campaign and gateway, daily international minutes; each blocks or only alerts). Saved, they win over the flags; counted anew at once.",
        Admin,
        Body::Json("FraudLimits"),
        Answer::Json(200, "SecuritySettings"),
    ),
    op(
        "get",
        "/quality/carriers",
        "Per-carrier quality over a range (`from`/`to` Unix seconds, default the last 24 h; `bucket` hour or day): a row per carrier and bucket (ASR, NER, ACD, minutes, PDD p50/p95, loss, jitter, MOS), each carrier over the range with its loss and MOS distributions, channel sizing (peak × 1.2 against its limit) and threshold, and the worst calls.",
        Reader,
        Body::None,
        Answer::Json(200, "QualityReport"),
    ),
    op(
        "put",
        "/quality/thresholds/{id}",
        "Set a carrier's alert threshold over the last hour (MOS below `min_mos` or ASR below `min_asr` %, once it has `min_calls` calls): crossing it raises a `quality` alert, at most once an hour per carrier.",
        Admin,
        Body::Json("QualityThresholdInput"),
        Answer::Json(200, "QualityThreshold"),
    ),
    op(
        "delete",
        "/security/bans/{ip}",
        "Lift a ban; 404 when the address is not banned.",
        Admin,
        Body::None,
        Answer::Empty(204),
    ),
    op(
        "post",
        "/embed/tokens",
        "Mint a short-lived token that signs one agent into the embedded phone (a CRM backend calls this with its API token).",
        Admin,
        Body::Json("EmbedTokenRequest"),
        Answer::Json(201, "EmbedToken"),
    ),
    op(
        "post",
        "/embed/session",
        "The embedded phone trades an embed token for a session (bearer `dls_…`) and a SIP credential; 401 `token_expired`/`invalid_token`, 403 `origin_not_allowed`.",
        Public,
        Body::Json("EmbedSessionRequest"),
        Answer::Json(200, "EmbedSession"),
    ),
    op(
        "get",
        "/embed/config",
        "The origins allowed to embed the phone.",
        Public,
        Body::None,
        Answer::Json(200, "EmbedConfig"),
    ),
    op(
        "get",
        "/embed/settings",
        "Embedding settings: allowed origins and the call-event webhook.",
        Admin,
        Body::None,
        Answer::Json(200, "EmbedSettings"),
    ),
    op(
        "put",
        "/embed/settings",
        "Change the embedding settings.",
        Admin,
        Body::Json("EmbedSettingsInput"),
        Answer::Json(200, "EmbedSettings"),
    ),
    Op {
        method: "get",
        path: "/audit",
        summary: "The audit log, newest first.",
        access: Admin,
        query: AUDIT_QUERY,
        body: Body::None,
        answer: Answer::Page("AuditEntry"),
    },
];

// ------------------------------------------------------------ schema helpers

fn r(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}
fn string() -> Value {
    json!({"type": "string"})
}
fn nstring() -> Value {
    json!({"type": "string", "nullable": true})
}
fn int() -> Value {
    json!({"type": "integer", "format": "int64"})
}
fn nint() -> Value {
    json!({"type": "integer", "format": "int64", "nullable": true})
}
fn range(min: i64, max: i64) -> Value {
    json!({"type": "integer", "minimum": min, "maximum": max})
}
fn boolean() -> Value {
    json!({"type": "boolean"})
}
fn one_of(values: &[&str]) -> Value {
    json!({"type": "string", "enum": values})
}
fn array(items: Value) -> Value {
    json!({"type": "array", "items": items})
}
fn object(required: &[&str], properties: Vec<(&str, Value)>) -> Value {
    let props: Map<String, Value> = properties
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    let mut o = json!({"type": "object", "properties": props});
    if !required.is_empty() {
        o["required"] = json!(required);
    }
    o
}

fn number() -> Value {
    json!({"type": "number"})
}
fn nnumber() -> Value {
    json!({"type": "number", "nullable": true})
}

/// `shared::api::CallQuality`: per leg, what the gateway received, what
/// the far end reported, the round trip and the E-model's R and MOS × 100.
fn call_quality() -> Value {
    let stream = || {
        object(
            &["packets", "lost", "jitter_us"],
            vec![("packets", int()), ("lost", int()), ("jitter_us", int())],
        )
    };
    let mut far_end = stream();
    far_end["nullable"] = json!(true);
    let mut leg = object(
        &["received", "r_factor", "mos_x100"],
        vec![
            ("received", stream()),
            ("far_end", far_end),
            ("rtt_ms", nint()),
            ("r_factor", int()),
            ("mos_x100", int()),
        ],
    );
    leg["nullable"] = json!(true);
    let mut q = object(&[], vec![("carrier", leg.clone()), ("browser", leg)]);
    q["nullable"] = json!(true);
    q
}

/// `shared::api::QualityThreshold` (`input`: the PUT body, all optional).
fn quality_threshold(input: bool) -> Value {
    let min_calls = if input {
        json!({"type": "integer", "minimum": 1, "maximum": 100000, "nullable": true})
    } else {
        int()
    };
    object(
        if input { &[] } else { &["min_calls"] },
        vec![
            (
                "min_mos",
                json!({"type": "number", "minimum": 1, "maximum": 4.5, "nullable": true}),
            ),
            (
                "min_asr",
                json!({"type": "number", "minimum": 0, "maximum": 100, "nullable": true}),
            ),
            ("min_calls", min_calls),
        ],
    )
}

/// The figures a carrier's row and summary share (`row`: with the bucket).
fn quality_figures(row: bool) -> Vec<(&'static str, Value)> {
    let mut v = vec![
        ("carrier_id", int()),
        ("carrier", string()),
        ("calls", int()),
        ("asr", number()),
        ("ner", number()),
        ("acd_s", number()),
        ("minutes", number()),
        ("pdd_p50_ms", nint()),
        ("pdd_p95_ms", nint()),
        ("loss_avg", nnumber()),
        ("loss_p95", nnumber()),
        ("jitter_avg_ms", nnumber()),
        ("mos_avg", nnumber()),
        ("media_calls", int()),
    ];
    if row {
        v.extend([("bucket_start", int()), ("answered", int())]);
    }
    v
}

/// No properties beyond those listed (the body is read with
/// `deny_unknown_fields`).
fn closed(mut o: Value) -> Value {
    o["additionalProperties"] = json!(false);
    o
}

/// `shared::api::FraudLimits`: money in 1/10000 of the carriers'
/// currency, above 0 or null (no cap); minutes 1 to 1440000 or null.
fn fraud_limits() -> Value {
    let money = || json!({"type": "integer", "format": "int64", "minimum": 1, "nullable": true});
    let minutes =
        || json!({"type": "integer", "minimum": 1, "maximum": 1_440_000, "nullable": true});
    let action = || one_of(&["block", "alert"]);
    object(
        &[
            "agent_calls_per_minute",
            "gateway_calls_per_minute",
            "velocity_action",
            "spend_action",
            "international_action",
        ],
        vec![
            ("agent_calls_per_minute", range(0, 10_000)),
            ("gateway_calls_per_minute", range(0, 100_000)),
            ("velocity_action", action()),
            ("agent_daily_spend", money()),
            ("campaign_daily_spend", money()),
            ("gateway_daily_spend", money()),
            ("spend_action", action()),
            ("agent_international_minutes", minutes()),
            ("gateway_international_minutes", minutes()),
            ("international_action", action()),
        ],
    )
}

fn destination_policy() -> Value {
    let prefixes = json!({"type": "array", "maxItems": 1000,
        "items": {"type": "string", "description": "`+` and digits, e.g. `+1 876`"}});
    closed(object(
        &[],
        vec![
            (
                "allowed_countries",
                json!({"type": "array", "maxItems": 300,
                       "items": {"type": "string", "description": "ISO 3166 alpha-2, e.g. `US`"},
                       "description": "Empty: any country."}),
            ),
            ("block_premium", json!({"type": "boolean", "default": true})),
            (
                "block_high_risk",
                json!({"type": "boolean", "default": true}),
            ),
            ("allow_prefixes", prefixes.clone()),
            ("block_prefixes", prefixes),
        ],
    ))
}

fn carrier_settings() -> Vec<(&'static str, Value)> {
    vec![
        (
            "name",
            json!({"type": "string", "minLength": 1, "maxLength": 64}),
        ),
        (
            "host",
            json!({"type": "string", "minLength": 1, "maxLength": 253}),
        ),
        ("port", range(1, 65535)),
        ("transport", one_of(&["udp", "tcp", "tls"])),
        ("username", nstring()),
        ("from_user", nstring()),
        ("from_domain", nstring()),
        ("caller_id", nstring()),
        ("codecs", array(one_of(&["PCMU", "PCMA"]))),
        ("priority", range(0, 1000)),
        (
            "number_format",
            one_of(&["e164", "e164_without_plus", "national"]),
        ),
        ("tech_prefix", string()),
        ("enabled", boolean()),
        ("inbound_sources", array(string())),
        (
            "inbound_number_from",
            one_of(&["request_uri", "to", "diversion"]),
        ),
        ("realm", nstring()),
        ("weight", range(1, 1000)),
        (
            "max_channels",
            json!({"type": "integer", "minimum": 1, "maximum": 100000, "nullable": true}),
        ),
        ("register", boolean()),
        ("register_expiry_s", range(60, 86400)),
        ("qualify", boolean()),
        ("qualify_interval_s", range(1, 3600)),
        (
            "tls_ca",
            json!({"type": "string", "nullable": true, "maxLength": 65536,
                   "description": "PEM CA for a TLS carrier (pinned); null: public roots"}),
        ),
        (
            "srtp",
            json!({"type": "string", "enum": ["optional", "required"],
                   "description": "SRTP with SDES keys: optional (answered when the carrier offers it) or required (plain RTP refused)"}),
        ),
    ]
}

fn schemas() -> Map<String, Value> {
    let role = one_of(&["admin", "supervisor", "agent"]);
    let direction = one_of(&["outbound", "inbound"]);
    let choice = r("CallerIdChoice");
    let mut carrier_input = carrier_settings();
    carrier_input.push((
        "secret",
        json!({"type": "string", "nullable": true, "writeOnly": true, "maxLength": 256}),
    ));
    let mut carrier = carrier_settings();
    carrier.extend([
        ("id", int()),
        ("has_secret", boolean()),
        ("is_demo", boolean()),
    ]);
    let carrier_required = [
        "id",
        "name",
        "host",
        "port",
        "transport",
        "has_secret",
        "codecs",
        "priority",
        "number_format",
        "tech_prefix",
        "is_demo",
        "enabled",
    ];
    let pairs: Vec<(&str, Value)> = vec![
        (
            "ApiError",
            object(
                &["code", "message"],
                vec![
                    ("code", string()),
                    ("message", string()),
                    ("field", string()),
                ],
            ),
        ),
        ("OpenApi", json!({"type": "object"})),
        (
            "SignInRequest",
            object(
                &["username", "password"],
                vec![("username", string()), ("password", string())],
            ),
        ),
        (
            "AccountInfo",
            object(
                &["id", "username", "display_name", "role"],
                vec![
                    ("id", int()),
                    ("username", string()),
                    ("display_name", string()),
                    ("role", role.clone()),
                ],
            ),
        ),
        (
            "SipCredential",
            object(
                &[
                    "username",
                    "password",
                    "realm",
                    "aor",
                    "display_name",
                    "expires_at",
                ],
                vec![
                    ("username", string()),
                    ("password", string()),
                    ("realm", string()),
                    ("aor", string()),
                    ("display_name", string()),
                    ("expires_at", int()),
                ],
            ),
        ),
        (
            "CallerIdChoice",
            object(
                &["number", "label"],
                vec![("number", string()), ("label", string())],
            ),
        ),
        (
            "DialingProfile",
            object(
                &["default_country", "caller_ids", "default_caller_id"],
                vec![
                    ("default_country", string()),
                    ("caller_ids", array(choice.clone())),
                    ("default_caller_id", nstring()),
                    ("local_presence", boolean()),
                    ("destination_policies", array(r("DestinationPolicy"))),
                    ("prefix_list", array(r("PrefixEntry"))),
                ],
            ),
        ),
        ("DestinationPolicy", destination_policy()),
        (
            "RolePolicy",
            object(
                &["role", "policy", "stored"],
                vec![
                    ("role", role.clone()),
                    ("policy", r("DestinationPolicy")),
                    ("stored", boolean()),
                ],
            ),
        ),
        (
            "DialingPolicyDefaults",
            object(
                &["dial_countries", "roles"],
                vec![
                    ("dial_countries", array(string())),
                    ("roles", array(r("RolePolicy"))),
                ],
            ),
        ),
        (
            "PolicyOverride",
            object(
                &["policy"],
                vec![(
                    "policy",
                    json!({"allOf": [r("DestinationPolicy")], "nullable": true}),
                )],
            ),
        ),
        (
            "PrefixEntry",
            closed(object(
                &["prefix", "class", "note"],
                vec![
                    (
                        "prefix",
                        json!({"type": "string", "pattern": "^\\+[1-9][0-9 ]{0,28}$",
                               "description": "`+` and digits, e.g. `+44 9`"}),
                    ),
                    (
                        "class",
                        one_of(&[
                            "premium",
                            "satellite",
                            "high_risk",
                            "non_geographic",
                            "toll_free",
                            "special",
                        ]),
                    ),
                    (
                        "note",
                        json!({"type": "string", "minLength": 1, "maxLength": 200}),
                    ),
                ],
            )),
        ),
        (
            "PrefixList",
            object(
                &["edited", "entries"],
                vec![("edited", boolean()), ("entries", array(r("PrefixEntry")))],
            ),
        ),
        (
            "PrefixListInput",
            closed(object(
                &["entries"],
                vec![(
                    "entries",
                    json!({"type": "array", "items": r("PrefixEntry"), "maxItems": 5000}),
                )],
            )),
        ),
        (
            "SessionInfo",
            object(
                &["account", "sip"],
                vec![
                    ("account", r("AccountInfo")),
                    (
                        "sip",
                        json!({"allOf": [r("SipCredential")], "nullable": true}),
                    ),
                    ("dialing", r("DialingProfile")),
                ],
            ),
        ),
        ("CarrierInput", object(&["name", "host"], carrier_input)),
        ("Carrier", object(&carrier_required, carrier)),
        (
            "RateList",
            object(&["items"], vec![("items", array(r("Rate")))]),
        ),
        (
            "Rate",
            object(
                &["prefix", "price_per_minute"],
                vec![
                    ("prefix", string()),
                    ("price_per_minute", int()),
                    ("description", nstring()),
                ],
            ),
        ),
        (
            "TrunkStatusList",
            object(&["items"], vec![("items", array(r("TrunkStatus")))]),
        ),
        (
            "TrunkStatus",
            object(
                &["carrier_id"],
                vec![
                    ("carrier_id", int()),
                    (
                        "qualify",
                        json!({"nullable": true, "allOf": [object(
                            &["state"],
                            vec![
                                ("state", one_of(&["unknown", "up", "down"])),
                                ("rtt_ms", nint()),
                                ("last_change_ms", nint()),
                                ("last_error", nstring()),
                            ],
                        )]}),
                    ),
                    (
                        "registration",
                        json!({"nullable": true, "allOf": [object(
                            &["state"],
                            vec![
                                (
                                    "state",
                                    one_of(&["registering", "registered", "failed", "off"]),
                                ),
                                ("expires_at_ms", nint()),
                                ("last_error", nstring()),
                            ],
                        )]}),
                    ),
                    (
                        "dns",
                        json!({"nullable": true, "allOf": [object(
                            &["state", "via", "targets", "next_lookup_ms"],
                            vec![
                                ("state", one_of(&["resolved", "stale", "failed"])),
                                ("via", string()),
                                ("targets", array(string())),
                                ("next_lookup_ms", int()),
                                ("last_error", nstring()),
                            ],
                        )]}),
                    ),
                ],
            ),
        ),
        (
            "ChannelUsage",
            object(
                &[
                    "carrier_id",
                    "in_use",
                    "max_channels",
                    "peak_7d",
                    "recommended",
                ],
                vec![
                    ("carrier_id", int()),
                    ("in_use", int()),
                    ("max_channels", nint()),
                    ("peak_7d", int()),
                    ("recommended", int()),
                ],
            ),
        ),
        (
            "CallRecord",
            object(
                &[
                    "id",
                    "direction",
                    "dialled",
                    "invite_at",
                    "ended_at",
                    "duration_s",
                    "final_code",
                    "final_reason",
                    "hangup_by",
                ],
                vec![
                    ("id", string()),
                    ("direction", direction.clone()),
                    ("account_id", nint()),
                    ("agent", nstring()),
                    ("caller_id", nstring()),
                    ("dialled", string()),
                    ("carrier_id", nint()),
                    ("carrier", nstring()),
                    ("invite_at", int()),
                    ("ringing_at", nint()),
                    ("answered_at", nint()),
                    ("ended_at", int()),
                    ("duration_s", int()),
                    ("final_code", int()),
                    ("final_reason", string()),
                    ("hangup_by", one_of(&["agent", "remote", "gateway"])),
                    ("packets_to_carrier", int()),
                    ("bytes_to_carrier", int()),
                    ("packets_from_carrier", int()),
                    ("bytes_from_carrier", int()),
                    ("estimated_cost", nint()),
                    ("campaign_id", nint()),
                    ("destination_country", nstring()),
                    ("quality", call_quality()),
                    (
                        "attempts",
                        array(object(
                            &["carrier", "code", "reason", "at"],
                            vec![
                                ("carrier_id", nint()),
                                ("carrier", string()),
                                ("code", int()),
                                ("reason", string()),
                                ("at", int()),
                            ],
                        )),
                    ),
                ],
            ),
        ),
        (
            "LiveCall",
            object(
                &["id", "direction", "dialled", "state", "since_ms"],
                vec![
                    ("id", string()),
                    ("direction", direction),
                    ("agent", nstring()),
                    ("caller_id", nstring()),
                    ("dialled", string()),
                    ("carrier_id", nint()),
                    ("carrier", nstring()),
                    ("state", one_of(&["ringing", "connected", "held"])),
                    ("since_ms", int()),
                ],
            ),
        ),
        (
            "DidInput",
            object(
                &["number", "route"],
                vec![
                    ("number", string()),
                    ("label", string()),
                    ("carrier_id", nint()),
                    ("route", one_of(&["agent", "group", "reject"])),
                    ("agent", nstring()),
                    ("group_id", nint()),
                    (
                        "reject_code",
                        json!({"type": "integer", "minimum": 400, "maximum": 699, "nullable": true}),
                    ),
                    ("enabled", boolean()),
                ],
            ),
        ),
        (
            "Did",
            object(
                &["id", "number", "label", "route", "enabled", "created_at"],
                vec![
                    ("id", int()),
                    ("number", string()),
                    ("label", string()),
                    ("carrier_id", nint()),
                    ("route", one_of(&["agent", "group", "reject"])),
                    ("agent", nstring()),
                    ("group_id", nint()),
                    ("group", nstring()),
                    ("reject_code", nint()),
                    ("enabled", boolean()),
                    ("created_at", int()),
                ],
            ),
        ),
        (
            "DidImportRejection",
            object(
                &["line", "number", "error"],
                vec![
                    ("line", int()),
                    ("number", string()),
                    ("field", string()),
                    ("error", string()),
                ],
            ),
        ),
        (
            "DidImportReport",
            object(
                &["created", "updated", "rejected"],
                vec![
                    ("created", int()),
                    ("updated", int()),
                    ("rejected", array(r("DidImportRejection"))),
                ],
            ),
        ),
        (
            "RingGroupInput",
            object(
                &["name"],
                vec![
                    (
                        "name",
                        json!({"type": "string", "minLength": 1, "maxLength": 64}),
                    ),
                    ("strategy", one_of(&["all", "in_order"])),
                    ("member_timeout_s", range(5, 300)),
                    (
                        "fallback_code",
                        json!({"type": "integer", "minimum": 400, "maximum": 699, "nullable": true}),
                    ),
                    ("members", array(string())),
                ],
            ),
        ),
        (
            "RingGroup",
            object(
                &[
                    "id",
                    "name",
                    "strategy",
                    "member_timeout_s",
                    "members",
                    "created_at",
                ],
                vec![
                    ("id", int()),
                    ("name", string()),
                    ("strategy", one_of(&["all", "in_order"])),
                    ("member_timeout_s", int()),
                    ("fallback_code", nint()),
                    ("members", array(string())),
                    ("created_at", int()),
                ],
            ),
        ),
        (
            "Agent",
            object(
                &[
                    "id",
                    "username",
                    "display_name",
                    "role",
                    "enabled",
                    "max_calls",
                    "local_presence",
                    "created_at",
                ],
                vec![
                    ("id", int()),
                    ("username", string()),
                    ("display_name", string()),
                    ("role", role.clone()),
                    ("enabled", boolean()),
                    ("max_calls", int()),
                    ("local_presence", boolean()),
                    ("locked_until", nint()),
                    ("created_at", int()),
                ],
            ),
        ),
        (
            "NewAgent",
            object(
                &["username", "display_name", "password"],
                vec![
                    (
                        "username",
                        json!({"type": "string", "pattern": "^[a-z0-9][a-z0-9._-]{0,31}$"}),
                    ),
                    (
                        "display_name",
                        json!({"type": "string", "minLength": 1, "maxLength": 64}),
                    ),
                    ("role", role.clone()),
                    (
                        "password",
                        json!({"type": "string", "minLength": 12, "maxLength": 128, "writeOnly": true, "description": "Not a common password, and scored 3 or more by zxcvbn; else 400 `weak_password` saying why."}),
                    ),
                    ("enabled", boolean()),
                    ("max_calls", range(1, 100)),
                    ("local_presence", boolean()),
                ],
            ),
        ),
        (
            "AgentUpdate",
            object(
                &["display_name", "role"],
                vec![
                    (
                        "display_name",
                        json!({"type": "string", "minLength": 1, "maxLength": 64}),
                    ),
                    ("role", role),
                    ("enabled", boolean()),
                    ("max_calls", range(1, 100)),
                    ("local_presence", boolean()),
                ],
            ),
        ),
        (
            "PasswordReset",
            object(
                &["password"],
                vec![(
                    "password",
                    json!({"type": "string", "minLength": 12, "maxLength": 128, "writeOnly": true, "description": "Not a common password, and scored 3 or more by zxcvbn; else 400 `weak_password` saying why."}),
                )],
            ),
        ),
        (
            "CallerIds",
            object(
                &[],
                vec![
                    ("default", nstring()),
                    ("allowed", array(choice.clone())),
                    (
                        "from_campaigns",
                        json!({"type": "array", "items": choice, "readOnly": true}),
                    ),
                ],
            ),
        ),
        (
            "CampaignInput",
            object(
                &["name"],
                vec![
                    (
                        "name",
                        json!({"type": "string", "minLength": 1, "maxLength": 64}),
                    ),
                    ("numbers", array(string())),
                    ("agents", array(string())),
                ],
            ),
        ),
        (
            "Campaign",
            object(
                &["id", "name", "numbers", "agents", "created_at"],
                vec![
                    ("id", int()),
                    ("name", string()),
                    ("numbers", array(string())),
                    ("agents", array(string())),
                    ("created_at", int()),
                ],
            ),
        ),
        (
            "BanEntry",
            object(
                &[
                    "ip", "reason", "detail", "since", "until", "times", "refused",
                ],
                vec![
                    ("ip", string()),
                    (
                        "reason",
                        json!({"type": "string", "enum": ["auth_failures", "flood", "scanner", "manual"]}),
                    ),
                    ("detail", string()),
                    ("since", int()),
                    ("until", int()),
                    ("times", json!({"type": "integer", "minimum": 1})),
                    ("refused", json!({"type": "integer", "minimum": 0})),
                ],
            ),
        ),
        (
            "Alert",
            object(
                &["id", "at", "kind", "agent", "message"],
                vec![
                    ("id", int()),
                    ("at", int()),
                    ("kind", string()),
                    ("agent", nstring()),
                    ("message", string()),
                ],
            ),
        ),
        ("AlertList", array(r("Alert"))),
        ("QualityThreshold", quality_threshold(false)),
        ("QualityThresholdInput", closed(quality_threshold(true))),
        (
            "CarrierQuality",
            object(
                &["carrier_id", "carrier", "bucket_start", "calls"],
                quality_figures(true),
            ),
        ),
        ("CarrierQualitySummary", {
            let mut props = quality_figures(false);
            props.extend([
                ("peak_concurrent", int()),
                ("advised_channels", int()),
                ("channel_limit", nint()),
                ("loss_histogram", array(int())),
                ("mos_histogram", array(int())),
                ("threshold", r("QualityThreshold")),
            ]);
            object(
                &["carrier_id", "carrier", "calls", "advised_channels"],
                props,
            )
        }),
        (
            "QualityReport",
            object(
                &["bucket", "from", "to", "rows", "worst_calls", "carriers"],
                vec![
                    ("bucket", one_of(&["hour", "day"])),
                    ("from", int()),
                    ("to", int()),
                    ("rows", array(r("CarrierQuality"))),
                    (
                        "worst_calls",
                        array(object(
                            &["record_id", "dialled", "invite_at", "mos"],
                            vec![
                                ("record_id", string()),
                                ("carrier_id", nint()),
                                ("carrier", nstring()),
                                ("dialled", string()),
                                ("invite_at", int()),
                                ("duration_s", int()),
                                ("mos", number()),
                                ("loss_percent", number()),
                                ("jitter_ms", number()),
                            ],
                        )),
                    ),
                    ("carriers", array(r("CarrierQualitySummary"))),
                ],
            ),
        ),
        ("FraudLimits", fraud_limits()),
        (
            "LimitUsage",
            object(
                &["gateway_spend", "gateway_international_s", "reached"],
                vec![
                    ("gateway_spend", int()),
                    ("gateway_international_s", int()),
                    ("reached", array(string())),
                ],
            ),
        ),
        (
            "SecuritySettings",
            object(
                &[
                    "limits",
                    "ban_after",
                    "ban_window_s",
                    "ban_minutes",
                    "ban_max_minutes",
                    "sip_rate",
                    "ban_allow",
                    "dial_countries",
                    "home_country",
                    "business_hours",
                    "today",
                ],
                vec![
                    ("limits", r("FraudLimits")),
                    ("ban_after", int()),
                    ("ban_window_s", int()),
                    ("ban_minutes", int()),
                    ("ban_max_minutes", int()),
                    ("sip_rate", int()),
                    ("ban_allow", array(string())),
                    ("dial_countries", array(string())),
                    ("home_country", string()),
                    ("business_hours", nstring()),
                    ("today", r("LimitUsage")),
                ],
            ),
        ),
        (
            "BanList",
            array(json!({"$ref": "#/components/schemas/BanEntry"})),
        ),
        (
            "BanInput",
            object(
                &["ip"],
                vec![
                    ("ip", json!({"type": "string", "maxLength": 64})),
                    ("detail", json!({"type": "string", "maxLength": 200})),
                ],
            ),
        ),
        (
            "ApiTokenInput",
            object(
                &["name"],
                vec![
                    (
                        "name",
                        json!({"type": "string", "minLength": 1, "maxLength": 64}),
                    ),
                    ("account", nstring()),
                ],
            ),
        ),
        (
            "ApiToken",
            object(
                &["id", "name", "account", "created_at", "revoked"],
                vec![
                    ("id", int()),
                    ("name", string()),
                    ("account", string()),
                    ("created_at", int()),
                    ("last_used_at", nint()),
                    ("revoked", boolean()),
                ],
            ),
        ),
        (
            "ApiTokenCreated",
            object(
                &["token", "api_token"],
                vec![
                    (
                        "token",
                        json!({"type": "string", "pattern": "^dlr_[0-9a-f]{64}$"}),
                    ),
                    ("api_token", r("ApiToken")),
                ],
            ),
        ),
        (
            "EmbedTokenRequest",
            object(
                &["agent"],
                vec![
                    ("agent", string()),
                    (
                        "ttl_s",
                        json!({"type": "integer", "minimum": 1, "maximum": 3600, "nullable": true}),
                    ),
                ],
            ),
        ),
        (
            "EmbedToken",
            object(
                &["token", "expires_at"],
                vec![("token", string()), ("expires_at", int())],
            ),
        ),
        (
            "EmbedSessionRequest",
            object(
                &["token", "origin"],
                vec![("token", string()), ("origin", string())],
            ),
        ),
        (
            "EmbedSession",
            object(
                &["session", "session_token"],
                vec![("session", r("SessionInfo")), ("session_token", string())],
            ),
        ),
        (
            "EmbedConfig",
            object(
                &["allowed_origins"],
                vec![("allowed_origins", array(string()))],
            ),
        ),
        (
            "EmbedSettings",
            object(
                &["allowed_origins", "has_webhook_secret"],
                vec![
                    ("allowed_origins", array(string())),
                    ("webhook_url", nstring()),
                    ("has_webhook_secret", boolean()),
                ],
            ),
        ),
        (
            "EmbedSettingsInput",
            object(
                &["allowed_origins"],
                vec![
                    ("allowed_origins", array(string())),
                    ("webhook_url", nstring()),
                    (
                        "webhook_secret",
                        json!({"type": "string", "nullable": true, "writeOnly": true, "maxLength": 256}),
                    ),
                ],
            ),
        ),
        (
            "AuditEntry",
            object(
                &["id", "at", "actor", "action", "entity"],
                vec![
                    ("id", int()),
                    ("at", int()),
                    ("actor", string()),
                    ("action", string()),
                    ("entity", string()),
                    ("entity_id", nstring()),
                    ("old_json", nstring()),
                    ("new_json", nstring()),
                ],
            ),
        ),
    ];
    let mut out: Map<String, Value> = pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    for item in OPERATIONS.iter().filter_map(|o| match o.answer {
        Answer::Page(item) => Some(item),
        _ => None,
    }) {
        out.insert(
            format!("Page{item}"),
            object(
                &["items", "next_cursor"],
                vec![("items", array(r(item))), ("next_cursor", nstring())],
            ),
        );
    }
    out
}

fn error(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {"schema": r("ApiError")}}
    })
}

fn operation(o: &Op) -> Value {
    let mut parameters: Vec<Value> = Vec::new();
    if o.path.contains("{id}") {
        parameters.push(json!({
            "name": "id", "in": "path", "required": true,
            "schema": {"type": "integer", "format": "int64"}
        }));
    }
    if o.path.contains("{ip}") {
        parameters.push(json!({
            "name": "ip", "in": "path", "required": true,
            "description": "An IPv4 or IPv6 address.",
            "schema": {"type": "string", "maxLength": 64}
        }));
    }
    if o.path.contains("{role}") {
        parameters.push(json!({
            "name": "role", "in": "path", "required": true,
            "schema": {"type": "string", "enum": ["admin", "supervisor", "agent"]}
        }));
    }
    for (name, kind, description) in o.query {
        let schema = if *name == "limit" {
            json!({"type": kind, "minimum": 1, "maximum": 500})
        } else {
            json!({"type": kind})
        };
        parameters.push(json!({
            "name": name, "in": "query", "required": false,
            "description": description, "schema": schema
        }));
    }
    let mut responses = Map::new();
    let (status, ok) = match o.answer {
        Answer::Json(status, schema) => (
            status,
            json!({
                "description": "OK",
                "content": {"application/json": {"schema": r(schema)}}
            }),
        ),
        Answer::Page(item) => (
            200,
            json!({
                "description": "A page; pass `next_cursor` as `cursor` for the next.",
                "content": {"application/json": {"schema": r(&format!("Page{item}"))}}
            }),
        ),
        Answer::Empty(status) => (status, json!({"description": "Done."})),
        Answer::Csv => (
            200,
            json!({
                "description": "CSV (RFC 4180) with a header row.",
                "content": {"text/csv": {"schema": {"type": "string"}}}
            }),
        ),
        Answer::Events(item) => (
            200,
            json!({
                "description": format!("Server-Sent Events; each `data` is a JSON array of {item}."),
                "content": {"text/event-stream": {"schema": {"type": "string"}}}
            }),
        ),
    };
    responses.insert(status.to_string(), ok);
    responses.insert(
        "400".to_owned(),
        error("A field is invalid; `field` names it."),
    );
    if o.access != Access::Public || (o.method == "get" && o.path == "/session") {
        responses.insert(
            "401".to_owned(),
            error("Not signed in, or the token is unknown or revoked."),
        );
    }
    if matches!(o.access, Access::Reader | Access::Admin) {
        responses.insert(
            "403".to_owned(),
            error("The account's role may not do this."),
        );
    }
    if o.path.contains("{id}") {
        responses.insert("404".to_owned(), error("No such item."));
    }
    if matches!(o.method, "post" | "put")
        && matches!(o.body, Body::Json(_))
        && o.access == Access::Admin
    {
        responses.insert("409".to_owned(), error("The name or number is taken."));
    }
    if o.method == "post" && o.path == "/session" {
        responses.insert("401".to_owned(), error("Wrong username or password."));
        responses.insert(
            "429".to_owned(),
            error("Locked after repeated failures; see Retry-After."),
        );
    }
    if o.body == Body::Csv {
        responses.insert("413".to_owned(), error("The file is too large."));
        responses.insert("415".to_owned(), error("Not sent as text/csv."));
    }
    let mut value = json!({
        "summary": o.summary,
        "operationId": format!("{}{}", o.method, o.path.replace(['/', '{', '}', '.', '-'], "_")),
        "responses": responses,
        "x-access": match o.access {
            Access::Public => "public",
            Access::SignedIn => "signed-in",
            Access::Reader => "admin, supervisor",
            Access::Admin => "admin",
        },
    });
    if !parameters.is_empty() {
        value["parameters"] = Value::Array(parameters);
    }
    match o.body {
        Body::None => {}
        Body::Json(schema) => {
            value["requestBody"] = json!({
                "required": true,
                "content": {"application/json": {"schema": r(schema)}}
            });
        }
        Body::Csv => {
            value["requestBody"] = json!({
                "required": true,
                "content": {"text/csv": {"schema": {"type": "string"}}}
            });
        }
    }
    if o.access == Access::Public {
        value["security"] = json!([]);
    }
    value
}

/// The whole document.
pub fn document() -> Value {
    let mut paths: Map<String, Value> = Map::new();
    for o in OPERATIONS {
        let entry = paths
            .entry(o.path.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(methods) = entry {
            methods.insert(o.method.to_owned(), operation(o));
        }
    }
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Dialer gateway API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Administration and call records of the dialer gateway. Errors are JSON {code, message, field}. Lists are cursor-paginated. Sign in with POST /session (cookie) or send an API token as `Authorization: Bearer dlr_…`. Agents may only read their own session and calls; supervisors read everything but API tokens and the audit log; admins change everything.",
        },
        "servers": [{"url": "/api/v1"}],
        "components": {
            "schemas": schemas(),
            "securitySchemes": {
                "cookie": {"type": "apiKey", "in": "cookie", "name": "gw_session"},
                "bearer": {"type": "http", "scheme": "bearer"},
            },
        },
        "security": [{"cookie": []}, {"bearer": []}],
        "paths": paths,
    })
}

pub async fn serve() -> Json<Value> {
    static DOC: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    Json(DOC.get_or_init(document).clone())
}
