//! The source guard: a built-in fail2ban for SIP and HTTP, sans-IO.
//!
//! Per source IP it counts failed authentications (wrong SIP digest, a
//! REGISTER or INVITE refused for want of credentials, a failed web
//! sign-in) in a sliding window, and the messages a source sends (a token
//! bucket, like Kamailio's pike). A source over either limit, or one whose
//! `User-Agent` names a known scanner, is banned: its SIP gets nothing back
//! and its HTTP gets 429. A ban lasts `ban_for`, doubling each time the
//! same source is banned again, up to `max_ban`. Allowlisted networks and
//! the carriers' source addresses are never counted or banned.
//!
//! Memory is bounded: at most `max_sources` sources are tracked (the one
//! seen longest ago is forgotten first) and at most `max_bans` bans are
//! held (the one ending soonest goes first). Time comes in as [`Now`]; what
//! changed comes out of [`Guard::poll_event`] (the shell logs it, stores it
//! in SQLite and publishes the list to the HTTP side).

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use ipnet::IpNet;
use serde::Serialize;

use crate::sip::Now;

/// User-Agent fragments of SIP scanners and cracking tools (matched without
/// regard to case). SIPVicious says `friendly-scanner`.
pub const SCANNER_AGENTS: &[&str] = &[
    "friendly-scanner",
    "sipvicious",
    "sipcli",
    "sip-scan",
    "sipsak",
    "sundayddr",
    "iwar",
    "sivus",
    "vaxsipuseragent",
    "pplsip",
    "smap",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuardConfig {
    /// Failed authentications in `failure_window` that ban a source.
    pub max_failures: u32,
    pub failure_window: Duration,
    /// Messages a source may send in a burst, and per second after it.
    pub burst: u32,
    pub per_second: u32,
    /// The first ban's length; each later ban of the same source doubles it.
    pub ban_for: Duration,
    pub max_ban: Duration,
    /// Never counted, never banned.
    pub allow: Vec<IpNet>,
    pub max_sources: usize,
    pub max_bans: usize,
}

impl Default for GuardConfig {
    fn default() -> Self {
        GuardConfig {
            max_failures: 10,
            failure_window: Duration::from_secs(60),
            burst: 200,
            per_second: 50,
            ban_for: Duration::from_secs(15 * 60),
            max_ban: Duration::from_secs(24 * 3600),
            allow: Vec::new(),
            max_sources: 100_000,
            max_bans: 100_000,
        }
    }
}

/// Why a source was banned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BanReason {
    /// Too many failed authentications.
    AuthFailures,
    /// Too many messages.
    Flood,
    /// A scanner's User-Agent.
    Scanner,
    /// An admin banned it.
    Manual,
}

impl BanReason {
    pub fn as_str(self) -> &'static str {
        match self {
            BanReason::AuthFailures => "auth_failures",
            BanReason::Flood => "flood",
            BanReason::Scanner => "scanner",
            BanReason::Manual => "manual",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [
            BanReason::AuthFailures,
            BanReason::Flood,
            BanReason::Scanner,
            BanReason::Manual,
        ]
        .into_iter()
        .find(|r| r.as_str() == text)
    }
}

/// A banned source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ban {
    pub ip: IpAddr,
    pub reason: BanReason,
    /// What tipped it (a username, a User-Agent, a count).
    pub detail: String,
    /// Unix seconds.
    pub since: i64,
    pub until: i64,
    /// How many times this source has been banned (the ban doubles each time).
    pub times: u32,
    /// Messages and requests refused since the ban began.
    pub refused: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GuardEvent {
    Banned(Ban),
    /// Over, or lifted by an admin (`by_admin`).
    Unbanned {
        ip: IpAddr,
        by_admin: bool,
    },
}

/// What one source did lately.
#[derive(Debug, Clone)]
struct Source {
    /// Unix ms of recent failures, oldest first (at most `max_failures`).
    failures: VecDeque<i64>,
    /// Token bucket: tokens left (×1000) and when it was last filled.
    tokens_milli: u64,
    filled_ms: i64,
    seen_ms: i64,
    /// Bans so far, kept after the ban ends so the next one doubles.
    times: u32,
}

pub struct Guard {
    config: GuardConfig,
    /// Carriers' addresses: trusted like the allowlist.
    trusted: Vec<IpNet>,
    sources: HashMap<IpAddr, Source>,
    bans: HashMap<IpAddr, Ban>,
    events: VecDeque<GuardEvent>,
}

impl Guard {
    pub fn new(config: GuardConfig) -> Self {
        Guard {
            config,
            trusted: Vec::new(),
            sources: HashMap::new(),
            bans: HashMap::new(),
            events: VecDeque::new(),
        }
    }

