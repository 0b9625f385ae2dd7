//! Outbox persistence: insert (inside the booking transaction), claim with a lease, and finish
//! with a fencing check, on both backends.
//!
//! - **Claim**: due `pending` rows, and `sending` rows whose lease expired (their worker died),
//!   become `sending` with a fresh lease token, in one statement; on PostgreSQL the candidate rows
//!   are taken `FOR UPDATE SKIP LOCKED`, so concurrent workers (in one process or many) never
//!   claim the same row; SQLite has one writer at a time.
//! - **Finish** (sent, retry, dead, skipped): only while the caller still holds the lease token.
//!   A worker whose lease expired and was taken over gets `false` and changes nothing.
//!
//! The job types are the outbox's own ([`crate::outbox`]); this module depends on them and the
//! outbox module never on this one's internals. The columns, the statements and the row codec
//! are written once, in `row.rs`, for both backends.

mod postgres;
mod row;
mod sqlite;
mod stats;

pub use stats::OutboxStats;

use jiff::Timestamp;
use uuid::Uuid;

use super::{Result, Store, Tx, row_chunks};
use crate::outbox::{Finish, JobState, OutboxJob, Withdrawal};

impl Tx<'_> {
    /// Inserts planned jobs; a job whose idempotency key exists already is left out silently
    /// (the email was planned before: a replayed or repeated change).
    pub async fn insert_outbox(&mut self, jobs: &[OutboxJob]) -> Result<()> {
        let lanes = row::lanes(jobs);
        for (chunk, lanes) in row_chunks(jobs).zip(row_chunks(&lanes)) {
            let backend = match self {
                Tx::Sqlite(_) => crate::store::Backend::Sqlite,
                Tx::Postgres(_) => crate::store::Backend::Postgres,
            };
            let stmt = row::insert_in_lanes(backend, chunk, lanes);
            match self {
                Tx::Sqlite(tx) => sqlite::execute(&mut **tx, stmt).await?,
                Tx::Postgres(tx) => postgres::execute(&mut **tx, stmt).await?,
            };
        }
        Ok(())
    }

    /// Withdraws pending reminders (state `skipped`, the reason recorded), in this transaction:
    /// run after [`Tx::insert_outbox`], so reminders planned by the same batch are covered.
    pub async fn withdraw_reminders(
        &mut self,
        withdrawals: &[Withdrawal],
        now: Timestamp,
    ) -> Result<()> {
        for w in withdrawals {
            let stmt = row::withdraw(w, now);
            match self {
                Tx::Sqlite(tx) => sqlite::execute(&mut **tx, stmt).await?,
                Tx::Postgres(tx) => postgres::execute(&mut **tx, stmt).await?,
            };
        }
        Ok(())
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
        let stmt = row::claim(self.backend(), lease, now, until, limit);
        match self {
            Store::Sqlite(s) => sqlite::claim(&s.pool, stmt).await,
            Store::Postgres(p) => postgres::jobs(p, stmt).await,
        }
    }

    /// Whether any job is due: a plain read, so an idle worker never takes SQLite's write lock.
    pub async fn outbox_has_due(&self, now: Timestamp) -> Result<bool> {
        let stmt = row::has_due(self.backend(), now);
        match self {
            Store::Sqlite(s) => sqlite::any(&s.pool, stmt).await,
            Store::Postgres(p) => postgres::any(p, stmt).await,
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
        Ok(self
            .outbox_execute(row::finish(id, lease, finish, now))
            .await?
            == 1)
    }

    /// Several outcomes of jobs claimed with `lease`, in one transaction (one commit for a whole
    /// batch of sends). For each: `false` when the lease was lost and that job was left unchanged.
    pub async fn finish_outbox_many(
        &self,
        lease: Uuid,
        items: &[(Uuid, Finish)],
        now: Timestamp,
    ) -> Result<Vec<bool>> {
        if items.is_empty() {
            return Ok(Vec::new());
        }
        // The sent ones (nearly all) in one statement per chunk, the rest one by one.
        let sent: Vec<(Uuid, Option<String>)> = items
            .iter()
            .filter_map(|(id, finish)| match finish {
                Finish::Sent { provider_id } => Some((*id, provider_id.clone())),
                _ => None,
            })
            .collect();
        let sent_stmts = row_chunks(&sent)
            .map(|chunk| row::finish_sent(self.backend(), chunk, lease, now))
            .collect();
        let others = items
            .iter()
            .filter(|(_, finish)| !matches!(finish, Finish::Sent { .. }))
            .map(|(id, finish)| row::finish(*id, lease, finish, now))
            .collect();
        let (held_sent, others) = match self {
            Store::Sqlite(s) => sqlite::finish_all(&s.pool, sent_stmts, others).await?,
            Store::Postgres(p) => postgres::finish_all(p, sent_stmts, others).await?,
        };
        let held_sent: std::collections::HashSet<Uuid> = held_sent.into_iter().collect();
        let mut others = others.into_iter();
        Ok(items
            .iter()
            .map(|(id, finish)| match finish {
                Finish::Sent { .. } => held_sent.contains(id),
                _ => others.next() == Some(1),
            })
            .collect())
    }

    /// Releases the jobs still being sent under `lease` (a stopping worker): they are `pending`
    /// again at once, for another instance to take. Returns how many.
    pub async fn release_outbox_lease(&self, lease: Uuid) -> Result<u64> {
        self.outbox_execute(row::release(lease)).await
    }

    /// Jobs, most recently changed first, optionally of one state.
    pub async fn outbox(&self, state: Option<JobState>, limit: u32) -> Result<Vec<OutboxJob>> {
        self.outbox_jobs(row::list(self.backend(), state, limit))
            .await
    }

    /// The emails planned for one booking, in the order they are due.
    pub async fn outbox_for_booking(&self, booking_id: Uuid) -> Result<Vec<OutboxJob>> {
        self.outbox_jobs(row::for_booking(booking_id)).await
    }

    /// Puts dead jobs back in the queue (all of them, or the one with `id`), due now, with a
    /// fresh attempt count. Returns how many were requeued. The idempotency key is kept.
    pub async fn retry_dead_outbox(&self, id: Option<Uuid>, now: Timestamp) -> Result<u64> {
        self.outbox_execute(row::retry_dead(self.backend(), id, now))
            .await
    }

    async fn outbox_jobs(&self, stmt: row::Stmt) -> Result<Vec<OutboxJob>> {
        match self {
            Store::Sqlite(s) => sqlite::jobs(&s.pool, stmt).await,
            Store::Postgres(p) => postgres::jobs(p, stmt).await,
        }
    }

    async fn outbox_execute(&self, stmt: row::Stmt) -> Result<u64> {
        match self {
            Store::Sqlite(s) => sqlite::execute(&s.pool, stmt).await,
            Store::Postgres(p) => postgres::execute(p, stmt).await,
        }
    }
}

#[cfg(test)]
mod migration_tests;
