//! The dial pad's caller-ID picker (`select#caller-id`) as a pure reducer.
//!
//! "Automatic", the default, sends no `P-Preferred-Identity`: the gateway
//! then presents the agent's local-presence number for the callee's area
//! (when local presence is on and one fits), else the agent's default, else
//! the carrier's. Picking a number sends it, and the gateway presents it
//! (it is one the agent may present: the profile lists only those). Picking
//! one of the agent's campaigns (`value="campaign:<id>"`) sends the campaign
//! (`X-Dialer-Campaign`), and the gateway presents that campaign's number
//! local to the callee, else the campaign's first.

use std::rc::Rc;

use shared::api::DialingProfile;
use shared::e164::E164;
use shared::sip::call::Presenting;
use yew::Reducible;

/// The `<option>` value of "Automatic".
pub const AUTOMATIC: &str = "auto";
/// The `<option>` value of a campaign starts with this, then its id.
pub const CAMPAIGN_PREFIX: &str = "campaign:";

/// What the agent chose, and what may be chosen.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CallerIdPicker {
    chosen: Presenting,
    /// The numbers the profile offers.
    allowed: Vec<String>,
    /// The campaigns the profile offers.
    campaigns: Vec<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PickerAction {
    /// The select's new value: [`AUTOMATIC`], one of the numbers, or a
    /// campaign's [`campaign_value`].
    Choose(String),
    /// The profile was replaced (an admin changed the agent's numbers).
    Profile(DialingProfile),
}

impl CallerIdPicker {
    /// Automatic, whatever the profile's default.
    pub fn new(profile: &DialingProfile) -> Self {
        CallerIdPicker {
            chosen: Presenting::Automatic,
            allowed: numbers(profile),
            campaigns: profile.campaigns.iter().map(|c| c.id).collect(),
        }
    }

    pub fn apply(&self, action: PickerAction) -> Self {
        match action {
            PickerAction::Choose(value) => CallerIdPicker {
                chosen: self.read(&value),
                ..self.clone()
            },
            PickerAction::Profile(profile) => {
                let next = CallerIdPicker::new(&profile);
                // A choice taken away falls back to automatic.
                let kept = next.read(&self.value());
                CallerIdPicker {
                    chosen: kept,
                    ..next
                }
            }
        }
    }

    /// What the INVITE says about the caller ID.
    pub fn presenting(&self) -> Presenting {
        self.chosen.clone()
    }

    /// The selected `<option>`'s value.
    pub fn value(&self) -> String {
        match &self.chosen {
            Presenting::Automatic => AUTOMATIC.to_owned(),
            Presenting::Number(n) => n.as_str().to_owned(),
            Presenting::Campaign(id) => campaign_value(*id),
        }
    }

    /// An `<option>` value as a choice; anything not offered is automatic.
    fn read(&self, value: &str) -> Presenting {
        if let Some(id) = value.strip_prefix(CAMPAIGN_PREFIX) {
            return match id.parse::<i64>() {
                Ok(id) if self.campaigns.contains(&id) => Presenting::Campaign(id),
                _ => Presenting::Automatic,
            };
        }
        if !self.allowed.iter().any(|a| a == value) {
            return Presenting::Automatic;
        }
        value
            .parse::<E164>()
            .map_or(Presenting::Automatic, Presenting::Number)
    }
}

/// A campaign's `<option>` value.
pub fn campaign_value(id: i64) -> String {
    format!("{CAMPAIGN_PREFIX}{id}")
}

impl Reducible for CallerIdPicker {
    type Action = PickerAction;

    fn reduce(self: Rc<Self>, action: PickerAction) -> Rc<Self> {
        Rc::new(self.apply(action))
    }
}

fn numbers(profile: &DialingProfile) -> Vec<String> {
    profile
        .caller_ids
        .iter()
        .map(|c| c.number.clone())
        .collect()
}

/// The words of "Automatic": what the gateway will present.
pub fn automatic_label(profile: &DialingProfile) -> String {
    let fallback = match &profile.default_caller_id {
        Some(default) => {
            let label = profile
                .caller_ids
                .iter()
                .find(|c| &c.number == default)
                .map(|c| choice_label(&c.label, &c.number));
            label.unwrap_or_else(|| default.clone())
        }
        None => "the carrier's number".to_owned(),
    };
    if profile.local_presence {
        format!("Automatic (a local number, else {fallback})")
    } else {
        format!("Automatic ({fallback})")
    }
}

/// An `<option>`'s text: "Sales · +14155550100", or the number alone.
pub fn choice_label(label: &str, number: &str) -> String {
    if label.trim().is_empty() {
        number.to_owned()
    } else {
        format!("{label} · {number}")
    }
}

#[cfg(test)]
mod tests {
    use shared::api::{CallerIdChoice, CampaignChoice};

