//! Watching the calls that go out, for what toll fraud looks like (alerts
//! only; the velocity limit and destination policies are what refuse):
//!
//! - a **new destination**: the first call to a country (or NANP area that
//!   is its own country, or global network) the gateway has not called in
//!   the history it was started with;
//! - a **night call**: a call outside the business hours, when they are set;
//! - a **spike**: more calls in the last 5 minutes than several times the
//!   usual for that hour of the day (from the call history at start).
//!
//! Each kind raises at most one alert per quiet period, so a burst raises
//! one. Memory is bounded: the destinations are at most the world's
//! countries and networks; the recent starts are capped.

use std::collections::{HashSet, VecDeque};

use shared::e164::E164;

use crate::sip::Now;

/// Call starts kept for the spike window, at most.
const MAX_RECENT: usize = 100_000;
const SPIKE_WINDOW_MS: i64 = 5 * 60_000;
const SPIKE_QUIET_MS: i64 = 30 * 60_000;
const NIGHT_QUIET_MS: i64 = 60 * 60_000;

/// When calls are expected: `[start, end)` hours of the local day, the
/// local day being UTC plus `utc_offset_min`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BusinessHours {
    pub start: u8,
    pub end: u8,
    pub utc_offset_min: i32,
}

impl BusinessHours {
    /// As `parse` reads it: `8-20 UTC+1`, `7-19 UTC-05:30`, `8-20 UTC`.
    pub fn describe(&self) -> String {
        let offset = self.utc_offset_min;
        let zone = match offset {
            0 => String::new(),
            o if o % 60 == 0 => format!("{:+}", o / 60),
            o => format!(
                "{}{:02}:{:02}",
                if o < 0 { '-' } else { '+' },
                o.abs() / 60,
                o.abs() % 60
            ),
        };
        format!("{}-{} UTC{zone}", self.start, self.end)
    }

    /// Reads `8-20` or `8-20 UTC+1` / `7-19 UTC-05:30`.
    pub fn parse(text: &str) -> Option<Self> {
        let mut parts = text.split_whitespace();
        let (start, end) = parts.next()?.split_once('-')?;
        let (start, end) = (start.parse::<u8>().ok()?, end.parse::<u8>().ok()?);
        if start >= 24 || end > 24 || start == end {
            return None;
        }
        let utc_offset_min = match parts.next() {
            None => 0,
            Some(zone) => {
                let offset = zone.strip_prefix("UTC")?;
                let (sign, rest) = match offset.as_bytes().first()? {
                    b'+' => (1, &offset[1..]),
                    b'-' => (-1, &offset[1..]),
                    _ => return None,
                };
                let (h, m) = rest.split_once(':').unwrap_or((rest, "0"));
                let (h, m) = (h.parse::<i32>().ok()?, m.parse::<i32>().ok()?);
                if h > 14 || m >= 60 {
                    return None;
                }
                sign * (h * 60 + m)
            }
        };
        if parts.next().is_some() {
            return None;
        }
        Some(BusinessHours {
            start,
            end,
            utc_offset_min,
        })
    }

    /// The local hour (0–23) at `unix_ms`.
    pub fn local_hour(&self, unix_ms: i64) -> u8 {
        let local_min = unix_ms / 60_000 + i64::from(self.utc_offset_min);
        u8::try_from(local_min.rem_euclid(24 * 60) / 60).unwrap_or(0)
    }

    fn contains(&self, hour: u8) -> bool {
        if self.start < self.end {
            (self.start..self.end).contains(&hour)
        } else {
            // Across midnight, e.g. 22-6.
            hour >= self.start || hour < self.end
        }
    }
}

/// What the watch starts from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WatchConfig {
    /// Destinations called before (see [`place_key`]).
    pub known_places: Vec<String>,
    pub business_hours: Option<BusinessHours>,
    /// Usual outbound calls per 5 minutes, by local hour of the day.
    pub usual_per_5min: [f64; 24],
}

#[derive(Debug, Default)]
pub struct Watch {
    known: HashSet<String>,
    hours: Option<BusinessHours>,
    usual: [f64; 24],
    recent: VecDeque<i64>,
    night_quiet_until: i64,
    spike_quiet_until: i64,
}

/// The key a destination is known by: its country's ISO code, else its
/// place prefix (`+1 800`, `+881`).
pub fn place_key(number: &E164) -> String {
    let destination = shared::destination::classify(number);
    destination
        .iso
        .map_or_else(|| format!("+{}", destination.place_prefix), str::to_owned)
}

impl Watch {
    pub fn new(config: WatchConfig) -> Self {
        Watch {
            known: config.known_places.into_iter().collect(),
            hours: config.business_hours,
            usual: config.usual_per_5min,
            ..Watch::default()
        }
    }

