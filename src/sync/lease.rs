//! The sync lease: a row in the shared database ([`Store::take_sync_lease`]) that lets one
//! instance at a time run a pass. Each taker has its own random holder id; the lease is renewed
//! after every page and lapses on its own when a holder dies.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

use crate::store::{Result, Store, StoreError};

#[derive(Debug, Clone)]
pub struct Lease {
    holder: String,
    ttl: Duration,
}

impl Lease {
    pub fn new(ttl: Duration) -> Lease {
        Lease {
            holder: uuid::Uuid::new_v4().to_string(),
            ttl,
        }
    }

    fn until(&self, now: Timestamp) -> Timestamp {
        let ttl = SignedDuration::try_from(self.ttl).unwrap_or(SignedDuration::from_mins(5));
        now.checked_add(ttl).unwrap_or(now)
    }

    /// True when the lease is now this holder's.
    pub async fn take(&self, store: &Store) -> Result<bool> {
        let now = Timestamp::now();
        store
            .take_sync_lease(&self.holder, now, self.until(now))
            .await
    }

    /// Extends the lease; an error when another instance took it over meanwhile.
    pub async fn renew(&self, store: &Store) -> Result<()> {
        if self.take(store).await? {
            Ok(())
        } else {
            Err(StoreError::Config(
                "another instance took over the sync lease; this pass stops".to_owned(),
            ))
        }
    }

    pub async fn release(&self, store: &Store) -> Result<()> {
        store.release_sync_lease(&self.holder).await
    }
}
