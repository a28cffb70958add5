//! Settings: defaults, then a TOML file (`--config`), then `GATEWAY_*`
//! environment variables, then flags. Each setting is checked once here and
//! turned into a typed value, so the rest of the gateway never re-validates.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};

use clap::Parser;
use serde::Deserialize;

/// A setting that could not be used; the message names the setting.
#[derive(Debug, thiserror::Error)]
#[error("invalid setting `{setting}`: {message}")]
pub struct ConfigError {
    pub setting: &'static str,
    pub message: String,
}

fn bad(setting: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        setting,
        message: message.into(),
    }
}

/// Command-line flags. Each has a `GATEWAY_*` environment twin; both override
/// the config file.
#[derive(Debug, Default, Parser)]
#[command(name = "gateway", version, about = "Browser dialer SIP gateway")]
pub struct Args {
    /// TOML file with the same settings as the flags (snake_case keys).
    #[arg(long, env = "GATEWAY_CONFIG")]
    pub config: Option<PathBuf>,
    /// Check the settings (and the certificate files they name), print
    /// what the gateway would run with, and exit: 0 when valid, 2 naming
    /// the first bad setting. Nothing is bound or written.
    #[arg(long)]
    pub check_config: bool,
    /// Copy the database to this new file (safe while the gateway runs),
    /// check the copy, print what it holds and exit.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["check_config", "restore_from"])]
    pub backup_to: Option<PathBuf>,
    /// Replace the database with this backup (the gateway must be stopped;
    /// the current one is kept beside it), then exit.
    #[arg(long, value_name = "FILE", conflicts_with = "check_config")]
    pub restore_from: Option<PathBuf>,
    /// Address the HTTP server (web client, API, SIP WebSocket) listens on.
    #[arg(long, env = "GATEWAY_HTTP_LISTEN")]
    pub http_listen: Option<String>,
    /// Address for SIP over UDP (carriers).
    #[arg(long, env = "GATEWAY_SIP_UDP")]
    pub sip_udp: Option<String>,
    /// Address for SIP over TCP (carriers).
    #[arg(long, env = "GATEWAY_SIP_TCP")]
    pub sip_tcp: Option<String>,
    /// IP address written into SIP and SDP that peers use to reach us.
    #[arg(long, env = "GATEWAY_ADVERTISED_ADDRESS")]
    pub advertised_address: Option<String>,
    /// IPv6 address for SIP over UDP with IPv6 carriers, e.g. `[::1]:5060`
    /// (unset: no IPv6).
    #[arg(long, env = "GATEWAY_SIP_UDP6")]
    pub sip_udp6: Option<String>,
    /// IPv6 address for SIP over TCP (and TLS) with IPv6 carriers, e.g.
    /// `[::1]:5060` (needs `sip_udp6`).
    #[arg(long, env = "GATEWAY_SIP_TCP6")]
    pub sip_tcp6: Option<String>,
    /// IPv6 address written into SIP and SDP toward IPv6 carriers (default:
    /// the `sip_udp6` address).
    #[arg(long, env = "GATEWAY_ADVERTISED_ADDRESS6")]
    pub advertised_address6: Option<String>,
    /// SIP domain of agents' addresses of record and the digest realm.
    #[arg(long, env = "GATEWAY_SIP_DOMAIN")]
    pub sip_domain: Option<String>,
    /// UDP port range for RTP toward carriers, e.g. 20000-20999.
    #[arg(long, env = "GATEWAY_RTP_PORTS")]
    pub rtp_ports: Option<String>,
    /// Database URL; defaults to SQLite `gateway.db` in the data directory.
    #[arg(long, env = "GATEWAY_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Directory for the database and first-start credentials.
    #[arg(long, env = "GATEWAY_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Directory of the built web client (Trunk's `dist`); serves it
    /// instead of the client embedded in a release binary.
    #[arg(long, env = "GATEWAY_STATIC_DIR")]
    pub static_dir: Option<PathBuf>,
    /// Log filter: error, warn, info, debug, trace or a tracing directive list.
    #[arg(long, env = "GATEWAY_LOG_LEVEL")]
    pub log_level: Option<String>,
    /// Log every SIP message in full (contains phone numbers; debug use only).
    #[arg(long, env = "GATEWAY_LOG_SIP")]
    pub log_sip: bool,
    /// Mark the session cookie `Secure` (for HTTPS at a reverse proxy;
    /// always on when the gateway serves HTTPS itself).
    #[arg(long, env = "GATEWAY_SECURE_COOKIES")]
    pub secure_cookies: bool,
    /// PEM certificate (chain) to serve HTTPS and WSS on `http_listen` and
    /// SIP over TLS on `sip_tls`, with `tls_key`; reloaded when it changes.
    #[arg(long, env = "GATEWAY_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of `tls_cert`.
    #[arg(long, env = "GATEWAY_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// Address for SIP over TLS from carriers, e.g. 0.0.0.0:5061 (needs a
    /// certificate: `tls_cert`/`tls_key` or `acme_domain`; unset: no TLS
    /// listener).
    #[arg(long, env = "GATEWAY_SIP_TLS")]
    pub sip_tls: Option<String>,
    /// A plain-HTTP address (e.g. 0.0.0.0:80) that redirects every request
    /// to HTTPS (308, same host and path); needs a certificate. With ACME
    /// the HTTP-01 port redirects too.
    #[arg(long, env = "GATEWAY_HTTP_REDIRECT")]
    pub http_redirect: Option<String>,
    /// Get the certificate from an ACME CA (Let's Encrypt) for this public
    /// host name, with the HTTP-01 challenge on `acme_http`; instead of
    /// `tls_cert`/`tls_key`. Kept under the data directory, renewed at 60 days.
    #[arg(long, env = "GATEWAY_ACME_DOMAIN")]
    pub acme_domain: Option<String>,
    /// The ACME directory URL (default: Let's Encrypt production).
    #[arg(long, env = "GATEWAY_ACME_DIRECTORY")]
    pub acme_directory: Option<String>,
    /// Contact e-mail for the ACME account.
    #[arg(long, env = "GATEWAY_ACME_EMAIL")]
    pub acme_email: Option<String>,
    /// PEM CA to trust for the ACME directory instead of the public roots
    /// (a test CA such as Pebble's).
    #[arg(long, env = "GATEWAY_ACME_CA")]
    pub acme_ca: Option<PathBuf>,
    /// Address of the HTTP-01 challenge responder (default 0.0.0.0:80; the
    /// CA connects to port 80 of `acme_domain`).
    #[arg(long, env = "GATEWAY_ACME_HTTP")]
    pub acme_http: Option<String>,
    /// Seconds without RTP on a call before both legs are hung up.
    #[arg(long, env = "GATEWAY_NO_MEDIA_TIMEOUT")]
    pub no_media_timeout: Option<u64>,
    /// Country (ISO 3166 alpha-2) for numbers dialled without a country code.
    #[arg(long, env = "GATEWAY_DEFAULT_COUNTRY")]
    pub default_country: Option<String>,
    /// Run the built-in demo carrier (tone, then echo): `true` or `false`.
    #[arg(long, env = "GATEWAY_DEMO_CARRIER")]
    pub demo_carrier: Option<bool>,
    /// Seconds a shutdown waits for calls to end before hanging them up.
    #[arg(long, env = "GATEWAY_SHUTDOWN_GRACE")]
    pub shutdown_grace: Option<u64>,
    /// Milliseconds a carrier may stay silent (not even 100 Trying) before
    /// the call goes to the next carrier.
    #[arg(long, env = "GATEWAY_FAILOVER_TIMEOUT_MS")]
    pub failover_timeout_ms: Option<u64>,
    /// Seconds an answered call waits for its agent's phone to come back
    /// after the phone's connection drops (the customer stays on the
    /// line); 0 ends the call at once.
    #[arg(long, env = "GATEWAY_RECONNECT_GRACE")]
    pub reconnect_grace: Option<u64>,
    /// The name server that resolves carrier host names (NAPTR, SRV,
    /// A/AAAA), like 127.0.0.53:53; unset: those of /etc/resolv.conf.
    #[arg(long, env = "GATEWAY_DNS_SERVER")]
    pub dns_server: Option<String>,
    /// Countries agents may call, e.g. `US,CA` (the NANP read by area
    /// code: `US` is not Canada or Jamaica); empty or unset: any. A limit
    /// on top of every destination policy, which the API cannot lift.
    #[arg(long, env = "GATEWAY_DIAL_COUNTRIES")]
    pub dial_countries: Option<String>,
    /// Networks never banned, comma-separated CIDRs (e.g. the office's).
    #[arg(long, env = "GATEWAY_BAN_ALLOW")]
    pub ban_allow: Option<String>,
    /// Failed authentications in a minute that ban a source (default 10).
    #[arg(long, env = "GATEWAY_BAN_AFTER")]
    pub ban_after: Option<u32>,
    /// The first ban's length in minutes, doubling on repeat (default 15).
    #[arg(long, env = "GATEWAY_BAN_MINUTES")]
    pub ban_minutes: Option<u64>,
    /// SIP messages a second one source may send before it is banned as a
    /// flood (a burst of 4 seconds' worth is allowed; default 50).
    #[arg(long, env = "GATEWAY_SIP_RATE")]
    pub sip_rate: Option<u32>,
    /// Calls one agent may start a minute (default 30; 0: no limit).
    #[arg(long, env = "GATEWAY_AGENT_CALLS_PER_MINUTE")]
    pub agent_calls_per_minute: Option<u32>,
    /// Over that limit: `block` (refuse the excess and alert, the default)
    /// or `alert` (alert only).
    #[arg(long, env = "GATEWAY_VELOCITY_ACTION")]
    pub velocity_action: Option<String>,
    /// What one agent's calls may cost a day (UTC), in the carriers'
    /// currency as rate tables price it, e.g. `50` or `12.5`; past it the
    /// agent's calls are refused until midnight UTC and an alert is raised.
    /// Default: no cap.
    #[arg(long, env = "GATEWAY_DAILY_SPEND_CAP")]
    pub daily_spend_cap: Option<String>,
    /// Calls all agents together may start a minute (default: no limit).
    #[arg(long, env = "GATEWAY_GATEWAY_CALLS_PER_MINUTE")]
    pub gateway_calls_per_minute: Option<u32>,
    /// What the calls presenting one campaign's numbers may cost a day
    /// (UTC), e.g. `200`. Default: no cap.
    #[arg(long, env = "GATEWAY_CAMPAIGN_DAILY_SPEND_CAP")]
    pub campaign_daily_spend_cap: Option<String>,
    /// What all calls together may cost a day (UTC). Default: no cap.
    #[arg(long, env = "GATEWAY_GATEWAY_DAILY_SPEND_CAP")]
    pub gateway_daily_spend_cap: Option<String>,
    /// Past a spend cap: `block` (refuse and alert, the default) or `alert`.
    #[arg(long, env = "GATEWAY_SPEND_ACTION")]
    pub spend_action: Option<String>,
    /// Minutes one agent may talk to other countries (than
    /// `default_country`) a day (UTC). Default: no limit.
    #[arg(long, env = "GATEWAY_AGENT_INTERNATIONAL_MINUTES")]
    pub agent_international_minutes: Option<u32>,
    /// Minutes all agents together may talk to other countries a day.
    #[arg(long, env = "GATEWAY_GATEWAY_INTERNATIONAL_MINUTES")]
    pub gateway_international_minutes: Option<u32>,
    /// Past an international-minutes limit: `block` (refuse international
    /// calls and alert, the default) or `alert`.
    #[arg(long, env = "GATEWAY_INTERNATIONAL_ACTION")]
    pub international_action: Option<String>,
    /// Business hours, e.g. `8-20` or `8-20 UTC+1`: a call outside them
    /// raises an alert. Unset: no night alerts.
    #[arg(long, env = "GATEWAY_BUSINESS_HOURS")]
    pub business_hours: Option<String>,
    /// TURN/STUN servers the browsers use, comma-separated, e.g.
    /// `turn:turn.example.com:3478?transport=udp,turns:turn.example.com:5349`.
    #[arg(long, env = "GATEWAY_TURN_URLS")]
    pub turn_urls: Option<String>,
    /// The secret shared with the TURN server (coturn's
    /// `static-auth-secret`): browsers get credentials made from it that
    /// expire with their session. Prefer the environment to the flag.
    #[arg(long, env = "GATEWAY_TURN_SECRET", hide_env_values = true)]
    pub turn_secret: Option<String>,
    /// Browsers send media only through TURN (`iceTransportPolicy: relay`).
    #[arg(long, env = "GATEWAY_ICE_RELAY_ONLY")]
    pub ice_relay_only: bool,
    /// Bearer token a Prometheus scrape of `GET /metrics` must send on the
    /// HTTP listener (16+ characters). Prefer the environment to the flag.
    #[arg(long, env = "GATEWAY_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,
    /// A listener of its own for `GET /metrics`, without a token (e.g. a
    /// private address: 10.0.0.5:9464).
    #[arg(long, env = "GATEWAY_METRICS_LISTEN")]
    pub metrics_listen: Option<String>,
    /// Log lines as `text` (the default) or `json` (one object a line).
    #[arg(long, env = "GATEWAY_LOG_FORMAT")]
    pub log_format: Option<String>,
}

