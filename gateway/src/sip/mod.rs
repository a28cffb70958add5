//! The gateway's SIP logic, sans-IO: nothing in here owns a socket, reads the
//! clock or spawns a task. The tokio shell in [`crate::transport`] feeds it
//! bytes and time and sends what it returns.
//!
//! - [`core`]: one message in → parse, validate, dispatch by method → the
//!   responses to send out.
//! - [`registrar`]: REGISTER with digest authentication and bindings.
//! - [`b2bua`]: outbound calls, browser leg ↔ carrier leg.
//! - [`dids`]: inbound routing tables (carrier sources, DIDs).
//! - [`trunks`]: carrier qualify (OPTIONS, up/down) and registration.
//! - [`msg`]: header and SDP helpers over rsip.

pub mod b2bua;
pub mod core;
pub mod dids;
pub mod msg;
pub mod registrar;
pub mod trunks;

use std::fmt;

use web_time::Instant;

/// Where requests to a carrier go: its configured address, over its
/// transport (the shell opens the TCP or TLS connection when there is none).
pub fn carrier_dest(route: &b2bua::Route) -> core::Destination {
    use shared::api::SipTransport;
    match route.transport {
        SipTransport::Udp => core::Destination::Udp(route.addr),
        SipTransport::Tcp => core::Destination::Tcp(route.addr),
        SipTransport::Tls => core::Destination::Tls(route.addr),
    }
}

/// RFC 3261 §17.1: no retransmissions over a reliable transport.
pub fn is_reliable(dest: core::Destination) -> bool {
    !matches!(dest, core::Destination::Udp(_))
}

/// `host:port`, bracketing IPv6 addresses; the port is left out when 5060.
pub fn host_port(host: &str, port: u16) -> String {
    let host = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_owned()
    };
    if port == 5060 {
        host
    } else {
        format!("{host}:{port}")
    }
}

/// Our Via protocol, the port we name, and the Contact's transport
/// parameter toward a carrier. Over TLS we name our TCP port: the carrier
/// reaches us on the connection we opened.
pub fn carrier_transport(
    route: &b2bua::Route,
    udp_port: u16,
    tcp_port: u16,
) -> (&'static str, u16, &'static str) {
    use shared::api::SipTransport;
    match route.transport {
        SipTransport::Udp => ("UDP", udp_port, ""),
        SipTransport::Tcp => ("TCP", tcp_port, ";transport=tcp"),
        SipTransport::Tls => ("TLS", tcp_port, ";transport=tls"),
    }
}

/// Identifies one stream connection (WebSocket or TCP) for the life of the
/// process; bindings and responses refer to connections by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

impl fmt::Display for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "conn#{}", self.0)
    }
}

/// The time, as the shell read it: monotonic for timers, wall clock for
/// credential expiry (stored as Unix seconds in the database).
#[derive(Debug, Clone, Copy)]
pub struct Now {
    pub instant: Instant,
    pub unix: i64,
    /// The same wall-clock time in milliseconds (call records).
    pub unix_ms: i64,
}