    /// Bans read back from storage at start; those already over are dropped.
    pub fn restore(&mut self, now: Now, bans: Vec<Ban>) {
        for ban in bans {
            if ban.until > now.unix && !self.is_allowed(ban.ip) {
                self.source(ban.ip, now).times = ban.times;
                self.bans.insert(ban.ip, ban);
            }
        }
        self.cap_bans();
    }

    /// The carriers' source networks, never banned.
    pub fn set_trusted(&mut self, trusted: Vec<IpNet>) {
        for net in &trusted {
            self.sources.retain(|ip, _| !net.contains(ip));
        }
        self.trusted = trusted;
    }

    pub fn is_allowed(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.config
            .allow
            .iter()
            .chain(&self.trusted)
            .any(|n| n.contains(&ip))
    }

    /// A message or request arrives from `ip`: `false` when it must be
    /// dropped (banned, or this one made it a flood).
    pub fn admit(&mut self, now: Now, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        if self.check_ban(now, ip) {
            return false;
        }
        if self.is_allowed(ip) {
            return true;
        }
        let (burst, per_second) = (self.config.burst, self.config.per_second);
        let source = self.source(ip, now);
        let elapsed = u64::try_from(now.unix_ms - source.filled_ms).unwrap_or(0);
        let cap = u64::from(burst) * 1000;
        source.tokens_milli = (source.tokens_milli + elapsed * u64::from(per_second)).min(cap);
        source.filled_ms = now.unix_ms;
        if source.tokens_milli >= 1000 {
            source.tokens_milli -= 1000;
            return true;
        }
        let detail = format!("over {burst} messages at once or {per_second}/s");
        self.ban(now, ip, BanReason::Flood, detail);
        false
    }

    /// Whether `ip` is banned now (a refused message is counted on the ban).
    pub fn check_ban(&mut self, now: Now, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        match self.bans.get_mut(&ip) {
            Some(ban) if ban.until > now.unix => {
                ban.refused += 1;
                true
            }
            Some(_) => {
                self.bans.remove(&ip);
                self.events.push_back(GuardEvent::Unbanned {
                    ip,
                    by_admin: false,
                });
                false
            }
            None => false,
        }
    }

    /// A failed authentication from `ip` (`what`: the username or form).
    pub fn auth_failed(&mut self, now: Now, ip: IpAddr, what: &str) {
        let ip = canonical(ip);
        if self.is_allowed(ip) || self.bans.contains_key(&ip) {
            return;
        }
        let (max, window) = (self.config.max_failures.max(1), self.config.failure_window);
        let window_ms = i64::try_from(window.as_millis()).unwrap_or(i64::MAX);
        let source = self.source(ip, now);
        while source
            .failures
            .front()
            .is_some_and(|t| *t <= now.unix_ms - window_ms)
        {
            source.failures.pop_front();
        }
        source.failures.push_back(now.unix_ms);
        if source.failures.len() >= max as usize {
            source.failures.clear();
            let detail = format!(
                "{max} failed authentications in {}s, last: {what}",
                window.as_secs()
            );
            self.ban(now, ip, BanReason::AuthFailures, detail);
        }
    }

    /// A message whose User-Agent is `agent`: a scanner is banned at once.
    /// Returns `true` when it was one (the message must be dropped).
    pub fn user_agent(&mut self, now: Now, ip: IpAddr, agent: &str) -> bool {
        if !is_scanner(agent) {
            return false;
        }
        let ip = canonical(ip);
        if !self.is_allowed(ip) && !self.bans.contains_key(&ip) {
            let detail: String = agent.chars().take(80).collect();
            self.ban(now, ip, BanReason::Scanner, detail);
        }
        true
    }

    /// An admin bans `ip` (`false` when it is allowlisted).
    pub fn ban_by_admin(&mut self, now: Now, ip: IpAddr, detail: String) -> bool {
        let ip = canonical(ip);
        if self.is_allowed(ip) {
            return false;
        }
        self.ban(now, ip, BanReason::Manual, detail);
        true
    }

    /// An admin lifts the ban on `ip`; its failures are forgotten too.
    pub fn unban(&mut self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        if let Some(source) = self.sources.get_mut(&ip) {
            source.failures.clear();
            source.tokens_milli = u64::from(self.config.burst) * 1000;
        }
        let lifted = self.bans.remove(&ip).is_some();
        if lifted {
            self.events
                .push_back(GuardEvent::Unbanned { ip, by_admin: true });
        }
        lifted
    }

    /// Ends the bans that are over.
    pub fn handle_timeout(&mut self, now: Now) {
        let over: Vec<IpAddr> = self
            .bans
            .values()
            .filter(|b| b.until <= now.unix)
            .map(|b| b.ip)
            .collect();
        for ip in over {
            self.bans.remove(&ip);
            self.events.push_back(GuardEvent::Unbanned {
                ip,
                by_admin: false,
            });
        }
    }

