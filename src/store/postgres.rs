//! PostgreSQL backend. Rows an event touches are locked with `FOR UPDATE` (in uid order); an
//! insert that loses a race to another instance returns [`StoreError::Conflict`].
//!
//! Only what is PostgreSQL's own lives here: connecting, and the statements that lock rows or take
//! a list of uids or digests as one array parameter (`= ANY($1)`). Every other statement is shared
//! (`common`), and values are encoded in `value`.

use std::collections::HashSet;
use std::str::FromStr;

use sqlx::postgres::{PgArguments, PgConnectOptions, PgPoolOptions};
use sqlx::query_builder::Separated;
use sqlx::{PgConnection, PgPool, Postgres};

use super::common::{Db, decode_bookings};
use super::rows::BOOKING_SQL;
use super::value::Value;
use super::{Backend, Result, StoreError, StoreOptions};
use crate::booking::Booking;

type Query<'q> = sqlx::query::Query<'q, Postgres, PgArguments>;

impl Db for Postgres {
    const BACKEND: Backend = Backend::Postgres;

    fn bind<'q>(q: Query<'q>, v: Value<'_>) -> Query<'q> {
        q.bind(v)
    }

    fn push_bind(row: &mut Separated<'_, Postgres, &'static str>, v: Value<'_>) {
        row.push_bind(v);
    }

    async fn execute(conn: &mut PgConnection, q: Query<'_>) -> Result<u64> {
        Ok(q.execute(conn).await?.rows_affected())
    }
}

pub(super) async fn connect(url: &str, o: &StoreOptions) -> Result<PgPool> {
    let options = PgConnectOptions::from_str(url)
        .map_err(|e| StoreError::Config(format!("DATABASE_URL: {e}")))?
        .application_name("calbook")
        // Plan each statement for the table as it is now. A generic plan cached while a table was
        // empty (a sequential scan) would otherwise be kept as the table grows, until autovacuum
        // next analyzes it.
        .options([("plan_cache_mode", "force_custom_plan")]);
    Ok(PgPoolOptions::new()
        .max_connections(o.pg_max_connections)
        .acquire_timeout(o.acquire_timeout)
        .after_release(super::heal::postgres_after_release)
        .connect_with(options)
        .await?)
}

pub(super) async fn applied_migrations(p: &PgPool) -> Result<i64> {
    let exists: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
        .fetch_one(p)
        .await?;
    if !exists {
        return Ok(0);
    }
    Ok(
        sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations WHERE success")
            .fetch_one(p)
            .await?,
    )
}

pub(super) async fn seen_bodies(
    tx: &mut PgConnection,
    digests: &[&str],
) -> Result<HashSet<String>> {
    let rows = sqlx::query_scalar::<_, String>(
        "SELECT body_sha256 FROM webhook_deliveries \
         WHERE body_sha256 = ANY($1) AND outcome IN ('applied', 'ignored')",
    )
    .bind(digests)
    .fetch_all(tx)
    .await?;
    Ok(rows.into_iter().collect())
}

pub(super) async fn lock_bookings(tx: &mut PgConnection, uids: &[&str]) -> Result<Vec<Booking>> {
    let sql = format!(
        "{} WHERE external_id = ANY($1) ORDER BY external_id FOR UPDATE",
        BOOKING_SQL.select
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(uids)
        .fetch_all(tx)
        .await?;
    decode_bookings(&rows)
}

/// The bookings with these series keys, locked until commit.
pub(super) async fn lock_series(tx: &mut PgConnection, keys: &[&str]) -> Result<Vec<Booking>> {
    let sql = format!(
        "{} WHERE series_key = ANY($1) ORDER BY external_id FOR UPDATE",
        BOOKING_SQL.select
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(keys)
        .fetch_all(tx)
        .await?;
    decode_bookings(&rows)
}

pub(super) async fn bookings_with_uids(p: &PgPool, uids: &[&str]) -> Result<Vec<Booking>> {
    let sql = format!("{} WHERE external_id = ANY($1)", BOOKING_SQL.select);
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(uids)
        .fetch_all(p)
        .await?;
    decode_bookings(&rows)
}
