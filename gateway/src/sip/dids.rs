//! Inbound routing tables, as the SIP core holds them: which carrier an
//! INVITE came from (source address or digest credentials), where the
//! dialled number sits in it, and where each DID rings. Filled by the shell
//! from the database at start and after every change (`CoreInput::Dids`,
//! `CoreInput::Routes`); looked up here without I/O.

use shared::ids::{AccountId, CarrierId};
use std::net::IpAddr;
use std::time::Duration;

use ipnet::IpNet;

/// Where a carrier puts the number that was dialled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NumberSource {
    #[default]
    RequestUri,
    To,
    /// The first Diversion header (forwarded calls), else the Request-URI.
    Diversion,
}

/// What a carrier needs for inbound calls.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InboundPolicy {
    /// Addresses (IP or CIDR) allowed to send calls to our DIDs.
    pub sources: Vec<IpNet>,
    pub number_from: NumberSource,
}

impl InboundPolicy {
    pub fn allows(&self, ip: IpAddr) -> bool {
        self.sources.iter().any(|net| net.contains(&ip))
    }
}

/// How a ring group rings its members.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RingStrategy {
    /// Every member at once; the first to answer wins.
    All,
    /// One member after the other, each for `member_timeout`.
    InOrder,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DidTarget {
    /// Every registered tab of this agent rings.
    Agent {
        account_id: AccountId,
        username: String,
    },
    Group {
        name: String,
        strategy: RingStrategy,
        /// Agents' usernames, in ringing order.
        members: Vec<String>,
        member_timeout: Duration,
        /// The status when nobody answers (480 when unset).
        fallback_code: Option<u16>,
    },
    /// Refused with this status.
    Reject { code: u16 },
}

/// One of our numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Did {
    /// E.164, with `+`.
    pub number: String,
    pub label: String,
    /// Only this carrier may deliver it (`None`: any carrier).
    pub carrier_id: Option<CarrierId>,
    pub target: DidTarget,
}

/// The DIDs, looked up by E.164 number.
#[derive(Debug, Clone, Default)]
pub struct DidTable {
    dids: std::collections::HashMap<String, Did>,
}

impl DidTable {
    pub fn new(dids: Vec<Did>) -> Self {
        DidTable {
            dids: dids.into_iter().map(|d| (d.number.clone(), d)).collect(),
        }
    }

    pub fn lookup(&self, e164: &str) -> Option<&Did> {
        self.dids.get(e164)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn sources_match_by_cidr() {
        let p = InboundPolicy {
            sources: vec!["127.0.0.0/30".parse().unwrap(), "::1/128".parse().unwrap()],
            number_from: NumberSource::RequestUri,
        };
        assert!(p.allows("127.0.0.2".parse().unwrap()));
        assert!(!p.allows("127.0.0.9".parse().unwrap()));
        assert!(p.allows("::1".parse().unwrap()));
        assert!(!InboundPolicy::default().allows("127.0.0.1".parse().unwrap()));
    }
}
