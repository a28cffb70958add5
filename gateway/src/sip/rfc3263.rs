//! RFC 3263 "Locating SIP Servers" without the lookups: which records a
//! carrier's host calls for, which SRV name a NAPTR answer points our
//! transport at, the RFC 2782 order of SRV targets, and the order a new call
//! tries carriers and their targets in. The shell (`crate::dns`) asks DNS;
//! everything here is pure, so the core can re-draw the weighted order for
//! every call.
//!
//! ```text
//!   host is an IP address ─────────────────────► that address, the port as given
//!   name with a port other than the default ───► A/AAAA of the name, that port
//!   name on the transport's default port:
//!     NAPTR of the name ── a record for our transport (flag "s") ─► its SRV name
//!        │ none                                                         │
//!        └──────────────► _sip._udp / _sip._tcp / _sips._tcp.<name> ◄───┘
//!     SRV ── records ─► targets by priority, weighted within one (RFC 2782),
//!        │              each target's A/AAAA on the record's port
//!        └─ none ─────► A/AAAA of the name on the default port
//! ```
//!
//! The carrier form always has a port, so "no port in the URI" (RFC 3263
//! §4.2) is read as "the transport's default port": 5060 for UDP and TCP,
//! 5061 for TLS. Any other port is used as given, without SRV.

use shared::ids::CarrierId;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use rand::Rng;
use shared::api::SipTransport;

use super::b2bua::{Route, route};

/// The most addresses one carrier's call tries before the next carrier
/// (each silent one costs `--failover-timeout-ms`).
pub const MAX_TARGETS: usize = 8;

/// What to look up for a carrier's host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Procedure {
    /// An IP address: no DNS.
    Literal(SocketAddr),
    /// A name with a port of its own: its A/AAAA records, that port.
    Address { name: String, port: u16 },
    /// A name on the transport's default port: NAPTR, SRV, then A/AAAA.
    Service {
        name: String,
        /// The SRV name used when NAPTR names none for our transport.
        srv: String,
        default_port: u16,
    },
}

/// The transport's default port (RFC 3261 §19.1.2).
pub fn default_port(transport: SipTransport) -> u16 {
    match transport {
        SipTransport::Udp | SipTransport::Tcp => 5060,
        SipTransport::Tls => 5061,
    }
}

/// The NAPTR service field for our transport (RFC 3263 §4.1).
pub fn naptr_service(transport: SipTransport) -> &'static str {
    match transport {
        SipTransport::Udp => "SIP+D2U",
        SipTransport::Tcp => "SIP+D2T",
        SipTransport::Tls => "SIPS+D2T",
    }
}

/// The procedure for a carrier's `host` and `port` (`[2001:db8::1]` and
/// `2001:db8::1` are both literals; a trailing dot is kept off the SRV name).
pub fn procedure(host: &str, port: u16, transport: SipTransport) -> Procedure {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Procedure::Literal(SocketAddr::new(ip, port));
    }
    let name = host.trim_end_matches('.').to_ascii_lowercase();
    let default = default_port(transport);
    if port != default {
        return Procedure::Address { name, port };
    }
    let prefix = match transport {
        SipTransport::Udp => "_sip._udp",
        SipTransport::Tcp => "_sip._tcp",
        SipTransport::Tls => "_sips._tcp",
    };
    Procedure::Service {
        srv: format!("{prefix}.{name}"),
        name,
        default_port: default,
    }
}

/// One NAPTR record, as read from DNS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Naptr {
    pub order: u16,
    pub preference: u16,
    pub flags: String,
    pub service: String,
    pub replacement: String,
}

/// The SRV name that NAPTR gives our transport: the lowest (order,
/// preference) record with flag `s` and our service. `None`: no such
/// record, and the SRV name is built from the transport instead.
pub fn naptr_srv_name(records: &[Naptr], transport: SipTransport) -> Option<String> {
    let service = naptr_service(transport);
    records
        .iter()
        .filter(|r| r.flags.eq_ignore_ascii_case("s") && r.service.eq_ignore_ascii_case(service))
        .filter(|r| !r.replacement.is_empty() && r.replacement != ".")
        .min_by_key(|r| (r.order, r.preference))
        .map(|r| r.replacement.trim_end_matches('.').to_ascii_lowercase())
}

/// One SRV target with its addresses (or the name's own addresses when
/// there was no SRV: priority and weight 0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SrvTarget {
    /// The target's name (the carrier's host when there was no SRV).
    pub name: String,
    pub priority: u16,
    pub weight: u16,
    /// In the order DNS gave them, the port from the SRV record.
    pub addrs: Vec<SocketAddr>,
}

