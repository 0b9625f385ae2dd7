//! The dashboard's numbers and a booking's admin actions (migration 0015).
//!
//! [`Store::weekly_counts`] counts, per period, what the audit history recorded in it; one
//! grouped statement per backend over `booking_history`, a range scan of its `created_at` index
//! (`booking_history_created_at_idx`). What counts, by the history entry's `created_at` (when
//! calbook learnt of the change, from a webhook or the sync):
//! * **bookings**: a new booking recorded (an insert: `created`, `requested`,
//!   `payment_initiated` or `paid` with no old values), not counting the new booking of a
//!   reschedule (one with `rescheduled_from`), which is a reschedule;
//! * **cancellations**: `cancelled` and `series_cancelled` entries (a whole booking; a seat
//!   given up in a seated booking is not one);
//! * **reschedules**: `rescheduled` entries (the old side of each move, recorded once);
//! * **no-shows**: `no_show_updated` entries that set a mark (the host's or an attendee's) to
//!   true; taking a mark back is not counted.
//!
//! [`Store::add_booking_action`] and [`Store::booking_actions`] keep what an admin did about a
//! booking from the dashboard (notes, resent emails, requests to Cal.com): a table of its own,
//! never shown to clients. Failure modes: [`super::StoreError`] as everywhere in the store.

use jiff::Timestamp;
use serde::Serialize;
use uuid::Uuid;

use super::common;
use super::value::{ReadRow, Value};
use super::{Result, Store, StoreError};

/// The counts of one period (see the module's definitions).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PeriodCounts {
    pub bookings: i64,
    pub cancellations: i64,
    pub reschedules: i64,
    pub no_shows: i64,
}

/// What the history entries count as, by action (the statement's `kind` column).
const KIND: &str = "CASE WHEN action IN ('cancelled', 'series_cancelled') THEN 'c' \
     WHEN action = 'rescheduled' THEN 'r' WHEN action = 'no_show_updated' THEN 'n' ELSE 'b' END";

/// The entries counted; `{new_booking}` and `{no_show}` are each backend's JSON tests.
fn statement(periods: usize, new_booking: &str, no_show: &str) -> String {
    let mut case = String::from("CASE");
    for i in 1..periods {
        case.push_str(&format!(" WHEN created_at < ${} THEN {}", i + 1, i - 1));
    }
    case.push_str(&format!(" ELSE {} END", periods - 1));
    format!(
        "SELECT CAST(period AS BIGINT) AS period, kind, count(*) AS n FROM ( \
           SELECT {case} AS period, {KIND} AS kind FROM booking_history \
            WHERE created_at >= $1 AND created_at < ${last} \
              AND ((action IN ('created', 'requested', 'payment_initiated', 'paid') \
                    AND old_values IS NULL AND {new_booking}) \
                   OR action IN ('cancelled', 'series_cancelled', 'rescheduled') \
                   OR (action = 'no_show_updated' AND {no_show})) \
         ) counted GROUP BY period, kind",
        last = periods + 1,
    )
}

fn counted<R: ReadRow>(row: &R) -> Result<(i64, String, i64)> {
    Ok((row.int("period")?, row.text("kind")?, row.int("n")?))
}

/// One admin action on a booking (see the module's documentation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BookingAction {
    pub id: Uuid,
    pub booking_id: Uuid,
    /// `note`, `resend`, `cancel` or `request_reschedule`.
    pub kind: String,
    /// The note's text, the email resent, or the reason given.
    pub detail: String,
    pub created_at: Timestamp,
}

fn action<R: ReadRow>(row: &R) -> Result<BookingAction> {
    Ok(BookingAction {
        id: row.uuid("id")?,
        booking_id: row.uuid("booking_id")?,
        kind: row.text("kind")?,
        detail: row.text("detail")?,
        created_at: row.time("created_at")?,
    })
}

