//! The Cal.com sync's bookkeeping (migration 0009): one `calcom_sync` row with the watermark,
//! whether the import finished, the lease, and the last pass's result.
//!
//! The lease is a row in the shared database, so several instances on one PostgreSQL database
//! run at most one sync at a time: [`Store::take_sync_lease`] is one conditional `UPDATE` (free,
//! expired, or already ours), atomic on both backends. A holder that dies keeps it only until
//! `lease_until`. The watermark is written in the transaction that applies a page
//! ([`Tx::advance_sync_watermark`]), so it never gets ahead of the page's effects.

use jiff::Timestamp;
use serde::Serialize;

use super::common;
use super::value::{ReadRow, Value};
use super::{Result, Store, Tx};

/// The `calcom_sync` row.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SyncState {
    /// Cal.com `updatedAt` of the last booking applied; `None` before the first page.
    pub watermark: Option<Timestamp>,
    /// When the first sync (the import) finished; `None` on a store that never synced.
    pub imported_at: Option<Timestamp>,
    pub lease_holder: Option<String>,
    pub lease_until: Option<Timestamp>,
    pub last_started_at: Option<Timestamp>,
    pub last_finished_at: Option<Timestamp>,
    pub last_success_at: Option<Timestamp>,
    /// `ok`, `partial`, `failed` or `unauthorized`.
    pub last_outcome: Option<String>,
    pub last_error: Option<String>,
    pub last_fetched: i64,
    /// Bookings the last pass wrote (drift found and repaired).
    pub last_changed: i64,
    pub last_emails: i64,
    pub last_duration_ms: i64,
    /// Bookings repaired by every pass so far.
    pub total_repairs: i64,
}

/// What a finished pass records.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncRecord {
    pub started_at: Timestamp,
    pub finished_at: Timestamp,
    pub outcome: &'static str,
    pub error: Option<String>,
    pub fetched: i64,
    pub changed: i64,
    pub emails: i64,
    pub duration_ms: i64,
}

fn decode(r: &impl ReadRow) -> Result<SyncState> {
    Ok(SyncState {
        watermark: r.opt_time("watermark")?,
        imported_at: r.opt_time("imported_at")?,
        lease_holder: r.opt_text("lease_holder")?,
        lease_until: r.opt_time("lease_until")?,
        last_started_at: r.opt_time("last_started_at")?,
        last_finished_at: r.opt_time("last_finished_at")?,
        last_success_at: r.opt_time("last_success_at")?,
        last_outcome: r.opt_text("last_outcome")?,
        last_error: r.opt_text("last_error")?,
        last_fetched: r.int("last_fetched")?,
        last_changed: r.int("last_changed")?,
        last_emails: r.int("last_emails")?,
        last_duration_ms: r.int("last_duration_ms")?,
        total_repairs: r.int("total_repairs")?,
    })
}

impl Store {
    /// The sync's state (the defaults if the row is somehow missing).
    pub async fn sync_state(&self) -> Result<SyncState> {
        let sql = "SELECT * FROM calcom_sync WHERE id = 1".to_owned();
        let row = match self {
            Store::Sqlite(s) => common::fetch_optional(&s.pool, sql, &[], decode).await?,
            Store::Postgres(p) => common::fetch_optional(p, sql, &[], decode).await?,
        };
        Ok(row.unwrap_or_default())
    }

    /// Takes (or renews) the sync lease for `holder` until `until`: true when it is `holder`'s.
    pub async fn take_sync_lease(
        &self,
        holder: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<bool> {
        const SQL: &str = "UPDATE calcom_sync SET lease_holder = $1, lease_until = $2 \
             WHERE id = 1 AND (lease_holder IS NULL OR lease_holder = $1 OR lease_until IS NULL \
             OR lease_until < $3)";
        let mut tx = self.begin().await?;
        let args = [
            Value::text(holder),
            Value::Time(Some(until)),
            Value::Time(Some(now)),
        ];
        let n = tx.execute(SQL, &args).await?;
        tx.commit().await?;
        Ok(n == 1)
    }

    /// Gives the lease back, if `holder` still has it.
    pub async fn release_sync_lease(&self, holder: &str) -> Result<()> {
        const SQL: &str = "UPDATE calcom_sync SET lease_holder = NULL, lease_until = NULL \
             WHERE id = 1 AND lease_holder = $1";
        let mut tx = self.begin().await?;
        tx.execute(SQL, &[Value::text(holder)]).await?;
        tx.commit().await
    }

    /// Records a finished pass (the last success only when it succeeded).
    pub async fn record_sync(&self, r: &SyncRecord) -> Result<()> {
        const SQL: &str = "UPDATE calcom_sync SET last_started_at = $1, last_finished_at = $2, \
             last_outcome = $3, last_error = $4, last_fetched = $5, last_changed = $6, \
             last_emails = $7, last_duration_ms = $8, total_repairs = total_repairs + $6, \
             last_success_at = CASE WHEN $3 = 'ok' THEN $2 ELSE last_success_at END \
             WHERE id = 1";
        let mut tx = self.begin().await?;
        let args = [
            Value::Time(Some(r.started_at)),
            Value::Time(Some(r.finished_at)),
            Value::text(r.outcome),
            Value::opt_text(&r.error),
            Value::Int(Some(r.fetched)),
            Value::Int(Some(r.changed)),
            Value::Int(Some(r.emails)),
            Value::Int(Some(r.duration_ms)),
        ];
        tx.execute(SQL, &args).await?;
        tx.commit().await
    }
}

impl Tx<'_> {
    /// Moves the watermark to `to` (in the transaction that applied the page it ends).
    pub async fn set_sync_watermark(&mut self, to: Timestamp) -> Result<()> {
        const SQL: &str = "UPDATE calcom_sync SET watermark = $1 WHERE id = 1";
        self.execute(SQL, &[Value::Time(Some(to))]).await?;
        Ok(())
    }

    /// Records that the first sync (the import) has read everything Cal.com had.
    pub async fn mark_sync_imported(&mut self, at: Timestamp) -> Result<()> {
        const SQL: &str =
            "UPDATE calcom_sync SET imported_at = $1 WHERE id = 1 AND imported_at IS NULL";
        self.execute(SQL, &[Value::Time(Some(at))]).await?;
        Ok(())
    }
}
