//! Turns the carriers in the database into the routes the SIP core uses:
//! host names resolved, the demo carrier pointed at wherever it listens (and
//! allowed to call our DIDs from there), inbound sources parsed, disabled
//! carriers left out. Run at start and after every change through the API.

use shared::ids::CarrierId;
use std::net::SocketAddr;

use ipnet::IpNet;
use shared::api::InboundNumberFrom;
use tracing::warn;

use crate::db::{self, Db, DbError};
use crate::http::AppState;
use crate::sip::b2bua::Route;
use crate::sip::dids::{InboundPolicy, NumberSource};
use crate::transport::CoreInput;

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

    fn reach(self, ip: std::net::IpAddr) -> bool {
        if ip.is_ipv4() { self.ipv4 } else { self.ipv6 }
    }
}

/// The enabled carriers as routes, in the order calls try them; a carrier
/// whose host has no address in `families` is left out (with a warning).
pub async fn routes(
    db: &Db,
    demo: Option<SocketAddr>,
    families: Families,
) -> Result<Vec<Route>, DbError> {
    let mut routes = Vec::new();
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
            // `[2001:db8::1]` resolves as `2001:db8::1`.
            let host = c.host.trim_start_matches('[').trim_end_matches(']');
            match tokio::net::lookup_host((host, c.port)).await {
                Ok(addrs) => match addrs.into_iter().find(|a| families.reach(a.ip())) {
                    Some(a) => a,
                    None => {
                        warn!(carrier = %c.name, host = %c.host,
                            "carrier host has no address of an IP family this gateway has \
                             (IPv6 carriers need --sip-udp6)");
                        continue;
                    }
                },
                Err(e) => {
                    warn!(carrier = %c.name, host = %c.host, "cannot resolve carrier host: {e}");
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
        routes.push(Route {
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
    Ok(routes)
}

/// Reloads the routes into the running SIP core (callers that may have
/// changed DIDs too reload those with `crate::dids::reload`).
pub async fn reload(state: &AppState) -> Result<(), DbError> {
    let routes = routes(&state.db, state.demo_carrier, Families::of(&state.config)).await?;
    state.sip.send(CoreInput::Routes(routes)).await;
    Ok(())
}
