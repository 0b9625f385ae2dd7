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
//! Failure modes: none of its own; a database error is the listing's error.

use std::fmt::Write as _;

use super::Backend;
use super::query::{
    Arg, BookingFilter, DENSE_MATCHES, ListingParts, Scope, fts_phrase, listing_parts, search_term,
    search_text,
};

/// `f`'s listing as one statement on SQLite (from `WITH` to the last `LIMIT`, every column of
/// `select`), with its arguments, when `f` lists every booking with a search the index can
/// answer; `None` otherwise (an owner's or one attendee's listing is narrowed by its own index
/// first, and a search under three characters is a scan: [`listing_tail`](super::query::listing_tail)
/// plans those).
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
}
