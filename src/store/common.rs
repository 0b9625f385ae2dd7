//! The statements that are the same SQL on both backends, written once over sqlx's `Database`.
//!
//! Each function takes an executor of either backend (a pool for reads, a transaction's
//! connection for writes), binds [`Value`]s, and decodes with the codec in `rows`. What differs
//! per backend (connecting, row locks, a list of uids as one parameter) stays in `sqlite` and
//! `postgres`; what a backend must provide here is the small [`Db`] trait.
//!
//! Guarantees: an insert either writes every row of `list` or fails with
//! [`StoreError::Conflict`] (a conflict clause skipped a row another writer stored first; the
//! caller's transaction is then rolled back); listings have a total order, the same on both
//! backends.

use std::future::Future;

use sqlx::query::Query;
use sqlx::query_builder::Separated;
use sqlx::{AssertSqlSafe, Database, Executor, IntoArguments};
use uuid::Uuid;

use super::query::{Arg, listing_tail};
use super::rows::{
    self, BOOKING_INSERT_TAIL, BOOKING_SQL, BOOKING_UPDATE_TAIL, BOOKINGS, DELIVERIES,
    DELIVERIES_NEWEST_FIRST, DELIVERIES_OLDEST_FIRST, DELIVERY_INSERT_TAIL, DELIVERY_SQL, HISTORY,
    HISTORY_SQL, Statements, Table, row_chunks,
};
use super::value::{ReadRow, Value};
use super::{Backend, BookingFilter, Delivery, Outcome, Result, StoreError};
use crate::booking::{Booking, HistoryEntry};

type Q<'q, DB> = Query<'q, DB, <DB as Database>::Arguments>;

/// What a backend provides to the shared statements: binding a [`Value`], and executing on a
/// connection (sqlx has no common trait for the number of rows a statement affected).
pub(super) trait Db: Database<Row: ReadRow, Arguments: IntoArguments<Self>> {
    const BACKEND: Backend;
    fn bind<'q>(q: Q<'q, Self>, v: Value<'_>) -> Q<'q, Self>;
    fn push_bind(row: &mut Separated<'_, Self, &'static str>, v: Value<'_>);
    /// Executes `q` on `conn` and returns the number of rows it affected.
    fn execute(
        conn: &mut Self::Connection,
        q: Q<'_, Self>,
    ) -> impl Future<Output = Result<u64>> + Send;
}

/// One multi-row `INSERT` of `chunk` (every column, bound in column order), then `tail`.
fn insert_chunk<DB: Db, T>(
    table: &Table<T>,
    sql: &Statements,
    chunk: &[T],
    tail: &str,
) -> sqlx::QueryBuilder<DB> {
    let mut q = sqlx::QueryBuilder::<DB>::new(sql.insert.as_str());
    q.push_values(chunk, |mut row, item| {
        for c in table.columns {
            DB::push_bind(&mut row, (c.encode)(item));
        }
    });
    q.push(tail);
    q
}

/// Inserts `list` in chunks; [`StoreError::Conflict`] if `tail`'s conflict clause skipped a row.
pub(super) async fn insert<DB: Db, T: Sync>(
    conn: &mut DB::Connection,
    table: &Table<T>,
    sql: &Statements,
    list: &[T],
    tail: &str,
) -> Result<()> {
    for chunk in row_chunks(list) {
        let mut q = insert_chunk::<DB, T>(table, sql, chunk, tail);
        if DB::execute(conn, q.build()).await? != chunk.len() as u64 {
            return Err(StoreError::Conflict);
        }
    }
    Ok(())
}

/// Inserts bookings; [`StoreError::Conflict`] if any uid exists.
pub(super) async fn insert_bookings<DB: Db>(
    conn: &mut DB::Connection,
    list: &[Booking],
) -> Result<()> {
    insert::<DB, _>(conn, &BOOKINGS, &BOOKING_SQL, list, BOOKING_INSERT_TAIL).await
}

/// Writes the new state of bookings already stored (read and locked in this transaction): the
/// same statement as [`insert_bookings`], with an update of every data column on conflict.
pub(super) async fn update_bookings<DB: Db>(
    conn: &mut DB::Connection,
    list: &[Booking],
) -> Result<()> {
    insert::<DB, _>(conn, &BOOKINGS, &BOOKING_SQL, list, &BOOKING_UPDATE_TAIL).await
}

pub(super) async fn insert_history<DB: Db>(
    conn: &mut DB::Connection,
    list: &[HistoryEntry],
) -> Result<()> {
    insert::<DB, _>(conn, &HISTORY, &HISTORY_SQL, list, "").await
}

/// Records deliveries; [`StoreError::Conflict`] if an applied/ignored one has the same body.
pub(super) async fn insert_deliveries<DB: Db>(
    conn: &mut DB::Connection,
    list: &[Delivery],
) -> Result<()> {
    insert::<DB, _>(conn, &DELIVERIES, &DELIVERY_SQL, list, DELIVERY_INSERT_TAIL).await
}

/// `sql` with `args` bound in order.
fn query<'q, DB: Db>(sql: String, args: &[Value<'_>]) -> Q<'q, DB> {
    args.iter()
        .fold(sqlx::query(AssertSqlSafe(sql)), |q, &a| DB::bind(q, a))
}

