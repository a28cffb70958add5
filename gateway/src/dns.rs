//! Carrier host names, resolved the RFC 3263 way with `hickory-resolver`:
//! NAPTR → SRV (`_sip._udp`, `_sip._tcp` or `_sips._tcp` by the carrier's
//! transport) → A/AAAA, the decisions in [`crate::sip::rfc3263`]. Each
//! answer is kept until the shortest TTL among the records it used (at
//! least [`MIN_TTL`], at most [`MAX_TTL`]); [`refresh`] wakes when the
//! first one runs out and reloads the carriers, so the SIP core always holds
//! addresses no older than their TTL and never waits for DNS during a call.
//! A name that stops resolving keeps its last good addresses ("stale")
//! and is asked again every [`RETRY_AFTER_FAILURE`]; one that never
//! resolved is left out of the routes and shown as down on the carrier page.
//!
//! Name servers: `--dns-server` (tests point it at their own), else the
//! system's `/etc/resolv.conf`; `/etc/hosts` is read first either way.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::Duration;

use hickory_resolver::config::{
    LookupIpStrategy, NameServerConfigGroup, ResolverConfig, ResolverOpts,
};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::proto::rr::{RData, RecordType};
use hickory_resolver::{ResolveError, TokioResolver};
use shared::api::SipTransport;
use tokio::time::Instant;
use tracing::{debug, warn};

use crate::carriers::Families;
use crate::sip::rfc3263::{self, Naptr, Procedure, SrvTarget};

/// The shortest time an answer is kept (a TTL of 0 would ask on every
/// reload).
pub const MIN_TTL: Duration = Duration::from_secs(5);
/// The longest time an answer is kept, whatever its TTL.
pub const MAX_TTL: Duration = Duration::from_secs(3600);
/// How soon a name that failed is asked again.
pub const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(30);

/// A carrier's host as resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    /// Never empty; only addresses of the families the gateway has.
    pub targets: Vec<SrvTarget>,
    /// How: `SRV _sip._udp.carrier.example` (`via NAPTR`) or
    /// `A/AAAA carrier.example`.
    pub via: String,
}

/// What [`CarrierDns::resolve`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// An IP address: nothing was looked up.
    Literal(SocketAddr),
    /// Addresses to use; `stale` is the error of the last lookup when
    /// these are the previous answer's.
    Resolved {
        resolution: Resolution,
        stale: Option<String>,
        next_lookup: Instant,
    },
    /// Nothing to use.
    Failed { error: String, next_lookup: Instant },
}

