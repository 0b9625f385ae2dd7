//! The outbox's figures for `/metrics`: how many emails wait, how many are dead, and how long
//! the oldest due one has waited. Read at scrape time (three index lookups), so they are exact.

use jiff::Timestamp;

use crate::store::{Result, Store, StoreError};
use crate::time::{from_db_text, to_db_text};

/// What `/metrics` shows of the outbox.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OutboxStats {
    /// Jobs in state `pending` (due or not).
    pub pending: i64,
    /// Jobs that will not be retried without an operator.
    pub dead: i64,
    /// Seconds since the oldest job still to send (pending or sending) fell due; 0 when none.
    pub oldest_due_age_seconds: f64,
}

impl Store {
    pub async fn outbox_stats(&self, now: Timestamp) -> Result<OutboxStats> {
        let (pending, dead, oldest) = match self {
            Store::Sqlite(s) => {
                let (pending, dead, oldest): (i64, i64, Option<String>) = sqlx::query_as(
                    "SELECT (SELECT count(*) FROM email_outbox WHERE state = 'pending'), \
                            (SELECT count(*) FROM email_outbox WHERE state = 'dead'), \
                            (SELECT min(due_at) FROM email_outbox \
                              WHERE state IN ('pending', 'sending') AND due_at <= $1)",
                )
                .bind(to_db_text(now))
                .fetch_one(&s.pool)
                .await?;
                let oldest = oldest
                    .map(|t| from_db_text(&t).ok_or_else(|| StoreError::Corrupt(t)))
                    .transpose()?;
                (pending, dead, oldest.map(|t| (now - t).as_secs_f64()))
            }
            Store::Postgres(p) => {
                sqlx::query_as::<_, (i64, i64, Option<f64>)>(
                    "SELECT (SELECT count(*) FROM email_outbox WHERE state = 'pending'), \
                            (SELECT count(*) FROM email_outbox WHERE state = 'dead'), \
                            (SELECT extract(epoch FROM now() - min(due_at))::float8 \
                               FROM email_outbox \
                              WHERE state IN ('pending', 'sending') AND due_at <= now())",
                )
                .fetch_one(p)
                .await?
            }
        };
        Ok(OutboxStats {
            pending,
            dead,
            oldest_due_age_seconds: oldest.unwrap_or(0.0).max(0.0),
        })
    }
}
