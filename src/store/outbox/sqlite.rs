//! How outbox values travel on SQLite: ids as UUID text, times as fixed-width RFC 3339 text.
//! The SQL and the column list are in [`super::row`].

use jiff::Timestamp;
use sqlx::sqlite::{SqliteArguments, SqliteRow};
use sqlx::{Row, Sqlite};
use uuid::Uuid;

use super::row::{Arg, Get, Stmt, decode};
use crate::outbox::OutboxJob;
use crate::store::{Result, StoreError};
use crate::time::{from_db_text, to_db_text};

type Query = sqlx::query::Query<'static, Sqlite, SqliteArguments>;

fn query(stmt: Stmt) -> Query {
    stmt.args.into_iter().fold(
        sqlx::query(sqlx::AssertSqlSafe(stmt.sql)),
        |q, arg| match arg {
            Arg::Uuid(u) => q.bind(u.map(|u| u.to_string())),
            Arg::Text(s) => q.bind(s),
            Arg::BigInt(n) => q.bind(n),
            Arg::Int(n) => q.bind(n),
            Arg::Time(t) => q.bind(t.map(to_db_text)),
        },
    )
}

impl Get for SqliteRow {
    fn uuid(&self, column: &str) -> Result<Option<Uuid>> {
        self.try_get::<Option<String>, _>(column)?
            .map(|s| {
                Uuid::parse_str(&s).map_err(|e| StoreError::Corrupt(format!("{column} {s:?}: {e}")))
            })
            .transpose()
    }

    fn text(&self, column: &str) -> Result<Option<String>> {
        Ok(self.try_get(column)?)
    }

    fn big_int(&self, column: &str) -> Result<Option<i64>> {
        Ok(self.try_get(column)?)
    }

    fn int(&self, column: &str) -> Result<Option<i64>> {
        Ok(self.try_get(column)?)
    }

    fn time(&self, column: &str) -> Result<Option<Timestamp>> {
        self.try_get::<Option<String>, _>(column)?
            .map(|s| from_db_text(&s).ok_or_else(|| StoreError::Corrupt(format!("{column} {s:?}"))))
            .transpose()
    }
}

pub(super) async fn execute<'c>(e: impl sqlx::SqliteExecutor<'c>, stmt: Stmt) -> Result<u64> {
    Ok(query(stmt).execute(e).await?.rows_affected())
}

pub(super) async fn jobs<'c>(
    e: impl sqlx::SqliteExecutor<'c>,
    stmt: Stmt,
) -> Result<Vec<OutboxJob>> {
    query(stmt).fetch_all(e).await?.iter().map(decode).collect()
}

pub(super) async fn any<'c>(e: impl sqlx::SqliteExecutor<'c>, stmt: Stmt) -> Result<bool> {
    Ok(query(stmt).fetch_optional(e).await?.is_some())
}

/// Runs a claim in `BEGIN IMMEDIATE`, so that it takes the write lock before it reads.
pub(super) async fn claim(p: &sqlx::SqlitePool, stmt: Stmt) -> Result<Vec<OutboxJob>> {
    let mut tx = p
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(StoreError::Unavailable)?;
    let claimed = jobs(&mut *tx, stmt).await?;
    tx.commit().await?;
    Ok(claimed)
}

/// Runs `sent` (each returning the ids it changed) and `others` in one `BEGIN IMMEDIATE`
/// transaction: the ids changed by the former, the rows each of the latter changed.
pub(super) async fn finish_all(
    p: &sqlx::SqlitePool,
    sent: Vec<Stmt>,
    others: Vec<Stmt>,
) -> Result<(Vec<Uuid>, Vec<u64>)> {
    let mut tx = p
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(StoreError::Unavailable)?;
    let mut ids = Vec::new();
    for stmt in sent {
        for row in query(stmt).fetch_all(&mut *tx).await? {
            ids.extend(row.uuid("id")?);
        }
    }
    let mut affected = Vec::with_capacity(others.len());
    for stmt in others {
        affected.push(execute(&mut *tx, stmt).await?);
    }
    tx.commit().await?;
    Ok((ids, affected))
}
