//! SQLite durability and upkeep: the WAL fsync before a delivery is acknowledged
//! ([`Store::durability_barrier`]) and the background checkpoint task ([`Store::start_upkeep`]),
//! which keeps the WAL under 64 MiB (with the default `CALBOOK_WAL_TRUNCATE_MIB`, 16) however busy the writer is.
//! On PostgreSQL both are no-ops: its commit is durable by itself and it checkpoints on its own.
//!
//! Failure modes: a failed fsync is [`StoreError::Unavailable`] (the delivery is not
//! acknowledged, so the sender retries); a failed checkpoint is logged and retried a second later.

use std::time::Duration;

use super::{Result, SqliteSync, Store, StoreError, sqlite};

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

    /// Starts the store's background upkeep, if it has any: on SQLite a PASSIVE checkpoint every
    /// second (commits never wait for one) and a TRUNCATE checkpoint whenever the WAL passes
    /// `CALBOOK_WAL_TRUNCATE_MIB` (16 MiB by default; looked at four times a second; never
    /// when it is 0, under Litestream).
    pub fn start_upkeep(&self) -> Option<tokio::task::JoinHandle<()>> {
        let Store::Sqlite(s) = self else {
            return None;
        };
        let pool = s.pool.clone();
        let wal_path = s.wal_path.clone();
        let truncate_past = s.wal_truncate_bytes;
        Some(tokio::spawn(async move {
            // The WAL's size is looked at four times a second (a `stat`); a PASSIVE checkpoint
            // runs once a second.
            let mut tick = tokio::time::interval(Duration::from_millis(250));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut n: u64 = 0;
            loop {
                tick.tick().await;
                if pool.is_closed() {
                    break;
                }
                n += 1;
                if n.is_multiple_of(4)
                    && let Err(e) = sqlite::checkpoint(&pool).await
                {
                    tracing::warn!(error = %e, "SQLite checkpoint failed; will retry");
                }
                // Under sustained writes a PASSIVE checkpoint never catches up (the writer keeps
                // appending), and the WAL would grow without bound. Past a quarter of the limit,
                // a TRUNCATE checkpoint waits for the write lock (between two batches), copies
                // the rest back and empties the file.
                let Some(limit) = truncate_past else {
                    continue;
                };
                let size = std::fs::metadata(&wal_path).map(|m| m.len()).unwrap_or(0);
                if size > limit {
                    match sqlite::truncate_wal(&pool).await {
                        Ok(()) => tracing::debug!(wal_bytes = size, "WAL truncated"),
                        Err(e) => {
                            tracing::warn!(error = %e, wal_bytes = size, "SQLite WAL truncation failed; will retry")
                        }
                    }
                }
            }
        }))
    }
}
