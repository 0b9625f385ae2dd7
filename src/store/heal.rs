//! Connections in doubt are closed, never reused: the pool's `after_release` check.
//!
//! sqlx tracks a transaction depth per connection and trusts it. When SQLite rolls a
//! transaction back by itself (it does on `SQLITE_FULL`, `SQLITE_IOERR`, `SQLITE_NOMEM`, and may on
//! `SQLITE_BUSY` at commit), sqlx's own `ROLLBACK` then fails ("no transaction is active") and the
//! depth stays at 1. The connection goes back to the pool believing it is inside a transaction,
//! and every later `BEGIN IMMEDIATE` on it fails (`InvalidSavePointStatement`) until the process
//! restarts. Upstream: transact-rs/sqlx#3742 (depth not decremented after a rollback the
//! database did itself, open) and #4031 (depth out of step with the connection's real state).
//!
//! The fix lives here, on sqlx's public API, so an sqlx release that fixes the depth makes this
//! a no-op instead of undoing it: a connection returned with a transaction still open in sqlx's
//! eyes is closed (the pool opens a fresh one on demand). On SQLite the check first waits for
//! the worker to run the rollback a dropped transaction queued (a `ping` runs after it).
//! [`StoreError`](super::StoreError) already maps the failures themselves to `Unavailable` (503).

use sqlx::Connection;
use sqlx::pool::PoolConnectionMetadata;

/// `after_release` for the SQLite pool: keep the connection only if it is outside any
/// transaction once its queued commands ran.
pub(super) fn sqlite_after_release(
    conn: &mut sqlx::SqliteConnection,
    _meta: PoolConnectionMetadata,
) -> futures_util::future::BoxFuture<'_, Result<bool, sqlx::Error>> {
    Box::pin(async move {
        conn.ping().await?;
        Ok(keep(conn.is_in_transaction()))
    })
}

/// `after_release` for the PostgreSQL pool (sqlx queues the rollback of a dropped transaction
/// and counts it at once, so no round trip is needed to read the depth).
pub(super) fn postgres_after_release(
    conn: &mut sqlx::PgConnection,
    _meta: PoolConnectionMetadata,
) -> futures_util::future::BoxFuture<'_, Result<bool, sqlx::Error>> {
    Box::pin(async move { Ok(keep(conn.is_in_transaction())) })
}

fn keep(in_transaction: bool) -> bool {
    if in_transaction {
        metrics::counter!("calbook_db_connections_discarded_total").increment(1);
        tracing::warn!(
            "a database connection came back inside a transaction (the database rolled it back \
             itself); closing it"
        );
    }
    !in_transaction
}
