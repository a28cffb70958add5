//! The RTP port pool: pairs (even port for RTP, the odd one above it for
//! RTCP) handed out from the configured range and freed when their lease
//! is dropped. Lock-free (one atomic flag per pair), so a call task that
//! ends never contends with the signalling task that starts another.

use std::ops::RangeInclusive;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

#[derive(Debug)]
pub struct PortPool {
    /// The first pair's even port.
    base: u16,
    used: Box<[AtomicBool]>,
    /// Where the next search starts: rotating, so a port just freed is
    /// reused last (late packets of an old call land nowhere).
    cursor: AtomicUsize,
}

/// One pair taken from the pool; dropping it frees the pair.
#[derive(Debug)]
pub struct PortLease {
    pool: Arc<PortPool>,
    slot: usize,
}

impl PortPool {
    /// All even/odd pairs inside `range`.
    pub fn new(range: &RangeInclusive<u16>) -> Arc<PortPool> {
        let base = range.start().saturating_add(range.start() % 2);
        // Pairs (base + 2k, base + 2k + 1) with base + 2k + 1 <= end.
        let pairs = if *range.end() > base {
            (u32::from(*range.end()) - u32::from(base)).div_ceil(2)
        } else {
            0
        };
        Arc::new(PortPool {
            base,
            used: (0..pairs as usize)
                .map(|_| AtomicBool::new(false))
                .collect(),
            cursor: AtomicUsize::new(0),
        })
    }

    /// How many pairs the range holds.
    pub fn capacity(&self) -> usize {
        self.used.len()
    }

    /// Takes a free pair; `None` when every pair is in use.
    pub fn acquire(self: &Arc<Self>) -> Option<PortLease> {
        let n = self.used.len();
        if n == 0 {
            return None;
        }
        let start = self.cursor.fetch_add(1, Ordering::Relaxed) % n;
        (0..n).map(|i| (start + i) % n).find_map(|slot| {
            self.used[slot]
                .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
                .ok()
                .map(|_| {
                    self.cursor.store(slot + 1, Ordering::Relaxed);
                    PortLease {
                        pool: Arc::clone(self),
                        slot,
                    }
                })
        })
    }
}

impl PortLease {
    /// The even port (RTP); RTCP is `rtp_port() + 1`.
    pub fn rtp_port(&self) -> u16 {
        // slot < capacity, and capacity was computed so that base + 2*slot + 1 <= range end.
        self.pool.base + 2 * self.slot as u16
    }
}

impl Drop for PortLease {
    fn drop(&mut self) {
        self.pool.used[self.slot].store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_are_even_inside_the_range_and_freed_on_drop() {
        let pool = PortPool::new(&(20001..=20008));
        // Pairs: 20002/3, 20004/5, 20006/7 (20008 has no odd partner).
        assert_eq!(pool.capacity(), 3);
        let leases: Vec<_> = (0..3).map(|_| pool.acquire().expect("free pair")).collect();
        let mut ports: Vec<_> = leases.iter().map(PortLease::rtp_port).collect();
        ports.sort_unstable();
        assert_eq!(ports, [20002, 20004, 20006]);
        assert!(pool.acquire().is_none());
        drop(leases);
        assert!(pool.acquire().is_some());
        assert_eq!(PortPool::new(&(20000..=20001)).capacity(), 1);
        assert_eq!(PortPool::new(&(20000..=20000)).capacity(), 0);
        assert_eq!(PortPool::new(&(65534..=65535)).capacity(), 1);
        assert!(PortPool::new(&(5..=5)).acquire().is_none());
    }

    #[test]
    fn a_freed_pair_is_reused_last() {
        let pool = PortPool::new(&(20000..=20007));
        let a = pool.acquire().expect("free");
        let first = a.rtp_port();
        drop(a);
        let b = pool.acquire().expect("free");
        assert_ne!(b.rtp_port(), first);
    }
}