/// The same settings, read from the config file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    http_listen: Option<String>,
    sip_udp: Option<String>,
    sip_tcp: Option<String>,
    advertised_address: Option<String>,
    sip_udp6: Option<String>,
    sip_tcp6: Option<String>,
    advertised_address6: Option<String>,
    sip_domain: Option<String>,
    rtp_ports: Option<String>,
    database_url: Option<String>,
    data_dir: Option<PathBuf>,
    static_dir: Option<PathBuf>,
    log_level: Option<String>,
    log_sip: Option<bool>,
    secure_cookies: Option<bool>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    sip_tls: Option<String>,
    http_redirect: Option<String>,
    acme_domain: Option<String>,
    acme_directory: Option<String>,
    acme_email: Option<String>,
    acme_ca: Option<PathBuf>,
    acme_http: Option<String>,
    no_media_timeout: Option<u64>,
    default_country: Option<String>,
    demo_carrier: Option<bool>,
    shutdown_grace: Option<u64>,
    failover_timeout_ms: Option<u64>,
    reconnect_grace: Option<u64>,
    dns_server: Option<String>,
    dial_countries: Option<String>,
    ban_allow: Option<String>,
    ban_after: Option<u32>,
    ban_minutes: Option<u64>,
    sip_rate: Option<u32>,
    agent_calls_per_minute: Option<u32>,
    velocity_action: Option<String>,
    gateway_calls_per_minute: Option<u32>,
    daily_spend_cap: Option<String>,
    campaign_daily_spend_cap: Option<String>,
    gateway_daily_spend_cap: Option<String>,
    spend_action: Option<String>,
    agent_international_minutes: Option<u32>,
    gateway_international_minutes: Option<u32>,
    international_action: Option<String>,
    business_hours: Option<String>,
    turn_urls: Option<String>,
    turn_secret: Option<String>,
    ice_relay_only: Option<bool>,
    metrics_token: Option<String>,
    metrics_listen: Option<String>,
    log_format: Option<String>,
}

