//! SQLite backend. One writer at a time (`BEGIN IMMEDIATE`), WAL journal, explicit
//! `synchronous`, `busy_timeout` and `foreign_keys` on every connection.
//!
//! Only what is SQLite's own lives here: connecting, the writer's tuning, checkpoints, and lists
//! of uids or digests passed as one JSON array (`json_each`). Every other statement is shared
//! (`common`), and values are encoded in `value`.

use std::collections::HashSet;
use std::path::Path;
use std::str::FromStr;

use sqlx::query_builder::Separated;
use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Sqlite, SqliteConnection, SqlitePool};

use super::common::{self, Db, decode_bookings};
use super::query::{BookingFilter, DENSE_MATCHES, Scope, fts_phrase};
use super::rows::BOOKING_SQL;
use super::value::Value;
use super::{Backend, Result, StoreError, StoreOptions, search};
use crate::booking::Booking;

type Query<'q> = sqlx::query::Query<'q, Sqlite, SqliteArguments>;

impl Db for Sqlite {
    const BACKEND: Backend = Backend::Sqlite;

    fn bind<'q>(q: Query<'q>, v: Value<'_>) -> Query<'q> {
        q.bind(v)
    }

    fn push_bind(row: &mut Separated<'_, Sqlite, &'static str>, v: Value<'_>) {
        row.push_bind(v);
    }

    async fn execute(conn: &mut SqliteConnection, q: Query<'_>) -> Result<u64> {
        Ok(q.execute(conn).await?.rows_affected())
    }
}

/// Connects to the file `url` names. `create`: make the file if it is missing (its directory must
/// exist: calbook creates only its data directory, never folders a mistyped URL names).
pub(super) async fn connect(url: &str, o: &StoreOptions, create: bool) -> Result<SqlitePool> {
    let options = SqliteConnectOptions::from_str(url)
        .map_err(|e| StoreError::Config(format!("DATABASE_URL: {e}")))?;
    let file = options.get_filename();
    if file.as_os_str().is_empty() {
        return Err(StoreError::Config(
            "DATABASE_URL names no file (sqlite:// needs a path, e.g. \
             sqlite:///var/lib/calbook/calbook.db); unset it to use <data dir>/calbook.db"
                .to_owned(),
        ));
    }
    if file != Path::new(":memory:") {
        if !create && !file.exists() {
            let shown = std::path::absolute(file).unwrap_or_else(|_| file.to_path_buf());
            return Err(StoreError::Config(format!(
                "no database at {}: `calbook serve` (or `calbook migrate`) creates it. If calbook \
                 serves from another data directory, point CALBOOK_DATA_DIR (or --data-dir, or \
                 DATABASE_URL) at it; relative paths start in the working directory",
                shown.display()
            )));
        }
        if let Some(dir) = file.parent()
            && !dir.as_os_str().is_empty()
            && !dir.is_dir()
        {
            return Err(StoreError::Config(format!(
                "the directory {} of DATABASE_URL's file does not exist; create it, or fix \
                 DATABASE_URL (or unset it to use <data dir>/calbook.db)",
                dir.display()
            )));
        }
    }
    let options = options
        .create_if_missing(create)
        .journal_mode(SqliteJournalMode::Wal)
        // Commits write the WAL without waiting for the disk; durability for `full` comes from
        // `Store::durability_barrier`, which fsyncs the WAL outside the write lock.
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(o.sqlite_busy_timeout)
        .foreign_keys(true)
        // Checkpoints run in the background (see `checkpoint`), not inside a webhook's commit;
        // only the ingest writer's connection ends a commit with one (`tune_writer`).
        .pragma("wal_autocheckpoint", "0")
        // After a checkpoint resets the log, the file is cut back to this size (-1: never,
        // when calbook leaves the WAL to Litestream).
        .pragma(
            "journal_size_limit",
            o.sqlite_wal_truncate_bytes
                .map_or("-1".to_owned(), |b| b.saturating_mul(4).to_string()),
        );
    let options = match o.sqlite_max_page_count {
        Some(pages) => options.pragma("max_page_count", pages.to_string()),
        None => options,
    };
    Ok(SqlitePoolOptions::new()
        .max_connections(4)
        .acquire_timeout(o.acquire_timeout)
        .after_release(super::heal::sqlite_after_release)
        .connect_with(options)
        .await?)
}

/// Prepares the ingest writer's connection: 16 MiB of page cache (SQLite's default is 2 MiB),
/// so the index pages every insert touches stay in memory; and, when the WAL is bounded
/// (`wal_bytes`), SQLite's own checkpoint after a commit that leaves that much log, on this
/// connection only. That checkpoint is PASSIVE: it never waits, copies what the background
/// checkpoint has not copied yet (little: see `Store::start_upkeep`), and lets the next commit
/// write the log again from its start, in place, so the file is neither cut nor regrown.
pub(super) async fn tune_writer(conn: &mut SqliteConnection, wal_bytes: Option<u64>) -> Result<()> {
    sqlx::query("PRAGMA cache_size = -16384")
        .execute(&mut *conn)
        .await?;
    if let Some(bytes) = wal_bytes {
        let page: i64 = sqlx::query_scalar("PRAGMA page_size")
            .fetch_one(&mut *conn)
            .await?;
        let pages = (bytes / page.max(512) as u64).max(1);
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "PRAGMA wal_autocheckpoint = {pages}"
        )))
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Copies every committed WAL page into the database file and empties the WAL (a TRUNCATE
/// checkpoint) on `conn`, outside any transaction. It waits at most `wait` for the write lock and
/// for readers still on older snapshots (SQLite's busy handler), then puts the connection's
/// usual busy timeout (`busy`) back. `Ok(false)`: it could not finish within `wait` (a reader,
/// another writer or another checkpoint was in the way); what could be copied was copied.
pub(super) async fn truncate_wal(
    conn: &mut SqliteConnection,
    wait: std::time::Duration,
    busy: std::time::Duration,
) -> Result<bool> {
    set_busy_timeout(conn, wait).await?;
    let done = sqlx::query_as::<_, (i64, i64, i64)>("PRAGMA wal_checkpoint(TRUNCATE)")
        .fetch_one(&mut *conn)
        .await;
    set_busy_timeout(conn, busy).await?;
    let (busy, _, _) = done?;
    Ok(busy == 0)
}

/// Sets the connection's busy timeout (how long a statement waits for a lock).
pub(super) async fn set_busy_timeout(
    conn: &mut SqliteConnection,
    t: std::time::Duration,
) -> Result<()> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "PRAGMA busy_timeout = {}",
        t.as_millis()
    )))
    .execute(conn)
    .await?;
    Ok(())
}