    /// Unix seconds when the next ban ends.
    pub fn next_expiry(&self) -> Option<i64> {
        self.bans.values().map(|b| b.until).min()
    }

    pub fn bans(&self) -> impl Iterator<Item = &Ban> {
        self.bans.values()
    }

    pub fn poll_event(&mut self) -> Option<GuardEvent> {
        self.events.pop_front()
    }

    fn ban(&mut self, now: Now, ip: IpAddr, reason: BanReason, detail: String) {
        let (first, max) = (self.config.ban_for, self.config.max_ban);
        let source = self.source(ip, now);
        source.times = source.times.saturating_add(1);
        let times = source.times;
        let factor = 1u32 << (times - 1).min(16);
        let length = first.saturating_mul(factor).min(max);
        let ban = Ban {
            ip,
            reason,
            detail,
            since: now.unix,
            until: now.unix + i64::try_from(length.as_secs()).unwrap_or(i64::MAX / 2),
            times,
            refused: 0,
        };
        self.bans.insert(ip, ban.clone());
        self.cap_bans();
        self.events.push_back(GuardEvent::Banned(ban));
    }

    fn source(&mut self, ip: IpAddr, now: Now) -> &mut Source {
        if !self.sources.contains_key(&ip) && self.sources.len() >= self.config.max_sources {
            // Forget the source seen longest ago (a banned one keeps its ban).
            if let Some(oldest) = self
                .sources
                .iter()
                .min_by_key(|(_, s)| s.seen_ms)
                .map(|(ip, _)| *ip)
            {
                self.sources.remove(&oldest);
            }
        }
        let burst = u64::from(self.config.burst) * 1000;
        let source = self.sources.entry(ip).or_insert_with(|| Source {
            failures: VecDeque::new(),
            tokens_milli: burst,
            filled_ms: now.unix_ms,
            seen_ms: now.unix_ms,
            times: 0,
        });
        source.seen_ms = now.unix_ms;
        source
    }

    fn cap_bans(&mut self) {
        while self.bans.len() > self.config.max_bans {
            let Some(first) = self.bans.values().min_by_key(|b| b.until).map(|b| b.ip) else {
                return;
            };
            self.bans.remove(&first);
            self.events.push_back(GuardEvent::Unbanned {
                ip: first,
                by_admin: false,
            });
        }
    }
}

/// The bans as the SIP driver last published them: the HTTP layer answers
/// a banned source 429 from here, the UDP receiver drops its datagrams
/// before they reach the core, and the Security page lists them. What is
/// refused here is counted here and added to the core's count.
#[derive(Debug, Clone, Default)]
pub struct BanList {
    bans: Arc<RwLock<HashMap<IpAddr, Ban>>>,
    refused: Arc<Mutex<HashMap<IpAddr, u64>>>,
}

impl BanList {
    /// Whether `ip` is banned at `now_unix` (Unix seconds); a `true` is
    /// counted as one refusal.
    pub fn refuses(&self, ip: IpAddr, now_unix: i64) -> bool {
        let ip = canonical(ip);
        let banned = self
            .bans
            .read()
            .map(|bans| bans.get(&ip).is_some_and(|b| b.until > now_unix))
            .unwrap_or(false);
        if banned && let Ok(mut refused) = self.refused.lock() {
            *refused.entry(ip).or_default() += 1;
        }
        banned
    }

    /// Every ban still running, the newest first.
    pub fn list(&self, now_unix: i64) -> Vec<Ban> {
        let refused = self.refused.lock().map(|r| r.clone()).unwrap_or_default();
        let mut bans: Vec<Ban> = self
            .bans
            .read()
            .map(|bans| {
                bans.values()
                    .filter(|b| b.until > now_unix)
                    .map(|b| Ban {
                        refused: b.refused + refused.get(&b.ip).copied().unwrap_or(0),
                        ..b.clone()
                    })
                    .collect()
            })
            .unwrap_or_default();
        bans.sort_by(|a, b| b.since.cmp(&a.since).then(a.ip.cmp(&b.ip)));
        bans
    }

    /// Replaces the list with the guard's.
    pub fn publish<'a>(&self, bans: impl Iterator<Item = &'a Ban>) {
        let map: HashMap<IpAddr, Ban> = bans.map(|b| (b.ip, b.clone())).collect();
        if let Ok(mut refused) = self.refused.lock() {
            refused.retain(|ip, _| map.contains_key(ip));
        }
        if let Ok(mut current) = self.bans.write() {
            *current = map;
        }
    }
}

/// Whether a User-Agent is a known scanner's.
pub fn is_scanner(agent: &str) -> bool {
    let lower = agent.to_ascii_lowercase();
    SCANNER_AGENTS.iter().any(|s| lower.contains(s))
}

/// An IPv4-mapped IPv6 address as the IPv4 address it is, so a dual-stack
/// socket cannot dodge a ban.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests;
