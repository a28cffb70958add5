//! Carriers and agents as calls need them, and failover planning: the
//! order in which a new call tries its carriers (a pure function of the
//! carriers, their free channels and a random draw).

use shared::ids::{AccountId, CarrierId};
use std::net::SocketAddr;
use std::time::Duration;

use rand::Rng;
use shared::api::{DialingProfile, NumberFormat, SipTransport};

use crate::sip::dids::InboundPolicy;

/// A carrier, as calls need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub id: CarrierId,
    pub name: String,
    /// Where its SIP goes (resolved by the shell).
    pub addr: SocketAddr,
    /// UDP, TCP or TLS.
    pub transport: SipTransport,
    /// The host written in Request-URIs and To.
    pub host: String,
    pub username: Option<String>,
    pub secret: Option<String>,
    pub from_user: Option<String>,
    pub from_domain: Option<String>,
    pub caller_id: Option<String>,
    pub codecs: Vec<String>,
    pub number_format: NumberFormat,
    pub tech_prefix: String,
    /// Who may send us calls on this carrier's behalf.
    pub inbound: InboundPolicy,
    /// Lower is tried first.
    pub priority: i64,
    /// Share of calls among carriers of the same priority.
    pub weight: u32,
    /// Concurrent calls (inbound and outbound) it takes; `None`: no limit.
    pub max_channels: Option<u32>,
    /// OPTIONS every this often; down after repeated silence (`None`: off).
    pub qualify: Option<Duration>,
    /// REGISTER with this expiry (seconds) when the carrier wants it.
    pub register: Option<u32>,
    /// The digest realm, when the carrier names one in advance.
    pub realm: Option<String>,
    /// TLS: the only CA its certificate may chain to (PEM); `None`: the
    /// usual public roots.
    pub tls_ca: Option<String>,
    /// Media only as SRTP (SDES); plain RTP refused.
    pub srtp_required: bool,
}

/// A signed-in agent, as calls need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentInfo {
    pub account_id: AccountId,
    pub username: String,
    pub display_name: String,
    pub dialing: DialingProfile,
    /// Calls (inbound and outbound) the agent may have at once.
    pub max_calls: u32,
}

/// The order to try carriers in: by priority, and within a priority in a
/// random order drawn by weight; carriers without a free channel
/// (`has_capacity` false) are left out.
pub fn plan(
    routes: &[Route],
    has_capacity: impl Fn(&Route) -> bool,
    rng: &mut impl Rng,
) -> Vec<Route> {
    let mut sorted: Vec<Route> = routes.iter().filter(|r| has_capacity(r)).cloned().collect();
    sorted.sort_by_key(|r| r.priority);
    let mut plan = Vec::with_capacity(sorted.len());
    let mut rest = sorted.as_slice();
    while let Some(first) = rest.first() {
        let same = rest
            .iter()
            .take_while(|r| r.priority == first.priority)
            .count();
        let (group, tail) = rest.split_at(same);
        rest = tail;
        let mut group = group.to_vec();
        while !group.is_empty() {
            let total: u64 = group.iter().map(|r| u64::from(r.weight.max(1))).sum();
            let mut pick = rng.gen_range(0..total);
            let index = group
                .iter()
                .position(|r| {
                    let w = u64::from(r.weight.max(1));
                    if pick < w {
                        true
                    } else {
                        pick -= w;
                        false
                    }
                })
                .unwrap_or(0);
            plan.push(group.remove(index));
        }
    }
    plan
}

/// Whether `route` has a free channel when `in_use` calls hold it.
pub fn has_capacity(route: &Route, in_use: usize) -> bool {
    route.max_channels.is_none_or(|max| in_use < max as usize)
}
