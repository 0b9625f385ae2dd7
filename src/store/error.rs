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
