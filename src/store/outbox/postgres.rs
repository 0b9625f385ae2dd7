//! How outbox values travel on PostgreSQL: native `uuid` and `timestamptz`. The SQL and the
//! column list are in [`super::row`]; claims take candidate rows `FOR UPDATE SKIP LOCKED`, so any
//! number of workers, in any number of calbook processes, never claim the same row.

use chrono::{DateTime, Utc};
use jiff::Timestamp;
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::{Postgres, Row};
use uuid::Uuid;

use super::row::{Arg, Get, Stmt, decode};
use crate::outbox::OutboxJob;
use crate::store::Result;
use crate::time::{from_chrono, to_chrono};

type Query = sqlx::query::Query<'static, Postgres, PgArguments>;

fn query(stmt: Stmt) -> Query {
    stmt.args.into_iter().fold(
        sqlx::query(sqlx::AssertSqlSafe(stmt.sql)),
        |q, arg| match arg {
            Arg::Uuid(u) => q.bind(u),
            Arg::Text(s) => q.bind(s),
            Arg::BigInt(n) => q.bind(n),
            Arg::Int(n) => q.bind(n),
            Arg::Time(t) => q.bind(t.map(to_chrono)),
        },
    )
}

impl Get for PgRow {
    fn uuid(&self, column: &str) -> Result<Option<Uuid>> {
        Ok(self.try_get(column)?)
    }

    fn text(&self, column: &str) -> Result<Option<String>> {
        Ok(self.try_get(column)?)
    }

    fn big_int(&self, column: &str) -> Result<Option<i64>> {
        Ok(self.try_get(column)?)
    }

    fn int(&self, column: &str) -> Result<Option<i64>> {
        Ok(self.try_get::<Option<i32>, _>(column)?.map(i64::from))
    }

    fn time(&self, column: &str) -> Result<Option<Timestamp>> {
        Ok(self
            .try_get::<Option<DateTime<Utc>>, _>(column)?
            .map(from_chrono))
    }
}

pub(super) async fn execute<'c>(e: impl sqlx::PgExecutor<'c>, stmt: Stmt) -> Result<u64> {
    Ok(query(stmt).execute(e).await?.rows_affected())
}

pub(super) async fn jobs<'c>(e: impl sqlx::PgExecutor<'c>, stmt: Stmt) -> Result<Vec<OutboxJob>> {
    query(stmt).fetch_all(e).await?.iter().map(decode).collect()
}

pub(super) async fn any<'c>(e: impl sqlx::PgExecutor<'c>, stmt: Stmt) -> Result<bool> {
    Ok(query(stmt).fetch_optional(e).await?.is_some())
}

/// Runs `sent` (each returning the ids it changed) and `others` in one transaction: the ids
/// changed by the former, the rows each of the latter changed.
pub(super) async fn finish_all(
    p: &sqlx::PgPool,
    sent: Vec<Stmt>,
    others: Vec<Stmt>,
) -> Result<(Vec<Uuid>, Vec<u64>)> {
    let mut tx = p.begin().await?;
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
