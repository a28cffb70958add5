//! Which page is shown, read from the URL's hash (`#/carriers`), so that a
//! reload keeps the page and the browser's back button works. Pure: the
//! hook that follows `hashchange` is `hooks::use_route`.

use shared::api::Role;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Route {
    #[default]
    Phone,
    Carriers,
    Dids,
    RingGroups,
    Agents,
    /// The caller IDs of one agent (`#/caller-ids/7`), or the agent picker.
    CallerIds(Option<i64>),
    /// Who may call where: role defaults and agents' own policies.
    DialingPolicy,
    Calls,
    Live,
    Audit,
    /// The CRM widget's settings and API tokens (admins).
    Integrations,
    /// Banned source addresses (admins).
    Security,
    /// Call quality per carrier: ASR, PDD, loss, jitter, MOS over time.
    Quality,
}

impl Route {
    /// The pages opened every day, in the top navigation.
    pub const TOP: [Route; 8] = [
        Route::Phone,
        Route::Carriers,
        Route::Dids,
        Route::RingGroups,
        Route::Agents,
        Route::Calls,
        Route::Live,
        Route::Quality,
    ];

    /// The pages set up once and looked at now and then, in the
    /// navigation's "Settings" menu (so the bar fits a 1280-px screen).
    pub const SETTINGS: [Route; 5] = [
        Route::CallerIds(None),
        Route::DialingPolicy,
        Route::Security,
        Route::Integrations,
        Route::Audit,
    ];

    /// The route of a `location.hash` (`#/dids`, `#/caller-ids/7`); an
    /// empty or unknown hash is the phone.
    pub fn parse(hash: &str) -> Route {
        let path = hash.trim_start_matches('#').trim_start_matches('/');
        let mut parts = path.split('/');
        let page = parts.next().unwrap_or_default();
        let arg = parts.next().and_then(|a| a.parse::<i64>().ok());
        match page {
            "carriers" => Route::Carriers,
            "dids" => Route::Dids,
            "ring-groups" => Route::RingGroups,
            "agents" => Route::Agents,
            "caller-ids" => Route::CallerIds(arg),
            "dialing-policy" => Route::DialingPolicy,
            "calls" => Route::Calls,
            "live" => Route::Live,
            "audit" => Route::Audit,
            "integrations" => Route::Integrations,
            "security" => Route::Security,
            "quality" => Route::Quality,
            _ => Route::Phone,
        }
    }

    /// The name in `data-page` and in the hash.
    pub fn slug(self) -> &'static str {
        match self {
            Route::Phone => "phone",
            Route::Carriers => "carriers",
            Route::Dids => "dids",
            Route::RingGroups => "ring-groups",
            Route::Agents => "agents",
            Route::CallerIds(_) => "caller-ids",
            Route::DialingPolicy => "dialing-policy",
            Route::Calls => "calls",
            Route::Live => "live",
            Route::Audit => "audit",
            Route::Integrations => "integrations",
            Route::Security => "security",
            Route::Quality => "quality",
        }
    }

    /// The link to the page.
    pub fn href(self) -> String {
        match self {
            Route::CallerIds(Some(id)) => format!("#/caller-ids/{id}"),
            other => format!("#/{}", other.slug()),
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Route::Phone => "Phone",
            Route::Carriers => "Carriers",
            Route::Dids => "DIDs",
            Route::RingGroups => "Ring groups",
            Route::Agents => "Agents",
            Route::CallerIds(_) => "Caller ID",
            Route::DialingPolicy => "Dialing policy",
            Route::Calls => "Calls",
            Route::Live => "Live",
            Route::Audit => "Audit",
            Route::Integrations => "Integrations",
            Route::Security => "Security",
            Route::Quality => "Quality",
        }
    }

    /// Whether `role` may open the page. Agents have the phone only;
    /// supervisors read everything but the audit log, the integrations
    /// (tokens and secrets) and the bans (the API lets only admins read
    /// those; elsewhere it refuses them changes, and the pages show no
    /// forms to them); admins see all.
    pub fn allowed(self, role: Role) -> bool {
        match role {
            Role::Admin => true,
            Role::Supervisor => {
                !matches!(self, Route::Audit | Route::Integrations | Route::Security)
            }
            Role::Agent => self == Route::Phone,
        }
    }

    /// Two routes name the same page (the caller-ID page whatever agent).
    pub fn same_page(self, other: Route) -> bool {
        self.slug() == other.slug()
    }
}

/// Whether `role` sees the admin navigation at all.
pub fn has_admin_nav(role: Role) -> bool {
    role != Role::Agent
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_round_trip() {
        for route in Route::TOP.into_iter().chain(Route::SETTINGS) {
            assert_eq!(Route::parse(&route.href()), route, "{route:?}");
        }
        assert_eq!(
            Route::parse(&Route::CallerIds(Some(7)).href()),
            Route::CallerIds(Some(7))
        );
    }

    #[test]
    fn the_top_bar_and_the_settings_menu_hold_every_page_once() {
        let mut slugs: Vec<&str> = Route::TOP
            .iter()
            .chain(Route::SETTINGS.iter())
            .map(|r| r.slug())
            .collect();
        let count = slugs.len();
        slugs.sort_unstable();
        slugs.dedup();
        assert_eq!(slugs.len(), count, "a page in both");
        // Every page is reachable from the navigation.
        let all = [
            Route::Phone,
            Route::Carriers,
            Route::Dids,
            Route::RingGroups,
            Route::Agents,
            Route::CallerIds(None),
            Route::DialingPolicy,
            Route::Calls,
            Route::Live,
            Route::Audit,
            Route::Integrations,
            Route::Security,
            Route::Quality,
        ];
        assert_eq!(all.len(), count);
        for route in all {
            assert!(slugs.contains(&route.slug()), "{route:?}");
        }
    }

    #[test]
    fn empty_or_unknown_hashes_are_the_phone() {
        for hash in ["", "#", "#/", "#/nope", "carriers-x"] {
            assert_eq!(Route::parse(hash), Route::Phone, "{hash:?}");
        }
        assert_eq!(Route::parse("#carriers"), Route::Carriers);
        assert_eq!(Route::parse("#/caller-ids/x"), Route::CallerIds(None));
    }

    #[test]
    fn agents_get_the_phone_only() {
        for route in Route::TOP.into_iter().chain(Route::SETTINGS) {
            assert_eq!(route.allowed(Role::Agent), route == Route::Phone);
            assert!(route.allowed(Role::Admin));
        }
        assert!(!Route::Audit.allowed(Role::Supervisor));
        assert!(!Route::Integrations.allowed(Role::Supervisor));
        assert!(!Route::Security.allowed(Role::Supervisor));
        assert!(Route::Live.allowed(Role::Supervisor));
        assert!(!has_admin_nav(Role::Agent));
        assert!(has_admin_nav(Role::Supervisor));
    }
}
