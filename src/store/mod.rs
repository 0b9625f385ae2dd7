//! The booking store: bookings, their audit history and every signed webhook delivery.
//!
//! One API over two backends chosen at run time from `DATABASE_URL`:
//! - **SQLite** (default, embedded): WAL journal, `synchronous=NORMAL` plus calbook's own WAL
//!   fsync before acknowledging ([`Store::durability_barrier`]), foreign keys on, a busy timeout,
//!   background checkpoints, and one writer (`BEGIN IMMEDIATE`), so two writers never interleave.
//! - **PostgreSQL / Supabase**: the rows an event touches are locked (`FOR UPDATE`); inserts that
//!   lose a race to another instance surface as [`StoreError::Conflict`] so the caller retries.
//!
//! Writes happen only inside a [`Tx`]; nothing is visible until [`Tx::commit`] returns, and a
//! dropped `Tx` rolls back. Migrations (same numbering for both backends) run on open.
//!
//! Failure modes: an unreachable or locked database is [`StoreError::Unavailable`] (the webhook
//! answers 503 and the sender may retry); anything else is [`StoreError::Database`].
//!
//! Layout: `error` (how database failures map to what callers do), `delivery` and `options`
//! (types), `rows` and `value` (the row codec: each table's columns declared once, and the few
//! per-backend value encodings), `common` (statements with the same SQL on both backends),
//! `sqlite` and `postgres` (what is each backend's own), `upkeep` (SQLite's fsync barrier and
//! checkpoints), `query` (listings), `live` (the live list's partial index), `search` (SQLite's
//! search over every booking, in one statement), `sessions`, `outbox`, `sync` (the Cal.com
//! sync's watermark, lease and last pass), `stored` (one delivery with its body). This file
//! dispatches to a backend.

mod common;
mod delivery;
mod error;
pub mod export;
mod heal;
mod live;
mod options;
mod outbox;
mod postgres;
mod probe;
mod query;
mod rows;
mod search;
mod sessions;
mod sqlite;
mod stats;
mod stored;
mod sync;
mod upkeep;
mod value;

pub use delivery::{Delivery, Outcome, UnknownOutcome};
pub use error::{Result, StoreError};
pub use options::{SqliteSync, StoreOptions};
pub use outbox::OutboxStats;
pub use query::{
    BookingFilter, ChainEntry, Cursor, InvalidCursor, MAX_CHAIN_HOPS, Owner, Scope, SortOrder,
};
pub(crate) use rows::row_chunks;
pub use stats::{BookingAction, PeriodCounts};
pub use sync::{SyncRecord, SyncState};
pub use upkeep::WalBound;

use std::collections::HashSet;
use std::path::Path;

use serde::Serialize;
use sqlx::{PgPool, Postgres, Sqlite, SqlitePool};
use uuid::Uuid;

use crate::booking::{Booking, HistoryEntry};
use value::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A connection pool to one of the two backends.
#[derive(Debug, Clone)]
pub enum Store {
    Sqlite(SqliteStore),
    Postgres(PgPool),
}

/// The SQLite pool, with what the durability barrier needs.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pub pool: SqlitePool,
    pub(super) sync: SqliteSync,
    pub(super) wal_path: std::path::PathBuf,
    /// See [`StoreOptions::sqlite_wal_truncate_bytes`].
    pub(super) wal_truncate_bytes: Option<u64>,
    /// The connections' busy timeout (put back after a checkpoint that waits less).
    pub(super) busy_timeout: std::time::Duration,
}

