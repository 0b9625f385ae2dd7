//! A limit on failed dashboard sign-ins, so the admin token cannot be guessed at speed.
//!
//! calbook counts failed sign-ins over a sliding minute, for the whole process (behind a proxy
//! every client has the proxy's address, so a per-address count would not hold). After
//! [`MAX_FAILURES`] failures in a minute, every sign-in, right or wrong, is refused with 429 until
//! the oldest failure is a minute old. A generated token has 256 bits, so this matters for the
//! operator-chosen ones; the cost is that someone guessing can keep the owner out for a minute at
//! a time (sessions already open are not affected).

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failed sign-ins allowed per [`WINDOW`].
pub const MAX_FAILURES: usize = 10;
pub const WINDOW: Duration = Duration::from_secs(60);

#[derive(Debug, Default)]
pub struct LoginThrottle {
    failures: Mutex<VecDeque<Instant>>,
}

impl LoginThrottle {
    /// `Err(wait)` while sign-ins are refused.
    pub fn check(&self, now: Instant) -> Result<(), Duration> {
        let mut f = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        while f.front().is_some_and(|t| now.duration_since(*t) >= WINDOW) {
            f.pop_front();
        }
        if f.len() >= MAX_FAILURES {
            let oldest = *f.front().expect("not empty");
            return Err(WINDOW.saturating_sub(now.duration_since(oldest)));
        }
        Ok(())
    }

    pub fn record_failure(&self, now: Instant) {
        let mut f = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        f.push_back(now);
        while f.len() > MAX_FAILURES {
            f.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_failures_in_a_minute_close_sign_in_until_the_first_is_a_minute_old() {
        let t = LoginThrottle::default();
        let start = Instant::now();
        for i in 0..MAX_FAILURES {
            assert!(t.check(start + Duration::from_secs(i as u64)).is_ok());
            t.record_failure(start + Duration::from_secs(i as u64));
        }
        let wait = t.check(start + Duration::from_secs(30)).unwrap_err();
        assert_eq!(wait, Duration::from_secs(30));
        assert!(
            t.check(start + WINDOW).is_ok(),
            "the first failure aged out"
        );
        assert!(t.check(start + WINDOW + Duration::from_secs(20)).is_ok());
    }
}
