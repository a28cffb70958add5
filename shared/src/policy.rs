//! Destination policy: who may call where.
//!
//! A [`DestinationPolicy`] says which countries a call may go to, whether
//! premium-rate and high-risk destinations are blocked, and which prefixes
//! are allowed or blocked explicitly. Policies are layered and a call must
//! pass every layer ([`check_all`]); an explicit allow in one layer lifts
//! that layer's own rules only, so a global block cannot be undone by an
//! agent's allow. The gateway's layers for an agent: the countries of its
//! `--dial-countries` (when set), then the agent's own policy or, when it
//! has none, its role's, then the policy of each campaign it dials for.
//!
//! Inside one policy, in this order:
//! 1. the longest matching explicit prefix decides (a block wins a tie);
//! 2. the country must be among `allowed_countries` (empty: any). Numbers
//!    no NANP member owns (`+1 800`, `+1 900`) pass when any NANP country
//!    is allowed, so that the class rules below judge them;
//! 3. premium-rate numbers are refused when `block_premium`; high-risk
//!    destinations and satellite phones when `block_high_risk`; special
//!    service codes (N11 in the place of an area code, 555-1212) always.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::api::Role;
use crate::destination::{self, Destination, DestinationClass, PrefixTable, show_prefix, world};
use crate::e164::E164;

/// Most countries one policy may list.
pub const MAX_COUNTRIES: usize = 300;
/// Most prefixes one policy may list, allowed and blocked each.
pub const MAX_PREFIXES: usize = 1000;

/// Who may call where. The defaults block premium-rate and high-risk
/// destinations and allow every country.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DestinationPolicy {
    /// ISO 3166 alpha-2 codes (`"US"`, `"CA"`, `"JM"`); empty allows any.
    pub allowed_countries: Vec<String>,
    /// Refuse premium-rate numbers (NANP 900 and 976, listed ranges).
    pub block_premium: bool,
    /// Refuse high-risk (IRSF) destinations and satellite phones.
    pub block_high_risk: bool,
    /// Allowed whatever the rules above say (the longest prefix wins).
    pub allow_prefixes: Vec<Prefix>,
    /// Refused whatever the rules above say (the longest prefix wins).
    pub block_prefixes: Vec<Prefix>,
}

impl Default for DestinationPolicy {
    fn default() -> Self {
        DestinationPolicy {
            allowed_countries: Vec::new(),
            block_premium: true,
            block_high_risk: true,
            allow_prefixes: Vec::new(),
            block_prefixes: Vec::new(),
        }
    }
}

/// A number prefix: `+` and 1 to 15 digits, written with or without
/// spaces (`"+1 876"`), serialised as `"+1876"`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Prefix(String);

impl Prefix {
    /// The digits without `+`.
    pub fn digits(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for Prefix {
    type Err = PolicyError;

    fn from_str(s: &str) -> Result<Prefix, PolicyError> {
        destination::prefixes::parse_prefix(s.trim())
            .map(Prefix)
            .map_err(PolicyError::InvalidPrefix)
    }
}

impl TryFrom<String> for Prefix {
    type Error = PolicyError;

    fn try_from(s: String) -> Result<Prefix, PolicyError> {
        s.parse()
    }
}

impl From<Prefix> for String {
    fn from(p: Prefix) -> String {
        format!("+{}", p.0)
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&show_prefix(&self.0))
    }
}

/// A policy that cannot be saved, said for the admin who wrote it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("{0}")]
    InvalidPrefix(String),
    #[error("{0:?} is not a country code this dialer knows (use ISO codes such as US, CA, GB)")]
    UnknownCountry(String),
    #[error("{0} is both allowed and blocked")]
    AllowedAndBlocked(String),
    #[error("{what} lists more than {max}")]
    TooMany { what: &'static str, max: usize },
}

impl PolicyError {
    /// The field of [`DestinationPolicy`] the error is about.
    pub fn field(&self) -> &'static str {
        match self {
            PolicyError::InvalidPrefix(_) | PolicyError::AllowedAndBlocked(_) => "block_prefixes",
            PolicyError::UnknownCountry(_) => "allowed_countries",
            PolicyError::TooMany { what, .. } => what,
        }
    }
}

/// Why a call is refused: a stable code for programs and a sentence for
/// the agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    pub code: RefusalCode,
    /// "Calls to premium-rate numbers (+1 900) are blocked".
    pub reason: String,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefusalCode {
    /// The country (or network) is not among the allowed ones.
    CountryNotAllowed,
    Premium,
    /// High-risk destination or satellite phone.
    HighRisk,
    /// Not a subscriber number (N11, 555-1212).
    SpecialNumber,
    /// An explicit prefix block.
    PrefixBlocked,
}