impl Store {
    /// Opens `url` (`sqlite://PATH` or `postgres://…`) and applies pending migrations.
    pub async fn open(url: &str, options: &StoreOptions) -> Result<Store> {
        let store = Store::connect(url, options).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Opens an existing database (`url`) and applies pending migrations; a missing SQLite file is
    /// an error that says where calbook looked, never a new empty database. For the CLI commands
    /// that read or change what `serve` stored.
    pub async fn open_existing(url: &str, options: &StoreOptions) -> Result<Store> {
        let store = Store::connect_with(url, options, false).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Opens `url` without migrating.
    pub async fn connect(url: &str, options: &StoreOptions) -> Result<Store> {
        Store::connect_with(url, options, true).await
    }

    /// Where `url` points, for the log: the SQLite file's absolute path, or PostgreSQL's
    /// `host:port/database` (never the user's password).
    pub fn describe_url(url: &str) -> String {
        if let Some(rest) = url.strip_prefix("sqlite:") {
            let path = rest.trim_start_matches("//");
            let path = path.split('?').next().unwrap_or(path);
            let path = Path::new(path);
            return std::path::absolute(path)
                .unwrap_or_else(|_| path.to_path_buf())
                .display()
                .to_string();
        }
        match url::Url::parse(url) {
            Ok(u) => format!(
                "{}:{}{}",
                u.host_str().unwrap_or("localhost"),
                u.port().unwrap_or(5432),
                u.path()
            ),
            Err(_) => "(an unreadable DATABASE_URL)".to_owned(),
        }
    }

    async fn connect_with(url: &str, options: &StoreOptions, create: bool) -> Result<Store> {
        if url.starts_with("sqlite:") {
            let pool = sqlite::connect(url, options, create).await?;
            let mut wal_path = pool.connect_options().get_filename().as_os_str().to_owned();
            wal_path.push("-wal");
            Ok(Store::Sqlite(SqliteStore {
                pool,
                sync: options.sqlite_synchronous,
                wal_path: wal_path.into(),
                wal_truncate_bytes: options.sqlite_wal_truncate_bytes,
                busy_timeout: options.sqlite_busy_timeout,
            }))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Store::Postgres(postgres::connect(url, options).await?))
        } else {
            Err(StoreError::Config(
                "DATABASE_URL must start with sqlite:// or postgres://".to_owned(),
            ))
        }
    }

    /// The default database: a SQLite file in the data directory.
    pub fn default_url(data_dir: &Path) -> String {
        format!("sqlite://{}", data_dir.join("calbook.db").display())
    }

    /// The SQLite database file, when this is SQLite.
    pub fn sqlite_file(&self) -> Option<std::path::PathBuf> {
        match self {
            Store::Sqlite(s) => Some(s.pool.connect_options().get_filename().to_path_buf()),
            Store::Postgres(_) => None,
        }
    }

    pub fn backend(&self) -> Backend {
        match self {
            Store::Sqlite(_) => Backend::Sqlite,
            Store::Postgres(_) => Backend::Postgres,
        }
    }

    pub async fn migrate(&self) -> Result<()> {
        match self {
            Store::Sqlite(s) => sqlx::migrate!("migrations/sqlite").run(&s.pool).await?,
            Store::Postgres(p) => sqlx::migrate!("migrations/postgres").run(p).await?,
        }
        Ok(())
    }

    /// Ok when the database answers and every migration this build knows is applied.
    pub async fn ready(&self) -> Result<()> {
        let (applied, known) = match self {
            Store::Sqlite(s) => (
                sqlite::applied_migrations(&s.pool).await?,
                sqlx::migrate!("migrations/sqlite").iter().count(),
            ),
            Store::Postgres(p) => (
                postgres::applied_migrations(p).await?,
                sqlx::migrate!("migrations/postgres").iter().count(),
            ),
        };
        if (applied as usize) < known {
            return Err(StoreError::Config(format!(
                "{applied} of {known} migrations applied; run `calbook migrate`"
            )));
        }
        Ok(())
    }

    /// Starts a write transaction on a pooled connection (on SQLite it takes the write lock at
    /// once). Any failure to get a connection or to begin is [`StoreError::Unavailable`].
    pub async fn begin(&self) -> Result<Tx<'static>> {
        let tx = match self {
            Store::Sqlite(s) => s.pool.begin_with("BEGIN IMMEDIATE").await.map(Tx::Sqlite),
            Store::Postgres(p) => p.begin().await.map(Tx::Postgres),
        };
        tx.map_err(StoreError::Unavailable)
    }

    /// A connection kept by one writer across many transactions: no pool round trip per
    /// transaction, and its prepared statements stay warm. Drop it after an error.
    pub async fn writer(&self) -> Result<WriterConnection> {
        match self {
            Store::Sqlite(s) => {
                let mut conn = s.pool.acquire().await.map_err(StoreError::Unavailable)?;
                sqlite::tune_writer(&mut conn, s.wal_truncate_bytes).await?;
                Ok(WriterConnection::Sqlite(conn))
            }
            Store::Postgres(p) => p
                .acquire()
                .await
                .map(WriterConnection::Postgres)
                .map_err(StoreError::Unavailable),
        }
    }

    /// One page of bookings (see [`BookingFilter`]).
    pub async fn bookings(&self, filter: &BookingFilter) -> Result<Vec<Booking>> {
        match self {
            Store::Sqlite(s) => sqlite::bookings(&s.pool, filter).await,
            Store::Postgres(p) => common::bookings(p, filter).await,
        }
    }

