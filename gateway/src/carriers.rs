//! Turns the carriers in the database into the routes the SIP core uses:
//! host names resolved, the demo carrier pointed at wherever it listens,
//! disabled and unsupported carriers left out. Run at start and after every
//! change through the API.

use std::net::SocketAddr;

use shared::api::SipTransport;
use tracing::warn;

use crate::db::{self, Db, DbError};
use crate::http::AppState;
use crate::sip::b2bua::Route;
use crate::transport::CoreInput;

/// The enabled carriers as routes, in the order calls try them.
pub async fn routes(db: &Db, demo: Option<SocketAddr>) -> Result<Vec<Route>, DbError> {
    let mut routes = Vec::new();
    for record in db::carriers(db).await? {
        let c = record.carrier;
        if !c.enabled || c.transport == SipTransport::Tls {
            continue;
        }
        let addr = if c.is_demo {
            match demo {
                Some(addr) => addr,
                None => continue,
            }
        } else {
            match tokio::net::lookup_host((c.host.as_str(), c.port)).await {
                Ok(mut addrs) => match addrs.next() {
                    Some(a) => a,
                    None => {
                        warn!(carrier = %c.name, host = %c.host, "carrier host has no address");
                        continue;
                    }
                },
                Err(e) => {
                    warn!(carrier = %c.name, host = %c.host, "cannot resolve carrier host: {e}");
                    continue;
                }
            }
        };
        let host = if c.is_demo {
            addr.ip().to_string()
        } else {
            c.host.clone()
        };
        routes.push(Route {
            id: c.id,
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
            inbound: Default::default(),
        });
    }
    Ok(routes)
}

/// Reloads the routes into the running SIP core.
pub async fn reload(state: &AppState) -> Result<(), DbError> {
    let routes = routes(&state.db, state.demo_carrier).await?;
    state.sip.send(CoreInput::Routes(routes)).await;
    Ok(())
}