/// Checked settings.
#[derive(Debug, Clone)]
pub struct Config {
    pub http_listen: SocketAddr,
    pub sip_udp: SocketAddr,
    pub sip_tcp: SocketAddr,
    pub advertised_address: IpAddr,
    /// Why that address, when the gateway picked it (`crate::addresses`).
    pub advertised_why: Option<String>,
    /// The machine's other reachable addresses, offered to browsers as
    /// extra ICE host candidates (only when the address was picked).
    pub other_addresses: Vec<IpAddr>,
    /// SIP over UDP with IPv6 carriers, and the address named to them.
    pub ipv6: Option<Ipv6Sip>,
    pub sip_domain: String,
    pub rtp_ports: RangeInclusive<u16>,
    pub database_url: String,
    pub data_dir: PathBuf,
    /// The web client served: `static_dir`, else the embedded copy.
    pub web_client: crate::web_client::WebClient,
    pub log_level: String,
    pub log_sip: bool,
    /// True with `tls`: the browser reaches us over HTTPS.
    pub secure_cookies: bool,
    /// The certificate and key HTTPS, WSS and SIP over TLS are served with
    /// (checked to load at start, unless ACME makes them); `None`: plain HTTP.
    pub tls: Option<crate::transport::tls_server::CertFiles>,
    /// The certificate comes from an ACME CA, into `tls`'s files.
    pub acme: Option<crate::acme::AcmeConfig>,
    /// SIP over TLS from carriers (needs `tls`).
    pub sip_tls: Option<SocketAddr>,
    /// Plain HTTP that redirects to HTTPS (only with `tls`).
    pub http_redirect: Option<SocketAddr>,
    pub no_media_timeout: std::time::Duration,
    /// Upper-case ISO 3166 alpha-2, one `shared::e164` knows.
    pub default_country: String,
    pub demo_carrier: bool,
    pub shutdown_grace: std::time::Duration,
    pub failover_timeout: std::time::Duration,
    /// How long an answered call waits for its agent's phone to reconnect.
    pub reconnect_grace: std::time::Duration,
    /// Where carrier host names are looked up; `None`: /etc/resolv.conf.
    pub dns_server: Option<SocketAddr>,
    /// Upper-case ISO 3166 alpha-2 codes; empty: any destination. The first
    /// layer of every agent's destination policies
    /// (`http::policy::global_layer`).
    pub dial_countries: Vec<String>,
    /// The source guard (bans).
    pub guard: crate::guard::GuardConfig,
    /// The fraud limits until an admin saves others (`crate::limits`).
    pub limits: shared::api::FraudLimits,
    pub business_hours: Option<crate::sip::b2bua::watch::BusinessHours>,
    /// The TURN servers browsers are handed (`crate::turn`).
    pub turn: crate::turn::TurnConfig,
    /// Who may read `GET /metrics`.
    pub metrics: MetricsAccess,
    /// One JSON object per log line instead of text.
    pub log_json: bool,
}

/// Who may scrape `GET /metrics`: a request with the token on the HTTP
/// listener, anyone on the metrics listener. With neither, nobody.
#[derive(Clone, Default)]
pub struct MetricsAccess {
    pub token: Option<String>,
    pub listen: Option<SocketAddr>,
}

impl std::fmt::Debug for MetricsAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token is never printed.
        f.debug_struct("MetricsAccess")
            .field("token", &self.token.as_ref().map(|_| "(set)"))
            .field("listen", &self.listen)
            .finish()
    }
}

/// The IPv6 side of a dual-stack gateway: carriers with IPv6 addresses are
/// reached from this socket, and Via, Contact and SDP name `advertised`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6Sip {
    pub udp: SocketAddr,
    /// SIP over TCP from IPv6 carriers (a TLS carrier reaches us over the
    /// connection we opened).
    pub tcp: Option<SocketAddr>,
    pub advertised: Ipv6Addr,
}

impl Config {
    /// What `--check-config` prints: the settings that decide where the
    /// gateway listens and what peers are told, one per line, no secrets.
    pub fn summary(&self) -> String {
        let mut lines = vec![
            format!(
                "http_listen = {}{}",
                self.http_listen,
                if self.tls.is_some() { " (HTTPS)" } else { "" }
            ),
            format!("sip_udp = {}", self.sip_udp),
            format!("sip_tcp = {}", self.sip_tcp),
            format!(
                "advertised_address = {}{}",
                self.advertised_address,
                self.advertised_why
                    .as_deref()
                    .map(|w| format!(" ({w})"))
                    .unwrap_or_default()
            ),
            format!("sip_domain = {}", self.sip_domain),
            format!(
                "rtp_ports = {}-{}",
                self.rtp_ports.start(),
                self.rtp_ports.end()
            ),
            format!("data_dir = {}", self.data_dir.display()),
            format!("default_country = {}", self.default_country),
            format!("demo_carrier = {}", self.demo_carrier),
        ];
        if let Some(at) = self.http_redirect {
            lines.push(format!("http_redirect = {at} (plain HTTP → HTTPS)"));
        }
        if let Some(at) = self.sip_tls {
            lines.push(format!("sip_tls = {at}"));
        }
        if !self.turn.urls.is_empty() {
            lines.push(format!(
                "turn_urls = {}{}",
                self.turn.urls.join(","),
                if self.turn.relay_only {
                    " (relay only)"
                } else {
                    ""
                }
            ));
        }
        lines.push(self.web_client.describe());
        if let Some(at) = self.metrics.listen {
            lines.push(format!("metrics_listen = {at}"));
        }
        if self.metrics.token.is_some() {
            lines.push("metrics_token = (set)".to_owned());
        }
        if self.log_json {
            lines.push("log_format = json".to_owned());
        }
        lines.join("\n")
    }