impl RefusalCode {
    pub fn as_str(self) -> &'static str {
        match self {
            RefusalCode::CountryNotAllowed => "country_not_allowed",
            RefusalCode::Premium => "premium",
            RefusalCode::HighRisk => "high_risk",
            RefusalCode::SpecialNumber => "special_number",
            RefusalCode::PrefixBlocked => "prefix_blocked",
        }
    }
}

impl DestinationPolicy {
    /// Whether `number` may be called under this policy alone.
    pub fn check(&self, number: &E164) -> Result<(), Refusal> {
        self.check_destination(number, &destination::classify(number))
    }

    /// [`check`](Self::check) with the destination already read (to read a
    /// number once for several policies, or with another prefix list).
    pub fn check_destination(&self, number: &E164, dest: &Destination) -> Result<(), Refusal> {
        let digits = number.digits();
        let longest = |list: &[Prefix]| {
            list.iter()
                .filter(|p| !p.0.is_empty() && digits.starts_with(&p.0))
                .map(|p| p.0.len())
                .max()
        };
        match (longest(&self.allow_prefixes), longest(&self.block_prefixes)) {
            (allow, Some(block)) if allow.is_none_or(|a| a <= block) => {
                return Err(Refusal {
                    code: RefusalCode::PrefixBlocked,
                    reason: format!(
                        "Calls to {} are blocked for this agent",
                        show_prefix(digits.get(..block).unwrap_or(digits))
                    ),
                });
            }
            (Some(_), _) => return Ok(()),
            _ => {}
        }
        if !self.country_allowed(dest) {
            return Err(Refusal {
                code: RefusalCode::CountryNotAllowed,
                reason: format!(
                    "Calls to {} ({}) are not allowed for this agent",
                    dest.place_name(),
                    show_prefix(&dest.place_prefix)
                ),
            });
        }
        let class_refusal = |code| {
            let mut where_ = show_prefix(&dest.class_prefix);
            // Name the place when the prefix alone does not say it.
            if !matches!(
                dest.class,
                DestinationClass::Premium | DestinationClass::Special
            ) {
                let place = dest.place_name();
                if !place.starts_with('+') {
                    where_ = format!("{where_}, {place}");
                }
            }
            Err(Refusal {
                code,
                reason: format!(
                    "Calls to {} ({where_}) are blocked",
                    dest.class.plural_words()
                ),
            })
        };
        match dest.class {
            DestinationClass::Premium if self.block_premium => class_refusal(RefusalCode::Premium),
            DestinationClass::HighRisk | DestinationClass::Satellite if self.block_high_risk => {
                class_refusal(RefusalCode::HighRisk)
            }
            DestinationClass::Special => class_refusal(RefusalCode::SpecialNumber),
            _ => Ok(()),
        }
    }

    fn country_allowed(&self, dest: &Destination) -> bool {
        if self.allowed_countries.is_empty() {
            return true;
        }
        let listed = |iso: &str| {
            self.allowed_countries
                .iter()
                .any(|a| a.trim().eq_ignore_ascii_case(iso))
        };
        match dest.iso {
            Some(iso) => listed(iso),
            None if dest.is_nanp_shared() => world::CALLING_CODES
                .iter()
                .any(|(code, iso, _)| *code == "1" && listed(iso)),
            None => false,
        }
    }

    /// Checks what an admin wrote: known country codes, no prefix both
    /// allowed and blocked. (Prefixes are checked when they are parsed.)
    pub fn validate(&self) -> Result<(), PolicyError> {
        for (what, len, max) in [
            (
                "allowed_countries",
                self.allowed_countries.len(),
                MAX_COUNTRIES,
            ),
            ("allow_prefixes", self.allow_prefixes.len(), MAX_PREFIXES),
            ("block_prefixes", self.block_prefixes.len(), MAX_PREFIXES),
        ] {
            if len > max {
                return Err(PolicyError::TooMany { what, max });
            }
        }
        if let Some(unknown) = self
            .allowed_countries
            .iter()
            .find(|c| !world::is_known_country(c.trim()))
        {
            return Err(PolicyError::UnknownCountry(unknown.clone()));
        }
        if let Some(both) = self
            .allow_prefixes
            .iter()
            .find(|p| self.block_prefixes.contains(p))
        {
            return Err(PolicyError::AllowedAndBlocked(both.to_string()));
        }
        Ok(())
    }
}

