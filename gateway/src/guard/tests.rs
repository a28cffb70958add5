//! The guard on simulated time: failure windows, floods, scanners, the
//! allowlist, restore and bounded memory.
#![allow(clippy::unwrap_used)]

use std::net::IpAddr;
use std::time::Duration;

use web_time::Instant;

use super::*;

struct Clock {
    start: Instant,
    ms: i64,
}

impl Clock {
    fn new() -> Self {
        Clock {
            start: Instant::now(),
            ms: 1_700_000_000_000,
        }
    }

    fn now(&self) -> Now {
        let since = u64::try_from(self.ms - 1_700_000_000_000).unwrap();
        Now {
            instant: self.start + Duration::from_millis(since),
            unix: self.ms / 1000,
            unix_ms: self.ms,
        }
    }

    fn advance(&mut self, d: Duration) {
        self.ms += i64::try_from(d.as_millis()).unwrap();
    }
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn banned(events: &mut Guard) -> Vec<Ban> {
    std::iter::from_fn(|| events.poll_event())
        .filter_map(|e| match e {
            GuardEvent::Banned(b) => Some(b),
            GuardEvent::Unbanned { .. } => None,
        })
        .collect()
}

#[test]
fn ten_failures_in_a_minute_ban_and_the_ban_doubles_on_repeat() {
    let mut clock = Clock::new();
    let mut guard = Guard::new(GuardConfig::default());
    let attacker = ip("127.0.0.9");
    for i in 0..9 {
        guard.auth_failed(clock.now(), attacker, &format!("user{i}"));
        assert!(
            guard.admit(clock.now(), attacker),
            "failure {i} does not ban"
        );
    }
    guard.auth_failed(clock.now(), attacker, "user9");
    let bans = banned(&mut guard);
    assert_eq!(bans.len(), 1);
    assert_eq!(bans[0].reason, BanReason::AuthFailures);
    assert_eq!(bans[0].until - bans[0].since, 15 * 60);
    assert!(!guard.admit(clock.now(), attacker));
    assert!(!guard.check_ban(clock.now(), attacker) || guard.bans().next().unwrap().refused == 2);
    // Another source is not touched.
    assert!(guard.admit(clock.now(), ip("127.0.0.2")));

    // Over after 15 minutes, and the next ban is 30.
    clock.advance(Duration::from_secs(15 * 60));
    guard.handle_timeout(clock.now());
    assert!(matches!(
        guard.poll_event(),
        Some(GuardEvent::Unbanned {
            by_admin: false,
            ..
        })
    ));
    assert!(guard.admit(clock.now(), attacker));
    for _ in 0..10 {
        guard.auth_failed(clock.now(), attacker, "again");
    }
    let bans = banned(&mut guard);
    assert_eq!(bans[0].until - bans[0].since, 30 * 60);
    assert_eq!(bans[0].times, 2);
}

#[test]
fn failures_spread_over_more_than_the_window_do_not_ban() {
    let mut clock = Clock::new();
    let mut guard = Guard::new(GuardConfig::default());
    for _ in 0..30 {
        guard.auth_failed(clock.now(), ip("127.0.0.9"), "slow");
        clock.advance(Duration::from_secs(7));
    }
    assert!(banned(&mut guard).is_empty());
}

#[test]
fn a_flood_is_banned_and_a_steady_source_is_not() {
    let mut clock = Clock::new();
    let config = GuardConfig {
        burst: 20,
        per_second: 10,
        ..GuardConfig::default()
    };
    let mut guard = Guard::new(config);
    // 10 a second for a minute: within the rate.
    for _ in 0..600 {
        assert!(guard.admit(clock.now(), ip("127.0.0.2")));
        clock.advance(Duration::from_millis(100));
    }
    // 21 at once: the 21st is a flood.
    let flood = ip("127.0.0.9");
    let admitted = (0..21).filter(|_| guard.admit(clock.now(), flood)).count();
    assert_eq!(admitted, 20);
    let bans = banned(&mut guard);
    assert_eq!(bans.len(), 1);
    assert_eq!(bans[0].reason, BanReason::Flood);
}

#[test]
fn scanners_are_banned_on_first_sight_and_the_allowlist_never_is() {
    let now = Clock::new().now();
    let mut guard = Guard::new(GuardConfig {
        allow: vec!["10.1.0.0/16".parse().unwrap()],
        ..GuardConfig::default()
    });
    guard.set_trusted(vec!["127.0.0.3/32".parse().unwrap()]);
    assert!(guard.user_agent(now, ip("127.0.0.9"), "friendly-scanner"));
    assert!(!guard.user_agent(now, ip("127.0.0.8"), "JsSIP 3.10.1"));
    assert_eq!(banned(&mut guard)[0].reason, BanReason::Scanner);
    for allowed in ["10.1.2.3", "127.0.0.3"] {
        assert!(
            guard.user_agent(now, ip(allowed), "sipvicious"),
            "still dropped"
        );
        for _ in 0..50 {
            guard.auth_failed(now, ip(allowed), "x");
        }
        assert!(!guard.ban_by_admin(now, ip(allowed), "no".to_owned()));
        assert!(guard.admit(now, ip(allowed)));
    }
    assert!(banned(&mut guard).is_empty());
}

#[test]
fn an_admin_unbans_and_restored_bans_hold_until_they_end() {
    let mut clock = Clock::new();
    let mut guard = Guard::new(GuardConfig::default());
    assert!(guard.ban_by_admin(clock.now(), ip("127.0.0.9"), "seen in logs".to_owned()));
    let ban = banned(&mut guard).remove(0);
    assert!(guard.unban(ip("127.0.0.9")));
    assert!(guard.admit(clock.now(), ip("127.0.0.9")));

    // Restart: a stored ban still running holds; one that is over does not.
    let mut old = ban.clone();
    old.ip = ip("127.0.0.8");
    old.until = clock.now().unix - 1;
    let mut guard = Guard::new(GuardConfig::default());
    guard.restore(clock.now(), vec![ban.clone(), old]);
    assert!(!guard.admit(clock.now(), ip("127.0.0.9")));
    assert!(guard.admit(clock.now(), ip("127.0.0.8")));
    // A v4-mapped v6 address is the same source.
    assert!(!guard.admit(clock.now(), ip("::ffff:127.0.0.9")));
    clock.advance(Duration::from_secs(15 * 60));
    assert!(guard.admit(clock.now(), ip("127.0.0.9")));
}

#[test]
fn memory_stays_bounded_under_a_spray_of_sources() {
    let now = Clock::new().now();
    let mut guard = Guard::new(GuardConfig {
        max_sources: 100,
        max_bans: 10,
        ..GuardConfig::default()
    });
    for i in 0..5_000u32 {
        let source = IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + i));
        guard.admit(now, source);
        guard.user_agent(now, source, "friendly-scanner");
    }
    assert!(guard.sources.len() <= 100);
    assert!(guard.bans.len() <= 10);
}