    /// Resolves flags and environment (already merged by clap) over the
    /// config file over defaults.
    pub fn resolve(args: Args) -> Result<Config, ConfigError> {
        Config::resolve_with(args, crate::addresses::interfaces)
    }

    /// As [`Config::resolve`], reading the interface addresses from
    /// `interfaces` (only when the advertised address must be picked).
    pub fn resolve_with(
        args: Args,
        interfaces: impl FnOnce() -> Vec<crate::addresses::Interface>,
    ) -> Result<Config, ConfigError> {
        let file = match &args.config {
            Some(path) => read_file(path)?,
            None => FileSettings::default(),
        };
        let pick = |flag: Option<String>, file: Option<String>, default: &str| {
            flag.or(file).unwrap_or_else(|| default.to_owned())
        };

        let http_listen = socket_addr(
            "http_listen",
            &pick(args.http_listen, file.http_listen, "127.0.0.1:8080"),
        )?;
        let sip_udp = socket_addr(
            "sip_udp",
            &pick(args.sip_udp, file.sip_udp, "127.0.0.1:5060"),
        )?;
        let sip_tcp = socket_addr(
            "sip_tcp",
            &pick(args.sip_tcp, file.sip_tcp, "127.0.0.1:5060"),
        )?;
        let mut advertised_why = None;
        let mut other_addresses = Vec::new();
        let advertised_address = match args.advertised_address.or(file.advertised_address) {
            Some(text) => text.trim().parse::<IpAddr>().map_err(|_| {
                bad(
                    "advertised_address",
                    format!("`{text}` is not an IP address"),
                )
            })?,
            None if sip_udp.ip().is_unspecified() => {
                let choice = crate::addresses::choose(&interfaces())
                    .map_err(|message| bad("advertised_address", message))?;
                advertised_why = Some(choice.why);
                other_addresses = choice.others;
                choice.address
            }
            None => sip_udp.ip(),
        };
        if advertised_address.is_unspecified() {
            return Err(bad(
                "advertised_address",
                "0.0.0.0 / :: cannot be reached by peers; give the address they should use",
            ));
        }
        let ipv6 = ipv6_sip(
            args.sip_udp6.or(file.sip_udp6),
            args.sip_tcp6.or(file.sip_tcp6),
            args.advertised_address6.or(file.advertised_address6),
        )?;
        let sip_domain = args
            .sip_domain
            .or(file.sip_domain)
            .unwrap_or_else(|| advertised_address.to_string());
        if sip_domain.is_empty()
            || !sip_domain
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        {
            return Err(bad(
                "sip_domain",
                format!("`{sip_domain}` is not a host name or address"),
            ));
        }
        let rtp_ports = port_range(&pick(args.rtp_ports, file.rtp_ports, "20000-20999"))?;
        let data_dir = args
            .data_dir
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from("data"));
        let database_url = args.database_url.or(file.database_url).unwrap_or_else(|| {
            format!(
                "sqlite://{}?mode=rwc",
                data_dir.join("gateway.db").to_string_lossy()
            )
        });
        if !database_url.starts_with("sqlite:") {
            return Err(bad(
                "database_url",
                "only SQLite URLs (sqlite://PATH) are supported",
            ));
        }
        let web_client = crate::web_client::WebClient::choose(args.static_dir.or(file.static_dir));
        let log_level = pick(args.log_level, file.log_level, "info");
        if tracing_subscriber::EnvFilter::try_new(&log_level).is_err() {
            return Err(bad(
                "log_level",
                format!("`{log_level}` is not a level (error, warn, info, debug, trace)"),
            ));
        }
        let no_media_timeout = args
            .no_media_timeout
            .or(file.no_media_timeout)
            .unwrap_or(30);
        if !(5..=3600).contains(&no_media_timeout) {
            return Err(bad(
                "no_media_timeout",
                format!("{no_media_timeout} s: give between 5 and 3600 seconds"),
            ));
        }
        let default_country = pick(args.default_country, file.default_country, "US")
            .trim()
            .to_ascii_uppercase();
        if shared::e164::country(&default_country).is_none() {
            return Err(bad(
                "default_country",
                format!(
                    "`{default_country}` is not a country code this gateway knows (like US, GB, DE)"
                ),
            ));
        }
        let shutdown_grace = args.shutdown_grace.or(file.shutdown_grace).unwrap_or(30);
        if shutdown_grace > 3600 {
            return Err(bad(
                "shutdown_grace",
                format!("{shutdown_grace} s: give at most 3600 seconds"),
            ));
        }
        let failover_timeout_ms = args
            .failover_timeout_ms
            .or(file.failover_timeout_ms)
            .unwrap_or(4000);
        if !(200..=60_000).contains(&failover_timeout_ms) {
            return Err(bad(
                "failover_timeout_ms",
                format!("{failover_timeout_ms} ms: give between 200 and 60000 milliseconds"),
            ));
        }
        let reconnect_grace = args.reconnect_grace.or(file.reconnect_grace).unwrap_or(30);
        if reconnect_grace > 600 {
            return Err(bad(
                "reconnect_grace",
                format!("{reconnect_grace} s: give at most 600 seconds"),
            ));
        }
        let dns_server = match args.dns_server.or(file.dns_server) {
            Some(text) if !text.trim().is_empty() => Some(socket_addr("dns_server", &text)?),
            _ => None,
        };
        let mut dial_countries = Vec::new();
        for code in pick(args.dial_countries, file.dial_countries, "")
            .split(',')
            .map(|c| c.trim().to_ascii_uppercase())
            .filter(|c| !c.is_empty())
        {
            if !shared::destination::world::is_known_country(&code) {
                return Err(bad(
                    "dial_countries",
                    format!(
                        "`{code}` is not a country code this gateway knows (like US, CA, JM, GB)"
                    ),
                ));
            }
            dial_countries.push(code);
        }
        let mut allow = Vec::new();
        for net in pick(args.ban_allow, file.ban_allow, "")
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
        {
            let parsed = net
                .parse::<ipnet::IpNet>()
                .or_else(|_| net.parse::<IpAddr>().map(ipnet::IpNet::from));
            match parsed {
                Ok(n) => allow.push(n),
                Err(_) => {
                    return Err(bad(
                        "ban_allow",
                        format!("`{net}` is not an address or CIDR (like 10.0.0.0/8)"),
                    ));
                }
            }
        }
        let ban_after = args.ban_after.or(file.ban_after).unwrap_or(10);
        if !(1..=1000).contains(&ban_after) {
            return Err(bad(
                "ban_after",
                format!("{ban_after}: give 1 to 1000 failures"),
            ));
        }
        let ban_minutes = args.ban_minutes.or(file.ban_minutes).unwrap_or(15);
        if !(1..=7 * 24 * 60).contains(&ban_minutes) {
            return Err(bad(
                "ban_minutes",
                format!("{ban_minutes}: give 1 to 10080 minutes"),
            ));
        }
        let sip_rate = args.sip_rate.or(file.sip_rate).unwrap_or(50);
        if !(1..=100_000).contains(&sip_rate) {
            return Err(bad(
                "sip_rate",
                format!("{sip_rate}: give 1 to 100000 messages a second"),
            ));
        }
        let guard = crate::guard::GuardConfig {
            max_failures: ban_after,
            ban_for: std::time::Duration::from_secs(ban_minutes * 60),
            per_second: sip_rate,
            burst: sip_rate.saturating_mul(4),
            allow,
            ..crate::guard::GuardConfig::default()
        };
        let per_minute = args
            .agent_calls_per_minute
            .or(file.agent_calls_per_minute)
            .unwrap_or(30);
        let action = |setting: &'static str, text: String| match text.as_str() {
            "block" => Ok(shared::api::LimitAction::Block),
            "alert" => Ok(shared::api::LimitAction::Alert),
            other => Err(bad(setting, format!("`{other}`: give `block` or `alert`"))),
        };
        let money = |setting: &'static str, text: String| match text.trim() {
            "" => Ok(None),
            text => shared::rates::parse_price(text)
                .ok()
                .filter(|p| *p > 0)
                .map(Some)
                .ok_or_else(|| bad(setting, format!("`{text}`: give an amount like 50 or 12.5"))),
        };
        let limits = shared::api::FraudLimits {
            agent_calls_per_minute: per_minute,
            gateway_calls_per_minute: args
                .gateway_calls_per_minute
                .or(file.gateway_calls_per_minute)
                .unwrap_or(0),
            velocity_action: action(
                "velocity_action",
                pick(args.velocity_action, file.velocity_action, "block"),
            )?,
            agent_daily_spend: money(
                "daily_spend_cap",
                pick(args.daily_spend_cap, file.daily_spend_cap, ""),
            )?,
            campaign_daily_spend: money(
                "campaign_daily_spend_cap",
                pick(
                    args.campaign_daily_spend_cap,
                    file.campaign_daily_spend_cap,
                    "",
                ),
            )?,
            gateway_daily_spend: money(
                "gateway_daily_spend_cap",
                pick(
                    args.gateway_daily_spend_cap,
                    file.gateway_daily_spend_cap,
                    "",
                ),
            )?,
            spend_action: action(
                "spend_action",
                pick(args.spend_action, file.spend_action, "block"),
            )?,
            agent_international_minutes: args
                .agent_international_minutes
                .or(file.agent_international_minutes),
            gateway_international_minutes: args
                .gateway_international_minutes
                .or(file.gateway_international_minutes),
            international_action: action(
                "international_action",
                pick(
                    args.international_action,
                    file.international_action,
                    "block",
                ),
            )?,
        };
        let business_hours = match pick(args.business_hours, file.business_hours, "").trim() {
            "" => None,
            text => Some(
                crate::sip::b2bua::watch::BusinessHours::parse(text).ok_or_else(|| {
                    bad(
                        "business_hours",
                        format!("`{text}`: give hours like `8-20` or `8-20 UTC+1`"),
                    )
                })?,
            ),
        };
        let turn = crate::turn::TurnConfig::parse(
            &pick(args.turn_urls, file.turn_urls, ""),
            args.turn_secret.or(file.turn_secret),
            args.ice_relay_only || file.ice_relay_only.unwrap_or(false),
        )
        .map_err(|(setting, message)| bad(setting, message))?;
        let acme = acme_settings(
            AcmeSettings {
                domain: args.acme_domain.or(file.acme_domain),
                directory: args.acme_directory.or(file.acme_directory),
                email: args.acme_email.or(file.acme_email),
                ca: args.acme_ca.or(file.acme_ca),
                http: args.acme_http.or(file.acme_http),
            },
            &data_dir,
        )?;
        let (tls, sip_tls) = tls_settings(
            args.tls_cert.or(file.tls_cert),
            args.tls_key.or(file.tls_key),
            args.sip_tls.or(file.sip_tls),
            acme.as_ref(),
        )?;
        let http_redirect = match args.http_redirect.or(file.http_redirect) {
            Some(text) if !text.trim().is_empty() => {
                let at = socket_addr("http_redirect", &text)?;
                if tls.is_none() {
                    return Err(bad(
                        "http_redirect",
                        "set `tls_cert`/`tls_key` (or `acme_domain`) too: it redirects to HTTPS",
                    ));
                }
                if acme.as_ref().is_some_and(|a| a.http == at) || at == http_listen {
                    return Err(bad(
                        "http_redirect",
                        format!("{at} is already taken by another listener of the gateway"),
                    ));
                }
                Some(at)
            }
            _ => None,
        };
        let secure_cookies =
            args.secure_cookies || file.secure_cookies.unwrap_or(false) || tls.is_some();
        let metrics = MetricsAccess {
            token: match args
                .metrics_token
                .or(file.metrics_token)
                .map(|t| t.trim().to_owned())
            {
                Some(t) if t.chars().count() < 16 => {
                    return Err(bad(
                        "metrics_token",
                        "give at least 16 characters (a random string)",
                    ));
                }
                t => t,
            },
            listen: args
                .metrics_listen
                .or(file.metrics_listen)
                .map(|a| socket_addr("metrics_listen", &a))
                .transpose()?,
        };
        let log_json = match pick(args.log_format, file.log_format, "text").as_str() {
            "text" => false,
            "json" => true,
            other => {
                return Err(bad(
                    "log_format",
                    format!("`{other}` is not `text` or `json`"),
                ));
            }
        };
        Ok(Config {
            metrics,
            log_json,
            turn,
            limits,
            tls,
            sip_tls,
            http_redirect,
            acme,
            business_hours,
            guard,
            dial_countries,
            no_media_timeout: std::time::Duration::from_secs(no_media_timeout),
            default_country,
            demo_carrier: args.demo_carrier.or(file.demo_carrier).unwrap_or(true),
            shutdown_grace: std::time::Duration::from_secs(shutdown_grace),
            failover_timeout: std::time::Duration::from_millis(failover_timeout_ms),
            reconnect_grace: std::time::Duration::from_secs(reconnect_grace),
            dns_server,
            http_listen,
            sip_udp,
            sip_tcp,
            advertised_address,
            advertised_why,
            other_addresses,
            ipv6,
            sip_domain,
            rtp_ports,
            database_url,
            data_dir,
            web_client,
            log_level,
            log_sip: args.log_sip || file.log_sip.unwrap_or(false),
            secure_cookies,
        })
    }
}

