//! The live-bookings list (the dashboard's default) at any size: the `status IN (live statuses)`
//! term, and the partial index of migration 0016 (`bookings_live_starts_idx`: live bookings by
//! `(starts_at, id)`, the listing's order) that answers it by walking one page from the cursor.
//!
//! Guarantees: [`live_term`] is word for word the index's WHERE (a test reads both migrations),
//! because SQLite uses a partial index only for a query containing its term as written and
//! PostgreSQL must prove the query's term implies it. On SQLite the plain live list names the
//! index (`INDEXED BY`, see [`index_hint`]); PostgreSQL's planner picks it from its statistics.
//!
//! Failure modes: none at run time; if the migration's term and [`live_term`] drifted apart, the
//! SQLite listing would fail with "no query solution" (and the test here fails first).

use super::Backend;
use super::query::{BookingFilter, Scope};
use crate::booking::Status;

/// The partial index of live bookings (migration 0016).
pub(super) const INDEX: &str = "bookings_live_starts_idx";

/// `status IN ('confirmed', …)`: the live statuses, in [`Status::LIVE`]'s order.
pub(super) fn live_term() -> String {
    let live: Vec<String> = Status::LIVE
        .iter()
        .map(|s| format!("'{}'", s.as_str()))
        .collect();
    format!("status IN ({})", live.join(", "))
}

/// What follows `FROM bookings` for `f` on `backend`: `INDEXED BY` the live index for the plain
/// live list on SQLite, nothing otherwise. Without statistics (calbook runs no `ANALYZE`)
/// SQLite's planner guesses that `status IN (…)` selects a few rows, reads every live booking
/// through the `(status, starts_at)` index and sorts them (208 ms at 110,000 bookings). With a
/// search, an owner or an email, the planner's choice stands: those terms select few rows
/// through their own indexes.
pub(super) fn index_hint(f: &BookingFilter, search: Option<&str>, backend: Backend) -> String {
    let plain_live = f.status.is_none()
        && f.live
        && f.scope == Scope::All
        && f.attendee_email.is_none()
        && search.is_none();
    if plain_live && backend == Backend::Sqlite {
        format!(" INDEXED BY {INDEX}")
    } else {
        String::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::query::listing_tail;

    #[test]
    fn the_live_term_is_the_partial_index_term() {
        for backend in ["sqlite", "postgres"] {
            let path = format!(
                "{}/migrations/{backend}/0016_live_bookings_order.sql",
                env!("CARGO_MANIFEST_DIR")
            );
            let migration = std::fs::read_to_string(&path).unwrap();
            assert!(
                migration.contains(&format!("CREATE INDEX {INDEX} ON bookings (starts_at, id)")),
                "{path} creates {INDEX}"
            );
            assert!(
                migration.contains(&format!("WHERE {};", live_term())),
                "{path} indexes `{}`",
                live_term()
            );
        }
    }

    fn live_list(search: Option<&str>, backend: Backend) -> String {
        let f = BookingFilter {
            live: true,
            search: search.map(str::to_owned),
            limit: 51,
            ..Default::default()
        };
        listing_tail(&f, backend).0
    }

    #[test]
    fn the_plain_live_list_walks_the_live_index_on_sqlite() {
        let sql = live_list(None, Backend::Sqlite);
        assert!(
            sql.starts_with(&format!(" INDEXED BY {INDEX} WHERE")),
            "{sql}"
        );
        assert!(sql.contains(&live_term()), "{sql}");
        let sql = live_list(Some("ana"), Backend::Sqlite);
        assert!(
            !sql.contains("INDEXED BY"),
            "a search leaves the plan to SQLite: {sql}"
        );
        let sql = live_list(None, Backend::Postgres);
        assert!(
            !sql.contains("INDEXED BY") && sql.contains(&live_term()),
            "{sql}"
        );
    }
}
