//! Reconnect delays: exponential from 1 s up to 30 s, with jitter so that a
//! room full of agents whose gateway restarted does not reconnect in step.

use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backoff {
    base: Duration,
    max: Duration,
    attempt: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff::new(Duration::from_secs(1), Duration::from_secs(30))
    }
}

impl Backoff {
    pub fn new(base: Duration, max: Duration) -> Self {
        Backoff {
            base,
            max,
            attempt: 0,
        }
    }

    /// The delay before the next attempt: `base · 2^n` (capped at `max`),
    /// spread by ±20 % using `random`, never above `max`.
    pub fn next_delay(&mut self, random: u64) -> Duration {
        let factor = 2u32.saturating_pow(self.attempt.min(16));
        let nominal = self.base.saturating_mul(factor).min(self.max);
        self.attempt = self.attempt.saturating_add(1);
        // random / 2^64 in [0, 1) → [0.8, 1.2)
        let unit = (random >> 11) as f64 / (1u64 << 53) as f64;
        nominal.mul_f64(0.8 + 0.4 * unit).min(self.max)
    }

    /// A connection worked (the phone registered): start again from `base`.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(d: Duration) -> f64 {
        d.as_secs_f64()
    }

    #[test]
    fn grows_from_one_second_to_thirty_with_jitter() {
        let mut backoff = Backoff::default();
        let low: Vec<f64> = (0..8).map(|_| secs(backoff.next_delay(0))).collect();
        let expected = [0.8, 1.6, 3.2, 6.4, 12.8, 24.0, 24.0, 24.0];
        for (got, want) in low.iter().zip(expected) {
            assert!((got - want).abs() < 1e-6, "{low:?}");
        }
        let mut backoff = Backoff::default();
        let high: Vec<f64> = (0..8).map(|_| secs(backoff.next_delay(u64::MAX))).collect();
        assert!((high[0] - 1.2).abs() < 1e-6, "{high:?}");
        assert!((high[4] - 19.2).abs() < 1e-6, "{high:?}");
        assert!(high[5..].iter().all(|&d| d <= 30.0 && d > 29.9), "{high:?}");
    }

    #[test]
    fn reset_starts_over_and_many_failures_stay_capped() {
        let mut backoff = Backoff::default();
        for _ in 0..100 {
            assert!(backoff.next_delay(u64::MAX / 2) <= Duration::from_secs(30));
        }
        backoff.reset();
        let first = secs(backoff.next_delay(u64::MAX / 2));
        assert!((first - 1.0).abs() < 1e-6, "{first}");
    }
}