    use super::*;

    fn profile(default: Option<&str>, local_presence: bool) -> DialingProfile {
        DialingProfile {
            destination_policies: Vec::new(),
            prefix_list: None,
            local_presence,
            default_country: "US".to_owned(),
            caller_ids: vec![
                CallerIdChoice {
                    number: "+12125550100".to_owned(),
                    label: "Sales".to_owned(),
                },
                CallerIdChoice {
                    number: "+13125550111".to_owned(),
                    label: "Spring campaign".to_owned(),
                },
            ],
            default_caller_id: default.map(str::to_owned),
            campaigns: vec![CampaignChoice {
                id: 7,
                name: "Spring campaign".to_owned(),
                numbers: vec!["+13125550111".to_owned()],
            }],
        }
    }

    fn picked(p: &CallerIdPicker) -> Option<String> {
        match p.presenting() {
            Presenting::Number(n) => Some(n.as_str().to_owned()),
            _ => None,
        }
    }

    #[test]
    fn a_campaign_is_chosen_as_a_whole_and_only_when_offered() {
        let picker = CallerIdPicker::new(&profile(None, false));
        let spring = picker.apply(PickerAction::Choose(campaign_value(7)));
        assert_eq!(spring.presenting(), Presenting::Campaign(7));
        assert_eq!(spring.value(), "campaign:7");
        for value in ["campaign:8", "campaign:", "campaign:x"] {
            let after = picker.apply(PickerAction::Choose(value.to_owned()));
            assert_eq!(after.presenting(), Presenting::Automatic, "{value}");
        }
        // The agent left the campaign: back to automatic.
        let mut left = profile(None, false);
        left.campaigns.clear();
        let after = spring.apply(PickerAction::Profile(left));
        assert_eq!(after.presenting(), Presenting::Automatic);
        // Still in it: kept.
        let kept = spring.apply(PickerAction::Profile(profile(None, false)));
        assert_eq!(kept.presenting(), Presenting::Campaign(7));
    }

    #[test]
    fn automatic_is_chosen_at_first_even_with_a_default_and_sends_no_identity() {
        for p in [
            profile(Some("+12125550100"), true),
            profile(Some("+12125550100"), false),
            profile(None, true),
            DialingProfile::default(),
        ] {
            let picker = CallerIdPicker::new(&p);
            assert_eq!(picked(&picker), None, "{p:?}");
            assert_eq!(picker.value(), AUTOMATIC);
        }
    }

    #[test]
    fn a_chosen_number_is_sent_and_automatic_can_be_chosen_again() {
        let picker = CallerIdPicker::new(&profile(Some("+12125550100"), true));
        let campaign = picker.apply(PickerAction::Choose("+13125550111".to_owned()));
        assert_eq!(picked(&campaign).as_deref(), Some("+13125550111"));
        assert_eq!(campaign.value(), "+13125550111");
        let back = campaign.apply(PickerAction::Choose(AUTOMATIC.to_owned()));
        assert_eq!(picked(&back), None);
        assert_eq!(back.value(), AUTOMATIC);
    }

    #[test]
    fn a_number_not_offered_is_never_sent() {
        let picker = CallerIdPicker::new(&profile(None, false));
        for value in ["+19995550100", "", "garbage", "12125550100"] {
            let after = picker.apply(PickerAction::Choose(value.to_owned()));
            assert_eq!(picked(&after), None, "{value}");
        }
    }

    #[test]
    fn a_number_taken_away_falls_back_to_automatic() {
        let picker = CallerIdPicker::new(&profile(None, false))
            .apply(PickerAction::Choose("+13125550111".to_owned()));
        let mut fewer = profile(None, false);
        // Still offered: kept.
        let kept = picker.apply(PickerAction::Profile(fewer.clone()));
        assert_eq!(picked(&kept).as_deref(), Some("+13125550111"));
        fewer.caller_ids.truncate(1);
        let after = picker.apply(PickerAction::Profile(fewer));
        assert_eq!(picked(&after), None);
        // And the removed number cannot be chosen any more.
        let again = after.apply(PickerAction::Choose("+13125550111".to_owned()));
        assert_eq!(picked(&again), None);
    }

    #[test]
    fn automatic_says_what_the_gateway_will_present() {
        assert_eq!(
            automatic_label(&profile(Some("+12125550100"), true)),
            "Automatic (a local number, else Sales · +12125550100)"
        );
        assert_eq!(
            automatic_label(&profile(Some("+12125550100"), false)),
            "Automatic (Sales · +12125550100)"
        );
        assert_eq!(
            automatic_label(&profile(None, true)),
            "Automatic (a local number, else the carrier's number)"
        );
        assert_eq!(
            automatic_label(&DialingProfile::default()),
            "Automatic (the carrier's number)"
        );
    }
}
