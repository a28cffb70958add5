//! The dialing-policy form (`pages::admin::dialing_policy`): a
//! [`DestinationPolicy`] to form values and back. Prefixes travel as the
//! admin typed them, so that the gateway checks them and names the field
//! of one that does not read.

use std::collections::BTreeMap;

use serde::Serialize;
use shared::destination::{DestinationClass, PrefixTable, show_prefix};
use shared::policy::DestinationPolicy;

use super::forms::{Values, split_list};
use super::{Form, FormFailure};

/// The body of `PUT …/dialing-policy`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyInput {
    pub allowed_countries: Vec<String>,
    pub block_premium: bool,
    pub block_high_risk: bool,
    pub allow_prefixes: Vec<String>,
    pub block_prefixes: Vec<String>,
}

/// Countries on one line (`US, CA`), prefixes one per line as people read
/// them (`+1 876`).
pub fn policy_values(policy: &DestinationPolicy) -> Values {
    let lines = |list: &[shared::policy::Prefix]| {
        list.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    };
    BTreeMap::from([
        (
            "allowed_countries".to_owned(),
            policy.allowed_countries.join(", "),
        ),
        ("block_premium".to_owned(), policy.block_premium.to_string()),
        (
            "block_high_risk".to_owned(),
            policy.block_high_risk.to_string(),
        ),
        ("allow_prefixes".to_owned(), lines(&policy.allow_prefixes)),
        ("block_prefixes".to_owned(), lines(&policy.block_prefixes)),
    ])
}

pub fn policy_input(form: &Form) -> PolicyInput {
    PolicyInput {
        allowed_countries: split_list(form.value("allowed_countries"))
            .into_iter()
            .flat_map(|c| {
                // "US CA" as well as "US, CA".
                c.split_whitespace().map(str::to_owned).collect::<Vec<_>>()
            })
            .collect(),
        block_premium: form.checked("block_premium"),
        block_high_risk: form.checked("block_high_risk"),
        allow_prefixes: split_list(form.value("allow_prefixes")),
        block_prefixes: split_list(form.value("block_prefixes")),
    }
}

/// One line about a policy, for the agent picker ("US, CA · premium
/// blocked").
pub fn summary(policy: &DestinationPolicy) -> String {
    let countries = if policy.allowed_countries.is_empty() {
        "any country".to_owned()
    } else {
        policy.allowed_countries.join(", ")
    };
    let mut parts = vec![countries];
    match (policy.block_premium, policy.block_high_risk) {
        (true, true) => parts.push("premium and high-risk blocked".to_owned()),
        (true, false) => parts.push("premium blocked".to_owned()),
        (false, true) => parts.push("high-risk blocked".to_owned()),
        (false, false) => parts.push("premium and high-risk allowed".to_owned()),
    }
    let prefixes = policy.allow_prefixes.len() + policy.block_prefixes.len();
    if prefixes > 0 {
        parts.push(format!(
            "{prefixes} prefix rule{}",
            if prefixes == 1 { "" } else { "s" }
        ));
    }
    parts.join(" · ")
}