pub(super) async fn fetch_all<'e, DB: Db, T>(
    e: impl Executor<'e, Database = DB>,
    sql: String,
    args: &[Value<'_>],
    decode: fn(&DB::Row) -> Result<T>,
) -> Result<Vec<T>> {
    let rows = query::<DB>(sql, args).fetch_all(e).await?;
    rows.iter().map(decode).collect()
}

pub(super) async fn fetch_optional<'e, DB: Db, T>(
    e: impl Executor<'e, Database = DB>,
    sql: String,
    args: &[Value<'_>],
    decode: fn(&DB::Row) -> Result<T>,
) -> Result<Option<T>> {
    let row = query::<DB>(sql, args).fetch_optional(e).await?;
    row.as_ref().map(decode).transpose()
}

/// One page of bookings (see [`BookingFilter`]), planned by [`listing_tail`].
pub(super) async fn bookings<'e, DB: Db + sqlx::database::HasStatementCache>(
    e: impl Executor<'e, Database = DB>,
    f: &BookingFilter,
) -> Result<Vec<Booking>> {
    let (tail, args) = listing_tail(f, DB::BACKEND);
    let searching = f.search.as_deref().is_some_and(|t| !t.trim().is_empty());
    listing(e, format!("{}{tail}", BOOKING_SQL.select), &args, searching).await
}

/// The bookings a listing statement (`sql`, every column of [`BOOKING_SQL`]) selects.
/// `searching`: it has a search term, which PostgreSQL plans with the pattern each time, never
/// from a cached statement: after five runs it may switch a prepared statement to a generic plan,
/// which cannot see that a term is selective and walks every live booking in start order,
/// folding each one's text (338 ms at 110,000 bookings instead of a few through the trigram
/// index). SQLite has no statistics to plan with here (and the search's statements name their
/// indexes), so its cached plan is the one it would make again: it keeps every listing prepared,
/// as preparing the search's statement costs about a fifth of running it for a rare term.
pub(super) async fn listing<'e, DB: Db + sqlx::database::HasStatementCache>(
    e: impl Executor<'e, Database = DB>,
    sql: String,
    args: &[Arg],
    searching: bool,
) -> Result<Vec<Booking>> {
    let args: Vec<Value<'_>> = args.iter().map(|a| a.value()).collect();
    let rows = query::<DB>(sql, &args)
        .persistent(DB::BACKEND == Backend::Sqlite || !searching)
        .fetch_all(e)
        .await?;
    rows.iter().map(rows::booking).collect()
}

