//! SQLite's search over every booking (the dashboard's lists, the bookings export and the CLI
//! when they list all bookings): one statement that asks the search index once and then answers
//! with whichever of two plans suits the term.
//!
//! SQLite keeps no statistics here (calbook runs no `ANALYZE`), so its planner cannot tell a
//! rare term from a word in every title. The statement reads at most [`DENSE_MATCHES`] matching
//! rowids from the FTS5 trigram index of migration 0013 into a materialized CTE, then
//! * with fewer, looks exactly those rows up by rowid (`NOT INDEXED`), applies the listing's
//!   filters and sorts the few that remain (a rare term);
//! * with that many or more, walks the listing's order (the live index for the default list)
//!   and checks each row with a case-insensitive `LIKE` on the four columns, stopping after one
//!   page (a word in every title finds its page within a few thousand rows, where looking up and
//!   sorting every match took 135 ms at 110,000 bookings).
//!
//! Both plans are branches of one `UNION ALL`. Each branch's `LIMIT` is the page size or 0,
//! depending on the count of matches, and SQLite evaluates a `LIMIT` once, before the branch's
//! loop: the branch not taken reads no row. (A `WHERE` term on the count would not do: SQLite
//! checks a subquery term row by row, after looking each row up.)
//!
//! Guarantees: the rows and order of [`listing_tail`](super::query::listing_tail) with the
//! index for a term of fewer than [`DENSE_MATCHES`] matches, and of the walk for more, as when
//! the count was a statement of its own; the index is asked once per listing instead of twice.
//! The walk's `LIKE` folds ASCII letters only where the index folds Unicode letters too (an
//! `Ë` stored in capitals is found by `ë` only through the index), as before.
//!
//! The index itself is kept in few segments ([`merge_index`], run by the background upkeep):
//! FTS5 writes a small segment per transaction and merges four of a level at a time, so an
//! index filled by webhooks holds a dozen segments, and a term whose trigrams are in every
//! booking is looked up in each (a rare attendee at 110,000 bookings: 1.7 ms; 0.75 ms merged).
//! Migration 0018 has FTS5 merge two of a level (`usermerge`); each step merges at most
//! [`MERGE_PAGES`] pages, so the write lock is held a few milliseconds at a time.
//!
//! Failure modes: none of its own in a listing; a database error is the listing's error. A merge
//! step that cannot have the write lock within its wait (the ingest writer is busy) does nothing
//! and is tried again a second later.

use std::fmt::Write as _;
use std::time::Duration;

use sqlx::SqliteConnection;

use super::query::{
    Arg, BookingFilter, DENSE_MATCHES, ListingParts, Scope, fts_phrase, listing_parts, search_term,
    search_text,
};
use super::{Backend, Result};

/// `f`'s listing as one statement on SQLite (from `WITH` to the last `LIMIT`, every column of
/// `select`), with its arguments, when `f` lists every booking with a search the index can
/// answer; `None` otherwise (an owner's or one attendee's listing is narrowed by its own index
/// first, and a search under three characters is a scan:
/// [`listing_tail`](super::query::listing_tail) plans those).
pub(super) fn sqlite_listing(f: &BookingFilter, select: &str) -> Option<(String, Vec<Arg>)> {
    if f.scope != Scope::All || f.attendee_email.is_some() {
        return None;
    }
    let phrase = fts_phrase(f)?;
    let text = search_text(f)?;
    let walk_hint = super::live::index_hint(f, Some(text), false, Backend::Sqlite);
    let ListingParts {
        filters,
        order,
        mut args,
    } = listing_parts(f, Backend::Sqlite);
    args.push(Arg::Text(phrase));
    let phrase = format!("${}", args.len());
    let walk_check = search_term(&mut args, text, false, Backend::Sqlite);
    args.push(Arg::Int(i64::from(f.limit)));
    let limit = format!("${}", args.len());
    let matches = "(SELECT count(*) FROM search_matches)";
    let mut sql = format!(
        "WITH search_matches(r) AS MATERIALIZED (\
         SELECT rowid FROM bookings_search WHERE bookings_search MATCH {phrase} \
         LIMIT {DENSE_MATCHES})"
    );
    let _ = write!(
        sql,
        " SELECT * FROM ({select} NOT INDEXED{filters} AND rowid IN (SELECT r FROM search_matches) \
         ORDER BY {order} LIMIT CASE WHEN {matches} < {DENSE_MATCHES} THEN {limit} ELSE 0 END)"
    );
    let _ = write!(
        sql,
        " UNION ALL SELECT * FROM ({select}{walk_hint}{filters} AND {walk_check} \
         ORDER BY {order} LIMIT CASE WHEN {matches} >= {DENSE_MATCHES} THEN {limit} ELSE 0 END)"
    );
    // One branch is empty; the other is in order already (a sort of one page at most).
    let _ = write!(sql, " ORDER BY {order}");
    Some((sql, args))
}

/// Most pages one merge step of the search index writes (4 KiB each).
pub(super) const MERGE_PAGES: i64 = 256;

/// One step of merging the search index's segments on `conn`: FTS5 merges a level holding two
/// segments or more, writing at most [`MERGE_PAGES`] pages. It waits at most `wait` for the write
/// lock, then puts the connection's usual busy timeout (`busy`) back. `Ok(true)`: it merged (more
/// may be left); `Ok(false)`: nothing to merge, or the write lock was taken meanwhile.
pub(super) async fn merge_index(
    conn: &mut SqliteConnection,
    wait: Duration,
    busy: Duration,
) -> Result<bool> {
    super::sqlite::set_busy_timeout(conn, wait).await?;
    let merged = merge_step(conn).await;
    super::sqlite::set_busy_timeout(conn, busy).await?;
    match merged {
        Err(sqlx::Error::Database(e)) if super::sqlite::is_busy(e.as_ref()) => Ok(false),
        Err(e) => Err(e.into()),
        Ok(merged) => Ok(merged),
    }
}