impl Store {
    /// The statement [`Store::weekly_counts`] runs for `periods` periods on this backend
    /// (`$1` … `$periods+1` are the bounds), for a test to check its plan.
    pub fn weekly_counts_sql(&self, periods: usize) -> String {
        match self {
            Store::Sqlite(_) => statement(
                periods,
                "json_extract(new_values, '$.rescheduled_from') IS NULL",
                "new_values LIKE '%no_show\":true%'",
            ),
            Store::Postgres(_) => statement(
                periods,
                "new_values->>'rescheduled_from' IS NULL",
                "new_values::text LIKE '%no_show\": true%'",
            ),
        }
    }

    /// The counts in each period `bounds[i]..bounds[i + 1]` (`bounds` ascending; one result
    /// fewer than bounds). See the module's documentation for what counts.
    pub async fn weekly_counts(&self, bounds: &[Timestamp]) -> Result<Vec<PeriodCounts>> {
        let periods = bounds.len().saturating_sub(1);
        if periods == 0 {
            return Ok(Vec::new());
        }
        let args: Vec<Value> = bounds.iter().map(|t| Value::Time(Some(*t))).collect();
        let sql = self.weekly_counts_sql(periods);
        let rows = match self {
            Store::Sqlite(s) => common::fetch_all(&s.pool, sql, &args, counted).await?,
            Store::Postgres(p) => common::fetch_all(p, sql, &args, counted).await?,
        };
        let mut out = vec![PeriodCounts::default(); periods];
        for (period, kind, n) in rows {
            let slot = usize::try_from(period)
                .ok()
                .and_then(|i| out.get_mut(i))
                .ok_or_else(|| StoreError::Corrupt(format!("period {period}")))?;
            match kind.as_str() {
                "b" => slot.bookings += n,
                "c" => slot.cancellations += n,
                "r" => slot.reschedules += n,
                _ => slot.no_shows += n,
            }
        }
        Ok(out)
    }

    /// How many emails the outbox holds in each state (states with none left out): one grouped
    /// scan of `email_outbox_state_idx`.
    pub async fn outbox_counts(&self) -> Result<Vec<(String, i64)>> {
        let sql = "SELECT state, count(*) AS n FROM email_outbox GROUP BY state".to_owned();
        fn decode<R: ReadRow>(row: &R) -> Result<(String, i64)> {
            Ok((row.text("state")?, row.int("n")?))
        }
        match self {
            Store::Sqlite(s) => common::fetch_all(&s.pool, sql, &[], decode).await,
            Store::Postgres(p) => common::fetch_all(p, sql, &[], decode).await,
        }
    }

    /// Records an admin action on a booking, with the emails it queues (a resend), in one
    /// transaction.
    pub async fn add_booking_action(
        &self,
        a: &BookingAction,
        emails: &[crate::outbox::OutboxJob],
    ) -> Result<()> {
        const SQL: &str = "INSERT INTO booking_actions (id, booking_id, kind, detail, created_at) \
             VALUES ($1, $2, $3, $4, $5)";
        let mut tx = self.begin().await?;
        tx.execute(
            SQL,
            &[
                Value::Uuid(Some(a.id)),
                Value::Uuid(Some(a.booking_id)),
                Value::text(&a.kind),
                Value::text(&a.detail),
                Value::Time(Some(a.created_at)),
            ],
        )
        .await?;
        if !emails.is_empty() {
            tx.insert_outbox(emails).await?;
        }
        tx.commit().await
    }

    /// The admin actions on a booking, oldest first.
    pub async fn booking_actions(&self, booking_id: Uuid) -> Result<Vec<BookingAction>> {
        let sql = "SELECT id, booking_id, kind, detail, created_at FROM booking_actions \
                   WHERE booking_id = $1 ORDER BY created_at, id"
            .to_owned();
        let args = [Value::Uuid(Some(booking_id))];
        match self {
            Store::Sqlite(s) => common::fetch_all(&s.pool, sql, &args, action).await,
            Store::Postgres(p) => common::fetch_all(p, sql, &args, action).await,
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn each_period_is_a_case_arm_over_its_bounds() {
        let sql = super::statement(3, "a", "b");
        assert!(sql.contains("WHEN created_at < $2 THEN 0 WHEN created_at < $3 THEN 1 ELSE 2 END"));
        assert!(sql.contains("created_at >= $1 AND created_at < $4"));
    }
}
