//! The Security page's model: the banned sources as the gateway lists them
//! (`GET /api/v1/security/bans`, reloaded every few seconds), a ban in
//! words, the "Ban an address" form as a [`BanInput`], and the alerts
//! (`GET /api/v1/security/alerts`): their kind and age in words, and which
//! one the admin pages' banner shows.

use std::rc::Rc;

use shared::api::{Alert, BanEntry, BanInput, FraudLimits, LimitAction, SecuritySettings};
use shared::rates::{format_price, parse_price};
use yew::Reducible;

use super::forms::{Values, optional_number, parse_enum};
use super::{Form, FormFailure};

/// A ban's reason (`auth_failures`, `flood`, `scanner`, `manual`) in words;
/// a reason this client does not know is shown as the gateway names it.
pub fn reason_text(reason: &str) -> String {
    match reason {
        "auth_failures" => "Failed sign-ins / SIP authentication".to_owned(),
        "flood" => "Flood".to_owned(),
        "scanner" => "Scanner".to_owned(),
        "manual" => "Banned by an admin".to_owned(),
        other => other.replace('_', " "),
    }
}

/// How long until `until` (Unix seconds) from `now`: "in 45 s",
/// "in 14 min", "in 2 h 5 min", "in 3 d 4 h"; "ending" once it is over
/// (the gateway lifts it within a second; the next reload drops the row).
/// Minutes are rounded up, so a fresh 15-minute ban says "in 15 min".
pub fn remaining_text(until: i64, now: i64) -> String {
    let seconds = until.saturating_sub(now);
    if seconds <= 0 {
        return "ending".to_owned();
    }
    if seconds < 60 {
        return format!("in {seconds} s");
    }
    let minutes = seconds / 60 + i64::from(seconds % 60 != 0);
    if minutes < 60 {
        return format!("in {minutes} min");
    }
    let (hours, minutes) = (minutes / 60, minutes % 60);
    if hours < 48 {
        return match minutes {
            0 => format!("in {hours} h"),
            m => format!("in {hours} h {m} min"),
        };
    }
    let (days, hours) = (hours / 24, hours % 24);
    match hours {
        0 => format!("in {days} d"),
        h => format!("in {days} d {h} h"),
    }
}

/// How long an alert shows in the banner above the admin pages.
pub const BANNER_SECS: i64 = 3_600;

/// An alert's kind (`velocity`) in words; a kind this client does not
/// know is shown as the gateway names it.
pub fn kind_text(kind: &str) -> String {
    match kind {
        "velocity" => "Calls a minute".to_owned(),
        "spend_cap" => "Daily spend cap".to_owned(),
        "international_minutes" => "International minutes".to_owned(),
        "new_destination" => "New destination".to_owned(),
        "night" => "Call at night".to_owned(),
        "spike" => "Spike".to_owned(),
        other => other.replace('_', " "),
    }
}

/// How long ago `at` (Unix seconds) was from `now`: "just now" under a
/// minute (or a little in the future, when the clocks differ), "5 min ago",
/// "2 h ago", "3 d ago"; rounded down.
pub fn ago_text(at: i64, now: i64) -> String {
    let seconds = now.saturating_sub(at);
    if seconds < 60 {
        return "just now".to_owned();
    }
    let minutes = seconds / 60;
    if minutes < 60 {
        return format!("{minutes} min ago");
    }
    let hours = minutes / 60;
    if hours < 48 {
        return format!("{hours} h ago");
    }
    format!("{} d ago", hours / 24)
}

/// The alert the banner shows: the newest one less than [`BANNER_SECS`]
/// old at `now`, whatever order the list comes in. One stamped ahead of
/// `now` (the browser's clock is behind) counts as fresh.
pub fn banner_alert(alerts: &[Alert], now: i64) -> Option<&Alert> {
    alerts
        .iter()
        .filter(|a| now.saturating_sub(a.at) < BANNER_SECS)
        .max_by_key(|a| (a.at, a.id))
}

