//! How database failures map to what callers do about them.
//!
//! [`StoreError::Unavailable`]: the database cannot answer now (unreachable, locked, full, pool
//! exhausted); the webhook answers 503 and the sender retries. [`StoreError::Conflict`]: another
//! writer changed the same rows first; the caller retries its transaction. Everything else is
//! [`StoreError::Database`], [`StoreError::Corrupt`] (a stored value calbook cannot read back) or
//! [`StoreError::Config`].

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
    /// Also counts the error in `calbook_db_errors_total{kind}` (`unavailable`, `conflict`,
    /// `database`).
    fn from(e: sqlx::Error) -> Self {
        let mapped = classify(e);
        let kind = match &mapped {
            StoreError::Unavailable(_) => "unavailable",
            StoreError::Conflict => "conflict",
            _ => "database",
        };
        metrics::counter!("calbook_db_errors_total", "kind" => kind).increment(1);
        mapped
    }
}

fn classify(e: sqlx::Error) -> StoreError {
    use sqlx::Error as E;
    match &e {
        E::PoolTimedOut | E::PoolClosed | E::Io(_) | E::Tls(_) | E::WorkerCrashed => {
            StoreError::Unavailable(e)
        }
        // A transaction sqlx believes is still open (see `heal`): the connection is closed
        // when it goes back to the pool, so this heals by itself.
        E::InvalidSavePointStatement | E::BeginFailed => StoreError::Unavailable(e),
        E::Database(db) => {
            let code = db.code().unwrap_or_default();
            let code = code.as_ref();
            // SQLite reports extended result codes; the primary code is the low byte.
            let sqlite_primary = db
                .try_downcast_ref::<sqlx::sqlite::SqliteError>()
                .and_then(|_| code.parse::<u32>().ok())
                .map(|c| c & 0xff);
            match (code, sqlite_primary) {
                // Unique violations that an ON CONFLICT did not absorb, serialization
                // failures and deadlocks: another writer got there first.
                ("2067" | "1555" | "23505" | "40001" | "40P01", _) => StoreError::Conflict,
                // SQLite: BUSY, LOCKED, NOMEM, READONLY, IOERR, FULL, CANTOPEN (and their
                // extended codes): the file cannot take the write now; it may later.
                (_, Some(5 | 6 | 7 | 8 | 10 | 13 | 14)) => StoreError::Unavailable(e),
                // PostgreSQL: connection exceptions, operator intervention, insufficient
                // resources (disk full, out of memory, too many connections), read-only
                // transaction (a standby).
                (c, _)
                    if c.starts_with("08")
                        || c.starts_with("57P")
                        || c.starts_with("53")
                        || c == "25006" =>
                {
                    StoreError::Unavailable(e)
                }
                _ => StoreError::Database(e),
            }
        }
        _ => StoreError::Database(e),
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;