/// Whether `number` may be called under every policy (global ∧ role ∧
/// agent ∧ campaign): the first refusal, in the order given. No policies
/// at all allow the call.
pub fn check_all<'a>(
    policies: impl IntoIterator<Item = &'a DestinationPolicy>,
    number: &E164,
) -> Result<(), Refusal> {
    check_all_with(policies, number, destination::prefixes::shipped())
}

/// [`check_all`] with another high-risk prefix list than the shipped one
/// (an admin's edit).
pub fn check_all_with<'a>(
    policies: impl IntoIterator<Item = &'a DestinationPolicy>,
    number: &E164,
    table: &PrefixTable,
) -> Result<(), Refusal> {
    let dest = destination::classify_with(number, table);
    policies
        .into_iter()
        .try_for_each(|p| p.check_destination(number, &dest))
}

impl DestinationPolicy {
    /// Country codes upper-cased, trimmed and listed once each, in the
    /// order given; prefixes listed once each.
    pub fn normalized(mut self) -> DestinationPolicy {
        let mut countries: Vec<String> = Vec::with_capacity(self.allowed_countries.len());
        for c in &self.allowed_countries {
            let c = c.trim().to_ascii_uppercase();
            if !countries.contains(&c) {
                countries.push(c);
            }
        }
        self.allowed_countries = countries;
        for list in [&mut self.allow_prefixes, &mut self.block_prefixes] {
            let mut seen = std::collections::HashSet::new();
            list.retain(|p| seen.insert(p.0.clone()));
        }
        self
    }
}

// ------------------------------------------------------------------ API

/// `GET /api/v1/dialing-policy`: the policies that apply when an agent has
/// none of its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DialingPolicyDefaults {
    /// The gateway's `--dial-countries` (upper-case ISO codes): every call
    /// must go to one of them whatever the policies say. Empty: no such
    /// limit. Set at start-up, not through the API.
    pub dial_countries: Vec<String>,
    /// One per role: the stored policy, or the default one.
    pub roles: Vec<RolePolicy>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RolePolicy {
    pub role: Role,
    pub policy: DestinationPolicy,
    /// `false`: nothing stored, `policy` is [`DestinationPolicy::default`].
    pub stored: bool,
}

/// An agent's or a campaign's own policy: `None` when it has none (an
/// agent then has its role's; a campaign adds no limit).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyOverride {
    pub policy: Option<DestinationPolicy>,
}

/// `GET /api/v1/dialing-policy/prefixes`: the high-risk and premium prefix
/// list in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrefixList {
    /// `false`: the list shipped with this version.
    pub edited: bool,
    pub entries: PrefixTable,
}

