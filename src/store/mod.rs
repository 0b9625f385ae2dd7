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

mod outbox;
mod postgres;
mod query;
mod sessions;
mod sqlite;

pub use query::{
    BookingFilter, ChainEntry, Cursor, InvalidCursor, MAX_CHAIN_HOPS, Owner, Scope, SortOrder,
};

use std::collections::HashSet;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use bytes::Bytes;
use jiff::Timestamp;
use serde::Serialize;
use sqlx::{PgPool, SqlitePool};
use uuid::Uuid;

use crate::booking::{Booking, HistoryEntry, Status};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
    #[error("a concurrent writer changed the same rows; retry")]
    Conflict,
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    #[error("migrations failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    #[error("{0}")]
    Config(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        use sqlx::Error as E;
        match &e {
            E::PoolTimedOut | E::PoolClosed | E::Io(_) | E::Tls(_) | E::WorkerCrashed => {
                StoreError::Unavailable(e)
            }
            E::Database(db) => {
                let code = db.code().unwrap_or_default();
                match code.as_ref() {
                    // SQLite: SQLITE_BUSY, SQLITE_LOCKED (and extended codes), SQLITE_IOERR,
                    // SQLITE_READONLY, SQLITE_CANTOPEN, SQLITE_FULL.
                    "5" | "6" | "10" | "8" | "14" | "13" | "261" | "262" | "517" => {
                        StoreError::Unavailable(e)
                    }
                    // Unique violations that an ON CONFLICT did not absorb, serialization
                    // failures and deadlocks: another writer got there first.
                    "2067" | "1555" | "23505" | "40001" | "40P01" => StoreError::Conflict,
                    c if c.starts_with("08") || c.starts_with("57P") || c == "53300" => {
                        StoreError::Unavailable(e)
                    }
                    _ => StoreError::Database(e),
                }
            }
            _ => StoreError::Database(e),
        }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// What happened to a signed delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Its effects are committed (a PING counts as applied: it asks for nothing).
    Applied,
    /// A byte-identical body was applied before; nothing changed.
    Duplicate,
    /// Stored and acknowledged with no effect (unknown trigger or version, or stale).
    Ignored,
    /// Signed, but unusable (malformed JSON, form-encoded body, missing fields).
    Rejected,
}

impl Outcome {
    pub const ALL: [Outcome; 4] = [
        Outcome::Applied,
        Outcome::Duplicate,
        Outcome::Ignored,
        Outcome::Rejected,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Applied => "applied",
            Outcome::Duplicate => "duplicate",
            Outcome::Ignored => "ignored",
            Outcome::Rejected => "rejected",
        }
    }

    fn parse(s: &str) -> Result<Outcome> {
        Ok(match s {
            "applied" => Outcome::Applied,
            "duplicate" => Outcome::Duplicate,
            "ignored" => Outcome::Ignored,
            "rejected" => Outcome::Rejected,
            other => return Err(StoreError::Corrupt(format!("outcome {other:?}"))),
        })
    }
}

/// An outcome name that is not one of [`Outcome::ALL`].
#[derive(Debug, thiserror::Error)]
#[error("unknown delivery outcome {0:?} (expected one of applied, duplicate, ignored, rejected)")]
pub struct UnknownOutcome(pub String);

impl std::str::FromStr for Outcome {
    type Err = UnknownOutcome;

    fn from_str(s: &str) -> std::result::Result<Outcome, UnknownOutcome> {
        Outcome::ALL
            .into_iter()
            .find(|o| o.as_str() == s)
            .ok_or_else(|| UnknownOutcome(s.to_owned()))
    }
}

/// One signed delivery as kept in `webhook_deliveries`.
#[derive(Debug, Clone, Serialize)]
pub struct Delivery {
    pub id: Uuid,
    pub received_at: Timestamp,
    pub body_sha256: String,
    pub trigger_event: Option<String>,
    pub webhook_version: Option<String>,
    pub content_type: Option<String>,
    pub booking_uid: Option<String>,
    pub outcome: Outcome,
    pub error: Option<String>,
    /// The raw body. Listings leave it empty.
    #[serde(skip)]
    pub body: Bytes,
}

/// Tuning for the two backends. Defaults suit a small production install.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// How long a SQLite writer waits for the file lock before the write fails.
    pub sqlite_busy_timeout: Duration,
    /// `Full` (the default): [`Store::durability_barrier`] fsyncs the WAL before deliveries are
    /// acknowledged. `Normal`: no fsync before the answer; a power cut may lose the last second
    /// of commits, an application crash loses nothing.
    pub sqlite_synchronous: SqliteSync,
    /// PostgreSQL pool size.
    pub pg_max_connections: u32,
    /// How long to wait for a database connection before answering 503.
    pub acquire_timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            sqlite_busy_timeout: Duration::from_secs(5),
            sqlite_synchronous: SqliteSync::Full,
            pg_max_connections: 10,
            acquire_timeout: Duration::from_secs(5),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqliteSync {
    Full,
    Normal,
}