    /// Whether [`Store::bookings`] answers `filter`'s search by walking the list's order and
    /// checking each row, rather than through the search index: on SQLite, for a listing of
    /// every booking whose term matches at least 2,000 of them (a word in every title). Always
    /// `false` on PostgreSQL, which plans each search with its pattern and its statistics.
    pub async fn search_walks_the_order(&self, filter: &BookingFilter) -> Result<bool> {
        match self {
            Store::Sqlite(s) => sqlite::search_is_dense(&s.pool, filter).await,
            Store::Postgres(_) => Ok(false),
        }
    }

    pub async fn booking(&self, uid: &str) -> Result<Option<Booking>> {
        match self {
            Store::Sqlite(s) => common::booking(&s.pool, uid).await,
            Store::Postgres(p) => common::booking(p, uid).await,
        }
    }

    /// The stored bookings among `uids` (in no particular order; unknown uids are left out).
    pub async fn bookings_with_uids(&self, uids: &[&str]) -> Result<Vec<Booking>> {
        if uids.is_empty() {
            return Ok(Vec::new());
        }
        match self {
            Store::Sqlite(s) => sqlite::bookings_with_uids(&s.pool, uids).await,
            Store::Postgres(p) => postgres::bookings_with_uids(p, uids).await,
        }
    }

    /// The occurrences of a recurring series, earliest first.
    pub async fn series(&self, series_id: &str) -> Result<Vec<Booking>> {
        match self {
            Store::Sqlite(s) => common::series(&s.pool, series_id).await,
            Store::Postgres(p) => common::series(p, series_id).await,
        }
    }

    /// A booking by calbook's id.
    pub async fn booking_by_id(&self, id: Uuid) -> Result<Option<Booking>> {
        match self {
            Store::Sqlite(s) => common::booking_by_id(&s.pool, id).await,
            Store::Postgres(p) => common::booking_by_id(p, id).await,
        }
    }

    /// The audit history of a booking, oldest first.
    pub async fn history(&self, booking_id: Uuid) -> Result<Vec<HistoryEntry>> {
        match self {
            Store::Sqlite(s) => common::history(&s.pool, booking_id).await,
            Store::Postgres(p) => common::history(p, booking_id).await,
        }
    }

    /// The most recent deliveries, newest first, without their bodies.
    pub async fn deliveries(&self, limit: u32) -> Result<Vec<Delivery>> {
        self.deliveries_with_outcome(None, limit).await
    }

    /// The most recent deliveries with `outcome` (all when `None`), newest first, without bodies.
    pub async fn deliveries_with_outcome(
        &self,
        outcome: Option<Outcome>,
        limit: u32,
    ) -> Result<Vec<Delivery>> {
        match self {
            Store::Sqlite(s) => common::deliveries(&s.pool, outcome, limit).await,
            Store::Postgres(p) => common::deliveries(p, outcome, limit).await,
        }
    }

    /// The deliveries that changed a booking (those its history entries name), oldest first.
    pub async fn deliveries_of_booking(&self, booking_id: Uuid) -> Result<Vec<Delivery>> {
        match self {
            Store::Sqlite(s) => common::deliveries_of_booking(&s.pool, booking_id).await,
            Store::Postgres(p) => common::deliveries_of_booking(p, booking_id).await,
        }
    }

    pub async fn close(&self) {
        match self {
            Store::Sqlite(s) => s.pool.close().await,
            Store::Postgres(p) => p.close().await,
        }
    }
}

/// A connection held by an ingest writer (see [`Store::writer`]).
pub enum WriterConnection {
    Sqlite(sqlx::pool::PoolConnection<sqlx::Sqlite>),
    Postgres(sqlx::pool::PoolConnection<sqlx::Postgres>),
}

impl WriterConnection {
    /// Closes the connection instead of returning it to the pool: after an error that may have
    /// left it in doubt (see `heal`).
    pub fn discard(self) {
        match self {
            WriterConnection::Sqlite(mut c) => c.close_on_drop(),
            WriterConnection::Postgres(mut c) => c.close_on_drop(),
        }
    }

    /// Starts a write transaction (on SQLite it takes the write lock at once).
    pub async fn begin(&mut self) -> Result<Tx<'_>> {
        use sqlx::Connection;
        let tx = match self {
            WriterConnection::Sqlite(c) => c.begin_with("BEGIN IMMEDIATE").await.map(Tx::Sqlite),
            WriterConnection::Postgres(c) => c.begin().await.map(Tx::Postgres),
        };
        tx.map_err(StoreError::from)
    }
}