/// `tls_cert` and `tls_key` (both or neither, and the pair must load) and
/// `sip_tls` (only with them).
fn tls_settings(
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
    sip_tls: Option<String>,
    acme: Option<&crate::acme::AcmeConfig>,
) -> Result<
    (
        Option<crate::transport::tls_server::CertFiles>,
        Option<SocketAddr>,
    ),
    ConfigError,
> {
    let empty = |p: &Option<PathBuf>| p.as_ref().is_none_or(|p| p.as_os_str().is_empty());
    let sip_tls = match sip_tls.filter(|t| !t.trim().is_empty()) {
        Some(text) => Some(socket_addr("sip_tls", &text)?),
        None => None,
    };
    if let Some(acme) = acme {
        if !empty(&cert) || !empty(&key) {
            return Err(bad(
                "acme_domain",
                "give either `acme_domain` or `tls_cert`/`tls_key`, not both",
            ));
        }
        return Ok((Some(acme.files()), sip_tls));
    }
    let files = match (cert, key) {
        (cert, key) if empty(&cert) && empty(&key) => None,
        (Some(cert), Some(key)) if !cert.as_os_str().is_empty() && !key.as_os_str().is_empty() => {
            Some(crate::transport::tls_server::CertFiles { cert, key })
        }
        (cert, _) if empty(&cert) => {
            return Err(bad(
                "tls_cert",
                "set it too: `tls_key` needs its certificate",
            ));
        }
        _ => {
            return Err(bad(
                "tls_key",
                "set it too: `tls_cert` needs its private key",
            ));
        }
    };
    if let Some(files) = &files {
        crate::transport::tls_server::load(files).map_err(|e| bad(e.setting, e.message))?;
    }
    if sip_tls.is_some() && files.is_none() {
        return Err(bad(
            "sip_tls",
            "set `tls_cert` and `tls_key` (or `acme_domain`) too: the certificate carriers are shown",
        ));
    }
    Ok((files, sip_tls))
}

