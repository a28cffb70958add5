//! Turns the carriers in the database into the routes the SIP core uses:
//! host names resolved (RFC 3263, `crate::dns`: every SRV target, kept for
//! the records' TTL), the demo carrier pointed at wherever it listens (and
//! allowed to call our DIDs from there), inbound sources parsed, disabled
//! carriers left out. Run at start and after every change through the API.

use shared::ids::CarrierId;
use std::net::SocketAddr;

use ipnet::IpNet;
use shared::api::InboundNumberFrom;
use tracing::warn;

use crate::db::{self, Db, DbError};
use crate::dns::{CarrierDns, Outcome};
use crate::http::AppState;
use crate::sip::b2bua::Route;
use crate::sip::dids::{InboundPolicy, NumberSource};
use crate::sip::rfc3263::CarrierTargets;
use crate::transport::CoreInput;
use crate::trunk_status::{DnsState, DnsStatus};

/// An inbound source as the API stores it: an IP (a host route) or a CIDR.
fn parse_source(source: &str) -> Option<IpNet> {
    let source = source.trim();
    source
        .parse::<IpNet>()
        .ok()
        .or_else(|| source.parse::<std::net::IpAddr>().ok().map(IpNet::from))
}

fn number_source(n: InboundNumberFrom) -> NumberSource {
    match n {
        InboundNumberFrom::RequestUri => NumberSource::RequestUri,
        InboundNumberFrom::To => NumberSource::To,
        InboundNumberFrom::Diversion => NumberSource::Diversion,
    }
}

/// The IP families this gateway can reach carriers in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Families {
    pub ipv4: bool,
    pub ipv6: bool,
}

impl Families {
    /// From the settings: the main SIP socket's family, plus IPv6 when a
    /// dual-stack socket is configured.
    pub fn of(config: &crate::config::Config) -> Families {
        Families {
            ipv4: config.sip_udp.is_ipv4(),
            ipv6: config.sip_udp.is_ipv6() || config.ipv6.is_some(),
        }
    }
}

/// The enabled carriers as the core needs them, and what DNS said.
pub struct Loaded {
    /// In the order calls try them; `addr` is the first resolved address.
    pub routes: Vec<Route>,
    /// Every address of the carriers whose host is a name.
    pub targets: CarrierTargets,
    /// Each carrier whose host is a name: how it resolved, or why not.
    pub dns: Vec<DnsStatus>,
}

