//! One limit on failed token checks, so no credential can be guessed at speed: the dashboard's
//! sign-in form, a bearer token on the bookings API, a bearer token on the dashboard, and the
//! Supabase cookie of the booking page all count against it.
//!
//! Failures are counted per client address over a sliding minute ([`WINDOW`]); after
//! [`MAX_FAILURES`] of them, that address gets 429 with `Retry-After` for every token check
//! until its oldest failure is a minute old. IPv6 addresses count per /64 (what one host
//! usually gets). Behind a reverse proxy, set `CALBOOK_TRUSTED_PROXIES` so the client's own
//! address is used (see [`crate::http::client_addr`]); otherwise every client shares the
//! proxy's address and one guesser slows everybody's sign-in.
//!
//! A browser that already has a valid dashboard session is never checked: a storm of failed
//! sign-ins cannot lock the owner out of an open dashboard. Memory is bounded: at most
//! [`MAX_TRACKED`] addresses are tracked; beyond that the stalest is forgotten.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failed token checks allowed per address and [`WINDOW`].
pub const MAX_FAILURES: usize = 10;
pub const WINDOW: Duration = Duration::from_secs(60);
/// Most addresses tracked at once.
pub const MAX_TRACKED: usize = 10_000;

#[derive(Debug, Default)]
pub struct SignInThrottle {
    failures: Mutex<HashMap<IpAddr, VecDeque<Instant>>>,
}

/// The bucket an address counts in: itself, or its /64 for IPv6 (an IPv4-mapped IPv6 address
/// counts as its IPv4 address).
fn bucket(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V4(_) => addr,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut s = v6.segments();
                s[4..].fill(0);
                IpAddr::V6(s.into())
            }
        },
    }
}

impl SignInThrottle {
    /// `Err(wait)` while token checks from `addr` are refused.
    pub fn check(&self, addr: IpAddr, now: Instant) -> Result<(), Duration> {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let Some(f) = map.get_mut(&bucket(addr)) else {
            return Ok(());
        };
        while f.front().is_some_and(|t| now.duration_since(*t) >= WINDOW) {
            f.pop_front();
        }
        if f.len() >= MAX_FAILURES {
            let oldest = *f.front().expect("not empty");
            return Err(WINDOW.saturating_sub(now.duration_since(oldest)));
        }
        Ok(())
    }

    pub fn record_failure(&self, addr: IpAddr, now: Instant) {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let key = bucket(addr);
        if !map.contains_key(&key) && map.len() >= MAX_TRACKED {
            map.retain(|_, f| f.back().is_some_and(|t| now.duration_since(*t) < WINDOW));
            if map.len() >= MAX_TRACKED
                && let Some(stalest) = map
                    .iter()
                    .min_by_key(|(_, f)| f.back().copied())
                    .map(|(k, _)| *k)
            {
                map.remove(&stalest);
            }
        }
        let f = map.entry(key).or_default();
        f.push_back(now);
        while f.len() > MAX_FAILURES {
            f.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ME: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));
    const OTHER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(198, 51, 100, 7));

    #[test]
    fn ten_failures_in_a_minute_close_one_address_until_the_first_is_a_minute_old() {
        let t = SignInThrottle::default();
        let start = Instant::now();
        for i in 0..MAX_FAILURES {
            assert!(t.check(ME, start + Duration::from_secs(i as u64)).is_ok());
            t.record_failure(ME, start + Duration::from_secs(i as u64));
        }
        let wait = t.check(ME, start + Duration::from_secs(30)).unwrap_err();
        assert_eq!(wait, Duration::from_secs(30));
        assert!(
            t.check(OTHER, start + Duration::from_secs(30)).is_ok(),
            "another address is not affected"
        );
        assert!(
            t.check(ME, start + WINDOW).is_ok(),
            "the first failure aged out"
        );
    }

    #[test]
    fn an_ipv6_host_counts_per_64() {
        let t = SignInThrottle::default();
        let now = Instant::now();
        for i in 0..MAX_FAILURES as u16 {
            t.record_failure(IpAddr::V6([0x2001, 0xdb8, 0, 1, 0, 0, 0, i].into()), now);
        }
        assert!(
            t.check(IpAddr::V6([0x2001, 0xdb8, 0, 1, 9, 9, 9, 9].into()), now)
                .is_err()
        );
        assert!(
            t.check(IpAddr::V6([0x2001, 0xdb8, 0, 2, 0, 0, 0, 0].into()), now)
                .is_ok()
        );
    }

    #[test]
    fn memory_is_bounded() {
        let t = SignInThrottle::default();
        let now = Instant::now();
        for i in 0..(MAX_TRACKED as u32 + 50) {
            t.record_failure(IpAddr::V4(i.into()), now);
        }
        assert!(t.failures.lock().unwrap().len() <= MAX_TRACKED);
    }
}