    /// A call `agent` placed to `number` (it passed every check): the
    /// alerts it raises, as (kind, message).
    pub fn call_placed(
        &mut self,
        now: &Now,
        agent: &str,
        number: &E164,
    ) -> Vec<(&'static str, String)> {
        let mut alerts = Vec::new();
        let key = place_key(number);
        if self.known.insert(key) {
            let place = shared::destination::classify(number).place_name();
            alerts.push((
                "new_destination",
                format!("First call to {place} from this gateway: {agent} called {number}"),
            ));
        }
        let hour = self.hours.map(|h| h.local_hour(now.unix_ms));
        if let (Some(hours), Some(hour)) = (self.hours, hour)
            && !hours.contains(hour)
            && now.unix_ms >= self.night_quiet_until
        {
            self.night_quiet_until = now.unix_ms + NIGHT_QUIET_MS;
            alerts.push((
                "night_call",
                format!(
                    "{agent} called {number} at {hour:02}h, outside business hours ({:02}–{:02}h)",
                    hours.start, hours.end
                ),
            ));
        }
        while self
            .recent
            .front()
            .is_some_and(|t| *t <= now.unix_ms - SPIKE_WINDOW_MS)
        {
            self.recent.pop_front();
        }
        if self.recent.len() < MAX_RECENT {
            self.recent.push_back(now.unix_ms);
        }
        let usual = self.usual
            [usize::from(hour.unwrap_or_else(|| BusinessHours::local_hour(&UTC, now.unix_ms)))];
        let threshold = (usual * 4.0).max(usual + 20.0).max(20.0);
        let count = self.recent.len();
        if count as f64 > threshold && now.unix_ms >= self.spike_quiet_until {
            self.spike_quiet_until = now.unix_ms + SPIKE_QUIET_MS;
            alerts.push((
                "spike",
                format!("{count} calls in the last 5 minutes; usual for this hour: {usual:.1}"),
            ));
        }
        alerts
    }
}

const UTC: BusinessHours = BusinessHours {
    start: 0,
    end: 24,
    utc_offset_min: 0,
};

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use web_time::Instant;

    use super::*;

    /// 2026-12-07 (a Monday) at `hour`:`min` UTC.
    fn at(hour: i64, min: i64) -> Now {
        let ms = 1_765_065_600_000 + (hour * 60 + min) * 60_000;
        Now {
            instant: Instant::now(),
            unix: ms / 1000,
            unix_ms: ms,
        }
    }

    fn n(text: &str) -> E164 {
        text.parse().unwrap()
    }

    fn kinds(alerts: &[(&'static str, String)]) -> Vec<&'static str> {
        alerts.iter().map(|(k, _)| *k).collect()
    }

    #[test]
    fn the_first_call_to_a_country_alerts_once_and_known_ones_never() {
        let mut watch = Watch::new(WatchConfig {
            known_places: vec!["US".to_owned()],
            ..WatchConfig::default()
        });
        assert!(
            watch
                .call_placed(&at(10, 0), "demo", &n("+14155552671"))
                .is_empty()
        );
        let first = watch.call_placed(&at(10, 1), "demo", &n("+18765550100"));
        assert_eq!(kinds(&first), ["new_destination"]);
        assert!(first[0].1.contains("Jamaica"), "{first:?}");
        assert!(
            watch
                .call_placed(&at(10, 2), "demo", &n("+18765550101"))
                .is_empty()
        );
        // Canada is a country of its own in the NANP.
        let canada = watch.call_placed(&at(10, 3), "demo", &n("+14165550100"));
        assert_eq!(kinds(&canada), ["new_destination"]);
    }

    #[test]
    fn night_calls_alert_once_an_hour_within_the_configured_hours_only() {
        let hours = BusinessHours::parse("8-20 UTC+1").unwrap();
        assert_eq!(hours.local_hour(at(23, 30).unix_ms), 0);
        let mut watch = Watch::new(WatchConfig {
            known_places: vec!["US".to_owned()],
            business_hours: Some(hours),
            ..WatchConfig::default()
        });
        // 10:00 UTC is 11:00 local: in hours.
        assert!(
            watch
                .call_placed(&at(10, 0), "demo", &n("+14155552671"))
                .is_empty()
        );
        // 21:30 UTC is 22:30 local.
        let night = watch.call_placed(&at(21, 30), "demo", &n("+14155552671"));
        assert_eq!(kinds(&night), ["night_call"]);
        assert!(night[0].1.contains("22h"), "{night:?}");
        assert!(
            watch
                .call_placed(&at(21, 40), "demo", &n("+14155552671"))
                .is_empty()
        );
        assert_eq!(
            kinds(&watch.call_placed(&at(22, 31), "demo", &n("+14155552671"))),
            ["night_call"]
        );
        for bad in [
            "",
            "8",
            "25-3",
            "8-8",
            "8-20 GMT+1",
            "8-20 UTC+15",
            "8-20 UTC+1 x",
        ] {
            assert_eq!(BusinessHours::parse(bad), None, "{bad}");
        }
        assert_eq!(
            BusinessHours::parse("22-6").map(|h| h.contains(3)),
            Some(true)
        );
    }

    #[test]
    fn a_spike_far_above_the_usual_alerts_once() {
        let mut usual = [0.0; 24];
        usual[10] = 10.0;
        let mut watch = Watch::new(WatchConfig {
            known_places: vec!["US".to_owned()],
            usual_per_5min: usual,
            ..WatchConfig::default()
        });
        // 40 calls in 4 minutes at 10h: the threshold is max(40, 30, 20).
        let mut spikes = 0;
        for i in 0..60 {
            let alerts = watch.call_placed(&at(10, i / 15), "demo", &n("+14155552671"));
            spikes += kinds(&alerts).iter().filter(|k| **k == "spike").count();
            if i == 39 {
                assert_eq!(spikes, 0, "40 calls is not yet over 40");
            }
        }
        assert_eq!(spikes, 1);
    }
}