/// RFC 2782's order: by priority, lowest first; within a priority a
/// weighted random draw (weight 0 rarely first). Each target's addresses
/// follow it, and at most [`MAX_TARGETS`] addresses are returned.
pub fn order(targets: &[SrvTarget], rng: &mut impl Rng) -> Vec<SocketAddr> {
    let mut sorted: Vec<&SrvTarget> = targets.iter().collect();
    sorted.sort_by_key(|t| t.priority);
    let mut out = Vec::new();
    let mut rest = sorted.as_slice();
    while let Some(first) = rest.first() {
        let same = rest
            .iter()
            .take_while(|t| t.priority == first.priority)
            .count();
        let (group, tail) = rest.split_at(same);
        rest = tail;
        // RFC 2782: zero weights first, then a running sum; the first whose
        // sum reaches a number drawn in 0..=total is next.
        let mut group: Vec<&SrvTarget> = group.to_vec();
        group.sort_by_key(|t| t.weight != 0);
        while !group.is_empty() {
            let total: u32 = group.iter().map(|t| u32::from(t.weight)).sum();
            let pick = rng.gen_range(0..=total);
            let mut sum = 0;
            let index = group
                .iter()
                .position(|t| {
                    sum += u32::from(t.weight);
                    sum >= pick
                })
                .unwrap_or(0);
            out.extend(group.remove(index).addrs.iter().copied());
        }
    }
    out.truncate(MAX_TARGETS);
    out
}

/// The carriers' resolved targets, by carrier (only carriers whose host
/// is a name that resolved; the others go to their `Route::addr`).
pub type CarrierTargets = HashMap<CarrierId, Vec<SrvTarget>>;