/// The `acme_*` settings as given.
struct AcmeSettings {
    domain: Option<String>,
    directory: Option<String>,
    email: Option<String>,
    ca: Option<PathBuf>,
    http: Option<String>,
}

/// `acme_domain` (a host name) turns ACME on; the other `acme_*` settings
/// only go with it.
fn acme_settings(
    given: AcmeSettings,
    data_dir: &Path,
) -> Result<Option<crate::acme::AcmeConfig>, ConfigError> {
    let Some(domain) = given.domain.filter(|d| !d.trim().is_empty()) else {
        let others = [
            ("acme_directory", given.directory.is_some()),
            ("acme_email", given.email.is_some()),
            ("acme_ca", given.ca.is_some()),
            ("acme_http", given.http.is_some()),
        ];
        if let Some((setting, _)) = others.into_iter().find(|(_, set)| *set) {
            return Err(bad(setting, "set `acme_domain` too (it turns ACME on)"));
        }
        return Ok(None);
    };
    let domain = domain.trim().to_ascii_lowercase();
    let is_host = domain.contains('.')
        && domain.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
        && domain.parse::<IpAddr>().is_err();
    if !is_host {
        return Err(bad(
            "acme_domain",
            format!("`{domain}` is not a public host name like dialer.example.com"),
        ));
    }
    let directory = given
        .directory
        .unwrap_or_else(|| crate::acme::LETS_ENCRYPT.to_owned());
    if !directory.starts_with("https://") {
        return Err(bad(
            "acme_directory",
            format!("`{directory}` is not an https:// URL"),
        ));
    }
    let email = given.email.filter(|e| !e.trim().is_empty());
    if let Some(e) = &email
        && (!e.contains('@') || e.contains(char::is_whitespace))
    {
        return Err(bad("acme_email", format!("`{e}` is not an e-mail address")));
    }
    if let Some(ca) = &given.ca
        && !ca.is_file()
    {
        return Err(bad(
            "acme_ca",
            format!("{} is not a readable file", ca.display()),
        ));
    }
    let http = socket_addr("acme_http", given.http.as_deref().unwrap_or("0.0.0.0:80"))?;
    Ok(Some(crate::acme::AcmeConfig {
        domain,
        directory,
        email,
        ca: given.ca,
        http,
        dir: data_dir.join("acme"),
    }))
}

/// `sip_udp6` and `advertised_address6`: both IPv6, the advertised one
/// given when the socket binds every address.
fn ipv6_sip(
    udp: Option<String>,
    tcp: Option<String>,
    advertised: Option<String>,
) -> Result<Option<Ipv6Sip>, ConfigError> {
    let Some(udp) = udp.filter(|u| !u.trim().is_empty()) else {
        if advertised.is_some() {
            return Err(bad(
                "advertised_address6",
                "set `sip_udp6` too (the IPv6 socket that address reaches)",
            ));
        }
        if tcp.is_some() {
            return Err(bad(
                "sip_tcp6",
                "set `sip_udp6` too (IPv6 carriers are reached over UDP first)",
            ));
        }
        return Ok(None);
    };
    let tcp = match tcp.filter(|t| !t.trim().is_empty()) {
        Some(text) => Some(SocketAddr::V6(ipv6_socket_addr("sip_tcp6", &text)?)),
        None => None,
    };
    let udp = ipv6_socket_addr("sip_udp6", &udp)?;
    let bound = *udp.ip();
    let advertised = match advertised {
        Some(text) => text
            .trim()
            .trim_matches(|c| c == '[' || c == ']')
            .parse::<Ipv6Addr>()
            .map_err(|_| {
                bad(
                    "advertised_address6",
                    format!("`{text}` is not an IPv6 address"),
                )
            })?,
        None => bound,
    };
    if advertised.is_unspecified() {
        return Err(bad(
            "advertised_address6",
            ":: cannot be reached by peers; give the IPv6 address they should use",
        ));
    }
    Ok(Some(Ipv6Sip {
        udp: SocketAddr::V6(udp),
        tcp,
        advertised,
    }))
}

