//! The caller-ID editor of one agent: every number the agent could present
//! (our enabled DIDs) in one list, each allowed or not, with the label the
//! agent sees, and one default. Numbers that come with the agent's
//! campaigns are shown too; they can be the default but are changed on the
//! campaign, not here.

use shared::api::{CallerIdChoice, CallerIds, Did};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerIdRow {
    /// E.164.
    pub number: String,
    /// What the agent sees next to the number.
    pub label: String,
    pub allowed: bool,
    /// The agent may present it through a campaign (read-only here).
    pub via_campaign: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CallerIdEditor {
    pub rows: Vec<CallerIdRow>,
    /// `None`: the carrier's caller ID.
    pub default: Option<String>,
}

impl CallerIdEditor {
    /// The agent's caller IDs, then the other DIDs they could be given.
    pub fn new(ids: &CallerIds, dids: &[Did]) -> Self {
        let mut rows: Vec<CallerIdRow> = ids
            .allowed
            .iter()
            .map(|c| CallerIdRow {
                number: c.number.clone(),
                label: c.label.clone(),
                allowed: true,
                via_campaign: false,
            })
            .collect();
        for c in &ids.from_campaigns {
            match rows.iter_mut().find(|r| r.number == c.number) {
                Some(row) => row.via_campaign = true,
                None => rows.push(CallerIdRow {
                    number: c.number.clone(),
                    label: c.label.clone(),
                    allowed: false,
                    via_campaign: true,
                }),
            }
        }
        for did in dids.iter().filter(|d| d.enabled) {
            if !rows.iter().any(|r| r.number == did.number) {
                rows.push(CallerIdRow {
                    number: did.number.clone(),
                    label: did.label.clone(),
                    allowed: false,
                    via_campaign: false,
                });
            }
        }
        CallerIdEditor {
            rows,
            default: ids.default.clone(),
        }
    }

    fn row(&mut self, number: &str) -> Option<&mut CallerIdRow> {
        self.rows.iter_mut().find(|r| r.number == number)
    }

    /// Allows or withdraws a number; a withdrawn default is no longer one
    /// (unless a campaign still gives it).
    pub fn set_allowed(&mut self, number: &str, allowed: bool) {
        let mut clear_default = false;
        if let Some(row) = self.row(number) {
            row.allowed = allowed;
            clear_default = !allowed && !row.via_campaign;
        }
        if clear_default && self.default.as_deref() == Some(number) {
            self.default = None;
        }
    }

    pub fn set_label(&mut self, number: &str, label: String) {
        if let Some(row) = self.row(number) {
            row.label = label;
        }
    }

    /// Picks the default; a number picked is allowed as well.
    pub fn set_default(&mut self, number: Option<String>) {
        if let Some(n) = &number
            && let Some(row) = self.row(n)
            && !row.via_campaign
        {
            row.allowed = true;
        }
        self.default = number;
    }

    /// The body of `PUT /api/v1/agents/{id}/caller-ids`.
    pub fn to_input(&self) -> CallerIds {
        CallerIds {
            default: self.default.clone(),
            allowed: self
                .rows
                .iter()
                .filter(|r| r.allowed)
                .map(|r| CallerIdChoice {
                    number: r.number.clone(),
                    label: r.label.trim().to_owned(),
                })
                .collect(),
            from_campaigns: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use shared::api::DidRoute;

    use super::*;

    fn did(number: &str, label: &str, enabled: bool) -> Did {
        Did {
            id: 1,
            number: number.to_owned(),
            label: label.to_owned(),
            carrier_id: None,
            route: DidRoute::Reject,
            agent: None,
            group_id: None,
            group: None,
            reject_code: Some(480),
            enabled,
            created_at: 0,
        }
    }

    fn choice(number: &str, label: &str) -> CallerIdChoice {
        CallerIdChoice {
            number: number.to_owned(),
            label: label.to_owned(),
        }
    }

    #[test]
    fn allowed_then_campaign_then_other_dids() {
        let ids = CallerIds {
            default: Some("+14155550100".to_owned()),
            allowed: vec![choice("+14155550100", "Sales")],
            from_campaigns: vec![
                choice("+14155550101", "Spring"),
                choice("+14155550100", "Sales"),
            ],
        };
        let dids = [
            did("+14155550100", "Sales line", true),
            did("+14155550102", "Support", true),
            did("+14155550103", "Old", false),
        ];
        let editor = CallerIdEditor::new(&ids, &dids);
        let numbers: Vec<&str> = editor.rows.iter().map(|r| r.number.as_str()).collect();
        assert_eq!(numbers, ["+14155550100", "+14155550101", "+14155550102"]);
        assert!(editor.rows[0].allowed && editor.rows[0].via_campaign);
        assert_eq!(editor.rows[0].label, "Sales", "the agent's own label wins");
        assert!(!editor.rows[1].allowed && editor.rows[1].via_campaign);
        assert_eq!(editor.rows[2].label, "Support");
        assert_eq!(editor.to_input().allowed, [choice("+14155550100", "Sales")]);
    }

    #[test]
    fn picking_a_default_allows_it_and_withdrawing_it_clears_it() {
        let dids = [did("+14155550188", "New line", true)];
        let mut editor = CallerIdEditor::new(&CallerIds::default_for_test(), &dids);
        editor.set_default(Some("+14155550188".to_owned()));
        let input = editor.to_input();
        assert_eq!(input.default.as_deref(), Some("+14155550188"));
        assert_eq!(input.allowed, [choice("+14155550188", "New line")]);
        editor.set_allowed("+14155550188", false);
        assert_eq!(editor.to_input().default, None);
        assert!(editor.to_input().allowed.is_empty());
    }

    trait DefaultForTest {
        fn default_for_test() -> Self;
    }
    impl DefaultForTest for CallerIds {
        fn default_for_test() -> Self {
            CallerIds {
                default: None,
                allowed: Vec::new(),
                from_campaigns: Vec::new(),
            }
        }
    }
}
