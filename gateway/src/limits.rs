//! The daily fraud limits: what an agent, a campaign or all calls together
//! may cost a day (estimated from the carriers' rate tables) and how many
//! minutes they may talk to other countries. They are counted from the
//! stored call records (so a restart forgets nothing): after each record is
//! written, for the agent, campaign and gateway it touched; and for every
//! one at start and when an admin changes the limits.
//!
//! A limit reached raises one alert a day per scope, and, set to block,
//! refuses the scope's calls (an international-minutes limit: only its
//! international calls) until midnight UTC. The core keeps the blocks
//! (`sip::b2bua::blocks`); this module only counts.
//!
//! The limits come from the flags until an admin saves others on the
//! Security page (`PUT /api/v1/security/limits`); saved ones win after.

use shared::api::{CallRecord, FraudLimits, LimitAction, LimitUsage};
use shared::rates::format_money;

use crate::db::{self, Db, DbError, Group, Measure, Total};
use crate::sip::b2bua::blocks::{Reach, Scope};

/// A daily limit reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reached {
    pub scope: Scope,
    /// Which calls a block refuses.
    pub reach: Reach,
    /// The alert's kind: `spend_cap` or `international_minutes`.
    pub kind: &'static str,
    /// The agent, when the scope is one.
    pub agent: Option<String>,
    /// The alert, in words.
    pub message: String,
    /// The 403's reason phrase when the limit blocks; `None`: alert only.
    pub refusal: Option<String>,
}

/// One limit as counted: who, what, how much, and what reaching it does.
struct Limit {
    group: Group,
    measure: Measure,
    /// In the measure's unit (1/10000 of the currency, or seconds).
    at: i64,
    action: LimitAction,
}