/// (host, port, transport's NAPTR service): one cached answer.
type Key = (String, u16, &'static str);

struct Entry {
    /// The last answer, good or not.
    last: Result<Resolution, String>,
    /// The last good answer (served while lookups fail).
    good: Option<Resolution>,
    /// When to ask again.
    refresh_at: Instant,
}

/// The resolver and its cache; one per gateway, shared by the carrier
/// reloads (HTTP changes and [`refresh`]).
pub struct CarrierDns {
    resolver: TokioResolver,
    families: Families,
    cache: Mutex<HashMap<Key, Entry>>,
    /// Reloads one at a time, so an older answer never overwrites a newer
    /// one in the core.
    pub(crate) reload_lock: tokio::sync::Mutex<()>,
    /// Told when the cache changed (so [`refresh`] re-reads its deadline).
    changed: tokio::sync::Notify,
}

impl CarrierDns {
    /// Asks `server` (tests: a local DNS server), else the name servers of
    /// `/etc/resolv.conf`. Without either, every name fails to resolve
    /// (with that reason on the carrier page) and IP addresses still work.
    pub fn new(server: Option<SocketAddr>, families: Families) -> CarrierDns {
        // A carrier save waits for its lookups: fail in seconds, not tens.
        Self::with_timeout(server, families, Duration::from_secs(2))
    }

    /// As [`CarrierDns::new`], each query given up after `timeout` (and
    /// tried twice).
    pub fn with_timeout(
        server: Option<SocketAddr>,
        families: Families,
        timeout: Duration,
    ) -> CarrierDns {
        let provider = TokioConnectionProvider::default();
        let mut builder = match server {
            Some(addr) => {
                let servers =
                    NameServerConfigGroup::from_ips_clear(&[addr.ip()], addr.port(), true);
                TokioResolver::builder_with_config(
                    ResolverConfig::from_parts(None, Vec::new(), servers),
                    provider,
                )
            }
            None => match TokioResolver::builder_tokio() {
                Ok(builder) => builder,
                Err(e) => {
                    warn!(
                        "cannot read the system's DNS settings ({e}); carrier host names will \
                         not resolve (set --dns-server)"
                    );
                    TokioResolver::builder_with_config(
                        ResolverConfig::from_parts(None, Vec::new(), NameServerConfigGroup::new()),
                        provider,
                    )
                }
            },
        };
        let opts: &mut ResolverOpts = builder.options_mut();
        // Both families: the gateway keeps those it can reach.
        opts.ip_strategy = LookupIpStrategy::Ipv4AndIpv6;
        opts.timeout = timeout;
        opts.attempts = 2;
        CarrierDns {
            resolver: builder.build(),
            families,
            cache: Mutex::new(HashMap::new()),
            reload_lock: tokio::sync::Mutex::new(()),
            changed: tokio::sync::Notify::new(),
        }
    }

    /// A carrier's addresses: from the cache while its answer is fresh,
    /// else looked up now.
    pub async fn resolve(&self, host: &str, port: u16, transport: SipTransport) -> Outcome {
        let procedure = rfc3263::procedure(host, port, transport);
        if let Procedure::Literal(addr) = procedure {
            return Outcome::Literal(addr);
        }
        let key: Key = (
            host.to_ascii_lowercase(),
            port,
            rfc3263::naptr_service(transport),
        );
        let now = Instant::now();
        if let Some(outcome) = self.cached(&key, now) {
            return outcome;
        }
        let (last, valid_until) = match self.look_up(&procedure, transport).await {
            Ok((resolution, valid_until)) => (Ok(resolution), valid_until),
            Err(error) => (Err(error), now + RETRY_AFTER_FAILURE),
        };
        let refresh_at = valid_until.clamp(now + MIN_TTL, now + MAX_TTL);
        let outcome = {
            let mut cache = self.lock();
            let previous = cache.remove(&key).and_then(|e| e.good);
            let good = match &last {
                Ok(resolution) => Some(resolution.clone()),
                Err(_) => previous,
            };
            let entry = Entry {
                last,
                good,
                refresh_at,
            };
            let outcome = outcome_of(&entry);
            cache.insert(key, entry);
            outcome
        };
        self.changed.notify_one();
        outcome
    }

    /// Forgets the answers of hosts no carrier uses any more.
    pub fn retain(&self, in_use: &[(String, u16, SipTransport)]) {
        let keys: Vec<Key> = in_use
            .iter()
            .map(|(h, p, t)| (h.to_ascii_lowercase(), *p, rfc3263::naptr_service(*t)))
            .collect();
        self.lock().retain(|k, _| keys.contains(k));
    }

    /// When the first cached answer runs out.
    pub fn next_refresh(&self) -> Option<Instant> {
        self.lock().values().map(|e| e.refresh_at).min()
    }

    fn cached(&self, key: &Key, now: Instant) -> Option<Outcome> {
        let cache = self.lock();
        let entry = cache.get(key)?;
        (now < entry.refresh_at).then(|| outcome_of(entry))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Entry>> {
        // Each change is one insert or remove: a panicked writer left a
        // whole map behind.
        self.cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The lookups of one procedure, and until when their answers hold.
    async fn look_up(
        &self,
        procedure: &Procedure,
        transport: SipTransport,
    ) -> Result<(Resolution, Instant), String> {
        match procedure {
            Procedure::Literal(addr) => Ok((
                Resolution {
                    targets: vec![SrvTarget {
                        name: addr.ip().to_string(),
                        priority: 0,
                        weight: 0,
                        addrs: vec![*addr],
                    }],
                    via: "IP address".to_owned(),
                },
                Instant::now() + MAX_TTL,
            )),
            Procedure::Address { name, port } => {
                let (addrs, until) = self.addresses(name, *port).await?;
                Ok((self.by_address(name, addrs)?, until))
            }
            Procedure::Service {
                name,
                srv,
                default_port,
            } => {
                let mut until = Instant::now() + MAX_TTL;
                let mut srv_name = srv.clone();
                let mut via_naptr = false;
                match self.resolver.lookup(name.as_str(), RecordType::NAPTR).await {
                    Ok(lookup) => {
                        let records: Vec<Naptr> = lookup
                            .iter()
                            .filter_map(|rdata| match rdata {
                                RData::NAPTR(n) => Some(Naptr {
                                    order: n.order(),
                                    preference: n.preference(),
                                    flags: String::from_utf8_lossy(n.flags()).into_owned(),
                                    service: String::from_utf8_lossy(n.services()).into_owned(),
                                    replacement: n.replacement().to_ascii(),
                                }),
                                _ => None,
                            })
                            .collect();
                        if let Some(named) = rfc3263::naptr_srv_name(&records, transport) {
                            srv_name = named;
                            via_naptr = true;
                            until = until.min(lookup.valid_until().into());
                        }
                    }
                    Err(e) if is_absent(&e) => {}
                    Err(e) => return Err(format!("NAPTR {name}: {}", describe(&e))),
                }
                match self.resolver.srv_lookup(srv_name.as_str()).await {
                    Ok(lookup) => {
                        until = until.min(lookup.as_lookup().valid_until().into());
                        let mut targets = Vec::new();
                        let mut failures = Vec::new();
                        for record in lookup.iter() {
                            let target = record.target().to_ascii();
                            let target = target.trim_end_matches('.');
                            // RFC 2782: a target of "." means no service here.
                            if target.is_empty() {
                                continue;
                            }
                            match self.addresses(target, record.port()).await {
                                Ok((addrs, valid)) => {
                                    until = until.min(valid);
                                    let addrs = self.reachable(addrs);
                                    if !addrs.is_empty() {
                                        targets.push(SrvTarget {
                                            name: target.to_owned(),
                                            priority: record.priority(),
                                            weight: record.weight(),
                                            addrs,
                                        });
                                    }
                                }
                                Err(e) => failures.push(e),
                            }
                        }
                        if targets.is_empty() {
                            let why = if failures.is_empty() {
                                "no target of an IP family this gateway has".to_owned()
                            } else {
                                failures.join("; ")
                            };
                            return Err(format!("SRV {srv_name}: {why}"));
                        }
                        let via = if via_naptr {
                            format!("SRV {srv_name} (via NAPTR)")
                        } else {
                            format!("SRV {srv_name}")
                        };
                        Ok((Resolution { targets, via }, until))
                    }
                    Err(e) if is_absent(&e) => {
                        // RFC 3263 §4.2: no SRV, the name's own addresses.
                        let (addrs, valid) = self.addresses(name, *default_port).await?;
                        Ok((self.by_address(name, addrs)?, until.min(valid)))
                    }
                    Err(e) => Err(format!("SRV {srv_name}: {}", describe(&e))),
                }
            }
        }
    }

    /// A and AAAA of `name`, on `port`, and until when they hold.
    async fn addresses(&self, name: &str, port: u16) -> Result<(Vec<SocketAddr>, Instant), String> {
        match self.resolver.lookup_ip(name).await {
            Ok(lookup) => {
                let addrs = lookup.iter().map(|ip| SocketAddr::new(ip, port)).collect();
                Ok((addrs, lookup.valid_until().into()))
            }
            Err(e) => Err(format!("{name}: {}", describe(&e))),
        }
    }

    fn reachable(&self, addrs: Vec<SocketAddr>) -> Vec<SocketAddr> {
        let reach = |ip: IpAddr| {
            if ip.is_ipv4() {
                self.families.ipv4
            } else {
                self.families.ipv6
            }
        };
        addrs.into_iter().filter(|a| reach(a.ip())).collect()
    }

    fn by_address(&self, name: &str, addrs: Vec<SocketAddr>) -> Result<Resolution, String> {
        let addrs = self.reachable(addrs);
        if addrs.is_empty() {
            return Err(format!(
                "{name} has no address of an IP family this gateway has \
                 (IPv6 carriers need --sip-udp6)"
            ));
        }
        Ok(Resolution {
            targets: vec![SrvTarget {
                name: name.to_owned(),
                priority: 0,
                weight: 0,
                addrs,
            }],
            via: format!("A/AAAA {name}"),
        })
    }
}

fn outcome_of(entry: &Entry) -> Outcome {
    match (&entry.last, &entry.good) {
        (Ok(resolution), _) => Outcome::Resolved {
            resolution: resolution.clone(),
            stale: None,
            next_lookup: entry.refresh_at,
        },
        (Err(error), Some(good)) => Outcome::Resolved {
            resolution: good.clone(),
            stale: Some(error.clone()),
            next_lookup: entry.refresh_at,
        },
        (Err(error), None) => Outcome::Failed {
            error: error.clone(),
            next_lookup: entry.refresh_at,
        },
    }
}

/// The name exists without such records, or does not exist: the next
/// step of RFC 3263 applies (not a reason to give up).
fn is_absent(e: &ResolveError) -> bool {
    e.is_no_records_found() || e.is_nx_domain()
}

/// An error in a few words for the carrier page.
fn describe(e: &ResolveError) -> String {
    if e.is_nx_domain() {
        "no such host (NXDOMAIN)".to_owned()
    } else if e.is_no_records_found() {
        "no address records".to_owned()
    } else {
        e.to_string()
    }
}

/// Reloads the carriers whenever a cached answer runs out, for as long as
/// the gateway runs (a reload through the API moves the deadline too).
pub async fn refresh(state: crate::http::AppState) {
    loop {
        let wake = state
            .dns
            .next_refresh()
            .unwrap_or_else(|| Instant::now() + MAX_TTL);
        tokio::select! {
            () = tokio::time::sleep_until(wake) => {
                debug!("carrier DNS answers expired: reloading carriers");
                if let Err(e) = crate::carriers::reload(&state).await {
                    warn!("carrier reload after DNS expiry failed: {e}");
                    // A database that failed now is asked again shortly.
                    tokio::time::sleep(RETRY_AFTER_FAILURE).await;
                }
            }
            () = state.dns.changed.notified() => {}
        }
    }
}
