//! Caller ID and number formats: which number a call presents, and how a
//! number is written for a carrier.

use shared::api::NumberFormat;
use shared::e164::{self, Country, E164};
use shared::sip::call::CAMPAIGN_HEADER;

use super::route::{AgentInfo, Route};
use crate::sip::msg;

/// The number as the carrier wants it written.
pub fn format_number(number: &E164, route: &Route) -> String {
    let body = match route.number_format {
        NumberFormat::E164 => number.as_str().to_owned(),
        NumberFormat::E164WithoutPlus => number.digits().to_owned(),
        NumberFormat::National => match number.country() {
            Some(c) => {
                let national = number
                    .digits()
                    .strip_prefix(c.calling_code)
                    .unwrap_or(number.digits());
                format!("{}{national}", national_trunk(c))
            }
            None => number.digits().to_owned(),
        },
    };
    format!("{}{body}", route.tech_prefix)
}

fn national_trunk(country: &Country) -> &'static str {
    // NANP numbers are dialled nationally without the leading 1 by most
    // carriers; elsewhere the trunk prefix (0) comes first.
    if country.calling_code == "1" {
        ""
    } else {
        country.trunk_prefix.unwrap_or("")
    }
}

/// The caller ID for a call: the one the agent picked (P-Preferred-Identity)
/// if the agent may present it; else, for a call made for one of the
/// agent's campaigns (`X-Dialer-Campaign`), the campaign's number in the
/// callee's area, else its first; else, with local presence on, the agent's
/// number in the callee's area; else the agent's default; else the
/// carrier's. A phone set to "automatic" sends neither header.
///
/// `Err` with a reason phrase: the INVITE names a campaign the agent is not
/// in (or one with no number to present).
pub fn choose_caller_id(
    request: &rsip::Request,
    agent: &AgentInfo,
    route: &Route,
    country: &'static Country,
    callee: &E164,
) -> Result<Option<E164>, String> {
    let allowed = |n: &E164| {
        agent
            .dialing
            .caller_ids
            .iter()
            .any(|c| c.number == n.as_str())
    };
    let picked = msg::header(&request.headers, "P-Preferred-Identity")
        .and_then(|v| msg::uri_user(&msg::uri_of(&v)))
        .and_then(|u| e164::normalize(&u, country).ok())
        .filter(allowed);
    if picked.is_none()
        && let Some(named) = msg::header(&request.headers, CAMPAIGN_HEADER)
    {
        let campaign = named
            .trim()
            .parse::<i64>()
            .ok()
            .and_then(|id| agent.dialing.campaigns.iter().find(|c| c.id == id));
        let Some(campaign) = campaign else {
            return Err(format!(
                "Forbidden (you are not in campaign {}: choose another caller ID)",
                named.trim()
            ));
        };
        let pool = || {
            campaign
                .numbers
                .iter()
                .filter_map(|n| n.parse::<E164>().ok())
        };
        return match local_presence(callee, pool()).or_else(|| pool().next()) {
            Some(number) => Ok(Some(number)),
            None => Err(format!(
                "Forbidden (campaign {} has no number to present)",
                campaign.name
            )),
        };
    }
    let local = || {
        agent
            .dialing
            .local_presence
            .then(|| {
                let numbers = agent.dialing.caller_ids.iter();
                local_presence(
                    callee,
                    numbers.filter_map(|c| c.number.parse::<E164>().ok()),
                )
            })
            .flatten()
    };
    Ok(picked
        .or_else(local)
        .or_else(|| {
            agent
                .dialing
                .default_caller_id
                .as_deref()
                .and_then(|d| e164::normalize(d, country).ok())
        })
        .or_else(|| {
            route
                .caller_id
                .as_deref()
                .and_then(|d| e164::normalize(d, country).ok())
        }))
}

/// The campaign a call counts to (its daily spend cap): the one the INVITE
/// names (`X-Dialer-Campaign`) when the agent is in it, else the first of
/// the agent's campaigns that holds the presented number.
pub fn campaign_of(
    request: &rsip::Request,
    agent: &AgentInfo,
    caller_id: Option<&E164>,
) -> Option<i64> {
    let campaigns = &agent.dialing.campaigns;
    let named = msg::header(&request.headers, CAMPAIGN_HEADER)
        .and_then(|v| v.trim().parse::<i64>().ok())
        .filter(|id| campaigns.iter().any(|c| c.id == *id));
    named.or_else(|| {
        let number = caller_id?;
        campaigns
            .iter()
            .find(|c| c.numbers.iter().any(|n| n == number.as_str()))
            .map(|c| c.id)
    })
}

/// The number among `candidates` that is local to `callee`: the same
/// country and area (in the NANP the 3-digit area code; elsewhere the first
/// digit after the country code), the longest shared prefix winning.
pub fn local_presence(callee: &E164, candidates: impl Iterator<Item = E164>) -> Option<E164> {
    let country = callee.country()?;
    let area = if country.calling_code == "1" { 3 } else { 1 };
    let needed = country.calling_code.len() + area;
    let shared = |n: &E164| {
        n.digits()
            .chars()
            .zip(callee.digits().chars())
            .take_while(|(a, b)| a == b)
            .count()
    };
    candidates
        .filter(|n| shared(n) >= needed)
        .max_by_key(|n| shared(n))
}
