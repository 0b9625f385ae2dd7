//! SQLite durability and upkeep: the WAL fsync before a delivery is acknowledged
//! ([`Store::durability_barrier`]), the background checkpoint task ([`Store::start_upkeep`]),
//! and the WAL bound.
//!
//! The WAL bound (`CALBOOK_WAL_TRUNCATE_MIB`, default 16) is kept without cutting the file:
//! - the background task copies the log into the database file a tenth of a second after each
//!   change (a PASSIVE checkpoint, on its own connection: it never blocks the writer);
//! - once the log holds the bound, the ingest writer's own commit ends with a PASSIVE checkpoint
//!   (SQLite's `wal_autocheckpoint` on that connection only; see `sqlite::tune_writer`) that has
//!   little left to copy, and the next commit writes the log again from its start, in place. A
//!   file that is neither cut nor regrown costs no file-system metadata per commit: cutting the
//!   log with a TRUNCATE checkpoint stalled the writer 18–44 ms four times a second at full speed;
//! - when that cannot happen (a reader keeps an old snapshot), the log grows, and past twice the
//!   bound the writer truncates it itself between two batches ([`Store::bound_wal`]), so it stays
//!   under 64 MiB (SQLite's `journal_size_limit`, four times the bound) however busy the writer
//!   is; the background task empties it once writes stop.
//!
//! The same task merges the search index's segments, a step a second
//! ([`Store::merge_search_index`]). On PostgreSQL all are no-ops: its commit is durable by itself
//! and it checkpoints on its own.
//!
//! Failure modes: a failed fsync is [`StoreError::Unavailable`] (the delivery is not
//! acknowledged, so the sender retries); a failed background checkpoint is logged and retried at
//! the next change; a truncation that cannot finish within its short wait (a reader on an old
//! snapshot) is tried again after the next batch (writer) or a tenth of a second later (upkeep).
//! A writer-side checkpoint error is returned, and the writer drops its connection.
//!
//! Never read SQLite's `-shm` file from calbook to learn the log's length: closing any
//! descriptor of a file drops every POSIX lock the process holds on it, SQLite's included (tried:
//! the server died of SIGBUS).

use std::time::Duration;

use super::{Result, SqliteSync, Store, StoreError, WriterConnection, search, sqlite};

impl Store {
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

    /// Keeps the WAL under its bound when the log could not be written again in place (see the
    /// module's documentation); called by the ingest writer between two batches, on its own
    /// connection, after each commit, with its own [`WalBound`]. Past twice
    /// `CALBOOK_WAL_TRUNCATE_MIB` it runs a TRUNCATE checkpoint itself. The writer is the only
    /// steady writer, so it never waits for itself; a background checkpoint has to catch the
    /// write lock between two batches and loses that race under sustained load (SQLite's
    /// "checkpoint starvation"). Readers are single statements (autocommit), so they leave the log
    /// within milliseconds; the checkpoint waits for them at most 100 ms (`WRITER_WAIT`). When it could
    /// not finish, it is tried again after the next batch, or, if it waited the whole time (a
    /// reader that keeps a snapshot open, such as a misconfigured Litestream), after a pause that
    /// doubles up to 2 s, so ingest is not slowed batch after batch.
    /// Nothing on PostgreSQL, or when the limit is 0 (under Litestream).
    pub async fn bound_wal(&self, conn: &mut WriterConnection, state: &mut WalBound) -> Result<()> {
        let (Store::Sqlite(s), WriterConnection::Sqlite(c)) = (self, conn) else {
            return Ok(());
        };
        let Some(limit) = s.wal_truncate_bytes else {
            return Ok(());
        };
        let now = std::time::Instant::now();
        if state.retry_at.is_some_and(|t| now < t) {
            return Ok(());
        }
        let size = wal_size(&s.wal_path);
        if size <= limit.saturating_mul(2) {
            return Ok(());
        }
        let done = sqlite::truncate_wal(c, WRITER_WAIT, s.busy_timeout).await?;
        if done {
            *state = WalBound::default();
        } else if now.elapsed() >= WRITER_WAIT {
            state.pause =
                (state.pause * 2).clamp(Duration::from_millis(250), Duration::from_secs(2));
            state.retry_at = Some(std::time::Instant::now() + state.pause);
        }
        tracing::debug!(
            wal_bytes = size,
            done,
            "WAL truncation by the ingest writer"
        );
        Ok(())
    }

    /// One step of merging SQLite's search index (see `search::merge_index`): `Ok(true)` when it
    /// merged segments and more may be left, `Ok(false)` when there was nothing to merge or the
    /// ingest writer held the write lock for longer than 50 ms. Always `Ok(false)` on PostgreSQL,
    /// which maintains its trigram index itself.
    pub async fn merge_search_index(&self) -> Result<bool> {
        let Store::Sqlite(s) = self else {
            return Ok(false);
        };
        let mut conn = s.pool.acquire().await.map_err(StoreError::Unavailable)?;
        search::merge_index(&mut conn, UPKEEP_WAIT, s.busy_timeout).await
    }

