//! The live-bookings list (the dashboard's default) at any size: the `status IN (live statuses)`
//! term, and the partial index of migration 0016 (`bookings_live_starts_idx`: live bookings by
//! `(starts_at, id)`, the listing's order) that answers it by walking one page from the cursor.
//!
//! Guarantees: [`live_term`] is word for word the index's WHERE (a test reads both migrations),
//! because SQLite uses a partial index only for a query containing its term as written and
//! PostgreSQL must prove the query's term implies it. On SQLite the plain live list names the
//! index (`INDEXED BY`) and a search over all bookings takes no index (see [`index_hint`]);
//! PostgreSQL's planner picks from its statistics.
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

/// What follows `FROM bookings` for `f` on `backend` (nothing on PostgreSQL, whose planner has
/// statistics). On SQLite, which has none (calbook runs no `ANALYZE`), the planner guesses that a
/// `status` term selects a few rows, so it reads every live booking through the
/// `(status, starts_at)` index and sorts them (208 ms at 110,000 bookings). Hence:
/// * the plain live list names the live index (`INDEXED BY`): one page from the cursor;
/// * a search through the trigram index (`fts`) over all bookings takes no index (`NOT
///   INDEXED`): the rows the search index matched are looked up by rowid, instead of every live
///   booking being read and checked against them;
/// * a search answered by a scan (two letters, or a term matching so many bookings that walking
///   the order finds a page sooner: `Store::bookings`) walks the live index like the plain list,
///   checking each row, and stops after one page;
/// * with an owner or an email, the planner's choice stands (their own indexes select few rows).
pub(super) fn index_hint(
    f: &BookingFilter,
    search: Option<&str>,
    fts: bool,
    backend: Backend,
) -> String {
    if backend != Backend::Sqlite || f.scope != Scope::All || f.attendee_email.is_some() {
        return String::new();
    }
    match search {
        Some(_) if fts => " NOT INDEXED".to_owned(),
        _ if f.status.is_none() && f.live => format!(" INDEXED BY {INDEX}"),
        _ => String::new(),
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
            sql.starts_with(" NOT INDEXED WHERE") && sql.contains("bookings_search MATCH"),
            "a search looks its matches up by rowid: {sql}"
        );
        let sql = live_list(Some("an"), Backend::Sqlite);
        assert!(
            sql.starts_with(&format!(" INDEXED BY {INDEX} WHERE")) && sql.contains("LIKE"),
            "a two-letter search (a scan) walks the live index: {sql}"
        );
        let sql = live_list(None, Backend::Postgres);
        assert!(
            !sql.contains("INDEXED BY") && sql.contains(&live_term()),
            "{sql}"
        );
    }
}
