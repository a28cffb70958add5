//! Velocity: how many calls an agent starts a minute. Over the limit, a
//! call is refused (or only reported, as the admin chose) and an alert is
//! raised, at most one a minute per agent, so a runaway dialer or a stolen
//! session shows up at once without burying the admin in alerts.
//!
//! Memory is bounded by the signed-in agents: per agent, at most `limit`
//! start times are kept.

use std::collections::{HashMap, VecDeque};

use shared::ids::AccountId;

use crate::sip::Now;

const MINUTE_MS: i64 = 60_000;

/// The limit, and what going over it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VelocityLimit {
    /// Per agent.
    pub calls_per_minute: u32,
    /// For all agents together (`None`: no such limit).
    pub gateway_calls_per_minute: Option<u32>,
    /// Refuse the excess (`true`) or only raise the alert.
    pub block: bool,
}

impl VelocityLimit {
    /// The calls-a-minute part of the fraud limits (`None`: no limit).
    pub fn from_limits(limits: &shared::api::FraudLimits) -> Option<VelocityLimit> {
        let per_agent = limits.agent_calls_per_minute;
        let gateway = Some(limits.gateway_calls_per_minute).filter(|n| *n > 0);
        (per_agent > 0 || gateway.is_some()).then_some(VelocityLimit {
            calls_per_minute: if per_agent == 0 { u32::MAX } else { per_agent },
            gateway_calls_per_minute: gateway,
            block: limits.velocity_action == shared::api::LimitAction::Block,
        })
    }
}

/// What to do with one new call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Refuse it (403 with this reason).
    pub refuse: Option<String>,
    /// Raise this alert.
    pub alert: Option<String>,
}

#[derive(Debug, Default)]
pub struct Velocity {
    limit: Option<VelocityLimit>,
    starts: HashMap<AccountId, VecDeque<i64>>,
    /// Every agent's, for the gateway-wide limit.
    all: VecDeque<i64>,
    /// No second gateway-wide alert before this (Unix ms).
    all_quiet_until: i64,
    /// No second alert for an agent before this (Unix ms).
    quiet_until: HashMap<AccountId, i64>,
}

impl Velocity {
    pub fn new(limit: Option<VelocityLimit>) -> Self {
        Velocity {
            limit,
            ..Velocity::default()
        }
    }

    /// A new limit (`None`: none); counts so far are kept.
    pub fn set_limit(&mut self, limit: Option<VelocityLimit>) {
        self.limit = limit;
    }

    /// A call `agent` starts now.
    pub fn check(&mut self, now: &Now, agent: AccountId, username: &str) -> Verdict {
        let allow = Verdict {
            refuse: None,
            alert: None,
        };
        let Some(limit) = self.limit else {
            return allow;
        };
        let gateway_alert = match self.check_gateway(now, limit) {
            Err(refused) => return refused,
            Ok(alert) => alert,
        };
        let allow = Verdict {
            refuse: None,
            alert: gateway_alert,
        };
        let starts = self.starts.entry(agent).or_default();
        while starts
            .front()
            .is_some_and(|t| *t <= now.unix_ms - MINUTE_MS)
        {
            starts.pop_front();
        }
        if starts.len() < limit.calls_per_minute as usize {
            starts.push_back(now.unix_ms);
            self.all.push_back(now.unix_ms);
            return allow;
        }
        let quiet = self
            .quiet_until
            .get(&agent)
            .is_some_and(|t| *t > now.unix_ms);
        let alert = (!quiet).then(|| {
            self.quiet_until.insert(agent, now.unix_ms + MINUTE_MS);
            format!(
                "{username} started more than {} calls in a minute{}",
                limit.calls_per_minute,
                if limit.block {
                    "; the excess is refused"
                } else {
                    ""
                }
            )
        });
        if limit.block {
            Verdict {
                refuse: Some(format!(
                    "Forbidden (over {} calls a minute: slow down; an admin has been alerted)",
                    limit.calls_per_minute
                )),
                alert,
            }
        } else {
            // Alert only: the call goes, and counts.
            self.all.push_back(now.unix_ms);
            starts.push_back(now.unix_ms);
            if starts.len() > limit.calls_per_minute as usize {
                starts.pop_front();
            }
            Verdict {
                refuse: None,
                alert,
            }
        }
    }
}