/// `PUT /api/v1/dialing-policy/prefixes`: the whole list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrefixListInput {
    pub entries: PrefixTable,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(countries: &[&str]) -> DestinationPolicy {
        DestinationPolicy {
            allowed_countries: countries.iter().map(|c| (*c).to_owned()).collect(),
            ..DestinationPolicy::default()
        }
    }

    fn prefixes(list: &[&str]) -> Vec<Prefix> {
        list.iter()
            .map(|p| p.parse().unwrap_or_else(|e| panic!("{p}: {e}")))
            .collect()
    }

    /// One line per case: the number, then `ok` or the refusal code and
    /// reason.
    fn check(policies: &[DestinationPolicy], cases: &[(&str, &str)]) {
        let mut failures = Vec::new();
        for (number, expected) in cases {
            let n: E164 = number.parse().unwrap_or_else(|e| panic!("{number}: {e}"));
            let got = match check_all(policies, &n) {
                Ok(()) => "ok".to_owned(),
                Err(r) => format!("{}: {}", r.code.as_str(), r.reason),
            };
            if got != *expected {
                failures.push(format!("{number}\n  got:  {got}\n  want: {expected}"));
            }
        }
        assert!(failures.is_empty(), "\n{}", failures.join("\n"));
    }

    #[test]
    fn a_us_only_agent() {
        check(
            &[policy(&["US"])],
            &[
                ("+12125550100", "ok"),
                ("+18005550100", "ok"),
                (
                    "+19005550100",
                    "premium: Calls to premium-rate numbers (+1 900) are blocked",
                ),
                (
                    "+18765550100",
                    "country_not_allowed: Calls to Jamaica (+1 876) are not allowed for this agent",
                ),
                (
                    "+14165550100",
                    "country_not_allowed: Calls to Canada (+1 416) are not allowed for this agent",
                ),
                (
                    "+12129765555",
                    "premium: Calls to premium-rate numbers (+1 212 976) are blocked",
                ),
                (
                    "+19115550100",
                    "special_number: Calls to special service codes (+1 911) are blocked",
                ),
                (
                    "+17875550100",
                    "country_not_allowed: Calls to Puerto Rico (+1 787) are not allowed for this agent",
                ),
                (
                    "+449098790000",
                    "country_not_allowed: Calls to the United Kingdom (+44) are not allowed for this agent",
                ),
                (
                    "+8816123456789",
                    "country_not_allowed: Calls to global mobile satellite systems (+881) are not allowed for this agent",
                ),
            ],
        );
    }

    #[test]
    fn canada_is_allowed_only_when_listed() {
        let cases = |canada: &'static str| {
            [
                ("+14165550100", canada),
                ("+16135550199", canada),
                ("+18195550100", canada),
            ]
        };
        check(
            &[policy(&["US"])],
            &cases("country_not_allowed: Calls to Canada (+1 416) are not allowed for this agent")
                [..1],
        );
        check(&[policy(&["US", "CA"])], &cases("ok"));
        check(&[policy(&["CA"])], &cases("ok"));
        check(
            &[policy(&["CA"])],
            &[
                (
                    "+12125550100",
                    "country_not_allowed: Calls to the United States (+1 212) are not allowed for this agent",
                ),
                // Toll-free is shared by the whole NANP.
                ("+18005550100", "ok"),
            ],
        );
    }

    #[test]
    fn listed_premium_and_high_risk_prefixes_are_blocked_by_default() {
        check(
            &[DestinationPolicy::default()],
            &[
                ("+442079460958", "ok"),
                (
                    "+449098790000",
                    "premium: Calls to premium-rate numbers (+44 9) are blocked",
                ),
                (
                    "+4990012345678",
                    "premium: Calls to premium-rate numbers (+49 900) are blocked",
                ),
                (
                    "+5371234567",
                    "high_risk: Calls to high-risk destinations (+53, Cuba) are blocked",
                ),
                (
                    "+18765550100",
                    "high_risk: Calls to high-risk destinations (+1 876, Jamaica) are blocked",
                ),
                (
                    "+8816123456789",
                    "high_risk: Calls to satellite phones (+881, global mobile satellite systems) are blocked",
                ),
                (
                    "+88213123456",
                    "high_risk: Calls to high-risk destinations (+882, international networks) are blocked",
                ),
                ("+18005550100", "ok"),
                ("+15005550100", "ok"),
            ],
        );
        let open = DestinationPolicy {
            block_premium: false,
            block_high_risk: false,
            ..DestinationPolicy::default()
        };
        check(
            std::slice::from_ref(&open),
            &[
                ("+449098790000", "ok"),
                ("+19005550100", "ok"),
                ("+5371234567", "ok"),
                ("+8816123456789", "ok"),
                (
                    "+12125551212",
                    "special_number: Calls to special service codes (+1 212 555 1212) are blocked",
                ),
            ],
        );
    }

    #[test]
    fn explicit_prefixes_beat_the_rules_and_the_longest_wins() {
        let p = DestinationPolicy {
            allowed_countries: vec!["US".to_owned()],
            allow_prefixes: prefixes(&["+1 876", "+1 900 555", "+44 20"]),
            block_prefixes: prefixes(&["+1 876 555 01", "+1 212 555"]),
            ..DestinationPolicy::default()
        };
        check(
            std::slice::from_ref(&p),
            &[
                ("+18764441234", "ok"),
                (
                    "+18765550100",
                    "prefix_blocked: Calls to +1 876 555 01 are blocked for this agent",
                ),
                ("+19005550100", "ok"),
                (
                    "+19004440100",
                    "premium: Calls to premium-rate numbers (+1 900) are blocked",
                ),
                ("+442079460958", "ok"),
                (
                    "+12125550100",
                    "prefix_blocked: Calls to +1 212 555 are blocked for this agent",
                ),
                ("+12124440100", "ok"),
            ],
        );
        // A tie between allow and block: the block wins.
        let tie = DestinationPolicy {
            allow_prefixes: prefixes(&["+44"]),
            block_prefixes: prefixes(&["+44"]),
            ..DestinationPolicy::default()
        };
        check(
            &[tie],
            &[(
                "+442079460958",
                "prefix_blocked: Calls to +44 are blocked for this agent",
            )],
        );
    }

    #[test]
    fn layers_must_all_allow_and_an_allow_lifts_only_its_own_layer() {
        let global = DestinationPolicy::default();
        let agent = DestinationPolicy {
            allowed_countries: vec!["US".to_owned(), "JM".to_owned()],
            allow_prefixes: prefixes(&["+1 876"]),
            ..DestinationPolicy::default()
        };
        let open_global = DestinationPolicy {
            block_high_risk: false,
            ..DestinationPolicy::default()
        };
        let jamaica = "+18765550100";
        check(
            &[global.clone(), agent.clone()],
            &[(
                jamaica,
                "high_risk: Calls to high-risk destinations (+1 876, Jamaica) are blocked",
            )],
        );
        check(&[open_global.clone(), agent.clone()], &[(jamaica, "ok")]);
        let role = policy(&["US"]);
        check(
            &[open_global, role, agent],
            &[(
                jamaica,
                "country_not_allowed: Calls to Jamaica (+1 876) are not allowed for this agent",
            )],
        );
        check(&[], &[("+19005550100", "ok")]);
    }

    #[test]
    fn serde_defaults_block_premium_and_prefixes_are_checked() {
        let p: DestinationPolicy = serde_json::from_str("{}").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p, DestinationPolicy::default());
        assert!(p.block_premium && p.block_high_risk && p.allowed_countries.is_empty());
        let p: DestinationPolicy =
            serde_json::from_str(r#"{"allowed_countries":["US"],"allow_prefixes":["+1 876"]}"#)
                .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.allow_prefixes, prefixes(&["+1876"]));
        let json = serde_json::to_value(&p).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(json["allow_prefixes"][0], "+1876");
        let bad = serde_json::from_str::<DestinationPolicy>(r#"{"block_prefixes":["44"]}"#);
        assert!(bad.is_err_and(|e| e.to_string().contains("must start with '+'")));
        let refusal = Refusal {
            code: RefusalCode::Premium,
            reason: "x".to_owned(),
        };
        let json = serde_json::to_value(&refusal).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(json["code"], RefusalCode::Premium.as_str());
    }

    #[test]
    fn an_edited_prefix_list_decides_the_class() {
        let table: PrefixTable =
            serde_json::from_str(r#"[{"prefix":"+44 20 7946","class":"high_risk","note":"test"}]"#)
                .unwrap_or_else(|e| panic!("{e}"));
        let n: E164 = "+442079460958".parse().unwrap_or_else(|e| panic!("{e}"));
        let policies = [DestinationPolicy::default()];
        assert_eq!(check_all(&policies, &n), Ok(()));
        let refused = check_all_with(&policies, &n, &table).map_err(|r| r.reason);
        assert_eq!(
            refused,
            Err(
                "Calls to high-risk destinations (+44 207946, the United Kingdom) are blocked"
                    .to_owned()
            )
        );
        // +44 9 is premium only in the shipped list.
        let premium: E164 = "+449098790000".parse().unwrap_or_else(|e| panic!("{e}"));
        assert!(check_all(&policies, &premium).is_err());
        assert_eq!(check_all_with(&policies, &premium, &table), Ok(()));
    }

    #[test]
    fn normalized_upper_cases_and_drops_repeats() {
        let p = DestinationPolicy {
            allowed_countries: vec![" us".to_owned(), "CA".to_owned(), "US".to_owned()],
            block_prefixes: prefixes(&["+1 900", "+1900"]),
            ..DestinationPolicy::default()
        }
        .normalized();
        assert_eq!(p.allowed_countries, ["US", "CA"]);
        assert_eq!(p.block_prefixes, prefixes(&["+1900"]));
        let many = DestinationPolicy {
            allow_prefixes: vec![prefixes(&["+44"])[0].clone(); MAX_PREFIXES + 1],
            ..DestinationPolicy::default()
        };
        assert_eq!(
            many.validate().map_err(|e| (e.field(), e.to_string())),
            Err((
                "allow_prefixes",
                format!("allow_prefixes lists more than {MAX_PREFIXES}")
            ))
        );
    }

    #[test]
    fn validation_names_what_is_wrong() {
        assert_eq!(policy(&["US", "ca", "JM", "CU"]).validate(), Ok(()));
        assert_eq!(
            policy(&["US", "XX"]).validate(),
            Err(PolicyError::UnknownCountry("XX".to_owned()))
        );
        let both = DestinationPolicy {
            allow_prefixes: prefixes(&["+1 876"]),
            block_prefixes: prefixes(&["+1876"]),
            ..DestinationPolicy::default()
        };
        assert_eq!(
            both.validate().map_err(|e| e.to_string()),
            Err("+1 876 is both allowed and blocked".to_owned())
        );
    }
}
