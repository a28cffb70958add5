//! Failed web sign-ins, counted per (source address, username): after
//! [`MAX_FAILURES`] in a row that source may not try that username for
//! [`LOCK_SECS`]. Each attempt counts as a failure from the moment it
//! starts ([`SignInLimits::attempt`]) until it succeeds, so requests sent
//! in parallel get no more tries than requests sent one by one. A stranger who guesses at an agent's password locks
//! only himself out; the agent signing in from her own address is not
//! held up. Unknown usernames are counted exactly like known ones, so the
//! locked answer says nothing about which usernames exist. Stopping one
//! source that tries many usernames is the ban engine's job (issue 14,
//! item 1), not this table's.
//!
//! In memory, bounded: at most [`CAPACITY`] entries; when full, expired
//! ones are dropped first, then the one whose last failure is oldest. A
//! restart forgets everything (an attacker gains five more tries per
//! username and source). IPv6 sources are counted by their /64, the block
//! one customer usually holds. No clock, no I/O: the caller passes `now`
//! (Unix seconds).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

/// Failures in a row from one source for one username before it is locked.
pub const MAX_FAILURES: u32 = 5;
/// How long a locked (source, username) waits; also how long failures are
/// remembered without a lock.
pub const LOCK_SECS: i64 = 15 * 60;
/// Entries kept at most (about 150 bytes each).
pub const CAPACITY: usize = 10_000;
/// Usernames are at most 32 characters (`http::agents`); anything longer is
/// cut to this before it is stored, so an entry stays small.
const MAX_KEY_NAME: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    source: IpAddr,
    username: String,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    last_failure: i64,
    locked_until: Option<i64>,
}

impl Entry {
    fn expired(&self, now: i64) -> bool {
        match self.locked_until {
            Some(until) => until <= now,
            None => self.last_failure + LOCK_SECS <= now,
        }
    }
}

/// The table; one per gateway, shared by the HTTP handlers.
#[derive(Debug, Default)]
pub struct SignInLimits {
    // A std mutex: held for a map lookup only, never across an await.
    entries: Mutex<HashMap<Key, Entry>>,
}

impl SignInLimits {
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts an attempt of `source` at `username`: `Err(seconds)` while
    /// that source is locked out of it, else the attempt is counted as a
    /// failure (the one that makes [`MAX_FAILURES`] locks later ones) until
    /// [`Self::succeeded`] says otherwise.
    pub fn attempt(&self, now: i64, source: IpAddr, username: &str) -> Result<(), i64> {
        let key = key(source, username);
        let mut entries = self.lock();
        if let Some(until) = entries.get(&key).and_then(|e| e.locked_until)
            && until > now
        {
            return Err(until - now);
        }
        if !entries.contains_key(&key) && entries.len() >= CAPACITY {
            make_room(&mut entries, now);
        }
        let entry = entries.entry(key).or_insert(Entry {
            failures: 0,
            last_failure: now,
            locked_until: None,
        });
        if entry.expired(now) {
            *entry = Entry {
                failures: 0,
                last_failure: now,
                locked_until: None,
            };
        }
        entry.failures = entry.failures.saturating_add(1);
        entry.last_failure = now;
        if entry.failures >= MAX_FAILURES {
            entry.locked_until = Some(now + LOCK_SECS);
        }
        Ok(())
    }

    /// A successful sign-in clears that source's count for that username.
    pub fn succeeded(&self, source: IpAddr, username: &str) {
        self.lock().remove(&key(source, username));
    }

    /// An admin set a new password: every source may try again.
    pub fn forget_username(&self, username: &str) {
        let username = normalise(username);
        self.lock().retain(|k, _| k.username != username);
    }

