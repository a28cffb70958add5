//! Which address peers reach us at, when the gateway listens on all
//! interfaces (`0.0.0.0`) and no `--advertised-address` is given: the one
//! address SIP and SDP name (Via, Contact, `c=`), and the others the
//! browser is offered as extra ICE-lite host candidates (an office LAN and
//! a public address on one machine both work).
//!
//! A public address wins over a private one (RFC 1918, CGNAT), a private
//! one over nothing; loopback, link-local and unspecified addresses are
//! never chosen. With only loopback left the gateway refuses to start:
//! advertising 127.0.0.1 to remote peers gives them silence.

use std::net::{IpAddr, Ipv4Addr};

/// One address of one interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface {
    pub name: String,
    pub ip: IpAddr,
}

/// The machine's IPv4 interface addresses; empty when they cannot be read
/// (then the choice says so).
pub fn interfaces() -> Vec<Interface> {
    match local_ip_address::list_afinet_netifas() {
        Ok(list) => list
            .into_iter()
            .map(|(name, ip)| Interface { name, ip })
            .collect(),
        Err(e) => {
            tracing::warn!("cannot list the network interfaces: {e}");
            Vec::new()
        }
    }
}

/// The address chosen, why, and the other usable ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub address: IpAddr,
    /// In words, for the start-up log line.
    pub why: String,
    /// Further addresses browsers may reach us at (ICE host candidates).
    pub others: Vec<IpAddr>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Rank {
    Public,
    Private,
}

fn rank(ip: Ipv4Addr) -> Option<Rank> {
    let cgnat = ip.octets()[0] == 100 && (64..128).contains(&ip.octets()[1]);
    if ip.is_loopback()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
    {
        None
    } else if ip.is_private() || cgnat {
        Some(Rank::Private)
    } else {
        Some(Rank::Public)
    }
}

/// Picks the advertised address among `interfaces` (IPv4: browsers reach
/// the gateway over the page's address family, and carriers over IPv6 have
/// their own setting). Ties go to the first interface listed.
pub fn choose(interfaces: &[Interface]) -> Result<Choice, String> {
    let mut usable: Vec<(Rank, usize, &Interface, Ipv4Addr)> = interfaces
        .iter()
        .enumerate()
        .filter_map(|(i, iface)| match iface.ip {
            IpAddr::V4(v4) => rank(v4).map(|r| (r, i, iface, v4)),
            IpAddr::V6(_) => None,
        })
        .collect();
    usable.sort_by_key(|(rank, i, _, _)| (*rank, *i));
    let Some((rank, _, first, ip)) = usable.first().copied() else {
        let seen: Vec<String> = interfaces
            .iter()
            .map(|i| format!("{} {}", i.name, i.ip))
            .collect();
        return Err(format!(
            "listening on all interfaces, but this machine has no address remote peers can reach \
             (found: {}); give --advertised-address, or listen on 127.0.0.1 for a local trial",
            if seen.is_empty() {
                "none".to_owned()
            } else {
                seen.join(", ")
            }
        ));
    };
    let kind = match rank {
        Rank::Public => "a public address",
        Rank::Private => "a private address (no public one found)",
    };
    let others: Vec<IpAddr> = usable
        .iter()
        .skip(1)
        .map(|(_, _, _, v4)| IpAddr::V4(*v4))
        .filter(|other| *other != IpAddr::V4(ip))
        .collect();
    let also = if others.is_empty() {
        String::new()
    } else {
        let list: Vec<String> = others.iter().map(ToString::to_string).collect();
        format!("; browsers are also offered {}", list.join(", "))
    };
    Ok(Choice {
        address: IpAddr::V4(ip),
        why: format!(
            "{ip} of interface {}: {kind}, picked because the gateway listens on all interfaces \
             and --advertised-address is not set{also}",
            first.name
        ),
        others,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn iface(name: &str, ip: &str) -> Interface {
        Interface {
            name: name.to_owned(),
            ip: ip.parse().unwrap(),
        }
    }

    #[test]
    fn a_public_address_wins_and_the_rest_are_offered_too() {
        let choice = choose(&[
            iface("lo", "127.0.0.1"),
            iface("eth0", "192.168.1.20"),
            iface("eth1", "81.2.69.160"),
            iface("eth1", "fe80::1"),
            iface("docker0", "169.254.3.4"),
        ])
        .unwrap();
        assert_eq!(choice.address, "81.2.69.160".parse::<IpAddr>().unwrap());
        assert_eq!(choice.others, ["192.168.1.20".parse::<IpAddr>().unwrap()]);
        assert!(
            choice.why.contains("interface eth1: a public address"),
            "{}",
            choice.why
        );
        assert!(
            choice.why.contains("also offered 192.168.1.20"),
            "{}",
            choice.why
        );
    }

    #[test]
    fn a_private_address_is_taken_when_there_is_no_public_one() {
        let choice = choose(&[
            iface("lo", "127.0.0.1"),
            iface("veth0", "10.99.0.1"),
            iface("wg0", "100.70.0.2"),
        ])
        .unwrap();
        assert_eq!(choice.address, "10.99.0.1".parse::<IpAddr>().unwrap());
        assert_eq!(choice.others, ["100.70.0.2".parse::<IpAddr>().unwrap()]);
        assert!(choice.why.contains("no public one found"), "{}", choice.why);
    }

    #[test]
    fn only_loopback_is_refused_with_what_was_found() {
        let err = choose(&[iface("lo", "127.0.0.1")]).unwrap_err();
        assert!(err.contains("found: lo 127.0.0.1"), "{err}");
        assert!(err.contains("--advertised-address"), "{err}");
        assert!(choose(&[]).unwrap_err().contains("found: none"));
    }
}
