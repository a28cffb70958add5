//! Who may not start calls today: the daily limits (spend, international
//! minutes) an agent, a campaign or the whole gateway reached, with the
//! block's end (the next UTC midnight) and the reason the agent is given.
//!
//! The limits are counted from the stored call records outside the core
//! (`crate::limits`); the core only keeps the outcome, so checking a new
//! call costs a map lookup. Memory is bounded by the agents and campaigns
//! that exist: two entries each at most.

use std::collections::HashMap;

use shared::ids::AccountId;

/// What a block applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    Agent(AccountId),
    Campaign(i64),
    Gateway,
}

/// Which of the scope's calls a block refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reach {
    /// Every call (a spend cap).
    All,
    /// Calls to other countries (the international minutes).
    International,
}

#[derive(Debug, Default)]
pub struct Blocks {
    /// Until when (Unix ms) and the SIP reason phrase.
    by_scope: HashMap<(Scope, Reach), (i64, String)>,
}

impl Blocks {
    /// `scope`'s calls of `reach` are refused until `until_ms`; `reason` is
    /// the 403's reason phrase. Blocks that ended are dropped on the way.
    pub fn block(
        &mut self,
        scope: Scope,
        reach: Reach,
        until_ms: i64,
        reason: String,
        now_ms: i64,
    ) {
        self.by_scope.retain(|_, (until, _)| *until > now_ms);
        self.by_scope.insert((scope, reach), (until_ms, reason));
    }

    /// Every block lifted (the limits changed and are counted again).
    pub fn clear(&mut self) {
        self.by_scope.clear();
    }

    /// The reason a call in `scope` is refused now, if it is;
    /// `international`: the call goes to another country.
    pub fn refusal(&self, scope: Scope, international: bool, now_ms: i64) -> Option<&str> {
        let reaches: &[Reach] = if international {
            &[Reach::All, Reach::International]
        } else {
            &[Reach::All]
        };
        reaches.iter().find_map(|reach| {
            self.by_scope
                .get(&(scope, *reach))
                .filter(|(until, _)| *until > now_ms)
                .map(|(_, reason)| reason.as_str())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_block_refuses_its_scope_and_reach_only_until_it_ends() {
        let mut blocks = Blocks::default();
        let campaign = Scope::Campaign(7);
        blocks.block(campaign, Reach::All, 2_000, "Forbidden (x)".into(), 1_000);
        assert_eq!(
            blocks.refusal(campaign, false, 1_500),
            Some("Forbidden (x)")
        );
        assert_eq!(blocks.refusal(campaign, true, 1_500), Some("Forbidden (x)"));
        assert_eq!(blocks.refusal(Scope::Campaign(8), false, 1_500), None);
        assert_eq!(blocks.refusal(Scope::Gateway, false, 1_500), None);
        assert_eq!(blocks.refusal(campaign, false, 2_000), None);
        // International blocks leave national calls alone.
        let agent = Scope::Agent(AccountId(3));
        blocks.block(
            agent,
            Reach::International,
            9_000,
            "Forbidden (y)".into(),
            3_000,
        );
        assert_eq!(blocks.refusal(agent, false, 3_000), None);
        assert_eq!(blocks.refusal(agent, true, 3_000), Some("Forbidden (y)"));
        // Ended blocks are dropped when the next one comes.
        assert_eq!(blocks.by_scope.len(), 1);
        blocks.clear();
        assert_eq!(blocks.refusal(agent, true, 3_000), None);
    }
}