/// An address with a port that must be IPv6 (`[2001:db8::10]:5060`).
fn ipv6_socket_addr(
    setting: &'static str,
    text: &str,
) -> Result<std::net::SocketAddrV6, ConfigError> {
    match socket_addr(setting, text)? {
        SocketAddr::V6(v6) => Ok(v6),
        SocketAddr::V4(v4) => Err(bad(
            setting,
            format!("`{v4}` is not an IPv6 address; write it like [2001:db8::10]:5060"),
        )),
    }
}

fn read_file(path: &Path) -> Result<FileSettings, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| bad("config", format!("cannot read {}: {e}", path.display())))?;
    toml::from_str(&text).map_err(|e| bad("config", format!("{}: {e}", path.display())))
}

fn socket_addr(setting: &'static str, text: &str) -> Result<SocketAddr, ConfigError> {
    text.trim().parse().map_err(|_| {
        bad(
            setting,
            format!("`{text}` is not an address with a port, like 127.0.0.1:5060"),
        )
    })
}

fn port_range(text: &str) -> Result<RangeInclusive<u16>, ConfigError> {
    let err = || {
        bad(
            "rtp_ports",
            format!("`{text}` is not a port range like 20000-20999"),
        )
    };
    let (low, high) = text.trim().split_once('-').ok_or_else(err)?;
    let low: u16 = low.trim().parse().map_err(|_| err())?;
    let high: u16 = high.trim().parse().map_err(|_| err())?;
    if low < 1024 || high < low {
        return Err(bad(
            "rtp_ports",
            format!("`{text}`: the range must be ascending and above 1023"),
        ));
    }
    if high - low < 1 {
        return Err(bad(
            "rtp_ports",
            "the range needs at least two ports (RTP uses an even port, RTCP the next)",
        ));
    }
    Ok(low..=high)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listening_on_all_interfaces_picks_an_interface_address_or_refuses() {
        use crate::addresses::Interface;
        let all = || args(|a| a.sip_udp = Some("0.0.0.0:5060".into()));
        let iface = |name: &str, ip: &str| Interface {
            name: name.to_owned(),
            ip: ip.parse().expect("ip"),
        };
        let c = Config::resolve_with(all(), || {
            vec![iface("lo", "127.0.0.1"), iface("veth0", "10.99.0.1")]
        })
        .expect("valid");
        assert_eq!(c.advertised_address.to_string(), "10.99.0.1");
        assert!(
            c.advertised_why
                .as_deref()
                .is_some_and(|w| w.contains("veth0"))
        );
        let err = Config::resolve_with(all(), || vec![iface("lo", "127.0.0.1")])
            .expect_err("only loopback");
        assert_eq!(err.setting, "advertised_address");
        // An explicit address is taken as given, interfaces unread.
        let c = Config::resolve_with(
            args(|a| {
                a.sip_udp = Some("0.0.0.0:5060".into());
                a.advertised_address = Some("198.51.100.7".into());
            }),
            || panic!("interfaces read"),
        )
        .expect("valid");
        assert_eq!(c.advertised_address.to_string(), "198.51.100.7");
        assert_eq!(c.advertised_why, None);
    }

    fn args(f: impl FnOnce(&mut Args)) -> Args {
        let mut a = Args::default();
        f(&mut a);
        a
    }

    #[test]
    fn defaults_are_loopback() {
        let c = Config::resolve(Args::default()).expect("defaults are valid");
        assert_eq!(c.http_listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.sip_domain, "127.0.0.1");
        assert_eq!(c.rtp_ports, 20000..=20999);
    }

    #[test]
    fn dns_server_is_the_systems_unless_given() {
        assert_eq!(
            Config::resolve(Args::default()).expect("valid").dns_server,
            None
        );
        let c = Config::resolve(args(|a| a.dns_server = Some("127.0.0.53:5353".into())))
            .expect("valid");
        assert_eq!(c.dns_server, Some("127.0.0.53:5353".parse().expect("addr")));
    }

    #[test]
    fn ipv6_is_off_unless_asked_for() {
        assert_eq!(Config::resolve(Args::default()).expect("valid").ipv6, None);
        let c = Config::resolve(args(|a| a.sip_udp6 = Some("[::1]:5062".into()))).expect("valid");
        let v6 = c.ipv6.expect("ipv6 on");
        assert_eq!(v6.udp.to_string(), "[::1]:5062");
        assert_eq!(v6.advertised.to_string(), "::1");
        assert_eq!(v6.tcp, None);
        let c = Config::resolve(args(|a| {
            a.sip_udp6 = Some("[::]:5060".into());
            a.advertised_address6 = Some("[2001:db8::10]".into());
        }))
        .expect("valid");
        assert_eq!(c.ipv6.expect("on").advertised.to_string(), "2001:db8::10");
    }

    #[test]
    fn metrics_access_and_log_format_are_read_and_the_token_never_printed() {
        let c = Config::resolve(args(|a| {
            a.metrics_token = Some(" a-token-of-16-chars ".into());
            a.metrics_listen = Some("127.0.0.1:9464".into());
            a.log_format = Some("json".into());
        }))
        .expect("valid");
        assert_eq!(c.metrics.token.as_deref(), Some("a-token-of-16-chars"));
        assert_eq!(
            c.metrics.listen,
            Some("127.0.0.1:9464".parse().expect("addr"))
        );
        assert!(c.log_json);
        for shown in [format!("{c:?}"), c.summary()] {
            assert!(!shown.contains("a-token-of-16-chars"), "{shown}");
        }
        assert!(c.summary().contains("metrics_listen = 127.0.0.1:9464"));
        let plain = Config::resolve(Args::default()).expect("valid");
        assert!(plain.metrics.token.is_none() && plain.metrics.listen.is_none());
        assert!(!plain.log_json);
    }

    #[test]
    fn bad_settings_name_the_setting() {
        let cases: Vec<(Args, &str)> = vec![
            (
                args(|a| a.http_listen = Some("nowhere".into())),
                "http_listen",
            ),
            (args(|a| a.sip_udp = Some("1.2.3.4".into())), "sip_udp"),
            (
                args(|a| a.rtp_ports = Some("30000-20000".into())),
                "rtp_ports",
            ),
            (args(|a| a.rtp_ports = Some("abc".into())), "rtp_ports"),
            (
                args(|a| a.advertised_address = Some("0.0.0.0".into())),
                "advertised_address",
            ),
            (
                args(|a| a.database_url = Some("postgres://x".into())),
                "database_url",
            ),
            (args(|a| a.log_level = Some("loud[".into())), "log_level"),
            (args(|a| a.log_format = Some("xml".into())), "log_format"),
            (
                args(|a| a.metrics_token = Some(" short-token ".into())),
                "metrics_token",
            ),
            (
                args(|a| a.metrics_listen = Some("9464".into())),
                "metrics_listen",
            ),
            (
                args(|a| a.sip_udp6 = Some("127.0.0.1:5060".into())),
                "sip_udp6",
            ),
            (
                args(|a| a.sip_udp6 = Some("[::]:5060".into())),
                "advertised_address6",
            ),
            (
                args(|a| a.advertised_address6 = Some("::1".into())),
                "advertised_address6",
            ),
            (args(|a| a.sip_tcp6 = Some("[::1]:5060".into())), "sip_tcp6"),
            (
                args(|a| {
                    a.sip_udp6 = Some("[::1]:5060".into());
                    a.sip_tcp6 = Some("127.0.0.1:5060".into());
                }),
                "sip_tcp6",
            ),
            (
                args(|a| {
                    a.sip_udp6 = Some("[::1]:5060".into());
                    a.advertised_address6 = Some("192.0.2.1".into());
                }),
                "advertised_address6",
            ),
            (
                args(|a| a.config = Some("/nonexistent/gateway.toml".into())),
                "config",
            ),
            (
                args(|a| a.dns_server = Some("ns.example".into())),
                "dns_server",
            ),
            (
                args(|a| a.http_redirect = Some("127.0.0.1:8081".into())),
                "http_redirect",
            ),
            (args(|a| a.reconnect_grace = Some(601)), "reconnect_grace"),
        ];
        for (a, setting) in cases {
            let err = Config::resolve(a).expect_err(setting);
            assert_eq!(err.setting, setting, "{err}");
        }
    }

    #[test]
    fn tls_needs_both_files_that_load_and_makes_cookies_secure() {
        let c = Config::resolve(Args::default()).expect("valid");
        assert!(c.tls.is_none() && c.sip_tls.is_none() && !c.secure_cookies);

        let dir = std::env::temp_dir().join(format!("gw-config-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let pki = crate::transport::tls_server::tests::test_pki("config");
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&cert, &pki.cert_pem).expect("write cert");
        std::fs::write(&key, &pki.key_pem).expect("write key");

        let c = Config::resolve(args(|a| {
            a.tls_cert = Some(cert.clone());
            a.tls_key = Some(key.clone());
            a.sip_tls = Some("127.0.0.1:5061".into());
        }))
        .expect("valid");
        assert_eq!(c.tls.expect("tls on").cert, cert);
        assert_eq!(c.sip_tls.map(|a| a.port()), Some(5061));
        assert!(c.secure_cookies, "HTTPS makes the session cookie Secure");

        // The same from the file.
        let toml = dir.join("gateway.toml");
        std::fs::write(
            &toml,
            format!(
                "tls_cert = {:?}\ntls_key = {:?}\n",
                cert.display().to_string(),
                key.display().to_string()
            ),
        )
        .expect("write config");
        let c = Config::resolve(args(|a| a.config = Some(toml.clone()))).expect("valid");
        assert!(c.tls.is_some() && c.sip_tls.is_none());

        let cases: Vec<(Args, &str)> = vec![
            (args(|a| a.tls_cert = Some(cert.clone())), "tls_key"),
            (args(|a| a.tls_key = Some(key.clone())), "tls_cert"),
            (
                args(|a| a.sip_tls = Some("127.0.0.1:5061".into())),
                "sip_tls",
            ),
            (
                args(|a| {
                    a.tls_cert = Some(cert.clone());
                    a.tls_key = Some(key.clone());
                    a.sip_tls = Some("5061".into());
                }),
                "sip_tls",
            ),
            (
                args(|a| {
                    a.tls_cert = Some(key.clone());
                    a.tls_key = Some(key.clone());
                }),
                "tls_cert",
            ),
            (
                args(|a| {
                    a.tls_cert = Some(cert.clone());
                    a.tls_key = Some(dir.join("missing.pem"));
                }),
                "tls_key",
            ),
        ];
        for (a, setting) in cases {
            let err = Config::resolve(a).expect_err(setting);
            assert_eq!(err.setting, setting, "{err}");
        }
    }

    #[test]
    fn acme_takes_a_host_name_and_serves_its_files() {
        let c = Config::resolve(args(|a| {
            a.acme_domain = Some("Dialer.Example.com".into());
            a.data_dir = Some("/var/lib/dialer".into());
        }))
        .expect("valid");
        let acme = c.acme.expect("acme on");
        assert_eq!(acme.domain, "dialer.example.com");
        assert_eq!(acme.directory, crate::acme::LETS_ENCRYPT);
        assert_eq!(acme.http.to_string(), "0.0.0.0:80");
        assert_eq!(c.tls, Some(acme.files()));
        assert!(acme.files().cert.starts_with("/var/lib/dialer/acme"));
        assert!(c.secure_cookies);

        let cases: Vec<(Args, &str)> = vec![
            (
                args(|a| a.acme_domain = Some("localhost".into())),
                "acme_domain",
            ),
            (
                args(|a| a.acme_domain = Some("192.0.2.1".into())),
                "acme_domain",
            ),
            (
                args(|a| a.acme_domain = Some("bad_name.example".into())),
                "acme_domain",
            ),
            (
                args(|a| a.acme_email = Some("me@example.com".into())),
                "acme_email",
            ),
            (
                args(|a| {
                    a.acme_domain = Some("dialer.example.com".into());
                    a.acme_directory = Some("http://ca.example/dir".into());
                }),
                "acme_directory",
            ),
            (
                args(|a| {
                    a.acme_domain = Some("dialer.example.com".into());
                    a.acme_email = Some("nobody".into());
                }),
                "acme_email",
            ),
            (
                args(|a| {
                    a.acme_domain = Some("dialer.example.com".into());
                    a.acme_ca = Some("/nonexistent/ca.pem".into());
                }),
                "acme_ca",
            ),
            (
                args(|a| {
                    a.acme_domain = Some("dialer.example.com".into());
                    a.tls_cert = Some("/etc/cert.pem".into());
                }),
                "acme_domain",
            ),
        ];
        for (a, setting) in cases {
            let err = Config::resolve(a).expect_err(setting);
            assert_eq!(err.setting, setting, "{err}");
        }
    }

    #[test]
    fn file_settings_are_overridden_by_flags() {
        let dir = std::env::temp_dir().join(format!("gw-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("gateway.toml");
        std::fs::write(
            &path,
            "http_listen = \"127.0.0.1:9000\"\nsip_domain = \"pbx.example\"\n",
        )
        .expect("write config");
        let c = Config::resolve(args(|a| {
            a.config = Some(path.clone());
            a.http_listen = Some("127.0.0.1:9001".into());
        }))
        .expect("valid");
        assert_eq!(c.http_listen.port(), 9001);
        assert_eq!(c.sip_domain, "pbx.example");
        std::fs::write(&path, "colour = \"blue\"\n").expect("write config");
        let err =
            Config::resolve(args(|a| a.config = Some(path.clone()))).expect_err("unknown key");
        assert_eq!(err.setting, "config");
        assert!(err.message.contains("colour"), "{err}");
    }
}
