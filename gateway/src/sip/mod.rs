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
//! - [`rfc3263`]: what to look up for a carrier's host, and the order a
//!   call tries carriers and their SRV targets in.
//! - [`msg`]: header and SDP helpers over rsip.

pub mod b2bua;
pub mod core;
pub mod dids;
pub mod msg;
pub mod registrar;
pub mod rfc3263;
pub mod trunks;

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};

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

/// `host:port` as our SIP messages write it (an IP address in the form
/// [`shared::sip::ipv6::host_text`] gives, so an IPv6 one is the bracketed
/// alias rsip can parse); the port is left out when 5060.
pub fn host_port(host: &str, port: u16) -> String {
    let host = match shared::sip::ipv6::parse_host(host) {
        Some(ip) => shared::sip::ipv6::host_text(ip),
        None => host.to_owned(),
    };
    if port == 5060 {
        host
    } else {
        format!("{host}:{port}")
    }
}

/// Where carriers reach us: the addresses and ports that Via, Contact,
/// From and Call-ID name, per IP family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Local {
    /// Our address (IPv4, or IPv6 on an IPv6-only gateway).
    pub advertised: IpAddr,
    pub udp_port: u16,
    /// Over TLS we name this port too when there is no TLS listener:
    /// carriers reach us on the connection we opened.
    pub tcp_port: u16,
    /// The SIP over TLS listener's port (`--sip-tls`), named over TLS.
    pub tls_port: Option<u16>,
    /// A dual-stack gateway's IPv6 side.
    pub ipv6: Option<Ipv6Side>,
}

/// The address named to IPv6 carriers and the ports of the IPv6 sockets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6Side {
    pub advertised: Ipv6Addr,
    pub udp_port: u16,
    /// `None`: no IPv6 TCP listener; the main TCP port is named.
    pub tcp_port: Option<u16>,
}

/// What we name toward one peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Toward {
    /// The Via protocol: `UDP`, `TCP` or `TLS`.
    pub proto: &'static str,
    /// Our address in the peer's family, as SIP text (see [`host_port`]).
    pub host: String,
    pub port: u16,
    /// The Contact's transport parameter (`;transport=tcp`, or empty).
    pub contact_param: &'static str,
}

impl Toward {
    /// Our Via sent-by and Contact host: `host[:port]`.
    pub fn host_port(&self) -> String {
        host_port(&self.host, self.port)
    }
}

impl Local {
    pub fn new(advertised: IpAddr, udp_port: u16) -> Local {
        Local {
            advertised,
            udp_port,
            tcp_port: udp_port,
            tls_port: None,
            ipv6: None,
        }
    }

    /// What we name toward a peer at `peer` over `transport`: our address
    /// in its IP family (the main one when there is no IPv6 side), and that
    /// side's port.
    pub fn toward(&self, peer: IpAddr, transport: shared::api::SipTransport) -> Toward {
        use shared::api::SipTransport;
        let (ip, udp_port, tcp_port) = match (peer, self.ipv6) {
            (IpAddr::V6(_), Some(v6)) => (
                IpAddr::V6(v6.advertised),
                v6.udp_port,
                v6.tcp_port.unwrap_or(self.tcp_port),
            ),
            _ => (self.advertised, self.udp_port, self.tcp_port),
        };
        let (proto, port, contact_param) = match transport {
            SipTransport::Udp => ("UDP", udp_port, ""),
            SipTransport::Tcp => ("TCP", tcp_port, ";transport=tcp"),
            SipTransport::Tls => ("TLS", self.tls_port.unwrap_or(tcp_port), ";transport=tls"),
        };
        Toward {
            proto,
            host: shared::sip::ipv6::host_text(ip),
            port,
            contact_param,
        }
    }

    /// What we name toward a carrier.
    pub fn toward_carrier(&self, route: &b2bua::Route) -> Toward {
        self.toward(route.addr.ip(), route.transport)
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