/// An amount in 1/10000 of the currency as a person writes it: `12.5`,
/// `50`, `0.0125` (no trailing zeros).
pub fn money_text(amount: i64) -> String {
    let text = format_price(amount);
    let text = text.trim_end_matches('0');
    text.trim_end_matches('.').to_owned()
}

/// The fraud limits form, filled with `limits`: amounts as decimals,
/// empty for no limit.
pub fn limits_values(limits: &FraudLimits) -> Values {
    let action = |a: LimitAction| super::forms::enum_str(&a);
    let money = |m: Option<i64>| m.map(money_text).unwrap_or_default();
    let minutes = |m: Option<u32>| m.map(|m| m.to_string()).unwrap_or_default();
    [
        (
            "agent_calls_per_minute",
            limits.agent_calls_per_minute.to_string(),
        ),
        (
            "gateway_calls_per_minute",
            limits.gateway_calls_per_minute.to_string(),
        ),
        ("velocity_action", action(limits.velocity_action)),
        ("agent_daily_spend", money(limits.agent_daily_spend)),
        ("campaign_daily_spend", money(limits.campaign_daily_spend)),
        ("gateway_daily_spend", money(limits.gateway_daily_spend)),
        ("spend_action", action(limits.spend_action)),
        (
            "agent_international_minutes",
            minutes(limits.agent_international_minutes),
        ),
        (
            "gateway_international_minutes",
            minutes(limits.gateway_international_minutes),
        ),
        ("international_action", action(limits.international_action)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// The form as the body of `PUT /api/v1/security/limits`; a number that
/// does not read is caught on its field (ranges are the gateway's to say).
pub fn limits_input(form: &Form) -> Result<FraudLimits, FormFailure> {
    let count = |field: &str| {
        optional_number::<u32>(form, field, "A whole number of calls; 0 for no limit.")
            .map(Option::unwrap_or_default)
    };
    let money = |field: &str| -> Result<Option<i64>, FormFailure> {
        let text = form.value(field).trim();
        if text.is_empty() {
            return Ok(None);
        }
        parse_price(text)
            .map(Some)
            .map_err(|_| FormFailure::field(field, "An amount like 50 or 12.5; empty for no cap."))
    };
    let minutes =
        |field: &str| optional_number::<u32>(form, field, "Whole minutes; empty for no limit.");
    let action = |field: &str| parse_enum::<LimitAction>(form, field);
    Ok(FraudLimits {
        agent_calls_per_minute: count("agent_calls_per_minute")?,
        gateway_calls_per_minute: count("gateway_calls_per_minute")?,
        velocity_action: action("velocity_action")?,
        agent_daily_spend: money("agent_daily_spend")?,
        campaign_daily_spend: money("campaign_daily_spend")?,
        gateway_daily_spend: money("gateway_daily_spend")?,
        spend_action: action("spend_action")?,
        agent_international_minutes: minutes("agent_international_minutes")?,
        gateway_international_minutes: minutes("gateway_international_minutes")?,
        international_action: action("international_action")?,
    })
}

/// The guard's settings (from the gateway's flags) in words, one
/// `(what, value)` line each, for the Security page.
pub fn guard_lines(s: &SecuritySettings) -> Vec<(&'static str, String)> {
    let list = |items: &[String], none: &str| {
        if items.is_empty() {
            none.to_owned()
        } else {
            items.join(", ")
        }
    };
    vec![
        (
            "Ban after",
            format!(
                "{} failed authentications in {} s",
                s.ban_after, s.ban_window_s
            ),
        ),
        (
            "Ban length",
            format!(
                "{} min, doubling on each repeat up to {} h",
                s.ban_minutes,
                s.ban_max_minutes / 60
            ),
        ),
        (
            "Flood limit",
            format!("{} SIP messages a second per source", s.sip_rate),
        ),
        (
            "Never banned",
            list(&s.ban_allow, "no network (none allowlisted)"),
        ),
        (
            "Countries anyone may call",
            list(&s.dial_countries, "any (policies decide)"),
        ),
        ("Home country", s.home_country.clone()),
        (
            "Business hours",
            s.business_hours
                .clone()
                .unwrap_or_else(|| "not set (no night alerts)".to_owned()),
        ),
    ]
}

/// The "Ban an address" form, empty.
pub fn ban_values() -> Values {
    [("ip", String::new()), ("detail", String::new())]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
}

/// The form as the body of `POST /api/v1/security/bans`. Only an empty
/// address is caught here; whether it is an address at all, and one that
/// may be banned, is the gateway's to say (its message lands on `ip`).
pub fn ban_input(form: &Form) -> Result<BanInput, FormFailure> {
    let ip = form.value("ip").trim();
    if ip.is_empty() {
        return Err(FormFailure::field(
            "ip",
            "Type the IPv4 or IPv6 address to ban.",
        ));
    }
    Ok(BanInput {
        ip: ip.to_owned(),
        detail: form.value("detail").trim().to_owned(),
    })
}

/// The bans as the page shows them. Each reload is numbered; an answer to
/// any but the latest is dropped, so a list fetched before an unban cannot
/// bring the row back.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Bans {
    pub items: Vec<BanEntry>,
    /// A list has arrived at least once (before that: "Loading…").
    pub loaded: bool,
    /// Why the last reload or unban failed.
    pub error: Option<String>,
    /// The addresses whose unban is on its way.
    pub unbanning: Vec<String>,
    latest: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub enum BansAction {
    /// Reload number `seq` went out.
    Requested(u32),
    Loaded {
        seq: u32,
        items: Vec<BanEntry>,
    },
    Failed {
        seq: u32,
        message: String,
    },
    /// The admin confirmed lifting the ban on this address.
    Unbanning(String),
    /// The gateway lifted it: the row goes at once.
    Unbanned(String),
    UnbanFailed {
        ip: String,
        message: String,
    },
}

impl Bans {
    pub fn is_unbanning(&self, ip: &str) -> bool {
        self.unbanning.iter().any(|u| u == ip)
    }
}

impl Reducible for Bans {
    type Action = BansAction;

    fn reduce(self: Rc<Self>, action: BansAction) -> Rc<Self> {
        let mut next = (*self).clone();
        match action {
            BansAction::Requested(seq) => next.latest = seq,
            BansAction::Loaded { seq, items } if seq == self.latest => {
                next.items = items;
                next.loaded = true;
                next.error = None;
            }
            BansAction::Failed { seq, message } if seq == self.latest => {
                next.error = Some(message);
            }
            BansAction::Unbanning(ip) => {
                next.error = None;
                if !next.is_unbanning(&ip) {
                    next.unbanning.push(ip);
                }
            }
            BansAction::Unbanned(ip) => {
                next.unbanning.retain(|u| *u != ip);
                next.items.retain(|b| b.ip != ip);
            }
            BansAction::UnbanFailed { ip, message } => {
                next.unbanning.retain(|u| *u != ip);
                next.error = Some(format!("Could not unban {ip}: {message}"));
            }
            // An answer to a reload that a later one replaced.
            BansAction::Loaded { .. } | BansAction::Failed { .. } => return self,
        }
        Rc::new(next)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::state::admin::FormAction;

    fn ban(ip: &str) -> BanEntry {
        BanEntry {
            ip: ip.to_owned(),
            reason: "manual".to_owned(),
            detail: String::new(),
            since: 1_000,
            until: 1_900,
            times: 1,
            refused: 0,
        }
    }

    fn alert(id: i64, at: i64) -> Alert {
        Alert {
            id,
            at,
            kind: "velocity".to_owned(),
            agent: Some("demo".to_owned()),
            message: format!("alert {id}"),
        }
    }

    #[test]
    fn alert_kinds_and_ages_read_as_words() {
        assert_eq!(kind_text("velocity"), "Calls a minute");
        assert_eq!(kind_text("odd_hours"), "odd hours");
        let cases = [
            (-30, "just now"),
            (0, "just now"),
            (59, "just now"),
            (60, "1 min ago"),
            (5 * 60 + 59, "5 min ago"),
            (3_599, "59 min ago"),
            (3_600, "1 h ago"),
            (47 * 3_600 + 3_599, "47 h ago"),
            (48 * 3_600, "2 d ago"),
            (10 * 86_400, "10 d ago"),
        ];
        for (age, want) in cases {
            assert_eq!(ago_text(100_000 - age, 100_000), want, "{age} s old");
        }
        assert_eq!(ago_text(i64::MIN, i64::MAX), "106751991167300 d ago");
    }

    #[test]
    fn the_banner_shows_the_newest_alert_under_an_hour_old() {
        let now = 100_000;
        assert_eq!(banner_alert(&[], now), None);
        // An hour old or more: no banner.
        let old = [alert(1, now - BANNER_SECS), alert(2, now - 5 * BANNER_SECS)];
        assert_eq!(banner_alert(&old, now), None);
        // The newest fresh one, whatever the order.
        let list = [
            alert(3, now - 600),
            alert(5, now - 60),
            alert(4, now - BANNER_SECS + 1),
            alert(1, now - BANNER_SECS),
        ];
        assert_eq!(banner_alert(&list, now).map(|a| a.id), Some(5));
        // Same second: the later id.
        let tie = [alert(7, now - 10), alert(8, now - 10)];
        assert_eq!(banner_alert(&tie, now).map(|a| a.id), Some(8));
        // Ahead of the browser's clock: fresh.
        let ahead = [alert(9, now + 30)];
        assert_eq!(banner_alert(&ahead, now).map(|a| a.id), Some(9));
    }

    fn run(actions: impl IntoIterator<Item = BansAction>) -> Rc<Bans> {
        actions
            .into_iter()
            .fold(Rc::new(Bans::default()), Reducible::reduce)
    }

    #[test]
    fn reasons_read_as_words() {
        assert_eq!(
            reason_text("auth_failures"),
            "Failed sign-ins / SIP authentication"
        );
        assert_eq!(reason_text("flood"), "Flood");
        assert_eq!(reason_text("scanner"), "Scanner");
        assert_eq!(reason_text("manual"), "Banned by an admin");
        assert_eq!(reason_text("too_loud"), "too loud");
    }

    #[test]
    fn remaining_time_rounds_minutes_up() {
        let cases = [
            (0, "ending"),
            (-5, "ending"),
            (1, "in 1 s"),
            (59, "in 59 s"),
            (60, "in 1 min"),
            (61, "in 2 min"),
            (840, "in 14 min"),
            (900, "in 15 min"),
            (3_599, "in 1 h"),
            (3_600, "in 1 h"),
            (3_601, "in 1 h 1 min"),
            (2 * 3_600 + 5 * 60, "in 2 h 5 min"),
            (24 * 3_600, "in 24 h"),
            (48 * 3_600, "in 2 d"),
            (3 * 86_400 + 4 * 3_600, "in 3 d 4 h"),
        ];
        for (left, want) in cases {
            assert_eq!(remaining_text(10_000 + left, 10_000), want, "{left} s left");
        }
        assert_eq!(
            remaining_text(i64::MAX, i64::MIN),
            "in 106751991167300 d 15 h"
        );
    }

    #[test]
    fn the_form_sends_the_trimmed_address_and_note() {
        let form = Rc::new(Form::new(ban_values()))
            .reduce(FormAction::Set("ip".into(), "  203.0.113.7 ".into()))
            .reduce(FormAction::Set("detail".into(), " probing 5060 \n".into()));
        assert_eq!(
            ban_input(&form),
            Ok(BanInput {
                ip: "203.0.113.7".to_owned(),
                detail: "probing 5060".to_owned(),
            })
        );
        // Anything typed goes to the gateway, which says what is wrong.
        let form = form.reduce(FormAction::Set("ip".into(), "not-an-ip".into()));
        assert_eq!(ban_input(&form).map(|b| b.ip), Ok("not-an-ip".to_owned()));
        let form = form.reduce(FormAction::Set("ip".into(), " ".into()));
        let failure = ban_input(&form).unwrap_err();
        assert_eq!(failure.field.as_deref(), Some("ip"));
        assert!(failure.message.contains("address"), "{failure:?}");
    }

    #[test]
    fn only_the_latest_reload_counts() {
        let bans = run([
            BansAction::Requested(1),
            BansAction::Requested(2),
            // The first reload answers last, with an older list.
            BansAction::Loaded {
                seq: 2,
                items: vec![ban("203.0.113.7")],
            },
            BansAction::Loaded {
                seq: 1,
                items: vec![],
            },
            BansAction::Failed {
                seq: 1,
                message: "late".to_owned(),
            },
        ]);
        assert!(bans.loaded);
        assert_eq!(bans.items, [ban("203.0.113.7")]);
        assert_eq!(bans.error, None);
        let bans = bans
            .reduce(BansAction::Requested(3))
            .reduce(BansAction::Failed {
                seq: 3,
                message: "The gateway did not answer.".to_owned(),
            });
        // The last list stays on screen with the reason it is not fresh.
        assert_eq!(bans.items.len(), 1);
        assert_eq!(bans.error.as_deref(), Some("The gateway did not answer."));
    }

    #[test]
    fn an_unbanned_row_goes_and_a_list_from_before_cannot_bring_it_back() {
        let bans = run([
            BansAction::Requested(1),
            BansAction::Loaded {
                seq: 1,
                items: vec![ban("203.0.113.7"), ban("198.51.100.9")],
            },
            // A periodic reload leaves while the unban is on its way.
            BansAction::Requested(2),
            BansAction::Unbanning("203.0.113.7".to_owned()),
        ]);
        assert!(bans.is_unbanning("203.0.113.7"));
        assert!(!bans.is_unbanning("198.51.100.9"));
        let bans = bans
            .reduce(BansAction::Unbanned("203.0.113.7".to_owned()))
            // The page reloads after the unban.
            .reduce(BansAction::Requested(3))
            .reduce(BansAction::Loaded {
                seq: 2,
                items: vec![ban("203.0.113.7"), ban("198.51.100.9")],
            });
        assert_eq!(bans.items, [ban("198.51.100.9")]);
        assert!(!bans.is_unbanning("203.0.113.7"));

        let bans = bans
            .reduce(BansAction::Unbanning("198.51.100.9".to_owned()))
            .reduce(BansAction::UnbanFailed {
                ip: "198.51.100.9".to_owned(),
                message: "Not found.".to_owned(),
            });
        assert_eq!(bans.items, [ban("198.51.100.9")]);
        assert!(bans.unbanning.is_empty());
        assert_eq!(
            bans.error.as_deref(),
            Some("Could not unban 198.51.100.9: Not found.")
        );
    }

    #[test]
    fn the_limits_form_round_trips_and_catches_what_does_not_read() {
        let limits = FraudLimits {
            agent_calls_per_minute: 30,
            gateway_calls_per_minute: 0,
            velocity_action: LimitAction::Block,
            agent_daily_spend: Some(125_000),
            campaign_daily_spend: None,
            gateway_daily_spend: Some(5_000_000),
            spend_action: LimitAction::Alert,
            agent_international_minutes: Some(60),
            gateway_international_minutes: None,
            international_action: LimitAction::Block,
        };
        let values = limits_values(&limits);
        assert_eq!(values["agent_daily_spend"], "12.5");
        assert_eq!(values["gateway_daily_spend"], "500");
        assert_eq!(values["campaign_daily_spend"], "");
        assert_eq!(values["spend_action"], "alert");
        let mut form = Form::new(values);
        assert_eq!(limits_input(&form).unwrap(), limits);

        form.values
            .insert("agent_daily_spend".into(), "12,50 €".into());
        let failure = limits_input(&form).unwrap_err();
        assert_eq!(failure.field.as_deref(), Some("agent_daily_spend"));
        form.values
            .insert("agent_daily_spend".into(), String::new());
        form.values
            .insert("agent_international_minutes".into(), "1.5".into());
        let failure = limits_input(&form).unwrap_err();
        assert_eq!(
            failure.field.as_deref(),
            Some("agent_international_minutes")
        );
        form.values
            .insert("agent_international_minutes".into(), " ".into());
        let input = limits_input(&form).unwrap();
        assert_eq!(input.agent_daily_spend, None);
        assert_eq!(input.agent_international_minutes, None);
        assert_eq!(money_text(123), "0.0123");
    }
}