impl Velocity {
    /// The gateway-wide limit: `Err` with the verdict when it refuses the
    /// call; else the alert to raise, if it is over in alert-only mode.
    fn check_gateway(
        &mut self,
        now: &Now,
        limit: VelocityLimit,
    ) -> Result<Option<String>, Verdict> {
        let Some(max) = limit.gateway_calls_per_minute.map(|m| m as usize) else {
            return Ok(None);
        };
        while self
            .all
            .front()
            .is_some_and(|t| *t <= now.unix_ms - MINUTE_MS)
        {
            self.all.pop_front();
        }
        // Bounded: never more than the limit are kept.
        while self.all.len() > max {
            self.all.pop_front();
        }
        if self.all.len() < max {
            return Ok(None);
        }
        let alert = (now.unix_ms >= self.all_quiet_until).then(|| {
            self.all_quiet_until = now.unix_ms + MINUTE_MS;
            format!(
                "the gateway started more than {max} calls in a minute{}",
                if limit.block {
                    "; the excess is refused"
                } else {
                    ""
                }
            )
        });
        if limit.block {
            Err(Verdict {
                refuse: Some(format!(
                    "Forbidden (the gateway is over {max} calls a minute; an admin has been alerted)"
                )),
                alert,
            })
        } else {
            Ok(alert)
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use web_time::Instant;

    use super::*;

    fn at(ms: i64) -> Now {
        Now {
            instant: Instant::now(),
            unix: ms / 1000,
            unix_ms: ms,
        }
    }

    #[test]
    fn sixty_calls_in_a_minute_over_thirty_refuse_thirty_with_one_alert() {
        let mut v = Velocity::new(Some(VelocityLimit {
            calls_per_minute: 30,
            gateway_calls_per_minute: None,
            block: true,
        }));
        let verdicts: Vec<Verdict> = (0..60)
            .map(|i| v.check(&at(1_000_000 + i * 1000), AccountId(1), "demo"))
            .collect();
        assert_eq!(verdicts.iter().filter(|v| v.refuse.is_none()).count(), 30);
        assert_eq!(verdicts.iter().filter(|v| v.alert.is_some()).count(), 1);
        assert!(
            verdicts[30]
                .refuse
                .as_deref()
                .unwrap()
                .contains("over 30 calls a minute")
        );
        // Another agent is not touched; a minute after the first call, room again.
        assert!(
            v.check(&at(1_059_000), AccountId(2), "other")
                .refuse
                .is_none()
        );
        assert!(
            v.check(&at(1_060_001), AccountId(1), "demo")
                .refuse
                .is_none()
        );
    }

    #[test]
    fn alert_only_lets_calls_through_and_no_limit_does_nothing() {
        let mut v = Velocity::new(Some(VelocityLimit {
            calls_per_minute: 2,
            gateway_calls_per_minute: None,
            block: false,
        }));
        let verdicts: Vec<Verdict> = (0..5).map(|i| v.check(&at(i), AccountId(1), "a")).collect();
        assert!(verdicts.iter().all(|v| v.refuse.is_none()));
        assert_eq!(verdicts.iter().filter(|v| v.alert.is_some()).count(), 1);
        assert!(v.starts[&AccountId(1)].len() <= 2, "bounded");
        let mut off = Velocity::new(None);
        assert!((0..1000).all(|i| off.check(&at(i), AccountId(1), "a").refuse.is_none()));
    }

    #[test]
    fn the_gateway_wide_limit_holds_across_agents() {
        let mut v = Velocity::new(Some(VelocityLimit {
            calls_per_minute: 30,
            gateway_calls_per_minute: Some(10),
            block: true,
        }));
        let verdicts: Vec<Verdict> = (0..20)
            .map(|i| v.check(&at(1_000 + i), AccountId(i), "agent"))
            .collect();
        assert_eq!(verdicts.iter().filter(|v| v.refuse.is_none()).count(), 10);
        assert_eq!(verdicts.iter().filter(|v| v.alert.is_some()).count(), 1);
        assert!(
            verdicts[10]
                .refuse
                .as_deref()
                .unwrap()
                .contains("gateway is over 10")
        );
        assert!(v.all.len() <= 10, "bounded");
    }
}