pub(super) async fn booking<'e, DB: Db>(
    e: impl Executor<'e, Database = DB>,
    uid: &str,
) -> Result<Option<Booking>> {
    let sql = format!("{} WHERE external_id = $1", BOOKING_SQL.select);
    fetch_optional(e, sql, &[Value::text(uid)], rows::booking).await
}

/// The occurrences of a series, earliest first.
pub(super) async fn series<'e, DB: Db>(
    e: impl Executor<'e, Database = DB>,
    series_id: &str,
) -> Result<Vec<Booking>> {
    let sql = format!(
        "{} WHERE series_id = $1 ORDER BY starts_at, external_id",
        BOOKING_SQL.select
    );
    fetch_all(e, sql, &[Value::text(series_id)], rows::booking).await
}

pub(super) async fn booking_by_id<'e, DB: Db>(
    e: impl Executor<'e, Database = DB>,
    id: Uuid,
) -> Result<Option<Booking>> {
    let sql = format!("{} WHERE id = $1", BOOKING_SQL.select);
    fetch_optional(e, sql, &[Value::Uuid(Some(id))], rows::booking).await
}

/// The audit history of a booking, oldest first.
pub(super) async fn history<'e, DB: Db>(
    e: impl Executor<'e, Database = DB>,
    booking_id: Uuid,
) -> Result<Vec<HistoryEntry>> {
    let sql = format!(
        "{} WHERE booking_id = $1 ORDER BY created_at, id",
        HISTORY_SQL.select
    );
    let args = [Value::Uuid(Some(booking_id))];
    fetch_all(e, sql, &args, rows::history).await
}

/// The most recent deliveries with `outcome` (all when `None`), newest first, without bodies.
pub(super) async fn deliveries<'e, DB: Db>(
    e: impl Executor<'e, Database = DB>,
    outcome: Option<Outcome>,
    limit: u32,
) -> Result<Vec<Delivery>> {
    let limit = Value::Int(Some(i64::from(limit)));
    let select = &DELIVERY_SQL.select;
    let (sql, args) = match outcome {
        Some(o) => (
            format!("{select} WHERE outcome = $1{DELIVERIES_NEWEST_FIRST} LIMIT $2"),
            vec![Value::text(o.as_str()), limit],
        ),
        None => (
            format!("{select}{DELIVERIES_NEWEST_FIRST} LIMIT $1"),
            vec![limit],
        ),
    };
    fetch_all(e, sql, &args, rows::delivery).await
}

/// The deliveries that changed a booking (those its history entries name), oldest first.
pub(super) async fn deliveries_of_booking<'e, DB: Db>(
    e: impl Executor<'e, Database = DB>,
    booking_id: Uuid,
) -> Result<Vec<Delivery>> {
    let sql = format!(
        "{} WHERE id IN (SELECT delivery_id FROM booking_history WHERE booking_id = $1)\
         {DELIVERIES_OLDEST_FIRST}",
        DELIVERY_SQL.select
    );
    let args = [Value::Uuid(Some(booking_id))];
    fetch_all(e, sql, &args, rows::delivery).await
}

/// Executes one statement on a connection; returns the number of rows it affected.
pub(super) async fn execute<DB: Db>(
    conn: &mut DB::Connection,
    sql: &'static str,
    args: &[Value<'_>],
) -> Result<u64> {
    DB::execute(conn, query::<DB>(sql.to_owned(), args)).await
}

/// The single integer a `SELECT count(*) AS n …` answers.
pub(super) async fn count<'e, DB: Db>(
    e: impl Executor<'e, Database = DB>,
    sql: &'static str,
    args: &[Value<'_>],
) -> Result<i64> {
    let row = query::<DB>(sql.to_owned(), args).fetch_one(e).await?;
    row.int("n")
}

/// Decodes bookings read by a backend's own statement (the row locks, the uid lists).
pub(super) fn decode_bookings<R: ReadRow>(rows: &[R]) -> Result<Vec<Booking>> {
    rows.iter().map(rows::booking).collect()
}