/// A write transaction. Dropping it without [`Tx::commit`] rolls everything back.
pub enum Tx<'c> {
    Sqlite(sqlx::Transaction<'c, sqlx::Sqlite>),
    Postgres(sqlx::Transaction<'c, sqlx::Postgres>),
}

impl Tx<'_> {
    /// Which of `digests` belong to bodies already applied or ignored.
    pub async fn seen_bodies(&mut self, digests: &[&str]) -> Result<HashSet<String>> {
        match self {
            Tx::Sqlite(tx) => sqlite::seen_bodies(tx, digests).await,
            Tx::Postgres(tx) => postgres::seen_bodies(tx, digests).await,
        }
    }

    /// The bookings with these Cal.com uids; on PostgreSQL they stay locked until commit.
    pub async fn lock_bookings(&mut self, uids: &[&str]) -> Result<Vec<Booking>> {
        match self {
            Tx::Sqlite(tx) => sqlite::lock_bookings(tx, uids).await,
            Tx::Postgres(tx) => postgres::lock_bookings(tx, uids).await,
        }
    }

    /// The bookings with these series keys (occurrences of recurring series); on PostgreSQL
    /// they stay locked until commit.
    pub async fn lock_series(&mut self, keys: &[&str]) -> Result<Vec<Booking>> {
        match self {
            Tx::Sqlite(tx) => sqlite::lock_series(tx, keys).await,
            Tx::Postgres(tx) => postgres::lock_series(tx, keys).await,
        }
    }

    /// Inserts bookings; [`StoreError::Conflict`] if any uid exists.
    pub async fn insert_bookings(&mut self, list: &[Booking]) -> Result<()> {
        match self {
            Tx::Sqlite(tx) => common::insert_bookings::<Sqlite>(tx, list).await,
            Tx::Postgres(tx) => common::insert_bookings::<Postgres>(tx, list).await,
        }
    }

    /// Writes the new state of bookings read with [`Tx::lock_bookings`].
    pub async fn update_bookings(&mut self, list: &[Booking]) -> Result<()> {
        match self {
            Tx::Sqlite(tx) => common::update_bookings::<Sqlite>(tx, list).await,
            Tx::Postgres(tx) => common::update_bookings::<Postgres>(tx, list).await,
        }
    }

    pub async fn insert_history(&mut self, list: &[HistoryEntry]) -> Result<()> {
        match self {
            Tx::Sqlite(tx) => common::insert_history::<Sqlite>(tx, list).await,
            Tx::Postgres(tx) => common::insert_history::<Postgres>(tx, list).await,
        }
    }

    /// Records deliveries; [`StoreError::Conflict`] if an applied/ignored one has the same body.
    pub async fn insert_deliveries(&mut self, list: &[Delivery]) -> Result<()> {
        match self {
            Tx::Sqlite(tx) => common::insert_deliveries::<Sqlite>(tx, list).await,
            Tx::Postgres(tx) => common::insert_deliveries::<Postgres>(tx, list).await,
        }
    }

    /// Executes one statement of this transaction; returns the number of rows it affected.
    async fn execute(&mut self, sql: &'static str, args: &[Value<'_>]) -> Result<u64> {
        match self {
            Tx::Sqlite(tx) => common::execute::<Sqlite>(tx, sql, args).await,
            Tx::Postgres(tx) => common::execute::<Postgres>(tx, sql, args).await,
        }
    }

    /// On PostgreSQL, plans each statement that follows in this transaction once per connection
    /// (`SET LOCAL plan_cache_mode = force_generic_plan`) instead of at every execution, the
    /// connection's default (see `postgres::connect`). For the multi-row INSERTs of the writes,
    /// whose plan does not depend on what the tables hold: planning a chunk's 64 × 40 parameters
    /// at every execution was 14.5 % of PostgreSQL's CPU under webhook load. Nothing on SQLite,
    /// which keeps its prepared statements' plans.
    pub async fn plan_once_per_statement(&mut self) -> Result<()> {
        self.on_postgres("SET LOCAL plan_cache_mode = force_generic_plan")
            .await
    }

    /// Back to the connection's default for the rest of this transaction (PostgreSQL): each
    /// statement planned for the values it is given, for statements whose plan depends on what
    /// the tables hold (see [`Tx::plan_once_per_statement`]).
    pub async fn plan_each_execution(&mut self) -> Result<()> {
        self.on_postgres("SET LOCAL plan_cache_mode = force_custom_plan")
            .await
    }

    /// Runs `sql` in this transaction on PostgreSQL; nothing on SQLite.
    async fn on_postgres(&mut self, sql: &'static str) -> Result<()> {
        if let Tx::Postgres(tx) = self {
            sqlx::query(sql).execute(&mut **tx).await?;
        }
        Ok(())
    }

    pub async fn commit(self) -> Result<()> {
        match self {
            Tx::Sqlite(tx) => tx.commit().await?,
            Tx::Postgres(tx) => tx.commit().await?,
        }
        Ok(())
    }
}