/// Whether `e` is SQLite's BUSY or LOCKED (another connection holds the lock), extended codes
/// included.
pub(super) fn is_busy(e: &dyn sqlx::error::DatabaseError) -> bool {
    e.code()
        .and_then(|c| c.parse::<u32>().ok())
        .is_some_and(|c| matches!(c & 0xff, 5 | 6))
}

/// Copies committed WAL pages into the database file (a PASSIVE checkpoint: it never blocks the
/// writer). Run periodically by the server, so commits do not pay for checkpoints.
pub(super) async fn checkpoint(p: &SqlitePool) -> Result<()> {
    sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
        .execute(p)
        .await?;
    Ok(())
}

pub(super) async fn applied_migrations(p: &SqlitePool) -> Result<i64> {
    let n = sqlx::query_scalar::<_, i64>("SELECT count(*) FROM _sqlx_migrations WHERE success")
        .fetch_one(p)
        .await;
    match n {
        Ok(n) => Ok(n),
        Err(sqlx::Error::Database(e)) if e.message().contains("no such table") => Ok(0),
        Err(e) => Err(e.into()),
    }
}

fn json_list(items: &[&str]) -> String {
    serde_json::to_string(items).expect("a list of strings serializes")
}

pub(super) async fn seen_bodies(
    tx: &mut SqliteConnection,
    digests: &[&str],
) -> Result<HashSet<String>> {
    let rows = sqlx::query_scalar::<_, String>(
        "SELECT body_sha256 FROM webhook_deliveries \
         WHERE body_sha256 IN (SELECT value FROM json_each($1)) \
           AND outcome IN ('applied', 'ignored')",
    )
    .bind(json_list(digests))
    .fetch_all(tx)
    .await?;
    Ok(rows.into_iter().collect())
}

pub(super) async fn lock_bookings(
    tx: &mut SqliteConnection,
    uids: &[&str],
) -> Result<Vec<Booking>> {
    // The IMMEDIATE transaction already holds the database's write lock.
    let sql = format!(
        "{} WHERE external_id IN (SELECT value FROM json_each($1))",
        BOOKING_SQL.select
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(json_list(uids))
        .fetch_all(tx)
        .await?;
    decode_bookings(&rows)
}

/// The bookings with these series keys (the occurrences of the series being written).
pub(super) async fn lock_series(tx: &mut SqliteConnection, keys: &[&str]) -> Result<Vec<Booking>> {
    let sql = format!(
        "{} WHERE series_key IN (SELECT value FROM json_each($1))",
        BOOKING_SQL.select
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(json_list(keys))
        .fetch_all(tx)
        .await?;
    decode_bookings(&rows)
}

/// One query for many uids: they travel as one JSON array parameter.
pub(super) async fn bookings_with_uids(p: &SqlitePool, uids: &[&str]) -> Result<Vec<Booking>> {
    let sql = format!(
        "{} WHERE external_id IN (SELECT value FROM json_each($1))",
        BOOKING_SQL.select
    );
    let list = serde_json::to_string(uids).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(list)
        .fetch_all(p)
        .await?;
    decode_bookings(&rows)
}

/// One page of bookings: a search over every booking in the one statement of
/// [`search::sqlite_listing`], anything else as on PostgreSQL.
pub(super) async fn bookings(p: &SqlitePool, f: &BookingFilter) -> Result<Vec<Booking>> {
    match search::sqlite_listing(f, &BOOKING_SQL.select) {
        Some((sql, args)) => common::listing(p, sql, &args, true).await,
        None => common::bookings(p, f).await,
    }
}

/// Whether `f`'s search matches at least [`DENSE_MATCHES`] bookings (counted through the search
/// index, stopping there), so that [`bookings`] walks the list's order instead of looking the
/// matches up (see [`search::sqlite_listing`]). Only for listings of every booking with no email
/// filter: an owner's or an attendee's listing is narrowed by its own index first.
pub(super) async fn search_is_dense(p: &SqlitePool, f: &BookingFilter) -> Result<bool> {
    if f.scope != Scope::All || f.attendee_email.is_some() {
        return Ok(false);
    }
    let Some(phrase) = fts_phrase(f) else {
        return Ok(false);
    };
    let matches: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT rowid FROM bookings_search \
          WHERE bookings_search MATCH ?1 LIMIT ?2)",
    )
    .bind(phrase)
    .bind(DENSE_MATCHES)
    .persistent(false)
    .fetch_one(p)
    .await?;
    Ok(matches >= DENSE_MATCHES)
}
