//! The dashboard's numbers and a booking's admin actions (migrations 0015 and 0017).
//!
//! [`Store::weekly_counts`] counts, per period, what the audit history recorded in it, by the
//! entry's `created_at` (when calbook learnt of the change, from a webhook or the sync). What an
//! entry counts as (a booking, a cancellation, a reschedule, a no-show, or nothing) is decided
//! once, as the entry is written, by the domain rule [`crate::booking::counts_as`] (its docs say
//! what counts), and kept in `booking_history.counts_as`; migration 0017 filled it for older
//! entries with the same rule. The statement counts each kind in each period as one range of
//! the partial index `booking_history_counts_idx` on `(counts_as, created_at) WHERE counts_as IS
//! NOT NULL`, in the index alone: it reads neither the table nor any entry's JSON, and entries
//! that count as nothing are not in the index.
//!
//! [`Store::add_booking_action`] and [`Store::booking_actions`] keep what an admin did about a
//! booking from the dashboard (notes, resent emails, requests to Cal.com): a table of its own,
//! never shown to clients. Failure modes: [`super::StoreError`] as everywhere in the store; a
//! `counts_as` value this build does not know is [`StoreError::Corrupt`].

use jiff::Timestamp;
use serde::Serialize;
use uuid::Uuid;

use super::common;
use super::value::{ReadRow, Value};
use super::{Result, Store, StoreError};
use crate::booking::CountsAs;

/// The counts of one period: the history entries recorded in it, by what each counts as.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct PeriodCounts {
    /// New bookings (not the new time of a reschedule).
    pub bookings: i64,
    /// Whole bookings cancelled (not one seat of a seated booking).
    pub cancellations: i64,
    /// Bookings moved to a new time, each move once.
    pub reschedules: i64,
    /// No-show marks set (not those taken back).
    pub no_shows: i64,
}

/// The term the statement and the partial index of migration 0017 share: SQLite uses a partial
/// index only for a query that contains its WHERE term as written.
const COUNTED: &str = "counts_as IS NOT NULL";

/// The count of each kind in each of `periods` periods (`$1` … `$periods+1` are the bounds), one
/// row per period and kind, zeros included. Each count is a range of the partial index on
/// `(counts_as, created_at)`, counted in the index alone: no sort, no grouping, no expression per
/// entry (a CASE per entry and a GROUP BY over the index on `(created_at, counts_as)` cost ten
/// times as much on SQLite, in sorting; BENCHMARKS.md, issue 14). The same text on both backends.
fn statement(periods: usize) -> String {
    let bounds: Vec<String> = (0..periods)
        .map(|i| format!("({i}, ${}, ${})", i + 1, i + 2))
        .collect();
    let kinds: Vec<String> = CountsAs::ALL
        .iter()
        .map(|k| format!("('{}')", k.as_str()))
        .collect();
    format!(
        "WITH periods (period, lo, hi) AS (VALUES {bounds}), kinds (counts_as) AS (VALUES {kinds}) \
         SELECT CAST(period AS BIGINT) AS period, counts_as, \
                (SELECT count(*) FROM booking_history h \
                  WHERE h.counts_as = kinds.counts_as AND h.created_at >= periods.lo \
                    AND h.created_at < periods.hi AND h.{COUNTED}) AS n \
           FROM periods, kinds",
        bounds = bounds.join(", "),
        kinds = kinds.join(", "),
    )
}

fn counted<R: ReadRow>(row: &R) -> Result<(i64, String, i64)> {
    Ok((row.int("period")?, row.text("counts_as")?, row.int("n")?))
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
    /// The statement [`Store::weekly_counts`] runs for `periods` periods (`$1` … `$periods+1`
    /// are the bounds), for a test to check its plan. The same on both backends.
    pub fn weekly_counts_sql(&self, periods: usize) -> String {
        statement(periods)
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
        for (period, counts_as, n) in rows {
            let slot = usize::try_from(period)
                .ok()
                .and_then(|i| out.get_mut(i))
                .ok_or_else(|| StoreError::Corrupt(format!("period {period}")))?;
            let total = match CountsAs::parse(&counts_as) {
                Some(CountsAs::Booking) => &mut slot.bookings,
                Some(CountsAs::Cancellation) => &mut slot.cancellations,
                Some(CountsAs::Reschedule) => &mut slot.reschedules,
                Some(CountsAs::NoShow) => &mut slot.no_shows,
                None => {
                    return Err(StoreError::Corrupt(format!(
                        "booking_history.counts_as {counts_as:?}"
                    )));
                }
            };
            *total += n;
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
    fn each_period_is_a_row_over_its_bounds_and_each_kind_a_count() {
        let sql = super::statement(3);
        assert!(
            sql.contains("VALUES (0, $1, $2), (1, $2, $3), (2, $3, $4))"),
            "{sql}"
        );
        assert!(
            sql.contains("VALUES ('booking'), ('cancellation'), ('reschedule'), ('no_show'))"),
            "{sql}"
        );
        assert!(sql.contains("AND h.counts_as IS NOT NULL) AS n"), "{sql}");
        assert!(super::statement(1).contains("VALUES (0, $1, $2))"));
    }

    /// The statement's term is word for word the partial index's WHERE in both migrations 0017.
    #[test]
    fn the_statement_names_the_partial_indexs_term() {
        for backend in ["sqlite", "postgres"] {
            let path = format!(
                "{}/migrations/{backend}/0017_history_counts_as.sql",
                env!("CARGO_MANIFEST_DIR")
            );
            let migration = std::fs::read_to_string(&path).unwrap();
            let index = "CREATE INDEX booking_history_counts_idx ON booking_history \
                         (counts_as, created_at)\n  WHERE ";
            assert!(
                migration.contains(&format!("{index}{};", super::COUNTED)),
                "{path}"
            );
        }
    }
}