    /// Until when at least one source is locked out of `username`, for the
    /// admin's list of accounts.
    pub fn locked_until(&self, now: i64, username: &str) -> Option<i64> {
        let username = normalise(username);
        self.lock()
            .iter()
            .filter(|(k, _)| k.username == username)
            .filter_map(|(_, e)| e.locked_until)
            .filter(|&until| until > now)
            .max()
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Entry>> {
        // A panic while the lock was held left a map that is still valid
        // (every change is a single insert or remove), so keep using it.
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn key(source: IpAddr, username: &str) -> Key {
    Key {
        source: source_block(source),
        username: normalise(username),
    }
}

/// Usernames are stored in lower case (`http::agents`), and sign-in looks
/// them up trimmed.
fn normalise(username: &str) -> String {
    username
        .trim()
        .chars()
        .take(MAX_KEY_NAME)
        .flat_map(char::to_lowercase)
        .collect()
}

/// IPv4 as is; IPv6 by its /64 (an IPv4-mapped address as IPv4).
fn source_block(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

fn make_room(entries: &mut HashMap<Key, Entry>, now: i64) {
    entries.retain(|_, e| !e.expired(now));
    if entries.len() < CAPACITY {
        return;
    }
    let oldest = entries
        .iter()
        .min_by_key(|(_, e)| e.last_failure)
        .map(|(k, _)| k.clone());
    if let Some(oldest) = oldest {
        entries.remove(&oldest);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ATTACKER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 5));
    const AGENT: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 2));

    #[test]
    fn five_failures_lock_that_source_out_of_that_username_only() {
        let limits = SignInLimits::new();
        for i in 0..MAX_FAILURES {
            assert_eq!(limits.attempt(100, ATTACKER, "demo"), Ok(()), "try {i}");
        }
        assert_eq!(limits.attempt(101, ATTACKER, "demo"), Err(LOCK_SECS - 1));
        assert_eq!(limits.attempt(101, ATTACKER, " DEMO "), Err(LOCK_SECS - 1));
        assert_eq!(limits.attempt(101, AGENT, "demo"), Ok(()));
        assert_eq!(limits.attempt(101, ATTACKER, "admin"), Ok(()));
        assert_eq!(limits.locked_until(101, "demo"), Some(100 + LOCK_SECS));
        assert_eq!(limits.locked_until(101, "admin"), None);
        // The lock ends on time, and the count starts again.
        assert_eq!(limits.attempt(100 + LOCK_SECS, ATTACKER, "demo"), Ok(()));
        assert_eq!(limits.attempt(100 + LOCK_SECS, ATTACKER, "demo"), Ok(()));
    }

    #[test]
    fn success_and_a_password_reset_clear_the_count() {
        let limits = SignInLimits::new();
        for _ in 0..MAX_FAILURES - 1 {
            assert_eq!(limits.attempt(0, AGENT, "demo"), Ok(()));
        }
        // The fifth attempt succeeds: the count starts again.
        assert_eq!(limits.attempt(0, AGENT, "demo"), Ok(()));
        limits.succeeded(AGENT, "demo");
        assert_eq!(limits.attempt(1, AGENT, "demo"), Ok(()));
        assert_eq!(limits.attempt(1, AGENT, "demo"), Ok(()));
        for _ in 0..MAX_FAILURES {
            assert_eq!(limits.attempt(2, ATTACKER, "demo"), Ok(()));
        }
        assert!(limits.attempt(2, ATTACKER, "demo").is_err());
        limits.forget_username("Demo");
        assert_eq!(limits.len(), 0);
        assert_eq!(limits.attempt(2, ATTACKER, "demo"), Ok(()));
    }

    #[test]
    fn old_failures_are_forgotten() {
        let limits = SignInLimits::new();
        for _ in 0..MAX_FAILURES - 1 {
            assert_eq!(limits.attempt(0, ATTACKER, "demo"), Ok(()));
        }
        // 15 minutes later the four are forgotten: four more, no lock.
        for _ in 0..MAX_FAILURES - 1 {
            assert_eq!(limits.attempt(LOCK_SECS, ATTACKER, "demo"), Ok(()));
        }
        assert_eq!(limits.attempt(LOCK_SECS, ATTACKER, "demo"), Ok(()));
        assert!(limits.attempt(LOCK_SECS, ATTACKER, "demo").is_err());
    }

    #[test]
    fn ipv6_sources_count_by_their_64() {
        let limits = SignInLimits::new();
        for i in 0..MAX_FAILURES {
            let ip: IpAddr = format!("2001:db8:1:2::{i}").parse().unwrap_or(AGENT);
            assert_eq!(limits.attempt(0, ip, "demo"), Ok(()));
        }
        let same: IpAddr = "2001:db8:1:2:ffff::1".parse().unwrap_or(AGENT);
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap_or(AGENT);
        assert!(limits.attempt(0, same, "demo").is_err());
        assert_eq!(limits.attempt(0, other, "demo"), Ok(()));
    }

    #[test]
    fn the_table_never_grows_past_its_capacity() {
        let limits = SignInLimits::new();
        let ip = |i: u32| IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + i));
        // 100 new sources a second, none expired yet.
        let total = CAPACITY as u32 + 50;
        for i in 0..total {
            assert_eq!(limits.attempt(i64::from(i / 100), ip(i), "demo"), Ok(()));
        }
        assert_eq!(limits.len(), CAPACITY);
        // The oldest went first: 50 of the 100 from second 0.
        let from_second_0 = limits
            .lock()
            .values()
            .filter(|e| e.last_failure == 0)
            .count();
        assert_eq!(from_second_0, 50);
        // The newest is still counted.
        let newest = ip(total - 1);
        for _ in 0..MAX_FAILURES - 1 {
            assert_eq!(limits.attempt(200, newest, "demo"), Ok(()));
        }
        assert!(limits.attempt(200, newest, "demo").is_err());
    }
}
