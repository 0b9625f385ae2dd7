//! The readiness write probe ([`Store::probe_write`]): proof that the database takes a write now.
//!
//! It updates the one row of `health_probe` in a write transaction (on SQLite `BEGIN IMMEDIATE`,
//! so it also waits for the write lock like any delivery), and on SQLite it also refuses when the
//! file is at its `max_page_count` with no free page left (an UPDATE in place would not notice).
//! A connection whose probe failed is closed, not returned to the pool: SQLite opens a file it
//! cannot write read-only and would keep it so; a fresh connection sees the permission as it is
//! now. Failure: [`StoreError::Unavailable`] (or whatever the database said).

use sqlx::{Connection, Executor};

use super::{Result, Store, StoreError};

impl Store {
    /// Writes one row in a transaction and commits it. Cheap (one small row), but a real write:
    /// callers rate-limit it (`/readyz` probes at most every few seconds).
    pub async fn probe_write(&self) -> Result<()> {
        let now = crate::time::now().to_string();
        match self {
            Store::Sqlite(s) => {
                let mut conn = s.pool.acquire().await.map_err(StoreError::Unavailable)?;
                let result = async {
                    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
                    sqlx::query("UPDATE health_probe SET checked_at = $1 WHERE id = 1")
                        .bind(&now)
                        .execute(&mut *tx)
                        .await?;
                    let (pages, max, free): (i64, i64, i64) = sqlx::query_as(
                        "SELECT (SELECT page_count FROM pragma_page_count), \
                                (SELECT max_page_count FROM pragma_max_page_count), \
                                (SELECT freelist_count FROM pragma_freelist_count)",
                    )
                    .fetch_one(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    if pages >= max && free == 0 {
                        return Err(StoreError::Unavailable(sqlx::Error::Protocol(format!(
                            "the database file is full: {pages} pages, its max_page_count"
                        ))));
                    }
                    Ok(())
                }
                .await;
                if result.is_err() {
                    conn.close_on_drop();
                }
                result
            }
            Store::Postgres(p) => {
                let mut conn = p.acquire().await.map_err(StoreError::Unavailable)?;
                let result = conn
                    .execute(sqlx::query(
                        "UPDATE health_probe SET checked_at = now() WHERE id = 1",
                    ))
                    .await
                    .map(|_| ())
                    .map_err(StoreError::from);
                if result.is_err() {
                    conn.close_on_drop();
                }
                result
            }
        }
    }
}
