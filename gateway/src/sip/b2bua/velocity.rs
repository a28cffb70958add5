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
    pub calls_per_minute: u32,
    /// Refuse the excess (`true`) or only raise the alert.
    pub block: bool,
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

    /// A call `agent` starts now.
    pub fn check(&mut self, now: &Now, agent: AccountId, username: &str) -> Verdict {
        let allow = Verdict {
            refuse: None,
            alert: None,
        };
        let Some(limit) = self.limit else {
            return allow;
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
            block: false,
        }));
        let verdicts: Vec<Verdict> = (0..5).map(|i| v.check(&at(i), AccountId(1), "a")).collect();
        assert!(verdicts.iter().all(|v| v.refuse.is_none()));
        assert_eq!(verdicts.iter().filter(|v| v.alert.is_some()).count(), 1);
        assert!(v.starts[&AccountId(1)].len() <= 2, "bounded");
        let mut off = Velocity::new(None);
        assert!((0..1000).all(|i| off.check(&at(i), AccountId(1), "a").refuse.is_none()));
    }
}
