//! Tuning for the two backends ([`StoreOptions`]).

use std::str::FromStr;
use std::time::Duration;

/// Tuning for the two backends. Defaults suit a small production install.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// How long a SQLite writer waits for the file lock before the write fails.
    pub sqlite_busy_timeout: Duration,
    /// `Full` (the default): [`Store::durability_barrier`](super::Store::durability_barrier) fsyncs the WAL before deliveries are
    /// acknowledged. `Normal`: no fsync before the answer; a power cut may lose the last second
    /// of commits, an application crash loses nothing.
    pub sqlite_synchronous: SqliteSync,
    /// PostgreSQL pool size.
    pub pg_max_connections: u32,
    /// How long to wait for a database connection before answering 503.
    pub acquire_timeout: Duration,
    /// SQLite's `max_page_count` on every connection: the database file never grows past this
    /// many pages (writes beyond it fail as a full disk would, with 503). `None`: no cap.
    pub sqlite_max_page_count: Option<u64>,
    /// The WAL size past which the upkeep task truncates it (a TRUNCATE checkpoint), and, as
    /// four times this, SQLite's `journal_size_limit`. `None`: never truncated by calbook (under
    /// Litestream, which checkpoints and truncates the WAL itself).
    pub sqlite_wal_truncate_bytes: Option<u64>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            sqlite_busy_timeout: Duration::from_secs(5),
            sqlite_synchronous: SqliteSync::Full,
            pg_max_connections: 10,
            acquire_timeout: Duration::from_secs(5),
            sqlite_max_page_count: None,
            sqlite_wal_truncate_bytes: Some(16 * 1024 * 1024),
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