/// The prefix list as the admin edits it: one entry a line,
/// `prefix | class | note` (`+44 9 | premium | UK premium-rate`).
pub fn prefix_lines(table: &PrefixTable) -> String {
    let mut entries: Vec<_> = table.entries().iter().collect();
    // By prefix, as people scan a list; the table keeps longest first.
    entries.sort_by(|a, b| a.digits.cmp(&b.digits));
    entries
        .iter()
        .map(|e| {
            let class = serde_json::to_value(e.class)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            format!("{} | {class} | {}", show_prefix(&e.digits), e.note)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The body of `PUT /api/v1/dialing-policy/prefixes` from the edited
/// lines. A line that is not `prefix | class | note` with a known class is
/// refused here, naming it; prefixes and repeats are the gateway's to
/// judge.
pub fn prefix_list_input(text: &str) -> Result<serde_json::Value, FormFailure> {
    let mut entries = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let bad = |why: &str| FormFailure::field("entries", format!("Line {}: {why}", index + 1));
        let parts: Vec<&str> = line.split('|').map(str::trim).collect();
        let [prefix, class, note] = parts[..] else {
            return Err(bad("write it as prefix | class | note."));
        };
        if serde_json::from_value::<DestinationClass>(serde_json::Value::String(class.to_owned()))
            .is_err()
        {
            return Err(bad(&format!(
                "{class:?} is not a class (premium, high_risk, satellite, non_geographic, toll_free, special)."
            )));
        }
        entries.push(serde_json::json!({"prefix": prefix, "class": class, "note": note}));
    }
    Ok(serde_json::json!({ "entries": entries }))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_policy_round_trips_through_the_form() {
        let policy: DestinationPolicy = serde_json::from_str(
            r#"{"allowed_countries":["US","CA"],"block_premium":false,
                "allow_prefixes":["+1876"],"block_prefixes":["+12125550","+449"]}"#,
        )
        .unwrap();
        let values = policy_values(&policy);
        assert_eq!(values["allowed_countries"], "US, CA");
        assert_eq!(values["allow_prefixes"], "+1 876");
        assert_eq!(values["block_prefixes"], "+1 212 555 0\n+44 9");
        let input = policy_input(&Form::new(values));
        assert_eq!(
            input,
            PolicyInput {
                allowed_countries: vec!["US".into(), "CA".into()],
                block_premium: false,
                block_high_risk: true,
                allow_prefixes: vec!["+1 876".into()],
                block_prefixes: vec!["+1 212 555 0".into(), "+44 9".into()],
            }
        );
        // What the admin typed goes as typed: the gateway judges it.
        let mut typed = policy_values(&DestinationPolicy::default());
        typed.insert("allowed_countries".into(), "us ca,\nJM".into());
        typed.insert("block_prefixes".into(), "44 9".into());
        let input = policy_input(&Form::new(typed));
        assert_eq!(input.allowed_countries, ["us", "ca", "JM"]);
        assert_eq!(input.block_prefixes, ["44 9"]);
        assert!(input.block_premium && input.block_high_risk);
    }

    #[test]
    fn summaries_say_the_gist() {
        assert_eq!(
            summary(&DestinationPolicy::default()),
            "any country · premium and high-risk blocked"
        );
        let p: DestinationPolicy = serde_json::from_str(
            r#"{"allowed_countries":["US"],"block_high_risk":false,"block_prefixes":["+1900"]}"#,
        )
        .unwrap();
        assert_eq!(summary(&p), "US · premium blocked · 1 prefix rule");
    }

    #[test]
    fn the_prefix_list_round_trips_through_its_lines() {
        let table: PrefixTable = serde_json::from_str(
            r#"[{"prefix":"+881","class":"satellite","note":"GMSS"},
                {"prefix":"+449","class":"premium","note":"UK 09"}]"#,
        )
        .unwrap();
        let text = prefix_lines(&table);
        assert_eq!(text, "+44 9 | premium | UK 09\n+881 | satellite | GMSS");
        let body = prefix_list_input(&format!("{text}\n\n")).unwrap();
        let back: shared::policy::PrefixListInput = serde_json::from_value(body).unwrap();
        assert_eq!(back.entries, table);
        for (text, needle) in [
            (
                "+44 9 premium UK",
                "Line 1: write it as prefix | class | note.",
            ),
            (
                "+44 9 | premium | a\n+1 900 | cheap | b",
                "Line 2: \"cheap\" is not a class",
            ),
        ] {
            let failure = prefix_list_input(text).unwrap_err();
            assert_eq!(failure.field.as_deref(), Some("entries"));
            assert!(failure.message.starts_with(needle), "{}", failure.message);
        }
    }
}