impl FromStr for SqliteSync {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "full" => Ok(SqliteSync::Full),
            "normal" => Ok(SqliteSync::Normal),
            other => Err(format!(
                "{other:?} is not a SQLite synchronous level (use full or normal)"
            )),
        }
    }
}

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
    sync: SqliteSync,
    wal_path: std::path::PathBuf,
}

impl Store {
    /// Opens `url` (`sqlite://PATH` or `postgres://…`) and applies pending migrations.
    pub async fn open(url: &str, options: &StoreOptions) -> Result<Store> {
        let store = Store::connect(url, options).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Opens `url` without migrating.
    pub async fn connect(url: &str, options: &StoreOptions) -> Result<Store> {
        if url.starts_with("sqlite:") {
            let pool = sqlite::connect(url, options).await?;
            let mut wal_path = pool.connect_options().get_filename().as_os_str().to_owned();
            wal_path.push("-wal");
            Ok(Store::Sqlite(SqliteStore {
                pool,
                sync: options.sqlite_synchronous,
                wal_path: wal_path.into(),
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
                sqlite::tune_writer(&mut conn).await?;
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
            Store::Postgres(p) => postgres::bookings(p, filter).await,
        }
    }

    pub async fn booking(&self, uid: &str) -> Result<Option<Booking>> {
        match self {
            Store::Sqlite(s) => sqlite::booking(&s.pool, uid).await,
            Store::Postgres(p) => postgres::booking(p, uid).await,
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

    /// A booking by calbook's id.
    pub async fn booking_by_id(&self, id: Uuid) -> Result<Option<Booking>> {
        match self {
            Store::Sqlite(s) => sqlite::booking_by_id(&s.pool, id).await,
            Store::Postgres(p) => postgres::booking_by_id(p, id).await,
        }
    }

    /// The audit history of a booking, oldest first.
    pub async fn history(&self, booking_id: Uuid) -> Result<Vec<HistoryEntry>> {
        match self {
            Store::Sqlite(s) => sqlite::history(&s.pool, booking_id).await,
            Store::Postgres(p) => postgres::history(p, booking_id).await,
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
            Store::Sqlite(s) => sqlite::deliveries(&s.pool, outcome, limit).await,
            Store::Postgres(p) => postgres::deliveries(p, outcome, limit).await,
        }
    }

    /// The deliveries that changed a booking (those its history entries name), oldest first.
    pub async fn deliveries_of_booking(&self, booking_id: Uuid) -> Result<Vec<Delivery>> {
        match self {
            Store::Sqlite(s) => sqlite::deliveries_of_booking(&s.pool, booking_id).await,
            Store::Postgres(p) => postgres::deliveries_of_booking(p, booking_id).await,
        }
    }

    /// Returns once the transactions this process has committed are on disk.
    ///
    /// SQLite commits with `synchronous=NORMAL`: the commit writes the write-ahead log but does not
    /// wait for the disk, so the write lock is free for the next batch at once. With
    /// [`SqliteSync::Full`] this barrier then fsyncs the WAL (outside the lock); a webhook is
    /// answered only after it. A WAL file that no longer exists was checkpointed into the database
    /// file, and a checkpoint syncs both files. PostgreSQL's commit is durable by itself.
    pub async fn durability_barrier(&self) -> Result<()> {
        let Store::Sqlite(s) = self else {
            return Ok(());
        };
        if s.sync == SqliteSync::Normal {
            return Ok(());
        }
        let path = s.wal_path.clone();
        let synced = tokio::task::spawn_blocking(move || match std::fs::File::open(&path) {
            Ok(f) => f.sync_data(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        })
        .await;
        match synced {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(StoreError::Unavailable(sqlx::Error::Io(e))),
            Err(join) => Err(StoreError::Unavailable(sqlx::Error::Io(
                std::io::Error::other(join),
            ))),
        }
    }

    /// Starts the store's background upkeep, if it has any: on SQLite a checkpoint every second
    /// (commits never wait for one; with no checkpoint the WAL would grow without bound).
    pub fn start_upkeep(&self) -> Option<tokio::task::JoinHandle<()>> {
        let Store::Sqlite(s) = self else {
            return None;
        };
        let pool = s.pool.clone();
        Some(tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(1000));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if pool.is_closed() {
                    break;
                }
                if let Err(e) = sqlite::checkpoint(&pool).await {
                    tracing::warn!(error = %e, "SQLite checkpoint failed; will retry");
                }
            }
        }))
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

    /// Inserts bookings; [`StoreError::Conflict`] if any uid exists.
    pub async fn insert_bookings(&mut self, list: &[Booking]) -> Result<()> {
        match self {
            Tx::Sqlite(tx) => sqlite::insert_bookings(tx, list).await,
            Tx::Postgres(tx) => postgres::insert_bookings(tx, list).await,
        }
    }

    /// Writes the new state of bookings read with [`Tx::lock_bookings`].
    pub async fn update_bookings(&mut self, list: &[Booking]) -> Result<()> {
        match self {
            Tx::Sqlite(tx) => sqlite::update_bookings(tx, list).await,
            Tx::Postgres(tx) => postgres::update_bookings(tx, list).await,
        }
    }

    pub async fn insert_history(&mut self, list: &[HistoryEntry]) -> Result<()> {
        match self {
            Tx::Sqlite(tx) => sqlite::insert_history(tx, list).await,
            Tx::Postgres(tx) => postgres::insert_history(tx, list).await,
        }
    }

    /// Records deliveries; [`StoreError::Conflict`] if an applied/ignored one has the same body.
    pub async fn insert_deliveries(&mut self, list: &[Delivery]) -> Result<()> {
        match self {
            Tx::Sqlite(tx) => sqlite::insert_deliveries(tx, list).await,
            Tx::Postgres(tx) => postgres::insert_deliveries(tx, list).await,
        }
    }

    pub async fn commit(self) -> Result<()> {
        match self {
            Tx::Sqlite(tx) => tx.commit().await?,
            Tx::Postgres(tx) => tx.commit().await?,
        }
        Ok(())
    }
}

/// Splits rows for multi-row INSERTs into chunks of 64, 32, …, 1 rows, so that each table has
/// at most seven distinct statement texts: they stay in the prepared-statement cache instead of
/// being parsed and planned again for every batch size. (64 rows × 31 columns stays far below
/// SQLite's 32,766 and PostgreSQL's 65,535 parameters.)
/// The upsert clause that turns a booking INSERT into an update of the stored row (same SQL on
/// both backends): every column but `id`, `external_id`, `provider` and `created_at`.
const UPDATE_BOOKING_ON_CONFLICT: &str = " ON CONFLICT (external_id) DO UPDATE SET \
     calcom_booking_id = excluded.calcom_booking_id, client_id = excluded.client_id, \
     title = excluded.title, description = excluded.description, notes = excluded.notes, \
     starts_at = excluded.starts_at, ends_at = excluded.ends_at, status = excluded.status, \
     attendee_email = excluded.attendee_email, attendee_name = excluded.attendee_name, \
     attendees = excluded.attendees, organizer = excluded.organizer, location = excluded.location, \
     meeting_url = excluded.meeting_url, ical_uid = excluded.ical_uid, \
     ical_sequence = excluded.ical_sequence, event_type_id = excluded.event_type_id, \
     event_type_slug = excluded.event_type_slug, metadata = excluded.metadata, \
     rescheduled_from = excluded.rescheduled_from, rescheduled_to = excluded.rescheduled_to, \
     cancellation_reason = excluded.cancellation_reason, cancelled_by = excluded.cancelled_by, \
     rejection_reason = excluded.rejection_reason, meeting_started_at = excluded.meeting_started_at, \
     meeting_ended_at = excluded.meeting_ended_at, updated_at = excluded.updated_at";

pub(crate) fn row_chunks<T>(mut rows: &[T]) -> impl Iterator<Item = &[T]> {
    std::iter::from_fn(move || {
        if rows.is_empty() {
            return None;
        }
        let size = [64, 32, 16, 8, 4, 2, 1]
            .into_iter()
            .find(|&n| n <= rows.len())
            .unwrap_or(1);
        let (chunk, rest) = rows.split_at(size);
        rows = rest;
        Some(chunk)
    })
}

fn parse_status(s: &str) -> Result<Status> {
    s.parse()
        .map_err(|e: crate::booking::UnknownStatus| StoreError::Corrupt(e.to_string()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn row_chunks_use_few_distinct_sizes_and_cover_every_row() {
        let rows: Vec<u32> = (0..203).collect();
        let sizes: Vec<usize> = super::row_chunks(&rows).map(<[u32]>::len).collect();
        assert_eq!(sizes, [64, 64, 64, 8, 2, 1]);
        let flat: Vec<u32> = super::row_chunks(&rows).flatten().copied().collect();
        assert_eq!(flat, rows);
        assert_eq!(super::row_chunks::<u32>(&[]).count(), 0);
    }
}