/// The enabled carriers as routes, their host names resolved through
/// `dns` (RFC 3263, cached for the records' TTL). A carrier whose host does
/// not resolve to an address of a family the gateway has is left out of
/// the routes, with the reason in its [`DnsStatus`].
pub async fn routes(
    db: &Db,
    demo: Option<SocketAddr>,
    dns: &CarrierDns,
) -> Result<Loaded, DbError> {
    let mut loaded = Loaded {
        routes: Vec::new(),
        targets: CarrierTargets::new(),
        dns: Vec::new(),
    };
    let mut in_use = Vec::new();
    let now = crate::transport::now().unix_ms;
    for record in db::carriers(db).await? {
        let c = record.carrier;
        if !c.enabled {
            continue;
        }
        let addr = if c.is_demo {
            match demo {
                Some(addr) => addr,
                None => continue,
            }
        } else {
            in_use.push((c.host.clone(), c.port, c.transport));
            match dns.resolve(&c.host, c.port, c.transport).await {
                Outcome::Literal(addr) => addr,
                Outcome::Resolved {
                    resolution,
                    stale,
                    next_lookup,
                } => {
                    if let Some(error) = &stale {
                        warn!(carrier = %c.name, host = %c.host,
                            "carrier host does not resolve now ({error}); its last addresses are kept");
                    }
                    loaded.dns.push(DnsStatus {
                        carrier_id: CarrierId(c.id),
                        state: if stale.is_some() {
                            DnsState::Stale
                        } else {
                            DnsState::Resolved
                        },
                        via: resolution.via.clone(),
                        targets: target_texts(&resolution.targets),
                        next_lookup_ms: now + millis_until(next_lookup),
                        last_error: stale,
                    });
                    let first = resolution
                        .targets
                        .iter()
                        .min_by_key(|t| t.priority)
                        .and_then(|t| t.addrs.first().copied());
                    // A resolution is never empty (`dns::Resolution`).
                    let Some(first) = first else { continue };
                    loaded.targets.insert(CarrierId(c.id), resolution.targets);
                    first
                }
                Outcome::Failed { error, next_lookup } => {
                    warn!(carrier = %c.name, host = %c.host, "cannot resolve carrier host: {error}");
                    loaded.dns.push(DnsStatus {
                        carrier_id: CarrierId(c.id),
                        state: DnsState::Failed,
                        via: String::new(),
                        targets: Vec::new(),
                        next_lookup_ms: now + millis_until(next_lookup),
                        last_error: Some(error),
                    });
                    continue;
                }
            }
        };
        let mut sources = Vec::with_capacity(c.inbound_sources.len() + 1);
        for source in &c.inbound_sources {
            match parse_source(source) {
                Some(net) => sources.push(net),
                // The API checks every source; a row edited by hand may not.
                None => {
                    warn!(carrier = %c.name, %source, "inbound source is not an IP or CIDR; ignored")
                }
            }
        }
        if c.is_demo {
            sources.push(IpNet::from(addr.ip()));
        }
        let host = if c.is_demo {
            addr.ip().to_string()
        } else {
            c.host.clone()
        };
        loaded.routes.push(Route {
            id: CarrierId(c.id),
            name: c.name,
            addr,
            host,
            username: c.username,
            secret: record.secret,
            from_user: c.from_user,
            from_domain: c.from_domain,
            caller_id: c.caller_id,
            codecs: c.codecs,
            number_format: c.number_format,
            tech_prefix: c.tech_prefix,
            transport: c.transport,
            priority: c.priority,
            weight: u32::try_from(c.weight.max(1)).unwrap_or(u32::MAX),
            max_channels: c.max_channels,
            qualify: c
                .qualify
                .then(|| std::time::Duration::from_secs(u64::from(c.qualify_interval_s))),
            register: c.register.then_some(c.register_expiry_s),
            realm: c.realm,
            tls_ca: c.tls_ca,
            srtp_required: c.srtp == shared::api::SrtpMode::Required,
            inbound: InboundPolicy {
                sources,
                number_from: number_source(c.inbound_number_from),
            },
        });
    }
    dns.retain(&in_use);
    Ok(loaded)
}

fn millis_until(when: tokio::time::Instant) -> i64 {
    let left = when.saturating_duration_since(tokio::time::Instant::now());
    i64::try_from(left.as_millis()).unwrap_or(i64::MAX)
}

/// `10.0.0.1:5070 (a.carrier.example, SRV 10/60)`, target by target.
fn target_texts(targets: &[crate::sip::rfc3263::SrvTarget]) -> Vec<String> {
    let mut sorted: Vec<_> = targets.iter().collect();
    sorted.sort_by_key(|t| (t.priority, std::cmp::Reverse(t.weight)));
    sorted
        .iter()
        .flat_map(|t| {
            t.addrs.iter().map(move |a| {
                format!(
                    "{a} ({}, priority {} weight {})",
                    t.name, t.priority, t.weight
                )
            })
        })
        .collect()
}

/// Reloads the routes into the running SIP core (callers that may have
/// changed DIDs too reload those with `crate::dids::reload`).
pub async fn reload(state: &AppState) -> Result<(), DbError> {
    push(&state.db, state.demo_carrier, &state.dns, &state.sip).await
}

/// Resolves the carriers and hands them to the core; their DNS state goes
/// to the carrier page. One at a time (`CarrierDns::reload_lock`), so an
/// older answer never lands after a newer one.
pub async fn push(
    db: &Db,
    demo: Option<SocketAddr>,
    dns: &CarrierDns,
    sip: &crate::transport::SipHandle,
) -> Result<(), DbError> {
    let _one = dns.reload_lock.lock().await;
    let loaded = routes(db, demo, dns).await?;
    sip.trunk_statuses().set_dns(loaded.dns);
    sip.send(CoreInput::Routes(loaded.routes, loaded.targets))
        .await;
    Ok(())
}