/// What a new call tries, in order: carriers as [`route::plan`] orders
/// them (priority, weighted within one), each followed through all of its
/// targets in RFC 2782 order before the next carrier. Every entry is the
/// carrier's route with `addr` set to one target and `priority` set to its
/// place in this list, so the B2BUA's own `route::plan` (which drops
/// carriers at their channel limit) keeps the order, and its failover (503,
/// 408, silence, transport error → next entry) goes target by target.
pub fn call_plan(routes: &[Route], targets: &CarrierTargets, rng: &mut impl Rng) -> Vec<Route> {
    let carriers = route::plan(routes, |_| true, rng);
    let mut plan = Vec::new();
    for carrier in carriers {
        let addrs = match targets.get(&carrier.id) {
            Some(t) if !t.is_empty() => order(t, rng),
            _ => vec![carrier.addr],
        };
        for addr in addrs {
            let mut entry = carrier.clone();
            entry.addr = addr;
            entry.priority = i64::try_from(plan.len()).unwrap_or(i64::MAX);
            plan.push(entry);
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().expect("test address")
    }

    fn target(name: &str, priority: u16, weight: u16, addrs: &[&str]) -> SrvTarget {
        SrvTarget {
            name: name.to_owned(),
            priority,
            weight,
            addrs: addrs.iter().map(|a| addr(a)).collect(),
        }
    }

    #[test]
    fn literals_and_explicit_ports_skip_srv() {
        assert_eq!(
            procedure("192.0.2.7", 5060, SipTransport::Udp),
            Procedure::Literal(addr("192.0.2.7:5060"))
        );
        assert_eq!(
            procedure("[2001:db8::1]", 5061, SipTransport::Tls),
            Procedure::Literal(addr("[2001:db8::1]:5061"))
        );
        assert_eq!(
            procedure("2001:db8::1", 5080, SipTransport::Udp),
            Procedure::Literal(addr("[2001:db8::1]:5080"))
        );
        assert_eq!(
            procedure("Sip.Carrier.Example", 5080, SipTransport::Udp),
            Procedure::Address {
                name: "sip.carrier.example".into(),
                port: 5080
            }
        );
        // 5060 is not TLS's default: used as given.
        assert_eq!(
            procedure("sip.carrier.example", 5060, SipTransport::Tls),
            Procedure::Address {
                name: "sip.carrier.example".into(),
                port: 5060
            }
        );
    }

    #[test]
    fn default_ports_look_up_the_transports_srv_name() {
        let cases = [
            (SipTransport::Udp, 5060, "_sip._udp.carrier.example"),
            (SipTransport::Tcp, 5060, "_sip._tcp.carrier.example"),
            (SipTransport::Tls, 5061, "_sips._tcp.carrier.example"),
        ];
        for (transport, port, srv) in cases {
            assert_eq!(
                procedure("carrier.example.", port, transport),
                Procedure::Service {
                    name: "carrier.example".into(),
                    srv: srv.into(),
                    default_port: port
                }
            );
        }
    }

    #[test]
    fn naptr_picks_our_transports_lowest_order_record() {
        let naptr = |order, preference, flags: &str, service: &str, replacement: &str| Naptr {
            order,
            preference,
            flags: flags.into(),
            service: service.into(),
            replacement: replacement.into(),
        };
        let records = [
            naptr(10, 50, "s", "SIPS+D2T", "_sips._tcp.example.com."),
            naptr(20, 50, "s", "SIP+D2U", "_sip._udp.pool.example.com."),
            naptr(10, 90, "S", "SIP+D2U", "_sip._udp.edge.example.com."),
            naptr(5, 10, "a", "SIP+D2U", "a-record.example.com."),
            naptr(1, 1, "s", "SIP+D2T", "."),
        ];
        assert_eq!(
            naptr_srv_name(&records, SipTransport::Udp).as_deref(),
            Some("_sip._udp.edge.example.com")
        );
        assert_eq!(
            naptr_srv_name(&records, SipTransport::Tls).as_deref(),
            Some("_sips._tcp.example.com")
        );
        // The only TCP record has no replacement.
        assert_eq!(naptr_srv_name(&records, SipTransport::Tcp), None);
    }

    #[test]
    fn srv_targets_go_by_priority_then_weight() {
        let targets = [
            target("backup", 20, 100, &["10.0.0.3:5062"]),
            target("primary", 10, 0, &["10.0.0.1:5070", "10.0.0.9:5070"]),
        ];
        let mut rng = StdRng::seed_from_u64(1);
        assert_eq!(
            order(&targets, &mut rng),
            vec![
                addr("10.0.0.1:5070"),
                addr("10.0.0.9:5070"),
                addr("10.0.0.3:5062")
            ]
        );
        // Within one priority, weight 3:1 puts `a` first about 3 times in 4.
        let targets = [
            target("a", 10, 30, &["10.0.0.1:5060"]),
            target("b", 10, 10, &["10.0.0.2:5060"]),
        ];
        let mut rng = StdRng::seed_from_u64(7);
        let a_first = (0..4000)
            .filter(|_| order(&targets, &mut rng)[0] == addr("10.0.0.1:5060"))
            .count();
        assert!((2800..3200).contains(&a_first), "a first {a_first} of 4000");
    }

    #[test]
    fn at_most_max_targets_addresses() {
        let many: Vec<String> = (1..=20).map(|i| format!("10.0.0.{i}:5060")).collect();
        let refs: Vec<&str> = many.iter().map(String::as_str).collect();
        let mut rng = StdRng::seed_from_u64(3);
        let ordered = order(&[target("big", 1, 1, &refs)], &mut rng);
        assert_eq!(ordered.len(), MAX_TARGETS);
        assert_eq!(ordered[0], addr("10.0.0.1:5060"));
    }

    fn route(id: i64, priority: i64, addr_text: &str) -> Route {
        Route {
            id: CarrierId(id),
            name: format!("carrier {id}"),
            addr: addr(addr_text),
            transport: SipTransport::Udp,
            host: format!("carrier{id}.test"),
            username: None,
            secret: None,
            from_user: None,
            from_domain: None,
            caller_id: None,
            codecs: vec!["PCMU".to_owned()],
            number_format: shared::api::NumberFormat::E164,
            tech_prefix: String::new(),
            inbound: crate::sip::dids::InboundPolicy {
                sources: Vec::new(),
                number_from: Default::default(),
            },
            priority,
            weight: 1,
            max_channels: None,
            qualify: None,
            register: None,
            realm: None,
            tls_ca: None,
            srtp_required: false,
        }
    }

    #[test]
    fn a_call_tries_every_target_of_a_carrier_before_the_next_carrier() {
        let routes = [route(2, 5, "10.0.2.1:5060"), route(1, 1, "10.0.1.1:5060")];
        let mut targets = CarrierTargets::new();
        targets.insert(
            CarrierId(1),
            vec![
                target("b.carrier1.test", 20, 1, &["10.0.1.2:5080"]),
                target("a.carrier1.test", 10, 1, &["10.0.1.1:5070"]),
            ],
        );
        let mut rng = StdRng::seed_from_u64(5);
        let plan = call_plan(&routes, &targets, &mut rng);
        let tried: Vec<(i64, SocketAddr, i64)> =
            plan.iter().map(|r| (r.id.0, r.addr, r.priority)).collect();
        assert_eq!(
            tried,
            vec![
                (1, addr("10.0.1.1:5070"), 0),
                (1, addr("10.0.1.2:5080"), 1),
                (2, addr("10.0.2.1:5060"), 2),
            ]
        );
        // The B2BUA's planner keeps that order.
        let again = route::plan(&plan, |_| true, &mut rng);
        assert_eq!(again, plan);
    }
}
