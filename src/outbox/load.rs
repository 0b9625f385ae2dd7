//! How busy the webhook ingest is, so that the outbox worker, a background job, gives it way.
//!
//! The ingest counts each delivery from its submission until its answer ([`IngestLoad::enter`]
//! returns a guard that counts it out when dropped, also when the request is abandoned). The
//! worker, before it claims a batch, waits for a moment with no delivery in flight, but never
//! longer than its bound ([`IngestLoad::quiet`]): under a flood of webhooks it still claims a
//! batch at least that often, and with ordinary traffic (gaps between deliveries) it is not
//! held back at all. This keeps the worker's claims, rendering and sends off the two cores while
//! webhooks wait for them, without letting emails wait for the flood to end.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::Notify;

/// Deliveries in flight in the ingest, and a signal when there are none left.
#[derive(Debug, Default)]
pub struct IngestLoad {
    in_flight: AtomicUsize,
    idle: Notify,
}

/// One delivery in flight; counted out when dropped.
#[derive(Debug)]
pub struct InFlight(Arc<IngestLoad>);

impl Drop for InFlight {
    fn drop(&mut self) {
        if self.0.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

impl IngestLoad {
    /// Counts one delivery in, until the guard is dropped.
    pub fn enter(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight(self.clone())
    }

    /// Deliveries in flight now.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    /// Returns once no delivery is in flight, or after `max` at the latest. Returns whether it
    /// found the ingest quiet.
    pub async fn quiet(&self, max: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + max;
        loop {
            let idle = self.idle.notified();
            tokio::pin!(idle);
            // Registered before the check, so a notification between the two is not missed.
            idle.as_mut().enable();
            if self.in_flight() == 0 {
                return true;
            }
            tokio::select! {
                _ = &mut idle => {}
                _ = tokio::time::sleep_until(deadline) => return self.in_flight() == 0,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn quiet_returns_at_once_when_nothing_is_in_flight() {
        let load = Arc::new(IngestLoad::default());
        assert!(load.quiet(Duration::from_secs(60)).await);
    }

    #[tokio::test]
    async fn quiet_waits_for_the_last_delivery_to_leave() {
        let load = Arc::new(IngestLoad::default());
        let a = load.enter();
        let b = load.enter();
        assert_eq!(load.in_flight(), 2);
        let waiting = tokio::spawn({
            let load = load.clone();
            async move { load.quiet(Duration::from_secs(60)).await }
        });
        drop(a);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiting.is_finished(), "one delivery is still in flight");
        drop(b);
        assert!(waiting.await.unwrap(), "quiet once the last one left");
        assert_eq!(load.in_flight(), 0);
    }

    #[tokio::test]
    async fn quiet_gives_up_after_its_bound_under_constant_load() {
        let load = Arc::new(IngestLoad::default());
        let _busy = load.enter();
        assert!(!load.quiet(Duration::from_millis(20)).await);
        assert_eq!(load.in_flight(), 1);
    }
}