fn limits_of(limits: &FraudLimits) -> Vec<Limit> {
    let spend = |group, at: Option<i64>| {
        at.map(|at| Limit {
            group,
            measure: Measure::Spend,
            at,
            action: limits.spend_action,
        })
    };
    let minutes = |group, at: Option<u32>| {
        at.map(|m| Limit {
            group,
            measure: Measure::InternationalSeconds,
            at: i64::from(m) * 60,
            action: limits.international_action,
        })
    };
    [
        spend(Group::Agent, limits.agent_daily_spend),
        spend(Group::Campaign, limits.campaign_daily_spend),
        spend(Group::Gateway, limits.gateway_daily_spend),
        minutes(Group::Agent, limits.agent_international_minutes),
        minutes(Group::Gateway, limits.gateway_international_minutes),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// The limits reached since `day_start_ms`: for everyone (`record` `None`),
/// or for the agent, campaign and gateway a just-stored `record` touched.
/// `home`: the country whose calls are not international.
pub async fn reached(
    db: &Db,
    limits: &FraudLimits,
    home: &str,
    day_start_ms: i64,
    record: Option<&CallRecord>,
) -> Result<Vec<Reached>, DbError> {
    let mut out = Vec::new();
    for limit in limits_of(limits) {
        let only = match record {
            None => None,
            Some(r) => {
                let counts = match limit.measure {
                    Measure::Spend => r.estimated_cost.is_some_and(|c| c > 0),
                    Measure::InternationalSeconds => {
                        r.duration_s > 0
                            && r.destination_country.as_deref().is_some_and(|c| c != home)
                    }
                };
                let id = match limit.group {
                    Group::Agent => r.account_id.map(|a| a.0),
                    Group::Campaign => r.campaign_id,
                    Group::Gateway => Some(0),
                };
                if !counts || id.is_none() {
                    continue;
                }
                id.filter(|_| limit.group != Group::Gateway)
            }
        };
        let totals = db::totals(
            db,
            limit.group,
            limit.measure,
            day_start_ms,
            only,
            limit.at,
            home,
        )
        .await?;
        out.extend(totals.into_iter().map(|t| describe(&limit, t)));
    }
    Ok(out)
}

fn describe(limit: &Limit, total: Total) -> Reached {
    let (scope, whose, who) = match limit.group {
        Group::Agent => (
            Scope::Agent(shared::ids::AccountId(total.id.unwrap_or_default())),
            format!("{}'s calls", total.name),
            "your calls".to_owned(),
        ),
        Group::Campaign => (
            Scope::Campaign(total.id.unwrap_or_default()),
            format!("Campaign {}'s calls", total.name),
            format!("campaign {}'s calls", total.name),
        ),
        Group::Gateway => (
            Scope::Gateway,
            "All calls".to_owned(),
            "all calls together".to_owned(),
        ),
    };
    let block = limit.action == LimitAction::Block;
    let (kind, reach, counted, refusal) = match limit.measure {
        Measure::Spend => (
            "spend_cap",
            Reach::All,
            format!(
                "today are estimated at {}, the daily spend cap is {}",
                format_money(total.amount),
                format_money(limit.at)
            ),
            format!("Forbidden ({who} today reached the daily spend cap; an admin can raise it)"),
        ),
        Measure::InternationalSeconds => (
            "international_minutes",
            Reach::International,
            format!(
                "to other countries today lasted {} min, the daily limit is {} min",
                total.amount / 60,
                limit.at / 60
            ),
            format!(
                "Forbidden ({who} today reached the daily international minutes; \
                 national calls still go, an admin can raise it)"
            ),
        ),
    };
    let outcome = match (block, reach) {
        (true, Reach::All) => "; calls are refused until midnight UTC",
        (true, Reach::International) => "; international calls are refused until midnight UTC",
        (false, _) => " (alert only: calls go on)",
    };
    Reached {
        scope,
        reach,
        kind,
        agent: (limit.group == Group::Agent).then_some(total.name),
        message: format!("{whose} {counted}{outcome}"),
        refusal: block.then_some(refusal),
    }
}

/// The limits in force: the saved ones, else the flags'.
pub async fn load(db: &Db, flags: &FraudLimits) -> Result<FraudLimits, DbError> {
    Ok(db::saved_limits(db).await?.unwrap_or_else(|| flags.clone()))
}

/// Today's counts for the Security page, with the limits `reached` today
/// (as [`reached`] counted them for everyone).
pub async fn usage(
    db: &Db,
    home: &str,
    day_start_ms: i64,
    reached: &[Reached],
) -> Result<LimitUsage, DbError> {
    let total = |measure| async move {
        let all = db::totals(db, Group::Gateway, measure, day_start_ms, None, 0, home).await?;
        Ok::<i64, DbError>(all.first().map_or(0, |t| t.amount))
    };
    Ok(LimitUsage {
        gateway_spend: total(Measure::Spend).await?,
        gateway_international_s: total(Measure::InternationalSeconds).await?,
        reached: reached.iter().map(|r| r.message.clone()).collect(),
    })
}

/// The limits an admin submits, checked: a cap of zero or less would
/// refuse everything and is asked to be left empty instead.
pub fn check(limits: &FraudLimits) -> Result<(), (&'static str, String)> {
    let money = [
        ("agent_daily_spend", limits.agent_daily_spend),
        ("campaign_daily_spend", limits.campaign_daily_spend),
        ("gateway_daily_spend", limits.gateway_daily_spend),
    ];
    for (field, cap) in money {
        if cap.is_some_and(|c| c <= 0) {
            return Err((
                field,
                "A spend cap must be above 0; leave it empty for no cap.".to_owned(),
            ));
        }
    }
    let minutes = [
        (
            "agent_international_minutes",
            limits.agent_international_minutes,
        ),
        (
            "gateway_international_minutes",
            limits.gateway_international_minutes,
        ),
    ];
    for (field, m) in minutes {
        if m.is_some_and(|m| m == 0 || m > 1440 * 1000) {
            return Err((
                field,
                "Give 1 to 1440000 minutes; leave it empty for no limit.".to_owned(),
            ));
        }
    }
    if limits.agent_calls_per_minute > 10_000 || limits.gateway_calls_per_minute > 100_000 {
        return Err((
            "agent_calls_per_minute",
            "Give at most 10000 calls a minute per agent and 100000 for the gateway (0: no limit)."
                .to_owned(),
        ));
    }
    Ok(())
}
