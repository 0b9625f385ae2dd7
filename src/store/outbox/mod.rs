//! Outbox persistence: insert (inside the booking transaction), claim with a lease, and finish
//! with a fencing check, on both backends.
//!
//! - **Claim**: due `pending` rows, and `sending` rows whose lease expired (their worker died),
//!   become `sending` with a fresh lease token, in one statement; on PostgreSQL the candidate rows
//!   are taken `FOR UPDATE SKIP LOCKED`, so concurrent workers (in one process or many) never
//!   claim the same row; SQLite has one writer at a time.
//! - **Finish** (sent, retry, dead, skipped): only while the caller still holds the lease token.
//!   A worker whose lease expired and was taken over gets `false` and changes nothing.

mod postgres;
mod sqlite;

use jiff::Timestamp;
use uuid::Uuid;

use super::{Result, Store, StoreError, Tx};
use crate::outbox::{JobState, OutboxJob};

/// How a claimed job ends (or goes back to the queue).
#[derive(Debug, Clone, PartialEq)]
pub enum Finish {
    Sent {
        provider_id: Option<String>,
    },
    /// Back to `pending`, due again at `due_at`. `count_attempt: false` for a parked queue
    /// (the provider refused all sending for a while; the email itself did not fail).
    Retry {
        due_at: Timestamp,
        error: String,
        count_attempt: bool,
    },
    Dead {
        error: String,
    },
    Skipped {
        reason: String,
    },
}

impl Tx<'_> {
    /// Inserts planned jobs; a job whose idempotency key exists already is left out silently
    /// (the email was planned before: a replayed or repeated change).
    pub async fn insert_outbox(&mut self, jobs: &[OutboxJob]) -> Result<()> {
        match self {
            Tx::Sqlite(tx) => sqlite::insert(tx, jobs).await,
            Tx::Postgres(tx) => postgres::insert(tx, jobs).await,
        }
    }
}

impl Store {
    /// Claims up to `limit` due jobs for `lease` (the lease ends at `until`).
    pub async fn claim_outbox(
        &self,
        lease: Uuid,
        now: Timestamp,
        until: Timestamp,
        limit: u32,
    ) -> Result<Vec<OutboxJob>> {
        match self {
            Store::Sqlite(s) => sqlite::claim(&s.pool, lease, now, until, limit).await,
            Store::Postgres(p) => postgres::claim(p, lease, now, until, limit).await,
        }
    }

    /// Whether any job is due: a plain read, so an idle worker never takes SQLite's write lock.
    pub async fn outbox_has_due(&self, now: Timestamp) -> Result<bool> {
        match self {
            Store::Sqlite(s) => sqlite::has_due(&s.pool, now).await,
            Store::Postgres(p) => postgres::has_due(p, now).await,
        }
    }

    /// Ends (or requeues) a claimed job, if `lease` still holds it. `false`: the lease was lost
    /// and nothing changed.
    pub async fn finish_outbox(
        &self,
        id: Uuid,
        lease: Uuid,
        finish: &Finish,
        now: Timestamp,
    ) -> Result<bool> {
        match self {
            Store::Sqlite(s) => sqlite::finish(&s.pool, id, lease, finish, now).await,
            Store::Postgres(p) => postgres::finish(p, id, lease, finish, now).await,
        }
    }

    /// Several outcomes of jobs claimed with `lease`, in one transaction. For each: `false` when
    /// the lease was lost and that job was left unchanged.
    pub async fn finish_outbox_many(
        &self,
        lease: Uuid,
        items: &[(Uuid, Finish)],
        now: Timestamp,
    ) -> Result<Vec<bool>> {
        if items.is_empty() {
            return Ok(Vec::new());
        }
        match self {
            Store::Sqlite(s) => sqlite::finish_many(&s.pool, lease, items, now).await,
            Store::Postgres(p) => postgres::finish_many(p, lease, items, now).await,
        }
    }

    /// Jobs, most recently changed first, optionally of one state.
    pub async fn outbox(&self, state: Option<JobState>, limit: u32) -> Result<Vec<OutboxJob>> {
        match self {
            Store::Sqlite(s) => sqlite::list(&s.pool, state, limit).await,
            Store::Postgres(p) => postgres::list(p, state, limit).await,
        }
    }

    /// The emails planned for one booking, in the order they are due.
    pub async fn outbox_for_booking(&self, booking_id: Uuid) -> Result<Vec<OutboxJob>> {
        match self {
            Store::Sqlite(s) => sqlite::for_booking(&s.pool, booking_id).await,
            Store::Postgres(p) => postgres::for_booking(p, booking_id).await,
        }
    }

    /// Puts dead jobs back in the queue (all of them, or the one with `id`), due now, with a
    /// fresh attempt count. Returns how many were requeued. The idempotency key is kept.
    pub async fn retry_dead_outbox(&self, id: Option<Uuid>, now: Timestamp) -> Result<u64> {
        match self {
            Store::Sqlite(s) => sqlite::retry_dead(&s.pool, id, now).await,
            Store::Postgres(p) => postgres::retry_dead(p, id, now).await,
        }
    }
}

fn parse_state(s: &str) -> Result<JobState> {
    s.parse().map_err(StoreError::Corrupt)
}