    /// Starts the store's background upkeep, if it has any: on SQLite a PASSIVE checkpoint a tenth
    /// of a second after each change of the WAL (every second when the bound is 0, under
    /// Litestream), a step of merging the search index every second (commits never wait for
    /// either), and a TRUNCATE checkpoint when the WAL has not changed for a second and is not
    /// empty (so it shrinks after a load), or when it has grown past three times
    /// `CALBOOK_WAL_TRUNCATE_MIB` (writes not through the ingest writer, which bounds the WAL
    /// itself: [`Store::bound_wal`]). Never truncated when the bound is 0.
    pub fn start_upkeep(&self) -> Option<tokio::task::JoinHandle<()>> {
        let Store::Sqlite(s) = self else {
            return None;
        };
        let pool = s.pool.clone();
        let wal_path = s.wal_path.clone();
        let truncate_past = s.wal_truncate_bytes;
        let busy = s.busy_timeout;
        Some(tokio::spawn(async move {
            let mut tick = tokio::time::interval(TICK);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut n: u64 = 0;
            let (mut last, mut still) = (WalFile::default(), 0u32);
            loop {
                tick.tick().await;
                if pool.is_closed() {
                    break;
                }
                n += 1;
                let wal = WalFile::of(&wal_path);
                // Idle: the WAL has not changed for a second.
                still = if wal == last { still + 1 } else { 0 };
                let changed = wal != last;
                last = wal;
                // Eager with a bound, so the writer's own checkpoint finds little left to copy.
                let due = if truncate_past.is_some() {
                    changed
                } else {
                    n.is_multiple_of(TICKS_PER_SECOND)
                };
                if due
                    && wal.len > 0
                    && let Err(e) = sqlite::checkpoint(&pool).await
                {
                    tracing::warn!(error = %e, "SQLite checkpoint failed; will retry");
                }
                if n.is_multiple_of(TICKS_PER_SECOND) {
                    let merged = match pool.acquire().await {
                        Ok(mut c) => search::merge_index(&mut c, UPKEEP_WAIT, busy).await,
                        Err(e) => Err(StoreError::Unavailable(e)),
                    };
                    match merged {
                        Ok(true) => tracing::debug!("search index segments merged"),
                        Ok(false) => {}
                        Err(e) => {
                            tracing::warn!(error = %e, "search index merge failed; will retry")
                        }
                    }
                    // The merge's own pages are not a sign of writes: merging goes on for a
                    // while after a load, and the log is emptied meanwhile all the same.
                    last = WalFile::of(&wal_path);
                }
                let Some(limit) = truncate_past else {
                    continue;
                };
                let size = wal.len;
                let idle = size > 0 && still >= TICKS_PER_SECOND as u32;
                if !idle && size <= limit.saturating_mul(3) {
                    continue;
                }
                let done = match pool.acquire().await {
                    Ok(mut c) => sqlite::truncate_wal(&mut c, UPKEEP_WAIT, busy).await,
                    Err(e) => Err(StoreError::Unavailable(e)),
                };
                match done {
                    Ok(true) => {
                        (last, still) = (WalFile::default(), 0);
                        tracing::debug!(wal_bytes = size, "WAL truncated");
                    }
                    Ok(false) => {
                        tracing::debug!(wal_bytes = size, "WAL truncation busy; will retry")
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, wal_bytes = size, "SQLite WAL truncation failed; will retry")
                    }
                }
            }
        }))
    }
}

/// The ingest writer's view of its WAL truncations (see [`Store::bound_wal`]).
#[derive(Debug, Default)]
pub struct WalBound {
    /// Not before then, after truncations that waited for readers in vain.
    retry_at: Option<std::time::Instant>,
    pause: Duration,
}

/// How long the ingest writer's checkpoint waits for readers (and the rare other writer) before
/// leaving the truncation to after the next batch: deliveries queue meanwhile.
pub const WRITER_WAIT: Duration = Duration::from_millis(100);
/// How long the background checkpoint waits: short, so that it never holds SQLite's checkpoint
/// lock long enough to turn away the writer's own.
const UPKEEP_WAIT: Duration = Duration::from_millis(50);

/// How often the background upkeep looks at the WAL.
const TICK: Duration = Duration::from_millis(100);
const TICKS_PER_SECOND: u64 = 10;

/// What the upkeep sees of the WAL file: its length and when it was last written (a log written
/// again in place from its start keeps its length).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct WalFile {
    len: u64,
    modified: Option<std::time::SystemTime>,
}

impl WalFile {
    fn of(path: &std::path::Path) -> WalFile {
        match std::fs::metadata(path) {
            Ok(m) => WalFile {
                len: m.len(),
                modified: m.modified().ok(),
            },
            Err(_) => WalFile::default(),
        }
    }
}

/// The WAL file's size in bytes (0 when it does not exist).
fn wal_size(path: &std::path::Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}