/// FTS5 tells whether a `merge` did any work only through the connection's count of changed rows:
/// the command itself counts one, each page it writes more.
async fn merge_step(conn: &mut SqliteConnection) -> sqlx::Result<bool> {
    let changes = "SELECT total_changes()";
    let before: i64 = sqlx::query_scalar(changes).fetch_one(&mut *conn).await?;
    sqlx::query("INSERT INTO bookings_search (bookings_search, rank) VALUES ('merge', $1)")
        .bind(MERGE_PAGES)
        .execute(&mut *conn)
        .await?;
    let after: i64 = sqlx::query_scalar(changes).fetch_one(&mut *conn).await?;
    Ok(after - before >= 2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::live::{INDEX, live_term};
    use crate::store::query::Owner;

    fn filter(search: &str) -> BookingFilter {
        BookingFilter {
            search: Some(search.to_owned()),
            live: true,
            limit: 51,
            ..Default::default()
        }
    }

    #[test]
    fn one_statement_holds_both_plans_with_the_term_only_as_parameters() {
        let (sql, args) =
            sqlite_listing(&filter(" o'Brien \"x "), "SELECT id FROM bookings").unwrap();
        assert!(!sql.contains("rien"), "{sql}");
        assert_eq!(args[0], Arg::Text("\"o'Brien \"\"x\"".into()));
        assert_eq!(args[1], Arg::Text("%o'brien \"x%".into()));
        assert_eq!(args[2], Arg::Int(51));
        assert_eq!(sql.matches("bookings_search MATCH $1").count(), 1, "{sql}");
        let (index, walk) = sql.split_once(" UNION ALL ").unwrap();
        assert!(
            index.contains("NOT INDEXED")
                && index.contains("rowid IN (SELECT r FROM search_matches)"),
            "{index}"
        );
        assert!(
            walk.contains(&format!("INDEXED BY {INDEX}")) && walk.contains("LIKE $2"),
            "the walk of a live list takes the live index: {walk}"
        );
        for branch in [index, walk] {
            assert!(branch.contains(&live_term()), "{branch}");
            assert!(branch.contains("THEN $3 ELSE 0 END"), "{branch}");
        }
    }

    #[test]
    fn only_a_search_over_every_booking_through_the_index_is_planned_here() {
        let select = "SELECT id FROM bookings";
        assert!(sqlite_listing(&filter("ab"), select).is_none(), "too short");
        assert!(sqlite_listing(&filter("  "), select).is_none());
        let mut owner = filter("pricing");
        owner.scope = Scope::Owner(Owner {
            client_id: uuid::Uuid::nil(),
            email: None,
        });
        assert!(sqlite_listing(&owner, select).is_none());
        let mut attendee = filter("pricing");
        attendee.attendee_email = Some("a@b.c".into());
        assert!(sqlite_listing(&attendee, select).is_none());
        let mut all = filter("pricing");
        all.live = false;
        let (sql, _) = sqlite_listing(&all, select).unwrap();
        assert!(!sql.contains("INDEXED BY"), "{sql}");
    }

    /// Three transactions leave three segments on FTS5's first level; merge steps make them one,
    /// the index still holds exactly the bookings' text, and the search finds every booking.
    #[tokio::test]
    async fn merge_steps_leave_one_segment_where_three_transactions_left_three() {
        use crate::booking::{Booking, BookingDetails, Status};
        use crate::store::{Store, StoreOptions};
        let dir = tempfile::tempdir().unwrap();
        let url = Store::default_url(dir.path());
        let store = Store::open(&url, &StoreOptions::default()).await.unwrap();
        let now = "2026-03-01T00:00:00Z".parse().unwrap();
        for (i, uid) in ["MergeUid1", "MergeUid2", "MergeUid3"].iter().enumerate() {
            let start = format!("2026-03-1{i}T14:00:00Z");
            let mut details = BookingDetails::example(uid, &start);
            details.notes = Some(format!("Merge note {i}"));
            let b = Booking::from_details(&details, Status::Confirmed, now);
            let mut tx = store.begin().await.unwrap();
            tx.insert_bookings(&[b]).await.unwrap();
            tx.commit().await.unwrap();
        }
        let db = sqlx::SqlitePool::connect(&url).await.unwrap();
        // FTS5 numbers a segment's pages `segid << 37 | page`; ids below that are its own records.
        let segments = async || -> i64 {
            sqlx::query_scalar(
                "SELECT count(DISTINCT id >> 37) FROM bookings_search_data WHERE id >> 37 > 0",
            )
            .fetch_one(&db)
            .await
            .unwrap()
        };
        assert_eq!(segments().await, 3);
        let mut steps = 0;
        while store.merge_search_index().await.unwrap() {
            steps += 1;
            assert!(steps < 10, "merging ends");
        }
        assert!(steps >= 1);
        assert_eq!(segments().await, 1);
        assert!(!store.merge_search_index().await.unwrap(), "nothing left");
        sqlx::query("INSERT INTO bookings_search (bookings_search) VALUES ('integrity-check')")
            .execute(&db)
            .await
            .expect("the merged index holds exactly the bookings' text");
        let found = store
            .bookings(&BookingFilter {
                search: Some("merge NOTE".into()),
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(found.len(), 3);
    }
}
